//! Evaluation code that does not depend on a model: pure statistics and the
//! index logic, classifier and procedure of the post-hoc audit.

pub mod audit;
pub mod category_audit;
pub mod distribution;
pub mod mlp;
pub mod response_length;
pub mod scores;
pub mod stats;
pub mod stereotype;
