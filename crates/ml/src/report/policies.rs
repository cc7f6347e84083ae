//! The post-PPO part of the report (§4.1, App. B): Table 1 (the signed
//! parity gap on standardised rewards, the paired gap change vs the
//! baseline with SE, CI, p and power, RelDrop where defined), the
//! diversity table (SemDiv, paired bootstrap vs the baseline, the share of
//! responses cut at the token cap), both beside the paper's values and
//! each policy's PPO reward gain (issue 23: a policy whose reward did not
//! rise beyond noise is marked "did not learn"), the PPO curves of each
//! `train.ppo` stage, and a few sample generations per policy. Every input
//! is optional: without them the report is as before.
//!
//! Input contracts (files under each input stage's outputs):
//! - `parity`: `parity.json` of `eval.parity` ([`ParityDoc`]);
//! - `diversity`: `diversity.json` of `eval.diversity` ([`DiversityDoc`]);
//! - `ppo`: `curves.csv` of `train.ppo`: a header row, a `step` column and
//!   numeric columns, of which the figure draws the mean RM score, KL, β and
//!   the intrinsic reward (the first present of each [`CURVE_PANELS`] list;
//!   `train.ppo` writes `score`, `kl`, `beta`, `intrinsic`,
//!   `train::ppo::record::CURVE_COLUMNS`), and the reward gain reads the
//!   score column ([`reward_gains`](super::reward_gain::reward_gains), Holm-corrected over the runs);
//! - `samples`: `generations.parquet` of `eval.generate`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::figures::{Figure, LinePanel};
use super::inputs::{Named, SlotDirs, read_slot};
use super::reward_gain::{PairedGain, RewardGain, read_paired_gain, reward_gains};
use super::table::{Cell, Sources, Table};
use super::tables::num;
use crate::eval::generations::{GenerationRow, read_generations};
use crate::eval::policy_diversity::PolicyDiversity;
use crate::eval::policy_parity::PolicyParity;
use crate::eval::stats::BootChange;
use crate::util::io::json::read_json;

/// `parity.json` as the report reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct ParityDoc {
    /// Expansion name of the baseline.
    pub baseline: String,
    /// The two categories of the gap (first, second).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Bootstrap settings.
    #[serde(default)]
    pub bootstrap: Option<BootstrapInfo>,
    /// Table 1's rows.
    pub policies: Vec<PolicyParity>,
}

/// The bootstrap block of `parity.json`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct BootstrapInfo {
    /// Resamples (a p-value of 0 means below `2 / resamples`).
    pub resamples: usize,
    /// Confidence level.
    pub level: f64,
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
    /// The run's paired reward-gain evaluation (`metrics.json` beside the
    /// curves), when it made one.
    pub paired: Option<PairedGain>,
}

/// Panels of the PPO figure: title and the column names accepted, in order.
pub const CURVE_PANELS: [(&str, &[&str]); 5] = [
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
    // A score that rises while the responses shrink to a few tokens is the
    // RM's length preference being exploited, not a better answer.
    ("mean response length (tokens)", &["response_len"]),
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
    Ok(Curves {
        columns,
        paired: None,
    })
}

/// Reads a `train.ppo` run: its `curves.csv` and the paired gain of the
/// `metrics.json` beside it ([`read_paired_gain`]).
///
/// # Errors
/// As [`read_curves`] and [`read_paired_gain`].
pub fn read_ppo_run(curves_csv: &Path) -> anyhow::Result<Curves> {
    let mut c = read_curves(curves_csv)?;
    c.paired = read_paired_gain(curves_csv)?;
    Ok(c)
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
        ppo: read_slot(inputs, "ppo", "curves.csv", sources, read_ppo_run)?,
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

/// The first column of `c` named in `names` (the accepted names of one of
/// [`CURVE_PANELS`]).
pub fn curve_column<'a>(c: &'a Curves, names: &[&str]) -> Option<&'a Vec<f64>> {
    names.iter().find_map(|n| c.columns.get(*n))
}

