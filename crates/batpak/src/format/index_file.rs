//! The index file of a sealed segment (`<segment>.idx`): what the segment's
//! footer lists, laid out in fixed-width tables that can be read a page at a
//! time.
//!
//! ```text
//! logical bytes: [head 128][records n×64][ids n×20]
//!                [entity rows e×56][scope rows s×16][kind rows k×12]
//!                [entity postings n×4][scope postings n×4][kind postings n×4]
//!                [correlations c×20][causations d×20]
//!                [id fence ⌈n/204⌉×16][names]
//! on disk:       pages of INDEX_PAGE_LEN bytes, each the next
//!                INDEX_PAGE_LEN - 4 logical bytes then their CRC-32 (u32 LE);
//!                the last page may be shorter
//! ```
//!
//! Every integer is little-endian. A record holds an event's fields and
//! where its frame starts; the id table pairs each event id with its record,
//! sorted by id; each entity, scope and kind row names the run of a postings
//! table that lists its records in commit order; the link tables pair each
//! correlation and causation id with its record, sorted by id, then record.
//!
//! The head ties the file to one footer: the segment's length and the CRC-32
//! its trailer stores. Open uses the file only when both agree with the
//! segment on disk; otherwise it rebuilds the file from the footer.

use super::error::DecodeError;
use super::footer::Footer;
#[cfg(any(test, feature = "fuzzing"))]
use super::footer::{FooterEntry, Retired};
use super::segment_header::SEGMENT_HEADER_LEN;
#[cfg(any(test, feature = "fuzzing"))]
use crate::id::CorrelationId;
use crate::id::{EventId, HlcPoint};
use crate::kind::EventKind;

/// First eight bytes of an index file.
pub const INDEX_FILE_MAGIC: [u8; 8] = *b"BPKINDEX";
/// Version of the index file layout this build writes and reads.
pub const INDEX_FORMAT_VERSION: u16 = 1;
/// Bytes of one page of an index file on disk (its last four: the CRC-32 of the rest).
pub const INDEX_PAGE_LEN: usize = 4096;
/// Logical bytes one page carries.
const PAGE_DATA: usize = INDEX_PAGE_LEN - 4;
const HEAD_LEN: usize = 160;
const RECORD_LEN: usize = 64;
const PAIR_LEN: usize = 20;
const ENTITY_ROW_LEN: usize = 64;
const SCOPE_ROW_LEN: usize = 16;
const KIND_ROW_LEN: usize = 12;
const POSTING_LEN: usize = 4;

/// What ties an index file to the segment it indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexFileHead {
    pub(crate) segment_id: u64,
    /// Length of the segment file when its footer was written.
    pub(crate) segment_len: u64,
    /// The CRC-32 the segment's trailer stores for its footer.
    pub(crate) footer_crc: u32,
}

/// Encodes the index file of segment `head.segment_id`, whose footer is `f`.
pub(crate) fn encode_index_file(head: IndexFileHead, f: &Footer) -> Vec<u8> {
    paginate(&encode_index_logical(head, f))
}

