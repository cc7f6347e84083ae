//! Balanced accuracy, as sklearn's `balanced_accuracy_score` (not adjusted):
//! the mean over the classes present in the true labels of each class's
//! recall. A class that is only predicted, never true, has no recall and
//! is left out of the mean, as sklearn does (with its warning).

use std::collections::BTreeMap;

use super::error::{StatsError, check_same_len};

/// Balanced accuracy of `predicted` against `truth`, in `[0, 1]`.
///
/// # Errors
/// Empty input or lengths that differ.
pub fn balanced_accuracy(truth: &[usize], predicted: &[usize]) -> Result<f64, StatsError> {
    const WHAT: &str = "balanced_accuracy";
    check_same_len(WHAT, ("truth", truth.len()), ("predicted", predicted.len()))?;
    if truth.is_empty() {
        return Err(StatsError::Empty {
            what: WHAT,
            name: "truth",
        });
    }
    // class -> (items, correctly predicted)
    let mut per_class: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    for (&t, &p) in truth.iter().zip(predicted) {
        let e = per_class.entry(t).or_default();
        e.0 += 1;
        e.1 += u64::from(t == p);
    }
    let recall_sum: f64 = per_class
        .values()
        .map(|&(n, ok)| ok as f64 / n as f64)
        .sum();
    Ok(recall_sum / per_class.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_sklearn_balanced_accuracy_score() {
        let fx = Fixture::load();
        for case in fx.cases("balanced_accuracy") {
            let got = balanced_accuracy(&case.labels("truth"), &case.labels("predicted")).unwrap();
            assert_close(got, case.num("ba"), 1e-12, &case.name());
        }
    }

    #[test]
    fn imbalance_does_not_reward_the_majority_guess() {
        // 9 of class 0, 1 of class 1, always predict 0: accuracy 0.9, BA 0.5.
        let truth = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(balanced_accuracy(&truth, &[0; 10]).unwrap(), 0.5);
        assert!(balanced_accuracy(&[0], &[]).is_err());
    }
}
