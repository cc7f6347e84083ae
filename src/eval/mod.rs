//! Evaluation code that does not depend on a model: pure statistics and the
//! index logic of the post-hoc audit.

pub mod audit;
pub mod distribution;
pub mod scores;
pub mod stats;
pub mod stereotype;
pub mod table;
