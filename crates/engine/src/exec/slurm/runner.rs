//! [`SlurmRunner`]: the [`StageRunner`] that turns a staged stage run into
//! one Slurm job and waits for it. The scheduler (`-j N`, DAG order, early
//! cutoff), staging, hashing and recording stay the coordinator's.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::JobId;
use super::jobfile::{self, JOB_FILE, JobFile, JobInput, Status};
use super::poll::{Poller, Seen};
use super::recover::Leftover;
use super::submit::{self, Submission};
use crate::exec::runner::{Job, RunError, StageRunner};
use crate::kind::Input;
use crate::spec::StageKind;
use crate::store::objects::make_writable;
use crate::util::time::now_unix;

/// How long a failing `squeue` is tolerated before in-flight stages fail.
pub const QUERY_GIVE_UP: Duration = Duration::from_secs(300);
/// How long a cancelled job may take to leave the node (Slurm's default
/// `KillWait` is 30 s) before the stage is reported anyway.
pub const CANCEL_WAIT: Duration = Duration::from_secs(90);
/// Lines of the job's own log copied into the stage log on failure.
pub const JOB_LOG_TAIL: usize = 15;

/// Runs every stage as a Slurm job.
pub struct SlurmRunner {
    poller: Poller,
    /// `executor.slurm_opts` then `--slurm-opt`s, after the resource flags.
    opts: Vec<String>,
    /// This binary, run inside the jobs.
    exe: PathBuf,
    /// Its identity, checked inside the jobs.
    build: String,
    /// The jobs' working directory (the coordinator's).
    cwd: PathBuf,
    /// Jobs left by a dead coordinator, not adopted yet.
    leftovers: Mutex<Vec<Leftover>>,
}

