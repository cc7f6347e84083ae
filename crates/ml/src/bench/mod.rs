//! The measured rows of `make bench-compare` and `scripts/device-check.sh`
//! (issues 11 and 24): model rows on real or seeded weights, the machine's
//! GEMM and memory-bandwidth limits, and what each row costs per token. A
//! library so that both the compare bench and `repro bench` (a
//! machine with only the binary, e.g. a GPU box) run the same code.

pub mod error;
pub mod gemm;
pub mod measure;
pub mod membw;
pub mod reward_model;
pub mod row;
pub mod timing;
pub mod weights;

pub use error::BenchError;
pub use measure::{LIMIT_ROWS, default_gemm_shapes, measure};
pub use row::{Row, RowResult, random_batch, run_row};
pub use timing::Timing;
pub use weights::Weights;
