//! Builds the paper report from its inputs: writes every table as Markdown,
//! LaTeX and CSV under `tables/`, every figure as PNG and SVG under
//! `figures/`, and the self-contained `report.html`.

use std::path::Path;

use anyhow::Context;

use super::figures::{Figure, Hist, HistPanel, LinePanel, SweepPanel, SweepPoint, text_available};
use super::html::{InlineFigure, render};
use super::inputs::{Named, ReportInputs, at_lambda, groups};
use super::paper_values::PaperValue;
use super::policies::{policy_tables, ppo_figure, reproduction_rows};
use super::tables::{Roles, audit, distributions, mean_sd_of, reproduction, stereotype, sweep};
use crate::eval::distribution::{Distribution, GroupSummary};
use crate::eval::stats::Verdict;
use crate::train::curves::EvalCurve;

/// Settings of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportConfig {
    /// Page title.
    pub title: String,
    /// Which λ is the baseline and which the fair model.
    pub roles: Roles,
    /// What the pipeline says about its data and scale, shown first.
    pub notes: Vec<String>,
}

/// What was written, for `metrics.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReportSummary {
    /// Table stems (each as `.md`, `.tex`, `.csv`).
    pub tables: Vec<String>,
    /// Figure stems (each as `.png`, `.svg`).
    pub figures: Vec<String>,
    /// Reproduction rows where both our values exist.
    pub directions_checked: usize,
    /// Of those, rows whose paired difference across seeds has the paper's
    /// sign beyond 2 SE ("yes").
    pub directions_hold: usize,
    /// Rows whose difference has the opposite sign beyond 2 SE ("no").
    pub directions_contradicted: usize,
    /// Rows within 2 SE of no effect, or with one seed ("within noise").
    pub directions_within_noise: usize,
    /// Whether figures carry text (false: the font could not be registered).
    pub figure_text: bool,
}

/// A file-name-safe version of an input name.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('_').to_string()
}

fn hist(label: impl Into<String>, edges: &[f64], g: &GroupSummary) -> Hist {
    Hist {
        label: label.into(),
        edges: edges.to_vec(),
        counts: g.histogram.clone(),
    }
}

fn category_panel(title: String, d: &Distribution) -> HistPanel {
    HistPanel {
        title,
        hists: d
            .categories
            .iter()
            .map(|c| hist(&c.category, &d.edges, &c.all))
            .collect(),
    }
}

/// Chosen vs rejected: per category and side for two categories, pooled over
/// categories for more.
fn sides_panel(title: String, d: &Distribution) -> HistPanel {
    let mut hists = Vec::new();
    if d.categories.len() <= 2 {
        for c in &d.categories {
            for (side, g) in [("chosen", &c.chosen), ("rejected", &c.rejected)] {
                if let Some(g) = g {
                    hists.push(hist(format!("{} {side}", c.category), &d.edges, g));
                }
            }
        }
    } else {
        for (side, pick) in [("chosen", 0usize), ("rejected", 1)] {
            let mut counts = vec![0u64; d.edges.len().saturating_sub(1)];
            for c in &d.categories {
                let g = if pick == 0 { &c.chosen } else { &c.rejected };
                for (acc, x) in counts.iter_mut().zip(g.iter().flat_map(|g| &g.histogram)) {
                    *acc += x;
                }
            }
            if counts.iter().any(|&c| c > 0) {
                hists.push(Hist {
                    label: side.into(),
                    edges: d.edges.clone(),
                    counts,
                });
            }
        }
    }
    HistPanel { title, hists }
}

fn lambda_label(n: &Named<Distribution>) -> String {
    let l = n
        .lambda
        .map_or_else(|| n.name.clone(), |l| format!("λ_adv = {l}"));
    match &n.seed {
        Some(s) => format!("{l}, seed {s}"),
        None => l,
    }
}

/// The λ-sweep panel of one headline metric: mean ± sd across seeds per λ,
/// and the paper's values of `paper_q` where given.
fn sweep_panel(
    inp: &ReportInputs,
    paper: &[PaperValue],
    title: &str,
    key: &str,
    paper_q: Option<&str>,
) -> SweepPanel {
    let points = groups(inp.swept())
        .iter()
        .filter_map(|g| {
            let xs: Vec<f64> = g
                .values(|d| d.headline().get(key)?.as_f64())
                .iter()
                .map(|v| v.value)
                .collect();
            let (mean, sd) = mean_sd_of(&xs)?;
            Some(SweepPoint {
                lambda: g.lambda?,
                mean,
                sd,
            })
        })
        .collect();
    let paper = paper_q.map_or_else(Vec::new, |q| {
        paper
            .iter()
            .filter(|p| p.quantity == q)
            .map(|p| (p.lambda, p.value))
            .collect()
    });
    SweepPanel {
        title: title.into(),
        points,
        paper,
    }
}

