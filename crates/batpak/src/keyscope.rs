//! Key scopes of payload encryption: which events share a key, and which
//! key a shred destroys.
//!
//! With payload encryption on (feature `payload-encryption`), every user
//! event's payload is sealed under the key of its scope, and
//! [`Store::shred_scope`](crate::Store) destroys one scope's key. The
//! granularity decides what a scope is; it is chosen once per store and
//! recorded in the keyset file. These are plain values, compiled in every
//! build, so that a build without the feature can still name a store's
//! granularity in an error.

// Without the feature only the decoders that let a build refuse or report
// an encrypted store are used; the rest is compiled (and tested) all the same.
#![cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]

use crate::coordinate::Coordinate;
use crate::id::EventId;
use crate::kind::EventKind;

/// Which events share an encryption key, so which events one shred makes
/// unreadable.
///
/// ```
/// use batpak::KeyScopeGranularity;
/// assert_eq!(KeyScopeGranularity::default(), KeyScopeGranularity::PerEntity);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyScopeGranularity {
    /// One key per entity: shredding an entity forgets every payload of it.
    #[default]
    PerEntity,
    /// One key per kind category (the upper four bits of the kind).
    PerCategory,
    /// One key per kind (category and type id).
    PerTypeId,
    /// One key per event: each event can be shredded on its own.
    PerEvent,
}

impl KeyScopeGranularity {
    /// The byte that records the granularity in the keyset file.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::PerEntity => 1,
            Self::PerCategory => 2,
            Self::PerTypeId => 3,
            Self::PerEvent => 4,
        }
    }

    /// The granularity recorded as `code`, if it is one.
    pub(crate) const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::PerEntity),
            2 => Some(Self::PerCategory),
            3 => Some(Self::PerTypeId),
            4 => Some(Self::PerEvent),
            _ => None,
        }
    }

    /// What a [`ShredScope`] selector must name under this granularity.
    pub(crate) const fn selector(self) -> &'static str {
        match self {
            Self::PerEntity => "ShredScope::Entity",
            Self::PerCategory | Self::PerTypeId => "ShredScope::Kind",
            Self::PerEvent => "ShredScope::Event",
        }
    }
}

impl std::fmt::Display for KeyScopeGranularity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PerEntity => "PerEntity",
            Self::PerCategory => "PerCategory",
            Self::PerTypeId => "PerTypeId",
            Self::PerEvent => "PerEvent",
        })
    }
}

/// What [`Store::shred_scope`](crate::Store) destroys the key of. The selector
/// must fit the store's [`KeyScopeGranularity`]: `Entity` for `PerEntity`,
/// `Kind` for `PerCategory` (the kind's whole category) and `PerTypeId`,
/// `Event` for `PerEvent`.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::ShredScope;
/// # fn main() -> Result<(), StoreError> {
/// let alice = Coordinate::new("person:alice", "crm")?;
/// let scope = ShredScope::Entity(&alice);
/// assert!(matches!(scope, ShredScope::Entity(c) if c.entity() == "person:alice"));
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShredScope<'a> {
    /// The entity of this coordinate (its scope part is not used).
    Entity(&'a Coordinate),
    /// This kind (`PerTypeId`) or its category (`PerCategory`).
    Kind(EventKind),
    /// This one event.
    Event(EventId),
}

impl ShredScope<'_> {
    /// The selector's name, for errors.
    pub(crate) const fn name(&self) -> &'static str {
        match self {
            Self::Entity(_) => "ShredScope::Entity",
            Self::Kind(_) => "ShredScope::Kind",
            Self::Event(_) => "ShredScope::Event",
        }
    }
}

/// Tags of the key-scope id bytes (the first byte; see `docs/FORMAT.md`).
const TAG_ENTITY: u8 = 1;
const TAG_CATEGORY: u8 = 2;
const TAG_KIND: u8 = 3;
const TAG_EVENT: u8 = 4;

/// The key-scope id of an event: the bytes naming its key in the keyset.
/// `[1][entity UTF-8]`, `[2][category]`, `[3][kind u16 LE]` or
/// `[4][event id 16, big-endian]`.
pub(crate) fn scope_id(
    granularity: KeyScopeGranularity,
    coordinate: &Coordinate,
    kind: EventKind,
    event_id: EventId,
) -> Vec<u8> {
    match granularity {
        KeyScopeGranularity::PerEntity => tagged(TAG_ENTITY, coordinate.entity().as_bytes()),
        KeyScopeGranularity::PerCategory => vec![TAG_CATEGORY, kind.category()],
        KeyScopeGranularity::PerTypeId => tagged(TAG_KIND, &kind.as_u16().to_le_bytes()),
        KeyScopeGranularity::PerEvent => tagged(TAG_EVENT, &event_id.to_bytes()),
    }
}

