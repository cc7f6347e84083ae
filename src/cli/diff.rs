//! `repro diff A.lock B.lock`.

use std::io::Write;
use std::path::Path;

use super::error::{CliError, excerpt};
use crate::dag::lock_diff::{self, Change, StageDiff};
use crate::store::{Lockfile, StoreError};

/// Prints params, inputs, outputs and metrics that differ, stage by stage
/// (`dag::lock_diff`).
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
    let stages = lock_diff::diff(&la, &lb);
    for s in &stages {
        let _ = match s {
            StageDiff::OnlyInFirst(name) => writeln!(out, "{name}: only in {}", a.display()),
            StageDiff::OnlyInSecond(name) => writeln!(out, "{name}: only in {}", b.display()),
            StageDiff::Changed { stage, changes } => {
                let _ = writeln!(out, "{stage}:");
                for c in changes {
                    let line = match c {
                        Change::Value { path, from, to } => format!("{path}: {from} -> {to}"),
                        Change::Output { path, from, to } => {
                            format!("outputs.{path}: {from} -> {to}")
                        }
                        Change::OutputOnlyInFirst(path) => {
                            format!("outputs.{path}: only in {}", a.display())
                        }
                    };
                    let _ = writeln!(out, "  {line}");
                }
                Ok(())
            }
        };
    }
    if stages.is_empty() {
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
