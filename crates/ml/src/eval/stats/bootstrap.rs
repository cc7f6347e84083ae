//! Paired bootstrap for a difference between two systems scored on the same
//! items (App. B.2: 1,000 resamples, two-sided, mean difference, 95 % CI and
//! p-value).
//!
//! Method. Items are resampled with replacement, `n` of `n`, `resamples`
//! times, with [`SplitMix64`] seeded by `seed`; the pairing is kept because
//! both systems' values of an item move together. The statistic of each
//! resample gives
//! - the CI: percentile interval, the `(1 - level)/2` and `(1 + level)/2`
//!   quantiles of the bootstrap statistics with linear interpolation
//!   (`np.quantile`'s default);
//! - the p-value for H0 "no difference": the bootstrap distribution is
//!   shifted to the null by centring it on the observed value (Hall &
//!   Wilson 1991), `p = (1 + #{|t*_b - t| >= |t|}) / (B + 1)`, two-sided,
//!   never 0.

use super::error::{StatsError, check_resampling, check_same_len, check_sample};
use crate::util::rng::SplitMix64;

/// Default number of resamples (App. B.2: 1,000).
pub const BOOTSTRAP_DEFAULT_RESAMPLES: usize = 1_000;

/// Upper bound on resamples (each one is stored for the quantiles).
const MAX_RESAMPLES: usize = 10_000_000;

/// Settings of a bootstrap run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples `B`, 1..=10^7.
    pub resamples: usize,
    /// Confidence level of the interval, in (0, 1); 0.95 by default.
    pub level: f64,
    /// Seed of the resampling stream.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            resamples: BOOTSTRAP_DEFAULT_RESAMPLES,
            level: 0.95,
            seed: 0,
        }
    }
}

/// Result of a paired bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BootstrapResult {
    /// The statistic on the original items (e.g. the mean difference).
    pub estimate: f64,
    /// Lower end of the percentile interval.
    pub ci_low: f64,
    /// Upper end of the percentile interval.
    pub ci_high: f64,
    /// Two-sided p-value for "no difference" (see the module doc).
    pub pvalue: f64,
    /// Number of resamples.
    pub resamples: usize,
    /// Confidence level of the interval.
    pub level: f64,
}

/// Quantile with linear interpolation of sorted data, as `np.quantile`
/// (`method='linear'`, including numpy's two-sided lerp).
pub(super) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor();
    let t = h - lo;
    let i = lo as usize;
    let a = sorted[i];
    let b = sorted[(i + 1).min(sorted.len() - 1)];
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Paired bootstrap of any statistic of `n` aligned items. `statistic`
/// receives the item indices of one resample (the original sample is
/// `0..n`) and returns the difference of interest.
///
/// # Errors
/// `n = 0`, a bad `resamples` or `level`, or a non-finite statistic.
pub fn paired_bootstrap<F>(
    n: usize,
    config: BootstrapConfig,
    mut statistic: F,
) -> Result<BootstrapResult, StatsError>
where
    F: FnMut(&[usize]) -> f64,
{
    const WHAT: &str = "paired_bootstrap";
    if n == 0 {
        return Err(StatsError::Empty {
            what: WHAT,
            name: "items",
        });
    }
    check_resampling(
        WHAT,
        config.resamples,
        MAX_RESAMPLES,
        "1..=10000000",
        config.level,
    )?;
    let all: Vec<usize> = (0..n).collect();
    let estimate = statistic(&all);
    if !estimate.is_finite() {
        return Err(StatsError::NonFinite {
            what: WHAT,
            name: "statistic",
            index: 0,
            value: estimate,
        });
    }
    let mut rng = SplitMix64::new(config.seed);
    let mut idx = vec![0usize; n];
    let mut boot = Vec::with_capacity(config.resamples);
    for b in 0..config.resamples {
        for slot in idx.iter_mut() {
            *slot = rng.below(n as u64) as usize;
        }
        let t = statistic(&idx);
        if !t.is_finite() {
            return Err(StatsError::NonFinite {
                what: WHAT,
                name: "statistic",
                index: b + 1,
                value: t,
            });
        }
        boot.push(t);
    }
    let extreme = boot
        .iter()
        .filter(|t| (*t - estimate).abs() >= estimate.abs())
        .count();
    boot.sort_by(f64::total_cmp);
    Ok(BootstrapResult {
        estimate,
        ci_low: quantile_sorted(&boot, (1.0 - config.level) / 2.0),
        ci_high: quantile_sorted(&boot, (1.0 + config.level) / 2.0),
        pvalue: (extreme + 1) as f64 / (config.resamples + 1) as f64,
        resamples: config.resamples,
        level: config.level,
    })
}

/// Paired bootstrap of `mean(first - second)` over aligned items.
///
/// # Errors
/// Lengths that differ, an empty or non-finite sample, or a bad config.
pub fn paired_bootstrap_mean_diff(
    first: &[f64],
    second: &[f64],
    config: BootstrapConfig,
) -> Result<BootstrapResult, StatsError> {
    const WHAT: &str = "paired_bootstrap_mean_diff";
    check_same_len(WHAT, ("first", first.len()), ("second", second.len()))?;
    check_sample(WHAT, "first", first)?;
    check_sample(WHAT, "second", second)?;
    let d: Vec<f64> = first.iter().zip(second).map(|(a, b)| a - b).collect();
    let n = d.len() as f64;
    paired_bootstrap(d.len(), config, |idx| {
        idx.iter().map(|&i| d[i]).sum::<f64>() / n
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_python_mirror_with_numpy_quantiles() {
        let fx = Fixture::load();
        for case in fx.cases("bootstrap") {
            let name = case.name();
            let cfg = BootstrapConfig {
                resamples: case.int("resamples") as usize,
                level: case.num("level"),
                seed: case.int("seed"),
            };
            let r = paired_bootstrap_mean_diff(&case.sample("first"), &case.sample("second"), cfg)
                .unwrap();
            assert_close(r.estimate, case.num("estimate"), 1e-15, &name);
            assert_close(r.ci_low, case.num("ci_low"), 1e-12, &name);
            assert_close(r.ci_high, case.num("ci_high"), 1e-12, &name);
            assert_close(r.pvalue, case.num("pvalue"), 1e-15, &name);
        }
    }

    #[test]
    fn quantile_is_numpy_linear() {
        let s = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&s, 0.0), 1.0);
        assert_eq!(quantile_sorted(&s, 1.0), 8.0);
        assert_eq!(quantile_sorted(&s, 0.5), 3.0);
        assert_eq!(quantile_sorted(&s, 0.25), 1.75);
    }

    #[test]
    fn bad_config_is_an_error() {
        let cfg = BootstrapConfig {
            resamples: 0,
            ..Default::default()
        };
        assert!(paired_bootstrap_mean_diff(&[1.0], &[0.0], cfg).is_err());
        let cfg = BootstrapConfig {
            level: 1.0,
            ..Default::default()
        };
        assert!(paired_bootstrap_mean_diff(&[1.0], &[0.0], cfg).is_err());
        assert!(paired_bootstrap_mean_diff(&[1.0], &[], BootstrapConfig::default()).is_err());
        assert!(paired_bootstrap(3, BootstrapConfig::default(), |_| f64::NAN).is_err());
    }
}
