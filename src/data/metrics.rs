//! Writing `metrics.json` files: pretty, key-sorted JSON with a trailing newline.

use std::path::Path;

use serde::Serialize;

use super::error::DataError;

/// Serializes `value` to `path` (serde_json maps are sorted, so the bytes are stable).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), DataError> {
    let werr = |e: std::io::Error| DataError::Write {
        file: path.to_path_buf(),
        source: e,
    };
    let v = serde_json::to_value(value).map_err(|e| werr(std::io::Error::other(e)))?;
    let mut text = serde_json::to_string_pretty(&v).map_err(|e| werr(std::io::Error::other(e)))?;
    text.push('\n');
    std::fs::write(path, text).map_err(werr)
}
