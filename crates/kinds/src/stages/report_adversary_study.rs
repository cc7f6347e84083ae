//! `report.adversary_study` (issue 12, item 4): which adversary settings
//! lower the category dependence of a fair reward model without costing
//! more than a few points of BT accuracy, chosen on the validation split,
//! confirmed once on the eval split. Glue only; see
//! [`crate::report::adversary_study`].

use std::collections::BTreeMap;

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::kind::{KindInfo, Slot, StageContext};
use crate::report::adversary_study::{Run, StudyConfig, study, summary, table};
use crate::util::io::json::write_json;

/// The `report.adversary_study` kind.
pub struct ReportAdversaryStudy;

/// The `with` map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// Largest accepted fall of BT accuracy on validation (issue 12: 5 points = 0.05).
    #[schemars(range(min = 0))]
    pub max_accuracy_loss: f64,
    /// The paper's setting as matrix key → value of the `runs` expansions.
    pub paper: BTreeMap<String, String>,
    /// The paper's λ_adv.
    #[schemars(range(min = 0))]
    pub paper_lambda: f64,
}

impl Default for With {
    fn default() -> Self {
        With {
            max_accuracy_loss: 0.05,
            // App. A.6: the moment adversary, one step per RM step, λ from
            // the start, λ = 0.2.
            paper: [
                ("adversary_input", "moments"),
                ("adversary_steps", "1"),
                ("lambda_warmup", "none"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            paper_lambda: 0.2,
        }
    }
}

const SLOTS: &[Slot] = &[
    Slot {
        name: "runs",
        required: true,
        fan_in: true,
        doc: "train.reward_model stages with λ > 0 and validation_fraction > 0; names carry lambda_adv, seed, optionally source, and the setting's keys",
    },
    Slot {
        name: "baselines",
        required: true,
        fan_in: true,
        doc: "the λ = 0 train.reward_model stages, one per seed (and source), with the same validation split",
    },
];

const INFO: KindInfo = KindInfo {
    name: "report.adversary_study",
    // 2: BT accuracy shown as a cost (no verdict); settings passing on
    // every source named.
    code_version: 2,
    summary: "adversary settings × λ: paired dependence and accuracy differences across seeds, chosen on validation, confirmed on eval",
    slots: SLOTS,
    outputs: &["study.md", "study.csv", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: true,
};

fn runs(ctx: &StageContext, slot: &str) -> anyhow::Result<Vec<Run>> {
    ctx.fan_in(slot)?
        .into_iter()
        .map(|(name, dir)| {
            let f = dir.join("metrics.json");
            let text = std::fs::read(&f)
                .with_context(|| format!("input `{slot}` ({name}): reading {}", f.display()))?;
            let metrics = serde_json::from_slice(&text)
                .with_context(|| format!("input `{slot}` ({name}): {}", f.display()))?;
            Ok(Run { name, metrics })
        })
        .collect()
}

impl crate::kind::TypedKind for ReportAdversaryStudy {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let cfg = StudyConfig {
            max_accuracy_loss: w.max_accuracy_loss,
            paper: w.paper,
            paper_lambda: w.paper_lambda,
        };
        let s = study(&runs(ctx, "runs")?, &runs(ctx, "baselines")?, &cfg)?;
        let t = table(&s);
        let lines = summary(&s);
        let mut md = String::from("# Adversary study\n\n");
        for l in &lines {
            md.push_str(&format!("- {l}\n"));
        }
        md.push_str(&format!("\n{}\n\n{}", t.caption, t.markdown()));
        std::fs::write(ctx.out.join("study.md"), md)?;
        std::fs::write(ctx.out.join("study.csv"), t.csv())?;
        for l in &lines {
            ctx.log(l);
        }
        write_json(
            &ctx.out.join("metrics.json"),
            &json!({"summary": lines, "recommended": s.recommended, "rows": s.validation}),
        )?;
        Ok(())
    }
}
