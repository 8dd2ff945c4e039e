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
    /// Frames of the same atomic batch stored after this one: 0 for the last
    /// event of a batch and for a single append. Covered by `event_hash`
    /// when `hash_version` is 2.
    pub batch_remaining: u32,
    /// Which layout `event_hash` covers (see [`crate::chain`]): 2 for every
    /// event this build writes, 1 only for events read from a version-1
    /// segment, whose hash does not cover `batch_remaining`. Not stored per
    /// event: it follows from the segment's format version.
    pub hash_version: u8,
    /// `event_hash` of the entity's previous event; zeros at genesis.
    pub prev_hash: [u8; 32],
    /// blake3 of the stored payload bytes.
    pub content_hash: [u8; 32],
    /// blake3 over the domain tag, canonical header bytes and `content_hash`,
    /// in the layout `hash_version` names.
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

impl StoredEvent<Vec<u8>> {
    /// The stored payload as JSON: MessagePack maps, arrays, strings, numbers,
    /// booleans and nil as themselves, and what JSON has no type for mapped
    /// as serde maps it: a byte string (`bin`) as an array of byte values, an
    /// integer or boolean map key as its text. An extension type, a string or
    /// key that is not UTF-8, a non-finite float, or trailing bytes are a
    /// [`StoreError::Deserialization`] naming the event.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("blob:1", "files")?;
    /// let r = store.append(&coord, EventKind::custom(0xE, 1), &serde_bytes::Bytes::new(b"\x01\x02"))?;
    /// assert_eq!(store.get(r.event_id)?.event.payload, serde_json::json!([1, 2]));
    /// assert_eq!(store.read_raw(r.event_id)?.payload_json()?, serde_json::json!([1, 2]));
    /// # Ok(()) }
    /// ```
    pub fn payload_json(&self) -> Result<serde_json::Value, StoreError> {
        let bytes = &self.event.payload;
        let direct = match rmp_serde::from_slice::<serde_json::Value>(bytes) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        // What serde_json cannot take directly (a byte string, a non-string key).
        let bad = |source: crate::BoxError| StoreError::Deserialization {
            event_id: self.event.header.event_id,
            source,
        };
        let mut reader = bytes.as_slice();
        let value = rmpv::decode::read_value(&mut reader).map_err(|_| bad(Box::new(direct)))?;
        if !reader.is_empty() {
            return Err(bad(
                format!("{} bytes follow the payload", reader.len()).into()
            ));
        }
        msgpack_to_json(value).map_err(|reason| bad(reason.into()))
    }
}

/// A MessagePack value as JSON (see [`StoredEvent::payload_json`]).
fn msgpack_to_json(v: rmpv::Value) -> Result<serde_json::Value, &'static str> {
    use rmpv::Value as M;
    use serde_json::Value as J;
    Ok(match v {
        M::Nil => J::Null,
        M::Boolean(b) => J::Bool(b),
        M::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => J::from(u),
            (None, Some(s)) => J::from(s),
            (None, None) => return Err("an integer out of JSON's range"),
        },
        M::F32(f) => serde_json::Number::from_f64(f64::from(f))
            .map(J::Number)
            .ok_or("a non-finite float")?,
        M::F64(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .ok_or("a non-finite float")?,
        M::String(s) => J::String(s.into_str().ok_or("a string that is not UTF-8")?),
        M::Binary(b) => J::Array(b.into_iter().map(J::from).collect()),
        M::Array(items) => J::Array(
            items
                .into_iter()
                .map(msgpack_to_json)
                .collect::<Result<_, _>>()?,
        ),
        M::Map(pairs) => {
            let mut map = serde_json::Map::with_capacity(pairs.len());
            for (k, v) in pairs {
                let key = match k {
                    M::String(s) => s.into_str().ok_or("a map key that is not UTF-8")?,
                    M::Integer(i) => i.to_string(),
                    M::Boolean(b) => b.to_string(),
                    _ => return Err("a map key that is not a string, integer or boolean"),
                };
                map.insert(key, msgpack_to_json(v)?);
            }
            J::Object(map)
        }
        M::Ext(..) => return Err("a MessagePack extension type"),
    })
}

/// The event with its payload as JSON (see [`StoredEvent::payload_json`]).
pub(crate) fn decode_json_payload(
    raw: StoredEvent<Vec<u8>>,
) -> Result<StoredEvent<serde_json::Value>, StoreError> {
    let payload = raw.payload_json()?;
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
