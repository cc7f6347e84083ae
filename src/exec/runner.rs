//! Running one stage: `cmd` stages as a child process, built-in kinds in
//! process. The executor only sees the [`StageRunner`] trait, so its tests
//! can use a fake runner.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::backend::Backend;
use crate::kind::{Input, Roots, StageContext};
use crate::spec::{Stage, StageKind};
use crate::store::log::CappedLog;
use crate::util::progress::{Progress, ProgressSink};

/// One stage run, staged in a temp directory.
pub struct Job<'a> {
    /// The stage.
    pub stage: &'a Stage,
    /// Pipeline directory (commands run here).
    pub dir: PathBuf,
    /// Input slot → read-only directories.
    pub inputs: BTreeMap<String, Input>,
    /// Directory holding one subdirectory per slot (`$IN_<slot>`).
    pub in_root: PathBuf,
    /// Empty output directory (`$OUT`).
    pub out: PathBuf,
    /// Scratch directory.
    pub scratch: PathBuf,
    /// `with` as a JSON file (`$PARAMS`).
    pub params_file: PathBuf,
    /// Log file for stdout and stderr.
    pub log: File,
    /// Its path (a Slurm job appends to it from another process).
    pub log_path: PathBuf,
    /// The stage's key (a Slurm job left by a dead run is adopted only for the same key).
    pub key: &'a str,
    /// `params.seed`.
    pub seed: u64,
    /// Threads the stage may use.
    pub threads: usize,
    /// Backend for Burn stages.
    pub backend: Backend,
    /// Data and model roots.
    pub roots: Roots,
    /// Set on Ctrl-C.
    pub cancel: Arc<AtomicBool>,
    /// Where built-in kinds' progress is shown live.
    pub progress: Arc<dyn ProgressSink>,
}

/// Why a stage run failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    /// What happened.
    pub message: String,
    /// Whether it was interrupted.
    pub interrupted: bool,
}

impl RunError {
    /// A plain failure.
    pub fn failed(message: impl Into<String>) -> Self {
        RunError {
            message: message.into(),
            interrupted: false,
        }
    }
}

/// Runs one stage into `job.out`.
pub trait StageRunner: Send + Sync {
    /// Runs the job; outputs are checked and stored by the executor.
    fn run(&self, job: Job<'_>) -> Result<(), RunError>;
}

/// The real runner.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealRunner;

impl StageRunner for RealRunner {
    fn run(&self, job: Job<'_>) -> Result<(), RunError> {
        match &job.stage.kind {
            StageKind::Cmd { run } => run_command(run, &job),
            StageKind::Builtin(k) => {
                let ctx = StageContext {
                    stage: job.stage.name.clone(),
                    base: job.stage.base.clone(),
                    with: job.stage.with.clone(),
                    inputs: job.inputs.clone(),
                    out: job.out.clone(),
                    seed: job.seed,
                    threads: job.threads,
                    backend: job.backend,
                    roots: job.roots.clone(),
                    scratch: job.scratch.clone(),
                    cancel: job.cancel.clone(),
                    log: Mutex::new(Box::new(CappedLog::new(job.log))),
                    progress: Progress::new(&job.stage.name, job.progress.clone()),
                };
                // The stage's thread budget (ARCHITECTURE.md, "Determinism"):
                // Burn's CPU kernels and every rayon loop of the stage run on
                // a pool of exactly `threads` threads.
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(job.threads)
                    .thread_name(|i| format!("repro-stage-{i}"))
                    .build()
                    .map_err(|e| {
                        RunError::failed(format!("cannot start {} threads: {e}", job.threads))
                    })?;
                ctx.log(format!("{} thread(s)", job.threads));
                let result = pool.install(|| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| k.run(&ctx)))
                });
                ctx.progress.finish();
                match result {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => {
                        let interrupted = job.cancel.load(Ordering::Relaxed);
                        ctx.log(format!("error: {e:#}"));
                        Err(RunError {
                            message: format!("{e:#}"),
                            interrupted,
                        })
                    }
                    Err(_) => {
                        ctx.log("error: the stage panicked");
                        Err(RunError::failed(
                            "the stage panicked (a bug in repro: please report it)",
                        ))
                    }
                }
            }
        }
    }
}

/// Runs `bash -c RUN` under the supervisor (`repro __supervise`, see
/// [`super::supervise`]): the command and everything it starts die with it,
/// with `repro`, and before the outputs are hashed.
fn run_command(run: &str, job: &Job<'_>) -> Result<(), RunError> {
    let log_err = job
        .log
        .try_clone()
        .map_err(|e| RunError::failed(format!("log: {e}")))?;
    let log_out = job
        .log
        .try_clone()
        .map_err(|e| RunError::failed(format!("log: {e}")))?;
    let exe = std::env::current_exe()
        .map_err(|e| RunError::failed(format!("cannot find the repro binary: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg(super::supervise::SUBCOMMAND)
        .arg(std::process::id().to_string())
        .arg("--")
        .arg("bash")
        .arg("-c")
        .arg(run)
        .current_dir(&job.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_out))
        .stderr(Stdio::from(log_err))
        .env("OUT", &job.out)
        .env("PARAMS", &job.params_file)
        .env("REPRO_STAGE", &job.stage.name)
        .env("REPRO_SEED", job.seed.to_string())
        .env("REPRO_THREADS", job.threads.to_string())
        .env("TMPDIR", &job.scratch)
        // Its own process group: a terminal's Ctrl-C reaches repro, which
        // stops the stage through the supervisor.
        .process_group(0);
    for slot in job.inputs.keys() {
        cmd.env(format!("IN_{slot}"), job.in_root.join(slot));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| RunError::failed(format!("cannot start the stage's supervisor: {e}")))?;
    let pid = child.id() as i32;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let how = match status.code() {
                    Some(c) if c > 128 => format!("killed by signal {}", c - 128),
                    Some(c) => format!("exit code {c}"),
                    None => "killed by a signal".to_string(),
                };
                return Err(RunError {
                    message: format!("command failed ({how})"),
                    interrupted: job.cancel.load(Ordering::Relaxed),
                });
            }
            Ok(None) => {}
            Err(e) => return Err(RunError::failed(format!("waiting for the command: {e}"))),
        }
        if job.cancel.load(Ordering::Relaxed) {
            // The supervisor stops the tree (SIGTERM, then SIGKILL) and exits.
            // SAFETY: plain syscalls on our own child.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            for _ in 0..250 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return Err(RunError {
                        message: "interrupted".into(),
                        interrupted: true,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = child.wait();
            return Err(RunError {
                message: "interrupted".into(),
                interrupted: true,
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
