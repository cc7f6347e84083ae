//! The reproduction table (issue 22): every paper effect on the reward
//! models, judged on every body of evidence the run has — the fine-tuned
//! pair, the frozen-head sweep at the paper's λ, the 19-category model and
//! the adversary study's recommended setting — each with its own seeds.
//!
//! Per row: the paired t-test of fair − baseline across seeds (t with
//! `n − 1` degrees of freedom), Holm's correction across the rows of the
//! table, the relative change on the paper's scale with Fieller's interval
//! beside the paper's, the power these seeds had against the paper's
//! effect, the smallest effect they could detect and the seeds the paper's
//! would need ([`crate::eval::stats::seed_effect`]). The signed category
//! mean gap is shown per body of evidence (no paper value: the sign is what
//! KS and W1 cannot show), outside the correction.

use super::inputs::{Named, ReportInputs, SeedValue, at_lambda, groups};
use super::paper_values::{PaperValue, direction, measure};
use super::table::{Cell, Table};
use super::tables::{Roles, num, paper_entry, spread};
use crate::eval::distribution::Distribution;
use crate::eval::stats::{
    ALPHA, Finding, SeedEffect, StatsError, TARGET_POWER, finding, holm, seed_effect,
};

/// Which reward models a row's seeds come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The pair the tables and the policies use (`distribution`, and the
    /// stereotype and audit inputs).
    Tables,
    /// The frozen-head λ sweep at the paper's λ (`sweep`).
    Sweep,
    /// The many-category model (`distribution_multi`).
    Multi,
    /// The adversary study's recommended setting (`recommended`) against the
    /// sweep's baseline of the same seed.
    Recommended,
}

impl Evidence {
    /// Every kind, in table order.
    pub const ALL: [Evidence; 4] = [
        Evidence::Tables,
        Evidence::Sweep,
        Evidence::Multi,
        Evidence::Recommended,
    ];

    /// How the table names it.
    pub fn label(self) -> &'static str {
        match self {
            Evidence::Tables => "tables' RMs",
            Evidence::Sweep => "λ sweep RMs",
            Evidence::Multi => "19-category RMs",
            Evidence::Recommended => "recommended setting",
        }
    }
}

/// One judged row: its effect and, after the correction, its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedRow {
    /// The body of evidence.
    pub evidence: Evidence,
    /// The paper quantity.
    pub quantity: String,
    /// The effect across seeds.
    pub effect: SeedEffect,
    /// Holm-adjusted p (`None` with one seed).
    pub adjusted_p: Option<f64>,
    /// The verdict.
    pub finding: Finding,
}

fn headline(d: &Distribution, key: &str) -> Option<f64> {
    d.headline().get(key).and_then(serde_json::Value::as_f64)
}

fn dist_values(list: &[Named<Distribution>], l: f64, q: &str) -> Vec<SeedValue> {
    at_lambda(list, l)
        .map(|g| g.values(|d| headline(d, q)))
        // default: no run at that λ: no values (the row shows none).
        .unwrap_or_default()
}

/// Every seed of `list`, whatever its λ (one setting).
fn all_values(list: &[Named<Distribution>], q: &str) -> Vec<SeedValue> {
    groups(list)
        .first()
        .map(|g| g.values(|d| headline(d, q)))
        // default: no runs: no values (the row shows none).
        .unwrap_or_default()
}

const DIST_QUANTITIES: [&str; 4] = ["ks", "w1", "mi", "bt_loss"];