/// The logical bytes of the index file [`encode_index_file`] pages: what a
/// part reads, when it is held in memory instead of on disk.
pub(crate) fn encode_index_logical(head: IndexFileHead, f: &Footer) -> Vec<u8> {
    let n = f.entries.len();
    let mut names = Vec::new();
    let mut name_ref = |s: &str| {
        let at = names.len();
        names.extend_from_slice(s.as_bytes());
        (u32_of(at), u32_of(s.len()))
    };
    let entity_names: Vec<(u32, u32)> = f.entities.iter().map(|(n, _)| name_ref(n)).collect();
    let scope_names: Vec<(u32, u32)> = f.scopes.iter().map(|n| name_ref(n)).collect();
    let mut by_entity: Vec<Vec<u32>> = vec![Vec::new(); f.entities.len()];
    let mut by_scope: Vec<Vec<u32>> = vec![Vec::new(); f.scopes.len()];
    let mut by_kind: std::collections::BTreeMap<u16, Vec<u32>> = Default::default();
    let mut ids: Vec<(u128, u32)> = Vec::with_capacity(n);
    let mut correlations: Vec<(u128, u32)> = Vec::new();
    let mut causations: Vec<(u128, u32)> = Vec::new();
    let mut records = Vec::with_capacity(n * RECORD_LEN);
    let mut offset = SEGMENT_HEADER_LEN as u64;
    for (i, e) in f.entries.iter().enumerate() {
        let r = u32_of(i);
        let gs = e
            .global_sequence
            .unwrap_or(f.base_global_sequence + i as u64);
        records.extend_from_slice(&e.event_id.as_u128().to_le_bytes());
        records.extend_from_slice(&gs.to_le_bytes());
        records.extend_from_slice(&e.entity_sequence.to_le_bytes());
        records.extend_from_slice(&e.wall_ms.to_le_bytes());
        records.extend_from_slice(&offset.to_le_bytes());
        records.extend_from_slice(&e.frame_len.to_le_bytes());
        records.extend_from_slice(&e.kind.as_u16().to_le_bytes());
        records.extend_from_slice(&e.payload_version.to_le_bytes());
        records.extend_from_slice(&e.entity.to_le_bytes());
        records.extend_from_slice(&e.scope.to_le_bytes());
        offset += u64::from(e.frame_len);
        ids.push((e.event_id.as_u128(), r));
        if let Some(list) = by_entity.get_mut(e.entity as usize) {
            list.push(r);
        }
        if let Some(list) = by_scope.get_mut(e.scope as usize) {
            list.push(r);
        }
        by_kind.entry(e.kind.as_u16()).or_default().push(r);
        if let Some(c) = e.correlation_id {
            correlations.push((c.as_u128(), r));
        }
        if let Some(c) = e.causation_id {
            causations.push((c.as_u128(), r));
        }
    }
    ids.sort_unstable();
    correlations.sort_unstable();
    causations.sort_unstable();
    let retired = f.retired.as_ref();
    let mut out = Vec::with_capacity(HEAD_LEN + n * 100 + names.len());
    out.extend_from_slice(&INDEX_FILE_MAGIC);
    out.extend_from_slice(&INDEX_FORMAT_VERSION.to_le_bytes());
    out.push(if retired.is_some() { 2 } else { 1 });
    out.push(0);
    out.extend_from_slice(&head.footer_crc.to_le_bytes());
    for v in [
        head.segment_id,
        head.segment_len,
        f.base_global_sequence,
        f.frames_end,
        f.last_hlc.physical_ms,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&f.last_hlc.logical.to_le_bytes());
    for v in [f.entities.len(), f.scopes.len(), by_kind.len()] {
        out.extend_from_slice(&u32_of(v).to_le_bytes());
    }
    for v in [
        n as u64,
        retired.map_or(0, |r| r.end_global_sequence),
        names.len() as u64,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&u32_of(correlations.len()).to_le_bytes());
    out.extend_from_slice(&u32_of(causations.len()).to_le_bytes());
    let (min_id, max_id) = (
        ids.first().map_or(0, |p| p.0),
        ids.last().map_or(0, |p| p.0),
    );
    out.extend_from_slice(&min_id.to_le_bytes());
    out.extend_from_slice(&max_id.to_le_bytes());
    out.resize(HEAD_LEN, 0);
    out.extend_from_slice(&records);
    write_pairs(&mut out, &ids);
    let mut start = 0u32;
    for (i, ((name_at, name_len), (_, tip))) in entity_names.iter().zip(&f.entities).enumerate() {
        let next = retired.map_or_else(
            || {
                by_entity[i]
                    .last()
                    .map_or(0, |&r| f.entries[r as usize].entity_sequence + 1)
            },
            |r| r.next_entity_sequences.get(i).copied().unwrap_or(0),
        );
        let first = by_entity[i]
            .first()
            .map_or(next, |&r| f.entries[r as usize].entity_sequence);
        out.extend_from_slice(&name_at.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(tip);
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&next.to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&u32_of(by_entity[i].len()).to_le_bytes());
        start += u32_of(by_entity[i].len());
    }
    start = 0;
    for (i, (name_at, name_len)) in scope_names.iter().enumerate() {
        out.extend_from_slice(&name_at.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&u32_of(by_scope[i].len()).to_le_bytes());
        start += u32_of(by_scope[i].len());
    }
    start = 0;
    for (kind, list) in &by_kind {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&start.to_le_bytes());
        out.extend_from_slice(&u32_of(list.len()).to_le_bytes());
        start += u32_of(list.len());
    }
    for list in by_entity.iter().chain(&by_scope).chain(by_kind.values()) {
        for r in list {
            out.extend_from_slice(&r.to_le_bytes());
        }
    }
    write_pairs(&mut out, &correlations);
    write_pairs(&mut out, &causations);
    for (key, _) in ids.iter().step_by(ID_FENCE_STRIDE) {
        out.extend_from_slice(&key.to_le_bytes());
    }
    out.extend_from_slice(&names);
    out
}

