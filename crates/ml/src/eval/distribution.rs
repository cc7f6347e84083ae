//! Reward distributions by category (§4, App. A.8): for every pair of
//! categories the two-sample KS test and Wasserstein-1 (raw and
//! standardised, permutation p-value); MI between category and binned
//! reward beside the MI of the same data with categories permuted;
//! per-category moments and histograms (for Figures 1–6); and the
//! preference accuracy and BT loss of the pairs whose two sides are scored.
//!
//! Every statistic comes from [`crate::eval::stats`]; this file only
//! selects the rewards that enter and arranges the results.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scores::{ScoreRow, Side};
use super::stats::{
    KsResult, PermutedMi, StatsError, W1Test, binned_mutual_info, binned_mutual_info_permuted,
    equal_width_bins, ks_2samp, wasserstein1_permutation_test,
};
use crate::util::rng::derive_seed;

/// Which rewards enter the distribution tests.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    /// Chosen and rejected responses pooled (the paper's Figures 1–4).
    #[default]
    Both,
    /// Chosen responses only.
    Chosen,
    /// Rejected responses only.
    Rejected,
}

impl Which {
    fn admits(self, side: Side) -> bool {
        match self {
            Which::Both => true,
            Which::Chosen => side == Side::Chosen,
            Which::Rejected => side == Side::Rejected,
        }
    }
}

/// Settings of one analysis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DistributionConfig {
    /// Which rewards enter.
    pub which: Which,
    /// Equal-width bins for MI and the histograms (App. A.8: 50).
    pub bins: usize,
    /// Permutations for the W1 p-value and the permuted MI (issue 5: 10,000).
    pub permutations: usize,
    /// Seed of the permutation stream; each category pair and the MI get
    /// their own sub-stream derived from it.
    pub seed: u64,
}

/// Moments and histogram of one category's rewards (or one side of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Number of rewards.
    pub n: usize,
    /// Mean reward.
    pub mean: f64,
    /// Standard deviation (ddof 1; 0 for a single value).
    pub sd: f64,
    /// Counts over [`Distribution::edges`].
    pub histogram: Vec<u64>,
}

/// One category's summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategorySummary {
    /// Category name.
    pub category: String,
    /// The rewards that enter (per `which`).
    pub all: GroupSummary,
    /// Chosen responses only (present whenever the category has any).
    pub chosen: Option<GroupSummary>,
    /// Rejected responses only.
    pub rejected: Option<GroupSummary>,
}

/// The tests between two categories `a < b` (name order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairTest {
    /// First category.
    pub a: String,
    /// Second category.
    pub b: String,
    /// Two-sample KS statistic, p-value and method (exact or asymptotic).
    pub ks: KsResult,
    /// Wasserstein-1 raw and standardised with the permutation p-value.
    pub w1: W1Test,
}

/// MI between category and binned reward, with its permutation null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiSummary {
    /// MI in nats (sklearn `mutual_info_score` on the bins).
    pub mi: f64,
    /// MI with categories shuffled: the estimator's bias at this size.
    pub permuted: PermutedMi,
}

/// Preference accuracy and BT loss over pairs with both sides scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preference {
    /// Complete pairs.
    pub pairs: usize,
    /// Share of pairs with `r_chosen > r_rejected` (ties count as wrong).
    pub accuracy: f64,
    /// Pairs with `r_chosen == r_rejected`.
    pub ties: usize,
    /// Mean of `-log σ(r_c - r_r)` in nats (issue 5's "BT loss").
    pub bt_loss: f64,
}

/// Everything `eval.reward_distribution` computes (`distribution.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Settings used.
    pub config: DistributionConfig,
    /// Number of rewards that entered.
    pub n: usize,
    /// Histogram bin edges (`bins + 1` values, min..max of the rewards that enter).
    pub edges: Vec<f64>,
    /// Per category, in name order.
    pub categories: Vec<CategorySummary>,
    /// Every pair of categories.
    pub pairs: Vec<PairTest>,
    /// MI between category and reward.
    pub mi: MiSummary,
    /// Preference accuracy and BT loss (absent when no pair has both sides).
    pub preference: Option<Preference>,
}

