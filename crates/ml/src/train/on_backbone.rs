//! Training path 2: the backbone itself with the head
//! (`trainable: all | lora | {last_layers: k}`, or `head` without a features
//! input). Each step scores the batch's chosen and rejected transcripts in
//! one right-padded forward pass; frozen lower layers run on the inference
//! backend, outside the autodiff graph ([`Encoder::pooled_trainable`]).

use std::path::Path;

use anyhow::{Context, bail};
use burn::module::{AutodiffModule, Module};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::config::{TrainConfig, Trainable};
use super::head::RewardHead;
use super::pairs::{Pairs, read_tokens};
use super::trained::{Trained, fit_with};
use crate::data::probe_items::{ProbeRow, probe_items};
use crate::data::tokenize::encode;
use crate::model::batch::Batch;
use crate::model::embed::embed_all;
use crate::model::encoder::{Encoder, LoadedEncoder, load_encoder};
use crate::model::lora::LoraConfig;
use crate::model::readback::to_vec_f32;
use crate::util::hooks::{Hooks, NoProgress};

/// A backbone and its reward head, trained together.
#[derive(Module, Debug)]
pub struct BackboneRm<B: Backend> {
    /// The backbone.
    pub encoder: Encoder<B>,
    /// The head on its pooled features.
    pub head: RewardHead<B>,
}

/// The trained backbone (for saving), its head, and the outcome.
pub type BackboneOutcome<B> = (LoadedEncoder<B>, RewardHead<B>, Trained);

/// Sequences per forward pass when scoring without gradients.
pub(super) const EVAL_BATCH: usize = 32;

/// Probe sentences tokenized with the template of `model.features`.
pub struct Probes {
    /// One row per item.
    pub rows: Vec<ProbeRow>,
    /// Token ids of the more stereotypical sentences.
    pub more: Vec<Vec<u32>>,
    /// Token ids of the less stereotypical sentences.
    pub less: Vec<Vec<u32>>,
}

/// Reads and tokenizes the probe tables `probes` (`(slot, directory)`:
/// `crows_pairs` and/or `stereoset` outputs of `data.probes`).
///
/// # Errors
/// A malformed probe table or a tokenizer failure.
pub fn tokenize_probes(
    probes: &[(&str, &Path)],
    enc: &LoadedEncoder<impl Backend>,
    tokenizer_file: &Path,
    max_len: usize,
) -> anyhow::Result<Probes> {
    let mut p = Probes {
        rows: Vec::new(),
        more: Vec::new(),
        less: Vec::new(),
    };
    for (slot, dir) in probes {
        for (row, prompt, m, l) in probe_items(slot, dir)? {
            p.more
                .push(encode(&enc.tokenizer, &prompt, &m, max_len, tokenizer_file)?.ids);
            p.less
                .push(encode(&enc.tokenizer, &prompt, &l, max_len, tokenizer_file)?.ids);
            p.rows.push(row);
        }
    }
    Ok(p)
}

/// Rewards of `seqs` under a trained (inference) model.
fn score_all<B: Backend>(
    hooks: &dyn Hooks,
    model: &BackboneRm<B>,
    like: &LoadedEncoder<B>,
    seqs: &[Vec<u32>],
) -> anyhow::Result<Vec<f32>> {
    let enc = like.with_encoder(model.encoder.clone());
    let (feats, _) = embed_all(&enc, seqs, EVAL_BATCH, &NoProgress(hooks))?;
    let device = model.head.score.weight.device();
    let x = Tensor::<B, 2>::from_data(
        burn::tensor::TensorData::new(feats, [seqs.len(), like.hidden]),
        &device,
    );
    Ok(to_vec_f32(
        model.head.forward(x),
        "the reward head's scores",
    )?)
}

