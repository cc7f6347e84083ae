//! The state of one `repro run` (ARCHITECTURE.md, "The life of a stage
//! run"): where each stage is (waiting, running, done, failed, blocked), the
//! records of finished stages, and the lockfile kept current after each.
//! [`super::executor::execute`] drives it; this module decides, per stage,
//! what happens next.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde_json::Value as Json;

use super::executor::{ExecError, RunOptions, Summary};
use super::stage_run::{Failure, RunSettings};
use crate::dag::key::DepHashes;
use crate::dag::plan::{evaluate, lock_entry};
use crate::dag::{PlanError, Reason};
use crate::spec::Pipeline;
use crate::store::{Lockfile, Record, Store};

/// Where a stage is in this run.
#[derive(Debug, Clone, PartialEq)]
enum St {
    Waiting,
    Running,
    Done,
    Failed,
    Blocked,
}

/// A stale stage, ready to run: what its thread needs.
pub struct Launch {
    /// Index in `pipeline.stages`.
    pub index: usize,
    /// Its key.
    pub key: String,
    /// Its key material.
    pub material: Json,
    /// The records of its upstream stages, by name.
    pub upstream: HashMap<String, Record>,
}

/// What [`Schedule::advance`] did with one stage.
pub enum Step {
    /// Nothing changed (not selected, not ready, or no free job slot).
    Idle,
    /// Its state changed without starting it (fresh, or blocked by a failure).
    Changed,
    /// It must run now.
    Launch(Launch),
}

/// The run's state.
pub struct Schedule<'a> {
    pipeline: &'a Pipeline,
    lock: Lockfile,
    st: Vec<St>,
    /// Upstream stage indices of each stage.
    ups: Vec<Vec<usize>>,
    records: HashMap<String, Record>,
    /// Output digests of finished stages (keys of their dependents).
    known: HashMap<String, String>,
    memo: DepHashes,
    /// Each evaluated stale stage: its key material and stale reason
    /// (`None`: no key could be made; it never runs).
    stale: HashMap<usize, Option<(Json, Reason)>>,
    /// Stages running now.
    pub running: usize,
    /// No new stage starts (a failure without `--keep-going`, or Ctrl-C).
    stop: bool,
    summary: Summary,
}

impl<'a> Schedule<'a> {
    /// A run of `pipeline` starting from `lock` (entries of stages the
    /// pipeline no longer has are dropped).
    pub fn new(pipeline: &'a Pipeline, mut lock: Lockfile) -> Self {
        lock.pipeline = pipeline.name.clone();
        lock.schema = crate::store::lockfile::LOCK_SCHEMA;
        lock.stages.retain(|k, _| pipeline.index.contains_key(k));
        let ups = pipeline
            .stages
            .iter()
            .map(|s| {
                s.inputs
                    .values()
                    .flat_map(|r| r.stages())
                    .filter_map(|u| pipeline.index.get(u).copied())
                    .collect()
            })
            .collect();
        Schedule {
            pipeline,
            lock,
            st: vec![St::Waiting; pipeline.stages.len()],
            ups,
            records: HashMap::new(),
            known: HashMap::new(),
            memo: DepHashes::default(),
            stale: HashMap::new(),
            running: 0,
            stop: false,
            summary: Summary::default(),
        }
    }

    /// Stops starting stages after Ctrl-C (once), saying so.
    pub fn check_cancel(&mut self, settings: &RunSettings, out: &mut dyn Write) {
        if settings.cancel.load(std::sync::atomic::Ordering::Relaxed) && !self.summary.interrupted {
            self.summary.interrupted = true;
            self.stop = true;
            let _ = writeln!(out, "interrupted: stopping running stages…");
        }
    }

