//! Small helpers shared by the engine.

pub mod alloc;
pub mod canon;
pub mod hash;
pub mod rng;
pub mod time;
