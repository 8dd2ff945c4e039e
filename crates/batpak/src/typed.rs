//! Typed payloads: a Rust type bound to one event kind and schema version.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::event::{Event, StoredEvent};
use crate::id::EventId;
use crate::index::IndexEntry;
use crate::kind::EventKind;
use crate::options::AppendOptions;
use crate::receipt::AppendReceipt;
use crate::store::{Store, StoreReader};
use crate::upcast::lift;

/// A payload type bound to one [`EventKind`] and a schema version.
///
/// Derive it with `#[derive(EventPayload)]` and `#[batpak(category = .., type_id = ..,
/// version = ..)]`: the derive also registers the type, which is what lets
/// opening a store detect two types claiming one kind and incomplete upcast
/// chains, and checks at compile time that the type is `Serialize` and
/// `DeserializeOwned` (typed appends need the first, typed reads the second).
/// A hand-written implementation is not registered and escapes those checks.
///
/// ```
/// use batpak::prelude::*;
///
/// #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, EventPayload)]
/// #[batpak(category = 0xE, type_id = 1, version = 1)]
/// struct ThingHappened { id: u64, note: String }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// assert_eq!(ThingHappened::KIND, EventKind::custom(0xE, 1));
/// assert_eq!(ThingHappened::PAYLOAD_VERSION, 1);
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let coord = Coordinate::new("thing:7", "things")?;
/// let receipt = store.append_typed(&coord, &ThingHappened { id: 7, note: "x".into() })?;
/// let ev: StoredEvent<ThingHappened> = store.get_typed(receipt.event_id)?;
/// assert_eq!(ev.event.payload.id, 7);
/// assert_eq!(store.by_fact_typed::<ThingHappened>().len(), 1);
/// # Ok(()) }
/// ```
pub trait EventPayload {
    /// The kind every event of this type is stored under.
    const KIND: EventKind;
    /// The schema version written with each new event (from 1). Reading an
    /// older version lifts it through registered [`crate::Upcast`] steps.
    const PAYLOAD_VERSION: u16 = 1;
}

impl StoredEvent<Vec<u8>> {
    /// Decodes a raw event (from [`StoreReader::read_raw`]) into `T`, with the
    /// same checks as [`StoreReader::get_typed`]: the kind must be `T::KIND`,
    /// the stored version must not be newer than `T::PAYLOAD_VERSION`, and an
    /// older one is lifted through the registered upcast steps.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
    /// # #[batpak(category = 0xE, type_id = 0x310)]
    /// # struct Ping { n: u32 }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let coord = Coordinate::new("e", "s")?;
    /// let id = store.append_typed(&coord, &Ping { n: 3 })?.event_id;
    /// let ping = store.read_raw(id)?.decode_typed::<Ping>()?;
    /// assert_eq!(ping.event.payload.n, 3);
    /// # Ok(()) }
    /// ```
    pub fn decode_typed<T: EventPayload + DeserializeOwned>(
        self,
    ) -> Result<StoredEvent<T>, StoreError> {
        let header = &self.event.header;
        let event_id = header.event_id;
        if header.kind != T::KIND {
            return Err(StoreError::KindMismatch {
                event_id,
                expected: T::KIND,
                found: header.kind,
            });
        }
        let lifted = lift(
            event_id,
            T::KIND,
            header.payload_version,
            T::PAYLOAD_VERSION,
            &self.event.payload,
        )?;
        let bytes = lifted.as_deref().unwrap_or(&self.event.payload);
        let payload = decode(event_id, bytes)?;
        Ok(StoredEvent {
            event: Event {
                header: self.event.header,
                payload,
            },
            coordinate: self.coordinate,
        })
    }
}

fn decode<T: DeserializeOwned>(event_id: EventId, bytes: &[u8]) -> Result<T, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|e| StoreError::Deserialization {
        event_id,
        reason: e.to_string(),
    })
}

