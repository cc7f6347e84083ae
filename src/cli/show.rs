//! `repro show`.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use crate::backend::Backend;
use crate::dag::plan;
use crate::store::{Lockfile, Record};

/// Prints one stage's record (the fresh one, else the last locked one).
pub fn show(
    p: &PipelineArgs,
    store: Option<&Path>,
    backend: Option<Backend>,
    stage: &str,
) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, backend, false)?;
    let i = ctx.stage_index(stage, "show")?;
    // A selector of one expansion shows that expansion, under its own name.
    let name = ctx.pipeline.stages[i].name.clone();
    let stage = name.as_str();
    let lock = Lockfile::load(&ctx.lock_path)?;
    let evals = plan::plan(&ctx.pipeline, &lock, &ctx.store, &|_| false, ctx.backend)?;
    let e = &evals[i];
    let (state, record) = match (&e.record, &e.reason) {
        (Some(r), _) => ("fresh".to_string(), Some(r.clone())),
        (None, Some(reason)) => {
            let prev = match lock.stages.get(stage) {
                Some(entry) => Record::load(&ctx.store, &entry.key)?,
                None => None,
            };
            (
                format!("stale ({reason}); showing the last locked run"),
                prev,
            )
        }
        (None, None) => ("unknown".to_string(), None),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(
        out,
        "stage:   {stage}\nkind:    {}\nstate:   {state}",
        ctx.pipeline.stages[i].kind.name()
    );
    let Some(r) = record else {
        let _ = writeln!(
            out,
            "no record yet: run `repro run {} {stage}`",
            p.pipeline.display()
        );
        return Ok(());
    };
    // default: never taken; a `serde_json::Value` always serialises.
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let _ = writeln!(out, "key:     {}", r.key);
    let _ = writeln!(out, "params:  {}", pretty(&r.material["params"]));
    let _ = writeln!(out, "inputs:  {}", pretty(&r.material["inputs"]));
    let _ = writeln!(out, "deps:    {}", pretty(&r.material["deps"]));
    let _ = writeln!(out, "outputs: {}", pretty(&json!(r.outputs)));
    let _ = writeln!(out, "metrics: {}", pretty(&r.metrics));
    let _ = writeln!(out, "run:     {}", pretty(&json!(r.provenance)));
    if let Some(o) = crate::store::origin::Origin::load(&ctx.store, &r.key)? {
        let _ = writeln!(out, "pulled:  from {} at {}", o.remote, o.pulled);
    }
    let log = ctx.store.root().join(&r.provenance.log);
    if let Some(tail) = crate::exec::stage_run::log_tail(&log, 20) {
        let _ = writeln!(out, "log ({}, last {} lines):", log.display(), tail.len());
        for l in tail {
            let _ = writeln!(out, "  | {l}");
        }
    }
    Ok(())
}
