//! The Slurm executor (issue 15): every stale stage becomes one `sbatch` job
//! that runs `repro __exec-stage JOBFILE` (this same binary) inside the job,
//! reading inputs staged from the shared store and writing only into its
//! staging directory under `tmp/`. The coordinating `repro`, which holds the
//! store lock, still hashes, stores and records, exactly as for a local stage.
//!
//! - [`jobfile`]: what the job is told, and the status file it writes back;
//! - [`inside`]: the hidden subcommand that runs a stage inside the job;
//! - [`submit`]: `sbatch`, `scancel` and the resource flags;
//! - [`poll`]: one `squeue` call per poll for every job in flight;
//! - [`runner`]: the [`SlurmRunner`] the scheduler drives;
//! - [`recover`]: jobs left by a `repro` that died (`kill -9`);
//! - [`listing`]: queued and running jobs for `repro status`.

pub mod inside;
pub mod jobfile;
pub mod listing;
pub mod poll;
pub mod recover;
pub mod runner;
pub mod submit;

pub use runner::SlurmRunner;

/// A Slurm job id as the scheduler prints it (`4711`).
pub type JobId = String;
