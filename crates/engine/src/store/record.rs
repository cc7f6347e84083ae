//! Stage records: one JSON file per successful run, named by the stage key.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::{IoContext, StoreError};
use super::lockfile::LockEntry;
use super::objects::{Entry, Store};

/// Where and how a run happened (not part of the key or lockfile).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Start, UTC ISO 8601.
    pub started: String,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Backend for Burn stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Threads the stage was given.
    pub threads: usize,
    /// CPU model name (`/proc/cpuinfo`'s `model name`).
    pub cpu: String,
    /// The CPU in full: name, family/model/stepping and the GEMM kernels'
    /// ISA (records before issue 24 lack it). Never part of a key or the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_id: Option<crate::util::machine::CpuId>,
    /// `repro` version.
    pub version: String,
    /// Git revision of the pipeline's repository, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    /// Host name.
    pub host: String,
    /// Log file, relative to the store.
    pub log: String,
}

/// What a successful stage run produced (ARCHITECTURE.md, "The store").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Record format version.
    pub schema: u32,
    /// Expanded stage name.
    pub stage: String,
    /// Stage kind.
    pub kind: String,
    /// The stage key (blake3 of the key material).
    pub key: String,
    /// Everything the key was computed from.
    pub material: Json,
    /// Outputs: declared path → entry.
    pub outputs: BTreeMap<String, Entry>,
    /// Digest over all outputs: what downstream keys use (early cutoff).
    pub output_digest: String,
    /// Metrics read from the metrics output.
    #[serde(default)]
    pub metrics: Json,
    /// How the run happened.
    pub provenance: Provenance,
}

impl Record {
    /// Path of the record for `key`.
    pub fn path(store: &Store, key: &str) -> std::path::PathBuf {
        store.root().join("records").join(format!("{key}.json"))
    }

    /// Loads the record for `key`, if present.
    pub fn load(store: &Store, key: &str) -> Result<Option<Record>, StoreError> {
        load_json(&Self::path(store, key))
    }

    /// Writes the record atomically (temp file, fsync, rename): it is the
    /// last thing a stage run writes, so a crash before it leaves no record.
    pub fn save(&self, store: &Store) -> Result<(), StoreError> {
        let path = Self::path(store, &self.key);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Malformed {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // A directory where the record should be is a malformed record: the
        // run that replaces it removes it (a rename cannot replace it).
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            super::objects::make_writable(&path);
            fs::remove_dir_all(&path).at(&path)?;
        }
        write_atomic(&path, &bytes)
    }

    /// Checks the record against the key it must stand for and, when the
    /// lockfile has an entry for that key, against that entry: its key and
    /// key material hash to `key`, its outputs are the entry's, and its output
    /// digest is recomputed from its outputs. `Err` says what disagrees.
    pub fn check_against(
        &self,
        key: &str,
        locked: Option<&LockEntry>,
    ) -> Result<(), RecordProblem> {
        if self.key != key || crate::util::canon::digest(&self.material) != key {
            return Err(RecordProblem::Disagrees(
                "its key material does not hash to its key".into(),
            ));
        }
        if let Some(l) = locked.filter(|l| l.key == key)
            && l.outputs != self.outputs
        {
            let which = l
                .outputs
                .keys()
                .chain(self.outputs.keys())
                .find(|o| l.outputs.get(*o) != self.outputs.get(*o))
                .map(String::as_str)
                .unwrap_or("?");
            return Err(RecordProblem::Disagrees(format!(
                "its outputs differ from the lockfile's ({which})"
            )));
        }
        if output_digest(&self.outputs) != self.output_digest {
            return Err(RecordProblem::Disagrees(
                "its output digest does not match its outputs".into(),
            ));
        }
        Ok(())
    }

