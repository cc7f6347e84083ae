//! `repro kinds`.

use std::io::Write;

use serde_json::Value;

use super::error::CliError;
use crate::stages::registry;

/// Lists every stage kind with its schema.
pub fn kinds() -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(
        out,
        "cmd — run a shell command (bash) with declared deps and outputs\n  fields: run (string, required): command; $OUT, $IN_<slot>, $PARAMS (the `with` map as JSON), $REPRO_SEED, $REPRO_THREADS are set\n          deps (list of paths): files/dirs relative to the pipeline file, content-hashed\n          outputs (list of paths, required): must exist under $OUT when the command exits 0\n          metrics (path): a JSON object or single-number output recorded as metrics\n          with (map): params given to the command as $PARAMS\n  inputs: any names; $IN_<name> is a read-only copy of that stage's outputs ($IN_<name>/<expansion>/… for a fan-in)\n"
    );
    for k in registry::builtin().kinds() {
        let _ = writeln!(
            out,
            "{} (code version {}) — {}",
            k.name(),
            k.code_version(),
            k.summary()
        );
        if k.uses_backend() {
            let _ = writeln!(out, "  runs on the chosen backend (part of the key)");
        }
        let _ = writeln!(out, "  with:");
        for f in k.fields() {
            let d = if f.required {
                ", required".to_string()
            } else {
                match &f.default {
                    Value::Null => ", optional".to_string(),
                    v => format!(", default {v}"),
                }
            };
            let _ = writeln!(out, "    {} ({}{d}): {}", f.name, f.ty, f.doc);
        }
        let _ = writeln!(out, "  inputs:");
        for s in k.slots() {
            let _ = writeln!(
                out,
                "    {}{}{}: {}",
                s.name,
                if s.required { "" } else { " (optional)" },
                if s.fan_in { " (fan-in)" } else { "" },
                s.doc
            );
        }
        let _ = writeln!(out, "  outputs: {}", k.outputs().join(", "));
        if let Some(m) = k.metrics() {
            let _ = writeln!(out, "  metrics: {m}");
        }
        let _ = writeln!(out);
    }
    Ok(())
}
