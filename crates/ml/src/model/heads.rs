//! Scalar heads on a decoder's last hidden states: the reward head read at the
//! last non-padding token (HF `LlamaForSequenceClassification.score`, one
//! label, no bias) and the per-token value head of PPO (TRL `ValueHead`:
//! `Linear(hidden, 1)` with bias).

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::batch::Batch;
use super::llama::Llama;
use crate::util::rng::SplitMix64 as Rng;

/// A `Linear(hidden, 1)` head.
#[derive(Module, Debug)]
pub struct ScalarHead<B: Backend> {
    /// Projection `[hidden, 1]`.
    pub score: Linear<B>,
}

impl<B: Backend> ScalarHead<B> {
    /// A head with weights `N(0, std²)` (TRL's value head uses std 0.2 when
    /// asked; HF's `score` uses `initializer_range` 0.02) and an optional zero bias.
    pub fn new(hidden: usize, bias: bool, std: f64, seed: u64, device: &B::Device) -> Self {
        let w = Rng::new(seed).normal_vec(hidden, std);
        let weight = Tensor::<B, 2>::from_data(TensorData::new(w, [hidden, 1]), device);
        let bias = bias.then(|| Param::from_tensor(Tensor::<B, 1>::zeros([1], device)));
        ScalarHead {
            score: Linear {
                weight: Param::from_tensor(weight),
                bias,
            },
        }
    }

    /// Per-token values `[b, s]` of hidden states `[b, s, hidden]`.
    pub fn per_token(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [b, s, _] = hidden.dims();
        self.score.forward(hidden).reshape([b, s])
    }

    /// One value per row `[b]`, read at the last real token of each row.
    pub fn at_last_token(&self, hidden: Tensor<B, 3>, batch: &Batch) -> Tensor<B, 1> {
        let [b, s, _] = hidden.dims();
        let device = hidden.device();
        let mut onehot = vec![0.0f32; b * s];
        for (r, last) in batch.last_index().into_iter().enumerate() {
            onehot[r * s + last] = 1.0;
        }
        let pick = Tensor::<B, 2>::from_data(TensorData::new(onehot, [b, s]), &device);
        (self.per_token(hidden) * pick).sum_dim(1).reshape([b])
    }
}

/// A reward model: a Llama backbone and a scalar head on its last real token.
#[derive(Module, Debug)]
pub struct RewardModel<B: Backend> {
    /// The backbone (possibly with LoRA adapters).
    pub backbone: Llama<B>,
    /// The scalar head.
    pub head: ScalarHead<B>,
}

impl<B: Backend> RewardModel<B> {
    /// Rewards `[b]` of a right- or left-padded batch.
    pub fn score(&self, batch: &Batch) -> Tensor<B, 1> {
        let hidden = self.backbone.forward_hidden(batch, None);
        self.head.at_last_token(hidden, batch)
    }
}

/// A policy with a value head sharing its trunk (TRL `AutoModelForCausalLMWithValueHead`).
#[derive(Module, Debug)]
pub struct PolicyWithValue<B: Backend> {
    /// The language model.
    pub policy: Llama<B>,
    /// The value head.
    pub value: ScalarHead<B>,
}

impl<B: Backend> PolicyWithValue<B> {
    /// Logits `[b, s, vocab]` and values `[b, s]` from one forward pass.
    pub fn forward(&self, batch: &Batch) -> (Tensor<B, 3>, Tensor<B, 2>) {
        let (hidden, values) = self.hidden_and_values(batch);
        (self.policy.logits(hidden), values)
    }

    /// The trunk's final hidden states `[b, s, hidden]` and the values
    /// `[b, s]`, for a caller that takes the logits at some positions only.
    pub fn hidden_and_values(&self, batch: &Batch) -> (Tensor<B, 3>, Tensor<B, 2>) {
        let hidden = self.policy.forward_hidden(batch, None);
        let values = self.value.per_token(hidden.clone());
        (hidden, values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::load::RandomSource;
    use crate::model::load::llama::build_llama;
    use burn::backend::Flex;

    #[test]
    fn reward_is_read_at_the_last_real_token_whatever_the_padding_side() {
        let device = Default::default();
        let cfg = crate::model::llama::tests::tiny_config();
        let backbone =
            build_llama::<Flex>(&cfg, &mut RandomSource::new(8, 0.3), None, &device).unwrap();
        let rm = RewardModel {
            backbone,
            head: ScalarHead::new(cfg.hidden_size, false, 0.5, 1, &device),
        };
        let seqs = [vec![1, 7, 8, 9, 2], vec![1, 3, 2]];
        let alone: Vec<f32> = seqs
            .iter()
            .map(|s| {
                rm.score(&Batch::pad(std::slice::from_ref(s), 0, false))
                    .into_scalar()
            })
            .collect();
        for left in [false, true] {
            let got: Vec<f32> = rm
                .score(&Batch::pad(&seqs, 0, left))
                .into_data()
                .to_vec()
                .unwrap();
            for (g, a) in got.iter().zip(&alone) {
                assert!((g - a).abs() < 1e-5, "left={left}: {got:?} vs {alone:?}");
            }
        }
        // The score depends on the last token: changing it changes the reward.
        let other = rm
            .score(&Batch::pad(&[vec![1, 7, 8, 9, 5]], 0, false))
            .into_scalar();
        assert!((other - alone[0]).abs() > 1e-4);
        let pv = PolicyWithValue {
            policy: rm.backbone,
            value: ScalarHead::new(cfg.hidden_size, true, 0.2, 2, &device),
        };
        let (logits, values) = pv.forward(&Batch::pad(&seqs, 0, false));
        assert_eq!(logits.dims(), [2, 5, cfg.vocab_size]);
        assert_eq!(values.dims(), [2, 5]);
    }
}
