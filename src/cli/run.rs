//! `repro run`. A run with `--set` is an experiment (issue 26): it starts
//! from the pipeline's lockfile, writes its own (`crate::exp`) and leaves
//! `<stem>.lock` as it was.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::args::RunArgs;
use super::context::Ctx;
use super::error::CliError;
use super::exp::experiment_name;
use crate::backend::Backend;
use crate::dag::plan;
use crate::exec::bars::{Bars, BarsOut};
use crate::exec::{self, RunOptions, RunSettings};
use crate::exp::store::EXP_SCHEMA;
use crate::exp::{Experiment, Experiments};
use crate::store::Lockfile;
use crate::store::flock::{StoreLock, Wait};

/// Runs the pipeline (or prints the plan with `--dry-run`) in `store` (the
/// global `--store`) on `backend` (the global `--backend`).
pub fn run(args: &RunArgs, store: Option<&Path>, backend: Option<Backend>) -> Result<(), CliError> {
    let p = &args.p;
    let jobs = args.jobs as usize;
    let mut ctx = Ctx::load(p, store, backend, !args.dry_run)?;
    let base_lock_path = ctx.lock_path.clone();
    // An experiment runs into its own lockfile, started from the pipeline's.
    let exp = if p.sets.is_empty() {
        None
    } else {
        let exps = Experiments::of(ctx.store.root(), &p.pipeline);
        let n = experiment_name(&exps, args.name.as_deref(), &p.sets)?;
        ctx.lock_path = exps.lock_path(&n);
        Some((exps, n))
    };
    let n = ctx.pipeline.stages.len();
    let selected = if args.targets.is_empty() {
        vec![true; n]
    } else {
        ctx.with_ancestors(&ctx.select(&args.targets, "target")?)
    };
    let forced = ctx.select(&args.force, "--force")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.dry_run {
        let lock = if ctx.lock_path.is_file() {
            Lockfile::load(&ctx.lock_path)?
        } else {
            Lockfile::load(&base_lock_path)?
        };
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
    let _lock = StoreLock::exclusive(
        ctx.store.root(),
        if args.no_wait { Wait::No } else { Wait::Yes },
    )?;
    if let Some((exps, n)) = &exp {
        let created = exps
            .get(n)
            .map(|e| e.created)
            .unwrap_or_else(|_| crate::util::time::iso8601(crate::util::time::now_unix()));
        let e = Experiment {
            schema: EXP_SCHEMA,
            name: n.clone(),
            pipeline: exps.stem().to_string(),
            overrides: p.sets.clone(),
            created,
            written: crate::exp::params::snapshot(&p.pipeline),
        };
        exps.save(&e, &Lockfile::load(&base_lock_path)?)?;
        let _ = writeln!(
            out,
            "experiment {n}: {} stays as it is; this run's lockfile is {}",
            base_lock_path.display(),
            ctx.lock_path.display()
        );
    }
    let choice = super::executor::Choice {
        flag: args.executor.clone(),
        slurm_opts: args.slurm_opt.clone(),
    };
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
        keep_going: args.keep_going,
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
    // An experiment's report outputs go beside, never over, the pipeline's.
    let results = match &exp {
        Some((_, n)) => Path::new("results").join("experiments").join(n),
        None => Path::new("results").to_path_buf(),
    };
    for dir in exec::publish::publish(&ctx.pipeline, &done, &lock, &ctx.store, &results)? {
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
    if let Some((_, n)) = &exp {
        let file = p.pipeline.display();
        let _ = writeln!(
            out,
            "experiment {n}: compare with `repro exp show {file}`, adopt with `repro exp apply {file} {n}`"
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
