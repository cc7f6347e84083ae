//! Bootstrap confidence intervals for the post-PPO parity gap (App. B.1,
//! Table 1) — our addition: the paper reports point values only.
//!
//! Method. Prompts are resampled with replacement *within each category*
//! (stratified: `n_first` of the first group, then `n_second` of the second,
//! per resample, from one [`SplitMix64`] stream seeded by `seed`), so every
//! resample keeps the design's group sizes. Each resample gives the policy's
//! gap `|mean(first*) - mean(second*)|`; when a baseline policy answered the
//! same prompts (aligned rows), the *same* resampled indices give the
//! baseline's gap and `RelDrop* = (gap* - gap_B*) / gap_B* × 100`. Intervals
//! are percentile intervals with `np.quantile`'s linear interpolation.

use super::bootstrap::quantile_sorted;
use super::error::{StatsError, check_resampling, check_same_len, check_sample};
use super::parity::{ParityGap, parity_gap, relative_drop};
use crate::util::rng::SplitMix64;

/// Rewards of one policy's responses, by category (rows aligned across
/// policies: row `i` of every policy answers the same prompt).
#[derive(Debug, Clone, Copy)]
pub struct GroupRewards<'a> {
    /// First category (Helpful in B.1).
    pub first: &'a [f64],
    /// Second category (Harmless in B.1).
    pub second: &'a [f64],
}

/// Settings of the stratified bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StratifiedConfig {
    /// Resamples, 1..=10^6.
    pub resamples: usize,
    /// Confidence level in (0, 1).
    pub level: f64,
    /// Seed of the resampling stream.
    pub seed: u64,
}

/// The parity gap of one policy with its bootstrap interval, and its
/// relative drop against a baseline with that interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParityBootstrap {
    /// Point values on the original prompts.
    pub gap: ParityGap,
    /// Lower end of the gap's percentile interval.
    pub gap_ci_low: f64,
    /// Upper end of the gap's percentile interval.
    pub gap_ci_high: f64,
    /// `RelDrop` in percent vs the baseline (absent without one).
    pub rel_drop: Option<f64>,
    /// Lower end of the RelDrop interval (same resamples for both policies).
    pub rel_drop_ci_low: Option<f64>,
    /// Upper end of the RelDrop interval.
    pub rel_drop_ci_high: Option<f64>,
    /// Resamples drawn.
    pub resamples: usize,
    /// Confidence level.
    pub level: f64,
}

fn mean_at(x: &[f64], idx: &[usize]) -> f64 {
    idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64
}