/// The adversary-dynamics figure of RM curves (`None` without any).
fn dynamics(list: &[Named<Vec<EvalCurve>>]) -> Option<Figure> {
    if list.iter().all(|n| n.value.is_empty()) {
        return None;
    }
    let label = |n: &Named<Vec<EvalCurve>>| {
        let l = n
            .lambda
            .map_or_else(|| n.name.clone(), |l| format!("λ_adv = {l}"));
        match &n.seed {
            Some(s) => format!("{l} (seed {s})"),
            None => l,
        }
    };
    // The first panel's legend names every line; the others share its colours.
    let series =
        |f: &dyn Fn(&EvalCurve) -> Option<f64>, legend: bool| -> Vec<(String, Vec<(f64, f64)>)> {
            list.iter()
                .map(|n| {
                    let pts = n
                        .value
                        .iter()
                        .filter_map(|c| Some((c.epoch as f64, f(c)?)))
                        .collect();
                    (if legend { label(n) } else { String::new() }, pts)
                })
                .collect()
        };
    let chance_ce = list
        .iter()
        .flat_map(|n| n.value.iter())
        .find_map(|c| c.chance_ce);
    let panel = |title: &str, f: &dyn Fn(&EvalCurve) -> Option<f64>, reference| LinePanel {
        title: title.into(),
        x_desc: "epoch".into(),
        series: series(f, false),
        reference,
    };
    Some(Figure::Lines(vec![
        LinePanel {
            title: "category mean gap".into(),
            x_desc: "epoch".into(),
            series: series(&|c| c.mean_gap, true),
            reference: None,
        },
        panel("KS statistic", &|c| c.ks, None),
        panel(
            "MI − permuted MI (nats)",
            &|c| Some(c.mi? - c.mi_null?),
            None,
        ),
        panel(
            "adversary CE (nats)",
            &|c| c.adv_ce,
            chance_ce.map(|l| ("ln K".to_string(), l)),
        ),
        panel(
            "adversary balanced accuracy",
            &|c| c.adv_balanced_accuracy,
            chance_ce.map(|l| ("chance 1/K".to_string(), (-l).exp())),
        ),
        panel("eval BT accuracy", &|c| Some(c.bt_accuracy), None),
    ]))
}

