//! Paired bootstrap of a difference in semantic diversity between two
//! policies that answered the same prompts (App. B.2).
//!
//! Method (B.2). `SemDiv` of a set of responses is the mean pairwise cosine
//! distance of their embeddings ([`super::semantic_diversity`]). One
//! resample draws `n` prompt indices with replacement ([`SplitMix64`] seeded
//! by `seed`) and applies them to *both* policies (the pairing); each
//! policy's `SemDiv*` is the mean distance over the pairs `a < b` of
//! resampled positions whose indices differ — pairs of equal resampled
//! indices are excluded, since a response's distance to itself is 0, not a
//! measure of diversity. With `c_i` copies of index `i` in the resample this
//! is `Σ_{i<j} c_i c_j D_ij / Σ_{i<j} c_i c_j`. The statistic is
//! `d* = SemDiv*(policy) - SemDiv*(baseline)`; the CI is the percentile
//! interval (`np.quantile`, linear), and the two-sided p-value is
//! `p = 2 · min(P(d* ≤ 0), P(d* ≥ 0))`, capped at 1, with `P` the fraction
//! of resamples (so `p` is 0 when every resample falls on one side).

use super::bootstrap::quantile_sorted;
use super::error::{StatsError, check_finite, check_resampling};
use crate::util::rng::SplitMix64;

/// Settings of the paired bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SemDivConfig {
    /// Resamples (B.2: 1,000), 1..=10^6.
    pub resamples: usize,
    /// Confidence level in (0, 1) (B.2: 0.95).
    pub level: f64,
    /// Seed of the resampling stream.
    pub seed: u64,
}

/// The result of [`semdiv_paired_bootstrap`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SemDivDiff {
    /// `SemDiv` of the policy on all prompts.
    pub semdiv: f64,
    /// `SemDiv` of the baseline on all prompts.
    pub semdiv_baseline: f64,
    /// `semdiv - semdiv_baseline`.
    pub diff: f64,
    /// Mean of `d*` over the resamples.
    pub boot_mean: f64,
    /// Lower end of the percentile interval of `d*`.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// `2 · min(P(d* ≤ 0), P(d* ≥ 0))`, at most 1.
    pub pvalue: f64,
    /// Resamples.
    pub resamples: usize,
    /// Confidence level.
    pub level: f64,
}

/// Pairwise cosine distances `[n·n]` of the rows of `emb` `[n, dim]`.
fn distances(
    what: &'static str,
    name: &'static str,
    emb: &[f64],
    dim: usize,
) -> Result<Vec<f64>, StatsError> {
    check_finite(what, name, emb)?;
    let n = emb.len() / dim;
    let mut unit = Vec::with_capacity(emb.len());
    for row in emb.chunks_exact(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(StatsError::Undefined {
                what,
                reason: "an embedding row is all zeros",
            });
        }
        unit.extend(row.iter().map(|x| x / norm));
    }
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let cos: f64 = unit[i * dim..(i + 1) * dim]
                .iter()
                .zip(&unit[j * dim..(j + 1) * dim])
                .map(|(a, b)| a * b)
                .sum();
            d[i * n + j] = 1.0 - cos;
            d[j * n + i] = 1.0 - cos;
        }
    }
    Ok(d)
}

/// Mean of `d` over pairs of distinct indices weighted by their counts.
fn weighted_mean(d: &[f64], n: usize, distinct: &[usize], counts: &[u32]) -> f64 {
    let (mut total, mut pairs) = (0.0, 0.0);
    for (a, &i) in distinct.iter().enumerate() {
        let ci = f64::from(counts[i]);
        for &j in &distinct[a + 1..] {
            let w = ci * f64::from(counts[j]);
            total += w * d[i * n + j];
            pairs += w;
        }
    }
    total / pairs
}

