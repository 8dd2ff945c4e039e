//! The store-backed effect backend, receipt sink and status sink.
//!
//! Event kinds and payloads:
//!
//! | kind | written by | payload (MessagePack, named fields) |
//! |---|---|---|
//! | [`RECEIPT_EVENT_KIND`] `custom(0xC, 0x5B7)` | [`StoreReceiptSink`] | [`ReceiptEnvelope`]: `descriptor_name`, `receipt_kind`, `input_hash` (`bin` 32 or nil), `output_hash`, `outcome` (`"completed"` or `{"failed": {code, message}}` / `{"denied": {code, message}}`), `signed_extensions` and `local_extensions` (maps of `bin`), `effects` (list of `{axis, target, event_id?}`) |
//! | [`STATUS_EVENT_KIND`] `custom(0xC, 0x5B9)` | [`StoreOperationStatusSink`] | [`OperationStatusFact`]: `operation`, `status` (`started`/`completed`/`failed`/`denied`), `receipt_kind`, and when present `code`, `message`, `input_hash`, `output_hash` |

use std::collections::HashMap;
use std::sync::Arc;

use batpak::{
    Coordinate, EventKind, EventSourced, Freshness, Region, Store, StoreError, StoreReader,
};
use serde::Serialize;

use crate::backend::{AppendedEvent, EffectBackend, EffectError, ReadEvent, ReadRequest};
use crate::receipt::{ReceiptEnvelope, ReceiptSink, RecordedReceipt, SinkError};
use crate::row::EffectAxis;
use crate::status::{OperationStatusFact, OperationStatusSink};

/// Kind of the receipt events [`StoreReceiptSink`] appends.
pub const RECEIPT_EVENT_KIND: EventKind = EventKind::custom(0xC, 0x5B7);

/// Kind of the status events [`StoreOperationStatusSink`] appends.
pub const STATUS_EVENT_KIND: EventKind = EventKind::custom(0xC, 0x5B9);

type ProjectionFn =
    Box<dyn Fn(&StoreReader, &str) -> Result<Option<Vec<u8>>, StoreError> + Send + Sync>;

/// Performs effects against a [`Store`]: appends go to its coordinate (or
/// the one a handler names with `append_event_to`), reads and projection
/// queries read the store. Host controls are not a store's to perform and
/// fail closed ([`EffectError::Unsupported`]).
///
/// ```
/// use std::sync::Arc;
/// use batpak::prelude::*;
/// use syncbat::{AppendedEvent, EffectBackend, StoreEffectBackend};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
/// let backend = StoreEffectBackend::new(store.clone(), Coordinate::new("bank:ops", "bank")?);
/// let e: AppendedEvent = backend.append_event(None, EventKind::custom(0xE, 1), &[0x81, 0xa1, b'n', 0x01])?;
/// assert_eq!(store.get(e.event_id)?.event.payload["n"], 1);
/// # Ok(()) }
/// ```
pub struct StoreEffectBackend {
    store: Arc<Store>,
    coordinate: Coordinate,
    projections: HashMap<String, ProjectionFn>,
}

impl std::fmt::Debug for StoreEffectBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreEffectBackend")
            .field("coordinate", &self.coordinate)
            .field("projections", &self.projections.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl StoreEffectBackend {
    /// A backend appending to `coordinate` by default.
    pub fn new(store: Arc<Store>, coordinate: Coordinate) -> Self {
        Self {
            store,
            coordinate,
            projections: HashMap::new(),
        }
    }

    /// Makes projection `T` queryable as `id`: a query folds the entity's
    /// events consistently and returns the state as MessagePack (named fields).
    pub fn with_projection<T: EventSourced + 'static>(mut self, id: impl Into<String>) -> Self {
        let f: ProjectionFn = Box::new(|reader: &StoreReader, entity: &str| {
            let state: Option<T> = reader.project(entity, &Freshness::Consistent)?;
            state
                .map(|s| {
                    rmp_serde::to_vec_named(&s).map_err(|e| StoreError::Serialization {
                        source: Box::new(e),
                    })
                })
                .transpose()
        });
        self.projections.insert(id.into(), f);
        self
    }

    /// The default append coordinate.
    pub fn coordinate(&self) -> &Coordinate {
        &self.coordinate
    }
}

