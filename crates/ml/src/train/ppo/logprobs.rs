//! Teacher-forced passes over rollouts: the policy's log-probs, values and
//! entropies, and the reference's log-probs (the same weights with the LoRA
//! adapters switched off, [`adapters_off`]) plus its mean-pooled response
//! embedding for RND.
//!
//! Every log-prob is `log_softmax(logits / T)` over the full vocabulary (no
//! top-p), for policy, reference, old and new alike. A rollout is laid out
//! as its prompt followed by its response (EOS included when reached),
//! right-padded; response token j of row r sits at input position
//! `p_r + j` and is predicted by the logits at `p_r + j − 1`, which is the
//! *slot* `(r, p_r + j − 1)` of a `[b, L − 1]` grid ([`Layout`]). The value
//! of that slot is the value head at the same position (TRL legacy:
//! `values[:, :-1]`, `start = len(query) − 1`). Slots outside responses are
//! masked out of every sum and mean.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

use crate::model::batch::Batch;
use crate::model::fast;
use crate::model::heads::PolicyWithValue;
use crate::model::llama::{DecoderLayer, Llama, LlamaModel};

/// Rollouts laid out for a teacher-forced pass.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Prompt + response of each row, right-padded.
    pub batch: Batch,
    /// Prompt lengths p_r.
    pub prompt_lens: Vec<usize>,
    /// Response lengths n_r (≥ 1).
    pub resp_lens: Vec<usize>,
    /// Slots per row, `L − 1`.
    pub width: usize,
}

