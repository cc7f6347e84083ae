//! PPO for the policies of §4.1 and App. B: TRL's legacy `PPOTrainer` (a
//! value head on the policy, adaptive KL) with LoRA on the policy, the
//! reference as the same weights with adapters off, and an optional RND
//! curiosity bonus. One concept per file; [`step::train_ppo`] is the loop.

pub mod clip;
pub mod config;
#[cfg(test)]
pub mod fixture;
pub mod gae;
pub mod kl;
pub mod logprobs;
pub mod losses;
pub mod paired_eval;
pub mod record;
pub mod reward;
pub mod rnd;
pub mod rollout;
pub mod score_norm;
pub mod step;
#[cfg(test)]
mod tests;