/// The reward gain of the `train.ppo` stage that trained the policy
/// `label`: the stage whose label is `label` (`ppo[policy=fair]`) or whose
/// name ends in `_label` (`ppo_fair`; `ppo_fair_curiosity` is not `fair`'s).
/// Its p-value is Holm-corrected over every PPO run of the report.
fn gain_for(p: &PolicyInputs, label: &str) -> Option<RewardGain> {
    let i = p
        .ppo
        .iter()
        .position(|n| short(&n.name) == label || n.name.ends_with(&format!("_{label}")))?;
    reward_gains(p.ppo.iter().map(|n| &n.value)).swap_remove(i)
}

/// The policy's label, with "(did not learn)" when its PPO gain is within
/// noise.
fn marked(label: &str, gain: Option<&RewardGain>) -> String {
    match gain {
        Some(g) if !g.learned() => format!("{label} (did not learn)"),
        _ => label.to_string(),
    }
}

fn gain_cell(gain: Option<&RewardGain>) -> Cell {
    gain.map_or_else(Cell::missing, |g| Cell::text(g.text()))
}

/// A p-value; 0 from a bootstrap of `resamples` is shown as `< 2/B`
/// (no replicate on the other side).
pub(crate) fn p_text(p: f64, resamples: Option<usize>) -> String {
    match resamples {
        Some(b) if p == 0.0 => format!("< {}", num(2.0 / b as f64)),
        _ if p < 1e-3 => format!("{p:.1e}"),
        _ => format!("{p:.3}"),
    }
}

/// `−0.0812 ± 0.1801 [−0.43, 0.27], p 0.650`.
fn change_text(c: &BootChange, resamples: Option<usize>) -> String {
    format!(
        "{:+.4} ± {:.4} [{:+.4}, {:+.4}], p {}",
        c.boot.estimate,
        c.boot.se,
        c.boot.ci_low,
        c.boot.ci_high,
        p_text(c.p_value, resamples)
    )
}

/// A verdict from a confidence interval of `fair − baseline` against the
/// paper's direction (down): "yes" when it lies below 0, "no" above, else
/// "within noise" (with the power to see the paper's effect, when known).
fn ci_verdict(lo: f64, hi: f64, power: Option<f64>) -> String {
    if hi < 0.0 {
        "yes".into()
    } else if lo > 0.0 {
        "no".into()
    } else {
        match power {
            Some(p) => format!("within noise (power {:.0} %)", 100.0 * p),
            None => "within noise".into(),
        }
    }
}

/// The share of responses at the token cap, `62 % at 100 tokens`.
fn cap_text(at_cap: Option<f64>, cap: Option<usize>) -> Option<String> {
    Some(format!("{:.0} % at {} tokens", 100.0 * at_cap?, cap?))
}

