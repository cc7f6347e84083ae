//! Making the store's own copy of a file from an opened descriptor: a
//! reflink (`FICLONE`) where the filesystem shares extents copy-on-write
//! (btrfs, XFS, bcachefs), else a streaming copy; hashed from the copy either
//! way, so what is hashed is what the store keeps, whatever happens to the
//! source afterwards.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::{IoContext, StoreError};

/// A file the store copied into one of its private directories, hashed.
#[derive(Debug, Clone)]
pub struct Copied {
    /// Where the copy is (read-only, mode 0444).
    pub path: PathBuf,
    /// blake3 of the copy's bytes.
    pub digest: String,
    /// Bytes in the copy.
    pub size: u64,
}

/// Copy buffer (bytes).
const CHUNK: usize = 1 << 20;

/// Copies the regular file open as `src` into a new file `dest` and hashes
/// the copy. At most the size `src` had when this began is copied, so a
/// writer still appending to the source cannot make the copy endless.
/// `shown` names the source in errors.
pub fn copy_in(src: &File, dest: &Path, shown: &Path) -> Result<Copied, StoreError> {
    let meta = src.metadata().at(shown)?;
    if !meta.is_file() {
        return Err(StoreError::Refused {
            path: shown.to_path_buf(),
            message: "is not a regular file".into(),
        });
    }
    let mut out = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .at(dest)?;
    let mut h = blake3::Hasher::new();
    let cloned = rustix::fs::ioctl_ficlone(&out, src).is_ok()
        && out.metadata().is_ok_and(|m| m.len() <= meta.len());
    let size = if cloned {
        // The clone is ours: hash it, not the source.
        out.rewind().at(dest)?;
        io::copy(&mut out, &mut h).at(dest)?
    } else {
        out.set_len(0).at(dest)?;
        out.rewind().at(dest)?;
        stream(src, &mut out, &mut h, meta.len(), shown, dest)?
    };
    crate::util::failpoint::check("store-copy").at(dest)?;
    out.set_permissions(fs::Permissions::from_mode(0o444))
        .at(dest)?;
    Ok(Copied {
        path: dest.to_path_buf(),
        digest: h.finalize().to_hex().to_string(),
        size,
    })
}

/// Streams at most `limit` bytes of `src` into `out`, hashing each chunk as
/// it is written (the bytes hashed are the bytes the copy holds).
fn stream(
    mut src: &File,
    out: &mut File,
    h: &mut blake3::Hasher,
    limit: u64,
    shown: &Path,
    dest: &Path,
) -> Result<u64, StoreError> {
    // Sized to the file: a 1 MiB buffer zeroed for each of 10,000 small
    // files would cost more than copying them.
    let mut buf = vec![0u8; usize::try_from(limit).unwrap_or(CHUNK).clamp(1, CHUNK)];
    let mut done = 0u64;
    while done < limit {
        let want = usize::try_from(limit - done)
            .unwrap_or(CHUNK)
            .min(buf.len());
        let n = match src.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).at(shown),
        };
        out.write_all(&buf[..n]).at(dest)?;
        h.update(&buf[..n]);
        done += n as u64;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_is_bounded_by_the_size_at_the_start_and_hashes_to_its_bytes() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::write(&src, vec![7u8; 3 * CHUNK + 5]).unwrap();
        let f = File::open(&src).unwrap();
        let c = copy_in(&f, &d.path().join("c"), &src).unwrap();
        assert_eq!(c.size, 3 * CHUNK as u64 + 5);
        let (digest, size) = crate::util::hash::hash_file(&c.path).unwrap();
        assert_eq!((digest, size), (c.digest.clone(), c.size));
        let mode = fs::metadata(&c.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
        assert!(
            copy_in(&f, &d.path().join("c"), &src).is_err(),
            "never overwrites"
        );
    }
}
