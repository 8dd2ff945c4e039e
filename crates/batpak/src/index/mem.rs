//! The memtable: the in-memory part of the index, which holds every
//! event after the last sealed part (the active segment's, and at open the
//! last segment's), each with its metadata and where its frame lives.
//!
//! It also holds what the index keeps of every entity, parts included: its
//! tip, its next sequence and the coordinates its entries share.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::coordinate::Coordinate;
pub(crate) use crate::entry::{IndexEntry, Location};
use crate::id::{CorrelationId, EventId};
use crate::id_table::IdTable;
use crate::kind::EventKind;
use crate::region::{EntityMatch, KindFilter, Region};

type Map<K, V> = HashMap<K, V, RandomState>;

/// Per-entity state: positions of its events, the `event_hash` of the last
/// one, and one coordinate per scope it was filed under, which all its
/// entries share.
#[derive(Debug, Default)]
pub(crate) struct EntityState {
    pub(crate) positions: Vec<usize>,
    pub(crate) tip: [u8; 32],
    /// The entity sequence its next event gets: one past its last event,
    /// retired ones included (so not always `positions.len()`).
    next: u64,
    coordinates: Vec<Coordinate>,
}

impl EntityState {
    /// Scopes per entity whose coordinate is shared; an entity filed under
    /// more scopes gets a coordinate per event for the rest (still sharing
    /// the name strings), so a lookup stays a short scan.
    const SHARED_SCOPES: usize = 8;

    fn coordinate(&self, scope: &str) -> Option<&Coordinate> {
        self.coordinates.iter().find(|c| c.scope() == scope)
    }

    fn share(&mut self, c: &Coordinate) {
        if self.coordinates.len() < Self::SHARED_SCOPES && self.coordinate(c.scope()).is_none() {
            self.coordinates.push(c.clone());
        }
    }
}

/// The memtable. Mutated only by the writer (and by open).
#[derive(Debug, Default)]
pub(crate) struct Mem {
    entries: Vec<IndexEntry>,
    by_id: IdTable,
    entities: Map<Arc<str>, EntityState>,
    scopes: Map<Arc<str>, Vec<usize>>,
    kinds: Map<EventKind, Vec<usize>>,
    by_correlation: Map<CorrelationId, Vec<usize>>,
    by_causation: Map<EventId, Vec<usize>>,
    /// Per segment, the end of its last indexed frame: bytes below it never change.
    segment_ends: Map<u64, u64>,
    /// The global sequence the next event gets: one past the last event,
    /// retired ones included. Sequences below it that no entry holds were
    /// removed by a retention compaction (open checks every other range is
    /// dense).
    next_sequence: u64,
}

impl Mem {
    /// Number of events it holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The global sequence the next event gets: every event ever committed
    /// has a lower one (the size of the log's Merkle tree).
    pub(crate) fn next_global_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Shares the index's copy of a name so every entry of an entity points at one string.
    pub(crate) fn intern(&self, entity: &str, scope: &str) -> (Option<Arc<str>>, Option<Arc<str>>) {
        (
            self.entities.get_key_value(entity).map(|(k, _)| k.clone()),
            self.scopes.get_key_value(scope).map(|(k, _)| k.clone()),
        )
    }

    /// The coordinate the index's entries of `entity` under `scope` share.
    pub(crate) fn shared_coordinate(&self, entity: &str, scope: &str) -> Option<Coordinate> {
        self.entities.get(entity)?.coordinate(scope).cloned()
    }

    /// A coordinate shared with the index where possible (the one its entries
    /// of that entity and scope hold, else one built from its strings).
    pub(crate) fn interned_coordinate(&self, c: &Coordinate) -> Coordinate {
        if let Some(shared) = self.shared_coordinate(c.entity(), c.scope()) {
            return shared;
        }
        match self.intern(c.entity(), c.scope()) {
            (Some(e), Some(s)) => Coordinate::from_validated(e, s),
            _ => c.clone(),
        }
    }

    /// `(next entity_sequence, tip hash)` of an entity.
    pub(crate) fn entity_tip(&self, entity: &str) -> (u64, [u8; 32]) {
        match self.entities.get(entity) {
            Some(st) => (st.next, st.tip),
            None => (0, [0; 32]),
        }
    }

