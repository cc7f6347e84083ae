//! The files a Slurm job and the coordinator exchange through the staging
//! directory: `slurm-job.json` (what to run, written before `sbatch`, with the
//! job id added after) and `status.json` (how it ended, written last by the
//! job, atomically). The status file, not the scheduler's memory of the job,
//! decides the outcome.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::JobId;

/// Name of the job description in a staging directory.
pub const JOB_FILE: &str = "slurm-job.json";
/// Name of the status file in a staging directory.
pub const STATUS_FILE: &str = "status.json";

/// An input slot as the job sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum JobInput {
    /// One directory.
    One(PathBuf),
    /// Expansion name → directory (a fan-in).
    Many(BTreeMap<String, PathBuf>),
}

/// Everything a job needs to run one stage. Paths are absolute.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobFile {
    /// The submitting binary's identity; the job refuses to run under another.
    pub build: String,
    /// Expanded stage name.
    pub stage: String,
    /// Stage name without the matrix suffix.
    pub base: String,
    /// The stage's key (an orphaned job is adopted only for the same key).
    pub key: String,
    /// `cmd` or a built-in kind's name.
    pub kind: String,
    /// The command line of a `cmd` stage.
    pub run: Option<String>,
    /// Declared outputs.
    pub outputs: Vec<String>,
    /// Resolved `with`.
    pub with: Json,
    /// The pipeline directory (commands run here).
    pub dir: PathBuf,
    /// Input slot → staged read-only directories.
    pub inputs: BTreeMap<String, JobInput>,
    /// Directory holding one subdirectory per slot.
    pub in_root: PathBuf,
    /// `$OUT`.
    pub out: PathBuf,
    /// Scratch directory.
    pub scratch: PathBuf,
    /// `$PARAMS`.
    pub params_file: PathBuf,
    /// The stage log, appended to by the job.
    pub log: PathBuf,
    /// `params.seed`.
    pub seed: u64,
    /// Threads when `$SLURM_CPUS_PER_TASK` is unset.
    pub threads: usize,
    /// Backend name for Burn stages.
    pub backend: String,
    /// Pipeline directory for relative sources.
    pub pipeline_dir: PathBuf,
    /// `$REPRO_DATA`.
    pub data: Option<PathBuf>,
    /// `$REPRO_MODELS`.
    pub models: Option<PathBuf>,
    /// `--job-name` (unique: found by name if the id was never written).
    pub job_name: String,
    /// The job's own output file (Slurm's `--output`).
    pub job_log: PathBuf,
    /// The id, once `sbatch` answered.
    pub job_id: Option<JobId>,
    /// When it was submitted (Unix seconds).
    pub submitted: f64,
}

/// How a job's stage run ended, written by the job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// Whether the stage succeeded (every output is in `$OUT`).
    pub ok: bool,
    /// What went wrong, when it did.
    pub message: String,
    /// Whether it was stopped by a signal (`scancel`, preemption).
    pub interrupted: bool,
    /// When the stage started inside the job (Unix seconds).
    pub started: f64,
    /// When it ended.
    pub ended: f64,
    /// The node it ran on.
    pub host: String,
}

/// Writes `value` as JSON to `path` atomically (write beside, sync, rename).
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let part = path.with_extension("json.part");
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let mut f = fs::File::create(&part)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    fs::rename(&part, path)
}

/// Reads a JSON file written by [`write_atomic`].
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The status file of the job whose description is `job_file`, if written.
pub fn status_of(job_file: &Path) -> Option<Result<Status, String>> {
    let p = job_file.with_file_name(STATUS_FILE);
    p.exists().then(|| read(&p))
}

/// What identifies this binary: version, backends, and the executable's size
/// and modification time (a rebuild between submission and start is refused).
pub fn build_id() -> String {
    use std::os::unix::fs::MetadataExt;
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| fs::metadata(p).ok())
        .map(|m| {
            format!(
                "{} bytes, mtime {}.{:09}",
                m.len(),
                m.mtime(),
                m.mtime_nsec()
            )
        })
        .unwrap_or_else(|| "unknown executable".into());
    format!("repro {} ({exe})", crate::backend::version_line())
}

/// `p` made absolute against the current directory.
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_round_trips_and_a_missing_one_is_none() {
        let d = tempfile::tempdir().unwrap();
        let job = d.path().join(JOB_FILE);
        assert!(status_of(&job).is_none());
        let s = Status {
            ok: false,
            message: "command failed (exit code 3)".into(),
            interrupted: false,
            started: 1.0,
            ended: 2.5,
            host: "n1".into(),
        };
        write_atomic(&d.path().join(STATUS_FILE), &s).unwrap();
        assert_eq!(status_of(&job).unwrap().unwrap(), s);
        assert!(!d.path().join("status.json.part").exists());
    }
}
