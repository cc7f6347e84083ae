//! Experiments (issue 26): runs with `--set` overrides, each kept as its own
//! named lockfile in the store beside the pipeline's committed one, and the
//! tables that compare them (ARCHITECTURE.md, "Experiments").
//!
//! The engine side only: storage, naming, the comparison table and the
//! seed-paired diff. The CLI (`cli/exp/`) prints them; nothing here imports it.

pub mod compare;
pub mod error;
pub mod metrics;
pub mod name;
pub mod page;
pub mod params;
pub mod remote;
pub mod store;
pub mod table;

pub use error::ExpError;
pub use store::{Experiment, Experiments};
