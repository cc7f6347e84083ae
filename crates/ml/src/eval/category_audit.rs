//! The post-hoc category audit (App. A.7): can a fresh classifier recover a
//! response's category from one scalar (its frozen reward, or its length as
//! the confound baseline)?
//!
//! Procedure. Stratified k-fold over items, both responses of a pair in the
//! same fold ([`stratified_group_kfold`]). In each fold, an inner hold-out of
//! the *training* folds ([`stratified_group_holdout`], pairs kept whole) is
//! the early-stopping set; the test fold is touched once, by the kept
//! weights. The feature is standardised with the mean and sd of the
//! training folds (fit + validation items). A fresh [`crate::eval::mlp`] net
//! per fold; its test-fold ROC AUC (binary: P(class 1); more classes:
//! one-vs-rest macro) and balanced accuracy (argmax) are summarised as
//! mean ± sd (ddof 1) over folds.
//!
//! Seeds. One `seed` fixes everything: the folds, and for fold `f` the
//! hold-out and the net's initialisation and batch order, drawn in that
//! order from one [`SplitMix64`] stream. Auditing two features with the same
//! seed therefore uses the same folds and the same initialisations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::audit::{SplitError, stratified_group_holdout, stratified_group_kfold};
use super::mlp::{MlpConfig, MlpError, fit};
use super::scores::ScoreRow;
use super::stats::{MeanSd, StatsError, balanced_accuracy, mean_sd, roc_auc_ovr_macro};
use crate::util::rng::SplitMix64;

/// Why an audit could not be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditError {
    /// Fewer than two categories: nothing to predict.
    #[error("audit: need at least two categories, found {found:?}")]
    OneCategory {
        /// The categories present.
        found: Vec<String>,
    },
    /// Features and labels are not aligned.
    #[error("audit: {features} features for {items} items")]
    LengthMismatch {
        /// Number of features.
        features: usize,
        /// Number of items.
        items: usize,
    },
    /// A feature is NaN or infinite.
    #[error("audit: feature of item {index} is {value}, not finite")]
    NonFinite {
        /// The item.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The hold-out fraction is not strictly between 0 and 1.
    #[error("audit: hold-out fraction must be in (0, 1), got {0}")]
    BadHoldout(String),
    /// A setting is out of its range ([`AuditConfig::check`]).
    #[error("audit: {name}: expected {expected}, found {found}")]
    BadConfig {
        /// The setting.
        name: &'static str,
        /// Its value, as text.
        found: String,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// A category has no pair in some fold's inner validation set (too few
    /// pairs for that many folds and that hold-out).
    #[error(
        "audit: fold {fold}: category `{category}` has no pair in the inner validation split; use fewer folds or a larger hold-out, or add pairs"
    )]
    EmptyValidationClass {
        /// 1-based fold.
        fold: usize,
        /// The category.
        category: String,
    },
    /// The folds could not be made (e.g. a category with fewer pairs than folds).
    #[error("audit: {0}")]
    Split(#[from] SplitError),
    /// A net could not be fitted.
    #[error("audit: fold {fold}: {source}")]
    Mlp {
        /// 1-based fold.
        fold: usize,
        /// The fit error.
        source: MlpError,
    },
    /// A statistic could not be computed.
    #[error("audit: {0}")]
    Stats(#[from] StatsError),
}

/// Items to audit: one per scored response.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditItems {
    /// Category names, sorted; a label is an index into it.
    pub categories: Vec<String>,
    /// Category index of each item.
    pub labels: Vec<usize>,
    /// Pair index of each item (items of one pair share it).
    pub groups: Vec<usize>,
    /// Number of distinct pairs.
    pub n_pairs: usize,
}

impl AuditItems {
    /// Labels and pair groups of `rows`, in row order.
    ///
    /// # Errors
    /// Fewer than two categories.
    pub fn from_scores(rows: &[ScoreRow]) -> Result<Self, AuditError> {
        let mut cats: BTreeMap<&str, usize> = BTreeMap::new();
        let mut pairs: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rows {
            cats.insert(r.category.as_str(), 0);
            let next = pairs.len();
            pairs.entry(r.pair_id.as_str()).or_insert(next);
        }
        if cats.len() < 2 {
            return Err(AuditError::OneCategory {
                found: cats.keys().map(|c| c.to_string()).collect(),
            });
        }
        for (i, v) in cats.values_mut().enumerate() {
            *v = i;
        }
        Ok(AuditItems {
            categories: cats.keys().map(|c| c.to_string()).collect(),
            labels: rows.iter().map(|r| cats[r.category.as_str()]).collect(),
            groups: rows.iter().map(|r| pairs[r.pair_id.as_str()]).collect(),
            n_pairs: pairs.len(),
        })
    }
}