/// Writes everything under `out` and returns what was written.
///
/// # Errors
/// A file that cannot be written or a figure that cannot be drawn.
pub fn build(
    inp: &ReportInputs,
    paper: &[PaperValue],
    cfg: &ReportConfig,
    out: &Path,
) -> anyhow::Result<ReportSummary> {
    let tdir = out.join("tables");
    let fdir = out.join("figures");
    for d in [&tdir, &fdir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let (mut repro, verdicts) = reproduction(inp, paper, cfg.roles);
    // §4.1 (Table 1, diversity): one PPO run per policy, judged on the
    // bootstrap CIs over prompts.
    repro.rows.extend(reproduction_rows(&inp.policies));
    let mut tables = vec![
        repro,
        distributions(inp),
        stereotype(inp),
        audit(inp),
        sweep(inp, paper),
    ];
    tables.extend(policy_tables(&inp.policies));
    for t in &tables {
        for (ext, text) in [("md", t.markdown()), ("tex", t.latex()), ("csv", t.csv())] {
            let p = tdir.join(format!("{}.{ext}", t.stem));
            std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        }
    }

    let mut figs: Vec<(String, String, Figure)> = Vec::new();
    for (slot, list) in [("distribution", &inp.distributions), ("multi", &inp.multi)] {
        // One seed per setting is drawn (the first); the tables hold them all.
        for g in groups(list) {
            let n = g.first();
            let s = slug(&n.name);
            figs.push((
                format!("{slot}_{s}"),
                format!("Reward distribution by category, {}", n.name),
                Figure::Hists(vec![category_panel(n.name.clone(), &n.value)]),
            ));
            figs.push((
                format!("{slot}_{s}_sides"),
                format!("Chosen vs rejected rewards, {}", n.name),
                Figure::Hists(vec![sides_panel(
                    format!("{}: chosen vs rejected", n.name),
                    &n.value,
                )]),
            ));
        }
        if let (Some(b), Some(f)) = (
            at_lambda(list, cfg.roles.baseline),
            at_lambda(list, cfg.roles.fair),
        ) {
            let (b, f) = (b.first(), f.first());
            figs.push((
                format!("{slot}_baseline_vs_fair"),
                format!(
                    "Reward distributions by category: baseline ({}) vs fair ({}) — Figures {} of the paper",
                    lambda_label(b),
                    lambda_label(f),
                    if slot == "multi" { "3–4" } else { "1–2" }
                ),
                Figure::Hists(vec![
                    category_panel(format!("baseline, {}", lambda_label(b)), &b.value),
                    category_panel(format!("fair, {}", lambda_label(f)), &f.value),
                ]),
            ));
        }
    }
    let swept = groups(inp.swept())
        .iter()
        .filter(|g| g.lambda.is_some())
        .count();
    if swept >= 2 {
        let panel =
            |title: &str, key: &str, q: Option<&str>| sweep_panel(inp, paper, title, key, q);
        figs.push((
            "lambda_sweep".into(),
            "KS, Wasserstein-1, MI and its permuted null (nats), BT loss (nats) and BT accuracy against λ_adv: mean ± sd across seeds (error bars), the paper's values as red crosses (App. A.9 for MI and BT loss, §4 for KS; the paper's W1 is on its own RM's reward scale and is not drawn).".into(),
            Figure::Sweep(vec![
                panel("KS statistic", "ks", Some("ks")),
                panel("MI (nats)", "mi", Some("mi")),
                panel("BT loss (nats)", "bt_loss", Some("bt_loss")),
                panel("Wasserstein-1", "w1", None),
                panel("MI of permuted categories (nats)", "mi_permuted", None),
                panel("BT accuracy", "bt_accuracy", None),
            ]),
        ));
    }
    for n in &inp.policies.ppo {
        if let Some(fig) = ppo_figure(n) {
            figs.push((
                format!("ppo_curves_{}", slug(&n.name)),
                format!(
                    "PPO curves of {}: mean RM score, KL, β and intrinsic reward per step",
                    n.name
                ),
                fig,
            ));
        }
    }
    for (stem, task, list) in [
        ("adversary_dynamics", "helpful vs harmless", &inp.training),
        (
            "adversary_dynamics_multi",
            "the 19 categories",
            &inp.training_multi,
        ),
    ] {
        if let Some(fig) = dynamics(list) {
            figs.push((
                stem.into(),
                format!(
                    "The adversarial game per epoch on the eval split ({task}), one line per reward model: the category mean gap of the rewards (two categories: second minus first, so an overshoot changes sign; more: largest minus smallest), KS, MI minus the MI of permuted categories, the adversary's cross-entropy against ln K (dashed; at or above it the adversary reads nothing), and its balanced accuracy against chance 1/K (dashed)."
                ),
                fig,
            ));
        }
    }
    let mut inline = Vec::new();
    for (stem, caption, fig) in &figs {
        let svg = fig.write(&fdir, stem)?;
        inline.push(InlineFigure {
            stem: stem.clone(),
            caption: caption.clone(),
            svg,
        });
    }
    let text = text_available();
    let mut notes = cfg.notes.clone();
    notes.extend([
        format!(
            "Baseline: the inputs with λ_adv = {}; fair model: λ_adv = {} (λ and the seed are read from the matrix expansion names of the inputs). Every table shows mean ± sd across seeds; per-input figures show the first seed of each setting.",
            cfg.roles.baseline, cfg.roles.fair
        ),
        if text {
            "Figures are drawn with a bundled subset of DejaVu Sans.".to_string()
        } else {
            "The bundled font could not be registered: figures are drawn without text.".to_string()
        },
    ]);
    let html = render(&cfg.title, &notes, &tables, &inline, &inp.sources);
    let count = |want: Verdict| {
        verdicts
            .iter()
            .filter(|v| v.is_some_and(|v| v.verdict == want))
            .count()
    };
    let hp = out.join("report.html");
    std::fs::write(&hp, html).with_context(|| format!("writing {}", hp.display()))?;
    Ok(ReportSummary {
        tables: tables.iter().map(|t| t.stem.clone()).collect(),
        figures: figs.into_iter().map(|f| f.0).collect(),
        directions_checked: verdicts.iter().filter(|v| v.is_some()).count(),
        directions_hold: count(Verdict::Yes),
        directions_contradicted: count(Verdict::No),
        directions_within_noise: count(Verdict::WithinNoise),
        figure_text: text,
    })
}
