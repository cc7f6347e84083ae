//! `data.preferences`: one preference source → `pairs.parquet` + `metrics.json`.

use std::path::Path;

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::source_key::source_key_deps;
use crate::data::drops::OnBadRows;
use crate::data::fetch::FetchEnv;
use crate::data::hh_rlhf::HhOptions;
use crate::data::pku_saferlhf::{CategoryFrom, MultiCategory, PkuOptions, Preference};
use crate::data::preference_jsonl::FieldMap;
use crate::data::preferences::{Format, FormatOptions, by_category, format_name, load};
use crate::data::source::SourceSpec;
use crate::data::synthetic::{SyntheticOptions, generate};
use crate::data::table;
use crate::kind::{KeyDep, KindInfo, Roots, Slot, StageContext, WithError, required};
use crate::util::io::json::write_json;

/// The `data.preferences` kind.
pub struct DataPreferences;

/// `with:` of `data.preferences`; its `Default` is the kind's defaults.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// {path: P} (absolute or under $REPRO_DATA) | {url: U} | {hf: {repo, type, file,
    /// revision}}, optional sha256:/blake3: pin; required except for synthetic, which takes
    /// none.
    source: Option<SourceSpec>,
    /// How rows are read.
    #[schemars(required)]
    format: Option<Format>,
    /// Category of every pair (required for hh-rlhf; preference-jsonl unless fields.category).
    category: Option<String>,
    /// A malformed row stops the stage, or is skipped and counted.
    on_bad_rows: OnBadRows,
    /// preference-jsonl: the file's field names.
    fields: Option<FieldMap>,
    /// hh-rlhf: keep pairs whose transcripts diverge before the final turn (tails become the
    /// responses).
    keep_multi_turn: bool,
    /// pku-saferlhf: which label picks the chosen response.
    preference: Preference,
    /// pku-saferlhf: harm categories of the unsafe response, or of either.
    category_from: CategoryFrom,
    /// pku-saferlhf: a pair with several categories gets the first (dataset-card order), one
    /// copy each, or is dropped.
    multi_category: MultiCategory,
    /// synthetic: K (2-26) categories, pairs each, planted per-category offset in extra `good`
    /// markers (default 0,1,…).
    synthetic: Option<SyntheticOptions>,
}

const SLOTS: &[Slot] = &[];