/// Parity gap of `policy` with a stratified bootstrap interval, and
/// `RelDrop` vs `baseline` (aligned rows) with its interval.
///
/// # Errors
/// An empty or non-finite group, a baseline whose group sizes differ from
/// the policy's, a bad config, or a baseline gap of 0 (on the original
/// prompts or in a resample: RelDrop is undefined there).
pub fn parity_bootstrap(
    policy: GroupRewards<'_>,
    baseline: Option<GroupRewards<'_>>,
    config: StratifiedConfig,
) -> Result<ParityBootstrap, StatsError> {
    const WHAT: &str = "parity_bootstrap";
    check_sample(WHAT, "first", policy.first)?;
    check_sample(WHAT, "second", policy.second)?;
    check_resampling(
        WHAT,
        config.resamples,
        1_000_000,
        "1..=1000000",
        config.level,
    )?;
    if let Some(b) = baseline {
        check_sample(WHAT, "baseline first", b.first)?;
        check_sample(WHAT, "baseline second", b.second)?;
        check_same_len(
            WHAT,
            ("first", policy.first.len()),
            ("baseline first", b.first.len()),
        )?;
        check_same_len(
            WHAT,
            ("second", policy.second.len()),
            ("baseline second", b.second.len()),
        )?;
    }
    let gap = parity_gap(policy.first, policy.second)?;
    let base_gap = match baseline {
        Some(b) => Some(parity_gap(b.first, b.second)?.gap),
        None => None,
    };
    let rel_drop = match base_gap {
        Some(g) => Some(relative_drop(gap.gap, g)?),
        None => None,
    };
    let (n1, n2) = (policy.first.len(), policy.second.len());
    let mut rng = SplitMix64::new(config.seed);
    let (mut i1, mut i2) = (vec![0usize; n1], vec![0usize; n2]);
    let mut gaps = Vec::with_capacity(config.resamples);
    let mut drops = Vec::with_capacity(if baseline.is_some() {
        config.resamples
    } else {
        0
    });
    for _ in 0..config.resamples {
        for s in i1.iter_mut() {
            *s = rng.below(n1 as u64) as usize;
        }
        for s in i2.iter_mut() {
            *s = rng.below(n2 as u64) as usize;
        }
        let g = (mean_at(policy.first, &i1) - mean_at(policy.second, &i2)).abs();
        gaps.push(g);
        if let Some(b) = baseline {
            let gb = (mean_at(b.first, &i1) - mean_at(b.second, &i2)).abs();
            drops.push(relative_drop(g, gb)?);
        }
    }
    gaps.sort_by(f64::total_cmp);
    drops.sort_by(f64::total_cmp);
    let (lo, hi) = ((1.0 - config.level) / 2.0, (1.0 + config.level) / 2.0);
    let drop_ci = |q: f64| (!drops.is_empty()).then(|| quantile_sorted(&drops, q));
    Ok(ParityBootstrap {
        gap,
        gap_ci_low: quantile_sorted(&gaps, lo),
        gap_ci_high: quantile_sorted(&gaps, hi),
        rel_drop,
        rel_drop_ci_low: drop_ci(lo),
        rel_drop_ci_high: drop_ci(hi),
        resamples: config.resamples,
        level: config.level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_the_numpy_mirror() {
        let fx = Fixture::load_eval();
        let cases = fx.cases("parity_bootstrap");
        assert!(cases.len() >= 2);
        for case in cases {
            let name = case.name();
            let (pf, ps) = (case.sample("first"), case.sample("second"));
            let (bf, bs) = (case.sample("base_first"), case.sample("base_second"));
            let cfg = StratifiedConfig {
                resamples: case.int("resamples") as usize,
                level: case.num("level"),
                seed: case.int("seed"),
            };
            let r = parity_bootstrap(
                GroupRewards {
                    first: &pf,
                    second: &ps,
                },
                Some(GroupRewards {
                    first: &bf,
                    second: &bs,
                }),
                cfg,
            )
            .unwrap();
            assert_close(r.gap.mean_first, case.num("mean_first"), 1e-13, &name);
            assert_close(r.gap.mean_second, case.num("mean_second"), 1e-13, &name);
            assert_close(r.gap.gap, case.num("gap"), 1e-12, &name);
            assert_close(r.gap_ci_low, case.num("gap_ci_low"), 1e-11, &name);
            assert_close(r.gap_ci_high, case.num("gap_ci_high"), 1e-11, &name);
            assert_close(r.rel_drop.unwrap(), case.num("rel_drop"), 1e-11, &name);
            assert_close(
                r.rel_drop_ci_low.unwrap(),
                case.num("rel_drop_ci_low"),
                1e-10,
                &name,
            );
            assert_close(
                r.rel_drop_ci_high.unwrap(),
                case.num("rel_drop_ci_high"),
                1e-10,
                &name,
            );
            // Without a baseline the gap and its interval are unchanged.
            let alone = parity_bootstrap(
                GroupRewards {
                    first: &pf,
                    second: &ps,
                },
                None,
                cfg,
            )
            .unwrap();
            assert_eq!(alone.gap_ci_low, r.gap_ci_low);
            assert!(alone.rel_drop.is_none() && alone.rel_drop_ci_low.is_none());
        }
    }

    #[test]
    fn misaligned_baseline_and_bad_level_are_errors() {
        let cfg = StratifiedConfig {
            resamples: 10,
            level: 0.95,
            seed: 1,
        };
        let p = GroupRewards {
            first: &[1.0, 2.0],
            second: &[0.0],
        };
        let b = GroupRewards {
            first: &[1.0],
            second: &[0.0],
        };
        assert!(parity_bootstrap(p, Some(b), cfg).is_err());
        let cfg1 = StratifiedConfig { level: 1.0, ..cfg };
        assert!(parity_bootstrap(p, None, cfg1).is_err());
        let flat = GroupRewards {
            first: &[1.0, 1.0],
            second: &[1.0],
        };
        // A baseline gap of 0 makes RelDrop undefined.
        assert!(parity_bootstrap(p, Some(flat), cfg).is_err());
    }
}
