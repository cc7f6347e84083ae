//! Execution: the scheduler, stage runs, runners and signal handling
//! (ARCHITECTURE.md, "Running a command").

pub mod audit;
pub mod bars;
pub mod executor;
pub mod provenance;
pub mod publish;
pub mod repair;
pub mod rerun;
pub mod runner;
pub mod schedule;
pub mod signals;
pub mod slurm;
pub mod stage_run;
pub mod supervise;

pub use executor::{ExecError, RunOptions, Summary, execute};
pub use runner::{Job, RealRunner, RunError, StageRunner};
pub use stage_run::RunSettings;
