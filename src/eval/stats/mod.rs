//! Pure statistics for the evaluation stages (DESIGN §6 `eval/stats`): each
//! a function on slices, checked against scipy, sklearn or statsmodels.
//! This file only declares and re-exports.

mod error;
mod kolmogorov;
mod ks;
mod ks_exact;
mod rng;
mod smirnov;

#[cfg(test)]
mod fixture;

pub use error::StatsError;
pub use ks::{KS_MAX_EXACT_N, KsMethod, KsResult, ks_2samp};
pub use rng::SplitMix64;
