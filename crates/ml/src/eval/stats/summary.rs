//! Mean ± standard deviation over folds or runs (App. A.7 reports mean ± sd
//! over the 5 folds), with the sample standard deviation (ddof = 1, as
//! `np.std(x, ddof=1)`).

use super::error::{StatsError, check_finite};

/// Mean and sample standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanSd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Standard deviation with ddof = 1.
    pub sd: f64,
    /// Number of values.
    pub n: usize,
}

/// Mean ± sd (ddof 1) of `xs`.
///
/// # Errors
/// Fewer than two values (the sd is undefined) or a non-finite value.
pub fn mean_sd(xs: &[f64]) -> Result<MeanSd, StatsError> {
    const WHAT: &str = "mean_sd";
    if xs.len() < 2 {
        return Err(StatsError::TooFew {
            what: WHAT,
            name: "xs",
            needed: 2,
            found: xs.len(),
        });
    }
    check_finite(WHAT, "xs", xs)?;
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Ok(MeanSd {
        mean,
        sd: var.sqrt(),
        n: xs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_numpy_std_ddof1() {
        let fx = Fixture::load();
        for case in fx.cases("mean_sd") {
            let r = mean_sd(&case.nums("xs")).unwrap();
            assert_close(r.mean, case.num("mean"), 1e-14, &case.name());
            assert_close(r.sd, case.num("sd"), 1e-13, &case.name());
        }
    }

    #[test]
    fn one_value_is_too_few() {
        assert!(matches!(
            mean_sd(&[1.0]),
            Err(StatsError::TooFew { found: 1, .. })
        ));
        assert_eq!(
            mean_sd(&[1.0, 3.0]).unwrap(),
            MeanSd {
                mean: 2.0,
                sd: 2f64.sqrt(),
                n: 2
            }
        );
    }
}
