//! What every pipeline command needs: the loaded pipeline, the store, the
//! lockfile path and the backend.

use std::path::{Path, PathBuf};

use super::args::PipelineArgs;
use super::error::CliError;
use crate::backend::Backend;
use crate::kind::Roots;
use crate::spec::{self, Pipeline, matrix};
use crate::store::{Lockfile, Store};

/// A loaded pipeline with its surroundings.
pub struct Ctx {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The store (not created by read-only commands).
    pub store: Store,
    /// The lockfile path.
    pub lock_path: PathBuf,
    /// The backend.
    pub backend: Backend,
}

/// The store directory: `--store`, else `$REPRO_STORE`, else `./artifacts`.
pub fn store_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os("REPRO_STORE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("artifacts"))
}

/// Data and model roots from the environment.
pub fn roots(pipeline_file: &Path) -> Roots {
    // Absolute, so what a stage is handed does not depend on where it runs.
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .map(|p| std::path::absolute(&p).unwrap_or(p))
    };
    Roots {
        pipeline_dir: pipeline_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        data: env("REPRO_DATA"),
        models: env("REPRO_MODELS"),
    }
}

impl Ctx {
    /// Loads the pipeline; `create` opens (creating) the store.
    pub fn load(
        p: &PipelineArgs,
        store: Option<&Path>,
        backend: Option<Backend>,
        create: bool,
    ) -> Result<Ctx, CliError> {
        if !p.pipeline.is_file() {
            return Err(CliError::Usage(format!(
                "{}: no such pipeline file",
                p.pipeline.display()
            )));
        }
        let pipeline = spec::load(&p.pipeline, &p.sets, &roots(&p.pipeline))?;
        let dir = store_dir(store);
        let store = if create {
            Store::open(&dir)?
        } else {
            Store::open_existing(&dir)
        };
        Ok(Ctx {
            lock_path: Lockfile::path_for(&p.pipeline),
            pipeline,
            store,
            backend: backend.unwrap_or_default(),
        })
    }

    /// Marks the stages a list of selectors names (`rm`, `rm[*]`, `rm[k=v]`).
    pub fn select(&self, names: &[String], what: &str) -> Result<Vec<bool>, CliError> {
        let mut out = vec![false; self.pipeline.stages.len()];
        for n in names {
            let sel =
                matrix::parse_selector(n).map_err(|m| CliError::Usage(format!("{what}: {m}")))?;
            let mut hit = false;
            for (i, s) in self.pipeline.stages.iter().enumerate() {
                let ok = s.base == sel.base
                    && sel
                        .point
                        .as_ref()
                        .is_none_or(|p| matrix::matches(&s.point, p));
                if ok || s.name == *n {
                    out[i] = true;
                    hit = true;
                }
            }
            if !hit {
                return Err(self.no_stage(n, what));
            }
        }
        Ok(out)
    }

    /// The index of the expanded stage `name`.
    pub fn stage_index(&self, name: &str, what: &str) -> Result<usize, CliError> {
        self.pipeline
            .index
            .get(name)
            .copied()
            .ok_or_else(|| self.no_stage(name, what))
    }

    /// "no stage `x` (stages: …)" for a name that matched nothing.
    fn no_stage(&self, name: &str, what: &str) -> CliError {
        let names: Vec<&str> = self
            .pipeline
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        CliError::Usage(format!(
            "{what}: no stage `{name}` (stages: {})",
            names.join(", ")
        ))
    }

    /// The selected stages plus all their ancestors.
    pub fn with_ancestors(&self, selected: &[bool]) -> Vec<bool> {
        let mut out = selected.to_vec();
        for i in (0..self.pipeline.stages.len()).rev() {
            if !out[i] {
                continue;
            }
            for r in self.pipeline.stages[i].inputs.values() {
                for u in r.stages() {
                    if let Some(&j) = self.pipeline.index.get(u) {
                        out[j] = true;
                    }
                }
            }
        }
        out
    }
}