impl Layout {
    /// Lays out `prompts[r] ++ responses[r]`, padded with `pad`.
    pub fn new(prompts: &[&[u32]], responses: &[&[u32]], pad: u32) -> Self {
        let seqs: Vec<Vec<u32>> = prompts
            .iter()
            .zip(responses)
            .map(|(p, r)| p.iter().chain(r.iter()).copied().collect())
            .collect();
        let batch = Batch::pad(&seqs, pad, false);
        let width = batch.seq_len().saturating_sub(1);
        Layout {
            batch,
            prompt_lens: prompts.iter().map(|p| p.len()).collect(),
            resp_lens: responses.iter().map(|r| r.len()).collect(),
            width,
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.prompt_lens.len()
    }

    /// Flat grid index of response token `j` of row `r`.
    pub fn slot(&self, r: usize, j: usize) -> usize {
        r * self.width + self.prompt_lens[r] + j - 1
    }

    /// The 0/1 response mask of the grid, `[b·w]`.
    pub fn mask(&self) -> Vec<f32> {
        self.scatter(
            &self
                .resp_lens
                .iter()
                .map(|&n| vec![1.0; n])
                .collect::<Vec<_>>(),
        )
    }

    /// Ragged per-token rows written into a zero grid `[b·w]`.
    pub fn scatter(&self, rows: &[Vec<f64>]) -> Vec<f32> {
        let mut g = vec![0.0f32; self.rows() * self.width];
        for (r, row) in rows.iter().enumerate() {
            for (j, &x) in row.iter().enumerate().take(self.resp_lens[r]) {
                g[self.slot(r, j)] = x as f32;
            }
        }
        g
    }

    /// The response slots of a grid `[b·w]`, row by row.
    pub fn gather(&self, grid: &[f32]) -> Vec<Vec<f64>> {
        (0..self.rows())
            .map(|r| {
                (0..self.resp_lens[r])
                    .map(|j| f64::from(grid.get(self.slot(r, j)).copied().unwrap_or(f32::NAN)))
                    .collect()
            })
            .collect()
    }

    /// A grid `[b·w]` as a tensor `[b, w]`.
    pub fn tensor<B: Backend>(&self, grid: Vec<f32>, device: &B::Device) -> Tensor<B, 2> {
        Tensor::from_data(TensorData::new(grid, [self.rows(), self.width]), device)
    }

    /// The next token of each slot, flat `[b·w]`.
    fn target_ids(&self) -> Vec<u32> {
        self.batch
            .ids
            .iter()
            .flat_map(|r| r[1..].iter().copied())
            .collect()
    }

    /// The grid slots of the response tokens, row by row: `slot(r, j)`
    /// for `j < n_r`.
    fn response_slots(&self) -> Vec<usize> {
        (0..self.rows())
            .flat_map(|r| (0..self.resp_lens[r]).map(move |j| self.slot(r, j)))
            .collect()
    }

    /// Weights `[b, L, 1]` averaging the input positions of each response.
    fn response_weights<B: Backend>(&self, device: &B::Device) -> Tensor<B, 3> {
        let l = self.batch.seq_len();
        let mut w = vec![0.0f32; self.rows() * l];
        for r in 0..self.rows() {
            let n = self.resp_lens[r].max(1);
            for j in 0..self.resp_lens[r] {
                w[r * l + self.prompt_lens[r] + j] = 1.0 / n as f32;
            }
        }
        Tensor::from_data(TensorData::new(w, [self.rows(), l, 1]), device)
    }
}

/// Per-slot log-probs and entropies `[b, w]` of logits `[b, L, V]` at
/// temperature `t` (the entropies carry no gradient). On Flex one fused op
/// ([`fast::token_logprobs`]); elsewhere Burn's `log_softmax` and `gather`.
pub fn slot_logprobs<B: Backend>(
    logits: Tensor<B, 3>,
    layout: &Layout,
    t: f64,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    // The fused op checks that the targets fit the logits (one per slot).
    fast::token_logprobs(&logits, &layout.target_ids(), t)
        .unwrap_or_else(|| decomposed_logprobs(logits, layout, t))
}

/// [`slot_logprobs`] with Burn's own ops.
pub(super) fn decomposed_logprobs<B: Backend>(
    logits: Tensor<B, 3>,
    layout: &Layout,
    t: f64,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    decomposed(logits, &layout.target_ids(), t)
}

/// Slot `(r, i)`'s log-prob of `targets[r·(l − 1) + i]` and its entropy
/// under logits `[b, l, V]` at temperature `t`, `[b, l − 1]` each, with
/// Burn's own ops (what [`fast::token_logprobs`] computes in one pass).
fn decomposed<B: Backend>(
    logits: Tensor<B, 3>,
    targets: &[u32],
    t: f64,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [b, l, _] = logits.dims();
    let w = l - 1;
    let lp = log_softmax(logits.narrow(1, 0, w).div_scalar(t), 2); // [b, w, V]
    let ids: Vec<i64> = targets.iter().map(|&x| i64::from(x)).collect();
    let ids = Tensor::<B, 3, Int>::from_data(TensorData::new(ids, [b, w, 1]), &lp.device());
    let picked = lp.clone().gather(2, ids).reshape([b, w]);
    let d = lp.detach();
    let entropy = (d.clone().exp() * d).sum_dim(2).neg().reshape([b, w]);
    (picked, entropy)
}

/// The policy's slot log-probs, values and entropies, `[b, w]` each.
pub fn policy_terms<B: Backend>(
    pv: &PolicyWithValue<B>,
    layout: &Layout,
    t: f64,
) -> (Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>) {
    let (hidden, values) = pv.hidden_and_values(&layout.batch);
    let (lp, ent) = response_logprobs(&pv.policy, hidden, layout, t);
    (lp, values.narrow(1, 0, layout.width), ent)
}

/// The reference's slot log-probs `[b, w]` and mean-pooled final hidden
/// state over each response's tokens `[b, hidden]`.
pub fn reference_terms<B: Backend>(
    reference: &Llama<B>,
    layout: &Layout,
    t: f64,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let hidden = reference.forward_hidden(&layout.batch, None); // [b, L, d]
    let [b, _, d] = hidden.dims();
    let pooled = (hidden.clone() * layout.response_weights::<B>(&hidden.device()))
        .sum_dim(1)
        .reshape([b, d]);
    let (lp, _) = response_logprobs(reference, hidden, layout, t);
    (lp, pooled)
}

/// The slot log-probs and entropies `[b, w]` of the final hidden states
/// `hidden` `[b, L, d]`, with the LM head and the log-softmax over the
/// vocabulary taken at the response slots only: a rollout's prompt is most
/// of its positions (up to 96 of 128 at CPU scale), and each position's
/// logits are a `[d, V]` product and a pass over `V` values, forward and
/// backward. The slots outside responses, which every loss and mean masks
/// out, are zero; the response slots are bit for bit those of
/// [`slot_logprobs`] on all positions' logits, since a product's row does
/// not depend on the other rows (`gemm`'s K blocks follow K alone; one
/// extra row keeps the product off the one-row path, which sums in one
/// chain).
fn response_logprobs<B: Backend>(
    model: &Llama<B>,
    hidden: Tensor<B, 3>,
    layout: &Layout,
    t: f64,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [b, l, d] = hidden.dims();
    let device = hidden.device();
    let index = |v: Vec<usize>| {
        let n = v.len();
        let v: Vec<i64> = v.into_iter().map(|i| i as i64).collect();
        Tensor::<B, 1, Int>::from_data(TensorData::new(v, [n]), &device)
    };
    let slots = layout.response_slots();
    let n = slots.len();
    // Slot (r, i) of the `[b, L − 1]` grid is position (r, i) of `[b, L]`;
    // one more row, position L − 1 of row 0 (never a slot), keeps the
    // product at two rows or more and is the fused op's unscored last.
    let w = layout.width;
    let mut at: Vec<usize> = slots.iter().map(|&s| s + s / w).collect();
    at.push(l - 1);
    let rows = hidden
        .reshape([b * l, d])
        .select(0, index(at))
        .reshape([1, n + 1, d]);
    let logits = model.logits(rows);
    let all = layout.target_ids();
    let targets: Vec<u32> = slots.iter().map(|&s| all[s]).collect();
    let (lp, ent) = fast::token_logprobs(&logits, &targets, t)
        .unwrap_or_else(|| decomposed(logits, &targets, t));
    // Slot s of the grid reads response slot `src[s]`, or the zero after them.
    let mut src = vec![n; b * w];
    for (k, &s) in slots.iter().enumerate() {
        src[s] = k;
    }
    let src = index(src);
    let grid = |x: Tensor<B, 2>| {
        Tensor::cat(vec![x.reshape([n]), Tensor::zeros([1], &device)], 0)
            .select(0, src.clone())
            .reshape([b, w])
    };
    (grid(lp), grid(ent))
}

/// The same weights without LoRA adapters: the PPO reference model. Burn
/// tensors share their storage when cloned, so no second copy of the
/// weights is made.
pub fn adapters_off<B: Backend>(m: &Llama<B>) -> Llama<B> {
    let m = m.clone();
    let layers = m
        .model
        .layers
        .into_iter()
        .map(|mut l: DecoderLayer<B>| {
            let a = &mut l.self_attn;
            a.q_proj.lora = None;
            a.k_proj.lora = None;
            a.v_proj.lora = None;
            a.o_proj.lora = None;
            l
        })
        .collect();
    Llama {
        model: LlamaModel { layers, ..m.model },
        lm_head: m.lm_head,
        inv_freq: m.inv_freq,
    }
}
