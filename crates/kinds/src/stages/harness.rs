//! Running one kind outside the engine, over plain directories: for unit and
//! integration tests and benchmarks of the built-in kinds ([`run_kind`]), and
//! a hand-built context over temporary directories for unit tests
//! ([`TestStage`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::backend::Backend;
use crate::kind::{Input, Kind, Roots, StageContext};
use crate::util::progress::Progress;

/// Checks `with`, then runs `kind` with `inputs` into a fresh `<root>/<stage>/out`
/// (seed 42, one thread, `data` as `$REPRO_DATA`); returns that directory or
/// the stage's error.
pub fn run_kind(
    kind: &dyn Kind,
    root: &Path,
    stage: &str,
    with: serde_json::Value,
    inputs: &[(&str, PathBuf)],
    data: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    kind.check(&with)
        .map_err(|e| anyhow::anyhow!("with.{}: {}", e.path, e.message))?;
    let out = root.join(stage).join("out");
    std::fs::create_dir_all(&out)?;
    let scratch = root.join(stage).join("scratch");
    std::fs::create_dir_all(&scratch)?;
    let ctx = StageContext {
        stage: stage.into(),
        base: stage.into(),
        with,
        inputs: inputs
            .iter()
            .map(|(k, p)| (k.to_string(), Input::One(p.clone())))
            .collect::<BTreeMap<_, _>>(),
        out: out.clone(),
        seed: 42,
        threads: 1,
        backend: Backend::default(),
        roots: Roots {
            pipeline_dir: root.to_path_buf(),
            data: data.map(Path::to_path_buf),
            models: None,
        },
        scratch,
        cancel: Arc::new(AtomicBool::new(false)),
        log: Mutex::new(Box::new(std::io::sink())),
        progress: Progress::quiet(stage),
    };
    kind.run(&ctx)?;
    for o in kind.outputs() {
        anyhow::ensure!(out.join(o).exists(), "declared output {o} missing");
    }
    Ok(out)
}

/// Reads `metrics.json` of an output directory.
pub fn metrics(out: &Path) -> anyhow::Result<serde_json::Value> {
    let p = out.join("metrics.json");
    let text = std::fs::read_to_string(&p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(serde_json::from_str(&text)?)
}

#[cfg(test)]
pub use test_stage::TestStage;

#[cfg(test)]
mod test_stage {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    use crate::backend::Backend;
    use crate::kind::{Input, Roots, StageContext};
    use crate::util::progress::Progress;

    /// Temporary input, output and scratch directories for one stage run.
    pub struct TestStage {
        dir: tempfile::TempDir,
        stage: String,
        with: serde_json::Value,
        inputs: RefCell<BTreeMap<String, Input>>,
    }

    impl TestStage {
        /// A stage called `stage` (also its base name) with `with`.
        pub fn new(stage: &str, with: serde_json::Value) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("out")).unwrap();
            TestStage {
                dir,
                stage: stage.into(),
                with,
                inputs: RefCell::new(BTreeMap::new()),
            }
        }

        /// Connects a single-stage slot; returns its (empty) directory.
        pub fn upstream(&self, slot: &str) -> PathBuf {
            let p = self.dir.path().join("in").join(slot);
            std::fs::create_dir_all(&p).unwrap();
            self.inputs
                .borrow_mut()
                .insert(slot.into(), Input::One(p.clone()));
            p
        }

        /// Adds one expansion to a fan-in slot; returns its directory.
        pub fn upstream_many(&self, slot: &str, expansion: &str) -> PathBuf {
            let p = self.dir.path().join("in").join(slot).join(expansion);
            std::fs::create_dir_all(&p).unwrap();
            let mut inputs = self.inputs.borrow_mut();
            let e = inputs
                .entry(slot.into())
                .or_insert_with(|| Input::Many(BTreeMap::new()));
            if let Input::Many(m) = e {
                m.insert(expansion.into(), p.clone());
            }
            p
        }

        /// The context, with seed 42, one thread and a log that is dropped.
        pub fn ctx(&self) -> StageContext {
            let scratch = self.dir.path().join("scratch");
            std::fs::create_dir_all(&scratch).unwrap();
            StageContext {
                stage: self.stage.clone(),
                base: self.stage.clone(),
                with: self.with.clone(),
                inputs: self.inputs.borrow().clone(),
                out: self.dir.path().join("out"),
                seed: 42,
                threads: 1,
                backend: Backend::default(),
                roots: Roots::default(),
                scratch,
                cancel: std::sync::Arc::new(AtomicBool::new(false)),
                log: Mutex::new(Box::new(std::io::sink())),
                progress: Progress::quiet(&self.stage),
            }
        }
    }
}