/// Settings of one audit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AuditConfig {
    /// Outer folds, ≥ 2.
    pub folds: usize,
    /// Fraction of the training folds' pairs (per category) held out for
    /// early stopping, in (0, 1).
    pub holdout: f64,
    /// The discriminator.
    pub mlp: MlpConfig,
}

impl Default for AuditConfig {
    /// App. A.7's audit: 5 folds, a 20 % early-stopping hold-out, an MLP of
    /// 16 hidden units (Adam 1e-2, batch 64, ≤ 200 epochs, patience 10).
    fn default() -> Self {
        AuditConfig {
            folds: 5,
            holdout: 0.2,
            mlp: MlpConfig {
                hidden: 16,
                lr: 1e-2,
                max_epochs: 200,
                patience: 10,
                batch_size: 64,
                monitor: Default::default(),
            },
        }
    }
}

impl AuditConfig {
    /// Checks every setting against its range, the net's through
    /// [`MlpConfig::check`].
    ///
    /// # Errors
    /// [`AuditError::BadConfig`] naming the first setting out of range.
    pub fn check(&self) -> Result<(), AuditError> {
        let bad = |name, found: String, expected| {
            Err(AuditError::BadConfig {
                name,
                found,
                expected,
            })
        };
        if !(2..=100).contains(&self.folds) {
            return bad("folds", self.folds.to_string(), "2..=100");
        }
        if !(self.holdout > 0.0 && self.holdout < 1.0) {
            return bad("holdout", self.holdout.to_string(), "a fraction in (0, 1)");
        }
        match self.mlp.check() {
            Err(MlpError::BadConfig {
                name,
                found,
                expected,
            }) => bad(name, found, expected),
            _ => Ok(()),
        }
    }
}

/// Item indices of one outer fold, each list sorted; the three are disjoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldSplit {
    /// Items the net is trained on.
    pub fit: Vec<usize>,
    /// Items early stopping watches (from the training folds).
    pub validation: Vec<usize>,
    /// The outer test fold.
    pub test: Vec<usize>,
    /// Seed of this fold's net (initialisation and batch order).
    pub net_seed: u64,
}

/// The folds, hold-outs and per-fold net seeds the audit uses for `seed`.
///
/// # Errors
/// As [`stratified_group_kfold`] and [`stratified_group_holdout`].
pub fn fold_splits(
    items: &AuditItems,
    folds: usize,
    holdout: f64,
    seed: u64,
) -> Result<Vec<FoldSplit>, AuditError> {
    if !(holdout > 0.0 && holdout < 1.0) {
        return Err(AuditError::BadHoldout(holdout.to_string()));
    }
    let mut rng = SplitMix64::new(seed);
    let outer = stratified_group_kfold(&items.labels, &items.groups, folds, rng.next_u64())?;
    let mut out = Vec::with_capacity(outer.len());
    for (f, fold) in outer.into_iter().enumerate() {
        let (fit, validation) = stratified_group_holdout(
            &items.labels,
            &items.groups,
            &fold.train,
            holdout,
            rng.next_u64(),
        )?;
        for (c, name) in items.categories.iter().enumerate() {
            if !validation.iter().any(|&i| items.labels[i] == c) {
                return Err(AuditError::EmptyValidationClass {
                    fold: f + 1,
                    category: name.clone(),
                });
            }
        }
        out.push(FoldSplit {
            fit,
            validation,
            test: fold.test,
            net_seed: rng.next_u64(),
        });
    }
    Ok(out)
}

