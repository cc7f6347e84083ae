//! LIMA (Zhou et al., 2023; `GAIR/lima`): JSON lines `{"conversations": [turn…],
//! "source": …}`. The prompt is the first turn; the category is `source`
//! (`stackexchange`, `wikihow`, …; `lima` when absent). App. B.2 samples 1,030
//! prompts with seed 42 — the size of the train split.

use std::path::Path;

use super::drops::OnBadRows;
use super::error::DataError;
use super::load::{LoadStats, Parsed, load_jsonl};
use super::probe::PromptItem;
use super::row::{RowError, field, str_field, type_name};

/// Drop reason: empty first turn.
pub const EMPTY_PROMPT: &str = "empty first turn";

/// Reads LIMA prompts.
pub fn load(path: &Path, on_bad: OnBadRows) -> Result<(Vec<PromptItem>, LoadStats), DataError> {
    let name = super::load::file_name(path);
    load_jsonl(path, on_bad, |line, o| {
        let turns = match field(o, "conversations")? {
            serde_json::Value::Array(a) => a,
            other => {
                return Err(RowError::new(
                    "conversations",
                    format!("expected an array of strings, found {}", type_name(other)),
                ));
            }
        };
        let first = match turns.first() {
            Some(serde_json::Value::String(s)) => s,
            Some(other) => {
                return Err(RowError::new(
                    "conversations[0]",
                    format!("expected a string, found {}", type_name(other)),
                ));
            }
            None => return Err(RowError::new("conversations", "empty list")),
        };
        let category = if o.contains_key("source") {
            str_field(o, "source")?.to_string()
        } else {
            "lima".into()
        };
        if first.trim().is_empty() {
            return Ok(Parsed::Drop(EMPTY_PROMPT.into()));
        }
        Ok(Parsed::Keep(vec![PromptItem {
            id: format!("lima:{name}:{line}"),
            set: "lima".into(),
            prompt: first.trim().to_string(),
            category,
        }]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_turn_is_the_prompt_and_bad_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.jsonl");
        let rows = [
            serde_json::json!({"conversations": ["How do I sort a list?", "Use sorted()."], "source": "stackexchange"}),
            serde_json::json!({"conversations": ["Write a haiku.", "…", "Another?", "…"], "source": "wikihow"}),
            serde_json::json!({"conversations": [], "source": "nlp"}),
        ];
        let text: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
        std::fs::write(&p, text.join("\n")).unwrap();
        let e = load(&p, OnBadRows::Error).unwrap_err().to_string();
        assert!(
            e.contains("train.jsonl:3: field `conversations`: empty list"),
            "{e}"
        );
        let (items, st) = load(&p, OnBadRows::Skip).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(st.bad_rows.total(), 1);
        assert_eq!(
            (items[1].prompt.as_str(), items[1].category.as_str()),
            ("Write a haiku.", "wikihow")
        );
    }
}
