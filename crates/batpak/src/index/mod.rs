//! The index: where every committed event's frame lives, and what answers
//! the store's queries. It has two tiers:
//!
//! - **parts**, one per sealed segment, in global-sequence order. A part
//!   reads its segment's index file a page at a time through a bounded
//!   [`PageCache`], and holds only its entity, scope and kind rows;
//! - **the memtable** ([`mem::Mem`]), which holds in memory every event
//!   after the last part: the active segment's. It also keeps, for every
//!   entity, its tip and next sequence, which the writer chains from.
//!
//! Open reads each sealed segment's index file head and rows, not its
//! events. A seal turns the memtable into a part; a writer continuing a
//! sealed segment turns its part back into the memtable.

mod mem;
mod pages;
mod part;
mod sealed;

use std::sync::Arc;

use crate::coordinate::Coordinate;
pub(crate) use crate::entry::{IndexEntry, Location};
use crate::error::{Corruption, StoreError};
use crate::id::{CorrelationId, EventId, HlcPoint};
use crate::id_table::IdTable;
use crate::region::Region;

pub(crate) use mem::{BulkLoad, Mem};
pub(crate) use pages::{Heal, IndexSource, PageCache, Rebuild};
pub(crate) use part::{Part, Postings};
pub(crate) use sealed::{PartFrom, SealedSegment};

/// Bytes of index pages the cache holds by default.
pub(crate) const DEFAULT_PAGE_CACHE_BYTES: usize = 64 << 20;

/// What the index holds in memory, and the bound the page cache sets.
///
/// The index's resident memory is about
///
/// ```text
/// FIXED + PER_PART × sealed_parts + PER_ENTITY_ROW × entity_rows
///       + PER_ENTITY × entities + PER_EVENT × memtable_events
///       + sealed_events / 204 × 16 + page_cache_capacity
/// ```
///
/// bytes ([`IndexStats::estimated_bytes`]): a head per sealed segment, a
/// row per entity per sealed segment it has events in, every entity's tip
/// and next sequence, the active segment's events (at most one segment's
/// worth), a fence key per page of each id table read so far, and the page
/// cache (`StoreConfig::with_index_cache_bytes`, default 64 MiB). It grows
/// with segments and entities, not with the events of sealed segments.
///
/// ```
/// # use batpak::prelude::*;
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(StoreConfig::new(dir.path())).unwrap();
/// store.append(&Coordinate::new("e", "s").unwrap(), EventKind::custom(0xE, 1), &1u8).unwrap();
/// let stats = store.index_stats();
/// assert_eq!((stats.memtable_events, stats.entities), (1, 1));
/// assert!(stats.estimated_bytes() > stats.page_cache_bytes as u64);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexStats {
    /// Sealed segments, each a part read from its index file.
    pub sealed_parts: usize,
    /// Events of the sealed parts.
    pub sealed_events: u64,
    /// Entity rows the parts hold (an entity counts once per part it has
    /// events in).
    pub entity_rows: usize,
    /// Events held in memory (the active segment's).
    pub memtable_events: usize,
    /// Entities the index knows.
    pub entities: usize,
    /// Bytes of checked pages in the page cache now.
    pub page_cache_bytes: usize,
    /// The most bytes of pages the cache holds.
    pub page_cache_capacity: usize,
}

impl IndexStats {
    /// Bytes of the index's own structures and allocations.
    pub const FIXED: u64 = 4 << 10;
    /// Bytes per sealed part (its head, maps and fence header).
    pub const PER_PART: u64 = 512;
    /// Bytes per entity row of a part.
    pub const PER_ENTITY_ROW: u64 = 112;
    /// Bytes per entity (tip, next sequence, shared coordinates, name).
    pub const PER_ENTITY: u64 = 160;
    /// Bytes per event held in memory.
    pub const PER_EVENT: u64 = 168;

