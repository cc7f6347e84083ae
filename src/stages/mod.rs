//! Stage kinds: the `cmd` kind and the built-in ML kinds, one file each.

pub mod kind;
pub mod model_pretrained;
pub mod registry;

pub use kind::{Field, Input, Kind, KeyDep, Roots, Slot, StageContext, WithError, parse_with};
