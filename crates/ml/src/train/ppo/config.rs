//! The `with` map of `train.ppo`: TRL's legacy `PPOConfig` as the paper used
//! it (App. B), with the paper's values as defaults, and the checks that run
//! before anything trains.
//!
//! Readings of the paper, stated once here and in the README:
//! - "β = 0.05 (adaptive), target_kl = 0.1" → the adaptive controller's
//!   initial coefficient β₀ = 0.05 and its *target* 0.1 (TRL's own
//!   `target_kl` is an early-stopping knob, not used here);
//! - "N = 5,000 PPO steps (≈ 1.5 M tokens)" does not add up for batch 512
//!   (5,000 × 512 × 256 ≈ 655 M response tokens). We read it as 5,000
//!   *episodes* (rollouts): 5,000 × ≈ 300 tokens (prompt + response) ≈ 1.5 M,
//!   i.e. ⌈5,000 / 512⌉ = 10 PPO steps of batch 512 — "early-stage PPO" as
//!   §4.1 says. `steps` counts PPO steps (batches).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::score_norm::ScoreNorm;
use crate::model::lora::LoraConfig;
use crate::util::keyed::WithError;
use crate::util::schema::check_bounds;

/// The RND curiosity block (App. B, "Curiosity Bonus"); absent = none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CuriosityConfig {
    /// Scale η of the intrinsic reward (paper: 0.05).
    #[schemars(range(min = 0))]
    pub eta: f64,
    /// Hidden (and output) width of the target and predictor MLPs (paper: 512).
    #[schemars(range(min = 1))]
    pub hidden: usize,
    /// Adam learning rate of the predictor (paper: 1e-4).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub lr: f64,
    /// Divide the error by a running standard deviation (Burda et al.; our
    /// addition, the paper does not say).
    pub normalize: bool,
}

impl Default for CuriosityConfig {
    fn default() -> Self {
        CuriosityConfig {
            eta: 0.05,
            hidden: 512,
            lr: 1.0e-4,
            normalize: true,
        }
    }
}

/// Hyper-parameters of one PPO run (`train.ppo`'s `with:`). The bounds are
/// declared on the fields and checked by [`PpoConfig::check`]; `repro kinds`
/// prints them from the same schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PpoConfig {
    /// PPO steps (batches); App. B's "5,000 steps ≈ 1.5M tokens" read as 5,000 episodes = 10
    /// steps of 512 (see the module doc).
    #[schemars(range(min = 1))]
    pub steps: usize,
    /// Rollouts per PPO step (App. B: 512); a multiple of mini_batch_size.
    #[schemars(range(min = 1))]
    pub batch_size: usize,
    /// Rollouts per gradient step (App. B: 64).
    #[schemars(range(min = 1))]
    pub mini_batch_size: usize,
    /// Passes over each batch (App. B: 2).
    #[schemars(range(min = 1))]
    pub ppo_epochs: usize,
    /// Adam learning rate of the LoRA adapters and the value head (TRL: 1.41e-5).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub lr: f64,
    /// Adam ε (PyTorch: 1e-8; no weight decay).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub adam_eps: f64,
    /// Global gradient-norm clip; 0 = off (TRL's default).
    #[schemars(range(min = 0))]
    pub max_grad_norm: f64,
    /// Initial KL coefficient β₀ of the KL penalty (App. B: 0.05).
    #[schemars(range(min = 0))]
    pub init_kl_coef: f64,
    /// Adapt β (Ziegler et al.); false keeps β₀.
    pub adaptive_kl: bool,
    /// The adaptive controller's target, nats per sequence (the paper's target_kl, 0.1, read
    /// as this; TRL's target_kl is early stopping).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub kl_target: f64,
    /// The controller's horizon in rollouts (TRL: 10,000).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub kl_horizon: f64,
    /// GAE discount γ (TRL: 1).
    #[schemars(range(max = 1), extend("exclusiveMinimum" = 0))]
    pub gamma: f64,
    /// GAE λ (TRL: 0.95).
    #[schemars(range(max = 1), extend("exclusiveMinimum" = 0))]
    pub lam: f64,
    /// PPO ratio clip (TRL: 0.2).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub cliprange: f64,
    /// Value clip around the old values (TRL: 0.2).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub cliprange_value: f64,
    /// Weight of the value loss (TRL: 0.1).
    #[schemars(range(min = 0))]
    pub vf_coef: f64,
    /// Skip a minibatch whose mean ratio exceeds this (TRL: 10).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub ratio_threshold: f64,
    /// Rollout temperature, and the T of every log_softmax(logits / T) (App. B: 0.7).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub temperature: f64,
    /// Rollout nucleus mass (App. B: 0.9); log-probs never use it.
    #[schemars(range(max = 1), extend("exclusiveMinimum" = 0))]
    pub top_p: f64,
    /// Longest response in tokens (App. B: 256).
    #[schemars(range(min = 1))]
    pub max_new_tokens: usize,
    /// Longest templated prompt in tokens; longer ones lose their start.
    #[schemars(range(min = 1))]
    pub max_prompt_len: usize,
    /// LoRA on q, k, v, o (App. B: r 16, α 32).
    pub lora: LoraConfig,
    /// RND bonus (App. B: eta 0.05, hidden 512, lr 1e-4); normalize (σ of the error) is our
    /// addition, default true; null = no curiosity.
    pub curiosity: Option<CuriosityConfig>,
    /// Running score scaling before the rewards: scale = score / running sd (TRL
    /// use_score_scaling), norm = (score − running mean) / running sd (+ use_score_norm);
    /// default none, as TRL and the paper.
    pub score_norm: ScoreNorm,
    /// Clip the (scaled) score to ± this (TRL score_clip); null = none.
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub score_clip: Option<f64>,
    /// Longest RM input in tokens (the RM's data.tokenize max_len).
    #[schemars(range(min = 1))]
    pub reward_max_len: usize,
    /// Rollouts per step written to samples.jsonl.
    pub samples_per_step: usize,
    /// Name the random streams (LoRA and value-head init, prompt order, sampling, minibatches,
    /// RND) derive from instead of the stage name: the baseline, Fair and Fair + Curiosity
    /// stages with the same seed_name share init, prompt order and sampling; null = the
    /// stage name.
    pub seed_name: Option<String>,
    /// Prompts of the paired reward-gain evaluation ([`super::paired_eval`]): answered before
    /// the first step and after the last with the same sampling seeds (metrics.json
    /// `reward_gain`); 0 = none.
    pub eval_prompts: usize,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            steps: 10,
            batch_size: 512,
            mini_batch_size: 64,
            ppo_epochs: 2,
            lr: 1.41e-5,
            adam_eps: 1.0e-8,
            max_grad_norm: 0.0,
            init_kl_coef: 0.05,
            adaptive_kl: true,
            kl_target: 0.1,
            kl_horizon: 10_000.0,
            gamma: 1.0,
            lam: 0.95,
            cliprange: 0.2,
            cliprange_value: 0.2,
            vf_coef: 0.1,
            ratio_threshold: 10.0,
            temperature: 0.7,
            top_p: 0.9,
            max_new_tokens: 256,
            max_prompt_len: 512,
            lora: LoraConfig::default(),
            curiosity: None,
            score_norm: ScoreNorm::None,
            score_clip: None,
            reward_max_len: 1024,
            samples_per_step: 2,
            seed_name: None,
            eval_prompts: 0,
        }
    }
}

