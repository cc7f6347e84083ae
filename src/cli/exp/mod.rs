//! `repro exp`: list, compare, adopt and drop experiments (issue 26); the
//! storage and the comparisons are the engine's (`crate::exp`).

mod apply;
mod args;
mod diff;
mod page;
mod remove;
mod render;
mod select;
mod show;
mod yaml_edit;

pub use args::{ExpCommand, ShowArgs};
pub use select::{experiment_name, with_exp};
