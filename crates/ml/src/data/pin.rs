//! Content pins (`sha256:` / `blake3:`) and file digests.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::Digest;

use super::error::DataError;

/// Hash algorithm of a pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    /// SHA-256 (what upstream release notes and the data README publish).
    Sha256,
    /// BLAKE3 (what the store uses).
    Blake3,
}

/// An expected digest: algorithm and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Algorithm.
    pub algo: Algo,
    /// Lowercase hex digest.
    pub hex: String,
}

impl Pin {
    /// A pin from its algorithm and hex text; errors unless 64 hex digits.
    pub fn new(algo: Algo, hex: &str) -> Result<Self, DataError> {
        let hex = hex.trim().to_ascii_lowercase();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DataError::Spec(format!(
                "pin `{hex}`: expected 64 hex digits"
            )));
        }
        Ok(Pin { algo, hex })
    }

    /// `sha256:<hex>` or `blake3:<hex>`, as keys and messages print it.
    pub fn label(&self) -> String {
        let a = match self.algo {
            Algo::Sha256 => "sha256",
            Algo::Blake3 => "blake3",
        };
        format!("{a}:{}", self.hex)
    }

    /// Checks `path` against the pin; `what` names the source in the error.
    pub fn verify(&self, path: &Path, what: &str) -> Result<(), DataError> {
        let d = digest(path)?;
        let actual = match self.algo {
            Algo::Sha256 => d.sha256,
            Algo::Blake3 => d.blake3,
        };
        if actual != self.hex {
            return Err(DataError::PinMismatch {
                what: what.to_string(),
                expected: self.label(),
                actual,
            });
        }
        Ok(())
    }
}

/// Both digests of a file's bytes, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileDigest {
    /// SHA-256.
    pub sha256: String,
    /// BLAKE3.
    pub blake3: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Streams `path` once through SHA-256 and BLAKE3.
pub fn digest(path: &Path) -> Result<FileDigest, DataError> {
    let io = |source| DataError::Io {
        file: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut s = sha2::Sha256::new();
    let mut b = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        s.update(&buf[..n]);
        b.update(&buf[..n]);
        bytes += n as u64;
    }
    let sha256 = s.finalize().iter().map(|x| format!("{x:02x}")).collect();
    Ok(FileDigest {
        sha256,
        blake3: b.finalize().to_hex().to_string(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_reference_values_and_mismatch_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let d = digest(&p).unwrap();
        // FIPS 180-2 test vector for "abc"; BLAKE3 of "abc" from the reference implementation (b3sum).
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            d.blake3,
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        Pin::new(Algo::Sha256, &d.sha256.to_uppercase())
            .unwrap()
            .verify(&p, "abc")
            .unwrap();
        let bad = Pin::new(Algo::Blake3, &"0".repeat(64)).unwrap();
        let e = bad.verify(&p, "the-source").unwrap_err().to_string();
        assert!(
            e.contains("the-source: digest mismatch: pinned blake3:000"),
            "{e}"
        );
        assert!(Pin::new(Algo::Sha256, "abc").is_err());
    }
}