impl PpoConfig {
    /// Checks that need no data: the bounds the fields declare, then
    /// [`PpoConfig::check_relations`].
    ///
    /// # Errors
    /// The first out-of-range key, named.
    pub fn check(&self) -> Result<(), WithError> {
        check_bounds(self)?;
        self.check_relations()
    }

    /// What the fields' bounds cannot say (batch vs mini-batch, an empty
    /// `seed_name`); `train.ppo` runs it after the engine has checked the
    /// bounds.
    ///
    /// # Errors
    /// The offending key.
    pub fn check_relations(&self) -> Result<(), WithError> {
        if self.batch_size < self.mini_batch_size
            || !self.batch_size.is_multiple_of(self.mini_batch_size)
        {
            return Err(WithError::new(
                "batch_size",
                format!(
                    "must be a multiple of mini_batch_size {} (and at least it), got {}",
                    self.mini_batch_size, self.batch_size
                ),
            ));
        }
        if self
            .seed_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(WithError::new("seed_name", "must not be empty"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::keyed::parse_with;

    #[test]
    fn defaults_are_the_papers_and_bad_keys_are_named() {
        let c: PpoConfig = parse_with(&serde_json::json!({})).unwrap();
        assert_eq!(c, PpoConfig::default());
        assert_eq!(
            (c.batch_size, c.mini_batch_size, c.ppo_epochs),
            (512, 64, 2)
        );
        assert_eq!(
            (c.init_kl_coef, c.kl_target, c.kl_horizon),
            (0.05, 0.1, 10_000.0)
        );
        c.check().unwrap();
        let c: PpoConfig = parse_with(&serde_json::json!({"curiosity": {"eta": 0.1}})).unwrap();
        assert_eq!(c.curiosity.unwrap().hidden, 512);
        let bad: PpoConfig =
            parse_with(&serde_json::json!({"batch_size": 12, "mini_batch_size": 8})).unwrap();
        assert_eq!(bad.check().unwrap_err().path, "batch_size");
        let bad: PpoConfig =
            parse_with(&serde_json::json!({"batch_size": 4, "mini_batch_size": 8})).unwrap();
        assert_eq!(bad.check().unwrap_err().path, "batch_size");
        let e =
            parse_with::<PpoConfig>(&serde_json::json!({"curiosity": {"etta": 1}})).unwrap_err();
        assert!(e.path.starts_with("curiosity"), "{}", e.path);
        assert!(e.message.contains("etta"), "{}", e.message);
    }
}
