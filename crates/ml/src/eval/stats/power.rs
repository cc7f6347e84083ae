//! Power of the two-sided paired t-test (issue 22): what an effect of a
//! given size would have been seen with, the smallest effect detectable at
//! a chosen power, and the seeds needed for a given effect. "Within noise"
//! is a finding only with these beside it.
//!
//! Under an effect `δ` with per-seed sd `σ`, `t = d̄ / (s/√n)` follows the
//! non-central t with `n − 1` degrees of freedom and non-centrality
//! `λ = √n · δ/σ`: `T = (Z + λ) / S` with `Z` standard normal and
//! `S = χ_{n−1} / √(n − 1)` independent. So
//! `power = E_S[Φ(λ − c·S) + Φ(−λ − c·S)]` with `c` the two-sided critical
//! value; the expectation is a one-dimensional integral over the χ density,
//! done here by composite Simpson on ±12 around its mode (the weight is
//! normalised numerically, so no Γ function is needed). Checked against
//! `scipy.stats.nct` by `tests/fixtures/stats/make_paired.py` and against a
//! simulation of 10,000 draws in the tests below.

use super::error::StatsError;
use super::student_t::{t_cdf, t_quantile};

/// Simpson intervals of the χ integral (even).
const INTERVALS: usize = 4000;

/// The largest number of seeds [`paired_t_seeds_needed`] searches.
pub const MAX_SEEDS: usize = 1_000_000;

/// The standard normal CDF (Student's t with infinite degrees of freedom).
fn phi(z: f64) -> f64 {
    t_cdf(z, f64::INFINITY)
}

fn check(n: usize, alpha: f64) -> Result<(), StatsError> {
    const WHAT: &str = "paired_t_power";
    if n < 2 {
        return Err(StatsError::TooFew {
            what: WHAT,
            name: "seeds",
            needed: 2,
            found: n,
        });
    }
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(StatsError::BadParameter {
            what: WHAT,
            name: "alpha",
            expected: "0 < alpha < 1",
            found: alpha,
        });
    }
    Ok(())
}

