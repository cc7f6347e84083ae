//! A hand-built [`StageContext`] over temporary directories, for the unit
//! tests of the evaluation and report kinds.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use crate::backend::Backend;
use crate::stages::kind::{Input, Roots, StageContext};

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
        }
    }
}
