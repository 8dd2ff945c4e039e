//! The index of one sealed segment, read from its index file: the head,
//! the names and the entity, scope and kind rows are held; records, the id
//! table, postings and link tables are read on demand (a page at a time,
//! through [`PageCache`](super::pages::PageCache)).
//!
//! What a part holds in memory grows with the segment's entities, scopes
//! and kinds, not with its events.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use super::pages::IndexSource;
use crate::coordinate::Coordinate;
use crate::entry::{IndexEntry, Location};
use crate::error::{Corruption, StoreError};
use crate::format::{
    decode_entity_row, decode_index_head, decode_index_pair, decode_index_record, decode_kind_row,
    decode_scope_row, DecodeError, Footer, IndexLayout, Retired, INDEX_RECORD_LEN, INDEX_ROW_LENS,
};
use crate::id::EventId;
use crate::kind::EventKind;
use crate::region::{EntityMatch, KindFilter, Region};

type Map<K, V> = HashMap<K, V, RandomState>;

/// One entity of a part: its name, tip and sequences in the segment, and
/// its run of the entity postings.
#[derive(Clone, Debug)]
pub(crate) struct PartEntity {
    pub(crate) name: Arc<str>,
    pub(crate) tip: [u8; 32],
    /// Its first entity sequence in the segment (its next one if it has no
    /// event there: a retention removed them all).
    pub(crate) first: u64,
    /// One past its last entity sequence in the range.
    pub(crate) next: u64,
    run: (u32, u32),
}

/// Which postings table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Postings {
    Entity,
    Scope,
    Kind,
}

/// The index of one sealed segment.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) segment: u64,
    pub(crate) layout: IndexLayout,
    source: IndexSource,
    entities: Vec<PartEntity>,
    by_entity: Map<Arc<str>, u32>,
    scopes: Vec<(Arc<str>, (u32, u32))>,
    by_scope: Map<Arc<str>, u32>,
    kinds: Vec<(EventKind, (u32, u32))>,
    /// The id fence (every [`FENCE_STRIDE`]-th key of the id table), read
    /// on the first lookup by id: a lookup is then a search in memory and
    /// one window of the table (about a page), not a search over pages.
    fence: std::sync::OnceLock<Vec<u128>>,
}

fn damaged(segment: u64, offset: u64, problem: &'static str) -> StoreError {
    StoreError::corrupt_segment(
        &crate::format::index_path(std::path::Path::new(""), segment),
        offset,
        Corruption::Decode {
            structure: "index file",
            source: DecodeError::Inconsistent { offset, problem },
        },
    )
}

