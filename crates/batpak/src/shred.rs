//! The selector of a shred, and the key-scope ids that name keys.
//!
//! A key-scope id is the bytes that name a key in the keyset file (layout in
//! `docs/FORMAT.md`); the event's id, kind and coordinate give it under the
//! store's [`KeyScopeGranularity`], and a [`ShredScope`] names one when it
//! fits the granularity.

// Without the feature nothing seals, so only the tests use these.
#![cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]

use crate::coordinate::Coordinate;
use crate::id::EventId;
use crate::keyscope::KeyScopeGranularity;
use crate::kind::EventKind;

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
        assert!(!fits(
            KeyScopeGranularity::PerEntity,
            &ShredScope::Event(id)
        ));
        assert!(!fits(
            KeyScopeGranularity::PerCategory,
            &ShredScope::Entity(&c)
        ));
        assert!(!fits(
            KeyScopeGranularity::PerTypeId,
            &ShredScope::Event(id)
        ));
        assert!(!fits(KeyScopeGranularity::PerEvent, &ShredScope::Kind(k)));
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
