//! A read-only view of one frame, as a [`SegmentReader`](super::SegmentReader) decodes it.

use super::frame::FrameFields;
use crate::attestation::GateAttestation;
use crate::id::{CorrelationId, EventId, HlcPoint, IdempotencyKey};
use crate::kind::EventKind;

/// One frame of a segment as decoded from its bytes (the payload is
/// borrowed from the reader). `content_hash` is not stored: it is the
/// blake3 of [`FrameView::payload`].
///
/// ```
/// use batpak::format::{segment_file_name, SegmentReader};
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let kind = EventKind::custom(0xE, 1);
/// let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
/// store.close()?;
///
/// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
/// let frame = segment.frames().next().expect("one frame")?;
/// assert_eq!(frame.offset(), batpak::format::SEGMENT_HEADER_LEN as u64);
/// assert!(frame.frame_len() > batpak::format::FRAME_PREFIX_LEN);
/// assert_eq!(frame.event_id(), receipt.event_id);
/// assert_eq!((frame.global_sequence(), frame.entity_sequence()), (0, 0));
/// assert_eq!(frame.kind(), kind);
/// assert_eq!((frame.entity(), frame.scope()), ("order:1", "shop"));
/// assert!(frame.hlc().physical_ms >= frame.wall_ms());
/// assert_eq!(frame.correlation_id(), None);
/// assert_eq!(frame.causation_id(), None);
/// assert_eq!(frame.idempotency_key(), None);
/// assert_eq!((frame.payload_version(), frame.batch_remaining()), (1, 0));
/// assert_eq!(frame.prev_hash(), &[0; 32]);
/// assert_eq!(frame.event_hash(), &receipt.event_hash);
/// assert_eq!(frame.payload(), rmp_serde::to_vec_named(&"placed")?.as_slice());
/// assert_eq!(frame.attestation(), None);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameView<'a> {
    fields: FrameFields<'a>,
    offset: u64,
    len: usize,
}

impl<'a> FrameView<'a> {
    pub(crate) fn new(fields: FrameFields<'a>, offset: u64, len: usize) -> Self {
        Self {
            fields,
            offset,
            len,
        }
    }

    /// Offset of the frame's first byte (its length prefix) in the segment.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.offset(), batpak::format::SEGMENT_HEADER_LEN as u64);
    /// # Ok(()) }
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes the frame spans: prefix and body.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert!(frame.frame_len() > batpak::format::FRAME_PREFIX_LEN);
    /// # Ok(()) }
    /// ```
    pub fn frame_len(&self) -> usize {
        self.len
    }

    /// The event's id.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.event_id(), receipt.event_id);
    /// # Ok(()) }
    /// ```
    pub fn event_id(&self) -> EventId {
        self.fields.event_id
    }

    /// Position in commit order across the store, from 0.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.global_sequence(), receipt.global_sequence);
    /// # Ok(()) }
    /// ```
    pub fn global_sequence(&self) -> u64 {
        self.fields.global_sequence
    }

    /// Position in the entity's history, from 0.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.entity_sequence(), 0);
    /// # Ok(()) }
    /// ```
    pub fn entity_sequence(&self) -> u64 {
        self.fields.entity_sequence
    }

    /// The event kind.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.kind(), kind);
    /// # Ok(()) }
    /// ```
    pub fn kind(&self) -> EventKind {
        self.fields.kind
    }

