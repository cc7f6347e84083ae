//! Stage kinds: the `cmd` kind and the built-in ML kinds, one file each.

pub mod kind;
pub mod registry;

pub use kind::{Field, Input, KeyDep, Kind, Roots, Slot, StageContext, WithError, parse_with};
pub mod eval_reward_distribution;
pub mod eval_stereotype;
pub mod report_paper;
