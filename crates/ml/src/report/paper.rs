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
use super::reproduction::{reproduction, reproduction_policies, verdict_notes};
use super::tables::{Roles, audit, distributions, mean_sd_of, stereotype, sweep};
use crate::eval::distribution::{Distribution, GroupSummary};
use crate::eval::stats::Finding;
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
    /// Reproduction rows (reward models, every body of evidence) where both
    /// our values exist.
    pub directions_checked: usize,
    /// Of those, rows whose paired t-test is significant after Holm's
    /// correction with the paper's sign ("yes").
    pub directions_hold: usize,
    /// Significant against the paper's sign ("no").
    pub directions_contradicted: usize,
    /// Not significant, and the paper's relative effect is excluded
    /// ("smaller than the paper's").
    pub directions_smaller: usize,
    /// Not significant, and the interval holds both 0 and the paper's
    /// effect, or one seed ("within noise").
    pub directions_within_noise: usize,
    /// Per body of evidence: `[checked, yes, no, smaller, within noise]`.
    pub by_evidence: std::collections::BTreeMap<String, [usize; 5]>,
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

/// Most categories drawn overlaid in one panel; more get small multiples
/// (19 translucent series in one panel cannot be told apart).
const OVERLAID_CATEGORIES: usize = 4;

/// Per-category panels as a figure: overlaid for a few categories, small
/// multiples (one cell per category) for more.
fn category_figure(panels: Vec<HistPanel>) -> Figure {
    if panels.iter().any(|p| p.hists.len() > OVERLAID_CATEGORIES) {
        Figure::Facets(panels)
    } else {
        Figure::Hists(panels)
    }
}

/// One of the paper's figures that a figure of ours reproduces.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PaperFigure {
    /// Its number, for the title inside the image ("Figure 5").
    short: &'static str,
    /// Where the paper has it, for the caption.
    long: &'static str,
}

/// Which of the paper's figures a per-setting figure of `slot` at `lambda`
/// reproduces: Figures 1–2 (helpful vs harmless before and after, §4),
/// 3–4 (the 19 categories before and after, §4.3), 5 (chosen vs rejected)
/// and 6 (helpful vs harmless) of its fair Llama3-8B RM (App. A.10).
fn paper_figure(slot: &str, lambda: Option<f64>, roles: Roles, sides: bool) -> Option<PaperFigure> {
    let is = |want: f64| lambda.is_some_and(|l| (l - want).abs() < 1e-9);
    let (short, long) = match (slot, sides) {
        ("distribution", false) if is(roles.baseline) => ("Figure 1", "Figure 1 (§4)"),
        ("distribution", false) if is(roles.fair) => (
            "Figures 2 and 6",
            "Figure 2 (§4) and Figure 6 (App. A.10, its Llama3-8B fair RM)",
        ),
        ("distribution", true) if is(roles.fair) => {
            ("Figure 5", "Figure 5 (App. A.10, its Llama3-8B fair RM)")
        }
        ("multi", false) if is(roles.baseline) => ("Figure 3", "Figure 3 (§4.3)"),
        ("multi", false) if is(roles.fair) => ("Figure 4", "Figure 4 (§4.3)"),
        _ => return None,
    };
    Some(PaperFigure { short, long })
}

/// `title` prefixed with the number of the paper's figure it reproduces.
fn numbered(fig: Option<PaperFigure>, title: String) -> String {
    match fig {
        Some(f) => format!("{} · {title}", f.short),
        None => title,
    }
}

/// A caption's closing clause naming the paper's figure, if any.
fn of_paper(fig: Option<PaperFigure>) -> String {
    fig.map_or_else(String::new, |f| format!(" — the paper's {}", f.long))
}

/// Chosen vs rejected: a panel per category for two categories (so each
/// panel has two series, chosen and rejected), one panel pooled over
/// categories for more (its title names the setting, `name`). `prefix`
/// starts each panel's title.
fn sides_panels(prefix: &str, name: &str, d: &Distribution) -> Vec<HistPanel> {
    if d.categories.len() > 2 {
        return vec![HistPanel {
            title: format!("{prefix}{name}: chosen vs rejected, all categories"),
            hists: ["chosen", "rejected"]
                .iter()
                .map(|side| pooled_side(d, side))
                .collect(),
        }];
    }
    let bins = d.edges.len().saturating_sub(1);
    d.categories
        .iter()
        .map(|c| HistPanel {
            title: format!("{prefix}{}: chosen vs rejected", c.category),
            // A missing side stays as an empty series, so that the
            // colours of chosen and rejected agree across panels.
            hists: [("chosen", &c.chosen), ("rejected", &c.rejected)]
                .into_iter()
                .map(|(side, g)| match g {
                    Some(g) => hist(side, &d.edges, g),
                    None => Hist {
                        label: side.into(),
                        edges: d.edges.clone(),
                        counts: vec![0; bins],
                    },
                })
                .collect(),
        })
        .collect()
}

