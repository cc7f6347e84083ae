//! The scheduler: walks the plan, runs independent stale stages in parallel
//! (`-j N`), stops dependents of a failed stage, lets running stages finish
//! and be recorded, and keeps the lockfile current after every stage.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::runner::StageRunner;
use super::schedule::{Schedule, Step};
use super::stage_run::{Failure, Keep, RunSettings, run_stage};
use crate::dag::PlanError;
use crate::spec::Pipeline;
use crate::store::{Lockfile, Record, Store, StoreError};

/// What `repro run` was asked to do.
pub struct RunOptions {
    /// Stages to run (with their stale ancestors); empty: all.
    pub selected: Vec<bool>,
    /// Stages forced to rerun.
    pub forced: Vec<bool>,
    /// Parallel stages.
    pub jobs: usize,
    /// Keep running what does not depend on a failure.
    pub keep_going: bool,
}

/// What happened.
#[derive(Debug, Default)]
pub struct Summary {
    /// Stages that ran and succeeded.
    pub ran: Vec<String>,
    /// Stages that were already fresh.
    pub fresh: Vec<String>,
    /// Stages that failed.
    pub failed: Vec<String>,
    /// Selected stages that did not run (after a failure or interruption).
    pub not_run: Vec<String>,
    /// Whether Ctrl-C stopped the run.
    pub interrupted: bool,
}

/// A problem that stops the scheduler itself (not a stage failure).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Plan computation failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the selected stages of `pipeline`: each stage starts when its
/// upstream is done and a job slot is free, on its own thread; results come
/// back over a channel to the one thread that owns the [`Schedule`].
pub fn execute(
    pipeline: &Pipeline,
    store: &Store,
    lock_path: &Path,
    opts: &RunOptions,
    runner: &dyn StageRunner,
    settings: &RunSettings,
    out: &mut dyn Write,
) -> Result<Summary, ExecError> {
    let mut schedule = Schedule::new(pipeline, Lockfile::load(lock_path)?);
    let (tx, rx) = mpsc::channel::<(usize, Result<Record, Failure>)>();
    std::thread::scope(|scope| -> Result<(), ExecError> {
        loop {
            schedule.check_cancel(settings, out);
            let mut progressed = false;
            for i in 0..pipeline.stages.len() {
                match schedule.advance(i, opts, store, settings, out)? {
                    Step::Idle => {}
                    Step::Changed => progressed = true,
                    Step::Launch(job) => {
                        progressed = true;
                        let tx = tx.clone();
                        scope.spawn(move || {
                            let r = run_stage(
                                &pipeline.stages[job.index],
                                &job.key,
                                &job.material,
                                pipeline,
                                &job.upstream,
                                store,
                                runner,
                                settings,
                                Keep::Record,
                            );
                            let _ = tx.send((job.index, r));
                        });
                    }
                }
            }
            if schedule.running == 0 {
                if progressed {
                    continue;
                }
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((i, result)) => schedule.complete(i, result, opts, lock_path, out)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    })?;
    schedule.finish(opts, lock_path)
}
