//! BERT encoder (post-LN, GELU, padding mask) with sentence-transformers' mean
//! pooling and L2 normalisation, as all-MiniLM-L6-v2 uses (`modules.json`:
//! Transformer → Pooling(mean) → Normalize).
//!
//! Field names follow HF's `BertModel` tensor names. MPNet's layers are
//! [`BertLayer`]s too ([`super::mpnet`]); loading a directory and embedding
//! texts are [`super::sentence`]'s.

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::batch::Batch;
use super::fast;
use super::load::{HostTensor, LoadError, WeightSource};
use super::sentence::{self, SentenceEmbedder, SentenceEncoder};

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
/// HF's default activation, exact (erf) GELU.
pub(super) fn default_act() -> String {
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

/// One post-LN encoder layer; MPNet's layers too, with another attention
/// bias ([`super::mpnet`]).
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
    /// One layer on hidden states `[b, s, hidden]` with the additive
    /// attention bias `bias`: BERT's key mask `[b, 1, 1, s]`
    /// ([`Bert::attention_bias`]), or a bias per head and query `[b, heads,
    /// s, s]` (MPNet's key mask plus relative-position bias).
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
            + bias.clone(); // [b, h, s, s]
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

/// Where one layer's attention tensors sit under its prefix
/// (`encoder.layer.N`): BERT's names ([`BERT_ATTENTION`]), or another
/// checkpoint's for the same parts (MPNet's). The feed-forward half is named
/// alike in both.
pub(super) struct AttentionNames {
    /// Query projection.
    pub query: &'static str,
    /// Key projection.
    pub key: &'static str,
    /// Value projection.
    pub value: &'static str,
    /// Output projection.
    pub output: &'static str,
    /// Norm after attention.
    pub norm: &'static str,
}

/// HF `BertLayer`'s attention tensor names.
const BERT_ATTENTION: AttentionNames = AttentionNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    output: "attention.output.dense",
    norm: "attention.output.LayerNorm",
};

impl<B: Backend> BertLayer<B> {
    /// The `n` layers `{prefix}.0` … `{prefix}.{n - 1}` (e.g.
    /// `bert.encoder.layer`), their attention tensors named by `names`:
    /// width `d`, feed-forward width `i`, `heads` heads, LayerNorm epsilon
    /// `eps`; every shape checked.
    pub(super) fn load_stack(
        src: &mut dyn WeightSource,
        prefix: &str,
        names: &AttentionNames,
        n: usize,
        (d, i, heads): (usize, usize, usize),
        eps: f64,
        device: &B::Device,
    ) -> Result<Vec<Self>, LoadError> {
        let mut layers = Vec::with_capacity(n);
        for l in 0..n {
            let at = |name: &str| format!("{prefix}.{l}.{name}");
            layers.push(BertLayer {
                query: lin(src, &at(names.query), d, d, device)?,
                key: lin(src, &at(names.key), d, d, device)?,
                value: lin(src, &at(names.value), d, d, device)?,
                attn_output: lin(src, &at(names.output), d, d, device)?,
                attn_norm: norm(src, &at(names.norm), d, eps, device)?,
                intermediate: lin(src, &at("intermediate.dense"), i, d, device)?,
                output: lin(src, &at("output.dense"), d, i, device)?,
                output_norm: norm(src, &at("output.LayerNorm"), d, eps, device)?,
                n_heads: heads,
                layer_norm_eps: eps,
            });
        }
        Ok(layers)
    }
}

/// `layers` in turn on hidden states `x` `[b, s, hidden]`, every one
/// adding the attention bias `bias` (see [`BertLayer::forward`]).
pub(super) fn run_layers<B: Backend>(
    layers: &[BertLayer<B>],
    x: Tensor<B, 3>,
    bias: &Tensor<B, 4>,
) -> Tensor<B, 3> {
    layers.iter().fold(x, |x, l| l.forward(x, bias))
}

/// `ln(x + residual)` `[b, s, d]`, through the fused kernel on Flex where
/// `ln`'s epsilon `eps` is known (Burn keeps it private), else Burn's ops.
pub(super) fn add_norm<B: Backend>(
    ln: &LayerNorm<B>,
    eps: Option<f64>,
    x: Tensor<B, 3>,
    residual: Tensor<B, 3>,
) -> Tensor<B, 3> {
    if let (Some(eps), Some(beta)) = (eps, ln.beta.as_ref())
        && let Some(y) = fast::add_layer_norm(&x, &residual, &ln.gamma.val(), &beta.val(), eps)
    {
        return y;
    }
    ln.forward(x + residual)
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
        let bias = self.attention_bias(batch);
        run_layers(&self.layers, self.embed_batch(batch), &bias)
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
        // The layers' epsilon is the config's, shared with the embeddings.
        let eps = self.layers.first().map(|l| l.layer_norm_eps);
        add_norm(&e.layer_norm, eps, x, seg)
    }

    /// The additive key mask `[b, 1, 1, s]` of a batch: 0 for real tokens, a
    /// large negative value for padding.
    pub fn attention_bias(&self, batch: &Batch) -> Tensor<B, 4> {
        batch.key_bias(&self.embeddings.word_embeddings.weight.device())
    }
}

