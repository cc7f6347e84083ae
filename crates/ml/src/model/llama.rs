//! Llama-architecture decoder (Llama 2/3, TinyLlama, SmolLM2): RMSNorm,
//! rotate-half RoPE (optionally Llama-3-scaled), grouped-query attention,
//! SwiGLU, tied or untied output embedding, causal mask with padding and a KV
//! cache. One forward path serves training, scoring and generation.
//!
//! Field names follow Hugging Face's tensor names (`model.layers.N.self_attn.q_proj`)
//! so loading and export are a walk over the tree.

use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear, RmsNorm};
use burn::tensor::activation::{log_softmax, silu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use super::batch::{Batch, MASKED};
use super::bert::linear_2d;
use super::cache::KvCache;
use super::config::LlamaConfig;
use super::fast;
use super::lora::{LoraConfig, LoraLinear};
use super::rope;
use crate::util::rng::SplitMix64 as Rng;

/// Self-attention with grouped-query heads.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// Query projection `[hidden, heads·head_dim]`.
    pub q_proj: LoraLinear<B>,
    /// Key projection `[hidden, kv_heads·head_dim]`.
    pub k_proj: LoraLinear<B>,
    /// Value projection `[hidden, kv_heads·head_dim]`.
    pub v_proj: LoraLinear<B>,
    /// Output projection `[heads·head_dim, hidden]`.
    pub o_proj: LoraLinear<B>,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads.
    pub n_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

/// SwiGLU feed-forward: `down(silu(gate(x)) · up(x))`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Gate projection `[hidden, inter]`.
    pub gate_proj: Linear<B>,
    /// Up projection `[hidden, inter]`.
    pub up_proj: Linear<B>,
    /// Down projection `[inter, hidden]`.
    pub down_proj: Linear<B>,
}

/// One pre-norm decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    /// Attention.
    pub self_attn: Attention<B>,
    /// Feed-forward.
    pub mlp: Mlp<B>,
    /// Norm before attention.
    pub input_layernorm: RmsNorm<B>,
    /// Norm before the feed-forward.
    pub post_attention_layernorm: RmsNorm<B>,
}

/// The decoder stack (`model.*` in HF checkpoints).
#[derive(Module, Debug)]
pub struct LlamaModel<B: Backend> {
    /// Token embedding `[vocab, hidden]`.
    pub embed_tokens: Embedding<B>,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer<B>>,
    /// Final norm.
    pub norm: RmsNorm<B>,
}

/// A causal language model (`LlamaForCausalLM`).
#[derive(Module, Debug)]
pub struct Llama<B: Backend> {
    /// The decoder stack.
    pub model: LlamaModel<B>,
    /// Output projection `[hidden, vocab]`; `None` when tied to the embedding.
    pub lm_head: Option<Linear<B>>,
    /// RoPE inverse frequencies (fixed, from the config).
    #[module(skip)]
    pub inv_freq: Vec<f64>,
}

impl<B: Backend> Attention<B> {
    /// `x`: `[b, s, hidden]`; `cos`/`sin`: `[b, 1, s, head_dim]`; `bias`:
    /// additive mask `[b, 1, s, t]` where t counts cached plus new keys.
    fn forward(
        &self,
        x: Tensor<B, 3>,
        cos: &Tensor<B, 4>,
        sin: &Tensor<B, 4>,
        bias: &Tensor<B, 4>,
        cache: Option<(&mut KvCache<B>, usize)>,
    ) -> Tensor<B, 3> {
        if fast::is_flex(&x) {
            return self.forward_fused(x, cos, sin, bias, cache);
        }
        let [b, s, _] = x.dims();
        let (h, kvh, hd) = (self.n_heads, self.n_kv_heads, self.head_dim);
        // [b, heads, s, hd]
        let q = self
            .q_proj
            .forward(x.clone())
            .reshape([b, s, h, hd])
            .swap_dims(1, 2);
        let k = self
            .k_proj
            .forward(x.clone())
            .reshape([b, s, kvh, hd])
            .swap_dims(1, 2);
        let v = self
            .v_proj
            .forward(x)
            .reshape([b, s, kvh, hd])
            .swap_dims(1, 2);
        let q = rope::apply(q, cos, sin);
        let k = rope::apply(k, cos, sin);
        let (k, v) = match cache {
            Some((c, layer)) => c.append(layer, k, v),
            None => (k, v),
        };
        self.o_proj.forward(attend(q, k, v, bias))
    }
}

