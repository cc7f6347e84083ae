//! Stage kinds: the `cmd` kind and the built-in ML kinds, one file each.

pub mod kind;
pub mod model_features;
pub mod model_pretrained;
pub mod registry;

pub use kind::{
    Field, Input, KeyDep, Kind, KindInfo, Roots, Slot, StageContext, WithError, parse_with,
};
pub mod data_preferences;
pub mod data_prepare;
pub mod data_probes;
pub mod data_tokenize;
pub mod eval_category_audit;
pub mod eval_reward_distribution;
pub mod eval_stereotype;
pub mod harness;
pub mod report_paper;
pub mod train_reward_model;
