//! `repro run`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use crate::backend::Backend;
use crate::dag::plan;
use crate::exec::bars::{Bars, BarsOut};
use crate::exec::{self, RunOptions, RunSettings};
use crate::store::Lockfile;
use crate::store::flock::{StoreLock, Wait};

/// Runs the pipeline (or prints the plan with `--dry-run`).
#[allow(clippy::too_many_arguments)]
pub fn run(
    p: &PipelineArgs,
    store: Option<&Path>,
    backend: Option<Backend>,
    targets: &[String],
    jobs: usize,
    keep_going: bool,
    force: &[String],
    dry_run: bool,
    no_wait: bool,
    choice: &super::executor::Choice,
) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, backend, !dry_run)?;
    let n = ctx.pipeline.stages.len();
    let selected = if targets.is_empty() {
        vec![true; n]
    } else {
        ctx.with_ancestors(&ctx.select(targets, "target")?)
    };
    let forced = ctx.select(force, "--force")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if dry_run {
        let lock = Lockfile::load(&ctx.lock_path)?;
        let evals = plan::plan(
            &ctx.pipeline,
            &lock,
            &ctx.store,
            &|s| forced[ctx.pipeline.index[&s.name]],
            ctx.backend,
        )?;
        let mut would = 0;
        for (i, (s, e)) in ctx.pipeline.stages.iter().zip(&evals).enumerate() {
            if !selected[i] {
                continue;
            }
            match &e.reason {
                None => {
                    let _ = writeln!(out, "fresh      {}", s.name);
                }
                Some(r) => {
                    would += 1;
                    let _ = writeln!(out, "would run  {}  ({r})", s.name);
                }
            }
        }
        let _ = writeln!(out, "dry run: {would} stage(s) would run");
        return Ok(());
    }
    let _lock = StoreLock::exclusive(ctx.store.root(), if no_wait { Wait::No } else { Wait::Yes })?;
    let runner = choice.prepare(&ctx.pipeline, &ctx.store)?;
    let cancel = exec::signals::install();
    let mut settings = RunSettings::new(
        RunSettings::threads_for(jobs),
        ctx.backend,
        super::context::roots(&p.pipeline),
        cancel.clone(),
    );
    // Live bars for long stages on a terminal; the engine's lines print above them.
    let bars = Bars::on_terminal().map(Arc::new);
    let mut with_bars;
    let out: &mut dyn Write = match &bars {
        Some(b) => {
            settings.progress = b.clone();
            with_bars = BarsOut::new(b, out);
            &mut with_bars
        }
        None => &mut out,
    };
    let opts = RunOptions {
        selected: selected.clone(),
        forced,
        jobs,
        keep_going,
    };
    let summary = exec::execute(
        &ctx.pipeline,
        &ctx.store,
        &ctx.lock_path,
        &opts,
        runner.runner(),
        &settings,
        out,
    )?;
    runner.finish();
    ctx.store.clean_tmp()?;
    let lock = Lockfile::load(&ctx.lock_path)?;
    let done: Vec<String> = summary.ran.iter().chain(&summary.fresh).cloned().collect();
    for dir in exec::publish::publish(
        &ctx.pipeline,
        &done,
        &lock,
        &ctx.store,
        Path::new("results"),
    )? {
        let _ = writeln!(out, "results: {}", dir.display());
    }
    let total = selected.iter().filter(|s| **s).count();
    if summary.ran.is_empty() && summary.failed.is_empty() && summary.not_run.is_empty() {
        let _ = writeln!(out, "nothing to run: all {total} stage(s) fresh");
    } else {
        let _ = writeln!(
            out,
            "summary: {} ran, {} fresh, {} failed, {} not run",
            summary.ran.len(),
            summary.fresh.len(),
            summary.failed.len(),
            summary.not_run.len()
        );
    }
    if summary.interrupted {
        return Err(CliError::Interrupted);
    }
    if !summary.failed.is_empty() {
        return Err(CliError::Failed(format!(
            "{} stage(s) failed: {}",
            summary.failed.len(),
            summary.failed.join(", ")
        )));
    }
    Ok(())
}
