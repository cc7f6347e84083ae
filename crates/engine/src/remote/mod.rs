//! Remote artifact stores (issue 14): `push` a locked run to an S3 bucket or
//! a directory, `pull` it anywhere (also from a read-only HTTPS mirror), each
//! object rehashed before it enters the store. Built on `object_store`; async
//! stays inside [`client::Remote`].

pub mod client;
pub mod error;
pub mod layout;
pub mod progress;
pub mod pull;
pub mod push;
pub mod url;
pub mod verify;

pub use client::Remote;
pub use error::RemoteError;
pub use pull::{PullSummary, pull};
pub use push::{PushSummary, push};
pub use url::RemoteUrl;
pub use verify::{RemoteCheck, verify_remote};
