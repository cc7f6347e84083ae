//! What a running built-in stage is handed: its `with`, inputs, `$OUT`,
//! seeds, thread budget, backend, log, progress and an interrupt flag.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::backend::Backend;
use crate::util::hooks::{Hooks, Interrupted};
use crate::util::progress::Progress;
use crate::util::rng::derive_seed;

/// Where a stage can resolve relative data and model paths.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    /// Directory of the pipeline file (relative `deps:` resolve here).
    pub pipeline_dir: PathBuf,
    /// `$REPRO_DATA`: root of relative `path:` sources.
    pub data: Option<PathBuf>,
    /// `$REPRO_MODELS`: root of downloaded models.
    pub models: Option<PathBuf>,
}

/// A resolved input slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// One upstream stage's outputs, as a read-only directory.
    One(PathBuf),
    /// Every expansion of a matrix stage: expansion name → directory.
    Many(BTreeMap<String, PathBuf>),
}

/// Everything a running stage may use. Inputs are read-only copies that the
/// engine has rehashed; whatever the stage writes outside `out` is ignored.
pub struct StageContext {
    /// Expanded stage name (`rm[lambda_adv=0.2]`).
    pub stage: String,
    /// Stage name without the matrix suffix (`rm`): seeds derive from it.
    pub base: String,
    /// Resolved `with` map, already checked by [`Kind::check`].
    pub with: Value,
    /// Connected input slots.
    pub inputs: BTreeMap<String, Input>,
    /// Empty directory that must hold every declared output on success.
    pub out: PathBuf,
    /// `params.seed` of the pipeline (0 when absent).
    pub seed: u64,
    /// Threads this stage may use.
    pub threads: usize,
    /// Compute backend for Burn stages.
    pub backend: Backend,
    /// Data and model roots.
    pub roots: Roots,
    /// Scratch directory the stage may use freely; deleted afterwards.
    pub scratch: PathBuf,
    /// Set when the run is interrupted: long loops should poll it and stop.
    pub cancel: std::sync::Arc<AtomicBool>,
    /// The stage's log file (stdout/stderr of the run).
    pub log: Mutex<Box<dyn Write + Send>>,
    /// Progress of long loops: plain lines to the log, live bars on a terminal.
    pub progress: Progress,
}

impl StageContext {
    /// Deterministic seed for one random stream of this stage (ARCHITECTURE.md, "Determinism"):
    /// `H(params.seed, base stage name, purpose)`, so every expansion of a
    /// matrix shares initialisation and data order.
    pub fn seed_for(&self, purpose: &str) -> u64 {
        derive_seed(self.seed, &self.base, purpose)
    }

    /// The directory of a single-stage input slot.
    pub fn input(&self, slot: &str) -> anyhow::Result<&Path> {
        match self.inputs.get(slot) {
            Some(Input::One(p)) => Ok(p),
            Some(Input::Many(_)) => anyhow::bail!("input `{slot}` is a fan-in, expected one stage"),
            None => anyhow::bail!("input `{slot}` is not connected"),
        }
    }

    /// The directories of a fan-in slot as `(expansion name, directory)`, in
    /// name order; a slot wired to one stage gives that stage under the
    /// slot's name.
    ///
    /// # Errors
    /// The slot is not connected.
    pub fn fan_in(&self, slot: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
        match self.inputs.get(slot) {
            Some(Input::Many(m)) => Ok(m.iter().map(|(k, p)| (k.clone(), p.clone())).collect()),
            Some(Input::One(p)) => Ok(vec![(slot.to_string(), p.clone())]),
            None => anyhow::bail!("input `{slot}` is not connected"),
        }
    }

    /// Writes one line to the stage log.
    pub fn log(&self, line: impl AsRef<str>) {
        if let Ok(mut w) = self.log.lock() {
            // A full disk must not fail the stage through its log.
            let _ = writeln!(w, "{}", line.as_ref());
        }
    }

    /// Errors out if the run has been interrupted.
    pub fn check_cancel(&self) -> anyhow::Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            anyhow::bail!("interrupted");
        }
        Ok(())
    }
}

/// A running stage is what the libraries' loops report to.
impl Hooks for StageContext {
    fn seed(&self, purpose: &str) -> u64 {
        self.seed_for(purpose)
    }
    fn check(&self) -> Result<(), Interrupted> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Interrupted);
        }
        Ok(())
    }
    fn log(&self, line: &str) {
        StageContext::log(self, line);
    }
    fn progress(&self, what: &str, done: u64, total: u64) {
        if let Some(line) = self.progress.update(what, done, total) {
            StageContext::log(self, line);
        }
    }
}
