//! The contract between the engine and a built-in stage kind
//! (ARCHITECTURE.md, "Layers"): a kind declares a typed `with` schema, named
//! input slots and fixed output names; the engine checks all of them before
//! anything runs and hands the stage a [`StageContext`] with read-only inputs
//! and an empty `$OUT`. Both the engine (spec, dag, exec) and the kinds
//! (`crates/kinds/src/stages`) depend on this module; it depends on neither.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::WithError;
use super::context::{Roots, StageContext};

/// One field of a kind's `with` schema, as `repro kinds` prints it: derived
/// from the kind's typed struct ([`super::fields_of`]), never hand-kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Key under `with:`.
    pub name: String,
    /// Type, in words, with its checked bounds (`int in [8, 1048576]`,
    /// `float in (0, 1)`, `"error" | "skip"`, `source`…).
    pub ty: String,
    /// Whether the pipeline must give it (its default is then `null`).
    pub required: bool,
    /// What it means: the field's doc comment.
    pub doc: String,
    /// Its default: the field's value in the struct's `Default`.
    pub default: Value,
}

/// The value of a required `with` key (an `Option` in the kind's struct, so
/// the struct has a `Default`), or the error naming the key.
pub fn required<T>(value: Option<T>, key: &str) -> Result<T, WithError> {
    value.ok_or_else(|| WithError::new(key, "missing: this key is required"))
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

/// Something besides inputs and params that a stage's key must cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDep {
    /// A local file or directory, content-hashed by the engine at plan time
    /// (a `path:` source). Missing: a spec error.
    File(PathBuf),
    /// A pin (`sha256:…`, `blake3:…`) that stands for remote content.
    Pin(String),
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
    /// Named input slots (`*`: any further names).
    pub slots: &'static [Slot],
    /// Fixed output names (files or directories) under `$OUT`.
    pub outputs: &'static [&'static str],
    /// The output recorded as metrics (a JSON object), if any.
    pub metrics: Option<&'static str>,
    /// `Some(v)` for a Burn kind: its results depend on the compute backend
    /// and on the numerics of the model code it runs, version `v` (the stage
    /// layer sets `model::NUMERICS_VERSION`); both then become part of the
    /// key. `None`: neither does (and the key names neither).
    pub numerics: Option<u32>,
    /// Whether `repro run` copies the outputs to `results/<stem>/<stage>/`
    /// (report stages: the human-readable results, ARCHITECTURE.md, "The store").
    pub publishes: bool,
}

/// A built-in stage kind, as the engine holds it (object-safe). Kinds
/// implement [`super::TypedKind`], whose blanket implementation gives this.
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
    /// The `with` schema, from the kind's typed struct.
    fn fields(&self) -> Vec<Field>;
    /// The `with` map a stage gets when it gives no key: the `Default` of the
    /// kind's typed struct, serialized.
    fn defaults(&self) -> Value;
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
    /// Whether the backend is part of the key (a Burn kind).
    fn uses_backend(&self) -> bool {
        self.info().numerics.is_some()
    }
    /// The numerics version that is part of the key beside the backend.
    fn numerics(&self) -> Option<u32> {
        self.info().numerics
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
    /// Checks what is wired into each input slot (the upstream stages'
    /// kinds and resolved `with`), before anything runs. An error's `path`
    /// is the slot name; the engine reports it at `inputs.<slot>` (exit 2).
    fn check_inputs(
        &self,
        _with: &Value,
        _inputs: &BTreeMap<String, Vec<Upstream<'_>>>,
    ) -> Result<(), WithError> {
        Ok(())
    }
    /// Runs the stage: reads `ctx.inputs`, writes every output into `ctx.out`.
    fn run(&self, ctx: &StageContext) -> anyhow::Result<()>;
}

/// A stage wired into an input slot, as [`Kind::check_inputs`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Upstream<'a> {
    /// Its expanded name.
    pub name: &'a str,
    /// Its kind (`cmd` for a command).
    pub kind: &'a str,
    /// Its resolved `with` (for `cmd`: the params).
    pub with: &'a Value,
}
