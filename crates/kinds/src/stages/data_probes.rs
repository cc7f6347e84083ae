//! `data.probes`: evaluation sets — CrowS-Pairs, StereoSet, LIMA prompts, and
//! prompt sets drawn from preference tables — as `probes.parquet`.

use std::path::Path;

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::source_key::source_key_deps;
use crate::data::drops::OnBadRows;
use crate::data::fetch::FetchEnv;
use crate::data::load::LoadStats;
use crate::data::probe::{write_prompts, write_stereo};
use crate::data::prompt_set::{draw, subsample};
use crate::data::source::SourceSpec;
use crate::data::stereoset::Subset;
use crate::data::{crows_pairs, lima, stereoset, table};
use crate::kind::{KeyDep, KindInfo, Roots, Slot, StageContext, WithError, required};

/// The `data.probes` kind.
pub struct DataProbes;

/// Which probe set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Set {
    /// CrowS-Pairs (CSV).
    CrowsPairs,
    /// StereoSet (jsonl or the nested dev.json).
    Stereoset,
    /// LIMA prompts (jsonl).
    Lima,
    /// Prompts drawn from the `pairs` input.
    Prompts,
}

/// Which table of the `pairs` input prompts are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// `pairs.parquet` of a data.preferences stage, else `eval.parquet`.
    #[default]
    Auto,
    /// `pairs.parquet`.
    Pairs,
    /// `train.parquet` of a data.prepare stage.
    Train,
    /// `eval.parquet` of a data.prepare stage.
    Eval,
}

/// `with:` of `data.probes`; its `Default` is the kind's defaults.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// Which probe set.
    #[schemars(required)]
    set: Option<Set>,
    /// The file (crows-pairs CSV, stereoset jsonl or nested dev.json, LIMA jsonl); not for
    /// prompts.
    source: Option<SourceSpec>,
    /// Stereoset items kept.
    subset: Option<Subset>,
    /// Keep n items sampled with the stage seed (all when null or larger).
    #[schemars(range(min = 1))]
    n: Option<usize>,
    /// prompts: distinct prompts per category (App. B.1: 100); required for prompts.
    #[schemars(range(min = 1))]
    per_category: Option<usize>,
    /// prompts: categories to draw from (default all).
    categories: Option<Vec<String>>,
    /// prompts: table of the `pairs` input (auto: pairs.parquet, else eval.parquet).
    split: Split,
    /// A malformed row stops the stage, or is skipped and counted.
    on_bad_rows: OnBadRows,
}

const SLOTS: &[Slot] = &[Slot {
    name: "pairs",
    required: false,
    fan_in: false,
    doc: "prompts: a data.preferences or data.prepare stage to draw prompts from",
}];

/// Checks the keys that depend on each other.
fn check_with(w: &With) -> Result<(), WithError> {
    let set = required(w.set, "set")?;
    let is_prompts = set == Set::Prompts;
    match (&w.source, is_prompts) {
        (Some(_), true) => {
            return Err(WithError::new(
                "source",
                "prompts are drawn from the `pairs` input, not a source",
            ));
        }
        (None, false) => {
            return Err(WithError::new(
                "source",
                "missing: this set is read from a source",
            ));
        }
        (Some(s), false) => {
            s.location(Some(Path::new(".")))
                .map_err(|e| WithError::new("source", e.to_string()))?;
        }
        (None, true) => {}
    }
    if w.subset.is_some() && set != Set::Stereoset {
        return Err(WithError::new("subset", "only for set: stereoset"));
    }
    if is_prompts != w.per_category.is_some() {
        return Err(WithError::new(
            "per_category",
            "required for set: prompts, and only there",
        ));
    }
    if !is_prompts && (w.categories.is_some() || w.split != Split::Auto) {
        return Err(WithError::new(
            if w.categories.is_some() {
                "categories"
            } else {
                "split"
            },
            "only for set: prompts",
        ));
    }
    Ok(())
}

