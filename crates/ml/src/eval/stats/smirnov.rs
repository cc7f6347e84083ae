//! Survival function of the one-sided one-sample Kolmogorov–Smirnov
//! statistic `D_n^+` (scipy.special.smirnov), needed by the two-sided
//! distribution in [`super::kolmogorov`].
//!
//! Birnbaum & Tingey (1951): `P(D_n^+ >= x) = x * sum_{v=0}^{floor(n(1-x))}
//! C(n,v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v)`. Every term is positive, so
//! the sum is taken in the log domain without cancellation. scipy
//! evaluates the same sum in double-double arithmetic (xsf
//! `cephes/kolmogorov.h`); in plain doubles the relative error grows like
//! `n * eps` through the log-binomials, about 1e-12 at n = 10^4.

/// Natural log of the smallest normal double (cephes `MINLOG`).
const MINLOG: f64 = -708.396_418_532_264_1;

/// Beyond this size scipy switches to an approximation (xsf
/// `SMIRNOV_MAX_COMPUTE_N`).
const MAX_COMPUTE_N: u64 = 1_000_000;

/// `n * x` split exactly into `floor` and fractional part `alpha` in `[0, 1)`.
fn mod_nx(n: u64, x: f64) -> (u64, f64) {
    let nf = n as f64;
    let p = nf * x;
    let e = nf.mul_add(x, -p); // exact residual of the product
    let mut fl = p.floor();
    let mut alpha = (p - fl) + e;
    if alpha < 0.0 {
        fl -= 1.0;
        alpha += 1.0;
    }
    if alpha >= 1.0 {
        fl += 1.0;
        alpha -= 1.0;
    }
    (fl.max(0.0) as u64, alpha)
}

/// `P(D_n^+ >= x)` for `n >= 1`, `0 <= x <= 1`; NaN outside that domain.
pub(crate) fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let (nxfl, alpha) = mod_nx(n, x);
    // x <= 1/n: closed form of the lower tail.
    if nxfl == 0 || (nxfl == 1 && alpha == 0.0) {
        let cdf = x * (1.0 + x).powi((n - 1) as i32);
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    if -2.0 * nf * x * x < MINLOG {
        return 0.0;
    }
    if nxfl + 1 >= n {
        return (1.0 - x).powf(nf).clamp(0.0, 1.0);
    }
    if n > MAX_COMPUTE_N {
        // p ~ exp(-(6nx+1)^2 / 18n), as scipy.
        let logp = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        let sf = if logp < -std::f64::consts::LN_2 {
            logp.exp()
        } else {
            1.0 - (-logp.exp_m1())
        };
        return sf.clamp(0.0, 1.0);
    }
    // Terms v = 0 ..= last, strictly below n (1 - x).
    // (scipy's two alpha cases both come to n - nxfl - 1.)
    let last = n - nxfl - 1;
    let ln_n = nf.ln();
    let nxf = nxfl as f64;
    let mut logs = Vec::with_capacity(last as usize + 1);
    let mut ln_binom = 0.0f64;
    for v in 0..=last {
        if v > 0 {
            ln_binom += ((n - v + 1) as f64).ln() - (v as f64).ln();
        }
        let vf = v as f64;
        // x + v/n = (nxfl + v + alpha)/n ; 1 - x - v/n = (n - v - nxfl - alpha)/n
        let up = (nxf + vf + alpha).ln() - ln_n;
        let down = ((n - v - nxfl) as f64 - alpha).ln() - ln_n;
        logs.push(ln_binom + (vf - 1.0) * up + (nf - vf) * down);
    }
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = logs.iter().map(|l| (l - max).exp()).sum();
    (x * max.exp() * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_of_n_times_x_is_exact() {
        // 0.3 is stored as 0.29999999999999998889..., so 10 * 0.3 lies just
        // below 3 (scipy's double-double split agrees): floor 2, alpha ~ 1.
        let (fl, a) = mod_nx(10, 0.3);
        assert_eq!(fl, 2);
        assert!(a < 1.0 && 1.0 - a < 1e-15);
        assert_eq!(mod_nx(4, 0.5), (2, 0.0));
    }

    #[test]
    fn known_small_cases() {
        // n = 2: P(D+ >= x) = 1 - x(1+x) - ... exact: for 1/2 <= x <= 1, (1-x)^2.
        assert!((smirnov_sf(2, 0.75) - 0.0625).abs() < 1e-15);
        assert!((smirnov_sf(1, 0.3) - 0.7).abs() < 1e-15);
        assert!(smirnov_sf(0, 0.3).is_nan());
    }
}
