//! Small helpers shared by the engine.

pub mod alloc;
pub mod canon;
pub mod failpoint;
pub mod hash;
pub mod hooks;
pub mod io;
pub mod keyed;
pub mod machine;
pub mod progress;
pub mod rng;
pub mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod visible;
