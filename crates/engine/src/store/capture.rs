//! Capturing a stage's outputs (ARCHITECTURE.md, "The store"). After the
//! stage exits, its staging directory is moved — one `rename` — into a fresh
//! 0700 directory under the store's `tmp/` ([`Store::seal`]): a process outside
//! the stage's tree that still holds the old path (a container, a daemon, a
//! job on another host) no longer reaches it. Everything is then read through
//! directory descriptors: each entry is opened with `openat(O_NOFOLLOW |
//! O_NONBLOCK)` and judged by `fstat` on what was opened, so a link swapped in
//! at any moment is refused, never followed. Every object is a copy made from
//! the opened descriptor (`store/copy.rs`) and hashed from that copy; nothing
//! of the stage's is ever renamed or chmod-ed by path after the check.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags};

use super::copy::{Copied, copy_in};
use super::error::{IoContext, StoreError};
use super::objects::{Entry, Manifest, Store, make_writable, manifest_bytes};

static PRIVATE: AtomicU64 = AtomicU64::new(0);

/// A directory under the store's `tmp/` that only this process uses (mode
/// 0700), removed with everything in it when dropped.
#[derive(Debug)]
pub(crate) struct Private(PathBuf);

impl Private {
    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        make_writable(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl Store {
    /// A new empty 0700 directory `tmp/.<what>-<pid>-<n>`.
    pub(crate) fn private_dir(&self, what: &str) -> Result<Private, StoreError> {
        let n = PRIVATE.fetch_add(1, Ordering::Relaxed);
        let p = self
            .root()
            .join("tmp")
            .join(format!(".{what}-{}-{n}", std::process::id()));
        fs::DirBuilder::new().mode(0o700).create(&p).at(&p)?;
        Ok(Private(p))
    }

    /// Moves the staging directory `out` (under this store's `tmp/`, its
    /// stage finished) into a new 0700 directory and opens it without
    /// following a link. Read its outputs through the returned [`Sealed`].
    pub fn seal(&self, out: &Path) -> Result<Sealed, StoreError> {
        let holder = self.private_dir("sealed")?;
        let moved = holder.path().join("out");
        fs::rename(out, &moved).at(out)?;
        let root = rustix::fs::openat(
            CWD,
            &moved,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => StoreError::Refused {
                path: PathBuf::from("$OUT"),
                message: "is no longer a directory (replaced from outside the stage)".into(),
            },
            e => StoreError::Io {
                path: moved.clone(),
                source: e.into(),
            },
        })?;
        crate::util::failpoint::pause("capture-sealed");
        Ok(Sealed { holder, root })
    }
}

/// A stage's staging directory after [`Store::seal`]: read only through
/// descriptors opened from its root, never by path. Dropping it deletes it.
#[derive(Debug)]
pub struct Sealed {
    holder: Private,
    root: OwnedFd,
}

/// Describes a file type the store refuses, or `None` for files and directories.
fn refused_kind(ft: FileType) -> Option<&'static str> {
    match ft {
        FileType::RegularFile | FileType::Directory => None,
        FileType::Symlink => Some("a symbolic link"),
        FileType::Fifo => Some("a FIFO"),
        FileType::Socket => Some("a socket"),
        FileType::BlockDevice | FileType::CharacterDevice => Some("a device"),
        FileType::Unknown => Some("of an unknown type"),
    }
}

fn refusal(shown: &Path, what: &str, target: Option<PathBuf>) -> StoreError {
    let target = target
        .map(|t| format!(" (to {})", t.display()))
        // default: no link target: the message has no `(to …)` part.
        .unwrap_or_default();
    StoreError::Refused {
        path: shown.to_path_buf(),
        message: format!(
            "is {what}{target}; outputs may hold only regular files and directories \
             (copy the bytes instead, e.g. `cp -L`)"
        ),
    }
}

fn io_at(shown: &Path) -> impl Fn(rustix::io::Errno) -> StoreError + '_ {
    move |e| StoreError::Io {
        path: shown.to_path_buf(),
        source: io::Error::from(e),
    }
}

/// Opens the entry `name` of `dir` without following a link and without
/// blocking, refusing anything but a regular file or a directory: `lstat`
/// first (a device or FIFO is never opened when seen in time), then `fstat`
/// on what was opened (which is what counts).
fn open_entry(
    dir: BorrowedFd<'_>,
    name: &CStr,
    shown: &Path,
) -> Result<(OwnedFd, FileType), StoreError> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io_at(shown))?;
    let ft = FileType::from_raw_mode(st.st_mode);
    if let Some(what) = refused_kind(ft) {
        let target = (ft == FileType::Symlink)
            .then(|| rustix::fs::readlinkat(dir, name, Vec::new()).ok())
            .flatten()
            .map(|t| PathBuf::from(OsStr::from_bytes(t.as_bytes())));
        return Err(refusal(shown, what, target));
    }
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => refusal(shown, "a symbolic link", None),
        rustix::io::Errno::NXIO => refusal(shown, "a socket", None),
        e => io_at(shown)(e),
    })?;
    let ft = FileType::from_raw_mode(rustix::fs::fstat(&fd).map_err(io_at(shown))?.st_mode);
    if let Some(what) = refused_kind(ft) {
        return Err(refusal(shown, what, None));
    }
    Ok((fd, ft))
}

