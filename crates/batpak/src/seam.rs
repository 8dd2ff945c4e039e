//! Extension points inside the write path, for features built on the core
//! (payload encryption, its keyset durability fence). Both are off unless a
//! feature installs them in the configuration.

use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::event::EventHeader;
use crate::kind::EventKind;

/// Rewrites a payload before it is hashed and framed (payload encryption
/// seals here). What it returns is what the store keeps: `content_hash`,
/// `event_hash` and the frame all cover the transformed bytes. For an
/// idempotent retry to be recognised, the transform must map the same
/// payload to the same bytes.
pub(crate) trait PayloadTransform: Send + Sync + std::fmt::Debug {
    /// The bytes to store for `payload`, appended to `coordinate` as `kind`.
    fn apply(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, StoreError>;
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
/// buffer, so before any of them can reach a file. An error fails the
/// request and fail-stops the writer, as a failed write would: the rest of
/// the group is answered with that failure. The keyset durability fence of
/// payload encryption runs here.
pub(crate) trait WriteHook: Send + Sync + std::fmt::Debug {
    /// Called with a request's events, in commit order.
    fn before_write(&self, events: &[StagedEvent<'_>]) -> Result<(), StoreError>;
}
