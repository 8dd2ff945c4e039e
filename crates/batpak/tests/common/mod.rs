//! What the test files share, included with `mod common;`:
//!
//! - `store`: coordinates, store configurations (small segments,
//!   `SyncMode::OsBuffered`), stores in temporary directories, crash images
//!   of a live store, and the fail-stop assertion;
//! - `keys`: signing keys, idempotency keys and a signer that holds the
//!   writer at a barrier;
//! - `bytes`: segment listing, frame and footer parsing and reassembly (an
//!   attacker's view of docs/FORMAT.md), crash images of a directory, and the
//!   file names the crate does not export;
//! - `sim` (feature `sim`): `SimFs`-backed configurations and the trace of a
//!   rotating append;
//! - `fixtures`: the committed fixtures and copies of them;
//! - `rng`: a small seeded generator, so failures reproduce;
//! - `golden_json`: the JSON description of a stored event that the golden
//!   fixture holds (also included by `examples/write_golden.rs`).
//!
//! A helper only one test file needs stays in that file. Every test binary
//! compiles all of `common` and uses a part of it, hence the allowances for
//! unused items and re-exports.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod bytes;
mod fixtures;
pub mod golden_json;
mod keys;
mod rng;
#[cfg(feature = "sim")]
mod sim;
mod store;

pub use bytes::*;
pub use fixtures::*;
pub(crate) use golden_json::hex;
pub use keys::*;
pub use rng::*;
#[cfg(feature = "sim")]
pub use sim::*;
pub use store::*;
