//! Talking to Slurm's submit side: the batch script, `sbatch` (with a few
//! retries on a busy controller) and `scancel`, and how `resources:` become
//! `sbatch` flags.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::JobId;
use crate::spec::resources::Resources;

/// `sbatch` flags for a stage's resources.
pub fn resource_flags(r: &Resources) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(c) = r.cpus {
        v.push(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = &r.mem {
        v.push(format!("--mem={m}"));
    }
    if let Some(g) = r.gpus.filter(|g| *g > 0) {
        v.push(format!("--gres=gpu:{g}"));
    }
    if let Some(t) = &r.time {
        v.push(format!("--time={t}"));
    }
    if let Some(p) = &r.partition {
        v.push(format!("--partition={p}"));
    }
    v
}

/// `s` quoted for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The batch script: run this binary's hidden subcommand on the job file.
pub fn script(exe: &Path, job_file: &Path) -> String {
    format!(
        "#!/bin/sh\n# Written by repro: runs one stage inside this Slurm job.\nexec {} __exec-stage {}\n",
        shell_quote(&exe.display().to_string()),
        shell_quote(&job_file.display().to_string())
    )
}

/// One `sbatch` call's arguments (before the script path).
pub struct Submission<'a> {
    /// `--job-name`.
    pub name: &'a str,
    /// `--output` (the job's own log).
    pub output: &'a Path,
    /// `--chdir`.
    pub chdir: &'a Path,
    /// Resource flags, then the user's `slurm_opts` / `--slurm-opt`s.
    pub flags: Vec<String>,
}

impl Submission<'_> {
    /// The full argument list for `script`.
    pub fn args(&self, script: &Path) -> Vec<String> {
        let mut a = vec![
            "--parsable".to_string(),
            format!("--job-name={}", self.name),
            format!("--output={}", self.output.display()),
            format!("--chdir={}", self.chdir.display()),
        ];
        a.extend(self.flags.iter().cloned());
        a.push(script.display().to_string());
        a
    }
}

/// Errors `sbatch` reports for a controller that is only busy.
fn transient(stderr: &str) -> bool {
    [
        "Socket timed out",
        "temporarily unavailable",
        "Unable to contact slurm controller",
        "try again",
    ]
    .iter()
    .any(|m| stderr.contains(m))
}

/// Submits `script`; returns the job id, or `sbatch`'s complaint.
pub fn sbatch(sub: &Submission<'_>, script: &Path) -> Result<JobId, String> {
    let args = sub.args(script);
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=4 {
        let out = Command::new("sbatch")
            .args(&args)
            .output()
            .map_err(|e| format!("cannot run sbatch: {e} (is Slurm installed and on PATH?)"))?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            let id = text
                .trim()
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(id);
            }
            return Err(format!("sbatch printed no job id: {:?}", text.trim()));
        }
        if attempt < 4 && transient(&stderr) {
            std::thread::sleep(delay);
            delay *= 2;
            continue;
        }
        return Err(format!("sbatch refused the job: {stderr}"));
    }
    Err("sbatch kept failing".into())
}

/// Cancels jobs; an error is returned as text (the caller logs it).
pub fn scancel(ids: &[JobId]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let out = Command::new("scancel")
        .args(ids)
        .output()
        .map_err(|e| format!("cannot run scancel: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scancel {}: {}",
            ids.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_map_to_sbatch_flags() {
        let r = Resources {
            cpus: Some(4),
            mem: Some("16G".into()),
            gpus: Some(1),
            time: Some("2:00:00".into()),
            partition: Some("gpu".into()),
        };
        assert_eq!(
            resource_flags(&r),
            [
                "--cpus-per-task=4",
                "--mem=16G",
                "--gres=gpu:1",
                "--time=2:00:00",
                "--partition=gpu"
            ]
        );
        let none = Resources {
            gpus: Some(0),
            ..Default::default()
        };
        assert!(resource_flags(&none).is_empty());
    }

    #[test]
    fn the_script_quotes_paths() {
        let s = script(Path::new("/opt/re pro"), Path::new("/s/it's/job.json"));
        assert!(
            s.contains(r"exec '/opt/re pro' __exec-stage '/s/it'\''s/job.json'"),
            "{s}"
        );
    }
}
