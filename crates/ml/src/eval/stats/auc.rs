//! Area under the ROC curve: binary, with ties as sklearn's
//! `roc_auc_score`, and one-vs-rest macro average for more than two
//! classes (`multi_class='ovr', average='macro'`).
//!
//! The binary AUC is computed as the Mann–Whitney statistic with mid-ranks,
//! `(R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`, which equals the
//! trapezoidal area under sklearn's ROC curve, ties included (a tied
//! positive–negative pair counts one half).

use super::error::{StatsError, check_finite, check_same_len};

/// Binary ROC AUC of `scores` for the items flagged `true` in `positive`.
///
/// # Errors
/// Empty input, lengths that differ, non-finite scores, or a class with no
/// item (the AUC is then undefined, as in sklearn).
pub fn roc_auc_binary(positive: &[bool], scores: &[f64]) -> Result<f64, StatsError> {
    const WHAT: &str = "roc_auc_binary";
    check_same_len(WHAT, ("positive", positive.len()), ("scores", scores.len()))?;
    if scores.is_empty() {
        return Err(StatsError::Empty {
            what: WHAT,
            name: "scores",
        });
    }
    check_finite(WHAT, "scores", scores)?;
    auc_unchecked(WHAT, 1, positive, scores)
}

/// Mann–Whitney AUC on checked input; `class` only names the error.
fn auc_unchecked(
    what: &'static str,
    class: usize,
    positive: &[bool],
    scores: &[f64],
) -> Result<f64, StatsError> {
    let n = scores.len();
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = n - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(StatsError::ClassAbsent {
            what,
            class,
            positives: n_pos,
            total: n,
        });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    let mut rank_sum_pos = 0.0f64;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end share the mid-rank.
        let mid = (start + 1 + end) as f64 / 2.0;
        let pos_in_run = order[start..end].iter().filter(|&&i| positive[i]).count();
        rank_sum_pos += mid * pos_in_run as f64;
        start = end;
    }
    let (p, q) = (n_pos as f64, n_neg as f64);
    Ok((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * q))
}

/// One-vs-rest macro ROC AUC. `scores` is row-major `[n, classes]` (one
/// score per class, e.g. predicted probabilities), `labels[i] < classes`.
/// For `classes == 2` this is the binary AUC of class 1 on column 1, as
/// sklearn does for binary targets; for more classes, the unweighted mean
/// over classes of the AUC of class `c` against the rest on column `c`.
/// (sklearn also requires the rows to sum to 1; the AUC does not need it.)
///
/// # Errors
/// Lengths that differ, fewer than two classes, a label out of range, a
/// non-finite score, or a class absent from `labels`.
pub fn roc_auc_ovr_macro(
    labels: &[usize],
    scores: &[f64],
    classes: usize,
) -> Result<f64, StatsError> {
    const WHAT: &str = "roc_auc_ovr_macro";
    if classes < 2 {
        return Err(StatsError::BadParameter {
            what: WHAT,
            name: "classes",
            expected: ">= 2",
            found: classes as f64,
        });
    }
    if labels.is_empty() {
        return Err(StatsError::Empty {
            what: WHAT,
            name: "labels",
        });
    }
    check_same_len(
        WHAT,
        ("labels x classes", labels.len().saturating_mul(classes)),
        ("scores", scores.len()),
    )?;
    check_finite(WHAT, "scores", scores)?;
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
        return Err(StatsError::LabelOutOfRange {
            what: WHAT,
            index,
            label,
            classes,
        });
    }
    let column =
        |c: usize| -> Vec<f64> { scores.iter().skip(c).step_by(classes).copied().collect() };
    if classes == 2 {
        let pos: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
        return auc_unchecked(WHAT, 1, &pos, &column(1));
    }
    let mut total = 0.0;
    for c in 0..classes {
        let pos: Vec<bool> = labels.iter().map(|&l| l == c).collect();
        total += auc_unchecked(WHAT, c, &pos, &column(c))?;
    }
    Ok(total / classes as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::fixture::{Fixture, assert_close};

    #[test]
    fn matches_sklearn_roc_auc_score() {
        let fx = Fixture::load();
        let cases = fx.cases("roc_auc");
        assert!(cases.len() >= 3);
        for case in cases {
            let name = case.name();
            let labels = case.labels("labels");
            let classes = case.int("classes") as usize;
            let scores = case.nums("scores");
            let want = case.num("auc");
            if classes == 2 && scores.len() == labels.len() {
                let pos: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
                assert_close(roc_auc_binary(&pos, &scores).unwrap(), want, 1e-12, &name);
            } else {
                assert_close(
                    roc_auc_ovr_macro(&labels, &scores, classes).unwrap(),
                    want,
                    1e-12,
                    &name,
                );
            }
        }
    }

    #[test]
    fn ties_count_one_half() {
        assert_eq!(roc_auc_binary(&[true, false], &[0.5, 0.5]).unwrap(), 0.5);
        assert_eq!(
            roc_auc_binary(&[true, false, false], &[0.9, 0.9, 0.1]).unwrap(),
            0.75
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            roc_auc_binary(&[true, true], &[0.1, 0.2]),
            Err(StatsError::ClassAbsent { .. })
        ));
        assert!(roc_auc_binary(&[true], &[0.1, 0.2]).is_err());
        assert!(matches!(
            roc_auc_ovr_macro(&[0, 3], &[0.1; 6], 3),
            Err(StatsError::LabelOutOfRange {
                index: 1,
                label: 3,
                ..
            })
        ));
        assert!(roc_auc_ovr_macro(&[0, 1, 1], &[0.1; 9], 3).is_err());
        assert!(roc_auc_ovr_macro(&[0, 1], &[0.1; 3], 2).is_err());
    }
}
