//! Store errors: every one names the path involved.

use std::path::PathBuf;

/// A problem reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An object whose bytes no longer hash to its name.
    #[error("object {digest} is corrupt: its bytes hash to {actual} ({path})")]
    Corrupt {
        /// Expected digest.
        digest: String,
        /// Digest of the bytes found.
        actual: String,
        /// Object path.
        path: PathBuf,
    },
    /// An object a record refers to is absent.
    #[error("object {digest} is missing from the store ({path})")]
    Missing {
        /// Digest.
        digest: String,
        /// Where it should be.
        path: PathBuf,
    },
    /// A record, manifest or lockfile that does not parse.
    #[error("{path}: malformed: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stage output the store refuses to take: a link, FIFO, socket or
    /// device, or a path that leaves the staging directory.
    #[error("{path}: {message}")]
    Refused {
        /// The offending path, relative to the stage's `$OUT` where possible.
        path: PathBuf,
        /// What it is and what to do instead.
        message: String,
    },
    /// Another process holds the store lock and `--no-wait` was given.
    #[error("store {path} is busy: another repro process holds its lock{holder}")]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// `" (pid N …)"` when known.
        holder: String,
    },
}

/// Shorthand for I/O errors on a path.
pub trait IoContext<T> {
    /// Attaches `path` to an I/O error.
    fn at(self, path: &std::path::Path) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
