//! The two distribution tails McNemar's test needs, to double precision:
//! the binomial CDF at p = 1/2 and the chi-square survival function with
//! one degree of freedom.
//!
//! Binomial terms use Loader's saddle-point form (C. Loader, "Fast and
//! accurate computation of binomial probabilities", 2000; R's `dbinom`),
//! which keeps full relative accuracy for large `n`. The chi-square tail is
//! the regularised upper incomplete gamma `Q(1/2, x/2)`, by its series
//! below `x/2 < 1.5` and by Lentz's continued fraction above (Numerical
//! Recipes §6.2).

use std::f64::consts::PI;

/// `ln sqrt(2 pi)`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln Γ(1/2) = ln sqrt(pi)`.
const LN_GAMMA_HALF: f64 = 0.572_364_942_924_700_1;

/// Stirling's error `ln n! - ln(sqrt(2 pi n) (n/e)^n)` for integer `n >= 1`.
fn stirlerr(n: u64) -> f64 {
    let nf = n as f64;
    if n <= 15 {
        let ln_fact: f64 = (2..=n).map(|i| (i as f64).ln()).sum();
        return ln_fact - LN_SQRT_2PI - (nf + 0.5) * nf.ln() + nf;
    }
    // Asymptotic series B_{2k} / (2k (2k-1) n^{2k-1}); thresholds as R.
    const S0: f64 = 1.0 / 12.0;
    const S1: f64 = 1.0 / 360.0;
    const S2: f64 = 1.0 / 1260.0;
    const S3: f64 = 1.0 / 1680.0;
    const S4: f64 = 1.0 / 1188.0;
    let nn = nf * nf;
    if n > 500 {
        (S0 - S1 / nn) / nf
    } else if n > 80 {
        (S0 - (S1 - S2 / nn) / nn) / nf
    } else if n > 35 {
        (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / nf
    } else {
        (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / nf
    }
}

/// Deviance term `x ln(x / m) + m - x`, accurate when `x` is close to `m`.
fn bd0(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let mut v = (x - m) / (x + m);
        let mut s = (x - m) * v;
        let mut ej = 2.0 * x * v;
        v *= v;
        for j in 1..1000 {
            ej *= v;
            let s1 = s + ej / (2 * j + 1) as f64;
            if s1 == s {
                return s1;
            }
            s = s1;
        }
        s
    } else {
        x * (x / m).ln() + m - x
    }
}

/// `P(X = x)` for `X ~ Binomial(n, 1/2)`.
fn dbinom_half(x: u64, n: u64) -> f64 {
    if x > n {
        return 0.0;
    }
    let nf = n as f64;
    if x == 0 || x == n {
        return (nf * 0.5f64.ln()).exp();
    }
    let xf = x as f64;
    let half = nf / 2.0;
    let lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(xf, half) - bd0(nf - xf, half);
    let lf = (2.0 * PI).ln() + xf.ln() + (-xf / nf).ln_1p();
    (lc - 0.5 * lf).exp()
}

/// `P(X <= k)` for `X ~ Binomial(n, 1/2)` (scipy `binom.cdf(k, n, 0.5)`).
pub(crate) fn binom_cdf_half(k: u64, n: u64) -> f64 {
    if k >= n {
        return 1.0;
    }
    // Smallest terms first.
    (0..=k).map(|i| dbinom_half(i, n)).sum::<f64>().min(1.0)
}

/// `P(X >= x)` for `X ~ chi-square(1)` (scipy `chi2.sf(x, 1)`).
pub(crate) fn chi2_sf_1df(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q_half(x / 2.0)
}

/// Regularised upper incomplete gamma `Q(1/2, x)` for `x > 0`.
fn gamma_q_half(x: f64) -> f64 {
    const A: f64 = 0.5;
    const EPS: f64 = 1e-17;
    const TINY: f64 = 1e-300;
    let prefactor = (-x + A * x.ln() - LN_GAMMA_HALF).exp();
    if x < A + 1.0 {
        // P(a, x) = e^-x x^a / Γ(a+1) * sum_k x^k / ((a+1)...(a+k)); Γ(a+1) = a Γ(a).
        let (mut ap, mut del) = (A, 1.0 / A);
        let mut sum = del;
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        return (1.0 - sum * prefactor).clamp(0.0, 1.0);
    }
    // Continued fraction for Q(a, x), modified Lentz.
    let mut b = x + 1.0 - A;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..1000 {
        let an = -(i as f64) * (i as f64 - A);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    (prefactor * h).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_pmf_sums_to_one_and_matches_small_cases() {
        for n in [1u64, 2, 7, 20, 101, 1000] {
            let total: f64 = (0..=n).map(|i| dbinom_half(i, n)).sum();
            assert!((total - 1.0).abs() < 1e-13, "n={n}: {total}");
        }
        // C(10, 3) / 1024 = 120 / 1024.
        assert!((dbinom_half(3, 10) / (120.0 / 1024.0) - 1.0).abs() < 1e-14);
        assert!((binom_cdf_half(1, 4) / (5.0 / 16.0) - 1.0).abs() < 1e-14);
    }

    #[test]
    fn chi2_one_df_known_values() {
        // P(chi2_1 >= 3.841458820694124) = 0.05 (the 95 % quantile).
        assert!((chi2_sf_1df(3.841_458_820_694_124) - 0.05).abs() < 1e-14);
        // x = 1: erfc(1/sqrt 2) = 0.31731050786291410.
        assert!((chi2_sf_1df(1.0) - 0.317_310_507_862_914_1).abs() < 1e-15);
        assert_eq!(chi2_sf_1df(0.0), 1.0);
    }
}
