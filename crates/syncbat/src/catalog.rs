//! The durable operation catalog.

use batpak::EventKind;

/// Kind of the catalog events.
pub const CATALOG_EVENT_KIND: EventKind = EventKind::custom(0xC, 0x5B8);
