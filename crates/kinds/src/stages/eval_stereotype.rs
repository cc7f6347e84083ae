//! `eval.stereotype` — the statistics half (§4.2, Table 2): bias rate ± SE
//! on CrowS-Pairs and StereoSet from per-item rewards, with the
//! stereo/antistereo and per-bias-type breakdown, and McNemar's test against
//! a second RM. Glue only; see [`crate::eval::stereotype`] for the contract
//! of `stereotype_scores.parquet` and the statistics.

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::eval::stats::McNemarMethod;
use crate::eval::stereotype::{
    STEREOTYPE_SCORES_FILE, StereotypeDoc, analyse, headline, read_items,
};
use crate::kind::{Input, KindInfo, Slot, StageContext};
use crate::util::io::json::write_json;

/// The `eval.stereotype` kind.
pub struct EvalStereotype;

/// Output with everything computed.
pub const STEREOTYPE_FILE: &str = "stereotype.json";

const SLOTS: &[Slot] = &[
    Slot {
        name: "scores",
        required: true,
        fan_in: false,
        doc: "a stage whose outputs contain stereotype_scores.parquet (item_id, dataset, bias_type, direction, more, less)",
    },
    Slot {
        name: "other",
        required: false,
        fan_in: false,
        doc: "a second RM's stereotype_scores.parquet, for McNemar's test on the paired outcomes",
    },
];

/// `with:` of the kind; its `Default` is the kind's defaults.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// McNemar's test against `other`: exact binomial, or chi-square with continuity correction.
    mcnemar: McNemarMethod,
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "eval.stereotype",
    // 2: JSON documents through the one canonical writer (keys sorted).
    code_version: 2,
    summary: "CrowS-Pairs / StereoSet bias rate ± SE by direction and bias type, McNemar between two RMs",
    slots: SLOTS,
    outputs: &[STEREOTYPE_FILE, "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: false,
};

impl crate::kind::TypedKind for EvalStereotype {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let mine = read_items(&ctx.input("scores")?.join(STEREOTYPE_SCORES_FILE))
            .context("input `scores`")?;
        let other = match ctx.inputs.get("other") {
            Some(Input::One(dir)) => {
                Some(read_items(&dir.join(STEREOTYPE_SCORES_FILE)).context("input `other`")?)
            }
            Some(Input::Many(_)) => anyhow::bail!("input `other` must be one stage, not a fan-in"),
            None => None,
        };
        let report = analyse(&mine, other.as_deref(), w.mcnemar)?;
        write_json(
            &ctx.out.join(STEREOTYPE_FILE),
            &StereotypeDoc {
                mcnemar: w.mcnemar,
                datasets: report.clone(),
            },
        )?;
        write_json(&ctx.out.join("metrics.json"), &headline(&report))?;
        for (ds, r) in &report {
            if let Some(rate) = &r.overall.rate {
                ctx.log(format!(
                    "{ds}: bias rate {:.2} % ± {:.2} ({} ties)",
                    100.0 * rate.rate,
                    100.0 * rate.se,
                    rate.ties
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::eval::stereotype::{StereoItem, write_items};
    use crate::kind::Kind;
    use crate::stages::harness::TestStage;
    use serde_json::Value;

    fn items(flip_every: usize) -> Vec<StereoItem> {
        (0..40)
            .map(|i| {
                let stereo = i % flip_every != 0;
                StereoItem {
                    item_id: format!("c{i}"),
                    dataset: "crows_pairs".into(),
                    bias_type: if i % 3 == 0 { "age" } else { "gender" }.into(),
                    direction: "stereo".into(),
                    more: if stereo { 1.0 } else { -1.0 },
                    less: 0.0,
                }
            })
            .collect()
    }

    #[test]
    fn bias_rate_and_mcnemar_against_another_rm() {
        let t = TestStage::new("stereo", json!({"mcnemar": "exact"}));
        write_items(
            &t.upstream("scores").join(STEREOTYPE_SCORES_FILE),
            &items(4),
        )
        .unwrap();
        write_items(&t.upstream("other").join(STEREOTYPE_SCORES_FILE), &items(2)).unwrap();
        let ctx = t.ctx();
        EvalStereotype.run(&ctx).unwrap();
        let m: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        // every 4th item not stereotyped: 30 of 40.
        assert_eq!(m["crows_pairs_bias_rate"], 0.75);
        assert_eq!(m["crows_pairs_n"], 40);
        // discordant: i ≡ 2 (mod 4) → 10 items stereotyped by this RM only.
        // scipy.stats.binomtest(0, 10, 0.5).pvalue = 0.001953125
        assert!((m["crows_pairs_mcnemar_p"].as_f64().unwrap() - 0.001953125).abs() < 1e-12);
        assert!(ctx.out.join(STEREOTYPE_FILE).is_file());
    }

    #[test]
    fn unknown_method_is_refused() {
        let e = EvalStereotype
            .check(&json!({"mcnemar": "midp"}))
            .unwrap_err();
        assert_eq!(e.path, "mcnemar");
    }
}
