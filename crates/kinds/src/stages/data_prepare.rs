//! `data.prepare`: merge preference tables, drop duplicates and bad pairs,
//! balance categories, split train/eval grouped by prompt (App. A.4).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::data::prepare::{PrepareOptions, prepare, shared_prompts, split_counts};
use crate::data::table;
use crate::kind::{Input, KindInfo, Slot, StageContext};
use crate::util::io::json::write_json;

/// The `data.prepare` kind.
pub struct DataPrepare;

/// Named slots for the common cases, plus `*` (see [`Slot::name`]) for any
/// other names. None is required by itself; `run` needs at least one input.
/// The named ones let the usual example (`{helpful: …, harmless: …}`)
/// validate even on an engine that does not know `*` yet.
const SLOTS: &[Slot] = &[
    Slot {
        name: "pairs",
        required: false,
        fan_in: false,
        doc: "a data.preferences stage (pairs.parquet)",
    },
    Slot {
        name: "helpful",
        required: false,
        fan_in: false,
        doc: "a data.preferences stage of helpful pairs",
    },
    Slot {
        name: "harmless",
        required: false,
        fan_in: false,
        doc: "a data.preferences stage of harmless pairs",
    },
    Slot {
        name: "*",
        required: false,
        fan_in: false,
        doc: "any further data.preferences stages under any input names; all inputs are merged in name order",
    },
];

/// Every input directory with its name (`name` or `name/<expansion>`), in name order.
pub fn input_dirs(ctx: &StageContext) -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    for (name, input) in &ctx.inputs {
        match input {
            Input::One(p) => v.push((name.clone(), p.clone())),
            Input::Many(m) => v.extend(m.iter().map(|(e, p)| (format!("{name}/{e}"), p.clone()))),
        }
    }
    v
}

fn pairs_file(name: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let p = dir.join("pairs.parquet");
    anyhow::ensure!(
        p.is_file(),
        "input `{name}` has no pairs.parquet (expected a data.preferences stage) in {}",
        dir.display()
    );
    Ok(p)
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "data.prepare",
    code_version: 1,
    summary: "merge, dedupe, drop and count bad pairs, balance, split grouped by prompt → train/eval text",
    slots: SLOTS,
    outputs: &["train.parquet", "eval.parquet", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: false,
};

impl crate::kind::TypedKind for DataPrepare {
    type With = PrepareOptions;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, opts: PrepareOptions) -> anyhow::Result<()> {
        let dirs = input_dirs(ctx);
        anyhow::ensure!(!dirs.is_empty(), "data.prepare needs at least one input");
        let mut inputs = Vec::new();
        let mut sizes = serde_json::Map::new();
        for (name, dir) in dirs {
            let f = pairs_file(&name, &dir)?;
            let pairs = table::read_pairs(&f).with_context(|| format!("input `{name}`"))?;
            sizes.insert(name.clone(), json!(pairs.len()));
            inputs.push((name, pairs));
        }
        let out = prepare(
            inputs,
            &opts,
            ctx.seed_for("balance"),
            ctx.seed_for("split"),
        );
        anyhow::ensure!(
            !out.train.is_empty(),
            "no training pairs left after preparation"
        );
        let shared = shared_prompts(&out);
        anyhow::ensure!(
            shared == 0,
            "internal error: {shared} prompts in both splits"
        );
        table::write_pairs(&ctx.out.join("train.parquet"), &out.train)?;
        table::write_pairs(&ctx.out.join("eval.parquet"), &out.eval)?;
        let m = json!({
            "options": opts,
            "inputs": sizes,
            "merged_by_category": out.merged,
            "dropped": out.dropped,
            "dropped_total": out.dropped.total(),
            "balanced_to": out.balanced_to,
            "train": out.train.len(),
            "eval": out.eval.len(),
            "train_by_category": split_counts(&out.train),
            "eval_by_category": split_counts(&out.eval),
            "prompts_in_both_splits": shared,
        });
        write_json(&ctx.out.join("metrics.json"), &m)?;
        ctx.log(format!(
            "train {} / eval {} pairs, {} dropped",
            out.train.len(),
            out.eval.len(),
            out.dropped.total()
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::data_preferences::DataPreferences;
    use crate::stages::harness::{metrics, run_kind};

    #[test]
    fn merges_named_inputs_balances_and_splits_without_shared_prompts() {
        let dir = tempfile::tempdir().unwrap();
        let syn = |n: usize| json!({"format": "synthetic", "synthetic": {"categories": 2, "pairs_per_category": n}});
        let a = run_kind(&DataPreferences, dir.path(), "a", syn(100), &[], None).unwrap();
        let b = run_kind(&DataPreferences, dir.path(), "b", syn(60), &[], None).unwrap();
        let with = json!({"eval_fraction": 0.25});
        let out = run_kind(
            &DataPrepare,
            dir.path(),
            "prep",
            with,
            &[("first", a.clone()), ("second", b)],
            None,
        )
        .unwrap();
        let m = metrics(&out).unwrap();
        assert_eq!(m["inputs"]["first"], 200);
        assert_eq!(m["prompts_in_both_splits"], 0);
        // Same seed ("synthetic" stream of different stage names) → different data; no exact duplicates
        // expected beyond chance, and whatever is dropped is counted.
        let kept = m["train"].as_u64().unwrap() + m["eval"].as_u64().unwrap();
        assert_eq!(kept + m["dropped_total"].as_u64().unwrap(), 320);
        let train = table::read_pairs(&out.join("train.parquet")).unwrap();
        assert!(
            train
                .iter()
                .all(|p| p.id.starts_with("first/") || p.id.starts_with("second/"))
        );
        assert!(
            run_kind(
                &DataPrepare,
                dir.path(),
                "bad",
                json!({"eval_fraction": 1.0}),
                &[("a", a)],
                None
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod determinism {
    use super::*;
    use crate::stages::data_preferences::DataPreferences;
    use crate::stages::harness::run_kind;

    #[test]
    fn reruns_write_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let syn = json!({"format": "synthetic", "synthetic": {"categories": 3, "pairs_per_category": 300}});
        let mut outs = Vec::new();
        for run in ["r1", "r2"] {
            let root = dir.path().join(run);
            let a = run_kind(&DataPreferences, &root, "s", syn.clone(), &[], None).unwrap();
            let p = run_kind(
                &DataPrepare,
                &root,
                "p",
                json!({}),
                &[("s", a.clone())],
                None,
            )
            .unwrap();
            outs.push((a, p));
        }
        for f in ["pairs.parquet", "metrics.json"] {
            assert_eq!(
                std::fs::read(outs[0].0.join(f)).unwrap(),
                std::fs::read(outs[1].0.join(f)).unwrap(),
                "{f}"
            );
        }
        for f in ["train.parquet", "eval.parquet", "metrics.json"] {
            assert_eq!(
                std::fs::read(outs[0].1.join(f)).unwrap(),
                std::fs::read(outs[1].1.join(f)).unwrap(),
                "{f}"
            );
        }
    }
}
