//! Content hashing of files and directory trees (blake3).

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde_json::json;

use super::canon;

/// Opens a regular file for reading without following a final link and
/// without blocking (`O_NOFOLLOW | O_NONBLOCK`: opening a FIFO must not wait
/// for a writer), then refuses anything `fstat` does not call a regular file.
pub fn open_regular(path: &Path) -> io::Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a symbolic link, not a regular file (links are never followed)",
            ),
            _ => e,
        })?;
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(f)
}

/// blake3 hex digest and size of a file's bytes.
pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut h = blake3::Hasher::new();
    let n = io::copy(&mut f, &mut h)?;
    Ok((h.finalize().to_hex().to_string(), n))
}

/// Digest of a file, or of a directory as the canonical manifest of its
/// files (`relative path → digest`), so renames and content both count.
pub fn hash_path(path: &Path) -> io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() && !meta.is_file() {
        return Err(not_regular());
    }
    if meta.is_dir() {
        let mut files = BTreeMap::new();
        walk(path, path, &mut files)?;
        let m: serde_json::Map<String, serde_json::Value> = files
            .into_iter()
            .map(|(k, (d, s))| (k, json!({"digest": d, "size": s})))
            .collect();
        Ok(canon::digest(&json!({ "files": m })))
    } else {
        Ok(hash_file(path)?.0)
    }
}

/// A FIFO, socket or device: never opened (a FIFO would block forever).
fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file or directory (FIFOs, sockets and devices are never read)",
    )
}

/// Every regular file below `dir`, as `relative path → (digest, size)`.
/// Links to files are followed, links to directories are not (no cycles);
/// a FIFO, socket or device is an error.
pub fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (String, u64)>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(root, &p, out)?;
        } else if ft.is_file() || (ft.is_symlink() && p.is_file()) {
            let rel = p.strip_prefix(root).map_err(io::Error::other)?;
            out.insert(rel.to_string_lossy().into_owned(), hash_file(&p)?);
        } else if !ft.is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: {}", p.display(), not_regular()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_digest_tracks_content_and_names() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("s")).unwrap();
        std::fs::write(d.path().join("s/a.txt"), b"x").unwrap();
        let h1 = hash_path(d.path()).unwrap();
        std::fs::write(d.path().join("s/a.txt"), b"y").unwrap();
        let h2 = hash_path(d.path()).unwrap();
        std::fs::rename(d.path().join("s/a.txt"), d.path().join("s/b.txt")).unwrap();
        let h3 = hash_path(d.path()).unwrap();
        assert!(h1 != h2 && h2 != h3 && h1 != h3);
        assert_eq!(
            hash_file(&d.path().join("s/b.txt")).unwrap().0,
            blake3::hash(b"y").to_hex().to_string()
        );
    }
}
