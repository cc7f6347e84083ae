//! `repro pull`.

use std::io::Write;
use std::path::Path;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use super::transfer::{locked_stages, remote_url};
use crate::exp::Experiments;
use crate::exp::remote::Pulled;
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
    // The experiments the remote holds for this pipeline.
    let exps = Experiments::of(ctx.store.root(), &p.pipeline);
    let pulled = crate::exp::remote::pull_all(&r, &ctx.store, &exps, jobs, &mut out)?;
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
    for e in pulled {
        let _ = match e {
            Pulled::New(n) => writeln!(out, "pulled experiment {n}"),
            Pulled::Same(n) => writeln!(out, "experiment {n}: already here"),
            Pulled::KeptLocal(n) => writeln!(
                out,
                "experiment {n}: a different one of that name is here; kept it (`repro exp remove` it to take the remote's)"
            ),
        };
    }
    Ok(())
}
