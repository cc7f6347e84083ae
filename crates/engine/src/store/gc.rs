//! Garbage collection: drop the records, objects and logs that no given
//! lockfile reaches. The CLI (`repro gc`) chooses the lockfiles (the
//! pipelines', the experiments') and prints the [`GcReport`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::error::IoContext;
use super::log::{FAILED_KEPT, FAILED_SUFFIX};
use super::record::all_keys;
use super::{Lockfile, Record, Store, StoreError};

/// What a collection removed, or would remove on a dry run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Records no lockfile names.
    pub records: usize,
    /// Objects no kept record reaches.
    pub objects: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Stage logs of no kept record, beyond the newest [`FAILED_KEPT`] failed runs per stage.
    pub logs: usize,
}

/// Removes what none of `locks` reaches from `store` (only counts it when
/// `dry_run`). The caller holds the store's exclusive lock. A malformed
/// record keeps nothing alive: the next run replaces it.
pub fn collect(store: &Store, locks: &[PathBuf], dry_run: bool) -> Result<GcReport, StoreError> {
    let mut keep_keys = HashSet::new();
    let mut keep_objects = HashSet::new();
    let mut keep_logs = HashSet::new();
    for l in locks {
        let lock = Lockfile::load(l)?;
        for entry in lock.stages.values() {
            keep_keys.insert(entry.key.clone());
            if let Ok(Some(r)) = Record::load(store, &entry.key) {
                keep_objects.extend(r.objects(store)?);
                keep_logs.insert(store.root().join(&r.provenance.log));
            }
        }
    }
    let mut report = GcReport::default();
    for k in all_keys(store)? {
        if !keep_keys.contains(&k) {
            report.records += 1;
            if !dry_run {
                let p = Record::path(store, &k);
                std::fs::remove_file(&p).at(&p)?;
            }
        }
    }
    for d in store.all_objects()? {
        if !keep_objects.contains(&d) {
            report.objects += 1;
            report.bytes += if dry_run {
                let p = store.object_path(&d);
                std::fs::metadata(&p).at(&p)?.len()
            } else {
                store.remove_object(&d)?
            };
        }
    }
    report.logs = prune_logs(store, &keep_logs, dry_run)?;
    Ok(report)
}

/// Deletes stage logs except those in `keep` and the newest [`FAILED_KEPT`]
/// failed runs of each stage; returns how many went.
fn prune_logs(store: &Store, keep: &HashSet<PathBuf>, dry_run: bool) -> Result<usize, StoreError> {
    let root = store.root().join("logs");
    let mut removed = 0;
    let Ok(stages) = std::fs::read_dir(&root) else {
        return Ok(0);
    };
    for stage in stages.flatten() {
        if !stage.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(stage.path())
            .at(&stage.path())?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .map(|e| e.path())
            .collect();
        // Names start with a UTC stamp: newest last.
        files.sort();
        let mut failed_seen = 0;
        for f in files.iter().rev() {
            if keep.contains(f) {
                continue;
            }
            if is_failed_log(f) && failed_seen < FAILED_KEPT {
                failed_seen += 1;
                continue;
            }
            removed += 1;
            if !dry_run {
                std::fs::remove_file(f).at(f)?;
            }
        }
    }
    Ok(removed)
}

fn is_failed_log(f: &Path) -> bool {
    f.to_string_lossy().ends_with(FAILED_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LockEntry;

    fn entry(key: &str) -> LockEntry {
        serde_json::from_value(serde_json::json!(
            {"kind": "cmd", "code_version": 1, "key": key, "params": {}, "outputs": {}}
        ))
        .unwrap()
    }

    #[test]
    fn keeps_what_a_lockfile_reaches_and_counts_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("s")).unwrap();
        // Two objects, each the output of a record; only `kept` is in the lockfile.
        let object = |byte: &str, body: &[u8]| {
            let digest = byte.repeat(32);
            let p = store.object_path(&digest);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, body).unwrap();
            (digest, p)
        };
        let (kept_digest, kept_obj) = object("cd", b"kept");
        let (dropped_digest, obj) = object("ab", b"12345");
        for (k, digest) in [("kept", kept_digest), ("dropped", dropped_digest)] {
            let out = crate::store::Entry {
                digest,
                size: 0,
                dir: false,
            };
            let r = Record {
                schema: 1,
                stage: "s".into(),
                kind: "cmd".into(),
                key: k.into(),
                material: serde_json::Value::Null,
                outputs: [("out".to_string(), out)].into(),
                output_digest: String::new(),
                metrics: serde_json::Value::Null,
                provenance: crate::store::Provenance {
                    log: format!("logs/s/{k}.log"),
                    ..Default::default()
                },
            };
            let p = Record::path(&store, k);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, serde_json::to_vec(&r).unwrap()).unwrap();
        }
        let logs = store.root().join("logs").join("s");
        std::fs::create_dir_all(&logs).unwrap();
        for i in 0..(FAILED_KEPT + 2) {
            std::fs::write(logs.join(format!("2026-{i:02}{FAILED_SUFFIX}")), b"").unwrap();
        }
        let mut lock = Lockfile::default();
        lock.stages.insert("s".into(), entry("kept"));
        let lock_path = d.path().join("p.lock");
        lock.save(&lock_path).unwrap();

        let dry = collect(&store, std::slice::from_ref(&lock_path), true).unwrap();
        let want = GcReport {
            records: 1,
            objects: 1,
            bytes: 5,
            logs: 2,
        };
        assert_eq!(dry, want);
        assert!(obj.exists() && Record::path(&store, "dropped").exists());
        assert_eq!(
            collect(&store, std::slice::from_ref(&lock_path), false).unwrap(),
            want
        );
        assert!(!obj.exists() && !Record::path(&store, "dropped").exists());
        assert!(Record::path(&store, "kept").exists() && kept_obj.exists());
        assert_eq!(std::fs::read_dir(&logs).unwrap().count(), FAILED_KEPT);
        assert_eq!(
            collect(&store, &[lock_path], false).unwrap(),
            GcReport::default()
        );
    }
}
