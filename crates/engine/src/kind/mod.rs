//! The kind contract (ARCHITECTURE.md, "Layers"): what the engine and the
//! built-in stage kinds agree on. The engine (`spec`, `dag`, `exec`) and the
//! kinds (`stages`) both depend on it; it depends on neither. The engine
//! knows the kinds only through the [`Registry`] it is handed.

mod context;
mod contract;
mod fields;
mod registry;
mod typed;

pub use crate::util::keyed::{WithError, parse_with};
pub use context::{Input, Roots, StageContext};
pub use contract::{Field, KeyDep, Kind, KindInfo, Slot, Upstream, required};
pub use fields::fields_of;
pub use registry::Registry;
pub use typed::{TypedKind, parse_typed};
