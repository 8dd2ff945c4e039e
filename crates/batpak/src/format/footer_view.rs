//! Read-only views of a sealed segment's footer, as a
//! [`SegmentReader`](super::SegmentReader) decodes it.

use super::error::DecodeError;
use super::footer::{Footer, FooterEntry};
use super::segment_header::SEGMENT_HEADER_LEN;
use super::to_u64;
use crate::id::{CorrelationId, EventId, HlcPoint};
use crate::kind::EventKind;

/// The footer of a sealed segment: one entry per frame, enough to index the
/// segment without reading its frames.
///
/// ```
/// use batpak::format::{segment_file_name, SegmentReader};
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let receipt = store.append(&Coordinate::new("order:1", "shop")?, EventKind::custom(0xE, 1), &1)?;
/// store.close()?;
///
/// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
/// let footer = segment.footer()?.expect("sealed");
/// assert_eq!(footer.base_global_sequence(), 0);
/// assert_eq!(footer.frames_end(), segment.frames_end());
/// assert!(footer.last_hlc().physical_ms > 0);
/// assert_eq!(footer.entities().collect::<Vec<_>>(), [("order:1", &receipt.event_hash)]);
/// assert_eq!(footer.scopes().collect::<Vec<_>>(), ["shop"]);
/// assert_eq!(footer.entry_count(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FooterView {
    footer: Footer,
}

impl FooterView {
    /// Checks what the reader relies on beyond the footer's own decoding: it
    /// starts where the frames end, and its sequences do not overflow.
    pub(crate) fn new(footer: Footer, start: u64) -> Result<Self, DecodeError> {
        if footer.frames_end != start {
            return Err(DecodeError::Inconsistent {
                offset: start,
                problem: "footer does not start where its frames end",
            });
        }
        let fits = footer
            .base_global_sequence
            .checked_add(to_u64(footer.entries.len()))
            .is_some();
        if !fits {
            return Err(DecodeError::OutOfRange {
                offset: start,
                field: "footer base global sequence",
            });
        }
        Ok(Self { footer })
    }

    /// Global sequence of the segment's first event.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// assert_eq!(footer.base_global_sequence(), 0);
    /// # Ok(()) }
    /// ```
    pub fn base_global_sequence(&self) -> u64 {
        self.footer.base_global_sequence
    }

    /// Offset where the footer starts (the end of the frames).
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// assert_eq!(footer.frames_end(), segment.frames_end());
    /// # Ok(()) }
    /// ```
    pub fn frames_end(&self) -> u64 {
        self.footer.frames_end
    }

    /// HLC of the segment's last event.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// assert_eq!(footer.last_hlc(), receipt.hlc);
    /// # Ok(()) }
    /// ```
    pub fn last_hlc(&self) -> HlcPoint {
        self.footer.last_hlc
    }

    /// Each entity with events in the segment, and the `event_hash` of its
    /// last event here.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// assert_eq!(footer.entities().collect::<Vec<_>>(), [("order:1", &receipt.event_hash)]);
    /// # Ok(()) }
    /// ```
    pub fn entities(&self) -> impl Iterator<Item = (&str, &[u8; 32])> + '_ {
        self.footer
            .entities
            .iter()
            .map(|(n, tip)| (n.as_str(), tip))
    }

    /// Each scope with events in the segment.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// assert_eq!(footer.scopes().collect::<Vec<_>>(), ["shop"]);
    /// # Ok(()) }
    /// ```
    pub fn scopes(&self) -> impl Iterator<Item = &str> + '_ {
        self.footer.scopes.iter().map(String::as_str)
    }

    /// Number of entries (events).
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// assert_eq!(footer.entry_count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn entry_count(&self) -> usize {
        self.footer.entries.len()
    }

    /// The entries in commit order.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// assert_eq!(footer.entries().map(|e| e.event_id()).collect::<Vec<_>>(), [receipt.event_id]);
    /// # Ok(()) }
    /// ```
    pub fn entries(&self) -> impl Iterator<Item = FooterEntryView<'_>> + '_ {
        let mut offset = to_u64(SEGMENT_HEADER_LEN);
        self.footer
            .entries
            .iter()
            .zip(0u64..)
            .map(move |(entry, i)| {
                let at = offset;
                // The footer's decoder checked that the entries span exactly the
                // frame region, so this sum stays below `frames_end`.
                offset = offset.saturating_add(u64::from(entry.frame_len));
                FooterEntryView {
                    entry,
                    footer: &self.footer,
                    offset: at,
                    global_sequence: self.footer.base_global_sequence.saturating_add(i),
                }
            })
    }
}

/// One event as the footer lists it.
///
/// ```
/// use batpak::format::{segment_file_name, SegmentReader};
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let kind = EventKind::custom(0xE, 1);
/// let receipt = store.append(&Coordinate::new("order:1", "shop")?, kind, &1)?;
/// store.close()?;
///
/// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
/// let frame = segment.frames().next().expect("one frame")?;
/// let footer = segment.footer()?.expect("sealed");
/// let entry = footer.entries().next().expect("one entry");
/// assert_eq!((entry.offset(), entry.frame_len()), (frame.offset(), frame.frame_len() as u32));
/// assert_eq!(entry.event_id(), receipt.event_id);
/// assert_eq!((entry.global_sequence(), entry.entity_sequence()), (0, 0));
/// assert_eq!(entry.kind(), kind);
/// assert_eq!((entry.entity(), entry.scope()), ("order:1", "shop"));
/// assert_eq!(entry.wall_ms(), frame.wall_ms());
/// assert_eq!((entry.correlation_id(), entry.causation_id()), (None, None));
/// assert_eq!(entry.payload_version(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FooterEntryView<'a> {
    entry: &'a FooterEntry,
    footer: &'a Footer,
    offset: u64,
    global_sequence: u64,
}