/// Why the analysis could not run.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// Fewer than two categories among the rewards that enter.
    #[error(
        "reward distribution needs at least two categories among the {which:?} rewards, found {found:?}"
    )]
    TooFewCategories {
        /// Which rewards entered.
        which: Which,
        /// The categories present.
        found: Vec<String>,
    },
    /// A statistic refused its input.
    #[error("categories `{a}` vs `{b}`: {source}")]
    Pair {
        /// First category.
        a: String,
        /// Second category.
        b: String,
        /// The statistic's error.
        source: StatsError,
    },
    /// MI or the histograms refused their input.
    #[error("mutual information: {0}")]
    Mi(StatsError),
}

fn summary(values: &[f64], bin_of: &[usize], bins: usize) -> GroupSummary {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt()
    } else {
        0.0
    };
    let mut histogram = vec![0u64; bins];
    for &b in bin_of {
        histogram[b] += 1;
    }
    GroupSummary {
        n,
        mean,
        sd,
        histogram,
    }
}

/// `np.linspace(min, max, bins + 1)` with the last edge exact.
fn edges(values: &[f64], bins: usize) -> Vec<f64> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let step = (hi - lo) / bins as f64;
    let mut e: Vec<f64> = (0..=bins).map(|k| k as f64 * step + lo).collect();
    if let Some(last) = e.last_mut() {
        *last = hi;
    }
    e
}

/// Accuracy and BT loss over pairs that have both sides in `rows`.
pub fn preference(rows: &[ScoreRow]) -> Option<Preference> {
    let mut by_pair: BTreeMap<&str, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for r in rows {
        let e = by_pair.entry(r.pair_id.as_str()).or_default();
        match r.side {
            Side::Chosen => e.0 = Some(r.reward),
            Side::Rejected => e.1 = Some(r.reward),
        }
    }
    let margins: Vec<f64> = by_pair
        .values()
        .filter_map(|(c, r)| Some((*c)? - (*r)?))
        .collect();
    if margins.is_empty() {
        return None;
    }
    let n = margins.len() as f64;
    Some(Preference {
        pairs: margins.len(),
        accuracy: margins.iter().filter(|m| **m > 0.0).count() as f64 / n,
        ties: margins.iter().filter(|m| **m == 0.0).count(),
        bt_loss: margins.iter().map(|m| bt_nll(*m)).sum::<f64>() / n,
    })
}

/// The Bradley–Terry loss of one pair with reward margin `m = r_c − r_r`:
/// `−log σ(m) = softplus(−m)`, in nats, stable for any sign.
pub fn bt_nll(m: f64) -> f64 {
    (-m).max(0.0) + (-m.abs()).exp().ln_1p()
}