fn cname(name: &OsStr, shown: &Path) -> Result<CString, StoreError> {
    CString::new(name.as_bytes()).map_err(|_| StoreError::Refused {
        path: shown.to_path_buf(),
        message: "holds a NUL byte".into(),
    })
}

impl Sealed {
    /// Opens the declared output `rel` (every component a real directory,
    /// the last a regular file or a directory).
    fn open(&self, rel: &str) -> Result<(OwnedFd, FileType), StoreError> {
        let mut shown = PathBuf::new();
        let mut current: Option<(OwnedFd, FileType)> = None;
        for c in Path::new(rel).components() {
            let Component::Normal(name) = c else {
                return Err(StoreError::Refused {
                    path: PathBuf::from(rel),
                    message: "is not a plain relative path".into(),
                });
            };
            shown.push(name);
            let dir = match &current {
                None => self.root.as_fd(),
                Some((fd, FileType::Directory)) => fd.as_fd(),
                Some(_) => {
                    return Err(StoreError::Refused {
                        path: shown.parent().unwrap_or(&shown).to_path_buf(),
                        message: "is not a directory".into(),
                    });
                }
            };
            current = Some(open_entry(dir, &cname(name, &shown)?, &shown)?);
        }
        current.ok_or_else(|| StoreError::Refused {
            path: PathBuf::from(rel),
            message: "is empty, not a path".into(),
        })
    }

