//! `--exp NAME` on `status`, `verify`, `show`, `export`, and the name a
//! `run --set` records its experiment under.

use std::path::Path;

use crate::cli::args::{ExpArg, PipelineArgs};
use crate::cli::context::checked_store_dir;
use crate::cli::error::CliError;
use crate::exp::{ExpError, Experiment, Experiments, name};

/// The pipeline arguments an experiment stands for: its overrides and its
/// lockfile; unchanged without `--exp`.
pub fn with_exp(
    p: PipelineArgs,
    exp: &ExpArg,
    store: Option<&Path>,
) -> Result<PipelineArgs, CliError> {
    let Some(n) = &exp.exp else {
        return Ok(p);
    };
    let exps = Experiments::of(&checked_store_dir(store)?, &p.pipeline);
    let e = exps.get(n)?;
    Ok(PipelineArgs {
        lock: Some(exps.lock_path(n)),
        sets: e.overrides,
        pipeline: p.pipeline,
    })
}

/// The experiment a `run` with `overrides` records: `--name` (refused if it
/// exists with other overrides), else the name derived from the overrides
/// (`-2`, `-3`, … when that is taken by other overrides). An existing
/// experiment with the same overrides is continued.
pub fn experiment_name(
    exps: &Experiments,
    given: Option<&str>,
    overrides: &[String],
) -> Result<String, CliError> {
    let same = |e: &Experiment| e.overrides == overrides;
    if let Some(n) = given {
        name::check(n)?;
        return match exps.get(n) {
            Ok(e) if !same(&e) => Err(ExpError::Clash {
                name: n.to_string(),
                existing: e.overrides,
            }
            .into()),
            Ok(_) | Err(ExpError::Unknown { .. }) => Ok(n.to_string()),
            Err(e) => Err(e.into()),
        };
    }
    let base = name::default_name(overrides);
    let mut i = 1;
    loop {
        let n = if i == 1 {
            base.clone()
        } else {
            let suffix = format!("-{i}");
            let mut b = base.clone();
            b.truncate(name::MAX_LEN - suffix.len());
            format!("{b}{suffix}")
        };
        match exps.get(&n) {
            Ok(e) if !same(&e) => i += 1,
            Ok(_) | Err(ExpError::Unknown { .. }) => return Ok(n),
            Err(e) => return Err(e.into()),
        }
    }
}
