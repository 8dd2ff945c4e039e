//! The event-stream envelope: the payload of a `SUB_EVENT` carrying a store
//! event, schema `batpak.event-stream-envelope.v1`.
//!
//! Named-field MessagePack (`rmp_serde::to_vec_named`), fields in this
//! order, optional fields omitted when absent, hashes as arrays of 32
//! integers and the payload as an array of integers: byte for byte what the
//! published syncbat 0.10 writes.

use serde::{Deserialize, Serialize};

/// The schema reference of [`EventStreamEnvelope`] payloads.
pub const EVENT_STREAM_ENVELOPE_SCHEMA: &str = "batpak.event-stream-envelope.v1";

/// One committed event as a subscription delivers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventStreamEnvelope {
    /// Envelope schema version (1).
    pub schema_version: u32,
    /// The subscription.
    pub subscription_id: String,
    /// The event id (UUIDv7 as an integer).
    pub event_id: u128,
    /// The correlation id.
    pub correlation_id: u128,
    /// The causation id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<u128>,
    /// The coordinate's entity.
    pub entity: String,
    /// The coordinate's scope.
    pub scope: String,
    /// The raw event kind.
    pub event_kind_raw: u16,
    /// The kind's 4-bit category.
    pub event_category: u8,
    /// The payload's schema version.
    pub payload_version: u16,
    /// The event's timestamp in microseconds.
    pub timestamp_us: i64,
    /// The HLC wall-clock milliseconds.
    pub hlc_wall_ms: u64,
    /// The commit-order sequence.
    pub global_sequence: u64,
    /// blake3 of the stored payload.
    pub content_hash: [u8; 32],
    /// The previous event hash of the entity's chain, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_hash: Option<[u8; 32]>,
    /// The event hash, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_hash: Option<[u8; 32]>,
    /// The route's inner payload schema, if declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_event_payload_schema_ref: Option<String>,
    /// The committed payload bytes.
    pub payload: Vec<u8>,
}

/// Why an envelope could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Encoding failed.
    #[error("envelope encoding failed: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// The bytes are not an envelope.
    #[error("envelope decoding failed: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
}

impl EventStreamEnvelope {
    /// An envelope of schema version 1 with every optional field absent.
    #[must_use]
    pub fn new(
        subscription_id: &str,
        event_id: u128,
        global_sequence: u64,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            schema_version: 1,
            subscription_id: subscription_id.to_owned(),
            event_id,
            correlation_id: event_id,
            causation_id: None,
            entity: String::new(),
            scope: String::new(),
            event_kind_raw: 0,
            event_category: 0,
            payload_version: 0,
            timestamp_us: 0,
            hlc_wall_ms: 0,
            global_sequence,
            content_hash: *blake3::hash(&payload).as_bytes(),
            prev_hash: None,
            event_hash: None,
            inner_event_payload_schema_ref: None,
            payload,
        }
    }

    /// The canonical bytes.
    ///
    /// # Errors
    /// [`EnvelopeError::Encode`].
    pub fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        Ok(rmp_serde::to_vec_named(self)?)
    }

    /// Reads an envelope.
    ///
    /// ```
    /// use netbat::EventStreamEnvelope;
    /// let envelope = EventStreamEnvelope::new("orders.open.v1", 7, 42, b"{}".to_vec());
    /// let bytes = envelope.encode()?;
    /// assert_eq!(EventStreamEnvelope::decode(&bytes)?, envelope);
    /// # Ok::<(), netbat::EnvelopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`EnvelopeError::Decode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        Ok(rmp_serde::from_slice(bytes)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn absent_options_are_omitted_and_present_ones_round_trip() {
        let mut envelope = EventStreamEnvelope::new("a.v1", 1, 2, vec![1, 2, 3]);
        let bare = envelope.encode().unwrap();
        // A map of 14 named fields: fixmap marker 0x8e.
        assert_eq!(bare[0], 0x8e);
        assert!(!bare.windows(7).any(|w| w == b"prev_ha"));
        envelope.causation_id = Some(9);
        envelope.prev_hash = Some([7; 32]);
        envelope.event_hash = Some([8; 32]);
        envelope.inner_event_payload_schema_ref = Some("orders.v1".into());
        let full = envelope.encode().unwrap();
        assert_eq!(full[0], 0xde, "18 fields need a map16");
        assert_eq!(EventStreamEnvelope::decode(&full).unwrap(), envelope);
        assert!(EventStreamEnvelope::decode(b"\xc1").is_err());
        assert_eq!(
            EVENT_STREAM_ENVELOPE_SCHEMA,
            "batpak.event-stream-envelope.v1"
        );
    }
}
