//! Index logic of the post-hoc category audit (App. A.7): stratified k-fold
//! splits that keep a group (both responses of a preference pair) in one
//! fold, and the inner validation hold-out used for early stopping, taken
//! from the training folds only. Pure functions of labels, group ids and a
//! seed; the MLP that is trained on the folds lives with the stage.
//!
//! Method. Items are gathered into groups (`group[i]`, e.g. the pair id);
//! every item of a group must carry the same label (the pair's category).
//! For each label, in increasing order, its groups (sorted by id) are
//! shuffled with [`SplitMix64`] and dealt round-robin to the folds, the
//! dealing continuing from the fold where the previous label stopped. So
//! two folds differ by at most one in their number of groups of any label
//! and in their total number of groups, and no group is split. The same seed gives the same folds on every platform.

use std::collections::BTreeMap;

use crate::eval::stats::SplitMix64;

/// Why a split could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// `labels` and `groups` are not aligned.
    #[error("split: `labels` has {labels} items but `groups` has {groups}")]
    LengthMismatch {
        /// Length of `labels`.
        labels: usize,
        /// Length of `groups`.
        groups: usize,
    },
    /// No item to split.
    #[error("split: there are no items")]
    Empty,
    /// Fewer than two folds asked for.
    #[error("split: need at least 2 folds, got {k}")]
    BadFolds {
        /// Folds asked for.
        k: usize,
    },
    /// The hold-out fraction is not strictly between 0 and 1.
    #[error("split: hold-out fraction must be in (0, 1), got {fraction}")]
    BadFraction {
        /// Fraction asked for.
        fraction: String,
    },
    /// A group mixes labels, so it cannot be stratified as one unit.
    #[error(
        "split: group {group} has items with labels {first} and {second}; a group must have one label"
    )]
    MixedGroup {
        /// The group id.
        group: usize,
        /// One label seen in it.
        first: usize,
        /// Another label seen in it.
        second: usize,
    },
    /// A label has fewer groups than folds, so some test fold would lack it.
    #[error("split: label {label} has {groups} groups, fewer than the {k} folds")]
    TooFewGroups {
        /// The label.
        label: usize,
        /// Its number of groups.
        groups: usize,
        /// Folds asked for.
        k: usize,
    },
    /// An item index given to the hold-out split is out of range.
    #[error("split: item index {index} is not below the item count {items}")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// Number of items.
        items: usize,
    },
}

/// One fold: item indices, each list sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fold {
    /// Items to train on (every other fold).
    pub train: Vec<usize>,
    /// Items to test on (this fold).
    pub test: Vec<usize>,
}

/// label -> (group id -> items), for the items listed in `items`.
type GroupsByLabel = BTreeMap<usize, BTreeMap<usize, Vec<usize>>>;

fn groups_by_label(
    labels: &[usize],
    groups: &[usize],
    items: impl Iterator<Item = usize>,
) -> Result<GroupsByLabel, SplitError> {
    if labels.len() != groups.len() {
        return Err(SplitError::LengthMismatch {
            labels: labels.len(),
            groups: groups.len(),
        });
    }
    let mut label_of_group: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out: GroupsByLabel = BTreeMap::new();
    for i in items {
        let (Some(&label), Some(&group)) = (labels.get(i), groups.get(i)) else {
            return Err(SplitError::IndexOutOfRange {
                index: i,
                items: labels.len(),
            });
        };
        let first = *label_of_group.entry(group).or_insert(label);
        if first != label {
            return Err(SplitError::MixedGroup {
                group,
                first,
                second: label,
            });
        }
        out.entry(label)
            .or_default()
            .entry(group)
            .or_default()
            .push(i);
    }
    Ok(out)
}

/// Stratified, grouped k-fold split of items `0..labels.len()` (see the
/// module doc). Returns `k` folds whose test sets partition the items.
///
/// # Errors
/// Lengths that differ, no items, `k < 2`, a group with two labels, or a
/// label with fewer than `k` groups.
pub fn stratified_group_kfold(
    labels: &[usize],
    groups: &[usize],
    k: usize,
    seed: u64,
) -> Result<Vec<Fold>, SplitError> {
    if k < 2 {
        return Err(SplitError::BadFolds { k });
    }
    let by_label = groups_by_label(labels, groups, 0..labels.len())?;
    if by_label.is_empty() {
        return Err(SplitError::Empty);
    }
    if let Some((&label, g)) = by_label.iter().find(|(_, g)| g.len() < k) {
        return Err(SplitError::TooFewGroups {
            label,
            groups: g.len(),
            k,
        });
    }
    let mut rng = SplitMix64::new(seed);
    let mut fold_of = vec![0usize; labels.len()];
    let mut next = 0usize;
    for members in by_label.values() {
        let mut gs: Vec<&Vec<usize>> = members.values().collect();
        rng.shuffle(&mut gs);
        for items in gs {
            for &i in items {
                fold_of[i] = next;
            }
            next = (next + 1) % k;
        }
    }
    Ok((0..k)
        .map(|f| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..labels.len()).partition(|&i| fold_of[i] == f);
            Fold { train, test }
        })
        .collect())
}

