//! Pieces the model benches share (`benches/model.rs`, `benches/compare.rs`):
//! the library's bench reward model and batches (`repro::bench`).

pub use repro::bench::random_batch;
pub use repro::bench::reward_model::MiniLmRm;