    /// Moves stage `i` on if it can: blocked by a failed upstream, fresh
    /// (recorded, lock entry written), or launched when stale and a job
    /// slot is free. A stage is evaluated once, when its upstream is done.
    pub fn advance(
        &mut self,
        i: usize,
        opts: &RunOptions,
        store: &Store,
        settings: &RunSettings,
        out: &mut dyn Write,
    ) -> Result<Step, ExecError> {
        if !opts.selected[i] || self.st[i] != St::Waiting {
            return Ok(Step::Idle);
        }
        let ups = &self.ups[i];
        if ups
            .iter()
            .any(|&u| matches!(self.st[u], St::Failed | St::Blocked))
        {
            self.st[i] = St::Blocked;
            return Ok(Step::Changed);
        }
        if !ups.iter().all(|&u| self.st[u] == St::Done) {
            return Ok(Step::Idle);
        }
        let stage = &self.pipeline.stages[i];
        if !self.stale.contains_key(&i) {
            let e = match evaluate(
                stage,
                self.pipeline,
                &self.known,
                &self.lock,
                store,
                opts.forced[i],
                settings.backend,
                &mut self.memo,
            ) {
                Ok(e) => e,
                // A dep that cannot be hashed when the stage's turn comes
                // (issue 25, item 11) fails that stage like any failure: its
                // dependants are blocked, and `--keep-going` goes on.
                Err(PlanError::Dep(d)) => {
                    let f = Failure {
                        error: super::runner::RunError::failed(format!(
                            "dep `{}`: {}",
                            d.path.display(),
                            d.source
                        )),
                        log: None,
                    };
                    self.failed(i, f, opts, out);
                    return Ok(Step::Changed);
                }
                Err(e) => return Err(e.into()),
            };
            match (e.record, e.material) {
                (Some(r), material) => {
                    if let Some(m) = &material {
                        self.lock
                            .stages
                            .insert(stage.name.clone(), lock_entry(m, &r));
                    }
                    let _ = writeln!(out, "fresh   {}", stage.name);
                    self.finished(i, r);
                    self.summary.fresh.push(stage.name.clone());
                    return Ok(Step::Changed);
                }
                (None, material) => {
                    let reason = e.reason.unwrap_or(Reason::NoRecord);
                    self.stale.insert(i, material.map(|m| (m, reason)));
                }
            }
        }
        if self.stop || self.running >= opts.jobs {
            return Ok(Step::Idle);
        }
        let Some(Some((material, reason))) = self.stale.get(&i) else {
            return Ok(Step::Idle);
        };
        let _ = writeln!(out, "running {} ({reason})", stage.name);
        let upstream = self.ups[i]
            .iter()
            .filter_map(|&u| {
                let name = &self.pipeline.stages[u].name;
                self.records.get(name).map(|r| (name.clone(), r.clone()))
            })
            .collect();
        let launch = Launch {
            index: i,
            key: crate::dag::key::key_of(material),
            material: material.clone(),
            upstream,
        };
        self.st[i] = St::Running;
        self.running += 1;
        Ok(Step::Launch(launch))
    }

    /// Takes the result of a stage that ran: on success its lock entry is
    /// written and the lockfile saved at once; a failure blocks its
    /// dependents and, without `--keep-going`, stops new starts.
    pub fn complete(
        &mut self,
        i: usize,
        result: Result<Record, Failure>,
        opts: &RunOptions,
        lock_path: &Path,
        out: &mut dyn Write,
    ) -> Result<(), ExecError> {
        self.running -= 1;
        let name = self.pipeline.stages[i].name.clone();
        match result {
            Ok(rec) => {
                let _ = writeln!(out, "ok      {name}  {:.2}s", rec.provenance.seconds);
                if let Some(Some((m, _))) = self.stale.get(&i) {
                    self.lock.stages.insert(name.clone(), lock_entry(m, &rec));
                }
                self.lock.save(lock_path)?;
                self.finished(i, rec);
                self.summary.ran.push(name);
            }
            Err(f) => {
                self.failed(i, f, opts, out);
            }
        }
        Ok(())
    }

    /// Stage `i` failed (or was stopped): its dependants are blocked and,
    /// without `--keep-going`, no new stage starts.
    fn failed(&mut self, i: usize, f: Failure, opts: &RunOptions, out: &mut dyn Write) {
        let name = self.pipeline.stages[i].name.clone();
        self.st[i] = St::Failed;
        if f.error.interrupted {
            let _ = writeln!(out, "stopped {name} (interrupted)");
            self.summary.not_run.push(name);
        } else {
            report_failure(out, &name, &f);
            self.summary.failed.push(name);
            if !opts.keep_going {
                self.stop = true;
            }
        }
    }

    /// Stage `i` is done with record `r`: its dependents may start.
    fn finished(&mut self, i: usize, r: Record) {
        let name = self.pipeline.stages[i].name.clone();
        self.known.insert(name.clone(), r.output_digest.clone());
        self.records.insert(name, r);
        self.st[i] = St::Done;
    }

    /// Ends the run: selected stages that never ran are listed, and the
    /// lockfile is saved.
    pub fn finish(mut self, opts: &RunOptions, lock_path: &Path) -> Result<Summary, ExecError> {
        for ((stage, state), selected) in self
            .pipeline
            .stages
            .iter()
            .zip(&self.st)
            .zip(&opts.selected)
        {
            if *selected && matches!(state, St::Waiting | St::Blocked) {
                self.summary.not_run.push(stage.name.clone());
            }
        }
        self.lock.save(lock_path)?;
        Ok(self.summary)
    }
}

/// Lines of a failed stage's output `FAILED` shows.
const FAILURE_TAIL_LINES: usize = 20;

/// Prints a failure with the tail of its output.
fn report_failure(out: &mut dyn Write, name: &str, f: &Failure) {
    let _ = writeln!(out, "FAILED  {name}: {}", f.error.message);
    if let Some(log) = &f.log {
        let _ = writeln!(out, "  log: {}", log.display());
    }
    // The tail kept in memory first (issue 25, item 6: it survives a log a
    // full disk left empty), else the end of the log.
    let lines = match &f.error.tail {
        Some(t) if !t.is_empty() => t.lines(FAILURE_TAIL_LINES),
        _ => f
            .log
            .as_deref()
            .and_then(|l| super::stage_run::log_tail(l, FAILURE_TAIL_LINES))
            // default: no log, or one that cannot be read: no tail lines (the log's path is printed above).
            .unwrap_or_default(),
    };
    for l in lines {
        let _ = writeln!(out, "  | {l}");
    }
}
