//! `repro`: reproduce the experiments of "Fairness Constraints as Reliability
//! Guarantees for RLHF Reward Models" as a DAG of content-hashed stages.
#![warn(missing_docs)]

pub mod backend;
pub mod bench;
pub mod cli;
pub mod dag;
pub mod data;
pub mod eval;
pub mod exec;
pub mod exp;
pub mod kind;
pub mod model;
pub mod remote;
pub mod report;
pub mod spec;
pub mod stages;
pub mod store;
pub mod train;
pub mod util;
