//! Stage keys (ARCHITECTURE.md, "Life of a stage run"): blake3 over the canonical serialisation of the
//! kind, its code version, resolved params, input names with the *output
//! digests* of their stages, digests of deps and sources, and — for Burn
//! stages — the backend.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::backend::Backend;
use crate::kind::KeyDep;
use crate::spec::{Pipeline, Stage, StageKind};
use crate::util::{canon, hash};

/// Code version of the `cmd` kind.
pub const CMD_CODE_VERSION: u32 = 1;

/// A dep that could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("stage `{stage}`: dep `{path}`: {source}")]
pub struct DepError {
    /// Stage.
    pub stage: String,
    /// The dep's path.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// Memoised content digests of deps within one command.
#[derive(Debug, Default)]
pub struct DepHashes {
    memo: HashMap<PathBuf, String>,
}

impl DepHashes {
    /// Digest of a file or directory.
    pub fn get(&mut self, path: &Path) -> std::io::Result<String> {
        if let Some(d) = self.memo.get(path) {
            return Ok(d.clone());
        }
        let d = hash::hash_path(path)?;
        self.memo.insert(path.to_path_buf(), d.clone());
        Ok(d)
    }
}

/// The kind's code version.
pub fn code_version(stage: &Stage) -> u32 {
    match &stage.kind {
        StageKind::Cmd { .. } => CMD_CODE_VERSION,
        StageKind::Builtin(k) => k.code_version(),
    }
}

/// The params part of the key, as the lockfile shows it.
pub fn params(stage: &Stage, pipeline: &Pipeline) -> BTreeMap<String, Json> {
    let mut p = BTreeMap::new();
    p.insert("with".to_string(), stage.with.clone());
    match &stage.kind {
        StageKind::Cmd { run } => {
            p.insert("run".to_string(), json!(run));
            p.insert("outputs".to_string(), json!(stage.outputs));
            p.insert("metrics".to_string(), json!(stage.metrics));
        }
        StageKind::Builtin(_) => {
            p.insert("seed".to_string(), json!(pipeline.seed));
        }
    }
    p
}

/// Dep and source digests: `path → digest`, sources as `source:<path>` or `pin:<pin>`.
pub fn deps(
    stage: &Stage,
    pipeline: &Pipeline,
    memo: &mut DepHashes,
) -> Result<BTreeMap<String, String>, DepError> {
    let mut out = BTreeMap::new();
    let err = |path: PathBuf, source| DepError {
        stage: stage.name.clone(),
        path,
        source,
    };
    for d in &stage.deps {
        let p = pipeline.dir.join(d);
        out.insert(d.clone(), memo.get(&p).map_err(|e| err(p.clone(), e))?);
    }
    for kd in &stage.key_deps {
        match kd {
            KeyDep::File(p) => {
                out.insert(
                    format!("source:{}", source_label(p, pipeline)),
                    memo.get(p).map_err(|e| err(p.clone(), e))?,
                );
            }
            KeyDep::Pin(pin) => {
                out.insert(format!("pin:{pin}"), pin.clone());
            }
        }
    }
    Ok(out)
}

/// A source path as the key names it: relative to `$REPRO_DATA`,
/// `$REPRO_MODELS` or the pipeline directory when it lies below one, so the
/// same data in another checkout or home directory gives the same key.
fn source_label(p: &Path, pipeline: &Pipeline) -> String {
    let roots = &pipeline.roots;
    let under = |root: &Option<PathBuf>, name: &str| {
        let root = root.as_ref()?;
        p.strip_prefix(root)
            .ok()
            .map(|rel| format!("${name}/{}", rel.display()))
    };
    under(&roots.data, "REPRO_DATA")
        .or_else(|| under(&roots.models, "REPRO_MODELS"))
        .or_else(|| {
            p.strip_prefix(&pipeline.dir)
                .ok()
                .map(|rel| rel.display().to_string())
        })
        .unwrap_or_else(|| p.display().to_string())
}

/// The backend, when it is part of this stage's key.
pub fn backend_of(stage: &Stage, backend: Backend) -> Option<String> {
    match &stage.kind {
        StageKind::Builtin(k) if k.uses_backend() => Some(backend.name().to_string()),
        _ => None,
    }
}

/// Everything the key covers, as one JSON object.
pub fn material(
    stage: &Stage,
    pipeline: &Pipeline,
    inputs: &BTreeMap<String, Json>,
    deps: &BTreeMap<String, String>,
    backend: Backend,
) -> Json {
    let backend = backend_of(stage, backend);
    let mut m = json!({
        "kind": stage.kind.name(),
        "code_version": code_version(stage),
        "params": params(stage, pipeline),
        "inputs": inputs,
        "deps": deps,
        "backend": backend,
    });
    // Burn stages: the numerics version (absent before it existed, so the
    // keys of other stages are unchanged).
    if backend.is_some() {
        m["numerics"] = json!(crate::backend::NUMERICS_VERSION);
    }
    m
}

/// The key of some key material.
pub fn key_of(material: &Json) -> String {
    canon::digest(material)
}

/// Dotted paths where two JSON values differ (`with.lr`, `run`).
pub fn diff_paths(a: &Json, b: &Json, prefix: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => diff_paths(u, v, &p, out),
                    _ => out.push(p),
                }
            }
        }
        _ if canon::canonical(a) != canon::canonical(b) => out.push(prefix.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_paths_names_nested_keys() {
        let a = json!({"with": {"lr": 0.1, "k": 1}, "run": "x"});
        let b = json!({"with": {"lr": 0.2, "k": 1, "new": 3}, "run": "x"});
        let mut out = Vec::new();
        diff_paths(&a, &b, "", &mut out);
        assert_eq!(out, vec!["with.lr", "with.new"]);
    }

    fn key_for(yaml: &str, inputs: serde_json::Value, backend: Backend) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dep.txt"), b"dep").unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, yaml).unwrap();
        let p = crate::spec::load(&file, &[], &Default::default()).unwrap();
        let s = p.stages.iter().find(|s| s.name == "b").unwrap();
        let deps = deps(s, &p, &mut DepHashes::default()).unwrap();
        let inputs = inputs
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        key_of(&material(s, &p, &inputs, &deps, backend))
    }

    #[test]
    fn every_part_of_the_key_material_changes_the_key() {
        let base = "stages:\n  a: {kind: cmd, run: x, outputs: [o]}\n  b: {kind: cmd, run: 'cat $IN_i/o', outputs: [o], inputs: {i: a}, with: {lr: 0.1}, deps: [dep.txt]}\n";
        let inputs = json!({"i": "d1"});
        let k = key_for(base, inputs.clone(), Backend::Flex);
        assert_eq!(
            k,
            key_for(base, inputs.clone(), Backend::Flex),
            "keys are deterministic"
        );
        assert_ne!(
            k,
            key_for(
                &base.replace("lr: 0.1", "lr: 0.2"),
                inputs.clone(),
                Backend::Flex
            ),
            "params"
        );
        assert_ne!(
            k,
            key_for(
                &base.replace("'cat $IN_i/o'", "'cat $IN_i/o; true'"),
                inputs.clone(),
                Backend::Flex
            ),
            "run"
        );
        assert_ne!(
            k,
            key_for(
                &base.replace("outputs: [o], inputs", "outputs: [o, p], inputs"),
                inputs.clone(),
                Backend::Flex
            ),
            "outputs"
        );
        assert_ne!(
            k,
            key_for(base, json!({"i": "d2"}), Backend::Flex),
            "input digest"
        );
        assert_ne!(
            k,
            key_for(
                &base.replace("{i: a}", "{j: a}"),
                json!({"j": "d1"}),
                Backend::Flex
            ),
            "input name"
        );
        // cmd stages do not depend on the backend; only Burn stages do.
        assert_eq!(k, key_for(base, inputs, Backend::Cuda));
    }

    #[test]
    fn resources_and_the_executor_do_not_change_the_key() {
        let base = "stages:\n  a: {kind: cmd, run: x, outputs: [o]}\n  b: {kind: cmd, run: 'cat $IN_i/o', outputs: [o], inputs: {i: a}, deps: [dep.txt]}\n";
        let placed = base.replace(
            "deps: [dep.txt]}",
            "deps: [dep.txt], resources: {cpus: 8, mem: 16G, gpus: 1, time: '4:00:00', partition: gpu}}",
        );
        let placed = format!(
            "executor: {{kind: slurm, slurm_opts: [--account=x], resources: {{time: 30}}}}\n{placed}"
        );
        let inputs = json!({"i": "d1"});
        assert_eq!(
            key_for(base, inputs.clone(), Backend::Flex),
            key_for(&placed, inputs, Backend::Flex)
        );
    }

    #[test]
    fn int_and_float_params_are_different_keys() {
        assert_ne!(
            key_of(&json!({"with": {"n": 1}})),
            key_of(&json!({"with": {"n": 1.0}}))
        );
    }
}
