//! `repro push`.

use std::io::Write;
use std::path::Path;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use super::transfer::{locked_stages, remote_url};
use crate::exp::Experiments;
use crate::remote::progress::human_bytes;
use crate::remote::{self, Remote};

/// Uploads what the lockfile reaches (of TARGETs, or every stage).
pub fn push(
    p: &PipelineArgs,
    store: Option<&Path>,
    targets: &[String],
    remote: Option<&str>,
    jobs: usize,
) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, None, false)?;
    let url = remote_url(remote, &ctx)?;
    let (lock, stages) = locked_stages(&ctx, targets)?;
    let r = Remote::open(&url, true)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let lock_name = ctx.lock_path.display().to_string();
    let s = remote::push(&r, &ctx.store, &lock, &lock_name, &stages, jobs, &mut out)?;
    // The pipeline's experiments go with it (all of them, whatever TARGETs say).
    let exps = Experiments::of(ctx.store.root(), &p.pipeline);
    let pushed = crate::exp::remote::push_all(&r, &ctx.store, &exps, jobs, &mut out)?;
    let _ = writeln!(
        out,
        "pushed {} stage(s) to {url}: {} object(s) ({}), {} uploaded ({}), {} already there; {} record(s) uploaded; {} in {:.1}s",
        s.stages,
        s.objects,
        human_bytes(s.bytes),
        s.uploaded,
        human_bytes(s.bytes_uploaded),
        s.objects - s.uploaded,
        s.records_uploaded,
        s.index,
        s.seconds
    );
    if !pushed.is_empty() {
        let _ = writeln!(
            out,
            "pushed {} experiment(s): {}",
            pushed.len(),
            pushed.join(", ")
        );
    }
    Ok(())
}