fn prompts_table(dir: &Path, split: Split) -> anyhow::Result<std::path::PathBuf> {
    let pick = |name: &str| {
        let p = dir.join(name);
        anyhow::ensure!(
            p.is_file(),
            "input `pairs` has no {name} in {}",
            dir.display()
        );
        Ok(p)
    };
    match split {
        Split::Pairs => pick("pairs.parquet"),
        Split::Train => pick("train.parquet"),
        Split::Eval => pick("eval.parquet"),
        Split::Auto if dir.join("pairs.parquet").is_file() => pick("pairs.parquet"),
        Split::Auto => pick("eval.parquet"),
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "data.probes",
    code_version: 1,
    summary: "evaluation sets: CrowS-Pairs, StereoSet, LIMA prompts, prompt sets from preference tables → probes.parquet",
    slots: SLOTS,
    outputs: &["probes.parquet", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: false,
};

impl crate::kind::TypedKind for DataProbes {
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
        let set = required(w.set, "set")?;
        let out = ctx.out.join("probes.parquet");
        let seed = ctx.seed_for("sample");
        let mut m = json!({});
        let n_of = |len: usize| w.n.unwrap_or(len);
        let stats_json = |s: &LoadStats| json!({"rows_read": s.rows_read, "dropped": s.dropped, "bad_rows": s.bad_rows, "bad_rows_total": s.bad_rows.total()});
        let (rows, by): (usize, std::collections::BTreeMap<String, usize>) = if set == Set::Prompts
        {
            let dir = ctx
                .input("pairs")
                .context("set: prompts needs the `pairs` input")?;
            let file = prompts_table(dir, w.split)?;
            let pairs = table::read_pairs(&file)?;
            let per = w.per_category.unwrap_or(0);
            let items = draw(&pairs, per, w.categories.as_deref(), seed)?;
            let items = subsample(items, n_of(usize::MAX), seed);
            write_prompts(&out, &items)?;
            m["table"] = json!("prompts");
            m["from"] = json!(file.file_name().map(|f| f.to_string_lossy().into_owned()));
            (
                items.len(),
                count(items.iter().map(|i| i.category.as_str())),
            )
        } else {
            let spec = w.source.as_ref().context("source missing")?;
            let r = spec.resolve(ctx.roots.data.as_deref(), &FetchEnv::from_env())?;
            m["source"] = json!(r);
            match set {
                Set::Lima => {
                    let (items, st) = lima::load(&r.path, w.on_bad_rows)?;
                    let total = items.len();
                    let items = subsample(items, n_of(total), seed);
                    write_prompts(&out, &items)?;
                    m["table"] = json!("prompts");
                    m["load"] = stats_json(&st);
                    (
                        items.len(),
                        count(items.iter().map(|i| i.category.as_str())),
                    )
                }
                _ => {
                    let (items, st) = if set == Set::CrowsPairs {
                        crows_pairs::load(&r.path, w.on_bad_rows)?
                    } else {
                        // default: no `subset:` means StereoSet's default subset, recorded in the metrics below.
                        let sub = w.subset.unwrap_or_default();
                        m["subset"] = json!(format!("{sub:?}").to_lowercase());
                        stereoset::load(&r.path, sub, w.on_bad_rows)?
                    };
                    let total = items.len();
                    let items = subsample(items, n_of(total), seed);
                    write_stereo(&out, &items)?;
                    m["table"] = json!("stereotype");
                    m["load"] = stats_json(&st);
                    m["by_subset"] = json!(count(items.iter().map(|i| i.subset.as_str())));
                    (
                        items.len(),
                        count(items.iter().map(|i| i.bias_type.as_str())),
                    )
                }
            }
        };
        anyhow::ensure!(rows > 0, "no probe items left");
        m["rows"] = json!(rows);
        m["by_category"] = json!(by);
        crate::util::io::json::write_json(&ctx.out.join("metrics.json"), &m)?;
        ctx.log(format!("{rows} probe items"));
        Ok(())
    }
}

fn count<'a>(it: impl Iterator<Item = &'a str>) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for k in it {
        *m.entry(k.to_string()).or_default() += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::probe::{read_prompts, read_stereo};
    use crate::stages::harness::{metrics, run_kind};

    #[test]
    fn prompt_sets_from_a_preference_table_and_lima_sampling() {
        let dir = tempfile::tempdir().unwrap();
        let syn = json!({"format": "synthetic", "synthetic": {"categories": 2, "pairs_per_category": 100}});
        let pairs = run_kind(
            &crate::stages::data_preferences::DataPreferences,
            dir.path(),
            "s",
            syn,
            &[],
            None,
        )
        .unwrap();
        let with = json!({"set": "prompts", "per_category": 10});
        let out = run_kind(
            &DataProbes,
            dir.path(),
            "pr",
            with,
            &[("pairs", pairs.clone())],
            None,
        )
        .unwrap();
        let items = read_prompts(&out.join("probes.parquet")).unwrap();
        assert_eq!(items.len(), 20);
        assert_eq!(metrics(&out).unwrap()["by_category"]["cat0"], 10);
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let lines: Vec<String> = (0..30)
            .map(|i| json!({"conversations": [format!("prompt {i}"), "answer"], "source": if i % 3 == 0 { "wikihow" } else { "stackexchange" }}).to_string())
            .collect();
        std::fs::write(data.join("lima.jsonl"), lines.join("\n")).unwrap();
        let with = json!({"set": "lima", "source": {"path": "lima.jsonl"}, "n": 12});
        let out = run_kind(&DataProbes, dir.path(), "lima", with, &[], Some(&data)).unwrap();
        assert_eq!(read_prompts(&out.join("probes.parquet")).unwrap().len(), 12);
        let bad = json!({"set": "lima", "source": {"path": "lima.jsonl"}, "subset": "all"});
        assert!(run_kind(&DataProbes, dir.path(), "bad", bad, &[], Some(&data)).is_err());
    }

    #[test]
    fn stereoset_subset_defaults_to_intrasentence() {
        let dir = tempfile::tempdir().unwrap();
        let row = |ty: &str| {
            json!({"type": ty, "target": "t", "bias_type": "gender", "context": "c", "stereotype": "s", "anti-stereotype": "a", "unrelated": "u"}).to_string()
        };
        std::fs::write(
            dir.path().join("ss.jsonl"),
            [
                row("intrasentence"),
                row("intersentence"),
                row("intrasentence"),
            ]
            .join("\n"),
        )
        .unwrap();
        let src = json!({"path": dir.path().join("ss.jsonl")});
        let out = run_kind(
            &DataProbes,
            dir.path(),
            "ss",
            json!({"set": "stereoset", "source": src}),
            &[],
            None,
        )
        .unwrap();
        assert_eq!(read_stereo(&out.join("probes.parquet")).unwrap().len(), 2);
        let m = metrics(&out).unwrap();
        assert_eq!(m["subset"], "intrasentence");
        assert_eq!(
            m["load"]["dropped"]["reasons"][crate::data::stereoset::OTHER_SUBSET]["count"],
            1
        );
    }
}