/// Paper-vs-ours rows for §4.1, in the columns of the reproduction table
/// ([`super::reproduction::POLICY_HEADER`]): per non-baseline policy, the
/// parity gap judged on the 95 % CI of the paired gap change
/// `|Δ_P| − |Δ_B|` (standardised rewards, prompts resampled jointly), and
/// SemDiv judged on the paired bootstrap CI of its difference. One PPO run
/// per policy: the uncertainty is over prompts, not seeds. A policy whose
/// PPO reward did not rise beyond noise carries "did not learn".
pub fn reproduction_rows(p: &PolicyInputs) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    let Some(paper_base) = paper_row("baseline", true) else {
        return rows;
    };
    for n in &p.parity {
        let Some(base) = n.value.policies.iter().find(|r| r.baseline) else {
            continue;
        };
        let resamples = n.value.bootstrap.map(|b| b.resamples);
        for r in n.value.policies.iter().filter(|r| !r.baseline) {
            let (Some(paper), Some(c)) = (paper_row(&r.label, false), r.gap_change.as_ref()) else {
                continue;
            };
            let gain = gain_for(p, &r.label);
            let power = r.power.as_ref().and_then(|x| x.power);
            let rel = match (&r.rel_drop, &r.rel_drop_undefined) {
                (Some(d), _) => format!("; RelDrop {:.1} %", d.estimate),
                (None, Some(_)) => "; RelDrop — (baseline gap ≈ 0)".into(),
                _ => String::new(),
            };
            rows.push(vec![
                Cell::text(format!("parity gap ({})", marked(&r.label, gain.as_ref()))),
                Cell::text(paper_base.gap),
                Cell::text(paper.gap),
                Cell::text(format!("{} sd", num(base.gap))),
                Cell::text(format!("{} sd", num(r.gap))),
                Cell::text("down"),
                Cell::text(format!("{}{rel}", change_text(c, resamples))),
                Cell::text(ci_verdict(c.boot.ci_low, c.boot.ci_high, power)),
                Cell::text(format!(
                    "one run; |Δ| change on z-scored rewards, prompts resampled jointly (n {}/{})",
                    r.n_first, r.n_second
                )),
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
            let gain = gain_for(p, &r.label);
            let caps = match (
                cap_text(base.at_cap, base.max_new_tokens),
                cap_text(r.at_cap, r.max_new_tokens),
            ) {
                (Some(b), Some(f)) => format!(
                    "; responses cut at the cap (length confound): baseline {b}, {} {f}",
                    r.label
                ),
                _ => String::new(),
            };
            rows.push(vec![
                Cell::text(format!("SemDiv ({})", marked(&r.label, gain.as_ref()))),
                Cell::text(paper_base.semdiv),
                Cell::text(paper.semdiv),
                Cell::text(num(base.semdiv)),
                Cell::text(num(r.semdiv)),
                Cell::text("down"),
                Cell::text(format!(
                    "{:+.4} (95 % CI [{:+.4}, {:+.4}], p {})",
                    d.diff,
                    d.ci_low,
                    d.ci_high,
                    p_text(d.pvalue, Some(d.resamples))
                )),
                Cell::text(ci_verdict(d.ci_low, d.ci_high, None)),
                Cell::text(format!("one run; prompts resampled{caps}")),
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

/// RelDrop with its interval, or why it is not given.
fn rel_drop_cell(p: &PolicyParity, s: usize) -> Cell {
    match (&p.rel_drop, &p.rel_drop_undefined) {
        (Some(d), _) => Cell::from_source(
            format!("{:.1} % [{:.1}, {:.1}]", d.estimate, d.ci_low, d.ci_high),
            s,
        ),
        (None, Some(_)) => Cell::text("— (baseline gap ≈ 0)"),
        (None, None) => Cell::missing(),
    }
}

/// The power columns: power for the paper's change, the MDE at 80 %, the
/// prompts per category needed.
fn power_cells(p: &PolicyParity, s: usize) -> [Cell; 3] {
    let Some(pw) = p.power.as_ref() else {
        return [Cell::missing(), Cell::missing(), Cell::missing()];
    };
    let power = match (pw.power, pw.target_change) {
        (Some(x), Some(t)) => {
            Cell::from_source(format!("{:.0} % (target {:+.4} sd)", 100.0 * x, t), s)
        }
        _ => Cell::missing(),
    };
    let needed = pw.prompts_needed.map_or_else(Cell::missing, |[a, b]| {
        let fmt = |k: u64| {
            if k > 1_000_000 {
                "> 10⁶".to_string()
            } else {
                k.to_string()
            }
        };
        Cell::from_source(format!("{}/{}", fmt(a), fmt(b)), s)
    });
    [
        power,
        Cell::from_source(format!("{} sd", num(pw.mde)), s),
        needed,
    ]
}

/// Table 1: per policy the prompts, the PPO reward gain, the signed gap on
/// standardised rewards with its CI, the paired gap change vs the baseline,
/// RelDrop where defined, power, and the paper's values.
pub fn parity_table(n: &Named<ParityDoc>, p: &PolicyInputs) -> Table {
    let s = n.source;
    let doc = &n.value;
    let resamples = doc.bootstrap.map(|b| b.resamples);
    let (first, second) = match doc.categories.as_slice() {
        [a, b] => (a.as_str(), b.as_str()),
        _ => ("first", "second"),
    };
    let cats = format!("{first}/{second}");
    let rows = doc
        .policies
        .iter()
        .map(|r| {
            let paper = paper_row(&r.label, r.baseline);
            let gain = gain_for(p, &r.label);
            let [power, mde, needed] = power_cells(r, s);
            vec![
                Cell::text(marked(&r.label, gain.as_ref())),
                Cell::from_source(format!("{}/{}", r.n_first, r.n_second), s),
                gain_cell(gain.as_ref()),
                Cell::from_source(
                    format!("{}/{}", num(r.raw_mean_first), num(r.raw_mean_second)),
                    s,
                ),
                Cell::from_source(format!("{:+.4}", r.delta.estimate), s),
                ci(Some(r.delta.ci_low), Some(r.delta.ci_high), s, false),
                r.gap_change.as_ref().map_or_else(Cell::missing, |c| {
                    Cell::from_source(change_text(c, resamples), s)
                }),
                r.signed_change.as_ref().map_or_else(Cell::missing, |c| {
                    Cell::from_source(change_text(c, resamples), s)
                }),
                rel_drop_cell(r, s),
                power,
                mde,
                needed,
                Cell::text(paper.as_ref().map_or("—", |x| x.gap)),
                Cell::text(paper.as_ref().map_or("—", |x| x.rel_drop)),
            ]
        })
        .collect();
    Table {
        stem: "table1_parity".into(),
        caption: format!(
            "Table 1: post-PPO parity gap of the fixed safety RM's rewards on each policy's responses (App. B.1). Rewards are standardised: z-scored with the mean and sd pooled over all policies' scored responses, so gaps and changes are in reward-sd units (the raw means are beside). Δ = mean({first}) − mean({second}) is signed; the gap change vs the baseline `{base}` is |Δ_P| − |Δ_B| (the paper's \"the gap shrinks\" when negative) with the signed change Δ_P − Δ_B beside it, each ± its bootstrap SE, 95 % CI and two-sided bootstrap p, from {boot} resamples of the prompts within category, the same prompts for every policy (ours; the paper gives point values only). RelDrop only where the baseline's gap CI excludes 0. Power: of a two-sided 5 % z-test with that SE to detect the paper's relative change of the gap (Table 1's RelDrop) applied to our baseline gap — the paper's absolute change cannot be put on our scale; the MDE is the smallest change detectable with 80 % power (2.80 SE); prompts needed: per category, for 80 % power (SE ∝ 1/√n). Reward gain: where the PPO run evaluated itself (train.ppo eval_prompts), the mean over its evaluation prompts of the RM score after training minus before (the same prompts and sampling seeds both times) ± SE, paired t-test with n − 1 df, and the gain detectable with 80 % power (MDE); otherwise its mean RM score over the last 5 steps minus the first 5 ± Welch SE (p, df), a noisier measure since each step draws other prompts; \"did not learn\" when the gain is ≤ 0 or its p, Holm-corrected over the policies' runs, is ≥ 0.05 — such a policy differs from its reference by drift, not by what its RM rewarded. Beside it, the mean response length over the first and the last 5 PPO steps: a gain bought by responses cut to a few tokens exploits the RM's preference for short answers rather than answering better.",
            base = doc.baseline,
            boot = resamples.map_or("the".to_string(), |b| b.to_string()),
        ),
        header: [
            "policy".into(),
            format!("n ({cats})"),
            "reward gain ± SE (PPO)".into(),
            format!("raw mean ({cats})"),
            "Δ (sd)".into(),
            "Δ 95 % CI".into(),
            "|Δ| change vs baseline ± SE [95 % CI], p".into(),
            "signed change Δ_P − Δ_B ± SE [95 % CI], p".into(),
            "RelDrop [95 % CI]".into(),
            "power for the paper's change".into(),
            "MDE (80 % power)".into(),
            format!("prompts needed ({cats}, 80 %)"),
            "paper gap".into(),
            "paper RelDrop".into(),
        ]
        .to_vec(),
        rows,
    }
}

/// The diversity table with the paper's values, the share of responses
/// cut at the token cap and each policy's PPO reward gain.
pub fn diversity_table(n: &Named<DiversityDoc>, p: &PolicyInputs) -> Table {
    let s = n.source;
    let rows = n
        .value
        .policies
        .iter()
        .map(|r| {
            let paper = paper_row(&r.label, r.baseline);
            let gain = gain_for(p, &r.label);
            let d = r.vs_baseline;
            vec![
                Cell::text(marked(&r.label, gain.as_ref())),
                Cell::from_source(r.n.to_string(), s),
                gain_cell(gain.as_ref()),
                Cell::from_source(num(r.semdiv), s),
                d.map_or_else(Cell::missing, |d| {
                    Cell::from_source(format!("{:+.4}", d.diff), s)
                }),
                ci(d.map(|d| d.ci_low), d.map(|d| d.ci_high), s, false),
                d.map_or_else(Cell::missing, |d| {
                    Cell::from_source(p_text(d.pvalue, Some(d.resamples)), s)
                }),
                Cell::from_source(format!("{:.1}", r.mean_tokens), s),
                cap_text(r.at_cap, r.max_new_tokens)
                    .map_or_else(Cell::missing, |t| Cell::from_source(t, s)),
                Cell::text(paper.as_ref().map_or("—", |x| x.semdiv)),
                Cell::text(paper.as_ref().map_or("—", |x| x.diff)),
                Cell::text(paper.as_ref().map_or("—", |x| x.p)),
            ]
        })
        .collect();
    Table {
        stem: "diversity".into(),
        caption: format!(
            "Semantic diversity (§4.1, App. B.2): SemDiv = mean pairwise cosine distance of L2-normalised mean-pooled all-mpnet-base-v2 embeddings of each policy's responses; difference to the baseline `{}` with a paired bootstrap (1,000 resamples of aligned prompt indices, pairs of equal indices excluded), 95 % CI and two-sided p = 2·min(P(d* ≤ 0), P(d* ≥ 0)); the paper's values beside. \"At cap\": the share of responses that hit the generation's max_new_tokens — responses cut at the same length embed alike, a length confound of SemDiv. Reward gain and \"did not learn\": as Table 1.",
            n.value.baseline
        ),
        header: [
            "policy",
            "n",
            "reward gain ± SE (PPO)",
            "SemDiv",
            "Δ vs baseline",
            "Δ 95 % CI",
            "p",
            "mean tokens",
            "at cap",
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
    out.extend(p.parity.iter().map(|n| parity_table(n, p)));
    out.extend(p.diversity.iter().map(|n| diversity_table(n, p)));
    if !p.samples.is_empty() {
        out.push(samples_table(&p.samples, 4));
    }
    out
}

/// Test fixtures other modules' tests share.
#[cfg(any(test, feature = "testing"))]
pub mod fixtures {
    use serde_json::{Value, json};

    /// One policy row of an `eval.parity` `parity.json` (code_version 2):
    /// gap `gap`, a gap change of `gap − 0.5` against a baseline of 0.5
    /// (none for the baseline itself), RelDrop where defined.
    pub fn parity_row(label: &str, base: bool, gap: f64) -> Value {
        let change = json!({"estimate": gap - 0.5, "se": 0.02, "ci_low": gap - 0.55,
                            "ci_high": gap - 0.45, "p_value": 0.0});
        let or_null = |v: Value| if base { Value::Null } else { v };
        json!({"policy": format!("gen[policy={label}]"), "label": label, "baseline": base,
               "n_first": 100, "n_second": 100, "raw_mean_first": gap, "raw_mean_second": 0.0,
               "raw_delta": gap, "mean_first": gap, "mean_second": 0.0,
               "delta": {"estimate": gap, "se": 0.05, "ci_low": gap - 0.1, "ci_high": gap + 0.1},
               "gap": gap, "gap_change": or_null(change.clone()), "signed_change": or_null(change),
               "rel_drop": or_null(json!({"estimate": (gap - 0.5) / 0.5 * 100.0, "se": 5.0,
                                          "ci_low": -30.0, "ci_high": -5.0})),
               "rel_drop_undefined": null, "power": null,
               "mean_tokens": 50.0, "max_new_tokens": 64, "at_cap": 0.1})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::reward_gain::reward_gain;
    use serde_json::{Value, json};

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

    fn named<T>(name: &str, value: T) -> Named<T> {
        Named {
            name: name.into(),
            lambda: None,
            seed: None,
            source: 0,
            value,
        }
    }

    fn curves(scores: &[f64]) -> Curves {
        let mut c = Curves::default();
        c.columns.insert(
            "step".into(),
            (1..=scores.len()).map(|i| i as f64).collect(),
        );
        c.columns.insert("score".into(), scores.to_vec());
        c
    }

    #[test]
    fn reward_gain_is_last_five_minus_first_five_with_welch() {
        let flat = [
            -0.7, -1.2, -0.4, -0.9, -0.6, -1.0, -0.5, -0.8, -0.7, -0.6, -0.9, -0.4, -1.1, -0.7,
            -0.5, -0.6, -1.3, -0.5, -0.9, -0.7,
        ];
        let g = reward_gain(&curves(&flat)).unwrap();
        assert_eq!((g.window, g.steps), (5, 20));
        let want = crate::eval::stats::welch_t_test(&flat[..5], &flat[15..]).unwrap();
        assert_eq!(g.test, Some(want));
        assert!(
            !g.learned() && g.text().ends_with("did not learn"),
            "{}",
            g.text()
        );
        let rising: Vec<f64> = (0..20)
            .map(|i| -1.0 + 0.1 * i as f64 + 0.01 * (i % 3) as f64)
            .collect();
        let g = reward_gain(&curves(&rising)).unwrap();
        assert!(g.learned() && g.test.unwrap().diff > 1.4, "{g:?}");
        // Too short a run, or no score column: no gain.
        assert!(reward_gain(&curves(&[0.1, 0.2, 0.3])).is_none());
        assert!(reward_gain(&Curves::default()).is_none());
    }

    fn parity_doc(base_ci: (f64, f64)) -> ParityDoc {
        let boot = |e: f64, lo: f64, hi: f64| json!({"estimate": e, "se": 0.1, "ci_low": lo, "ci_high": hi});
        let row = |label: &str, base: bool| {
            let mut r = json!({
                "policy": format!("gen[policy={label}]"), "label": label, "baseline": base,
                "n_first": 115, "n_second": 115, "raw_mean_first": 0.5, "raw_mean_second": 0.4,
                "raw_delta": 0.1, "mean_first": 0.2, "mean_second": 0.1,
                "delta": boot(0.1, base_ci.0, base_ci.1), "gap": 0.1,
                "gap_change": null, "signed_change": null, "rel_drop": null,
                "rel_drop_undefined": null, "power": null, "mean_tokens": 30.0,
                "max_new_tokens": 32, "at_cap": 0.6});
            if !base {
                let ch = json!({"estimate": -0.02, "se": 0.15, "ci_low": -0.3, "ci_high": 0.27, "p_value": 0.0});
                r["gap_change"] = ch.clone();
                r["signed_change"] = ch;
                r["rel_drop_undefined"] = json!("baseline gap's CI holds 0");
                r["power"] = json!({"paper_rel_change": -16.9, "target_change": -0.0169,
                    "target_basis": "x", "alpha": 0.05, "target_power": 0.8, "power": 0.0502,
                    "mde": 0.42, "prompts_needed": [70_000_000u64, 70_000_000u64]});
            }
            r
        };
        serde_json::from_value(json!({
            "baseline": "gen[policy=baseline]", "categories": ["helpful", "harmless"],
            "bootstrap": {"resamples": 1000, "level": 0.95},
            "policies": [row("baseline", true), row("fair", false)]}))
        .unwrap()
    }

    #[test]
    fn table_1_shows_changes_power_and_withheld_rel_drop_and_marks_flat_policies() {
        let mut inputs = PolicyInputs::default();
        inputs.parity.push(named("parity", parity_doc((-0.1, 0.3))));
        let flat = [0.1, -0.2, 0.3, 0.0, -0.1, 0.2, -0.3, 0.1, 0.0, 0.1];
        inputs.ppo.push(named("ppo_fair", curves(&flat)));
        let t = parity_table(&inputs.parity[0], &inputs);
        let fair = &t.rows[1];
        assert_eq!(fair[0].text, "fair (did not learn)");
        assert!(fair[2].text.ends_with("did not learn"), "{}", fair[2].text);
        assert_eq!(fair[1].text, "115/115");
        assert!(
            fair[6].text.contains("-0.0200 ± 0.1500") && fair[6].text.contains("p < 0.0020"),
            "{}",
            fair[6].text
        );
        assert_eq!(fair[8].text, "— (baseline gap ≈ 0)");
        assert!(fair[9].text.starts_with("5 %"), "{}", fair[9].text);
        assert_eq!(fair[11].text, "> 10⁶/> 10⁶");
        assert_eq!(
            t.rows[0][0].text, "baseline",
            "no PPO curves for it: no mark"
        );
        assert!(t.caption.contains("z-scored") && t.header[1].contains("helpful/harmless"));
        let rows = reproduction_rows(&inputs);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), 10);
        assert_eq!(rows[0][0].text, "parity gap (fair (did not learn))");
        assert_eq!(rows[0][7].text, "within noise (power 5 %)");
        assert!(
            rows[0][6].text.contains("RelDrop — (baseline gap ≈ 0)"),
            "{}",
            rows[0][6].text
        );
    }

    #[test]
    fn a_clear_fall_with_rel_drop_is_a_yes_beside_the_paper() {
        let row = fixtures::parity_row;
        let doc: ParityDoc = serde_json::from_value(json!({"baseline": "gen[policy=baseline]",
            "policies": [row("baseline", true, 0.5), row("fair", false, 0.4)]}))
        .unwrap();
        let mut inputs = PolicyInputs::default();
        inputs.parity.push(named("parity", doc));
        let t = parity_table(&inputs.parity[0], &inputs);
        let fair = &t.rows[1];
        assert!(
            fair[8].text.starts_with("-20.0 % [-30.0, -5.0]"),
            "{}",
            fair[8].text
        );
        assert_eq!(fair[12].text, "0.4001");
        let r = reproduction_rows(&inputs);
        assert_eq!(
            (r[0][0].text.as_str(), r[0][7].text.as_str()),
            ("parity gap (fair)", "yes")
        );
        assert!(r[0][6].text.contains("RelDrop -20.0 %"), "{}", r[0][6].text);
    }

    #[test]
    fn semdiv_rows_state_the_share_at_the_token_cap() {
        let div = |label: &str, base: bool, at_cap: f64| {
            json!({"policy": format!("g[policy={label}]"), "label": label, "baseline": base, "n": 200,
                   "semdiv": 0.96, "mean_tokens": 90.0, "max_new_tokens": 100, "at_cap": at_cap,
                   "vs_baseline": if base { Value::Null } else { json!({"semdiv": 0.955, "semdiv_baseline": 0.96,
                       "diff": -0.005, "boot_mean": -0.005, "ci_low": -0.008, "ci_high": -0.002, "pvalue": 0.0,
                       "resamples": 1000, "level": 0.95}) }})
        };
        let doc: DiversityDoc = serde_json::from_value(json!({"baseline": "g[policy=baseline]",
            "policies": [div("baseline", true, 0.59), div("fair", false, 0.65)]}))
        .unwrap();
        let mut inputs = PolicyInputs::default();
        inputs.diversity.push(named("diversity", doc));
        let rows = reproduction_rows(&inputs);
        assert!(
            rows[0][8]
                .text
                .contains("baseline 59 % at 100 tokens, fair 65 % at 100 tokens"),
            "{}",
            rows[0][8].text
        );
        assert!(
            rows[0][6].text.contains("p < 0.0020"),
            "{}",
            rows[0][6].text
        );
        let t = diversity_table(&inputs.diversity[0], &inputs);
        assert_eq!(t.rows[1][8].text, "65 % at 100 tokens");
        assert_eq!(t.rows[1][2].text, "—", "no PPO curves: no gain");
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
