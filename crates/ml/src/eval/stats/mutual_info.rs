//! Mutual information between a category and a continuous value binned
//! into equal-width bins (App. A.8), equal to sklearn's
//! `mutual_info_score(labels, bins)`, with a permutation baseline.
//!
//! Bins: `B` equal-width bins over `[min, max]` of the values that enter,
//! edges as `np.linspace(min, max, B + 1)`, a value in bin `i` when
//! `edge_i <= x < edge_{i+1}`, the last bin closed on the right — the
//! convention of `np.histogram`. MI is in nats. The plug-in estimator is
//! biased upwards (about `(K-1)(B'-1) / 2N` nats for K categories and B'
//! occupied bins), so the same MI with the categories shuffled is reported
//! beside it: MI near that baseline means no detectable dependence.

use std::collections::BTreeMap;

use super::error::{StatsError, check_count, check_same_len, check_sample};
use crate::util::rng::SplitMix64;

/// Default number of bins (App. A.8: 50).
pub const MI_DEFAULT_BINS: usize = 50;

/// Upper bound on bins, so that a bad parameter cannot ask for unbounded memory.
const MAX_BINS: usize = 1_000_000;

/// Upper bound on permutations.
const MAX_PERMUTATIONS: usize = 10_000_000;

/// MI of the same data with categories permuted: the estimator's bias.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PermutedMi {
    /// Mean MI over the permutations, in nats.
    pub mean: f64,
    /// Standard deviation over the permutations (ddof 1; 0 for one).
    pub sd: f64,
    /// Largest MI seen.
    pub max: f64,
    /// Number of permutations.
    pub permutations: usize,
}

/// Bin index in `0..bins` of every value, equal-width over `[min, max]`,
/// last bin closed (see the module doc). If all values are equal they all
/// fall in the last bin.
///
/// # Errors
/// An empty sample, a non-finite value, or `bins` outside 1..=10^6.
pub fn equal_width_bins(values: &[f64], bins: usize) -> Result<Vec<usize>, StatsError> {
    const WHAT: &str = "equal_width_bins";
    check_sample(WHAT, "values", values)?;
    check_count(WHAT, "bins", bins, MAX_BINS, "1..=1000000")?;
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // np.linspace: start + k * step, the last edge set to stop exactly.
    let step = (hi - lo) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|k| k as f64 * step + lo).collect();
    edges[bins] = hi;
    Ok(values
        .iter()
        .map(|&x| {
            // searchsorted(edges, x, 'right') - 1, clipped to the last bin.
            let right = edges.partition_point(|&e| e <= x);
            right.saturating_sub(1).min(bins - 1)
        })
        .collect())
}

/// Mutual information (nats) between two labellings of the same items,
/// computed as sklearn's `mutual_info_score` from the contingency table:
/// terms below machine epsilon set to 0, the total clipped at 0, and 0
/// when either labelling has a single value.
///
/// # Errors
/// Empty input or lengths that differ.
pub fn mutual_info_score(labels: &[usize], clusters: &[usize]) -> Result<f64, StatsError> {
    const WHAT: &str = "mutual_info_score";
    check_same_len(WHAT, ("labels", labels.len()), ("clusters", clusters.len()))?;
    if labels.is_empty() {
        return Err(StatsError::Empty {
            what: WHAT,
            name: "labels",
        });
    }
    let mut table: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    let mut rows: BTreeMap<usize, u64> = BTreeMap::new();
    let mut cols: BTreeMap<usize, u64> = BTreeMap::new();
    for (&l, &c) in labels.iter().zip(clusters) {
        *table.entry((l, c)).or_default() += 1;
        *rows.entry(l).or_default() += 1;
        *cols.entry(c).or_default() += 1;
    }
    if rows.len() == 1 || cols.len() == 1 {
        return Ok(0.0);
    }
    let n = labels.len() as f64;
    let ln_n = n.ln();
    let mut mi = 0.0;
    for (&(l, c), &nij) in &table {
        let nm = nij as f64 / n;
        let outer = u128::from(rows[&l]) * u128::from(cols[&c]);
        let log_outer = -(outer as f64).ln() + ln_n + ln_n;
        let term = nm * ((nij as f64).ln() - ln_n) + nm * log_outer;
        if term.abs() >= f64::EPSILON {
            mi += term;
        }
    }
    Ok(mi.max(0.0))
}

