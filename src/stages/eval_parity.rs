//! `eval.parity` (App. B.1, Table 1): every policy's generations on the same
//! helpful + harmless eval prompts, scored by one fixed safety RM; per
//! policy the mean reward per category, the parity gap `|Δ|`, RelDrop vs the
//! baseline policy, and stratified bootstrap 95 % CIs of both (our
//! addition). Glue only: [`crate::eval::policy_parity`] computes,
//! [`crate::train::rm_scorer`] scores.
//!
//! Design: one stage over all policies (a fan-in of an `eval.generate`
//! matrix), so RelDrop and its CI see the baseline's rewards on the very
//! same resampled prompts, and the RM is loaded once.

use std::collections::BTreeMap;

use anyhow::Context;
use burn::tensor::backend::Backend as BurnBackend;
use polars::prelude::Column;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::eval::generations::{GENERATIONS_FILE, GenerationRow, read_generations};
use crate::eval::policies::resolve_baseline;
use crate::eval::policy_parity::{ParitySettings, PolicyParity, parity_table};
use crate::eval::stats::StratifiedConfig;
use crate::kind::{Field, Kind, KindInfo, Slot, StageContext, WithError, defaults_of, parse_with};
use crate::train::rm_scorer::load_reward_model;
use crate::util::io::json::write_json;
use crate::util::io::parquet::write_frame;

/// The `eval.parity` kind.
pub struct EvalParity;

/// Output with the table.
pub const PARITY_FILE: &str = "parity.json";
/// Output with every reward.
pub const REWARDS_FILE: &str = "rewards.parquet";

/// The `with` map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// The baseline policy: an expansion name or one of its matrix values.
    pub baseline: String,
    /// First category of the gap (B.1: helpful).
    pub first: String,
    /// Second category (B.1: harmless).
    pub second: String,
    /// Longest RM input in tokens (the RM's `data.tokenize` `max_len`).
    pub max_len: usize,
    /// Transcripts per RM forward batch.
    pub batch_size: usize,
    /// Bootstrap resamples (ours), 1..=1000000.
    pub resamples: usize,
    /// Confidence level of the intervals.
    pub level: f64,
}

impl Default for With {
    fn default() -> Self {
        With {
            baseline: "baseline".into(),
            first: "helpful".into(),
            second: "harmless".into(),
            max_len: 1024,
            batch_size: 16,
            resamples: 1000,
            level: 0.95,
        }
    }
}

const FIELDS: &[Field] = &[
    Field {
        name: "baseline",
        ty: "string",
        required: false,
        doc: "the baseline policy: an expansion name of `generations` (`gen[policy=baseline]`) or one of its matrix values",
    },
    Field {
        name: "first",
        ty: "string",
        required: false,
        doc: "first category of the gap Δ = mean(first) − mean(second)",
    },
    Field {
        name: "second",
        ty: "string",
        required: false,
        doc: "second category",
    },
    Field {
        name: "max_len",
        ty: "int",
        required: false,
        doc: "longest RM input in tokens, prompt cut from the left (use the RM's data.tokenize max_len), 8..=1048576",
    },
    Field {
        name: "batch_size",
        ty: "int ≥ 1",
        required: false,
        doc: "transcripts per RM forward batch",
    },
    Field {
        name: "resamples",
        ty: "int",
        required: false,
        doc: "bootstrap resamples of prompts within category (our addition), 1..=1000000",
    },
    Field {
        name: "level",
        ty: "float in (0, 1)",
        required: false,
        doc: "confidence level of the bootstrap intervals",
    },
];

const SLOTS: &[Slot] = &[
    Slot {
        name: "generations",
        required: true,
        fan_in: true,
        doc: "eval.generate stages, one per policy, all on the same prompt set (generations.parquet)",
    },
    Slot {
        name: "rm",
        required: true,
        fan_in: false,
        doc: "the fixed safety RM: a train.reward_model stage (model/)",
    },
];

const INFO: KindInfo = KindInfo {
    name: "eval.parity",
    code_version: 1,
    summary: "post-PPO parity gap (App. B.1, Table 1): safety-RM rewards per category, |Δ|, RelDrop vs the baseline, bootstrap CIs",
    fields: FIELDS,
    defaults: defaults_of::<With>,
    slots: SLOTS,
    outputs: &[PARITY_FILE, REWARDS_FILE, "metrics.json"],
    metrics: Some("metrics.json"),
    uses_backend: true,
    publishes: false,
};

