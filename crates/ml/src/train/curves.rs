//! Per-step training curves (`curves.csv`): BT loss and accuracy of the
//! training batches, the adversary's cross-entropy and balanced accuracy,
//! how often the ln K cap bound, averaged over `log_every` steps; plus one
//! `eval` row per epoch with the eval split's BT loss and accuracy, the
//! adversary's CE and balanced accuracy on the eval split, and the category
//! dependence of the eval rewards (mean gap, KS, MI and its permuted null;
//! [`super::diagnostics`]). `chance_ce` = ln K on every row.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// One row of `curves.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveRow {
    /// `train` (a window of steps) or `eval` (end of an epoch).
    pub split: &'static str,
    /// Epoch, from 1.
    pub epoch: usize,
    /// Last step of the window (steps counted from 1 over the run).
    pub step: usize,
    /// Mean −log σ(r_c − r_r), nats.
    pub bt_loss: f64,
    /// Fraction of pairs with r_c > r_r.
    pub bt_accuracy: f64,
    /// Adversary cross-entropy after its step, nats (train rows).
    pub adv_ce: Option<f64>,
    /// Adversary balanced accuracy (train rows).
    pub adv_balanced_accuracy: Option<f64>,
    /// Fraction of the window's steps where CE ≥ ln K (train rows).
    pub cap_binds: Option<f64>,
    /// ln K, the adversary's CE at chance, nats.
    pub chance_ce: Option<f64>,
    /// Category mean gap of the eval rewards (eval rows; two categories:
    /// second minus first, signed; more: largest minus smallest).
    pub mean_gap: Option<f64>,
    /// KS statistic between categories of the eval rewards (eval rows).
    pub ks: Option<f64>,
    /// MI (nats, 50 bins) of category and eval reward (eval rows).
    pub mi: Option<f64>,
    /// Mean MI with the categories permuted: MI's null (eval rows).
    pub mi_null: Option<f64>,
}

/// Writes the rows as CSV with a header.
///
/// # Errors
/// The file cannot be written.
pub fn write_curves(path: &Path, rows: &[CurveRow]) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    for r in rows {
        w.serialize(r)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// One epoch's `eval` row of `curves.csv`, as the report reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCurve {
    /// Epoch, from 1.
    pub epoch: usize,
    /// Eval BT accuracy.
    pub bt_accuracy: f64,
    /// The adversary's eval CE, nats.
    pub adv_ce: Option<f64>,
    /// The adversary's eval balanced accuracy.
    pub adv_balanced_accuracy: Option<f64>,
    /// ln K.
    pub chance_ce: Option<f64>,
    /// Category mean gap.
    pub mean_gap: Option<f64>,
    /// KS between categories.
    pub ks: Option<f64>,
    /// MI, nats.
    pub mi: Option<f64>,
    /// MI's permuted null, nats.
    pub mi_null: Option<f64>,
}

/// A row of any split (csv cannot flatten numbers into a nested struct).
#[derive(serde::Deserialize)]
struct AnyRow {
    split: String,
    epoch: usize,
    bt_accuracy: f64,
    adv_ce: Option<f64>,
    adv_balanced_accuracy: Option<f64>,
    #[serde(default)]
    chance_ce: Option<f64>,
    #[serde(default)]
    mean_gap: Option<f64>,
    #[serde(default)]
    ks: Option<f64>,
    #[serde(default)]
    mi: Option<f64>,
    #[serde(default)]
    mi_null: Option<f64>,
}

/// The `eval` rows of a `curves.csv` written by [`write_curves`] (a file
/// from before the diagnostics reads with them empty).
///
/// # Errors
/// The file cannot be read or a row does not parse.
pub fn read_eval_curves(path: &Path) -> anyhow::Result<Vec<EvalCurve>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for row in r.deserialize::<AnyRow>() {
        let row = row.with_context(|| format!("reading {}", path.display()))?;
        if row.split == "eval" {
            out.push(EvalCurve {
                epoch: row.epoch,
                bt_accuracy: row.bt_accuracy,
                adv_ce: row.adv_ce,
                adv_balanced_accuracy: row.adv_balanced_accuracy,
                chance_ce: row.chance_ce,
                mean_gap: row.mean_gap,
                ks: row.ks,
                mi: row.mi,
                mi_null: row.mi_null,
            });
        }
    }
    Ok(out)
}

/// Accumulates train steps into windows.
#[derive(Debug, Default)]
pub struct Window {
    n: usize,
    bt: f64,
    acc: f64,
    ce: f64,
    ba: f64,
    binds: usize,
}

impl Window {
    /// Adds one step.
    pub fn add(&mut self, bt: f64, acc: f64, ce: f64, ba: f64, binds: bool) {
        self.n += 1;
        self.bt += bt;
        self.acc += acc;
        self.ce += ce;
        self.ba += ba;
        self.binds += usize::from(binds);
    }

    /// The window's mean row, and a fresh window; `None` when empty.
    pub fn take(&mut self, epoch: usize, step: usize) -> Option<CurveRow> {
        if self.n == 0 {
            return None;
        }
        let n = self.n as f64;
        let row = CurveRow {
            split: "train",
            epoch,
            step,
            bt_loss: self.bt / n,
            bt_accuracy: self.acc / n,
            adv_ce: Some(self.ce / n),
            adv_balanced_accuracy: Some(self.ba / n),
            cap_binds: Some(self.binds as f64 / n),
            chance_ce: None,
            mean_gap: None,
            ks: None,
            mi: None,
            mi_null: None,
        };
        *self = Window::default();
        Some(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_average_and_csv_has_a_header() {
        let mut w = Window::default();
        assert!(w.take(1, 0).is_none());
        w.add(1.0, 0.5, 0.6, 0.5, true);
        w.add(3.0, 1.0, 0.8, 1.0, false);
        let r = w.take(1, 2).unwrap();
        assert_eq!(
            (r.bt_loss, r.bt_accuracy, r.cap_binds),
            (2.0, 0.75, Some(0.5))
        );
        assert!(w.take(1, 2).is_none());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        write_curves(&p, &[r]).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("split,epoch,step,bt_loss,bt_accuracy,adv_ce,"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2);
        let eval = CurveRow {
            split: "eval",
            epoch: 3,
            step: 9,
            bt_loss: 0.6,
            bt_accuracy: 0.7,
            adv_ce: Some(0.69),
            adv_balanced_accuracy: Some(0.5),
            cap_binds: None,
            chance_ce: Some(2f64.ln()),
            mean_gap: Some(-0.25),
            ks: Some(0.1),
            mi: Some(0.02),
            mi_null: Some(0.01),
        };
        let mut r = w.take(1, 2).unwrap_or_else(|| CurveRow {
            split: "train",
            ..eval.clone()
        });
        r.cap_binds = Some(0.0);
        write_curves(&p, &[r, eval]).unwrap();
        let back = read_eval_curves(&p).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(
            (back[0].epoch, back[0].mean_gap, back[0].mi_null),
            (3, Some(-0.25), Some(0.01))
        );
    }
}