/// Id-table entries per key of the id fence (a window of about one page
/// of the table): a lookup by id searches the fence, then one window.
pub(crate) const ID_FENCE_STRIDE: usize = 204;

fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn write_pairs(out: &mut Vec<u8>, pairs: &[(u128, u32)]) {
    for (k, r) in pairs {
        out.extend_from_slice(&k.to_le_bytes());
        out.extend_from_slice(&r.to_le_bytes());
    }
}

/// Splits logical bytes into pages, each followed by its CRC-32.
pub(crate) fn paginate(logical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(logical.len() + logical.len() / PAGE_DATA * 4 + 4);
    for chunk in logical.chunks(PAGE_DATA) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(&crc32fast::hash(chunk).to_le_bytes());
    }
    out
}

#[cfg(any(test, feature = "fuzzing"))]
/// Checks every page's CRC-32 and returns the logical bytes.
fn depaginate(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len());
    for (page, stored) in bytes.chunks(INDEX_PAGE_LEN).enumerate() {
        out.extend_from_slice(index_page_data(stored, page as u64)?);
    }
    Ok(out)
}

#[cfg(any(test, feature = "fuzzing"))]
/// A decoded index file: its head and the footer it repeats.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct IndexFile {
    pub(crate) head: IndexFileHead,
    pub(crate) footer: Footer,
}

/// Little-endian fields read from a checked range of the logical bytes.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(DecodeError::Truncated {
                offset: self.at as u64,
                needed: n as u64,
            });
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    /// A count of `width`-byte items that must fit in what is left.
    #[cfg(any(test, feature = "fuzzing"))]
    fn count(&self, n: u64, width: usize, field: &'static str) -> Result<usize, DecodeError> {
        usize::try_from(n)
            .ok()
            .filter(|&n| {
                n.checked_mul(width)
                    .is_some_and(|b| b <= self.bytes.len().saturating_sub(self.at))
            })
            .ok_or(DecodeError::OutOfRange {
                offset: self.at as u64,
                field,
            })
    }
}

fn inconsistent(at: usize, problem: &'static str) -> DecodeError {
    DecodeError::Inconsistent {
        offset: at as u64,
        problem,
    }
}

#[cfg(any(test, feature = "fuzzing"))]
/// A postings row: the run `start..start + len` of its table.
fn postings_run(
    f: &mut Fields<'_>,
    expected_start: &mut u64,
) -> Result<std::ops::Range<usize>, DecodeError> {
    let at = f.at;
    let (start, len) = (u64::from(f.u32()?), u64::from(f.u32()?));
    if start != *expected_start {
        return Err(inconsistent(at, "postings runs are not contiguous"));
    }
    *expected_start += len;
    Ok(start as usize..(start + len) as usize)
}

#[cfg(any(test, feature = "fuzzing"))]
/// Reads a postings table: run `i` of `runs` must list, in commit order,
/// records whose `row` is `i`; together the runs list every record once.
/// Returns each run's first record.
fn check_postings(
    f: &mut Fields<'_>,
    entries: &[FooterEntry],
    runs: &[std::ops::Range<usize>],
    row: impl Fn(&FooterEntry) -> Option<usize>,
) -> Result<Vec<Option<usize>>, DecodeError> {
    let mut listed = vec![false; entries.len()];
    let mut firsts = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        let mut last: Option<usize> = None;
        let mut first = None;
        for _ in run.clone() {
            let at = f.at;
            let r = f.u32()? as usize;
            let ok = entries.get(r).is_some_and(|e| row(e) == Some(i))
                && last.is_none_or(|l| l < r)
                && !listed[r];
            if !ok {
                return Err(inconsistent(at, "postings that do not match their records"));
            }
            listed[r] = true;
            last = Some(r);
            first = first.or(Some(r));
        }
        firsts.push(first);
    }
    Ok(firsts)
}

/// The head of an index file: its binding to a footer, its counts, and so
/// where each table starts in the logical bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexLayout {
    pub(crate) head: IndexFileHead,
    /// The footer it repeats is of version 2 (a retention wrote it).
    pub(crate) retired: bool,
    pub(crate) base_global_sequence: u64,
    /// One past the range's last global sequence (version 2; else 0).
    pub(crate) end_global_sequence: u64,
    pub(crate) frames_end: u64,
    pub(crate) last_hlc: HlcPoint,
    pub(crate) events: u64,
    pub(crate) entities: u32,
    pub(crate) scopes: u32,
    pub(crate) kinds: u32,
    pub(crate) correlations: u32,
    pub(crate) causations: u32,
    /// The lowest and highest event id (0 and 0 without events).
    pub(crate) min_id: u128,
    pub(crate) max_id: u128,
    pub(crate) names_len: u64,
}

