//! JSON files: one canonical writer for every `metrics.json` and JSON
//! document a stage writes (keys sorted at every level, two-space indent, a
//! final newline, so equal values give equal bytes), and a reader that names
//! the file.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A JSON file that could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The value could not be serialized, or the file does not parse.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// serde_json's message.
        message: String,
    },
}

/// The canonical text of `value`: sorted keys (serde_json's map is a
/// `BTreeMap`, so going through a `Value` sorts struct fields too), pretty,
/// with a final newline.
pub fn canonical_text(value: &impl Serialize) -> Result<String, serde_json::Error> {
    let v = serde_json::to_value(value)?;
    let mut text = serde_json::to_string_pretty(&v)?;
    text.push('\n');
    Ok(text)
}

/// Writes `value` to `path` as canonical JSON.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), JsonError> {
    let text = canonical_text(value).map_err(|e| JsonError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(|source| JsonError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and parses a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, JsonError> {
    let bytes = std::fs::read(path).map_err(|source| JsonError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| JsonError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct S {
        zeta: u32,
        alpha: Vec<u32>,
        mid: serde_json::Value,
    }

    #[test]
    fn struct_fields_and_nested_maps_come_out_sorted() {
        let t = canonical_text(&S {
            zeta: 1,
            alpha: vec![2],
            mid: serde_json::json!({"b": 1, "a": 2}),
        })
        .unwrap();
        assert_eq!(
            t,
            "{\n  \"alpha\": [\n    2\n  ],\n  \"mid\": {\n    \"a\": 2,\n    \"b\": 1\n  },\n  \"zeta\": 1\n}\n"
        );
    }
}