/// Checks the keys that depend on each other.
fn check_with(w: &With) -> Result<(), WithError> {
    let format = required(w.format, "format")?;
    match (format, &w.source) {
        (Format::Synthetic, Some(_)) => {
            return Err(WithError::new(
                "source",
                "the synthetic format takes no source",
            ));
        }
        (Format::Synthetic, None) => {
            // default: no `synthetic:` block means the generator's documented defaults (field doc above).
            let o = w.synthetic.clone().unwrap_or_default();
            o.resolve()
                .map_err(|e| WithError::new("synthetic", e.to_string()))?;
        }
        (_, None) => {
            return Err(WithError::new(
                "source",
                "missing: every format but synthetic reads a source",
            ));
        }
        (_, Some(s)) => {
            s.location(Some(Path::new(".")))
                .map_err(|e| WithError::new("source", e.to_string()))?;
        }
    }
    if w.synthetic.is_some() && format != Format::Synthetic {
        return Err(WithError::new("synthetic", "only for format: synthetic"));
    }
    if w.fields.is_some() && format != Format::PreferenceJsonl {
        return Err(WithError::new(
            "fields",
            "only for format: preference-jsonl",
        ));
    }
    let has_cat_field = w.fields.as_ref().is_some_and(|f| f.category.is_some());
    match format {
        Format::HhRlhf if w.category.is_none() => Err(WithError::new(
            "category",
            "hh-rlhf needs a category (helpful, harmless…)",
        )),
        Format::PreferenceJsonl if w.category.is_none() && !has_cat_field => Err(WithError::new(
            "category",
            "preference-jsonl needs `category` or `fields.category`",
        )),
        Format::PkuSaferlhf | Format::Synthetic if w.category.is_some() => Err(WithError::new(
            "category",
            "categories come from the data for this format",
        )),
        _ => Ok(()),
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "data.preferences",
    code_version: 1,
    summary: "one preference source (HH-RLHF, {prompt,chosen,rejected} JSONL, PKU-SafeRLHF, synthetic) → pairs.parquet",
    slots: SLOTS,
    outputs: &["pairs.parquet", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: false,
};

impl crate::kind::TypedKind for DataPreferences {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, w: &With) -> Result<(), WithError> {
        check_with(w)
    }
    fn key_deps(&self, w: &With, roots: &Roots) -> Result<Vec<KeyDep>, WithError> {
        source_key_deps(w.source.as_ref(), roots, "source")
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        // Checked before the stage ran (`validate`).
        let format = required(w.format, "format")?;
        let (pairs, mut m) = if format == Format::Synthetic {
            // default: no `synthetic:` block means the generator's documented defaults.
            let o = w.synthetic.clone().unwrap_or_default();
            let (pairs, realised) = generate(&o, ctx.seed_for("synthetic"))?;
            let offsets = o.resolve()?;
            let planted: serde_json::Map<String, Value> = offsets
                .iter()
                .zip(&realised)
                .enumerate()
                .map(|(c, (o, r))| {
                    (
                        crate::data::synthetic::category_name(c),
                        json!({"offset": o, "mean_extra_good": r}),
                    )
                })
                .collect();
            let m = json!({"format": "synthetic", "options": o, "planted": planted, "rows_read": pairs.len()});
            (pairs, m)
        } else {
            let spec = w.source.as_ref().context("source missing")?;
            let resolved = spec.resolve(ctx.roots.data.as_deref(), &FetchEnv::from_env())?;
            ctx.log(format!(
                "reading {} ({} bytes)",
                resolved.path.display(),
                resolved.digest.bytes
            ));
            let opts = FormatOptions {
                category: w.category.clone(),
                on_bad_rows: w.on_bad_rows,
                // default: no `fields:` means the format's standard field names (FieldMap's default).
                fields: w.fields.clone().unwrap_or_default(),
                hh: HhOptions {
                    keep_multi_turn: w.keep_multi_turn,
                },
                pku: PkuOptions {
                    preference: w.preference,
                    category_from: w.category_from,
                    multi_category: w.multi_category,
                },
            };
            let (pairs, stats, counts) = load(&resolved.path, format, &opts, &spec.label())?;
            let m = json!({
                "format": format_name(format),
                "source": resolved,
                "rows_read": stats.rows_read,
                "dropped": stats.dropped,
                "dropped_total": stats.dropped.total(),
                "bad_rows": stats.bad_rows,
                "bad_rows_total": stats.bad_rows.total(),
                "format_counts": counts,
            });
            (pairs, m)
        };
        anyhow::ensure!(
            !pairs.is_empty(),
            "no pairs left after dropping (see the drop counts in the log)"
        );
        m["pairs"] = json!(pairs.len());
        m["by_category"] = json!(by_category(&pairs));
        table::write_pairs(&ctx.out.join("pairs.parquet"), &pairs)?;
        write_json(&ctx.out.join("metrics.json"), &m)?;
        ctx.log(format!("{} pairs", pairs.len()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;
    use crate::stages::harness::{metrics, run_kind};

    #[test]
    fn hh_file_to_pairs_with_every_drop_counted() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("hh")).unwrap();
        let t = |c: &str, r: &str| {
            json!({"chosen": format!("\n\nHuman: q\n\nAssistant: {c}"), "rejected": format!("\n\nHuman: q\n\nAssistant: {r}")}).to_string()
        };
        let lines = [
            t("yes", "no"),
            t("", "no"),
            t("a\n\nHuman: more\n\nAssistant: b", "no"),
            "{\"chosen\": 1}".into(),
        ];
        std::fs::write(data.join("hh/test.jsonl"), lines.join("\n")).unwrap();
        let with = json!({"source": {"path": "hh/test.jsonl"}, "format": "hh-rlhf", "category": "harmless"});
        let e = run_kind(
            &DataPreferences,
            dir.path(),
            "hh",
            with.clone(),
            &[],
            Some(&data),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("test.jsonl:4: field `chosen`"), "{e}");
        let mut skip = with.clone();
        skip["on_bad_rows"] = json!("skip");
        let out = run_kind(&DataPreferences, dir.path(), "hh2", skip, &[], Some(&data)).unwrap();
        let m = metrics(&out).unwrap();
        assert_eq!(m["pairs"], 1);
        assert_eq!(m["rows_read"], 4);
        assert_eq!(m["dropped_total"], 2);
        assert_eq!(m["bad_rows_total"], 1);
        assert_eq!(m["by_category"]["harmless"], 1);
        assert_eq!(
            m["source"]["digest"]["bytes"],
            std::fs::metadata(data.join("hh/test.jsonl")).unwrap().len()
        );
        let pairs = table::read_pairs(&out.join("pairs.parquet")).unwrap();
        assert_eq!(pairs[0].id, "test.jsonl:1");
        assert_eq!(pairs[0].source, "hh-rlhf:hh/test.jsonl");
    }

    #[test]
    fn key_deps_cover_paths_and_pins_but_not_unpinned_urls() {
        let roots = Roots {
            data: Some("/d".into()),
            ..Default::default()
        };
        let k = |w: Value| DataPreferences.key_deps(&w, &roots);
        let deps =
            k(json!({"source": {"path": "x/y.jsonl"}, "format": "hh-rlhf", "category": "h"}))
                .unwrap();
        assert_eq!(deps, vec![KeyDep::File("/d/x/y.jsonl".into())]);
        let pin = "a".repeat(64);
        let deps = k(json!({"source": {"url": "https://e.org/f", "sha256": pin}, "format": "hh-rlhf", "category": "h"})).unwrap();
        assert_eq!(deps, vec![KeyDep::Pin(format!("sha256:{pin}"))]);
        assert!(
            k(json!({"source": {"url": "https://e.org/f"}, "format": "hh-rlhf", "category": "h"}))
                .unwrap()
                .is_empty()
        );
        let none = Roots::default();
        let e = DataPreferences
            .key_deps(
                &json!({"source": {"path": "x"}, "format": "hh-rlhf", "category": "h"}),
                &none,
            )
            .unwrap_err();
        assert_eq!(e.path, "source");
    }

    #[test]
    fn with_is_checked_per_format() {
        let c = |w: Value| DataPreferences.check(&w).map_err(|e| e.path);
        assert_eq!(
            c(json!({"source": {"path": "a"}, "format": "hh-rlhf"})),
            Err("category".into())
        );
        assert_eq!(
            c(json!({"format": "synthetic", "synthetic": {"categories": 1}})),
            Err("synthetic".into())
        );
        assert_eq!(
            c(json!({"source": {"path": "a"}, "format": "pku-saferlhf", "category": "x"})),
            Err("category".into())
        );
        assert_eq!(
            c(json!({"source": {"path": "a"}, "format": "hh-rlhf", "category": "x", "typo": 1})),
            Err("typo".into())
        );
        assert!(c(json!({"source": {"path": "a"}, "format": "preference-jsonl", "fields": {"category": "topic"}})).is_ok());
    }

    #[test]
    fn synthetic_records_its_planted_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let with = json!({"format": "synthetic", "synthetic": {"categories": 3, "pairs_per_category": 50, "offsets": [0.0, 0.5, 2.0]}});
        let out = run_kind(&DataPreferences, dir.path(), "syn", with, &[], None).unwrap();
        let m = metrics(&out).unwrap();
        assert_eq!(m["planted"]["cat2"]["offset"], 2.0);
        assert_eq!(m["planted"]["cat2"]["mean_extra_good"], 2.0);
        assert_eq!(m["pairs"], 150);
    }
}
