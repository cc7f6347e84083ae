//! `repro pull`.

use std::io::Write;
use std::path::Path;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use super::transfer::{locked_stages, remote_url};
use crate::remote::progress::human_bytes;
use crate::remote::{self, Remote};
use crate::store::flock::{StoreLock, Wait};

/// Downloads what the committed lockfile names (of TARGETs, or every stage).
pub fn pull(
    p: &PipelineArgs,
    store: Option<&Path>,
    targets: &[String],
    remote: Option<&str>,
    jobs: usize,
) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, None, true)?;
    let url = remote_url(remote, &ctx)?;
    let (lock, stages) = locked_stages(&ctx, targets)?;
    let r = Remote::open(&url, false)?;
    // Same discipline as `run`: one writer at a time, leftovers of a killed
    // writer (a pull's staging directory included) removed first.
    let _lock = StoreLock::exclusive(ctx.store.root(), Wait::Yes)?;
    ctx.store.clean_tmp()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let lock_name = ctx.lock_path.display().to_string();
    let s = remote::pull(&r, &ctx.store, &lock, &lock_name, &stages, jobs, &mut out)?;
    let _ = writeln!(
        out,
        "pulled {} of {} stage(s) from {url} ({} already here): {} object(s), {}, all rehashed, in {:.1}s",
        s.pulled,
        s.stages,
        s.stages - s.pulled,
        s.downloaded,
        human_bytes(s.bytes),
        s.seconds
    );
    Ok(())
}
