//! Taking files into the store without trusting them (ARCHITECTURE.md,
//! "The store"). A stage's output is examined with `lstat` before anything
//! moves: a symbolic link, FIFO, socket or device anywhere inside it is
//! refused, so capturing never follows a link out of the staging directory.
//! A file with one link is renamed into the store's own `tmp/` (it is ours:
//! the stage's process tree is gone); a file with more links is copied, so the
//! other names keep their bytes and mode. Every object is hashed from the copy
//! the store owns, and an existing object is rehashed before it is trusted:
//! a damaged one is replaced.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{IoContext, StoreError};
use super::objects::{Entry, Manifest, Store, manifest_bytes};

static INCOMING: AtomicU64 = AtomicU64::new(0);

/// What one declared output holds, checked and listed before anything moves.
#[derive(Debug)]
struct Scanned {
    /// Regular files: path relative to the output (empty for a file output) → absolute path.
    files: BTreeMap<String, PathBuf>,
    /// Whether the output is a directory.
    dir: bool,
}

/// Describes a file type the store refuses, or `None` for files and directories.
fn refused_kind(ft: &fs::FileType) -> Option<&'static str> {
    if ft.is_symlink() {
        Some("a symbolic link")
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_block_device() || ft.is_char_device() {
        Some("a device")
    } else {
        None
    }
}

fn refuse(root: &Path, path: &Path, what: &str) -> StoreError {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let target = fs::read_link(path)
        .map(|t| format!(" (to {})", t.display()))
        .unwrap_or_default();
    StoreError::Refused {
        path: rel.to_path_buf(),
        message: format!(
            "is {what}{target}; outputs may hold only regular files and directories \
             (copy the bytes instead, e.g. `cp -L`)"
        ),
    }
}

/// Walks `root/rel` with `lstat` only: every component must be a real
/// directory, the output a regular file or a directory tree of them.
fn scan(root: &Path, rel: &str) -> Result<Scanned, StoreError> {
    let meta = fs::symlink_metadata(root).at(root)?;
    if !meta.is_dir() {
        return Err(refuse(
            root,
            root,
            refused_kind(&meta.file_type()).unwrap_or("not a directory"),
        ));
    }
    let mut path = root.to_path_buf();
    let parts: Vec<Component> = Path::new(rel).components().collect();
    for (i, c) in parts.iter().enumerate() {
        let Component::Normal(name) = c else {
            return Err(StoreError::Refused {
                path: PathBuf::from(rel),
                message: "is not a plain relative path".into(),
            });
        };
        path.push(name);
        let meta = fs::symlink_metadata(&path).at(&path)?;
        let ft = meta.file_type();
        if let Some(what) = refused_kind(&ft) {
            return Err(refuse(root, &path, what));
        }
        if i + 1 < parts.len() && !ft.is_dir() {
            return Err(StoreError::Refused {
                path: path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
                message: "is not a directory".into(),
            });
        }
    }
    let mut files = BTreeMap::new();
    if fs::symlink_metadata(&path).at(&path)?.is_dir() {
        walk(root, &path, &path, &mut files)?;
        Ok(Scanned { files, dir: true })
    } else {
        files.insert(String::new(), path);
        Ok(Scanned { files, dir: false })
    }
}

fn walk(
    root: &Path,
    top: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, PathBuf>,
) -> Result<(), StoreError> {
    for e in fs::read_dir(dir).at(dir)? {
        let e = e.at(dir)?;
        let p = e.path();
        // DirEntry::file_type does not follow links.
        let ft = e.file_type().at(&p)?;
        if let Some(what) = refused_kind(&ft) {
            return Err(refuse(root, &p, what));
        }
        if ft.is_dir() {
            walk(root, top, &p, out)?;
        } else {
            let rel = p.strip_prefix(top).unwrap_or(&p);
            out.insert(rel.to_string_lossy().into_owned(), p);
        }
    }
    Ok(())
}

impl Store {
    /// A fresh name under `tmp/` for bytes on their way into `objects/`.
    fn incoming(&self) -> PathBuf {
        let n = INCOMING.fetch_add(1, Ordering::Relaxed);
        self.root()
            .join("tmp")
            .join(format!(".incoming-{}-{n}", std::process::id()))
    }

    /// Stores the declared output `rel` of a staging directory `out` (a file
    /// or a directory tree). Everything is checked before anything moves, so
    /// a refused output leaves the staging directory as it was.
    pub fn put_output(&self, out: &Path, rel: &str) -> Result<Entry, StoreError> {
        let scanned = scan(out, rel)?;
        if !scanned.dir {
            let (_, p) = scanned
                .files
                .iter()
                .next()
                .ok_or_else(|| StoreError::Refused {
                    path: PathBuf::from(rel),
                    message: "vanished while it was stored".into(),
                })?;
            return self.put_file(p);
        }
        let mut manifest = Manifest::default();
        let mut size = 0;
        for (name, p) in &scanned.files {
            let e = self.put_file(p)?;
            size += e.size;
            manifest.files.insert(name.clone(), e);
        }
        let m = self.put_bytes(&manifest_bytes(&manifest))?;
        Ok(Entry {
            digest: m.digest,
            size,
            dir: true,
        })
    }

    /// Takes one regular file (checked with `lstat` again here; a link or
    /// anything else is refused): renamed when it has a single link, copied
    /// otherwise; hashed from the store's copy.
    pub fn put_file(&self, src: &Path) -> Result<Entry, StoreError> {
        let meta = fs::symlink_metadata(src).at(src)?;
        if !meta.file_type().is_file() {
            let what = refused_kind(&meta.file_type()).unwrap_or("not a regular file");
            return Err(StoreError::Refused {
                path: src.to_path_buf(),
                message: format!("is {what}"),
            });
        }
        let incoming = self.incoming();
        let renamed = meta.nlink() == 1 && fs::rename(src, &incoming).is_ok();
        if !renamed {
            copy_nofollow(src, &incoming)?;
        }
        self.settle(&incoming)
    }

