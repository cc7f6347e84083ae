//! BERT encoder (post-LN, GELU, padding mask) with sentence-transformers' mean
//! pooling and L2 normalisation, as all-MiniLM-L6-v2 uses (`modules.json`:
//! Transformer → Pooling(mean) → Normalize).
//!
//! Field names follow HF's `BertModel` tensor names.

use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use super::batch::Batch;
use super::fast;
use super::load::safetensors::SafetensorsSource;
use super::load::{HostTensor, LoadError, WeightSource};
use super::readback::to_vec_f32;

/// BERT hyper-parameters (HF `BertConfig`, the fields we use).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct BertConfig {
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
    /// Longest input.
    pub max_position_embeddings: usize,
    /// Number of segment types.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_ln_eps")]
    pub layer_norm_eps: f64,
    /// Activation; only `gelu` (exact, erf) is supported.
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_ln_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".to_string()
}

/// Embeddings: word + position + segment, then LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// `[vocab, hidden]`.
    pub word_embeddings: Embedding<B>,
    /// `[max_pos, hidden]`.
    pub position_embeddings: Embedding<B>,
    /// `[type_vocab, hidden]`.
    pub token_type_embeddings: Embedding<B>,
    /// Norm after the sum.
    pub layer_norm: LayerNorm<B>,
}

/// One post-LN encoder layer.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    /// Query projection.
    pub query: Linear<B>,
    /// Key projection.
    pub key: Linear<B>,
    /// Value projection.
    pub value: Linear<B>,
    /// Attention output projection (`attention.output.dense`).
    pub attn_output: Linear<B>,
    /// Norm after attention (`attention.output.LayerNorm`).
    pub attn_norm: LayerNorm<B>,
    /// `intermediate.dense`.
    pub intermediate: Linear<B>,
    /// `output.dense`.
    pub output: Linear<B>,
    /// `output.LayerNorm`.
    pub output_norm: LayerNorm<B>,
    /// Heads.
    pub n_heads: usize,
    /// LayerNorm epsilon (Burn's `LayerNorm` keeps its own private).
    pub layer_norm_eps: f64,
}

/// A BERT encoder.
#[derive(Module, Debug)]
pub struct Bert<B: Backend> {
    /// Embeddings.
    pub embeddings: BertEmbeddings<B>,
    /// Encoder layers.
    pub layers: Vec<BertLayer<B>>,
}

impl<B: Backend> BertLayer<B> {
    /// One layer on hidden states `[b, s, hidden]` with the additive key mask
    /// `bias` `[b, 1, 1, s]` of [`Bert::attention_bias`].
    pub fn forward(&self, x: Tensor<B, 3>, bias: &Tensor<B, 4>) -> Tensor<B, 3> {
        if fast::is_flex(&x)
            && let Some(y) = self.forward_fused(&x, bias)
        {
            return y;
        }
        let [b, s, d] = x.dims();
        let h = self.n_heads;
        let hd = d / h;
        let split = |t: Tensor<B, 3>| t.reshape([b, s, h, hd]).swap_dims(1, 2);
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (hd as f64).sqrt())
            + bias.clone();
        let ctx = softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([b, s, d]);
        let x = self.attn_norm.forward(self.attn_output.forward(ctx) + x);
        let inner = gelu(self.intermediate.forward(x.clone()));
        self.output_norm.forward(self.output.forward(inner) + x)
    }
}

impl<B: Backend> BertLayer<B> {
    /// [`BertLayer::forward`] through the fused Flex kernels (inference):
    /// the projections as single 2-D GEMMs, attention on the unsplit heads,
    /// residual + LayerNorm and GELU in one pass each. `None` off Flex.
    fn forward_fused(&self, x: &Tensor<B, 3>, bias: &Tensor<B, 4>) -> Option<Tensor<B, 3>> {
        let norm = |y: &Tensor<B, 3>, res: &Tensor<B, 3>, ln: &LayerNorm<B>| {
            let beta = ln.beta.as_ref()?.val();
            fast::add_layer_norm(y, res, &ln.gamma.val(), &beta, self.layer_norm_eps)
        };
        let (q, k, v) = (
            linear_2d(&self.query, x),
            linear_2d(&self.key, x),
            linear_2d(&self.value, x),
        );
        let ctx = fast::attention(&q, &k, &v, self.n_heads, self.n_heads, bias)?;
        let x = norm(&linear_2d(&self.attn_output, &ctx), x, &self.attn_norm)?;
        let inner = fast::gelu(&linear_2d(&self.intermediate, &x))?;
        norm(&linear_2d(&self.output, &inner), &x, &self.output_norm)
    }
}