/// Runs every test on `rows` (already checked by [`super::scores::read_scores`]).
///
/// # Errors
/// Fewer than two categories, or a statistic that refuses its input (a
/// category pair whose pooled rewards are all equal, a bad `bins`).
pub fn analyse(
    rows: &[ScoreRow],
    cfg: DistributionConfig,
) -> Result<Distribution, DistributionError> {
    let entering: Vec<&ScoreRow> = rows.iter().filter(|r| cfg.which.admits(r.side)).collect();
    let mut names: Vec<String> = entering.iter().map(|r| r.category.clone()).collect();
    names.sort();
    names.dedup();
    if names.len() < 2 {
        return Err(DistributionError::TooFewCategories {
            which: cfg.which,
            found: names,
        });
    }
    let index: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let labels: Vec<usize> = entering
        .iter()
        .map(|r| index[r.category.as_str()])
        .collect();
    let values: Vec<f64> = entering.iter().map(|r| r.reward).collect();
    let bin_of = equal_width_bins(&values, cfg.bins).map_err(DistributionError::Mi)?;
    let mi = binned_mutual_info(&labels, &values, cfg.bins).map_err(DistributionError::Mi)?;
    let permuted = binned_mutual_info_permuted(
        &labels,
        &values,
        cfg.bins,
        cfg.permutations,
        derive_seed(cfg.seed, "mi", ""),
    )
    .map_err(DistributionError::Mi)?;

    let mut per_cat: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut per_cat_bins: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    let mut per_side: BTreeMap<(usize, Side), (Vec<f64>, Vec<usize>)> = BTreeMap::new();
    for ((r, &l), &b) in entering.iter().zip(&labels).zip(&bin_of) {
        per_cat[l].push(r.reward);
        per_cat_bins[l].push(b);
        let e = per_side.entry((l, r.side)).or_default();
        e.0.push(r.reward);
        e.1.push(b);
    }
    let categories = names
        .iter()
        .enumerate()
        .map(|(l, name)| {
            let side = |s| per_side.get(&(l, s)).map(|(v, b)| summary(v, b, cfg.bins));
            CategorySummary {
                category: name.clone(),
                all: summary(&per_cat[l], &per_cat_bins[l], cfg.bins),
                chosen: side(Side::Chosen),
                rejected: side(Side::Rejected),
            }
        })
        .collect();

    let mut pairs = Vec::new();
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            let (a, b) = (&names[i], &names[j]);
            let err = |source| DistributionError::Pair {
                a: a.clone(),
                b: b.clone(),
                source,
            };
            let ks = ks_2samp(&per_cat[i], &per_cat[j]).map_err(err)?;
            let seed = derive_seed(cfg.seed, "w1", &format!("{a}\0{b}"));
            let w1 =
                wasserstein1_permutation_test(&per_cat[i], &per_cat[j], cfg.permutations, seed)
                    .map_err(err)?;
            pairs.push(PairTest {
                a: a.clone(),
                b: b.clone(),
                ks,
                w1,
            });
        }
    }
    Ok(Distribution {
        config: cfg,
        n: values.len(),
        edges: edges(&values, cfg.bins),
        categories,
        pairs,
        mi: MiSummary { mi, permuted },
        preference: preference(rows),
    })
}

