//! Reward-model training (§3, App. A.5–A.6): the Bradley–Terry loss, the
//! stratified batches, the moment-feature (or per-example) adversary and the
//! loop that alternates them, shared by every backbone and trainable set.

pub mod adversary;
pub mod batches;
pub mod config;
pub mod curves;
pub mod diagnostics;
pub mod features;
pub mod fit;
#[cfg(any(test, feature = "testing"))]
pub mod ground_truth;
pub mod head;
pub mod hidden;
pub mod init;
pub mod moments;
pub mod on_backbone;
pub mod on_features;
pub mod on_hidden;
pub mod pairs;
pub mod ppo;
pub mod rm_dir;
pub mod rm_scorer;
pub mod split_reading;
pub mod trained;
