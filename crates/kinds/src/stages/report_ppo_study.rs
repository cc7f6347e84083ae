//! `report.ppo_study` (issue 23): did each PPO run's reward rise beyond
//! noise? Glue only; see [`crate::report::ppo_study`].

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::kind::{KindInfo, Slot, StageContext};
use crate::report::policies::read_ppo_run;
use crate::report::ppo_study::{StudyRow, rows, summary, table};
use crate::util::io::json::write_json;

/// The `report.ppo_study` kind.
pub struct ReportPpoStudy;

/// The `with` map (no settings yet).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {}

const SLOTS: &[Slot] = &[Slot {
    name: "runs",
    required: true,
    fan_in: true,
    doc: "train.ppo stages (their curves.csv) sharing seed_name; the first by name is the centre the others are paired with; the expansion names name the configurations",
}];

const INFO: KindInfo = KindInfo {
    name: "report.ppo_study",
    // 2: the paired evaluation's gain (train.ppo eval_prompts) beside the curve's.
    // 3: "learned" after Holm's correction over the study's runs.
    code_version: 3,
    summary: "PPO runs: reward gain (paired evaluation; last 5 − first 5 steps) ± SE, slope per step, final KL and β",
    slots: SLOTS,
    outputs: &["study.md", "study.csv", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: true,
};

fn study_rows(ctx: &StageContext) -> anyhow::Result<Vec<StudyRow>> {
    let runs = ctx
        .fan_in("runs")?
        .into_iter()
        .map(|(name, dir)| {
            let c = read_ppo_run(&dir.join("curves.csv"))
                .with_context(|| format!("input `runs` ({name})"))?;
            Ok((name, c))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(rows(&runs))
}

impl crate::kind::TypedKind for ReportPpoStudy {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, _: With) -> anyhow::Result<()> {
        let rows = study_rows(ctx)?;
        let t = table(&rows);
        let lines = summary(&rows);
        let mut md = String::from("# PPO learning-curve study\n\n");
        for l in &lines {
            md.push_str(&format!("- {l}\n"));
            ctx.log(l);
        }
        // The table's Markdown ends with its caption.
        md.push_str(&format!("\n{}", t.markdown()));
        std::fs::write(ctx.out.join("study.md"), md)?;
        std::fs::write(ctx.out.join("study.csv"), t.csv())?;
        let runs: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "steps": r.steps,
                    "gain": r.gain.and_then(|g| g.deciding()).map(|d| d.0),
                    "gain_se": r.gain.and_then(|g| g.deciding()).map(|d| d.1),
                    "gain_p": r.gain.and_then(|g| g.deciding()).map(|d| d.2),
                    "gain_paired": r.gain.is_some_and(|g| g.paired.is_some()),
                    "learned": r.learned(),
                    "slope": r.slope.map(|s| s.per_step),
                    "slope_se": r.slope.map(|s| s.se),
                    "slope_p": r.slope.map(|s| s.p_value),
                    "paired_slope": r.paired.map(|s| s.per_step),
                    "paired_slope_se": r.paired.map(|s| s.se),
                    "paired_slope_p": r.paired.map(|s| s.p_value),
                    "final_kl": r.final_kl,
                    "final_beta": r.final_beta,
                })
            })
            .collect();
        write_json(
            &ctx.out.join("metrics.json"),
            &json!({"summary": lines, "runs": runs}),
        )?;
        Ok(())
    }
}
