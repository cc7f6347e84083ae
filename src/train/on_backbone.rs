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
use super::trained::{Trained, fit_in_stage};
use crate::data::tokenize::encode;
use crate::model::encoder::{Encoder, LoadedEncoder, load_encoder};
use crate::model::llama::Batch;
use crate::model::lora::LoraConfig;
use crate::stages::kind::StageContext;
use crate::stages::model_features::{ProbeRow, embed_all, probe_items};

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
const EVAL_BATCH: usize = 32;

/// Probe sentences tokenized with the template of `model.features`.
pub struct Probes {
    /// One row per item.
    pub rows: Vec<ProbeRow>,
    /// Token ids of the more stereotypical sentences.
    pub more: Vec<Vec<u32>>,
    /// Token ids of the less stereotypical sentences.
    pub less: Vec<Vec<u32>>,
}

/// Reads and tokenizes the `crows_pairs` / `stereoset` inputs, if connected.
///
/// # Errors
/// A malformed probe table or a tokenizer failure.
pub fn tokenize_probes(
    ctx: &StageContext,
    enc: &LoadedEncoder<impl Backend>,
    tokenizer_file: &Path,
    max_len: usize,
) -> anyhow::Result<Probes> {
    let mut p = Probes {
        rows: Vec::new(),
        more: Vec::new(),
        less: Vec::new(),
    };
    for slot in ["crows_pairs", "stereoset"] {
        if !ctx.inputs.contains_key(slot) {
            continue;
        }
        for (row, prompt, m, l) in probe_items(slot, ctx.input(slot)?)? {
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
    model: &BackboneRm<B>,
    like: &LoadedEncoder<B>,
    seqs: &[Vec<u32>],
) -> anyhow::Result<Vec<f32>> {
    let enc = LoadedEncoder {
        encoder: model.encoder.clone(),
        config: like.config.clone(),
        tokenizer: like.tokenizer.clone(),
        tokenizer_config: like.tokenizer_config.clone(),
        arch: like.arch,
        hidden: like.hidden,
        pad_id: like.pad_id,
    };
    let (feats, _) = embed_all(&enc, seqs, EVAL_BATCH, |_| Ok(()))?;
    let device = model.head.score.weight.device();
    let x = Tensor::<B, 2>::from_data(
        burn::tensor::TensorData::new(feats, [seqs.len(), like.hidden]),
        &device,
    );
    Ok(model
        .head
        .forward(x)
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap_or_default())
}

/// Trains the backbone in `backbone` with a head; returns the trained model
/// (inference backend, LoRA merged), the loaded encoder's metadata for
/// saving, and the outcome with the probes scored.
///
/// # Errors
/// An unloadable backbone, `lora` on a non-Llama backbone, or a training error.
pub fn train_on_backbone<B: AutodiffBackend>(
    ctx: &StageContext,
    cfg: &TrainConfig,
    pairs: &Pairs,
    data: &Path,
    backbone: &Path,
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
                Encoder::Llama(m.with_lora(LoraConfig::default(), ctx.seed_for("lora"))),
                0,
            ),
            Encoder::Bert(_) => bail!(
                "trainable: lora attaches adapters to Llama attention; this backbone is BERT (use all, head or {{last_layers: k}})"
            ),
        },
    };
    ctx.log(format!(
        "{} backbone, {n_layers} layers, {frozen} frozen below the trainable part, trainable: {:?}",
        loaded.arch.name(),
        cfg.trainable
    ));
    let head = RewardHead::<B>::new(
        loaded.hidden,
        cfg.head_hidden,
        ctx.seed_for("init"),
        &device,
    );
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
    let inner_like = LoadedEncoder::<B::InnerBackend> {
        encoder: loaded.encoder.valid(),
        config: loaded.config.clone(),
        tokenizer: loaded.tokenizer.clone(),
        tokenizer_config: loaded.tokenizer_config.clone(),
        arch: loaded.arch,
        hidden: loaded.hidden,
        pad_id: loaded.pad_id,
    };
    let eval_score = |m: &BackboneRm<B::InnerBackend>, rows: &[usize]| {
        let pick = |s: &[Vec<u32>]| rows.iter().map(|&i| s[i].clone()).collect::<Vec<_>>();
        Ok((
            score_all(m, &inner_like, &pick(&eval_c))?,
            score_all(m, &inner_like, &pick(&eval_r))?,
        ))
    };
    let (model, mut trained) = fit_in_stage(ctx, cfg, pairs, model, &train_score, &eval_score)?;
    let model = model.valid();
    let probes = tokenize_probes(
        ctx,
        &inner_like,
        &backbone.join("tokenizer.json"),
        probe_max_len,
    )?;
    if !probes.rows.is_empty() {
        trained.probes = Some((
            score_all(&model, &inner_like, &probes.more)?,
            score_all(&model, &inner_like, &probes.less)?,
        ));
    }
    let encoder = match model.encoder {
        Encoder::Llama(m) if cfg.trainable == Trainable::Lora => Encoder::Llama(m.merge_lora()),
        e => e,
    };
    let out = LoadedEncoder {
        encoder,
        ..inner_like
    };
    Ok((out, model.head, trained))
}