impl<'a> FooterEntryView<'a> {
    /// Offset of the event's frame in the segment.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.offset(), frame.offset());
    /// # Ok(()) }
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes the frame spans (prefix and body).
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.frame_len() as usize, frame.frame_len());
    /// # Ok(()) }
    /// ```
    pub fn frame_len(&self) -> u32 {
        self.entry.frame_len
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.event_id(), receipt.event_id);
    /// # Ok(()) }
    /// ```
    pub fn event_id(&self) -> EventId {
        self.entry.event_id
    }

    /// Position in commit order across the store.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.global_sequence(), receipt.global_sequence);
    /// # Ok(()) }
    /// ```
    pub fn global_sequence(&self) -> u64 {
        self.global_sequence
    }

    /// Position in the entity's history.
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.entity_sequence(), 0);
    /// # Ok(()) }
    /// ```
    pub fn entity_sequence(&self) -> u64 {
        self.entry.entity_sequence
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.kind(), kind);
    /// # Ok(()) }
    /// ```
    pub fn kind(&self) -> EventKind {
        self.entry.kind
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.entity(), "order:1");
    /// # Ok(()) }
    /// ```
    pub fn entity(&self) -> &'a str {
        let i = usize::try_from(self.entry.entity).ok();
        // The decoder refused entries naming an entity the footer lacks.
        i.and_then(|i| self.footer.entities.get(i))
            .map_or("", |(n, _)| n.as_str())
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.scope(), "shop");
    /// # Ok(()) }
    /// ```
    pub fn scope(&self) -> &'a str {
        let i = usize::try_from(self.entry.scope).ok();
        i.and_then(|i| self.footer.scopes.get(i))
            .map_or("", String::as_str)
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.wall_ms(), frame.wall_ms());
    /// # Ok(()) }
    /// ```
    pub fn wall_ms(&self) -> u64 {
        self.entry.wall_ms
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.correlation_id(), None);
    /// # Ok(()) }
    /// ```
    pub fn correlation_id(&self) -> Option<CorrelationId> {
        self.entry.correlation_id
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.causation_id(), None);
    /// # Ok(()) }
    /// ```
    pub fn causation_id(&self) -> Option<EventId> {
        self.entry.causation_id
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
    /// # let footer = segment.footer()?.expect("sealed");
    /// # let entry = footer.entries().next().expect("one entry");
    /// assert_eq!(entry.payload_version(), 1);
    /// # Ok(()) }
    /// ```
    pub fn payload_version(&self) -> u16 {
        self.entry.payload_version
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::format::footer::tests::footer;

    #[test]
    fn a_footer_view_shows_its_head_and_each_entry_in_place() {
        let mut f = footer();
        f.scopes.push("t".into());
        let mut second = f.entries[0].clone();
        second.scope = 1;
        second.entity_sequence = 1;
        second.kind = EventKind::custom(0xE, 9);
        second.wall_ms = 11;
        second.correlation_id = Some(CorrelationId::from_u128(3));
        second.causation_id = None;
        second.payload_version = 2;
        second.frame_len = 130;
        second.event_id = EventId::from_u128(6);
        f.entries.push(second);
        f.frames_end += 130;
        f.last_hlc = HlcPoint::new(11, 4);
        let start = f.frames_end;
        assert!(FooterView::new(f.clone(), start + 1).is_err());
        let mut overflowing = f.clone();
        overflowing.base_global_sequence = u64::MAX - 1;
        assert!(FooterView::new(overflowing, start).is_err());
        let v = FooterView::new(f, start).unwrap();
        assert_eq!(v.base_global_sequence(), 100);
        assert_eq!(v.frames_end(), start);
        assert_eq!(v.last_hlc(), HlcPoint::new(11, 4));
        assert_eq!(v.entities().collect::<Vec<_>>(), [("e", &[3; 32])]);
        assert_eq!(v.scopes().collect::<Vec<_>>(), ["s", "t"]);
        assert_eq!(v.entry_count(), 2);
        let e: Vec<_> = v.entries().collect();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].offset(), SEGMENT_HEADER_LEN as u64);
        assert_eq!(e[1].offset(), SEGMENT_HEADER_LEN as u64 + 120);
        assert_eq!((e[0].global_sequence(), e[1].global_sequence()), (100, 101));
        assert_eq!((e[0].frame_len(), e[1].frame_len()), (120, 130));
        assert_eq!(e[1].event_id(), EventId::from_u128(6));
        assert_eq!(e[1].entity_sequence(), 1);
        assert_eq!(e[1].kind(), EventKind::custom(0xE, 9));
        assert_eq!((e[1].entity(), e[0].scope(), e[1].scope()), ("e", "s", "t"));
        assert_eq!(e[1].wall_ms(), 11);
        assert_eq!(e[1].correlation_id(), Some(CorrelationId::from_u128(3)));
        assert_eq!(e[0].causation_id(), Some(EventId::from_u128(4)));
        assert_eq!(e[1].payload_version(), 2);
    }
}
