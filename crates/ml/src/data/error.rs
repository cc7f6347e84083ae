//! Errors of the data layer: every variant names the file, line and field it is about.

use std::path::PathBuf;

/// A problem reading, fetching or parsing a data file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("{file}: cannot write: {source}")]
    Write {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file holds no rows at all.
    #[error("{file}: empty file (no rows)")]
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// The gzip stream ended early or is corrupt.
    #[error("{file}: truncated or corrupt gzip stream after line {line}: {source}")]
    Gzip {
        /// The file.
        file: PathBuf,
        /// Last complete line read before the failure.
        line: usize,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// One line is longer than the reader accepts.
    #[error("{file}:{line}: line longer than {limit} bytes")]
    LineTooLong {
        /// The file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A bad row: malformed line, missing field or wrong type.
    #[error("{file}:{line}: field `{field}`: {message}")]
    Row {
        /// The file.
        file: PathBuf,
        /// 1-based line (or row) number.
        line: usize,
        /// The field, or `<line>` for the whole line.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A Parquet table could not be read or written (`crate::parquet`).
    #[error(transparent)]
    Table(#[from] crate::parquet::TableError),
    /// A Parquet file could not be read or written.
    #[error("{file}: parquet: {message}")]
    Parquet {
        /// The file.
        file: PathBuf,
        /// Polars' message.
        message: String,
    },
    /// A required column is missing or has the wrong type.
    #[error("{file}: column `{column}`: {message}")]
    Column {
        /// The file.
        file: PathBuf,
        /// The column.
        column: String,
        /// What was expected and what was found.
        message: String,
    },
    /// A source's content does not match its pin.
    #[error("{what}: digest mismatch: pinned {expected}, content is {actual}")]
    PinMismatch {
        /// The source (path, URL or hub file).
        what: String,
        /// The pin from the pipeline.
        expected: String,
        /// The digest of what was read, in the same algorithm.
        actual: String,
    },
    /// A remote source is needed but the machine is offline (or the fetch failed).
    #[error("{what}: {message}; set {env} to a directory holding a local copy{hint}")]
    Unavailable {
        /// The URL or hub repo/file.
        what: String,
        /// Why it could not be had.
        message: String,
        /// The environment variable that points at a local copy.
        env: &'static str,
        /// Extra hint (where the copy is looked for).
        hint: String,
    },
    /// A source spec is inconsistent (resolved before running).
    #[error("source: {0}")]
    Spec(String),
    /// The tokenizer could not be loaded or failed to encode.
    #[error("tokenizer {file}: {message}")]
    Tokenizer {
        /// The `tokenizer.json`.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A download cache is needed but no directory can be named for it: none of the
    /// variables that place it is set (never a path relative to the working directory).
    #[error("{what}: no cache directory to download into: set {vars} (HOME is not set either)")]
    NoCacheDir {
        /// The URL or hub repo/file being fetched.
        what: String,
        /// The variables that would place the cache, in order of precedence.
        vars: &'static str,
    },
}

impl DataError {
    /// A row error at `file:line` in `field`.
    pub fn row(
        file: impl Into<PathBuf>,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        DataError::Row {
            file: file.into(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A Parquet error for `file`.
    pub fn parquet(file: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        DataError::Parquet {
            file: file.into(),
            message: e.to_string(),
        }
    }
}
