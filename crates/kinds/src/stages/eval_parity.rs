//! `eval.parity` (App. B.1, Table 1): every policy's generations on the same
//! helpful + harmless eval prompts, scored by one fixed safety RM; per
//! policy the raw and standardised mean reward per category, the signed gap
//! with its bootstrap CI, the paired gap change vs the baseline policy
//! (SE, CI, p), RelDrop where the baseline gap is clear of 0, and the power
//! to see the paper's change (issue 22). Glue only:
//! [`crate::eval::policy_parity`] computes, [`crate::train::rm_scorer`]
//! scores.
//!
//! Design: one stage over all policies (a fan-in of an `eval.generate`
//! matrix), so the gap changes see the baseline's rewards on the very same
//! resampled prompts, the standardisation pools every policy, and the RM is
//! loaded once.

use std::collections::BTreeMap;

use anyhow::Context;
use burn::tensor::backend::Backend as BurnBackend;
use polars::prelude::Column;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::fan_in::{read_caps, read_policies};
use crate::eval::policies::resolve_baseline;
use crate::eval::policy_parity::{ParitySettings, PolicyParity, ScoredPolicy, parity_table};
use crate::eval::stats::StratifiedConfig;
use crate::kind::{KindInfo, Slot, StageContext, WithError};
use crate::parquet::write_frame;
use crate::train::rm_scorer::load_reward_model;
use crate::util::io::json::write_json;

/// The `eval.parity` kind.
pub struct EvalParity;

/// Output with the table.
pub const PARITY_FILE: &str = "parity.json";
/// Output with every reward.
pub const REWARDS_FILE: &str = "rewards.parquet";

/// The `with` map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// The baseline policy: an expansion name of `generations`
    /// (`gen[policy=baseline]`) or one of its matrix values.
    #[schemars(length(min = 1))]
    pub baseline: String,
    /// First category of the gap Δ = mean(first) − mean(second).
    pub first: String,
    /// Second category.
    pub second: String,
    /// Longest RM input in tokens, prompt cut from the left (use the RM's
    /// `data.tokenize` `max_len`).
    #[schemars(range(min = 8, max = 1_048_576))]
    pub max_len: usize,
    /// Transcripts per RM forward batch.
    #[schemars(range(min = 1))]
    pub batch_size: usize,
    /// Bootstrap resamples of prompts within category, the same prompts for
    /// every policy (our addition).
    #[schemars(range(min = 2, max = 1_000_000))]
    pub resamples: usize,
    /// Confidence level of the bootstrap intervals.
    #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 1))]
    pub level: f64,
    /// The paper's relative change of the parity gap per policy label, in
    /// percent (Table 1's RelDrop, e.g. `{ fair: -16.9 }`), applied to our
    /// baseline gap as the change the power numbers target; empty: no power
    /// target.
    pub paper_rel_change: BTreeMap<String, f64>,
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
            paper_rel_change: BTreeMap::new(),
        }
    }
}

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
    code_version: 2,
    summary: "post-PPO parity gap (App. B.1, Table 1): standardised safety-RM rewards per category, the signed gap, the paired gap change vs the baseline (joint bootstrap over prompts), RelDrop where defined, power",
    slots: SLOTS,
    outputs: &[PARITY_FILE, REWARDS_FILE, "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: Some(crate::model::NUMERICS_VERSION),
    publishes: false,
};

