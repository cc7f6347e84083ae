//! Typed configuration maps with key paths in their errors: a `with:` map
//! (or any JSON value) deserialized into a struct, the failing key named.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A problem with a typed map (a stage's `with`), found before anything runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct WithError {
    /// Dotted key path below `with` (`source.path`); empty for the map itself.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl WithError {
    /// An error at `path` below `with`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        WithError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Deserializes `with` into the kind's typed struct, naming the failing key;
/// `null` reads as the empty map (the engine passes `{}` for a missing or
/// empty `with:`, so this only matters to direct callers).
///
/// Use `#[serde(deny_unknown_fields)]` on `T` so a misspelt key is an error.
pub fn parse_with<T: DeserializeOwned>(with: &Value) -> Result<T, WithError> {
    let empty = Value::Object(serde_json::Map::new());
    let with = if with.is_null() { &empty } else { with };
    serde_path_to_error::deserialize(with).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        WithError::new(path, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct W {
        lr: f64,
        inner: Inner,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        k: u32,
    }

    #[test]
    fn parse_with_names_the_failing_key() {
        let e = parse_with::<W>(&serde_json::json!({"lr": 0.1, "inner": {"k": "x"}})).unwrap_err();
        assert_eq!(e.path, "inner.k");
        let e = parse_with::<W>(&serde_json::json!({"lr": 0.1, "inner": {"k": 1, "z": 2}}))
            .unwrap_err();
        assert_eq!(e.path, "inner.z");
        assert!(e.message.contains("unknown field `z`"), "{}", e.message);
    }
}
