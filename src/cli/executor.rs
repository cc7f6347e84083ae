//! `repro run --executor local|slurm`: picks the stage runner, and deals with
//! Slurm jobs a dead run left behind before `tmp/` is cleaned (see
//! `exec::slurm::recover` for the policy).

use super::error::CliError;
use crate::exec::slurm::{SlurmRunner, recover};
use crate::exec::{RealRunner, StageRunner};
use crate::spec::Pipeline;
use crate::spec::resources::ExecutorKind;
use crate::store::Store;

/// The executor options of `repro run`.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    /// `--executor` (overrides the pipeline's `executor.kind`).
    pub flag: Option<String>,
    /// `--slurm-opt`s (after the pipeline's `executor.slurm_opts`).
    pub slurm_opts: Vec<String>,
}

/// The runner a run uses.
pub enum Prepared {
    /// Local processes.
    Local(RealRunner),
    /// Slurm jobs.
    Slurm(Box<SlurmRunner>),
}

impl Choice {
    /// The executor kind: the flag, else the pipeline's default.
    pub fn kind(&self, pipeline: &Pipeline) -> ExecutorKind {
        self.flag
            .as_deref()
            .and_then(ExecutorKind::parse)
            .unwrap_or(pipeline.executor.kind)
    }

    /// Handles leftover jobs and cleans `tmp/` (store lock held), then
    /// builds the runner.
    pub fn prepare(&self, pipeline: &Pipeline, store: &Store) -> Result<Prepared, CliError> {
        let mut left = recover::find(store);
        match self.kind(pipeline) {
            ExecutorKind::Local => {
                if !self.slurm_opts.is_empty() {
                    return Err(CliError::Usage(
                        "--slurm-opt needs --executor slurm (or `executor: slurm` in the pipeline)"
                            .into(),
                    ));
                }
                if !left.is_empty() {
                    recover::find_ids(&mut left);
                    eprintln!(
                        "repro: cancelling {} Slurm job(s) left by an earlier run",
                        left.len()
                    );
                    for p in recover::discard(&left) {
                        eprintln!("repro: {p}");
                    }
                }
                store.clean_tmp()?;
                Ok(Prepared::Local(RealRunner))
            }
            ExecutorKind::Slurm => {
                if let Err(e) = std::process::Command::new("sbatch")
                    .arg("--version")
                    .output()
                {
                    return Err(CliError::Usage(format!(
                        "--executor slurm: cannot run sbatch ({e}); is Slurm installed and on PATH?"
                    )));
                }
                recover::find_ids(&mut left);
                let (keep, drop): (Vec<_>, Vec<_>) = left.into_iter().partition(|l| l.id.is_some());
                for p in recover::discard(&drop) {
                    eprintln!("repro: {p}");
                }
                recover::clean_tmp_except(store, &keep)?;
                if !keep.is_empty() {
                    eprintln!(
                        "repro: found {} Slurm job(s) left by an earlier run; a stage with the same key adopts its job",
                        keep.len()
                    );
                }
                let mut opts = pipeline.executor.slurm_opts.clone();
                opts.extend(self.slurm_opts.iter().cloned());
                let r = SlurmRunner::new(opts, keep).map_err(CliError::Usage)?;
                Ok(Prepared::Slurm(Box::new(r)))
            }
        }
    }
}

impl Prepared {
    /// The runner for the scheduler.
    pub fn runner(&self) -> &dyn StageRunner {
        match self {
            Prepared::Local(r) => r,
            Prepared::Slurm(r) => r.as_ref(),
        }
    }

    /// After the run: cancels leftovers no stage adopted.
    pub fn finish(&self) {
        if let Prepared::Slurm(r) = self {
            for p in r.finish() {
                eprintln!("repro: {p}");
            }
        }
    }
}
