//! `push`: every object the locked stages reach, then their records, then
//! the lockfile's index — so a remote never shows a push as whole before it is.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;

use super::client::Remote;
use super::error::RemoteError;
use super::layout::{INDEX_SCHEMA, Index, index_key, object_key, record_key};
use super::progress::Progress;
use crate::store::{Lockfile, Record, Store};

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct PushSummary {
    /// Distinct objects the stages reach.
    pub objects: usize,
    /// Objects uploaded (the rest were already there).
    pub uploaded: usize,
    /// Bytes over all objects.
    pub bytes: u64,
    /// Bytes uploaded.
    pub bytes_uploaded: u64,
    /// Records uploaded (of one per stage).
    pub records_uploaded: usize,
    /// Stages pushed.
    pub stages: usize,
    /// The index key written.
    pub index: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// One local object to publish.
struct Local {
    digest: String,
    path: PathBuf,
    size: u64,
}

/// Record files to publish: `(key, path)`.
type RecordFiles = Vec<(String, PathBuf)>;

/// The objects and record files of `stages`, checked against the lockfile.
fn collect(
    store: &Store,
    lock: &Lockfile,
    lock_name: &str,
    stages: &[String],
) -> Result<(Vec<Local>, RecordFiles), RemoteError> {
    let mut objects: BTreeMap<String, Local> = BTreeMap::new();
    let mut records = Vec::new();
    for name in stages {
        let entry = lock
            .stages
            .get(name)
            .ok_or_else(|| RemoteError::NotLocked {
                lock: lock_name.to_string(),
                stage: name.clone(),
            })?;
        let not_local = |message: String| RemoteError::NotLocal {
            stage: name.clone(),
            message,
        };
        let record = Record::load(store, &entry.key)?.ok_or_else(|| {
            not_local(format!(
                "no record for its locked key {} in {}",
                entry.key,
                store.root().display()
            ))
        })?;
        if record.outputs != entry.outputs {
            return Err(not_local(
                "its record's outputs differ from the lockfile".into(),
            ));
        }
        let mut need = |digest: &str, what: String| -> Result<(), RemoteError> {
            let path = store.object_path(digest);
            let size = std::fs::metadata(&path)
                .map_err(|e| not_local(format!("{what}: object {digest}: {e}")))?
                .len();
            objects.entry(digest.to_string()).or_insert(Local {
                digest: digest.to_string(),
                path,
                size,
            });
            Ok(())
        };
        for (output, e) in &entry.outputs {
            need(&e.digest, format!("output {output}"))?;
            if e.dir {
                let m = store
                    .manifest(&e.digest)
                    .map_err(|err| not_local(format!("output {output}: {err}")))?;
                for (rel, f) in &m.files {
                    need(&f.digest, format!("output {output} file {rel}"))?;
                }
            }
        }
        records.push((entry.key.clone(), Record::path(store, &entry.key)));
    }
    Ok((objects.into_values().collect(), records))
}

/// Pushes `stages` of `lock` from `store` to `remote`, `jobs` transfers at a time.
pub fn push(
    remote: &Remote,
    store: &Store,
    lock: &Lockfile,
    lock_name: &str,
    stages: &[String],
    jobs: usize,
    out: &mut dyn Write,
) -> Result<PushSummary, RemoteError> {
    let start = Instant::now();
    let (objects, records) = collect(store, lock, lock_name, stages)?;
    let mut sum = PushSummary {
        objects: objects.len(),
        bytes: objects.iter().fold(0u64, |t, o| t.saturating_add(o.size)),
        stages: stages.len(),
        index: index_key(lock),
        ..Default::default()
    };
    let jobs = jobs.max(1);
    remote.block_on(async {
        // 1. Objects: HEAD first (same size: already there), else a plain PUT.
        let mut progress = Progress::new("push", sum.objects, sum.bytes);
        let mut done = stream::iter(objects.iter())
            .map(|o| async move {
                let key = object_key(&o.digest);
                if remote.head(&key).await? == Some(o.size) {
                    return Ok::<_, RemoteError>((o.size, false));
                }
                remote.put_object_file(&key, &o.path, &o.digest).await?;
                Ok((o.size, true))
            })
            .buffer_unordered(jobs);
        while let Some(r) = done.next().await {
            let (size, uploaded) = r?;
            if uploaded {
                sum.uploaded += 1;
                sum.bytes_uploaded = sum.bytes_uploaded.saturating_add(size);
            }
            progress.add(size, out);
        }
        drop(done);
        progress.finish(out);
        // 2. Records, once every object they reach is there.
        let mut done = stream::iter(records.iter())
            .map(|(key, path)| async move {
                let rkey = record_key(key);
                if remote.head(&rkey).await?.is_some() {
                    return Ok::<_, RemoteError>(false);
                }
                let bytes = std::fs::read(path).map_err(|e| {
                    RemoteError::Store(crate::store::StoreError::Io {
                        path: path.clone(),
                        source: e,
                    })
                })?;
                remote.put(&rkey, Bytes::from(bytes)).await?;
                Ok(true)
            })
            .buffer_unordered(jobs);
        while let Some(r) = done.next().await {
            if r? {
                sum.records_uploaded += 1;
            }
        }
        drop(done);
        // 3. The index last, merged with what earlier pushes of this lock listed.
        let mut index = match remote.get_bytes(&sum.index).await? {
            Some(b) => {
                serde_json::from_slice::<Index>(&b).map_err(|e| RemoteError::MalformedIndex {
                    remote: remote.url().to_string(),
                    key: sum.index.clone(),
                    message: e.to_string(),
                })?
            }
            None => Index::default(),
        };
        index.schema = INDEX_SCHEMA;
        index.pipeline = lock.pipeline.clone();
        for name in stages {
            if let Some(e) = lock.stages.get(name) {
                index.stages.insert(name.clone(), e.key.clone());
            }
        }
        // default: never taken; an index of strings and string-keyed maps always serialises.
        let bytes = serde_json::to_vec_pretty(&index).unwrap_or_default();
        remote.put(&sum.index, Bytes::from(bytes)).await
    })?;
    sum.seconds = start.elapsed().as_secs_f64();
    Ok(sum)
}
