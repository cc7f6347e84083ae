//! MPNet encoder (HF `MPNetModel`) with sentence-transformers' mean pooling
//! and L2 normalisation, as all-mpnet-base-v2 uses (`modules.json`:
//! Transformer → Pooling(mean) → Normalize) — the embedder of App. B.2's
//! semantic diversity.
//!
//! MPNet is a post-LN BERT encoder with two differences: absolute
//! positions start after the padding id (`padding_idx + 1 + i`, RoBERTa's
//! `create_position_ids_from_input_ids`), and every layer adds one shared
//! relative-position bias `[heads, q, k]` to its attention scores, looked up
//! from 32 log-spaced buckets of `k - q` (T5's bucketing, max distance 128;
//! `MPNetEncoder.relative_position_bucket` in transformers). So its layers
//! are [`BertLayer`]s, given the key mask plus that bias `[b, heads, s, s]`
//! where BERT gives the key mask alone, and its loading and embedding are
//! [`super::sentence`]'s.
//!
//! Field names follow HF's `MPNetModel` tensor names, but for the layers',
//! which are BERT's ([`MPNET_ATTENTION`] maps MPNet's onto them).

use std::path::Path;

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::batch::Batch;
use super::bert::{
    AttentionNames, BertLayer, EncoderDims, EncoderParts, add_norm, default_act, emb, run_layers,
};
use super::load::{LoadError, WeightSource};
use super::sentence::{self, SentenceEmbedder, SentenceEncoder};

/// Largest distance with its own log bucket (transformers' default, 128).
const MAX_DISTANCE: i64 = 128;

/// MPNet hyper-parameters (HF `MPNetConfig`, the fields we use).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct MpnetConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Model width.
    pub hidden_size: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Rows of the absolute position table (positions start at `pad + 1`).
    pub max_position_embeddings: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_ln_eps")]
    pub layer_norm_eps: f64,
    /// Activation; only `gelu` (exact, erf) is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Relative-position buckets (32 in MPNet).
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: usize,
    /// Padding id, also the offset of the absolute positions.
    #[serde(default = "default_pad")]
    pub pad_token_id: usize,
}

fn default_ln_eps() -> f64 {
    1e-5
}
fn default_buckets() -> usize {
    32
}
fn default_pad() -> usize {
    1
}

/// The bucket of a relative position `k - q`, as transformers'
/// `MPNetEncoder.relative_position_bucket` computes it (the log branch in
/// `f32`, truncated, so the boundaries fall where PyTorch's do): half the
/// buckets for each sign, exact below `buckets / 4`, log-spaced up to
/// [`MAX_DISTANCE`].
pub fn relative_position_bucket(relative: i64, num_buckets: usize) -> usize {
    let half = (num_buckets / 2) as i64;
    let n = -relative;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        ret += n;
    } else {
        let ratio = (n as f32 / max_exact as f32).ln();
        let scale = ((MAX_DISTANCE as f64) / (max_exact as f64)).ln() as f32;
        let large = max_exact + (ratio / scale * (half - max_exact) as f32) as i64;
        ret += large.min(half - 1);
    }
    ret as usize
}

/// Embeddings: word + absolute position, then LayerNorm (no segment table).
#[derive(Module, Debug)]
pub struct MpnetEmbeddings<B: Backend> {
    /// `[vocab, hidden]`.
    pub word_embeddings: Embedding<B>,
    /// `[max_pos, hidden]`.
    pub position_embeddings: Embedding<B>,
    /// Norm after the sum.
    pub layer_norm: LayerNorm<B>,
}

/// HF `MPNetLayer`'s attention tensor names, for [`BertLayer`]'s parts.
const MPNET_ATTENTION: AttentionNames = AttentionNames {
    query: "attention.attn.q",
    key: "attention.attn.k",
    value: "attention.attn.v",
    output: "attention.attn.o",
    norm: "attention.LayerNorm",
};

