//! MPNet encoder (HF `MPNetModel`) with sentence-transformers' mean pooling
//! and L2 normalisation, as all-mpnet-base-v2 uses (`modules.json`:
//! Transformer → Pooling(mean) → Normalize) — the embedder of App. B.2's
//! semantic diversity.
//!
//! MPNet is a post-LN BERT-like encoder with two differences: absolute
//! positions start after the padding id (`padding_idx + 1 + i`, RoBERTa's
//! `create_position_ids_from_input_ids`), and every layer adds one shared
//! relative-position bias `[heads, q, k]` to its attention scores, looked up
//! from 32 log-spaced buckets of `k - q` (T5's bucketing, max distance 128;
//! `MPNetEncoder.relative_position_bucket` in transformers).
//!
//! Field names follow HF's `MPNetModel` tensor names.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use super::batch::Batch;
use super::bert::{emb, lin, norm};
use super::config::ConfigError;
use super::load::safetensors::SafetensorsSource;
use super::load::{LoadError, WeightSource};
use super::readback::to_vec_f32;
use crate::util::hooks::Hooks;

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
fn default_act() -> String {
    "gelu".to_string()
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

/// One post-LN encoder layer (`encoder.layer.N`).
#[derive(Module, Debug)]
pub struct MpnetLayer<B: Backend> {
    /// `attention.attn.q`.
    pub q: Linear<B>,
    /// `attention.attn.k`.
    pub k: Linear<B>,
    /// `attention.attn.v`.
    pub v: Linear<B>,
    /// `attention.attn.o`.
    pub o: Linear<B>,
    /// `attention.LayerNorm`.
    pub attn_norm: LayerNorm<B>,
    /// `intermediate.dense`.
    pub intermediate: Linear<B>,
    /// `output.dense`.
    pub output: Linear<B>,
    /// `output.LayerNorm`.
    pub output_norm: LayerNorm<B>,
    /// Heads.
    pub n_heads: usize,
}

/// An MPNet encoder.
#[derive(Module, Debug)]
pub struct Mpnet<B: Backend> {
    /// Embeddings.
    pub embeddings: MpnetEmbeddings<B>,
    /// Encoder layers.
    pub layers: Vec<MpnetLayer<B>>,
    /// `encoder.relative_attention_bias` `[buckets, heads]`.
    pub relative_attention_bias: Embedding<B>,
    /// Buckets of the relative bias.
    pub num_buckets: usize,
    /// Padding id (positions start after it).
    pub pad_id: usize,
}

impl<B: Backend> MpnetLayer<B> {
    /// One layer on hidden states `[b, s, hidden]`; `bias` `[b, heads, s, s]`
    /// is the sum of the key mask and the relative-position bias.
    pub fn forward(&self, x: Tensor<B, 3>, bias: &Tensor<B, 4>) -> Tensor<B, 3> {
        let [b, s, d] = x.dims();
        let h = self.n_heads;
        let hd = d / h;
        let split = |t: Tensor<B, 3>| t.reshape([b, s, h, hd]).swap_dims(1, 2);
        let q = split(self.q.forward(x.clone()));
        let k = split(self.k.forward(x.clone()));
        let v = split(self.v.forward(x.clone()));
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (hd as f64).sqrt())
            + bias.clone(); // [b, h, s, s]
        let ctx = softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([b, s, d]);
        let x = self.attn_norm.forward(self.o.forward(ctx) + x);
        let inner = gelu(self.intermediate.forward(x.clone()));
        self.output_norm.forward(self.output.forward(inner) + x)
    }
}

impl<B: Backend> Mpnet<B> {
    fn device(&self) -> B::Device {
        self.embeddings.word_embeddings.weight.device()
    }

    /// Last hidden states `[b, s, hidden]` of a right-padded batch.
    pub fn forward(&self, batch: &Batch) -> Tensor<B, 3> {
        let mut x = self.embed_batch(batch);
        let (b, s) = (batch.batch_size(), batch.seq_len());
        let h = self.relative_attention_bias.weight.dims()[1];
        // [b, h, s, s]: key mask plus relative-position bias, each expanded.
        let bias = self.attention_bias(batch).expand([b, h, s, s])
            + self.position_bias(s).expand([b, h, s, s]);
        for l in &self.layers {
            x = l.forward(x, &bias);
        }
        x
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
        e.layer_norm
            .forward(e.word_embeddings.forward(ids) + e.position_embeddings.forward(pos))
    }

