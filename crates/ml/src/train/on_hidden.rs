//! Training path 3: the last `k` layers of the backbone with the head
//! (`trainable: {last_layers: k}`) on the lower layers' hidden states cached
//! by a `model.hidden_states` stage, so each step runs only the `k` layers
//! (ARCHITECTURE.md, "Training paths"). The same model as path 2 with
//! `{last_layers: k}` and no `hidden` input, which recomputes the lower
//! layers at every step; the saved model is the whole backbone, lower layers
//! unchanged, so a consumer scores with it like any other.

use std::path::Path;

use anyhow::{Context, bail};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use super::config::{TrainConfig, Trainable};
use super::hidden::{HiddenStates, Ragged};
use super::on_backbone::{BackboneOutcome, BackboneRm, EVAL_BATCH};
use super::pairs::Pairs;
use super::trained::fit_with;
use crate::model::batch::Batch;
use crate::model::encoder::{Encoder, LoadedEncoder, load_encoder};
use crate::model::readback::to_vec_f32;
use crate::util::hooks::Hooks;

/// A right-padded batch shape of sequences of `lengths` (the ids are unused
/// above the cached layers: only the mask matters).
fn mask_batch(lengths: &[usize]) -> Batch {
    let seqs: Vec<Vec<u32>> = lengths.iter().map(|&l| vec![0; l]).collect();
    Batch::pad(&seqs, 0, false)
}

/// Rewards of rows `parts` (each `(group, rows)`, concatenated) through the
/// layers above `frozen` and the head: `[Σ rows]`.
fn forward<B: Backend>(
    m: &BackboneRm<B>,
    frozen: usize,
    parts: &[(&Ragged, &[usize])],
) -> Tensor<B, 1> {
    let device = m.head.score.weight.device();
    let s = parts.iter().map(|(g, r)| g.longest(r)).max().unwrap_or(0);
    let d = parts.first().map_or(0, |(g, _)| g.hidden);
    let n: usize = parts.iter().map(|(_, r)| r.len()).sum();
    let mut buf = Vec::with_capacity(n * s * d);
    let mut lengths = Vec::with_capacity(n);
    for (g, rows) in parts {
        g.pad_into(rows, s, &mut buf);
        lengths.extend(rows.iter().map(|&i| g.lengths[i]));
    }
    let batch = mask_batch(&lengths);
    let x = Tensor::<B, 3>::from_data(TensorData::new(buf, [n, s, d]), &device);
    let pooled = m.encoder.upper_pooled(x, frozen, &batch);
    m.head.forward(pooled)
}

/// Rewards of every row `rows` of `g` under the inference model, batched by
/// length, in the order of `rows`.
fn score_rows<B: Backend>(
    m: &BackboneRm<B>,
    frozen: usize,
    g: &Ragged,
    rows: &[usize],
) -> anyhow::Result<Vec<f32>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&k| (g.lengths[rows[k]], k));
    let mut out = vec![0.0f32; rows.len()];
    for chunk in order.chunks(EVAL_BATCH) {
        let picked: Vec<usize> = chunk.iter().map(|&k| rows[k]).collect();
        let r = to_vec_f32(
            forward(m, frozen, &[(g, &picked)]),
            "the reward head's scores",
        )?;
        for (&k, v) in chunk.iter().zip(r) {
            out[k] = v;
        }
    }
    Ok(out)
}

/// Checks that `h` was computed from `loaded` below the layers `cfg` trains;
/// returns the number of frozen layers.
fn frozen_layers<B: Backend>(
    cfg: &TrainConfig,
    h: &HiddenStates,
    loaded: &LoadedEncoder<B>,
) -> anyhow::Result<usize> {
    let Trainable::LastLayers(k) = cfg.trainable else {
        bail!(
            "with.trainable: an input `hidden` is for trainable: {{last_layers: k}}, not {:?}",
            cfg.trainable
        );
    };
    let n = loaded.encoder.n_layers();
    if h.architecture != loaded.arch.name() || h.n_layers != n || h.hidden() != loaded.hidden {
        bail!(
            "input `hidden`: states of a {} backbone with {} layers and width {}, input `backbone` is {} with {n} and {} (another backbone?)",
            h.architecture,
            h.n_layers,
            h.hidden(),
            loaded.arch.name(),
            loaded.hidden
        );
    }
    let frozen = loaded.encoder.frozen_for_last(k);
    if frozen != h.lower_layers {
        bail!(
            "with.trainable: {{last_layers: {k}}} trains the layers above {frozen}, but input `hidden` holds the states after layer {} (set its upper_layers to {k})",
            h.lower_layers
        );
    }
    Ok(frozen)
}

/// Trains the layers above the cached states and a head; returns the whole
/// trained backbone (inference backend) for saving, the head, and the
/// outcome with the probes in `h` scored.
///
/// # Errors
/// States that do not match the backbone, the data or `trainable`, or a
/// training error.
pub fn train_on_hidden<B: AutodiffBackend>(
    hooks: &dyn Hooks,
    cfg: &TrainConfig,
    pairs: &Pairs,
    h: &HiddenStates,
    backbone: &Path,
) -> anyhow::Result<BackboneOutcome<B::InnerBackend>> {
    let device = B::Device::default();
    let loaded = load_encoder::<B>(backbone, &device)
        .with_context(|| format!("input `backbone`: loading {}", backbone.display()))?;
    let frozen = frozen_layers(cfg, h, &loaded)?;
    let [tc, tr, ec, er, pm, pl] = &h.groups[..] else {
        bail!("input `hidden`: {} groups, expected 6", h.groups.len());
    };
    for (g, n, what) in [
        (tc, pairs.train.ids.len(), "train"),
        (ec, pairs.eval.ids.len(), "eval"),
    ] {
        if g.rows() != n {
            bail!(
                "input `hidden`: {what} has {} rows, input `data` {n} (states of other data?)",
                g.rows()
            );
        }
    }
    hooks.log(&format!(
        "{} backbone, {} layers, {frozen} frozen (cached states), trainable: {:?}",
        loaded.arch.name(),
        h.n_layers,
        cfg.trainable
    ));
    let encoder: Encoder<B> = loaded.encoder.clone().freeze_lower(frozen);
    let head = super::head::RewardHead::<B>::new(
        loaded.hidden,
        cfg.head_hidden,
        hooks.seed("init"),
        &device,
    );
    let model = BackboneRm { encoder, head };
    let train_score = |m: &BackboneRm<B>, rows: &[usize]| {
        let n = rows.len();
        let r = forward(m, frozen, &[(tc, rows), (tr, rows)]);
        (r.clone().narrow(0, 0, n), r.narrow(0, n, n))
    };
    let eval_score = |m: &BackboneRm<B::InnerBackend>, rows: &[usize]| {
        Ok((
            score_rows(m, frozen, ec, rows)?,
            score_rows(m, frozen, er, rows)?,
        ))
    };
    let (model, mut trained) = fit_with(hooks, cfg, pairs, model, &train_score, &eval_score)?;
    let model = model.valid();
    if pm.rows() > 0 {
        let all: Vec<usize> = (0..pm.rows()).collect();
        trained.probes = Some((
            score_rows(&model, frozen, pm, &all)?,
            score_rows(&model, frozen, pl, &all)?,
        ));
    }
    Ok((loaded.with_encoder(model.encoder), model.head, trained))
}
