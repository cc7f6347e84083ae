//! PKU-SafeRLHF (Ji et al., 2024): two responses per prompt with better/safer
//! labels and 19 named harm categories, from JSON lines or Parquet.
//!
//! Published schema per row: `prompt, response_0, response_1, better_response_id,
//! safer_response_id, is_response_0_safe, is_response_1_safe,
//! response_0_harm_category, response_1_harm_category` (each a map of the 19
//! category names to booleans), `response_0_severity_level,
//! response_1_severity_level` (integers, read but not needed).
//!
//! Category (App. A.4: "Samples with missing category annotations are removed"):
//! - `category_from: unsafe` (default): the categories flagged on the unsafe
//!   response; when both are unsafe, on the less safe one (the one that is not
//!   `safer_response_id`). A pair whose responses are both safe, or whose unsafe
//!   response flags no category, is dropped and counted.
//! - `category_from: union`: the categories flagged on either response.
//!
//! A pair with several categories (`multi_category`):
//! - `first` (default): the first flagged category in [`CATEGORIES`] order
//!   (the order of the dataset card), so every pair has exactly one label for
//!   the 19-way adversary; how many pairs had several is counted.
//! - `explode`: one copy of the pair per category (ids get `#<k>`); the copies
//!   share a prompt, so `data.prepare`'s split keeps them on one side.
//! - `drop`: dropped and counted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::load::Parsed;
use super::pair::PreferencePair;
use super::row::{RowError, bool_field, field, int_field, str_field, type_name};

/// The 19 harm categories, in the order of the dataset card.
pub const CATEGORIES: [&str; 19] = [
    "Endangering National Security",
    "Insulting Behavior",
    "Discriminatory Behavior",
    "Endangering Public Health",
    "Copyright Issues",
    "Violence",
    "Drugs",
    "Privacy Violation",
    "Economic Crime",
    "Mental Manipulation",
    "Human Trafficking",
    "Physical Harm",
    "Sexual Content",
    "Cybercrime",
    "Disrupting Public Order",
    "Environmental Damage",
    "Psychological Harm",
    "White-Collar Crime",
    "Animal Abuse",
];

/// Drop reason: neither response is unsafe.
pub const BOTH_SAFE: &str = "no harm category: both responses safe";
/// Drop reason: the unsafe response flags no category.
pub const NO_CATEGORY: &str = "no harm category annotated on the unsafe response";
/// Drop reason: several categories under `multi_category: drop`.
pub const MULTI: &str = "several harm categories (multi_category: drop)";
/// Drop reason: empty prompt or response.
pub const EMPTY: &str = "empty prompt or response";
/// Drop reason: the two responses are the same text.
pub const SAME: &str = "response_0 == response_1";

/// Which label orders a pair.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// `safer_response_id` is chosen.
    #[default]
    Safer,
    /// `better_response_id` is chosen.
    Better,
}

/// Where a pair's categories come from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CategoryFrom {
    /// The unsafe response (the less safe one when both are).
    #[default]
    Unsafe,
    /// Either response.
    Union,
}

/// What a pair with several categories becomes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MultiCategory {
    /// The first in [`CATEGORIES`] order.
    #[default]
    First,
    /// One copy per category.
    Explode,
    /// Dropped.
    Drop,
}

/// Options of the PKU-SafeRLHF format.
#[derive(Debug, Clone, Copy, Default)]
pub struct PkuOptions {
    /// Which label orders the pair.
    pub preference: Preference,
    /// Where categories come from.
    pub category_from: CategoryFrom,
    /// What several categories become.
    pub multi_category: MultiCategory,
}

/// One row, whatever file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct PkuRow {
    /// The prompt.
    pub prompt: String,
    /// `response_0`, `response_1`.
    pub responses: [String; 2],
    /// `better_response_id` (0 or 1).
    pub better: usize,
    /// `safer_response_id` (0 or 1).
    pub safer: usize,
    /// `is_response_{0,1}_safe`.
    pub safe: [bool; 2],
    /// Names flagged true in `response_{0,1}_harm_category`.
    pub harm: [Vec<String>; 2],
}

fn response_id(obj: &Map<String, Value>, name: &str) -> Result<usize, RowError> {
    match int_field(obj, name)? {
        0 => Ok(0),
        1 => Ok(1),
        v => Err(RowError::new(name, format!("expected 0 or 1, found {v}"))),
    }
}

