//! The report's tables, built from its inputs: reward distributions
//! (Figures 1–4's numbers), Table 2 (stereotype bias), Table 4 (audit),
//! Table 5 (the λ sweep) and the reproduction table (paper vs ours), each
//! as mean ± sd across the seeds of a setting (issue 12).

use super::inputs::{Group, ReportInputs, SeedValue, at_lambda, groups};
use super::paper_values::{PaperValue, direction, measure};
use super::table::{Cell, Table};
use crate::eval::distribution::Distribution;
use crate::eval::stats::{SeedVerdict, VERDICT_SE, paired_difference, verdict};

/// Which runs are the baseline and the fair model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roles {
    /// λ of the baseline (the paper: 0).
    pub baseline: f64,
    /// λ of the fair model (the paper's main setting: 0.2).
    pub fair: f64,
}

/// A number with 4 decimals; tiny p-values in scientific notation.
pub fn num(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

fn lam(l: Option<f64>) -> Cell {
    l.map_or_else(Cell::missing, |x| Cell::text(format!("{x}")))
}

/// Mean ± sd (ddof 1) of `xs`; the value alone for one; `None` for none.
pub fn mean_sd_of(xs: &[f64]) -> Option<(f64, Option<f64>)> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let sd = (xs.len() >= 2)
        .then(|| (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    Some((m, sd))
}

/// Values across seeds as `mean ± sd`, formatted by `fmt`; linked to the
/// first seed's source.
fn spread_with(v: &[SeedValue], fmt: impl Fn(f64) -> String) -> Cell {
    let xs: Vec<f64> = v.iter().map(|s| s.value).collect();
    match mean_sd_of(&xs) {
        None => Cell::missing(),
        Some((m, None)) => Cell::from_source(fmt(m), v[0].source),
        Some((m, Some(sd))) => Cell::from_source(format!("{} ± {}", fmt(m), fmt(sd)), v[0].source),
    }
}

fn spread(v: &[SeedValue]) -> Cell {
    spread_with(v, num)
}

fn headline(d: &Distribution, key: &str) -> Option<f64> {
    d.headline().get(key).and_then(serde_json::Value::as_f64)
}

fn seeds_cell<T>(g: &Group<'_, T>) -> Cell {
    Cell::text(g.items.len().to_string())
}

/// Per distribution setting: KS, W1, MI and preference numbers, mean ± sd
/// across seeds.
pub fn distributions(inp: &ReportInputs) -> Table {
    let keys = [
        "ks",
        "ks_pvalue",
        "w1",
        "w1_standardised",
        "w1_pvalue",
        "mi",
        "mi_permuted",
        "bt_accuracy",
        "bt_loss",
    ];
    let rows = groups(&inp.distributions)
        .into_iter()
        .chain(groups(&inp.sweep))
        .chain(groups(&inp.multi))
        .map(|g| {
            let f = g.first();
            let mut r = vec![
                Cell::text(&g.name),
                lam(g.lambda),
                seeds_cell(&g),
                Cell::from_source(f.value.categories.len().to_string(), f.source),
                Cell::from_source(f.value.n.to_string(), f.source),
            ];
            r.extend(keys.iter().map(|k| spread(&g.values(|d| headline(d, k)))));
            r
        })
        .collect();
    Table {
        stem: "reward_distributions".into(),
        caption: "Reward distributions by category (§4, App. A.8), mean ± sd across seeds (the `seeds` column; one seed: the value alone). KS, W1 and their p-values are for the pair of categories (the largest over pairs with more than two categories; the p-value is the largest too); W1 std is W1 on rewards z-scored with the pooled mean and sd; MI in nats over equal-width bins (each input's `bins`, 50 by default), with the MI of the same rewards with categories permuted beside it; BT accuracy and loss over eval pairs.".into(),
        header: [
            "input", "λ_adv", "seeds", "categories", "n", "KS", "KS p", "W1", "W1 std", "W1 p", "MI",
            "MI permuted", "BT accuracy", "BT loss",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

type StereoGroup<'a> = Group<'a, crate::eval::stereotype::StereotypeDoc>;

fn rate_cell(g: &StereoGroup<'_>, ds: &str) -> Cell {
    let v = g.values(|d| Some(100.0 * d.datasets.get(ds)?.overall.rate?.rate));
    if g.items.len() == 1
        && let Some(r) = g
            .first()
            .value
            .datasets
            .get(ds)
            .and_then(|d| d.overall.rate)
    {
        // One seed: the rate ± its binomial SE, as the paper prints it.
        return Cell::from_source(
            format!("{:.2} ± {:.2} (SE)", 100.0 * r.rate, 100.0 * r.se),
            g.first().source,
        );
    }
    spread_with(&v, |x| format!("{x:.2}"))
}

/// McNemar's p across seeds: the median, and how many seeds are below 0.05.
fn mcnemar_cell(g: &StereoGroup<'_>, ds: &str) -> Cell {
    let v = g.values(|d| Some(d.datasets.get(ds)?.comparison.as_ref()?.test.pvalue));
    if v.is_empty() {
        return Cell::missing();
    }
    if v.len() == 1 {
        return Cell::from_source(num(v[0].value), v[0].source);
    }
    let mut ps: Vec<f64> = v.iter().map(|s| s.value).collect();
    ps.sort_by(f64::total_cmp);
    let mid = ps.len() / 2;
    let median = if ps.len() % 2 == 1 {
        ps[mid]
    } else {
        (ps[mid - 1] + ps[mid]) / 2.0
    };
    let below = ps.iter().filter(|p| **p < 0.05).count();
    Cell::from_source(
        format!("{} ({below} of {} < 0.05)", num(median), ps.len()),
        v[0].source,
    )
}

/// Table 2: bias rates (%) and McNemar p against the other RM, across seeds.
pub fn stereotype(inp: &ReportInputs) -> Table {
    let rows = groups(&inp.stereotypes)
        .iter()
        .map(|g| {
            vec![
                Cell::text(&g.name),
                lam(g.lambda),
                seeds_cell(g),
                rate_cell(g, "crows_pairs"),
                rate_cell(g, "stereoset"),
                mcnemar_cell(g, "crows_pairs"),
                mcnemar_cell(g, "stereoset"),
            ]
        })
        .collect();
    Table {
        stem: "table2_stereotype".into(),
        caption: "Table 2: stereotype bias rate (% of untied items where the more-stereotypical sentence scores higher; 50 % = neutral): mean ± sd across seeds, or with one seed the rate ± its SE; McNemar's p against the other RM of the same seed where one was given (several seeds: the median, and how many seeds are below 0.05).".into(),
        header: [
            "input", "λ_adv", "seeds", "CrowS-Pairs bias (%)", "StereoSet bias (%)",
            "McNemar p (CrowS)", "McNemar p (StereoSet)",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn pm(m: Option<f64>, s: Option<f64>, src: usize) -> Cell {
    match (m, s) {
        (Some(m), Some(s)) => Cell::from_source(format!("{m:.2} ± {s:.2}"), src),
        (Some(m), None) => Cell::from_source(format!("{m:.2}"), src),
        _ => Cell::missing(),
    }
}

/// Table 4: post-hoc predictability of category from frozen rewards.
pub fn audit(inp: &ReportInputs) -> Table {
    let rows = groups(&inp.audits)
        .iter()
        .map(|g| {
            let (auc, ba) = if g.items.len() == 1 {
                let n = g.first();
                (
                    pm(n.value.auc_mean, n.value.auc_sd, n.source),
                    pm(n.value.ba_mean, n.value.ba_sd, n.source),
                )
            } else {
                let two = |x: f64| format!("{x:.2}");
                (
                    spread_with(&g.values(|a| a.auc_mean), two),
                    spread_with(&g.values(|a| a.ba_mean), two),
                )
            };
            vec![Cell::text(&g.name), lam(g.lambda), seeds_cell(g), auc, ba]
        })
        .collect();
    Table {
        stem: "table4_audit".into(),
        caption: "Table 4: post-hoc category predictability from frozen rewards (App. A.7); chance ≈ 0.5. One seed: mean ± sd over 5 folds, as the paper; several seeds: mean ± sd across seeds of the 5-fold means.".into(),
        header: ["input", "λ_adv", "seeds", "AUC", "Balanced acc."]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

fn paper_entry<'a>(paper: &'a [PaperValue], q: &str, l: f64) -> Option<&'a PaperValue> {
    paper
        .iter()
        .find(|p| p.quantity == q && (p.lambda - l).abs() < 1e-9)
}

fn paper_at(paper: &[PaperValue], q: &str, l: f64) -> Option<f64> {
    paper_entry(paper, q, l).map(|p| p.value)
}

fn paper_text(paper: &[PaperValue], q: &str, l: f64) -> Cell {
    paper_entry(paper, q, l).map_or_else(Cell::missing, |p| Cell::text(&p.text))
}

/// Table 5: the λ sweep, ours (mean ± sd across seeds) beside the paper's.
pub fn sweep(inp: &ReportInputs, paper: &[PaperValue]) -> Table {
    let rows = groups(inp.swept())
        .iter()
        .filter_map(|g| {
            let l = g.lambda?;
            let h = |k| spread(&g.values(|d| headline(d, k)));
            let p = |q| paper_text(paper, q, l);
            Some(vec![
                Cell::text(format!("{l}")),
                seeds_cell(g),
                h("bt_loss"),
                p("bt_loss"),
                h("bt_accuracy"),
                h("mi"),
                h("mi_permuted"),
                p("mi"),
                h("ks"),
                h("w1"),
            ])
        })
        .collect();
    Table {
        stem: "table5_sweep".into(),
        caption: "Table 5 (and Table 3): the λ_adv sweep, mean ± sd across seeds. BT loss = mean −log σ(r_c − r_r) over eval pairs in nats; MI in nats over equal-width bins (50 by default, as App. A.8); paper values from App. A.9 (one run each).".into(),
        header: [
            "λ_adv", "seeds", "BT loss", "BT loss (paper)", "BT accuracy", "MI", "MI permuted", "MI (paper)",
            "KS", "W1",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

/// Our per-seed values of a paper quantity at λ.
pub fn ours(inp: &ReportInputs, quantity: &str, l: f64) -> Vec<SeedValue> {
    match quantity {
        "ks" | "w1" | "mi" | "bt_loss" => at_lambda(&inp.distributions, l)
            .map(|g| g.values(|d| headline(d, quantity)))
            .unwrap_or_default(),
        "crows_pairs_bias" | "stereoset_bias" => {
            let ds = quantity.trim_end_matches("_bias");
            at_lambda(&inp.stereotypes, l)
                .map(|g| g.values(|d| Some(100.0 * d.datasets.get(ds)?.overall.rate?.rate)))
                .unwrap_or_default()
        }
        "audit_auc" => at_lambda(&inp.audits, l)
            .map(|g| g.values(|a| a.auc_mean))
            .unwrap_or_default(),
        "audit_ba" => at_lambda(&inp.audits, l)
            .map(|g| g.values(|a| a.ba_mean))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Baseline and fair values of the seeds present in both, in seed order,
/// as the measure the paper's direction is about.
fn paired(quantity: &str, b: &[SeedValue], f: &[SeedValue]) -> (Vec<f64>, Vec<f64>) {
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

fn arrow(d: i8) -> &'static str {
    match d {
        -1 => "down",
        1 => "up",
        _ => "flat",
    }
}

/// One reproduction row's verdict; `None` where we lack a value.
pub type RowVerdict = Option<SeedVerdict>;

/// The reproduction table, and per row the verdict across seeds.
pub fn reproduction(
    inp: &ReportInputs,
    paper: &[PaperValue],
    roles: Roles,
) -> (Table, Vec<RowVerdict>) {
    let mut quantities: Vec<&str> = Vec::new();
    for p in paper {
        if !quantities.contains(&p.quantity.as_str()) {
            quantities.push(&p.quantity);
        }
    }
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for q in quantities {
        // The paper's effect is always λ 0 → 0.2 (its main setting).
        let (Some(pb), Some(pf)) = (paper_at(paper, q, 0.0), paper_at(paper, q, 0.2)) else {
            continue;
        };
        let cite = paper
            .iter()
            .find(|p| p.quantity == q && (p.lambda - 0.2).abs() < 1e-9)
            .map_or("", |p| p.citation.as_str());
        let pd = direction(q, pb, pf);
        let (ob, of) = (ours(inp, q, roles.baseline), ours(inp, q, roles.fair));
        let (xb, xf) = paired(q, &ob, &of);
        let diff = paired_difference(&xb, &xf).ok();
        let v = diff.as_ref().map(|d| verdict(d, pd));
        let diff_cell = match &diff {
            None => Cell::missing(),
            Some(d) => Cell::text(match d.se {
                Some(se) => format!("{} ± {}", num(d.mean), num(se)),
                None => format!("{} (no SE)", num(d.mean)),
            }),
        };
        rows.push(vec![
            Cell::text(q),
            paper_text(paper, q, 0.0),
            paper_text(paper, q, 0.2),
            spread(&ob),
            spread(&of),
            Cell::text(arrow(pd)),
            diff_cell,
            Cell::text(v.map_or("—", |v| v.verdict.as_str())),
            v.map_or_else(Cell::missing, |v| {
                Cell::text(format!("{} of {}", v.agree, v.n))
            }),
            Cell::text(cite),
        ]);
        verdicts.push(v);
    }
    let table = Table {
        stem: "reproduction".into(),
        caption: format!(
            "Paper value vs ours: baseline (ours λ_adv = {}) and fair (ours λ_adv = {}; the paper's 0.2), ours as mean ± sd across seeds. The effect is measured from baseline to fair, paired by seed (fair − baseline, mean ± SE across seeds); for bias rates on the distance from 50 %, for audit scores on the distance from 0.5. Holds? \"yes\": the mean has the paper's sign and |mean| > {VERDICT_SE} SE; \"no\": the opposite sign beyond {VERDICT_SE} SE; otherwise \"within noise\" (always, with one seed: no SE). \"k of n\": seeds whose own difference has the paper's sign. Nothing was tuned to match the paper.",
            roles.baseline, roles.fair
        ),
        header: [
            "quantity",
            "paper baseline",
            "paper fair",
            "ours baseline",
            "ours fair",
            "paper direction",
            "ours fair − baseline (± SE)",
            "holds?",
            "seeds with the paper's sign",
            "source in the paper",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    };
    (table, verdicts)
}
