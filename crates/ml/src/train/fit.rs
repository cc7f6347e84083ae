//! The training loop (App. A.6), the same for every backbone and trainable
//! set: per stratified batch, (1) the Bradley–Terry loss; (2) an adversary
//! step on detached inputs; (3) an RM step on `L_BT − λ·CE(q_φ(·), c)` with
//! the updated q_φ frozen (its gradients are computed but never applied).
//! With λ = 0 the RM loss is `L_BT` alone, so the adversary — trained and
//! logged from its own seed stream — cannot touch the RM: λ = 0 is plain BT
//! bit for bit. With the cap on, a batch whose CE is already ≥ ln K (the
//! adversary at or below chance) contributes no adversarial gradient:
//! `min(CE, ln K)`.

use anyhow::bail;
use burn::module::AutodiffModule;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};

use super::adversary::{Adversary, balanced_accuracy, cross_entropy};
use super::batches::ByCategory;
use super::config::{AdversaryInput, LambdaWarmup, TrainConfig};
use super::curves::{CurveRow, Window};
use super::diagnostics::{adversary_reading, dependence};
use super::moments::{N_FEATURES, moment_features};
use crate::eval::distribution::bt_nll;
use crate::model::readback::{ReadbackError, scalar_f64, to_vec_f32};
use crate::util::hooks::Hooks;
use crate::util::rng::SplitMix64;

/// Rewards `(chosen, rejected)` of training rows, with gradients.
pub type TrainScore<'a, M, B> = dyn Fn(&M, &[usize]) -> (Tensor<B, 1>, Tensor<B, 1>) + 'a;
/// Rewards `(chosen, rejected)` of eval rows from the inference module.
pub type EvalScore<'a, I> = dyn Fn(&I, &[usize]) -> anyhow::Result<(Vec<f32>, Vec<f32>)> + 'a;

/// What the loop needs besides the model.
pub struct FitInput<'a, B: AutodiffBackend, M: AutodiffModule<B>> {
    /// Hyper-parameters.
    pub cfg: &'a TrainConfig,
    /// Number of categories K.
    pub k: usize,
    /// Category index of every training pair.
    pub train_categories: &'a [usize],
    /// Number of eval pairs.
    pub n_eval: usize,
    /// Category index of every eval pair (for the per-epoch diagnostics).
    pub eval_categories: &'a [usize],
    /// Training rewards.
    pub train_score: &'a TrainScore<'a, M, B>,
    /// Eval rewards.
    pub eval_score: &'a EvalScore<'a, M::InnerModule>,
    /// Seeds (streams `order`, `adversary`, `diagnostics`), interrupts, log and progress.
    pub hooks: &'a dyn Hooks,
}

/// What training produced.
#[derive(Debug)]
pub struct FitOutput<M> {
    /// The trained model.
    pub model: M,
    /// Curves.
    pub curves: Vec<CurveRow>,
    /// Final eval rewards, chosen side, in eval row order.
    pub eval_chosen: Vec<f32>,
    /// Final eval rewards, rejected side.
    pub eval_rejected: Vec<f32>,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Pairs per category per batch.
    pub per_category: usize,
    /// Training pairs left out of each epoch (category imbalance).
    pub left_out_per_epoch: usize,
    /// Fraction of steps where the ln K cap bound.
    pub cap_bind_fraction: f64,
    /// Mean adversary CE over the last epoch.
    pub last_epoch_adv_ce: f64,
    /// Mean adversary balanced accuracy over the last epoch.
    pub last_epoch_adv_balanced_accuracy: f64,
    /// The held-out validation split (`validation_fraction > 0`).
    pub validation: Option<Validation>,
}

/// Training pairs held out of training, scored by the final model.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// Training-split rows held out, ascending.
    pub rows: Vec<usize>,
    /// Their rewards, chosen side.
    pub chosen: Vec<f32>,
    /// Their rewards, rejected side.
    pub rejected: Vec<f32>,
}