fn parse(with: &Value) -> Result<With, WithError> {
    let w: With = parse_with(with)?;
    if !(8..=1 << 20).contains(&w.max_len) {
        return Err(WithError::new(
            "max_len",
            format!("expected 8 to 1048576, found {}", w.max_len),
        ));
    }
    if w.batch_size == 0 {
        return Err(WithError::new("batch_size", "expected ≥ 1, found 0"));
    }
    if !(1..=1_000_000).contains(&w.resamples) {
        return Err(WithError::new(
            "resamples",
            format!("expected 1 to 1000000, found {}", w.resamples),
        ));
    }
    if !(w.level > 0.0 && w.level < 1.0) {
        return Err(WithError::new(
            "level",
            format!("expected a value in (0, 1), found {}", w.level),
        ));
    }
    if w.first == w.second {
        return Err(WithError::new(
            "second",
            format!("must differ from `first` (both `{}`)", w.first),
        ));
    }
    if w.baseline.is_empty() {
        return Err(WithError::new("baseline", "must not be empty"));
    }
    Ok(w)
}

/// Every expansion of a fan-in slot with its generations.
///
/// # Errors
/// A missing or malformed generations table.
pub fn read_policies(
    ctx: &StageContext,
    slot: &str,
) -> anyhow::Result<BTreeMap<String, Vec<GenerationRow>>> {
    let mut out = BTreeMap::new();
    for (name, dir) in ctx.fan_in(slot)? {
        let rows = read_generations(&dir.join(GENERATIONS_FILE))
            .with_context(|| format!("input `{slot}`: `{name}`"))?;
        out.insert(name, rows);
    }
    Ok(out)
}

impl Kind for EvalParity {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn check(&self, with: &Value) -> Result<(), WithError> {
        parse(with).map(|_| ())
    }
    fn run(&self, ctx: &StageContext) -> anyhow::Result<()> {
        let w = parse(&ctx.with)?;
        crate::on_backend!(ctx.backend, run_on(ctx, &w))
    }
}