fn harm_map(obj: &Map<String, Value>, name: &str) -> Result<Vec<String>, RowError> {
    match field(obj, name)? {
        Value::Object(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                match v {
                    Value::Bool(true) => out.push(k.clone()),
                    Value::Bool(false) => {}
                    other => {
                        return Err(RowError::new(
                            format!("{name}.{k}"),
                            format!("expected a boolean, found {}", type_name(other)),
                        ));
                    }
                }
            }
            Ok(out)
        }
        other => Err(RowError::new(
            name,
            format!(
                "expected a map of category → boolean, found {}",
                type_name(other)
            ),
        )),
    }
}

/// Reads one JSON row by the published schema.
pub fn row_from_json(obj: &Map<String, Value>) -> Result<PkuRow, RowError> {
    Ok(PkuRow {
        prompt: str_field(obj, "prompt")?.to_string(),
        responses: [
            str_field(obj, "response_0")?.to_string(),
            str_field(obj, "response_1")?.to_string(),
        ],
        better: response_id(obj, "better_response_id")?,
        safer: response_id(obj, "safer_response_id")?,
        safe: [
            bool_field(obj, "is_response_0_safe")?,
            bool_field(obj, "is_response_1_safe")?,
        ],
        harm: [
            harm_map(obj, "response_0_harm_category")?,
            harm_map(obj, "response_1_harm_category")?,
        ],
    })
}

fn order(name: &str) -> (usize, &str) {
    (
        CATEGORIES
            .iter()
            .position(|c| *c == name)
            .unwrap_or(CATEGORIES.len()),
        name,
    )
}

/// Turns one row into pairs by `opts` (see the module docs).
pub fn to_pairs(row: &PkuRow, opts: &PkuOptions, id: &str, source: &str) -> Parsed<PreferencePair> {
    let chosen = match opts.preference {
        Preference::Safer => row.safer,
        Preference::Better => row.better,
    };
    let rejected = 1 - chosen;
    if row.prompt.trim().is_empty() || row.responses.iter().any(|r| r.trim().is_empty()) {
        return Parsed::Drop(EMPTY.into());
    }
    if row.responses[0] == row.responses[1] {
        return Parsed::Drop(SAME.into());
    }
    let mut cats: Vec<String> = match opts.category_from {
        CategoryFrom::Unsafe => {
            let unsafe_id = match row.safe {
                [true, true] => return Parsed::Drop(BOTH_SAFE.into()),
                [false, true] => 0,
                [true, false] => 1,
                [false, false] => 1 - row.safer,
            };
            row.harm[unsafe_id].clone()
        }
        CategoryFrom::Union => row.harm[0].iter().chain(&row.harm[1]).cloned().collect(),
    };
    cats.sort_by(|a, b| order(a).cmp(&order(b)));
    cats.dedup();
    if cats.is_empty() {
        return Parsed::Drop(
            if row.safe == [true, true] {
                BOTH_SAFE
            } else {
                NO_CATEGORY
            }
            .into(),
        );
    }
    let make = |cat: &str, id: String| PreferencePair {
        id,
        prompt: row.prompt.trim().to_string(),
        chosen: row.responses[chosen].trim().to_string(),
        rejected: row.responses[rejected].trim().to_string(),
        category: cat.to_string(),
        source: source.to_string(),
    };
    match (cats.len(), opts.multi_category) {
        (1, _) | (_, MultiCategory::First) => Parsed::Keep(vec![make(&cats[0], id.to_string())]),
        (_, MultiCategory::Drop) => Parsed::Drop(MULTI.into()),
        (_, MultiCategory::Explode) => Parsed::Keep(
            cats.iter()
                .enumerate()
                .map(|(k, c)| make(c, format!("{id}#{k}")))
                .collect(),
        ),
    }
}

