//! Keys and plans: which stages are fresh and why the others are stale
//! (ARCHITECTURE.md, "Life of a stage run").

pub mod key;
pub mod lock_diff;
pub mod plan;

pub use plan::{Evaluation, PlanError, Reason};
