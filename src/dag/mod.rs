//! Keys and plans: which stages are fresh and why the others are stale
//! (DESIGN §2).

pub mod key;
pub mod plan;

pub use plan::{Evaluation, PlanError, Reason};
