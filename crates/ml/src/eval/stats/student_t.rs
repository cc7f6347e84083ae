//! Student's t distribution: CDF, two-sided tail and quantile, for Welch's
//! and the paired t-test (issues 22, 23).
//!
//! The tail is the regularised incomplete beta
//! `P(T > |t|) = ½ I_x(ν/2, ½)` with `x = ν / (ν + t²)`, evaluated by
//! Lentz's continued fraction (Numerical Recipes, 3rd ed., §6.4, `betacf`).
//! `ln B(a, b)` uses Stirling's series for arguments ≥ 10 (as R's `lbeta`)
//! so large degrees of freedom keep full precision; below that, Lanczos'
//! `ln Γ`. Where `x` is close to 1 the symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)`
//! is applied with `1 − x = t² / (ν + t²)` computed directly, never as a
//! difference. `ν = ∞` is the standard normal (through the χ²₁ tail of
//! [`super::special`]). Checked against mpmath at 40 digits (and scipy) by
//! `tests/fixtures/stats/make_student_t.py` (`student_t.json`).
//!
//! From `ν = 10⁴` on, the continued fraction's odd terms cancel near
//! `x = 1` (an error growing about as `ν · 3e-18`), so the tail is Hill's
//! normalising transformation there ([`hill_tail`]), accurate to `O(ν⁻³)`.
//! Relative error of the tail against mpmath: below 1e-12 throughout the
//! fixture's grid (`ν` from 1 to 10⁷, `|t|` to 12); `ν = ∞` is exact to
//! double precision.
//!
//! Invalid arguments (`ν ≤ 0`, NaN) give NaN: these are scalar special
//! functions, like `f64::ln`, and their callers check their own inputs.

use super::special::chi2_sf_1df;

/// `ln sqrt(2 pi)`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Relative tolerance of the continued fraction.
const CF_EPS: f64 = 1e-16;

/// Smallest magnitude Lentz's method lets a denominator take.
const CF_TINY: f64 = 1e-300;

/// Lanczos coefficients, g = 7, n = 9 (Godfrey; the set used by many
/// `lgamma` implementations), accurate to ~1e-15 relative for x > 0.
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// `ln Γ(x)` for `x > 0` by Lanczos' approximation.
fn ln_gamma(x: f64) -> f64 {
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series: f64 = LANCZOS[1..]
        .iter()
        .enumerate()
        .map(|(i, c)| c / (x + (i + 1) as f64))
        .sum::<f64>()
        + LANCZOS[0];
    LN_SQRT_2PI + (x + 0.5) * t.ln() - t + series.ln()
}

/// Stirling's remainder `ln Γ(x) − ((x − ½) ln x − x + ln √(2π))` for
/// `x ≥ 10`: the series `Σ B₂ₖ / (2k (2k − 1) x^{2k−1})`, seven terms
/// (the eighth is below 1e-16 at x = 10).
fn ln_gamma_correction(x: f64) -> f64 {
    const C: [f64; 7] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
    ];
    let x2 = 1.0 / (x * x);
    let mut sum = 0.0;
    for c in C.iter().rev() {
        sum = sum * x2 + c;
    }
    sum / x
}

/// `ln B(a, b)` for `a, b > 0`, precise when one or both are large.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (p, q) = if a < b { (a, b) } else { (b, a) };
    if p >= 10.0 {
        let corr = ln_gamma_correction(p) + ln_gamma_correction(q) - ln_gamma_correction(p + q);
        -0.5 * q.ln()
            + LN_SQRT_2PI
            + corr
            + (p - 0.5) * (p / (p + q)).ln()
            + q * (-p / (p + q)).ln_1p()
    } else if q >= 10.0 {
        let corr = ln_gamma_correction(q) - ln_gamma_correction(p + q);
        ln_gamma(p) + corr + p - p * (p + q).ln() + (q - 0.5) * (-p / (p + q)).ln_1p()
    } else {
        ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
    }
}