/// Trains the backbone in `backbone` with a head; returns the trained model
/// (inference backend, LoRA merged), the loaded encoder's metadata for
/// saving, and the outcome with the probes scored.
///
/// # Errors
/// An unloadable backbone, `lora` on a non-Llama backbone, or a training error.
#[allow(clippy::too_many_arguments)]
pub fn train_on_backbone<B: AutodiffBackend>(
    hooks: &dyn Hooks,
    cfg: &TrainConfig,
    pairs: &Pairs,
    data: &Path,
    backbone: &Path,
    probes: &[(&str, &Path)],
    probe_max_len: usize,
) -> anyhow::Result<BackboneOutcome<B::InnerBackend>> {
    let device = B::Device::default();
    let loaded = load_encoder::<B>(backbone, &device)
        .with_context(|| format!("input `backbone`: loading {}", backbone.display()))?;
    let (train_c, train_r) = read_tokens(&data.join("train.parquet"))?;
    let (eval_c, eval_r) = read_tokens(&data.join("eval.parquet"))?;
    if train_c.len() != pairs.train.ids.len() || eval_c.len() != pairs.eval.ids.len() {
        bail!("input `data`: id and token columns differ in length");
    }
    let n_layers = loaded.encoder.n_layers();
    let (encoder, frozen) = match cfg.trainable {
        Trainable::All => (loaded.encoder.clone(), 0),
        Trainable::Head => (loaded.encoder.clone().no_grad(), n_layers),
        Trainable::LastLayers(k) => {
            let f = loaded.encoder.frozen_for_last(k);
            (loaded.encoder.clone().freeze_lower(f), f)
        }
        Trainable::Lora => match loaded.encoder.clone() {
            Encoder::Llama(m) => (
                Encoder::Llama(m.with_lora(LoraConfig::default(), hooks.seed("lora"))),
                0,
            ),
            Encoder::Bert(_) => bail!(
                "trainable: lora attaches adapters to Llama attention; this backbone is BERT (use all, head or {{last_layers: k}})"
            ),
        },
    };
    hooks.log(&format!(
        "{} backbone, {n_layers} layers, {frozen} frozen below the trainable part, trainable: {:?}",
        loaded.arch.name(),
        cfg.trainable
    ));
    let head = RewardHead::<B>::new(loaded.hidden, cfg.head_hidden, hooks.seed("init"), &device);
    let model = BackboneRm { encoder, head };
    let pad = loaded.pad_id;
    let train_score = |m: &BackboneRm<B>, rows: &[usize]| {
        let n = rows.len();
        let seqs: Vec<Vec<u32>> = rows
            .iter()
            .map(|&i| train_c[i].clone())
            .chain(rows.iter().map(|&i| train_r[i].clone()))
            .collect();
        let batch = Batch::pad(&seqs, pad, false);
        let pooled = if frozen > 0 {
            m.encoder.pooled_trainable(&batch, frozen)
        } else {
            m.encoder.pooled(&batch)
        };
        let r = m.head.forward(pooled);
        (r.clone().narrow(0, 0, n), r.narrow(0, n, n))
    };
    let inner_like = loaded.with_encoder(loaded.encoder.valid());
    let eval_score = |m: &BackboneRm<B::InnerBackend>, rows: &[usize]| {
        let pick = |s: &[Vec<u32>]| rows.iter().map(|&i| s[i].clone()).collect::<Vec<_>>();
        Ok((
            score_all(hooks, m, &inner_like, &pick(&eval_c))?,
            score_all(hooks, m, &inner_like, &pick(&eval_r))?,
        ))
    };
    let (model, mut trained) = fit_with(hooks, cfg, pairs, model, &train_score, &eval_score)?;
    let model = model.valid();
    let probes = tokenize_probes(
        probes,
        &inner_like,
        &backbone.join("tokenizer.json"),
        probe_max_len,
    )?;
    if !probes.rows.is_empty() {
        trained.probes = Some((
            score_all(hooks, &model, &inner_like, &probes.more)?,
            score_all(hooks, &model, &inner_like, &probes.less)?,
        ));
        trained.probe_rows = probes.rows;
    }
    let encoder = match model.encoder {
        Encoder::Llama(m) if cfg.trainable == Trainable::Lora => Encoder::Llama(m.merge_lora()),
        e => e,
    };
    Ok((inner_like.with_encoder(encoder), model.head, trained))
}
