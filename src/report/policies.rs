//! The post-PPO part of the report (§4.1, App. B): Table 1 (parity gap,
//! RelDrop, our bootstrap CIs), the diversity table (SemDiv, paired
//! bootstrap vs the baseline), both beside the paper's values, the PPO
//! curves of each `train.ppo` stage, and a few sample generations per
//! policy. Every input is optional: without them the report is as before.
//!
//! Input contracts (files under each input stage's outputs):
//! - `parity`: `parity.json` of `eval.parity` ([`ParityDoc`]);
//! - `diversity`: `diversity.json` of `eval.diversity` ([`DiversityDoc`]);
//! - `ppo`: `curves.csv` of `train.ppo`: a header row, a `step` column and
//!   numeric columns, of which the figure draws the mean RM score, KL, β and
//!   the intrinsic reward (the first present of each [`CURVE_PANELS`] list);
//! - `samples`: `generations.parquet` of `eval.generate`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::figures::{Figure, LinePanel};
use super::inputs::{Named, SlotDirs, read_slot};
use super::table::{Cell, Sources, Table};
use super::tables::num;
use crate::eval::generations::{GenerationRow, read_generations};
use crate::eval::policy_diversity::PolicyDiversity;
use crate::eval::policy_parity::PolicyParity;
use crate::util::io::json::read_json;

/// `parity.json` as the report reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct ParityDoc {
    /// Expansion name of the baseline.
    pub baseline: String,
    /// Table 1's rows.
    pub policies: Vec<PolicyParity>,
}

/// `diversity.json` as the report reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct DiversityDoc {
    /// Expansion name of the baseline.
    pub baseline: String,
    /// One row per policy.
    pub policies: Vec<PolicyDiversity>,
}

/// A `curves.csv`: column name → values, in step order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    /// Column name → one value per row (NaN where a cell is empty).
    pub columns: BTreeMap<String, Vec<f64>>,
}

/// Panels of the PPO figure: title and the column names accepted, in order.
pub const CURVE_PANELS: [(&str, &[&str]); 4] = [
    (
        "mean RM score",
        &["rm_score", "mean_rm_score", "score", "reward"],
    ),
    ("KL (nats / sequence)", &["kl", "mean_kl"]),
    ("beta (KL coefficient)", &["beta", "kl_coef"]),
    (
        "mean intrinsic reward",
        &["intrinsic", "mean_intrinsic", "intrinsic_reward"],
    ),
];

/// The post-PPO inputs.
#[derive(Debug, Clone, Default)]
pub struct PolicyInputs {
    /// `eval.parity`.
    pub parity: Vec<Named<ParityDoc>>,
    /// `eval.diversity`.
    pub diversity: Vec<Named<DiversityDoc>>,
    /// `train.ppo` curves.
    pub ppo: Vec<Named<Curves>>,
    /// `eval.generate` outputs to sample from.
    pub samples: Vec<Named<Vec<GenerationRow>>>,
}

/// Reads a `curves.csv`.
///
/// # Errors
/// An unreadable file, no `step` column, a ragged row or a non-number.
pub fn read_curves(path: &Path) -> anyhow::Result<Curves> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .with_context(|| format!("{}: empty", path.display()))?
        .split(',')
        .map(|h| h.trim().to_string())
        .collect();
    anyhow::ensure!(
        header.iter().any(|h| h == "step"),
        "{}: no `step` column (header: {})",
        path.display(),
        header.join(",")
    );
    let mut columns: BTreeMap<String, Vec<f64>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(
            cells.len() == header.len(),
            "{}: row {} has {} cells, the header {}",
            path.display(),
            i + 2,
            cells.len(),
            header.len()
        );
        for (h, c) in header.iter().zip(cells) {
            let c = c.trim();
            let v = if c.is_empty() {
                f64::NAN
            } else {
                c.parse::<f64>().with_context(|| {
                    format!(
                        "{}: row {}, column `{h}`: `{c}` is not a number",
                        path.display(),
                        i + 2
                    )
                })?
            };
            if let Some(col) = columns.get_mut(h) {
                col.push(v);
            }
        }
    }
    Ok(Curves { columns })
}