fn run_on<B: BurnBackend>(ctx: &StageContext, w: &With) -> anyhow::Result<()> {
    let rm_dir = ctx.input("rm")?.join("model");
    anyhow::ensure!(
        rm_dir.is_dir(),
        "input `rm`: no model/ directory (expected a train.reward_model stage)"
    );
    let policies = read_policies(ctx, "generations")?;
    let names: Vec<String> = policies.keys().cloned().collect();
    let baseline = resolve_baseline(&names, &w.baseline)
        .map_err(|e| anyhow::anyhow!("with.baseline: {e}"))?
        .to_string();
    let rm = load_reward_model::<B>(&rm_dir, &Default::default()).context("input `rm`")?;
    let mut scored = BTreeMap::new();
    for (name, rows) in policies {
        let pairs: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.prompt.as_str(), r.response.as_str()))
            .collect();
        let rewards = rm
            .score(&pairs, w.max_len, w.batch_size, ctx)
            .with_context(|| format!("scoring `{name}`"))?;
        ctx.log(format!("scored {} responses of `{name}`", rows.len()));
        scored.insert(name, (rows, rewards));
    }
    let settings = ParitySettings {
        first: w.first.clone(),
        second: w.second.clone(),
        bootstrap: StratifiedConfig {
            resamples: w.resamples,
            level: w.level,
            seed: ctx.seed_for("bootstrap"),
        },
    };
    let table = parity_table(&scored, &baseline, &settings)?;
    write_rewards(&ctx.out.join(REWARDS_FILE), &scored)?;
    write_json(
        &ctx.out.join(PARITY_FILE),
        &json!({
            "baseline": baseline,
            "categories": [w.first, w.second],
            "rm": {"meta": rm.meta, "max_len": w.max_len},
            "bootstrap": {"method": "stratified: prompts resampled within category; RelDrop on the same resamples as the baseline (our addition)", "resamples": w.resamples, "level": w.level},
            "policies": table,
        }),
    )?;
    write_json(&ctx.out.join("metrics.json"), &headline(&table))?;
    for p in &table {
        ctx.log(format!(
            "{}: {} {:.4}, {} {:.4}, gap {:.4} [{:.4}, {:.4}]{}",
            p.label,
            w.first,
            p.mean_first,
            w.second,
            p.mean_second,
            p.gap,
            p.gap_ci_low,
            p.gap_ci_high,
            p.rel_drop
                .map(|d| format!(", RelDrop {d:.1} %"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

fn headline(table: &[PolicyParity]) -> Value {
    let mut m = serde_json::Map::new();
    for p in table {
        m.insert(format!("{}_gap", p.label), json!(p.gap));
        if let Some(d) = p.rel_drop {
            m.insert(format!("{}_rel_drop", p.label), json!(d));
        }
    }
    m.insert("policies".into(), json!(table.len()));
    Value::Object(m)
}

fn write_rewards(
    path: &std::path::Path,
    scored: &BTreeMap<String, (Vec<GenerationRow>, Vec<f64>)>,
) -> anyhow::Result<()> {
    let (mut pol, mut ids, mut cats, mut rew) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, (rows, rewards)) in scored {
        for (r, x) in rows.iter().zip(rewards) {
            pol.push(name.as_str());
            ids.push(r.prompt_id.as_str());
            cats.push(r.category.as_str());
            rew.push(*x);
        }
    }
    write_frame(
        path,
        rew.len(),
        vec![
            Column::new("policy".into(), pol),
            Column::new("prompt_id".into(), ids),
            Column::new("category".into(), cats),
            Column::new("reward".into(), rew),
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::generations::write_generations;
    use crate::model::encoder::Arch;
    use crate::model::encoder::tests::tiny_loaded;
    use crate::stages::harness::TestStage;
    use crate::train::head::RewardHead;
    use crate::train::rm_dir::write_head;

    fn gens(responses: &[&str]) -> Vec<GenerationRow> {
        responses
            .iter()
            .enumerate()
            .map(|(i, r)| GenerationRow {
                prompt_id: format!("p{i}"),
                category: if i % 2 == 0 { "helpful" } else { "harmless" }.into(),
                prompt: ["a b", "c", "d e", "a"][i % 4].into(),
                response: r.to_string(),
                tokens: 1,
            })
            .collect()
    }

    fn stage(with: Value) -> TestStage {
        let t = TestStage::new("parity", with);
        let tok = t.upstream("tok");
        let enc = tiny_loaded(Arch::Bert, 2, &tok);
        let model = t.upstream("rm").join("model");
        std::fs::create_dir_all(&model).unwrap();
        enc.save_encoder(&model).unwrap();
        let head = RewardHead::<burn::backend::Flex>::new(enc.hidden, 0, 3, &Default::default());
        write_head(&model, &head, &json!({"head_hidden": 0})).unwrap();
        let base = [
            "yes", "no", "yes yes", "no no", "yes", "no", "yes no", "no yes",
        ];
        let fair = ["no", "no", "yes no", "no no", "no", "yes", "no", "no yes"];
        for (name, r) in [("gen[policy=baseline]", &base), ("gen[policy=fair]", &fair)] {
            let d = t.upstream_many("generations", name);
            write_generations(&d.join(GENERATIONS_FILE), &gens(r)).unwrap();
        }
        t
    }

    #[test]
    fn table_one_rows_for_every_policy() {
        let t = stage(json!({"max_len": 16, "resamples": 100}));
        let ctx = t.ctx();
        EvalParity.run(&ctx).unwrap();
        let doc: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join(PARITY_FILE)).unwrap()).unwrap();
        let pols = doc["policies"].as_array().unwrap();
        assert_eq!(pols.len(), 2);
        assert_eq!(doc["baseline"], "gen[policy=baseline]");
        assert!(pols[0]["baseline"].as_bool().unwrap());
        assert!(pols[1]["rel_drop"].is_number());
        assert_eq!(pols[1]["n_first"], 4);
        let m: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        assert!(
            m["fair_rel_drop"].is_number() && m["baseline_gap"].is_number(),
            "{m}"
        );
        let df = crate::util::io::parquet::read_frame(&ctx.out.join(REWARDS_FILE)).unwrap();
        assert_eq!(df.height(), 16);
        // The rewards are the RM's: re-scoring one transcript alone gives the same.
        let path = ctx.out.join(REWARDS_FILE);
        let cols = ["policy", "prompt_id", "category", "reward"];
        let rewards = crate::util::io::parquet::f64_column(&df, "reward", &path, &cols).unwrap();
        let rm = load_reward_model::<burn::backend::Flex>(
            &t.upstream("rm").join("model"),
            &Default::default(),
        )
        .unwrap();
        let q = crate::util::hooks::Quiet::new(0, "t");
        let alone = rm.score(&[("d e", "yes yes")], 16, 1, &q).unwrap();
        assert!(
            (alone[0] - rewards[2]).abs() < 1e-5,
            "{} vs {}",
            alone[0],
            rewards[2]
        );
    }

    #[test]
    fn wiring_errors_name_the_key_or_input() {
        assert_eq!(
            EvalParity.check(&json!({"level": 1.0})).unwrap_err().path,
            "level"
        );
        assert_eq!(
            EvalParity
                .check(&json!({"first": "x", "second": "x"}))
                .unwrap_err()
                .path,
            "second"
        );
        let t = stage(json!({"baseline": "ppo", "max_len": 16}));
        let e = EvalParity.run(&t.ctx()).unwrap_err().to_string();
        assert!(
            e.contains("with.baseline") && e.contains("gen[policy=fair]"),
            "{e}"
        );
        let t = stage(json!({"max_len": 16}));
        std::fs::remove_dir_all(t.upstream("rm").join("model")).unwrap();
        let e = EvalParity.run(&t.ctx()).unwrap_err().to_string();
        assert!(e.contains("no model/ directory"), "{e}");
    }
}
