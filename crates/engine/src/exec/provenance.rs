//! Facts about the machine a stage ran on, for records (never for keys).

use std::path::Path;
use std::process::Command;

pub use crate::util::machine::{cpu_model, host};

/// This machine's CPU for a record, read once per process.
pub fn cpu_id() -> crate::util::machine::CpuId {
    static CPU: std::sync::OnceLock<crate::util::machine::CpuId> = std::sync::OnceLock::new();
    CPU.get_or_init(crate::util::machine::CpuId::read).clone()
}

/// The git revision of the repository holding `dir`, with `-dirty` when the
/// work tree has changes; `None` outside a repository.
pub fn git_revision(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let rev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let dirty = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{rev}-dirty") } else { rev })
}

/// `repro`'s version.
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
