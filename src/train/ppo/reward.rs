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

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::backend::Backend;
use tokenizers::Tokenizer;

use super::logprobs::host;
use crate::data::tokenize::encode;
use crate::model::encoder::{LoadedEncoder, load_encoder};
use crate::train::head::RewardHead;
use crate::train::rm_dir::read_head;

/// Scores responses to prompts.
pub trait Reward {
    /// One score per (prompt text, response token ids).
    ///
    /// # Errors
    /// Whatever the scorer hits (a tokenizer, a tensor read-back).
    fn score(&self, prompts: &[&str], responses: &[Vec<u32>]) -> anyhow::Result<Vec<f64>>;
    /// A response as text, for samples.jsonl.
    fn text(&self, response: &[u32]) -> String {
        response
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ")
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

/// A trained reward model read from its `model/` directory.
pub struct RmScorer<B: Backend> {
    rm: LoadedEncoder<B>,
    head: RewardHead<B>,
    policy_tokenizer: Tokenizer,
    max_len: usize,
    tokenizer_path: PathBuf,
}

impl<B: Backend> RmScorer<B> {
    /// Loads `dir` (backbone, `head.safetensors`); responses are decoded with
    /// `policy_tokenizer`.
    ///
    /// # Errors
    /// A missing or unreadable file.
    pub fn load(
        dir: &Path,
        policy_tokenizer: Tokenizer,
        max_len: usize,
        device: &B::Device,
    ) -> anyhow::Result<Self> {
        let rm = load_encoder::<B>(dir, device)
            .with_context(|| format!("loading the reward model in {}", dir.display()))?;
        let head = read_head::<B>(dir, rm.hidden, device)?;
        Ok(RmScorer {
            rm,
            head,
            policy_tokenizer,
            max_len,
            tokenizer_path: dir.join("tokenizer.json"),
        })
    }
}

impl<B: Backend> Reward for RmScorer<B> {
    fn score(&self, prompts: &[&str], responses: &[Vec<u32>]) -> anyhow::Result<Vec<f64>> {
        let mut seqs = Vec::with_capacity(prompts.len());
        for (p, r) in prompts.iter().zip(responses) {
            let text = self.policy_tokenizer.decode(r, true).map_err(|e| {
                anyhow::anyhow!("decoding a response with the policy's tokenizer: {e}")
            })?;
            let e = encode(
                &self.rm.tokenizer,
                p,
                &text,
                self.max_len,
                &self.tokenizer_path,
            )?;
            seqs.push(e.ids);
        }
        let mut out = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(RM_BATCH) {
            let batch = self.rm.batch(chunk);
            let r = self.head.forward(self.rm.encoder.pooled(&batch));
            out.extend(host(r)?.into_iter().map(f64::from));
        }
        Ok(out)
    }

    fn text(&self, response: &[u32]) -> String {
        self.policy_tokenizer
            .decode(response, true)
            .unwrap_or_default()
    }
}