/// The key-scope id a shred selector names, or `None` when the selector
/// does not fit the granularity.
pub(crate) fn selector_scope_id(
    granularity: KeyScopeGranularity,
    selector: &ShredScope<'_>,
) -> Option<Vec<u8>> {
    match (granularity, selector) {
        (KeyScopeGranularity::PerEntity, ShredScope::Entity(c)) => {
            Some(tagged(TAG_ENTITY, c.entity().as_bytes()))
        }
        (KeyScopeGranularity::PerCategory, ShredScope::Kind(k)) => {
            Some(vec![TAG_CATEGORY, k.category()])
        }
        (KeyScopeGranularity::PerTypeId, ShredScope::Kind(k)) => {
            Some(tagged(TAG_KIND, &k.as_u16().to_le_bytes()))
        }
        (KeyScopeGranularity::PerEvent, ShredScope::Event(id)) => {
            Some(tagged(TAG_EVENT, &id.to_bytes()))
        }
        _ => None,
    }
}

fn tagged(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + rest.len());
    v.push(tag);
    v.extend_from_slice(rest);
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ALL: [KeyScopeGranularity; 4] = [
        KeyScopeGranularity::PerEntity,
        KeyScopeGranularity::PerCategory,
        KeyScopeGranularity::PerTypeId,
        KeyScopeGranularity::PerEvent,
    ];

    #[test]
    fn granularity_codes_round_trip_and_unknown_codes_are_refused() {
        for g in ALL {
            assert_eq!(KeyScopeGranularity::from_code(g.code()), Some(g));
        }
        for code in [0u8, 5, 0xFF] {
            assert_eq!(KeyScopeGranularity::from_code(code), None);
        }
    }

    #[test]
    fn scope_ids_are_exact_and_the_selector_names_the_same_bytes() {
        let c = Coordinate::new("person:a", "crm").unwrap();
        let k = EventKind::custom(0xE, 0x123);
        let id = EventId::from_u128(0x0102_0304);
        let ids: Vec<Vec<u8>> = ALL.iter().map(|g| scope_id(*g, &c, k, id)).collect();
        assert_eq!(ids[0], b"\x01person:a".to_vec());
        assert_eq!(ids[1], vec![2, 0xE]);
        assert_eq!(ids[2], vec![3, 0x23, 0xE1]);
        let mut ev = vec![4];
        ev.extend_from_slice(&id.to_bytes());
        assert_eq!(ids[3], ev);
        let selectors = [
            ShredScope::Entity(&c),
            ShredScope::Kind(k),
            ShredScope::Kind(k),
            ShredScope::Event(id),
        ];
        for ((g, sel), want) in ALL.iter().zip(selectors).zip(&ids) {
            assert_eq!(selector_scope_id(*g, &sel).as_ref(), Some(want), "{g}");
        }
    }

    #[test]
    fn a_selector_of_another_granularity_names_nothing() {
        let c = Coordinate::new("person:a", "crm").unwrap();
        let k = EventKind::custom(0xE, 1);
        let id = EventId::from_u128(1);
        let fits = |g: KeyScopeGranularity, s: &ShredScope<'_>| selector_scope_id(g, s).is_some();
        assert!(!fits(KeyScopeGranularity::PerEntity, &ShredScope::Kind(k)));
        assert!(!fits(KeyScopeGranularity::PerEntity, &ShredScope::Event(id)));
        assert!(!fits(KeyScopeGranularity::PerCategory, &ShredScope::Entity(&c)));
        assert!(!fits(KeyScopeGranularity::PerTypeId, &ShredScope::Event(id)));
        assert!(!fits(KeyScopeGranularity::PerEvent, &ShredScope::Kind(k)));
        assert_eq!(KeyScopeGranularity::PerCategory.selector(), "ShredScope::Kind");
        assert_eq!(ShredScope::Event(id).name(), "ShredScope::Event");
    }

    #[test]
    fn another_entity_kind_or_event_is_another_scope() {
        let a = Coordinate::new("a", "s").unwrap();
        let b = Coordinate::new("b", "s").unwrap();
        let a2 = Coordinate::new("a", "other").unwrap();
        let k1 = EventKind::custom(0xE, 1);
        let k2 = EventKind::custom(0xE, 2);
        let k3 = EventKind::custom(0xC, 1);
        let (i1, i2) = (EventId::from_u128(1), EventId::from_u128(2));
        let s = |g, c, k, i| scope_id(g, c, k, i);
        use KeyScopeGranularity::*;
        assert_eq!(s(PerEntity, &a, k1, i1), s(PerEntity, &a2, k2, i2));
        assert_ne!(s(PerEntity, &a, k1, i1), s(PerEntity, &b, k1, i1));
        assert_eq!(s(PerCategory, &a, k1, i1), s(PerCategory, &b, k2, i2));
        assert_ne!(s(PerCategory, &a, k1, i1), s(PerCategory, &a, k3, i1));
        assert_ne!(s(PerTypeId, &a, k1, i1), s(PerTypeId, &a, k2, i1));
        assert_ne!(s(PerEvent, &a, k1, i1), s(PerEvent, &a, k1, i2));
    }
}