/// Our per-seed (baseline, fair) values of a paper quantity in `e`.
pub fn sides(
    inp: &ReportInputs,
    e: Evidence,
    quantity: &str,
    roles: Roles,
) -> (Vec<SeedValue>, Vec<SeedValue>) {
    let dist = DIST_QUANTITIES.contains(&quantity);
    let both = |list: &[Named<Distribution>]| {
        (
            dist_values(list, roles.baseline, quantity),
            dist_values(list, roles.fair, quantity),
        )
    };
    match e {
        Evidence::Tables => (
            ours(inp, quantity, roles.baseline),
            ours(inp, quantity, roles.fair),
        ),
        Evidence::Sweep if dist && !inp.sweep.is_empty() => both(&inp.sweep),
        Evidence::Multi if dist => both(&inp.multi),
        Evidence::Recommended if dist => (
            dist_values(inp.swept(), roles.baseline, quantity),
            all_values(&inp.recommended, quantity),
        ),
        _ => (Vec::new(), Vec::new()),
    }
}

/// Our per-seed values of a paper quantity at λ, from the tables' inputs.
pub fn ours(inp: &ReportInputs, quantity: &str, l: f64) -> Vec<SeedValue> {
    match quantity {
        "ks" | "w1" | "mi" | "bt_loss" => dist_values(&inp.distributions, l, quantity),
        "crows_pairs_bias" | "stereoset_bias" => {
            let ds = quantity.trim_end_matches("_bias");
            at_lambda(&inp.stereotypes, l)
                .map(|g| g.values(|d| Some(100.0 * d.datasets.get(ds)?.overall.rate?.rate)))
                // default: no run at that λ: no values.
                .unwrap_or_default()
        }
        "audit_auc" => at_lambda(&inp.audits, l)
            .map(|g| g.values(|a| a.auc_mean))
            // default: no audit at that λ: no values.
            .unwrap_or_default(),
        "audit_ba" => at_lambda(&inp.audits, l)
            .map(|g| g.values(|a| a.ba_mean))
            // default: no audit at that λ: no values.
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Baseline and fair values of the seeds present in both, in seed order,
/// as the measure the paper's direction is about.
pub fn paired(quantity: &str, b: &[SeedValue], f: &[SeedValue]) -> (Vec<f64>, Vec<f64>) {
    let (mut xb, mut xf) = (Vec::new(), Vec::new());
    for sb in b {
        if let Some(sf) = f.iter().find(|sf| sf.seed == sb.seed) {
            let b = measure(quantity, sb.value);
            // Values that differ by rounding only are no effect
            // (DIRECTION_TOLERANCE): their difference is exactly 0.
            let same = direction(quantity, sb.value, sf.value) == 0;
            xb.push(b);
            xf.push(if same { b } else { measure(quantity, sf.value) });
        }
    }
    (xb, xf)
}

/// The paper's quantities with a λ 0 → 0.2 effect, in the table's order.
fn paper_quantities(paper: &[PaperValue]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in paper {
        if !out.contains(&p.quantity.as_str())
            && paper_entry(paper, &p.quantity, 0.0).is_some()
            && paper_entry(paper, &p.quantity, 0.2).is_some()
        {
            out.push(&p.quantity);
        }
    }
    out
}

/// The paper's direction and relative change of `q` (λ 0 → 0.2, its main
/// setting), on the measure the verdict uses.
fn paper_effect(paper: &[PaperValue], q: &str) -> Option<(i8, Option<f64>)> {
    let (b, f) = (
        paper_entry(paper, q, 0.0)?.value,
        paper_entry(paper, q, 0.2)?.value,
    );
    let (mb, mf) = (measure(q, b), measure(q, f));
    Some((direction(q, b, f), (mb != 0.0).then(|| (mf - mb) / mb)))
}

/// Every row with a paper effect and paired seeds, judged with Holm's
/// correction across all of them.
///
/// # Errors
/// A p-value that is not finite or outside [0, 1] (Holm's correction refuses it).
pub fn judge(
    inp: &ReportInputs,
    paper: &[PaperValue],
    roles: Roles,
) -> Result<Vec<JudgedRow>, StatsError> {
    let mut rows = Vec::new();
    for e in Evidence::ALL {
        for q in paper_quantities(paper) {
            let Some((sign, rel)) = paper_effect(paper, q) else {
                continue;
            };
            let (b, f) = sides(inp, e, q, roles);
            let (xb, xf) = paired(q, &b, &f);
            let Ok(effect) = seed_effect(&xb, &xf, sign, rel) else {
                continue;
            };
            rows.push(JudgedRow {
                evidence: e,
                quantity: q.to_string(),
                effect,
                adjusted_p: None,
                finding: Finding::WithinNoise,
            });
        }
    }
    let ps: Vec<f64> = rows.iter().filter_map(|r| r.effect.test.pvalue).collect();
    let adjusted = holm(&ps)?;
    let mut it = adjusted.into_iter();
    for r in &mut rows {
        if r.effect.test.pvalue.is_some() {
            r.adjusted_p = it.next();
        }
        r.finding = finding(&r.effect, r.adjusted_p);
    }
    Ok(rows)
}

/// How the table names a paper quantity, with the measure the effect is on.
pub fn quantity_label(q: &str) -> String {
    match q {
        "ks" => "KS".into(),
        "w1" => "Wasserstein-1".into(),
        "mi" => "MI (nats)".into(),
        "bt_loss" => "BT loss (nats)".into(),
        "crows_pairs_bias" => "CrowS-Pairs bias: distance from 50 % (pp)".into(),
        "stereoset_bias" => "StereoSet bias: distance from 50 % (pp)".into(),
        "audit_auc" => "audit AUC: distance from 0.5".into(),
        "audit_ba" => "audit balanced accuracy: distance from 0.5".into(),
        other => other.into(),
    }
}

/// The t-test as printed; differences with no spread across seeds (every
/// seed moved by the same amount, so t is ±∞ or 0/0 up to rounding) say so.
fn t_text(t: &crate::eval::stats::PairedT) -> String {
    match (t.t, t.pvalue) {
        (Some(tv), Some(p)) if tv.abs() < 1e6 => {
            format!("t({}) = {:.2}, p {}", t.df, tv, p_text(p))
        }
        (Some(_), Some(_)) => "no spread across seeds".into(),
        _ => "—".into(),
    }
}

/// A p-value as printed: 3 significant digits, small ones in scientific
/// notation.
pub fn p_text(p: f64) -> String {
    if p == 0.0 {
        "< 1e-300".into()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

fn pct(x: f64) -> String {
    format!("{:+.0} %", 100.0 * x)
}

fn interval(lo: Option<f64>, hi: Option<f64>, f: impl Fn(f64) -> String) -> String {
    match (lo, hi) {
        (Some(a), Some(b)) => format!("[{}, {}]", f(a), f(b)),
        _ => "unbounded".into(),
    }
}

fn paper_cell(paper: &[PaperValue], q: &str, rel: Option<f64>) -> Cell {
    match (paper_entry(paper, q, 0.0), paper_entry(paper, q, 0.2)) {
        (Some(b), Some(f)) => Cell::text(format!(
            "{} → {}{}",
            b.text,
            f.text,
            rel.map_or(String::new(), |r| format!(" ({})", pct(r)))
        )),
        _ => Cell::missing(),
    }
}

fn row_cells(r: &JudgedRow, paper: &[PaperValue], inp: &ReportInputs, roles: Roles) -> Vec<Cell> {
    let e = &r.effect;
    let d = &e.test.diff;
    let (b, f) = sides(inp, r.evidence, &r.quantity, roles);
    let diff = match (d.se, e.test.ci_low, e.test.ci_high) {
        (Some(se), Some(lo), Some(hi)) => {
            format!("{} ± {} [{}, {}]", num(d.mean), num(se), num(lo), num(hi))
        }
        _ => format!("{} (one seed)", num(d.mean)),
    };
    let test = t_text(&e.test);
    let rel = e.relative.map_or("—".into(), |r| {
        format!("{} {}", pct(r.estimate), interval(r.low, r.high, pct))
    });
    let cite = paper_entry(paper, &r.quantity, 0.2).map_or("", |p| p.citation.as_str());
    vec![
        Cell::text(format!("{} (n = {})", r.evidence.label(), d.n)),
        Cell::text(quantity_label(&r.quantity)),
        paper_cell(paper, &r.quantity, e.paper_relative),
        spread(&b),
        spread(&f),
        Cell::text(diff),
        Cell::text(test),
        Cell::text(r.adjusted_p.map_or("—".into(), p_text)),
        Cell::text(rel),
        Cell::text(r.finding.as_str()),
        Cell::text(format!("{} of {}", e.agree, d.n)),
        Cell::text(
            e.power_for_paper
                .map_or("—".into(), |p| format!("{:.0} %", 100.0 * p)),
        ),
        Cell::text(
            e.detectable_relative
                .map_or("—".into(), |x| format!("±{:.0} %", 100.0 * x)),
        ),
        Cell::text(e.seeds_needed.map_or("—".into(), |n| n.to_string())),
        Cell::text(cite),
    ]
}

/// The signed category mean gap of a two-category distribution: the second
/// category's mean reward minus the first's, with their names.
pub fn signed_gap(d: &Distribution) -> Option<(f64, String)> {
    match d.categories.as_slice() {
        [a, b] => Some((
            b.all.mean - a.all.mean,
            format!("{} − {}", b.category, a.category),
        )),
        _ => None,
    }
}

/// The signed-gap row of one body of evidence (no paper value, outside the
/// correction): baseline and fair per seed, the paired t-test, and in how
/// many seeds the sign reversed.
fn gap_row(
    e: Evidence,
    base: &[Named<Distribution>],
    fair: &[&Named<Distribution>],
) -> Option<Vec<Cell>> {
    let mut names = None;
    let (mut xb, mut xf) = (Vec::new(), Vec::new());
    for b in base {
        let Some(f) = fair.iter().find(|f| f.seed == b.seed) else {
            continue;
        };
        let ((gb, nb), (gf, _)) = (signed_gap(&b.value)?, signed_gap(&f.value)?);
        names.get_or_insert(nb);
        xb.push(gb);
        xf.push(gf);
    }
    let names = names?;
    let effect = seed_effect(&xb, &xf, 0, None).ok()?;
    let flipped = xb
        .iter()
        .zip(&xf)
        .filter(|(b, f)| b.signum() * f.signum() < 0.0)
        .count();
    let n = xb.len();
    let ms = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let each: Vec<String> = xs.iter().map(|x| format!("{x:+.2}")).collect();
        format!("{m:+.3} ({})", each.join(" / "))
    };
    let t = &effect.test;
    Some(vec![
        Cell::text(format!("{} (n = {n})", e.label())),
        Cell::text(format!("category mean gap, signed ({names})")),
        Cell::text("— (not reported)"),
        Cell::text(ms(&xb)),
        Cell::text(ms(&xf)),
        Cell::text(match (t.diff.se, t.ci_low, t.ci_high) {
            (Some(se), Some(lo), Some(hi)) => {
                format!(
                    "{} ± {} [{}, {}]",
                    num(t.diff.mean),
                    num(se),
                    num(lo),
                    num(hi)
                )
            }
            _ => num(t.diff.mean),
        }),
        Cell::text(t_text(t)),
        Cell::text("— (not corrected)"),
        Cell::missing(),
        Cell::text(format!("sign reversed in {flipped} of {n}")),
        Cell::missing(),
        Cell::missing(),
        Cell::missing(),
        Cell::missing(),
        Cell::text("KS and W1 are unsigned: an overshoot that reverses the gap shows only here"),
    ])
}

fn gap_rows(inp: &ReportInputs, roles: Roles) -> Vec<Vec<Cell>> {
    let pick = |list: &[Named<Distribution>], l: f64| -> Vec<Named<Distribution>> {
        at_lambda(list, l)
            .map(|g| g.items.into_iter().cloned().collect())
            // default: no run at that λ: no rows.
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for e in Evidence::ALL {
        let (base, fair): (Vec<Named<Distribution>>, Vec<Named<Distribution>>) = match e {
            Evidence::Tables => (
                pick(&inp.distributions, roles.baseline),
                pick(&inp.distributions, roles.fair),
            ),
            Evidence::Sweep if !inp.sweep.is_empty() => (
                pick(&inp.sweep, roles.baseline),
                pick(&inp.sweep, roles.fair),
            ),
            Evidence::Multi => (
                pick(&inp.multi, roles.baseline),
                pick(&inp.multi, roles.fair),
            ),
            Evidence::Recommended => (pick(inp.swept(), roles.baseline), inp.recommended.clone()),
            _ => continue,
        };
        let fair: Vec<&Named<Distribution>> = fair.iter().collect();
        if let Some(r) = gap_row(e, &base, &fair) {
            out.push(r);
        }
    }
    out
}

/// The header of [`reproduction`].
pub const HEADER: [&str; 15] = [
    "evidence",
    "quantity",
    "paper: baseline → fair (relative)",
    "ours baseline",
    "ours fair",
    "fair − baseline: mean ± SE [95 % CI]",
    "paired t-test",
    "Holm p",
    "relative change [95 % CI]",
    "holds?",
    "seeds with the paper's sign",
    "power for the paper's effect",
    "detectable at 80 % power",
    "seeds for the paper's effect",
    "source in the paper",
];

/// The reproduction table and its judged rows.
///
/// # Errors
/// See [`judge`].
pub fn reproduction(
    inp: &ReportInputs,
    paper: &[PaperValue],
    roles: Roles,
) -> Result<(Table, Vec<JudgedRow>), StatsError> {
    let judged = judge(inp, paper, roles)?;
    let mut rows: Vec<Vec<Cell>> = judged
        .iter()
        .map(|r| row_cells(r, paper, inp, roles))
        .collect();
    rows.extend(gap_rows(inp, roles));
    let table = Table {
        stem: "reproduction".into(),
        caption: format!(
            "Paper value vs ours, for every body of evidence of this run (the `evidence` column, with its number of seeds n): baseline (ours λ_adv = {b}) and fair (ours λ_adv = {f}; the paper's 0.2; the recommended setting is the adversary study's choice, against the λ-sweep baseline of the same seed), ours as mean ± sd across seeds. Bias rates are measured as their distance from 50 %, audit scores as their distance from 0.5 (the paper's relative change on the same measure). The effect is fair − baseline paired by seed: mean ± SE with the t interval, and the paired t-test with n − 1 degrees of freedom (with 3 seeds the 5 % threshold is 4.30 SE, with 5 seeds 2.78 SE). Holm p: Holm's correction across every row with a paper value. The relative change (fair − baseline) / baseline has Fieller's 95 % interval (it takes the baseline's own spread into account; \"unbounded\" when the baseline mean is not distinguishable from 0). Holds? \"yes\" / \"no\": Holm p < {ALPHA} with / against the paper's sign; \"smaller than the paper's\": not significant, and the interval excludes the paper's relative effect; \"within noise\": not significant after the correction, and the interval does not rule out the paper's effect — these seeds could not tell it from none (the interval is per row, before the correction, so it may exclude 0 where Holm's p does not). Power: the probability that a two-sided paired t-test at {ALPHA} (before Holm's correction, so an upper bound) detects the paper's relative effect applied to our baseline mean, with our seeds' spread; detectable: the smallest relative effect found with {tp:.0} % power at these seeds; seeds: how many the paper's effect would need at {tp:.0} % power. The signed category mean gap rows are outside the correction (the paper gives no value). Nothing was tuned to match the paper.",
            b = roles.baseline,
            f = roles.fair,
            tp = 100.0 * TARGET_POWER,
        ),
        header: HEADER.map(String::from).to_vec(),
        rows,
    };
    Ok((table, judged))
}

/// The header of [`reproduction_policies`].
pub const POLICY_HEADER: [&str; 10] = [
    "quantity",
    "paper baseline",
    "paper fair",
    "ours baseline",
    "ours fair",
    "paper direction",
    "ours fair − baseline",
    "holds?",
    "uncertainty",
    "source in the paper",
];

/// The §4.1 paper-vs-ours rows (Table 1's parity gap, SemDiv) as a table
/// of their own: one PPO run per policy, judged on a bootstrap over
/// prompts, not on seeds; `None` without rows.
pub fn reproduction_policies(rows: Vec<Vec<Cell>>) -> Option<Table> {
    (!rows.is_empty()).then(|| Table {
        stem: "reproduction_policies".into(),
        caption: "Paper value vs ours for the policies (§4.1): one PPO run per policy, so the uncertainty is over prompts (a bootstrap that resamples the same prompts for every policy), not over seeds; a policy that did not learn compares random drifts, not the effect of the reward model.".into(),
        header: POLICY_HEADER.map(String::from).to_vec(),
        rows,
    })
}

/// The report's plain-words notes on the verdicts: what each means, and per
/// body of evidence what its seeds could detect.
pub fn verdict_notes(judged: &[JudgedRow]) -> Vec<String> {
    let mut notes = vec![format!(
        "How to read the reproduction table: \"yes\" means the paired t-test across seeds is significant after Holm's correction across the table (p < {ALPHA}) with the paper's sign; \"no\", significant with the opposite sign; \"smaller than the paper's\", not significant, and the 95 % interval of the relative change rules out an effect as large as the paper's (so at this scale the effect, if any, is smaller); \"within noise\", not significant after the correction while the paper's effect is not ruled out: these seeds could not tell it from none, and the power column says how likely they were to see the paper's effect had it been there. Permutation p-values resolve nothing below 1/(B + 1) (B resamples): the paper's \"p < 0.001\" needs more than 1,000 resamples."
    )];
    for e in Evidence::ALL {
        let rows: Vec<&JudgedRow> = judged.iter().filter(|r| r.evidence == e).collect();
        let Some(first) = rows.first() else { continue };
        let count = |f: Finding| rows.iter().filter(|r| r.finding == f).count();
        let det: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.effect.detectable_relative)
            .collect();
        let range = match (
            det.iter().copied().reduce(f64::min),
            det.iter().copied().reduce(f64::max),
        ) {
            (Some(lo), Some(hi)) => format!(
                "; the smallest relative change these seeds detect with {:.0} % power runs from {:.0} % to {:.0} % across its rows",
                100.0 * TARGET_POWER,
                100.0 * lo,
                100.0 * hi
            ),
            _ => String::new(),
        };
        let low_power: Vec<String> = rows
            .iter()
            .filter(|r| r.finding == Finding::WithinNoise)
            .filter_map(|r| {
                Some(format!(
                    "{} (power {:.0} %, {} seeds needed)",
                    quantity_label(&r.quantity),
                    100.0 * r.effect.power_for_paper?,
                    r.effect
                        .seeds_needed
                        .map_or("> 10⁶".to_string(), |n| n.to_string())
                ))
            })
            .collect();
        notes.push(format!(
            "{} (n = {} seeds): {} yes, {} no, {} smaller than the paper's, {} within noise{range}.{}",
            e.label(),
            first.effect.test.diff.n,
            count(Finding::Yes),
            count(Finding::No),
            count(Finding::SmallerThanPaper),
            count(Finding::WithinNoise),
            if low_power.is_empty() {
                String::new()
            } else {
                format!(" Within noise: {}.", low_power.join("; "))
            }
        ));
    }
    notes
}