/// The rows of each category held out for validation: `round(f·n_c)` of
/// category c's rows (at least one when f > 0 and n_c ≥ 2), drawn from
/// `seed`; ascending. Empty when `fraction` is 0.
pub fn carve_validation(categories: &[usize], k: usize, fraction: f64, seed: u64) -> Vec<usize> {
    if fraction <= 0.0 {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    for mut rows in ByCategory::new(categories, k).rows {
        let n = ((fraction * rows.len() as f64).round() as usize)
            .max(usize::from(rows.len() >= 2))
            .min(rows.len().saturating_sub(1));
        rng.shuffle(&mut rows);
        out.extend_from_slice(&rows[..n]);
    }
    out.sort_unstable();
    out
}

/// λ at RM step `step` (1-based) of `per_epoch` steps per epoch.
pub fn lambda_at(cfg: &TrainConfig, step: usize, per_epoch: usize) -> f64 {
    match cfg.lambda_warmup {
        LambdaWarmup::None => cfg.lambda_adv,
        LambdaWarmup::Linear => cfg.lambda_adv * (step as f64 / per_epoch.max(1) as f64).min(1.0),
    }
}

/// Mean BT loss and accuracy (r_c > r_r) of scored pairs.
pub fn bt_summary(chosen: &[f32], rejected: &[f32]) -> (f64, f64) {
    let n = chosen.len().max(1) as f64;
    let (mut loss, mut hit) = (0.0, 0usize);
    for (c, r) in chosen.iter().zip(rejected) {
        let d = f64::from(*c) - f64::from(*r);
        loss += bt_nll(d);
        hit += usize::from(d > 0.0);
    }
    (loss / n, hit as f64 / n)
}

/// A loss's value, read from the inner (non-autodiff) backend.
fn scalar<B: AutodiffBackend>(t: Tensor<B, 1>, what: &str) -> Result<f64, ReadbackError> {
    scalar_f64(t.inner(), what)
}

/// A tensor's values, read from the inner (non-autodiff) backend.
fn host<B: AutodiffBackend, const D: usize>(
    t: Tensor<B, D>,
    what: &str,
) -> Result<Vec<f32>, ReadbackError> {
    to_vec_f32(t.inner(), what)
}

fn eval_rows<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    input: &FitInput<'_, B, M>,
) -> anyhow::Result<(Vec<f32>, Vec<f32>)> {
    let rows: Vec<usize> = (0..input.n_eval).collect();
    (input.eval_score)(&model.valid(), &rows)
}

