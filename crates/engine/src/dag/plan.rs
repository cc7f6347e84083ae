//! Fresh or stale, and why: the plan `status`, `run --dry-run` and the
//! executor share.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::Value as Json;

use super::key::{self, DepError, DepHashes};
use crate::backend::Backend;
use crate::spec::{InputRef, Pipeline, Stage};
use crate::store::record::RecordProblem;
use crate::store::{LockEntry, Lockfile, Record, Store, StoreError};

/// Why a stage must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Neither a record for its key nor a lockfile entry.
    NoRecord,
    /// Params differ from the lockfile (dotted keys).
    ParamsChanged(Vec<String>),
    /// An input's upstream output changed.
    InputChanged(String),
    /// A dep's (or source's) content changed.
    DepChanged(String),
    /// The kind's code version changed.
    CodeVersionChanged,
    /// The backend changed (Burn stages).
    BackendChanged,
    /// The record exists but an output object is gone.
    OutputMissing,
    /// The record disagrees with itself, its objects or the lockfile: it is
    /// not trusted (and never copied into the lockfile); the rerun replaces it.
    RecordDisagrees(String),
    /// The record file does not parse; it counts as no record.
    RecordMalformed(String),
    /// `--force`.
    Forced,
    /// An upstream stage will run first, so the key is not known yet.
    UpstreamStale(String),
    /// The Burn numerics version (the kind's `KindInfo::numerics`) differs from the
    /// lockfile's: a change to the kernels that alters output bytes.
    NumericsChanged,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoRecord => f.write_str("no record"),
            Reason::ParamsChanged(keys) => write!(f, "params changed: {}", keys.join(", ")),
            Reason::InputChanged(i) => write!(f, "input changed: {i}"),
            Reason::DepChanged(d) => write!(f, "dep changed: {d}"),
            Reason::CodeVersionChanged => f.write_str("code version changed"),
            Reason::BackendChanged => f.write_str("backend changed"),
            Reason::OutputMissing => f.write_str("output missing"),
            Reason::RecordDisagrees(why) => write!(f, "record not trusted: {why}"),
            Reason::RecordMalformed(path) => write!(
                f,
                "malformed record {path} (ignored; running the stage replaces it)"
            ),
            Reason::Forced => f.write_str("forced"),
            Reason::UpstreamStale(i) => write!(f, "upstream stale: {i}"),
            Reason::NumericsChanged => f.write_str("Burn numerics version changed"),
        }
    }
}

/// One stage's state.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The key, when all inputs are known.
    pub key: Option<String>,
    /// The key material.
    pub material: Option<Json>,
    /// The record, when fresh.
    pub record: Option<Record>,
    /// Why it must run, when stale.
    pub reason: Option<Reason>,
}

impl Evaluation {
    /// Whether the stage is fresh.
    pub fn fresh(&self) -> bool {
        self.reason.is_none()
    }
}