impl crate::kind::TypedKind for EvalParity {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn validate(&self, w: &With) -> Result<(), WithError> {
        if w.first == w.second {
            return Err(WithError::new(
                "second",
                format!("must differ from `first` (both `{}`)", w.first),
            ));
        }
        Ok(())
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
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
    let caps = read_caps(ctx, "generations")?;
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
        let max_new_tokens = caps.get(&name).copied().flatten();
        scored.insert(
            name,
            ScoredPolicy {
                rows,
                rewards,
                max_new_tokens,
            },
        );
    }
    let settings = ParitySettings {
        first: w.first.clone(),
        second: w.second.clone(),
        bootstrap: StratifiedConfig {
            resamples: w.resamples,
            level: w.level,
            seed: ctx.seed_for("bootstrap"),
        },
        paper_rel_change: w.paper_rel_change.clone(),
    };
    let table = parity_table(&scored, &baseline, &settings)?;
    write_rewards(&ctx.out.join(REWARDS_FILE), &scored)?;
    write_json(
        &ctx.out.join(PARITY_FILE),
        &json!({
            "baseline": baseline,
            "categories": [w.first, w.second],
            "rm": {"meta": rm.meta, "max_len": w.max_len},
            "standardisation": {
                "method": "z-score: every reward minus the mean, over the sample sd (ddof 1), both pooled over all policies' scored responses; gaps and changes are in these sd units, raw_* fields are not",
                "mean": table.scale.mean, "sd": table.scale.sd, "n": table.scale.n,
            },
            "bootstrap": {
                "method": "stratified joint: prompts resampled with replacement within category, the same resampled prompts for every policy; SE = sd of the replicates; percentile intervals; p = min(1, 2·min(P(d*≤0), P(d*≥0))) (our addition)",
                "resamples": w.resamples, "level": w.level,
                "headline": "gap_change = |Δ_P| − |Δ_B| (the paper's 'gap shrinks'); signed_change = Δ_P − Δ_B beside it; rel_drop only where the baseline's signed-gap CI excludes 0",
            },
            "power": {
                "test": "two-sided z-test at alpha with the gap change's bootstrap SE; mde = (z_{1−α/2} + z_power)·SE; prompts_needed scales both categories by (mde/|target|)² (SE ∝ 1/√n)",
                "target": "paper_rel_change (the paper's Table 1 RelDrop) applied to our baseline gap |Δ_B|: the paper's absolute change cannot be put on our scale (its RM's reward sd is not given)",
            },
            "policies": table.policies,
        }),
    )?;
    write_json(&ctx.out.join("metrics.json"), &headline(&table.policies))?;
    for p in &table.policies {
        ctx.log(log_line(p, w));
    }
    Ok(())
}

/// One policy's line in the stage log.
fn log_line(p: &PolicyParity, w: &With) -> String {
    let change = p
        .gap_change
        .map(|c| {
            format!(
                ", |Δ| change {:+.4} ± {:.4} [{:.4}, {:.4}] p {:.3}",
                c.boot.estimate, c.boot.se, c.boot.ci_low, c.boot.ci_high, c.p_value
            )
        })
        // default: no gap change computed: the summary has no change part.
        .unwrap_or_default();
    let power = p
        .power
        .as_ref()
        .and_then(|pw| pw.power)
        .map(|x| format!(", power for the paper's change {:.0} %", 100.0 * x))
        // default: no power computed: the summary has no power part.
        .unwrap_or_default();
    format!(
        "{}: n {}/{}, raw {} {:.4}, {} {:.4}; Δ (sd units) {:+.4} [{:.4}, {:.4}]{change}{power}",
        p.label,
        p.n_first,
        p.n_second,
        w.first,
        p.raw_mean_first,
        w.second,
        p.raw_mean_second,
        p.delta.estimate,
        p.delta.ci_low,
        p.delta.ci_high,
    )
}

fn headline(table: &[PolicyParity]) -> Value {
    let mut m = serde_json::Map::new();
    for p in table {
        m.insert(format!("{}_delta", p.label), json!(p.delta.estimate));
        if let Some(c) = p.gap_change {
            m.insert(format!("{}_gap_change", p.label), json!(c.boot.estimate));
            m.insert(format!("{}_gap_change_p", p.label), json!(c.p_value));
        }
        if let Some(d) = p.rel_drop {
            m.insert(format!("{}_rel_drop", p.label), json!(d.estimate));
        }
    }
    m.insert("policies".into(), json!(table.len()));
    Value::Object(m)
}

