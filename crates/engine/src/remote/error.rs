//! Remote errors: every one names the remote, and where it applies the key,
//! stage and output involved.

use crate::store::StoreError;

/// A problem talking to a remote or with what it holds.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A remote address that does not parse.
    #[error("bad remote `{url}`: {message}")]
    BadUrl {
        /// The address as given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// No `--remote`, no `$REPRO_REMOTE`, no `remote:` in the pipeline.
    #[error("no remote: give --remote URL, set REPRO_REMOTE, or add `remote:` to {pipeline}")]
    NoRemote {
        /// The pipeline file.
        pipeline: String,
    },
    /// The client for a remote could not be built.
    #[error("remote {remote}: cannot open: {message}")]
    Open {
        /// The remote.
        remote: String,
        /// Why.
        message: String,
    },
    /// A request failed (after the bounded retries).
    #[error("remote {remote}: {op} {key} failed: {message}")]
    Request {
        /// The remote.
        remote: String,
        /// `GET`, `PUT`, `HEAD`.
        op: &'static str,
        /// The object key below the remote.
        key: String,
        /// The client's error with its causes.
        message: String,
    },
    /// `push` to a read-only remote.
    #[error("remote {remote} is read-only (http/https); push to an s3:// or directory remote")]
    ReadOnly {
        /// The remote.
        remote: String,
    },
    /// The remote holds no complete push of this lockfile.
    #[error(
        "remote {remote} has no complete push of {lock} (no {key}): push it first; an interrupted push leaves no index"
    )]
    NotPushed {
        /// The remote.
        remote: String,
        /// The lockfile.
        lock: String,
        /// The index key looked for.
        key: String,
    },
    /// A stage the pull needs is not in the remote's index for this lockfile.
    #[error("remote {remote}: stage {stage} (key {key}) was not pushed; push it first")]
    StageNotPushed {
        /// The remote.
        remote: String,
        /// The stage.
        stage: String,
        /// Its locked key.
        key: String,
    },
    /// A stage named for push or pull has no lockfile entry.
    #[error("{lock}: stage {stage} is not in the lockfile; run it first")]
    NotLocked {
        /// The lockfile.
        lock: String,
        /// The stage.
        stage: String,
    },
    /// `push` of a stage whose locked run is not complete in the local store.
    #[error("stage {stage}: {message}; run it first (`repro run`)")]
    NotLocal {
        /// The stage.
        stage: String,
        /// What is missing.
        message: String,
    },
    /// A record from the remote that does not belong to the lockfile.
    #[error("remote {remote}: record of stage {stage} ({key}) refused: {message}")]
    BadRecord {
        /// The remote.
        remote: String,
        /// The stage.
        stage: String,
        /// The record key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A directory manifest with an unsafe or malformed path.
    #[error("stage {stage} output {output}: manifest {digest} refused: {message}")]
    BadManifest {
        /// The stage.
        stage: String,
        /// The output.
        output: String,
        /// The manifest digest.
        digest: String,
        /// What is wrong.
        message: String,
    },
    /// Objects whose bytes did not hash to their names; none was stored.
    #[error(
        "remote {remote}: {count} object(s) refused (bytes do not match their digest); nothing was stored:\n{details}"
    )]
    Refused {
        /// The remote.
        remote: String,
        /// How many.
        count: usize,
        /// One line per object: stage, output, expected and actual digest.
        details: String,
    },
    /// The remote's index of a lockfile does not parse. A push refuses to replace it: it
    /// lists what earlier pushes of the lockfile made available.
    #[error(
        "remote {remote}: index {key} does not parse ({message}); it lists earlier pushes of this lockfile, so push does not replace it: repair or delete it, then push again"
    )]
    MalformedIndex {
        /// The remote.
        remote: String,
        /// The index's key (`index/<digest>.json`).
        key: String,
        /// What serde_json said.
        message: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(std::io::Error),
    /// A local store problem.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The error and its causes on one line (object_store nests the HTTP cause).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        src = s.source();
    }
    out
}
