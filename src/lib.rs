//! `repro`: reproduce the experiments of "Fairness Constraints as Reliability
//! Guarantees for RLHF Reward Models" as a DAG of content-hashed stages.
#![warn(missing_docs)]

pub mod backend;
pub mod model;
pub mod stages;
