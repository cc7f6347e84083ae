//! `report.paper`: the paper's tables and figures from the evaluation
//! stages, a self-contained HTML report, and the paper-vs-ours table.
//! Glue only; see [`crate::report`]. The stage writes into `$OUT`; copying
//! to `results/<stem>/` is the engine's job.

use serde::Deserialize;
use serde_json::{Value, json};

use super::kind::{Field, Kind, Slot, StageContext, WithError, parse_with};
use crate::report::inputs::read_inputs;
use crate::report::io::write_json;
use crate::report::paper::{ReportConfig, build};
use crate::report::paper_values;
use crate::report::tables::Roles;

/// The `report.paper` kind.
pub struct ReportPaper;

const FIELDS: &[Field] = &[
    Field {
        name: "title",
        ty: "string",
        default: Some("Fairness-constrained reward models: reproduction"),
        doc: "title of report.html",
    },
    Field {
        name: "baseline_lambda",
        ty: "float",
        default: Some("0.0"),
        doc: "λ_adv of the baseline RM among the inputs' matrix expansions",
    },
    Field {
        name: "fair_lambda",
        ty: "float",
        default: Some("0.2"),
        doc: "λ_adv of the fair RM (the paper's main setting is 0.2)",
    },
];

const SLOTS: &[Slot] = &[
    Slot {
        name: "distribution",
        required: true,
        fan_in: true,
        doc: "eval.reward_distribution stages on the binary task (distribution.json); λ from `…[lambda_adv=…]` names",
    },
    Slot {
        name: "distribution_multi",
        required: false,
        fan_in: true,
        doc: "eval.reward_distribution stages on the many-category task (PKU-SafeRLHF's 19 harm types)",
    },
    Slot {
        name: "stereotype",
        required: false,
        fan_in: true,
        doc: "eval.stereotype stages (stereotype.json), for Table 2",
    },
    Slot {
        name: "audit",
        required: false,
        fan_in: true,
        doc: "eval.category_audit stages (metrics.json with auc_mean, auc_sd, balanced_accuracy_mean, balanced_accuracy_sd), for Table 4",
    },
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct With {
    #[serde(default = "default_title")]
    title: String,
    #[serde(default)]
    baseline_lambda: f64,
    #[serde(default = "default_fair")]
    fair_lambda: f64,
}

fn default_title() -> String {
    "Fairness-constrained reward models: reproduction".into()
}
fn default_fair() -> f64 {
    0.2
}

fn parse(with: &Value) -> Result<With, WithError> {
    let w: With = if with.is_null() {
        parse_with(&json!({}))?
    } else {
        parse_with(with)?
    };
    for (k, v) in [("baseline_lambda", w.baseline_lambda), ("fair_lambda", w.fair_lambda)] {
        if !v.is_finite() || v < 0.0 {
            return Err(WithError::new(k, format!("expected a finite λ ≥ 0, found {v}")));
        }
    }
    Ok(w)
}

impl Kind for ReportPaper {
    fn name(&self) -> &'static str {
        "report.paper"
    }
    fn code_version(&self) -> u32 {
        1
    }
    fn summary(&self) -> &'static str {
        "every table (Markdown + LaTeX + CSV) and figure (PNG + SVG), an HTML report, paper vs ours"
    }
    fn fields(&self) -> &'static [Field] {
        FIELDS
    }
    fn slots(&self) -> &'static [Slot] {
        SLOTS
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["tables", "figures", "report.html", "metrics.json"]
    }
    fn metrics(&self) -> Option<&'static str> {
        Some("metrics.json")
    }
    fn check(&self, with: &Value) -> Result<(), WithError> {
        parse(with).map(|_| ())
    }
    fn run(&self, ctx: &StageContext) -> anyhow::Result<()> {
        let w = parse(&ctx.with)?;
        let inputs = read_inputs(&ctx.inputs)?;
        anyhow::ensure!(
            !inputs.distributions.is_empty(),
            "report.paper needs at least one `distribution` input"
        );
        let paper = paper_values::bundled()?;
        let cfg = ReportConfig {
            title: w.title,
            roles: Roles {
                baseline: w.baseline_lambda,
                fair: w.fair_lambda,
            },
        };
        let summary = build(&inputs, &paper, &cfg, &ctx.out)?;
        write_json(&ctx.out.join("metrics.json"), &summary)?;
        ctx.log(format!(
            "{} tables, {} figures; direction holds for {} of {} paper effects",
            summary.tables.len(),
            summary.figures.len(),
            summary.directions_hold,
            summary.directions_checked
        ));
        Ok(())
    }
}
