//! What an optional dataset source adds to a stage's key: the file of a
//! `path:` source, the pin of a remote one. Shared by the data kinds.

use crate::data::source::{Location, SourceSpec};
use crate::kind::{KeyDep, Roots, WithError};

/// Key dependencies of an optional source: `path:` → file, pinned remote → pin.
pub fn source_key_deps(
    source: Option<&SourceSpec>,
    roots: &Roots,
    key: &str,
) -> Result<Vec<KeyDep>, WithError> {
    let Some(s) = source else {
        return Ok(Vec::new());
    };
    let err = |e: crate::data::DataError| WithError::new(key, e.to_string());
    match s.location(roots.data.as_deref()).map_err(err)? {
        Location::Path(p) => Ok(vec![KeyDep::File(p)]),
        Location::Url(_) | Location::Hub(_) => Ok(s
            .pin()
            .map_err(err)?
            .map(|p| KeyDep::Pin(p.label()))
            .into_iter()
            .collect()),
    }
}
