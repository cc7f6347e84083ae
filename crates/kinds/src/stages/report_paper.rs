//! `report.paper`: the paper's tables and figures from the evaluation
//! stages, a self-contained HTML report, and the paper-vs-ours table.
//! Glue only; see [`crate::report`]. The stage writes into `$OUT`; copying
//! to `results/<stem>/` is the engine's job.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kind::{KindInfo, Slot, StageContext};
use crate::report::inputs::{SlotDirs, read_inputs};
use crate::report::paper::{ReportConfig, build};
use crate::report::paper_values;
use crate::report::tables::Roles;
use crate::util::io::json::write_json;

/// The `report.paper` kind.
pub struct ReportPaper;

const SLOTS: &[Slot] = &[
    Slot {
        name: "distribution",
        required: true,
        fan_in: true,
        doc: "eval.reward_distribution stages on the binary task (distribution.json); λ from `…[lambda_adv=…]` names",
    },
    Slot {
        name: "sweep",
        required: false,
        fan_in: true,
        doc: "eval.reward_distribution stages of the λ sweep (Table 5, the sweep figure) when it runs on other RMs than `distribution` (e.g. frozen-feature heads beside fine-tuned ones); default: `distribution`",
    },
    Slot {
        name: "distribution_multi",
        required: false,
        fan_in: true,
        doc: "eval.reward_distribution stages on the many-category task (PKU-SafeRLHF's 19 harm types)",
    },
    Slot {
        name: "recommended",
        required: false,
        fan_in: true,
        doc: "eval.reward_distribution stages of the fair RM at the adversary study's recommended setting (one per seed, a `seed` axis), judged in the reproduction table against the sweep's baseline (λ = baseline_lambda) of the same seed",
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
    Slot {
        name: "parity",
        required: false,
        fan_in: false,
        doc: "an eval.parity stage (parity.json), for Table 1 (§4.1)",
    },
    Slot {
        name: "diversity",
        required: false,
        fan_in: false,
        doc: "an eval.diversity stage (diversity.json), for the diversity table (§4.1, App. B.2)",
    },
    Slot {
        name: "ppo",
        required: false,
        fan_in: true,
        doc: "train.ppo stages (curves.csv: step, RM score, KL, β, intrinsic reward …), one figure each",
    },
    Slot {
        name: "samples",
        required: false,
        fan_in: true,
        doc: "eval.generate stages (generations.parquet): a few responses per policy in the report",
    },
    Slot {
        name: "training",
        required: false,
        fan_in: true,
        doc: "train.reward_model stages of the binary task (curves.csv): the adversary-dynamics figure",
    },
    Slot {
        name: "training_multi",
        required: false,
        fan_in: true,
        doc: "train.reward_model stages of the many-category task (curves.csv)",
    },
];

/// `with:` of the kind; its `Default` is the kind's defaults.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct With {
    /// Title of report.html.
    title: String,
    /// λ_adv of the baseline RM among the inputs' matrix expansions.
    #[schemars(range(min = 0))]
    baseline_lambda: f64,
    /// λ_adv of the fair RM (the paper's main setting is 0.2).
    #[schemars(range(min = 0))]
    fair_lambda: f64,
    /// What the pipeline says about its data and scale (e.g. which sources stand in for which),
    /// shown first in report.html.
    notes: Vec<String>,
}

impl Default for With {
    fn default() -> Self {
        With {
            title: "Fairness-constrained reward models: reproduction".into(),
            baseline_lambda: Default::default(),
            fair_lambda: 0.2,
            notes: Default::default(),
        }
    }
}

/// What `repro kinds` and the engine know of this kind.
const INFO: KindInfo = KindInfo {
    name: "report.paper",
    // 2: JSON documents through the one canonical writer (keys sorted).
    // 3: mean ± sd across seeds, verdicts on the paired difference, the
    // adversary-dynamics figures.
    // 4: paper-vs-ours rows for §4.1 (parity gap, SemDiv) in the
    // reproduction table.
    // 5: the reproduction table on every body of evidence (paired t-test,
    // Holm, Fieller's relative interval, power; the `recommended` slot),
    // signed mean gaps, the §4.1 rows in a table of their own (issue 22).
    // 6: report.html: tables use the window's width, and one wider than a
    // 1,400 px window is shown as parts with its row labels repeated.
    // 7: the reward gain is train.ppo's paired evaluation where a run has
    // one (issue 23).
    // 8: the reward gain names the steps the policy trained for
    // (pipelines/policies-long.yaml's policies train twice as long), and
    // "did not learn" is decided after Holm's correction over the policies.
    code_version: 8,
    summary: "every table (Markdown + LaTeX + CSV) and figure (PNG + SVG), an HTML report, paper vs ours",
    slots: SLOTS,
    outputs: &["tables", "figures", "report.html", "metrics.json"],
    metrics: Some("metrics.json"),
    numerics: None,
    publishes: true,
};