impl IndexLayout {
    /// Bytes of the head.
    pub(crate) const HEAD_LEN: u64 = HEAD_LEN as u64;

    /// Logical offset of record `i`.
    pub(crate) fn record_at(&self, i: u64) -> u64 {
        Self::HEAD_LEN + i * RECORD_LEN as u64
    }
    /// Logical offset of entry `i` of the id table.
    pub(crate) fn id_at(&self, i: u64) -> u64 {
        self.record_at(self.events) + i * PAIR_LEN as u64
    }
    /// Logical offset of entity row `i`.
    pub(crate) fn entity_row_at(&self, i: u64) -> u64 {
        self.id_at(self.events) + i * ENTITY_ROW_LEN as u64
    }
    /// Logical offset of scope row `i`.
    pub(crate) fn scope_row_at(&self, i: u64) -> u64 {
        self.entity_row_at(u64::from(self.entities)) + i * SCOPE_ROW_LEN as u64
    }
    /// Logical offset of kind row `i`.
    pub(crate) fn kind_row_at(&self, i: u64) -> u64 {
        self.scope_row_at(u64::from(self.scopes)) + i * KIND_ROW_LEN as u64
    }
    /// Logical offset of posting `i` of table `table` (0 entities, 1 scopes, 2 kinds).
    pub(crate) fn posting_at(&self, table: u64, i: u64) -> u64 {
        self.kind_row_at(u64::from(self.kinds)) + (table * self.events + i) * POSTING_LEN as u64
    }
    /// Logical offset of entry `i` of the correlation table.
    pub(crate) fn correlation_at(&self, i: u64) -> u64 {
        self.posting_at(3, 0) + i * PAIR_LEN as u64
    }
    /// Logical offset of entry `i` of the causation table.
    pub(crate) fn causation_at(&self, i: u64) -> u64 {
        self.correlation_at(u64::from(self.correlations)) + i * PAIR_LEN as u64
    }
    /// Keys of the id fence: the id table's every [`ID_FENCE_STRIDE`]-th.
    pub(crate) fn fence_len(&self) -> u64 {
        self.events.div_ceil(ID_FENCE_STRIDE as u64)
    }
    /// Logical offset of key `i` of the id fence.
    pub(crate) fn fence_at(&self, i: u64) -> u64 {
        self.causation_at(u64::from(self.causations)) + i * 16
    }
    /// Logical offset of the names.
    pub(crate) fn names_at(&self) -> u64 {
        self.fence_at(self.fence_len())
    }
    /// Logical bytes the file must hold (`None` if the counts overflow).
    pub(crate) fn logical_len(&self) -> Option<u64> {
        // Every count is bounded so these products fit: events < 2^40.
        (self.events < 1 << 40).then(|| self.names_at() + self.names_len)
    }
}

/// Decodes the head from the first logical bytes of an index file.
pub(crate) fn decode_index_head(logical: &[u8]) -> Result<IndexLayout, DecodeError> {
    let mut f = Fields {
        bytes: logical.get(..HEAD_LEN).ok_or(DecodeError::Truncated {
            offset: 0,
            needed: HEAD_LEN as u64,
        })?,
        at: 0,
    };
    if f.take(8)? != INDEX_FILE_MAGIC {
        return Err(DecodeError::BadMagic {
            offset: 0,
            expected: &INDEX_FILE_MAGIC,
        });
    }
    let version = f.u16()?;
    if version != INDEX_FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: INDEX_FORMAT_VERSION,
        });
    }
    let retired = match f.take(2)? {
        [1, 0] => false,
        [2, 0] => true,
        _ => {
            return Err(DecodeError::OutOfRange {
                offset: 10,
                field: "footer version",
            })
        }
    };
    let footer_crc = f.u32()?;
    let segment_id = f.u64()?;
    let segment_len = f.u64()?;
    let base_global_sequence = f.u64()?;
    let frames_end = f.u64()?;
    let last_hlc = HlcPoint {
        physical_ms: f.u64()?,
        logical: f.u32()?,
    };
    let (entities, scopes, kinds) = (f.u32()?, f.u32()?, f.u32()?);
    let (events, end_global_sequence, names_len) = (f.u64()?, f.u64()?, f.u64()?);
    let (correlations, causations) = (f.u32()?, f.u32()?);
    let (min_id, max_id) = (f.u128()?, f.u128()?);
    if f.take(HEAD_LEN - f.at)?.iter().any(|&b| b != 0) {
        return Err(inconsistent(136, "reserved head bytes are not zero"));
    }
    if events >= 1 << 40 || names_len >= 1 << 40 {
        return Err(DecodeError::OutOfRange {
            offset: 72,
            field: "event count",
        });
    }
    Ok(IndexLayout {
        head: IndexFileHead {
            segment_id,
            segment_len,
            footer_crc,
        },
        retired,
        base_global_sequence,
        end_global_sequence,
        frames_end,
        last_hlc,
        events,
        entities,
        scopes,
        kinds,
        correlations,
        causations,
        min_id,
        max_id,
        names_len,
    })
}

