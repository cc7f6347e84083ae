//! One paper effect judged across seeds (issue 22): the paired t-test, the
//! relative change on the paper's scale with its interval, the power the
//! seeds had to see the paper's effect, the smallest effect they could
//! detect, and the verdict once the p-values of a table are Holm-corrected.
//!
//! The verdict separates what the data can tell apart:
//! - "yes" / "no": the Holm-adjusted p is below α and the mean change has
//!   the paper's sign / the opposite sign;
//! - "smaller than the paper's": not significant, and the relative interval
//!   excludes the paper's relative effect (on the side of zero) — an effect
//!   of the paper's size is ruled out at this scale;
//! - "within noise": not significant, and the interval does not rule out
//!   the paper's effect — these seeds could not tell it from none (the
//!   power column says how likely they were to see it). The interval is per
//!   effect, before the correction, so it may exclude zero where the
//!   adjusted p does not.

use super::error::StatsError;
use super::paired_t::{PairedT, paired_t_test};
use super::power::{paired_t_detectable, paired_t_power, paired_t_seeds_needed};
use super::relative::{RelativeChange, relative_change};

/// Significance level of the verdicts, the intervals (1 − α) and the power.
pub const ALPHA: f64 = 0.05;

/// Power at which the detectable effect and the seeds needed are given.
pub const TARGET_POWER: f64 = 0.8;

/// One effect's numbers, before the correction across a table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeedEffect {
    /// The paired t-test of fair − baseline.
    pub test: PairedT,
    /// The relative change with Fieller's interval (`None` with one seed or
    /// a baseline mean of 0).
    pub relative: Option<RelativeChange>,
    /// The paper's relative change, when it has one.
    pub paper_relative: Option<f64>,
    /// The paper's direction: −1 falls, +1 rises, 0 none.
    pub paper_sign: i8,
    /// Seeds whose own difference has the paper's sign.
    pub agree: usize,
    /// Power of the two-sided test at [`ALPHA`] against the paper's
    /// relative effect applied to our baseline mean, with our spread.
    pub power_for_paper: Option<f64>,
    /// The smallest relative effect detectable at [`TARGET_POWER`] with
    /// these seeds and this spread.
    pub detectable_relative: Option<f64>,
    /// Seeds needed to detect the paper's relative effect at
    /// [`TARGET_POWER`] (`None`: no effect to detect, or no spread to go by).
    pub seeds_needed: Option<usize>,
}

/// The verdict on one effect, after Holm's correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// Significant, with the paper's sign.
    Yes,
    /// Significant, against the paper's sign.
    No,
    /// Not significant, and an effect of the paper's size is excluded.
    SmallerThanPaper,
    /// Not significant, and the paper's effect is not excluded.
    WithinNoise,
}

impl Finding {
    /// As the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::Yes => "yes",
            Finding::No => "no",
            Finding::SmallerThanPaper => "smaller than the paper's",
            Finding::WithinNoise => "within noise",
        }
    }
}

fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// The effect of `baseline → fair` (aligned by seed) against the paper's
/// direction and, where it has one, its relative change.
///
/// # Errors
/// Empty, unequal or non-finite samples.
pub fn seed_effect(
    baseline: &[f64],
    fair: &[f64],
    paper_sign: i8,
    paper_relative: Option<f64>,
) -> Result<SeedEffect, StatsError> {
    let test = paired_t_test(baseline, fair, 1.0 - ALPHA)?;
    let agree = test
        .diff
        .diffs
        .iter()
        .filter(|x| paper_sign != 0 && sign(**x) == paper_sign)
        .count();
    let n = test.diff.n;
    let relative = (n >= 2)
        .then(|| relative_change(baseline, fair, 1.0 - ALPHA).ok())
        .flatten();
    let base_mean = baseline.iter().sum::<f64>() / n as f64;
    let sd = test.diff.sd.filter(|s| *s > 0.0);
    let (mut power_for_paper, mut detectable_relative, mut seeds_needed) = (None, None, None);
    if let (Some(sd), true) = (sd, base_mean != 0.0) {
        let scale = base_mean.abs() / sd;
        detectable_relative = Some(paired_t_detectable(n, ALPHA, TARGET_POWER)? / scale);
        if let Some(rel) = paper_relative.filter(|r| r.is_finite()) {
            power_for_paper = Some(paired_t_power(n, rel * scale, ALPHA)?);
            seeds_needed = paired_t_seeds_needed(rel * scale, ALPHA, TARGET_POWER)?;
        }
    }
    Ok(SeedEffect {
        test,
        relative,
        paper_relative,
        paper_sign,
        agree,
        power_for_paper,
        detectable_relative,
        seeds_needed,
    })
}