/// Trains `model`.
///
/// # Errors
/// Too few pairs for one stratified batch, a non-finite loss, or an
/// interrupt.
pub fn fit<B: AutodiffBackend, M: AutodiffModule<B>>(
    mut model: M,
    input: &FitInput<'_, B, M>,
) -> anyhow::Result<FitOutput<M>> {
    let cfg = input.cfg;
    let k = input.k;
    let m = cfg
        .per_category(k)
        .map_err(|e| anyhow::anyhow!("with.{}: {}", e.path, e.message))?;
    let hooks = input.hooks;
    // The validation rows never enter a batch (an out-of-range category).
    let held_out = carve_validation(
        input.train_categories,
        k,
        cfg.validation_fraction,
        hooks.seed("validation"),
    );
    let mut trainable = input.train_categories.to_vec();
    for &r in &held_out {
        trainable[r] = usize::MAX;
    }
    let groups = ByCategory::new(&trainable, k);
    let per_epoch = groups.batches_per_epoch(m);
    if per_epoch == 0 {
        let sizes: Vec<usize> = groups.rows.iter().map(Vec::len).collect();
        bail!("no stratified batch fits: {m} pairs per category needed, categories have {sizes:?}");
    }
    let device = B::Device::default();
    let mut order = SplitMix64::new(hooks.seed("order"));
    let clip =
        (cfg.max_grad_norm > 0.0).then_some(GradientClippingConfig::Norm(cfg.max_grad_norm as f32));
    let mut opt = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .with_grad_clipping(clip)
        .init::<B, M>();
    let adv_in = match cfg.adversary_input {
        AdversaryInput::Moments => N_FEATURES,
        AdversaryInput::Scores => 2,
    };
    let mut adv = Adversary::<B>::new(
        adv_in,
        cfg.adversary_hidden,
        k,
        hooks.seed("adversary"),
        &device,
    );
    let mut adv_opt = AdamConfig::new().init::<B, Adversary<B>>();
    let ln_k = (k as f64).ln();
    let labels: Vec<usize> = match cfg.adversary_input {
        AdversaryInput::Moments => (0..k).collect(),
        AdversaryInput::Scores => (0..k * m).map(|j| j / m).collect(),
    };
    let (mut curves, mut window) = (Vec::new(), Window::default());
    let (mut step, mut binds) = (0usize, 0usize);
    let (mut epoch_ce, mut epoch_ba) = (0.0, 0.0);
    let total_steps = (per_epoch * cfg.epochs) as u64;
    for epoch in 1..=cfg.epochs {
        let batches = groups.epoch(m, &mut order);
        (epoch_ce, epoch_ba) = (0.0, 0.0);
        for batch in &batches {
            hooks.check()?;
            step += 1;
            hooks.progress("train steps", step as u64 - 1, total_steps);
            let (rc, rr) = (input.train_score)(&model, batch);
            let diff = rc.clone() - rr.clone();
            let bt = log_sigmoid(diff.clone()).mean().neg();
            let acc = host(diff, "the reward margins")?
                .iter()
                .filter(|d| **d > 0.0)
                .count() as f64
                / batch.len() as f64;
            let x = match cfg.adversary_input {
                AdversaryInput::Moments => moment_features(rc, rr, k, m, cfg.moment_eps),
                AdversaryInput::Scores => Tensor::stack(vec![rc, rr], 1),
            };
            // (2) The adversary's step(s), on detached inputs.
            for _ in 0..cfg.adversary_steps {
                let ce_pre = cross_entropy(adv.forward(x.clone().detach()), &labels);
                let grads = GradientsParams::from_grads(ce_pre.backward(), &adv);
                adv = adv_opt.step(cfg.adversary_lr, adv, grads);
            }
            // (3) The RM's step against the updated, frozen adversary.
            let logits = adv.forward(x);
            let ba = balanced_accuracy(
                &host(logits.clone().detach(), "the adversary's logits")?,
                k,
                &labels,
            );
            let ce = cross_entropy(logits, &labels);
            let ce_val = scalar(ce.clone().detach(), "the adversary's cross-entropy")?;
            let capped = cfg.ce_cap && ce_val >= ln_k;
            binds += usize::from(capped);
            let bt_val = scalar(bt.clone().detach(), "the Bradley-Terry loss")?;
            if !bt_val.is_finite() || !ce_val.is_finite() {
                bail!("step {step}: non-finite loss (BT {bt_val}, adversary CE {ce_val})");
            }
            let lambda = lambda_at(cfg, step, per_epoch);
            let loss = if lambda == 0.0 || capped {
                bt
            } else {
                bt - ce.mul_scalar(lambda)
            };
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(cfg.lr, model, grads);
            window.add(bt_val, acc, ce_val, ba, capped);
            epoch_ce += ce_val;
            epoch_ba += ba;
            if step.is_multiple_of(cfg.log_every)
                && let Some(mut row) = window.take(epoch, step)
            {
                row.chance_ce = Some(ln_k);
                hooks.log(&format!(
                    "epoch {epoch} step {step}: BT {:.4} acc {:.3} adv CE {:.4} BA {:.3} cap {:.2}",
                    row.bt_loss,
                    row.bt_accuracy,
                    row.adv_ce.unwrap_or(f64::NAN),
                    row.adv_balanced_accuracy.unwrap_or(f64::NAN),
                    row.cap_binds.unwrap_or(f64::NAN)
                ));
                curves.push(row);
            }
        }
        curves.extend(window.take(epoch, step).map(|mut r| {
            r.chance_ce = Some(ln_k);
            r
        }));
        let (ec, er) = eval_rows(&model, input)?;
        let (loss, accuracy) = bt_summary(&ec, &er);
        // The game seen on the eval split (ARCHITECTURE.md, "Determinism":
        // its own stream, so the model's streams are untouched).
        let dseed = hooks.seed("diagnostics");
        let dep = dependence(&ec, &er, input.eval_categories, k, dseed);
        let reading = adversary_reading(
            &adv,
            cfg.adversary_input,
            &ec,
            &er,
            input.eval_categories,
            k,
            m,
            cfg.moment_eps,
            dseed,
        )?;
        hooks.log(&format!(
            "epoch {epoch}: eval BT loss {loss:.4}, accuracy {accuracy:.4}; mean gap {:.4}, KS {:.4}, MI {:.4} (null {:.4}); adversary CE {:.4} (ln K {ln_k:.4}), BA {:.3}",
            dep.map_or(f64::NAN, |d| d.mean_gap),
            dep.map_or(f64::NAN, |d| d.ks),
            dep.map_or(f64::NAN, |d| d.mi),
            dep.map_or(f64::NAN, |d| d.mi_null),
            reading.map_or(f64::NAN, |r| r.ce),
            reading.map_or(f64::NAN, |r| r.balanced_accuracy),
        ));
        curves.push(CurveRow {
            split: "eval",
            epoch,
            step,
            bt_loss: loss,
            bt_accuracy: accuracy,
            adv_ce: reading.map(|r| r.ce),
            adv_balanced_accuracy: reading.map(|r| r.balanced_accuracy),
            cap_binds: None,
            chance_ce: Some(ln_k),
            mean_gap: dep.map(|d| d.mean_gap),
            ks: dep.map(|d| d.ks),
            mi: dep.map(|d| d.mi),
            mi_null: dep.map(|d| d.mi_null),
        });
        epoch_ce /= batches.len().max(1) as f64;
        epoch_ba /= batches.len().max(1) as f64;
    }
    hooks.progress("train steps", total_steps, total_steps);
    let (eval_chosen, eval_rejected) = eval_rows(&model, input)?;
    let validation = if held_out.is_empty() {
        None
    } else {
        let (mut chosen, mut rejected) = (Vec::new(), Vec::new());
        for rows in held_out.chunks(cfg.batch_size.max(1)) {
            let (c, r) = (input.train_score)(&model, rows);
            chosen.extend(host(c.detach(), "the held-out chosen rewards")?);
            rejected.extend(host(r.detach(), "the held-out rejected rewards")?);
        }
        Some(Validation {
            chosen,
            rejected,
            rows: held_out,
        })
    };
    Ok(FitOutput {
        validation,
        model,
        curves,
        eval_chosen,
        eval_rejected,
        steps: step,
        per_category: m,
        left_out_per_epoch: groups.left_out(m),
        cap_bind_fraction: binds as f64 / step.max(1) as f64,
        last_epoch_adv_ce: epoch_ce,
        last_epoch_adv_balanced_accuracy: epoch_ba,
    })
}