    /// The formula above, in bytes (the cache counted at its capacity).
    pub fn estimated_bytes(&self) -> u64 {
        Self::FIXED
            + Self::PER_PART * self.sealed_parts as u64
            + Self::PER_ENTITY_ROW * self.entity_rows as u64
            + Self::PER_ENTITY * self.entities as u64
            + Self::PER_EVENT * self.memtable_events as u64
            + self.sealed_events / 204 * 16
            + self.page_cache_capacity as u64
    }
}

/// Everything the index holds. Mutated only by the writer, by compaction
/// (under the writer's lock) and by open.
#[derive(Debug)]
pub(crate) struct Index {
    /// Sealed segments, in global-sequence order, all before the memtable's.
    parts: Vec<Part>,
    /// Events the parts hold.
    parts_len: usize,
    mem: Mem,
    /// The hybrid clock of the newest event.
    pub(crate) last_hlc: HlcPoint,
    cache: Arc<PageCache>,
}

impl Default for Index {
    fn default() -> Self {
        Self::new(DEFAULT_PAGE_CACHE_BYTES)
    }
}

impl Index {
    /// An empty index whose parts share a cache of `cache_bytes` of pages.
    pub(crate) fn new(cache_bytes: usize) -> Self {
        Self {
            parts: Vec::new(),
            parts_len: 0,
            mem: Mem::default(),
            last_hlc: HlcPoint::default(),
            cache: Arc::new(PageCache::new(cache_bytes)),
        }
    }

    /// The page cache parts read through.
    pub(crate) fn cache(&self) -> &Arc<PageCache> {
        &self.cache
    }

    /// Number of committed events the store holds (retired ones not counted).
    pub(crate) fn len(&self) -> usize {
        self.parts_len + self.mem.len()
    }

    /// What it holds in memory.
    pub(crate) fn stats(&self) -> IndexStats {
        IndexStats {
            sealed_parts: self.parts.len(),
            sealed_events: self.parts_len as u64,
            entity_rows: self.parts.iter().map(|p| p.entities().len()).sum(),
            memtable_events: self.mem.len(),
            entities: self.mem.entity_count(),
            page_cache_bytes: self.cache.held_bytes(),
            page_cache_capacity: self.cache.capacity_bytes(),
        }
    }

    /// The global sequence the next event gets: every event ever committed
    /// has a lower one (the size of the log's Merkle tree).
    pub(crate) fn next_global_sequence(&self) -> u64 {
        self.mem.next_global_sequence()
    }

    /// True once a retention compaction removed any event: fewer events
    /// are held than sequences were assigned.
    pub(crate) fn has_retired(&self) -> bool {
        self.next_global_sequence() > self.len() as u64
    }

    /// True for a global sequence below the next one that no event holds:
    /// a retention compaction removed it.
    pub(crate) fn is_retired(&self, global_sequence: u64) -> Result<bool, StoreError> {
        Ok(global_sequence < self.next_global_sequence()
            && self.entry_at(global_sequence)?.is_none())
    }

    /// Shares the index's copy of a name so every entry of an entity points at one string.
    pub(crate) fn intern(&self, entity: &str, scope: &str) -> (Option<Arc<str>>, Option<Arc<str>>) {
        self.mem.intern(entity, scope)
    }

    /// The coordinate the index's entries of `entity` under `scope` share.
    pub(crate) fn shared_coordinate(&self, entity: &str, scope: &str) -> Option<Coordinate> {
        self.mem.shared_coordinate(entity, scope)
    }

    /// A coordinate shared with the index where possible.
    pub(crate) fn interned_coordinate(&self, c: &Coordinate) -> Coordinate {
        self.mem.interned_coordinate(c)
    }

    /// `(next entity_sequence, tip hash)` of an entity.
    pub(crate) fn entity_tip(&self, entity: &str) -> (u64, [u8; 32]) {
        self.mem.entity_tip(entity)
    }