/// Splits the items listed in `items` (say, a fold's training items) into
/// `(fit, validation)`, stratified by label and keeping groups whole: for
/// each label, `round(fraction × its groups)` groups, at least one when it
/// has two or more, go to validation. Both lists sorted.
///
/// # Errors
/// Lengths that differ, an index out of range, no items, a fraction outside
/// (0, 1), or a group with two labels.
pub fn stratified_group_holdout(
    labels: &[usize],
    groups: &[usize],
    items: &[usize],
    fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SplitError::BadFraction {
            fraction: fraction.to_string(),
        });
    }
    let by_label = groups_by_label(labels, groups, items.iter().copied())?;
    if by_label.is_empty() {
        return Err(SplitError::Empty);
    }
    let mut rng = SplitMix64::new(seed);
    let (mut fit, mut val) = (Vec::new(), Vec::new());
    for members in by_label.values() {
        let mut gs: Vec<&Vec<usize>> = members.values().collect();
        rng.shuffle(&mut gs);
        let n = gs.len();
        let n_val = if n >= 2 {
            ((fraction * n as f64).round() as usize).clamp(1, n - 1)
        } else {
            0
        };
        for (j, items) in gs.into_iter().enumerate() {
            if j < n_val {
                val.extend(items)
            } else {
                fit.extend(items)
            }
        }
    }
    fit.sort_unstable();
    val.sort_unstable();
    Ok((fit, val))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 categories with 12, 9 and 7 pairs; items 2p and 2p+1 are pair p.
    fn pairs() -> (Vec<usize>, Vec<usize>) {
        let cats: Vec<usize> = (0..28)
            .map(|p| {
                if p < 12 {
                    0
                } else if p < 21 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let labels = cats.iter().flat_map(|&c| [c, c]).collect();
        let groups = (0..28).flat_map(|p| [p, p]).collect();
        (labels, groups)
    }

    #[test]
    fn folds_partition_items_and_keep_pairs_together() {
        let (labels, groups) = pairs();
        let folds = stratified_group_kfold(&labels, &groups, 5, 42).unwrap();
        assert_eq!(folds.len(), 5);
        let mut seen = vec![0; labels.len()];
        for f in &folds {
            for &i in &f.test {
                seen[i] += 1;
            }
            assert_eq!(f.train.len() + f.test.len(), labels.len());
            assert!(f.test.iter().all(|i| !f.train.contains(i)));
            for &i in &f.test {
                let partner = i ^ 1;
                assert!(
                    f.test.contains(&partner),
                    "pair of item {i} split across folds"
                );
            }
        }
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn folds_are_stratified_and_balanced() {
        let (labels, groups) = pairs();
        let folds = stratified_group_kfold(&labels, &groups, 5, 7).unwrap();
        for c in 0..3 {
            let counts: Vec<usize> = folds
                .iter()
                .map(|f| f.test.iter().filter(|&&i| labels[i] == c).count() / 2)
                .collect();
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(hi - lo <= 1, "label {c}: pairs per fold {counts:?}");
        }
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len() / 2).collect();
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
    }

    #[test]
    fn seed_fixes_the_folds() {
        let (labels, groups) = pairs();
        let a = stratified_group_kfold(&labels, &groups, 5, 1).unwrap();
        assert_eq!(a, stratified_group_kfold(&labels, &groups, 5, 1).unwrap());
        assert_ne!(a, stratified_group_kfold(&labels, &groups, 5, 2).unwrap());
    }

    #[test]
    fn holdout_comes_from_the_given_items_only() {
        let (labels, groups) = pairs();
        let folds = stratified_group_kfold(&labels, &groups, 5, 3).unwrap();
        let f = &folds[0];
        let (fit, val) = stratified_group_holdout(&labels, &groups, &f.train, 0.2, 9).unwrap();
        let mut both: Vec<usize> = fit.iter().chain(&val).copied().collect();
        both.sort_unstable();
        assert_eq!(both, f.train);
        assert!(val.iter().all(|i| !f.test.contains(i)));
        assert!(
            val.iter().all(|&i| val.contains(&(i ^ 1))),
            "a pair is split"
        );
        for c in 0..3 {
            let n_val = val.iter().filter(|&&i| labels[i] == c).count() / 2;
            let n_all = f.train.iter().filter(|&&i| labels[i] == c).count() / 2;
            let want = ((0.2 * n_all as f64).round() as usize).max(1);
            assert_eq!(n_val, want, "label {c}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            stratified_group_kfold(&[0, 1], &[0], 2, 0),
            Err(SplitError::LengthMismatch {
                labels: 2,
                groups: 1
            })
        );
        assert_eq!(
            stratified_group_kfold(&[], &[], 2, 0),
            Err(SplitError::Empty)
        );
        assert_eq!(
            stratified_group_kfold(&[0, 0], &[0, 1], 1, 0),
            Err(SplitError::BadFolds { k: 1 })
        );
        assert_eq!(
            stratified_group_kfold(&[0, 1], &[5, 5], 2, 0),
            Err(SplitError::MixedGroup {
                group: 5,
                first: 0,
                second: 1
            })
        );
        assert_eq!(
            stratified_group_kfold(&[0, 0, 1, 1], &[0, 1, 2, 2], 2, 0),
            Err(SplitError::TooFewGroups {
                label: 1,
                groups: 1,
                k: 2
            })
        );
        assert!(stratified_group_holdout(&[0, 0], &[0, 1], &[0, 7], 0.2, 0).is_err());
        assert!(stratified_group_holdout(&[0, 0], &[0, 1], &[0, 1], 1.0, 0).is_err());
    }
}
