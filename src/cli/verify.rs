//! `repro verify` (ARCHITECTURE.md, "The store"): (1) keys recomputed from the YAML match the
//! lockfile; (2) lockfile and records agree; (3) every object is rehashed.
//! `--rerun S` re-executes S in scratch and compares output digests.

use std::io::Write;
use std::path::Path;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use crate::backend::Backend;
use crate::dag::plan;
use crate::exec::audit::audit;
use crate::exec::rerun::{Reran, RerunOptions, rerun};
use crate::store::Lockfile;
use crate::store::flock::{StoreLock, Wait};

/// What `verify` was asked to do besides checking.
#[derive(Debug, Default)]
pub struct VerifyOptions {
    /// Stages to re-execute in scratch.
    pub rerun: Vec<String>,
    /// Accepted relative difference of metrics when a rerun's bytes differ.
    pub rtol: Option<f64>,
    /// Restore damaged or missing objects.
    pub repair: bool,
    /// The remote to restore them from.
    pub remote: Option<String>,
}

/// Verifies; exit 1 on any mismatch (that `--repair` did not mend).
pub fn verify(
    p: &PipelineArgs,
    store: Option<&Path>,
    backend: Option<Backend>,
    opts: &VerifyOptions,
) -> Result<(), CliError> {
    if let Some(r) = opts.rtol
        && !(r.is_finite() && r >= 0.0)
    {
        return Err(CliError::Usage(format!(
            "--rtol: expected a relative tolerance ≥ 0, found {r}"
        )));
    }
    if opts.remote.is_some() && !opts.repair {
        if !opts.rerun.is_empty() {
            return Err(CliError::Usage(
                "--remote without --repair checks the remote's copies; give --rerun separately"
                    .into(),
            ));
        }
        return super::verify_remote::verify_remote(p, store, opts.remote.as_deref());
    }
    let rerun = &opts.rerun;
    let ctx = Ctx::load(p, store, backend, !rerun.is_empty() || opts.repair)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut problems = 0usize;
    if !ctx.lock_path.is_file() {
        return Err(CliError::Failed(format!(
            "{}: no lockfile; run the pipeline first",
            ctx.lock_path.display()
        )));
    }
    let mut lock = Lockfile::load(&ctx.lock_path)?;
    let evals = plan::plan(&ctx.pipeline, &lock, &ctx.store, &|_| false, ctx.backend)?;
    let found = audit(&ctx.pipeline, &evals, &lock, &ctx.store)?;
    for f in &found.findings {
        let _ = writeln!(out, "{f}");
    }
    problems += found.other_problems();
    let mut bad = found.object_problems();
    let broken = &found.broken;
    if opts.repair && !broken.is_empty() {
        let _lock = StoreLock::exclusive(ctx.store.root(), Wait::Yes)?;
        let fixed = super::repair::repair(
            &ctx,
            &mut lock,
            &evals,
            broken,
            opts.remote.as_deref(),
            &mut out,
        )?;
        let _ = writeln!(out, "repaired {fixed} of {} object(s)", broken.len());
        bad -= fixed.min(bad);
    }
    problems += bad;
    let _ = writeln!(
        out,
        "checked {} stage(s), {} lock entries, rehashed {} object(s)",
        evals.len(),
        lock.stages.len(),
        found.objects
    );
    if !rerun.is_empty() {
        problems += rerun_stages(&ctx, &evals, rerun, opts.rtol, &mut out)?;
    }
    if problems > 0 {
        let _ = writeln!(out, "verify: {problems} problem(s)");
        return Err(CliError::Failed(format!(
            "verification failed with {problems} problem(s)"
        )));
    }
    let _ = writeln!(out, "verify: ok");
    Ok(())
}

/// `--rerun`: the engine's `exec::rerun`, holding the store lock.
fn rerun_stages(
    ctx: &Ctx,
    evals: &[crate::dag::Evaluation],
    names: &[String],
    rtol: Option<f64>,
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let _lock = StoreLock::exclusive(ctx.store.root(), Wait::Yes)?;
    let selected = ctx.select(names, "--rerun")?;
    let opts = RerunOptions {
        selected,
        rtol,
        how: ctx.reexec(),
    };
    let reran = rerun(&ctx.pipeline, evals, &ctx.store, &opts, out)?;
    match reran {
        Reran::Done(problems) => Ok(problems),
        Reran::Interrupted => Err(CliError::Interrupted),
    }
}
