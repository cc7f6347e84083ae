//! Training path 1: a reward head on frozen pooled features from a
//! `model.features` stage (`trainable: head`), computed once for every λ of
//! a sweep.

use anyhow::bail;
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::config::TrainConfig;
use super::features::{Features, Matrix};
use super::fit::gather_rows;
use super::head::RewardHead;
use super::pairs::Pairs;
use super::trained::{Trained, fit_with};
use crate::model::readback::to_vec_f32;
use crate::util::hooks::Hooks;

fn default_device<T: Backend>() -> T::Device {
    T::Device::default()
}

/// Trains a head on `f`; returns it (inference backend) and the outcome,
/// with the probes in `f` scored.
///
/// # Errors
/// Features that do not match the data, or a training error.
pub fn train_on_features<B: AutodiffBackend>(
    hooks: &dyn Hooks,
    cfg: &TrainConfig,
    pairs: &Pairs,
    f: &Features,
) -> anyhow::Result<(RewardHead<B::InnerBackend>, Trained)> {
    for (m, n, what) in [
        (&f.train_chosen, pairs.train.ids.len(), "train"),
        (&f.eval_chosen, pairs.eval.ids.len(), "eval"),
    ] {
        if m.rows != n {
            bail!(
                "input `features`: {what} has {} rows, input `data` {n} (features of other data?)",
                m.rows
            );
        }
    }
    let device = default_device::<B>();
    let d = f.hidden();
    let head = RewardHead::<B>::new(d, cfg.head_hidden, hooks.seed("init"), &device);
    let train_score = |h: &RewardHead<B>, rows: &[usize]| {
        let c = gather_rows::<B>(&f.train_chosen.data, d, rows, &device);
        let r = gather_rows::<B>(&f.train_rejected.data, d, rows, &device);
        (h.forward(c), h.forward(r))
    };
    let inner = default_device::<B::InnerBackend>();
    let score =
        |h: &RewardHead<B::InnerBackend>, m: &Matrix, rows: &[usize]| -> anyhow::Result<Vec<f32>> {
            let x = gather_rows::<B::InnerBackend>(&m.data, d, rows, &inner);
            Ok(to_vec_f32(h.forward(x), "the reward head's scores")?)
        };
    let eval_score = |h: &RewardHead<B::InnerBackend>, rows: &[usize]| {
        Ok((
            score(h, &f.eval_chosen, rows)?,
            score(h, &f.eval_rejected, rows)?,
        ))
    };
    let (head, mut trained) = fit_with(hooks, cfg, pairs, head, &train_score, &eval_score)?;
    let head = head.valid();
    if f.probes_more.rows > 0 {
        let rows: Vec<usize> = (0..f.probes_more.rows).collect();
        trained.probes = Some((
            score(&head, &f.probes_more, &rows)?,
            score(&head, &f.probes_less, &rows)?,
        ));
    }
    Ok((head, trained))
}
