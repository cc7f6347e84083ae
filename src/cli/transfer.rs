//! What `push` and `pull` share: which remote, and which locked stages.

use std::path::Path;

use super::context::Ctx;
use super::error::CliError;
use crate::remote::{RemoteError, RemoteUrl};
use crate::store::Lockfile;

/// The remote: `--remote`, else `$REPRO_REMOTE`, else the pipeline's `remote:`.
pub fn remote_url(flag: Option<&str>, ctx: &Ctx) -> Result<RemoteUrl, CliError> {
    let given = flag.map(str::to_string).or_else(|| {
        std::env::var("REPRO_REMOTE")
            .ok()
            .filter(|v| !v.trim().is_empty())
    });
    match given {
        Some(text) => RemoteUrl::parse(&text, Path::new("")).map_err(|message| {
            CliError::Remote(RemoteError::BadUrl {
                url: text.clone(),
                message,
            })
        }),
        None => ctx.pipeline.remote.clone().ok_or_else(|| {
            CliError::Remote(RemoteError::NoRemote {
                pipeline: ctx.pipeline.file.display().to_string(),
            })
        }),
    }
}

/// The committed lockfile (it must exist) and the stages to transfer: every
/// locked stage, or the TARGETs with their ancestors.
pub fn locked_stages(ctx: &Ctx, targets: &[String]) -> Result<(Lockfile, Vec<String>), CliError> {
    if !ctx.lock_path.is_file() {
        return Err(CliError::Failed(format!(
            "{}: no lockfile; run the pipeline first (or check out the commit that has it)",
            ctx.lock_path.display()
        )));
    }
    let lock = Lockfile::load(&ctx.lock_path)?;
    let stages: Vec<String> = if targets.is_empty() {
        lock.stages.keys().cloned().collect()
    } else {
        let selected = ctx.with_ancestors(&ctx.select(targets, "target")?);
        ctx.pipeline
            .stages
            .iter()
            .zip(selected)
            .filter(|(_, on)| *on)
            .map(|(s, _)| s.name.clone())
            .collect()
    };
    if stages.is_empty() {
        return Err(CliError::Failed(format!(
            "{}: no stage is locked; run the pipeline first",
            ctx.lock_path.display()
        )));
    }
    Ok((lock, stages))
}
