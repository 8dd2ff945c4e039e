//! Events as readers see them.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::attestation::GateAttestation;
use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::id::{CorrelationId, EventId, HlcPoint, IdempotencyKey};
use crate::kind::EventKind;

/// Everything the store records about an event besides its payload and coordinate.
///
/// All three hashes are blake3 digests; see the crate documentation for the
/// exact bytes they cover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EventHeader {
    /// Unique id (UUIDv7).
    pub event_id: EventId,
    /// Position in the store's commit order, from 0.
    pub global_sequence: u64,
    /// Position in the entity's history, from 0.
    pub entity_sequence: u64,
    /// What kind of event this is.
    pub kind: EventKind,
    /// Wall-clock milliseconds when the writer accepted it.
    pub wall_ms: u64,
    /// Hybrid logical clock point, strictly increasing in commit order.
    pub hlc: HlcPoint,
    /// Correlation id, if the appender set one.
    pub correlation_id: Option<CorrelationId>,
    /// The event that caused this one, if any.
    pub causation_id: Option<EventId>,
    /// Idempotency key, if the appender set one.
    pub idempotency_key: Option<IdempotencyKey>,
    /// Schema version of the payload.
    pub payload_version: u16,
    /// The gates this event passed, or the bypass that let it through, when it
    /// was committed through a [`crate::Pipeline`]; `None` for ordinary appends.
    pub attestation: Option<GateAttestation>,
    /// `event_hash` of the entity's previous event; zeros at genesis.
    pub prev_hash: [u8; 32],
    /// blake3 of the stored payload bytes.
    pub content_hash: [u8; 32],
    /// blake3 over the domain tag, canonical header bytes and `content_hash`.
    pub event_hash: [u8; 32],
}

/// A header with its payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event<P> {
    /// The header.
    pub header: EventHeader,
    /// The payload: decoded (`serde_json::Value`, a typed struct) or raw bytes.
    pub payload: P,
}

/// An event as read back from the store, with its coordinate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredEvent<P> {
    /// The event.
    pub event: Event<P>,
    /// The entity and scope it belongs to.
    pub coordinate: Coordinate,
}

impl<P> StoredEvent<P> {
    /// Shorthand for `self.event.header`.
    pub fn header(&self) -> &EventHeader {
        &self.event.header
    }

    /// Shorthand for `self.event.payload`.
    pub fn payload(&self) -> &P {
        &self.event.payload
    }

    /// Shorthand for the event id.
    pub fn event_id(&self) -> EventId {
        self.event.header.event_id
    }
}

impl Serialize for Coordinate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Coordinate", 2)?;
        st.serialize_field("entity", self.entity())?;
        st.serialize_field("scope", self.scope())?;
        st.end()
    }
}

/// Decodes a raw event's payload as `T`.
pub(crate) fn decode_payload<T: DeserializeOwned>(
    raw: StoredEvent<Vec<u8>>,
) -> Result<StoredEvent<T>, StoreError> {
    let payload =
        rmp_serde::from_slice(&raw.event.payload).map_err(|e| StoreError::Deserialization {
            event_id: raw.event.header.event_id,
            source: Box::new(e),
        })?;
    Ok(StoredEvent {
        event: Event {
            header: raw.event.header,
            payload,
        },
        coordinate: raw.coordinate,
    })
}

/// Encodes a payload as MessagePack with named struct fields.
pub(crate) fn encode_payload<P: Serialize + ?Sized>(payload: &P) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec_named(payload).map_err(|e| StoreError::Serialization {
        source: Box::new(e),
    })
}
