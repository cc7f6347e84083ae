//! Holm's step-down correction for the effects judged in one table
//! (issue 22): the family-wise error rate stays at α however many effects
//! are tested, and Holm is uniformly more powerful than Bonferroni.
//!
//! With the `m` p-values sorted ascending, `p₍₁₎ ≤ … ≤ p₍ₘ₎`, the adjusted
//! value of the i-th is `max_{j ≤ i} min(1, (m − j + 1) · p₍ⱼ₎)`; an effect
//! is significant at α when its adjusted p is below α (as
//! `statsmodels.stats.multitest.multipletests(method="holm")`).

use super::error::{StatsError, check_finite};

/// Holm-adjusted p-values, in the order of `pvalues`.
///
/// # Errors
/// A p-value that is not finite or lies outside [0, 1].
pub fn holm(pvalues: &[f64]) -> Result<Vec<f64>, StatsError> {
    const WHAT: &str = "holm";
    check_finite(WHAT, "pvalues", pvalues)?;
    if let Some(&p) = pvalues.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(StatsError::BadParameter {
            what: WHAT,
            name: "pvalues",
            expected: "every p-value in [0, 1]",
            found: p,
        });
    }
    let m = pvalues.len();
    let mut order: Vec<usize> = (0..m).collect();
    // Ties keep their input order (a stable sort), as statsmodels does.
    order.sort_by(|&a, &b| pvalues[a].total_cmp(&pvalues[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        let scaled = ((m - rank) as f64 * pvalues[i]).min(1.0);
        running = running.max(scaled);
        adjusted[i] = running;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // m = 4; sorted 0.01, 0.02, 0.03, 0.5 → ×4, ×3, ×2, ×1 = 0.04, 0.06,
        // 0.06, 0.5; running max keeps them monotone.
        let adj = holm(&[0.03, 0.5, 0.01, 0.02]).unwrap();
        let want = [0.06, 0.5, 0.04, 0.06];
        for (g, w) in adj.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{adj:?}");
        }
        // Sorted 0.001, 0.04, 0.045 → ×3, ×2, ×1 = 0.003, 0.08, 0.045; the
        // running max lifts the last to 0.08.
        let adj = holm(&[0.001, 0.04, 0.045]).unwrap();
        assert!((adj[0] - 0.003).abs() < 1e-15);
        assert!((adj[1] - 0.08).abs() < 1e-15);
        assert!((adj[2] - 0.08).abs() < 1e-15);
        // Capped at 1.
        assert_eq!(holm(&[0.6, 0.7]).unwrap(), vec![1.0, 1.0]);
        assert!(holm(&[]).unwrap().is_empty());
    }

    #[test]
    fn bad_p_is_refused() {
        assert!(matches!(
            holm(&[0.1, 1.5]),
            Err(StatsError::BadParameter { .. })
        ));
        assert!(matches!(
            holm(&[f64::NAN]),
            Err(StatsError::NonFinite { .. })
        ));
    }
}
