//! `repro verify` (ARCHITECTURE.md, "The store"): (1) keys recomputed from the YAML match the
//! lockfile; (2) lockfile and records agree; (3) every object is rehashed.
//! `--rerun S` re-executes S in scratch and compares output digests.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use crate::backend::Backend;
use crate::dag::plan;
use crate::exec::audit::audit;
use crate::exec::stage_run::Keep;
use crate::exec::{self, RealRunner, RunSettings};
use crate::store::flock::{StoreLock, Wait};
use crate::store::{Lockfile, Record, Store};

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

/// When a rerun's bytes differ: how far apart are the metrics? Returns the
/// problems to count (none when they agree within `rtol`).
fn judge_metrics(
    stage: &str,
    recorded: &Record,
    fresh: &Record,
    differs: usize,
    rtol: Option<f64>,
    out: &mut dyn Write,
) -> usize {
    let empty = |m: &serde_json::Value| m.as_object().is_none_or(|o| o.is_empty());
    if empty(&recorded.metrics) {
        let _ = writeln!(out, "          {stage}: no metrics to compare");
        return differs;
    }
    match super::repair::metrics_gap(&recorded.metrics, &fresh.metrics) {
        Some(gap) if rtol.is_some_and(|r| gap <= r) => {
            let _ = writeln!(
                out,
                "WITHIN    {stage}: differs in bytes, metrics agree to {gap:.1e} (--rtol {:.1e})",
                // default: never taken; this arm requires `--rtol`.
                rtol.unwrap_or_default()
            );
            0
        }
        Some(gap) => {
            let _ = writeln!(
                out,
                "          {stage}: differs in bytes, metrics agree to {gap:.1e} (largest relative difference)"
            );
            differs
        }
        None => {
            let _ = writeln!(
                out,
                "          {stage}: differs in bytes, and its metrics differ in shape or text"
            );
            differs
        }
    }
}

/// Stage name → record of every fresh stage: the upstream records a rerun reads.
pub fn fresh_records(ctx: &Ctx, evals: &[crate::dag::Evaluation]) -> HashMap<String, Record> {
    ctx.pipeline
        .stages
        .iter()
        .zip(evals)
        .filter_map(|(s, e)| e.record.clone().map(|r| (s.name.clone(), r)))
        .collect()
}

fn rerun_stages(
    ctx: &Ctx,
    evals: &[crate::dag::Evaluation],
    names: &[String],
    rtol: Option<f64>,
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let _lock = StoreLock::exclusive(ctx.store.root(), Wait::Yes)?;
    let selected = ctx.select(names, "--rerun")?;
    let records = fresh_records(ctx, evals);
    let cancel = exec::signals::install();
    // The reruns' outputs go to a scratch store that is deleted afterwards:
    // they must not stay in the real store as orphans.
    let scratch_dir = ctx.store.new_tmp("verify-rerun").map_err(CliError::from)?;
    let scratch = Store::open(&scratch_dir)?;
    let mut problems = 0;
    for (i, s) in ctx.pipeline.stages.iter().enumerate() {
        if !selected[i] {
            continue;
        }
        let Some(rec) = &evals[i].record else {
            problems += 1;
            let _ = writeln!(
                out,
                "RERUN     {}: stale, nothing to compare against (run it first)",
                s.name
            );
            continue;
        };
        // Same thread count as the recorded run: the bitwise promise (ARCHITECTURE.md, "Determinism").
        let settings = RunSettings::new(
            rec.provenance.threads,
            ctx.backend,
            super::context::roots(&ctx.pipeline.file),
            cancel.clone(),
        );
        let _ = writeln!(
            out,
            "rerunning {} in scratch ({} threads)",
            s.name, settings.threads
        );
        let result = exec::stage_run::run_stage(
            s,
            &rec.key,
            &rec.material,
            &ctx.pipeline,
            &records,
            &ctx.store,
            &RealRunner,
            &settings,
            Keep::Scratch(&scratch),
        );
        // Issue 25, item 8: Ctrl-C is not a reproducibility failure.
        if cancel.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = writeln!(out, "RERUN     {}: interrupted", s.name);
            ctx.store.clean_tmp()?;
            return Err(CliError::Interrupted);
        }
        match result {
            Err(f) => {
                problems += 1;
                let _ = writeln!(out, "RERUN     {}: failed: {}", s.name, f.error.message);
            }
            Ok(fresh) => {
                let mut differs = 0;
                for (path, e) in &rec.outputs {
                    match fresh.outputs.get(path) {
                        Some(f) if f.digest == e.digest => {
                            let _ = writeln!(out, "same      {} {path} {}", s.name, e.digest);
                        }
                        Some(f) => {
                            differs += 1;
                            let _ = writeln!(
                                out,
                                "DIFFERS   {} {path}: recorded {} now {}",
                                s.name, e.digest, f.digest
                            );
                        }
                        None => {
                            differs += 1;
                            let _ = writeln!(
                                out,
                                "DIFFERS   {} {path}: not produced by the rerun",
                                s.name
                            );
                        }
                    }
                }
                if differs > 0 {
                    problems += judge_metrics(&s.name, rec, &fresh, differs, rtol, out);
                }
            }
        }
    }
    ctx.store.clean_tmp()?;
    Ok(problems)
}