impl crate::kind::TypedKind for ReportPaper {
    type With = With;
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
    fn run(&self, ctx: &StageContext, w: With) -> anyhow::Result<()> {
        let inputs = read_inputs(&slot_dirs(ctx)?)?;
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
            notes: w.notes,
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

/// The connected inputs as the report library takes them.
fn slot_dirs(ctx: &StageContext) -> anyhow::Result<SlotDirs> {
    ctx.inputs
        .keys()
        .map(|slot| Ok((slot.clone(), ctx.fan_in(slot)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::eval::distribution::Distribution;
    use crate::eval::scores::{SCORES_FILE, ScoreRow, Side, write_scores};
    use crate::eval::stereotype::{STEREOTYPE_SCORES_FILE, StereoItem, write_items};
    use crate::kind::Kind;
    use crate::stages::eval_reward_distribution::EvalRewardDistribution;
    use crate::stages::eval_stereotype::EvalStereotype;
    use crate::stages::harness::TestStage;
    use crate::train::curves::{CurveRow, write_curves};
    use crate::util::io::json::read_json;
    use serde_json::Value;

    /// Scores with categories `cats`, the first shifted by `offset`.
    fn scores(cats: &[&str], offset: f64) -> Vec<ScoreRow> {
        let mut v = Vec::new();
        for i in 0..40 {
            for (k, cat) in cats.iter().enumerate() {
                let s = if k == 0 { offset } else { 0.1 * k as f64 };
                for (side, d) in [(Side::Chosen, 0.8), (Side::Rejected, -0.8)] {
                    v.push(ScoreRow {
                        pair_id: format!("{cat}{i}"),
                        category: (*cat).into(),
                        side,
                        reward: ((i * 13 % 17) as f64) * 0.2 + s + d,
                    });
                }
            }
        }
        v
    }

    fn stereo_items(stereo_share: usize) -> Vec<StereoItem> {
        let mut v = Vec::new();
        for (ds, n) in [("crows_pairs", 30), ("stereoset", 20)] {
            for i in 0..n {
                let win = i % 10 < stereo_share;
                v.push(StereoItem {
                    item_id: format!("{i}"),
                    dataset: ds.into(),
                    bias_type: if i % 2 == 0 { "gender" } else { "race" }.into(),
                    direction: "stereo".into(),
                    more: if win { 1.0 } else { 0.0 },
                    less: 0.5,
                });
            }
        }
        v
    }

    /// Runs an upstream kind in its own temp stage and copies its outputs to `dest`.
    fn run_upstream(
        kind: &dyn crate::kind::Kind,
        with: Value,
        setup: impl Fn(&TestStage),
        dest: &Path,
    ) {
        let t = TestStage::new("up", with);
        setup(&t);
        let ctx = t.ctx();
        kind.run(&ctx).unwrap();
        for e in std::fs::read_dir(&ctx.out).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dest.join(e.file_name())).unwrap();
        }
    }

    /// Adds expansion `name` to fan-in `slot`: `eval.reward_distribution`
    /// (`with`) of [`scores`]`(cats, offset)`; returns its directory.
    fn distribution(
        t: &TestStage,
        slot: &str,
        name: &str,
        cats: &[&str],
        offset: f64,
        with: Value,
    ) -> std::path::PathBuf {
        let d = t.upstream_many(slot, name);
        let rows = scores(cats, offset);
        run_upstream(
            &EvalRewardDistribution,
            with,
            |s| write_scores(&s.upstream("scores").join(SCORES_FILE), &rows).unwrap(),
            &d,
        );
        d
    }

    fn decode_png(path: &Path) -> (u32, u32) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        (info.width, info.height)
    }

    #[test]
    fn a_tiny_report_writes_every_table_and_figure() {
        let t = TestStage::new("report", json!({}));
        let lambdas = [("0.0", 3.0, 3), ("0.2", 0.2, 5), ("0.8", 0.05, 5)];
        // Two seeds per λ, each with its own offset.
        let runs = lambdas.iter().flat_map(|&(l, o, share)| {
            [1u8, 2].map(|seed| {
                let offset = o * (1.0 + 0.1 * f64::from(seed));
                (format!("{l},seed={seed}"), offset, share)
            })
        });
        for (l, offset, share) in runs {
            distribution(
                &t,
                "distribution",
                &format!("dist[lambda_adv={l}]"),
                &["harmless", "helpful"],
                offset,
                json!({"bins": 20, "permutations": 99}),
            );
            distribution(
                &t,
                "distribution_multi",
                &format!("pku[lambda_adv={l}]"),
                &["a", "b", "c", "d"],
                offset,
                json!({"bins": 20, "permutations": 19}),
            );
            let s = t.upstream_many("stereotype", &format!("stereo[lambda_adv={l}]"));
            run_upstream(
                &EvalStereotype,
                json!({}),
                |st| {
                    write_items(
                        &st.upstream("scores").join(STEREOTYPE_SCORES_FILE),
                        &stereo_items(share),
                    )
                    .unwrap();
                    write_items(
                        &st.upstream("other").join(STEREOTYPE_SCORES_FILE),
                        &stereo_items(3),
                    )
                    .unwrap();
                },
                &s,
            );
            let c = t.upstream_many("training", &format!("rm[lambda_adv={l}]"));
            let rows: Vec<CurveRow> = (1..=3)
                .map(|epoch| CurveRow {
                    split: "eval",
                    epoch,
                    step: 10 * epoch,
                    bt_loss: 0.6,
                    bt_accuracy: 0.7,
                    adv_ce: Some(0.6 + 0.02 * epoch as f64),
                    adv_balanced_accuracy: Some(0.6),
                    cap_binds: None,
                    chance_ce: Some(2f64.ln()),
                    mean_gap: Some(offset / epoch as f64),
                    ks: Some(0.3),
                    mi: Some(0.05),
                    mi_null: Some(0.01),
                })
                .collect();
            write_curves(&c.join("curves.csv"), &rows).unwrap();
            let a = t.upstream_many("audit", &format!("audit[lambda_adv={l}]"));
            std::fs::write(
                a.join("metrics.json"),
                json!({"auc_mean": 0.5 + offset / 10.0, "auc_sd": 0.02, "balanced_accuracy_mean": 0.5 + offset / 20.0, "balanced_accuracy_sd": 0.01}).to_string(),
            )
            .unwrap();
        }
        let ctx = t.ctx();
        ReportPaper.run(&ctx).unwrap();
        let m: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        let tables: Vec<&str> = m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            tables,
            [
                "reproduction",
                "reward_distributions",
                "table2_stereotype",
                "table4_audit",
                "table5_sweep"
            ]
        );
        for stem in &tables {
            for ext in ["md", "tex", "csv"] {
                let p = ctx.out.join("tables").join(format!("{stem}.{ext}"));
                assert!(std::fs::metadata(&p).unwrap().len() > 0, "{}", p.display());
            }
        }
        let figures: Vec<&str> = m["figures"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for want in [
            "distribution_baseline_vs_fair",
            "multi_baseline_vs_fair",
            "lambda_sweep",
            "adversary_dynamics",
        ] {
            assert!(figures.contains(&want), "{figures:?}");
        }
        // 3 λ × 2 slots × (categories, sides) of the first seed + 2
        // baseline-vs-fair + sweep + adversary dynamics.
        assert_eq!(figures.len(), 16, "{figures:?}");
        for stem in &figures {
            let png = ctx.out.join("figures").join(format!("{stem}.png"));
            let (w, h) = decode_png(&png);
            assert!(w >= 640 && h >= 300, "{stem}: {w}×{h}");
            let svg = std::fs::read_to_string(ctx.out.join("figures").join(format!("{stem}.svg")))
                .unwrap();
            assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        }
        let repro = std::fs::read_to_string(ctx.out.join("tables/reproduction.csv")).unwrap();
        // Every paper effect with both of our values is checked: on the
        // tables' RMs KS, W1, MI, BT loss, both bias rates and both audit
        // scores; on the 19-category RMs the four distribution effects.
        assert_eq!(m["directions_checked"], 12);
        let row = |evidence: &str, q: &str| {
            repro
                .lines()
                .find(|l| l.starts_with(evidence) && l.contains(&format!(",{q},")))
                .unwrap_or_else(|| panic!("no {evidence} {q} row in {repro}"))
                .to_string()
        };
        // Our planted offset shrinks 3.0 → 0.2 in both seeds: KS falls with
        // t(1) = −37.7 (p 0.017), but with 2 seeds and 12 effects that is not
        // significant after Holm's correction (0.17): within noise, and
        // the power column says the paper's effect would have been seen.
        let ks = row("tables' RMs (n = 2)", "KS");
        assert!(ks.contains("t(1) = -37.67"), "{ks}");
        assert!(
            ks.contains(",0.169,") && ks.contains(",within noise,2 of 2,"),
            "{ks}"
        );
        // Every λ has the same within-pair margins, so BT loss does not move
        // while the paper's falls by 22 %: the interval [0, 0] rules that out.
        let bt = row("tables' RMs (n = 2)", "BT loss (nats)");
        assert!(bt.contains("2.8712 → 2.2307 (-22 %)"), "{bt}");
        assert!(bt.contains(",smaller than the paper's,0 of 2,"), "{bt}");
        // The signed category mean gap is shown, and its sign kept.
        let gap = row(
            "tables' RMs (n = 2)",
            "\"category mean gap, signed (helpful − harmless)\"",
        );
        assert!(gap.contains("sign reversed in 0 of 2"), "{gap}");
        assert_eq!(m["directions_hold"], 2);
        assert_eq!(m["directions_smaller"], 3);
        assert_eq!(m["directions_within_noise"], 7);
        assert_eq!(m["directions_contradicted"], 0);
        // Tables show mean ± sd across the two seeds.
        let sweep = std::fs::read_to_string(ctx.out.join("tables/table5_sweep.csv")).unwrap();
        assert!(sweep.lines().nth(1).unwrap().starts_with("0,2,"), "{sweep}");
        assert!(sweep.contains(" ± "), "{sweep}");
        let html = std::fs::read_to_string(ctx.out.join("report.html")).unwrap();
        assert!(html.contains("<a href=\"#src-0\""));
        assert!(html.contains("id=\"src-0\""));
        assert!(html.matches("<svg").count() == figures.len());
        // Self-contained: nothing is fetched from elsewhere.
        assert!(
            !html.contains("src=\"") && !html.contains("<link"),
            "external resource"
        );
    }

    #[test]
    fn a_sweep_input_feeds_table_5_and_the_figure_while_the_tables_read_distribution() {
        let t = TestStage::new("report", json!({}));
        let add = |slot: &str, name: &str, offset: f64| {
            let with = json!({"bins": 10, "permutations": 19});
            distribution(&t, slot, name, &["harmless", "helpful"], offset, with)
        };
        // The tables' pair (fine-tuned) and a three-point sweep (frozen heads).
        let baseline = add("distribution", "dist[lambda_adv=0.0]", 2.0);
        add("distribution", "dist[lambda_adv=0.2]", 1.0);
        for (l, o) in [("0.0", 3.0), ("0.2", 0.5), ("0.8", 0.1)] {
            add("sweep", &format!("dist_sweep[lambda_adv={l}]"), o);
        }
        let ctx = t.ctx();
        ReportPaper.run(&ctx).unwrap();
        let sweep = std::fs::read_to_string(ctx.out.join("tables/table5_sweep.csv")).unwrap();
        let lambdas: Vec<&str> = sweep
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(lambdas, ["0", "0.2", "0.8"], "{sweep}");
        // Both sets side by side in the distribution table.
        let dist =
            std::fs::read_to_string(ctx.out.join("tables/reward_distributions.csv")).unwrap();
        let names: Vec<&str> = dist
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "dist[lambda_adv=0.0]",
                "dist[lambda_adv=0.2]",
                "dist_sweep[lambda_adv=0.0]",
                "dist_sweep[lambda_adv=0.2]",
                "dist_sweep[lambda_adv=0.8]"
            ],
            "{dist}"
        );
        assert!(ctx.out.join("figures/lambda_sweep.svg").is_file());
        // The paper-vs-ours KS row compares the tables' pair: offset 2 → 1.
        let repro = std::fs::read_to_string(ctx.out.join("tables/reproduction.csv")).unwrap();
        let ks = repro
            .lines()
            .find(|l| l.starts_with("tables' RMs (n = 1),KS,"))
            .unwrap();
        let base = read_json::<Distribution>(&baseline.join("distribution.json")).unwrap();
        let want = format!("{:.4}", base.headline()["ks"].as_f64().unwrap());
        assert!(ks.contains(&want), "{ks} lacks {want}");
    }

