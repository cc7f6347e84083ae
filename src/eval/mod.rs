//! Evaluation code that does not depend on a model: pure statistics and the
//! index logic of the post-hoc audit.

pub mod audit;
pub mod stats;
