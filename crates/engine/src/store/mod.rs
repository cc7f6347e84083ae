//! The content-addressed store, stage records, lockfiles and the store lock
//! (ARCHITECTURE.md, "The store").

pub mod capture;
pub mod copy;
pub mod error;
pub mod flock;
pub mod gc;
pub mod ingest;
pub mod lockfile;
pub mod log;
pub mod objects;
pub mod origin;
pub mod record;
pub mod tail_ring;

pub use error::StoreError;
pub use lockfile::{LockEntry, Lockfile};
pub use objects::{Entry, Manifest, Store};
pub use record::{Provenance, Record};