impl<B: Backend> Attention<B> {
    /// [`Attention::forward`] through the fused Flex kernels (inference):
    /// RoPE and attention on the unsplit heads, the cache in
    /// [`KvCache::rows`]. Falls back to Burn's ops if a kernel declines.
    fn forward_fused(
        &self,
        x: Tensor<B, 3>,
        cos: &Tensor<B, 4>,
        sin: &Tensor<B, 4>,
        bias: &Tensor<B, 4>,
        cache: Option<(&mut KvCache<B>, usize)>,
    ) -> Tensor<B, 3> {
        let (h, kvh, hd) = (self.n_heads, self.n_kv_heads, self.head_dim);
        let q = self.q_proj.forward(x.clone());
        let k = self.k_proj.forward(x.clone());
        let v = self.v_proj.forward(x);
        let roped = fast::rope(&q, cos, sin, h).zip(fast::rope(&k, cos, sin, kvh));
        let Some((q, k)) = roped else {
            return self.attend_split(q, k, v, cos, sin, bias);
        };
        let (k, v) = match cache {
            Some((c, layer)) => c.append_rows(layer, k, v),
            None => (k, v),
        };
        let out = match fast::attention(&q, &k, &v, h, kvh, bias) {
            Some(o) => o,
            None => {
                // Unreachable on Flex; Burn's ops on the same (roped) values.
                let [b, s, _] = q.dims();
                let t = k.dims()[1];
                let split = |y: Tensor<B, 3>, n: usize, len: usize| {
                    y.reshape([b, len, n, hd]).swap_dims(1, 2)
                };
                attend(split(q, h, s), split(k, kvh, t), split(v, kvh, t), bias)
            }
        };
        self.o_proj.forward(out)
    }

    /// Burn's ops from unsplit projections without a cache (the fallback of
    /// [`Attention::forward_fused`] when RoPE declines).
    fn attend_split(
        &self,
        q: Tensor<B, 3>,
        k: Tensor<B, 3>,
        v: Tensor<B, 3>,
        cos: &Tensor<B, 4>,
        sin: &Tensor<B, 4>,
        bias: &Tensor<B, 4>,
    ) -> Tensor<B, 3> {
        let [b, s, _] = q.dims();
        let (h, kvh, hd) = (self.n_heads, self.n_kv_heads, self.head_dim);
        let split = |y: Tensor<B, 3>, n: usize| y.reshape([b, s, n, hd]).swap_dims(1, 2);
        let q = rope::apply(split(q, h), cos, sin);
        let k = rope::apply(split(k, kvh), cos, sin);
        self.o_proj.forward(attend(q, k, split(v, kvh), bias))
    }
}

/// RMSNorm through the fused Flex kernel where it applies, else Burn's.
fn rms<B: Backend>(n: &RmsNorm<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    fast::rms_norm(&x, &n.gamma.val(), n.epsilon).unwrap_or_else(|| n.forward(x))
}

/// Grouped-query attention with Burn's ops on split heads: `q` `[b, h, s,
/// hd]`, `k`/`v` `[b, kvh, t, hd]`, additive `bias` `[b, 1, s, t]`; returns
/// `[b, s, h·hd]`.
fn attend<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    bias: &Tensor<B, 4>,
) -> Tensor<B, 3> {
    let [b, h, s, hd] = q.dims();
    let [_, kvh, t, _] = k.dims();
    let rep = h / kvh;
    let q = q.reshape([b, kvh, rep * s, hd]);
    let scores = q
        .matmul(k.swap_dims(2, 3))
        .mul_scalar(1.0 / (hd as f64).sqrt());
    let scores = scores.reshape([b, h, s, t]) + bias.clone();
    let probs = softmax(scores, 3).reshape([b, kvh, rep * s, t]);
    probs
        .matmul(v)
        .reshape([b, h, s, hd])
        .swap_dims(1, 2)
        .reshape([b, s, h * hd])
}

impl<B: Backend> Mlp<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let (gate, up) = (linear_2d(&self.gate_proj, &x), linear_2d(&self.up_proj, &x));
        let h = fast::swiglu(&gate, &up).unwrap_or_else(|| silu(gate) * up);
        linear_2d(&self.down_proj, &h)
    }
}

