//! Loading segments into the index: a sealed segment from its footer, the
//! active one by scanning its frames, with every check that lets open fail
//! closed on damage before the tail.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::config::StoreConfig;
use crate::coordinate::{part_problem, Coordinate};
use crate::error::{Corruption, StoreError};
use crate::format::{
    self, decode_frame, decode_segment_header, DecodeError, Footer, FooterReader, FrameFields,
    KeyRecord, SEGMENT_HEADER_LEN, TRAILER_LEN,
};
use crate::fs::StoreFile;
use crate::id::EventId;
use crate::index::{Index, IndexEntry, Location};
use crate::segment::FooterBuilder;

use super::found::{corrupt, decode, Access, Loaded, Recovered, Tail};
use super::ids::IdSink;
use super::repair::handle_torn;
use crate::format::segment_path;

pub(super) fn load_segment(
    cfg: &StoreConfig,
    access: Access,
    id: u64,
    is_last: bool,
    file: &Arc<dyn StoreFile>,
    ids_sink: &mut IdSink<'_>,
    out: &mut Recovered,
) -> Result<Loaded, StoreError> {
    let path = &segment_path(&cfg.dir, id);
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat segment", path, e))?;
    let mut head = vec![0u8; SEGMENT_HEADER_LEN.min(usize::try_from(len).unwrap_or(usize::MAX))];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| StoreError::io("read segment header", path, e))?;
    match decode_segment_header(&head) {
        Ok(h) if h.segment_id == id => {}
        Ok(h) => {
            return Err(corrupt(
                path,
                0,
                Corruption::WrongSegmentId {
                    found: h.segment_id,
                },
            ))
        }
        Err(e)
            if is_last
                && (matches!(e, DecodeError::Truncated { .. })
                    || (len <= SEGMENT_HEADER_LEN as u64
                        && !matches!(e, DecodeError::UnsupportedVersion { .. }))) =>
        {
            // A crash while the segment was being created: nothing was ever
            // committed in it. Frames are written only after the header is
            // synced, so a last file no longer than a header whose bytes did
            // not all reach the disk (a torn or zero-filled header) is unborn;
            // a bad header in front of more bytes is damage and fails closed.
            handle_torn(cfg, access, path, file, 0, len, 0, &mut out.report)?;
            return Ok(Loaded::Discarded);
        }
        Err(DecodeError::UnsupportedVersion { found, .. }) => {
            return Err(StoreError::UnsupportedVersion {
                path: path.to_path_buf(),
                found,
                supported: format::SEGMENT_FORMAT_VERSION,
            })
        }
        Err(e) => return Err(corrupt(path, 0, decode("segment header", e))),
    }
    if let Some((body, crc, at)) = read_footer(path, file.as_ref(), len)? {
        let mut reader = open_footer(path, &body, crc, at)?;
        // The entries go straight into the index; the writer reads them again
        // only if it continues this segment.
        let (head, first, ids) = load_from_footer(path, id, at, &mut reader, &mut out.index)?;
        ids_sink.send(first, ids);
        out.report.segments_from_footer += 1;
        return Ok(Loaded::Kept(Box::new(Tail {
            id,
            footer: FooterBuilder::sealed_head(head),
            sealed: true,
        })));
    }
    if !is_last {
        return Err(corrupt(path, len, Corruption::FooterMissing));
    }
    let bytes = crate::segment::read_whole(file.as_ref(), path)?;
    let footer = scan_frames(cfg, access, path, id, &bytes, file, out)?;
    Ok(Loaded::Kept(Box::new(Tail {
        id,
        footer,
        sealed: false,
    })))
}

/// The footer bytes of a sealed segment (reading only the trailer and the
/// footer): `(body, crc, offset of the footer)`, `None` if the file has no trailer.
pub(super) fn read_footer(
    path: &Path,
    file: &dyn StoreFile,
    file_len: u64,
) -> Result<Option<(Vec<u8>, u32, u64)>, StoreError> {
    let Some(start) = format::trailer_offset(file_len) else {
        return Ok(None);
    };
    let mut trailer = [0u8; TRAILER_LEN];
    file.read_exact_at(&mut trailer, start)
        .map_err(|e| StoreError::io("read segment trailer", path, e))?;
    let span = match format::locate_footer(file_len, &trailer) {
        Ok(Some(span)) => span,
        Ok(None) => return Ok(None),
        Err(e) => return Err(corrupt(path, start, decode("trailer", e))),
    };
    let mut body = vec![0u8; span.len];
    file.read_exact_at(&mut body, span.start)
        .map_err(|e| StoreError::io("read segment footer", path, e))?;
    Ok(Some((body, span.crc, span.start)))
}

