//! What can stop a bench row.

use std::path::PathBuf;

/// A bench row that could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A row name that is not one of [`super::Row::ALL`].
    #[error("unknown bench row `{0}` (expected one of: {known})", known = super::Row::names().join(", "))]
    UnknownRow(String),
    /// A model or configuration that did not load.
    #[error("loading {what}: {source}")]
    Load {
        /// Which model (`MiniLM at DIR`, `SmolLM2 at PATH`).
        what: String,
        /// Why.
        #[source]
        source: crate::model::load::LoadError,
    },
    /// A configuration file that did not read or parse.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A timed call's output could not be read back from the device.
    #[error("row `{row}`: {source}")]
    Readback {
        /// The row.
        row: &'static str,
        /// Why.
        #[source]
        source: crate::model::readback::ReadbackError,
    },
}
