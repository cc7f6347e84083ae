//! StereoSet (Nadeem et al., 2020), dev set, in either shape:
//! - flattened JSON lines, one item per line: `type` (intrasentence /
//!   intersentence), `target`, `bias_type`, `context`, `stereotype`,
//!   `anti-stereotype`, `unrelated` (the copy in `$REPRO_DATA/stereoset`);
//! - the original nested `dev.json`: `{"version", "data": {"intrasentence":
//!   [item…], "intersentence": [item…]}}`, each item `{id, target, bias_type,
//!   context, sentences: [{id, sentence, labels, gold_label}]}` with
//!   `gold_label` one of `stereotype`, `anti-stereotype`, `unrelated`.
//!
//! The shape is detected from the content. `subset` picks intrasentence (the
//! default: the paper's ±1.09 % SE implies n ≈ 2,100), intersentence or all.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::drops::OnBadRows;
use super::error::DataError;
use super::lines::read_to_string;
use super::load::{LoadStats, Parsed, file_name, handle};
use super::probe::StereoItem;
use super::row::{RowError, field, parse_object, str_field, type_name};

/// Which StereoSet items to keep.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Subset {
    /// Fill-in-the-blank items.
    #[default]
    Intrasentence,
    /// Context + next-sentence items.
    Intersentence,
    /// Both.
    All,
}

impl Subset {
    fn keeps(self, ty: &str) -> bool {
        matches!(
            (self, ty),
            (Subset::All, _)
                | (Subset::Intrasentence, "intrasentence")
                | (Subset::Intersentence, "intersentence")
        )
    }
}

/// Drop reason for items outside the chosen subset.
pub const OTHER_SUBSET: &str = "not in the selected subset";

fn flat_item(o: &Map<String, Value>, id: String) -> Result<(String, StereoItem), RowError> {
    let ty = str_field(o, "type")?;
    if ty != "intrasentence" && ty != "intersentence" {
        return Err(RowError::new(
            "type",
            format!("expected intrasentence or intersentence, found `{ty}`"),
        ));
    }
    Ok((
        ty.to_string(),
        StereoItem {
            id,
            set: "stereoset".into(),
            subset: ty.to_string(),
            bias_type: str_field(o, "bias_type")?.to_string(),
            target: str_field(o, "target")?.to_string(),
            context: str_field(o, "context")?.to_string(),
            stereotype: str_field(o, "stereotype")?.to_string(),
            anti_stereotype: str_field(o, "anti-stereotype")?.to_string(),
            unrelated: str_field(o, "unrelated")?.to_string(),
            direction: String::new(),
        },
    ))
}

fn nested_item(o: &Map<String, Value>, ty: &str) -> Result<StereoItem, RowError> {
    let sentences = match field(o, "sentences")? {
        Value::Array(a) => a,
        other => {
            return Err(RowError::new(
                "sentences",
                format!("expected an array, found {}", type_name(other)),
            ));
        }
    };
    let mut item = StereoItem {
        id: format!("stereoset:{}", str_field(o, "id")?),
        set: "stereoset".into(),
        subset: ty.to_string(),
        bias_type: str_field(o, "bias_type")?.to_string(),
        target: str_field(o, "target")?.to_string(),
        context: str_field(o, "context")?.to_string(),
        ..Default::default()
    };
    for (k, s) in sentences.iter().enumerate() {
        let Value::Object(s) = s else {
            return Err(RowError::new(
                format!("sentences[{k}]"),
                format!("expected an object, found {}", type_name(s)),
            ));
        };
        let at = |e: RowError| RowError::new(format!("sentences[{k}].{}", e.field), e.message);
        let text = str_field(s, "sentence").map_err(at)?.to_string();
        match str_field(s, "gold_label").map_err(at)? {
            "stereotype" => item.stereotype = text,
            "anti-stereotype" => item.anti_stereotype = text,
            "unrelated" => item.unrelated = text,
            other => {
                return Err(RowError::new(
                    format!("sentences[{k}].gold_label"),
                    format!("unknown label `{other}`"),
                ));
            }
        }
    }
    if item.stereotype.is_empty() || item.anti_stereotype.is_empty() {
        return Err(RowError::new(
            "sentences",
            "needs a stereotype and an anti-stereotype sentence",
        ));
    }
    Ok(item)
}