    /// Adds a committed event. `entry.global_sequence` must be the next one.
    pub(crate) fn push(
        &mut self,
        entry: IndexEntry,
        tip: Option<[u8; 32]>,
        correlation: Option<CorrelationId>,
        causation: Option<EventId>,
    ) {
        self.mem.push(entry, tip, correlation, causation);
    }

    /// Starts loading a segment's events into the memtable in bulk (see [`Mem::bulk_load`]).
    pub(crate) fn bulk_load(
        &mut self,
        entities: Vec<Arc<str>>,
        scopes: Vec<Arc<str>>,
        rows: usize,
    ) -> BulkLoad<'_> {
        self.mem.bulk_load(entities, scopes, rows)
    }

    /// An empty id table for the memtable (see [`Mem::id_table_like`]).
    pub(crate) fn id_table_like(&self) -> IdTable {
        self.mem.id_table_like()
    }

    /// Adds the ids of a table made by [`Index::id_table_like`].
    pub(crate) fn absorb_ids(&mut self, table: IdTable) {
        self.mem.absorb_ids(table);
    }

    /// What a version-2 footer says of the range: the next global sequence
    /// is at least `next`.
    pub(crate) fn note_range_end(&mut self, next: u64) {
        self.mem.note_range_end(next);
    }

    /// End of the last indexed frame of `segment` (0 if none).
    pub(crate) fn segment_end(&self, segment: u64) -> u64 {
        self.mem.segment_end(segment)
    }

    /// Every entity name the index knows.
    pub(crate) fn entity_names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.mem.entity_names()
    }

    /// Opens a part of `source`'s index file, sharing the names the index
    /// already has (it learns new ones only when the part is added).
    pub(crate) fn open_part(&self, segment: u64, source: IndexSource) -> Result<Part, StoreError> {
        Part::open(segment, source, &mut |t, n| {
            let shared = match t {
                Postings::Scope => self.mem.intern("", n).1,
                _ => self.mem.intern(n, "").0,
            };
            shared.unwrap_or_else(|| Arc::from(n))
        })
    }

    /// Adds the part of the next sealed segment at open: its range must
    /// start where the index ends, and each entity's sequences where they
    /// left off (at or after, past a retention).
    pub(crate) fn load_part(
        &mut self,
        path: &std::path::Path,
        part: Part,
    ) -> Result<(), StoreError> {
        // Parts come before the memtable's events, in commit order.
        if self.mem.len() != 0 || part.base() != self.next_global_sequence() {
            return Err(StoreError::corrupt_segment(
                path,
                part.frames_end(),
                Corruption::GlobalSequence {
                    found: part.base(),
                    expected: self.next_global_sequence(),
                },
            ));
        }
        for row in part.entities() {
            let (expected, _) = self.mem.entity_tip(&row.name);
            let in_order = if part.layout.retired {
                row.first >= expected
            } else {
                row.first == expected
            };
            if !in_order {
                return Err(StoreError::corrupt_segment(
                    path,
                    part.frames_end(),
                    Corruption::EntitySequence {
                        entity: row.name.to_string(),
                        found: row.first,
                        expected,
                    },
                ));
            }
        }
        for row in part.entities() {
            self.mem.note_entity(&row.name, row.tip, row.next);
        }
        for name in part.scope_names() {
            self.mem.intern_scope(name);
        }
        if part.layout.last_hlc > self.last_hlc {
            self.last_hlc = part.layout.last_hlc;
        }
        self.add(part);
        Ok(())
    }

    /// Adds `part` after the others and notes where its frames end.
    fn add(&mut self, part: Part) {
        self.mem.note_range_end(part.end());
        self.mem.note_segment_end(Location {
            segment: part.segment,
            offset: part.frames_end(),
            len: 0,
        });
        self.parts_len += part.len() as usize;
        self.parts.push(part);
    }

    /// Segments the memtable holds events of, in commit order.
    pub(crate) fn mem_segments(&self) -> Vec<u64> {
        self.mem.segments()
    }

    /// Sealed segments the memtable held (every one of them but the
    /// active segment, in commit order) now answer from `parts`: their
    /// events leave the memtable, and any older part of the same segment
    /// (one the writer continued) goes. A part of a segment whose events
    /// the memtable no longer holds is dropped: a compaction replaced that
    /// segment while the part was being opened.
    pub(crate) fn seal(&mut self, parts: Vec<Part>) {
        let held = self.mem.segments();
        let parts: Vec<Part> = parts
            .into_iter()
            .filter(|p| {
                held.contains(&p.segment)
                    && self
                        .mem
                        .first_of(p.segment)
                        .is_some_and(|e| e.global_sequence == p.base())
            })
            .collect();
        let ids: Vec<u64> = parts.iter().map(|p| p.segment).collect();
        self.parts.retain(|p| !ids.contains(&p.segment));
        self.parts_len = self.parts.iter().map(|p| p.len() as usize).sum();
        self.mem.remove_segments(&ids);
        for part in parts {
            self.add(part);
        }
    }

    /// The writer continues sealed segment `segment`, the last part: its
    /// events move back into the memtable. `Ok(false)` if the last part is
    /// another segment's (nothing changes).
    pub(crate) fn unseal(&mut self, segment: u64) -> Result<bool, StoreError> {
        let Some(part) = self.parts.last().filter(|p| p.segment == segment) else {
            return Ok(false);
        };
        if self.mem.len() != 0 {
            return Ok(false);
        }
        let n = part.len();
        let mut correlations = vec![None; n as usize];
        for (key, r) in part.all_links(true)? {
            if let Some(slot) = correlations.get_mut(r as usize) {
                *slot = Some(CorrelationId::from_u128(key));
            }
        }
        let mut causations = vec![None; n as usize];
        for (key, r) in part.all_links(false)? {
            if let Some(slot) = causations.get_mut(r as usize) {
                *slot = Some(EventId::from_u128(key));
            }
        }
        let mut entries = Vec::with_capacity(n as usize);
        let mut at = 0;
        while at < n {
            let batch = part.entries(at, 4096)?;
            if batch.is_empty() {
                break;
            }
            at += batch.len() as u64;
            entries.extend(batch);
        }
        // Everything is read: nothing below can fail halfway.
        if let Some(part) = self.parts.pop() {
            self.parts_len -= part.len() as usize;
        }
        for (i, e) in entries.into_iter().enumerate() {
            let coordinate = self.mem.interned_coordinate(&e.coordinate);
            self.mem.push(
                IndexEntry { coordinate, ..e },
                None,
                correlations[i],
                causations[i],
            );
        }
        Ok(true)
    }

    /// A compaction replaced the segments `sources` with `outputs`: the
    /// outputs' parts answer for their events from now on.
    pub(crate) fn replace(&mut self, sources: &[u64], outputs: Vec<Part>) {
        self.parts.retain(|p| !sources.contains(&p.segment));
        self.parts_len = self.parts.iter().map(|p| p.len() as usize).sum();
        self.mem.remove_segments(sources);
        self.mem.forget_segments(sources);
        for part in outputs {
            self.add(part);
        }
        self.parts.sort_by_key(Part::base);
    }

    /// The entry of the event at `global_sequence`.
    pub(crate) fn entry_at(&self, global_sequence: u64) -> Result<Option<IndexEntry>, StoreError> {
        let p = self.parts.partition_point(|p| p.end() <= global_sequence);
        match self.parts.get(p).filter(|p| p.base() <= global_sequence) {
            Some(part) => {
                let i = part.lower_bound(global_sequence)?;
                if i >= part.len() {
                    return Ok(None);
                }
                let e = part.entry(i)?;
                Ok((e.global_sequence == global_sequence).then_some(e))
            }
            None => Ok(self.mem.entry_at(global_sequence).cloned()),
        }
    }

    /// The entry of an event id.
    pub(crate) fn get(&self, id: EventId) -> Result<Option<IndexEntry>, StoreError> {
        if let Some(e) = self.mem.get(id) {
            return Ok(Some(e.clone()));
        }
        for part in self.parts.iter().rev() {
            if let Some(i) = part.find(id)? {
                return part.entry(i).map(Some);
            }
        }
        Ok(None)
    }

    /// The event of `entity` at `entity_sequence`.
    pub(crate) fn entity_event_at(
        &self,
        entity: &str,
        entity_sequence: u64,
    ) -> Result<Option<IndexEntry>, StoreError> {
        if let Some(e) = self.mem.entity_event_at(entity, entity_sequence) {
            return Ok(Some(e.clone()));
        }
        // The newest part with the entity has its highest sequences.
        for part in self.parts.iter().rev() {
            let Some(row) = part.entity(entity) else {
                continue;
            };
            if entity_sequence >= row.next {
                return Ok(None);
            }
            if entity_sequence >= row.first {
                return part.entity_event(row, entity_sequence);
            }
        }
        Ok(None)
    }

    /// The last event in commit order.
    pub(crate) fn last_entry(&self) -> Result<Option<IndexEntry>, StoreError> {
        if let Some(e) = self.mem.last() {
            return Ok(Some(e.clone()));
        }
        match self.parts.iter().rev().find(|p| p.len() > 0) {
            Some(p) => p.entry(p.len() - 1).map(Some),
            None => Ok(None),
        }
    }

    /// Events whose causation is `id`, in commit order.
    pub(crate) fn caused_by(&self, id: EventId) -> Result<Vec<IndexEntry>, StoreError> {
        let mut out = self.linked(false, id.as_u128())?;
        out.extend(self.mem.caused_by(id));
        Ok(out)
    }

    /// Events whose correlation is `id`, in commit order.
    pub(crate) fn correlated(&self, id: CorrelationId) -> Result<Vec<IndexEntry>, StoreError> {
        let mut out = self.linked(true, id.as_u128())?;
        out.extend(self.mem.correlated(id));
        Ok(out)
    }

    fn linked(&self, correlation: bool, key: u128) -> Result<Vec<IndexEntry>, StoreError> {
        let mut out = Vec::new();
        for part in &self.parts {
            for r in part.links(correlation, key)? {
                out.push(part.entry(r)?);
            }
        }
        Ok(out)
    }

    /// Entries in `region` with a global sequence after `after`, in commit
    /// order, at most `limit`. The cost is that of the entries it returns
    /// (and of those it passes over in its candidate lists), never that of
    /// copying a whole list: a page through a long history costs its page.
    pub(crate) fn query(
        &self,
        region: &Region,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let start = match after {
            _ if limit == 0 => return Ok(Vec::new()),
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(a) => a + 1,
        };
        let mut out = Vec::new();
        let first = self.parts.partition_point(|p| p.end() <= start);
        for part in &self.parts[first..] {
            part.query_into(region, start, limit, &mut out)?;
            if out.len() >= limit {
                return Ok(out);
            }
        }
        let rest = limit - out.len();
        out.extend(self.mem.query(region, after, rest));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_estimate_is_the_documented_formula() {
        let s = IndexStats {
            sealed_parts: 2,
            sealed_events: 408,
            entity_rows: 3,
            memtable_events: 5,
            entities: 7,
            page_cache_bytes: 10,
            page_cache_capacity: 1000,
        };
        // Fixed + per part + per row + per entity + per event + fences + cache.
        let want = 4096 + 512 * 2 + 112 * 3 + 160 * 7 + 168 * 5 + 2 * 16 + 1000;
        assert_eq!(s.estimated_bytes(), want);
        assert_eq!(IndexStats::FIXED, 4096);
        let index = Index::new(8 << 20);
        let empty = index.stats();
        assert_eq!(
            (empty.sealed_parts, empty.memtable_events, empty.entities),
            (0, 0, 0)
        );
        assert_eq!(empty.page_cache_capacity, 8 << 20);
        assert_eq!(empty.estimated_bytes(), 4096 + (8 << 20));
    }
}
