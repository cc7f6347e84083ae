//! The common `{"prompt","chosen","rejected"}` preference format (TRL's), with an
//! optional map from these names to the file's own field names.

use serde::{Deserialize, Serialize};

use super::load::Parsed;
use super::pair::PreferencePair;
use super::row::{RowError, str_field};

/// Drop reason: a field is empty after trimming.
pub const EMPTY_FIELD: &str = "empty prompt or response";

/// Field names in the file; each defaults to its own name.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FieldMap {
    /// Field holding the prompt.
    pub prompt: String,
    /// Field holding the preferred response.
    pub chosen: String,
    /// Field holding the dispreferred response.
    pub rejected: String,
    /// Optional field holding the category (overrides the stage's `category`).
    pub category: Option<String>,
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap {
            prompt: "prompt".into(),
            chosen: "chosen".into(),
            rejected: "rejected".into(),
            category: None,
        }
    }
}

/// Parses one row; `category` is used unless the map names a category field.
pub fn parse_row(
    obj: &serde_json::Map<String, serde_json::Value>,
    map: &FieldMap,
    id: String,
    category: Option<&str>,
    source: &str,
) -> Result<Parsed<PreferencePair>, RowError> {
    let prompt = str_field(obj, &map.prompt)?;
    let chosen = str_field(obj, &map.chosen)?;
    let rejected = str_field(obj, &map.rejected)?;
    let category = match (&map.category, category) {
        (Some(f), _) => str_field(obj, f)?,
        (None, Some(c)) => c,
        (None, None) => {
            return Err(RowError::new(
                "category",
                "no category: set `category:` or `fields.category`",
            ));
        }
    };
    if prompt.trim().is_empty() || chosen.trim().is_empty() || rejected.trim().is_empty() {
        return Ok(Parsed::Drop(EMPTY_FIELD.into()));
    }
    Ok(Parsed::Keep(vec![PreferencePair {
        id,
        prompt: prompt.trim().to_string(),
        chosen: chosen.trim().to_string(),
        rejected: rejected.trim().to_string(),
        category: category.to_string(),
        source: source.to_string(),
    }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_map_renames_and_reads_category_from_the_row() {
        let o = serde_json::json!({"question": "q", "good": "a", "bad": "b", "topic": "math"});
        let o = o.as_object().unwrap();
        let map = FieldMap {
            prompt: "question".into(),
            chosen: "good".into(),
            rejected: "bad".into(),
            category: Some("topic".into()),
        };
        let Parsed::Keep(v) = parse_row(o, &map, "f:1".into(), Some("ignored"), "s").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                v[0].prompt.as_str(),
                v[0].chosen.as_str(),
                v[0].category.as_str()
            ),
            ("q", "a", "math")
        );
        let e = parse_row(o, &FieldMap::default(), "f:1".into(), Some("c"), "s").unwrap_err();
        assert_eq!(e.field, "prompt");
        let o2 = serde_json::json!({"prompt": " ", "chosen": "a", "rejected": "b"});
        let p = parse_row(
            o2.as_object().unwrap(),
            &FieldMap::default(),
            "f:2".into(),
            Some("c"),
            "s",
        )
        .unwrap();
        assert!(matches!(p, Parsed::Drop(_)));
    }
}
