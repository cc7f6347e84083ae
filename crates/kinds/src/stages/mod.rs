//! Stage kinds: the built-in ML kinds, one file each — glue that parses
//! `with`, resolves inputs, calls one library function and writes outputs
//! (ARCHITECTURE.md, "Adding a kind"). The `cmd` kind lives in the engine.

pub mod data_preferences;
pub mod data_prepare;
pub mod data_probes;
pub mod data_tokenize;
pub mod eval_category_audit;
pub mod eval_diversity;
pub mod eval_generate;
pub mod eval_parity;
pub mod eval_reward_distribution;
pub mod eval_stereotype;
pub mod fan_in;
pub mod harness;
pub mod model_features;
pub mod model_hidden_states;
pub mod model_pretrained;
pub mod registry;
pub mod report_adversary_study;
pub mod report_experiments;
pub mod report_paper;
pub mod report_ppo_study;
pub mod sequences;
pub mod source_key;
pub mod train_ppo;
pub mod train_reward_model;
#[cfg(test)]
mod train_reward_model_tests;

pub use crate::kind::{
    Field, Input, KeyDep, Kind, KindInfo, Roots, Slot, StageContext, WithError, parse_with,
};
