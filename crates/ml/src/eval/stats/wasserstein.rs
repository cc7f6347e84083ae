//! Wasserstein-1 distance between two samples (`scipy.stats.wasserstein_distance`)
//! on raw and on standardised values, and its seeded permutation test.
//!
//! `W1(a, b) = ∫ |F_a(x) - F_b(x)| dx`, the area between the two ECDFs,
//! summed over the gaps of the pooled sorted sample exactly as scipy's
//! `_cdf_distance(p=1)`. The standardised version z-scores both samples
//! with the pooled mean and the pooled standard deviation (ddof = 0), so it
//! is `W1 / sd_pooled`: unit-free, comparable across reward models whose
//! scales differ, and unchanged by any common shift. Because the pooled
//! standard deviation does not change when labels are permuted, one
//! permutation test serves both versions.

use super::error::{StatsError, check_count, check_sample};
use crate::util::rng::SplitMix64;

/// Default number of permutations (issue 5: 10,000).
pub const W1_DEFAULT_PERMUTATIONS: usize = 10_000;

/// Upper bound on permutations accepted, to keep a typo from running for days.
const MAX_PERMUTATIONS: usize = 100_000_000;

/// Result of [`wasserstein1_permutation_test`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct W1Test {
    /// W1 on the raw values, in reward units.
    pub raw: f64,
    /// W1 on values z-scored with the pooled mean and sd (ddof 0).
    pub standardised: f64,
    /// Permutation p-value `(b + 1) / (n + 1)`, `b` the permutations whose
    /// W1 reaches the observed one (same for both versions).
    pub pvalue: f64,
    /// `b`, the count above.
    pub exceed: usize,
    /// Number of permutations drawn.
    pub permutations: usize,
}

/// The pooled sample sorted (stable, so ties keep `a` before `b`), with a
/// flag per value saying whether it came from `a`.
fn pooled_sorted(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<bool>) {
    let mut pooled: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    pooled.sort_by(|p, q| p.0.total_cmp(&q.0));
    pooled.into_iter().unzip()
}

/// W1 from the sorted pooled values and their labels, in one pass: after
/// the `i`-th value the ECDFs count the labels seen so far; inside a run of
/// ties the gap is 0, so the order of tied labels does not matter.
fn w1_from_labels(z: &[f64], from_a: &[bool], na: usize, nb: usize) -> f64 {
    let (naf, nbf) = (na as f64, nb as f64);
    let (mut ca, mut cb) = (0usize, 0usize);
    let mut acc = 0.0;
    for i in 0..z.len().saturating_sub(1) {
        if from_a[i] {
            ca += 1;
        } else {
            cb += 1;
        }
        acc += (ca as f64 / naf - cb as f64 / nbf).abs() * (z[i + 1] - z[i]);
    }
    acc
}