/// Lentz's continued fraction for `I_x(a, b)` (NR §6.4 `betacf`, `y = 1 − x`);
/// converges fast for `x < (a + 1) / (a + b + 2)`, in about `√max(a, b)`
/// steps. Its first term `1 − (a + b)x/(a + 1)` is formed, for `x` near 1,
/// as `(1 − b + (a + b)y)/(a + 1)`, which does not cancel when `a` is
/// large; the later odd terms still do, which bounds the accuracy at large
/// `ν` (module doc).
fn beta_cf(a: f64, b: f64, x: f64, y: f64) -> f64 {
    let max_iter = 1000 + 20 * (a.max(b).sqrt() as usize);
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let clamp = |v: f64| if v.abs() < CF_TINY { CF_TINY } else { v };
    let mut c = 1.0;
    let first = if x < 0.5 {
        1.0 - qab * x / qap
    } else {
        (1.0 - b + qab * y) / qap
    };
    let mut d = 1.0 / clamp(first);
    let mut h = d;
    for m in 1..=max_iter {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / clamp(1.0 + aa * d);
        c = clamp(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / clamp(1.0 + aa * d);
        c = clamp(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < CF_EPS {
            break;
        }
    }
    h
}

/// A point of (0, 1) with its complement and both logarithms, each
/// computed without cancellation by the caller: with `a` in the millions,
/// `a·ln x` from a rounded `x` near 1 would lose ten digits.
#[derive(Debug, Clone, Copy)]
struct Split {
    x: f64,
    y: f64,
    ln_x: f64,
    ln_y: f64,
}

/// Regularised incomplete beta `I_x(a, b)` at `p.x` (`p.y = 1 − x`).
fn reg_inc_beta(a: f64, b: f64, p: Split) -> f64 {
    let Split { x, y, ln_x, ln_y } = p;
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let ln_front = a * ln_x + b * ln_y - ln_beta(a, b);
    if x < (a + 1.0) / (a + b + 2.0) {
        (ln_front.exp() * beta_cf(a, b, x, y) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - ln_front.exp() * beta_cf(b, a, y, x) / b).clamp(0.0, 1.0)
    }
}

/// From this many degrees of freedom on, the tail is Hill's normalising
/// expansion ([`hill_tail`]) instead of the continued fraction.
const HILL_DF: f64 = 1e4;

/// `P(T > |t|)` for large `ν` by Hill's transformation (G. W. Hill,
/// "Algorithm 395: Student's t-distribution", CACM 13(10), 1970): with
/// `a = ν − ½`, `b = 48a²` and `z² = a·ln(1 + t²/ν)`, the variable
/// `y = z + (z³ + 3z)/b − (4z⁷ + 33z⁵ + 240z³ + 855z)/(10b(b + 0.8z⁴ + 100))`
/// is standard normal to `O(a⁻³)`: against mpmath, relative error below
/// 1e-13 for `ν ≥ 10⁴` and `|t| ≤ 12`.
fn hill_tail(t: f64, df: f64) -> f64 {
    let a = df - 0.5;
    let b = 48.0 * a * a;
    let z2 = a * (t * t / df).ln_1p();
    let poly = ((-0.4 * z2 - 3.3) * z2 - 24.0) * z2 - 85.5;
    let y = ((poly / (0.8 * z2 * z2 + 100.0 + b) + z2 + 3.0) / b + 1.0) * z2.sqrt();
    0.5 * chi2_sf_1df(y * y)
}

/// One-sided tail `P(T > |t|)` for `T ~ t(ν)`; `ν` finite and positive.
fn upper_tail_abs(t: f64, df: f64) -> f64 {
    let t2 = t * t;
    if t2 == 0.0 {
        return 0.5;
    }
    if t2.is_infinite() {
        return 0.0;
    }
    if df >= HILL_DF {
        return hill_tail(t, df);
    }
    // x = ν / (ν + t²), 1 − x = t² / (ν + t²), from the smaller ratio.
    let p = if t2 < df {
        let r = t2 / df;
        let l = r.ln_1p();
        Split {
            x: 1.0 / (1.0 + r),
            y: r / (1.0 + r),
            ln_x: -l,
            ln_y: r.ln() - l,
        }
    } else {
        let r = df / t2;
        let l = r.ln_1p();
        Split {
            x: r / (1.0 + r),
            y: 1.0 / (1.0 + r),
            ln_x: r.ln() - l,
            ln_y: -l,
        }
    };
    0.5 * reg_inc_beta(df / 2.0, 0.5, p)
}

/// `P(T > |t|)`, NaN for bad arguments, the normal tail for `ν = ∞`.
fn tail(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df.is_infinite() {
        return if t.is_infinite() {
            0.0
        } else {
            0.5 * chi2_sf_1df(t * t)
        };
    }
    upper_tail_abs(t, df)
}

/// `P(T ≤ t)` for `T ~ t(ν)` (scipy `stats.t.cdf(t, df)`); `df` may be
/// fractional (Welch–Satterthwaite) or `f64::INFINITY` (normal). NaN when
/// `df ≤ 0` or either argument is NaN.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let p = tail(t, df);
    if t > 0.0 { 1.0 - p } else { p }
}

/// Two-sided p-value `P(|T| ≥ |t|) = 2 P(T > |t|)` (scipy
/// `2 * stats.t.sf(abs(t), df)`), accurate in the far tail. NaN when
/// `df ≤ 0` or either argument is NaN.
pub fn t_sf_two_sided(t: f64, df: f64) -> f64 {
    (2.0 * tail(t, df)).min(1.0)
}

/// The `p` quantile of `t(ν)` (scipy `stats.t.ppf(p, df)`): `−∞` at 0,
/// `+∞` at 1, NaN outside [0, 1] or for `df ≤ 0`. Bisection on the
/// lower tail (for `p > ½` by symmetry, `1 − p` being exact there), which
/// converges to adjacent floats.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    if p > 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    // Find |t| with tail(|t|) = p: bracket by doubling, then bisect.
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    while tail(hi, df) > p {
        lo = hi;
        hi *= 2.0;
        if hi.is_infinite() {
            return f64::NEG_INFINITY;
        }
    }
    for _ in 0..2_000 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if tail(mid, df) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    -0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn fixture() -> Value {
        let text = include_str!("../../../../../tests/fixtures/stats/student_t.json");
        serde_json::from_str(text).expect("student_t.json parses")
    }

    fn num(v: &Value) -> f64 {
        match v {
            Value::String(s) if s == "inf" => f64::INFINITY,
            Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
            _ => v.as_f64().expect("number"),
        }
    }

    fn close(got: f64, want: f64, rtol: f64, what: &str) {
        let ok = got == want || (got - want).abs() <= rtol * want.abs().max(1e-300);
        assert!(ok, "{what}: got {got:e}, want {want:e}");
    }

    #[test]
    fn cdf_and_two_sided_tail_match_scipy() {
        let f = fixture();
        let cases = f["cdf"].as_array().expect("cdf cases");
        assert!(cases.len() > 50);
        for c in cases {
            let (t, df) = (num(&c["t"]), num(&c["df"]));
            let what = format!("t={t} df={df}");
            let tol = 1e-12;
            close(t_cdf(t, df), num(&c["cdf"]), tol, &format!("cdf {what}"));
            close(
                t_sf_two_sided(t, df),
                num(&c["sf2"]),
                tol,
                &format!("sf2 {what}"),
            );
        }
    }

    #[test]
    fn quantile_matches_scipy() {
        let f = fixture();
        for c in f["ppf"].as_array().expect("ppf cases") {
            let (p, df) = (num(&c["p"]), num(&c["df"]));
            close(
                t_quantile(p, df),
                num(&c["ppf"]),
                1e-11,
                &format!("ppf p={p} df={df}"),
            );
        }
    }

    #[test]
    fn quantile_inverts_cdf_and_edges_are_defined() {
        for df in [1.0, 2.5, 7.0, 60.0, 1e6] {
            for p in [1e-12, 0.01, 0.3, 0.8, 0.975] {
                let t = t_quantile(p, df);
                close(t_cdf(t, df), p, 1e-10, &format!("p={p} df={df}"));
            }
        }
        assert_eq!(t_quantile(0.0, 3.0), f64::NEG_INFINITY);
        assert_eq!(t_quantile(1.0, 3.0), f64::INFINITY);
        assert_eq!(t_quantile(0.5, 3.0), 0.0);
        assert!(t_quantile(1.5, 3.0).is_nan());
        assert!(t_cdf(1.0, 0.0).is_nan());
        assert!(t_cdf(f64::NAN, 3.0).is_nan());
        assert_eq!(t_cdf(f64::INFINITY, 3.0), 1.0);
        assert_eq!(t_sf_two_sided(0.0, 3.0), 1.0);
    }

    #[test]
    fn ln_beta_agrees_across_its_branches() {
        // Γ(½)² / Γ(1) = π.
        close(
            ln_beta(0.5, 0.5),
            std::f64::consts::PI.ln(),
            1e-14,
            "B(.5,.5)",
        );
        // B(a, 1) = 1 / a, on both sides of the Stirling threshold.
        for a in [3.0, 9.99, 10.0, 250.0, 1e7] {
            close(ln_beta(a, 1.0), -f64::ln(a), 1e-12, &format!("B({a},1)"));
        }
        close(
            ln_beta(12.0, 15.0),
            ln_gamma(12.0) + ln_gamma(15.0) - ln_gamma(27.0),
            1e-13,
            "B(12,15)",
        );
    }
}
