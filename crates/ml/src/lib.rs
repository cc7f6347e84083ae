//! `repro-ml`: the paper's science — datasets, models on Burn, training (reward
//! models, PPO), evaluations, the report, and the model benchmarks. It depends on
//! `repro-core` only, never on the engine or the stage kinds (ARCHITECTURE.md,
//! "Crates").
#![warn(missing_docs)]

pub mod backend;
pub mod bench;
pub mod data;
pub mod eval;
pub mod model;
pub mod parquet;
pub mod report;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod train;

// The foundation under its own name, so paths read `crate::util::…` in every layer.
use repro_core::util;
