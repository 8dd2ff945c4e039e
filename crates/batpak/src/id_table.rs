//! Event id → index position, in 8 bytes per event.
//!
//! Each slot holds a 32-bit fingerprint of the id's hash and a 32-bit
//! position. The table never stores ids: a lookup confirms a candidate by
//! comparing the id of the entry at its position, and growing the table
//! rehashes from fingerprints alone, without touching the entries. A slot of
//! 8 bytes (instead of 24 for an id and a `usize`) keeps a million events'
//! table within 16 MiB, which is what makes opening a large store fast.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::id::EventId;

/// Event id → position in the index's entry list.
#[derive(Default)]
pub(crate) struct IdTable {
    table: HashTable<(u32, u32)>,
    /// Positions that do not fit in 32 bits (beyond four billion events).
    overflow: HashMap<EventId, usize, RandomState>,
    hasher: RandomState,
}

/// Spreads a fingerprint over 64 bits: the table takes its bucket from the
/// low bits and its control tag from the top bits.
fn spread(fingerprint: u32) -> u64 {
    u64::from(fingerprint).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl IdTable {
    fn fingerprint(&self, id: EventId) -> u32 {
        // Truncation is the point: the fingerprint is the low half of the hash.
        self.hasher.hash_one(id) as u32
    }

    /// Number of ids held.
    pub(crate) fn len(&self) -> usize {
        self.table.len() + self.overflow.len()
    }

    /// Makes room for `additional` more ids.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.table
            .reserve(additional, |&(fingerprint, _)| spread(fingerprint));
    }

    /// An empty table whose fingerprints agree with this one's, so it can be
    /// filled elsewhere and merged back with [`IdTable::absorb`].
    pub(crate) fn empty_like(&self) -> Self {
        Self {
            hasher: self.hasher,
            ..Self::default()
        }
    }

    /// Records `ids[i]` at position `first + i`.
    pub(crate) fn insert_run(&mut self, first: usize, ids: &[EventId]) {
        self.reserve(ids.len());
        for (i, id) in ids.iter().enumerate() {
            self.insert(*id, first + i);
        }
    }

    /// Moves every entry of `other` (made by [`IdTable::empty_like`]) into this table.
    pub(crate) fn absorb(&mut self, other: IdTable) {
        self.reserve(other.table.len());
        for (fingerprint, pos) in other.table {
            self.table
                .insert_unique(spread(fingerprint), (fingerprint, pos), |&(f, _)| spread(f));
        }
        self.overflow.extend(other.overflow);
    }

    /// Records that `id` is at `pos`. Ids are unique in a store (the writer
    /// generates them), so the table does not look for an earlier copy.
    pub(crate) fn insert(&mut self, id: EventId, pos: usize) {
        let fingerprint = self.fingerprint(id);
        match u32::try_from(pos) {
            Ok(p) => {
                self.table
                    .insert_unique(spread(fingerprint), (fingerprint, p), |&(f, _)| spread(f));
            }
            Err(_) => {
                self.overflow.entry(id).or_insert(pos);
            }
        }
    }

    /// The position of `id`; `id_at` gives the id stored at a position.
    pub(crate) fn find(&self, id: EventId, id_at: impl Fn(usize) -> EventId) -> Option<usize> {
        let fingerprint = self.fingerprint(id);
        self.table
            .find(spread(fingerprint), |&(f, p)| {
                f == fingerprint && id_at(p as usize) == id
            })
            .map(|&(_, p)| p as usize)
            .or_else(|| self.overflow.get(&id).copied())
    }
}

impl fmt::Debug for IdTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTable").field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_inserted_id_and_nothing_else() {
        let ids: Vec<EventId> = (0..50_000u128)
            .map(|i| EventId::from_u128(i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)))
            .collect();
        let mut t = IdTable::default();
        for (pos, id) in ids.iter().enumerate() {
            t.insert(*id, pos);
        }
        assert_eq!(t.len(), ids.len());
        for (pos, id) in ids.iter().enumerate() {
            assert_eq!(t.find(*id, |p| ids[p]), Some(pos));
        }
        for i in 0..1000u128 {
            assert_eq!(t.find(EventId::from_u128(!i), |p| ids[p]), None);
        }
    }

    #[test]
    fn a_lookup_is_confirmed_by_the_stored_id() {
        let ids = [EventId::from_u128(1), EventId::from_u128(2)];
        let mut t = IdTable::default();
        t.insert(ids[0], 0);
        t.insert(ids[1], 1);
        assert_eq!(t.find(ids[1], |p| ids[p]), Some(1));
        assert_eq!(t.find(ids[0], |p| ids[p]), Some(0));
        // A lookup whose stored id differs is not a hit.
        assert_eq!(t.find(ids[0], |_| EventId::from_u128(9)), None);
    }

    #[test]
    fn positions_beyond_32_bits_are_kept_apart_and_found() {
        let far = u32::MAX as usize + 7;
        let ids = [EventId::from_u128(5), EventId::from_u128(6)];
        let mut t = IdTable::default();
        t.insert(ids[0], 3);
        t.insert(ids[1], far);
        assert_eq!(t.len(), 2);
        let id_at = |p: usize| if p == 3 { ids[0] } else { ids[1] };
        assert_eq!(t.find(ids[1], id_at), Some(far));
        assert_eq!(t.find(ids[0], id_at), Some(3));
        let mut other = t.empty_like();
        other.absorb(t);
        assert_eq!(other.len(), 2);
        assert_eq!(other.find(ids[1], id_at), Some(far));
        assert_eq!(format!("{other:?}"), "IdTable { len: 2 }");
    }

    #[test]
    fn tables_filled_apart_merge_into_one() {
        let ids: Vec<EventId> = (0..3000u128)
            .map(|i| EventId::from_u128(i * 7 + 3))
            .collect();
        let mut main = IdTable::default();
        let mut side = main.empty_like();
        side.insert_run(0, &ids[..2000]);
        main.insert_run(2000, &ids[2000..]);
        main.absorb(side);
        assert_eq!(main.len(), ids.len());
        for (pos, id) in ids.iter().enumerate() {
            assert_eq!(main.find(*id, |p| ids[p]), Some(pos));
        }
    }
}
