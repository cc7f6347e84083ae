//! The content-addressed object store: immutable, read-only blobs named by
//! the blake3 of their bytes, and directory trees stored as manifests.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::error::{IoContext, StoreError};

/// A stored output: a file, or a directory given by its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Object digest (for a directory: its manifest's digest).
    pub digest: String,
    /// Bytes (for a directory: the sum over its files).
    pub size: u64,
    /// Whether this is a directory manifest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
}

/// A directory: relative path → file entry, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Files below the directory.
    pub files: BTreeMap<String, Entry>,
}

impl Manifest {
    /// The first path that is not a plain relative path below the directory
    /// (`../x`, `/etc/x`, `a/./b`, empty), if any: such a manifest is refused
    /// everywhere it is read.
    pub fn path_leaving(&self) -> Option<&str> {
        self.files.keys().map(String::as_str).find(|rel| {
            rel.is_empty()
                || Path::new(rel)
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
        })
    }
}

/// A store rooted at a directory (ARCHITECTURE.md, "The store").
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

static RUN_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// Opens (creating if needed) the store at `root`.
    /// The root is made absolute and canonical once it exists, so every path
    /// the store hands out — to a command's environment above all — is
    /// absolute and normalised (no `deeper/../../st`; issue 25, item 11).
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let root = &std::path::absolute(root).at(root)?;
        for sub in ["objects", "records", "logs", "tmp"] {
            fs::create_dir_all(root.join(sub)).at(&root.join(sub))?;
        }
        Ok(Store {
            root: fs::canonicalize(root).at(root)?,
        })
    }

    /// Opens an existing store without creating anything (read-only commands).
    pub fn open_existing(root: &Path) -> Store {
        Store {
            root: fs::canonicalize(root)
                .or_else(|_| std::path::absolute(root))
                .unwrap_or_else(|_| root.to_path_buf()),
        }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of an object.
    pub fn object_path(&self, digest: &str) -> PathBuf {
        let (a, b) = digest.split_at(2.min(digest.len()));
        self.root.join("objects").join(a).join(b)
    }

    /// Whether an object is present (not rehashed).
    pub fn has(&self, digest: &str) -> bool {
        self.object_path(digest).is_file()
    }

    /// A fresh directory under `tmp/` for one stage run.
    pub fn new_tmp(&self, label: &str) -> Result<PathBuf, StoreError> {
        let n = RUN_COUNTER.fetch_add(1, Ordering::Relaxed);
        let safe: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let dir = self.root.join("tmp").join(format!(
            "{}-{}-{n}-{safe}",
            crate::util::time::stamp(crate::util::time::now_unix()),
            std::process::id()
        ));
        fs::create_dir_all(&dir).at(&dir)?;
        Ok(dir)
    }

    /// Opens an object for reading without following a link and without
    /// blocking (a FIFO planted in `objects/` must not hang a reader), and
    /// refuses it unless `fstat` says it is a regular file.
    pub fn open_object(&self, digest: &str) -> Result<File, StoreError> {
        let path = self.object_path(digest);
        match crate::util::hash::open_regular(&path) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Missing {
                digest: digest.to_string(),
                path,
            }),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// Reads an object, refusing it if its bytes no longer match its name.
    pub fn read_verified(&self, digest: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.object_path(digest);
        let mut f = self.open_object(digest)?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).at(&path)?;
        let actual = blake3::hash(&bytes).to_hex().to_string();
        if actual != digest {
            return Err(StoreError::Corrupt {
                digest: digest.to_string(),
                actual,
                path,
            });
        }
        Ok(bytes)
    }

    /// Rehashes an object in place, streaming.
    pub fn verify_object(&self, digest: &str) -> Result<(), StoreError> {
        let path = self.object_path(digest);
        let mut f = self.open_object(digest)?;
        let mut h = blake3::Hasher::new();
        io::copy(&mut f, &mut h).at(&path)?;
        let actual = h.finalize().to_hex().to_string();
        if actual != digest {
            return Err(StoreError::Corrupt {
                digest: digest.to_string(),
                actual,
                path,
            });
        }
        Ok(())
    }

    /// Reads a directory manifest.
    pub fn manifest(&self, digest: &str) -> Result<Manifest, StoreError> {
        let bytes = self.read_verified(digest)?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Malformed {
            path: self.object_path(digest),
            message: e.to_string(),
        })
    }

    /// Copies an entry out of the store to `dest`, rehashing every byte read.
    pub fn materialize(&self, entry: &Entry, dest: &Path) -> Result<(), StoreError> {
        if entry.dir {
            fs::create_dir_all(dest).at(dest)?;
            let manifest = self.manifest(&entry.digest)?;
            if let Some(rel) = manifest.path_leaving() {
                return Err(StoreError::Malformed {
                    path: self.object_path(&entry.digest),
                    message: format!("bad path `{rel}`"),
                });
            }
            for (rel, e) in manifest.files {
                self.materialize(&e, &dest.join(rel))?;
            }
            return Ok(());
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).at(parent)?;
        }
        let src = self.object_path(&entry.digest);
        let mut input = self.open_object(&entry.digest)?;
        let mut out = File::create(dest).at(dest)?;
        let mut h = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input.read(&mut buf).at(&src)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n]).at(dest)?;
        }
        let actual = h.finalize().to_hex().to_string();
        if actual != entry.digest {
            return Err(StoreError::Corrupt {
                digest: entry.digest.clone(),
                actual,
                path: src,
            });
        }
        fs::set_permissions(dest, fs::Permissions::from_mode(0o444)).at(dest)?;
        Ok(())
    }

    /// Every object digest present in the store.
    pub fn all_objects(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let objects = self.root.join("objects");
        let Ok(rd) = fs::read_dir(&objects) else {
            return Ok(out);
        };
        for sub in rd {
            let sub = sub.at(&objects)?;
            if !sub.file_type().at(&sub.path())?.is_dir() {
                continue;
            }
            let prefix = sub.file_name().to_string_lossy().into_owned();
            for f in fs::read_dir(sub.path()).at(&sub.path())? {
                let f = f.at(&sub.path())?;
                let name = f.file_name().to_string_lossy().into_owned();
                if !name.contains('.') {
                    out.push(format!("{prefix}{name}"));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes an object (garbage collection only).
    pub fn remove_object(&self, digest: &str) -> Result<u64, StoreError> {
        let p = self.object_path(digest);
        let size = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(&p).at(&p)?;
        Ok(size)
    }

    /// Deletes leftovers of interrupted runs (call with the store lock held):
    /// staging directories under `tmp/`, half-written records
    /// (`records/*.tmp*`) and half-written objects (`objects/*/*.part*`).
    /// Never follows a link: a link planted under `tmp/` is removed, not its target.
    pub fn clean_tmp(&self) -> Result<usize, StoreError> {
        self.clean_tmp_keeping(&[])
    }

    /// [`Store::clean_tmp`], leaving the directories `keep` under `tmp/` in
    /// place (staging directories of Slurm jobs still to be adopted).
    pub fn clean_tmp_keeping(&self, keep: &[PathBuf]) -> Result<usize, StoreError> {
        let tmp = self.root.join("tmp");
        let mut n = 0;
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd {
                let p = e.at(&tmp)?.path();
                if keep.contains(&p) {
                    continue;
                }
                let is_dir = fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
                let _ = if is_dir {
                    make_writable(&p);
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                n += 1;
            }
        }
        let records = self.root.join("records");
        if let Ok(rd) = fs::read_dir(&records) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().contains(".tmp") {
                    let _ = fs::remove_file(e.path());
                    n += 1;
                }
            }
        }
        let objects = self.root.join("objects");
        if let Ok(rd) = fs::read_dir(&objects) {
            for sub in rd.flatten() {
                if !sub.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                for f in fs::read_dir(sub.path()).into_iter().flatten().flatten() {
                    if f.file_name().to_string_lossy().contains(".part") {
                        let _ = fs::remove_file(f.path());
                        n += 1;
                    }
                }
            }
        }
        Ok(n)
    }
}

/// Canonical bytes of a manifest (sorted keys, no whitespace).
pub fn manifest_bytes(m: &Manifest) -> Vec<u8> {
    // default: never taken; a manifest is a string-keyed map of digests and sizes.
    let v = serde_json::to_value(m).unwrap_or_default();
    crate::util::canon::canonical(&v).into_bytes()
}

/// Sets the mode of every directory below `p` and, when `file_mode` is
/// given, of every regular file with a single link (links, hard-linked files
/// and anything else untouched: their inodes may be shared with files outside).
fn set_tree_mode(p: &Path, dir_mode: u32, file_mode: Option<u32>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(p) else {
        return;
    };
    if meta.is_dir() {
        // Open the directory first (so it can be listed), close it last
        // (so a read-only tree is still walked).
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(dir_mode | 0o700));
        if let Ok(rd) = fs::read_dir(p) {
            for e in rd.flatten() {
                set_tree_mode(&e.path(), dir_mode, file_mode);
            }
        }
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(dir_mode));
    } else if let Some(mode) = file_mode
        && meta.is_file()
        && meta.nlink() == 1
    {
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(mode));
    }
}

