//! The paired reward-gain evaluation of a PPO run (issue 23): a fixed draw
//! of `eval_prompts` training prompts, answered once by the policy before
//! its first step (LoRA `B = 0`: the reference) and once after its last,
//! with the same sampling seed for each chunk of prompts both times, and
//! scored by the run's reward. The per-prompt difference `after − before`
//! cancels the prompt's own reward level, which moves a step's mean score
//! far more than training does (the step means of runs sharing their
//! prompt draws correlate at r ≈ 0.8), so its paired t-test measures the
//! gain with a fraction of the noise of the curve's last-5 − first-5 means.

use std::time::Instant;

use anyhow::{Context, bail};
use burn::tensor::backend::Backend;

use super::reward::Reward;
use super::rollout::{Prompt, RolloutConfig, chunk_seed, rollout};
use crate::model::llama::Llama;
use crate::util::hooks::Hooks;
use crate::util::rng::SplitMix64;

/// Prompts generated together in one evaluation chunk (a wider batch than
/// the rollouts' minibatches: decoding reads the weights once per step for
/// every row).
pub const EVAL_CHUNK: usize = 32;

/// The evaluation's prompts and sampling seed, fixed before training.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalPlan {
    /// Indices into the training prompts (a seeded draw without replacement).
    pub prompts: Vec<usize>,
    /// Base of every chunk's sampling seed.
    pub seed: u64,
}

impl EvalPlan {
    /// `n` prompts of `total`, drawn with the seed `eval_prompts`, sampled
    /// with the seed `eval_sampling` (both from `hooks`, so runs that share
    /// a `seed_name` evaluate on the same prompts with the same draws).
    ///
    /// # Errors
    /// `n` larger than the prompt set.
    pub fn new(n: usize, total: usize, hooks: &dyn Hooks) -> anyhow::Result<Self> {
        if n > total {
            bail!("eval_prompts is {n}, but the prompt set has only {total} prompts");
        }
        let mut idx: Vec<usize> = (0..total).collect();
        SplitMix64::new(hooks.seed("eval_prompts")).shuffle(&mut idx);
        idx.truncate(n);
        Ok(EvalPlan {
            prompts: idx,
            seed: hooks.seed("eval_sampling"),
        })
    }

    /// One response per planned prompt from `policy`, scored by `reward`,
    /// in plan order; logs `evaluation <when>: …` with the mean and time.
    ///
    /// # Errors
    /// An interrupt, a failing reward or a non-finite score.
    pub fn scores<B: Backend>(
        &self,
        policy: &Llama<B>,
        prompts: &[Prompt],
        rcfg: &RolloutConfig,
        reward: &dyn Reward,
        hooks: &dyn Hooks,
        when: &str,
    ) -> anyhow::Result<Vec<f64>> {
        let clock = Instant::now();
        let mut out = Vec::with_capacity(self.prompts.len());
        for (c, chunk) in self.prompts.chunks(EVAL_CHUNK).enumerate() {
            hooks.check()?;
            let ids: Vec<Vec<u32>> = chunk.iter().map(|&i| prompts[i].ids.clone()).collect();
            let r = rollout(policy, &ids, rcfg, chunk_seed(self.seed, 0, c))
                .context("sampling the evaluation responses")?;
            let texts: Vec<&str> = chunk.iter().map(|&i| prompts[i].text.as_str()).collect();
            let s = reward
                .score(&texts, &r.tokens)
                .context("scoring the evaluation responses")?;
            if let Some(bad) = s.iter().find(|s| !s.is_finite()) {
                bail!("an evaluation response's reward is not finite ({bad})");
            }
            out.extend(s);
        }
        hooks.log(&format!(
            "evaluation {when}: {} prompts, mean score {:.4} ({:.2}s)",
            out.len(),
            out.iter().sum::<f64>() / out.len().max(1) as f64,
            clock.elapsed().as_secs_f64()
        ));
        Ok(out)
    }

    /// The result of the plan's two passes over `prompts`.
    pub fn paired(&self, prompts: &[Prompt], before: Vec<f64>, after: Vec<f64>) -> PairedEval {
        PairedEval {
            prompt_ids: self
                .prompts
                .iter()
                .map(|&i| prompts[i].id.clone())
                .collect(),
            before,
            after,
        }
    }
}

/// The evaluation's result: per planned prompt, its score before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedEval {
    /// The prompts' ids, in plan order.
    pub prompt_ids: Vec<String>,
    /// Scores of the policy before its first step (the reference).
    pub before: Vec<f64>,
    /// Scores of the trained policy.
    pub after: Vec<f64>,
}