    /// Adds a committed event. `entry.global_sequence` must be the next one.
    pub(crate) fn push(
        &mut self,
        entry: IndexEntry,
        tip: Option<[u8; 32]>,
        correlation: Option<CorrelationId>,
        causation: Option<EventId>,
    ) {
        let pos = self.entries.len();
        self.by_id.insert(entry.event_id, pos);
        self.note_segment_end(entry.location);
        let ent = entry.coordinate.entity_arc().clone();
        let st = self.entities.entry(ent).or_default();
        st.positions.push(pos);
        st.next = st.next.max(entry.entity_sequence + 1);
        st.share(&entry.coordinate);
        if let Some(t) = tip {
            st.tip = t;
        }
        self.next_sequence = self.next_sequence.max(entry.global_sequence + 1);
        self.scopes
            .entry(entry.coordinate.scope_arc().clone())
            .or_default()
            .push(pos);
        self.kinds.entry(entry.kind).or_default().push(pos);
        if let Some(c) = correlation {
            self.by_correlation.entry(c).or_default().push(pos);
        }
        if let Some(c) = causation {
            self.by_causation.entry(c).or_default().push(pos);
        }
        self.entries.push(entry);
    }

    /// Starts loading a sealed segment in bulk. `entities` and `scopes` are
    /// the segment's name tables (each name once); rows name them by number.
    pub(crate) fn bulk_load(
        &mut self,
        entities: Vec<Arc<str>>,
        scopes: Vec<Arc<str>>,
        rows: usize,
    ) -> BulkLoad<'_> {
        self.entries.reserve(rows);
        let entities_len = entities.len();
        let next_entity_sequence = entities.iter().map(|e| self.entity_tip(e).0).collect();
        BulkLoad {
            entities: entities.into_iter().map(|e| (e, Vec::new())).collect(),
            scopes: scopes.into_iter().map(|s| (s, Vec::new())).collect(),
            next_entity_sequence,
            kinds: Map::default(),
            end: None,
            first: self.entries.len(),
            ids: Vec::with_capacity(rows),
            coordinates: vec![None; entities_len],
            new_coordinates: Vec::new(),
            index: self,
        }
    }

    /// An empty id table that can be filled apart and given to [`Mem::absorb_ids`].
    pub(crate) fn id_table_like(&self) -> IdTable {
        self.by_id.empty_like()
    }

    /// Adds the ids of a table made by [`Mem::id_table_like`].
    pub(crate) fn absorb_ids(&mut self, mut table: IdTable) {
        if table.len() > self.by_id.len() {
            std::mem::swap(&mut self.by_id, &mut table);
        }
        self.by_id.absorb(table);
    }

    /// Notes that `segment`'s frames reach at least the end of `loc`.
    pub(crate) fn note_segment_end(&mut self, loc: Location) {
        let end = loc.offset + u64::from(loc.len);
        let e = self.segment_ends.entry(loc.segment).or_insert(0);
        if end > *e {
            *e = end;
        }
    }

    /// The entry of the event at `global_sequence`.
    pub(crate) fn entry_at(&self, global_sequence: u64) -> Option<&IndexEntry> {
        let pos = self
            .entries
            .partition_point(|e| e.global_sequence < global_sequence);
        self.entries
            .get(pos)
            .filter(|e| e.global_sequence == global_sequence)
    }

    /// Removes the events of `segments` (sealed into a part, or replaced by
    /// a compaction's outputs): every position list is rebuilt without
    /// them. Entity tips and next sequences stay, as does the next global
    /// sequence.
    pub(crate) fn remove_segments(&mut self, segments: &[u64]) {
        if !self
            .entries
            .iter()
            .any(|e| segments.contains(&e.location.segment))
        {
            return;
        }
        let mut remap = vec![usize::MAX; self.entries.len()];
        let mut kept = Vec::new();
        for (pos, e) in std::mem::take(&mut self.entries).into_iter().enumerate() {
            if !segments.contains(&e.location.segment) {
                remap[pos] = kept.len();
                kept.push(e);
            }
        }
        self.entries = kept;
        let fix = |list: &mut Vec<usize>| {
            list.retain_mut(|p| {
                *p = remap[*p];
                *p != usize::MAX
            });
        };
        for st in self.entities.values_mut() {
            fix(&mut st.positions);
        }
        self.scopes.values_mut().for_each(fix);
        self.kinds.values_mut().for_each(fix);
        self.by_correlation.values_mut().for_each(fix);
        self.by_causation.values_mut().for_each(fix);
        self.by_correlation.retain(|_, v| !v.is_empty());
        self.by_causation.retain(|_, v| !v.is_empty());
        self.kinds.retain(|_, v| !v.is_empty());
        let mut ids = self.by_id.empty_like();
        let all: Vec<EventId> = self.entries.iter().map(|e| e.event_id).collect();
        ids.insert_run(0, &all);
        self.by_id = ids;
    }

    /// Records what a sealed part says of entity `name`: its tip and next
    /// sequence at the part's end (the name becomes the index's copy if it
    /// is new).
    pub(crate) fn note_entity(&mut self, name: &Arc<str>, tip: [u8; 32], next: u64) {
        let st = self.entities.entry(name.clone()).or_default();
        st.tip = tip;
        st.next = st.next.max(next);
    }

    /// Adds scope name `name` (its copy becomes the index's) if it is new.
    pub(crate) fn intern_scope(&mut self, name: &Arc<str>) {
        if !self.scopes.contains_key(name) {
            self.scopes.insert(name.clone(), Vec::new());
        }
    }

    /// Its first entry of `segment`.
    pub(crate) fn first_of(&self, segment: u64) -> Option<&IndexEntry> {
        self.entries.iter().find(|e| e.location.segment == segment)
    }

    /// The segments it holds events of, in commit order.
    pub(crate) fn segments(&self) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for e in &self.entries {
            if out.last() != Some(&e.location.segment) {
                out.push(e.location.segment);
            }
        }
        out
    }

    /// Entities it knows (parts' included).
    pub(crate) fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// Its last entry.
    pub(crate) fn last(&self) -> Option<&IndexEntry> {
        self.entries.last()
    }

    /// What a version-2 footer says of the range: the next global sequence
    /// is at least `next`.
    pub(crate) fn note_range_end(&mut self, next: u64) {
        self.next_sequence = self.next_sequence.max(next);
    }

    /// Drops the frame ends of segments that are gone (see [`Mem::note_segment_end`]).
    pub(crate) fn forget_segments(&mut self, ids: &[u64]) {
        for id in ids {
            self.segment_ends.remove(id);
        }
    }

    /// End of the last indexed frame of `segment` (0 if none).
    pub(crate) fn segment_end(&self, segment: u64) -> u64 {
        self.segment_ends.get(&segment).copied().unwrap_or(0)
    }

    /// The entry of an event id.
    pub(crate) fn get(&self, id: EventId) -> Option<&IndexEntry> {
        let entries = &self.entries;
        let pos = self.by_id.find(id, |p| entries[p].event_id)?;
        entries.get(pos)
    }

    /// The event of `entity` at `entity_sequence`.
    pub(crate) fn entity_event_at(
        &self,
        entity: &str,
        entity_sequence: u64,
    ) -> Option<&IndexEntry> {
        let st = self.entities.get(entity)?;
        // Dense unless a retention compaction removed some: try the direct
        // slot first, then search.
        let direct = usize::try_from(entity_sequence)
            .ok()
            .and_then(|i| st.positions.get(i))
            .map(|&p| &self.entries[p])
            .filter(|e| e.entity_sequence == entity_sequence);
        if direct.is_some() {
            return direct;
        }
        let i = st
            .positions
            .partition_point(|&p| self.entries[p].entity_sequence < entity_sequence);
        st.positions
            .get(i)
            .map(|&p| &self.entries[p])
            .filter(|e| e.entity_sequence == entity_sequence)
    }

    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    pub(crate) fn entity_names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.entities.keys()
    }

    pub(crate) fn caused_by(&self, id: EventId) -> Vec<IndexEntry> {
        self.collect(self.by_causation.get(&id).map(Vec::as_slice).unwrap_or(&[]))
    }

    pub(crate) fn correlated(&self, id: CorrelationId) -> Vec<IndexEntry> {
        self.collect(
            self.by_correlation
                .get(&id)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        )
    }

    fn collect(&self, positions: &[usize]) -> Vec<IndexEntry> {
        positions.iter().map(|&p| self.entries[p].clone()).collect()
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
    ) -> Vec<IndexEntry> {
        let start_seq = match after {
            _ if limit == 0 => return Vec::new(),
            None => 0,
            Some(u64::MAX) => return Vec::new(),
            Some(a) => a + 1,
        };
        let entries = &self.entries;
        // The first candidate of a sorted position list at or after `start_seq`.
        let from =
            |list: &[usize]| list.partition_point(|&p| entries[p].global_sequence < start_seq);
        let mut out = Vec::new();
        let mut take = |e: &IndexEntry| {
            if region.matches(e) {
                out.push(e.clone());
            }
            out.len() < limit
        };
        match self.candidate_lists(region) {
            None => {
                let at = entries.partition_point(|e| e.global_sequence < start_seq);
                for e in &entries[at..] {
                    if !take(e) {
                        break;
                    }
                }
            }
            Some(lists) if lists.len() == 1 => {
                let list = lists[0];
                for &p in &list[from(list)..] {
                    if !take(&entries[p]) {
                        break;
                    }
                }
            }
            Some(lists) => {
                // A k-way merge of sorted lists (positions are in commit order).
                let mut heads: std::collections::BinaryHeap<
                    std::cmp::Reverse<(usize, usize, usize)>,
                > = lists
                    .iter()
                    .enumerate()
                    .filter_map(|(k, list)| {
                        let i = from(list);
                        list.get(i).map(|&p| std::cmp::Reverse((p, k, i)))
                    })
                    .collect();
                while let Some(std::cmp::Reverse((p, k, i))) = heads.pop() {
                    if !take(&entries[p]) {
                        break;
                    }
                    if let Some(&next) = lists[k].get(i + 1) {
                        heads.push(std::cmp::Reverse((next, k, i + 1)));
                    }
                }
            }
        }
        out
    }

    /// The narrowest sorted position lists whose union covers the region;
    /// `None` means "scan all".
    fn candidate_lists(&self, region: &Region) -> Option<Vec<&[usize]>> {
        const EMPTY: &[usize] = &[];
        if let Some(EntityMatch::Exact(e)) = region.entity_match() {
            return Some(vec![self
                .entities
                .get(e)
                .map_or(EMPTY, |s| s.positions.as_slice())]);
        }
        if let Some(s) = region.scope_name() {
            return Some(vec![self.scopes.get(s).map_or(EMPTY, Vec::as_slice)]);
        }
        if let Some(KindFilter::Kinds(ks)) = region.kind_filter() {
            // Sorted and without repeats (`Region::with_kinds`).
            return Some(
                ks.iter()
                    .map(|k| self.kinds.get(k).map_or(EMPTY, Vec::as_slice))
                    .collect(),
            );
        }
        if let Some(EntityMatch::Prefix(p)) = region.entity_match() {
            return Some(
                self.entities
                    .iter()
                    .filter(|(name, _)| name.starts_with(&**p))
                    .map(|(_, s)| s.positions.as_slice())
                    .collect(),
            );
        }
        None
    }
}