impl Distribution {
    /// Headline numbers for `metrics.json`: with two categories `ks`, `w1`…
    /// are that pair's; with more, the largest over pairs (the mean beside it).
    pub fn headline(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let max = |f: &dyn Fn(&PairTest) -> f64| {
            self.pairs.iter().map(f).fold(f64::NEG_INFINITY, f64::max)
        };
        let mean = |f: &dyn Fn(&PairTest) -> f64| {
            self.pairs.iter().map(f).sum::<f64>() / self.pairs.len().max(1) as f64
        };
        let mut m = serde_json::Map::new();
        m.insert("n".into(), json!(self.n));
        m.insert("categories".into(), json!(self.categories.len()));
        m.insert("ks".into(), json!(max(&|p| p.ks.statistic)));
        m.insert("ks_mean".into(), json!(mean(&|p| p.ks.statistic)));
        m.insert("ks_pvalue".into(), json!(max(&|p| p.ks.pvalue)));
        m.insert("w1".into(), json!(max(&|p| p.w1.raw)));
        m.insert("w1_mean".into(), json!(mean(&|p| p.w1.raw)));
        m.insert("w1_standardised".into(), json!(max(&|p| p.w1.standardised)));
        m.insert("w1_pvalue".into(), json!(max(&|p| p.w1.pvalue)));
        m.insert("mi".into(), json!(self.mi.mi));
        m.insert("mi_permuted".into(), json!(self.mi.permuted.mean));
        if let Some(p) = &self.preference {
            m.insert("bt_accuracy".into(), json!(p.accuracy));
            m.insert("bt_loss".into(), json!(p.bt_loss));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(offset: f64, n: usize) -> Vec<ScoreRow> {
        // Two categories; `harmless` shifted by `offset`; chosen above rejected.
        let mut out = Vec::new();
        for i in 0..n {
            for (cat, shift) in [("harmless", offset), ("helpful", 0.0)] {
                let base = (i as f64 * 0.37).sin() * 2.0 + shift;
                for (side, d) in [(Side::Chosen, 0.5), (Side::Rejected, -0.5)] {
                    out.push(ScoreRow {
                        pair_id: format!("{cat}-{i}"),
                        category: cat.into(),
                        side,
                        reward: base + d,
                    });
                }
            }
        }
        out
    }

    fn cfg(which: Which) -> DistributionConfig {
        DistributionConfig {
            which,
            bins: 10,
            permutations: 199,
            seed: 7,
        }
    }

    #[test]
    fn a_planted_offset_is_detected_and_no_offset_is_not() {
        let shifted = analyse(&rows(3.0, 40), cfg(Which::Both)).unwrap();
        let same = analyse(&rows(0.0, 40), cfg(Which::Both)).unwrap();
        assert_eq!(shifted.pairs.len(), 1);
        let (s, z) = (&shifted.pairs[0], &same.pairs[0]);
        assert!(s.ks.statistic > 0.5 && s.ks.pvalue < 1e-6, "{s:?}");
        assert_eq!(z.ks.statistic, 0.0);
        assert!((s.w1.raw - 3.0).abs() < 1e-9, "{}", s.w1.raw);
        assert_eq!(s.w1.exceed, 0);
        assert!((s.w1.pvalue - 1.0 / 200.0).abs() < 1e-12);
        assert!(shifted.mi.mi > 5.0 * shifted.mi.permuted.mean);
        assert!(same.mi.mi <= same.mi.permuted.max + 1e-12);
        // Identical samples: every permutation reaches W1 = 0.
        assert_eq!(z.w1.pvalue, 1.0);
    }

    #[test]
    fn histograms_and_moments_account_for_every_reward() {
        let d = analyse(&rows(1.0, 25), cfg(Which::Both)).unwrap();
        assert_eq!(d.n, 100);
        assert_eq!(d.edges.len(), 11);
        for c in &d.categories {
            assert_eq!(c.all.histogram.iter().sum::<u64>(), 50);
            let ch = c.chosen.as_ref().unwrap();
            let rj = c.rejected.as_ref().unwrap();
            assert_eq!(ch.n + rj.n, c.all.n);
            assert!((ch.mean - rj.mean - 1.0).abs() < 1e-9);
        }
        let diff = d.categories[0].all.mean - d.categories[1].all.mean;
        assert!((diff - 1.0).abs() < 1e-9, "{diff}");
    }

    #[test]
    fn which_selects_the_side_that_enters() {
        let d = analyse(&rows(1.0, 20), cfg(Which::Chosen)).unwrap();
        assert_eq!(d.n, 40);
        assert!(d.categories.iter().all(|c| c.rejected.is_none()));
        // The preference numbers always use both sides.
        assert_eq!(d.preference.as_ref().unwrap().pairs, 40);
    }

    #[test]
    fn preference_accuracy_and_bt_loss() {
        let r = |id: &str, side, reward| ScoreRow {
            pair_id: id.into(),
            category: "c".into(),
            side,
            reward,
        };
        let rows = vec![
            r("a", Side::Chosen, 1.0),
            r("a", Side::Rejected, 0.0),
            r("b", Side::Chosen, 0.0),
            r("b", Side::Rejected, 2.0),
            r("c", Side::Chosen, 5.0),
        ];
        let p = preference(&rows).unwrap();
        assert_eq!(p.pairs, 2);
        assert_eq!(p.accuracy, 0.5);
        // numpy: np.mean(np.logaddexp(0, -np.array([1.0, -2.0])))
        assert!(
            (p.bt_loss - 1.2200948492805979).abs() < 1e-12,
            "{}",
            p.bt_loss
        );
    }

    #[test]
    fn one_category_is_an_error() {
        let only: Vec<ScoreRow> = rows(0.0, 5)
            .into_iter()
            .filter(|r| r.category == "helpful")
            .collect();
        assert!(matches!(
            analyse(&only, cfg(Which::Both)),
            Err(DistributionError::TooFewCategories { .. })
        ));
    }

    #[test]
    fn the_same_seed_gives_the_same_pvalues_and_another_seed_may_not() {
        let a = analyse(&rows(0.3, 30), cfg(Which::Both)).unwrap();
        let b = analyse(&rows(0.3, 30), cfg(Which::Both)).unwrap();
        assert_eq!(a, b);
        let mut c2 = cfg(Which::Both);
        c2.seed = 8;
        let c = analyse(&rows(0.3, 30), c2).unwrap();
        assert_ne!(a.mi.permuted, c.mi.permuted);
    }
}
