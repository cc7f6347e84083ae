//! `repro-engine`: pipeline specs, the DAG and its keys, the content-addressed
//! store, the executors (local and Slurm) and the remotes. It knows stage kinds
//! only through the [`kind::Registry`] it is handed, so it has no Burn, no
//! polars and no tokenizers in its tree (ARCHITECTURE.md, "Crates").
#![warn(missing_docs)]

pub mod dag;
pub mod exec;
pub mod kind;
pub mod remote;
pub mod spec;
pub mod store;

// The foundation under its own names, so paths read `crate::util::…` in every layer.
use repro_core::{backend, util};
