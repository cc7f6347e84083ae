//! What scores a response: a trait, the ground-truth reward of the tests
//! (+1 per occurrence of a chosen token) and the reward model a
//! `train.reward_model` stage wrote (`model/`).
//!
//! The RM sees what it was trained on: the response decoded with the
//! policy's tokenizer (special tokens dropped), put with the raw prompt
//! through the one transcript template (`Human: <prompt>\n\nAssistant:
//! <response>`, [`crate::data::template`]), tokenised with the RM's own
//! tokenizer and truncated from the left as `data.tokenize` does
//! ([`crate::data::tokenize::encode`], `reward_max_len`), pooled as the RM
//! was trained (BERT: mean; Llama: last real token) and read by its head.
//! The score enters PPO at the last response token.

use std::path::Path;

use anyhow::Context;
use burn::tensor::backend::Backend;
use tokenizers::Tokenizer;

use crate::train::rm_scorer::{RewardScorer, load_reward_model};
use crate::util::hooks::Quiet;

/// Scores responses to prompts.
pub trait Reward {
    /// One score per (prompt text, response token ids).
    ///
    /// # Errors
    /// Whatever the scorer hits (a tokenizer, a tensor read-back).
    fn score(&self, prompts: &[&str], responses: &[Vec<u32>]) -> anyhow::Result<Vec<f64>>;
    /// A response as text, for samples.jsonl.
    ///
    /// # Errors
    /// The response cannot be decoded.
    fn text(&self, response: &[u32]) -> anyhow::Result<String> {
        Ok(response
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" "))
    }
}

/// +1 per occurrence of `token` (the ground-truth reward of the tests).
#[derive(Debug, Clone, Copy)]
pub struct TokenCount {
    /// The rewarded token.
    pub token: u32,
}

impl Reward for TokenCount {
    fn score(&self, _prompts: &[&str], responses: &[Vec<u32>]) -> anyhow::Result<Vec<f64>> {
        Ok(responses
            .iter()
            .map(|r| r.iter().filter(|&&t| t == self.token).count() as f64)
            .collect())
    }
}

/// Rows scored per RM forward pass.
const RM_BATCH: usize = 16;

/// A trained reward model read from its `model/` directory
/// ([`crate::train::rm_scorer`], the scorer `eval.parity` uses too), with
/// the policy's tokenizer to decode responses.
pub struct RmScorer<B: Backend> {
    rm: RewardScorer<B>,
    policy_tokenizer: Tokenizer,
    max_len: usize,
}

impl<B: Backend> RmScorer<B> {
    /// Loads `dir` (backbone, `head.safetensors`, `rm.json`); responses are
    /// decoded with `policy_tokenizer`.
    ///
    /// # Errors
    /// A missing or unreadable file.
    pub fn load(
        dir: &Path,
        policy_tokenizer: Tokenizer,
        max_len: usize,
        device: &B::Device,
    ) -> anyhow::Result<Self> {
        let rm = load_reward_model::<B>(dir, device)
            .with_context(|| format!("loading the reward model in {}", dir.display()))?;
        Ok(RmScorer {
            rm,
            policy_tokenizer,
            max_len,
        })
    }
}

impl<B: Backend> Reward for RmScorer<B> {
    fn score(&self, prompts: &[&str], responses: &[Vec<u32>]) -> anyhow::Result<Vec<f64>> {
        let texts = responses
            .iter()
            .map(|r| {
                self.policy_tokenizer.decode(r, true).map_err(|e| {
                    anyhow::anyhow!("decoding a response with the policy's tokenizer: {e}")
                })
            })
            .collect::<anyhow::Result<Vec<String>>>()?;
        let pairs: Vec<(&str, &str)> = prompts
            .iter()
            .copied()
            .zip(texts.iter().map(String::as_str))
            .collect();
        self.rm
            .score(&pairs, self.max_len, RM_BATCH, &Quiet::new(0, "reward"))
    }

    fn text(&self, response: &[u32]) -> anyhow::Result<String> {
        self.policy_tokenizer.decode(response, true).map_err(|e| {
            anyhow::anyhow!("decoding a sample response with the policy's tokenizer: {e}")
        })
    }
}
