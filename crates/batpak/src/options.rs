//! Per-append options: optimistic concurrency, idempotency, correlation, causation; batch items.

use serde::Serialize;

use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::id::{CorrelationId, EventId, IdempotencyKey};
use crate::kind::EventKind;
use crate::sequence::ExpectedSequence;

/// What caused an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CausationRef {
    /// Nothing recorded.
    #[default]
    None,
    /// A committed event, which must exist.
    Event(EventId),
    /// An earlier item (by index) of the same batch.
    PriorItem(usize),
}

/// Options of one append.
///
/// ```
/// use batpak::prelude::*;
/// let opts = AppendOptions::default()
///     .with_expected_sequence(ExpectedSequence::NoStream)
///     .with_idempotency_key(IdempotencyKey::from_bytes([1; 16]))
///     .with_correlation_id(CorrelationId::from_u128(7));
/// # let _ = opts;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AppendOptions {
    pub(crate) expected: ExpectedSequence,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation: CausationRef,
    pub(crate) payload_version: Option<u16>,
}

impl AppendOptions {
    /// Refuse the append unless the entity's history matches (`SequenceMismatch`).
    pub fn with_expected_sequence(mut self, expected: ExpectedSequence) -> Self {
        self.expected = expected;
        self
    }

    /// Make the append idempotent under this key.
    pub fn with_idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    /// Record a correlation id.
    pub fn with_correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Record what caused this event.
    pub fn with_causation(mut self, causation: CausationRef) -> Self {
        self.causation = causation;
        self
    }

    /// Record the payload's schema version (typed appends set it from the payload type).
    pub fn with_payload_version(mut self, version: u16) -> Self {
        self.payload_version = Some(version);
        self
    }
}

/// One item of an atomic batch, its payload already encoded.
#[derive(Clone, Debug)]
pub struct BatchAppendItem {
    pub(crate) coordinate: Coordinate,
    pub(crate) kind: EventKind,
    pub(crate) payload: Vec<u8>,
    pub(crate) options: AppendOptions,
}

impl BatchAppendItem {
    /// Encodes `payload` and builds an item. `causation` overrides the one in `options`.
    pub fn new<P: Serialize + ?Sized>(
        coordinate: Coordinate,
        kind: EventKind,
        payload: &P,
        options: AppendOptions,
        causation: CausationRef,
    ) -> Result<Self, StoreError> {
        let payload = crate::event::encode_payload(payload)?;
        Ok(Self {
            coordinate,
            kind,
            payload,
            options: AppendOptions {
                causation,
                ..options
            },
        })
    }

    /// The item's coordinate.
    pub fn coordinate(&self) -> &Coordinate {
        &self.coordinate
    }

    /// Encoded payload size in bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }
}