/// A linear layer on `[b, s, d]` as one `[b·s, d]` GEMM (instead of `b`
/// batched ones), reshaped back.
pub(crate) fn linear_2d<B: Backend>(l: &Linear<B>, x: &Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, s, d] = x.dims();
    let y = super::fast::linear(l, &x.clone().reshape([b * s, d]));
    let o = y.dims()[1];
    y.reshape([b, s, o])
}

impl<B: Backend> Bert<B> {
    /// Last hidden states `[b, s, hidden]` of a right- or left-padded batch
    /// (segment ids all 0, positions 0..s as HF's default).
    pub fn forward(&self, batch: &Batch) -> Tensor<B, 3> {
        let mut x = self.embed_batch(batch);
        let bias = self.attention_bias(batch);
        for l in &self.layers {
            x = l.forward(x, &bias);
        }
        x
    }

    /// The embedding layer's output `[b, s, hidden]` (word + position +
    /// segment, normalised), before any encoder layer.
    pub fn embed_batch(&self, batch: &Batch) -> Tensor<B, 3> {
        let device = self.embeddings.word_embeddings.weight.device();
        let (b, s) = (batch.batch_size(), batch.seq_len());
        let ids = batch.ids_tensor::<B>(&device);
        let pos: Vec<i64> = (0..b).flat_map(|_| 0..s as i64).collect();
        let pos = Tensor::from_data(TensorData::new(pos, [b, s]), &device);
        let seg = Tensor::from_data(TensorData::new(vec![0i64; b * s], [b, s]), &device);
        let e = &self.embeddings;
        let x = e.word_embeddings.forward(ids) + e.position_embeddings.forward(pos);
        let seg = e.token_type_embeddings.forward(seg);
        // Flex inference: the fused, CPU-independent LayerNorm (the layers'
        // epsilon is the config's, shared with the embeddings).
        if let (Some(l), Some(beta)) = (self.layers.first(), e.layer_norm.beta.as_ref())
            && let Some(y) = fast::add_layer_norm(
                &x,
                &seg,
                &e.layer_norm.gamma.val(),
                &beta.val(),
                l.layer_norm_eps,
            )
        {
            return y;
        }
        e.layer_norm.forward(x + seg)
    }

    /// The additive key mask `[b, 1, 1, s]` of a batch: 0 for real tokens, a
    /// large negative value for padding.
    pub fn attention_bias(&self, batch: &Batch) -> Tensor<B, 4> {
        batch.key_bias(&self.embeddings.word_embeddings.weight.device())
    }

    /// Sentence embeddings `[b, hidden]`: mean over real tokens, then L2
    /// normalised (sentence-transformers `Pooling` + `Normalize`).
    pub fn embed(&self, batch: &Batch) -> Tensor<B, 2> {
        super::pool::mean_pool_l2(self.forward(batch), batch)
    }
}

pub(super) fn lin<B: Backend>(
    src: &mut dyn WeightSource,
    name: &str,
    out: usize,
    inp: usize,
    device: &B::Device,
) -> Result<Linear<B>, LoadError> {
    let w = src
        .require(&format!("{name}.weight"), &[out, inp])?
        .transpose2()
        .into_tensor::<B, 2>(device);
    let b = src
        .require(&format!("{name}.bias"), &[out])?
        .into_tensor::<B, 1>(device);
    Ok(Linear {
        weight: Param::from_tensor(w),
        bias: Some(Param::from_tensor(b)),
    })
}

pub(super) fn norm<B: Backend>(
    src: &mut dyn WeightSource,
    name: &str,
    d: usize,
    eps: f64,
    device: &B::Device,
) -> Result<LayerNorm<B>, LoadError> {
    let g = src
        .require(&format!("{name}.weight"), &[d])?
        .into_tensor::<B, 1>(device);
    let b = src
        .require(&format!("{name}.bias"), &[d])?
        .into_tensor::<B, 1>(device);
    let mut ln: LayerNorm<B> = LayerNormConfig::new(d).with_epsilon(eps).init(device);
    ln.gamma = Param::from_tensor(g);
    ln.beta = Some(Param::from_tensor(b));
    Ok(ln)
}

pub(super) fn emb<B: Backend>(
    src: &mut dyn WeightSource,
    name: &str,
    n: usize,
    d: usize,
    device: &B::Device,
) -> Result<Embedding<B>, LoadError> {
    let w: HostTensor = src.require(name, &[n, d])?;
    Ok(Embedding {
        weight: Param::from_tensor(w.into_tensor::<B, 2>(device)),
    })
}

/// A loaded sentence embedder.
pub struct LoadedBert<B: Backend> {
    /// The encoder.
    pub model: Bert<B>,
    /// Its configuration.
    pub config: BertConfig,
    /// Its tokenizer (`tokenizer.json`).
    pub tokenizer: Tokenizer,
    /// Longest input in tokens (`sentence_bert_config.json`, else 512).
    pub max_seq_length: usize,
    /// Where it came from.
    pub path: PathBuf,
}