/// Reads and decodes the whole footer of a sealed segment (the writer calls
/// this when it continues a segment that open knew only by its footer's head).
pub(crate) fn read_sealed_footer(path: &Path, file: &dyn StoreFile) -> Result<Footer, StoreError> {
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat segment", path, e))?;
    let (body, crc, at) = read_footer(path, file, len)?
        .ok_or_else(|| corrupt(path, len, Corruption::FooterMissing))?;
    let footer = format::decode_footer(&body, crc).map_err(|e| footer_error(path, at, e))?;
    if footer.frames_end != at {
        return Err(corrupt(path, at, Corruption::FooterMisplaced));
    }
    Ok(footer)
}

/// Starts decoding a footer that starts at `at` and checks it ends the frame region.
pub(super) fn open_footer<'a>(
    path: &Path,
    body: &'a [u8],
    crc: u32,
    at: u64,
) -> Result<FooterReader<'a>, StoreError> {
    let reader = FooterReader::new(body, crc).map_err(|e| footer_error(path, at, e))?;
    if reader.head.frames_end != at {
        return Err(corrupt(path, at, Corruption::FooterMisplaced));
    }
    Ok(reader)
}

pub(super) fn footer_error(path: &Path, at: u64, e: DecodeError) -> StoreError {
    corrupt(path, at, decode("footer", e))
}

/// Loads a sealed segment's events into the index from its footer; returns
/// the footer's head (no entries) and the loaded ids with the position of the
/// first, which the caller puts in an id table.
pub(super) fn load_from_footer(
    path: &Path,
    id: u64,
    at: u64,
    reader: &mut FooterReader<'_>,
    index: &mut Index,
) -> Result<(Footer, usize, Vec<EventId>), StoreError> {
    let f = &reader.head;
    if f.base_global_sequence != index.next_global_sequence() {
        return Err(corrupt(
            path,
            f.frames_end,
            Corruption::GlobalSequence {
                found: f.base_global_sequence,
                expected: index.next_global_sequence(),
            },
        ));
    }
    let mut seen = HashSet::with_capacity(f.entities.len());
    let mut entities = Vec::with_capacity(f.entities.len());
    for (name, _) in &f.entities {
        check_name(path, f.frames_end, "entity", name)?;
        if !seen.insert(name.as_str()) {
            return Err(corrupt(
                path,
                f.frames_end,
                Corruption::DuplicateName {
                    part: "entity",
                    name: name.clone(),
                },
            ));
        }
        let (shared, _) = index.intern(name, "");
        entities.push(shared.unwrap_or_else(|| Arc::from(name.as_str())));
    }
    seen.clear();
    let mut scopes = Vec::with_capacity(f.scopes.len());
    for name in &f.scopes {
        check_name(path, f.frames_end, "scope", name)?;
        if !seen.insert(name.as_str()) {
            return Err(corrupt(
                path,
                f.frames_end,
                Corruption::DuplicateName {
                    part: "scope",
                    name: name.clone(),
                },
            ));
        }
        let (_, shared) = index.intern("", name);
        scopes.push(shared.unwrap_or_else(|| Arc::from(name.as_str())));
    }
    // Names were validated once above; rows name them by number, so the loop
    // hashes no strings.
    let base = f.base_global_sequence;
    let tips: Vec<[u8; 32]> = f.entities.iter().map(|(_, tip)| *tip).collect();
    let last_hlc = f.last_hlc;
    let mut load = index.bulk_load(entities.clone(), scopes.clone(), reader.remaining());
    let mut offset = SEGMENT_HEADER_LEN as u64;
    let mut i = 0u64;
    while let Some(e) = reader.next_entry().map_err(|e| footer_error(path, at, e))? {
        let (en, sn) = (e.entity as usize, e.scope as usize);
        let expected_es = load.next_entity_sequence(en);
        if e.entity_sequence != expected_es {
            return Err(corrupt(
                path,
                offset,
                Corruption::EntitySequence {
                    entity: entities[en].to_string(),
                    found: e.entity_sequence,
                    expected: expected_es,
                },
            ));
        }
        let coordinate = load.coordinate(en, sn);
        load.push(
            en,
            sn,
            IndexEntry {
                event_id: e.event_id,
                global_sequence: base + i,
                entity_sequence: e.entity_sequence,
                kind: e.kind,
                coordinate,
                wall_ms: e.wall_ms,
                payload_version: e.payload_version,
                location: Location {
                    segment: id,
                    offset,
                    len: e.frame_len,
                },
            },
            e.correlation_id,
            e.causation_id,
        );
        offset += u64::from(e.frame_len);
        i += 1;
    }
    let (first, ids) = load.finish(&tips);
    if last_hlc > index.last_hlc {
        index.last_hlc = last_hlc;
    }
    Ok((std::mem::take(&mut reader.head), first, ids))
}

