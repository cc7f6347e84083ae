//! A pooled z-score scale (issue 22): every value minus the pooled mean,
//! over the pooled sample sd (ddof 1), the pool being every sample given —
//! for Table 1, every scored response of every policy. One affine map for
//! all policies, so a gap in these units is in reward sd's and comparable
//! across reward models, while differences between policies keep their
//! sign and ratios.

use super::error::{StatsError, check_sample};

/// The pooled mean and sd that define the z-scores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PooledScale {
    /// Values pooled.
    pub n: usize,
    /// Pooled mean.
    pub mean: f64,
    /// Pooled sample sd (ddof 1).
    pub sd: f64,
}

impl PooledScale {
    /// `(x − mean) / sd`.
    pub fn z(&self, x: f64) -> f64 {
        (x - self.mean) / self.sd
    }

    /// Every value of `xs` as a z-score.
    pub fn apply(&self, xs: &[f64]) -> Vec<f64> {
        xs.iter().map(|&x| self.z(x)).collect()
    }
}

/// The mean and sample sd of all `samples` together.
///
/// # Errors
/// Fewer than two values in all, a non-finite value, or every value equal
/// (sd 0: no scale).
pub fn pooled_scale(samples: &[&[f64]]) -> Result<PooledScale, StatsError> {
    const WHAT: &str = "pooled_scale";
    for s in samples {
        if !s.is_empty() {
            check_sample(WHAT, "samples", s)?;
        }
    }
    let n: usize = samples.iter().map(|s| s.len()).sum();
    if n < 2 {
        return Err(StatsError::TooFew {
            what: WHAT,
            name: "samples",
            needed: 2,
            found: n,
        });
    }
    let mean = samples.iter().flat_map(|s| s.iter()).sum::<f64>() / n as f64;
    let ss: f64 = samples
        .iter()
        .flat_map(|s| s.iter())
        .map(|x| (x - mean) * (x - mean))
        .sum();
    let sd = (ss / (n - 1) as f64).sqrt();
    if sd <= 0.0 {
        return Err(StatsError::Undefined {
            what: WHAT,
            reason: "every value is the same (sd 0)",
        });
    }
    Ok(PooledScale { n, mean, sd })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_z_scores_have_mean_zero_and_sd_one() {
        let a = [1.0, 2.0, 3.0];
        let b = [10.0, 4.0];
        let s = pooled_scale(&[&a, &b]).unwrap();
        assert_eq!(s.n, 5);
        assert!((s.mean - 4.0).abs() < 1e-15);
        // Σ(x − 4)² = 9 + 4 + 1 + 36 + 0 = 50; / 4.
        assert!((s.sd - 12.5f64.sqrt()).abs() < 1e-15);
        let z: Vec<f64> = [s.apply(&a), s.apply(&b)].concat();
        let m = z.iter().sum::<f64>() / 5.0;
        let v = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 4.0;
        assert!(m.abs() < 1e-15 && (v - 1.0).abs() < 1e-14);
        // A difference of means scales by 1/sd and keeps its sign.
        let d_raw = 2.0 - 7.0;
        let d_z = s.apply(&a).iter().sum::<f64>() / 3.0 - s.apply(&b).iter().sum::<f64>() / 2.0;
        assert!((d_z - d_raw / s.sd).abs() < 1e-14);
    }

    #[test]
    fn constant_or_tiny_pools_are_refused() {
        assert!(pooled_scale(&[&[2.0, 2.0], &[2.0]]).is_err());
        assert!(pooled_scale(&[&[2.0], &[]]).is_err());
        assert!(pooled_scale(&[&[2.0, f64::INFINITY]]).is_err());
    }
}
