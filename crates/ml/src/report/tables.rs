//! The report's tables, built from its inputs: reward distributions
//! (Figures 1–4's numbers), Table 2 (stereotype bias), Table 4 (audit),
//! Table 5 (the λ sweep) and the reproduction table (paper vs ours), each
//! as mean ± sd across the seeds of a setting (issue 12).

use super::inputs::{Group, ReportInputs, SeedValue, groups};
use super::paper_values::PaperValue;
use super::table::{Cell, Table};
use crate::eval::distribution::Distribution;

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

/// Values across seeds as `mean ± sd` with 4 decimals.
pub(super) fn spread(v: &[SeedValue]) -> Cell {
    spread_with(v, num)
}

fn headline(d: &Distribution, key: &str) -> Option<f64> {
    d.headline().get(key).and_then(serde_json::Value::as_f64)
}

fn seeds_cell<T>(g: &Group<'_, T>) -> Cell {
    Cell::text(g.items.len().to_string())
}

/// The largest p-value across seeds; a permutation p at its floor
/// `1/(B + 1)` on every seed is printed as `≤ floor` (it cannot resolve
/// below that).
fn p_cell(v: &[SeedValue], floor: Option<f64>) -> Cell {
    let Some(max) = v.iter().map(|s| s.value).reduce(f64::max) else {
        return Cell::missing();
    };
    let text = match floor {
        Some(fl) if max <= fl * (1.0 + 1e-9) => format!("≤ {fl:.1e}"),
        _ if v.len() > 1 => format!("≤ {}", super::reproduction::p_text(max)),
        _ => super::reproduction::p_text(max),
    };
    Cell::from_source(text, v[0].source)
}

/// The signed category mean gap across seeds (two categories: second −
/// first; more: largest − smallest category mean, unsigned).
fn gap_cell(g: &Group<'_, Distribution>) -> Cell {
    let v = g.values(|d| match super::reproduction::signed_gap(d) {
        Some((x, _)) => Some(x),
        None => {
            let means = d.categories.iter().map(|c| c.all.mean);
            let (lo, hi) = means.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), m| {
                (a.min(m), b.max(m))
            });
            (hi >= lo).then_some(hi - lo)
        }
    });
    let xs: Vec<f64> = v.iter().map(|s| s.value).collect();
    match mean_sd_of(&xs) {
        None => Cell::missing(),
        Some((m, None)) => Cell::from_source(format!("{m:+.3}"), v[0].source),
        Some((m, Some(sd))) => Cell::from_source(format!("{m:+.3} ± {sd:.3}"), v[0].source),
    }
}

/// Per distribution setting: KS, W1, MI and preference numbers, mean ± sd
/// across seeds, with the signed category mean gap.
pub fn distributions(inp: &ReportInputs) -> Table {
    let rows = groups(&inp.distributions)
        .into_iter()
        .chain(groups(&inp.sweep))
        .chain(groups(&inp.multi))
        .chain(groups(&inp.recommended))
        .map(|g| {
            let f = g.first();
            let h = |k: &str| g.values(|d| headline(d, k));
            let floor = 1.0 / (f.value.config.permutations as f64 + 1.0);
            let two = |x: f64| format!("{x:.2}");
            vec![
                Cell::text(&g.name),
                lam(g.lambda),
                seeds_cell(&g),
                Cell::from_source(f.value.categories.len().to_string(), f.source),
                Cell::from_source(f.value.n.to_string(), f.source),
                gap_cell(&g),
                spread(&h("ks")),
                p_cell(&h("ks_pvalue"), None),
                spread(&h("w1")),
                spread_with(&h("w1_standardised"), two),
                p_cell(&h("w1_pvalue"), Some(floor)),
                spread(&h("mi")),
                spread(&h("mi_permuted")),
                spread(&h("bt_accuracy")),
                spread(&h("bt_loss")),
            ]
        })
        .collect();
    Table {
        stem: "reward_distributions".into(),
        caption: "Reward distributions by category (§4, App. A.8), mean ± sd across seeds (the `seeds` column; one seed: the value alone). Mean gap: the difference of the category mean rewards, signed for two categories (second − first, as named in the reproduction table's gap rows), so an overshoot that reverses it shows; with more categories the largest minus the smallest category mean. KS, W1 and their p-values are for the pair of categories (the largest over pairs with more than two categories); p columns give the largest p across seeds (\"≤\"), and a permutation p at its floor 1/(B + 1) on every seed is shown as \"≤ floor\" (it resolves nothing below it). W1 std is W1 on rewards z-scored with the pooled mean and sd; MI in nats over equal-width bins (each input's `bins`, 50 by default), with the MI of the same rewards with categories permuted beside it; BT accuracy and loss over eval pairs.".into(),
        header: [
            "input", "λ_adv", "seeds", "categories", "n", "mean gap", "KS", "KS p", "W1", "W1 std",
            "W1 p", "MI", "MI permuted", "BT accuracy", "BT loss",
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

/// Table 2: bias rates (%) and McNemar p against the other RM, across seeds;
/// the baseline's own row has no McNemar p (it would compare it with itself).
pub fn stereotype(inp: &ReportInputs, roles: Roles) -> Table {
    let rows = groups(&inp.stereotypes)
        .iter()
        .map(|g| {
            let itself = g.lambda.is_some_and(|l| (l - roles.baseline).abs() < 1e-9);
            let mc = |ds: &str| {
                if itself {
                    Cell::text("— (baseline)")
                } else {
                    mcnemar_cell(g, ds)
                }
            };
            vec![
                Cell::text(&g.name),
                lam(g.lambda),
                seeds_cell(g),
                rate_cell(g, "crows_pairs"),
                rate_cell(g, "stereoset"),
                mc("crows_pairs"),
                mc("stereoset"),
            ]
        })
        .collect();
    Table {
        stem: "table2_stereotype".into(),
        caption: "Table 2: stereotype bias rate (% of untied items where the more-stereotypical sentence scores higher; 50 % = neutral): mean ± sd across seeds, or with one seed the rate ± its SE; McNemar's p against the baseline RM of the same seed (several seeds: the median, and how many seeds are below 0.05); the baseline's own row has none.".into(),
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

/// The paper's value of `q` at λ.
pub(super) fn paper_entry<'a>(paper: &'a [PaperValue], q: &str, l: f64) -> Option<&'a PaperValue> {
    paper
        .iter()
        .find(|p| p.quantity == q && (p.lambda - l).abs() < 1e-9)
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