fn write_rewards(
    path: &std::path::Path,
    scored: &BTreeMap<String, ScoredPolicy>,
) -> anyhow::Result<()> {
    let (mut pol, mut ids, mut cats, mut rew) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, p) in scored {
        for (r, x) in p.rows.iter().zip(&p.rewards) {
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
    use crate::eval::generations::{GENERATIONS_FILE, GenerationRow, write_generations};
    use crate::kind::Kind;
    use crate::model::encoder::Arch;
    use crate::stages::harness::TestStage;
    use crate::train::head::RewardHead;
    use crate::train::rm_dir::write_head;
    use repro_ml::testing::tiny_loaded;

    fn gens(responses: &[&str]) -> Vec<GenerationRow> {
        responses
            .iter()
            .enumerate()
            .map(|(i, r)| GenerationRow {
                prompt_id: format!("p{i}"),
                category: if i % 2 == 0 { "helpful" } else { "harmless" }.into(),
                prompt: ["a b", "c", "d e", "a"][i % 4].into(),
                response: r.to_string(),
                tokens: if i % 4 == 1 { 2 } else { 1 },
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
            let m = json!({"settings": {"max_new_tokens": 2}});
            std::fs::write(d.join("metrics.json"), m.to_string()).unwrap();
        }
        t
    }

    #[test]
    fn table_one_rows_for_every_policy() {
        let t =
            stage(json!({"max_len": 16, "resamples": 100, "paper_rel_change": {"fair": -16.9}}));
        let ctx = t.ctx();
        EvalParity.run(&ctx).unwrap();
        let doc: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join(PARITY_FILE)).unwrap()).unwrap();
        let pols = doc["policies"].as_array().unwrap();
        assert_eq!(pols.len(), 2);
        assert_eq!(doc["baseline"], "gen[policy=baseline]");
        assert!(pols[0]["baseline"].as_bool().unwrap());
        assert!(pols[0]["gap_change"].is_null());
        let change = &pols[1]["gap_change"];
        assert!(
            change["estimate"].is_number() && change["p_value"].is_number(),
            "{change}"
        );
        assert!(pols[1]["signed_change"]["se"].is_number());
        // RelDrop is there or says why not.
        assert!(
            pols[1]["rel_drop"]["estimate"].is_number()
                != pols[1]["rel_drop_undefined"].is_string(),
            "{}",
            pols[1]
        );
        assert_eq!(pols[1]["n_first"], 4);
        // Standardised on the pooled scale: Δ = raw Δ / sd.
        let sd = doc["standardisation"]["sd"].as_f64().unwrap();
        let (d, raw) = (
            pols[1]["delta"]["estimate"].as_f64().unwrap(),
            pols[1]["raw_delta"].as_f64().unwrap(),
        );
        assert!((d - raw / sd).abs() < 1e-12, "{d} vs {raw} / {sd}");
        // The generations' metrics.json gave the cap: 2 of 8 responses at 2 tokens.
        assert_eq!(pols[1]["max_new_tokens"], 2);
        assert_eq!(pols[1]["at_cap"], 0.25);
        let pw = &pols[1]["power"];
        assert!(
            pw["mde"].as_f64().unwrap() > 0.0 && pw["power"].is_number(),
            "{pw}"
        );
        let m: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        assert!(
            m["fair_gap_change"].is_number() && m["baseline_delta"].is_number(),
            "{m}"
        );
        let df = crate::parquet::read_frame(&ctx.out.join(REWARDS_FILE)).unwrap();
        assert_eq!(df.height(), 16);
        // The rewards are the RM's: re-scoring one transcript alone gives the same.
        let path = ctx.out.join(REWARDS_FILE);
        let cols = ["policy", "prompt_id", "category", "reward"];
        let rewards = crate::parquet::f64_column(&df, "reward", &path, &cols).unwrap();
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
            EvalParity.check(&json!({"resamples": 1})).unwrap_err().path,
            "resamples"
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
