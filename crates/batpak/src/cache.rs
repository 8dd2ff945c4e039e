//! A small in-process cache of segment blocks (pages), so that reads of nearby frames
//! share one `pread` instead of paying one system call each.
//!
//! Soundness rests on one fact: the bytes of every frame the index has
//! published never change (frames are append-only; only the footer and the
//! zeros written ahead, both past the last published frame, are ever cut or
//! overwritten). A block therefore records how many of its bytes lay below the
//! segment's last published frame when it was read, and only those bytes are
//! ever served from it.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;
use parking_lot::Mutex;

/// Size of a cached block: one page, so a miss on a store larger than the
/// cache reads little more than the frame itself.
pub(crate) const BLOCK: u64 = 4 * 1024;

struct Slot {
    data: Arc<[u8]>,
    /// Bytes from the block start that were published frames when read.
    valid: usize,
}

#[derive(Default)]
struct Inner {
    map: HashMap<(u64, u64), Slot, RandomState>,
}

/// Blocks keyed by `(segment, block index)`. When full, an arbitrary block
/// (by hash order) makes room: O(1), and close to random eviction.
pub(crate) struct BlockCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlockCache({} blocks max)", self.capacity)
    }
}

impl BlockCache {
    /// A cache of at most `bytes` (rounded down to whole blocks); `None` for 0.
    pub(crate) fn new(bytes: usize) -> Option<Self> {
        let capacity = bytes / BLOCK as usize;
        (capacity > 0).then(|| Self {
            inner: Mutex::new(Inner::default()),
            capacity,
        })
    }

    /// The `len` bytes at `offset` if a cached block holds them as published bytes.
    pub(crate) fn get(&self, segment: u64, offset: u64, len: usize) -> Option<Vec<u8>> {
        let block = offset / BLOCK;
        let start = usize::try_from(offset - block * BLOCK).ok()?;
        let inner = self.inner.lock();
        let slot = inner.map.get(&(segment, block))?;
        if start + len > slot.valid {
            return None;
        }
        Some(slot.data[start..start + len].to_vec())
    }

    /// Stores a block whose first `valid` bytes are published frames.
    pub(crate) fn insert(&self, segment: u64, block: u64, data: Arc<[u8]>, valid: usize) {
        let mut inner = self.inner.lock();
        if inner.map.len() >= self.capacity && !inner.map.contains_key(&(segment, block)) {
            let victim = inner.map.keys().next().copied();
            if let Some(k) = victim {
                inner.map.remove(&k);
            }
        }
        inner.map.insert((segment, block), Slot { data, valid });
    }

    /// Forgets everything (after the segment files were reopened).
    pub(crate) fn clear(&self) {
        self.inner.lock().map.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn serves_only_published_bytes_and_stays_within_capacity() {
        let c = BlockCache::new(2 * BLOCK as usize).unwrap();
        let data: Arc<[u8]> = (0..BLOCK)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        c.insert(1, 0, data.clone(), 1000);
        assert_eq!(c.get(1, 10, 5).unwrap(), data[10..15].to_vec());
        assert!(
            c.get(1, 990, 20).is_none(),
            "bytes past the published end are never served"
        );
        assert!(c.get(2, 10, 5).is_none());
        c.insert(1, 1, data.clone(), BLOCK as usize);
        c.insert(1, 2, data.clone(), BLOCK as usize);
        let held = (0..3)
            .filter(|b| c.get(1, b * BLOCK + 3, 4).is_some())
            .count();
        assert_eq!(held, 2, "one block made room for the third");
        assert!(
            c.get(1, 2 * BLOCK + 3, 4).is_some(),
            "the block just inserted is kept"
        );
        assert!(BlockCache::new(100).is_none());
        c.clear();
        assert!(c.get(1, 10, 5).is_none());
    }
}
