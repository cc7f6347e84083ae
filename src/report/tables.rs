//! The report's tables, built from its inputs: reward distributions
//! (Figures 1–4's numbers), Table 2 (stereotype bias), Table 4 (audit),
//! Table 5 (the λ sweep) and the reproduction table (paper vs ours).

use super::inputs::{Named, ReportInputs, at_lambda};
use super::paper_values::{PaperValue, direction};
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

fn cell(v: Option<f64>, src: usize) -> Cell {
    v.map_or_else(Cell::missing, |x| Cell::from_source(num(x), src))
}

fn headline(d: &Distribution, key: &str) -> Option<f64> {
    d.headline().get(key).and_then(serde_json::Value::as_f64)
}

/// Per distribution input: KS, W1, MI and preference numbers.
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
    let rows = inp
        .distributions
        .iter()
        .chain(&inp.multi)
        .map(|n| {
            let mut r = vec![
                Cell::text(&n.name),
                lam(n.lambda),
                Cell::from_source(n.value.categories.len().to_string(), n.source),
                Cell::from_source(n.value.n.to_string(), n.source),
            ];
            r.extend(keys.iter().map(|k| cell(headline(&n.value, k), n.source)));
            r
        })
        .collect();
    Table {
        stem: "reward_distributions".into(),
        caption: "Reward distributions by category (§4, App. A.8). KS, W1 and their p-values are for the pair of categories (the largest over pairs with more than two categories; the p-value is the largest too); W1 std is W1 on rewards z-scored with the pooled mean and sd; MI in nats over equal-width bins (each input's `bins`, 50 by default), with the MI of the same rewards with categories permuted beside it; BT accuracy and loss over eval pairs.".into(),
        header: [
            "input", "λ_adv", "categories", "n", "KS", "KS p", "W1", "W1 std", "W1 p", "MI", "MI permuted",
            "BT accuracy", "BT loss",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn rate_cell(doc: &Named<crate::eval::stereotype::StereotypeDoc>, ds: &str) -> Cell {
    match doc.value.datasets.get(ds).and_then(|d| d.overall.rate) {
        Some(r) => Cell::from_source(
            format!("{:.2} ± {:.2}", 100.0 * r.rate, 100.0 * r.se),
            doc.source,
        ),
        None => Cell::missing(),
    }
}

/// Table 2: bias rates (%) ± SE and McNemar p against the other RM.
pub fn stereotype(inp: &ReportInputs) -> Table {
    let rows = inp
        .stereotypes
        .iter()
        .map(|n| {
            let p = |ds: &str| {
                n.value
                    .datasets
                    .get(ds)
                    .and_then(|d| d.comparison.as_ref())
                    .map(|c| c.test.pvalue)
            };
            vec![
                Cell::text(&n.name),
                lam(n.lambda),
                rate_cell(n, "crows_pairs"),
                rate_cell(n, "stereoset"),
                cell(p("crows_pairs"), n.source),
                cell(p("stereoset"), n.source),
            ]
        })
        .collect();
    Table {
        stem: "table2_stereotype".into(),
        caption: "Table 2: stereotype bias rate (% of untied items where the more-stereotypical sentence scores higher; 50 % = neutral) ± SE, and McNemar's p against the other RM where one was given.".into(),
        header: [
            "input", "λ_adv", "CrowS-Pairs bias (%)", "StereoSet bias (%)", "McNemar p (CrowS)",
            "McNemar p (StereoSet)",
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
    let rows = inp
        .audits
        .iter()
        .map(|n| {
            vec![
                Cell::text(&n.name),
                lam(n.lambda),
                pm(n.value.auc_mean, n.value.auc_sd, n.source),
                pm(n.value.ba_mean, n.value.ba_sd, n.source),
            ]
        })
        .collect();
    Table {
        stem: "table4_audit".into(),
        caption: "Table 4: post-hoc category predictability from frozen rewards (App. A.7), mean ± sd over 5 folds; chance ≈ 0.5.".into(),
        header: ["input", "λ_adv", "AUC", "Balanced acc."].map(String::from).to_vec(),
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

/// Table 5: the λ sweep, ours beside the paper's.
pub fn sweep(inp: &ReportInputs, paper: &[PaperValue]) -> Table {
    let rows = inp
        .distributions
        .iter()
        .filter_map(|n| {
            let l = n.lambda?;
            let h = |k| cell(headline(&n.value, k), n.source);
            let p = |q| paper_text(paper, q, l);
            Some(vec![
                Cell::text(format!("{l}")),
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
        caption: "Table 5 (and Table 3): the λ_adv sweep. BT loss = mean −log σ(r_c − r_r) over eval pairs in nats; MI in nats over equal-width bins (50 by default, as App. A.8); paper values from App. A.9.".into(),
        header: [
            "λ_adv", "BT loss", "BT loss (paper)", "BT accuracy", "MI", "MI permuted", "MI (paper)", "KS", "W1",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

/// Our value of a paper quantity at λ, with its source.
fn ours(inp: &ReportInputs, quantity: &str, l: f64) -> Option<(f64, usize)> {
    match quantity {
        "ks" | "w1" | "mi" | "bt_loss" => {
            let n = at_lambda(&inp.distributions, l)?;
            Some((headline(&n.value, quantity)?, n.source))
        }
        "crows_pairs_bias" | "stereoset_bias" => {
            let n = at_lambda(&inp.stereotypes, l)?;
            let ds = quantity.trim_end_matches("_bias");
            let r = n.value.datasets.get(ds)?.overall.rate?;
            Some((100.0 * r.rate, n.source))
        }
        "audit_auc" => {
            let n = at_lambda(&inp.audits, l)?;
            Some((n.value.auc_mean?, n.source))
        }
        "audit_ba" => {
            let n = at_lambda(&inp.audits, l)?;
            Some((n.value.ba_mean?, n.source))
        }
        _ => None,
    }
}

fn arrow(d: i8) -> &'static str {
    match d {
        -1 => "down",
        1 => "up",
        _ => "flat",
    }
}

/// One reproduction row's verdict: `Some(true)` when our direction equals the paper's.
pub type Verdict = Option<bool>;

/// The reproduction table, and per row whether the direction holds.
pub fn reproduction(
    inp: &ReportInputs,
    paper: &[PaperValue],
    roles: Roles,
) -> (Table, Vec<Verdict>) {
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
        let (od, verdict) = match (ob, of) {
            (Some((b, _)), Some((f, _))) => {
                let d = direction(q, b, f);
                (Cell::text(arrow(d)), Some(d == pd))
            }
            _ => (Cell::missing(), None),
        };
        let val = |o: Option<(f64, usize)>| {
            o.map_or_else(Cell::missing, |(v, s)| Cell::from_source(num(v), s))
        };
        rows.push(vec![
            Cell::text(q),
            paper_text(paper, q, 0.0),
            paper_text(paper, q, 0.2),
            val(ob),
            val(of),
            Cell::text(arrow(pd)),
            od,
            Cell::text(match verdict {
                Some(true) => "yes",
                Some(false) => "no",
                None => "—",
            }),
            Cell::text(cite),
        ]);
        verdicts.push(verdict);
    }
    let table = Table {
        stem: "reproduction".into(),
        caption: format!(
            "Paper value vs ours: baseline (ours λ_adv = {}) and fair (ours λ_adv = {}; the paper's 0.2). Direction is of the measure from baseline to fair; for bias rates the distance from 50 %, for audit scores the distance from 0.5. Nothing was tuned to match the paper.",
            roles.baseline, roles.fair
        ),
        header: [
            "quantity",
            "paper baseline",
            "paper fair",
            "ours baseline",
            "ours fair",
            "paper direction",
            "ours direction",
            "direction holds?",
            "source in the paper",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    };
    (table, verdicts)
}
