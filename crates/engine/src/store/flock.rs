//! The store lock: an exclusive `flock` on `artifacts/LOCK`, held by every
//! writer for its whole run and released by the kernel even on `kill -9`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::{IoContext, StoreError};

/// A held store lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    path: PathBuf,
}

/// How to behave when the lock is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Wait, after printing a message.
    Yes,
    /// Fail at once with [`StoreError::Busy`].
    No,
}

impl StoreLock {
    /// Takes the exclusive lock of the store at `root`.
    pub fn exclusive(root: &Path, wait: Wait) -> Result<StoreLock, StoreError> {
        let path = root.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() {
                    String::new()
                } else {
                    format!(" ({})", holder.trim())
                };
                if wait == Wait::No {
                    return Err(StoreError::Busy { path, holder });
                }
                eprintln!(
                    "repro: waiting for the store lock {}{holder}…",
                    path.display()
                );
                file.lock().at(&path)?;
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::Io { path, source: e }),
        }
        let me = format!(
            "pid {} on {}",
            std::process::id(),
            crate::util::machine::host()
        );
        file.set_len(0).at(&path)?;
        file.seek(SeekFrom::Start(0)).at(&path)?;
        file.write_all(me.as_bytes()).at(&path)?;
        Ok(StoreLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