/// Positions and additive mask for `batch` given what is cached.
fn positions_and_bias(
    batch: &Batch,
    key_mask_prev: &[Vec<bool>],
    next_pos: &[usize],
) -> (Vec<Vec<usize>>, Vec<f32>, usize) {
    let s = batch.seq_len();
    let prev = key_mask_prev.first().map_or(0, Vec::len);
    let t = prev + s;
    let mut positions = Vec::with_capacity(batch.batch_size());
    let mut bias = Vec::with_capacity(batch.batch_size() * s * t);
    for (r, m) in batch.mask.iter().enumerate() {
        // Position ids count real tokens only (HF: cumsum(mask) - 1), so
        // left padding does not shift positions.
        let mut p = next_pos.get(r).copied().unwrap_or(0);
        let mut row = Vec::with_capacity(s);
        for &real in m {
            row.push(p);
            if real {
                p += 1;
            }
        }
        positions.push(row);
        let prev_mask = key_mask_prev.get(r);
        for i in 0..s {
            for j in 0..t {
                let real = if j < prev {
                    prev_mask.is_some_and(|pm| pm[j])
                } else {
                    m[j - prev]
                };
                let causal = j <= prev + i;
                bias.push(if real && causal { 0.0 } else { MASKED });
            }
        }
    }
    (positions, bias, t)
}

impl<B: Backend> Llama<B> {
    /// The final hidden states `[b, s, hidden]` (after the last norm). With a
    /// cache, `batch` holds only the new tokens and the cache is extended.
    pub fn forward_hidden(
        &self,
        batch: &Batch,
        mut cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 3> {
        let device = self.model.embed_tokens.weight.device();
        let (b, s) = (batch.batch_size(), batch.seq_len());
        let empty: Vec<Vec<bool>> = Vec::new();
        let zeros = vec![0; b];
        let (prev_mask, next_pos) = match cache.as_deref() {
            Some(c) => (&c.key_mask, &c.next_pos),
            None => (&empty, &zeros),
        };
        let (positions, bias, t) = positions_and_bias(batch, prev_mask, next_pos);
        let (cos, sin) = rope::tables::<B>(&self.inv_freq, &positions, &device);
        let bias = Tensor::<B, 4>::from_data(TensorData::new(bias, [b, 1, s, t]), &device);
        let mut x = self.model.embed_tokens.forward(batch.ids_tensor(&device));
        for (i, layer) in self.model.layers.iter().enumerate() {
            let h = rms(&layer.input_layernorm, x.clone());
            let a =
                layer
                    .self_attn
                    .forward(h, &cos, &sin, &bias, cache.as_deref_mut().map(|c| (c, i)));
            x = x + a;
            let h = rms(&layer.post_attention_layernorm, x.clone());
            x = x + layer.mlp.forward(h);
        }
        if let Some(c) = cache {
            for (r, m) in batch.mask.iter().enumerate() {
                c.key_mask[r].extend_from_slice(m);
                c.next_pos[r] = positions[r]
                    .last()
                    .map_or(c.next_pos[r], |&p| p + usize::from(m[s - 1]));
            }
        }
        rms(&self.model.norm, x)
    }

    /// Vocabulary logits `[b, s, vocab]` of hidden states `[b, s, hidden]`.
    pub fn logits(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, s, d] = hidden.dims();
        let flat = hidden.reshape([b * s, d]);
        let out = match &self.lm_head {
            Some(head) => fast::linear(head, &flat),
            None => {
                let tied = self.model.embed_tokens.weight.val().transpose();
                fast::narrow_matmul(&flat, &tied).unwrap_or_else(|| flat.matmul(tied))
            }
        };
        let v = out.dims()[1];
        out.reshape([b, s, v])
    }

    /// Logits of every position `[b, s, vocab]`.
    pub fn forward(&self, batch: &Batch, cache: Option<&mut KvCache<B>>) -> Tensor<B, 3> {
        self.logits(self.forward_hidden(batch, cache))
    }

