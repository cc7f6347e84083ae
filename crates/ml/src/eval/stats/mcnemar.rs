//! McNemar's test on paired binary outcomes (§4.2: two reward models on the
//! same benchmark items), as statsmodels `mcnemar(table, exact, correction)`.
//!
//! Only the discordant pairs matter: `b` items where the first outcome is
//! true and the second false, `c` the reverse. Exact (the default): under
//! H0 `b ~ Binomial(b + c, 1/2)`, statistic `min(b, c)`, p =
//! `min(1, 2 P(X <= min(b, c)))`. Chi-square with continuity correction:
//! `(|b - c| - 1)^2 / (b + c)` on one degree of freedom.

use super::error::{StatsError, check_same_len};
use super::special::{binom_cdf_half, chi2_sf_1df};

/// Which version of the test.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum McNemarMethod {
    /// Exact binomial test (statsmodels `exact=True`).
    #[default]
    Exact,
    /// Chi-square with continuity correction (statsmodels `exact=False,
    /// correction=True`).
    ChiSquare,
}

/// Result of [`mcnemar`] and [`mcnemar_counts`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct McNemarResult {
    /// `min(b, c)` (exact) or the corrected chi-square statistic.
    pub statistic: f64,
    /// Two-sided p-value.
    pub pvalue: f64,
    /// Items with the first outcome true and the second false.
    pub first_only: u64,
    /// Items with the second outcome true and the first false.
    pub second_only: u64,
    /// Which version was computed.
    pub method: McNemarMethod,
}

/// McNemar's test from the two discordant counts.
///
/// # Errors
/// The chi-square version with no discordant pair (0/0).
pub fn mcnemar_counts(
    first_only: u64,
    second_only: u64,
    method: McNemarMethod,
) -> Result<McNemarResult, StatsError> {
    let n = first_only + second_only;
    let (statistic, pvalue) = match method {
        McNemarMethod::Exact => {
            let k = first_only.min(second_only);
            (k as f64, (2.0 * binom_cdf_half(k, n)).min(1.0))
        }
        McNemarMethod::ChiSquare => {
            if n == 0 {
                return Err(StatsError::Undefined {
                    what: "mcnemar",
                    reason: "there is no discordant pair (b + c = 0)",
                });
            }
            let diff = first_only.abs_diff(second_only) as f64 - 1.0;
            let stat = diff * diff / n as f64;
            (stat, chi2_sf_1df(stat))
        }
    };
    Ok(McNemarResult {
        statistic,
        pvalue,
        first_only,
        second_only,
        method,
    })
}

/// McNemar's test on aligned outcomes (`first[i]`, `second[i]` for item `i`).
///
/// # Errors
/// Lengths that differ, empty input, or as [`mcnemar_counts`].
pub fn mcnemar(
    first: &[bool],
    second: &[bool],
    method: McNemarMethod,
) -> Result<McNemarResult, StatsError> {
    check_same_len("mcnemar", ("first", first.len()), ("second", second.len()))?;
    if first.is_empty() {
        return Err(StatsError::Empty {
            what: "mcnemar",
            name: "first",
        });
    }
    let b = first
        .iter()
        .zip(second)
        .filter(|(x, y)| **x && !**y)
        .count() as u64;
    let c = first
        .iter()
        .zip(second)
        .filter(|(x, y)| !**x && **y)
        .count() as u64;
    mcnemar_counts(b, c, method)
}

/// McNemar's test on per-item outcomes that may be ties (`None`, e.g. from
/// [`super::stereotype_outcomes`]): an item tied under either model is
/// dropped, the rest are paired. Returns the result and the number of
/// items dropped.
///
/// # Errors
/// Lengths that differ, no item left, or as [`mcnemar_counts`].
pub fn mcnemar_skip_ties(
    first: &[Option<bool>],
    second: &[Option<bool>],
    method: McNemarMethod,
) -> Result<(McNemarResult, usize), StatsError> {
    check_same_len(
        "mcnemar_skip_ties",
        ("first", first.len()),
        ("second", second.len()),
    )?;
    let (a, b): (Vec<bool>, Vec<bool>) = first
        .iter()
        .zip(second)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .unzip();
    let dropped = first.len() - a.len();
    Ok((mcnemar(&a, &b, method)?, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_statsmodels_mcnemar() {
        let fx = Fixture::load();
        let cases = fx.cases("mcnemar");
        assert!(cases.len() >= 6);
        for case in cases {
            let name = case.name();
            let (b, c) = (case.int("b"), case.int("c"));
            let exact = mcnemar_counts(b, c, McNemarMethod::Exact).unwrap();
            assert_eq!(exact.statistic, case.num("exact_statistic"), "{name}");
            assert_close(exact.pvalue, case.num("exact_pvalue"), 1e-11, &name);
            if b + c > 0 {
                let chi = mcnemar_counts(b, c, McNemarMethod::ChiSquare).unwrap();
                assert_close(chi.statistic, case.num("chi2_statistic"), 1e-14, &name);
                assert_close(chi.pvalue, case.num("chi2_pvalue"), 1e-11, &name);
            }
        }
    }

    #[test]
    fn ties_in_either_model_are_dropped() {
        let first = [Some(true), None, Some(false), Some(true)];
        let second = [Some(false), Some(true), None, Some(true)];
        let (r, dropped) = mcnemar_skip_ties(&first, &second, McNemarMethod::Exact).unwrap();
        assert_eq!(dropped, 2);
        assert_eq!((r.first_only, r.second_only), (1, 0));
        assert!(mcnemar_skip_ties(&[None], &[Some(true)], McNemarMethod::Exact).is_err());
    }

    #[test]
    fn paired_outcomes_are_counted() {
        let first = [true, true, false, false, true];
        let second = [false, true, true, false, false];
        let r = mcnemar(&first, &second, McNemarMethod::Exact).unwrap();
        assert_eq!((r.first_only, r.second_only), (2, 1));
        // min = 1, n = 3: p = 2 * 4/8 = 1.
        assert_eq!(r.pvalue, 1.0);
        assert!(mcnemar(&first, &second[..3], McNemarMethod::Exact).is_err());
        assert!(mcnemar_counts(0, 0, McNemarMethod::ChiSquare).is_err());
        assert_eq!(
            mcnemar_counts(0, 0, McNemarMethod::Exact).unwrap().pvalue,
            1.0
        );
    }
}