    /// The coordinate's entity.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.entity(), "order:1");
    /// # Ok(()) }
    /// ```
    pub fn entity(&self) -> &'a str {
        self.fields.entity
    }

    /// The coordinate's scope.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.scope(), "shop");
    /// # Ok(()) }
    /// ```
    pub fn scope(&self) -> &'a str {
        self.fields.scope
    }

    /// Wall-clock milliseconds at acceptance.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert!(frame.wall_ms() > 0);
    /// # Ok(()) }
    /// ```
    pub fn wall_ms(&self) -> u64 {
        self.fields.wall_ms
    }

    /// The hybrid logical clock at acceptance.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.hlc(), receipt.hlc);
    /// # Ok(()) }
    /// ```
    pub fn hlc(&self) -> HlcPoint {
        self.fields.hlc
    }

    /// The correlation id, if the append had one.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.correlation_id(), None);
    /// # Ok(()) }
    /// ```
    pub fn correlation_id(&self) -> Option<CorrelationId> {
        self.fields.correlation_id
    }

    /// The causing event, if the append named one.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.causation_id(), None);
    /// # Ok(()) }
    /// ```
    pub fn causation_id(&self) -> Option<EventId> {
        self.fields.causation_id
    }

    /// The idempotency key, if the append had one.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.idempotency_key(), None);
    /// # Ok(()) }
    /// ```
    pub fn idempotency_key(&self) -> Option<IdempotencyKey> {
        self.fields.idempotency_key
    }

    /// The payload's schema version.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.payload_version(), 1);
    /// # Ok(()) }
    /// ```
    pub fn payload_version(&self) -> u16 {
        self.fields.payload_version
    }

    /// Frames that follow this one in the same atomic batch (0: last or single).
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.batch_remaining(), 0);
    /// # Ok(()) }
    /// ```
    pub fn batch_remaining(&self) -> u32 {
        self.fields.batch_remaining
    }

    /// `event_hash` of the entity's previous event (zeros at genesis).
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.prev_hash(), &receipt.prev_hash);
    /// # Ok(()) }
    /// ```
    pub fn prev_hash(&self) -> &[u8; 32] {
        &self.fields.prev_hash
    }

    /// The stored `event_hash`.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.event_hash(), &receipt.event_hash);
    /// # Ok(()) }
    /// ```
    pub fn event_hash(&self) -> &[u8; 32] {
        &self.fields.event_hash
    }

    /// The stored payload bytes (MessagePack).
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.payload(), rmp_serde::to_vec_named(&"placed")?.as_slice());
    /// # Ok(()) }
    /// ```
    pub fn payload(&self) -> &'a [u8] {
        self.fields.payload
    }

    /// For a tombstone (a frame whose payload a tombstone compaction
    /// removed; [`FrameView::payload`] is then empty), the `content_hash`
    /// of the payload it had; `None` for every other frame.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("order:1", "shop")?, EventKind::custom(0xE, 1), &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.tombstone(), None);
    /// # Ok(()) }
    /// ```
    pub fn tombstone(&self) -> Option<&[u8; 32]> {
        self.fields.tombstone.as_ref()
    }

    /// How the event passed its gates, if it went through any.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let kind = EventKind::custom(0xE, 1);
    /// # let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &"placed")?;
    /// # store.close()?;
    /// # let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// # let frame = segment.frames().next().expect("one frame")?;
    /// assert_eq!(frame.attestation(), None);
    /// # Ok(()) }
    /// ```
    pub fn attestation(&self) -> Option<&GateAttestation> {
        self.fields.attestation.as_ref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::format::frame::tests::sample;

    #[test]
    fn a_frame_view_shows_every_field_as_decoded() {
        let mut f = sample("order:1", "shop", b"pay");
        f.causation_id = Some(EventId::from_u128(77));
        f.batch_remaining = 2;
        f.attestation = Some(GateAttestation::passed(["g"]));
        let v = FrameView::new(f.clone(), 40, 123);
        assert_eq!((v.offset(), v.frame_len()), (40, 123));
        assert_eq!(v.event_id(), f.event_id);
        assert_eq!(v.global_sequence(), f.global_sequence);
        assert_eq!(v.entity_sequence(), f.entity_sequence);
        assert_eq!(v.kind(), f.kind);
        assert_eq!((v.entity(), v.scope()), ("order:1", "shop"));
        assert_eq!(v.wall_ms(), f.wall_ms);
        assert_eq!(v.hlc(), f.hlc);
        assert_eq!(v.correlation_id(), f.correlation_id);
        assert_eq!(v.causation_id(), f.causation_id);
        assert_eq!(v.idempotency_key(), f.idempotency_key);
        assert_eq!(v.payload_version(), f.payload_version);
        assert_eq!(v.batch_remaining(), 2);
        assert_eq!(v.prev_hash(), &f.prev_hash);
        assert_eq!(v.event_hash(), &f.event_hash);
        assert_eq!(v.payload(), b"pay");
        assert_eq!(v.attestation(), f.attestation.as_ref());
    }
}
