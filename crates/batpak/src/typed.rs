//! Typed payloads: a Rust type bound to one event kind and schema version.

use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::event::{Event, StoredEvent};
use crate::id::EventId;
use crate::kind::EventKind;
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
    /// Decodes a raw event (from [`Store::read_raw`](crate::Store::read_raw)) into `T`, with the
    /// same checks as [`Store::get_typed`](crate::Store::get_typed): the kind must be `T::KIND`,
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
        source: Box::new(e),
    })
}
