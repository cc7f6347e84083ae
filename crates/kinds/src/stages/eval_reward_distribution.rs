//! `eval.reward_distribution`: KS, Wasserstein-1 and MI between the reward
//! distributions of the categories (§4, App. A.8). Glue only; the analysis
//! is [`crate::eval::distribution`].

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::eval::distribution::{DistributionConfig, Which, analyse};
use crate::eval::scores::{SCORES_FILE, read_scores};
use crate::eval::stats::{MI_DEFAULT_BINS, W1_DEFAULT_PERMUTATIONS};
use crate::kind::{KindInfo, Slot, StageContext};
use crate::util::io::json::write_json;

/// The `eval.reward_distribution` kind.
pub struct EvalRewardDistribution;

/// Output with everything computed.
pub const DISTRIBUTION_FILE: &str = "distribution.json";

const SLOTS: &[Slot] = &[Slot {
    name: "scores",
    required: true,
    fan_in: false,
    doc: "a stage whose outputs contain scores.parquet (pair_id, category, side, reward)",
}];

/// `with:` of the kind; its `Default` is the kind's defaults.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// Which responses' rewards enter the tests.
    which: Which,
    /// Equal-width bins over min..max for MI and the histograms (App. A.8).
    #[schemars(range(min = 1, max = 10_000))]
    bins: usize,
    /// Permutations for the W1 p-value and the permuted-category MI.
    #[schemars(range(min = 1, max = 1_000_000))]
    permutations: usize,
}

impl Default for With {
    fn default() -> Self {
        With {
            which: Default::default(),
            bins: MI_DEFAULT_BINS,
            permutations: W1_DEFAULT_PERMUTATIONS,
        }
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "eval.reward_distribution",
    // 2: JSON documents through the one canonical writer (keys sorted).
    code_version: 2,
    summary: "KS + p, Wasserstein-1 + permutation p, MI with a permutation-null MI beside it",
    slots: SLOTS,
    outputs: &[DISTRIBUTION_FILE, "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: false,
};

impl crate::kind::TypedKind for EvalRewardDistribution {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let file = ctx.input("scores")?.join(SCORES_FILE);
        let rows = read_scores(&file).context("input `scores`")?;
        ctx.check_cancel()?;
        let cfg = DistributionConfig {
            which: w.which,
            bins: w.bins,
            permutations: w.permutations,
            seed: ctx.seed_for("permutation"),
        };
        let d = analyse(&rows, cfg)?;
        ctx.check_cancel()?;
        write_json(&ctx.out.join(DISTRIBUTION_FILE), &d)?;
        let mut m = d.headline();
        m.insert("which".into(), serde_json::to_value(w.which)?);
        write_json(&ctx.out.join("metrics.json"), &m)?;
        ctx.log(format!(
            "{} rewards, {} categories: KS {:.4}, W1 {:.4}, MI {:.4} (permuted {:.4})",
            d.n,
            d.categories.len(),
            m["ks"],
            m["w1"],
            d.mi.mi,
            d.mi.permuted.mean
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::scores::{ScoreRow, Side, write_scores};
    use crate::kind::Kind;
    use crate::stages::harness::TestStage;
    use serde_json::Value;

    fn synthetic(offset: f64) -> Vec<ScoreRow> {
        let mut v = Vec::new();
        for i in 0..30 {
            for (cat, s) in [("helpful", offset), ("harmless", 0.0)] {
                for (side, d) in [(Side::Chosen, 1.0), (Side::Rejected, 0.0)] {
                    v.push(ScoreRow {
                        pair_id: format!("{cat}{i}"),
                        category: cat.into(),
                        side,
                        reward: ((i * 7 % 11) as f64) * 0.3 + s + d,
                    });
                }
            }
        }
        v
    }

    #[test]
    fn writes_distribution_and_headline_metrics() {
        let t = TestStage::new("dist", serde_json::json!({"bins": 8, "permutations": 99}));
        let up = t.upstream("scores");
        write_scores(&up.join(SCORES_FILE), &synthetic(2.0)).unwrap();
        let ctx = t.ctx();
        EvalRewardDistribution.run(&ctx).unwrap();
        let m: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        assert!((m["w1"].as_f64().unwrap() - 2.0).abs() < 1e-9, "{m}");
        assert_eq!(m["which"], "both");
        assert_eq!(m["bt_accuracy"], 1.0);
        let d: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join(DISTRIBUTION_FILE)).unwrap())
                .unwrap();
        assert_eq!(d["edges"].as_array().unwrap().len(), 9);
        assert_eq!(d["pairs"][0]["w1"]["permutations"], 99);
    }

    #[test]
    fn bad_with_and_missing_input_are_refused() {
        let k = EvalRewardDistribution;
        assert_eq!(
            k.check(&serde_json::json!({"bins": 0})).unwrap_err().path,
            "bins"
        );
        assert_eq!(
            k.check(&serde_json::json!({"which": "all"}))
                .unwrap_err()
                .path,
            "which"
        );
        assert!(k.check(&serde_json::json!({"binz": 3})).is_err());
        assert!(k.check(&Value::Null).is_ok());
        let t = TestStage::new("dist", serde_json::json!({}));
        t.upstream("scores");
        let e = k.run(&t.ctx()).unwrap_err();
        assert!(format!("{e:#}").contains("scores.parquet"), "{e:#}");
    }
}