    #[test]
    fn post_ppo_inputs_add_table_1_the_diversity_table_curves_and_samples() {
        use crate::eval::generations::{GenerationRow, write_generations};
        let t = TestStage::new("report", json!({}));
        distribution(
            &t,
            "distribution",
            "dist[lambda_adv=0.0]",
            &["harmless", "helpful"],
            1.0,
            json!({"bins": 10, "permutations": 19}),
        );
        // parity.json of eval.parity code_version 2 (issue 22): signed gap,
        // paired gap change vs the baseline, RelDrop where defined.
        let row = crate::report::policies::fixtures::parity_row;
        std::fs::write(
            t.upstream("parity").join("parity.json"),
            json!({"baseline": "gen[policy=baseline]", "policies": [row("baseline", true, 0.5), row("fair", false, 0.4)]}).to_string(),
        )
        .unwrap();
        let div = |label: &str, base: bool| {
            json!({"policy": format!("g[policy={label}]"), "label": label, "baseline": base, "n": 200,
                   "semdiv": 0.96, "mean_tokens": 90.0,
                   "vs_baseline": if base { Value::Null } else { json!({"semdiv": 0.955, "semdiv_baseline": 0.96,
                       "diff": -0.005, "boot_mean": -0.005, "ci_low": -0.008, "ci_high": -0.002, "pvalue": 0.002,
                       "resamples": 1000, "level": 0.95}) }})
        };
        std::fs::write(
            t.upstream("diversity").join("diversity.json"),
            json!({"baseline": "g[policy=baseline]", "policies": [div("baseline", true), div("fair_curiosity", false)]}).to_string(),
        )
        .unwrap();
        let c = t.upstream_many("ppo", "ppo[policy=fair]");
        std::fs::write(
            c.join("curves.csv"),
            "step,rm_score,intrinsic,kl,beta\n1,0.1,0.01,0.0,0.05\n2,0.3,0.02,0.02,0.0501\n",
        )
        .unwrap();
        let g = t.upstream_many("samples", "gen[policy=fair]");
        let gens: Vec<GenerationRow> = (0..6)
            .map(|i| GenerationRow {
                prompt_id: format!("p{i}"),
                category: if i < 3 { "helpful" } else { "harmless" }.into(),
                prompt: "How do I <b>bake</b> bread?".into(),
                response: format!("Answer {i}"),
                tokens: 2,
            })
            .collect();
        write_generations(&g.join("generations.parquet"), &gens).unwrap();
        let ctx = t.ctx();
        ReportPaper.run(&ctx).unwrap();
        let m: Value =
            serde_json::from_slice(&std::fs::read(ctx.out.join("metrics.json")).unwrap()).unwrap();
        let tables: Vec<&str> = m["tables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for want in ["table1_parity", "diversity", "sample_generations"] {
            assert!(tables.contains(&want), "{tables:?}");
        }
        assert!(
            m["figures"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "ppo_curves_ppo_policy_fair"),
            "{m}"
        );
        let t1 = std::fs::read_to_string(ctx.out.join("tables/table1_parity.csv")).unwrap();
        let fair = t1.lines().find(|l| l.starts_with("fair,")).unwrap();
        assert!(
            fair.contains("-20.0 %") && fair.contains("0.4001"),
            "{fair}"
        );
        let dv = std::fs::read_to_string(ctx.out.join("tables/diversity.csv")).unwrap();
        assert!(
            dv.lines().any(|l| l.starts_with("fair_curiosity,")
                && l.contains("-0.0050")
                && l.contains("0.9616")),
            "{dv}"
        );
        // The §4.1 rows are judged on prompts, not seeds: a table of their own.
        let r = std::fs::read_to_string(ctx.out.join("tables/reproduction_policies.csv")).unwrap();
        let gap = r
            .lines()
            .find(|l| l.starts_with("parity gap (fair)"))
            .unwrap();
        assert!(gap.contains(",yes,") && gap.contains("0.4001"), "{gap}");
        let div = r
            .lines()
            .find(|l| l.starts_with("SemDiv (fair_curiosity)"))
            .unwrap();
        assert!(div.contains(",yes,") && div.contains("-0.0050"), "{div}");
        let s = std::fs::read_to_string(ctx.out.join("tables/sample_generations.csv")).unwrap();
        assert_eq!(s.lines().count(), 1 + 4, "two prompts per category: {s}");
        let html = std::fs::read_to_string(ctx.out.join("report.html")).unwrap();
        assert!(
            html.contains("&lt;b&gt;bake&lt;/b&gt;"),
            "prompts are escaped in report.html"
        );
    }

    #[test]
    fn without_a_distribution_input_the_report_fails() {
        let t = TestStage::new("report", json!({}));
        let e = ReportPaper.run(&t.ctx()).unwrap_err();
        assert!(e.to_string().contains("at least one `distribution`"), "{e}");
        assert_eq!(
            ReportPaper
                .check(&json!({"fair_lambda": -1.0}))
                .unwrap_err()
                .path,
            "fair_lambda"
        );
    }
}
