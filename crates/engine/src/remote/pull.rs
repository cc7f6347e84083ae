//! `pull`: what the committed lockfile names, fetched by key (never listed),
//! every object rehashed before it enters the store. All or nothing: objects
//! are staged under the store's `tmp/`, and only when every one matched its
//! digest are they put into the store, then the records written, last.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream;

use super::client::Remote;
use super::error::RemoteError;
use super::layout::{Index, index_key, object_key, record_key, safe_rel};
use super::progress::Progress;
use crate::store::objects::Manifest;
use crate::store::origin::Origin;
use crate::store::record::RecordProblem;
use crate::store::{LockEntry, Lockfile, Record, Store, StoreError};

/// What a pull did.
#[derive(Debug, Clone, Default)]
pub struct PullSummary {
    /// Stages asked for.
    pub stages: usize,
    /// Stages whose record was pulled (the rest were complete already).
    pub pulled: usize,
    /// Objects downloaded.
    pub downloaded: usize,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Removes the staging directory however the pull ends.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Digest → what holds it (`stage S output P [file F]`), for messages.
type Refs = BTreeMap<String, Vec<String>>;

/// Why a record from the remote does not belong to this lock entry (the
/// same check `status` makes of a local record).
fn check_record(r: &Record, entry: &LockEntry) -> Result<(), String> {
    r.check_against(&entry.key, Some(entry))
        .map_err(|p| match p {
            RecordProblem::Disagrees(why) => why,
            RecordProblem::Missing => "an object it names is missing".into(),
        })
}

/// Downloads `want` (digest → holders) into `staging`; returns the digests
/// that arrived intact with their sizes, or, when any object is missing, its
/// size is not the one `sizes` gives (the lock's), or its bytes do not hash
/// to its name, [`RemoteError::Refused`] naming every one. A download stops
/// as soon as it has one byte more than the lock's size (sizes first).
async fn fetch(
    remote: &Remote,
    staging: &Path,
    want: &Refs,
    sizes: &BTreeMap<String, u64>,
    jobs: usize,
    progress: &mut Progress,
    out: &mut dyn Write,
) -> Result<Vec<(String, u64)>, RemoteError> {
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    let mut done = stream::iter(want.keys())
        .map(|d| async move {
            let dest = staging.join(d);
            let limit = sizes.get(d).copied();
            let got = remote.get_to_file(&object_key(d), &dest, limit).await?;
            if got
                .as_ref()
                .is_some_and(|(actual, size)| actual != d || limit.is_some_and(|l| *size != l))
            {
                let _ = std::fs::remove_file(&dest);
            }
            Ok::<_, RemoteError>((d, got))
        })
        .buffer_unordered(jobs);
    while let Some(r) = done.next().await {
        let (d, got) = r?;
        // default: never taken; every digest fetched comes from `want`.
        let holders = want.get(d).map(|v| v.join("; ")).unwrap_or_default();
        let locked = sizes.get(d).copied();
        match got {
            None => refused.push(format!("{holders}: object {d} is missing on the remote")),
            Some((_, size)) if locked.is_some_and(|l| size > l) => refused.push(format!(
                "{holders}: object {d}: the remote's object is larger than the {} bytes the \
                 lock gives (stopped after {size})",
                // default: never taken; this arm requires a locked size.
                locked.unwrap_or_default()
            )),
            Some((_, size)) if locked.is_some_and(|l| size != l) => refused.push(format!(
                "{holders}: object {d}: the remote's object has {size} bytes, the lock gives {}",
                // default: never taken; this arm requires a locked size.
                locked.unwrap_or_default()
            )),
            Some((actual, _)) if actual != *d => refused.push(format!(
                "{holders}: object {d}: the remote's bytes hash to {actual}"
            )),
            Some((_, size)) => {
                progress.add(size, out);
                ok.push((d.clone(), size));
            }
        }
    }
    if !refused.is_empty() {
        return Err(RemoteError::Refused {
            remote: remote.url().to_string(),
            count: refused.len(),
            details: refused.join("\n"),
        });
    }
    Ok(ok)
}

/// Pulls `stages` of `lock` from `remote` into `store` (whose lock the
/// caller holds), `jobs` transfers at a time.
pub fn pull(
    remote: &Remote,
    store: &Store,
    lock: &Lockfile,
    lock_name: &str,
    stages: &[String],
    jobs: usize,
    out: &mut dyn Write,
) -> Result<PullSummary, RemoteError> {
    let start = Instant::now();
    let name = remote.url().to_string();
    let jobs = jobs.max(1);
    let mut sum = PullSummary {
        stages: stages.len(),
        ..Default::default()
    };
    // Which stages are not complete here already.
    let mut wanted: Vec<(&String, &LockEntry)> = Vec::new();
    for stage in stages {
        let entry = lock
            .stages
            .get(stage)
            .ok_or_else(|| RemoteError::NotLocked {
                lock: lock_name.to_string(),
                stage: stage.clone(),
            })?;
        let complete = Record::load(store, &entry.key)?
            .is_some_and(|r| r.outputs == entry.outputs && r.check_objects(store).is_ok());
        if !complete {
            wanted.push((stage, entry));
        }
    }
    if wanted.is_empty() {
        sum.seconds = start.elapsed().as_secs_f64();
        return Ok(sum);
    }
    let staging = Staging(store.new_tmp("pull")?);
    let records = remote.block_on(async {
        // 1. The index: the push of this lockfile finished, and has our stages.
        let ikey = index_key(lock);
        let index: Index = match remote.get_bytes(&ikey).await? {
            None => {
                return Err(RemoteError::NotPushed {
                    remote: name.clone(),
                    lock: lock_name.to_string(),
                    key: ikey,
                });
            }
            Some(b) => serde_json::from_slice(&b).map_err(|e| RemoteError::Request {
                remote: name.clone(),
                op: "GET",
                key: ikey.clone(),
                message: format!("malformed index: {e}"),
            })?,
        };
        for (stage, entry) in &wanted {
            if index.stages.get(*stage) != Some(&entry.key) {
                return Err(RemoteError::StageNotPushed {
                    remote: name.clone(),
                    stage: (*stage).clone(),
                    key: entry.key.clone(),
                });
            }
        }
        // 2. Records, checked against the lockfile.
        let mut records = Vec::new();
        let mut done = stream::iter(wanted.iter())
            .map(|(stage, entry)| async move {
                let rkey = record_key(&entry.key);
                let bad = |message: String| RemoteError::BadRecord {
                    remote: remote.url().to_string(),
                    stage: (*stage).clone(),
                    key: entry.key.clone(),
                    message,
                };
                let bytes = remote
                    .get_bytes(&rkey)
                    .await?
                    .ok_or_else(|| bad(format!("{rkey} is missing on the remote")))?;
                let r: Record =
                    serde_json::from_slice(&bytes).map_err(|e| bad(format!("malformed: {e}")))?;
                check_record(&r, entry).map_err(bad)?;
                Ok::<_, RemoteError>(((*stage).clone(), r))
            })
            .buffer_unordered(jobs);
        while let Some(r) = done.next().await {
            records.push(r?);
        }
        Ok(records)
    })?;
    // 3. Manifests of directory outputs, then every object not here yet.
    let mut manifests = Refs::new();
    let mut files = Refs::new();
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for (stage, r) in &records {
        for (output, e) in &r.outputs {
            let holder = format!("stage {stage} output {output}");
            if e.dir {
                manifests.entry(e.digest.clone()).or_default().push(holder);
            } else if !store.has(&e.digest) {
                files.entry(e.digest.clone()).or_default().push(holder);
                sizes.insert(e.digest.clone(), e.size);
            }
        }
    }
    let mut progress = Progress::new("pull", 0, 0);
    let mut staged: Vec<(String, u64)> = Vec::new();
    let missing_manifests: Refs = manifests
        .iter()
        .filter(|(d, _)| !store.has(d))
        .map(|(d, h)| (d.clone(), h.clone()))
        .collect();
    let got = remote.block_on(fetch(
        remote,
        &staging.0,
        &missing_manifests,
        &BTreeMap::new(),
        jobs,
        &mut progress,
        out,
    ))?;
    staged.extend(got);
    for (stage, r) in &records {
        for (output, e) in r.outputs.iter().filter(|(_, e)| e.dir) {
            let bytes = if store.has(&e.digest) {
                store.read_verified(&e.digest)?
            } else {
                let p = staging.0.join(&e.digest);
                std::fs::read(&p).map_err(|source| StoreError::Io { path: p, source })?
            };
            let bad = |message: String| RemoteError::BadManifest {
                stage: stage.clone(),
                output: output.clone(),
                digest: e.digest.clone(),
                message,
            };
            let m: Manifest =
                serde_json::from_slice(&bytes).map_err(|err| bad(format!("malformed: {err}")))?;
            let total = m.files.values().fold(0u64, |t, f| t.saturating_add(f.size));
            if total != e.size {
                return Err(bad(format!(
                    "its files total {total} bytes, the lock gives {}",
                    e.size
                )));
            }
            for (rel, f) in &m.files {
                if !safe_rel(rel) {
                    return Err(bad(format!(
                        "path `{rel}` is absolute or leaves its directory"
                    )));
                }
                if !store.has(&f.digest) && !missing_manifests.contains_key(&f.digest) {
                    files
                        .entry(f.digest.clone())
                        .or_default()
                        .push(format!("stage {stage} output {output} file {rel}"));
                    sizes.insert(f.digest.clone(), f.size);
                }
            }
        }
    }
    let total = sizes.values().fold(0u64, |t, s| t.saturating_add(*s));
    let mut progress = Progress::new("pull", files.len(), total);
    let got = remote.block_on(fetch(
        remote,
        &staging.0,
        &files,
        &sizes,
        jobs,
        &mut progress,
        out,
    ))?;
    progress.finish(out);
    staged.extend(got);
    // 4. Every object matched: into the store through its normal put path
    //    (which hashes once more), then the records, then their origin.
    for (d, size) in &staged {
        let e = store.put_file(&staging.0.join(d))?;
        if e.digest != *d {
            return Err(RemoteError::Store(StoreError::Corrupt {
                digest: d.clone(),
                actual: e.digest,
                path: staging.0.join(d),
            }));
        }
        sum.downloaded += 1;
        sum.bytes = sum.bytes.saturating_add(*size);
    }
    let when = crate::util::time::iso8601(crate::util::time::now_unix());
    for (stage, r) in &records {
        r.save(store)?;
        Origin {
            remote: name.clone(),
            pulled: when.clone(),
            stage: stage.clone(),
        }
        .save(store, &r.key)?;
        sum.pulled += 1;
    }
    sum.seconds = start.elapsed().as_secs_f64();
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_must_stay_inside() {
        assert!(safe_rel("a/b.txt"));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert!(!safe_rel(bad), "{bad}");
        }
    }
}