/// Loads one sealed segment's events into the index. Positions are grouped
/// by the segment's own entity and scope numbers, so no name is hashed per
/// event; the groups join the index's lists in [`BulkLoad::finish`].
pub(crate) struct BulkLoad<'a> {
    index: &'a mut Mem,
    entities: Vec<(Arc<str>, Vec<usize>)>,
    scopes: Vec<(Arc<str>, Vec<usize>)>,
    next_entity_sequence: Vec<u64>,
    kinds: Map<EventKind, Vec<usize>>,
    end: Option<Location>,
    first: usize,
    ids: Vec<EventId>,
    /// Per segment entity, the coordinate of its last event.
    coordinates: Vec<Option<(usize, Coordinate)>>,
    /// Coordinates handed out, to share in the index at the end.
    new_coordinates: Vec<(usize, Coordinate)>,
}

impl BulkLoad<'_> {
    /// The coordinate of segment entity `entity` under segment scope `scope`,
    /// shared with the index's other entries of that pair.
    pub(crate) fn coordinate(&mut self, entity: usize, scope: usize) -> Coordinate {
        if let Some((s, c)) = &self.coordinates[entity] {
            if *s == scope {
                return c.clone();
            }
        }
        let (name, scope_name) = (&self.entities[entity].0, &self.scopes[scope].0);
        let c = self
            .index
            .shared_coordinate(name, scope_name)
            .unwrap_or_else(|| Coordinate::from_validated(name.clone(), scope_name.clone()));
        self.coordinates[entity] = Some((scope, c.clone()));
        self.new_coordinates.push((entity, c.clone()));
        c
    }

    /// The entity sequence the next event of segment entity `entity` must have.
    pub(crate) fn next_entity_sequence(&self, entity: usize) -> u64 {
        self.next_entity_sequence[entity]
    }

    /// Adds the next event. `entity` and `scope` must be in range of the
    /// tables given to [`Mem::bulk_load`] and `entry.coordinate` must name them.
    pub(crate) fn push(
        &mut self,
        entity: usize,
        scope: usize,
        entry: IndexEntry,
        correlation: Option<CorrelationId>,
        causation: Option<EventId>,
    ) {
        let index = &mut *self.index;
        let pos = index.entries.len();
        self.ids.push(entry.event_id);
        self.entities[entity].1.push(pos);
        self.next_entity_sequence[entity] += 1;
        self.scopes[scope].1.push(pos);
        self.kinds.entry(entry.kind).or_default().push(pos);
        if let Some(c) = correlation {
            index.by_correlation.entry(c).or_default().push(pos);
        }
        if let Some(c) = causation {
            index.by_causation.entry(c).or_default().push(pos);
        }
        self.end = Some(entry.location);
        index.next_sequence = index.next_sequence.max(entry.global_sequence + 1);
        index.entries.push(entry);
    }

    /// Moves segment entity `entity`'s next sequence to at least `next`
    /// (one past an event that is not pushed: a retired one).
    pub(crate) fn skip_to(&mut self, entity: usize, next: u64) {
        if let Some(n) = self.next_entity_sequence.get_mut(entity) {
            *n = (*n).max(next);
        }
    }

    /// Joins the grouped positions to the index; `tips` (one per segment
    /// entity, in table order) become the entities' tip hashes. Returns the
    /// loaded ids and the position of the first: the caller adds them to an
    /// id table ([`Mem::absorb_ids`]), which open builds on a helper thread.
    pub(crate) fn finish(self, tips: &[[u8; 32]]) -> (usize, Vec<EventId>) {
        let index = self.index;
        let next = self.next_entity_sequence;
        let mut shared: Vec<Vec<Coordinate>> = vec![Vec::new(); self.entities.len()];
        for (entity, c) in self.new_coordinates {
            shared[entity].push(c);
        }
        for (i, ((name, positions), coordinates)) in
            self.entities.into_iter().zip(shared).enumerate()
        {
            let st = index.entities.entry(name).or_default();
            st.positions.extend(positions);
            if let Some(&n) = next.get(i) {
                st.next = st.next.max(n);
            }
            if let Some(tip) = tips.get(i) {
                st.tip = *tip;
            }
            for c in &coordinates {
                st.share(c);
            }
        }
        for (name, positions) in self.scopes {
            index.scopes.entry(name).or_default().extend(positions);
        }
        for (kind, positions) in self.kinds {
            index.kinds.entry(kind).or_default().extend(positions);
        }
        if let Some(end) = self.end {
            index.note_segment_end(end);
        }
        (self.first, self.ids)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(pos: u64, entity: &str, scope: &str, kind: EventKind, es: u64) -> IndexEntry {
        IndexEntry {
            event_id: EventId::from_u128(u128::from(pos) + 1),
            global_sequence: pos,
            entity_sequence: es,
            kind,
            coordinate: Coordinate::new(entity, scope).unwrap(),
            wall_ms: 0,
            payload_version: 1,
            location: Location {
                segment: 0,
                offset: 0,
                len: 0,
            },
        }
    }

    #[test]
    fn entries_of_one_entity_and_scope_share_one_coordinate() {
        let k = EventKind::custom(0xE, 1);
        let mut idx = Mem::default();
        let names: Vec<Arc<str>> = vec![Arc::from("e")];
        let scopes: Vec<Arc<str>> = vec![Arc::from("s")];
        let mut load = idx.bulk_load(names, scopes, 3);
        for i in 0..3u64 {
            let mut e = entry(i, "e", "s", k, i);
            e.coordinate = load.coordinate(0, 0);
            load.push(0, 0, e, None, None);
        }
        let _ = load.finish(&[[0; 32]]);
        // Appends after open get the coordinate the loaded entries share,
        // whatever coordinate object the caller passed.
        for i in 3..6u64 {
            let mut e = entry(i, "e", "s", k, i);
            e.coordinate = idx.interned_coordinate(&Coordinate::new("e", "s").unwrap());
            idx.push(e, Some([0; 32]), None, None);
        }
        let first = idx.entries()[0].coordinate.clone();
        assert!(idx.entries()[..6]
            .iter()
            .all(|e| e.coordinate.shares_with(&first)));
        // An entity first seen after open: its appends share too.
        for i in 6..9u64 {
            let mut e = entry(i, "f", "s", k, i - 6);
            e.coordinate = idx.interned_coordinate(&Coordinate::new("f", "s").unwrap());
            idx.push(e, Some([0; 32]), None, None);
        }
        let f0 = idx.entries()[6].coordinate.clone();
        assert!(idx.entries()[6..]
            .iter()
            .all(|e| e.coordinate.shares_with(&f0)));
        // Another scope of the same entity gets its own shared coordinate.
        let other = idx.interned_coordinate(&Coordinate::new("e", "t").unwrap());
        assert!(!other.shares_with(&first));
        assert_eq!(other.scope(), "t");
    }

    #[test]
    fn query_paths_agree_with_a_full_scan() {
        let a = EventKind::custom(0xE, 1);
        let b = EventKind::custom(0xA, 2);
        let mut idx = Mem::default();
        let names = ["ent-1", "ent-10", "ent-2", "other"];
        let mut counts = [0u64; 4];
        for i in 0..200u64 {
            let n = (i * 7 % 4) as usize;
            let kind = if i % 3 == 0 { a } else { b };
            let scope = if i % 2 == 0 { "s0" } else { "s1" };
            idx.push(
                entry(i, names[n], scope, kind, counts[n]),
                Some([0; 32]),
                None,
                None,
            );
            counts[n] += 1;
        }
        let regions = [
            Region::all(),
            Region::entity("ent-1"),
            Region::entity_prefix("ent-1"),
            Region::scope("s1"),
            Region::all().with_kind(a),
            Region::entity("ent-2").with_scope("s0").with_kind(b),
            Region::entity_prefix("ent").with_category(0xA),
            Region::entity("missing"),
            Region::all().with_kinds([a, b]),
            Region::scope("s0").with_kinds([b, EventKind::custom(0x3, 3)]),
            Region::entity_prefix("").with_kind(a),
            Region::entity_prefix("nobody"),
        ];
        for r in &regions {
            for after in [None, Some(0), Some(57), Some(199), Some(u64::MAX)] {
                let start = after.map_or(0, |a: u64| a.saturating_add(1));
                let want: Vec<u64> = idx
                    .entries()
                    .iter()
                    .filter(|e| {
                        after != Some(u64::MAX) && e.global_sequence >= start && r.matches(e)
                    })
                    .map(|e| e.global_sequence)
                    .take(50)
                    .collect();
                let got: Vec<u64> = idx
                    .query(r, after, 50)
                    .iter()
                    .map(|e| e.global_sequence)
                    .collect();
                assert_eq!(got, want, "{r:?} after {after:?}");
            }
            // Paging by the last sequence seen yields the whole answer once.
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let page = idx.query(r, after, 7);
                let Some(last) = page.last() else { break };
                after = Some(last.global_sequence);
                paged.extend(page.iter().map(|e| e.global_sequence));
            }
            let all: Vec<u64> = idx
                .entries()
                .iter()
                .filter(|e| r.matches(e))
                .map(|e| e.global_sequence)
                .collect();
            assert_eq!(paged, all, "{r:?} paged");
            assert!(idx.query(r, None, 0).is_empty());
        }
        assert_eq!(idx.entity_tip("ent-1").0, counts[0]);
        assert_eq!(idx.next_global_sequence(), 200);
        // Bulk loading (used at open) builds the same index as one-by-one pushes.
        let mut bulk = Mem::default();
        let entities: Vec<Arc<str>> = names.iter().map(|&n| Arc::from(n)).collect();
        let scopes: Vec<Arc<str>> = ["s0", "s1"].iter().map(|&n| Arc::from(n)).collect();
        let mut load = bulk.bulk_load(entities.clone(), scopes.clone(), 200);
        for e in idx.entries() {
            let en = names
                .iter()
                .position(|&n| n == e.coordinate.entity())
                .unwrap();
            let sn = usize::from(e.coordinate.scope() == "s1");
            assert_eq!(load.next_entity_sequence(en), e.entity_sequence);
            let mut e = e.clone();
            e.coordinate = load.coordinate(en, sn);
            load.push(en, sn, e, None, None);
        }
        let (first, ids) = load.finish(&[[0; 32]; 4]);
        let mut table = bulk.id_table_like();
        table.insert_run(first, &ids);
        bulk.absorb_ids(table);
        for e in idx.entries() {
            assert_eq!(bulk.get(e.event_id), Some(e));
        }
        for r in &regions {
            assert_eq!(
                bulk.query(r, None, usize::MAX),
                idx.query(r, None, usize::MAX),
                "{r:?}"
            );
        }
        assert_eq!(bulk.entity_tip("ent-2").0, counts[2]);
    }
}
