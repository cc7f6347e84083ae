//! Putting bytes into `objects/` (ARCHITECTURE.md, "The store"). Every object
//! is a file the store made itself — written from memory, or copied from an
//! opened descriptor (`store/copy.rs`) — and hashed from that copy; a stage's
//! outputs come in through `store/capture.rs`. An existing object is rehashed
//! before it is trusted: a damaged one is replaced, atomically.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::copy::{Copied, copy_in};
use super::error::{IoContext, StoreError};
use super::objects::{Entry, Store};

static INCOMING: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// A fresh name under `tmp/` for bytes on their way into `objects/`.
    fn incoming(&self) -> PathBuf {
        let n = INCOMING.fetch_add(1, Ordering::Relaxed);
        self.root()
            .join("tmp")
            .join(format!(".incoming-{}-{n}", std::process::id()))
    }

    /// Takes one regular file the store wrote itself (a download, a
    /// repaired copy): opened without following a link and without blocking,
    /// refused unless `fstat` says it is a regular file, copied from that
    /// descriptor and hashed from the copy. The source is left as it was.
    pub fn put_file(&self, src: &Path) -> Result<Entry, StoreError> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(src)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => StoreError::Refused {
                    path: src.to_path_buf(),
                    message: "is a symbolic link".into(),
                },
                _ => StoreError::Io {
                    path: src.to_path_buf(),
                    source: e,
                },
            })?;
        let incoming = self.incoming();
        let copied = copy_in(&f, &incoming, src).inspect_err(|_| {
            let _ = fs::remove_file(&incoming);
        })?;
        self.settle(&copied)
    }

    /// Stores bytes as an object.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Entry, StoreError> {
        let incoming = self.incoming();
        let written = (|| {
            let mut f = File::create_new(&incoming)?;
            io::Write::write_all(&mut f, bytes)?;
            f.sync_all()?;
            f.set_permissions(fs::Permissions::from_mode(0o444))
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&incoming);
            return Err(StoreError::Io {
                path: incoming,
                source: e,
            });
        }
        self.settle(&Copied {
            path: incoming,
            digest: blake3::hash(bytes).to_hex().to_string(),
            size: bytes.len() as u64,
        })
    }

    /// Moves a hashed, read-only copy the store owns to its object path,
    /// unless an intact object is already there (a damaged one is replaced,
    /// atomically). The copy is gone afterwards either way.
    pub(crate) fn settle(&self, c: &Copied) -> Result<Entry, StoreError> {
        let dest = self.object_path(&c.digest);
        let intact = fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file())
            && crate::util::hash::hash_file(&dest).is_ok_and(|(d, _)| d == c.digest);
        if intact {
            fs::remove_file(&c.path).at(&c.path)?;
        } else {
            let moved = (|| {
                if let Some(parent) = dest.parent() {
                    fs::create_dir_all(parent)?;
                }
                fs::rename(&c.path, &dest)
            })();
            if let Err(e) = moved {
                let _ = fs::remove_file(&c.path);
                return Err(StoreError::Io {
                    path: dest,
                    source: e,
                });
            }
        }
        Ok(Entry {
            digest: c.digest.clone(),
            size: c.size,
            dir: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, symlink};

    fn store(d: &Path) -> Store {
        Store::open(&d.join("s")).unwrap()
    }

    #[test]
    fn a_file_is_copied_and_its_source_keeps_its_bytes_and_mode() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let outside = d.path().join("outside.txt");
        fs::write(&outside, b"shared").unwrap();
        let e = s.put_file(&outside).unwrap();
        let mode = fs::metadata(&outside).unwrap().permissions().mode();
        assert_eq!(mode & 0o200, 0o200, "the source stays writable");
        let obj = fs::metadata(s.object_path(&e.digest)).unwrap();
        assert_eq!(obj.nlink(), 1, "the object owns its inode");
        fs::write(&outside, b"edited").unwrap();
        s.verify_object(&e.digest).unwrap();
    }

    #[test]
    fn a_link_or_fifo_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        fs::write(d.path().join("t"), b"x").unwrap();
        symlink(d.path().join("t"), d.path().join("l")).unwrap();
        let err = s.put_file(&d.path().join("l")).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let fifo = d.path().join("p");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = s.put_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(s.all_objects().unwrap().is_empty());
        let left = fs::read_dir(s.root().join("tmp")).unwrap().count();
        assert_eq!(left, 0, "no copy is left under tmp/");
    }

    #[test]
    fn a_damaged_object_is_replaced_when_the_same_bytes_come_again() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let e = s.put_bytes(b"payload").unwrap();
        let p = s.object_path(&e.digest);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&p, b"paylobd").unwrap();
        assert!(s.verify_object(&e.digest).is_err());
        s.put_bytes(b"payload").unwrap();
        s.verify_object(&e.digest).unwrap();
    }
}
