//! Small file helpers shared by the evaluation and report stages: JSON
//! written deterministically, JSON read with the file named, and the blake3
//! digest that names a file's object in the store (DESIGN §3).

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Writes `value` as pretty JSON with a final newline.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Reads and parses a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

/// blake3 of a file's bytes, hex: the name of its object in the store.
pub fn file_digest(path: &Path) -> anyhow::Result<String> {
    let (digest, _) = crate::util::hash::hash_file(path)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(digest)
}