/// Rows of a host matrix as a tensor `[rows.len(), cols]` (no gradient).
pub fn gather_rows<B: burn::tensor::backend::Backend>(
    data: &[f32],
    cols: usize,
    rows: &[usize],
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut out = Vec::with_capacity(rows.len() * cols);
    for &r in rows {
        out.extend_from_slice(&data[r * cols..(r + 1) * cols]);
    }
    Tensor::from_data(TensorData::new(out, [rows.len(), cols]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rows_are_a_stratified_seeded_share_of_each_category() {
        let cats: Vec<usize> = (0..300).map(|i| usize::from(i % 3 == 0)).collect();
        let v = carve_validation(&cats, 2, 0.2, 9);
        assert_eq!(v.iter().filter(|&&r| cats[r] == 1).count(), 20);
        assert_eq!(v.iter().filter(|&&r| cats[r] == 0).count(), 40);
        assert!(v.windows(2).all(|w| w[0] < w[1]), "ascending, distinct");
        assert_eq!(v, carve_validation(&cats, 2, 0.2, 9));
        assert_ne!(v, carve_validation(&cats, 2, 0.2, 10));
        assert!(carve_validation(&cats, 2, 0.0, 9).is_empty());
        // A category of two keeps one pair to train on.
        assert_eq!(carve_validation(&[0, 0, 1, 1], 2, 0.8, 1).len(), 2);
    }

    #[test]
    fn linear_warmup_ramps_lambda_over_the_first_epoch() {
        let mut cfg = TrainConfig {
            lambda_adv: 0.4,
            ..TrainConfig::default()
        };
        assert_eq!(lambda_at(&cfg, 1, 10), 0.4);
        cfg.lambda_warmup = LambdaWarmup::Linear;
        assert!((lambda_at(&cfg, 1, 10) - 0.04).abs() < 1e-12);
        assert!((lambda_at(&cfg, 5, 10) - 0.2).abs() < 1e-12);
        assert_eq!(lambda_at(&cfg, 10, 10), 0.4);
        assert_eq!(lambda_at(&cfg, 25, 10), 0.4);
    }

    #[test]
    fn bt_nll_is_softplus_of_minus_d() {
        for d in [-40.0f64, -3.0, 0.0, 0.5, 3.0, 40.0] {
            let want = (1.0 + (-d).exp()).ln();
            assert!((bt_nll(d) - want).abs() < 1e-12 * (1.0 + want), "{d}");
        }
        assert!((bt_nll(0.0) - 2f64.ln()).abs() < 1e-15);
        let (l, a) = bt_summary(&[1.0, 0.0], &[0.0, 1.0]);
        assert!((l - (bt_nll(1.0) + bt_nll(-1.0)) / 2.0).abs() < 1e-12);
        assert_eq!(a, 0.5);
    }
}