/// Restores write permission on the directories below `p` so it can be
/// deleted (deleting a file needs only its directory to be writable).
pub fn make_writable(p: &Path) {
    set_tree_mode(p, 0o755, None);
}

/// Makes everything below `p` read-only (stage inputs: the store's own copies).
pub fn make_readonly(p: &Path) {
    set_tree_mode(p, 0o555, Some(0o444));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_materialize_a_tree() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("s")).unwrap();
        let staging = store.new_tmp("t").unwrap();
        let src = staging.join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("a.txt"), b"hello").unwrap();
        fs::write(src.join("sub/b.txt"), b"world").unwrap();
        let e = store
            .seal(&staging)
            .unwrap()
            .put_output(&store, "src")
            .unwrap();
        assert!(e.dir);
        assert_eq!(e.size, 10);
        let out = d.path().join("out");
        store.materialize(&e, &out).unwrap();
        assert_eq!(fs::read(out.join("sub/b.txt")).unwrap(), b"world");
    }

    #[test]
    fn manifest_digest_is_independent_of_creation_order() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("s")).unwrap();
        let mk = |order: &[&str]| {
            let staging = store.new_tmp("t").unwrap();
            let p = staging.join("x");
            fs::create_dir_all(&p).unwrap();
            for f in order {
                fs::write(p.join(f), f.as_bytes()).unwrap();
            }
            store
                .seal(&staging)
                .unwrap()
                .put_output(&store, "x")
                .unwrap()
        };
        assert_eq!(mk(&["a", "b", "c"]).digest, mk(&["c", "a", "b"]).digest);
    }

    #[test]
    fn a_fifo_or_link_in_objects_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("s")).unwrap();
        let e = store.put_bytes(b"payload").unwrap();
        let p = store.object_path(&e.digest);
        fs::remove_file(&p).unwrap();
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = store.read_verified(&e.digest).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(store.verify_object(&e.digest).is_err());
        assert!(store.materialize(&e, &d.path().join("o")).is_err());
        fs::remove_file(&p).unwrap();
        fs::write(d.path().join("t"), b"payload").unwrap();
        std::os::unix::fs::symlink(d.path().join("t"), &p).unwrap();
        assert!(
            store.verify_object(&e.digest).is_err(),
            "a link is not an object"
        );
    }

    #[test]
    fn a_flipped_byte_is_refused_on_read() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("s")).unwrap();
        let e = store.put_bytes(b"payload").unwrap();
        let p = store.object_path(&e.digest);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&p, b"paylobd").unwrap();
        assert!(matches!(
            store.read_verified(&e.digest),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(matches!(
            store.verify_object(&e.digest),
            Err(StoreError::Corrupt { .. })
        ));
        let err = store.materialize(&e, &d.path().join("o")).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }));
    }
}