/// MI between categories and `values` binned into `bins` equal-width bins.
///
/// # Errors
/// Empty input, lengths that differ, non-finite values, or a bad `bins`.
pub fn binned_mutual_info(
    labels: &[usize],
    values: &[f64],
    bins: usize,
) -> Result<f64, StatsError> {
    check_same_len(
        "binned_mutual_info",
        ("labels", labels.len()),
        ("values", values.len()),
    )?;
    let b = equal_width_bins(values, bins)?;
    mutual_info_score(labels, &b)
}

/// [`binned_mutual_info`] with the labels shuffled `permutations` times
/// (Fisher–Yates, [`SplitMix64`] seeded by `seed`; the bins stay fixed).
///
/// # Errors
/// As [`binned_mutual_info`], or `permutations` outside 1..=10^7.
pub fn binned_mutual_info_permuted(
    labels: &[usize],
    values: &[f64],
    bins: usize,
    permutations: usize,
    seed: u64,
) -> Result<PermutedMi, StatsError> {
    const WHAT: &str = "binned_mutual_info_permuted";
    check_same_len(WHAT, ("labels", labels.len()), ("values", values.len()))?;
    check_count(
        WHAT,
        "permutations",
        permutations,
        MAX_PERMUTATIONS,
        "1..=10000000",
    )?;
    let b = equal_width_bins(values, bins)?;
    let mut shuffled = labels.to_vec();
    let mut rng = SplitMix64::new(seed);
    let mut mis = Vec::with_capacity(permutations);
    for _ in 0..permutations {
        rng.shuffle(&mut shuffled);
        mis.push(mutual_info_score(&shuffled, &b)?);
    }
    let k = mis.len() as f64;
    let mean = mis.iter().sum::<f64>() / k;
    let sd = if mis.len() > 1 {
        (mis.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt()
    } else {
        0.0
    };
    let max = mis.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Ok(PermutedMi {
        mean,
        sd,
        max,
        permutations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_sklearn_mutual_info_score_on_histogram_bins() {
        let fx = Fixture::load();
        for case in fx.cases("mutual_info") {
            let name = case.name();
            // labels: SplitMix64(label_seed).below(classes); values: base + offset * label
            let mut r = SplitMix64::new(case.int("label_seed"));
            let base = case.sample("base");
            let labels: Vec<usize> = base
                .iter()
                .map(|_| r.below(case.int("classes")) as usize)
                .collect();
            let values: Vec<f64> = base
                .iter()
                .zip(&labels)
                .map(|(v, &l)| v + case.num("offset") * l as f64)
                .collect();
            let bins = case.int("bins") as usize;
            let got_bins = equal_width_bins(&values, bins).unwrap();
            let want_counts = case.labels("bin_counts");
            let mut counts = vec![0usize; bins];
            for &i in &got_bins {
                counts[i] += 1;
            }
            assert_eq!(counts, want_counts, "{name}: np.histogram counts");
            assert_close(
                binned_mutual_info(&labels, &values, bins).unwrap(),
                case.num("mi"),
                1e-10,
                &name,
            );
            let p = binned_mutual_info_permuted(
                &labels,
                &values,
                bins,
                case.int("permutations") as usize,
                case.int("seed"),
            )
            .unwrap();
            assert_close(p.mean, case.num("perm_mean"), 1e-10, &name);
            assert_close(p.sd, case.num("perm_sd"), 1e-8, &name);
            assert_close(p.max, case.num("perm_max"), 1e-10, &name);
        }
    }

    #[test]
    fn single_category_or_constant_values_give_zero() {
        assert_eq!(
            binned_mutual_info(&[0, 0, 0], &[1.0, 2.0, 3.0], 50).unwrap(),
            0.0
        );
        assert_eq!(
            binned_mutual_info(&[0, 1, 0], &[2.0, 2.0, 2.0], 50).unwrap(),
            0.0
        );
        // Perfect dependence between two equal halves: MI = ln 2.
        let mi = binned_mutual_info(&[0, 0, 1, 1], &[0.0, 0.1, 0.9, 1.0], 2).unwrap();
        assert!((mi - std::f64::consts::LN_2).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(binned_mutual_info(&[0, 1], &[1.0], 50).is_err());
        assert!(binned_mutual_info(&[0, 1], &[1.0, f64::NAN], 50).is_err());
        assert!(equal_width_bins(&[1.0], 0).is_err());
        assert!(mutual_info_score(&[], &[]).is_err());
    }
}
