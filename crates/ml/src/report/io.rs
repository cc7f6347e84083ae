//! The blake3 digest that names a file's object in the store
//! (ARCHITECTURE.md, "The store"), for the report's list of sources. JSON
//! goes through `crate::util::io::json`.

use std::path::Path;

use anyhow::Context;

/// blake3 of a file's bytes, hex: the name of its object in the store.
pub fn file_digest(path: &Path) -> anyhow::Result<String> {
    let (digest, _) = crate::util::hash::hash_file(path)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(digest)
}