    /// Checks the record's objects, cheaply: every object (and every file of
    /// a directory) present with the recorded size — by `stat`, not by
    /// rehashing (that is `verify`'s job). `Err` says what disagrees.
    pub fn check_objects(&self, store: &Store) -> Result<(), RecordProblem> {
        for (name, e) in &self.outputs {
            if e.dir {
                if !store.has(&e.digest) {
                    return Err(RecordProblem::Missing);
                }
                let m = store
                    .manifest(&e.digest)
                    .map_err(|err| RecordProblem::Disagrees(format!("output `{name}`: {err}")))?;
                if let Some(rel) = m.path_leaving() {
                    return Err(RecordProblem::Disagrees(format!(
                        "output `{name}`: its manifest's path `{rel}` leaves the output"
                    )));
                }
                let total = m.files.values().fold(0u64, |t, f| t.saturating_add(f.size));
                if total != e.size {
                    return Err(RecordProblem::Disagrees(format!(
                        "output `{name}`: recorded {} bytes, its manifest lists {total}",
                        e.size
                    )));
                }
                for (rel, f) in &m.files {
                    check_size(store, &format!("{name}/{rel}"), f)?;
                }
            } else {
                check_size(store, name, e)?;
            }
        }
        Ok(())
    }

    /// Every object this record reaches (outputs, manifests and their files).
    pub fn objects(&self, store: &Store) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for e in self.outputs.values() {
            out.push(e.digest.clone());
            if e.dir {
                for f in store.manifest(&e.digest)?.files.into_values() {
                    out.push(f.digest);
                }
            }
        }
        Ok(out)
    }
}

/// Why a record cannot be trusted as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    /// An object it names is gone.
    Missing,
    /// It disagrees with itself, its objects or the lockfile.
    Disagrees(String),
}

fn check_size(store: &Store, name: &str, e: &Entry) -> Result<(), RecordProblem> {
    match std::fs::symlink_metadata(store.object_path(&e.digest)) {
        Ok(m) if m.is_file() && m.len() == e.size => Ok(()),
        Ok(m) if m.is_file() => Err(RecordProblem::Disagrees(format!(
            "output `{name}`: recorded {} bytes, its object has {}",
            e.size,
            m.len()
        ))),
        _ => Err(RecordProblem::Missing),
    }
}

/// Digest over a set of outputs (path → digest), canonical.
pub fn output_digest(outputs: &BTreeMap<String, Entry>) -> String {
    let m: serde_json::Map<String, Json> = outputs
        .iter()
        .map(|(k, e)| (k.clone(), Json::String(e.digest.clone())))
        .collect();
    crate::util::canon::digest(&Json::Object(m))
}

/// Reads a JSON file of the store (a record, a sidecar): `None` when absent,
/// [`StoreError::Malformed`] when it does not parse.
pub fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Malformed {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // Something else where the file should be (issue 25, item 11) is a
        // malformed file, not an I/O failure that stops every command.
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => Err(StoreError::Malformed {
            path: path.to_path_buf(),
            message: "a directory where the file should be".into(),
        }),
        Err(e) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Unique per process and call: two stages with the same key may finish together.
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    let mut f = fs::File::create(&tmp).at(&tmp)?;
    // A full disk (or any other failure) leaves no temporary file behind.
    let written = (|| {
        f.write_all(bytes)?;
        crate::util::failpoint::check("write-atomic")?;
        // Per kind of file (`write-atomic-lock`: only lockfiles), so a test
        // can fail the lockfile beside the pipeline after a record was saved.
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            crate::util::failpoint::check(&format!("write-atomic-{ext}"))?;
        }
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::Io {
            path: tmp,
            source: e,
        });
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::Io {
            path: path.to_path_buf(),
            source: e,
        });
    }
    Ok(())
}

/// Every record key in the store.
pub fn all_keys(store: &Store) -> Result<Vec<String>, StoreError> {
    let dir = store.root().join("records");
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in rd {
        let name = e.at(&dir)?.file_name().to_string_lossy().into_owned();
        if let Some(k) = name.strip_suffix(".json") {
            out.push(k.to_string());
        }
    }
    out.sort();
    Ok(out)
}