/// Logical bytes one page carries.
pub(crate) const INDEX_PAGE_DATA: usize = PAGE_DATA;

/// The logical bytes of page `page` of an index file, read as `stored`
/// (a whole page, or the shorter last one), after checking its CRC.
pub(crate) fn index_page_data(stored: &[u8], page: u64) -> Result<&[u8], DecodeError> {
    let at = page * INDEX_PAGE_LEN as u64;
    let Some((data, crc)) = stored
        .split_last_chunk::<4>()
        .filter(|(d, _)| !d.is_empty())
    else {
        return Err(DecodeError::Truncated {
            offset: at,
            needed: 5,
        });
    };
    super::check_crc(at, data, u32::from_le_bytes(*crc))?;
    Ok(data)
}

/// One record of an index file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexRecord {
    pub(crate) event_id: EventId,
    pub(crate) global_sequence: u64,
    pub(crate) entity_sequence: u64,
    pub(crate) wall_ms: u64,
    pub(crate) offset: u64,
    pub(crate) frame_len: u32,
    pub(crate) kind: EventKind,
    pub(crate) payload_version: u16,
    pub(crate) entity: u32,
    pub(crate) scope: u32,
}

/// Bytes of one record.
pub(crate) const INDEX_RECORD_LEN: usize = RECORD_LEN;

/// Decodes a record from its [`INDEX_RECORD_LEN`] bytes.
pub(crate) fn decode_index_record(b: &[u8; RECORD_LEN]) -> IndexRecord {
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
    let u16_at = |i: usize| u16::from_le_bytes(b[i..i + 2].try_into().unwrap_or_default());
    IndexRecord {
        event_id: EventId::from_u128(u128::from_le_bytes(b[..16].try_into().unwrap_or_default())),
        global_sequence: u64_at(16),
        entity_sequence: u64_at(24),
        wall_ms: u64_at(32),
        offset: u64_at(40),
        frame_len: u32_at(48),
        kind: EventKind::from_u16(u16_at(52)),
        payload_version: u16_at(54),
        entity: u32_at(56),
        scope: u32_at(60),
    }
}

/// An entity row: its name (offset and length in the names), the hash of
/// its last event in the range, its first and next entity sequence, and
/// its run of the entity postings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntityRow {
    pub(crate) name: (u32, u32),
    pub(crate) tip: [u8; 32],
    pub(crate) first: u64,
    pub(crate) next: u64,
    pub(crate) run: (u32, u32),
}

/// A scope row: its name and its run of the scope postings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScopeRow {
    pub(crate) name: (u32, u32),
    pub(crate) run: (u32, u32),
}

/// A kind row: the kind and its run of the kind postings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KindRow {
    pub(crate) kind: EventKind,
    pub(crate) run: (u32, u32),
}

/// Bytes of an entity, scope and kind row, of a pair (id or link table
/// entry) and of a posting.
pub(crate) const INDEX_ROW_LENS: (usize, usize, usize, usize, usize) = (
    ENTITY_ROW_LEN,
    SCOPE_ROW_LEN,
    KIND_ROW_LEN,
    PAIR_LEN,
    POSTING_LEN,
);

fn u32_le(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default())
}

fn u64_le(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default())
}

/// Decodes an entity row.
pub(crate) fn decode_entity_row(b: &[u8; ENTITY_ROW_LEN]) -> EntityRow {
    let mut tip = [0u8; 32];
    tip.copy_from_slice(&b[8..40]);
    EntityRow {
        name: (u32_le(b, 0), u32_le(b, 4)),
        tip,
        first: u64_le(b, 40),
        next: u64_le(b, 48),
        run: (u32_le(b, 56), u32_le(b, 60)),
    }
}

