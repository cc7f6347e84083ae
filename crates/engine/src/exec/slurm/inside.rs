//! `repro __exec-stage JOBFILE`: runs one stage inside a Slurm job with the
//! same [`RealRunner`] a local run uses (`cmd` stages as a child process,
//! built-in kinds in process), appending to the stage log and writing only
//! into the staging directory. It ends by writing `status.json`.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;

use super::jobfile::{self, JobFile, JobInput, STATUS_FILE, Status};
use crate::exec::runner::{Job, RealRunner, StageRunner};
use crate::kind::{Input, Registry, Roots};
use crate::spec::node::Mark;
use crate::spec::{Stage, StageKind};
use crate::util::time::now_unix;

/// Runs the job described by `job_file`, its built-in kind looked up in
/// `kinds`; returns the process exit code (0 ok, 1 the stage failed, 2 the job
/// file is unusable or from another build).
pub fn exec_stage(job_file: &Path, kinds: Registry) -> i32 {
    let started = now_unix();
    let status_path = job_file.with_file_name(STATUS_FILE);
    let finish = |ok: bool, message: String, interrupted: bool| {
        let s = Status {
            ok,
            message: message.clone(),
            interrupted,
            started,
            ended: now_unix(),
            host: crate::exec::provenance::host(),
        };
        if let Err(e) = jobfile::write_atomic(&status_path, &s) {
            eprintln!("repro __exec-stage: writing {}: {e}", status_path.display());
        }
        if !ok {
            eprintln!("repro __exec-stage: {message}");
        }
    };
    let job: JobFile = match jobfile::read(job_file) {
        Ok(j) => j,
        Err(e) => {
            finish(false, format!("unreadable job file: {e}"), false);
            return 2;
        }
    };
    let mine = jobfile::build_id();
    if job.build != mine {
        finish(
            false,
            format!(
                "version mismatch: the job was submitted by {}, but this is {mine}; rerun `repro run`",
                job.build
            ),
            false,
        );
        return 2;
    }
    let cancel = crate::exec::signals::install();
    match run(&job, job_file, kinds, cancel.clone()) {
        Ok(()) => {
            finish(true, String::new(), false);
            0
        }
        Err(e) => {
            finish(false, e.message, e.interrupted);
            1
        }
    }
}

fn run(
    job: &JobFile,
    job_file: &Path,
    kinds: Registry,
    cancel: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), crate::exec::RunError> {
    use crate::exec::RunError;
    let kind = match (&job.run, job.kind.as_str()) {
        (Some(run), "cmd") => StageKind::Cmd { run: run.clone() },
        (None, name) => StageKind::Builtin(
            kinds
                .find(name)
                .ok_or_else(|| RunError::failed(format!("unknown stage kind `{name}`")))?,
        ),
        (Some(_), other) => {
            return Err(RunError::failed(format!(
                "job file: `run` given for kind `{other}`"
            )));
        }
    };
    let backend = job
        .backend
        .parse()
        .map_err(|e: crate::backend::UnknownBackend| RunError::failed(e.to_string()))?;
    let stage = Stage {
        name: job.stage.clone(),
        base: job.base.clone(),
        point: Default::default(),
        kind,
        with: job.with.clone(),
        inputs: BTreeMap::new(),
        deps: Vec::new(),
        dep_marks: Vec::new(),
        outputs: job.outputs.clone(),
        metrics: None,
        key_deps: Vec::new(),
        mark: Mark {
            file: Arc::new(job_file.to_path_buf()),
            line: 1,
            col: 1,
        },
        resources: Default::default(),
    };
    let inputs = job
        .inputs
        .iter()
        .map(|(k, v)| {
            let i = match v {
                JobInput::One(p) => Input::One(p.clone()),
                JobInput::Many(m) => Input::Many(m.clone()),
            };
            (k.clone(), i)
        })
        .collect();
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&job.log)
        .map_err(|e| RunError::failed(format!("{}: {e}", job.log.display())))?;
    // The CPUs Slurm gave the job, else what the coordinator asked for.
    let threads = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(job.threads)
        .max(1);
    RealRunner.run(Job {
        stage: &stage,
        dir: job.dir.clone(),
        inputs,
        in_root: job.in_root.clone(),
        out: job.out.clone(),
        scratch: job.scratch.clone(),
        params_file: job.params_file.clone(),
        log,
        log_path: job.log.clone(),
        key: &job.key,
        seed: job.seed,
        threads,
        backend,
        roots: Roots {
            pipeline_dir: job.pipeline_dir.clone(),
            data: job.data.clone(),
            models: job.models.clone(),
        },
        cancel,
        progress: std::sync::Arc::new(crate::util::progress::NoSink),
    })
}
