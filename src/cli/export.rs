//! `repro export`: a stage's locked outputs as ordinary files, for people
//! and other tools. Every byte is rehashed on the way out.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::PipelineArgs;
use super::context::Ctx;
use super::error::CliError;
use crate::backend::Backend;
use crate::remote::layout::safe_rel;
use crate::remote::progress::human_bytes;
use crate::store::error::IoContext;
use crate::store::objects::make_writable;
use crate::store::{Entry, Lockfile};

/// Removes the staging directory however the export ends.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        make_writable(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `[OUTPUT] DIR`: one output, or all of the stage's, below DIR.
pub fn export(
    p: &PipelineArgs,
    store: Option<&Path>,
    backend: Option<Backend>,
    stage: &str,
    rest: &[String],
) -> Result<(), CliError> {
    let (output, dir) = match rest {
        [d] => (None, PathBuf::from(d)),
        [o, d] => (Some(o.as_str()), PathBuf::from(d)),
        _ => {
            return Err(CliError::Usage(
                "export: expected STAGE [OUTPUT] DIR".into(),
            ));
        }
    };
    let ctx = Ctx::load(p, store, backend, false)?;
    let i = ctx.stage_index(stage, "export")?;
    let name = ctx.pipeline.stages[i].name.clone();
    let stage = name.as_str();
    let lock = Lockfile::load(&ctx.lock_path)?;
    let entry = lock.stages.get(stage).ok_or_else(|| {
        CliError::Failed(format!(
            "{}: stage {stage} is not in the lockfile; run or pull it first",
            ctx.lock_path.display()
        ))
    })?;
    let chosen: Vec<(&String, &Entry)> = match output {
        None => entry.outputs.iter().collect(),
        Some(o) => {
            let e = entry.outputs.get_key_value(o).ok_or_else(|| {
                let names: Vec<&str> = entry.outputs.keys().map(String::as_str).collect();
                CliError::Usage(format!(
                    "export: stage {stage} has no output `{o}` (outputs: {})",
                    names.join(", ")
                ))
            })?;
            vec![e]
        }
    };
    for (path, _) in &chosen {
        if !safe_rel(path) {
            return Err(CliError::Failed(format!(
                "stage {stage} output `{path}`: refused, the path is absolute or leaves its directory"
            )));
        }
        let dest = dir.join(path);
        if dest.symlink_metadata().is_ok() {
            return Err(CliError::Failed(format!(
                "{}: exists; export into a new or empty directory",
                dest.display()
            )));
        }
    }
    std::fs::create_dir_all(&dir).at(&dir)?;
    let staging = Staging(dir.join(format!(".repro-export-{}", std::process::id())));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (path, e) in &chosen {
        let tmp = staging.0.join(path);
        ctx.store
            .materialize(e, &tmp)
            .map_err(|err| CliError::Failed(format!("stage {stage} output {path}: {err}")))?;
        make_writable(&tmp);
        let dest = dir.join(path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).at(parent)?;
        }
        std::fs::rename(&tmp, &dest).at(&dest)?;
        let _ = writeln!(
            out,
            "exported {stage} {path} -> {} ({}{})",
            dest.display(),
            human_bytes(e.size),
            if e.dir { ", directory" } else { "" }
        );
    }
    Ok(())
}
