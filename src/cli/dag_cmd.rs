//! `repro dag`.

use std::io::Write;
use std::path::Path;

use super::args::{DagFormat, PipelineArgs};
use super::context::Ctx;
use super::error::CliError;

/// Prints the expanded stage graph.
pub fn dag(p: &PipelineArgs, store: Option<&Path>, format: DagFormat) -> Result<(), CliError> {
    let ctx = Ctx::load(p, store, None, false)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let edges = |s: &crate::spec::Stage| -> Vec<(String, String)> {
        s.inputs
            .iter()
            .flat_map(|(slot, r)| {
                r.stages()
                    .into_iter()
                    .map(move |u| (u.to_string(), slot.clone()))
            })
            .collect()
    };
    let quote = |s: &str| s.replace('"', "\\\"");
    match format {
        DagFormat::Text => {
            for s in &ctx.pipeline.stages {
                let _ = writeln!(out, "{} ({})", s.name, s.kind.name());
                for (u, slot) in edges(s) {
                    let _ = writeln!(out, "  <- {u} as {slot}");
                }
            }
        }
        DagFormat::Dot => {
            let _ = writeln!(
                out,
                "digraph \"{}\" {{\n  rankdir=LR;",
                quote(&ctx.pipeline.name)
            );
            for s in &ctx.pipeline.stages {
                let _ = writeln!(
                    out,
                    "  \"{}\" [label=\"{}\\n{}\"];",
                    quote(&s.name),
                    quote(&s.name),
                    s.kind.name()
                );
                for (u, slot) in edges(s) {
                    let _ = writeln!(
                        out,
                        "  \"{}\" -> \"{}\" [label=\"{}\"];",
                        quote(&u),
                        quote(&s.name),
                        quote(&slot)
                    );
                }
            }
            let _ = writeln!(out, "}}");
        }
        DagFormat::Mermaid => {
            let _ = writeln!(out, "flowchart LR");
            let id = |name: &str| format!("s{}", &blake3::hash(name.as_bytes()).to_hex()[..8]);
            for s in &ctx.pipeline.stages {
                let _ = writeln!(
                    out,
                    "  {}[\"{} ({})\"]",
                    id(&s.name),
                    s.name.replace('"', "#quot;"),
                    s.kind.name()
                );
                for (u, slot) in edges(s) {
                    let _ = writeln!(out, "  {} -->|{slot}| {}", id(&u), id(&s.name));
                }
            }
        }
    }
    Ok(())
}
