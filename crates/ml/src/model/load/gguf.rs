//! GGUF v2/v3 reader: header, metadata, tensor infos, alignment, and tensors
//! dequantised to f32 (see [`super::quant`]).
//!
//! Layout (llama.cpp `gguf-py/gguf/gguf_reader.py`, candle `gguf_file.rs`):
//! magic `GGUF`, u32 version, u64 tensor count, u64 metadata count, the
//! key/value pairs, the tensor infos (name, u32 n_dims, u64 dims innermost
//! first, u32 ggml type, u64 offset), then padding to `general.alignment`
//! (default 32) and the tensor data. Every length read from the file is checked
//! against the bytes that remain before anything is allocated, so a truncated
//! or hostile file is an error, never a panic or a huge allocation.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::quant::{self, GgmlType};

/// Largest number of dimensions a ggml tensor has (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;
/// Default data alignment when `general.alignment` is absent (gguf spec).
const DEFAULT_ALIGNMENT: u64 = 32;
/// Array nesting deeper than this is refused (real files nest at most once).
const MAX_NESTING: u32 = 4;

/// An error reading a GGUF file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The first four bytes are not `GGUF`.
    #[error("{path}: not a GGUF file (magic {found:02x?}, expected \"GGUF\")")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The bytes found.
        found: [u8; 4],
    },
    /// A version other than 2 or 3.
    #[error("{path}: unsupported GGUF version {version} (expected 2 or 3)")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The file ends inside a structure.
    #[error(
        "{path}: truncated at byte {offset} while reading {what} ({need} bytes needed, {left} left)"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the read started.
        offset: u64,
        /// What was being read.
        what: String,
        /// Bytes needed.
        need: u64,
        /// Bytes left in the file.
        left: u64,
    },
    /// A count or size that cannot fit in the file.
    #[error("{path}: {what} of {value} at byte {offset} cannot fit in the file")]
    Absurd {
        /// The file.
        path: PathBuf,
        /// Where it was read.
        offset: u64,
        /// What the number counts.
        what: String,
        /// The number.
        value: u64,
    },
    /// Malformed content (bad UTF-8, unknown value type, bad shape…).
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        message: String,
    },
    /// A tensor type we cannot dequantise.
    #[error("{path}: tensor `{tensor}`: unsupported quantisation type {ty}")]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// The ggml type id.
        ty: u32,
    },
    /// A tensor the model needs is absent.
    #[error("{path}: no tensor named `{name}`")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        name: String,
    },
    /// A metadata key is absent or has the wrong type.
    #[error("{path}: metadata `{key}`: expected {expected}, found {found}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The expected type.
        expected: &'static str,
        /// What was found (`missing` when absent).
        found: String,
    },
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 6.
    F32(f32),
    /// Type 7.
    Bool(bool),
    /// Type 8.
    String(String),
    /// Type 9: elements all of one type.
    Array(Vec<MetaValue>),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 12.
    F64(f64),
}

impl MetaValue {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            MetaValue::F32(v) => Some(v.into()),
            MetaValue::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The value as a string slice.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// A short name of the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            MetaValue::U8(_) => "u8",
            MetaValue::I8(_) => "i8",
            MetaValue::U16(_) => "u16",
            MetaValue::I16(_) => "i16",
            MetaValue::U32(_) => "u32",
            MetaValue::I32(_) => "i32",
            MetaValue::F32(_) => "f32",
            MetaValue::Bool(_) => "bool",
            MetaValue::String(_) => "string",
            MetaValue::Array(_) => "array",
            MetaValue::U64(_) => "u64",
            MetaValue::I64(_) => "i64",
            MetaValue::F64(_) => "f64",
        }
    }
}

/// Where one tensor lives in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Tensor name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions in ggml order (innermost first).
    pub dims: Vec<u64>,
    /// ggml type id (0 = F32, 1 = F16, 2 = Q4_0, 3 = Q4_1, 8 = Q8_0…).
    pub ty: u32,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Row-major shape (outermost first), as PyTorch and Burn write it.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Number of elements (checked against overflow when the file was read).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// A parsed GGUF file: metadata and tensor infos; tensor data is read on demand.
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// The file.
    pub path: PathBuf,
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata key → value, sorted by key.
    pub metadata: BTreeMap<String, MetaValue>,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Absolute offset of the data section.
    pub data_offset: u64,
    /// Data alignment in bytes.
    pub alignment: u64,
    /// File length in bytes.
    pub file_len: u64,
}

/// A bounded little-endian reader that knows how many bytes remain.
struct Cursor<'p, R> {
    inner: R,
    pos: u64,
    len: u64,
    path: &'p Path,
}

