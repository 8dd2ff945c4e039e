//! Extension points inside the write and read paths, for features built on
//! the core (payload encryption, its keyset durability fence). Both are off
//! unless a feature installs them in the configuration; off, each costs the
//! write path one `Option` check.

use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::event::EventHeader;
use crate::id::EventId;
use crate::kind::EventKind;

/// The event a payload belongs to: what a seal binds it to.
#[derive(Clone, Copy, Debug)]
// Read by the transforms features install; the core itself installs none.
#[cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]
pub(crate) struct PayloadAt<'a> {
    pub(crate) coordinate: &'a Coordinate,
    pub(crate) kind: EventKind,
    pub(crate) event_id: EventId,
}

/// A stored payload, opened.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]
pub(crate) enum Opened {
    /// The caller's bytes.
    Plain(Vec<u8>),
    /// The key that sealed it no longer exists.
    Shredded,
}

/// Rewrites a payload before it is hashed and framed (payload encryption
/// seals here), and opens what it wrote. What `apply` returns is what the
/// store keeps: `content_hash`, `event_hash` and the frame all cover the
/// transformed bytes. It runs on the writer thread once the event has its
/// id, so the bytes can be bound to that id.
pub(crate) trait PayloadTransform: Send + Sync + std::fmt::Debug {
    /// The bytes to store for `payload`, appended as the event `at`.
    fn apply(&self, at: PayloadAt<'_>, payload: Vec<u8>) -> Result<Vec<u8>, StoreError>;

    /// The digest an idempotency record keeps for `payload` appended as
    /// `at` when `apply` changed it: a retry's payload is compared through
    /// it, as the stored bytes differ from one append to the next. `None`
    /// when no digest can be made (the scope's key is gone).
    fn digest(&self, at: PayloadAt<'_>, payload: &[u8]) -> Result<Option<[u8; 32]>, StoreError>;

    /// The caller's bytes from bytes `apply` stored for the event `at`.
    fn open(&self, at: PayloadAt<'_>, stored: &[u8]) -> Result<Opened, StoreError>;
}

/// One event of a staged request, as [`WriteHook::before_write`] sees it.
#[derive(Clone, Copy, Debug)]
// Read by the hooks features install; the core itself installs none.
#[allow(dead_code)]
pub(crate) struct StagedEvent<'a> {
    /// Its header, hashes filled.
    pub(crate) header: &'a EventHeader,
    /// Its coordinate.
    pub(crate) coordinate: &'a Coordinate,
}

/// Runs after a request is staged and before its frames join the group's
/// buffer, so before any of them can reach a file. An error fails that
/// request closed (nothing of it is written or published) and the writer
/// goes on with the next one: a hook may fail only when it changed nothing
/// the log depends on. The keyset durability fence of payload encryption
/// runs here.
pub(crate) trait WriteHook: Send + Sync + std::fmt::Debug {
    /// Called with a request's events, in commit order.
    fn before_write(&self, events: &[StagedEvent<'_>]) -> Result<(), StoreError>;
}
