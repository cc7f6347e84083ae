//! `repro`: reproduce the experiments of "Fairness Constraints as Reliability
//! Guarantees for RLHF Reward Models" as a DAG of content-hashed stages.
//!
//! This crate is the binary and its command line; the layers are the workspace's
//! crates (ARCHITECTURE.md, "Crates"), re-exported here under the module names
//! the command line, the integration tests and the benches use.
#![warn(missing_docs)]

pub mod cli;

pub use repro_core::util;
pub use repro_engine::{dag, exec, kind, remote, spec, store};
pub use repro_kinds::{exp, stages};
pub use repro_ml::{backend, bench, data, eval, model, on_backend, parquet, report, train};
