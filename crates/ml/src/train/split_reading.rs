//! One split's reading of a trained reward model, for choosing settings
//! (issue 12, item 4: the adversary study): BT loss and accuracy, the
//! category dependence of its rewards ([`dependence`]: mean gap, KS, MI and
//! its permuted null) and the post-hoc category audit ([`audit`], App. A.7,
//! with its default settings). Written to `metrics.json` only when a
//! validation split is carved (`validation_fraction > 0`), for the
//! validation and the eval split alike, so the defaults' outputs are
//! unchanged.

use serde::Serialize;

use super::diagnostics::dependence;
use super::fit::bt_summary;
use crate::eval::category_audit::{AuditConfig, AuditItems, audit};
use crate::eval::scores::{ScoreRow, Side};

/// What [`read_split`] measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitReading {
    /// Pairs.
    pub n: usize,
    /// Mean BT loss (nats).
    pub bt_loss: f64,
    /// Share of pairs with r_chosen > r_rejected.
    pub accuracy: f64,
    /// Category mean gap (`null` with one category or an empty one).
    pub mean_gap: Option<f64>,
    /// KS statistic, the largest over category pairs.
    pub ks: Option<f64>,
    /// MI (nats), 50 bins.
    pub mi: Option<f64>,
    /// Mean MI with the categories permuted.
    pub mi_null: Option<f64>,
    /// Audit ROC AUC, mean over folds (`null` when the audit cannot run).
    pub audit_auc: Option<f64>,
    /// Audit balanced accuracy, mean over folds.
    pub audit_balanced_accuracy: Option<f64>,
}

/// Reads one split: `ids[i]` and `categories[i]` (an index into `names`)
/// of pair i, its rewards `chosen[i]`, `rejected[i]`; permutations and audit
/// folds from `seed`.
pub fn read_split(
    ids: &[&str],
    categories: &[usize],
    names: &[String],
    chosen: &[f32],
    rejected: &[f32],
    seed: u64,
) -> SplitReading {
    let (bt_loss, accuracy) = bt_summary(chosen, rejected);
    let dep = dependence(chosen, rejected, categories, names.len(), seed);
    let rows: Vec<ScoreRow> = ids
        .iter()
        .zip(categories)
        .zip(chosen.iter().zip(rejected))
        .flat_map(|((id, &c), (&rc, &rr))| {
            [(Side::Chosen, rc), (Side::Rejected, rr)].map(|(side, r)| ScoreRow {
                pair_id: id.to_string(),
                category: names[c].clone(),
                side,
                reward: f64::from(r),
            })
        })
        .collect();
    let audited = AuditItems::from_scores(&rows).ok().and_then(|items| {
        let feature: Vec<f64> = rows.iter().map(|r| r.reward).collect();
        audit(&feature, &items, &AuditConfig::default(), seed).ok()
    });
    SplitReading {
        n: ids.len(),
        bt_loss,
        accuracy,
        mean_gap: dep.map(|d| d.mean_gap),
        ks: dep.map(|d| d.ks),
        mi: dep.map(|d| d.mi),
        mi_null: dep.map(|d| d.mi_null),
        audit_auc: audited.as_ref().map(|a| a.auc.mean),
        audit_balanced_accuracy: audited.as_ref().map(|a| a.balanced_accuracy.mean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_offset_shows_in_every_reading_and_none_without_it() {
        let names = vec!["a".to_string(), "b".to_string()];
        let n = 200;
        let ids: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let cats: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let noise = |i: usize| ((i * 7919) % 101) as f32 / 101.0;
        let shifted = |off: f32| -> (Vec<f32>, Vec<f32>) {
            (0..n)
                .map(|i| {
                    let o = off * cats[i] as f32;
                    (1.0 + o + noise(i), o + noise(i + 13))
                })
                .unzip()
        };
        let (c, r) = shifted(3.0);
        let far = read_split(&ids, &cats, &names, &c, &r, 1);
        assert_eq!(far.n, n);
        assert!(far.accuracy > 0.6, "{far:?}");
        assert!(
            far.ks.unwrap() > 0.5 && far.audit_auc.unwrap() > 0.8,
            "{far:?}"
        );
        assert!(far.mean_gap.unwrap() > 2.5, "{far:?}");
        let (c, r) = shifted(0.0);
        let none = read_split(&ids, &cats, &names, &c, &r, 1);
        assert!(none.ks.unwrap() < far.ks.unwrap() / 2.0, "{none:?}");
        assert!(none.audit_auc.unwrap() < 0.7, "{none:?}");
        // One category: no dependence and no audit, but BT still read.
        let one = read_split(&ids, &vec![0; n], &names[..1], &c, &r, 1);
        assert!(one.audit_auc.is_none() && one.accuracy > 0.6, "{one:?}");
    }
}
