//! `repro verify` (DESIGN §3): (1) keys recomputed from the YAML match the
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
use crate::exec::{self, RealRunner, RunSettings};
use crate::store::flock::{StoreLock, Wait};
use crate::store::{Lockfile, Record};

/// Verifies; exit 1 on any mismatch.
pub fn verify(
    p: &PipelineArgs,
    store: Option<&Path>,
    backend: Option<Backend>,
    rerun: &[String],
) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, backend, !rerun.is_empty())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut problems = 0usize;
    if !ctx.lock_path.is_file() {
        return Err(CliError::Failed(format!(
            "{}: no lockfile; run the pipeline first",
            ctx.lock_path.display()
        )));
    }
    let lock = Lockfile::load(&ctx.lock_path)?;
    let evals = plan::plan(&ctx.pipeline, &lock, &ctx.store, &|_| false, ctx.backend)?;
    // (1) keys vs lock.
    for (s, e) in ctx.pipeline.stages.iter().zip(&evals) {
        let locked = lock.stages.get(&s.name).map(|l| l.key.as_str());
        match (&e.key, locked) {
            (Some(k), Some(l)) if k == l => {}
            (_, None) => {
                problems += 1;
                let _ = writeln!(out, "STALE     {}: not in the lockfile", s.name);
            }
            _ => {
                problems += 1;
                let why = e
                    .reason
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "key differs from the lockfile".into());
                let _ = writeln!(out, "STALE     {}: {why}", s.name);
            }
        }
    }
    // (2) lock vs records.
    for (name, entry) in &lock.stages {
        match Record::load(&ctx.store, &entry.key)? {
            None => {
                problems += 1;
                let _ = writeln!(out, "MISSING   {name}: no record for key {}", entry.key);
            }
            Some(r) if r.outputs != entry.outputs => {
                problems += 1;
                let _ = writeln!(
                    out,
                    "MISMATCH  {name}: record outputs differ from the lockfile"
                );
            }
            Some(_) => {}
        }
    }
    // (3) rehash every object.
    let objects = ctx.store.all_objects()?;
    let held = super::holders::holders(&ctx.store, &lock);
    let mut bad = 0;
    for d in &objects {
        if let Err(e) = ctx.store.verify_object(d) {
            bad += 1;
            let _ = writeln!(out, "CORRUPT   {}{e}", super::holders::prefix(&held, d));
        }
    }
    for (name, entry) in &lock.stages {
        if let Some(r) = Record::load(&ctx.store, &entry.key)? {
            for d in r.objects(&ctx.store).unwrap_or_default() {
                if !ctx.store.has(&d) {
                    bad += 1;
                    let who = match super::holders::prefix(&held, &d) {
                        p if p.is_empty() => format!("{name}: "),
                        p => p,
                    };
                    let _ = writeln!(out, "MISSING   {who}object {d}");
                }
            }
        }
    }
    problems += bad;
    let _ = writeln!(
        out,
        "checked {} stage(s), {} lock entries, rehashed {} object(s)",
        evals.len(),
        lock.stages.len(),
        objects.len()
    );
    if !rerun.is_empty() {
        problems += rerun_stages(&ctx, &evals, rerun, &mut out)?;
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

fn rerun_stages(
    ctx: &Ctx,
    evals: &[crate::dag::Evaluation],
    names: &[String],
    out: &mut dyn Write,
) -> Result<usize, CliError> {
    let _lock = StoreLock::exclusive(ctx.store.root(), Wait::Yes)?;
    let selected = ctx.select(names, "--rerun")?;
    let records: HashMap<String, Record> = ctx
        .pipeline
        .stages
        .iter()
        .zip(evals)
        .filter_map(|(s, e)| e.record.clone().map(|r| (s.name.clone(), r)))
        .collect();
    let cancel = exec::signals::install();
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
        // Same thread count as the recorded run: the bitwise promise (DESIGN §7).
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
        match exec::stage_run::run_stage(
            s,
            &rec.key,
            &rec.material,
            &ctx.pipeline,
            &records,
            &ctx.store,
            &RealRunner,
            &settings,
            false,
        ) {
            Err(f) => {
                problems += 1;
                let _ = writeln!(out, "RERUN     {}: failed: {}", s.name, f.error.message);
            }
            Ok(fresh) => {
                for (path, e) in &rec.outputs {
                    match fresh.outputs.get(path) {
                        Some(f) if f.digest == e.digest => {
                            let _ = writeln!(out, "same      {} {path} {}", s.name, e.digest);
                        }
                        Some(f) => {
                            problems += 1;
                            let _ = writeln!(
                                out,
                                "DIFFERS   {} {path}: recorded {} now {}",
                                s.name, e.digest, f.digest
                            );
                        }
                        None => {
                            problems += 1;
                            let _ = writeln!(
                                out,
                                "DIFFERS   {} {path}: not produced by the rerun",
                                s.name
                            );
                        }
                    }
                }
            }
        }
    }
    ctx.store.clean_tmp()?;
    Ok(problems)
}
