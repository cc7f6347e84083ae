//! `repro-kinds`: the one crate that joins the engine and the ML code — the
//! built-in stage kinds (each stage file is glue) and the experiments, whose
//! tables read the store's lockfiles with the paper's statistics
//! (ARCHITECTURE.md, "Crates").
#![warn(missing_docs)]

pub mod exp;
pub mod stages;

// The layers below under their own names, so paths read `crate::model::…` here
// as they do in the crates that define them.
use repro_core::util;
use repro_engine::{dag, kind, remote, spec, store};
use repro_ml::{backend, data, eval, model, on_backend, parquet, report, train};