    /// Whether the output `rel` exists (as anything, a link included).
    pub fn has(&self, rel: &str) -> bool {
        rustix::fs::statat(&self.root, rel, AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    /// Reads a small regular file `rel` (a metrics file) of at most `limit`
    /// bytes, with the same checks as an output.
    pub fn read_small(&self, rel: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        let (fd, ft) = self.open(rel)?;
        if ft == FileType::Directory {
            return Err(StoreError::Refused {
                path: PathBuf::from(rel),
                message: "is a directory, not a file".into(),
            });
        }
        let f = File::from(fd);
        let len = f.metadata().at(Path::new(rel))?.len();
        if len > limit {
            return Err(StoreError::Refused {
                path: PathBuf::from(rel),
                message: format!("is {len} bytes; at most {limit} are read"),
            });
        }
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::Read::take(f, limit), &mut bytes).at(Path::new(rel))?;
        Ok(bytes)
    }

    /// Stores the declared output `rel` (a file or a directory tree) in
    /// `store`: every file copied from its descriptor into a private
    /// directory and hashed there; only when the whole output passed are the
    /// copies moved into `objects/`, so a refused output stores nothing.
    pub fn put_output(&self, store: &Store, rel: &str) -> Result<Entry, StoreError> {
        let (fd, ft) = self.open(rel)?;
        let incoming = store.private_dir("incoming")?;
        let mut n = 0usize;
        if ft != FileType::Directory {
            let c = copy_in(&File::from(fd), &incoming.path().join("0"), Path::new(rel))?;
            return store.settle(&c);
        }
        let mut copies = BTreeMap::new();
        walk(
            fd.as_fd(),
            "",
            Path::new(rel),
            incoming.path(),
            &mut n,
            &mut copies,
        )?;
        let mut manifest = Manifest::default();
        let mut size = 0u64;
        for (name, c) in &copies {
            let e = store.settle(c)?;
            size = size.saturating_add(e.size);
            manifest.files.insert(name.clone(), e);
        }
        let m = store.put_bytes(&manifest_bytes(&manifest))?;
        Ok(Entry {
            digest: m.digest,
            size,
            dir: true,
        })
    }

    /// The 0700 directory holding the sealed tree (for tests and messages).
    pub fn holder(&self) -> &Path {
        self.holder.path()
    }
}

/// Copies every regular file below the directory `dir` into `incoming`,
/// listing them as `relative path → copy`.
fn walk(
    dir: BorrowedFd<'_>,
    prefix: &str,
    shown: &Path,
    incoming: &Path,
    n: &mut usize,
    out: &mut BTreeMap<String, Copied>,
) -> Result<(), StoreError> {
    let mut names: Vec<CString> = Vec::new();
    for e in Dir::read_from(dir).map_err(io_at(shown))? {
        let e = e.map_err(io_at(shown))?;
        let name = e.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    names.sort();
    for name in names {
        let text = String::from_utf8_lossy(name.to_bytes()).into_owned();
        let here = shown.join(&text);
        let rel = if prefix.is_empty() {
            text
        } else {
            format!("{prefix}/{text}")
        };
        let (fd, ft) = open_entry(dir, &name, &here)?;
        if ft == FileType::Directory {
            walk(fd.as_fd(), &rel, &here, incoming, n, out)?;
        } else {
            let dest = incoming.join(n.to_string());
            *n += 1;
            out.insert(rel, copy_in(&File::from(fd), &dest, &here)?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn setup() -> (tempfile::TempDir, Store, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("s")).unwrap();
        let out = s.new_tmp("t").unwrap().join("out");
        fs::create_dir_all(&out).unwrap();
        (d, s, out)
    }

    #[test]
    fn a_tree_is_copied_and_the_staging_directory_is_gone_from_its_path() {
        let (_d, s, out) = setup();
        fs::create_dir_all(out.join("t/sub")).unwrap();
        fs::write(out.join("t/a.txt"), b"hello").unwrap();
        fs::write(out.join("t/sub/b.txt"), b"world").unwrap();
        let sealed = s.seal(&out).unwrap();
        assert!(!out.exists(), "the staging path no longer leads anywhere");
        let mode = fs::metadata(sealed.holder()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let e = sealed.put_output(&s, "t").unwrap();
        assert!(e.dir && e.size == 10);
        let m = s.manifest(&e.digest).unwrap();
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["a.txt", "sub/b.txt"]);
        let holder = sealed.holder().to_path_buf();
        drop(sealed);
        assert!(!holder.exists());
    }

    #[test]
    fn an_object_is_its_own_inode_so_a_writer_holding_the_file_cannot_change_it() {
        let (_d, s, out) = setup();
        fs::write(out.join("o"), b"data").unwrap();
        let mut held = fs::OpenOptions::new()
            .append(true)
            .open(out.join("o"))
            .unwrap();
        let sealed = s.seal(&out).unwrap();
        let e = sealed.put_output(&s, "o").unwrap();
        io::Write::write_all(&mut held, b"EVIL").unwrap();
        s.verify_object(&e.digest).unwrap();
        let obj = fs::metadata(s.object_path(&e.digest)).unwrap();
        assert_eq!(obj.nlink(), 1);
        assert_eq!(obj.permissions().mode() & 0o777, 0o444);
    }

    #[test]
    fn links_fifos_and_linked_parents_are_refused_and_nothing_is_stored() {
        let (d, s, out) = setup();
        let victim = d.path().join("victim");
        fs::create_dir_all(&victim).unwrap();
        fs::write(victim.join("f1.txt"), b"precious").unwrap();
        fs::create_dir_all(out.join("d")).unwrap();
        fs::write(out.join("d/a"), b"a").unwrap();
        symlink(&victim, out.join("d/z")).unwrap();
        symlink(&victim, out.join("top")).unwrap();
        let fifo = out.join("p");
        let c = CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let sealed = s.seal(&out).unwrap();
        let err = sealed.put_output(&s, "d").unwrap_err().to_string();
        assert!(
            err.contains("d/z") && err.contains("symbolic link"),
            "{err}"
        );
        let err = sealed.put_output(&s, "top").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = sealed.put_output(&s, "top/f1.txt").unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = sealed.put_output(&s, "p").unwrap_err().to_string();
        assert!(err.contains("FIFO"), "{err}");
        let err = sealed.read_small("p", 10).unwrap_err().to_string();
        assert!(err.contains("FIFO"), "{err}");
        assert!(sealed.put_output(&s, "../x").is_err());
        assert_eq!(fs::read(victim.join("f1.txt")).unwrap(), b"precious");
        let mode = fs::metadata(victim.join("f1.txt")).unwrap().permissions();
        assert_eq!(mode.mode() & 0o200, 0o200, "the victim keeps its mode");
        assert!(s.all_objects().unwrap().is_empty());
    }

    #[test]
    fn a_link_swapped_in_after_the_seal_is_refused_not_followed() {
        let (d, s, out) = setup();
        let victim = d.path().join("victim");
        fs::create_dir_all(&victim).unwrap();
        fs::write(victim.join("f"), b"precious").unwrap();
        fs::create_dir_all(out.join("d/s1")).unwrap();
        fs::write(out.join("d/s1/f"), b"mine").unwrap();
        // An outside writer holding the directory open swaps after the seal.
        let held = File::open(out.join("d")).unwrap();
        let sealed = s.seal(&out).unwrap();
        rustix::fs::renameat(&held, "s1", &held, "s1.away").unwrap();
        rustix::fs::symlinkat(&victim, &held, "s1").unwrap();
        let err = sealed.put_output(&s, "d").unwrap_err().to_string();
        assert!(
            err.contains("d/s1") && err.contains("symbolic link"),
            "{err}"
        );
        assert!(s.all_objects().unwrap().is_empty());
        assert_eq!(fs::read(victim.join("f")).unwrap(), b"precious");
    }
}
