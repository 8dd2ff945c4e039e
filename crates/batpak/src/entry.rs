//! One committed event as readers list it: its index entry (no payload) and
//! where its frame lives.

use crate::coordinate::Coordinate;
use crate::event::EventHeader;
use crate::id::EventId;
use crate::kind::EventKind;

/// Where a frame lives on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Location {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

/// One committed event as the index knows it (no payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub(crate) event_id: EventId,
    pub(crate) global_sequence: u64,
    pub(crate) entity_sequence: u64,
    pub(crate) kind: EventKind,
    pub(crate) coordinate: Coordinate,
    pub(crate) wall_ms: u64,
    pub(crate) payload_version: u16,
    pub(crate) location: Location,
}

impl IndexEntry {
    /// The index entry of the event with this header, whose frame is at `location`.
    pub(crate) fn of_header(h: &EventHeader, coordinate: Coordinate, location: Location) -> Self {
        Self {
            event_id: h.event_id,
            global_sequence: h.global_sequence,
            entity_sequence: h.entity_sequence,
            kind: h.kind,
            coordinate,
            wall_ms: h.wall_ms,
            payload_version: h.payload_version,
            location,
        }
    }

    /// The event id.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// Position in commit order.
    pub fn global_sequence(&self) -> u64 {
        self.global_sequence
    }
    /// Position in the entity's history.
    pub fn entity_sequence(&self) -> u64 {
        self.entity_sequence
    }
    /// The event kind.
    pub fn kind(&self) -> EventKind {
        self.kind
    }
    /// Entity and scope.
    pub fn coordinate(&self) -> &Coordinate {
        &self.coordinate
    }
    /// Wall-clock milliseconds at acceptance.
    pub fn wall_ms(&self) -> u64 {
        self.wall_ms
    }
    /// Payload schema version.
    pub fn payload_version(&self) -> u16 {
        self.payload_version
    }
}
