//! Rollouts: prompts (already chat-templated token ids) continued by the
//! policy with temperature and top-p sampling through the KV cache
//! ([`crate::model::generate::generate_scored`]), stopping at EOS; each
//! response keeps its EOS when reached, and every token's log-prob under
//! `log_softmax(logits / T)` is recorded.

use burn::tensor::backend::Backend;

use crate::model::generate::{GenerateConfig, generate_scored};
use crate::model::llama::Llama;
use crate::model::readback::ReadbackError;
use crate::util::rng::SplitMix64;

/// One prompt of the training set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The prompt's id in its set.
    pub id: String,
    /// The raw prompt text (what the reward model sees).
    pub text: String,
    /// Its category.
    pub category: String,
    /// Token ids after the policy's chat template, generation prompt opened.
    pub ids: Vec<u32>,
}

/// How rollouts are sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutConfig {
    /// Longest response.
    pub max_new_tokens: usize,
    /// Temperature.
    pub temperature: f64,
    /// Nucleus mass.
    pub top_p: f64,
    /// Tokens that end a response.
    pub eos: Vec<u32>,
    /// Padding id.
    pub pad: u32,
}

/// Responses of a chunk of prompts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Responses {
    /// New tokens of each row (≥ 1 each).
    pub tokens: Vec<Vec<u32>>,
    /// Log-prob of each new token as sampled.
    pub logprobs: Vec<Vec<f64>>,
}

/// The sampling seed of chunk `chunk` of PPO step `step`.
pub fn chunk_seed(base: u64, step: usize, chunk: usize) -> u64 {
    let mut r = SplitMix64::new(base ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut s = r.next_u64();
    for _ in 0..=chunk {
        s = r.next_u64();
    }
    s
}

/// Samples one response per prompt.
///
/// # Errors
/// The policy's logits cannot be read back from the device.
pub fn rollout<B: Backend>(
    policy: &Llama<B>,
    prompts: &[Vec<u32>],
    cfg: &RolloutConfig,
    seed: u64,
) -> Result<Responses, ReadbackError> {
    let g = generate_scored(
        policy,
        prompts,
        &GenerateConfig {
            max_new_tokens: cfg.max_new_tokens,
            temperature: cfg.temperature,
            top_p: cfg.top_p,
            seed,
            eos: cfg.eos.clone(),
            pad: cfg.pad,
        },
    )?;
    Ok(Responses {
        tokens: g.tokens,
        logprobs: g.logprobs,
    })
}
