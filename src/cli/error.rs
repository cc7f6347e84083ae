//! The CLI's error type and its mapping to exit codes (ARCHITECTURE.md, "The store").

use crate::dag::PlanError;
use crate::exec::ExecError;
use crate::spec::SpecError;
use crate::store::StoreError;

/// Anything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad pipeline file (exit 2).
    #[error("{0}")]
    Spec(#[from] SpecError),
    /// Bad command line (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A lockfile named on the command line does not parse (exit 2).
    #[error("{}: not a valid lockfile: {excerpt}", path.display())]
    BadLockfile {
        /// The file.
        path: std::path::PathBuf,
        /// The parser's message, cut to [`EXCERPT_LINES`] lines and
        /// [`EXCERPT_BYTES`] bytes (it may quote the file).
        excerpt: String,
    },
    /// Store problem (exit 1; busy: 3).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Plan problem (exit 2 for a vanished dep, else 1).
    #[error("{0}")]
    Plan(#[from] PlanError),
    /// A remote problem: unreachable, refused credentials, a refused object (exit 1).
    #[error("{0}")]
    Remote(#[from] crate::remote::RemoteError),
    /// A stage or a verification failed (exit 1); the details were printed.
    #[error("{0}")]
    Failed(String),
    /// Interrupted (exit 130).
    #[error("interrupted")]
    Interrupted,
    /// An experiment problem (exit 2 for an unknown or bad name, else 1).
    #[error("{0}")]
    Exp(#[from] crate::exp::ExpError),
    /// A `repro model` command failed (exit 2 for bad input, else 1).
    #[error("{0}")]
    Model(#[from] crate::cli::model::ModelError),
}

impl From<ExecError> for CliError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Plan(p) => CliError::Plan(p),
            ExecError::Store(s) => CliError::Store(s),
        }
    }
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Spec(_) | CliError::Usage(_) | CliError::BadLockfile { .. } => 2,
            CliError::Plan(PlanError::Dep(_)) => 2,
            CliError::Store(StoreError::Busy { .. }) => 3,
            CliError::Remote(crate::remote::RemoteError::Store(StoreError::Busy { .. })) => 3,
            CliError::Remote(crate::remote::RemoteError::BadUrl { .. }) => 2,
            CliError::Store(_) | CliError::Plan(_) | CliError::Failed(_) | CliError::Remote(_) => 1,
            CliError::Interrupted => 130,
            CliError::Model(crate::cli::model::ModelError::Usage(_)) => 2,
            CliError::Exp(e) if e.is_usage() => 2,
            CliError::Exp(crate::exp::ExpError::Store(StoreError::Busy { .. })) => 3,
            CliError::Exp(_) => 1,
            CliError::Model(_) => 1,
        }
    }
}

/// Most lines of a message quoting a user's file that an error repeats.
pub const EXCERPT_LINES: usize = 5;

/// Most bytes of a message quoting a user's file that an error repeats.
pub const EXCERPT_BYTES: usize = 500;

/// `message` cut to [`EXCERPT_LINES`] lines and [`EXCERPT_BYTES`] bytes, saying
/// how much was left out; a trailing ` at line L column C` is kept.
pub fn excerpt(message: &str) -> String {
    let (body, location) = match message.rfind(" at line ") {
        Some(i) if message.len() - i < 40 && !message[i..].contains('\n') => {
            (&message[..i], &message[i..])
        }
        _ => (message, ""),
    };
    let mut end = body
        .match_indices('\n')
        .nth(EXCERPT_LINES - 1)
        .map_or(body.len(), |(i, _)| i)
        .min(EXCERPT_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    if end == body.len() {
        return message.to_string();
    }
    format!(
        "{} … ({} more bytes not shown){location}",
        &body[..end],
        body.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_are_kept_whole() {
        assert_eq!(excerpt("bad at line 1 column 2"), "bad at line 1 column 2");
    }

    #[test]
    fn long_messages_keep_a_few_lines_and_the_location() {
        let long = format!(
            "invalid type: {} at line 1 column 1",
            "garbage line\n".repeat(10_000)
        );
        let e = excerpt(&long);
        assert!(e.len() < EXCERPT_BYTES + 100, "{}", e.len());
        assert!(e.lines().count() <= EXCERPT_LINES, "{e}");
        assert!(
            e.ends_with("more bytes not shown) at line 1 column 1"),
            "{e}"
        );
        let wide = "é".repeat(1_000);
        let e = excerpt(&wide);
        assert!(e.starts_with(&"é".repeat(EXCERPT_BYTES / 2)), "{e}");
    }
}
