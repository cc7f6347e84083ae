//! The contract between the engine and a built-in stage kind.
//!
//! A kind declares a typed `with` schema, named input slots and fixed output
//! names; the engine checks all of them before anything runs (DESIGN §1) and
//! hands the stage a [`StageContext`] with read-only inputs and an empty `$OUT`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::backend::Backend;

/// One field of a kind's `with` schema, as `repro kinds` prints it.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Key under `with:`.
    pub name: &'static str,
    /// Type, in words (`float`, `int`, `"error" | "skip"`, `source`…).
    pub ty: &'static str,
    /// Default value as YAML text; `None` means required.
    pub default: Option<&'static str>,
    /// What it means, with units and range.
    pub doc: &'static str,
}

/// One named input slot of a kind.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Name under `inputs:` (also `$IN_<name>` for commands). The name `*`
    /// declares a variadic slot: any number of inputs under any valid names
    /// (e.g. `data.prepare` merging `{helpful: a, harmless: b}`).
    pub name: &'static str,
    /// Whether the pipeline must connect it.
    pub required: bool,
    /// Whether it takes every expansion of a matrix stage (a fan-in).
    pub fan_in: bool,
    /// What the stage expects to find there.
    pub doc: &'static str,
}

/// A problem with a stage's `with` map, found before anything runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct WithError {
    /// Dotted key path below `with` (`source.path`); empty for the map itself.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl WithError {
    /// An error at `path` below `with`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        WithError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Deserializes `with` into the kind's typed struct, naming the failing key.
///
/// Use `#[serde(deny_unknown_fields)]` on `T` so a misspelt key is an error.
pub fn parse_with<T: DeserializeOwned>(with: &Value) -> Result<T, WithError> {
    serde_path_to_error::deserialize(with).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        WithError::new(path, e.into_inner().to_string())
    })
}

/// Something besides inputs and params that a stage's key must cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDep {
    /// A local file or directory, content-hashed by the engine at plan time
    /// (a `path:` source). Missing: a spec error.
    File(PathBuf),
    /// A pin (`sha256:…`, `blake3:…`) that stands for remote content.
    Pin(String),
}

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
}

impl StageContext {
    /// Deterministic seed for one random stream of this stage (DESIGN §7):
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

/// `H(seed, base, purpose)` truncated to 64 bits.
pub fn derive_seed(seed: u64, base: &str, purpose: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(b"repro-seed-v1\0");
    h.update(&seed.to_le_bytes());
    h.update(base.as_bytes());
    h.update(b"\0");
    h.update(purpose.as_bytes());
    let out = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&out.as_bytes()[..8]);
    u64::from_le_bytes(b)
}

/// The static description of a kind: what `repro kinds` prints and the
/// engine checks before anything runs.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// Name used in `kind:` (e.g. `data.preferences`).
    pub name: &'static str,
    /// Bumped whenever the kind's semantics change; part of every key.
    pub code_version: u32,
    /// One line for `repro kinds`.
    pub summary: &'static str,
    /// The `with` schema.
    pub fields: &'static [Field],
    /// Named input slots (`*`: any further names).
    pub slots: &'static [Slot],
    /// Fixed output names (files or directories) under `$OUT`.
    pub outputs: &'static [&'static str],
    /// The output recorded as metrics (a JSON object), if any.
    pub metrics: Option<&'static str>,
    /// Whether results depend on the compute backend (Burn stages): the
    /// backend then becomes part of the key.
    pub uses_backend: bool,
    /// Whether `repro run` copies the outputs to `results/<stem>/<stage>/`
    /// (report stages: the human-readable results, DESIGN §0).
    pub publishes: bool,
}

/// A built-in stage kind.
pub trait Kind: Send + Sync {
    /// The kind's static description.
    fn info(&self) -> &'static KindInfo;
    /// Name used in `kind:`.
    fn name(&self) -> &'static str {
        self.info().name
    }
    /// The kind's code version.
    fn code_version(&self) -> u32 {
        self.info().code_version
    }
    /// One line for `repro kinds`.
    fn summary(&self) -> &'static str {
        self.info().summary
    }
    /// The `with` schema.
    fn fields(&self) -> &'static [Field] {
        self.info().fields
    }
    /// Named input slots.
    fn slots(&self) -> &'static [Slot] {
        self.info().slots
    }
    /// Fixed output names under `$OUT`.
    fn outputs(&self) -> &'static [&'static str] {
        self.info().outputs
    }
    /// The metrics output, if any.
    fn metrics(&self) -> Option<&'static str> {
        self.info().metrics
    }
    /// Whether the backend is part of the key.
    fn uses_backend(&self) -> bool {
        self.info().uses_backend
    }
    /// Whether the outputs are published to `results/`.
    fn publishes(&self) -> bool {
        self.info().publishes
    }
    /// Checks the resolved `with` map before anything runs.
    fn check(&self, with: &Value) -> Result<(), WithError>;
    /// Files and pins besides inputs that the key must cover (sources).
    fn key_deps(&self, _with: &Value, _roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        Ok(Vec::new())
    }
    /// Runs the stage: reads `ctx.inputs`, writes every output into `ctx.out`.
    fn run(&self, ctx: &StageContext) -> anyhow::Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_by_purpose_and_base_but_not_by_call() {
        let a = derive_seed(42, "rm", "init");
        assert_eq!(a, derive_seed(42, "rm", "init"));
        assert_ne!(a, derive_seed(42, "rm", "order"));
        assert_ne!(a, derive_seed(42, "rm2", "init"));
        assert_ne!(a, derive_seed(43, "rm", "init"));
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct W {
        lr: f64,
        inner: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        k: u32,
    }

    #[test]
    fn parse_with_names_the_failing_key() {
        let e = parse_with::<W>(&serde_json::json!({"lr": 0.1, "inner": {"k": "x"}})).unwrap_err();
        assert_eq!(e.path, "inner.k");
        let e = parse_with::<W>(&serde_json::json!({"lr": 0.1, "inner": {"k": 1, "z": 2}}))
            .unwrap_err();
        assert_eq!(e.path, "inner.z");
        assert!(e.message.contains("unknown field `z`"), "{}", e.message);
    }
}
