//! Experiments on a remote: each one's stages go up and down like the
//! pipeline's own (objects, records, the lockfile's index), then its two
//! files, then the pipeline's experiment index, written last:
//!
//! ```text
//! experiments/<stem>/<name>.lock    the experiment's lockfile
//! experiments/<stem>/<name>.json    its description
//! experiments/<stem>/index.json     the names pushed (`pull` never lists)
//! ```

use std::io::Write;

use bytes::Bytes;

use super::error::ExpError;
use super::name;
use super::store::{Experiment, Experiments};
use crate::remote::{self, Remote, RemoteError};
use crate::store::{Lockfile, Store};

fn index_key(stem: &str) -> String {
    format!("experiments/{stem}/index.json")
}

fn file_key(stem: &str, name: &str, ext: &str) -> String {
    format!("experiments/{stem}/{name}.{ext}")
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, ExpError> {
    std::fs::read(path).map_err(super::error::io(path))
}

/// The names in the remote's experiment index of `stem` (none when absent).
fn remote_names(r: &Remote, stem: &str) -> Result<Vec<String>, ExpError> {
    let key = index_key(stem);
    match r.block_on(r.get_bytes(&key))? {
        None => Ok(Vec::new()),
        Some(b) => serde_json::from_slice(&b).map_err(|e| ExpError::Malformed {
            path: std::path::PathBuf::from(format!("{}/{key}", r.url())),
            message: e.to_string(),
        }),
    }
}

/// Pushes every experiment of `exps` (their stages, then their files, then
/// the index); returns the names pushed.
///
/// # Errors
/// A local file or the remote fails.
pub fn push_all(
    r: &Remote,
    store: &Store,
    exps: &Experiments,
    jobs: usize,
    out: &mut dyn Write,
) -> Result<Vec<String>, ExpError> {
    let mut pushed = Vec::new();
    for e in exps.list()? {
        let lock = exps.lock(&e.name)?;
        let stages: Vec<String> = lock.stages.keys().cloned().collect();
        if !stages.is_empty() {
            let label = format!("experiment {}", e.name);
            remote::push(r, store, &lock, &label, &stages, jobs, out)?;
        }
        let lock_bytes = read(&exps.lock_path(&e.name))?;
        let meta_bytes = read(&exps.meta_path(&e.name))?;
        let stem = exps.stem();
        r.block_on(async {
            r.put(&file_key(stem, &e.name, "lock"), Bytes::from(lock_bytes))
                .await?;
            r.put(&file_key(stem, &e.name, "json"), Bytes::from(meta_bytes))
                .await
        })?;
        pushed.push(e.name);
    }
    if !pushed.is_empty() {
        let mut names = remote_names(r, exps.stem())?;
        names.extend(pushed.iter().cloned());
        names.sort();
        names.dedup();
        // default: never taken; a list of strings always serialises.
        let body = serde_json::to_vec(&names).unwrap_or_default();
        r.block_on(r.put(&index_key(exps.stem()), Bytes::from(body)))?;
    }
    Ok(pushed)
}

/// What a pull did with one experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// Fetched (stages and files).
    New(String),
    /// The same experiment was already here.
    Same(String),
    /// A different experiment of that name is here; it was kept.
    KeptLocal(String),
}

/// Pulls every experiment the remote's index names for `exps`' pipeline:
/// stages first (rehashed, as `pull` does), files last. The caller holds
/// the store lock.
///
/// # Errors
/// A malformed remote file, or the remote or the store fails.
pub fn pull_all(
    r: &Remote,
    store: &Store,
    exps: &Experiments,
    jobs: usize,
    out: &mut dyn Write,
) -> Result<Vec<Pulled>, ExpError> {
    let stem = exps.stem().to_string();
    let mut done = Vec::new();
    for n in remote_names(r, &stem)? {
        name::check(&n)?;
        let (lk, mk) = (file_key(&stem, &n, "lock"), file_key(&stem, &n, "json"));
        let (lock_bytes, meta_bytes) = r.block_on(async {
            Ok::<_, RemoteError>((r.get_bytes(&lk).await?, r.get_bytes(&mk).await?))
        })?;
        let (Some(lock_bytes), Some(meta_bytes)) = (lock_bytes, meta_bytes) else {
            let _ = writeln!(
                out,
                "experiment {n}: listed but its files are missing on the remote; skipped"
            );
            continue;
        };
        let malformed = |key: &str, message: String| ExpError::Malformed {
            path: std::path::PathBuf::from(format!("{}/{key}", r.url())),
            message,
        };
        let meta: Experiment =
            serde_json::from_slice(&meta_bytes).map_err(|e| malformed(&mk, e.to_string()))?;
        if meta.name != n {
            return Err(malformed(
                &mk,
                format!("names `{}`, listed as `{n}`", meta.name),
            ));
        }
        let lock: Lockfile =
            serde_yaml_ng::from_slice(&lock_bytes).map_err(|e| malformed(&lk, e.to_string()))?;
        if exps.get(&n).is_ok() {
            let same = std::fs::read(exps.lock_path(&n)).is_ok_and(|b| b == lock_bytes[..]);
            done.push(if same {
                Pulled::Same(n)
            } else {
                Pulled::KeptLocal(n)
            });
            continue;
        }
        let stages: Vec<String> = lock.stages.keys().cloned().collect();
        if !stages.is_empty() {
            remote::pull(
                r,
                store,
                &lock,
                &format!("experiment {n}"),
                &stages,
                jobs,
                out,
            )?;
        }
        exps.put_raw(&n, &meta_bytes, &lock_bytes)?;
        done.push(Pulled::New(n));
    }
    Ok(done)
}
