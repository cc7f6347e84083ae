//! Where a pulled stage came from: a sidecar `records/<key>.origin` beside
//! the record (never in it, so records stay byte-identical to the pushed ones
//! and keys never depend on where a run was fetched from).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::objects::Store;
use super::record::write_atomic;

/// A pulled record's origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The remote it was pulled from.
    pub remote: String,
    /// When, UTC ISO 8601.
    pub pulled: String,
    /// The stage it was pulled for.
    pub stage: String,
}

impl Origin {
    /// The sidecar path for a record key.
    pub fn path(store: &Store, key: &str) -> PathBuf {
        store.root().join("records").join(format!("{key}.origin"))
    }

    /// The origin of the record `key`, if it was pulled.
    pub fn load(store: &Store, key: &str) -> Result<Option<Origin>, StoreError> {
        super::record::load_json(&Self::path(store, key))
    }

    /// Writes the sidecar atomically.
    pub fn save(&self, store: &Store, key: &str) -> Result<(), StoreError> {
        let path = Self::path(store, key);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Malformed {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_round_trips_and_is_not_a_record() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        assert_eq!(Origin::load(&store, "k").unwrap(), None);
        let o = Origin {
            remote: "s3://b/p".into(),
            pulled: "2026-01-01T00:00:00Z".into(),
            stage: "s".into(),
        };
        o.save(&store, "k").unwrap();
        assert_eq!(Origin::load(&store, "k").unwrap(), Some(o));
        assert!(crate::store::record::all_keys(&store).unwrap().is_empty());
    }
}
