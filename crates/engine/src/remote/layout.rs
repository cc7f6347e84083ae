//! Where things live on a remote: content-addressed objects, records by stage
//! key, and one index per lockfile, written last, that says a push of that
//! lockfile's stages finished.
//!
//! ```text
//! objects/<aa>/<rest of the blake3 digest>   (the store's own layout)
//! records/<stage key>.json
//! index/<blake3 of the canonical lockfile>.json
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::Lockfile;

/// Index format version.
pub const INDEX_SCHEMA: u32 = 1;

/// The key of an object.
pub fn object_key(digest: &str) -> String {
    let (a, b) = digest.split_at(2.min(digest.len()));
    format!("objects/{a}/{b}")
}

/// The key of a stage record.
pub fn record_key(stage_key: &str) -> String {
    format!("records/{stage_key}.json")
}

/// The key of a lockfile's index: by the digest of its canonical JSON, so
/// YAML formatting does not matter and any change to the lock gives a new one.
pub fn index_key(lock: &Lockfile) -> String {
    // default: never taken; a lockfile is strings, numbers and string-keyed maps.
    let v = serde_json::to_value(lock).unwrap_or_default();
    format!("index/{}.json", crate::util::canon::digest(&v))
}

/// Whether a manifest or output path stays inside its directory: relative,
/// every component a plain name (no `..`, no `.`, no root).
pub fn safe_rel(rel: &str) -> bool {
    !rel.is_empty()
        && std::path::Path::new(rel)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// What a finished push of a lockfile holds: stage → key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Format version.
    pub schema: u32,
    /// Pipeline name.
    pub pipeline: String,
    /// Stages whose objects and record are on the remote.
    pub stages: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_store_layout() {
        assert_eq!(object_key("abcdef"), "objects/ab/cdef");
        assert_eq!(record_key("k1"), "records/k1.json");
        let a = Lockfile {
            schema: 1,
            pipeline: "p".into(),
            ..Default::default()
        };
        let mut b = a.clone();
        assert_eq!(index_key(&a), index_key(&b));
        b.pipeline = "q".into();
        assert_ne!(index_key(&a), index_key(&b));
    }
}
