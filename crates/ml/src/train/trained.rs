//! What a training path hands to the stage's output writer: the curves,
//! the eval rewards, the probe rewards and the loop's counters.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;

use super::config::TrainConfig;
use super::curves::CurveRow;
use super::fit::{EvalScore, FitInput, FitOutput, TrainScore, fit};
use super::pairs::Pairs;
use crate::data::probe_items::ProbeRow;
use crate::util::hooks::Hooks;

/// The model-independent outcome of one run.
#[derive(Debug)]
pub struct Trained {
    /// Curves.
    pub curves: Vec<CurveRow>,
    /// Final eval rewards, chosen side.
    pub eval_chosen: Vec<f32>,
    /// Final eval rewards, rejected side.
    pub eval_rejected: Vec<f32>,
    /// Optimiser steps.
    pub steps: usize,
    /// Pairs per category per batch.
    pub per_category: usize,
    /// Training pairs left out of each epoch.
    pub left_out_per_epoch: usize,
    /// Fraction of steps where the ln K cap bound.
    pub cap_bind_fraction: f64,
    /// Mean adversary CE over the last epoch.
    pub adv_ce: f64,
    /// Mean adversary balanced accuracy over the last epoch.
    pub adv_ba: f64,
    /// The held-out validation split, when one was carved.
    pub validation: Option<super::fit::Validation>,
    /// Rewards of the stereotype probes `(more, less)`, when scored.
    pub probes: Option<(Vec<f32>, Vec<f32>)>,
    /// The probe items scored on the backbone path (the features path reads
    /// them from its input).
    pub probe_rows: Vec<ProbeRow>,
}

impl Trained {
    /// Splits a [`FitOutput`] into its model and the rest.
    pub fn of<M>(f: FitOutput<M>) -> (M, Self) {
        let t = Trained {
            curves: f.curves,
            eval_chosen: f.eval_chosen,
            eval_rejected: f.eval_rejected,
            steps: f.steps,
            per_category: f.per_category,
            left_out_per_epoch: f.left_out_per_epoch,
            cap_bind_fraction: f.cap_bind_fraction,
            adv_ce: f.last_epoch_adv_ce,
            adv_ba: f.last_epoch_adv_balanced_accuracy,
            validation: f.validation,
            probes: None,
            probe_rows: Vec::new(),
        };
        (f.model, t)
    }
}

/// Trains `model` on `pairs`: seeds, interrupts, log and progress through
/// `hooks` (ARCHITECTURE.md, "Determinism").
///
/// # Errors
/// A training error or an interrupt.
pub fn fit_with<B: AutodiffBackend, M: AutodiffModule<B>>(
    hooks: &dyn Hooks,
    cfg: &TrainConfig,
    pairs: &Pairs,
    model: M,
    train_score: &TrainScore<'_, M, B>,
    eval_score: &EvalScore<'_, M::InnerModule>,
) -> anyhow::Result<(M, Trained)> {
    let input = FitInput {
        cfg,
        k: pairs.names.len(),
        train_categories: &pairs.train.categories,
        n_eval: pairs.eval.ids.len(),
        eval_categories: &pairs.eval.categories,
        train_score,
        eval_score,
        hooks,
    };
    Ok(Trained::of(fit(model, &input)?))
}