/// A problem computing a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A dep could not be hashed.
    #[error(transparent)]
    Dep(#[from] DepError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Inputs for key computation: slot → digest (or expansion → digest).
/// `Err(slot)` when an upstream output is not known yet.
pub fn input_digests(
    stage: &Stage,
    known: &HashMap<String, String>,
) -> Result<BTreeMap<String, Json>, String> {
    let mut out = BTreeMap::new();
    for (slot, r) in &stage.inputs {
        let get = |s: &str| known.get(s).cloned().ok_or_else(|| slot.clone());
        let v = match r {
            InputRef::One(s) => Json::String(get(s)?),
            InputRef::Many(v) => {
                let mut m = serde_json::Map::new();
                for s in v {
                    m.insert(s.clone(), Json::String(get(s)?));
                }
                Json::Object(m)
            }
        };
        out.insert(slot.clone(), v);
    }
    Ok(out)
}

/// Evaluates one stage given the output digests of fresh upstream stages.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    stage: &Stage,
    pipeline: &Pipeline,
    known: &HashMap<String, String>,
    lock: &Lockfile,
    store: &Store,
    forced: bool,
    backend: Backend,
    memo: &mut DepHashes,
) -> Result<Evaluation, PlanError> {
    let inputs = match input_digests(stage, known) {
        Ok(i) => i,
        Err(slot) => {
            return Ok(Evaluation {
                key: None,
                material: None,
                record: None,
                reason: Some(Reason::UpstreamStale(slot)),
            });
        }
    };
    let deps = key::deps(stage, pipeline, memo)?;
    let material = key::material(stage, pipeline, &inputs, &deps, backend);
    let k = key::key_of(&material);
    let stale = |reason| Evaluation {
        key: Some(k.clone()),
        material: Some(material.clone()),
        record: None,
        reason: Some(reason),
    };
    if forced {
        return Ok(stale(Reason::Forced));
    }
    let record = match Record::load(store, &k) {
        Ok(r) => r,
        Err(StoreError::Malformed { path, .. }) => {
            let shown = path.strip_prefix(store.root()).unwrap_or(&path);
            return Ok(stale(Reason::RecordMalformed(shown.display().to_string())));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(r) = record else {
        return Ok(stale(why(lock.stages.get(&stage.name), &material, backend)));
    };
    match trust(&r, &k, lock.stages.get(&stage.name), store) {
        Ok(()) => Ok(Evaluation {
            key: Some(k.clone()),
            material: Some(material.clone()),
            record: Some(r),
            reason: None,
        }),
        Err(RecordProblem::Missing) => Ok(stale(Reason::OutputMissing)),
        Err(RecordProblem::Disagrees(why)) => Ok(stale(Reason::RecordDisagrees(why))),
    }
}

/// Whether a record may be used as is: it agrees with its key and the
/// lockfile, and its objects are there with their recorded sizes.
fn trust(
    r: &Record,
    k: &str,
    locked: Option<&LockEntry>,
    store: &Store,
) -> Result<(), RecordProblem> {
    r.check_against(k, locked)?;
    r.check_objects(store)
}

/// The reason a stage with no record for its key is stale, from its lock entry.
fn why(entry: Option<&LockEntry>, material: &Json, _backend: Backend) -> Reason {
    let Some(e) = entry else {
        return Reason::NoRecord;
    };
    if material["code_version"].as_u64() != Some(u64::from(e.code_version))
        || material["kind"] != Json::String(e.kind.clone())
    {
        return Reason::CodeVersionChanged;
    }
    let mut changed = Vec::new();
    key::diff_paths(
        // default: never taken; string-keyed maps of JSON always serialise.
        &serde_json::to_value(&e.params).unwrap_or_default(),
        &material["params"],
        "",
        &mut changed,
    );
    if !changed.is_empty() {
        return Reason::ParamsChanged(changed);
    }
    let mut changed = Vec::new();
    key::diff_paths(
        // default: never taken; string-keyed maps always serialise.
        &serde_json::to_value(&e.inputs).unwrap_or_default(),
        &material["inputs"],
        "",
        &mut changed,
    );
    if let Some(first) = changed.first() {
        return Reason::InputChanged(first.split('.').next().unwrap_or(first).to_string());
    }
    let mut changed = Vec::new();
    key::diff_paths(
        // default: never taken; string-keyed maps always serialise.
        &serde_json::to_value(&e.deps).unwrap_or_default(),
        &material["deps"],
        "",
        &mut changed,
    );
    if let Some(first) = changed.first() {
        return Reason::DepChanged(first.clone());
    }
    // default: never taken; an optional backend name always serialises.
    if material["backend"] != serde_json::to_value(&e.backend).unwrap_or_default() {
        return Reason::BackendChanged;
    }
    if material.get("numerics").and_then(Json::as_u64) != e.numerics.map(u64::from) {
        return Reason::NumericsChanged;
    }
    Reason::NoRecord
}

/// The lock entry for a finished or fresh stage.
pub fn lock_entry(material: &Json, record: &Record) -> LockEntry {
    let map = |v: &Json| -> BTreeMap<String, Json> {
        v.as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            // default: a material section that is absent lists nothing (the record's material is trusted: it hashes to its key).
            .unwrap_or_default()
    };
    let headline: serde_json::Map<String, Json> = record
        .metrics
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_object() && !v.is_array())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        // default: no metrics recorded: the entry lists none.
        .unwrap_or_default();
    LockEntry {
        kind: record.kind.clone(),
        code_version: material["code_version"].as_u64().unwrap_or(0) as u32,
        key: record.key.clone(),
        params: map(&material["params"]),
        inputs: map(&material["inputs"]),
        deps: material["deps"]
            .as_object()
            .map(|m| {
                m.iter()
                    // default: never taken; a trusted material's deps map names to digest strings.
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            // default: a material without deps has none.
            .unwrap_or_default(),
        backend: material["backend"].as_str().map(str::to_string),
        numerics: material
            .get("numerics")
            .and_then(Json::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
        outputs: record.outputs.clone(),
        metrics: Json::Object(headline),
    }
}

/// Every stage's state, in topological order (for `status` and `--dry-run`).
pub fn plan(
    pipeline: &Pipeline,
    lock: &Lockfile,
    store: &Store,
    forced: &dyn Fn(&Stage) -> bool,
    backend: Backend,
) -> Result<Vec<Evaluation>, PlanError> {
    let mut known = HashMap::new();
    let mut memo = DepHashes::default();
    let mut out = Vec::with_capacity(pipeline.stages.len());
    for s in &pipeline.stages {
        let e = evaluate(
            s,
            pipeline,
            &known,
            lock,
            store,
            forced(s),
            backend,
            &mut memo,
        )?;
        if let Some(r) = &e.record {
            known.insert(s.name.clone(), r.output_digest.clone());
        }
        out.push(e);
    }
    Ok(out)
}
