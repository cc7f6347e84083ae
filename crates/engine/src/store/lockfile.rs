//! The lockfile `<stem>.lock` beside the pipeline: per stage, what its key
//! was computed from and what it produced. No timings or hosts, so identical
//! runs give byte-identical lockfiles that reviewers can diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::error::StoreError;
use super::objects::Entry;
use super::record::write_atomic;

/// Lockfile format version.
pub const LOCK_SCHEMA: u32 = 1;

/// One stage's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockEntry {
    /// Stage kind.
    pub kind: String,
    /// The kind's code version.
    pub code_version: u32,
    /// The stage key.
    pub key: String,
    /// Resolved params (`with`, and for `cmd` also `run`, `outputs`, `metrics`).
    pub params: BTreeMap<String, Json>,
    /// Input slot → output digest of the upstream stage(s).
    #[serde(default)]
    pub inputs: BTreeMap<String, Json>,
    /// Dep path (and source) → digest.
    #[serde(default)]
    pub deps: BTreeMap<String, String>,
    /// Backend, for Burn stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Burn numerics version (the kind's `KindInfo::numerics`), for Burn stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerics: Option<u32>,
    /// Outputs: path → digest and size.
    pub outputs: BTreeMap<String, Entry>,
    /// Headline metrics.
    #[serde(default)]
    pub metrics: Json,
}

/// A whole lockfile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lockfile {
    /// Format version.
    pub schema: u32,
    /// Pipeline name.
    pub pipeline: String,
    /// Stage name → entry.
    pub stages: BTreeMap<String, LockEntry>,
}

impl Lockfile {
    /// `<dir>/<stem>.lock` for a pipeline file.
    pub fn path_for(pipeline_file: &Path) -> PathBuf {
        let stem = pipeline_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pipeline".into());
        pipeline_file.with_file_name(format!("{stem}.lock"))
    }

    /// Reads a lockfile; a missing one is empty.
    pub fn load(path: &Path) -> Result<Lockfile, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_yaml_ng::from_str(&text).map_err(|e| StoreError::Malformed {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lockfile {
                schema: LOCK_SCHEMA,
                ..Default::default()
            }),
            Err(e) => Err(StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// The YAML text (deterministic: sorted maps).
    pub fn to_yaml(&self) -> Result<String, StoreError> {
        serde_yaml_ng::to_string(self).map_err(|e| StoreError::Malformed {
            path: PathBuf::from("<lockfile>"),
            message: e.to_string(),
        })
    }

    /// Writes atomically, only if the content changed.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let text = self.to_yaml()?;
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        write_atomic(path, text.as_bytes())
    }
}
