//! Jobs left by a coordinator that died (`kill -9`, a lost login node). Their
//! job files stay in `tmp/*/slurm-job.json`, and the store lock proves their
//! coordinator is gone. Policy: a Slurm run keeps them, and a stage that
//! comes up with the same key *adopts* its job (waits for it, takes its
//! outputs) instead of submitting again, so no work is duplicated or lost;
//! leftovers no stage adopts are cancelled at the end of the run. A local
//! run cancels them all before it cleans `tmp/`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::JobId;
use super::jobfile::{self, JOB_FILE, JobFile};
use super::poll;
use super::submit;
use crate::store::objects::make_writable;
use crate::store::{Store, StoreError};

/// A staging directory holding a job file.
#[derive(Debug, Clone)]
pub struct Leftover {
    /// The staging directory.
    pub dir: PathBuf,
    /// Its job file.
    pub job: JobFile,
    /// The job id (from the file, or found by the job's unique name).
    pub id: Option<JobId>,
}

/// Every job file under `tmp/` (readable ones; others are just debris).
pub fn find(store: &Store) -> Vec<Leftover> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(store.root().join("tmp")) else {
        return out;
    };
    for e in rd.flatten() {
        let dir = e.path();
        let f = dir.join(JOB_FILE);
        if let Ok(job) = jobfile::read::<JobFile>(&f) {
            let id = job.job_id.clone();
            out.push(Leftover { dir, job, id });
        }
    }
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

/// Fills in ids the dead coordinator never wrote, by job name.
pub fn find_ids(left: &mut [Leftover]) {
    for l in left.iter_mut().filter(|l| l.id.is_none()) {
        let out = Command::new("squeue")
            .args(["-h", "-o", "%i", "-n", &l.job.job_name])
            .output();
        if let Ok(o) = out
            && o.status.success()
        {
            l.id = String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .find(|s| !s.is_empty())
                .map(str::to_string);
        }
    }
}

/// Cancels the leftovers' jobs, waits (bounded) until they have left the
/// nodes, and deletes their directories. Returns a line per problem.
pub fn discard(left: &[Leftover]) -> Vec<String> {
    let mut problems = Vec::new();
    let ids: Vec<JobId> = left.iter().filter_map(|l| l.id.clone()).collect();
    if !ids.is_empty() {
        if let Err(e) = submit::scancel(&ids) {
            problems.push(e);
        }
        let deadline = Instant::now() + super::runner::CANCEL_WAIT;
        while Instant::now() < deadline {
            match poll::query(&ids) {
                Ok(seen) if seen.values().all(|s| s.ended()) => break,
                Ok(_) => {}
                Err(e) => {
                    problems.push(e);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    for l in left {
        make_writable(&l.dir);
        let _ = fs::remove_dir_all(&l.dir);
    }
    problems
}

/// Deletes everything under `tmp/` except the leftovers' directories (call
/// with the store lock held), with the store's own cleaning rules.
pub fn clean_tmp_except(store: &Store, keep: &[Leftover]) -> Result<(), StoreError> {
    let dirs: Vec<PathBuf> = keep.iter().map(|l| l.dir.clone()).collect();
    store.clean_tmp_keeping(&dirs)?;
    Ok(())
}
