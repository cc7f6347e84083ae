//! Per-step training curves (`curves.csv`): BT loss and accuracy of the
//! training batches, the adversary's cross-entropy and balanced accuracy,
//! how often the ln K cap bound, averaged over `log_every` steps; plus one
//! `eval` row per epoch with the eval split's BT loss and accuracy.

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
    }
}
