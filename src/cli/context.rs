//! What every pipeline command needs: the loaded pipeline, the store, the
//! lockfile path and the backend.

use std::path::{Component, Path, PathBuf};

use super::args::PipelineArgs;
use super::error::CliError;
use crate::backend::Backend;
use crate::exec::rerun::Reexec;
use crate::kind::Roots;
use crate::spec::{self, Pipeline, SpecError, matrix};
use crate::stages::registry;
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

/// The store directory ([`store_dir`]), refused (exit 2) when it names
/// something that exists but is not a directory: every command that takes
/// `--store` calls this first, so they all fail alike.
pub fn checked_store_dir(flag: Option<&Path>) -> Result<PathBuf, CliError> {
    let dir = store_dir(flag);
    let source = if flag.is_some() {
        "--store"
    } else if std::env::var_os("REPRO_STORE").is_some_and(|v| !v.is_empty()) {
        "$REPRO_STORE"
    } else {
        "the default store"
    };
    let found = match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => return Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(dir),
        Ok(m) if m.is_file() => "a regular file".to_string(),
        Ok(_) => "not a directory".to_string(),
        Err(e) => e.to_string(),
    };
    Err(CliError::Usage(format!(
        "{source} {}: expected a store directory (or a path to create one at), found {found}",
        dir.display()
    )))
}

/// Refuses (exit 2) a `deps:` entry that is the store, lies inside it or
/// contains it: hashing it would read the store's own files (and a run would
/// change what it hashes).
pub fn check_deps_outside_store(pipeline: &Pipeline, store: &Path) -> Result<(), CliError> {
    let store_abs = resolved(store);
    for s in &pipeline.stages {
        for (i, dep) in s.deps.iter().enumerate() {
            let Ok(dep_abs) = std::fs::canonicalize(pipeline.dir.join(dep)) else {
                // Vanished since parsing: the plan reports it.
                continue;
            };
            let how = if dep_abs == store_abs {
                "is the store"
            } else if store_abs.starts_with(&dep_abs) {
                "contains the store"
            } else if dep_abs.starts_with(&store_abs) {
                "lies inside the store"
            } else {
                continue;
            };
            let mark = s.dep_marks.get(i).unwrap_or(&s.mark);
            return Err(SpecError::at(
                mark,
                format!("stages.{}.deps", s.base),
                format!(
                    "dep `{dep}` ({}) {how} ({}); deps name the files the stage reads, \
                     outside the store",
                    dep_abs.display(),
                    store_abs.display()
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// `p` as an absolute path with links resolved, also when (the end of) it
/// does not exist yet: each existing prefix is canonicalised, and a `..`
/// after one steps to its real parent, as the kernel would.
fn resolved(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => {
                out.push(other);
                if let Ok(real) = std::fs::canonicalize(&out) {
                    out = real;
                }
            }
        }
    }
    out
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
            // default: a bare file name's directory is the working directory (empty path).
            .unwrap_or_default(),
        data: env("REPRO_DATA"),
        models: env("REPRO_MODELS"),
    }
}

impl Ctx {
    /// How `verify --rerun` and `--repair` execute a recorded stage again:
    /// this run's backend and roots, and Ctrl-C.
    pub fn reexec(&self) -> Reexec {
        Reexec {
            backend: self.backend,
            roots: roots(&self.pipeline.file),
            cancel: crate::exec::signals::install(),
        }
    }

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
        let pipeline = spec::load(
            &p.pipeline,
            &p.sets,
            &roots(&p.pipeline),
            registry::builtin(),
        )?;
        let dir = checked_store_dir(store)?;
        check_deps_outside_store(&pipeline, &dir)?;
        let store = if create {
            Store::open(&dir)?
        } else {
            Store::open_existing(&dir)
        };
        Ok(Ctx {
            lock_path: p
                .lock
                .clone()
                .unwrap_or_else(|| Lockfile::path_for(&p.pipeline)),
            pipeline,
            store,
            // default: no --backend: the default backend (flex), as --help says.
            backend: backend.unwrap_or_default(),
        })
    }

    /// The stages `name` names: the expansions a selector (`rm`, `rm[*]`,
    /// `rm[k=v]`) matches, or the stage of that exact name. A malformed
    /// selector is the parser's message.
    fn matching(&self, name: &str) -> Result<Vec<usize>, String> {
        let sel = matrix::parse_selector(name)?;
        Ok((0..self.pipeline.stages.len())
            .filter(|&i| {
                let s = &self.pipeline.stages[i];
                let selected = s.base == sel.base
                    && sel
                        .point
                        .as_ref()
                        .is_none_or(|p| matrix::matches(&s.point, p));
                selected || s.name == name
            })
            .collect())
    }

    /// Marks the stages a list of selectors names (`rm`, `rm[*]`, `rm[k=v]`).
    pub fn select(&self, names: &[String], what: &str) -> Result<Vec<bool>, CliError> {
        let mut out = vec![false; self.pipeline.stages.len()];
        for n in names {
            let hits = self
                .matching(n)
                .map_err(|m| CliError::Usage(format!("{what}: {m}")))?;
            if hits.is_empty() {
                return Err(self.no_stage(n, what));
            }
            for i in hits {
                out[i] = true;
            }
        }
        Ok(out)
    }

    /// The index of the expanded stage `name`, or of the one expansion a
    /// selector (`rm[k=v]`, `rm`) names; a selector of several is refused,
    /// naming them.
    pub fn stage_index(&self, name: &str, what: &str) -> Result<usize, CliError> {
        if let Some(&i) = self.pipeline.index.get(name) {
            return Ok(i);
        }
        // default: a name that is not a selector matches no stage; `no_stage` names it.
        match self.matching(name).unwrap_or_default()[..] {
            [] => Err(self.no_stage(name, what)),
            [i] => Ok(i),
            ref hits => {
                let names: Vec<&str> = hits
                    .iter()
                    .map(|&i| self.pipeline.stages[i].name.as_str())
                    .collect();
                Err(CliError::Usage(format!(
                    "{what}: `{name}` names {} expansions ({}); name one",
                    names.len(),
                    names.join(", ")
                )))
            }
        }
    }

    /// "no stage `x` (stages: …)" for a name that matched nothing: the
    /// declared stages, a matrix stage once as `base[…]`.
    fn no_stage(&self, name: &str, what: &str) -> CliError {
        let mut names: Vec<String> = Vec::new();
        for s in &self.pipeline.stages {
            let shown = if s.name == s.base {
                s.base.clone()
            } else {
                format!("{}[…]", s.base)
            };
            if !names.contains(&shown) {
                names.push(shown);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_paths_follow_links_and_dot_dot_past_missing_parts() {
        let t = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(real.join("d")).unwrap();
        std::os::unix::fs::symlink(real.join("d"), real.join("link")).unwrap();
        assert_eq!(
            resolved(&real.join("link/new/store")),
            real.join("d/new/store")
        );
        assert_eq!(resolved(&real.join("nope/../x/./y")), real.join("x/y"));
        assert_eq!(resolved(&real.join("link/..")), real);
    }
}
