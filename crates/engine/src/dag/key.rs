//! Stage keys (ARCHITECTURE.md, "Life of a stage run"): blake3 over the canonical serialisation of the
//! kind, its code version, resolved params, input names with the *output
//! digests* of their stages, digests of deps and sources, and — for Burn
//! stages — the backend and the numerics version their kind declares.

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

/// The numerics version of a Burn stage's kind ([`crate::kind::KindInfo::numerics`]):
/// part of its key beside the backend.
pub fn numerics_of(stage: &Stage) -> Option<u32> {
    match &stage.kind {
        StageKind::Builtin(k) => k.numerics(),
        StageKind::Cmd { .. } => None,
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
    // Burn stages (exactly those with a backend): the numerics version
    // (absent before it existed, so the keys of other stages are unchanged).
    if let Some(n) = numerics_of(stage) {
        m["numerics"] = json!(n);
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

/// The value at a dotted path in a JSON tree (`with.lr`; a numeric part
/// indexes an array), the inverse of [`diff_paths`]; `None` where absent.
pub fn value_at<'a>(tree: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(tree, |v, part| match v {
        Json::Object(m) => m.get(part),
        Json::Array(a) => a.get(part.parse::<usize>().ok()?),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{Kind, KindInfo, Registry, StageContext, WithError};

    #[test]
    fn diff_paths_names_nested_keys() {
        let a = json!({"with": {"lr": 0.1, "k": 1}, "run": "x"});
        let b = json!({"with": {"lr": 0.2, "k": 1, "new": 3}, "run": "x"});
        let mut out = Vec::new();
        diff_paths(&a, &b, "", &mut out);
        assert_eq!(out, vec!["with.lr", "with.new"]);
    }

    fn key_for(yaml: &str, inputs: serde_json::Value, backend: Backend) -> String {
        key_of(&material_for(yaml, inputs, backend, Registry::EMPTY))
    }

    /// The key material of stage `b` of `yaml`, loaded with `kinds`.
    fn material_for(yaml: &str, inputs: Json, backend: Backend, kinds: Registry) -> Json {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dep.txt"), b"dep").unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, yaml).unwrap();
        let p = crate::spec::load(&file, &[], &Default::default(), kinds).unwrap();
        let s = p.stages.iter().find(|s| s.name == "b").unwrap();
        let deps = deps(s, &p, &mut DepHashes::default()).unwrap();
        let inputs = inputs
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        material(s, &p, &inputs, &deps, backend)
    }

    /// A built-in kind for these tests: a Burn one (`t.burn`) or not (`t.plain`).
    struct Fake(&'static KindInfo);

    const fn fake_info(name: &'static str, numerics: Option<u32>) -> KindInfo {
        KindInfo {
            name,
            code_version: 1,
            summary: "a kind for key tests",
            slots: &[],
            outputs: &["o"],
            metrics: None,
            numerics,
            publishes: false,
        }
    }
    const BURN: KindInfo = fake_info("t.burn", Some(7));
    const PLAIN: KindInfo = fake_info("t.plain", None);

    impl Kind for Fake {
        fn info(&self) -> &'static KindInfo {
            self.0
        }
        fn fields(&self) -> Vec<crate::kind::Field> {
            Vec::new()
        }
        fn defaults(&self) -> Json {
            json!({})
        }
        fn check(&self, _with: &Json) -> Result<(), WithError> {
            Ok(())
        }
        fn run(&self, _ctx: &StageContext) -> anyhow::Result<()> {
            Ok(())
        }
    }
    const FAKES: &[&dyn Kind] = &[&Fake(&BURN), &Fake(&PLAIN)];

    /// The numerics version reaches the key from the kind's own info, beside
    /// the backend, and only for a Burn kind: the key material keeps the
    /// shape it had when `dag::key` read the version itself.
    #[test]
    fn a_burn_kind_keys_its_backend_and_its_numerics_version() {
        let kinds = Registry::new(FAKES);
        let m = material_for(
            "stages:\n  b: {kind: t.burn}\n",
            json!({}),
            Backend::Flex,
            kinds,
        );
        assert_eq!(m["backend"], json!("flex"));
        assert_eq!(m["numerics"], json!(7));
        let cuda = material_for(
            "stages:\n  b: {kind: t.burn}\n",
            json!({}),
            Backend::Cuda,
            kinds,
        );
        assert_ne!(key_of(&m), key_of(&cuda));
        let plain = material_for(
            "stages:\n  b: {kind: t.plain}\n",
            json!({}),
            Backend::Cuda,
            kinds,
        );
        assert_eq!(plain["backend"], Json::Null);
        assert!(plain.get("numerics").is_none(), "{plain}");
        let keys: Vec<&str> = plain
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "backend",
                "code_version",
                "deps",
                "inputs",
                "kind",
                "params"
            ]
        );
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
