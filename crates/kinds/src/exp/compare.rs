//! `exp diff`: the params and metrics that differ between two runs, and for
//! a metric measured over seeds whether the change is beyond 2 SE of the
//! seed-paired differences — the rule of `eval::stats::paired` (seed `i` of
//! both runs shares its initialisation and data order, so the differences
//! are paired), with the paired t-test beside it.

use serde::Serialize;

use super::metrics::{Seeds, Summary, num};
use super::table::Row;
use crate::eval::stats::{VERDICT_SE, paired_difference, paired_t_test};

/// A param that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamChange {
    /// The dotted key.
    pub key: String,
    /// In A (absent: a kind's default).
    pub a: Option<String>,
    /// In B.
    pub b: Option<String>,
}

/// The seed-paired comparison of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paired {
    /// Seeds both runs have.
    pub n: usize,
    /// Mean of `b_i − a_i`.
    pub mean: f64,
    /// Its standard error.
    pub se: f64,
    /// Paired t (n − 1 df).
    pub t: Option<f64>,
    /// Its two-sided p-value.
    pub p: Option<f64>,
    /// `|mean| > 2 SE`.
    pub beyond: bool,
}

impl Paired {
    /// `beyond 2 SE` or `within noise`.
    pub fn verdict(&self) -> &'static str {
        if self.beyond {
            "beyond 2 SE"
        } else {
            "within noise"
        }
    }
}

/// A metric that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricChange {
    /// The column (`stage:metric`).
    pub column: String,
    /// In A.
    pub a: Option<Summary>,
    /// In B.
    pub b: Option<Summary>,
    /// `b − a` of the means, when both have it.
    pub delta: Option<f64>,
    /// Over seeds both have, when there are at least two.
    pub paired: Option<Paired>,
}

impl MetricChange {
    /// `beyond 2 SE`, `within noise`, or `no seeds to pair` (one value).
    pub fn verdict(&self) -> &'static str {
        match &self.paired {
            Some(p) => p.verdict(),
            None => "no seeds to pair",
        }
    }
}

/// What differs between runs A and B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    /// A's name.
    pub a: String,
    /// B's name.
    pub b: String,
    /// Params that differ.
    pub params: Vec<ParamChange>,
    /// Metrics that differ.
    pub metrics: Vec<MetricChange>,
}

/// The seed-paired comparison of two columns, over the seeds both have
/// (at least two, labelled: a stage without a seed axis has none).
fn paired(a: &Seeds, b: &Seeds) -> Option<Paired> {
    let common: Vec<&String> = a
        .keys()
        .filter(|s| !s.is_empty() && b.contains_key(*s))
        .collect();
    if common.len() < 2 {
        return None;
    }
    let xa: Vec<f64> = common.iter().map(|s| a[*s]).collect();
    let xb: Vec<f64> = common.iter().map(|s| b[*s]).collect();
    let d = paired_difference(&xa, &xb).ok()?;
    // Differences that agree to rounding are the same change in every
    // seed: SE 0, no t (not t = 1e15 from rounding noise).
    let rounding = 1e-12 * xa.iter().chain(&xb).fold(0.0f64, |m, v| m.max(v.abs()));
    let se = d.se.filter(|&se| se > rounding).unwrap_or(0.0);
    let mean = if d.mean.abs() > rounding { d.mean } else { 0.0 };
    let t = (se > 0.0)
        .then(|| paired_t_test(&xa, &xb, 0.95).ok())
        .flatten();
    Some(Paired {
        n: d.n,
        mean,
        se,
        t: t.as_ref().and_then(|t| t.t),
        p: t.as_ref().and_then(|t| t.pvalue),
        beyond: mean.abs() > VERDICT_SE * se,
    })
}

