//! One stage run from start to record: stage inputs from the store (rehashed
//! on read), run, check and store outputs, write the record last.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::Value as Json;

use super::provenance;
use super::runner::{Job, RunError, StageRunner};
use crate::backend::Backend;
use crate::kind::{Input, Roots};
use crate::spec::{InputRef, Pipeline, Stage};
use crate::store::objects::{make_readonly, make_writable};
use crate::store::record::output_digest;
use crate::store::{Provenance, Record, Store};
use crate::util::progress::{NoSink, ProgressSink};
use crate::util::time;

/// Settings shared by every stage run of one command.
#[derive(Clone)]
pub struct RunSettings {
    /// Threads per stage.
    pub threads: usize,
    /// Backend for Burn stages.
    pub backend: Backend,
    /// Data and model roots.
    pub roots: Roots,
    /// Set on Ctrl-C.
    pub cancel: Arc<AtomicBool>,
    /// Where built-in kinds' progress is shown live (terminal bars, or nothing).
    pub progress: Arc<dyn ProgressSink>,
    /// Git revision of the pipeline's repository, looked up on first use
    /// (a no-op run never pays for it).
    pub git: std::sync::Arc<std::sync::OnceLock<Option<String>>>,
}

impl RunSettings {
    /// Settings for `threads` threads per stage (at least one).
    pub fn new(threads: usize, backend: Backend, roots: Roots, cancel: Arc<AtomicBool>) -> Self {
        RunSettings {
            threads: threads.max(1),
            backend,
            roots,
            cancel,
            progress: Arc::new(NoSink),
            git: Default::default(),
        }
    }

    /// Threads per stage when `jobs` stages run at once on this machine.
    pub fn threads_for(jobs: usize) -> usize {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        (cpus / jobs.max(1)).max(1)
    }

    /// The git revision of the repository holding `dir`.
    pub fn git_revision(&self, dir: &Path) -> Option<String> {
        self.git
            .get_or_init(|| provenance::git_revision(dir))
            .clone()
    }
}

/// A failed run, with its log.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What went wrong.
    pub error: RunError,
    /// The log file (absolute), if one was opened.
    pub log: Option<PathBuf>,
}

/// Where a stage run's outputs go.
#[derive(Clone, Copy)]
pub enum Keep<'a> {
    /// Into the store, with a record (a normal run).
    Record,
    /// Into a scratch store and no record (`verify --rerun`): the rerun's
    /// outputs never become orphans in the real store.
    Scratch(&'a Store),
}

/// Largest metrics file read (bytes).
const METRICS_LIMIT: u64 = 16 << 20;

/// Runs `stage` whose key is `key`, reading its inputs from `store` and
/// storing its outputs and record as `keep` says.
#[allow(clippy::too_many_arguments)]
pub fn run_stage(
    stage: &Stage,
    key: &str,
    material: &Json,
    pipeline: &Pipeline,
    upstream: &HashMap<String, Record>,
    store: &Store,
    runner: &dyn StageRunner,
    settings: &RunSettings,
    keep: Keep<'_>,
) -> Result<Record, Failure> {
    let out_store = match keep {
        Keep::Record => store,
        Keep::Scratch(s) => s,
    };
    let started = time::now_unix();
    let log_dir = store.root().join("logs").join(&stage.name);
    let log_path = log_dir.join(format!("{}.log", time::stamp(started)));
    let fail = |m: String, log: Option<&Path>| Failure {
        error: RunError::failed(m),
        log: log.map(Path::to_path_buf),
    };
    fs::create_dir_all(&log_dir).map_err(|e| fail(format!("{}: {e}", log_dir.display()), None))?;
    let log =
        File::create(&log_path).map_err(|e| fail(format!("{}: {e}", log_path.display()), None))?;
    let tmp = store
        .new_tmp(&stage.name)
        .map_err(|e| fail(e.to_string(), Some(&log_path)))?;
    let result = (|| {
        let in_root = tmp.join("in");
        let out = tmp.join("out");
        let scratch = tmp.join("scratch");
        for d in [&in_root, &out, &scratch] {
            fs::create_dir_all(d).map_err(|e| RunError::failed(format!("{}: {e}", d.display())))?;
        }
        let inputs = stage_inputs(stage, upstream, store, &in_root)?;
        make_readonly(&in_root);
        let params_file = tmp.join("params.json");
        let params =
            serde_json::to_vec_pretty(&stage.with).map_err(|e| RunError::failed(e.to_string()))?;
        fs::write(&params_file, params)
            .map_err(|e| RunError::failed(format!("{}: {e}", params_file.display())))?;
        // Canonical, like the store's root: the command's working directory
        // and every path in its environment are normalised.
        let dir = fs::canonicalize(&pipeline.dir)
            .map_err(|e| RunError::failed(format!("{}: {e}", pipeline.dir.display())))?;
        let job = Job {
            stage,
            dir,
            inputs,
            in_root,
            out: out.clone(),
            scratch,
            params_file,
            log: log
                .try_clone()
                .map_err(|e| RunError::failed(e.to_string()))?,
            log_path: log_path.clone(),
            key,
            seed: pipeline.seed,
            threads: settings.threads,
            backend: settings.backend,
            roots: settings.roots.clone(),
            cancel: settings.cancel.clone(),
            progress: settings.progress.clone(),
        };
        runner.run(job)?;
        store_outputs(stage, &out, store, out_store)
    })();
    make_writable(&tmp);
    let _ = fs::remove_dir_all(&tmp);
    let (outputs, metrics) = match result {
        Ok(r) => r,
        Err(error) => {
            // Failed runs' logs are told apart by name: `gc` keeps the last few.
            let failed = log_dir.join(format!(
                "{}{}",
                time::stamp(started),
                crate::store::log::FAILED_SUFFIX
            ));
            let log = match fs::rename(&log_path, &failed) {
                Ok(()) => failed,
                Err(_) => log_path,
            };
            return Err(Failure {
                error,
                log: Some(log),
            });
        }
    };
    let cpu = provenance::cpu_id();
    let record = Record {
        schema: 1,
        stage: stage.name.clone(),
        kind: stage.kind.name().to_string(),
        key: key.to_string(),
        material: material.clone(),
        output_digest: output_digest(&outputs),
        outputs,
        metrics,
        provenance: Provenance {
            started: time::iso8601(started),
            seconds: time::now_unix() - started,
            backend: material["backend"].as_str().map(str::to_string),
            threads: settings.threads,
            cpu: cpu.model_name.clone(),
            cpu_id: Some(cpu),
            version: provenance::version(),
            git: settings.git_revision(&pipeline.dir),
            host: provenance::host(),
            log: log_path
                .strip_prefix(store.root())
                .unwrap_or(&log_path)
                .display()
                .to_string(),
        },
    };
    if matches!(keep, Keep::Record) {
        record
            .save(store)
            .map_err(|e| fail(e.to_string(), Some(&log_path)))?;
    }
    Ok(record)
}