/// An MPNet encoder.
#[derive(Module, Debug)]
pub struct Mpnet<B: Backend> {
    /// Embeddings.
    pub embeddings: MpnetEmbeddings<B>,
    /// Encoder layers (`encoder.layer.N`).
    pub layers: Vec<BertLayer<B>>,
    /// `encoder.relative_attention_bias` `[buckets, heads]`.
    pub relative_attention_bias: Embedding<B>,
    /// Buckets of the relative bias.
    pub num_buckets: usize,
    /// Padding id (positions start after it).
    pub pad_id: usize,
}

impl<B: Backend> Mpnet<B> {
    fn device(&self) -> B::Device {
        self.embeddings.word_embeddings.weight.device()
    }

    /// Last hidden states `[b, s, hidden]` of a right-padded batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<B, 3> {
        let bias = self.attention_bias(batch);
        run_layers(&self.layers, self.embed_batch(batch), &bias)
    }

    /// The embedding layer's output `[b, s, hidden]`. Real tokens of a
    /// right-padded row sit at positions `pad + 1 + i`; padding at `pad`
    /// (transformers' `create_position_ids_from_input_ids`, which tells
    /// padding by the mask here rather than by the id).
    pub fn embed_batch(&self, batch: &Batch) -> Tensor<B, 3> {
        let device = self.device();
        let (b, s) = (batch.batch_size(), batch.seq_len());
        let ids = batch.ids_tensor::<B>(&device);
        let pad = self.pad_id as i64;
        let pos: Vec<i64> = batch
            .mask
            .iter()
            .flat_map(|m| {
                let mut seen = 0i64;
                m.iter()
                    .map(move |&real| {
                        if real {
                            seen += 1;
                            pad + seen
                        } else {
                            pad
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let pos = Tensor::<B, 2, Int>::from_data(TensorData::new(pos, [b, s]), &device);
        let e = &self.embeddings;
        // The layers' epsilon is the config's, shared with the embeddings.
        let eps = self.layers.first().map(|l| l.layer_norm_eps);
        let (word, pos) = (
            e.word_embeddings.forward(ids),
            e.position_embeddings.forward(pos),
        );
        add_norm(&e.layer_norm, eps, word, pos)
    }

    /// The attention bias `[b, heads, s, s]` every layer adds: the key mask
    /// (0 for real tokens, [`super::batch::MASKED`] for padding) plus the
    /// relative-position bias.
    pub fn attention_bias(&self, batch: &Batch) -> Tensor<B, 4> {
        let (b, s) = (batch.batch_size(), batch.seq_len());
        let h = self.relative_attention_bias.weight.dims()[1];
        batch.key_bias(&self.device()).expand([b, h, s, s])
            + self.position_bias(s).expand([b, h, s, s])
    }

    /// The relative-position bias `[1, heads, s, s]` shared by every layer:
    /// `bias[h, q, k] = relative_attention_bias[bucket(k - q), h]`.
    pub fn position_bias(&self, s: usize) -> Tensor<B, 4> {
        let buckets: Vec<i64> = (0..s as i64)
            .flat_map(|q| {
                (0..s as i64).map(move |k| relative_position_bucket(k - q, self.num_buckets) as i64)
            })
            .collect();
        let idx =
            Tensor::<B, 2, Int>::from_data(TensorData::new(buckets, [1, s * s]), &self.device());
        let v = self.relative_attention_bias.forward(idx); // [1, s·s, heads]
        let h = v.dims()[2];
        v.reshape([s, s, h])
            .permute([2, 0, 1])
            .reshape([1, h, s, s])
    }
}

impl<B: Backend> SentenceEncoder for Mpnet<B> {
    type Backend = B;

    fn hidden_states(&self, batch: &Batch) -> Tensor<B, 3> {
        self.forward(batch)
    }
}

/// A loaded MPNet sentence embedder (all-mpnet-base-v2).
pub type LoadedMpnet<B> = SentenceEmbedder<Mpnet<B>, MpnetConfig>;

/// Builds an [`Mpnet`] from HF `MPNetModel` tensors (names under `prefix`,
/// e.g. `mpnet.` or nothing), checking every shape against `config`.
pub fn build_mpnet<B: Backend>(
    config: &MpnetConfig,
    src: &mut dyn WeightSource,
    prefix: &str,
    device: &B::Device,
) -> Result<Mpnet<B>, LoadError> {
    let dims = EncoderDims::of(config)?;
    let parts = EncoderParts::load(src, prefix, &dims, &MPNET_ATTENTION, device)?;
    let embeddings = MpnetEmbeddings {
        word_embeddings: parts.word,
        position_embeddings: parts.position,
        layer_norm: parts.norm,
    };
    let layers = parts.layers;
    let relative_attention_bias = emb(
        src,
        &format!("{prefix}encoder.relative_attention_bias.weight"),
        config.relative_attention_num_buckets,
        config.num_attention_heads,
        device,
    )?;
    Ok(Mpnet {
        embeddings,
        layers,
        relative_attention_bias,
        num_buckets: config.relative_attention_num_buckets,
        pad_id: config.pad_token_id,
    })
}

/// Loads a sentence-transformers / HF MPNet directory (`config.json` with
/// `model_type: mpnet`, `model.safetensors`, `tokenizer.json`, optionally
/// `sentence_bert_config.json`).
pub fn load_mpnet<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedMpnet<B>, LoadError> {
    let config: MpnetConfig = sentence::read_config(dir, Some("mpnet"))?;
    if config.relative_attention_num_buckets < 4 {
        return Err(sentence::invalid(
            &dir.join("config.json"),
            "relative_attention_num_buckets",
            format!(
                "need at least 4 buckets, found {}",
                config.relative_attention_num_buckets
            ),
        ));
    }
    // Positions run pad + 1 ..= pad + n, so n ≤ max_position_embeddings - pad - 1.
    let longest = config
        .max_position_embeddings
        .saturating_sub(config.pad_token_id + 1)
        .max(2);
    let max_seq_length = sentence::max_seq_length(dir, longest.min(512), longest)?;
    let (mut src, prefix) = sentence::open_weights(dir, "mpnet.")?;
    let model = build_mpnet(&config, &mut src, prefix, device)?;
    let pad = config.pad_token_id as u32;
    SentenceEmbedder::new(dir, model, config, max_seq_length, pad)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use burn::backend::Flex;

    pub(crate) use crate::testing::write_tiny_mpnet;

    #[test]
    fn tiny_model_loads_and_padding_does_not_change_an_embedding() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_mpnet(dir.path());
        let m = load_mpnet::<Flex>(dir.path(), &Default::default()).unwrap();
        let alone = m.embed(&["a b"]).unwrap();
        let padded = m.embed(&["a b", "c d e yes no a b"]).unwrap();
        let diff = alone[0]
            .iter()
            .zip(&padded[0])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "padding changed the embedding by {diff}");
        let norm: f32 = padded[1].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        // Batched in any order, the same embeddings come back in input order.
        let texts = ["a", "b c d e", "yes", "no no"];
        let many = m
            .embed_many(&texts, 3, &crate::util::hooks::Quiet::new(0, "t"))
            .unwrap();
        for (t, e) in texts.iter().zip(&many) {
            let one = &m.embed(&[t]).unwrap()[0];
            assert!(one.iter().zip(e).all(|(x, y)| (x - y).abs() < 1e-5), "{t}");
        }
        // A BERT directory is refused by name.
        std::fs::write(dir.path().join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
        let e = load_mpnet::<Flex>(dir.path(), &Default::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("expected `mpnet`"), "{e}");
    }

    /// MPNet's layers on the fused Flex kernels, its `[b, heads, s, s]` bias
    /// through `fast::attention`, against Burn's own ops: the fallback of
    /// other backends, and what MPNet ran before its layers were BERT's.
    #[test]
    fn fused_layers_match_the_unfused_fallback_under_the_per_head_bias() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_mpnet(dir.path());
        let m = load_mpnet::<Flex>(dir.path(), &Default::default()).unwrap();
        let seqs = ["a b c d e yes no", "b c", "no a b"].map(|t| m.encode(t).unwrap());
        let batch = Batch::pad(&seqs, m.pad_id, false);
        // The fused attention takes MPNet's bias (rather than falling back).
        let x = m.model.embed_batch(&batch);
        let bias = m.model.attention_bias(&batch);
        let s = batch.seq_len();
        assert_eq!(bias.dims(), [3, 4, s, s]);
        assert!(crate::model::fast::attention(&x, &x, &x, 4, 4, &bias).is_some());
        let host = |t: Tensor<Flex, 3>| t.into_data().to_vec::<f32>().unwrap();
        let fused = host(m.model.forward(&batch));
        let reference = host(crate::model::fast::unfused(|| m.model.forward(&batch)));
        let scale = reference
            .iter()
            .fold(1.0f64, |a, &v| a.max(f64::from(v.abs())));
        let diff = crate::util::testing::max_diff(&fused, &reference);
        eprintln!(
            "tiny MPNet, fused vs unfused: max abs difference {diff:e} (scale {scale:.2}), bit-identical: {}",
            fused
                .iter()
                .zip(&reference)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert!(
            diff <= 1e-5 * scale,
            "max difference {diff} at scale {scale}"
        );
    }

    /// Buckets of transformers' `MPNetEncoder.relative_position_bucket`
    /// (32 buckets, max distance 128) for k - q = -130..=130, step 1 —
    /// printed by tests/fixtures/mpnet/make_fixture.py into reference.json.
    #[test]
    fn buckets_match_transformers() {
        let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/mpnet/reference.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let rel: Vec<i64> = v["buckets"]["relative"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        let want: Vec<usize> = v["buckets"]["bucket"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let got: Vec<usize> = rel
            .iter()
            .map(|&r| relative_position_bucket(r, 32))
            .collect();
        assert_eq!(got, want);
        // Hand-checked corners: same token, one step either way, far away.
        assert_eq!(relative_position_bucket(0, 32), 0);
        assert_eq!(relative_position_bucket(-1, 32), 1);
        assert_eq!(relative_position_bucket(1, 32), 17);
        assert_eq!(relative_position_bucket(-1000, 32), 15);
        assert_eq!(relative_position_bucket(1000, 32), 31);
    }

    #[test]
    fn position_bias_reads_the_bucket_table_per_head() {
        let d = Default::default();
        // bias[bucket, head] = 10·bucket + head.
        let table: Vec<f32> = (0..32)
            .flat_map(|b| (0..2).map(move |h| (10 * b + h) as f32))
            .collect();
        let rel = Embedding {
            weight: burn::module::Param::from_tensor(Tensor::<Flex, 2>::from_data(
                TensorData::new(table, [32, 2]),
                &d,
            )),
        };
        let m = Mpnet::<Flex> {
            embeddings: MpnetEmbeddings {
                word_embeddings: burn::nn::EmbeddingConfig::new(4, 2).init(&d),
                position_embeddings: burn::nn::EmbeddingConfig::new(8, 2).init(&d),
                layer_norm: burn::nn::LayerNormConfig::new(2).init(&d),
            },
            layers: Vec::new(),
            relative_attention_bias: rel,
            num_buckets: 32,
            pad_id: 1,
        };
        let b = m.position_bias(3).into_data().to_vec::<f32>().unwrap();
        // head 1, q = 0, k = 2: k - q = 2 → bucket 18 → 181.
        assert_eq!(b[9 + 2], 181.0);
        // head 0, q = 2, k = 0: k - q = -2 → bucket 2 → 20.
        assert_eq!(b[2 * 3], 20.0);
        // diagonal of head 1: bucket 0 → 1.
        assert_eq!(b[9 + 4], 1.0);
    }
}
