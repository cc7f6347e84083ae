//! Parity gap between two prompt groups (App. B.1): the absolute difference
//! of mean rewards, `|mean(r_H) - mean(r_A)|`, and the relative drop of a
//! model's gap against a baseline's, in percent (Table 1).

use super::error::{StatsError, check_sample};

/// Parity gap of one policy (or reward model) between two groups.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParityGap {
    /// Mean reward of the first group (Helpful in B.1).
    pub mean_first: f64,
    /// Mean reward of the second group (Harmless in B.1).
    pub mean_second: f64,
    /// Signed difference `mean_first - mean_second` (B.1's Δ̂).
    pub delta: f64,
    /// `|delta|`.
    pub gap: f64,
}

/// Parity gap between the rewards of two disjoint groups (sizes may differ).
///
/// # Errors
/// An empty group or a non-finite reward.
pub fn parity_gap(first: &[f64], second: &[f64]) -> Result<ParityGap, StatsError> {
    check_sample("parity_gap", "first", first)?;
    check_sample("parity_gap", "second", second)?;
    let mean_first = first.iter().sum::<f64>() / first.len() as f64;
    let mean_second = second.iter().sum::<f64>() / second.len() as f64;
    let delta = mean_first - mean_second;
    Ok(ParityGap {
        mean_first,
        mean_second,
        delta,
        gap: delta.abs(),
    })
}

/// `RelDrop(M; B) = (gap_M - gap_B) / gap_B × 100 %` (B.1; negative when
/// the model's gap is smaller).
///
/// # Errors
/// A baseline gap of 0 or a non-finite gap.
pub fn relative_drop(model_gap: f64, baseline_gap: f64) -> Result<f64, StatsError> {
    const WHAT: &str = "relative_drop";
    super::error::check_finite(WHAT, "gaps", &[model_gap, baseline_gap])?;
    if baseline_gap == 0.0 {
        return Err(StatsError::Undefined {
            what: WHAT,
            reason: "the baseline gap is 0",
        });
    }
    Ok((model_gap - baseline_gap) / baseline_gap * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_and_paper_table_1_relative_drop() {
        let g = parity_gap(&[1.0, 2.0, 3.0], &[0.5, 0.5]).unwrap();
        assert_eq!((g.delta, g.gap), (1.5, 1.5));
        assert_eq!(parity_gap(&[0.0], &[1.0]).unwrap().gap, 1.0);
        // Table 1: 0.4814 -> 0.4001 is -16.9 %.
        let d = relative_drop(0.4001, 0.4814).unwrap();
        assert!((d - (-16.9)).abs() < 0.05, "{d}");
        assert!(relative_drop(1.0, 0.0).is_err());
        assert!(parity_gap(&[], &[1.0]).is_err());
    }
}