/// What differs from A to B, over the given param columns and every metric
/// either has.
pub fn diff(a: &Row, b: &Row, params: &[String]) -> Diff {
    let params = params
        .iter()
        .filter(|k| a.params.get(*k) != b.params.get(*k))
        .map(|k| ParamChange {
            key: k.clone(),
            a: a.params.get(k).cloned(),
            b: b.params.get(k).cloned(),
        })
        .collect();
    let mut columns: Vec<&String> = a.seeds.keys().chain(b.seeds.keys()).collect();
    columns.sort();
    columns.dedup();
    let metrics = columns
        .into_iter()
        .filter(|c| a.seeds.get(*c) != b.seeds.get(*c))
        .map(|c| {
            let (sa, sb) = (a.metrics.get(c).copied(), b.metrics.get(c).copied());
            MetricChange {
                column: c.clone(),
                a: sa,
                b: sb,
                delta: sa.zip(sb).map(|(x, y)| y.mean - x.mean),
                paired: a
                    .seeds
                    .get(c)
                    .zip(b.seeds.get(c))
                    .and_then(|(x, y)| paired(x, y)),
            }
        })
        .collect();
    Diff {
        a: a.name.clone(),
        b: b.name.clone(),
        params,
        metrics,
    }
}

/// The diff as text: a `params:` and a `metrics:` section.
pub fn render(d: &Diff) -> String {
    let mut out = format!("{} -> {}\n", d.a, d.b);
    if d.params.is_empty() && d.metrics.is_empty() {
        out.push_str("no differences\n");
        return out;
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(default)".into());
    if !d.params.is_empty() {
        out.push_str("params:\n");
        for p in &d.params {
            out.push_str(&format!("  {}: {} -> {}\n", p.key, opt(&p.a), opt(&p.b)));
        }
    }
    if !d.metrics.is_empty() {
        out.push_str("metrics:\n");
        let show = |s: &Option<Summary>| s.map_or_else(|| "-".to_string(), |s| s.text());
        for m in &d.metrics {
            out.push_str(&format!("  {}: {} -> {}", m.column, show(&m.a), show(&m.b)));
            if let Some(delta) = m.delta {
                out.push_str(&format!(
                    "  (Δ {}{})",
                    if delta > 0.0 { "+" } else { "" },
                    num(delta)
                ));
            }
            if let Some(p) = &m.paired {
                out.push_str(&format!(
                    "  paired over {} seeds: {} ± {} SE, {}",
                    p.n,
                    num(p.mean),
                    num(p.se),
                    p.verdict()
                ));
                if let (Some(t), Some(pv)) = (p.t, p.p) {
                    out.push_str(&format!(" (t = {}, p = {})", num(t), num(pv)));
                } else if p.se == 0.0 {
                    out.push_str(" (the same change in every seed)");
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(name: &str, xs: &[f64]) -> Row {
        let seeds: Seeds = xs
            .iter()
            .enumerate()
            .map(|(i, x)| (format!("{}", i + 1), *x))
            .collect();
        let mut cols = BTreeMap::new();
        cols.insert("score:acc".to_string(), seeds);
        Row {
            name: name.into(),
            overrides: vec![],
            params: BTreeMap::new(),
            metrics: cols
                .iter()
                .map(|(k, v)| (k.clone(), Summary::of(v).unwrap()))
                .collect(),
            seeds: cols,
        }
    }

    #[test]
    fn a_planted_shift_is_beyond_2_se_and_noise_is_not() {
        let a = row("a", &[0.50, 0.52, 0.48]);
        let planted = row("b", &[0.60, 0.63, 0.57]);
        let d = diff(&a, &planted, &[]);
        assert_eq!(d.metrics.len(), 1);
        assert_eq!(d.metrics[0].verdict(), "beyond 2 SE");
        // Differences +0.01, −0.01, +0.005: mean 0.00167, SE 0.00601.
        let null = row("c", &[0.51, 0.51, 0.485]);
        let d = diff(&a, &null, &[]);
        assert_eq!(d.metrics[0].verdict(), "within noise");
        assert!(render(&d).contains("within noise"), "{}", render(&d));
        assert!(diff(&a, &a, &[]).metrics.is_empty());
    }

    #[test]
    fn the_same_shift_in_every_seed_has_se_0_not_a_rounding_t() {
        let a = row("a", &[0.5, 0.4, 0.3]);
        // 0.4 − 0.3 is not exactly 0.1 in floating point: SE ≈ 1e-17.
        let b = row("b", &[0.6, 0.5, 0.4]);
        let d = diff(&a, &b, &[]);
        let p = d.metrics[0].paired.as_ref().unwrap();
        assert_eq!((p.se, p.t, p.p), (0.0, None, None), "{p:?}");
        assert_eq!(d.metrics[0].verdict(), "beyond 2 SE");
        assert!(
            render(&d).contains("(the same change in every seed)"),
            "{}",
            render(&d)
        );
    }
}