/// Number of categories the row would get (before `multi_category`), for counting.
pub fn category_count(row: &PkuRow, opts: &PkuOptions) -> usize {
    let mut v: Vec<&String> = match opts.category_from {
        CategoryFrom::Union => row.harm[0].iter().chain(&row.harm[1]).collect(),
        CategoryFrom::Unsafe => match row.safe {
            [true, true] => Vec::new(),
            [false, true] => row.harm[0].iter().collect(),
            [true, false] => row.harm[1].iter().collect(),
            [false, false] => row.harm[1 - row.safer].iter().collect(),
        },
    };
    v.sort();
    v.dedup();
    v.len()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row by the published schema; `harm0`/`harm1` are the flagged names.
    pub(crate) fn fixture_row(
        prompt: &str,
        safe: [bool; 2],
        harm0: &[&str],
        harm1: &[&str],
        better: u8,
        safer: u8,
    ) -> Value {
        let map = |flagged: &[&str]| {
            let mut m = Map::new();
            for c in CATEGORIES {
                m.insert(c.to_string(), Value::Bool(flagged.contains(&c)));
            }
            Value::Object(m)
        };
        serde_json::json!({
            "prompt": prompt,
            "response_0": format!("{prompt} answer zero"),
            "response_1": format!("{prompt} answer one"),
            "is_response_0_safe": safe[0],
            "is_response_1_safe": safe[1],
            "response_0_harm_category": map(harm0),
            "response_1_harm_category": map(harm1),
            "response_0_severity_level": if safe[0] { 0 } else { 2 },
            "response_1_severity_level": if safe[1] { 0 } else { 1 },
            "better_response_id": better,
            "safer_response_id": safer,
        })
    }

    fn pairs(v: &Value, opts: &PkuOptions) -> Parsed<PreferencePair> {
        to_pairs(
            &row_from_json(v.as_object().unwrap()).unwrap(),
            opts,
            "f:1",
            "s",
        )
    }

    #[test]
    fn safer_is_chosen_and_category_comes_from_the_unsafe_response() {
        let v = fixture_row("p", [true, false], &[], &["Violence"], 1, 0);
        let Parsed::Keep(p) = pairs(&v, &PkuOptions::default()) else {
            panic!()
        };
        assert_eq!(
            (p[0].chosen.as_str(), p[0].rejected.as_str()),
            ("p answer zero", "p answer one")
        );
        assert_eq!(p[0].category, "Violence");
        let better = PkuOptions {
            preference: Preference::Better,
            ..Default::default()
        };
        let Parsed::Keep(p) = pairs(&v, &better) else {
            panic!()
        };
        assert_eq!(p[0].chosen, "p answer one");
        assert_eq!(p[0].category, "Violence");
    }

    #[test]
    fn both_safe_or_unannotated_pairs_are_dropped() {
        let v = fixture_row("p", [true, true], &[], &[], 0, 0);
        assert!(matches!(pairs(&v, &PkuOptions::default()), Parsed::Drop(ref w) if w == BOTH_SAFE));
        let v = fixture_row("p", [false, true], &[], &["Drugs"], 0, 1);
        assert!(
            matches!(pairs(&v, &PkuOptions::default()), Parsed::Drop(ref w) if w == NO_CATEGORY)
        );
        let union = PkuOptions {
            category_from: CategoryFrom::Union,
            ..Default::default()
        };
        let Parsed::Keep(p) = pairs(&v, &union) else {
            panic!()
        };
        assert_eq!(p[0].category, "Drugs");
    }

    #[test]
    fn several_categories_first_explode_or_drop() {
        // Both unsafe: the less safe response (not safer_response_id = 0) is response 1.
        let v = fixture_row(
            "p",
            [false, false],
            &["Cybercrime"],
            &["Animal Abuse", "Violence"],
            0,
            0,
        );
        let Parsed::Keep(p) = pairs(&v, &PkuOptions::default()) else {
            panic!()
        };
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].category, "Violence",
            "dataset-card order puts Violence before Animal Abuse"
        );
        let ex = PkuOptions {
            multi_category: MultiCategory::Explode,
            ..Default::default()
        };
        let Parsed::Keep(p) = pairs(&v, &ex) else {
            panic!()
        };
        let got: Vec<_> = p
            .iter()
            .map(|x| (x.id.as_str(), x.category.as_str()))
            .collect();
        assert_eq!(got, vec![("f:1#0", "Violence"), ("f:1#1", "Animal Abuse")]);
        let dr = PkuOptions {
            multi_category: MultiCategory::Drop,
            ..Default::default()
        };
        assert!(matches!(pairs(&v, &dr), Parsed::Drop(ref w) if w == MULTI));
        assert_eq!(
            category_count(
                &row_from_json(v.as_object().unwrap()).unwrap(),
                &PkuOptions::default()
            ),
            2
        );
    }

    #[test]
    fn schema_errors_name_the_field() {
        let mut v = fixture_row("p", [true, false], &[], &["Violence"], 0, 0);
        v["safer_response_id"] = Value::from(2);
        assert_eq!(
            row_from_json(v.as_object().unwrap()).unwrap_err().field,
            "safer_response_id"
        );
        v["safer_response_id"] = Value::from(0);
        v["response_1_harm_category"]["Drugs"] = Value::from("yes");
        assert_eq!(
            row_from_json(v.as_object().unwrap()).unwrap_err().field,
            "response_1_harm_category.Drugs"
        );
        v.as_object_mut().unwrap().remove("is_response_0_safe");
        assert_eq!(
            row_from_json(v.as_object().unwrap()).unwrap_err().field,
            "is_response_0_safe"
        );
    }
}