    /// Mean next-token negative log-likelihood over real tokens whose
    /// successor is real too. Returns a one-element tensor.
    pub fn causal_lm_loss(&self, batch: &Batch) -> Tensor<B, 1> {
        let device = self.model.embed_tokens.weight.device();
        let logits = self.forward(batch, None);
        let [b, s, v] = logits.dims();
        let lp = log_softmax(logits.narrow(1, 0, s - 1), 2);
        let targets: Vec<i64> = batch
            .ids
            .iter()
            .flat_map(|r| r[1..].iter().map(|&x| i64::from(x)))
            .collect();
        let targets =
            Tensor::<B, 3, Int>::from_data(TensorData::new(targets, [b, s - 1, 1]), &device);
        let picked = lp.gather(2, targets).reshape([b, s - 1]);
        let w: Vec<f32> = batch
            .mask
            .iter()
            .flat_map(|m| (1..s).map(move |j| if m[j] && m[j - 1] { 1.0 } else { 0.0 }))
            .collect();
        let n = w.iter().sum::<f32>().max(1.0);
        let w = Tensor::<B, 2>::from_data(TensorData::new(w, [b, s - 1]), &device);
        let _ = v;
        (picked * w).sum().neg().div_scalar(n)
    }

    /// Number of decoder layers.
    pub fn n_layers(&self) -> usize {
        self.model.layers.len()
    }

    /// Freezes every weight and attaches LoRA adapters to q, k, v and o.
    pub fn with_lora(self, cfg: LoraConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let Llama {
            model,
            lm_head,
            inv_freq,
        } = self.no_grad();
        let layers = model
            .layers
            .into_iter()
            .map(|l| {
                let a = l.self_attn;
                DecoderLayer {
                    self_attn: Attention {
                        q_proj: a.q_proj.attach(cfg, &mut rng),
                        k_proj: a.k_proj.attach(cfg, &mut rng),
                        v_proj: a.v_proj.attach(cfg, &mut rng),
                        o_proj: a.o_proj.attach(cfg, &mut rng),
                        ..a
                    },
                    ..l
                }
            })
            .collect();
        Llama {
            model: LlamaModel { layers, ..model },
            lm_head,
            inv_freq,
        }
    }

    /// Folds every LoRA adapter into its base weight.
    pub fn merge_lora(self) -> Self {
        let Llama {
            model,
            lm_head,
            inv_freq,
        } = self;
        let layers = model
            .layers
            .into_iter()
            .map(|l| {
                let a = l.self_attn;
                DecoderLayer {
                    self_attn: Attention {
                        q_proj: a.q_proj.merge(),
                        k_proj: a.k_proj.merge(),
                        v_proj: a.v_proj.merge(),
                        o_proj: a.o_proj.merge(),
                        ..a
                    },
                    ..l
                }
            })
            .collect();
        Llama {
            model: LlamaModel { layers, ..model },
            lm_head,
            inv_freq,
        }
    }
}

/// Pieces of [`Llama::forward_hidden`] without a cache, for running the
/// lower layers of a partly frozen backbone apart from the upper ones.
impl<B: Backend> Llama<B> {
    /// Token embeddings `[b, s, hidden]`: the residual stream before layer 0.
    pub fn embed_batch(&self, batch: &Batch) -> Tensor<B, 3> {
        let device = self.model.embed_tokens.weight.device();
        self.model.embed_tokens.forward(batch.ids_tensor(&device))
    }

    /// Runs decoder layers `layers` (no cache) on the residual stream `x`
    /// `[b, s, hidden]` of `batch`; the final norm is not applied.
    pub fn run_layers(
        &self,
        mut x: Tensor<B, 3>,
        batch: &Batch,
        layers: std::ops::Range<usize>,
    ) -> Tensor<B, 3> {
        let device = self.model.embed_tokens.weight.device();
        let (b, s) = (batch.batch_size(), batch.seq_len());
        let (positions, bias, t) = positions_and_bias(batch, &[], &vec![0; b]);
        let (cos, sin) = rope::tables::<B>(&self.inv_freq, &positions, &device);
        let bias = Tensor::<B, 4>::from_data(TensorData::new(bias, [b, 1, s, t]), &device);
        let end = layers.end.min(self.model.layers.len());
        for layer in self.model.layers.iter().take(end).skip(layers.start) {
            let h = rms(&layer.input_layernorm, x.clone());
            x = x + layer.self_attn.forward(h, &cos, &sin, &bias, None);
            let h = rms(&layer.post_attention_layernorm, x.clone());
            x = x + layer.mlp.forward(h);
        }
        x
    }
}

/// Builds burn modules from host tensors.
pub(crate) mod build {
    use super::*;

    /// A `Linear` without bias from a Burn-layout weight `[in, out]`.
    pub fn linear<B: Backend>(w_in_out: Tensor<B, 2>) -> Linear<B> {
        Linear {
            weight: Param::from_tensor(w_in_out),
            bias: None,
        }
    }

