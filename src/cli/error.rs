//! The CLI's error type and its mapping to exit codes (DESIGN §0).

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
    /// A `repro model` command failed (exit 2 for bad input, else 1).
    #[error("{0}")]
    Model(#[from] crate::model::cli::ModelError),
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
            CliError::Spec(_) | CliError::Usage(_) => 2,
            CliError::Plan(PlanError::Dep(_)) => 2,
            CliError::Store(StoreError::Busy { .. }) => 3,
            CliError::Remote(crate::remote::RemoteError::Store(StoreError::Busy { .. })) => 3,
            CliError::Remote(crate::remote::RemoteError::BadUrl { .. }) => 2,
            CliError::Store(_) | CliError::Plan(_) | CliError::Failed(_) | CliError::Remote(_) => 1,
            CliError::Interrupted => 130,
            CliError::Model(crate::model::cli::ModelError::Usage(_)) => 2,
            CliError::Model(_) => 1,
        }
    }
}
