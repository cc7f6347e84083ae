//! The audit's discriminator (App. A.7): a fresh two-layer perceptron on one
//! scalar feature, `1 → hidden (ReLU) → classes` logits with softmax
//! cross-entropy, trained with Adam on mini-batches and early-stopped on a
//! validation set. Plain `f64`, one thread: with one input the whole net is
//! a few hundred parameters, far below where a tensor library pays off.
//!
//! Conventions follow PyTorch so the reference script
//! (`tests/fixtures/mlp/make_fixture.py`) can mirror them: `nn.Linear`'s
//! default initialisation `U(-1/√fan_in, 1/√fan_in)` for weights and biases,
//! `torch.optim.Adam` (β = (0.9, 0.999), ε = 1e-8, bias-corrected, no weight
//! decay), mean cross-entropy over the batch. Initialisation and batch order
//! draw from one [`SplitMix64`] stream, so a seed fixes the fit bit for bit.

use serde::{Deserialize, Serialize};

use crate::eval::stats::{StatsError, roc_auc_ovr_macro};
use crate::util::rng::SplitMix64;

/// Why a net could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MlpError {
    /// A training or validation set has no item.
    #[error("mlp: the {set} set is empty")]
    Empty {
        /// `fit` or `validation`.
        set: &'static str,
    },
    /// Features and labels are not aligned.
    #[error("mlp: the {set} set has {features} features but {labels} labels")]
    LengthMismatch {
        /// `fit` or `validation`.
        set: &'static str,
        /// Number of features.
        features: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A feature is NaN or infinite.
    #[error("mlp: the {set} set has a non-finite feature {value} at index {index}")]
    NonFinite {
        /// `fit` or `validation`.
        set: &'static str,
        /// Position of the value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A label is not below the class count.
    #[error("mlp: the {set} set has label {label} at index {index}, not below {classes} classes")]
    LabelOutOfRange {
        /// `fit` or `validation`.
        set: &'static str,
        /// Position of the label.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A hyper-parameter is out of range.
    #[error("mlp: `{name}` = {found} is out of range; expected {expected}")]
    BadConfig {
        /// The hyper-parameter.
        name: &'static str,
        /// Its value, as text.
        found: String,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// No epoch gave a finite validation number (the fit diverged).
    #[error("mlp: the validation {monitor} was never finite in {epochs} epochs")]
    Diverged {
        /// What was watched.
        monitor: &'static str,
        /// Epochs run.
        epochs: usize,
    },
    /// The validation AUC (for [`Monitor::Auc`]) could not be computed.
    #[error("mlp: validation AUC: {0}")]
    Auc(#[from] StatsError),
}

/// What early stopping watches on the validation set.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Mean cross-entropy, lower is better.
    #[default]
    Loss,
    /// ROC AUC (one-vs-rest macro for more than two classes), higher is
    /// better: what App. A.7's text names.
    Auc,
}

/// Hyper-parameters of one fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Hidden width, ≥ 1.
    pub hidden: usize,
    /// Adam learning rate, finite and > 0.
    pub lr: f64,
    /// Epochs at most, ≥ 1.
    pub max_epochs: usize,
    /// Stop after this many epochs without a strict improvement of the
    /// monitored validation number, ≥ 1.
    pub patience: usize,
    /// Items per Adam step, ≥ 1 (the last batch of an epoch may be smaller;
    /// a value ≥ the training set is full-batch).
    pub batch_size: usize,
    /// What early stopping watches.
    pub monitor: Monitor,
}

impl MlpConfig {
    /// Checks every hyper-parameter against its range (the one place the
    /// ranges are written; `eval.category_audit` reports them under `with:`).
    ///
    /// # Errors
    /// [`MlpError::BadConfig`] naming the first hyper-parameter out of range.
    pub fn check(&self) -> Result<(), MlpError> {
        let bad = |name, found: String, expected| {
            Err(MlpError::BadConfig {
                name,
                found,
                expected,
            })
        };
        if !(1..=4096).contains(&self.hidden) {
            return bad("hidden", self.hidden.to_string(), "1..=4096");
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return bad("lr", self.lr.to_string(), "(0, 10]");
        }
        if !(1..=100_000).contains(&self.max_epochs) {
            return bad("max_epochs", self.max_epochs.to_string(), "1..=100000");
        }
        if self.patience == 0 {
            return bad("patience", "0".into(), ">= 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), ">= 1");
        }
        Ok(())
    }
}

/// The net. Parameters live in one flat vector, in the order
/// `w1 [hidden], b1 [hidden], w2 [classes, hidden] (row-major), b2 [classes]`
/// (PyTorch's `fc1.weight, fc1.bias, fc2.weight, fc2.bias`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    hidden: usize,
    classes: usize,
    params: Vec<f64>,
}

impl Mlp {
    /// A net with `nn.Linear`'s default initialisation drawn from `rng`:
    /// layer 1 from `U(-1, 1)` (fan-in 1), layer 2 from `U(-1/√hidden, 1/√hidden)`.
    pub fn init(hidden: usize, classes: usize, rng: &mut SplitMix64) -> Self {
        let n = Self::n_params(hidden, classes);
        let bound2 = 1.0 / (hidden as f64).sqrt();
        let params = (0..n)
            .map(|i| {
                let bound = if i < 2 * hidden { 1.0 } else { bound2 };
                (2.0 * rng.next_f64() - 1.0) * bound
            })
            .collect();
        Mlp {
            hidden,
            classes,
            params,
        }
    }

    /// A net with the given parameters (layout in the type's doc), or
    /// `None` when their number does not fit `hidden` and `classes`.
    pub fn from_params(hidden: usize, classes: usize, params: Vec<f64>) -> Option<Self> {
        (params.len() == Self::n_params(hidden, classes)).then_some(Mlp {
            hidden,
            classes,
            params,
        })
    }

    fn n_params(hidden: usize, classes: usize) -> usize {
        2 * hidden + classes * hidden + classes
    }

    /// The flat parameter vector.
    pub fn params(&self) -> &[f64] {
        &self.params
    }

    /// Number of output classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Hidden activations `h [hidden]` and log-probabilities `logp [classes]` of `x`.
    fn forward(&self, x: f64, h: &mut [f64], logp: &mut [f64]) {
        let (hd, k) = (self.hidden, self.classes);
        let (w1, rest) = self.params.split_at(hd);
        let (b1, rest) = rest.split_at(hd);
        let (w2, b2) = rest.split_at(k * hd);
        for j in 0..hd {
            h[j] = (w1[j] * x + b1[j]).max(0.0);
        }
        for c in 0..k {
            let row = &w2[c * hd..(c + 1) * hd];
            logp[c] = b2[c] + row.iter().zip(h.iter()).map(|(w, a)| w * a).sum::<f64>();
        }
        let max = logp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + logp.iter().map(|z| (z - max).exp()).sum::<f64>().ln();
        for z in logp.iter_mut() {
            *z -= lse;
        }
    }

    /// Class probabilities of each `x`, row-major `[xs.len(), classes]`.
    pub fn predict_proba(&self, xs: &[f64]) -> Vec<f64> {
        let mut h = vec![0.0; self.hidden];
        let mut out = vec![0.0; xs.len() * self.classes];
        for (x, row) in xs.iter().zip(out.chunks_exact_mut(self.classes)) {
            self.forward(*x, &mut h, row);
            for p in row.iter_mut() {
                *p = p.exp();
            }
        }
        out
    }

    /// Mean cross-entropy (nats) of `xs` labelled `ys`.
    pub fn loss(&self, xs: &[f64], ys: &[usize]) -> f64 {
        let mut h = vec![0.0; self.hidden];
        let mut logp = vec![0.0; self.classes];
        let mut total = 0.0;
        for (&x, &y) in xs.iter().zip(ys) {
            self.forward(x, &mut h, &mut logp);
            total -= logp[y];
        }
        total / xs.len().max(1) as f64
    }

    /// Mean cross-entropy of the items `batch` of `(xs, ys)` and its
    /// gradient with respect to the flat parameters (written to `grad`).
    pub fn loss_and_grad(
        &self,
        xs: &[f64],
        ys: &[usize],
        batch: &[usize],
        grad: &mut [f64],
    ) -> f64 {
        let (hd, k) = (self.hidden, self.classes);
        grad.iter_mut().for_each(|g| *g = 0.0);
        let w2 = &self.params[2 * hd..2 * hd + k * hd];
        let (g1, rest) = grad.split_at_mut(2 * hd);
        let (gw2, gb2) = rest.split_at_mut(k * hd);
        let (gw1, gb1) = g1.split_at_mut(hd);
        let mut h = vec![0.0; hd];
        let mut dz = vec![0.0; k];
        let mut total = 0.0;
        for &i in batch {
            let (x, y) = (xs[i], ys[i]);
            self.forward(x, &mut h, &mut dz);
            total -= dz[y];
            // dL/dz = softmax(z) - onehot(y)
            for (c, d) in dz.iter_mut().enumerate() {
                *d = d.exp() - f64::from(u8::from(c == y));
            }
            for c in 0..k {
                gb2[c] += dz[c];
                for j in 0..hd {
                    gw2[c * hd + j] += dz[c] * h[j];
                }
            }
            for j in 0..hd {
                if h[j] > 0.0 {
                    let dh: f64 = (0..k).map(|c| w2[c * hd + j] * dz[c]).sum();
                    gw1[j] += dh * x;
                    gb1[j] += dh;
                }
            }
        }
        let n = batch.len().max(1) as f64;
        grad.iter_mut().for_each(|g| *g /= n);
        total / n
    }
}

/// `torch.optim.Adam` without weight decay.
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    /// Fresh moments for `n` parameters.
    pub fn new(n: usize, lr: f64) -> Self {
        Adam {
            lr,
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    /// One update of `params` along `grad`.
    pub fn step(&mut self, params: &mut [f64], grad: &[f64]) {
        self.t = self.t.saturating_add(1);
        let bc1 = 1.0 - Self::BETA1.powi(self.t);
        let bc2_sqrt = (1.0 - Self::BETA2.powi(self.t)).sqrt();
        let step = self.lr / bc1;
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = Self::BETA1 * *m + (1.0 - Self::BETA1) * g;
            *v = Self::BETA2 * *v + (1.0 - Self::BETA2) * g * g;
            // As torch: denom = sqrt(v) / sqrt(1 - β2^t) + ε.
            *p -= step * *m / (v.sqrt() / bc2_sqrt + Self::EPS);
        }
    }
}

/// A fitted net and how its training went.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The weights of the best validation epoch.
    pub mlp: Mlp,
    /// Epochs trained before stopping.
    pub epochs_run: usize,
    /// 1-based epoch whose weights were kept.
    pub best_epoch: usize,
    /// The monitored validation number at `best_epoch` (cross-entropy, or AUC).
    pub best_monitored: f64,
    /// Mean training cross-entropy per epoch (over the epoch's batches,
    /// each taken before its update).
    pub train_loss: Vec<f64>,
    /// Validation cross-entropy after each epoch.
    pub val_loss: Vec<f64>,
}

fn check_set(set: &'static str, xs: &[f64], ys: &[usize], classes: usize) -> Result<(), MlpError> {
    if xs.len() != ys.len() {
        return Err(MlpError::LengthMismatch {
            set,
            features: xs.len(),
            labels: ys.len(),
        });
    }
    if xs.is_empty() {
        return Err(MlpError::Empty { set });
    }
    if let Some((index, &value)) = xs.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(MlpError::NonFinite { set, index, value });
    }
    if let Some((index, &label)) = ys.iter().enumerate().find(|(_, y)| **y >= classes) {
        return Err(MlpError::LabelOutOfRange {
            set,
            index,
            label,
            classes,
        });
    }
    Ok(())
}