impl<R: Read> Cursor<'_, R> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn need(&self, n: u64, what: &str) -> Result<(), GgufError> {
        if n > self.left() {
            return Err(GgufError::Truncated {
                path: self.path.to_path_buf(),
                offset: self.pos,
                what: what.to_string(),
                need: n,
                left: self.left(),
            });
        }
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        self.need(N as u64, what)?;
        let mut b = [0u8; N];
        self.inner
            .read_exact(&mut b)
            .map_err(|e| self.io_err(e, what))?;
        self.pos += N as u64;
        Ok(b)
    }

    fn io_err(&self, e: std::io::Error, what: &str) -> GgufError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            GgufError::Truncated {
                path: self.path.to_path_buf(),
                offset: self.pos,
                what: what.to_string(),
                need: 0,
                left: 0,
            }
        } else {
            GgufError::Io {
                path: self.path.to_path_buf(),
                source: e,
            }
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes(what)?))
    }

    /// A count whose items each take at least `min_item` bytes.
    fn count(&mut self, what: &str, min_item: u64) -> Result<u64, GgufError> {
        let offset = self.pos;
        let n = self.u64(what)?;
        if n.checked_mul(min_item).is_none_or(|b| b > self.left()) {
            return Err(GgufError::Absurd {
                path: self.path.to_path_buf(),
                offset,
                what: what.to_string(),
                value: n,
            });
        }
        Ok(n)
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let n = self.count(what, 1)?;
        let offset = self.pos;
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.io_err(e, what))?;
        self.pos += n;
        String::from_utf8(buf).map_err(|_| GgufError::Malformed {
            path: self.path.to_path_buf(),
            message: format!("{what} at byte {offset} is not UTF-8"),
        })
    }

    fn value(&mut self, ty: u32, key: &str, depth: u32) -> Result<MetaValue, GgufError> {
        Ok(match ty {
            0 => MetaValue::U8(self.bytes::<1>(key)?[0]),
            1 => MetaValue::I8(i8::from_le_bytes(self.bytes(key)?)),
            2 => MetaValue::U16(u16::from_le_bytes(self.bytes(key)?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.bytes(key)?)),
            4 => MetaValue::U32(self.u32(key)?),
            5 => MetaValue::I32(i32::from_le_bytes(self.bytes(key)?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.bytes(key)?)),
            7 => MetaValue::Bool(self.bytes::<1>(key)?[0] != 0),
            8 => MetaValue::String(self.string(key)?),
            9 => {
                if depth >= MAX_NESTING {
                    return Err(self.malformed(format!("metadata `{key}`: arrays nested too deep")));
                }
                let elem = self.u32(key)?;
                let min = min_value_size(elem).ok_or_else(|| self.bad_type(key, elem))?;
                let n = self.count(&format!("length of array `{key}`"), min)?;
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.value(elem, key, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::U64(self.u64(key)?),
            11 => MetaValue::I64(i64::from_le_bytes(self.bytes(key)?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.bytes(key)?)),
            other => return Err(self.bad_type(key, other)),
        })
    }

    fn malformed(&self, message: String) -> GgufError {
        GgufError::Malformed {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn bad_type(&self, key: &str, ty: u32) -> GgufError {
        self.malformed(format!(
            "metadata `{key}` at byte {}: unknown value type {ty}",
            self.pos
        ))
    }
}

/// Smallest encoded size of a value of type `ty` (for bounding array lengths).
fn min_value_size(ty: u32) -> Option<u64> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 | 10 | 11 | 12 => 8,
        9 => 12,
        _ => return None,
    })
}

