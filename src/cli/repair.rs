//! `repro verify --repair`: which remote, if any, then the engine's
//! `exec::repair` (a fetch from the remote, or a rerun of the stages that made
//! the objects).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use super::context::Ctx;
use super::error::CliError;
use crate::dag::Evaluation;
use crate::exec::repair::Repair;
use crate::remote::Remote;
use crate::store::Lockfile;

/// Repairs `bad` (digest → holding stages); returns how many objects are
/// intact afterwards. The caller holds the store lock.
pub fn repair(
    ctx: &Ctx,
    lock: &mut Lockfile,
    evals: &[Evaluation],
    bad: &BTreeMap<String, BTreeSet<String>>,
    remote: Option<&str>,
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let job = Repair {
        pipeline: &ctx.pipeline,
        evals,
        store: &ctx.store,
        bad,
    };
    if let Ok(url) = super::transfer::remote_url(remote, ctx) {
        let r = Remote::open(&url, false)?;
        return Ok(job.from_remote(&r, out)?);
    }
    Ok(job.by_rerun(lock, &ctx.lock_path, &ctx.reexec(), out)?)
}