/// One fold's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldResult {
    /// Items trained on.
    pub n_fit: usize,
    /// Items of the inner validation split.
    pub n_validation: usize,
    /// Items of the test fold.
    pub n_test: usize,
    /// Mean of the feature over the training folds (standardisation).
    pub feature_mean: f64,
    /// Sd (ddof 0) of the feature over the training folds; 1 where it is 0.
    pub feature_sd: f64,
    /// Epochs trained.
    pub epochs_run: usize,
    /// 1-based epoch whose weights were kept.
    pub best_epoch: usize,
    /// Validation cross-entropy of the kept weights.
    pub best_validation_loss: f64,
    /// Test-fold cross-entropy (nats).
    pub test_loss: f64,
    /// Test-fold ROC AUC (one-vs-rest macro for > 2 classes).
    pub auc: f64,
    /// Test-fold balanced accuracy of the argmax.
    pub balanced_accuracy: f64,
    /// Validation cross-entropy per epoch.
    pub validation_curve: Vec<f64>,
}

/// An audit's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditResult {
    /// Per outer fold.
    pub folds: Vec<FoldResult>,
    /// Mean ± sd (ddof 1) of the folds' AUC.
    pub auc: MeanSd,
    /// Mean ± sd (ddof 1) of the folds' balanced accuracy.
    pub balanced_accuracy: MeanSd,
}

/// One fold as `metrics.json` summarises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldSummary {
    /// Test-fold ROC AUC (`null` when it could not be computed).
    pub auc: Option<f64>,
    /// Test-fold balanced accuracy.
    pub balanced_accuracy: Option<f64>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// 1-based epoch whose weights were kept.
    pub best_epoch: usize,
    /// Items of the test fold.
    pub n_test: usize,
}

/// One audit's headline numbers (App. A.7, Table 4) and its folds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Mean AUC over folds.
    pub auc_mean: Option<f64>,
    /// Its sd (ddof 1).
    pub auc_sd: Option<f64>,
    /// Mean balanced accuracy over folds.
    pub balanced_accuracy_mean: Option<f64>,
    /// Its sd (ddof 1).
    pub balanced_accuracy_sd: Option<f64>,
    /// Per outer fold.
    #[serde(default)]
    pub folds: Vec<FoldSummary>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl AuditSummary {
    /// The summary of an audit.
    pub fn of(r: &AuditResult) -> Self {
        AuditSummary {
            auc_mean: finite(r.auc.mean),
            auc_sd: finite(r.auc.sd),
            balanced_accuracy_mean: finite(r.balanced_accuracy.mean),
            balanced_accuracy_sd: finite(r.balanced_accuracy.sd),
            folds: r
                .folds
                .iter()
                .map(|f| FoldSummary {
                    auc: finite(f.auc),
                    balanced_accuracy: finite(f.balanced_accuracy),
                    epochs_run: f.epochs_run,
                    best_epoch: f.best_epoch,
                    n_test: f.n_test,
                })
                .collect(),
        }
    }
}

/// `metrics.json` of `eval.category_audit`, written by the stage and read
/// back by `report.paper`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditMetrics {
    /// The audit of the rewards.
    #[serde(flatten)]
    pub reward: AuditSummary,
    /// Responses audited.
    #[serde(default)]
    pub n_responses: usize,
    /// Pairs they come from.
    #[serde(default)]
    pub n_pairs: usize,
    /// Responses per category.
    #[serde(default)]
    pub categories: BTreeMap<String, usize>,
    /// AUC of a classifier at chance (0.5).
    #[serde(default)]
    pub chance_auc: f64,
    /// Balanced accuracy at chance (1 / K).
    #[serde(default)]
    pub chance_balanced_accuracy: f64,
    /// What early stopping monitored.
    #[serde(default)]
    pub monitor: serde_json::Value,
    /// The audit of response length (the confound baseline), when run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<AuditSummary>,
}

/// Audits `feature` (one value per item of `items`) with `cfg`, all
/// randomness from `seed` (see the module doc).
///
/// # Errors
/// Misaligned or non-finite features, folds that cannot be made (a category
/// with fewer pairs than folds), a category missing from an inner
/// validation split, or a fit that fails.
pub fn audit(
    feature: &[f64],
    items: &AuditItems,
    cfg: &AuditConfig,
    seed: u64,
) -> Result<AuditResult, AuditError> {
    if feature.len() != items.labels.len() {
        return Err(AuditError::LengthMismatch {
            features: feature.len(),
            items: items.labels.len(),
        });
    }
    if let Some((index, &value)) = feature.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(AuditError::NonFinite { index, value });
    }
    let classes = items.categories.len();
    let mut folds = Vec::new();
    for (f, split) in fold_splits(items, cfg.folds, cfg.holdout, seed)?
        .into_iter()
        .enumerate()
    {
        folds.push(
            one_fold(feature, items, classes, cfg, &split).map_err(|e| match e {
                FoldError::Mlp(source) => AuditError::Mlp {
                    fold: f + 1,
                    source,
                },
                FoldError::Stats(s) => AuditError::Stats(s),
            })?,
        );
    }
    let aucs: Vec<f64> = folds.iter().map(|f| f.auc).collect();
    let bas: Vec<f64> = folds.iter().map(|f| f.balanced_accuracy).collect();
    Ok(AuditResult {
        auc: mean_sd(&aucs)?,
        balanced_accuracy: mean_sd(&bas)?,
        folds,
    })
}

