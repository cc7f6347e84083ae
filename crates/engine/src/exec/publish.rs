//! Copying the outputs of report stages to `results/<stem>/<stage>/`, the
//! human-readable results beside the store (ARCHITECTURE.md, "The store").

use std::fs;
use std::path::{Path, PathBuf};

use crate::spec::{Pipeline, StageKind};
use crate::store::error::IoContext;
use crate::store::objects::make_writable;
use crate::store::{Lockfile, Store, StoreError};

/// Publishes the publishing stages among `done` (fresh after this run);
/// returns the directories written. Each is replaced whole (written beside,
/// then renamed), so a reader never sees half a report.
pub fn publish(
    pipeline: &Pipeline,
    done: &[String],
    lock: &Lockfile,
    store: &Store,
    results: &Path,
) -> Result<Vec<PathBuf>, StoreError> {
    let mut written = Vec::new();
    for s in pipeline.stages.iter().filter(|s| done.contains(&s.name)) {
        let StageKind::Builtin(k) = &s.kind else {
            continue;
        };
        if !k.publishes() {
            continue;
        }
        let Some(entry) = lock.stages.get(&s.name) else {
            continue;
        };
        let dest = results.join(&pipeline.stem).join(&s.name);
        let tmp = dest.with_extension("partial");
        if tmp.exists() {
            make_writable(&tmp);
            fs::remove_dir_all(&tmp).at(&tmp)?;
        }
        let placed = (|| {
            for (path, e) in &entry.outputs {
                store.materialize(e, &tmp.join(path))?;
            }
            make_writable(&tmp);
            if dest.exists() {
                make_writable(&dest);
                fs::remove_dir_all(&dest).at(&dest)?;
            }
            fs::rename(&tmp, &dest).at(&dest)
        })();
        if let Err(e) = placed {
            // No half-written copy is left beside the results (issue 25, item 6).
            make_writable(&tmp);
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        written.push(dest);
    }
    Ok(written)
}