/// Decodes a scope row.
pub(crate) fn decode_scope_row(b: &[u8; SCOPE_ROW_LEN]) -> ScopeRow {
    ScopeRow {
        name: (u32_le(b, 0), u32_le(b, 4)),
        run: (u32_le(b, 8), u32_le(b, 12)),
    }
}

/// Decodes a kind row.
pub(crate) fn decode_kind_row(b: &[u8; KIND_ROW_LEN]) -> KindRow {
    KindRow {
        kind: EventKind::from_u16(u16::from_le_bytes([b[0], b[1]])),
        run: (u32_le(b, 4), u32_le(b, 8)),
    }
}

/// Decodes a pair of the id or a link table: `(id, record)`.
pub(crate) fn decode_index_pair(b: &[u8; PAIR_LEN]) -> (u128, u32) {
    (
        u128::from_le_bytes(b[..16].try_into().unwrap_or_default()),
        u32_le(b, 16),
    )
}

#[cfg(any(test, feature = "fuzzing"))]
/// Decodes an index file, checking every page's CRC and that its tables
/// agree with each other (each postings table lists every record once, in
/// order, under the row its record names).
pub(crate) fn decode_index_file(bytes: &[u8]) -> Result<IndexFile, DecodeError> {
    let logical = depaginate(bytes)?;
    let layout = decode_index_head(&logical)?;
    if layout.logical_len() != Some(logical.len() as u64) {
        return Err(inconsistent(72, "the tables do not add up to the file"));
    }
    let IndexLayout {
        head:
            IndexFileHead {
                segment_id,
                segment_len,
                footer_crc,
            },
        retired,
        base_global_sequence: base,
        end_global_sequence: end_gs,
        frames_end,
        last_hlc,
        events: n,
        entities: entity_count,
        scopes: scope_count,
        kinds: kind_count,
        correlations: correlation_count,
        causations: causation_count,
        min_id,
        max_id,
        names_len,
    } = layout;
    let mut f = Fields {
        bytes: &logical,
        at: HEAD_LEN,
    };
    let n = f.count(n, RECORD_LEN + PAIR_LEN + 3 * POSTING_LEN, "event count")?;
    let names_at = logical
        .len()
        .checked_sub(usize::try_from(names_len).unwrap_or(usize::MAX))
        .ok_or(DecodeError::OutOfRange {
            offset: 88,
            field: "names length",
        })?;
    let names = &logical[names_at..];
    let name = |at: usize, off: u32, len: u32| -> Result<String, DecodeError> {
        let range = (off as usize)..(off as usize).saturating_add(len as usize);
        names
            .get(range)
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_owned)
            .ok_or(inconsistent(
                at,
                "a name outside the name table or not UTF-8",
            ))
    };
    // Records.
    let mut entries = Vec::with_capacity(n);
    let mut offset = SEGMENT_HEADER_LEN as u64;
    let mut previous_gs: Option<u64> = None;
    for i in 0..n {
        let at = f.at;
        let IndexRecord {
            event_id,
            global_sequence: gs,
            entity_sequence,
            wall_ms,
            offset: frame_at,
            frame_len,
            kind,
            payload_version,
            entity,
            scope,
        } = decode_index_record(&f.array()?);
        let gs_ok = if retired {
            previous_gs.is_none_or(|p| gs > p) && gs >= base && gs < end_gs
        } else {
            gs == base.wrapping_add(i as u64)
        };
        if !gs_ok {
            return Err(inconsistent(at, "global sequences out of order"));
        }
        previous_gs = Some(gs);
        if frame_at != offset {
            return Err(inconsistent(
                at,
                "a frame offset that does not follow the last frame",
            ));
        }
        offset = offset.saturating_add(u64::from(frame_len));
        if entity >= entity_count || scope >= scope_count {
            return Err(inconsistent(at, "an entity or scope number out of range"));
        }
        entries.push(FooterEntry {
            frame_len,
            event_id,
            entity_sequence,
            kind,
            entity,
            scope,
            wall_ms,
            correlation_id: None,
            causation_id: None,
            payload_version,
            global_sequence: retired.then_some(gs),
        });
    }
    if offset != frames_end {
        return Err(inconsistent(
            f.at,
            "frames do not end where the footer starts",
        ));
    }
    // The id table: every record once, sorted by id.
    let mut previous: Option<u128> = None;
    let mut seen = vec![false; n];
    let mut fence = Vec::with_capacity(n.div_ceil(ID_FENCE_STRIDE));
    for i in 0..n {
        let at = f.at;
        let (id, r) = (f.u128()?, f.u32()? as usize);
        if i % ID_FENCE_STRIDE == 0 {
            fence.push(id);
        }
        let named = entries.get(r).map(|e| e.event_id.as_u128());
        if named != Some(id) || previous.is_some_and(|p| p >= id) || seen[r] {
            return Err(inconsistent(
                at,
                "the id table does not list each record once by id",
            ));
        }
        seen[r] = true;
        if previous.is_none() && id != min_id {
            return Err(inconsistent(
                at,
                "the head's lowest id is not the id table's",
            ));
        }
        previous = Some(id);
    }
    if previous.unwrap_or(0) != max_id || (n == 0 && min_id != 0) {
        return Err(inconsistent(
            104,
            "the head's id range is not the id table's",
        ));
    }
    // Rows.
    let entity_count = f.count(u64::from(entity_count), ENTITY_ROW_LEN, "entity count")?;
    let mut entities = Vec::with_capacity(entity_count);
    let mut nexts = Vec::with_capacity(entity_count);
    let mut firsts = Vec::with_capacity(entity_count);
    let mut entity_runs = Vec::with_capacity(entity_count);
    let mut start = 0u64;
    for _ in 0..entity_count {
        let at = f.at;
        let (off, len) = (f.u32()?, f.u32()?);
        let tip: [u8; 32] = f.array()?;
        let first = f.u64()?;
        let next = f.u64()?;
        firsts.push((at, first, next));
        nexts.push(next);
        entity_runs.push(postings_run(&mut f, &mut start)?);
        entities.push((name(at, off, len)?, tip));
    }
    let scope_count = f.count(u64::from(scope_count), SCOPE_ROW_LEN, "scope count")?;
    let mut scopes = Vec::with_capacity(scope_count);
    let mut scope_runs = Vec::with_capacity(scope_count);
    let mut scope_start = 0u64;
    for _ in 0..scope_count {
        let at = f.at;
        let (off, len) = (f.u32()?, f.u32()?);
        scope_runs.push(postings_run(&mut f, &mut scope_start)?);
        scopes.push(name(at, off, len)?);
    }
    let kind_count = f.count(u64::from(kind_count), KIND_ROW_LEN, "kind count")?;
    let mut kind_runs = Vec::with_capacity(kind_count);
    let mut kind_start = 0u64;
    let mut previous_kind: Option<u16> = None;
    for _ in 0..kind_count {
        let at = f.at;
        let kind = f.u16()?;
        if f.u16()? != 0 || previous_kind.is_some_and(|p| p >= kind) {
            return Err(inconsistent(at, "kind rows out of order"));
        }
        previous_kind = Some(kind);
        kind_runs.push((kind, postings_run(&mut f, &mut kind_start)?));
    }
    for total in [start, scope_start, kind_start] {
        if total != n as u64 {
            return Err(inconsistent(
                f.at,
                "a postings table does not list every record",
            ));
        }
    }
    // Postings: each table lists every record once, in order, under its row.
    let heads = check_postings(&mut f, &entries, &entity_runs, |e| Some(e.entity as usize))?;
    for (&(at, first, next), head) in firsts.iter().zip(heads) {
        let listed = head.map_or(next, |r| entries[r].entity_sequence);
        if listed != first || first > next {
            return Err(inconsistent(
                at,
                "an entity's first sequence is not its first event's",
            ));
        }
    }
    let _ = check_postings(&mut f, &entries, &scope_runs, |e| Some(e.scope as usize))?;
    let kind_rows: Vec<(u16, std::ops::Range<usize>)> = kind_runs;
    let runs: Vec<std::ops::Range<usize>> = kind_rows.iter().map(|(_, r)| r.clone()).collect();
    let _ = check_postings(&mut f, &entries, &runs, |e| {
        kind_rows
            .binary_search_by_key(&e.kind.as_u16(), |(k, _)| *k)
            .ok()
    })?;
    // Links.
    for (count, is_correlation) in [(correlation_count, true), (causation_count, false)] {
        let count = f.count(u64::from(count), PAIR_LEN, "link count")?;
        let mut previous: Option<(u128, u32)> = None;
        for _ in 0..count {
            let at = f.at;
            let pair = (f.u128()?, f.u32()?);
            let Some(e) = entries
                .get_mut(pair.1 as usize)
                .filter(|_| previous.is_none_or(|p| p < pair))
            else {
                return Err(inconsistent(
                    at,
                    "a link table out of order or out of range",
                ));
            };
            let slot_taken = if is_correlation {
                e.correlation_id
                    .replace(CorrelationId::from_u128(pair.0))
                    .is_some()
            } else {
                e.causation_id.replace(EventId::from_u128(pair.0)).is_some()
            };
            if slot_taken {
                return Err(inconsistent(at, "two links of one kind for one record"));
            }
            previous = Some(pair);
        }
    }
    for key in &fence {
        let at = f.at;
        if f.u128()? != *key {
            return Err(inconsistent(at, "the id fence is not the id table's"));
        }
    }
    if f.at != names_at {
        return Err(inconsistent(f.at, "bytes between the tables and the names"));
    }
    let retired = retired.then_some(Retired {
        end_global_sequence: end_gs,
        next_entity_sequences: nexts,
    });
    Ok(IndexFile {
        head: IndexFileHead {
            segment_id,
            segment_len,
            footer_crc,
        },
        footer: Footer {
            base_global_sequence: base,
            frames_end,
            last_hlc,
            entities,
            scopes,
            entries,
            retired,
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::format::footer::tests::{footer, retired_footer};

    const HEAD: IndexFileHead = IndexFileHead {
        segment_id: 7,
        segment_len: 12_345,
        footer_crc: 0xDEAD_BEEF,
    };

    fn big_footer() -> Footer {
        let mut f = footer();
        let one = f.entries[0].clone();
        f.entries.clear();
        for i in 0..300u64 {
            let mut e = one.clone();
            e.event_id = EventId::from_u128(u128::from(1000 - i));
            e.entity = (i % 2) as u32;
            e.entity_sequence = i / 2;
            e.scope = 0;
            e.kind = EventKind::custom(0xE, (i % 3) as u16);
            e.correlation_id = (i % 5 == 0).then(|| CorrelationId::from_u128(u128::from(i % 7)));
            e.causation_id = (i % 4 == 0).then(|| EventId::from_u128(u128::from(i)));
            f.entries.push(e);
        }
        f.entities.truncate(1);
        f.entities.push(("second".into(), [9; 32]));
        f.scopes.truncate(1);
        f.frames_end = SEGMENT_HEADER_LEN as u64
            + f.entries
                .iter()
                .map(|e| u64::from(e.frame_len))
                .sum::<u64>();
        f
    }

    #[test]
    fn roundtrips_both_footer_versions_across_pages() {
        for f in [footer(), retired_footer(), big_footer()] {
            let bytes = encode_index_file(HEAD, &f);
            let back = decode_index_file(&bytes).unwrap();
            assert_eq!(back.head, HEAD);
            assert_eq!(back.footer, f);
        }
        assert!(encode_index_file(HEAD, &big_footer()).len() > 2 * INDEX_PAGE_LEN);
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let bytes = encode_index_file(HEAD, &footer());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode_index_file(&b).is_err(), "byte {i}");
        }
        for len in 0..bytes.len() {
            assert!(decode_index_file(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn self_consistent_pages_with_contradicting_tables_are_refused() {
        // Rewrite a logical byte and fix the page CRC, as a hand edit would.
        let f = big_footer();
        let bytes = encode_index_file(HEAD, &f);
        let logical = depaginate(&bytes).unwrap();
        let records_at = HEAD_LEN;
        let ids_at = records_at + f.entries.len() * RECORD_LEN;
        let layout = decode_index_head(&logical).unwrap();
        let fence_at = layout.fence_at(1) as usize;
        assert!(
            layout.fence_len() > 1,
            "a footer long enough for two fence keys"
        );
        for at in [
            records_at + 16, // a global sequence
            records_at + 40, // a frame offset
            records_at + 56, // an entity number
            ids_at,          // an id in the id table
            ids_at + 16,     // a record number in the id table
            fence_at,        // a key of the id fence
        ] {
            let mut l = logical.clone();
            l[at] ^= 0x01;
            assert!(
                decode_index_file(&paginate(&l)).is_err(),
                "logical byte {at}"
            );
        }
        let mut wrong_version = logical.clone();
        wrong_version[8] = 9;
        assert!(matches!(
            decode_index_file(&paginate(&wrong_version)),
            Err(DecodeError::UnsupportedVersion { found: 9, .. })
        ));
    }
}
