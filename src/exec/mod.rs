//! Execution: the scheduler, stage runs, runners and signal handling
//! (DESIGN §4).

pub mod executor;
pub mod provenance;
pub mod publish;
pub mod runner;
pub mod signals;
pub mod slurm;
pub mod stage_run;

pub use executor::{ExecError, RunOptions, Summary, execute};
pub use runner::{Job, RealRunner, RunError, StageRunner};
pub use stage_run::RunSettings;