enum FoldError {
    Mlp(MlpError),
    Stats(StatsError),
}

fn one_fold(
    feature: &[f64],
    items: &AuditItems,
    classes: usize,
    cfg: &AuditConfig,
    split: &FoldSplit,
) -> Result<FoldResult, FoldError> {
    let train: Vec<f64> = split
        .fit
        .iter()
        .chain(&split.validation)
        .map(|&i| feature[i])
        .collect();
    let n = train.len() as f64;
    let mean = train.iter().sum::<f64>() / n;
    let sd = (train.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    // A constant feature carries no information; keep it at 0 rather than divide by 0.
    let sd = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
    let take = |idx: &[usize]| -> (Vec<f64>, Vec<usize>) {
        idx.iter()
            .map(|&i| ((feature[i] - mean) / sd, items.labels[i]))
            .unzip()
    };
    let (fx, fy) = take(&split.fit);
    let (vx, vy) = take(&split.validation);
    let (tx, ty) = take(&split.test);
    let net =
        fit((&fx, &fy), (&vx, &vy), classes, &cfg.mlp, split.net_seed).map_err(FoldError::Mlp)?;
    let proba = net.mlp.predict_proba(&tx);
    let predicted: Vec<usize> = proba
        .chunks_exact(classes)
        .map(|row| {
            // First maximum, as numpy's argmax.
            (0..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best })
        })
        .collect();
    Ok(FoldResult {
        n_fit: fx.len(),
        n_validation: vx.len(),
        n_test: tx.len(),
        feature_mean: mean,
        feature_sd: sd,
        epochs_run: net.epochs_run,
        best_epoch: net.best_epoch,
        best_validation_loss: net.mlp.loss(&vx, &vy),
        test_loss: net.mlp.loss(&tx, &ty),
        auc: roc_auc_ovr_macro(&ty, &proba, classes).map_err(FoldError::Stats)?,
        balanced_accuracy: balanced_accuracy(&ty, &predicted).map_err(FoldError::Stats)?,
        validation_curve: net.val_loss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::mlp::Monitor;
    use crate::eval::scores::Side;

    fn cfg() -> AuditConfig {
        let c = AuditConfig::default();
        assert_eq!(c.mlp.monitor, Monitor::Loss, "App. A.7 stops on the loss");
        c
    }

    /// `pairs` pairs per category, both sides scored; reward of a response
    /// = `reward(category index, rng)`.
    fn rows(
        categories: usize,
        pairs: usize,
        seed: u64,
        reward: impl Fn(usize, &mut SplitMix64) -> f64,
    ) -> Vec<ScoreRow> {
        let mut rng = SplitMix64::new(seed);
        let mut v = Vec::new();
        for c in 0..categories {
            for p in 0..pairs {
                for side in [Side::Chosen, Side::Rejected] {
                    v.push(ScoreRow {
                        pair_id: format!("c{c}p{p}"),
                        category: format!("cat{c:02}"),
                        side,
                        reward: reward(c, &mut rng),
                    });
                }
            }
        }
        v
    }

    fn run(rows: &[ScoreRow], cfg: &AuditConfig, seed: u64) -> AuditResult {
        let items = AuditItems::from_scores(rows).unwrap();
        let x: Vec<f64> = rows.iter().map(|r| r.reward).collect();
        audit(&x, &items, cfg, seed).unwrap()
    }

    #[test]
    fn separable_rewards_give_auc_one() {
        // Category 1 iff reward > 0.
        let r = rows(2, 100, 1, |c, rng| {
            let m = rng.next_f64() * 3.0 + 0.05;
            if c == 1 { m } else { -m }
        });
        let a = run(&r, &cfg(), 7);
        assert!(a.auc.mean > 0.999, "{:?}", a.auc);
        assert!(a.balanced_accuracy.mean > 0.97, "{:?}", a.balanced_accuracy);
        assert_eq!(a.folds.len(), 5);
        assert_eq!(a.folds.iter().map(|f| f.n_test).sum::<usize>(), 400);
    }

    #[test]
    fn noise_rewards_give_chance() {
        // 1,000 pairs, 2,000 responses; the reward ignores the category.
        let r = rows(2, 500, 2, |_, rng| rng.normal());
        let a = run(&r, &cfg(), 7);
        assert!((a.auc.mean - 0.5).abs() < 0.1, "{:?}", a.auc);
        assert!(
            (a.balanced_accuracy.mean - 0.5).abs() < 0.1,
            "{:?}",
            a.balanced_accuracy
        );
    }

    #[test]
    fn three_shifted_categories_give_high_ovr_auc() {
        let r = rows(3, 60, 3, |c, rng| rng.normal() * 0.5 + 2.0 * c as f64);
        let a = run(&r, &cfg(), 7);
        assert!(a.auc.mean > 0.9, "{:?}", a.auc);
        // Chance is 1/3; the middle category is the hardest.
        assert!(a.balanced_accuracy.mean > 0.75, "{:?}", a.balanced_accuracy);
        // A non-monotone layout (middle category apart) is learnt too.
        let r = rows(3, 60, 4, |c, rng| {
            let s = if rng.next_f64() < 0.5 { -1.0 } else { 1.0 };
            if c == 1 {
                rng.normal() * 0.3
            } else {
                s * (3.0 + c as f64) + rng.normal() * 0.3
            }
        });
        let a = run(&r, &cfg(), 7);
        assert!(a.auc.mean > 0.75, "{:?}", a.auc);
    }

    #[test]
    fn same_seed_same_bits_other_seed_other_folds_similar_means() {
        let r = rows(2, 150, 5, |c, rng| rng.normal() + 0.8 * c as f64);
        let a = run(&r, &cfg(), 11);
        let b = run(&r, &cfg(), 11);
        assert_eq!(a, b);
        let json_a = serde_json::to_string(&a).unwrap();
        assert_eq!(json_a, serde_json::to_string(&b).unwrap());
        let c = run(&r, &cfg(), 12);
        let aucs = |x: &AuditResult| x.folds.iter().map(|f| f.auc).collect::<Vec<_>>();
        assert_ne!(aucs(&a), aucs(&c));
        // Population AUC of N(0.8, 1) vs N(0, 1): Φ(0.8/√2) ≈ 0.714.
        assert!((a.auc.mean - c.auc.mean).abs() < 0.05, "{a:?} {c:?}");
        assert!((a.auc.mean - 0.714).abs() < 0.06, "{:?}", a.auc);
    }

    #[test]
    fn validation_comes_from_the_training_folds_never_the_test_fold() {
        let r = rows(3, 23, 6, |_, rng| rng.normal());
        let items = AuditItems::from_scores(&r).unwrap();
        let splits = fold_splits(&items, 5, 0.2, 9).unwrap();
        let mut tested = vec![0; r.len()];
        for s in &splits {
            let mut all: Vec<usize> = s
                .fit
                .iter()
                .chain(&s.validation)
                .chain(&s.test)
                .copied()
                .collect();
            all.sort_unstable();
            all.dedup();
            assert_eq!(
                all.len(),
                r.len(),
                "fit/validation/test overlap or miss items"
            );
            assert!(s.validation.iter().all(|i| !s.test.contains(i)));
            assert!(!s.validation.is_empty() && !s.fit.is_empty());
            for &i in &s.test {
                tested[i] += 1;
            }
            for set in [&s.fit, &s.validation, &s.test] {
                for &i in set.iter() {
                    assert!(set.contains(&(i ^ 1)), "pair of item {i} split");
                }
            }
        }
        assert!(tested.iter().all(|&t| t == 1));
    }

    #[test]
    fn the_test_fold_does_not_influence_training() {
        // Changing the features of fold 1's test items leaves fold 1's
        // standardisation and early stopping untouched.
        let r = rows(2, 40, 8, |c, rng| rng.normal() + c as f64);
        let items = AuditItems::from_scores(&r).unwrap();
        let x: Vec<f64> = r.iter().map(|r| r.reward).collect();
        let a = audit(&x, &items, &cfg(), 3).unwrap();
        let test = &fold_splits(&items, 5, 0.2, 3).unwrap()[0].test;
        let mut y = x.clone();
        for &i in test {
            y[i] = -10.0 * y[i] + 100.0;
        }
        let b = audit(&y, &items, &cfg(), 3).unwrap();
        let (fa, fb) = (&a.folds[0], &b.folds[0]);
        assert_eq!(fa.feature_mean, fb.feature_mean);
        assert_eq!(fa.validation_curve, fb.validation_curve);
        assert_eq!(fa.best_epoch, fb.best_epoch);
        assert_ne!(fa.test_loss, fb.test_loss);
        assert_ne!(a.folds[1].feature_mean, b.folds[1].feature_mean);
    }

    #[test]
    fn auc_monitoring_also_works() {
        let r = rows(2, 60, 9, |c, rng| rng.normal() + 2.0 * c as f64);
        let mut c = cfg();
        c.mlp.monitor = Monitor::Auc;
        let a = run(&r, &c, 1);
        assert!(a.auc.mean > 0.85, "{:?}", a.auc);
    }

    #[test]
    fn bad_input_is_an_error() {
        let one = rows(1, 10, 1, |_, rng| rng.normal());
        assert!(matches!(
            AuditItems::from_scores(&one),
            Err(AuditError::OneCategory { .. })
        ));
        let few = rows(2, 4, 1, |_, rng| rng.normal());
        let items = AuditItems::from_scores(&few).unwrap();
        let x: Vec<f64> = few.iter().map(|r| r.reward).collect();
        let e = audit(&x, &items, &cfg(), 0).unwrap_err();
        assert!(
            matches!(
                e,
                AuditError::Split(SplitError::TooFewGroups {
                    groups: 4,
                    k: 5,
                    ..
                })
            ),
            "{e}"
        );
        let ok = rows(2, 10, 1, |_, rng| rng.normal());
        let items = AuditItems::from_scores(&ok).unwrap();
        let mut x: Vec<f64> = ok.iter().map(|r| r.reward).collect();
        x[3] = f64::NAN;
        assert!(matches!(
            audit(&x, &items, &cfg(), 0),
            Err(AuditError::NonFinite { index: 3, .. })
        ));
        assert!(matches!(
            audit(&x[..5], &items, &cfg(), 0),
            Err(AuditError::LengthMismatch { .. })
        ));
        // 2 folds of 2 pairs: one training pair per category, none to hold out.
        let tiny = rows(2, 2, 1, |_, rng| rng.normal());
        let items = AuditItems::from_scores(&tiny).unwrap();
        let x: Vec<f64> = tiny.iter().map(|r| r.reward).collect();
        let c = AuditConfig { folds: 2, ..cfg() };
        assert!(matches!(
            audit(&x, &items, &c, 0),
            Err(AuditError::EmptyValidationClass { fold: 1, .. })
        ));
    }

    #[test]
    fn a_constant_feature_is_chance_not_an_error() {
        let r = rows(2, 20, 1, |_, _| 3.5);
        let a = run(&r, &cfg(), 1);
        assert_eq!(a.auc.mean, 0.5);
        assert_eq!(a.folds[0].feature_sd, 1.0);
    }

    /// Runtime at the CPU pipeline's scale: `cargo test --release --lib
    /// audit_runtime -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing; run by hand in release"]
    fn audit_runtime_at_pipeline_scale() {
        for (cats, pairs, shift) in [(2, 350, 0.5), (19, 100, 0.2)] {
            let r = rows(cats, pairs, 1, |c, rng| rng.normal() + shift * c as f64);
            let t = std::time::Instant::now();
            let a = run(&r, &cfg(), 1);
            let dt = t.elapsed().as_secs_f64();
            let epochs: Vec<usize> = a.folds.iter().map(|f| f.epochs_run).collect();
            println!(
                "{cats} categories x {pairs} pairs ({} responses): {dt:.3} s, AUC {:.3} +- {:.3}, epochs {epochs:?}",
                r.len(),
                a.auc.mean,
                a.auc.sd
            );
            assert!(dt < 5.0, "{dt} s");
        }
    }
}