impl GgufFile {
    /// Opens and parses the header of a GGUF file.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let io = |source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Self::parse(BufReader::new(file), len, path)
    }

    /// Parses a GGUF header from `reader`, which holds `len` bytes in all.
    pub fn parse<R: Read>(reader: R, len: u64, path: &Path) -> Result<Self, GgufError> {
        let mut c = Cursor {
            inner: reader,
            pos: 0,
            len,
            path,
        };
        let magic: [u8; 4] = c.bytes("magic")?;
        if &magic != b"GGUF" {
            return Err(GgufError::BadMagic {
                path: path.to_path_buf(),
                found: magic,
            });
        }
        let version = c.u32("version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::Version {
                path: path.to_path_buf(),
                version,
            });
        }
        // A tensor info takes at least 8 (name) + 4 + 4 + 8 bytes; a KV pair 8 + 4 + 1.
        let n_tensors = c.count("tensor count", 24)?;
        let n_kv = c.count("metadata count", 13)?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = c.string("metadata key")?;
            let ty = c.u32(&key)?;
            let value = c.value(ty, &key, 0)?;
            metadata.insert(key, value);
        }
        let mut tensors = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            let name = c.string("tensor name")?;
            let n_dims = c.u32(&name)?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(c.malformed(format!(
                    "tensor `{name}`: {n_dims} dimensions (expected 1..={MAX_DIMS})"
                )));
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                dims.push(c.u64(&name)?);
            }
            let ty = c.u32(&name)?;
            let offset = c.u64(&name)?;
            tensors.push(TensorInfo {
                name,
                dims,
                ty,
                offset,
            });
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
                _ => {
                    return Err(
                        c.malformed(format!("general.alignment {v:?} is not a power of two"))
                    );
                }
            },
        };
        let data_offset = c.pos.div_ceil(alignment) * alignment;
        let file = GgufFile {
            path: path.to_path_buf(),
            version,
            metadata,
            tensors,
            data_offset,
            alignment,
            file_len: len,
        };
        for t in &file.tensors {
            file.byte_range(t)?;
        }
        Ok(file)
    }

    /// The absolute byte range of a tensor's data, checked against the file.
    fn byte_range(&self, t: &TensorInfo) -> Result<(u64, u64), GgufError> {
        let malformed = |message: String| GgufError::Malformed {
            path: self.path.clone(),
            message,
        };
        let n = t
            .dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| malformed(format!("tensor `{}`: dims {:?} overflow", t.name, t.dims)))?;
        let Some(ty) = GgmlType::from_id(t.ty) else {
            // Unknown types are reported when the tensor is read, so a file with one
            // exotic tensor still opens for `model info`.
            return Ok((0, 0));
        };
        if t.dims.first().is_none_or(|d0| d0 % ty.block_len() != 0) {
            return Err(malformed(format!(
                "tensor `{}`: innermost dimension {:?} is not a multiple of the block size {}",
                t.name,
                t.dims.first(),
                ty.block_len()
            )));
        }
        let bytes = (n / ty.block_len()).checked_mul(ty.block_bytes());
        let start = self.data_offset.checked_add(t.offset);
        match (start, bytes) {
            (Some(s), Some(b)) if s.checked_add(b).is_some_and(|e| e <= self.file_len) => {
                Ok((s, b))
            }
            _ => Err(GgufError::Absurd {
                path: self.path.clone(),
                offset: t.offset,
                what: format!(
                    "data of tensor `{}` (offset {}, dims {:?})",
                    t.name, t.offset, t.dims
                ),
                value: bytes.unwrap_or(u64::MAX),
            }),
        }
    }

    /// The tensor info called `name`.
    pub fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Reads one tensor and dequantises it to f32. Returns the row-major shape
    /// and the values.
    pub fn tensor_f32(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), GgufError> {
        let t = self.info(name).ok_or_else(|| GgufError::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
        })?;
        let ty = GgmlType::from_id(t.ty).ok_or_else(|| GgufError::UnsupportedType {
            path: self.path.clone(),
            tensor: t.name.clone(),
            ty: t.ty,
        })?;
        let (start, n_bytes) = self.byte_range(t)?;
        let io = |source| GgufError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = File::open(&self.path).map_err(io)?;
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut raw = vec![0u8; n_bytes as usize];
        f.read_exact(&mut raw).map_err(io)?;
        let values = quant::dequantize(ty, &raw);
        Ok((t.shape(), values))
    }

    /// A metadata value.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    fn key_err(&self, key: &str, expected: &'static str) -> GgufError {
        GgufError::Key {
            path: self.path.clone(),
            key: key.to_string(),
            expected,
            found: self
                .get(key)
                .map_or_else(|| "missing".to_string(), |v| v.type_name().to_string()),
        }
    }

    /// A required unsigned integer.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.get(key)
            .and_then(MetaValue::as_u64)
            .ok_or_else(|| self.key_err(key, "an unsigned integer"))
    }

    /// A required number.
    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        self.get(key)
            .and_then(MetaValue::as_f64)
            .ok_or_else(|| self.key_err(key, "a number"))
    }

    /// A required string.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        self.get(key)
            .and_then(MetaValue::as_str)
            .ok_or_else(|| self.key_err(key, "a string"))
    }

    /// A required array of strings.
    pub fn get_strings(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        match self.get(key) {
            Some(MetaValue::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| self.key_err(key, "an array of strings"))
                })
                .collect(),
            _ => Err(self.key_err(key, "an array of strings")),
        }
    }

    /// An optional array of integers (e.g. `tokenizer.ggml.token_type`).
    pub fn get_ints(&self, key: &str) -> Result<Option<Vec<i64>>, GgufError> {
        match self.get(key) {
            None => Ok(None),
            Some(MetaValue::Array(items)) => items
                .iter()
                .map(|v| match *v {
                    MetaValue::I32(x) => Ok(i64::from(x)),
                    ref other => other
                        .as_u64()
                        .map(|x| x as i64)
                        .ok_or_else(|| self.key_err(key, "an array of integers")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.key_err(key, "an array of integers")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/gguf/tiny.gguf")
    }

    #[test]
    fn reads_metadata_and_dequantises_like_gguf_py() {
        let f = GgufFile::open(&fixture()).unwrap();
        assert_eq!(f.version, 3);
        assert_eq!(f.get_u64("test.u32").unwrap(), 7);
        assert_eq!(f.get_f64("test.f32").unwrap(), 0.5);
        assert_eq!(f.get_str("test.str").unwrap(), "héllo");
        assert_eq!(f.get_strings("test.strs").unwrap(), vec!["a", "b c"]);
        assert_eq!(f.get("test.bool"), Some(&MetaValue::Bool(true)));
        let text = std::fs::read_to_string(fixture().with_file_name("tiny_expected.json")).unwrap();
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        let expected = expected.as_object().unwrap();
        assert_eq!(expected.len(), 5);
        for (name, e) in expected {
            let (shape, values) = f.tensor_f32(name).unwrap();
            let want_shape: Vec<usize> = e["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(shape, want_shape, "{name}");
            let want: Vec<f32> = e["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(
                values, want,
                "{name}: dequantised values differ from gguf-py"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = std::fs::read(fixture()).unwrap();
        let full = GgufFile::parse(&bytes[..], bytes.len() as u64, Path::new("t")).unwrap();
        let header_end = full.data_offset as usize;
        let data_end = full
            .tensors
            .iter()
            .map(|t| full.byte_range(t).map(|(s, n)| s + n).unwrap())
            .max()
            .unwrap();
        for cut in 0..bytes.len() {
            let r = GgufFile::parse(&bytes[..cut], cut as u64, Path::new("t"));
            if cut >= data_end as usize {
                assert!(r.is_ok(), "cut at {cut} keeps every tensor");
            } else if cut < header_end {
                assert!(r.is_err(), "cut at {cut} parsed");
            } else {
                // Past the header, a cut shows up as tensor data out of bounds.
                let e = r.expect_err("tensor data beyond the file must be refused");
                assert!(e.to_string().contains("cannot fit"), "{e}");
            }
        }
    }

    #[test]
    fn wrong_magic_and_version_are_named() {
        let mut bytes = std::fs::read(fixture()).unwrap();
        bytes[0] = b'X';
        let e = GgufFile::parse(&bytes[..], bytes.len() as u64, Path::new("t")).unwrap_err();
        assert!(matches!(e, GgufError::BadMagic { .. }), "{e}");
        let mut bytes = std::fs::read(fixture()).unwrap();
        bytes[4] = 9;
        let e = GgufFile::parse(&bytes[..], bytes.len() as u64, Path::new("t")).unwrap_err();
        assert!(e.to_string().contains("unsupported GGUF version 9"), "{e}");
    }

    #[test]
    fn absurd_counts_are_refused_before_allocating() {
        let mut hdr = b"GGUF".to_vec();
        hdr.extend(3u32.to_le_bytes());
        hdr.extend(u64::MAX.to_le_bytes()); // tensor count
        hdr.extend(0u64.to_le_bytes());
        let e = GgufFile::parse(&hdr[..], hdr.len() as u64, Path::new("t")).unwrap_err();
        assert!(matches!(e, GgufError::Absurd { .. }), "{e}");
        // A string claiming 2^60 bytes.
        let mut hdr = b"GGUF".to_vec();
        hdr.extend(3u32.to_le_bytes());
        hdr.extend(0u64.to_le_bytes());
        hdr.extend(1u64.to_le_bytes());
        hdr.extend((1u64 << 60).to_le_bytes());
        hdr.extend([0u8; 16]);
        let e = GgufFile::parse(&hdr[..], hdr.len() as u64, Path::new("t")).unwrap_err();
        assert!(matches!(e, GgufError::Absurd { .. }), "{e}");
        // An array of 2^40 u64 values.
        let mut hdr = b"GGUF".to_vec();
        hdr.extend(3u32.to_le_bytes());
        hdr.extend(0u64.to_le_bytes());
        hdr.extend(1u64.to_le_bytes());
        hdr.extend(1u64.to_le_bytes());
        hdr.push(b'k');
        hdr.extend(9u32.to_le_bytes());
        hdr.extend(10u32.to_le_bytes());
        hdr.extend((1u64 << 40).to_le_bytes());
        let e = GgufFile::parse(&hdr[..], hdr.len() as u64, Path::new("t")).unwrap_err();
        assert!(matches!(e, GgufError::Absurd { .. }), "{e}");
    }

    #[test]
    fn unsupported_quantisation_type_is_reported_with_its_number() {
        let mut f = GgufFile::open(&fixture()).unwrap();
        f.tensors[0].ty = 12; // Q4_K
        let name = f.tensors[0].name.clone();
        let e = f.tensor_f32(&name).unwrap_err();
        assert!(
            e.to_string().contains("unsupported quantisation type 12"),
            "{e}"
        );
    }
}