/// Decodes exactly one MessagePack value, refusing trailing bytes.
fn one_value(payload: &[u8]) -> Result<rmpv::Value, EffectError> {
    let mut rest = payload;
    let value = rmpv::decode::read_value(&mut rest).map_err(|e| EffectError::InvalidPayload {
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(EffectError::InvalidPayload {
            reason: format!("{} bytes after the value", rest.len()),
        });
    }
    Ok(value)
}

impl EffectBackend for StoreEffectBackend {
    fn append_event(
        &self,
        coordinate: Option<&Coordinate>,
        kind: EventKind,
        payload: &[u8],
    ) -> Result<AppendedEvent, EffectError> {
        let value = one_value(payload)?;
        let coordinate = coordinate.unwrap_or(&self.coordinate);
        Ok(self.store.append(coordinate, kind, &value)?.into())
    }

    fn read_events(
        &self,
        _kind: EventKind,
        request: &ReadRequest,
    ) -> Result<Vec<ReadEvent>, EffectError> {
        let entries = self
            .store
            .query_entries_after(&request.region, request.after, request.limit);
        entries
            .into_iter()
            .map(|entry| {
                let raw = self.store.read_raw(entry.event_id())?;
                Ok(ReadEvent::new(entry, raw.event.payload))
            })
            .collect()
    }

    fn query_projection(
        &self,
        projection: &str,
        entity: &str,
    ) -> Result<Option<Vec<u8>>, EffectError> {
        let f = self
            .projections
            .get(projection)
            .ok_or_else(|| EffectError::UnknownProjection {
                projection: projection.to_owned(),
            })?;
        Ok(f(self.store.reader(), entity)?)
    }

    fn use_host_control(&self, _control: &str, _input: &[u8]) -> Result<Vec<u8>, EffectError> {
        Err(EffectError::Unsupported {
            axis: EffectAxis::HostControl,
        })
    }
}

/// Appends each receipt as an event of [`RECEIPT_EVENT_KIND`] to its
/// coordinate, signed when the store signs. Read them back with
/// [`read_receipt`] or `store.get_as::<ReceiptEnvelope>(id)`.
#[derive(Debug, Clone)]
pub struct StoreReceiptSink {
    store: Arc<Store>,
    coordinate: Coordinate,
}

impl StoreReceiptSink {
    /// A sink appending to `coordinate`.
    pub fn new(store: Arc<Store>, coordinate: Coordinate) -> Self {
        Self { store, coordinate }
    }
}

impl ReceiptSink for StoreReceiptSink {
    fn record_receipt(&self, envelope: &ReceiptEnvelope) -> Result<RecordedReceipt, SinkError> {
        let receipt = self
            .store
            .append(&self.coordinate, RECEIPT_EVENT_KIND, envelope)?;
        Ok(RecordedReceipt::new(envelope.clone()).with_store_receipt(receipt))
    }
}

/// Reads a receipt event back; fails with [`StoreError::KindMismatch`] on
/// an event of another kind.
///
/// ```
/// # use std::sync::Arc;
/// # use batpak::prelude::*;
/// # use syncbat::{ReceiptEnvelope, ReceiptOutcome, ReceiptSink, StoreReceiptSink};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
/// let sink = StoreReceiptSink::new(store.clone(), Coordinate::new("syncbat:receipts", "bank")?);
/// let r = sink.record_receipt(&ReceiptEnvelope::new("ping", "receipt.ping.v1", ReceiptOutcome::Completed))?;
/// let id = r.store_receipt.as_ref().map(|s| s.event_id).ok_or("no receipt")?;
/// assert_eq!(syncbat::read_receipt(store.reader(), id)?, r.envelope);
/// # Ok(()) }
/// ```
pub fn read_receipt(
    reader: &StoreReader,
    id: batpak::EventId,
) -> Result<ReceiptEnvelope, StoreError> {
    let ev = reader.get_as::<ReceiptEnvelope>(id)?;
    if ev.event.header.kind != RECEIPT_EVENT_KIND {
        return Err(StoreError::KindMismatch {
            event_id: id,
            expected: RECEIPT_EVENT_KIND,
            found: ev.event.header.kind,
        });
    }
    Ok(ev.event.payload)
}

/// Every receipt under `region` (narrowed to [`RECEIPT_EVENT_KIND`]), in commit order.
pub fn read_receipts(
    reader: &StoreReader,
    region: &Region,
) -> Result<Vec<ReceiptEnvelope>, StoreError> {
    reader
        .query(&region.clone().with_kind(RECEIPT_EVENT_KIND))
        .iter()
        .map(|e| read_receipt(reader, e.event_id()))
        .collect()
}

/// Appends each status fact as an event of [`STATUS_EVENT_KIND`], one entity
/// per operation: `syncbat:operation-status:<operation>` in scope
/// `scope:operation-status`.
#[derive(Debug, Clone)]
pub struct StoreOperationStatusSink {
    store: Arc<Store>,
}

/// Scope of the status entities.
pub const STATUS_SCOPE: &str = "scope:operation-status";
/// Prefix of the status entities; the operation name follows.
pub const STATUS_ENTITY_PREFIX: &str = "syncbat:operation-status:";

/// The coordinate of operation `operation`'s status stream.
///
/// ```
/// let c = syncbat::status_coordinate("bank.deposit").unwrap();
/// assert_eq!(c.entity(), "syncbat:operation-status:bank.deposit");
/// ```
pub fn status_coordinate(operation: &str) -> Result<Coordinate, StoreError> {
    Coordinate::new(format!("{STATUS_ENTITY_PREFIX}{operation}"), STATUS_SCOPE)
}

impl StoreOperationStatusSink {
    /// A sink appending to `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }
}

impl OperationStatusSink for StoreOperationStatusSink {
    fn record_status(&self, fact: &OperationStatusFact) -> Result<(), SinkError> {
        let coordinate = status_coordinate(&fact.operation)?;
        self.store.append(&coordinate, STATUS_EVENT_KIND, fact)?;
        Ok(())
    }
}

/// Encodes `value` as the MessagePack bytes a handler hands to `append_event`.
///
/// ```
/// assert_eq!(syncbat::to_msgpack(&serde_json::json!({"n": 1})).unwrap(), [0x81, 0xa1, b'n', 0x01]);
/// ```
pub fn to_msgpack<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_must_be_exactly_one_value() {
        assert!(one_value(&[0x01]).is_ok());
        assert!(matches!(
            one_value(&[0x01, 0x02]),
            Err(EffectError::InvalidPayload { .. })
        ));
        assert!(matches!(
            one_value(&[]),
            Err(EffectError::InvalidPayload { .. })
        ));
        assert!(matches!(
            one_value(&[0x81]),
            Err(EffectError::InvalidPayload { .. })
        ));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_backend_describes_its_coordinate_and_projections() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(batpak::StoreConfig::new(dir.path())).unwrap());
        let backend = StoreEffectBackend::new(store, Coordinate::new("bank:ops", "bank").unwrap());
        let text = format!("{backend:?}");
        assert!(text.starts_with("StoreEffectBackend"), "{text}");
        assert!(text.contains("bank:ops"), "{text}");
        assert!(text.contains("projections"), "{text}");
    }

    #[test]
    fn kinds_are_the_published_ones() {
        assert_eq!(RECEIPT_EVENT_KIND.as_u16(), 0xC5B7);
        assert_eq!(STATUS_EVENT_KIND.as_u16(), 0xC5B9);
    }
}
