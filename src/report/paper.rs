//! Builds the paper report from its inputs: writes every table as Markdown,
//! LaTeX and CSV under `tables/`, every figure as PNG and SVG under
//! `figures/`, and the self-contained `report.html`.

use std::path::Path;

use anyhow::Context;

use super::figures::{Figure, Hist, HistPanel, SweepPanel, text_available};
use super::html::{InlineFigure, render};
use super::inputs::{Named, ReportInputs, at_lambda};
use super::paper_values::PaperValue;
use super::policies::{policy_tables, ppo_figure};
use super::tables::{Roles, audit, distributions, reproduction, stereotype, sweep};
use crate::eval::distribution::{Distribution, GroupSummary};

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
    /// Of those, rows whose direction matches the paper's.
    pub directions_hold: usize,
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
    n.lambda
        .map_or_else(|| n.name.clone(), |l| format!("λ_adv = {l}"))
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
    let (repro, verdicts) = reproduction(inp, paper, cfg.roles);
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
        for n in list {
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
    let swept: Vec<&Named<Distribution>> = inp
        .distributions
        .iter()
        .filter(|n| n.lambda.is_some())
        .collect();
    if swept.len() >= 2 {
        let panel = |title: &str, key: &str| SweepPanel {
            title: title.into(),
            points: swept
                .iter()
                .filter_map(|n| {
                    let v = n.value.headline().get(key)?.as_f64()?;
                    Some((n.lambda?, v))
                })
                .collect(),
        };
        figs.push((
            "lambda_sweep".into(),
            "KS, Wasserstein-1, MI (nats) and BT accuracy against λ_adv".into(),
            Figure::Sweep(vec![
                panel("KS statistic", "ks"),
                panel("Wasserstein-1", "w1"),
                panel("MI (nats)", "mi"),
                panel("BT accuracy", "bt_accuracy"),
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
            "Baseline: the input with λ_adv = {}; fair model: λ_adv = {} (λ is read from the matrix expansion names of the inputs).",
            cfg.roles.baseline, cfg.roles.fair
        ),
        if text {
            "Figures are drawn with a bundled subset of DejaVu Sans.".to_string()
        } else {
            "The bundled font could not be registered: figures are drawn without text.".to_string()
        },
    ]);
    let html = render(&cfg.title, &notes, &tables, &inline, &inp.sources);
    let hp = out.join("report.html");
    std::fs::write(&hp, html).with_context(|| format!("writing {}", hp.display()))?;
    Ok(ReportSummary {
        tables: tables.iter().map(|t| t.stem.clone()).collect(),
        figures: figs.into_iter().map(|f| f.0).collect(),
        directions_checked: verdicts.iter().filter(|v| v.is_some()).count(),
        directions_hold: verdicts.iter().filter(|v| **v == Some(true)).count(),
        figure_text: text,
    })
}