    /// Stores bytes as an object.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Entry, StoreError> {
        let incoming = self.incoming();
        let mut f = File::create_new(&incoming).at(&incoming)?;
        io::Write::write_all(&mut f, bytes).at(&incoming)?;
        f.sync_all().at(&incoming)?;
        self.settle(&incoming)
    }

    /// Hashes a store-owned file under `tmp/` and moves it to its object
    /// path, unless an intact object is already there (a damaged one is
    /// replaced, atomically).
    fn settle(&self, incoming: &Path) -> Result<Entry, StoreError> {
        let (digest, size) = crate::util::hash::hash_file(incoming).at(incoming)?;
        fs::set_permissions(incoming, fs::Permissions::from_mode(0o444)).at(incoming)?;
        let dest = self.object_path(&digest);
        let intact = fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file())
            && crate::util::hash::hash_file(&dest).is_ok_and(|(d, _)| d == digest);
        if intact {
            fs::remove_file(incoming).at(incoming)?;
        } else {
            let parent = dest.parent().unwrap_or(self.root());
            fs::create_dir_all(parent).at(parent)?;
            if let Err(e) = fs::rename(incoming, &dest) {
                let _ = fs::remove_file(incoming);
                return Err(StoreError::Io {
                    path: dest,
                    source: e,
                });
            }
        }
        Ok(Entry {
            digest,
            size,
            dir: false,
        })
    }
}

/// Reads a small regular file `root/rel` of a staging directory (a metrics
/// file) with the same checks as an output: no component may be a link, and
/// the file must be a regular file of at most `limit` bytes.
pub fn read_staged(root: &Path, rel: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
    let scanned = scan(root, rel)?;
    if scanned.dir {
        return Err(StoreError::Refused {
            path: PathBuf::from(rel),
            message: "is a directory, not a file".into(),
        });
    }
    let path = root.join(rel);
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .at(&path)?;
    let len = f.metadata().at(&path)?.len();
    if len > limit {
        return Err(StoreError::Refused {
            path: PathBuf::from(rel),
            message: format!("is {len} bytes; at most {limit} are read"),
        });
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(f, limit), &mut bytes).at(&path)?;
    Ok(bytes)
}

/// Streams `src` (opened without following a link) into a new file `dest`.
fn copy_nofollow(src: &Path, dest: &Path) -> Result<(), StoreError> {
    let mut input = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(src)
        .at(src)?;
    if !input.metadata().at(src)?.is_file() {
        return Err(StoreError::Refused {
            path: src.to_path_buf(),
            message: "is not a regular file".into(),
        });
    }
    let mut output = File::create_new(dest).at(dest)?;
    io::copy(&mut input, &mut output).at(dest)?;
    output.sync_all().at(dest)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn store(d: &Path) -> Store {
        Store::open(&d.join("s")).unwrap()
    }

    #[test]
    fn a_tree_is_stored_and_its_files_are_moved() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let out = d.path().join("out");
        fs::create_dir_all(out.join("t/sub")).unwrap();
        fs::write(out.join("t/a.txt"), b"hello").unwrap();
        fs::write(out.join("t/sub/b.txt"), b"world").unwrap();
        let e = s.put_output(&out, "t").unwrap();
        assert!(e.dir && e.size == 10);
        assert!(!out.join("t/a.txt").exists(), "single-link files are moved");
        let m = s.manifest(&e.digest).unwrap();
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["a.txt", "sub/b.txt"]);
    }

    #[test]
    fn links_fifos_and_linked_parents_are_refused_before_anything_moves() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let victim = d.path().join("victim");
        fs::create_dir_all(&victim).unwrap();
        fs::write(victim.join("f1.txt"), b"precious").unwrap();
        let out = d.path().join("out");
        fs::create_dir_all(out.join("d")).unwrap();
        fs::write(out.join("d/a"), b"a").unwrap();
        symlink(&victim, out.join("d/z")).unwrap();
        symlink(&victim, out.join("top")).unwrap();
        let err = s.put_output(&out, "d").unwrap_err().to_string();
        assert!(
            err.contains("d/z") && err.contains("symbolic link"),
            "{err}"
        );
        assert!(out.join("d/a").exists(), "nothing moved before the refusal");
        let err = s.put_output(&out, "top").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = s.put_output(&out, "top/f1.txt").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let fifo = out.join("p");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = s.put_output(&out, "p").unwrap_err().to_string();
        assert!(err.contains("FIFO"), "{err}");
        assert_eq!(fs::read(victim.join("f1.txt")).unwrap(), b"precious");
        assert!(s.all_objects().unwrap().is_empty());
    }

    #[test]
    fn a_hard_linked_file_is_copied_and_keeps_its_mode() {
        let d = tempfile::tempdir().unwrap();
        let s = store(d.path());
        let outside = d.path().join("outside.txt");
        fs::write(&outside, b"shared").unwrap();
        let out = d.path().join("out");
        fs::create_dir_all(&out).unwrap();
        fs::hard_link(&outside, out.join("x")).unwrap();
        let e = s.put_output(&out, "x").unwrap();
        let mode = fs::metadata(&outside).unwrap().permissions().mode();
        assert_eq!(mode & 0o200, 0o200, "the outside name stays writable");
        let obj = fs::metadata(s.object_path(&e.digest)).unwrap();
        assert_eq!(obj.nlink(), 1, "the object owns its inode");
        fs::write(&outside, b"edited").unwrap();
        s.verify_object(&e.digest).unwrap();
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