/// Pooled mean and standard deviation (ddof 0).
fn pooled_mean_sd(a: &[f64], b: &[f64]) -> (f64, f64) {
    let n = (a.len() + b.len()) as f64;
    let mean = a.iter().chain(b).sum::<f64>() / n;
    let var = a.iter().chain(b).map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Wasserstein-1 distance between the empirical distributions of `a` and `b`.
///
/// # Errors
/// An empty sample or a non-finite value.
pub fn wasserstein1(a: &[f64], b: &[f64]) -> Result<f64, StatsError> {
    const WHAT: &str = "wasserstein1";
    check_sample(WHAT, "a", a)?;
    check_sample(WHAT, "b", b)?;
    let (z, lab) = pooled_sorted(a, b);
    Ok(w1_from_labels(&z, &lab, a.len(), b.len()))
}

/// Wasserstein-1 after z-scoring both samples with the pooled mean and
/// standard deviation (ddof 0).
///
/// # Errors
/// An empty sample, a non-finite value, or a pooled sd of 0 (all values equal).
pub fn wasserstein1_standardised(a: &[f64], b: &[f64]) -> Result<f64, StatsError> {
    const WHAT: &str = "wasserstein1_standardised";
    check_sample(WHAT, "a", a)?;
    check_sample(WHAT, "b", b)?;
    let (mean, sd) = pooled_mean_sd(a, b);
    if sd <= 0.0 {
        return Err(StatsError::Undefined {
            what: WHAT,
            reason: "all pooled values are equal (sd 0)",
        });
    }
    let za: Vec<f64> = a.iter().map(|x| (x - mean) / sd).collect();
    let zb: Vec<f64> = b.iter().map(|x| (x - mean) / sd).collect();
    let (z, lab) = pooled_sorted(&za, &zb);
    Ok(w1_from_labels(&z, &lab, a.len(), b.len()))
}

/// W1 on raw and standardised values with a seeded permutation p-value.
///
/// Each permutation shuffles the group labels over the pooled sample
/// (Fisher–Yates with [`SplitMix64`] seeded by `seed`) and recomputes W1;
/// it counts as reaching the observed value when `W1* >= W1 - 100 ε |W1|`,
/// the floating-point allowance of `scipy.stats.permutation_test`.
/// p = (b + 1) / (n + 1) (Phipson & Smyth 2010), never 0.
///
/// # Errors
/// An empty sample, a non-finite value, `permutations` outside
/// 1..=10^8, or a pooled sd of 0.
pub fn wasserstein1_permutation_test(
    a: &[f64],
    b: &[f64],
    permutations: usize,
    seed: u64,
) -> Result<W1Test, StatsError> {
    const WHAT: &str = "wasserstein1_permutation_test";
    check_sample(WHAT, "a", a)?;
    check_sample(WHAT, "b", b)?;
    check_count(
        WHAT,
        "permutations",
        permutations,
        MAX_PERMUTATIONS,
        "1..=100000000",
    )?;
    let standardised = wasserstein1_standardised(a, b)?;
    let (z, mut lab) = pooled_sorted(a, b);
    let (na, nb) = (a.len(), b.len());
    let raw = w1_from_labels(&z, &lab, na, nb);
    let threshold = raw - 100.0 * f64::EPSILON * raw.abs();
    let mut rng = SplitMix64::new(seed);
    let mut exceed = 0usize;
    for _ in 0..permutations {
        rng.shuffle(&mut lab);
        if w1_from_labels(&z, &lab, na, nb) >= threshold {
            exceed += 1;
        }
    }
    Ok(W1Test {
        raw,
        standardised,
        pvalue: (exceed + 1) as f64 / (permutations + 1) as f64,
        exceed,
        permutations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_scipy_wasserstein_distance() {
        let fx = Fixture::load();
        for case in fx.cases("wasserstein") {
            let (a, b) = (case.sample("a"), case.sample("b"));
            let name = case.name();
            assert_close(wasserstein1(&a, &b).unwrap(), case.num("raw"), 1e-12, &name);
            assert_close(
                wasserstein1_standardised(&a, &b).unwrap(),
                case.num("standardised"),
                1e-12,
                &name,
            );
            if let Some(p) = case.opt_int("permutations") {
                let t =
                    wasserstein1_permutation_test(&a, &b, p as usize, case.int("seed")).unwrap();
                assert_eq!(
                    t.exceed as u64,
                    case.int("exceed"),
                    "{name}: permutation count"
                );
                assert_close(t.pvalue, case.num("pvalue"), 1e-15, &name);
                assert_close(t.raw, case.num("raw"), 1e-12, &name);
            }
        }
    }

    #[test]
    fn permutation_p_is_seeded_and_bounded() {
        let a: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..30).map(|i| i as f64 + 100.0).collect();
        let t = wasserstein1_permutation_test(&a, &b, 500, 1).unwrap();
        assert_eq!(t.exceed, 0);
        assert_eq!(t.pvalue, 1.0 / 501.0);
        let c: Vec<f64> = (0..30).map(|i| (i * 7 % 30) as f64 + 0.5).collect();
        let t1 = wasserstein1_permutation_test(&a, &c, 300, 9).unwrap();
        let t2 = wasserstein1_permutation_test(&a, &c, 300, 9).unwrap();
        assert_eq!(t1, t2);
        assert!(
            t1.pvalue > 0.5,
            "same spread, shifted by 0.5: {}",
            t1.pvalue
        );
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert!(wasserstein1(&[], &[1.0]).is_err());
        assert!(wasserstein1_standardised(&[2.0], &[2.0]).is_err());
        assert!(wasserstein1_permutation_test(&[1.0], &[2.0], 0, 1).is_err());
        assert_eq!(wasserstein1(&[1.0], &[3.5]).unwrap(), 2.5);
    }
}
