//! `repro-core`: what every layer of `repro` shares — hashing, canonical JSON,
//! seeds, the hooks and progress traits, machine identity, and the compute
//! backends by name. No Burn, no polars (ARCHITECTURE.md, "Crates").
#![warn(missing_docs)]

pub mod backend;
pub mod util;
