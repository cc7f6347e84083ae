//! A baseline → fair effect on the paper's scale (issue 22): the relative
//! change `(fair − baseline) / baseline` of paired means, with Fieller's
//! interval for the ratio `θ = μ_fair / μ_baseline` (Fieller 1954), minus 1.
//!
//! Fieller's set is `{θ : (f̄ − θ b̄)² ≤ q · (s_ff − 2θ s_fb + θ² s_bb)}` with
//! `q = t²_{(1+level)/2, n−1} / n` and the sample (co)variances of the seeds.
//! It takes the baseline's own spread into account, and it holds θ = 1 (no
//! change) exactly when the paired t-test of `f − b` does not reject at the
//! same level, so the relative interval and the p-value never disagree about
//! zero. When the baseline mean itself is not distinguishable from 0
//! (`b̄² ≤ q s_bb`) the set is unbounded and no relative change is reported.

use super::error::StatsError;
use super::paired::paired_difference;
use super::student_t::t_quantile;

/// A relative change with its interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RelativeChange {
    /// `(f̄ − b̄) / b̄`.
    pub estimate: f64,
    /// Fieller's interval minus 1, low end; `None` when unbounded.
    pub low: Option<f64>,
    /// High end; `None` when unbounded.
    pub high: Option<f64>,
}

impl RelativeChange {
    /// Whether the interval holds `x` (an unbounded interval holds anything).
    pub fn holds(&self, x: f64) -> bool {
        match (self.low, self.high) {
            (Some(lo), Some(hi)) => lo <= x && x <= hi,
            _ => true,
        }
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn cov(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (a.len() - 1) as f64
}

/// The relative change of `fair` against `baseline` (aligned by seed) with
/// Fieller's `level` interval.
///
/// # Errors
/// Fewer than 2 seeds, unequal or non-finite samples, `level` outside (0, 1),
/// or a baseline mean of exactly 0 (no relative change is defined).
pub fn relative_change(
    baseline: &[f64],
    fair: &[f64],
    level: f64,
) -> Result<RelativeChange, StatsError> {
    const WHAT: &str = "relative_change";
    let d = paired_difference(baseline, fair)?;
    if d.n < 2 {
        return Err(StatsError::TooFew {
            what: WHAT,
            name: "seeds",
            needed: 2,
            found: d.n,
        });
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(StatsError::BadParameter {
            what: WHAT,
            name: "level",
            expected: "0 < level < 1",
            found: level,
        });
    }
    let (mb, mf) = (mean(baseline), mean(fair));
    if mb == 0.0 {
        return Err(StatsError::Undefined {
            what: WHAT,
            reason: "the baseline mean is 0",
        });
    }
    let t = t_quantile(0.5 + level / 2.0, (d.n - 1) as f64);
    let q = t * t / d.n as f64;
    let (sbb, sff, sfb) = (
        cov(baseline, baseline),
        cov(fair, fair),
        cov(fair, baseline),
    );
    let a = mb * mb - q * sbb;
    let b = mf * mb - q * sfb;
    let c = mf * mf - q * sff;
    let estimate = mf / mb - 1.0;
    if a <= 0.0 {
        return Ok(RelativeChange {
            estimate,
            low: None,
            high: None,
        });
    }
    // a > 0 and the quadratic is ≤ 0 at θ̂ = f̄/b̄, so the discriminant is ≥ 0.
    let root = (b * b - a * c).max(0.0).sqrt();
    let (lo, hi) = ((b - root) / a, (b + root) / a);
    Ok(RelativeChange {
        estimate,
        low: Some(lo - 1.0),
        high: Some(hi - 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::paired_t_test;

    #[test]
    fn holds_zero_exactly_when_the_t_test_does_not_reject() {
        let cases: [(&[f64], &[f64]); 4] = [
            (
                &[0.43, 0.41, 0.47, 0.45, 0.40],
                &[0.10, 0.14, 0.12, 0.09, 0.11],
            ),
            (
                &[0.146, 0.140, 0.152, 0.139, 0.160],
                &[0.135, 0.206, 0.140, 0.171, 0.120],
            ),
            (&[1.0, 2.0, 3.0], &[1.2, 1.9, 3.4]),
            (&[2.0, 2.1, 1.9], &[1.0, 1.8, 1.2]),
        ];
        for (b, f) in cases {
            let r = relative_change(b, f, 0.95).unwrap();
            let p = paired_t_test(b, f, 0.95).unwrap().pvalue.unwrap();
            assert_eq!(r.holds(0.0), p >= 0.05, "{b:?} {f:?}: {r:?}, p {p}");
            assert!(r.holds(r.estimate));
        }
    }

    #[test]
    fn by_hand_and_unbounded() {
        // Fair exactly half the baseline on every seed: the quadratic is
        // (θ − ½)² (b̄² − q s_bb), so the interval is the point θ = ½.
        let r = relative_change(&[10.0, 11.0, 12.0], &[5.0, 5.5, 6.0], 0.95).unwrap();
        assert!((r.estimate + 0.5).abs() < 1e-15);
        assert!(r.low.unwrap() < -0.5 + 1e-9 && r.high.unwrap() > -0.5 - 1e-9);
        assert!(r.high.unwrap() - r.low.unwrap() < 1e-9);
        // A baseline mean indistinguishable from 0: unbounded.
        let r = relative_change(&[-1.0, 1.2, 0.1], &[0.5, 0.4, 0.6], 0.95).unwrap();
        assert!(r.low.is_none() && r.high.is_none() && r.holds(123.0));
        assert!(relative_change(&[0.0, 0.0], &[1.0, 2.0], 0.95).is_err());
        assert!(relative_change(&[1.0], &[2.0], 0.95).is_err());
    }
}
