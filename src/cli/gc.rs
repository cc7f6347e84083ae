//! `repro gc`: drop records and objects that no given lockfile and no
//! experiment in the store reaches.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::context::store_dir;
use super::error::CliError;
use crate::store::error::IoContext;
use crate::store::flock::{StoreLock, Wait};
use crate::store::log::{FAILED_KEPT, FAILED_SUFFIX};
use crate::store::record::all_keys;
use crate::store::{Lockfile, Record, Store};

/// Collects garbage, holding the store lock.
pub fn gc(store: Option<&Path>, pipelines: &[PathBuf], dry_run: bool) -> Result<(), CliError> {
    let locks: Vec<PathBuf> = if pipelines.is_empty() {
        let mut v: Vec<PathBuf> = std::fs::read_dir("pipelines")
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "lock"))
                    .collect()
            })
            // default: no pipelines/ directory: no lockfiles, which is refused below.
            .unwrap_or_default();
        v.sort();
        v
    } else {
        pipelines
            .iter()
            .map(|p| {
                if p.extension().is_some_and(|x| x == "lock") {
                    p.clone()
                } else {
                    Lockfile::path_for(p)
                }
            })
            .collect()
    };
    if let Some(missing) = locks.iter().find(|l| !l.is_file()) {
        return Err(CliError::Usage(format!(
            "gc: {}: no such lockfile (run the pipeline first)",
            missing.display()
        )));
    }
    if locks.is_empty() {
        return Err(CliError::Usage(
            "gc: no lockfiles given and none in pipelines/; refusing to delete everything".into(),
        ));
    }
    let dir = store_dir(store);
    if !dir.join("objects").is_dir() {
        return Err(CliError::Usage(format!(
            "gc: {} is not a repro store",
            dir.display()
        )));
    }
    let store = Store::open(&dir)?;
    let _lock = StoreLock::exclusive(store.root(), Wait::Yes)?;
    // Experiments keep what they reach until `repro exp remove`.
    let exp_locks = crate::exp::store::all_locks(store.root())?;
    let mut keep_keys = HashSet::new();
    let mut keep_objects = HashSet::new();
    let mut keep_logs = HashSet::new();
    for l in locks.iter().chain(&exp_locks) {
        let lock = Lockfile::load(l)?;
        for entry in lock.stages.values() {
            keep_keys.insert(entry.key.clone());
            // A malformed record keeps nothing alive: the next run replaces it.
            if let Ok(Some(r)) = Record::load(&store, &entry.key) {
                keep_objects.extend(r.objects(&store)?);
                keep_logs.insert(store.root().join(&r.provenance.log));
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut records = 0;
    for k in all_keys(&store)? {
        if !keep_keys.contains(&k) {
            records += 1;
            if !dry_run {
                let p = Record::path(&store, &k);
                std::fs::remove_file(&p).at(&p)?;
            }
        }
    }
    let (mut objects, mut bytes) = (0, 0u64);
    for d in store.all_objects()? {
        if !keep_objects.contains(&d) {
            objects += 1;
            if dry_run {
                bytes += std::fs::metadata(store.object_path(&d))
                    .map(|m| m.len())
                    .unwrap_or(0);
            } else {
                bytes += store.remove_object(&d)?;
            }
        }
    }
    let logs = prune_logs(&store, &keep_logs, dry_run)?;
    let mut names: Vec<String> = locks.iter().map(|l| l.display().to_string()).collect();
    if !exp_locks.is_empty() {
        names.push(format!("{} experiment(s)", exp_locks.len()));
    }
    let _ = writeln!(
        out,
        "gc: kept what {} reach; {verb} {records} record(s), {objects} object(s), {bytes} bytes, {logs} log(s)",
        names.join(", ")
    );
    Ok(())
}

/// Deletes stage logs except those of kept records and the newest
/// [`FAILED_KEPT`] failed runs of each stage; returns how many went.
fn prune_logs(store: &Store, keep: &HashSet<PathBuf>, dry_run: bool) -> Result<usize, CliError> {
    let root = store.root().join("logs");
    let mut removed = 0;
    let Ok(stages) = std::fs::read_dir(&root) else {
        return Ok(0);
    };
    for stage in stages.flatten() {
        if !stage.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(stage.path())
            .at(&stage.path())?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .map(|e| e.path())
            .collect();
        // Names start with a UTC stamp: newest last.
        files.sort();
        let mut failed_seen = 0;
        for f in files.iter().rev() {
            if keep.contains(f) {
                continue;
            }
            let failed = f.to_string_lossy().ends_with(FAILED_SUFFIX);
            if failed && failed_seen < FAILED_KEPT {
                failed_seen += 1;
                continue;
            }
            removed += 1;
            if !dry_run {
                std::fs::remove_file(f).at(f)?;
            }
        }
    }
    Ok(removed)
}