/// The histogram of one side (`chosen` or `rejected`) summed over categories.
fn pooled_side(d: &Distribution, side: &str) -> Hist {
    let mut counts = vec![0u64; d.edges.len().saturating_sub(1)];
    for c in &d.categories {
        let g = if side == "chosen" {
            &c.chosen
        } else {
            &c.rejected
        };
        for (acc, x) in counts.iter_mut().zip(g.iter().flat_map(|g| &g.histogram)) {
            *acc += x;
        }
    }
    Hist {
        label: side.into(),
        edges: d.edges.clone(),
        counts,
    }
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
        x_desc: None,
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
    let (repro, judged) = reproduction(inp, paper, cfg.roles)
        .context("judging the reproduction table (Holm's correction across its rows)")?;
    // §4.1 (Table 1, diversity): one PPO run per policy, judged on the
    // bootstrap over prompts, in a table of their own.
    let repro_policies = reproduction_policies(reproduction_rows(&inp.policies));
    let mut tables = vec![
        repro,
        distributions(inp),
        stereotype(inp, cfg.roles),
        audit(inp),
        sweep(inp, paper),
    ];
    tables.extend(repro_policies);
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
            let by_cat = paper_figure(slot, g.lambda, cfg.roles, false);
            figs.push((
                format!("{slot}_{s}"),
                format!(
                    "Reward distribution by category, {}{}",
                    n.name,
                    of_paper(by_cat)
                ),
                category_figure(vec![category_panel(
                    numbered(by_cat, n.name.clone()),
                    &n.value,
                )]),
            ));
            let sides = paper_figure(slot, g.lambda, cfg.roles, true);
            figs.push((
                format!("{slot}_{s}_sides"),
                format!("Chosen vs rejected rewards, {}{}", n.name, of_paper(sides)),
                Figure::Hists(sides_panels(
                    &sides.map_or_else(String::new, |f| format!("{} · ", f.short)),
                    &n.name,
                    &n.value,
                )),
            ));
        }
        if let (Some(b), Some(f)) = (
            at_lambda(list, cfg.roles.baseline),
            at_lambda(list, cfg.roles.fair),
        ) {
            let (b, f) = (b.first(), f.first());
            let (fb, ff) = if slot == "multi" {
                ("Figure 3", "Figure 4")
            } else {
                ("Figure 1", "Figure 2")
            };
            let small = if slot == "multi" {
                ": one small panel per category on a shared reward axis and density scale, all categories pooled in grey behind each"
            } else {
                ""
            };
            figs.push((
                format!("{slot}_baseline_vs_fair"),
                format!(
                    "The paper's {fb} and {ff}: reward distributions by category, baseline ({}) vs fair ({}){small}",
                    lambda_label(b),
                    lambda_label(f),
                ),
                category_figure(vec![
                    category_panel(format!("{fb} · baseline, {}", lambda_label(b)), &b.value),
                    category_panel(format!("{ff} · fair, {}", lambda_label(f)), &f.value),
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
            "KS, Wasserstein-1, MI and its permuted null (nats), BT loss (nats) and BT accuracy against λ_adv: mean ± sd across seeds (error bars), the paper's values as crosses (Table 5, App. A.9 for MI and BT loss, §4 for KS; the paper's W1 is on its own RM's reward scale and is not drawn).".into(),
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
    notes.push(format!(
        "Baseline: the inputs with λ_adv = {}; fair model: λ_adv = {} (λ and the seed are read from the matrix expansion names of the inputs). Every table shows mean ± sd across seeds; per-input figures show the first seed of each setting.",
        cfg.roles.baseline, cfg.roles.fair
    ));
    notes.extend(verdict_notes(&judged));
    notes.push(if text {
        "Figures are drawn with a bundled subset of DejaVu Sans.".to_string()
    } else {
        "The bundled font could not be registered: figures are drawn without text.".to_string()
    });
    let html = render(&cfg.title, &notes, &tables, &inline, &inp.sources);
    let count = |want: Finding| judged.iter().filter(|r| r.finding == want).count();
    let mut by_evidence = std::collections::BTreeMap::new();
    for r in &judged {
        let e: &mut [usize; 5] = by_evidence
            .entry(r.evidence.label().to_string())
            .or_default();
        e[0] += 1;
        e[match r.finding {
            Finding::Yes => 1,
            Finding::No => 2,
            Finding::SmallerThanPaper => 3,
            Finding::WithinNoise => 4,
        }] += 1;
    }
    let hp = out.join("report.html");
    std::fs::write(&hp, html).with_context(|| format!("writing {}", hp.display()))?;
    Ok(ReportSummary {
        tables: tables.iter().map(|t| t.stem.clone()).collect(),
        figures: figs.into_iter().map(|f| f.0).collect(),
        directions_checked: judged.len(),
        directions_hold: count(Finding::Yes),
        directions_contradicted: count(Finding::No),
        directions_smaller: count(Finding::SmallerThanPaper),
        directions_within_noise: count(Finding::WithinNoise),
        by_evidence,
        figure_text: text,
    })
}
