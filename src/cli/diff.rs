//! `repro diff A.lock B.lock`.

use std::io::Write;
use std::path::Path;

use super::error::{CliError, excerpt};
use crate::dag::key::diff_paths;
use crate::store::{Lockfile, StoreError};

/// Prints params, inputs, outputs and metrics that differ, stage by stage.
pub fn diff(a: &Path, b: &Path) -> Result<(), CliError> {
    for p in [a, b] {
        if !p.is_file() {
            return Err(CliError::Usage(format!(
                "{}: no such lockfile",
                p.display()
            )));
        }
    }
    let la = load(a)?;
    let lb = load(b)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut names: Vec<&String> = la.stages.keys().chain(lb.stages.keys()).collect();
    names.sort();
    names.dedup();
    let mut differing = 0;
    for name in names {
        let (ea, eb) = match (la.stages.get(name), lb.stages.get(name)) {
            (Some(_), None) => {
                let _ = writeln!(out, "{name}: only in {}", a.display());
                differing += 1;
                continue;
            }
            (None, Some(_)) => {
                let _ = writeln!(out, "{name}: only in {}", b.display());
                differing += 1;
                continue;
            }
            (Some(x), Some(y)) => (x, y),
            (None, None) => continue,
        };
        if ea.key == eb.key && ea.outputs == eb.outputs && ea.metrics == eb.metrics {
            continue;
        }
        differing += 1;
        let _ = writeln!(out, "{name}:");
        let mut changed = Vec::new();
        diff_paths(&json(&ea.params), &json(&eb.params), "params", &mut changed);
        diff_paths(&json(&ea.inputs), &json(&eb.inputs), "inputs", &mut changed);
        diff_paths(&json(&ea.deps), &json(&eb.deps), "deps", &mut changed);
        let mut metrics = Vec::new();
        diff_paths(&ea.metrics, &eb.metrics, "", &mut metrics);
        for c in changed {
            let (va, vb) = (
                lookup(&json(&ea.params), &json(&ea.inputs), &json(&ea.deps), &c),
                lookup(&json(&eb.params), &json(&eb.inputs), &json(&eb.deps), &c),
            );
            let _ = writeln!(out, "  {c}: {va} -> {vb}");
        }
        for m in metrics {
            let get = |v: &serde_json::Value| {
                m.split('.')
                    .try_fold(v, |v, k| v.get(k))
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                out,
                "  metrics.{m}: {} -> {}",
                get(&ea.metrics),
                get(&eb.metrics)
            );
        }
        for (path, o) in &ea.outputs {
            match eb.outputs.get(path) {
                Some(p) if p.digest == o.digest => {}
                Some(p) => {
                    let _ = writeln!(
                        out,
                        "  outputs.{path}: {} -> {}",
                        &o.digest[..12.min(o.digest.len())],
                        &p.digest[..12.min(p.digest.len())]
                    );
                }
                None => {
                    let _ = writeln!(out, "  outputs.{path}: only in {}", a.display());
                }
            }
        }
    }
    if differing == 0 {
        let _ = writeln!(out, "no differences");
    }
    Ok(())
}

/// Reads a lockfile; a malformed one is a usage error quoting only the start
/// of the parser's message (which may echo the whole file).
fn load(path: &Path) -> Result<Lockfile, CliError> {
    Lockfile::load(path).map_err(|e| match e {
        StoreError::Malformed { message, .. } => CliError::BadLockfile {
            path: path.to_path_buf(),
            excerpt: excerpt(&message),
        },
        other => other.into(),
    })
}

/// Anything serialisable, as JSON.
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    // default: never taken; it serialises params, inputs and deps, string-keyed maps.
    serde_json::to_value(v).unwrap_or_default()
}

fn lookup(
    params: &serde_json::Value,
    inputs: &serde_json::Value,
    deps: &serde_json::Value,
    path: &str,
) -> String {
    let mut parts = path.split('.');
    let root = match parts.next() {
        Some("params") => params,
        Some("inputs") => inputs,
        Some("deps") => deps,
        _ => return "-".into(),
    };
    parts
        .try_fold(root, |v, k| v.get(k))
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}
