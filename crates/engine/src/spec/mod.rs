//! Pipeline spec: YAML with positions → `extends:` merge → `--set` →
//! typed raw structs → a validated, matrix-expanded [`Pipeline`].

pub mod error;
pub mod extends;
pub mod grid;
pub mod interp;
pub mod limits;
pub mod node;
pub mod overrides;
pub mod parse;
pub mod quote;
pub mod remote;

pub use error::SpecError;
pub mod cycle;
mod declare;
mod expand;
mod inputs;
pub mod matrix;
pub mod pipeline;
pub mod resources;
pub mod validate;
pub mod wiring;

pub use pipeline::{InputRef, Pipeline, Stage, StageKind};

use std::path::Path;

use crate::kind::{Registry, Roots};

/// Loads, merges, overrides and validates a pipeline file whose built-in
/// kinds are those of `kinds` (the CLI hands it `stages::registry::builtin()`).
pub fn load(
    file: &Path,
    sets: &[String],
    roots: &Roots,
    kinds: Registry,
) -> Result<Pipeline, SpecError> {
    let mut root = extends::load(file)?;
    for s in sets {
        overrides::apply(&mut root, &overrides::parse_override(s)?)?;
    }
    validate::validate(&root, file, roots, kinds)
}

#[cfg(test)]
mod fuzz_tests;