/// Reads the `parity`, `diversity`, `ppo` and `samples` slots (each may be
/// absent).
///
/// # Errors
/// A malformed file, named with its slot and stage.
pub fn read_policy_inputs(
    inputs: &SlotDirs,
    sources: &mut Sources,
) -> anyhow::Result<PolicyInputs> {
    Ok(PolicyInputs {
        parity: read_slot(inputs, "parity", "parity.json", sources, |p| {
            Ok(read_json(p)?)
        })?,
        diversity: read_slot(inputs, "diversity", "diversity.json", sources, |p| {
            Ok(read_json(p)?)
        })?,
        ppo: read_slot(inputs, "ppo", "curves.csv", sources, read_curves)?,
        samples: read_slot(inputs, "samples", "generations.parquet", sources, |p| {
            Ok(read_generations(p)?)
        })?,
    })
}

/// The paper's values (§4.1, Table 1, App. B.2) of a policy label.
struct PaperRow {
    gap: &'static str,
    rel_drop: &'static str,
    semdiv: &'static str,
    diff: &'static str,
    p: &'static str,
}

/// §4.1 / Table 1: gaps 0.4814, 0.4001 (−16.9 %), 0.4126 (−14.3 %); App. B.2 /
/// §4.1: SemDiv 0.9638, 0.9584 (−0.0054, p < 0.001), 0.9616 (−0.0022, p = 0.002).
fn paper_row(label: &str, is_baseline: bool) -> Option<PaperRow> {
    let l = label.to_lowercase();
    if l.contains("curiosity") {
        Some(PaperRow {
            gap: "0.4126",
            rel_drop: "−14.3 %",
            semdiv: "0.9616",
            diff: "−0.0022",
            p: "0.002",
        })
    } else if l.contains("fair") {
        Some(PaperRow {
            gap: "0.4001",
            rel_drop: "−16.9 %",
            semdiv: "0.9584",
            diff: "−0.0054",
            p: "< 0.001",
        })
    } else if is_baseline || l.contains("baseline") {
        Some(PaperRow {
            gap: "0.4814",
            rel_drop: "—",
            semdiv: "0.9638",
            diff: "—",
            p: "—",
        })
    } else {
        None
    }
}

/// A verdict from a confidence interval of `fair − baseline` against the
/// paper's direction (down): "yes" when it lies below 0, "no" above, else
/// "within noise".
fn ci_verdict(lo: f64, hi: f64) -> &'static str {
    if hi < 0.0 {
        "yes"
    } else if lo > 0.0 {
        "no"
    } else {
        "within noise"
    }
}

/// Paper-vs-ours rows for §4.1, in the columns of the reproduction table:
/// per non-baseline policy, the parity gap (judged on RelDrop's bootstrap
/// CI) and SemDiv (judged on the paired bootstrap CI of the difference).
/// One PPO run per policy: the uncertainty is over prompts, not seeds.
pub fn reproduction_rows(p: &PolicyInputs) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    let Some(paper_base) = paper_row("baseline", true) else {
        return rows;
    };
    for n in &p.parity {
        let Some(base) = n.value.policies.iter().find(|r| r.baseline) else {
            continue;
        };
        for r in n.value.policies.iter().filter(|r| !r.baseline) {
            let Some(paper) = paper_row(&r.label, false) else {
                continue;
            };
            let verdict = match (r.rel_drop_ci_low, r.rel_drop_ci_high) {
                (Some(lo), Some(hi)) => ci_verdict(lo, hi),
                _ => "—",
            };
            rows.push(vec![
                Cell::text(format!("parity gap ({})", r.label)),
                Cell::text(paper_base.gap),
                Cell::text(paper.gap),
                Cell::text(num(base.gap)),
                Cell::text(num(r.gap)),
                Cell::text("down"),
                Cell::text(format!(
                    "{} (RelDrop {}, 95 % CI {})",
                    num(r.gap - base.gap),
                    r.rel_drop.map_or("—".into(), |x| format!("{x:.1} %")),
                    ci_text(r.rel_drop_ci_low, r.rel_drop_ci_high, true).unwrap_or("—".into())
                )),
                Cell::text(verdict),
                Cell::text("one run; prompts resampled"),
                Cell::text(format!(
                    "§4.1 Table 1: parity gap {} → {} ({})",
                    paper_base.gap, paper.gap, paper.rel_drop
                )),
            ]);
        }
    }
    for n in &p.diversity {
        let Some(base) = n.value.policies.iter().find(|r| r.baseline) else {
            continue;
        };
        for r in n.value.policies.iter().filter(|r| !r.baseline) {
            let (Some(paper), Some(d)) = (paper_row(&r.label, false), r.vs_baseline.as_ref())
            else {
                continue;
            };
            rows.push(vec![
                Cell::text(format!("SemDiv ({})", r.label)),
                Cell::text(paper_base.semdiv),
                Cell::text(paper.semdiv),
                Cell::text(num(base.semdiv)),
                Cell::text(num(r.semdiv)),
                Cell::text("down"),
                Cell::text(format!(
                    "{:+.4} (95 % CI [{:+.4}, {:+.4}], p {:.3})",
                    d.diff, d.ci_low, d.ci_high, d.pvalue
                )),
                Cell::text(ci_verdict(d.ci_low, d.ci_high)),
                Cell::text("one run; prompts resampled"),
                Cell::text(format!(
                    "§4.1 / App. B.2: SemDiv {} → {} ({}, p {})",
                    paper_base.semdiv, paper.semdiv, paper.diff, paper.p
                )),
            ]);
        }
    }
    rows
}