/// Copies every input out of the store into `in_root/<slot>[/<expansion>]`.
fn stage_inputs(
    stage: &Stage,
    upstream: &HashMap<String, Record>,
    store: &Store,
    in_root: &Path,
) -> Result<BTreeMap<String, Input>, RunError> {
    let mut out = BTreeMap::new();
    let copy = |name: &str, dest: &Path| -> Result<(), RunError> {
        let rec = upstream
            .get(name)
            .ok_or_else(|| RunError::failed(format!("no record for input stage `{name}`")))?;
        fs::create_dir_all(dest)
            .map_err(|e| RunError::failed(format!("{}: {e}", dest.display())))?;
        for (path, entry) in &rec.outputs {
            store
                .materialize(entry, &dest.join(path))
                .map_err(|e| RunError::failed(format!("input `{name}`: {e}")))?;
        }
        Ok(())
    };
    for (slot, r) in &stage.inputs {
        let dir = in_root.join(slot);
        match r {
            InputRef::One(name) => {
                copy(name, &dir)?;
                out.insert(slot.clone(), Input::One(dir));
            }
            InputRef::Many(names) => {
                let mut m = BTreeMap::new();
                for name in names {
                    let d = dir.join(name);
                    copy(name, &d)?;
                    m.insert(name.clone(), d);
                }
                out.insert(slot.clone(), Input::Many(m));
            }
        }
    }
    Ok(out)
}

/// Seals the staging directory `out` (one rename into a 0700 directory of
/// `staging`, the store that holds it: ARCHITECTURE.md, "The store"), reads
/// the metrics, then copies every declared output into `store` through
/// descriptors (no links, FIFOs, sockets or devices anywhere inside).
fn store_outputs(
    stage: &Stage,
    out: &Path,
    staging: &Store,
    store: &Store,
) -> Result<(BTreeMap<String, crate::store::Entry>, Json), RunError> {
    let sealed = staging
        .seal(out)
        .map_err(|e| RunError::failed(format!("sealing $OUT: {e}")))?;
    let mut metrics = Json::Object(Default::default());
    if let Some(m) = &stage.metrics {
        let bytes = sealed
            .read_small(m, METRICS_LIMIT)
            .map_err(|e| RunError::failed(format!("metrics file `{m}`: {e}")))?;
        metrics = parse_metrics(m, &String::from_utf8_lossy(&bytes)).map_err(RunError::failed)?;
    }
    let mut outputs = BTreeMap::new();
    for o in &stage.outputs {
        if !sealed.has(o) {
            return Err(RunError::failed(format!(
                "declared output `{o}` is missing from $OUT"
            )));
        }
        let e = sealed
            .put_output(store, o)
            .map_err(|e| RunError::failed(format!("storing output `{o}`: {e}")))?;
        outputs.insert(o.clone(), e);
    }
    Ok((outputs, metrics))
}

/// The last `n` lines of a stage log, or `None` if it cannot be read.
pub fn log_tail(path: &Path, n: usize) -> Option<Vec<String>> {
    crate::store::log::tail(path, n)
}

/// A metrics file: a JSON object, or one number (named after the file).
pub fn parse_metrics(name: &str, text: &str) -> Result<Json, String> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Json>(trimmed) {
        match v {
            Json::Object(_) => return Ok(v),
            Json::Number(_) => {
                let stem = Path::new(name)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    // default: never taken; output names are validated file paths, so they have a stem.
                    .unwrap_or_default();
                let mut m = serde_json::Map::new();
                m.insert(stem, v);
                return Ok(Json::Object(m));
            }
            _ => {}
        }
    }
    Err(format!(
        "metrics file `{name}` is neither a JSON object nor a single number"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_files_are_objects_or_one_number() {
        assert_eq!(
            parse_metrics("count.txt", " 12\n").unwrap(),
            serde_json::json!({"count": 12})
        );
        assert_eq!(
            parse_metrics("m.json", r#"{"acc": 0.5}"#).unwrap(),
            serde_json::json!({"acc": 0.5})
        );
        assert!(parse_metrics("m.txt", "a b").is_err());
        assert!(parse_metrics("m.txt", "[1]").is_err());
    }
}
