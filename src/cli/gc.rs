//! `repro gc`: which lockfiles keep what, and the line that says what went;
//! the collection itself is the engine's (`store::gc`).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::context::store_dir;
use super::error::CliError;
use crate::store::flock::{StoreLock, Wait};
use crate::store::gc::{GcReport, collect};
use crate::store::{Lockfile, Store};

/// Collects garbage, holding the store lock: the lockfiles given (default:
/// every `pipelines/*.lock`) and every experiment's keep what they reach
/// (`store::gc::collect`).
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
    let all: Vec<PathBuf> = locks.iter().chain(&exp_locks).cloned().collect();
    let GcReport {
        records,
        objects,
        bytes,
        logs,
    } = collect(&store, &all, dry_run)?;
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut names: Vec<String> = locks.iter().map(|l| l.display().to_string()).collect();
    if !exp_locks.is_empty() {
        names.push(format!("{} experiment(s)", exp_locks.len()));
    }
    let _ = writeln!(
        std::io::stdout().lock(),
        "gc: kept what {} reach; {verb} {records} record(s), {objects} object(s), {bytes} bytes, {logs} log(s)",
        names.join(", ")
    );
    Ok(())
}
