//! `repro exp remove`: deletes experiments; `gc` then drops what only they
//! reached.

use std::io::Write;
use std::path::Path;

use super::args::pipeline_file;
use crate::cli::error::CliError;
use crate::exp::Experiments;
use crate::store::flock::{StoreLock, Wait};

/// Removes each named experiment (all names are checked first).
pub fn remove(pipeline: &Path, store_dir: &Path, names: &[String]) -> Result<(), CliError> {
    let exps = Experiments::of(store_dir, pipeline_file(pipeline)?);
    for n in names {
        exps.get(n)?;
    }
    // Not while a run of one of them may be writing its lockfile.
    let _lock = StoreLock::exclusive(store_dir, Wait::Yes)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for n in names {
        exps.remove(n)?;
        let _ = writeln!(
            out,
            "removed experiment {n} (`repro gc` frees what only it reached)"
        );
    }
    Ok(())
}