    /// The additive key mask `[b, 1, 1, s]`: 0 for real tokens, a large
    /// negative value for padding.
    pub fn attention_bias(&self, batch: &Batch) -> Tensor<B, 4> {
        batch.key_bias(&self.device())
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

    /// Sentence embeddings `[b, hidden]`: mean over real tokens, then L2
    /// normalised (sentence-transformers `Pooling` + `Normalize`).
    pub fn embed(&self, batch: &Batch) -> Tensor<B, 2> {
        super::pool::mean_pool_l2(self.forward(batch), batch)
    }
}

/// A loaded MPNet sentence embedder.
pub struct LoadedMpnet<B: Backend> {
    /// The encoder.
    pub model: Mpnet<B>,
    /// Its configuration.
    pub config: MpnetConfig,
    /// Its tokenizer (`tokenizer.json`, padding and truncation off).
    pub tokenizer: Tokenizer,
    /// Longest input in tokens (`sentence_bert_config.json`, else 512).
    pub max_seq_length: usize,
    /// Where it came from.
    pub path: PathBuf,
}

impl<B: Backend> LoadedMpnet<B> {
    /// Token ids of `text` as sentence-transformers feeds them: `<s> … </s>`,
    /// truncated to `max_seq_length` keeping the final `</s>`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LoadError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| LoadError::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        let mut ids = enc.get_ids().to_vec();
        if ids.len() > self.max_seq_length {
            let last = ids[ids.len() - 1];
            ids.truncate(self.max_seq_length - 1);
            ids.push(last);
        }
        Ok(ids)
    }

    /// Embeds `texts` in one batch padded to the longest, `[n][hidden]`.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LoadError> {
        let seqs = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>, _>>()?;
        self.embed_ids(&seqs)
    }

    fn embed_ids(&self, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, LoadError> {
        let batch = Batch::pad(seqs, self.config.pad_token_id as u32, false);
        let out = self.model.embed(&batch);
        let d = out.dims()[1];
        let flat = to_vec_f32(
            out,
            &format!("{}: the sentence embeddings", self.path.display()),
        )?; // [n, hidden]
        Ok(flat.chunks(d.max(1)).map(<[f32]>::to_vec).collect())
    }

    /// Embeds many texts in batches of `batch_size` texts of similar length
    /// (sorted by token count, as sentence-transformers' `encode` does),
    /// returned in input order; progress and interrupts through `hooks`.
    pub fn embed_many(
        &self,
        texts: &[&str],
        batch_size: usize,
        hooks: &dyn Hooks,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let seqs = texts
            .iter()
            .map(|t| self.encode(t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(seqs[i].len()), i));
        let mut out = vec![Vec::new(); seqs.len()];
        let mut done = 0u64;
        for chunk in order.chunks(batch_size.max(1)) {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| seqs[i].clone()).collect();
            for (&i, e) in chunk.iter().zip(self.embed_ids(&batch)?) {
                out[i] = e;
            }
            done += chunk.len() as u64;
            hooks.check()?;
            hooks.progress("embed", done, seqs.len() as u64);
        }
        Ok(out)
    }
}