impl SlurmRunner {
    /// A runner adding `opts` to every `sbatch`, adopting `leftovers` whose
    /// stage and key come up again.
    pub fn new(opts: Vec<String>, leftovers: Vec<Leftover>) -> Result<SlurmRunner, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find repro's own executable: {e}"))?;
        let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
        Ok(SlurmRunner {
            poller: Poller::default(),
            opts,
            exe,
            build: jobfile::build_id(),
            cwd,
            leftovers: Mutex::new(leftovers),
        })
    }

    /// Cancels the leftovers no stage adopted and deletes their directories.
    pub fn finish(&self) -> Vec<String> {
        let left = std::mem::take(&mut *self.leftovers.lock().unwrap_or_else(|p| p.into_inner()));
        super::recover::discard(&left)
    }

    fn take_leftover(&self, stage: &str, key: &str) -> Option<Leftover> {
        let mut l = self.leftovers.lock().unwrap_or_else(|p| p.into_inner());
        let i = l
            .iter()
            .position(|x| x.job.stage == stage && x.job.key == key && x.id.is_some())?;
        Some(l.remove(i))
    }

    /// Writes the job file and script into the staging directory and submits.
    fn submit(&self, job: &Job<'_>, log: &mut File) -> Result<(JobId, PathBuf), RunError> {
        let abs = |p: &Path| absolute_in(&self.cwd, p);
        let tmp = abs(job.out.parent().unwrap_or(&job.out));
        let tmp_name = tmp
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            // default: never taken; the staging directory is an absolute `tmp/<run>` path, so it has a name.
            .unwrap_or_default();
        let job_log = job_log_path(&abs(&job.log_path));
        let (kind, run) = match &job.stage.kind {
            StageKind::Cmd { run } => ("cmd".to_string(), Some(run.clone())),
            StageKind::Builtin(k) => (k.name().to_string(), None),
        };
        let inputs = job
            .inputs
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Input::One(p) => JobInput::One(abs(p)),
                    Input::Many(m) => {
                        JobInput::Many(m.iter().map(|(n, p)| (n.clone(), abs(p))).collect())
                    }
                };
                (k.clone(), v)
            })
            .collect::<BTreeMap<_, _>>();
        let mut jf = JobFile {
            build: self.build.clone(),
            stage: job.stage.name.clone(),
            base: job.stage.base.clone(),
            key: job.key.to_string(),
            kind,
            run,
            outputs: job.stage.outputs.clone(),
            with: job.stage.with.clone(),
            dir: abs(&job.dir),
            inputs,
            in_root: abs(&job.in_root),
            out: abs(&job.out),
            scratch: abs(&job.scratch),
            params_file: abs(&job.params_file),
            log: abs(&job.log_path),
            seed: job.seed,
            threads: job.stage.resources.cpus.map(|c| c as usize).unwrap_or(1),
            backend: job.backend.name().to_string(),
            pipeline_dir: abs(&job.roots.pipeline_dir),
            data: job.roots.data.as_deref().map(abs),
            models: job.roots.models.as_deref().map(abs),
            job_name: format!("repro-{tmp_name}"),
            job_log: job_log.clone(),
            job_id: None,
            submitted: now_unix(),
        };
        let job_file = tmp.join(JOB_FILE);
        let script = tmp.join("job.sh");
        let io = |p: &Path, e: std::io::Error| RunError::failed(format!("{}: {e}", p.display()));
        // Written before sbatch: a coordinator killed before it learns the
        // id leaves a file the next run finds the job by (its unique name).
        jobfile::write_atomic(&job_file, &jf).map_err(|e| io(&job_file, e))?;
        fs::write(&script, submit::script(&self.exe, &job_file)).map_err(|e| io(&script, e))?;
        let mut flags = submit::resource_flags(&job.stage.resources);
        flags.extend(self.opts.iter().cloned());
        let sub = Submission {
            name: &jf.job_name,
            output: &job_log,
            chdir: &self.cwd,
            flags,
        };
        let _ = writeln!(log, "slurm: sbatch {}", sub.args(&script).join(" "));
        let id = submit::sbatch(&sub, &script).map_err(RunError::failed)?;
        jf.job_id = Some(id.clone());
        jobfile::write_atomic(&job_file, &jf).map_err(|e| io(&job_file, e))?;
        let _ = writeln!(
            log,
            "slurm: job {id} submitted; job log: {}",
            job_log.display()
        );
        eprintln!("slurm: {} is job {id}", job.stage.name);
        Ok((id, job_file))
    }

    /// Waits for job `id` (described by `job_file`) to end; its status file
    /// decides the outcome.
    fn wait(
        &self,
        id: &JobId,
        job_file: &Path,
        job: &Job<'_>,
        log: &mut File,
    ) -> Result<Status, RunError> {
        self.poller.watch(id);
        let r = self.wait_watched(id, job_file, job, log);
        self.poller.forget(id);
        r
    }

    fn wait_watched(
        &self,
        id: &JobId,
        job_file: &Path,
        job: &Job<'_>,
        log: &mut File,
    ) -> Result<Status, RunError> {
        let mut nap = Duration::from_millis(100);
        let mut logged_state = String::new();
        loop {
            if let Some(s) = jobfile::status_of(job_file) {
                return s.map_err(RunError::failed);
            }
            let seen = self.poller.seen(id);
            if let Some(seen) = &seen {
                let d = seen.describe();
                if d != logged_state {
                    let _ = writeln!(log, "slurm: job {id} {d}");
                    logged_state = d;
                }
                if seen.ended() {
                    // The job may have written its status just before ending.
                    if let Some(s) = jobfile::status_of(job_file) {
                        return s.map_err(RunError::failed);
                    }
                    return Err(ended_without_status(id, seen, job_file, log));
                }
                if let Some(reason) = seen.never_runs() {
                    let _ = submit::scancel(std::slice::from_ref(id));
                    return Err(RunError::failed(format!(
                        "Slurm job {id} can never start: pending with reason {reason} (the request exceeds what the partition offers); cancelled it"
                    )));
                }
            }
            if job.cancel.load(Ordering::Relaxed) {
                return Err(self.cancel(id, log));
            }
            if let Some((how_long, err)) = self.poller.failing()
                && how_long > QUERY_GIVE_UP
            {
                return Err(RunError::failed(format!(
                    "cannot ask Slurm about job {id} for {}s: {err}",
                    how_long.as_secs()
                )));
            }
            self.poller.wait_round(nap);
            nap = nap.mul_f64(1.5).min(Duration::from_secs(2));
        }
    }

    /// `scancel`, then wait (bounded) for the job to leave the node, so its
    /// staging directory can be deleted.
    fn cancel(&self, id: &JobId, log: &mut File) -> RunError {
        let _ = writeln!(log, "slurm: interrupted: scancel {id}");
        if let Err(e) = submit::scancel(std::slice::from_ref(id)) {
            let _ = writeln!(log, "slurm: {e}");
        }
        // The job's status file is written before Slurm has finished the job
        // (it is still COMPLETING then): only the scheduler says it has left.
        self.poller.hurry();
        let deadline = Instant::now() + CANCEL_WAIT;
        while Instant::now() < deadline {
            if self.poller.seen(id).is_some_and(|s| s.ended()) {
                break;
            }
            self.poller.wait_round(Duration::from_millis(200));
        }
        RunError {
            message: format!("interrupted (Slurm job {id} cancelled)"),
            interrupted: true,
            tail: None,
        }
    }

    /// Waits for a job an earlier, dead coordinator submitted for the same
    /// stage and key, and moves its outputs into this run's `$OUT`.
    fn adopt(&self, left: &Leftover, job: &Job<'_>, log: &mut File) -> Result<(), RunError> {
        let Some(id) = &left.id else {
            return Err(RunError::failed("no job id"));
        };
        let job_file = left.dir.join(JOB_FILE);
        let _ = writeln!(
            log,
            "slurm: adopting job {id}, submitted by an earlier run that died; its log: {}",
            left.job.log.display()
        );
        eprintln!(
            "slurm: {} adopts job {id} left by an earlier run",
            job.stage.name
        );
        let status = self.wait(id, &job_file, job, log)?;
        append_file(log, &left.job.log);
        if !status.ok {
            return Err(RunError::failed(status.message));
        }
        let out = &job.out;
        fs::remove_dir(out).map_err(|e| RunError::failed(format!("{}: {e}", out.display())))?;
        fs::rename(&left.job.out, out).map_err(|e| {
            RunError::failed(format!(
                "moving {} to {}: {e}",
                left.job.out.display(),
                out.display()
            ))
        })?;
        Ok(())
    }
}

