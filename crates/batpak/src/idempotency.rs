//! The writer's memory of idempotency keys, with its retention rule.
//!
//! Keys are durable because each event's frame carries its key (covered by
//! `event_hash`). The sidecar file `IDEMPOTENCY` is a snapshot written when a
//! segment is sealed and at close, so that open does not reread sealed
//! frames; a missing, stale or corrupt sidecar is reported and the keys are
//! rebuilt from the log.

use std::collections::{HashMap, VecDeque};

use foldhash::fast::RandomState;

use crate::format::KeyRecord;
use crate::id::IdempotencyKey;

/// Keys of recent appends. Every key whose event lies within `window`
/// global sequences of the newest event is kept; older keys are evicted,
/// oldest first, only while more than `capacity` keys are held.
#[derive(Debug)]
pub(crate) struct KeyIndex {
    map: HashMap<IdempotencyKey, KeyRecord, RandomState>,
    order: VecDeque<(u64, IdempotencyKey)>,
    window: u64,
    capacity: usize,
}

impl KeyIndex {
    pub(crate) fn new(window: u64, capacity: usize) -> Self {
        Self {
            map: HashMap::default(),
            order: VecDeque::new(),
            window,
            capacity,
        }
    }

    pub(crate) fn get(&self, key: &IdempotencyKey) -> Option<&KeyRecord> {
        self.map.get(key)
    }

    /// Remembers a key; `next_global_sequence` is one past the newest event.
    pub(crate) fn insert(&mut self, rec: KeyRecord, next_global_sequence: u64) {
        if self.map.insert(rec.key, rec).is_none() {
            self.order.push_back((rec.global_sequence, rec.key));
        }
        self.evict(next_global_sequence);
    }

    fn evict(&mut self, next_global_sequence: u64) {
        let window_start = next_global_sequence.saturating_sub(self.window);
        while self.map.len() > self.capacity {
            match self.order.front() {
                Some(&(gs, key)) if gs < window_start => {
                    self.order.pop_front();
                    self.map.remove(&key);
                }
                _ => break,
            }
        }
    }

    /// Every remembered key, oldest first.
    pub(crate) fn records(&self) -> Vec<KeyRecord> {
        self.order
            .iter()
            .filter_map(|(_, k)| self.map.get(k).copied())
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::EventId;

    fn rec(i: u64) -> KeyRecord {
        KeyRecord {
            key: IdempotencyKey::from_bytes((u128::from(i)).to_be_bytes()),
            event_id: EventId::from_u128(u128::from(i)),
            global_sequence: i,
            content_hash: [0; 32],
        }
    }

    #[test]
    fn cap_only_evicts_keys_outside_the_window() {
        let mut k = KeyIndex::new(10, 3);
        for i in 0..20 {
            k.insert(rec(i), i + 1);
        }
        // Window covers sequences 10..20: all ten are kept although the cap is 3.
        assert_eq!(k.len(), 10);
        assert!(k.get(&rec(10).key).is_some());
        assert!(k.get(&rec(9).key).is_none());
        let mut k = KeyIndex::new(2, 100);
        for i in 0..50 {
            k.insert(rec(i), i + 1);
        }
        assert_eq!(k.len(), 50, "under the cap nothing is evicted");
        assert_eq!(k.records().first().map(|r| r.global_sequence), Some(0));
    }
}