/// `[lo, hi]` (percent: one decimal and `%`), when both ends are known.
fn ci_text(lo: Option<f64>, hi: Option<f64>, pct: bool) -> Option<String> {
    match (lo, hi) {
        (Some(a), Some(b)) if pct => Some(format!("[{a:.1}, {b:.1}] %")),
        (Some(a), Some(b)) => Some(format!("[{}, {}]", num(a), num(b))),
        _ => None,
    }
}

fn ci(lo: Option<f64>, hi: Option<f64>, src: usize, pct: bool) -> Cell {
    ci_text(lo, hi, pct).map_or_else(Cell::missing, |t| Cell::from_source(t, src))
}

/// Table 1 with our CIs and the paper's values.
pub fn parity_table(n: &Named<ParityDoc>) -> Table {
    let s = n.source;
    let rows = n
        .value
        .policies
        .iter()
        .map(|p| {
            let paper = paper_row(&p.label, p.baseline);
            vec![
                Cell::text(&p.label),
                Cell::from_source(format!("{}/{}", p.n_first, p.n_second), s),
                Cell::from_source(num(p.mean_first), s),
                Cell::from_source(num(p.mean_second), s),
                Cell::from_source(num(p.gap), s),
                ci(Some(p.gap_ci_low), Some(p.gap_ci_high), s, false),
                p.rel_drop
                    .map_or_else(Cell::missing, |d| Cell::from_source(format!("{d:.1} %"), s)),
                ci(p.rel_drop_ci_low, p.rel_drop_ci_high, s, true),
                Cell::text(paper.as_ref().map_or("—", |r| r.gap)),
                Cell::text(paper.as_ref().map_or("—", |r| r.rel_drop)),
            ]
        })
        .collect();
    Table {
        stem: "table1_parity".into(),
        caption: format!(
            "Table 1: post-PPO parity gap |mean(helpful) − mean(harmless)| of the fixed safety RM's rewards on each policy's responses (App. B.1), RelDrop vs the baseline policy `{}`, and the paper's values. The 95 % CIs are ours (not in the paper): prompts resampled within category; RelDrop's on the same resamples as the baseline.",
            n.value.baseline
        ),
        header: [
            "policy",
            "n (helpful/harmless)",
            "mean helpful",
            "mean harmless",
            "gap",
            "gap 95 % CI (ours)",
            "RelDrop",
            "RelDrop 95 % CI (ours)",
            "paper gap",
            "paper RelDrop",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

/// The diversity table with the paper's values.
pub fn diversity_table(n: &Named<DiversityDoc>) -> Table {
    let s = n.source;
    let rows = n
        .value
        .policies
        .iter()
        .map(|p| {
            let paper = paper_row(&p.label, p.baseline);
            let d = p.vs_baseline;
            vec![
                Cell::text(&p.label),
                Cell::from_source(p.n.to_string(), s),
                Cell::from_source(num(p.semdiv), s),
                d.map_or_else(Cell::missing, |d| {
                    Cell::from_source(format!("{:+.4}", d.diff), s)
                }),
                ci(d.map(|d| d.ci_low), d.map(|d| d.ci_high), s, false),
                d.map_or_else(Cell::missing, |d| Cell::from_source(num(d.pvalue), s)),
                Cell::from_source(format!("{:.1}", p.mean_tokens), s),
                Cell::text(paper.as_ref().map_or("—", |r| r.semdiv)),
                Cell::text(paper.as_ref().map_or("—", |r| r.diff)),
                Cell::text(paper.as_ref().map_or("—", |r| r.p)),
            ]
        })
        .collect();
    Table {
        stem: "diversity".into(),
        caption: format!(
            "Semantic diversity (§4.1, App. B.2): SemDiv = mean pairwise cosine distance of L2-normalised mean-pooled all-mpnet-base-v2 embeddings of each policy's responses; difference to the baseline `{}` with a paired bootstrap (1,000 resamples of aligned prompt indices, pairs of equal indices excluded), 95 % CI and two-sided p = 2·min(P(d* ≤ 0), P(d* ≥ 0)); the paper's values beside.",
            n.value.baseline
        ),
        header: [
            "policy",
            "n",
            "SemDiv",
            "Δ vs baseline",
            "Δ 95 % CI",
            "p",
            "mean tokens",
            "paper SemDiv",
            "paper Δ",
            "paper p",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn clip(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max).collect();
    format!("{cut}…")
}

/// A few responses per policy (the first `per_policy` prompts of each
/// category, the same prompts for every policy).
pub fn samples_table(samples: &[Named<Vec<GenerationRow>>], per_policy: usize) -> Table {
    let mut rows = Vec::new();
    for n in samples {
        let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &n.value {
            let k = taken.entry(r.category.as_str()).or_default();
            if *k >= per_policy.div_ceil(2).max(1) {
                continue;
            }
            *k += 1;
            rows.push(vec![
                Cell::text(short(&n.name)),
                Cell::from_source(&r.prompt_id, n.source),
                Cell::text(&r.category),
                Cell::text(clip(&r.prompt, 160)),
                Cell::from_source(clip(&r.response, 400), n.source),
            ]);
        }
    }
    Table {
        stem: "sample_generations".into(),
        caption: "Sample generations: the first prompts of each category, every policy on the same prompts with the same sampling seed (prompts and responses shortened for display).".into(),
        header: ["policy", "prompt id", "category", "prompt", "response"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// The label of an expansion name (its matrix values), else the name.
pub fn short(name: &str) -> String {
    crate::eval::policies::label(name)
}

/// The PPO figure of one `train.ppo` stage: RM score, KL, β and intrinsic
/// reward against the PPO step (panels whose column is absent are left out).
pub fn ppo_figure(n: &Named<Curves>) -> Option<Figure> {
    let step = n.value.columns.get("step")?;
    let panels: Vec<LinePanel> = CURVE_PANELS
        .iter()
        .filter_map(|(title, names)| {
            let col = names.iter().find_map(|c| n.value.columns.get(*c))?;
            Some(LinePanel {
                title: format!("{title}, {}", short(&n.name)),
                x_desc: "PPO step".into(),
                series: vec![(
                    String::new(),
                    step.iter().copied().zip(col.iter().copied()).collect(),
                )],
                reference: None,
            })
        })
        .collect();
    (!panels.is_empty()).then_some(Figure::Lines(panels))
}

/// Every post-PPO table that has its input.
pub fn policy_tables(p: &PolicyInputs) -> Vec<Table> {
    let mut out = Vec::new();
    out.extend(p.parity.iter().map(parity_table));
    out.extend(p.diversity.iter().map(diversity_table));
    if !p.samples.is_empty() {
        out.push(samples_table(&p.samples, 4));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_csv_is_read_by_header_and_bad_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("curves.csv");
        std::fs::write(
            &p,
            "step,rm_score,kl,beta\n1,0.5,0.01,0.05\n2,0.7,,0.0501\n",
        )
        .unwrap();
        let c = read_curves(&p).unwrap();
        assert_eq!(c.columns["rm_score"], vec![0.5, 0.7]);
        assert!(c.columns["kl"][1].is_nan());
        let n = Named {
            name: "ppo[policy=fair]".into(),
            lambda: None,
            seed: None,
            source: 0,
            value: c,
        };
        let Some(Figure::Lines(panels)) = ppo_figure(&n) else {
            panic!("no figure")
        };
        assert_eq!(panels.len(), 3, "no intrinsic column, three panels");
        assert!(panels[0].title.ends_with("fair"));
        std::fs::write(&p, "step,kl\n1,x\n").unwrap();
        let e = read_curves(&p).unwrap_err().to_string();
        assert!(e.contains("row 2, column `kl`"), "{e}");
        std::fs::write(&p, "kl\n1\n").unwrap();
        assert!(
            read_curves(&p)
                .unwrap_err()
                .to_string()
                .contains("no `step`")
        );
    }

    #[test]
    fn paper_rows_follow_the_labels() {
        assert_eq!(paper_row("fair_curiosity", false).unwrap().gap, "0.4126");
        assert_eq!(paper_row("fair", false).unwrap().rel_drop, "−16.9 %");
        assert_eq!(paper_row("ppo", true).unwrap().semdiv, "0.9638");
        assert!(paper_row("twin", false).is_none());
        assert_eq!(clip("a\n b   c", 3), "a b…");
    }
}