#[cfg(test)]
mod tests {
    use crate::data::probe::{StereoItem, write_stereo};
    use crate::data::token_table::{TokenRow, write_tokens};
    use crate::data::tokenize::Encoded;
    use crate::eval::scores::read_scores;
    use crate::eval::stereotype::read_items;
    use crate::model::encoder::tests::tiny_loaded;
    use crate::model::encoder::{Arch, load_encoder};
    use crate::report::test_ctx::TestStage;
    use crate::stages::kind::Kind;
    use crate::stages::train_reward_model::TrainRewardModel;
    use serde_json::{Value, json};

    fn enc(ids: Vec<u32>) -> Encoded {
        Encoded {
            response_start: 1,
            full_len: ids.len(),
            ids,
            truncated: false,
            response_truncated: false,
        }
    }

    /// Chosen responses end in token 5, rejected in token 6: learnable.
    fn rows(n: usize, salt: u32) -> Vec<TokenRow> {
        (0..n as u32)
            .map(|i| {
                let body = |last: u32| {
                    let mut v = vec![1];
                    v.extend((0..1 + (i + salt) % 4).map(|j| 7 + (i + j) % 5));
                    v.extend([last, 2]);
                    v
                };
                TokenRow {
                    id: format!("p{salt}-{i}"),
                    category: format!("c{}", i % 2),
                    source: "s".into(),
                    chosen: enc(body(5)),
                    rejected: enc(body(6)),
                }
            })
            .collect()
    }

    fn train(with: Value) -> (TestStage, anyhow::Result<()>) {
        let t = TestStage::new("rm", with);
        let tok = t.upstream("tok");
        tiny_loaded(Arch::Bert, 3, &tok)
            .save_encoder(&t.upstream("backbone").join("model"))
            .unwrap();
        let data = t.upstream("data");
        write_tokens(&data.join("train.parquet"), &rows(32, 0)).unwrap();
        write_tokens(&data.join("eval.parquet"), &rows(12, 1)).unwrap();
        let item = StereoItem {
            id: "cp-1".into(),
            set: "crows-pairs".into(),
            subset: "crows-pairs".into(),
            bias_type: "age".into(),
            stereotype: "a b".into(),
            anti_stereotype: "a c".into(),
            direction: "stereo".into(),
            ..Default::default()
        };
        write_stereo(&t.upstream("crows_pairs").join("probes.parquet"), &[item]).unwrap();
        let r = TrainRewardModel.run(&t.ctx());
        (t, r)
    }

    fn scores(t: &TestStage) -> Vec<f64> {
        read_scores(&t.ctx().out.join("scores.parquet"))
            .unwrap()
            .iter()
            .map(|r| r.reward)
            .collect()
    }

    #[test]
    fn fine_tunes_the_backbone_and_scores_eval_and_probes() {
        let (t, r) = train(json!({"trainable": "all", "epochs": 3, "lr": 0.01, "batch_size": 8}));
        r.unwrap();
        let out = t.ctx().out;
        let m: Value =
            serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
        assert!(m["eval_accuracy"].as_f64().unwrap() > 0.9, "{m}");
        assert_eq!(
            read_items(&out.join("stereotype_scores.parquet"))
                .unwrap()
                .len(),
            1
        );
        // The saved backbone loads back, with the head beside it.
        load_encoder::<burn::backend::Flex>(&out.join("model"), &Default::default()).unwrap();
        assert!(out.join("model/head.safetensors").is_file());
        assert_eq!(scores(&t).len(), 24);
    }

    #[test]
    fn lambda_zero_ignores_the_adversary_in_partial_fine_tuning() {
        let w = |extra: Value| {
            let mut v =
                json!({"trainable": {"last_layers": 1}, "epochs": 2, "lr": 0.01, "batch_size": 8});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        let (a, ra) = train(w(json!({})));
        ra.unwrap();
        let (b, rb) = train(w(json!({"adversary_input": "scores"})));
        rb.unwrap();
        assert_eq!(scores(&a), scores(&b));
        let (c, rc) = train(w(json!({"lambda_adv": 0.5, "ce_cap": false})));
        rc.unwrap();
        assert_ne!(scores(&a), scores(&c));
        let (_, e) = train(json!({"trainable": "lora", "batch_size": 8}));
        assert!(e.unwrap_err().to_string().contains("Llama"));
    }
}