/// Builds an [`Mpnet`] from HF `MPNetModel` tensors (names under `prefix`,
/// e.g. `mpnet.` or nothing), checking every shape against `config`.
pub fn build_mpnet<B: Backend>(
    config: &MpnetConfig,
    src: &mut dyn WeightSource,
    prefix: &str,
    device: &B::Device,
) -> Result<Mpnet<B>, LoadError> {
    let (d, eps) = (config.hidden_size, config.layer_norm_eps);
    let embeddings = MpnetEmbeddings {
        word_embeddings: emb(
            src,
            &format!("{prefix}embeddings.word_embeddings.weight"),
            config.vocab_size,
            d,
            device,
        )?,
        position_embeddings: emb(
            src,
            &format!("{prefix}embeddings.position_embeddings.weight"),
            config.max_position_embeddings,
            d,
            device,
        )?,
        layer_norm: norm(
            src,
            &format!("{prefix}embeddings.LayerNorm"),
            d,
            eps,
            device,
        )?,
    };
    let i = config.intermediate_size;
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
    for l in 0..config.num_hidden_layers {
        let p = format!("{prefix}encoder.layer.{l}");
        let a = format!("{p}.attention.attn");
        layers.push(MpnetLayer {
            q: lin(src, &format!("{a}.q"), d, d, device)?,
            k: lin(src, &format!("{a}.k"), d, d, device)?,
            v: lin(src, &format!("{a}.v"), d, d, device)?,
            o: lin(src, &format!("{a}.o"), d, d, device)?,
            attn_norm: norm(src, &format!("{p}.attention.LayerNorm"), d, eps, device)?,
            intermediate: lin(src, &format!("{p}.intermediate.dense"), i, d, device)?,
            output: lin(src, &format!("{p}.output.dense"), d, i, device)?,
            output_norm: norm(src, &format!("{p}.output.LayerNorm"), d, eps, device)?,
            n_heads: config.num_attention_heads,
        });
    }
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

fn invalid(path: &Path, field: &'static str, message: String) -> LoadError {
    LoadError::Config(ConfigError::Invalid {
        path: path.display().to_string(),
        field,
        message,
    })
}

/// Loads a sentence-transformers / HF MPNet directory (`config.json` with
/// `model_type: mpnet`, `model.safetensors`, `tokenizer.json`, optionally
/// `sentence_bert_config.json`).
pub fn load_mpnet<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedMpnet<B>, LoadError> {
    let cfg_path = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|source| LoadError::Io {
        path: cfg_path.clone(),
        source,
    })?;
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        LoadError::Config(ConfigError::Json {
            path: cfg_path.display().to_string(),
            message: e.to_string(),
        })
    })?;
    let model_type = raw.get("model_type").and_then(|m| m.as_str()).unwrap_or("");
    if model_type != "mpnet" {
        return Err(invalid(
            &cfg_path,
            "model_type",
            format!("expected `mpnet`, found `{model_type}`"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_str(&text);
    let config: MpnetConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        LoadError::Config(ConfigError::Json {
            path: cfg_path.display().to_string(),
            message: e.to_string(),
        })
    })?;
    if config.hidden_act != "gelu"
        || config.num_attention_heads == 0
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        || config.relative_attention_num_buckets < 4
    {
        return Err(invalid(
            &cfg_path,
            "hidden_act",
            format!(
                "need hidden_act gelu, heads dividing hidden_size and ≥ 4 buckets, found {} / {} heads / {} wide / {} buckets",
                config.hidden_act,
                config.num_attention_heads,
                config.hidden_size,
                config.relative_attention_num_buckets
            ),
        ));
    }
    let tok_path = dir.join("tokenizer.json");
    let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| LoadError::Tokenizer {
        path: tok_path.clone(),
        message: e.to_string(),
    })?;
    // all-mpnet-base-v2's tokenizer.json pads to a fixed 128 and truncates at
    // 128; sentence-transformers pads to the longest and truncates at
    // max_seq_length (384), and so do we.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| LoadError::Tokenizer {
            path: tok_path.clone(),
            message: e.to_string(),
        })?;
    // Positions run pad + 1 ..= pad + n, so n ≤ max_position_embeddings - pad - 1.
    let longest = config
        .max_position_embeddings
        .saturating_sub(config.pad_token_id + 1)
        .max(2);
    let mut max_seq_length = longest.min(512);
    let st_cfg = dir.join("sentence_bert_config.json");
    if st_cfg.is_file() {
        let t = std::fs::read_to_string(&st_cfg).map_err(|source| LoadError::Io {
            path: st_cfg.clone(),
            source,
        })?;
        let v: serde_json::Value = serde_json::from_str(&t).map_err(|e| LoadError::Tokenizer {
            path: st_cfg.clone(),
            message: e.to_string(),
        })?;
        if let Some(n) = v.get("max_seq_length").and_then(|x| x.as_u64()) {
            max_seq_length = (n as usize).clamp(2, longest);
        }
    }
    let mut src = SafetensorsSource::open_dir(dir)?;
    let prefixed = src.names().any(|n| n.starts_with("mpnet."));
    let prefix = if prefixed { "mpnet." } else { "" };
    let model = build_mpnet(&config, &mut src, prefix, device)?;
    Ok(LoadedMpnet {
        model,
        config,
        tokenizer,
        max_seq_length,
        path: dir.to_path_buf(),
    })
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
