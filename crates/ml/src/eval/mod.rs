//! Evaluation code: pure statistics, the index logic, classifier and
//! procedure of the post-hoc audit, and the post-PPO evaluations of §4.1 and
//! App. B (policy generations, parity gap, semantic diversity).

pub mod audit;
pub mod category_audit;
pub mod distribution;
pub mod generations;
pub mod mlp;
pub mod policies;
pub mod policy_diversity;
pub mod policy_generate;
pub mod policy_parity;
pub mod response_length;
pub mod scores;
pub mod stats;
pub mod stereotype;
