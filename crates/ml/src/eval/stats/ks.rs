//! Two-sample Kolmogorov–Smirnov test, two-sided, as
//! `scipy.stats.ks_2samp(a, b)` with its default `method='auto'`.
//!
//! `auto` means: the exact lattice-path p-value when both samples have at
//! most 10,000 values (scipy's `MAX_AUTO_N`), else the asymptotic one,
//! which scipy takes from the finite-n one-sample distribution
//! `kstwo.sf(D, round(m n / (m + n)))` (rounded half to even, as
//! `np.round`). An exact computation that fails falls back to asymptotic.

use super::error::{StatsError, check_sample};
use super::kolmogorov::kstwo_sf;
use super::ks_exact::{prob_outside_lattice, prob_outside_square};

/// Largest sample size for which `method='auto'` computes the exact p-value
/// (scipy `ks_2samp`, `MAX_AUTO_N`).
pub const KS_MAX_EXACT_N: usize = 10_000;

/// How the p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    /// Exact distribution of the two-sample statistic (lattice paths).
    Exact,
    /// `kstwo` with the effective size `round(m n / (m + n))`.
    Asymptotic,
}

/// Result of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KsResult {
    /// `D = sup_x |F_a(x) - F_b(x)|`, in `[0, 1]`.
    pub statistic: f64,
    /// Two-sided p-value, in `[0, 1]`.
    pub pvalue: f64,
    /// Which computation gave the p-value.
    pub method: KsMethod,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Two-sided two-sample KS statistic and p-value (`scipy.stats.ks_2samp`,
/// `method='auto'`). Ties are allowed (the ECDFs are right-continuous).
///
/// # Errors
/// An empty sample or a non-finite value.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<KsResult, StatsError> {
    const WHAT: &str = "ks_2samp";
    check_sample(WHAT, "a", a)?;
    check_sample(WHAT, "b", b)?;
    let (xa, xb) = (sorted(a), sorted(b));
    let (n1, n2) = (xa.len() as u64, xb.len() as u64);
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    // Walk the distinct values of the pooled sample; at each, the ECDFs
    // count every value <= it (searchsorted side='right').
    let (mut i, mut j) = (0usize, 0usize);
    let (mut max_diff, mut min_diff) = (f64::NEG_INFINITY, f64::INFINITY);
    let mut h_num: u64 = 0; // max |i n2 - j n1|
    while i < xa.len() || j < xb.len() {
        let v = match (xa.get(i), xb.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        while i < xa.len() && xa[i] <= v {
            i += 1;
        }
        while j < xb.len() && xb[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1f - j as f64 / n2f;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
        h_num = h_num.max((i as u64 * n2).abs_diff(j as u64 * n1));
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    let d_float = if min_s > max_diff { min_s } else { max_diff };

    let g = gcd(n1, n2);
    if n1.max(n2) as usize <= KS_MAX_EXACT_N {
        let lcm = (n1 / g) * n2;
        let h = h_num / g;
        let d = h as f64 / lcm as f64;
        if h == 0 {
            return Ok(KsResult {
                statistic: d,
                pvalue: 1.0,
                method: KsMethod::Exact,
            });
        }
        let p = if n1 == n2 {
            Some(prob_outside_square(n1, h))
        } else {
            prob_outside_lattice(n1, n2, g, h)
        };
        if let Some(p) = p.filter(|p| (0.0..=1.0).contains(p)) {
            return Ok(KsResult {
                statistic: d,
                pvalue: p,
                method: KsMethod::Exact,
            });
        }
        return Ok(asymptotic(n1f, n2f, d));
    }
    Ok(asymptotic(n1f, n2f, d_float))
}

fn asymptotic(n1: f64, n2: f64, d: f64) -> KsResult {
    let (m, n) = if n1 >= n2 { (n1, n2) } else { (n2, n1) };
    let en = (m * n / (m + n)).round_ties_even().max(1.0);
    let p = kstwo_sf(en as u64, d).clamp(0.0, 1.0);
    KsResult {
        statistic: d,
        pvalue: p,
        method: KsMethod::Asymptotic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_scipy_ks_2samp() {
        let fx = Fixture::load();
        let cases = fx.cases("ks_2samp");
        assert!(cases.len() >= 8);
        let (mut exact, mut asymp) = (0, 0);
        for case in cases {
            let (a, b) = (case.sample("a"), case.sample("b"));
            let got = ks_2samp(&a, &b).unwrap();
            let name = case.name();
            let want_method = case.str("method");
            match got.method {
                KsMethod::Exact => exact += 1,
                KsMethod::Asymptotic => asymp += 1,
            }
            assert_eq!(
                format!("{:?}", got.method).to_lowercase(),
                want_method,
                "{name}"
            );
            assert_close(got.statistic, case.num("statistic"), 1e-12, &name);
            assert_close(
                got.pvalue,
                case.num("pvalue"),
                case.num_or("rtol", 1e-10),
                &name,
            );
        }
        assert!(
            exact >= 4 && asymp >= 3,
            "exact {exact}, asymptotic {asymp}"
        );
    }

    #[test]
    fn identical_samples_give_zero_and_one() {
        let a = [1.0, 2.0, 3.0];
        let r = ks_2samp(&a, &a).unwrap();
        assert_eq!((r.statistic, r.pvalue), (0.0, 1.0));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(
            ks_2samp(&[], &[1.0]),
            Err(StatsError::Empty { name: "a", .. })
        ));
        assert!(matches!(
            ks_2samp(&[1.0], &[f64::NAN]),
            Err(StatsError::NonFinite { name: "b", .. })
        ));
    }
}