/// Trains a fresh net on `(fit_x, fit_y)` and keeps the weights of the epoch
/// with the best validation number on `(val_x, val_y)`; stops after
/// `patience` epochs without a strict improvement or at `max_epochs`. The
/// validation set is only ever evaluated, never trained on.
///
/// # Errors
/// Empty or misaligned sets, non-finite features, labels `>= classes`, fewer
/// than two classes, a hyper-parameter out of range, or (for
/// [`Monitor::Auc`]) a class absent from the validation set.
pub fn fit(
    (fit_x, fit_y): (&[f64], &[usize]),
    (val_x, val_y): (&[f64], &[usize]),
    classes: usize,
    cfg: &MlpConfig,
    seed: u64,
) -> Result<Fit, MlpError> {
    cfg.check()?;
    if classes < 2 {
        return Err(MlpError::BadConfig {
            name: "classes",
            found: classes.to_string(),
            expected: ">= 2",
        });
    }
    check_set("fit", fit_x, fit_y, classes)?;
    check_set("validation", val_x, val_y, classes)?;
    let mut rng = SplitMix64::new(seed);
    let mut mlp = Mlp::init(cfg.hidden, classes, &mut rng);
    let mut adam = Adam::new(mlp.params.len(), cfg.lr);
    let mut grad = vec![0.0; mlp.params.len()];
    let mut order: Vec<usize> = (0..fit_x.len()).collect();
    let monitored = |m: &Mlp, val_loss: f64| -> Result<f64, MlpError> {
        Ok(match cfg.monitor {
            Monitor::Loss => val_loss,
            // Negated so that lower is better for both.
            Monitor::Auc => -roc_auc_ovr_macro(val_y, &m.predict_proba(val_x), classes)?,
        })
    };
    let (mut train_loss, mut val_loss) = (Vec::new(), Vec::new());
    let mut best = (mlp.clone(), 0usize, f64::INFINITY);
    for epoch in 1..=cfg.max_epochs {
        rng.shuffle(&mut order);
        let mut total = 0.0;
        for batch in order.chunks(cfg.batch_size) {
            total += mlp.loss_and_grad(fit_x, fit_y, batch, &mut grad) * batch.len() as f64;
            adam.step(&mut mlp.params, &grad);
        }
        train_loss.push(total / fit_x.len() as f64);
        let vl = mlp.loss(val_x, val_y);
        val_loss.push(vl);
        let score = monitored(&mlp, vl)?;
        if score < best.2 {
            best = (mlp.clone(), epoch, score);
        } else if epoch - best.1 >= cfg.patience {
            break;
        }
    }
    let (best_mlp, best_epoch, score) = best;
    if best_epoch == 0 {
        return Err(MlpError::Diverged {
            monitor: match cfg.monitor {
                Monitor::Loss => "loss",
                Monitor::Auc => "AUC",
            },
            epochs: val_loss.len(),
        });
    }
    Ok(Fit {
        mlp: best_mlp,
        epochs_run: val_loss.len(),
        best_epoch,
        best_monitored: match cfg.monitor {
            Monitor::Loss => score,
            Monitor::Auc => -score,
        },
        train_loss,
        val_loss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stats::roc_auc_binary;

    fn cfg() -> MlpConfig {
        MlpConfig {
            hidden: 16,
            lr: 1e-2,
            max_epochs: 200,
            patience: 10,
            batch_size: 64,
            monitor: Monitor::Loss,
        }
    }

    fn fixture() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../../../tests/fixtures/mlp/adam_steps.json"
        ))
        .unwrap()
    }

    fn nums(v: &serde_json::Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    #[test]
    fn loss_grad_and_adam_match_pytorch_conventions_in_numpy() {
        let fx = fixture();
        for case in fx["cases"].as_array().unwrap() {
            let hidden = case["hidden"].as_u64().unwrap() as usize;
            let classes = case["classes"].as_u64().unwrap() as usize;
            let xs = nums(&case["x"]);
            let ys: Vec<usize> = nums(&case["y"]).iter().map(|&y| y as usize).collect();
            let mut mlp = Mlp::from_params(hidden, classes, nums(&case["params"])).unwrap();
            let batch: Vec<usize> = (0..xs.len()).collect();
            let mut grad = vec![0.0; mlp.params().len()];
            let loss = mlp.loss_and_grad(&xs, &ys, &batch, &mut grad);
            let close = |a: f64, b: f64, what: &str| {
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    "{what}: {a} vs {b}"
                )
            };
            close(loss, case["loss"].as_f64().unwrap(), "loss");
            close(mlp.loss(&xs, &ys), case["loss"].as_f64().unwrap(), "loss()");
            for (a, b) in grad.iter().zip(nums(&case["grad"])) {
                close(*a, b, "grad");
            }
            let probs = mlp.predict_proba(&xs);
            for (a, b) in probs.iter().zip(nums(&case["proba"])) {
                close(*a, b, "proba");
            }
            let mut adam = Adam::new(grad.len(), case["lr"].as_f64().unwrap());
            for _ in 0..case["steps"].as_u64().unwrap() {
                mlp.loss_and_grad(&xs, &ys, &batch, &mut grad);
                adam.step(&mut mlp.params, &grad);
            }
            for (a, b) in mlp.params().iter().zip(nums(&case["params_after"])) {
                assert!((a - b).abs() <= 1e-10, "params after Adam: {a} vs {b}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = SplitMix64::new(5);
        let mlp = Mlp::init(5, 3, &mut rng);
        let xs: Vec<f64> = (0..20).map(|_| rng.normal()).collect();
        let ys: Vec<usize> = (0..20).map(|i| i % 3).collect();
        let batch: Vec<usize> = (0..20).collect();
        let mut grad = vec![0.0; mlp.params().len()];
        mlp.loss_and_grad(&xs, &ys, &batch, &mut grad);
        let h = 1e-6;
        for (p, &g) in grad.iter().enumerate() {
            let mut plus = mlp.clone();
            plus.params[p] += h;
            let mut minus = mlp.clone();
            minus.params[p] -= h;
            let num = (plus.loss(&xs, &ys) - minus.loss(&xs, &ys)) / (2.0 * h);
            assert!((num - g).abs() < 1e-6, "param {p}: {num} vs {}", g);
        }
    }

    #[test]
    fn fits_a_separable_problem() {
        let mut rng = SplitMix64::new(11);
        let sample = |rng: &mut SplitMix64, n: usize| {
            let xs: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let ys: Vec<usize> = xs.iter().map(|&x| usize::from(x > 0.3)).collect();
            (xs, ys)
        };
        let (fx, fy) = sample(&mut rng, 400);
        let (vx, vy) = sample(&mut rng, 100);
        let (tx, ty) = sample(&mut rng, 200);
        let f = fit((&fx, &fy), (&vx, &vy), 2, &cfg(), 3).unwrap();
        let p = f.mlp.predict_proba(&tx);
        let pos: Vec<bool> = ty.iter().map(|&y| y == 1).collect();
        let p1: Vec<f64> = p.chunks(2).map(|r| r[1]).collect();
        assert!(roc_auc_binary(&pos, &p1).unwrap() > 0.995);
        let correct = p1
            .iter()
            .zip(&ty)
            .filter(|(p, y)| usize::from(**p > 0.5) == **y)
            .count();
        assert!(correct as f64 / ty.len() as f64 > 0.95, "{correct}/200");
        assert!(f.val_loss[f.best_epoch - 1] == f.best_monitored);
        assert!(f.val_loss.iter().all(|&v| v >= f.best_monitored));
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch_and_stops_after_patience() {
        // Pure noise: validation loss stops improving early.
        let mut rng = SplitMix64::new(2);
        let fx: Vec<f64> = (0..300).map(|_| rng.normal()).collect();
        let fy: Vec<usize> = (0..300).map(|_| rng.index(2)).collect();
        let vx: Vec<f64> = (0..100).map(|_| rng.normal()).collect();
        let vy: Vec<usize> = (0..100).map(|_| rng.index(2)).collect();
        let c = MlpConfig {
            patience: 5,
            ..cfg()
        };
        let f = fit((&fx, &fy), (&vx, &vy), 2, &c, 9).unwrap();
        assert!(f.epochs_run < c.max_epochs, "ran {}", f.epochs_run);
        assert_eq!(f.epochs_run, f.best_epoch + c.patience);
        let refit_loss = f.mlp.loss(&vx, &vy);
        assert_eq!(refit_loss, f.best_monitored);
        // AUC monitoring keeps the epoch with the highest validation AUC.
        let a = fit(
            (&fx, &fy),
            (&vx, &vy),
            2,
            &MlpConfig {
                monitor: Monitor::Auc,
                ..c
            },
            9,
        )
        .unwrap();
        let pos: Vec<bool> = vy.iter().map(|&y| y == 1).collect();
        let p1: Vec<f64> = a.mlp.predict_proba(&vx).chunks(2).map(|r| r[1]).collect();
        assert_eq!(roc_auc_binary(&pos, &p1).unwrap(), a.best_monitored);
    }

    #[test]
    fn same_seed_same_bits_other_seed_other_weights() {
        let mut rng = SplitMix64::new(4);
        let xs: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
        let ys: Vec<usize> = xs.iter().map(|&x| usize::from(x > 0.0)).collect();
        let a = fit(
            (&xs[..150], &ys[..150]),
            (&xs[150..], &ys[150..]),
            2,
            &cfg(),
            1,
        )
        .unwrap();
        let b = fit(
            (&xs[..150], &ys[..150]),
            (&xs[150..], &ys[150..]),
            2,
            &cfg(),
            1,
        )
        .unwrap();
        let c = fit(
            (&xs[..150], &ys[..150]),
            (&xs[150..], &ys[150..]),
            2,
            &cfg(),
            2,
        )
        .unwrap();
        assert_eq!(a.mlp, b.mlp);
        assert_eq!(a.val_loss, b.val_loss);
        assert_ne!(a.mlp, c.mlp);
    }

    #[test]
    fn bad_input_is_an_error() {
        let xs = [0.0, 1.0];
        let ys = [0, 1];
        assert!(matches!(
            fit((&xs, &ys), (&[], &[]), 2, &cfg(), 0),
            Err(MlpError::Empty { set: "validation" })
        ));
        assert!(matches!(
            fit((&[0.0, f64::NAN], &ys), (&xs, &ys), 2, &cfg(), 0),
            Err(MlpError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            fit((&xs, &[0, 2]), (&xs, &ys), 2, &cfg(), 0),
            Err(MlpError::LabelOutOfRange { label: 2, .. })
        ));
        assert!(matches!(
            fit((&xs, &ys[..1]), (&xs, &ys), 2, &cfg(), 0),
            Err(MlpError::LengthMismatch { .. })
        ));
        assert!(matches!(
            fit((&xs, &ys), (&xs, &ys), 1, &cfg(), 0),
            Err(MlpError::BadConfig {
                name: "classes",
                ..
            })
        ));
        let zero_lr = MlpConfig { lr: 0.0, ..cfg() };
        assert!(matches!(
            fit((&xs, &ys), (&xs, &ys), 2, &zero_lr, 0),
            Err(MlpError::BadConfig { name: "lr", .. })
        ));
        let auc = MlpConfig {
            monitor: Monitor::Auc,
            ..cfg()
        };
        assert!(matches!(
            fit((&xs, &ys), (&xs, &[0, 0]), 2, &auc, 0),
            Err(MlpError::Auc(_))
        ));
        assert!(Mlp::from_params(2, 2, vec![0.0; 3]).is_none());
    }
}