impl<B: Backend> SentenceEncoder for Bert<B> {
    type Backend = B;

    fn hidden_states(&self, batch: &Batch) -> Tensor<B, 3> {
        self.forward(batch)
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

/// The sizes [`EncoderParts::load`] checks the shared tensors against: the
/// keys BERT's and MPNet's HF `config.json` share, under their HF names.
#[derive(Deserialize)]
pub(super) struct EncoderDims {
    /// Vocabulary size.
    #[serde(rename = "vocab_size")]
    pub vocab: usize,
    /// Rows of the absolute-position table.
    #[serde(rename = "max_position_embeddings")]
    pub max_positions: usize,
    /// Hidden width.
    #[serde(rename = "hidden_size")]
    pub hidden: usize,
    /// Feed-forward width.
    #[serde(rename = "intermediate_size")]
    pub intermediate: usize,
    /// Attention heads.
    #[serde(rename = "num_attention_heads")]
    pub heads: usize,
    /// Encoder layers.
    #[serde(rename = "num_hidden_layers")]
    pub layers: usize,
    /// LayerNorm epsilon.
    #[serde(rename = "layer_norm_eps")]
    pub eps: f64,
}

impl EncoderDims {
    /// The shared keys of a parsed HF config (`BertConfig`, `MpnetConfig`).
    ///
    /// # Errors
    /// The config lacks one of them (a bug: both structs hold all seven).
    pub(super) fn of(config: &impl Serialize) -> Result<Self, LoadError> {
        serde_json::to_value(config)
            .and_then(serde_json::from_value)
            .map_err(|e| {
                LoadError::Config(super::config::ConfigError::Json {
                    path: "config.json".into(),
                    message: format!("encoder sizes: {e}"),
                })
            })
    }
}

/// What BERT and MPNet checkpoints name alike: the word and absolute-position
/// tables, the embeddings' LayerNorm, and the layer stack (under the model's
/// attention names).
pub(super) struct EncoderParts<B: Backend> {
    /// `embeddings.word_embeddings`.
    pub word: Embedding<B>,
    /// `embeddings.position_embeddings`.
    pub position: Embedding<B>,
    /// `embeddings.LayerNorm`.
    pub norm: LayerNorm<B>,
    /// `encoder.layer.N`.
    pub layers: Vec<BertLayer<B>>,
}

impl<B: Backend> EncoderParts<B> {
    /// Loads the shared tensors under `prefix`, checking every shape.
    pub(super) fn load(
        src: &mut dyn WeightSource,
        prefix: &str,
        dims: &EncoderDims,
        attention: &AttentionNames,
        device: &B::Device,
    ) -> Result<Self, LoadError> {
        let d = dims.hidden;
        let table = |src: &mut dyn WeightSource, name: &str, rows: usize| {
            emb(
                src,
                &format!("{prefix}embeddings.{name}.weight"),
                rows,
                d,
                device,
            )
        };
        Ok(EncoderParts {
            word: table(src, "word_embeddings", dims.vocab)?,
            position: table(src, "position_embeddings", dims.max_positions)?,
            norm: norm(
                src,
                &format!("{prefix}embeddings.LayerNorm"),
                d,
                dims.eps,
                device,
            )?,
            layers: BertLayer::load_stack(
                src,
                &format!("{prefix}encoder.layer"),
                attention,
                dims.layers,
                (d, dims.intermediate, dims.heads),
                dims.eps,
                device,
            )?,
        })
    }
}

/// A loaded BERT sentence embedder (all-MiniLM-L6-v2).
pub type LoadedBert<B> = SentenceEmbedder<Bert<B>, BertConfig>;

/// Builds a [`Bert`] from HF `BertModel` tensors (names under `prefix`, e.g.
/// `bert.` or nothing), checking every shape against `config`.
pub fn build_bert<B: Backend>(
    config: &BertConfig,
    src: &mut dyn WeightSource,
    prefix: &str,
    device: &B::Device,
) -> Result<Bert<B>, LoadError> {
    let dims = EncoderDims::of(config)?;
    let parts = EncoderParts::load(src, prefix, &dims, &BERT_ATTENTION, device)?;
    let embeddings = BertEmbeddings {
        word_embeddings: parts.word,
        position_embeddings: parts.position,
        token_type_embeddings: emb(
            src,
            &format!("{prefix}embeddings.token_type_embeddings.weight"),
            config.type_vocab_size,
            dims.hidden,
            device,
        )?,
        layer_norm: parts.norm,
    };
    let layers = parts.layers;
    Ok(Bert { embeddings, layers })
}

/// Loads a sentence-transformers / HF BERT directory (`config.json`,
/// `model.safetensors`, `tokenizer.json`, optionally
/// `sentence_bert_config.json`).
pub fn load_bert<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedBert<B>, LoadError> {
    let config: BertConfig = sentence::read_config(dir, None)?;
    let longest = config.max_position_embeddings;
    let max_seq_length = sentence::max_seq_length(dir, longest, longest)?;
    let (mut src, prefix) = sentence::open_weights(dir, "bert.")?;
    let model = build_bert(&config, &mut src, prefix, device)?;
    SentenceEmbedder::new(dir, model, config, max_seq_length, 0)
}
