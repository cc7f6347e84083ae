//! `repro status`.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use crate::backend::Backend;
use crate::dag::plan;
use crate::store::Lockfile;

/// Prints every stage's state; `check` exits 1 if any is stale.
pub fn status(
    p: &PipelineArgs,
    store: Option<&Path>,
    backend: Option<Backend>,
    as_json: bool,
    check: bool,
) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, backend, false)?;
    let lock = Lockfile::load(&ctx.lock_path)?;
    let evals = plan::plan(&ctx.pipeline, &lock, &ctx.store, &|_| false, ctx.backend)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let stale = evals.iter().filter(|e| !e.fresh()).count();
    if as_json {
        let stages: Vec<_> = ctx
            .pipeline
            .stages
            .iter()
            .zip(&evals)
            .map(|(s, e)| {
                json!({
                    "stage": s.name,
                    "kind": s.kind.name(),
                    "fresh": e.fresh(),
                    "reason": e.reason.as_ref().map(|r| r.to_string()),
                    "key": e.key,
                })
            })
            .collect();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(
                &json!({"pipeline": ctx.pipeline.name, "stale": stale, "stages": stages})
            )
            // default: never taken; a `serde_json::Value` always serialises.
            .unwrap_or_default()
        );
    } else {
        let width = ctx
            .pipeline
            .stages
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        for (s, e) in ctx.pipeline.stages.iter().zip(&evals) {
            match &e.reason {
                None => {
                    let _ = writeln!(out, "fresh  {}", s.name);
                }
                Some(r) => {
                    let _ = writeln!(out, "stale  {:width$}  {r}", s.name);
                }
            }
        }
        crate::exec::slurm::listing::print(&ctx.store, &mut out);
        let _ = writeln!(
            out,
            "{} stage(s): {} fresh, {stale} stale",
            evals.len(),
            evals.len() - stale
        );
    }
    if check && stale > 0 {
        return Err(CliError::Failed(format!("{stale} stage(s) stale")));
    }
    Ok(())
}
