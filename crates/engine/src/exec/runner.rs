//! Running one stage: `cmd` stages as a child process, built-in kinds in
//! process. The executor only sees the [`StageRunner`] trait, so its tests
//! can use a fake runner.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
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
use crate::store::tail_ring::{RING_BYTES, Tail};
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
    /// The end of the stage's output, kept in memory (a `cmd` stage's last
    /// 64 KiB): shown by `FAILED` even when the log could not be written.
    pub tail: Option<Tail>,
}

impl RunError {
    /// A plain failure.
    pub fn failed(message: impl Into<String>) -> Self {
        RunError {
            message: message.into(),
            interrupted: false,
            tail: None,
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
                            tail: None,
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
    // The supervisor's stderr carries the failure tail it kept in memory.
    let (tail_in, tail_out) =
        std::io::pipe().map_err(|e| RunError::failed(format!("tail pipe: {e}")))?;
    cmd.stderr(Stdio::from(tail_out));
    let spawned = cmd.spawn();
    // The parent's copy of the pipe's write end goes with `cmd`, so the
    // reader sees the end of the stream when the supervisor exits.
    drop(cmd);
    let mut child = spawned
        .map_err(|e| RunError::failed(format!("cannot start the stage's supervisor: {e}")))?;
    let tail = read_tail(tail_in);
    let result = wait_command(&mut child, job);
    result.map_err(|mut e| {
        e.tail = tail();
        e
    })
}

/// Reads the supervisor's stderr to its end on a thread; the returned
/// function waits for it (at most a few seconds: a stuck reader never holds
/// up a failure) and gives the tail.
fn read_tail(mut from: std::io::PipeReader) -> impl FnOnce() -> Option<Tail> {
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("repro-tail".into())
        .spawn(move || {
            // Bounded: the mark, the flag and the ring, plus the supervisor's
            // own complaint if it had one.
            let cap = (RING_BYTES + super::supervise::TAIL_MARK.len() + (16 << 10)) as u64;
            let mut bytes = Vec::new();
            let _ = (&mut from).take(cap).read_to_end(&mut bytes);
            let _ = std::io::copy(&mut from, &mut std::io::sink());
            let _ = tx.send(bytes);
        });
    move || {
        reader.ok()?;
        let bytes = rx.recv_timeout(Duration::from_secs(5)).ok()?;
        Some(parse_tail(bytes))
    }
}

/// The failure tail as the supervisor wrote it ([`super::supervise::TAIL_MARK`],
/// a flag byte, the bytes); anything else is shown as it is.
fn parse_tail(bytes: Vec<u8>) -> Tail {
    let mark = super::supervise::TAIL_MARK;
    match bytes.windows(mark.len()).position(|w| w == mark) {
        Some(i) => {
            let mut t = Tail {
                bytes: bytes[..i].to_vec(),
                cut: bytes.get(i + mark.len()) == Some(&1),
            };
            t.bytes
                .extend_from_slice(bytes.get(i + mark.len() + 1..).unwrap_or(&[]));
            t
        }
        None => Tail { bytes, cut: false },
    }
}

/// Waits for the supervisor, stopping it on Ctrl-C.
fn wait_command(child: &mut std::process::Child, job: &Job<'_>) -> Result<(), RunError> {
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
                    tail: None,
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
                        tail: None,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            unsafe { libc::killpg(pid, libc::SIGKILL) };
            let _ = child.wait();
            return Err(RunError {
                message: "interrupted".into(),
                interrupted: true,
                tail: None,
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