/// Decodes the active segment frame by frame, applying the tail policy.
pub(super) fn scan_frames(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    id: u64,
    bytes: &[u8],
    file: &Arc<dyn StoreFile>,
    out: &mut Recovered,
) -> Result<FooterBuilder, StoreError> {
    let base = out.index.next_global_sequence();
    let mut frames: Vec<(FrameFields<'_>, usize, usize)> = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    // (offset of the batch's first frame, index in `frames`, frames still expected)
    let mut open_batch: Option<(usize, usize, u32)> = None;
    let mut bad_at: Option<usize> = None;
    while pos < bytes.len() {
        let (f, n) = match decode_frame(&bytes[pos..]) {
            Ok(ok) => ok,
            Err(_) => {
                bad_at = Some(pos);
                break;
            }
        };
        let expected_gs = base + frames.len() as u64;
        if f.global_sequence != expected_gs {
            return Err(corrupt(
                path,
                pos as u64,
                Corruption::GlobalSequence {
                    found: f.global_sequence,
                    expected: expected_gs,
                },
            ));
        }
        open_batch = match open_batch {
            Some((start, first, expected)) => {
                if f.batch_remaining.checked_add(1) != Some(expected) {
                    return Err(corrupt(path, pos as u64, Corruption::BatchOutOfOrder));
                }
                (f.batch_remaining > 0).then_some((start, first, f.batch_remaining))
            }
            None => (f.batch_remaining > 0).then_some((pos, frames.len(), f.batch_remaining)),
        };
        out.report.frames_scanned += 1;
        frames.push((f, pos, n));
        pos += n;
    }
    let mut valid_end = pos;
    // Zeros after the last frame are space the writer wrote ahead, not a torn write.
    let mut zero_tail = false;
    if let Some(bad) = bad_at {
        if bytes[bad..].iter().all(|&b| b == 0) {
            zero_tail = true;
            out.report.preallocated_bytes += (bytes.len() - bad) as u64;
        } else if let Some(next) = format::next_frame_after(bytes, bad) {
            return Err(corrupt(
                path,
                bad as u64,
                Corruption::FrameBeforeValidFrame { next: next as u64 },
            ));
        }
        valid_end = bad;
    }
    let mut dropped_batch_frames = 0u64;
    if let Some((start, first, _)) = open_batch {
        dropped_batch_frames = (frames.len() - first) as u64;
        frames.truncate(first);
        valid_end = start;
        zero_tail = false;
    }
    if valid_end < bytes.len() && !zero_tail {
        handle_torn(
            cfg,
            access,
            path,
            file,
            valid_end as u64,
            bytes.len() as u64,
            dropped_batch_frames,
            &mut out.report,
        )?;
    }
    let mut footer = FooterBuilder::new(base);
    for (f, offset, n) in &frames {
        push_frame(path, id, f, *offset, *n, &mut out.index)?;
        footer.push(f, *n);
        if let Some(key) = f.idempotency_key {
            out.scanned_keys.push(KeyRecord {
                key,
                event_id: f.event_id,
                global_sequence: f.global_sequence,
                content_hash: crate::chain::content_hash(f.payload),
            });
        }
    }
    Ok(footer)
}

pub(super) fn push_frame(
    path: &Path,
    id: u64,
    f: &FrameFields<'_>,
    offset: usize,
    n: usize,
    index: &mut Index,
) -> Result<(), StoreError> {
    let (expected_es, _) = index.entity_tip(f.entity);
    if f.entity_sequence != expected_es {
        return Err(corrupt(
            path,
            offset as u64,
            Corruption::EntitySequence {
                entity: f.entity.to_owned(),
                found: f.entity_sequence,
                expected: expected_es,
            },
        ));
    }
    let shared = index.shared_coordinate(f.entity, f.scope).map(Ok);
    let coordinate = shared
        .unwrap_or_else(|| match index.intern(f.entity, f.scope) {
            (Some(e), Some(s)) => Coordinate::from_shared(e, s),
            (Some(e), None) => Coordinate::from_shared(e, Arc::from(f.scope)),
            (None, Some(s)) => Coordinate::from_shared(Arc::from(f.entity), s),
            (None, None) => Coordinate::new(f.entity, f.scope),
        })
        .map_err(|e| match e {
            StoreError::InvalidCoordinate { part, problem, .. } => corrupt(
                path,
                offset as u64,
                Corruption::InvalidName { part, problem },
            ),
            other => other,
        })?;
    index.push(
        IndexEntry {
            event_id: f.event_id,
            global_sequence: f.global_sequence,
            entity_sequence: f.entity_sequence,
            kind: f.kind,
            coordinate,
            wall_ms: f.wall_ms,
            payload_version: f.payload_version,
            location: Location {
                segment: id,
                offset: offset as u64,
                len: u32::try_from(n).unwrap_or(u32::MAX),
            },
        },
        Some(f.event_hash),
        f.correlation_id,
        f.causation_id,
    );
    if f.hlc > index.last_hlc {
        index.last_hlc = f.hlc;
    }
    Ok(())
}

/// Checks a name found on disk as a coordinate part.
pub(super) fn check_name(
    path: &Path,
    offset: u64,
    part: &'static str,
    name: &str,
) -> Result<(), StoreError> {
    match part_problem(name) {
        None => Ok(()),
        Some(problem) => Err(corrupt(
            path,
            offset,
            Corruption::InvalidName { part, problem },
        )),
    }
}
