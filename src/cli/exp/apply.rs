//! `repro exp apply`: the one way an experiment becomes the pipeline's run.
//! Its overrides are written into the pipeline file (so the YAML says what
//! the lock records and `verify` agrees) and its lockfile becomes
//! `<stem>.lock`, byte for byte.

use std::io::Write;
use std::path::Path;

use super::args::pipeline_file;
use super::yaml_edit::with_overrides;
use crate::cli::error::CliError;
use crate::exp::Experiments;
use crate::store::Lockfile;
use crate::store::error::IoContext;
use crate::store::flock::{StoreLock, Wait};
use crate::store::record::write_atomic;

/// Applies experiment `name` of `pipeline`.
pub fn apply(pipeline: &Path, store_dir: &Path, name: &str) -> Result<(), CliError> {
    let file = pipeline_file(pipeline)?;
    let exps = Experiments::of(store_dir, file);
    let e = exps.get(name)?;
    let lock = exps.lock(name)?;
    if lock.stages.is_empty() {
        return Err(CliError::Failed(format!(
            "experiment {name} has no locked stage (its run failed before any finished); rerun it first"
        )));
    }
    // Not while a run may be writing either lockfile.
    let _held = StoreLock::exclusive(store_dir, Wait::Yes)?;
    let text = std::fs::read_to_string(file).at(file)?;
    let yaml = with_overrides(file, &text, &e.pairs())?;
    let lock_bytes = std::fs::read(exps.lock_path(name)).at(&exps.lock_path(name))?;
    let lock_path = Lockfile::path_for(file);
    if yaml != text {
        write_atomic(file, yaml.as_bytes())?;
    }
    write_atomic(&lock_path, &lock_bytes)?;
    let _ = writeln!(
        std::io::stdout().lock(),
        "applied experiment {name}: {} now says {}; {} is its lockfile",
        file.display(),
        if e.overrides.is_empty() {
            "what it said".to_string()
        } else {
            e.overrides.join(" ")
        },
        lock_path.display()
    );
    Ok(())
}