/// Paired bootstrap of `SemDiv(policy) - SemDiv(baseline)`; `policy` and
/// `baseline` are row-major `[n, dim]` embeddings, row `i` of each the
/// response to prompt `i`.
///
/// # Errors
/// `dim = 0` or not dividing the lengths, different row counts, fewer than
/// two rows, a non-finite value or an all-zero row, or a bad config.
pub fn semdiv_paired_bootstrap(
    policy: &[f64],
    baseline: &[f64],
    dim: usize,
    config: SemDivConfig,
) -> Result<SemDivDiff, StatsError> {
    const WHAT: &str = "semdiv_paired_bootstrap";
    if dim == 0 || !policy.len().is_multiple_of(dim) || policy.len() != baseline.len() {
        return Err(StatsError::BadParameter {
            what: WHAT,
            name: "dim",
            expected: "> 0 and dividing both embedding lengths, which must be equal",
            found: dim as f64,
        });
    }
    let n = policy.len() / dim;
    if n < 2 {
        return Err(StatsError::TooFew {
            what: WHAT,
            name: "policy",
            needed: 2,
            found: n,
        });
    }
    check_resampling(
        WHAT,
        config.resamples,
        1_000_000,
        "1..=1000000",
        config.level,
    )?;
    let dp = distances(WHAT, "policy", policy, dim)?;
    let db = distances(WHAT, "baseline", baseline, dim)?;
    let all: Vec<usize> = (0..n).collect();
    let ones = vec![1u32; n];
    let semdiv = weighted_mean(&dp, n, &all, &ones);
    let semdiv_baseline = weighted_mean(&db, n, &all, &ones);
    let mut rng = SplitMix64::new(config.seed);
    let mut counts = vec![0u32; n];
    let mut boot = Vec::with_capacity(config.resamples);
    let (mut le, mut ge) = (0usize, 0usize);
    for _ in 0..config.resamples {
        counts.iter_mut().for_each(|c| *c = 0);
        for _ in 0..n {
            counts[rng.below(n as u64) as usize] += 1;
        }
        let distinct: Vec<usize> = (0..n).filter(|&i| counts[i] > 0).collect();
        // One distinct index leaves no pair: d* is undefined; count it as 0
        // (no difference) — only possible for tiny n.
        let d = if distinct.len() < 2 {
            0.0
        } else {
            weighted_mean(&dp, n, &distinct, &counts) - weighted_mean(&db, n, &distinct, &counts)
        };
        le += usize::from(d <= 0.0);
        ge += usize::from(d >= 0.0);
        boot.push(d);
    }
    let b = config.resamples as f64;
    let boot_mean = boot.iter().sum::<f64>() / b;
    boot.sort_by(f64::total_cmp);
    Ok(SemDivDiff {
        semdiv,
        semdiv_baseline,
        diff: semdiv - semdiv_baseline,
        boot_mean,
        ci_low: quantile_sorted(&boot, (1.0 - config.level) / 2.0),
        ci_high: quantile_sorted(&boot, (1.0 + config.level) / 2.0),
        pvalue: (2.0 * (le.min(ge) as f64) / b).min(1.0),
        resamples: config.resamples,
        level: config.level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};
    use crate::eval::stats::semantic_diversity;

    #[test]
    fn matches_the_numpy_mirror() {
        let fx = Fixture::load_eval();
        let cases = fx.cases("semdiv_bootstrap");
        assert!(cases.len() >= 2);
        for case in cases {
            let name = case.name();
            let dim = case.int("dim") as usize;
            let (p, b) = (case.sample("policy"), case.sample("baseline"));
            let cfg = SemDivConfig {
                resamples: case.int("resamples") as usize,
                level: case.num("level"),
                seed: case.int("seed"),
            };
            let r = semdiv_paired_bootstrap(&p, &b, dim, cfg).unwrap();
            assert_close(r.semdiv, case.num("semdiv"), 1e-12, &name);
            assert_close(r.semdiv_baseline, case.num("semdiv_baseline"), 1e-12, &name);
            assert_close(r.semdiv, semantic_diversity(&p, dim).unwrap(), 1e-12, &name);
            assert_close(r.diff, case.num("diff"), 1e-10, &name);
            assert_close(r.boot_mean, case.num("boot_mean"), 1e-9, &name);
            assert_close(r.ci_low, case.num("ci_low"), 1e-9, &name);
            assert_close(r.ci_high, case.num("ci_high"), 1e-9, &name);
            assert_eq!(r.pvalue, case.num("pvalue"), "{name}");
        }
    }

    #[test]
    fn identical_policies_differ_by_nothing_and_bad_input_is_refused() {
        let e: Vec<f64> = (0..12).map(|i| ((i * 7) % 5) as f64 - 1.5).collect();
        let cfg = SemDivConfig {
            resamples: 50,
            level: 0.95,
            seed: 3,
        };
        let r = semdiv_paired_bootstrap(&e, &e, 3, cfg).unwrap();
        assert_eq!((r.diff, r.ci_low, r.ci_high), (0.0, 0.0, 0.0));
        // Every d* is 0: both one-sided fractions are 1, p capped at 1.
        assert_eq!(r.pvalue, 1.0);
        assert!(semdiv_paired_bootstrap(&e, &e[..9], 3, cfg).is_err());
        assert!(semdiv_paired_bootstrap(&e[..3], &e[..3], 3, cfg).is_err());
        let mut z = e.clone();
        z[..3].copy_from_slice(&[0.0; 3]);
        assert!(semdiv_paired_bootstrap(&z, &e, 3, cfg).is_err());
    }
}
