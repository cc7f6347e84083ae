//! What can go wrong with experiments.

use std::path::PathBuf;

use crate::store::StoreError;

/// An experiment problem.
#[derive(Debug, thiserror::Error)]
pub enum ExpError {
    /// No experiment of that name for the pipeline.
    #[error(
        "no experiment `{name}` for pipeline `{pipeline}` ({})",
        known_list(known)
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The pipeline's stem.
        pipeline: String,
        /// The experiments that exist.
        known: Vec<String>,
    },
    /// A name that cannot be a file name or is reserved.
    #[error("bad experiment name `{name}`: {why}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// `--name` of an experiment that exists with other overrides.
    #[error(
        "experiment `{name}` exists with other overrides ({}); give another --name or `repro exp remove` it",
        existing.join(" ")
    )]
    Clash {
        /// The name.
        name: String,
        /// Its recorded overrides.
        existing: Vec<String>,
    },
    /// An experiment file that does not parse.
    #[error("{}: not a valid experiment file: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Reading or writing an experiment file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A lockfile problem.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A remote problem while pushing or pulling experiments.
    #[error("{0}")]
    Remote(#[from] crate::remote::RemoteError),
    /// A figure's x value that is not a number.
    #[error("--against {key}: run {run} has `{value}`, not a number to plot")]
    NotNumeric {
        /// The run.
        run: String,
        /// The override key.
        key: String,
        /// Its value there.
        value: String,
    },
    /// A metric or override the user named is not in the table.
    #[error("no {what} `{name}` (have: {})", if have.is_empty() { "none".to_string() } else { have.join(", ") })]
    NoColumn {
        /// "metric" or "override".
        what: &'static str,
        /// The name given.
        name: String,
        /// The names there are.
        have: Vec<String>,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "it has none; `repro run PIPELINE --set KEY=VALUE` makes one".into()
    } else {
        format!("experiments: {}", known.join(", "))
    }
}

impl ExpError {
    /// Whether the user asked for something that is not there (a usage
    /// error, exit 2) rather than the store failing (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ExpError::Unknown { .. }
                | ExpError::BadName { .. }
                | ExpError::Clash { .. }
                | ExpError::NoColumn { .. }
                | ExpError::NotNumeric { .. }
        )
    }
}

/// `Io` with the path, for `map_err`.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ExpError + '_ {
    move |source| ExpError::Io {
        path: path.to_path_buf(),
        source,
    }
}