/// Power of the two-sided paired t-test at level `alpha` with `n` seeds
/// against a standardised effect `effect = δ/σ` (its sign does not matter).
///
/// # Errors
/// Fewer than 2 seeds, `alpha` outside (0, 1), or a non-finite effect.
pub fn paired_t_power(n: usize, effect: f64, alpha: f64) -> Result<f64, StatsError> {
    check(n, alpha)?;
    if !effect.is_finite() {
        return Err(StatsError::NonFinite {
            what: "paired_t_power",
            name: "effect",
            index: 0,
            value: effect,
        });
    }
    let df = (n - 1) as f64;
    let c = t_quantile(1.0 - alpha / 2.0, df);
    let lambda = (n as f64).sqrt() * effect.abs();
    // χ_df density ∝ x^{df−1} e^{−x²/2}, mode √(df − 1); log weights
    // relative to the mode keep every df in range.
    let mode = (df - 1.0).max(0.0).sqrt();
    let log_w = |x: f64| {
        let log_mode = if mode > 0.0 { mode.ln() } else { 0.0 };
        let poly = if df > 1.0 {
            (df - 1.0) * (x.ln() - log_mode)
        } else {
            0.0
        };
        poly - (x * x - mode * mode) / 2.0
    };
    let (lo, hi) = ((mode - 12.0).max(0.0), mode + 12.0);
    let h = (hi - lo) / INTERVALS as f64;
    let (mut mass, mut hit) = (0.0, 0.0);
    for i in 0..=INTERVALS {
        let x = lo + h * i as f64;
        let simpson = if i == 0 || i == INTERVALS {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let w = if x > 0.0 || df <= 1.0 {
            simpson * log_w(x).exp()
        } else {
            0.0
        };
        let s = x / df.sqrt();
        mass += w;
        hit += w * (phi(lambda - c * s) + phi(-lambda - c * s));
    }
    Ok((hit / mass).clamp(0.0, 1.0))
}

/// The smallest standardised effect `δ/σ` that the two-sided paired t-test
/// at `alpha` detects with probability `power` with `n` seeds.
///
/// # Errors
/// As [`paired_t_power`], or `power` outside (alpha, 1).
pub fn paired_t_detectable(n: usize, alpha: f64, power: f64) -> Result<f64, StatsError> {
    check(n, alpha)?;
    if !(power > alpha && power < 1.0) {
        return Err(StatsError::BadParameter {
            what: "paired_t_detectable",
            name: "power",
            expected: "alpha < power < 1",
            found: power,
        });
    }
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while paired_t_power(n, hi, alpha)? < power {
        hi *= 2.0;
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if paired_t_power(n, mid, alpha)? < power {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

/// The fewest seeds (≥ 2) with which the two-sided paired t-test at
/// `alpha` detects the standardised effect `effect` with probability
/// `power`; `None` for a zero effect or beyond [`MAX_SEEDS`].
///
/// # Errors
/// `alpha` or `power` out of range, or a non-finite effect.
pub fn paired_t_seeds_needed(
    effect: f64,
    alpha: f64,
    power: f64,
) -> Result<Option<usize>, StatsError> {
    // Validates alpha, power and the effect once.
    paired_t_detectable(2, alpha, power)?;
    paired_t_power(2, effect, alpha)?;
    if effect == 0.0 {
        return Ok(None);
    }
    let enough = |n: usize| paired_t_power(n, effect, alpha).map(|p| p >= power);
    let mut hi = 2;
    while !enough(hi)? {
        if hi >= MAX_SEEDS {
            return Ok(None);
        }
        hi = (hi * 2).min(MAX_SEEDS);
    }
    if hi == 2 {
        return Ok(Some(2));
    }
    // The previous doubling fell short: enough(hi), not enough(lo).
    let mut lo = hi / 2;
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if enough(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Some(hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;
    use serde_json::Value;

    #[test]
    fn matches_scipy_noncentral_t() {
        let doc: Value = serde_json::from_str(include_str!(
            "../../../../../tests/fixtures/stats/paired.json"
        ))
        .unwrap();
        let cases = doc["power"].as_array().unwrap();
        assert!(cases.len() >= 6);
        for c in cases {
            let n = c["n"].as_u64().unwrap() as usize;
            let d = c["effect"].as_f64().unwrap();
            let want = c["power"].as_f64().unwrap();
            let got = paired_t_power(n, d, 0.05).unwrap();
            assert!((got - want).abs() < 1e-8, "n {n} d {d}: {got} vs {want}");
        }
        for c in doc["detectable"].as_array().unwrap() {
            let n = c["n"].as_u64().unwrap() as usize;
            let want = c["effect"].as_f64().unwrap();
            let got = paired_t_detectable(n, 0.05, 0.8).unwrap();
            assert!((got - want).abs() < 1e-6, "n {n}: {got} vs {want}");
        }
    }

    /// The power with 5 seeds against δ/σ = 1.5, checked by drawing 10,000
    /// samples of 5 normal differences and counting rejections.
    #[test]
    fn agrees_with_a_simulation_of_10000_draws() {
        let (n, effect, draws) = (5usize, 1.5, 10_000);
        let want = paired_t_power(n, effect, 0.05).unwrap();
        let c = t_quantile(0.975, (n - 1) as f64);
        let mut rng = SplitMix64::new(2026);
        let mut hits = 0;
        for _ in 0..draws {
            let d: Vec<f64> = (0..n).map(|_| effect + rng.normal()).collect();
            let mean = d.iter().sum::<f64>() / n as f64;
            let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            if (mean / (var / n as f64).sqrt()).abs() > c {
                hits += 1;
            }
        }
        let got = hits as f64 / draws as f64;
        // 3.5 binomial SE of 10,000 draws.
        let tol = 3.5 * (want * (1.0 - want) / draws as f64).sqrt();
        assert!((got - want).abs() < tol, "simulated {got}, computed {want}");
    }

    #[test]
    fn seeds_needed_is_the_first_that_reaches_the_power() {
        for effect in [0.3, 1.0, 2.5] {
            let n = paired_t_seeds_needed(effect, 0.05, 0.8).unwrap().unwrap();
            assert!(paired_t_power(n, effect, 0.05).unwrap() >= 0.8);
            if n > 2 {
                assert!(paired_t_power(n - 1, effect, 0.05).unwrap() < 0.8);
            }
        }
        assert_eq!(paired_t_seeds_needed(0.0, 0.05, 0.8).unwrap(), None);
        // Power at no effect is alpha.
        assert!((paired_t_power(7, 0.0, 0.05).unwrap() - 0.05).abs() < 1e-9);
        assert!(paired_t_power(1, 1.0, 0.05).is_err());
        assert!(paired_t_detectable(3, 0.05, 0.01).is_err());
    }
}
