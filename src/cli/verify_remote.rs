//! `repro verify PIPELINE --remote URL`: parses, calls
//! [`crate::remote::verify_remote`], prints one line per bad object.

use std::io::Write;
use std::path::Path;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use super::transfer::remote_url;
use crate::remote::progress::human_bytes;
use crate::remote::{self, Remote};
use crate::store::Lockfile;

/// Checks the remote's copy of every locked output; exit 1 on any bad one.
pub fn verify_remote(
    p: &PipelineArgs,
    store: Option<&Path>,
    flag: Option<&str>,
) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, None, false)?;
    if !ctx.lock_path.is_file() {
        return Err(CliError::Failed(format!(
            "{}: no lockfile; run the pipeline first",
            ctx.lock_path.display()
        )));
    }
    let lock = Lockfile::load(&ctx.lock_path)?;
    let url = remote_url(flag, &ctx)?;
    let r = Remote::open(&url, false)?;
    let check = remote::verify_remote(&r, &lock)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for f in &check.findings {
        let _ = writeln!(out, "{f}");
    }
    let _ = writeln!(
        out,
        "checked {} output(s) of {} stage(s) on {url}: {} object(s), {} read and rehashed",
        check.outputs,
        check.stages,
        check.objects,
        human_bytes(check.bytes)
    );
    let problems = check.findings.len();
    if problems > 0 {
        let _ = writeln!(out, "verify --remote: {problems} problem(s)");
        return Err(CliError::Failed(format!(
            "verification failed with {problems} problem(s)"
        )));
    }
    let _ = writeln!(out, "verify --remote: ok");
    Ok(())
}
