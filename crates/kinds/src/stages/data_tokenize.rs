//! `data.tokenize`: train/eval text → token ids with one transcript template,
//! prompts truncated from the left to `max_len`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::source_key::source_key_deps;
use crate::data::fetch::FetchEnv;
use crate::data::source::SourceSpec;
use crate::data::table;
use crate::data::token_table::{TokenRow, write_tokens};
use crate::data::tokenize::{encode, load_tokenizer};
use crate::kind::{KeyDep, KindInfo, Roots, Slot, StageContext, WithError};
use crate::util::io::json::write_json;

/// The `data.tokenize` kind.
pub struct DataTokenize;

/// `with:` of `data.tokenize`; its `Default` is the kind's defaults.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// Tokens per transcript, special tokens included (App. A.4: 1,024).
    #[schemars(range(min = 8, max = 1_048_576))]
    max_len: usize,
    /// A tokenizer.json source, instead of the `tokenizer` input.
    tokenizer: Option<SourceSpec>,
    /// Keep only these categories' pairs, in both splits, the split kept as data.prepare made
    /// it (e.g. a harmless-only safety RM whose eval prompts stay unseen); empty = all.
    categories: Vec<String>,
}

impl Default for With {
    fn default() -> Self {
        With {
            // App. A.4.
            max_len: 1024,
            tokenizer: None,
            categories: Vec::new(),
        }
    }
}

const SLOTS: &[Slot] = &[
    Slot {
        name: "data",
        required: true,
        fan_in: false,
        doc: "a data.prepare stage (train.parquet, eval.parquet)",
    },
    Slot {
        name: "tokenizer",
        required: false,
        fan_in: false,
        doc: "a stage whose outputs hold exactly one tokenizer.json (e.g. model.pretrained)",
    },
    Slot {
        name: "backbone",
        required: false,
        fan_in: false,
        doc: "same as `tokenizer` (the design calls the slot `backbone`); connect one of the two",
    },
];

/// The splits read from `data` and written under the same names.
const SPLITS: [&str; 2] = ["train", "eval"];

fn check_with(w: &With) -> Result<(), WithError> {
    for (i, c) in w.categories.iter().enumerate() {
        if c.is_empty() || w.categories[..i].contains(c) {
            return Err(WithError::new(
                format!("categories.{i}"),
                format!("expected distinct non-empty category names, found `{c}`"),
            ));
        }
    }
    if let Some(s) = &w.tokenizer {
        s.location(Some(Path::new(".")))
            .map_err(|e| WithError::new("tokenizer", e.to_string()))?;
    }
    Ok(())
}

/// The pairs of the listed categories (all when the list is empty).
///
/// # Errors
/// A listed category has no pair in the training split.
fn keep_categories(
    pairs: Vec<crate::data::pair::PreferencePair>,
    keep: &[String],
    split: &str,
) -> anyhow::Result<Vec<crate::data::pair::PreferencePair>> {
    if keep.is_empty() {
        return Ok(pairs);
    }
    if split == "train" {
        for (i, c) in keep.iter().enumerate() {
            if !pairs.iter().any(|p| &p.category == c) {
                let mut have: Vec<&str> = pairs.iter().map(|p| p.category.as_str()).collect();
                have.sort_unstable();
                have.dedup();
                anyhow::bail!(
                    "with.categories.{i}: `{c}` has no pair in the training split of input `data` (categories: {})",
                    have.join(", ")
                );
            }
        }
    }
    Ok(pairs
        .into_iter()
        .filter(|p| keep.contains(&p.category))
        .collect())
}

