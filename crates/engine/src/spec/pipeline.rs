//! The validated, matrix-expanded pipeline the rest of `repro` uses.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::Value as Json;

use super::matrix::Point;
use super::node::Mark;
use crate::kind::{KeyDep, Kind};

/// A validated pipeline.
pub struct Pipeline {
    /// `name:` (defaults to the file stem).
    pub name: String,
    /// `remote:`, the default remote for push and pull.
    pub remote: Option<crate::remote::RemoteUrl>,
    /// The pipeline file as given.
    pub file: PathBuf,
    /// Its directory: `deps:` and commands resolve here.
    pub dir: PathBuf,
    /// File stem: names the lockfile and `results/<stem>/`.
    pub stem: String,
    /// Data and model roots the stages resolved their sources against.
    pub roots: crate::kind::Roots,
    /// Resolved params.
    pub params: serde_json::Map<String, Json>,
    /// `params.seed` (0 when absent).
    pub seed: u64,
    /// Expanded stages in topological order.
    pub stages: Vec<Stage>,
    /// Stage name → index in `stages`.
    pub index: HashMap<String, usize>,
    /// `executor:` defaults (never key material).
    pub executor: super::resources::ExecutorSpec,
}

/// What a stage runs.
#[derive(Clone)]
pub enum StageKind {
    /// A shell command (`kind: cmd`).
    Cmd {
        /// The command line, references resolved.
        run: String,
    },
    /// A built-in kind.
    Builtin(&'static dyn Kind),
}

impl StageKind {
    /// The kind's name as written in `kind:`.
    pub fn name(&self) -> &'static str {
        match self {
            StageKind::Cmd { .. } => "cmd",
            StageKind::Builtin(k) => k.name(),
        }
    }
}

/// Where an input slot's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputRef {
    /// One stage (possibly one expansion of a matrix).
    One(String),
    /// Several expansions of a matrix stage (a fan-in), by name.
    Many(Vec<String>),
}

impl InputRef {
    /// The stages it names.
    pub fn stages(&self) -> Vec<&str> {
        match self {
            InputRef::One(s) => vec![s.as_str()],
            InputRef::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// One expanded stage.
#[derive(Clone)]
pub struct Stage {
    /// Expanded name (`rm[lambda_adv=0.2]`).
    pub name: String,
    /// Name without the matrix suffix.
    pub base: String,
    /// This expansion's matrix values.
    pub point: Point,
    /// What runs.
    pub kind: StageKind,
    /// Resolved `with` map (for `cmd`: the params given as `$PARAMS`).
    pub with: Json,
    /// Input slot → upstream stages.
    pub inputs: BTreeMap<String, InputRef>,
    /// `deps:` paths, relative to the pipeline directory.
    pub deps: Vec<String>,
    /// Declared outputs (files or directories under `$OUT`).
    pub outputs: Vec<String>,
    /// Output holding metrics, if any.
    pub metrics: Option<String>,
    /// Extra key material (sources) declared by the kind.
    pub key_deps: Vec<KeyDep>,
    /// Where the stage is declared.
    pub mark: Mark,
    /// Where each of `deps` is written (same order).
    pub dep_marks: Vec<Mark>,
    /// `resources:` with the `executor:` defaults applied (never key material).
    pub resources: super::resources::Resources,
}