impl<B: Backend> LoadedBert<B> {
    /// Embeds sentences (truncated to `max_seq_length` tokens), `[n, hidden]`.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, LoadError> {
        let mut seqs = Vec::with_capacity(texts.len());
        for t in texts {
            let enc = self
                .tokenizer
                .encode(*t, true)
                .map_err(|e| LoadError::Tokenizer {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
            let mut ids = enc.get_ids().to_vec();
            if ids.len() > self.max_seq_length {
                // Keep [CLS] … and the final [SEP], as HF truncation does.
                let last = ids[ids.len() - 1];
                ids.truncate(self.max_seq_length - 1);
                ids.push(last);
            }
            seqs.push(ids);
        }
        let batch = Batch::pad(&seqs, 0, false);
        let out = self.model.embed(&batch);
        let d = out.dims()[1];
        let flat = to_vec_f32(
            out,
            &format!("{}: the sentence embeddings", self.path.display()),
        )?; // [n, hidden]
        Ok(flat.chunks(d.max(1)).map(<[f32]>::to_vec).collect())
    }
}

/// Builds a [`Bert`] from HF `BertModel` tensors (names under `prefix`, e.g.
/// `bert.` or nothing), checking every shape against `config`.
pub fn build_bert<B: Backend>(
    config: &BertConfig,
    src: &mut dyn WeightSource,
    prefix: &str,
    device: &B::Device,
) -> Result<Bert<B>, LoadError> {
    let (d, eps) = (config.hidden_size, config.layer_norm_eps);
    let embeddings = BertEmbeddings {
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
        token_type_embeddings: emb(
            src,
            &format!("{prefix}embeddings.token_type_embeddings.weight"),
            config.type_vocab_size,
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
        layers.push(BertLayer {
            query: lin(src, &format!("{p}.attention.self.query"), d, d, device)?,
            key: lin(src, &format!("{p}.attention.self.key"), d, d, device)?,
            value: lin(src, &format!("{p}.attention.self.value"), d, d, device)?,
            attn_output: lin(src, &format!("{p}.attention.output.dense"), d, d, device)?,
            attn_norm: norm(
                src,
                &format!("{p}.attention.output.LayerNorm"),
                d,
                eps,
                device,
            )?,
            intermediate: lin(src, &format!("{p}.intermediate.dense"), i, d, device)?,
            output: lin(src, &format!("{p}.output.dense"), d, i, device)?,
            output_norm: norm(src, &format!("{p}.output.LayerNorm"), d, eps, device)?,
            n_heads: config.num_attention_heads,
            layer_norm_eps: eps,
        });
    }
    Ok(Bert { embeddings, layers })
}

/// Loads a sentence-transformers / HF BERT directory.
pub fn load_bert<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedBert<B>, LoadError> {
    let cfg_path = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|source| LoadError::Io {
        path: cfg_path.clone(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let config: BertConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        LoadError::Config(super::config::ConfigError::Json {
            path: cfg_path.display().to_string(),
            message: e.to_string(),
        })
    })?;
    if config.hidden_act != "gelu"
        || config.num_attention_heads == 0
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
    {
        return Err(LoadError::Config(super::config::ConfigError::Invalid {
            path: cfg_path.display().to_string(),
            field: "hidden_act",
            message: format!(
                "need hidden_act gelu and heads dividing hidden_size, found {} / {} heads / {} wide",
                config.hidden_act, config.num_attention_heads, config.hidden_size
            ),
        }));
    }
    let tok_path = dir.join("tokenizer.json");
    let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| LoadError::Tokenizer {
        path: tok_path.clone(),
        message: e.to_string(),
    })?;
    // all-MiniLM-L6-v2's tokenizer.json pads to a fixed 128 and truncates at
    // 128; sentence-transformers overrides both per call (pad to the longest,
    // truncate at max_seq_length), and so do we.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| LoadError::Tokenizer {
            path: tok_path.clone(),
            message: e.to_string(),
        })?;
    let st_cfg = dir.join("sentence_bert_config.json");
    let mut max_seq_length = config.max_position_embeddings;
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
            max_seq_length = (n as usize).clamp(2, config.max_position_embeddings);
        }
    }
    let mut src = SafetensorsSource::open_dir(dir)?;
    let strip = |src: &mut SafetensorsSource| src.names().any(|n| n.starts_with("bert."));
    let prefix = if strip(&mut src) { "bert." } else { "" };
    let model = build_bert(&config, &mut src, prefix, device)?;
    Ok(LoadedBert {
        model,
        config,
        tokenizer,
        max_seq_length,
        path: dir.to_path_buf(),
    })
}