/// Reads StereoSet items of `subset` from either shape.
pub fn load(
    path: &Path,
    subset: Subset,
    on_bad: OnBadRows,
) -> Result<(Vec<StereoItem>, LoadStats), DataError> {
    let text = read_to_string(path)?;
    let name = file_name(path);
    let mut out = Vec::new();
    let mut stats = LoadStats::default();
    // The nested shape is one JSON object with a `data` key; anything that does
    // not parse as that is read as JSON lines (whose errors then name the line).
    let nested = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(root)) if root.contains_key("data") => Some(root),
        _ => None,
    };
    if let Some(root) = nested {
        let Some(Value::Object(data)) = root.get("data") else {
            return Err(DataError::row(
                path,
                1,
                "data",
                "expected an object with intrasentence/intersentence lists",
            ));
        };
        for ty in ["intrasentence", "intersentence"] {
            let Some(list) = data.get(ty) else { continue };
            let Value::Array(list) = list else {
                return Err(DataError::row(
                    path,
                    1,
                    format!("data.{ty}"),
                    format!("expected an array, found {}", type_name(list)),
                ));
            };
            for (i, it) in list.iter().enumerate() {
                stats.rows_read += 1;
                let res = match it {
                    Value::Object(o) if subset.keeps(ty) => {
                        nested_item(o, ty).map(|x| Parsed::Keep(vec![x]))
                    }
                    Value::Object(_) => Ok(Parsed::Drop(OTHER_SUBSET.into())),
                    other => Err(RowError::new(
                        "<item>",
                        format!("expected an object, found {}", type_name(other)),
                    )),
                }
                .map_err(|e| RowError::new(format!("data.{ty}[{i}].{}", e.field), e.message));
                // Items have no line of their own: the 1-based item index stands in.
                handle(&mut out, &mut stats, res, path, &name, i + 1, on_bad)?;
            }
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            stats.rows_read += 1;
            let res = parse_object(line)
                .and_then(|o| flat_item(&o, format!("stereoset:{name}:{}", i + 1)))
                .map(|(ty, it)| {
                    if subset.keeps(&ty) {
                        Parsed::Keep(vec![it])
                    } else {
                        Parsed::Drop(OTHER_SUBSET.into())
                    }
                });
            handle(&mut out, &mut stats, res, path, &name, i + 1, on_bad)?;
        }
    }
    if stats.rows_read == 0 {
        return Err(DataError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested() -> Value {
        let item = |id: &str, ctx: &str| {
            serde_json::json!({
                "id": id, "target": "chess player", "bias_type": "profession", "context": ctx,
                "sentences": [
                    {"sentence": "The chess player was asian.", "id": "s1", "labels": [{"label": "stereotype", "human_id": "h"}], "gold_label": "stereotype"},
                    {"sentence": "The chess player was fox.", "id": "s2", "labels": [], "gold_label": "unrelated"},
                    {"sentence": "The chess player was hispanic.", "id": "s3", "labels": [], "gold_label": "anti-stereotype"}
                ]
            })
        };
        serde_json::json!({"version": "1.0-dev", "data": {
            "intrasentence": [item("a1", "The chess player was BLANK."), item("a2", "x BLANK")],
            "intersentence": [item("b1", "Many people play chess.")]
        }})
    }

    #[test]
    fn nested_and_flat_shapes_give_the_same_items_and_subsets_filter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dev.json");
        std::fs::write(&p, nested().to_string()).unwrap();
        let (intra, st) = load(&p, Subset::default(), OnBadRows::Error).unwrap();
        assert_eq!(intra.len(), 2);
        assert_eq!(st.dropped.count(OTHER_SUBSET), 1);
        assert_eq!(intra[0].stereotype, "The chess player was asian.");
        assert_eq!(intra[0].anti_stereotype, "The chess player was hispanic.");
        assert_eq!(intra[0].id, "stereoset:a1");
        assert_eq!(load(&p, Subset::All, OnBadRows::Error).unwrap().0.len(), 3);
        let flat = dir.path().join("dev.jsonl");
        let line = serde_json::json!({"type": "intrasentence", "target": "chess player", "bias_type": "profession",
            "context": "The chess player was BLANK.", "stereotype": "The chess player was asian.",
            "anti-stereotype": "The chess player was hispanic.", "unrelated": "The chess player was fox."});
        let inter = serde_json::json!({"type": "intersentence", "target": "t", "bias_type": "race", "context": "c",
            "stereotype": "s", "anti-stereotype": "a", "unrelated": "u"});
        std::fs::write(&flat, format!("{line}\n{inter}\n")).unwrap();
        let (f, _) = load(&flat, Subset::Intrasentence, OnBadRows::Error).unwrap();
        assert_eq!(
            (
                f[0].stereotype.as_str(),
                f[0].anti_stereotype.as_str(),
                f[0].unrelated.as_str()
            ),
            (
                intra[0].stereotype.as_str(),
                intra[0].anti_stereotype.as_str(),
                intra[0].unrelated.as_str()
            )
        );
        assert_eq!(
            load(&flat, Subset::Intersentence, OnBadRows::Error)
                .unwrap()
                .0[0]
                .subset,
            "intersentence"
        );
    }

    #[test]
    fn bad_items_name_their_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dev.json");
        let mut v = nested();
        v["data"]["intrasentence"][1]["sentences"][2]["gold_label"] = Value::from("maybe");
        std::fs::write(&p, v.to_string()).unwrap();
        let e = load(&p, Subset::All, OnBadRows::Error)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("data.intrasentence[1].sentences[2].gold_label"),
            "{e}"
        );
        let (items, st) = load(&p, Subset::All, OnBadRows::Skip).unwrap();
        assert_eq!((items.len(), st.bad_rows.total()), (2, 1));
        let flat = dir.path().join("x.jsonl");
        std::fs::write(&flat, "{\"type\": \"intrasentence\"}\n").unwrap();
        let e = load(&flat, Subset::All, OnBadRows::Error)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.jsonl:1: field `bias_type`"), "{e}");
    }
}