    /// An RMSNorm with the given scale.
    pub fn rms_norm<B: Backend>(gamma: Tensor<B, 1>, eps: f64) -> RmsNorm<B> {
        RmsNorm {
            gamma: Param::from_tensor(gamma),
            epsilon: eps,
        }
    }

    /// An embedding with weight `[vocab, hidden]`.
    pub fn embedding<B: Backend>(w: Tensor<B, 2>) -> Embedding<B> {
        Embedding {
            weight: Param::from_tensor(w),
        }
    }

    /// An attention block from `[in, out]` weights.
    pub fn attention<B: Backend>(
        cfg: &LlamaConfig,
        q: Tensor<B, 2>,
        k: Tensor<B, 2>,
        v: Tensor<B, 2>,
        o: Tensor<B, 2>,
    ) -> Attention<B> {
        Attention {
            q_proj: LoraLinear {
                base: linear(q),
                lora: None,
            },
            k_proj: LoraLinear {
                base: linear(k),
                lora: None,
            },
            v_proj: LoraLinear {
                base: linear(v),
                lora: None,
            },
            o_proj: LoraLinear {
                base: linear(o),
                lora: None,
            },
            n_heads: cfg.num_attention_heads,
            n_kv_heads: cfg.num_key_value_heads,
            head_dim: cfg.head_dim,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::load::RandomSource;
    use crate::model::load::llama::build_llama;
    use burn::backend::{Autodiff, Flex};
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};

    type AD = Autodiff<Flex>;

    pub(crate) use crate::testing::tiny_config;

    fn data() -> Batch {
        Batch::pad(
            &[vec![1, 5, 6, 7, 8, 9, 10, 2], vec![1, 11, 12, 13, 2]],
            0,
            false,
        )
    }

    #[test]
    fn tiny_model_loss_decreases_under_adam() {
        let device = Default::default();
        let mut model = build_llama::<AD>(
            &tiny_config(),
            &mut RandomSource::new(3, 0.1),
            None,
            &device,
        )
        .unwrap();
        let mut optim = AdamConfig::new().init::<AD, Llama<AD>>();
        let batch = data();
        let mut losses = Vec::new();
        for _ in 0..8 {
            let loss = model.causal_lm_loss(&batch);
            losses.push(loss.clone().into_scalar());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        assert!(losses[7] < losses[0] * 0.8, "losses {losses:?}");
        // The loss starts near ln(vocab) for a small random init.
        assert!((losses[0] - (40f32).ln()).abs() < 0.5, "{}", losses[0]);
    }

    #[test]
    fn padding_does_not_change_real_positions_and_cache_matches_full_forward() {
        let device = Default::default();
        let model = build_llama::<Flex>(
            &tiny_config(),
            &mut RandomSource::new(4, 0.3),
            None,
            &device,
        )
        .unwrap();
        let seq = vec![1u32, 5, 9, 3, 30, 2, 7];
        let alone = model.forward(&Batch::pad(std::slice::from_ref(&seq), 0, false), None);
        let alone: Vec<f32> = alone.into_data().to_vec().unwrap();
        // Left-padded next to a longer row: the same logits at the real positions.
        let batch = Batch::pad(&[vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10], seq.clone()], 0, true);
        let both: Vec<f32> = model.forward(&batch, None).into_data().to_vec().unwrap();
        let v = 40;
        let row1 = &both[10 * v..];
        let diff = alone
            .iter()
            .zip(&row1[3 * v..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "left padding changed logits by {diff}");
        // Prefill 4 tokens then feed 3 one by one through the cache.
        let mut cache = KvCache::new(model.n_layers(), 1);
        let mut last = Vec::new();
        let first: Vec<f32> = model
            .forward(
                &Batch::pad(&[seq[..4].to_vec()], 0, false),
                Some(&mut cache),
            )
            .into_data()
            .to_vec()
            .unwrap();
        last.extend_from_slice(&first);
        for &t in &seq[4..] {
            let step: Vec<f32> = model
                .forward(&Batch::pad(&[vec![t]], 0, false), Some(&mut cache))
                .into_data()
                .to_vec()
                .unwrap();
            last.extend_from_slice(&step);
        }
        let diff = alone
            .iter()
            .zip(&last)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "cached decoding differs by {diff}");
    }
}
