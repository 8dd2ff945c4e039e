//! The index file of a sealed segment (`<segment>.idx`): what the segment's
//! footer lists, laid out in fixed-width tables that can be read a page at a
//! time.
//!
//! ```text
//! logical bytes: [head 128][records n×64][ids n×20]
//!                [entity rows e×56][scope rows s×16][kind rows k×12]
//!                [entity postings n×4][scope postings n×4][kind postings n×4]
//!                [correlations c×20][causations d×20][names]
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
use super::footer::{Footer, FooterEntry, Retired};
use super::segment_header::SEGMENT_HEADER_LEN;
use crate::id::{CorrelationId, EventId, HlcPoint};
use crate::kind::EventKind;

/// First eight bytes of an index file.
pub const INDEX_FILE_MAGIC: [u8; 8] = *b"BPKINDEX";
/// Version of the index file layout this build writes and reads.
pub const INDEX_FORMAT_VERSION: u16 = 1;
/// Bytes of one page of an index file on disk (its last four: the CRC-32 of the rest).
pub const INDEX_PAGE_LEN: usize = 4096;
/// Logical bytes one page carries.
const PAGE_DATA: usize = INDEX_PAGE_LEN - 4;
const HEAD_LEN: usize = 128;
const RECORD_LEN: usize = 64;
const PAIR_LEN: usize = 20;
const ENTITY_ROW_LEN: usize = 56;
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
        out.extend_from_slice(&name_at.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(tip);
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
    out.extend_from_slice(&names);
    paginate(&out)
}

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
fn paginate(logical: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(logical.len() + logical.len() / PAGE_DATA * 4 + 4);
    for chunk in logical.chunks(PAGE_DATA) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(&crc32fast::hash(chunk).to_le_bytes());
    }
    out
}

/// Checks every page's CRC-32 and returns the logical bytes.
fn depaginate(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0usize;
    for page in bytes.chunks(INDEX_PAGE_LEN) {
        let Some((data, crc)) = page.split_last_chunk::<4>().filter(|(d, _)| !d.is_empty()) else {
            return Err(DecodeError::Truncated {
                offset: at as u64,
                needed: 5,
            });
        };
        super::check_crc(at as u64, data, u32::from_le_bytes(*crc))?;
        out.extend_from_slice(data);
        at += page.len();
    }
    Ok(out)
}

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

/// Reads a postings table: run `i` of `runs` must list, in commit order,
/// records whose `row` is `i`; together the runs list every record once.
fn check_postings(
    f: &mut Fields<'_>,
    entries: &[FooterEntry],
    runs: &[std::ops::Range<usize>],
    row: impl Fn(&FooterEntry) -> Option<usize>,
) -> Result<(), DecodeError> {
    let mut listed = vec![false; entries.len()];
    for (i, run) in runs.iter().enumerate() {
        let mut last: Option<usize> = None;
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
        }
    }
    Ok(())
}

/// Decodes an index file, checking every page's CRC and that its tables
/// agree with each other (each postings table lists every record once, in
/// order, under the row its record names).
pub(crate) fn decode_index_file(bytes: &[u8]) -> Result<IndexFile, DecodeError> {
    let logical = depaginate(bytes)?;
    let mut f = Fields {
        bytes: &logical,
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
    let footer_version = f.take(2)?;
    let retired = match footer_version {
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
    let base = f.u64()?;
    let frames_end = f.u64()?;
    let last_hlc = HlcPoint {
        physical_ms: f.u64()?,
        logical: f.u32()?,
    };
    let (entity_count, scope_count, kind_count) = (f.u32()?, f.u32()?, f.u32()?);
    let (n, end_gs, names_len) = (f.u64()?, f.u64()?, f.u64()?);
    let (correlation_count, causation_count) = (f.u32()?, f.u32()?);
    if f.take(HEAD_LEN - f.at)?.iter().any(|&b| b != 0) {
        return Err(inconsistent(104, "reserved head bytes are not zero"));
    }
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
        let event_id = EventId::from_u128(f.u128()?);
        let gs = f.u64()?;
        let entity_sequence = f.u64()?;
        let wall_ms = f.u64()?;
        let frame_at = f.u64()?;
        let frame_len = f.u32()?;
        let kind = EventKind::from_u16(f.u16()?);
        let payload_version = f.u16()?;
        let (entity, scope) = (f.u32()?, f.u32()?);
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
    for _ in 0..n {
        let at = f.at;
        let (id, r) = (f.u128()?, f.u32()? as usize);
        let named = entries.get(r).map(|e| e.event_id.as_u128());
        if named != Some(id) || previous.is_some_and(|p| p >= id) || seen[r] {
            return Err(inconsistent(
                at,
                "the id table does not list each record once by id",
            ));
        }
        seen[r] = true;
        previous = Some(id);
    }
    // Rows.
    let entity_count = f.count(u64::from(entity_count), ENTITY_ROW_LEN, "entity count")?;
    let mut entities = Vec::with_capacity(entity_count);
    let mut nexts = Vec::with_capacity(entity_count);
    let mut entity_runs = Vec::with_capacity(entity_count);
    let mut start = 0u64;
    for _ in 0..entity_count {
        let at = f.at;
        let (off, len) = (f.u32()?, f.u32()?);
        let tip: [u8; 32] = f.array()?;
        nexts.push(f.u64()?);
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
    check_postings(&mut f, &entries, &entity_runs, |e| Some(e.entity as usize))?;
    check_postings(&mut f, &entries, &scope_runs, |e| Some(e.scope as usize))?;
    let kind_rows: Vec<(u16, std::ops::Range<usize>)> = kind_runs;
    let runs: Vec<std::ops::Range<usize>> = kind_rows.iter().map(|(_, r)| r.clone()).collect();
    check_postings(&mut f, &entries, &runs, |e| {
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
        for at in [
            records_at + 16, // a global sequence
            records_at + 40, // a frame offset
            records_at + 56, // an entity number
            ids_at,          // an id in the id table
            ids_at + 16,     // a record number in the id table
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