impl Part {
    /// Reads the head, rows and names of segment `segment`'s index file
    /// from `source`. `intern` gives the shared copy of an entity
    /// ([`Postings::Entity`]) or scope name, so a part's names are the
    /// index's strings.
    pub(crate) fn open(
        segment: u64,
        source: IndexSource,
        intern: &mut dyn FnMut(Postings, &str) -> Arc<str>,
    ) -> Result<Self, StoreError> {
        let head = source.read(0, IndexLayout::HEAD_LEN as usize)?;
        let layout = decode_index_head(&head).map_err(|e| {
            StoreError::corrupt_segment(
                &crate::format::index_path(std::path::Path::new(""), segment),
                0,
                Corruption::Decode {
                    structure: "index file",
                    source: e,
                },
            )
        })?;
        if layout.logical_len() != Some(source.logical_len()) {
            return Err(damaged(segment, 72, "the tables do not add up to the file"));
        }
        // The range holds its events: base + events fits, and a version-2
        // range ends at or after its last event.
        match layout.base_global_sequence.checked_add(layout.events) {
            Some(end) if !layout.retired || layout.end_global_sequence >= end => {}
            _ => return Err(damaged(segment, 24, "the range does not hold its events")),
        }
        let (entity_len, scope_len, kind_len, _, _) = INDEX_ROW_LENS;
        let names = source.read(layout.names_at(), layout.names_len as usize)?;
        let name = |at: u64, (off, len): (u32, u32)| -> Result<&str, StoreError> {
            names
                .get(off as usize..(off as usize).saturating_add(len as usize))
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| damaged(segment, at, "a name outside the names or not UTF-8"))
        };
        let n = u64::from(layout.entities);
        let rows = source.read(layout.entity_row_at(0), entity_len * n as usize)?;
        let mut entities = Vec::with_capacity(n as usize);
        let mut expected = 0u64;
        for (i, b) in rows.chunks_exact(entity_len).enumerate() {
            let at = layout.entity_row_at(i as u64);
            let row = decode_entity_row(b.try_into().unwrap_or(&[0; 64]));
            check_run(segment, at, row.run, &mut expected)?;
            if row.first > row.next || (row.run.1 == 0 && row.first != row.next) {
                return Err(damaged(segment, at, "an entity's sequences disagree"));
            }
            entities.push(PartEntity {
                name: intern(Postings::Entity, name(at, row.name)?),
                tip: row.tip,
                first: row.first,
                next: row.next,
                run: row.run,
            });
        }
        if expected != layout.events {
            return Err(damaged(
                segment,
                layout.entity_row_at(0),
                "entity runs do not cover the records",
            ));
        }
        let n = u64::from(layout.scopes);
        let rows = source.read(layout.scope_row_at(0), scope_len * n as usize)?;
        let mut scopes = Vec::with_capacity(n as usize);
        expected = 0;
        for (i, b) in rows.chunks_exact(scope_len).enumerate() {
            let at = layout.scope_row_at(i as u64);
            let row = decode_scope_row(b.try_into().unwrap_or(&[0; 16]));
            check_run(segment, at, row.run, &mut expected)?;
            scopes.push((intern(Postings::Scope, name(at, row.name)?), row.run));
        }
        if expected != layout.events {
            return Err(damaged(
                segment,
                layout.scope_row_at(0),
                "scope runs do not cover the records",
            ));
        }
        let n = u64::from(layout.kinds);
        let rows = source.read(layout.kind_row_at(0), kind_len * n as usize)?;
        let mut kinds: Vec<(EventKind, (u32, u32))> = Vec::with_capacity(n as usize);
        expected = 0;
        for (i, b) in rows.chunks_exact(kind_len).enumerate() {
            let at = layout.kind_row_at(i as u64);
            let row = decode_kind_row(b.try_into().unwrap_or(&[0; 12]));
            check_run(segment, at, row.run, &mut expected)?;
            if kinds
                .last()
                .is_some_and(|(k, _)| k.as_u16() >= row.kind.as_u16())
            {
                return Err(damaged(segment, at, "kind rows out of order"));
            }
            kinds.push((row.kind, row.run));
        }
        if expected != layout.events {
            return Err(damaged(
                segment,
                layout.kind_row_at(0),
                "kind runs do not cover the records",
            ));
        }
        let mut by_entity = Map::default();
        for (i, e) in entities.iter().enumerate() {
            if by_entity.insert(e.name.clone(), i as u32).is_some() {
                return Err(damaged(
                    segment,
                    layout.entity_row_at(i as u64),
                    "an entity named twice",
                ));
            }
        }
        let mut by_scope = Map::default();
        for (i, (s, _)) in scopes.iter().enumerate() {
            if by_scope.insert(s.clone(), i as u32).is_some() {
                return Err(damaged(
                    segment,
                    layout.scope_row_at(i as u64),
                    "a scope named twice",
                ));
            }
        }
        Ok(Self {
            segment,
            layout,
            source,
            entities,
            by_entity,
            scopes,
            by_scope,
            kinds,
            fence: std::sync::OnceLock::new(),
        })
    }

    /// Events it holds.
    pub(crate) fn len(&self) -> u64 {
        self.layout.events
    }

    /// The global sequence of its range's first event.
    pub(crate) fn base(&self) -> u64 {
        self.layout.base_global_sequence
    }

    /// One past its range's last global sequence (retired ones included).
    pub(crate) fn end(&self) -> u64 {
        if self.layout.retired {
            self.layout.end_global_sequence
        } else {
            // Open checked that this does not overflow.
            self.layout
                .base_global_sequence
                .saturating_add(self.layout.events)
        }
    }

    /// Where its segment's frames end (and its footer starts).
    pub(crate) fn frames_end(&self) -> u64 {
        self.layout.frames_end
    }

    /// Records `from..from + n` as index entries, read in one go.
    pub(crate) fn entries(&self, from: u64, n: u64) -> Result<Vec<IndexEntry>, StoreError> {
        let n = n.min(self.layout.events.saturating_sub(from));
        if n == 0 {
            return Ok(Vec::new());
        }
        let b = self
            .source
            .read(self.layout.record_at(from), INDEX_RECORD_LEN * n as usize)?;
        b.chunks_exact(INDEX_RECORD_LEN)
            .enumerate()
            .map(|(k, r)| self.decode_entry(from + k as u64, r))
            .collect()
    }

    /// Posting `k` of `run` in `table`.
    fn posting(&self, table: Postings, run: (u32, u32), k: u32) -> Result<u64, StoreError> {
        let got = self.postings(table, run, k, 1)?;
        got.first()
            .copied()
            .ok_or_else(|| damaged(self.segment, 0, "a posting out of its run"))
    }

    /// The first position in `run` whose record is at least `record`.
    fn run_lower_bound(
        &self,
        table: Postings,
        run: (u32, u32),
        record: u64,
    ) -> Result<u32, StoreError> {
        let (mut lo, mut hi) = (0u32, run.1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.posting(table, run, mid)? < record {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The event of entity `row` at `entity_sequence`, if the part holds it.
    pub(crate) fn entity_event(
        &self,
        row: &PartEntity,
        entity_sequence: u64,
    ) -> Result<Option<IndexEntry>, StoreError> {
        if entity_sequence < row.first || entity_sequence >= row.next {
            return Ok(None);
        }
        let at = |k: u32| -> Result<IndexEntry, StoreError> {
            self.entry(self.posting(Postings::Entity, row.run, k)?)
        };
        // Dense unless a retention removed some: try the direct slot first.
        if let Ok(k) = u32::try_from(entity_sequence - row.first) {
            if k < row.run.1 {
                let e = at(k)?;
                if e.entity_sequence == entity_sequence {
                    return Ok(Some(e));
                }
            }
        }
        let (mut lo, mut hi) = (0u32, row.run.1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = at(mid)?;
            match e.entity_sequence.cmp(&entity_sequence) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(e)),
            }
        }
        Ok(None)
    }

    /// Appends to `out` its entries in `region` with a global sequence of
    /// at least `start`, in commit order, until `out` holds `limit`.
    pub(crate) fn query_into(
        &self,
        region: &Region,
        start: u64,
        limit: usize,
        out: &mut Vec<IndexEntry>,
    ) -> Result<(), StoreError> {
        if out.len() >= limit || self.end() <= start {
            return Ok(());
        }
        let first = self.lower_bound(start)?;
        let runs = match self.candidate_runs(region) {
            None => {
                let mut at = first;
                while at < self.layout.events {
                    // No more than the page still needs when all match.
                    let want = (limit - out.len()) as u64;
                    let batch = self.entries(at, SCAN_BATCH.min(want.max(1)))?;
                    at += batch.len() as u64;
                    for e in batch {
                        if region.matches(&e) {
                            out.push(e);
                            if out.len() >= limit {
                                return Ok(());
                            }
                        }
                    }
                }
                return Ok(());
            }
            Some(runs) => runs,
        };
        let mut cursors = Vec::with_capacity(runs.len());
        for (table, run) in runs {
            let next = self.run_lower_bound(table, run, first)?;
            cursors.push(RunCursor {
                table,
                run,
                next,
                buf: Vec::new(),
                at: 0,
            });
        }
        // A k-way merge of sorted runs (record numbers are in commit order).
        let mut heads = std::collections::BinaryHeap::new();
        for (k, c) in cursors.iter_mut().enumerate() {
            if let Some(r) = c.peek(self)? {
                heads.push(std::cmp::Reverse((r, k)));
            }
        }
        while let Some(std::cmp::Reverse((r, k))) = heads.pop() {
            let e = self.entry(r)?;
            if region.matches(&e) {
                out.push(e);
                if out.len() >= limit {
                    return Ok(());
                }
            }
            let c = &mut cursors[k];
            c.at += 1;
            if let Some(r) = c.peek(self)? {
                heads.push(std::cmp::Reverse((r, k)));
            }
        }
        Ok(())
    }

    /// The narrowest runs whose union covers `region`; `None` means all
    /// records.
    fn candidate_runs(&self, region: &Region) -> Option<Vec<(Postings, (u32, u32))>> {
        let none = EventKind::from_u16(0);
        if let Some(EntityMatch::Exact(e)) = region.entity_match() {
            return Some(vec![(
                Postings::Entity,
                self.run(Postings::Entity, e, none),
            )]);
        }
        if let Some(s) = region.scope_name() {
            return Some(vec![(Postings::Scope, self.run(Postings::Scope, s, none))]);
        }
        if let Some(KindFilter::Kinds(ks)) = region.kind_filter() {
            return Some(
                ks.iter()
                    .map(|&k| (Postings::Kind, self.run(Postings::Kind, "", k)))
                    .collect(),
            );
        }
        if let Some(EntityMatch::Prefix(p)) = region.entity_match() {
            return Some(
                self.entities
                    .iter()
                    .filter(|e| e.name.starts_with(&**p))
                    .map(|e| (Postings::Entity, e.run))
                    .collect(),
            );
        }
        None
    }

    /// Every `(key, record)` pair of the correlation (or causation) table.
    pub(crate) fn all_links(&self, correlation: bool) -> Result<Vec<(u128, u32)>, StoreError> {
        let (count, at) = if correlation {
            (self.layout.correlations, self.layout.correlation_at(0))
        } else {
            (self.layout.causations, self.layout.causation_at(0))
        };
        let (_, _, _, pair_len, _) = INDEX_ROW_LENS;
        let b = self.source.read(at, pair_len * count as usize)?;
        Ok(b.chunks_exact(pair_len)
            .map(|c| decode_index_pair(c.try_into().unwrap_or(&[0; 20])))
            .collect())
    }

    /// The entities with events (or a retired range) in the segment.
    pub(crate) fn entities(&self) -> &[PartEntity] {
        &self.entities
    }

    /// The head of the footer it repeats (no entries): what the writer
    /// needs of a sealed segment it may continue (it reads the entries
    /// from the footer if it does).
    pub(crate) fn footer_head(&self) -> Footer {
        let l = &self.layout;
        Footer {
            base_global_sequence: l.base_global_sequence,
            frames_end: l.frames_end,
            last_hlc: l.last_hlc,
            entities: self
                .entities
                .iter()
                .map(|e| (e.name.to_string(), e.tip))
                .collect(),
            scopes: self.scopes.iter().map(|(s, _)| s.to_string()).collect(),
            entries: Vec::new(),
            retired: l.retired.then(|| Retired {
                end_global_sequence: l.end_global_sequence,
                next_entity_sequences: self.entities.iter().map(|e| e.next).collect(),
            }),
        }
    }

    /// The scopes with events in the segment.
    pub(crate) fn scope_names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.scopes.iter().map(|(name, _)| name)
    }

    /// The row of entity `name`, if the segment has it.
    pub(crate) fn entity(&self, name: &str) -> Option<&PartEntity> {
        self.by_entity
            .get(name)
            .and_then(|&i| self.entities.get(i as usize))
    }

    /// Record `i` as an index entry.
    pub(crate) fn entry(&self, i: u64) -> Result<IndexEntry, StoreError> {
        let at = self.layout.record_at(i);
        if i >= self.layout.events {
            return Err(damaged(self.segment, at, "a record number out of range"));
        }
        self.source
            .with(at, INDEX_RECORD_LEN, |b| self.decode_entry(i, b))?
    }

    /// Record `i`, whose bytes are `b`, as an index entry.
    fn decode_entry(&self, i: u64, b: &[u8]) -> Result<IndexEntry, StoreError> {
        let at = self.layout.record_at(i);
        let r = decode_index_record(b.try_into().unwrap_or(&[0; 64]));
        let entity = self.entities.get(r.entity as usize);
        let scope = self.scopes.get(r.scope as usize);
        let (Some(entity), Some((scope, _))) = (entity, scope) else {
            return Err(damaged(
                self.segment,
                at,
                "an entity or scope number out of range",
            ));
        };
        Ok(IndexEntry {
            event_id: r.event_id,
            global_sequence: r.global_sequence,
            entity_sequence: r.entity_sequence,
            kind: r.kind,
            coordinate: Coordinate::from_validated(entity.name.clone(), scope.clone()),
            wall_ms: r.wall_ms,
            payload_version: r.payload_version,
            location: Location {
                segment: self.segment,
                offset: r.offset,
                len: r.frame_len,
            },
        })
    }

    /// The global sequence of record `i`.
    fn sequence_of(&self, i: u64) -> Result<u64, StoreError> {
        self.source.with(self.layout.record_at(i) + 16, 8, |b| {
            u64::from_le_bytes(b.try_into().unwrap_or_default())
        })
    }

    /// The first record whose global sequence is at least `global_sequence`
    /// (`len()` if none).
    pub(crate) fn lower_bound(&self, global_sequence: u64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (0u64, self.layout.events);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.sequence_of(mid)? < global_sequence {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The record of event `id`: a search of the fence, then of one window
    /// of the id table.
    pub(crate) fn find(&self, id: EventId) -> Result<Option<u64>, StoreError> {
        let key = id.as_u128();
        if self.layout.events == 0 || key < self.layout.min_id || key > self.layout.max_id {
            return Ok(None);
        }
        let (_, _, _, pair_len, _) = INDEX_ROW_LENS;
        let fence = self.fence()?;
        let Some(w) = fence.partition_point(|&k| k <= key).checked_sub(1) else {
            return Ok(None);
        };
        let start = w as u64 * FENCE_STRIDE;
        let n = FENCE_STRIDE.min(self.layout.events - start);
        self.source
            .with(self.layout.id_at(start), pair_len * n as usize, |b| {
                let pair = |i: usize| {
                    decode_index_pair(
                        b.get(i * pair_len..(i + 1) * pair_len)
                            .and_then(|c| c.try_into().ok())
                            .unwrap_or(&[0; 20]),
                    )
                };
                let (mut lo, mut hi) = (0usize, b.len() / pair_len);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let (k, r) = pair(mid);
                    match k.cmp(&key) {
                        std::cmp::Ordering::Less => lo = mid + 1,
                        std::cmp::Ordering::Greater => hi = mid,
                        std::cmp::Ordering::Equal => return Some(u64::from(r)),
                    }
                }
                None
            })
    }

    /// The id fence, read from the file on first use.
    fn fence(&self) -> Result<&[u128], StoreError> {
        if let Some(f) = self.fence.get() {
            return Ok(f);
        }
        let n = self.layout.fence_len();
        let keys: Vec<u128> = self
            .source
            .read(self.layout.fence_at(0), 16 * n as usize)?
            .chunks_exact(16)
            .map(|c| u128::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        let sorted = keys.windows(2).all(|w| w[0] < w[1]);
        if !sorted || keys.first().is_some_and(|&k| k != self.layout.min_id) {
            return Err(damaged(
                self.segment,
                self.layout.fence_at(0),
                "the id fence is not sorted",
            ));
        }
        Ok(self.fence.get_or_init(|| keys))
    }

    /// The run of `table` for entity `name`, scope `name` or kind `kind`.
    pub(crate) fn run(&self, table: Postings, name: &str, kind: EventKind) -> (u32, u32) {
        match table {
            Postings::Entity => self.entity(name).map_or((0, 0), |e| e.run),
            Postings::Scope => self
                .by_scope
                .get(name)
                .and_then(|&i| self.scopes.get(i as usize))
                .map_or((0, 0), |(_, run)| *run),
            Postings::Kind => self
                .kinds
                .binary_search_by_key(&kind.as_u16(), |(k, _)| k.as_u16())
                .map_or((0, 0), |i| self.kinds[i].1),
        }
    }

    /// Records `run.0 + from ..` of `run` in `table` (at most `max`), in
    /// commit order.
    pub(crate) fn postings(
        &self,
        table: Postings,
        run: (u32, u32),
        from: u32,
        max: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let (_, _, _, _, posting_len) = INDEX_ROW_LENS;
        let t = match table {
            Postings::Entity => 0,
            Postings::Scope => 1,
            Postings::Kind => 2,
        };
        let n = run
            .1
            .saturating_sub(from)
            .min(u32::try_from(max).unwrap_or(u32::MAX));
        let start = u64::from(run.0) + u64::from(from);
        if start + u64::from(n) > self.layout.events {
            return Err(damaged(
                self.segment,
                self.layout.posting_at(t, 0),
                "a run past the postings",
            ));
        }
        self.source.with(
            self.layout.posting_at(t, start),
            posting_len * n as usize,
            |b| {
                b.chunks_exact(posting_len)
                    .map(|c| u64::from(u32::from_le_bytes(c.try_into().unwrap_or_default())))
                    .collect()
            },
        )
    }

    /// The records linked to `key` in the correlation (or causation) table.
    pub(crate) fn links(&self, correlation: bool, key: u128) -> Result<Vec<u64>, StoreError> {
        let (count, at): (u64, &dyn Fn(u64) -> u64) = if correlation {
            (u64::from(self.layout.correlations), &|i| {
                self.layout.correlation_at(i)
            })
        } else {
            (u64::from(self.layout.causations), &|i| {
                self.layout.causation_at(i)
            })
        };
        let (_, _, _, pair_len, _) = INDEX_ROW_LENS;
        let pair = |i: u64| -> Result<(u128, u32), StoreError> {
            self.source.with(at(i), pair_len, |b| {
                decode_index_pair(b.try_into().unwrap_or(&[0; 20]))
            })
        };
        let (mut lo, mut hi) = (0u64, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pair(mid)?.0 < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut out = Vec::new();
        while lo < count {
            let (k, r) = pair(lo)?;
            if k != key {
                break;
            }
            out.push(u64::from(r));
            lo += 1;
        }
        Ok(out)
    }
}

/// Id-table entries per fence key (about a page of the table).
const FENCE_STRIDE: u64 = crate::format::ID_FENCE_STRIDE as u64;

/// Records a query scan reads at a time.
const SCAN_BATCH: u64 = 256;

/// Postings a run cursor reads at a time.
const RUN_BATCH: usize = 256;

/// A position in one run of a postings table, read a batch at a time.
struct RunCursor {
    table: Postings,
    run: (u32, u32),
    /// Position in the run of the first posting not yet in `buf`.
    next: u32,
    buf: Vec<u64>,
    at: usize,
}

impl RunCursor {
    /// The record at the cursor, reading the next batch when needed.
    fn peek(&mut self, part: &Part) -> Result<Option<u64>, StoreError> {
        if self.at == self.buf.len() {
            if self.next >= self.run.1 {
                return Ok(None);
            }
            self.buf = part.postings(self.table, self.run, self.next, RUN_BATCH)?;
            self.next += self.buf.len() as u32;
            self.at = 0;
        }
        Ok(self.buf.get(self.at).copied())
    }
}

/// Checks that a row's run starts where the previous one ended.
fn check_run(segment: u64, at: u64, run: (u32, u32), expected: &mut u64) -> Result<(), StoreError> {
    if u64::from(run.0) != *expected {
        return Err(damaged(segment, at, "postings runs are not contiguous"));
    }
    *expected += u64::from(run.1);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::format::{encode_index_file, FooterEntry, IndexFileHead};
    use crate::id::{CorrelationId, HlcPoint};
    use crate::index::pages::PageCache;
    use proptest::prelude::*;

    /// A footer of `n` events over `entities` entities, 3 scopes, 4 kinds,
    /// some links; with `retired`, sequences skip.
    fn footer(n: u64, entities: u64, retired: bool, seed: u64) -> Footer {
        let mut next = vec![0u64; entities as usize];
        let mut gs = 100u64;
        let mut entries = Vec::new();
        for i in 0..n {
            let e = (i * 7 + seed) % entities;
            if retired && (i + seed) % 3 == 0 {
                next[e as usize] += 1;
                gs += 1;
            }
            entries.push(FooterEntry {
                frame_len: 100 + (i % 13) as u32,
                event_id: EventId::from_u128(
                    u128::from((i * 2_654_435_761 + seed) % 1_000_003) << 20 | u128::from(i),
                ),
                entity_sequence: next[e as usize],
                kind: EventKind::custom(0xE, ((i + seed) % 4) as u16),
                entity: e as u32,
                scope: (i % 3) as u32,
                wall_ms: 1_000 + i,
                correlation_id: (i % 5 == 0).then(|| CorrelationId::from_u128(u128::from(i % 4))),
                causation_id: (i % 6 == 1).then(|| EventId::from_u128(u128::from(i % 3))),
                payload_version: 1,
                global_sequence: retired.then_some(gs),
            });
            next[e as usize] += 1;
            gs += 1;
        }
        Footer {
            base_global_sequence: 100,
            frames_end: 32 + entries.iter().map(|e| u64::from(e.frame_len)).sum::<u64>(),
            last_hlc: HlcPoint {
                physical_ms: 9,
                logical: 1,
            },
            entities: (0..entities)
                .map(|i| (format!("entity:{i}"), [i as u8; 32]))
                .collect(),
            scopes: (0..3).map(|i| format!("scope:{i}")).collect(),
            entries,
            retired: retired.then(|| Retired {
                end_global_sequence: gs + 2,
                next_entity_sequences: next.clone(),
            }),
        }
    }

    fn sources(f: &Footer, dir: &std::path::Path) -> Vec<IndexSource> {
        let head = IndexFileHead {
            segment_id: 3,
            segment_len: 999,
            footer_crc: 7,
        };
        let bytes = encode_index_file(head, f);
        crate::format::decode_index_file(&bytes).unwrap();
        let path = dir.join("x.idx");
        std::fs::write(&path, &bytes).unwrap();
        let file = crate::fs::open_regular_file(&path).unwrap().unwrap();
        let mut mem = Vec::new();
        for (p, page) in bytes.chunks(crate::format::INDEX_PAGE_LEN).enumerate() {
            mem.extend_from_slice(crate::format::index_page_data(page, p as u64).unwrap());
        }
        vec![
            IndexSource::Memory(mem.into()),
            IndexSource::file(file, path, Arc::new(PageCache::new(3 * 4096)), None).unwrap(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn a_part_answers_what_the_footer_lists(n in 0u64..700, entities in 1u64..9, retired: bool, seed in 0u64..50) {
            let f = footer(n, entities, retired, seed);
            let dir = tempfile::tempdir().unwrap();
            for source in sources(&f, dir.path()) {
                let part = Part::open(3, source, &mut |_, s| Arc::from(s)).unwrap();
                prop_assert_eq!(part.len(), n);
                let gs_of = |i: usize| f.entries[i].global_sequence.unwrap_or(100 + i as u64);
                for (i, e) in f.entries.iter().enumerate() {
                    let got = part.entry(i as u64).unwrap();
                    prop_assert_eq!(got.event_id, e.event_id);
                    prop_assert_eq!(got.global_sequence, gs_of(i));
                    prop_assert_eq!(got.entity_sequence, e.entity_sequence);
                    prop_assert_eq!(got.coordinate.entity(), f.entities[e.entity as usize].0.as_str());
                    prop_assert_eq!(got.coordinate.scope(), f.scopes[e.scope as usize].as_str());
                    prop_assert_eq!(part.find(e.event_id).unwrap(), Some(i as u64));
                    prop_assert_eq!(part.lower_bound(gs_of(i)).unwrap(), i as u64);
                }
                prop_assert_eq!(part.find(EventId::from_u128(u128::MAX)).unwrap(), None);
                prop_assert_eq!(part.lower_bound(u64::MAX).unwrap(), n);
                for (k, (name, tip)) in f.entities.iter().enumerate() {
                    let want: Vec<u64> = (0..f.entries.len()).filter(|&i| f.entries[i].entity as usize == k).map(|i| i as u64).collect();
                    let run = part.run(Postings::Entity, name, EventKind::custom(0xE, 0x999));
                    prop_assert_eq!(part.postings(Postings::Entity, run, 0, usize::MAX).unwrap(), want.clone());
                    if want.len() > 2 {
                        prop_assert_eq!(part.postings(Postings::Entity, run, 1, 1).unwrap(), want[1..2].to_vec());
                    }
                    let row = part.entity(name).unwrap();
                    prop_assert_eq!(&row.tip, tip);
                    prop_assert_eq!(row.first, want.first().map_or(row.next, |&i| f.entries[i as usize].entity_sequence));
                }
                prop_assert_eq!(part.entities().len(), f.entities.len());
                for (k, name) in f.scopes.iter().enumerate() {
                    let want: Vec<u64> = (0..f.entries.len()).filter(|&i| f.entries[i].scope as usize == k).map(|i| i as u64).collect();
                    let run = part.run(Postings::Scope, name, EventKind::custom(0xE, 0x999));
                    prop_assert_eq!(part.postings(Postings::Scope, run, 0, usize::MAX).unwrap(), want);
                }
                for kind in 0..5u16 {
                    let k = EventKind::custom(0xE, kind);
                    let want: Vec<u64> = (0..f.entries.len()).filter(|&i| f.entries[i].kind == k).map(|i| i as u64).collect();
                    let run = part.run(Postings::Kind, "", k);
                    prop_assert_eq!(part.postings(Postings::Kind, run, 0, usize::MAX).unwrap(), want);
                }
                for key in 0..5u128 {
                    let want: Vec<u64> = (0..f.entries.len()).filter(|&i| f.entries[i].correlation_id == Some(CorrelationId::from_u128(key))).map(|i| i as u64).collect();
                    prop_assert_eq!(part.links(true, key).unwrap(), want);
                    let want: Vec<u64> = (0..f.entries.len()).filter(|&i| f.entries[i].causation_id == Some(EventId::from_u128(key))).map(|i| i as u64).collect();
                    prop_assert_eq!(part.links(false, key).unwrap(), want);
                }
            }
        }
    }

    #[test]
    fn a_range_whose_end_overflows_is_refused_at_open() {
        // Found by the index_file fuzz target: a base sequence of u64::MAX
        // with events after it made `end()` overflow.
        let hex = [
            "42504b494e444558010001000100000007000000000000000000100000000000ffffffffffffffff9e00000000000000",
            "0068e5cf8b01000000000000010000000100000001000000010000000000000000000000000000000200000000000000",
            "000000000000000001000000000000000000000000000000010000000000000000000000000000000000000000000000",
            "000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000040000",
            "0068e5cf8b01000020000000000000007e00000001e00100000000000000000001000000000000000000000000000000",
            "000000000000000001000000010101010101010101010101010101010101010101010101010101010101010100000000",
            "00000000010000000000000000000000010000000100000001000000000000000100000001e000000000000001000000",
            "010000000000000e00000007010000000001000000000000000000000100",
        ]
        .concat();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let opened = Part::open(7, IndexSource::Memory(bytes.into()), &mut |_, s| {
            Arc::from(s)
        });
        assert!(opened.is_err());
    }

    #[test]
    fn a_damaged_page_is_an_error_naming_the_index_file_never_a_wrong_answer() {
        let f = footer(300, 4, false, 1);
        let dir = tempfile::tempdir().unwrap();
        let head = IndexFileHead {
            segment_id: 3,
            segment_len: 999,
            footer_crc: 7,
        };
        let bytes = encode_index_file(head, &f);
        assert!(bytes.len() > 2 * crate::format::INDEX_PAGE_LEN);
        let path = dir.path().join("x.idx");
        // A flipped byte in the second page: the head and rows still read
        // (last page), records in that page fail; none reads wrong.
        let mut bad = bytes.clone();
        bad[crate::format::INDEX_PAGE_LEN + 100] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        let file = crate::fs::open_regular_file(&path).unwrap().unwrap();
        let source =
            IndexSource::file(file, path, Arc::new(PageCache::new(1 << 20)), None).unwrap();
        let part = Part::open(3, source, &mut |_, s| Arc::from(s)).unwrap();
        let mut failed = 0;
        for (i, e) in f.entries.iter().enumerate() {
            match part.entry(i as u64) {
                Ok(got) => assert_eq!(got.event_id, e.event_id),
                Err(err) => {
                    assert!(matches!(err, StoreError::CorruptSegment { .. }), "{err}");
                    failed += 1;
                }
            }
        }
        assert!(failed > 0);
    }
}