impl StageRunner for SlurmRunner {
    fn run(&self, job: Job<'_>) -> Result<(), RunError> {
        // Append mode: the job appends to the same log from another process.
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&job.log_path)
            .map_err(|e| RunError::failed(format!("{}: {e}", job.log_path.display())))?;
        if let Some(left) = self.take_leftover(&job.stage.name, job.key) {
            let adopted = self.adopt(&left, &job, &mut log);
            make_writable(&left.dir);
            let _ = fs::remove_dir_all(&left.dir);
            match adopted {
                Ok(()) => return Ok(()),
                Err(e) if e.interrupted => return Err(e),
                Err(e) => {
                    let _ = seek_end(&mut log);
                    let _ = writeln!(
                        log,
                        "slurm: the adopted job did not succeed ({}); submitting anew",
                        e.message
                    );
                    if !job.out.exists() {
                        let _ = fs::create_dir_all(&job.out);
                    }
                }
            }
        }
        let (id, job_file) = self.submit(&job, &mut log)?;
        let submitted = now_unix();
        let result = self.wait(&id, &job_file, &job, &mut log);
        // The job appended to the log from another process: write after it.
        let _ = seek_end(&mut log);
        let status = result?;
        let _ = writeln!(
            log,
            "slurm: job {id} on {}: queued {:.2}s, ran {:.2}s, noticed {:.2}s after it ended",
            status.host,
            status.started - submitted,
            status.ended - status.started,
            now_unix() - status.ended
        );
        if status.ok {
            Ok(())
        } else {
            let job_log = job_log_path(&absolute_in(&self.cwd, &job.log_path));
            append_tail(&mut log, &job_log);
            let ours = job.cancel.load(Ordering::Relaxed);
            let message = if status.interrupted && !ours {
                format!(
                    "Slurm job {id} was stopped by a signal from outside (scancel, preemption or a time limit)"
                )
            } else {
                format!("{} (Slurm job {id})", status.message)
            };
            Err(RunError {
                message,
                interrupted: status.interrupted && ours,
                tail: None,
            })
        }
    }
}

/// The failure for a job that ended without writing its status file.
fn ended_without_status(id: &JobId, seen: &Seen, job_file: &Path, log: &mut File) -> RunError {
    let _ = seek_end(log);
    let job_log = jobfile::read::<JobFile>(job_file).map(|j| j.job_log).ok();
    if let Some(p) = &job_log {
        append_tail(log, p);
    }
    RunError::failed(format!(
        "Slurm job {id} ended {} without writing its exit status{}",
        seen.describe(),
        job_log
            .map(|p| format!("; job log: {}", p.display()))
            // default: no job log path: the message has no job-log suffix.
            .unwrap_or_default()
    ))
}

/// `logs/S/STAMP.log` → `logs/S/STAMP.slurm.out`: the job's own output
/// (Slurm's messages: time limit, memory, node failure).
pub fn job_log_path(stage_log: &Path) -> PathBuf {
    stage_log.with_extension("slurm.out")
}

fn absolute_in(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

fn seek_end(f: &mut File) -> std::io::Result<u64> {
    f.seek(SeekFrom::End(0))
}

/// Copies the last lines of the job's own log into the stage log.
fn append_tail(log: &mut File, job_log: &Path) {
    let _ = seek_end(log);
    let Some(lines) = crate::exec::stage_run::log_tail(job_log, JOB_LOG_TAIL) else {
        let _ = writeln!(log, "slurm: job log {} cannot be read", job_log.display());
        return;
    };
    if lines.iter().all(|l| l.trim().is_empty()) {
        let _ = writeln!(log, "slurm: job log {} is empty", job_log.display());
        return;
    }
    let _ = writeln!(
        log,
        "slurm: last lines of the job log {}:",
        job_log.display()
    );
    for l in lines {
        let _ = writeln!(log, "slurm: | {l}");
    }
}

/// Appends a whole file (an adopted job's stage log) to the log.
fn append_file(log: &mut File, path: &Path) {
    let _ = seek_end(log);
    if let Ok(text) = fs::read_to_string(path) {
        let _ = log.write_all(text.as_bytes());
    }
}