/// Whether the relative interval excludes the paper's relative effect on
/// the side of zero (ours is smaller than the paper's).
pub fn smaller_than_paper(e: &SeedEffect) -> bool {
    match (e.relative, e.paper_relative) {
        (Some(r), Some(p)) => match (r.low, r.high) {
            (Some(lo), Some(hi)) if p < 0.0 => lo > p && hi >= lo,
            (Some(lo), Some(hi)) if p > 0.0 => hi < p && hi >= lo,
            _ => false,
        },
        _ => false,
    }
}

/// The verdict on `e` given its Holm-adjusted p-value (`None`: one seed).
pub fn finding(e: &SeedEffect, adjusted_p: Option<f64>) -> Finding {
    match adjusted_p {
        Some(p) if p < ALPHA && e.paper_sign != 0 && e.test.diff.mean != 0.0 => {
            if sign(e.test.diff.mean) == e.paper_sign {
                Finding::Yes
            } else {
                Finding::No
            }
        }
        _ if smaller_than_paper(e) => Finding::SmallerThanPaper,
        _ => Finding::WithinNoise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_fall_is_yes_and_large_enough() {
        let e = seed_effect(
            &[0.43, 0.41, 0.47, 0.45, 0.40],
            &[0.10, 0.14, 0.12, 0.09, 0.11],
            -1,
            Some(-0.77),
        )
        .unwrap();
        assert_eq!(e.agree, 5);
        assert_eq!(finding(&e, e.test.pvalue), Finding::Yes);
        assert!(e.power_for_paper.unwrap() > 0.99);
        // δ/σ ≈ 0.77 × 0.432 / 0.0387 ≈ 8.6: with 2 seeds (t critical 12.7)
        // the power is about 0.47, with 3 it is above 0.8.
        assert_eq!(e.seeds_needed, Some(3));
        // Holm can take it away.
        assert_eq!(finding(&e, Some(0.2)), Finding::WithinNoise);
    }

    #[test]
    fn a_null_effect_rules_out_a_large_paper_effect_only_with_power() {
        // Tight seeds, no change: a −50 % effect is excluded.
        let b = [1.00, 1.02, 0.98, 1.01, 0.99];
        let f = [1.01, 1.00, 0.99, 1.02, 0.98];
        let e = seed_effect(&b, &f, -1, Some(-0.5)).unwrap();
        assert_eq!(finding(&e, e.test.pvalue), Finding::SmallerThanPaper);
        assert!(e.detectable_relative.unwrap() < 0.05);
        // Noisy seeds, no clear change: the same effect is not excluded.
        let b = [1.0, 0.2, 1.8];
        let f = [0.5, 0.9, 1.1];
        let e = seed_effect(&b, &f, -1, Some(-0.5)).unwrap();
        assert_eq!(finding(&e, e.test.pvalue), Finding::WithinNoise);
        assert!(e.power_for_paper.unwrap() < 0.5);
        assert!(e.seeds_needed.unwrap() > 3);
    }

    #[test]
    fn against_the_paper_is_no_and_one_seed_is_noise() {
        let e = seed_effect(&[0.20, 0.22, 0.19], &[0.31, 0.30, 0.35], -1, Some(-0.5)).unwrap();
        assert_eq!(finding(&e, e.test.pvalue), Finding::No);
        let e = seed_effect(&[0.5], &[0.2], -1, Some(-0.5)).unwrap();
        assert_eq!(finding(&e, e.test.pvalue), Finding::WithinNoise);
        assert!(e.relative.is_none() && e.power_for_paper.is_none());
    }
}
