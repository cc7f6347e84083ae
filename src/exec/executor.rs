//! The scheduler: walks the plan, runs independent stale stages in parallel
//! (`-j N`), stops dependents of a failed stage, lets running stages finish
//! and be recorded, and keeps the lockfile current after every stage.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Duration;

use super::runner::StageRunner;
use super::stage_run::{Failure, Keep, RunSettings, run_stage};
use crate::dag::key::DepHashes;
use crate::dag::plan::{evaluate, lock_entry};
use crate::dag::{PlanError, Reason};
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

#[derive(Debug, Clone, PartialEq)]
enum St {
    Waiting,
    Running,
    Done,
    Failed,
    Blocked,
}

/// Runs the selected stages of `pipeline`.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    pipeline: &Pipeline,
    store: &Store,
    lock_path: &Path,
    opts: &RunOptions,
    runner: &dyn StageRunner,
    settings: &RunSettings,
    out: &mut dyn Write,
) -> Result<Summary, ExecError> {
    let n = pipeline.stages.len();
    let mut lock = Lockfile::load(lock_path)?;
    lock.pipeline = pipeline.name.clone();
    lock.schema = crate::store::lockfile::LOCK_SCHEMA;
    lock.stages.retain(|k, _| pipeline.index.contains_key(k));
    let mut st = vec![St::Waiting; n];
    let mut records: HashMap<String, Record> = HashMap::new();
    let mut known: HashMap<String, String> = HashMap::new();
    let mut memo = DepHashes::default();
    let mut summary = Summary::default();
    let mut stop = false;
    let mut evaluated: HashSet<usize> = HashSet::new();
    let ups: Vec<Vec<usize>> = pipeline
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
    let (tx, rx) = mpsc::channel::<(usize, Result<Record, Failure>)>();
    let mut running = 0usize;
    let mut pending_material: HashMap<usize, serde_json::Value> = HashMap::new();
    let mut reasons: HashMap<usize, Reason> = HashMap::new();
    std::thread::scope(|scope| -> Result<(), ExecError> {
        loop {
            if settings.cancel.load(Ordering::Relaxed) && !summary.interrupted {
                summary.interrupted = true;
                stop = true;
                let _ = writeln!(out, "interrupted: stopping running stages…");
            }
            let mut progressed = false;
            for i in 0..n {
                if !opts.selected[i] || st[i] != St::Waiting {
                    continue;
                }
                if ups[i]
                    .iter()
                    .any(|&u| matches!(st[u], St::Failed | St::Blocked))
                {
                    st[i] = St::Blocked;
                    progressed = true;
                    continue;
                }
                if !ups[i].iter().all(|&u| st[u] == St::Done) {
                    continue;
                }
                let stage = &pipeline.stages[i];
                if !evaluated.contains(&i) {
                    let e = evaluate(
                        stage,
                        pipeline,
                        &known,
                        &lock,
                        store,
                        opts.forced[i],
                        settings.backend,
                        &mut memo,
                    )?;
                    evaluated.insert(i);
                    if let Some(r) = e.record {
                        if let Some(m) = &e.material {
                            lock.stages.insert(stage.name.clone(), lock_entry(m, &r));
                        }
                        known.insert(stage.name.clone(), r.output_digest.clone());
                        records.insert(stage.name.clone(), r);
                        let _ = writeln!(out, "fresh   {}", stage.name);
                        summary.fresh.push(stage.name.clone());
                        st[i] = St::Done;
                        progressed = true;
                        continue;
                    }
                    reasons.insert(i, e.reason.unwrap_or(Reason::NoRecord));
                    if let Some(m) = e.material {
                        pending_material.insert(i, m);
                    }
                }
                if stop || running >= opts.jobs {
                    continue;
                }
                let Some(material) = pending_material.get(&i).cloned() else {
                    continue;
                };
                let key = crate::dag::key::key_of(&material);
                let needed: HashMap<String, Record> = ups[i]
                    .iter()
                    .filter_map(|&u| {
                        records
                            .get(&pipeline.stages[u].name)
                            .map(|r| (pipeline.stages[u].name.clone(), r.clone()))
                    })
                    .collect();
                if let Some(reason) = reasons.get(&i) {
                    let _ = writeln!(out, "running {} ({reason})", stage.name);
                }
                st[i] = St::Running;
                running += 1;
                progressed = true;
                let tx = tx.clone();
                scope.spawn(move || {
                    let r = run_stage(
                        stage,
                        &key,
                        &material,
                        pipeline,
                        &needed,
                        store,
                        runner,
                        settings,
                        Keep::Record,
                    );
                    let _ = tx.send((i, r));
                });
            }
            if running == 0 && !progressed {
                break;
            }
            if running == 0 {
                continue;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((i, result)) => {
                    running -= 1;
                    let stage = &pipeline.stages[i];
                    match result {
                        Ok(rec) => {
                            let _ = writeln!(
                                out,
                                "ok      {}  {:.2}s",
                                stage.name, rec.provenance.seconds
                            );
                            if let Some(m) = pending_material.get(&i) {
                                lock.stages.insert(stage.name.clone(), lock_entry(m, &rec));
                            }
                            lock.save(lock_path)?;
                            known.insert(stage.name.clone(), rec.output_digest.clone());
                            records.insert(stage.name.clone(), rec);
                            summary.ran.push(stage.name.clone());
                            st[i] = St::Done;
                        }
                        Err(f) => {
                            st[i] = St::Failed;
                            if f.error.interrupted {
                                let _ = writeln!(out, "stopped {} (interrupted)", stage.name);
                                summary.not_run.push(stage.name.clone());
                            } else {
                                report_failure(out, &stage.name, &f);
                                summary.failed.push(stage.name.clone());
                                if !opts.keep_going {
                                    stop = true;
                                }
                            }
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    })?;
    for ((stage, state), selected) in pipeline.stages.iter().zip(&st).zip(&opts.selected) {
        if *selected && matches!(state, St::Waiting | St::Blocked) {
            summary.not_run.push(stage.name.clone());
        }
    }
    lock.save(lock_path)?;
    Ok(summary)
}

/// Prints a failure with the tail of its log.
fn report_failure(out: &mut dyn Write, name: &str, f: &Failure) {
    let _ = writeln!(out, "FAILED  {name}: {}", f.error.message);
    if let Some(log) = &f.log {
        let _ = writeln!(out, "  log: {}", log.display());
        for l in super::stage_run::log_tail(log, 20).unwrap_or_default() {
            let _ = writeln!(out, "  | {l}");
        }
    }
}

#[cfg(test)]
mod tests {
    //! The scheduler driven by a fake runner (no processes): ordering,
    //! failure propagation, keep-going and parallelism by rendezvous.
    use super::*;
    use crate::exec::runner::{Job, RunError};
    use std::sync::{Arc, Barrier, Mutex};

    /// Writes every declared output; fails stages named in `fail`; records
    /// the order stages start in; optionally meets a barrier.
    struct FakeRunner {
        fail: Vec<&'static str>,
        started: Mutex<Vec<String>>,
        barrier: Option<(Arc<Barrier>, Vec<&'static str>)>,
    }

    impl StageRunner for FakeRunner {
        fn run(&self, job: Job<'_>) -> Result<(), RunError> {
            self.started.lock().unwrap().push(job.stage.name.clone());
            if let Some((b, who)) = &self.barrier
                && who.contains(&job.stage.name.as_str())
            {
                b.wait();
            }
            if self.fail.contains(&job.stage.name.as_str()) {
                return Err(RunError::failed("planned failure"));
            }
            for o in &job.stage.outputs {
                std::fs::write(job.out.join(o), job.stage.name.as_bytes()).unwrap();
            }
            Ok(())
        }
    }

    // Distinct commands: identical stages share a key (and a record) by design.
    const YAML: &str = "stages:\n  a: {kind: cmd, run: ra, outputs: [o]}\n  b: {kind: cmd, run: rb, outputs: [o], inputs: {i: a}}\n  c: {kind: cmd, run: rc, outputs: [o]}\n  d: {kind: cmd, run: rd, outputs: [o], inputs: {i: c}}\n";

    fn setup(yaml: &str) -> (tempfile::TempDir, Pipeline, Store) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, yaml).unwrap();
        let p = crate::spec::load(&file, &[], &Default::default()).unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        (dir, p, store)
    }

    fn go(
        p: &Pipeline,
        store: &Store,
        dir: &Path,
        runner: &FakeRunner,
        jobs: usize,
        keep_going: bool,
    ) -> Summary {
        let n = p.stages.len();
        let opts = RunOptions {
            selected: vec![true; n],
            forced: vec![false; n],
            jobs,
            keep_going,
        };
        let settings = RunSettings::new(
            1,
            Default::default(),
            Default::default(),
            Default::default(),
        );
        execute(
            p,
            store,
            &dir.join("p.lock"),
            &opts,
            runner,
            &settings,
            &mut std::io::sink(),
        )
        .unwrap()
    }

    fn fake(fail: Vec<&'static str>) -> FakeRunner {
        FakeRunner {
            fail,
            started: Mutex::new(Vec::new()),
            barrier: None,
        }
    }

    #[test]
    fn producers_run_before_consumers_and_a_rerun_is_a_no_op() {
        let (dir, p, store) = setup(YAML);
        let r = fake(vec![]);
        let s = go(&p, &store, dir.path(), &r, 1, false);
        assert_eq!(s.ran.len(), 4);
        let started = r.started.lock().unwrap().clone();
        let pos = |n: &str| started.iter().position(|s| s == n).unwrap();
        assert!(pos("a") < pos("b") && pos("c") < pos("d"));
        let r2 = fake(vec![]);
        let s2 = go(&p, &store, dir.path(), &r2, 1, false);
        assert!(s2.ran.is_empty() && s2.fresh.len() == 4, "{s2:?}");
        assert!(r2.started.lock().unwrap().is_empty());
    }

    #[test]
    fn a_failure_stops_new_work_and_keep_going_finishes_the_rest() {
        let (dir, p, store) = setup(YAML);
        let s = go(&p, &store, dir.path(), &fake(vec!["a"]), 1, false);
        assert_eq!(s.failed, vec!["a"]);
        assert!(
            s.not_run.contains(&"b".to_string()) && s.not_run.contains(&"d".to_string()),
            "{s:?}"
        );
        let s = go(&p, &store, dir.path(), &fake(vec!["a"]), 1, true);
        assert_eq!(s.failed, vec!["a"]);
        assert_eq!(s.not_run, vec!["b"]);
        assert!(s.ran.contains(&"c".to_string()) && s.ran.contains(&"d".to_string()));
        // Nothing was recorded for the failure: it is retried next time.
        let s = go(&p, &store, dir.path(), &fake(vec![]), 1, false);
        assert_eq!(s.ran, vec!["a", "b"], "{s:?}");
    }

    #[test]
    fn independent_stages_run_in_parallel() {
        // a and c each wait for the other at a barrier: serial execution
        // would deadlock, so finishing proves they ran at the same time.
        let (dir, p, store) = setup(YAML);
        let r = FakeRunner {
            fail: vec![],
            started: Mutex::new(Vec::new()),
            barrier: Some((Arc::new(Barrier::new(2)), vec!["a", "c"])),
        };
        let s = go(&p, &store, dir.path(), &r, 2, false);
        assert_eq!(s.ran.len(), 4, "{s:?}");
    }
}