impl StoreReader {
    /// The event with this id, decoded into the payload type `T`.
    ///
    /// Fails with [`StoreError::KindMismatch`] when the event is not of
    /// `T::KIND`, [`StoreError::FutureVersion`] when it was written by a newer
    /// schema than `T::PAYLOAD_VERSION`, and lifts older versions through the
    /// registered [`crate::Upcast`] steps (the stored bytes are untouched).
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
    /// # #[batpak(category = 0xE, type_id = 0x311)]
    /// # struct Ping { n: u32 }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let coord = Coordinate::new("e", "s")?;
    /// let receipt = store.append_typed(&coord, &Ping { n: 3 })?;
    /// let ev = store.get_typed::<Ping>(receipt.event_id)?;
    /// assert_eq!(ev.event.payload.n, 3);
    /// assert_eq!(ev.event.header.payload_version, 1);
    /// # Ok(()) }
    /// ```
    pub fn get_typed<T: EventPayload + DeserializeOwned>(
        &self,
        id: EventId,
    ) -> Result<StoredEvent<T>, StoreError> {
        self.read_raw(id)?.decode_typed()
    }

    /// Index entries of every event of `T::KIND`, in commit order.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
    /// # #[batpak(category = 0xE, type_id = 0x312)]
    /// # struct Ping { n: u32 }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # let coord = Coordinate::new("e", "s")?;
    /// store.append_typed(&coord, &Ping { n: 1 })?;
    /// store.append_typed(&coord, &Ping { n: 2 })?;
    /// let entries = store.by_fact_typed::<Ping>();
    /// assert_eq!(entries.len(), 2);
    /// assert!(entries.iter().all(|e| e.kind() == Ping::KIND));
    /// # Ok(()) }
    /// ```
    pub fn by_fact_typed<T: EventPayload>(&self) -> Vec<IndexEntry> {
        self.by_fact(T::KIND)
    }
}

impl Store {
    /// Appends a typed payload under `T::KIND`, recording `T::PAYLOAD_VERSION`
    /// in the event header.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
    /// # #[batpak(category = 0xE, type_id = 0x313, version = 1)]
    /// # struct Ping { n: u32 }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("e", "s")?;
    /// let receipt = store.append_typed(&coord, &Ping { n: 1 })?;
    /// assert_eq!(store.entry(receipt.event_id).map(|e| e.kind()), Some(Ping::KIND));
    /// # Ok(()) }
    /// ```
    pub fn append_typed<T: EventPayload + Serialize>(
        &self,
        coordinate: &Coordinate,
        payload: &T,
    ) -> Result<AppendReceipt, StoreError> {
        self.append_typed_with_options(coordinate, payload, AppendOptions::default())
    }

    /// [`Store::append_typed`] with options (expected sequence, idempotency
    /// key, correlation, causation). The payload version in `options` is
    /// replaced by `T::PAYLOAD_VERSION`: a typed append always records its type's version.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
    /// # #[batpak(category = 0xE, type_id = 0x314, version = 2)]
    /// # struct Ping { n: u32 }
    /// # struct V1; impl Upcast for V1 { const KIND: EventKind = Ping::KIND; const FROM: u16 = 1;
    /// #     fn upcast(v: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, String> { Ok(v) } }
    /// # batpak::register_upcast!(V1);
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("e", "s")?;
    /// let opts = AppendOptions::default().with_correlation_id(CorrelationId::from_u128(9));
    /// let receipt = store.append_typed_with_options(&coord, &Ping { n: 1 }, opts)?;
    /// let ev = store.get_typed::<Ping>(receipt.event_id)?;
    /// assert_eq!(ev.event.header.payload_version, 2);
    /// assert_eq!(ev.event.header.correlation_id, Some(CorrelationId::from_u128(9)));
    /// # Ok(()) }
    /// ```
    pub fn append_typed_with_options<T: EventPayload + Serialize>(
        &self,
        coordinate: &Coordinate,
        payload: &T,
        options: AppendOptions,
    ) -> Result<AppendReceipt, StoreError> {
        let options = options.with_payload_version(T::PAYLOAD_VERSION);
        self.append_with_options(coordinate, T::KIND, payload, options)
    }
}