/// Finds the single `tokenizer.json` under `dir` (at most 4 levels deep).
pub fn find_tokenizer(dir: &Path) -> anyhow::Result<PathBuf> {
    fn walk(d: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(d)? {
            let p = e?.path();
            if p.is_dir() && depth < 4 {
                walk(&p, depth + 1, out)?;
            } else if p.file_name().is_some_and(|n| n == "tokenizer.json") {
                out.push(p);
            }
        }
        Ok(())
    }
    let direct = dir.join("tokenizer.json");
    if direct.is_file() {
        return Ok(direct);
    }
    let mut found = Vec::new();
    walk(dir, 0, &mut found)
        .with_context(|| format!("searching {} for tokenizer.json", dir.display()))?;
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!(
            "no tokenizer.json in the `tokenizer` input {}",
            dir.display()
        ),
        n => anyhow::bail!(
            "{n} tokenizer.json files in the `tokenizer` input {}: {found:?}",
            dir.display()
        ),
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "data.tokenize",
    code_version: 2,
    summary: "train/eval pairs → token ids (one template for every source, prompt truncated from the left)",
    slots: SLOTS,
    outputs: &["train.parquet", "eval.parquet", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: false,
};

impl crate::kind::TypedKind for DataTokenize {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, w: &With) -> Result<(), WithError> {
        check_with(w)
    }
    fn key_deps(&self, w: &With, roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        source_key_deps(w.tokenizer.as_ref(), roots, "tokenizer")
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let slots: Vec<&str> = ["tokenizer", "backbone"]
            .into_iter()
            .filter(|s| ctx.inputs.contains_key(*s))
            .collect();
        anyhow::ensure!(
            slots.len() < 2,
            "connect either the `tokenizer` or the `backbone` input, not both"
        );
        let (tok_path, tok_what, tok_digest) = match (&w.tokenizer, slots.first()) {
            (Some(_), Some(_)) => anyhow::bail!(
                "give the tokenizer either as `with.tokenizer` or as an input, not both"
            ),
            (Some(s), None) => {
                let r = s.resolve(ctx.roots.data.as_deref(), &FetchEnv::from_env())?;
                (r.path.clone(), r.what.clone(), r.digest)
            }
            (None, Some(slot)) => {
                let dir = ctx.input(slot)?;
                let p = find_tokenizer(dir)?;
                let d = crate::data::pin::digest(&p)?;
                // Relative to the input: the staging path changes every run, and
                // the output must not.
                let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
                (p.clone(), format!("input:{slot}/{rel}"), d)
            }
            (None, None) => {
                anyhow::bail!(
                    "no tokenizer: connect the `tokenizer` (or `backbone`) input or set `with.tokenizer`"
                )
            }
        };
        let tok = load_tokenizer(&tok_path)?;
        let data = ctx.input("data")?;
        let mut m =
            json!({"max_len": w.max_len, "tokenizer": {"what": tok_what, "digest": tok_digest}});
        for split in SPLITS {
            let f = data.join(format!("{split}.parquet"));
            anyhow::ensure!(
                f.is_file(),
                "input `data` has no {split}.parquet (expected a data.prepare stage) in {}",
                data.display()
            );
            let pairs = keep_categories(table::read_pairs(&f)?, &w.categories, split)?;
            let mut rows = Vec::with_capacity(pairs.len());
            let mut trunc: BTreeMap<String, usize> = BTreeMap::new();
            let (mut n_trunc, mut n_resp, mut max_full, mut sum_full) =
                (0usize, 0usize, 0usize, 0usize);
            for (i, p) in pairs.into_iter().enumerate() {
                if i % 256 == 0 {
                    ctx.check_cancel()?;
                }
                let chosen = encode(&tok, &p.prompt, &p.chosen, w.max_len, &tok_path)?;
                let rejected = encode(&tok, &p.prompt, &p.rejected, w.max_len, &tok_path)?;
                if chosen.truncated || rejected.truncated {
                    n_trunc += 1;
                    *trunc.entry(p.category.clone()).or_default() += 1;
                }
                if chosen.response_truncated || rejected.response_truncated {
                    n_resp += 1;
                }
                max_full = max_full.max(chosen.full_len).max(rejected.full_len);
                sum_full += chosen.full_len + rejected.full_len;
                rows.push(TokenRow {
                    id: p.id,
                    category: p.category,
                    source: p.source,
                    chosen,
                    rejected,
                });
            }
            write_tokens(&ctx.out.join(format!("{split}.parquet")), &rows)?;
            let mean = if rows.is_empty() {
                0.0
            } else {
                sum_full as f64 / (2 * rows.len()) as f64
            };
            m[split] = json!({
                "rows": rows.len(),
                "truncated_rows": n_trunc,
                "truncated_by_category": trunc,
                "response_truncated_rows": n_resp,
                "max_tokens_before_truncation": max_full,
                "mean_tokens_before_truncation": mean,
            });
            ctx.log(format!(
                "{split}: {} rows, {n_trunc} truncated, {n_resp} with a cut response",
                rows.len()
            ));
        }
        write_json(&ctx.out.join("metrics.json"), &m)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::token_table::read_ids;
    use crate::kind::Kind;
    use crate::stages::data_prepare::DataPrepare;
    use crate::stages::harness::{metrics, run_kind};

    /// A tiny tokenizer under `dir/tok` and a prepared synthetic set (2
    /// categories × 40 pairs, words outside the tiny vocabulary: [UNK], fine
    /// for lengths and truncation); the prepared directory.
    fn prepared(dir: &Path) -> PathBuf {
        let tokdir = dir.join("tok/model");
        std::fs::create_dir_all(&tokdir).unwrap();
        repro_ml::testing::tiny_tokenizer(&tokdir);
        let syn = json!({"format": "synthetic", "synthetic": {"categories": 2, "pairs_per_category": 40}});
        let pairs = run_kind(
            &crate::stages::data_preferences::DataPreferences,
            dir,
            "s",
            syn,
            &[],
            None,
        )
        .unwrap();
        run_kind(&DataPrepare, dir, "p", json!({}), &[("s", pairs)], None).unwrap()
    }

    #[test]
    fn tokenizes_both_splits_and_counts_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let prep = prepared(dir.path());
        let inputs = [("data", prep.clone()), ("backbone", dir.path().join("tok"))];
        let out = run_kind(
            &DataTokenize,
            dir.path(),
            "t",
            json!({"max_len": 12}),
            &inputs,
            None,
        )
        .unwrap();
        let m = metrics(&out).unwrap();
        let rows = m["train"]["rows"].as_u64().unwrap() + m["eval"]["rows"].as_u64().unwrap();
        assert_eq!(rows, 80);
        assert!(m["train"]["truncated_rows"].as_u64().unwrap() > 0);
        let ids = read_ids(&out.join("train.parquet"), "chosen_ids").unwrap();
        assert!(
            ids.iter()
                .all(|v| v.len() <= 12 && v[0] == 1 && *v.last().unwrap() == 2),
            "[CLS] … [SEP] kept"
        );
        let wide = run_kind(
            &DataTokenize,
            dir.path(),
            "t2",
            json!({"max_len": 4096}),
            &inputs,
            None,
        )
        .unwrap();
        assert_eq!(metrics(&wide).unwrap()["train"]["truncated_rows"], 0);
        let e = run_kind(
            &DataTokenize,
            dir.path(),
            "t3",
            json!({}),
            &[("data", prep)],
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no tokenizer"), "{e}");
    }

    #[test]
    fn categories_keep_one_category_and_the_split_as_prepared() {
        let dir = tempfile::tempdir().unwrap();
        let prep = prepared(dir.path());
        let inputs = [("data", prep), ("backbone", dir.path().join("tok"))];
        let all = run_kind(
            &DataTokenize,
            dir.path(),
            "all",
            json!({"max_len": 16}),
            &inputs,
            None,
        )
        .unwrap();
        let cats = |d: &Path, split: &str| {
            let f = d.join(format!("{split}.parquet"));
            let df = crate::parquet::read_frame(&f).unwrap();
            let ids = crate::parquet::str_column(&df, "id", &f, &["id"]).unwrap();
            let cs = crate::parquet::str_column(&df, "category", &f, &["category"]).unwrap();
            ids.into_iter().zip(cs).collect::<Vec<_>>()
        };
        let first = cats(&all, "train")[0].1.clone();
        let one = run_kind(
            &DataTokenize,
            dir.path(),
            "one",
            json!({"max_len": 16, "categories": [first.clone()]}),
            &inputs,
            None,
        )
        .unwrap();
        for split in SPLITS {
            let want: Vec<_> = cats(&all, split)
                .into_iter()
                .filter(|(_, c)| *c == first)
                .collect();
            assert!(!want.is_empty());
            assert_eq!(
                cats(&one, split),
                want,
                "{split}: the same pairs, in the same split"
            );
        }
        let e = run_kind(
            &DataTokenize,
            dir.path(),
            "none",
            json!({"categories": ["nope"]}),
            &inputs,
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("with.categories.0: `nope` has no pair"),
            "{e}"
        );
        let e = DataTokenize
            .check(&json!({"categories": ["a", "a"]}))
            .unwrap_err();
        assert_eq!(e.path, "categories.1");
    }
}
