//! Loading segments into the index: a sealed segment from its footer, the
//! active one by scanning its frames, with every check that lets open fail
//! closed on damage before the tail.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::chain;
use crate::config::StoreConfig;
use crate::coordinate::{part_problem, Coordinate};
use crate::error::{Corruption, StoreError};
use crate::format::{
    self, decode_frame, decode_segment_header, DecodeError, Footer, FooterEntry, FooterReader,
    FrameFields, IndexFileHead, KeyRecord, SEGMENT_HEADER_LEN, TRAILER_LEN,
};
use crate::format::{FRAME_PREFIX_LEN, MAX_FRAME_BODY_LEN, MIN_FRAME_BODY_LEN};
use crate::fs::StoreFile;
use crate::id::EventId;
use crate::index::{Index, IndexEntry, Location};
use crate::index::{PartFrom, SealedSegment};
use crate::segment::{FileWindow, FooterBuilder, PREALLOCATE_BYTES};
use crate::segment_index;

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
    let version = match decode_segment_header(&head) {
        Ok(h) if h.segment_id == id => h.version,
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
            handle_torn(cfg, access, path, file, 0, len, 0, false, &mut out.report)?;
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
    };
    if format::hash_version_of(version) < format::hash_version_of(out.newest_version) {
        // Only an edit of the header makes an older segment follow a newer
        // one, and reading it in the older hash layout is what it would be for.
        return Err(corrupt(
            path,
            0,
            Corruption::VersionDowngrade {
                found: version,
                earlier: out.newest_version,
            },
        ));
    }
    out.newest_version = out.newest_version.max(version);
    // A sealed segment becomes a part: its index file's head and rows are
    // read, not its events. The last one only with an index file bound to
    // it (one is written at seal, and removed durably before the writer
    // continues the segment); without one, its footer is checked against
    // its frames below, and its events go to the memtable.
    if is_last {
        if let Some(head) = load_bound_last(cfg, access, path, id, file, out)? {
            return Ok(Loaded::Kept(Box::new(Tail {
                id,
                version,
                footer: FooterBuilder::sealed_head(head),
                sealed: true,
            })));
        }
    } else {
        if let Some(head) = load_part(cfg, access, path, id, file, out)? {
            return Ok(Loaded::Kept(Box::new(Tail {
                id,
                version,
                footer: FooterBuilder::sealed_head(head),
                sealed: true,
            })));
        }
    }
    let (body, crc, at) = match read_footer(path, file.as_ref(), len)? {
        Trailer::Footer { body, crc, at } => (body, crc, at),
        Trailer::Absent if is_last => {
            let footer = scan_frames(cfg, access, path, id, version, file, out)?;
            return Ok(Loaded::Kept(Box::new(Tail {
                id,
                version,
                footer,
                sealed: false,
            })));
        }
        Trailer::Absent => return Err(corrupt(path, len, Corruption::FooterMissing)),
        Trailer::Misplaced(_) if is_last => {
            return load_unverified_last(cfg, access, path, id, version, file, None, out)
        }
        Trailer::Misplaced(e) => return Err(e),
    };
    let checked = match open_footer(path, &body, crc, at) {
        Ok(reader) if is_last => match listed_frames_disagree(path, file.as_ref(), &body, crc, at)?
        {
            None => Ok(reader),
            Some(e) => Err(e),
        },
        other => other,
    };
    let mut reader = match checked {
        Ok(reader) => reader,
        Err(_) if is_last => {
            return load_unverified_last(cfg, access, path, id, version, file, Some(at), out)
        }
        Err(damaged) => {
            // A footer only repeats what the frames hold: rebuild it from
            // them, if they verify up to where the footer starts.
            let footer =
                rebuild_footer(cfg, access, path, id, file, at, out).map_err(|_| damaged)?;
            out.report.rebuilt_footers.push(path.to_path_buf());
            if !is_last {
                park_footer(out, id, 0, 0, footer.footer())?;
            }
            return Ok(Loaded::Kept(Box::new(Tail {
                id,
                version,
                footer,
                sealed: true,
            })));
        }
    };
    // The entries go straight into the index; the writer reads them again
    // only if it continues this segment.
    // The reader checks entries against its own name tables as it goes.
    let head = reader.head.clone();
    let remaining = reader.remaining();
    let (first, ids) = load_from_footer(
        path,
        id,
        at,
        &head,
        remaining,
        &mut || reader.next_entry(),
        &mut out.index,
    )?;
    out.report.segments_from_footer += 1;
    if is_last {
        ids_sink.send(first, ids);
        // Sealed, and its footer agrees with its frames, yet no index file
        // bound to it was found: a writer writes one, so the next open
        // reads the segment as a part.
        if access == Access::Writer {
            write_last_index_file(cfg, path, id, len, &body, crc, &mut out.report);
        }
    } else {
        // Its events leave the memtable, so their ids must not join it.
        park_in_memory(out, path, id, len, &body, crc)?;
    }
    Ok(Loaded::Kept(Box::new(Tail {
        id,
        version,
        footer: FooterBuilder::sealed_head(head),
        sealed: true,
    })))
}

/// Loads the last segment when it ends in `FOOTER_MAGIC` but no footer that
/// agrees with its frames goes with it (`at`: where the trailer places the
/// footer, if inside the file). The bytes in front of the magic need not be
/// a trailer at all: a frame ends in its last attestation string, which may
/// end in the magic, and the active segment ends at a frame when the zeros
/// written ahead never reached the disk. So the frames decide: if whole
/// frames run exactly to `at`, their last batch closing there, the segment
/// is sealed and only its footer is damaged (rebuilt, as for any sealed
/// segment); otherwise it is read as unsealed, under every rule of the
/// active segment's tail. Nothing is indexed before that choice.
#[allow(clippy::too_many_arguments)]
fn load_unverified_last(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    id: u64,
    version: u16,
    file: &Arc<dyn StoreFile>,
    at: Option<u64>,
    out: &mut Recovered,
) -> Result<Loaded, StoreError> {
    let reach = frames_reach(path, file.as_ref(), at)?;
    if let Some(at) = at.filter(|&at| reach.closed_at_footer && reach.end == at) {
        let footer = rebuild_footer(cfg, access, path, id, file, at, out)?;
        out.report.rebuilt_footers.push(path.to_path_buf());
        return Ok(Loaded::Kept(Box::new(Tail {
            id,
            version,
            footer,
            sealed: true,
        })));
    }
    tracing::warn!(
        segment = %path.display(),
        frames_end = reach.end,
        "the active segment ends in bytes that look like a footer trailer but are not one; reading its frames"
    );
    let footer = scan_frames(cfg, access, path, id, version, file, out)?;
    Ok(Loaded::Kept(Box::new(Tail {
        id,
        version,
        footer,
        sealed: false,
    })))
}

/// How far whole frames that decode run from the header.
struct Reach {
    /// Where they stop.
    end: u64,
    /// One of them ends at the footer's offset and closes its batch there.
    closed_at_footer: bool,
}

/// Decodes frames from the header on without indexing them (frame checks
/// only; sequences are checked by whatever then loads the segment).
fn frames_reach(path: &Path, file: &dyn StoreFile, at: Option<u64>) -> Result<Reach, StoreError> {
    let mut window = FileWindow::new(file);
    let mut pos = SEGMENT_HEADER_LEN as u64;
    let mut batch_open = false;
    let mut closed_at_footer = false;
    loop {
        closed_at_footer |= Some(pos) == at && !batch_open;
        let frame =
            frame_at(&mut window, pos).map_err(|e| StoreError::io("read segment", path, e))?;
        let Some(Ok((f, n))) = frame.map(decode_frame) else {
            break;
        };
        batch_open = f.batch_remaining > 0;
        pos += n as u64;
    }
    Ok(Reach {
        end: pos,
        closed_at_footer,
    })
}

/// Bytes read at a time while checking frame lengths against a footer: for
/// small frames the segment is read in runs this long, for large ones one
/// short read per frame.
const LENGTH_CHECK_CHUNK: u64 = 64 << 10;

/// Checks that the footer (at `at`) of the last segment lists the frames on
/// disk; returns why it does not, if it does not.
///
/// The rule: the length prefix at every offset the footer lists (each the
/// sum of the `frame_len` before it, from the header on) must record that
/// entry's `frame_len`, and the footer's bytes must not themselves begin
/// with a whole frame. The first listed frame starts at the header, where
/// the writer put its first frame; if each prefix agrees, each next offset
/// is where the writer put the next frame, so `at` is where a frame ends
/// and not a point inside one. A footer carried in a frame's bytes (a gate
/// or bypass string, a payload) lies inside that frame, and the frame's
/// own prefix, read at its start, names a length that runs past `at`. The
/// second part rules out a footer claimed at a frame boundary whose bytes
/// are the frames that follow it.
///
/// Only the last segment needs this: a writer seals a segment before it
/// creates the next one, so every earlier segment ends in a trailer the
/// writer wrote; only the active one can end at a frame. The cost is one
/// 4-byte read per frame of that one segment (batched into runs of
/// [`LENGTH_CHECK_CHUNK`] bytes) and a second decode of its footer in
/// memory; frames are not decoded.
fn listed_frames_disagree(
    path: &Path,
    file: &dyn StoreFile,
    body: &[u8],
    crc: u32,
    at: u64,
) -> Result<Option<StoreError>, StoreError> {
    if format::footer_is_a_frame(body, crc) {
        return Ok(Some(corrupt(path, at, Corruption::FooterMisplaced)));
    }
    let mut reader = match FooterReader::new(body, crc) {
        Ok(reader) => reader,
        Err(e) => return Ok(Some(footer_error(path, at, e))),
    };
    let mut run = Vec::new();
    let mut run_at = 0u64;
    let mut pos = SEGMENT_HEADER_LEN as u64;
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(entry)) => entry,
            // `next_entry` has checked that the entries end exactly at `at`.
            Ok(None) => return Ok(None),
            Err(e) => return Ok(Some(footer_error(path, at, e))),
        };
        let misplaced = Some(corrupt(path, pos, Corruption::FooterMisplaced));
        let prefix_end = pos + FRAME_PREFIX_LEN as u64;
        if prefix_end > at {
            return Ok(misplaced);
        }
        if pos < run_at || prefix_end > run_at + run.len() as u64 {
            run_at = pos;
            run.resize(
                usize::try_from((at - pos).min(LENGTH_CHECK_CHUNK)).unwrap_or(0),
                0,
            );
            file.read_exact_at(&mut run, pos)
                .map_err(|e| StoreError::io("read segment", path, e))?;
        }
        let from = usize::try_from(pos - run_at).unwrap_or(usize::MAX);
        let written = run
            .get(from..)
            .and_then(|b| b.first_chunk::<4>())
            .map(|b| u64::from(u32::from_le_bytes(*b)) + FRAME_PREFIX_LEN as u64);
        if written != Some(u64::from(entry.frame_len)) {
            return Ok(misplaced);
        }
        pos += u64::from(entry.frame_len);
    }
}

/// What the end of a segment file says about its footer.
pub(super) enum Trailer {
    /// The file does not end in a trailer (or is too short for one).
    Absent,
    /// The footer bytes the trailer names, their CRC-32 as it stores it, and
    /// the footer's offset.
    Footer { body: Vec<u8>, crc: u32, at: u64 },
    /// The file ends in `FOOTER_MAGIC`, but the length in front of it places
    /// no footer between the header and the trailer.
    Misplaced(StoreError),
}

/// The footer bytes of a sealed segment (reading only the trailer and the
/// footer).
pub(super) fn read_footer(
    path: &Path,
    file: &dyn StoreFile,
    file_len: u64,
) -> Result<Trailer, StoreError> {
    let Some(start) = format::trailer_offset(file_len) else {
        return Ok(Trailer::Absent);
    };
    let mut trailer = [0u8; TRAILER_LEN];
    match file.read_exact_at(&mut trailer, start) {
        Ok(()) => {}
        // Shorter than it was a moment ago: a live writer cut the zeros it
        // wrote ahead. Whatever the file now ends in, the frame scan reads it.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(Trailer::Absent),
        Err(e) => return Err(StoreError::io("read segment trailer", path, e)),
    }
    let span = match format::locate_footer(file_len, &trailer) {
        Ok(Some(span)) => span,
        Ok(None) => return Ok(Trailer::Absent),
        Err(e) => {
            return Ok(Trailer::Misplaced(corrupt(
                path,
                start,
                decode("trailer", e),
            )))
        }
    };
    let mut body = vec![0u8; span.len];
    match file.read_exact_at(&mut body, span.start) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(Trailer::Absent),
        Err(e) => return Err(StoreError::io("read segment footer", path, e)),
    }
    Ok(Trailer::Footer {
        body,
        crc: span.crc,
        at: span.start,
    })
}

/// Reads and decodes the whole footer of a sealed segment (the writer calls
/// this when it continues a segment that open knew only by its footer's head).
pub(crate) fn read_sealed_footer(path: &Path, file: &dyn StoreFile) -> Result<Footer, StoreError> {
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat segment", path, e))?;
    let (body, crc, at) = match read_footer(path, file, len)? {
        Trailer::Footer { body, crc, at } => (body, crc, at),
        Trailer::Absent => return Err(corrupt(path, len, Corruption::FooterMissing)),
        Trailer::Misplaced(e) => return Err(e),
    };
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

/// Loads sealed segment `id` (`path`, open as `file`) as a part of the
/// index, and returns its footer's head (no entries). `Ok(None)` when its
/// trailer, footer or index cannot give a part: the caller reads the
/// footer, or rebuilds it from the frames, and reports what is wrong.
fn load_part(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    id: u64,
    file: &Arc<dyn StoreFile>,
    out: &mut Recovered,
) -> Result<Option<Footer>, StoreError> {
    let Some(s) = SealedSegment::at(&cfg.fs, &cfg.dir, id, path, file)? else {
        return Ok(None);
    };
    let (part, from) = match out.index.open_sealed(&s, None, access == Access::Writer) {
        Ok(opened) => opened,
        Err(e) => {
            tracing::warn!(segment = %path.display(), error = %e, "the segment's index file and footer give no part; reading it another way");
            return Ok(None);
        }
    };
    match from {
        PartFrom::File => out.report.segments_from_index_file += 1,
        PartFrom::Rebuilt { damaged, written } => {
            out.report.segments_from_footer += 1;
            if let Some(problem) = damaged {
                tracing::warn!(segment = %path.display(), %problem, "the segment's index file is unusable; rebuilt from its footer");
                out.report.damaged_index_files.push(path.to_path_buf());
            }
            if written {
                out.report.index_files_written += 1;
            } else {
                out.report.segments_indexed_in_memory += 1;
            }
        }
    }
    let footer_head = part.footer_head();
    out.index.load_part(path, part)?;
    Ok(Some(footer_head))
}

/// Loads the last segment as a part when it ends in a footer its index
/// file is bound to and whose bytes still pass their CRC (the writer may
/// continue this segment from its footer, so damage there is found now,
/// and the footer rebuilt); returns its footer's head, or `None` (then it
/// is read from its footer or frames).
fn load_bound_last(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    id: u64,
    file: &Arc<dyn StoreFile>,
    out: &mut Recovered,
) -> Result<Option<Footer>, StoreError> {
    let Some(s) = SealedSegment::at(&cfg.fs, &cfg.dir, id, path, file)? else {
        return Ok(None);
    };
    let Some(part) = out.index.open_bound(&s, access == Access::Writer) else {
        return Ok(None);
    };
    match read_footer(path, file.as_ref(), s.head.segment_len)? {
        Trailer::Footer { body, crc, .. } if crc32fast::hash(&body) == crc => {}
        _ => return Ok(None),
    }
    let footer_head = part.footer_head();
    out.index.load_part(path, part)?;
    out.report.segments_from_index_file += 1;
    Ok(Some(footer_head))
}

/// Writes the index file of the last segment, sealed with footer `body`
/// (CRC `crc`) at length `len`. Derived data: a failure is logged, and the
/// next open tries again.
fn write_last_index_file(
    cfg: &StoreConfig,
    path: &Path,
    id: u64,
    len: u64,
    body: &[u8],
    crc: u32,
    report: &mut super::OpenReport,
) {
    let head = IndexFileHead {
        segment_id: id,
        segment_len: len,
        footer_crc: crc,
    };
    let written = format::decode_footer(body, crc)
        .map_err(|e| e.to_string())
        .and_then(|footer| {
            segment_index::check_footer_names(path, &footer).map_err(|e| e.to_string())?;
            segment_index::write(cfg.fs.as_ref(), &cfg.dir, head, &footer)
                .map_err(|e| e.to_string())
        });
    match written {
        Ok(()) => report.index_files_written += 1,
        Err(problem) => {
            tracing::warn!(segment = %path.display(), %problem, "could not write the last segment's index file");
        }
    }
}

/// Moves a sealed segment before the last that was loaded into the
/// memtable (its index file and footer gave no part: its footer was
/// rebuilt from its frames, or read the slow way) into a part held in
/// memory, so the memtable holds only the last segment.
fn park_in_memory(
    out: &mut Recovered,
    path: &Path,
    id: u64,
    len: u64,
    body: &[u8],
    crc: u32,
) -> Result<(), StoreError> {
    let footer = format::decode_footer(body, crc).map_err(|e| footer_error(path, 0, e))?;
    park_footer(out, id, len, crc, &footer)
}

/// [`park_in_memory`] for a decoded footer.
fn park_footer(
    out: &mut Recovered,
    id: u64,
    len: u64,
    crc: u32,
    footer: &Footer,
) -> Result<(), StoreError> {
    let head = IndexFileHead {
        segment_id: id,
        segment_len: len,
        footer_crc: crc,
    };
    let bytes = format::encode_index_logical(head, footer);
    let part = out
        .index
        .open_part(id, crate::index::IndexSource::Memory(bytes.into()))?;
    out.index.seal(vec![part]);
    out.report.segments_indexed_in_memory += 1;
    Ok(())
}

/// Loads a sealed segment's events into the index from its footer's head
/// `f` (no entries) and its `remaining` entries, which `next_entry` yields
/// in order; returns the loaded ids with the position of the first, which
/// the caller puts in an id table.
pub(super) fn load_from_footer(
    path: &Path,
    id: u64,
    at: u64,
    f: &Footer,
    remaining: usize,
    next_entry: &mut dyn FnMut() -> Result<Option<FooterEntry>, DecodeError>,
    index: &mut Index,
) -> Result<(usize, Vec<EventId>), StoreError> {
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
    // A version-2 footer (retention compaction): sequences may skip
    // retired events, each entry names its own, and the entity table says
    // where each entity's sequences continue.
    let retired = f.retired.clone();
    let mut load = index.bulk_load(entities.clone(), scopes.clone(), remaining);
    let mut offset = SEGMENT_HEADER_LEN as u64;
    let mut i = 0u64;
    while let Some(e) = next_entry().map_err(|e| footer_error(path, at, e))? {
        let (en, sn) = (e.entity as usize, e.scope as usize);
        let expected_es = load.next_entity_sequence(en);
        let in_order = if retired.is_some() {
            e.entity_sequence >= expected_es
        } else {
            e.entity_sequence == expected_es
        };
        if !in_order {
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
        load.skip_to(en, e.entity_sequence);
        load.push(
            en,
            sn,
            IndexEntry {
                event_id: e.event_id,
                global_sequence: e.global_sequence.unwrap_or(base + i),
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
    if let Some(r) = &retired {
        for (i, &next) in r.next_entity_sequences.iter().enumerate() {
            if next < load.next_entity_sequence(i) {
                return Err(corrupt(
                    path,
                    at,
                    Corruption::EntitySequence {
                        entity: entities[i].to_string(),
                        found: next,
                        expected: load.next_entity_sequence(i),
                    },
                ));
            }
            load.skip_to(i, next);
        }
    }
    let (first, ids) = load.finish(&tips);
    if let Some(r) = &retired {
        index.note_range_end(r.end_global_sequence);
    }
    if last_hlc > index.last_hlc {
        index.last_hlc = last_hlc;
    }
    Ok((first, ids))
}

/// How often a read-only open reads a frame again before it takes an
/// undecodable frame with a whole frame after it for damage: a live writer
/// may be in the middle of writing it, and a read can see an older page of
/// the file at one offset and newer pages after it.
const RACE_REREADS: u32 = 3;

/// The longest run of bytes after an active segment's last whole frame that
/// this store's writer can leave: the zeros it writes ahead, and the frames
/// of one group torn by a crash. Anything longer is not a torn write.
fn max_tail(cfg: &StoreConfig) -> u64 {
    let per_item = 1024u64.saturating_mul(cfg.max_batch_items as u64);
    PREALLOCATE_BYTES
        .saturating_add(cfg.max_batch_bytes as u64)
        .saturating_add(cfg.max_payload_bytes as u64)
        .saturating_add(per_item)
}

/// A frame of a batch whose last frame has not been seen yet: kept whole
/// (a batch is bounded by the configured batch limits) until the batch
/// completes, so an incomplete one is dropped without touching the index.
struct Buffered {
    bytes: Vec<u8>,
    offset: u64,
}

/// Decodes the active segment (of format `version`) frame by frame through a
/// bounded window (its size does not matter), applying the tail policy.
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_frames(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    id: u64,
    version: u16,
    file: &Arc<dyn StoreFile>,
    out: &mut Recovered,
) -> Result<FooterBuilder, StoreError> {
    let base = out.index.next_global_sequence();
    let mut footer = FooterBuilder::new(base);
    let mut window = FileWindow::new(file.as_ref());
    let read = |e| StoreError::io("read segment", path, e);
    let mut pos = SEGMENT_HEADER_LEN as u64;
    let mut next_gs = base;
    // The open batch: its frames so far and how many are still expected.
    let mut batch: Vec<Buffered> = Vec::new();
    let mut batch_expects: u32 = 0;
    let mut rereads = 0u32;
    let mut damaged;
    let (bad, file_end, zero_tail) = 'scan: loop {
        damaged = false;
        let bad = loop {
            let Some(frame) = frame_at(&mut window, pos).map_err(read)? else {
                break pos;
            };
            let (f, n) = match decode_frame(frame) {
                Ok(ok) => ok,
                Err(_) => {
                    // A whole frame's worth of bytes that fails its check:
                    // damage to a frame that was written, not a write cut short.
                    damaged = true;
                    break pos;
                }
            };
            if f.global_sequence != next_gs {
                return Err(corrupt(
                    path,
                    pos,
                    Corruption::GlobalSequence {
                        found: f.global_sequence,
                        expected: next_gs,
                    },
                ));
            }
            if batch_expects > 0 && f.batch_remaining.checked_add(1) != Some(batch_expects) {
                return Err(corrupt(path, pos, Corruption::BatchOutOfOrder));
            }
            out.report.frames_scanned += 1;
            next_gs += 1;
            let n64 = n as u64;
            if batch_expects == 0 && f.batch_remaining == 0 {
                take_frame(path, id, &f, pos, n, &mut footer, out)?;
            } else {
                batch.push(Buffered {
                    bytes: frame[..n].to_vec(),
                    offset: pos,
                });
                batch_expects = f.batch_remaining;
                if batch_expects == 0 {
                    take_batch(path, id, std::mem::take(&mut batch), &mut footer, out)?;
                }
            }
            pos += n64;
        };
        // `bad`: where the frames stop. Past it: zeros written ahead, a torn
        // write, or damage in front of more frames.
        let file_end = match window.end() {
            Some(end) => end,
            None => file
                .len()
                .map_err(|e| StoreError::io("stat segment", path, e))?,
        }
        .max(bad);
        let tail = file_end - bad;
        if tail > max_tail(cfg) {
            return Err(corrupt(path, bad, Corruption::TailTooLong { bytes: tail }));
        }
        if tail == 0 {
            break 'scan (bad, file_end, false);
        }
        if window.zeros_from(bad).map_err(read)? {
            out.report.preallocated_bytes += tail;
            break 'scan (bad, file_end, true);
        }
        let rest = window
            .bytes(bad, usize::try_from(tail).unwrap_or(usize::MAX))
            .map_err(read)?;
        let next = format::next_frame_after(rest, 0);
        if next.is_none() && !damaged {
            break 'scan (bad, file_end, false);
        }
        if access == Access::ReadOnly && rereads < RACE_REREADS {
            // Beside a live writer this may be a frame being written: look again.
            rereads += 1;
            std::thread::sleep(std::time::Duration::from_millis(5));
            window.refresh();
            continue 'scan;
        }
        let Some(next) = next else {
            // A whole frame that fails its check, with nothing valid after it.
            break 'scan (bad, file_end, false);
        };
        return Err(corrupt(
            path,
            bad,
            Corruption::FrameBeforeValidFrame {
                next: bad + next as u64,
            },
        ));
    };
    let mut zero_tail = zero_tail;
    let mut valid_end = bad;
    let mut dropped_batch_frames = 0u64;
    if !batch.is_empty() {
        if let Some((offset, global_sequence)) =
            tail_batch_mismatch(path, &batch, format::hash_version_of(version))?
        {
            let reason = Corruption::TailBatchHashMismatch { global_sequence };
            if access == Access::Writer {
                return Err(corrupt(path, offset, reason));
            }
            // A reader changes nothing and refuses nothing here: it shows the
            // frames as they are, so verify_chain names the altered event.
            tracing::error!(segment = %path.display(), offset, %reason, "kept an incomplete tail batch that does not hash right");
            take_batch(path, id, std::mem::take(&mut batch), &mut footer, out)?;
        }
    }
    if let Some(first) = batch.first() {
        dropped_batch_frames = batch.len() as u64;
        valid_end = first.offset;
        zero_tail = false;
    }
    if valid_end < file_end && !zero_tail {
        // The first event the cut removes: the batch's first, or the one a
        // frame at `bad` would have held.
        let first_cut = next_gs - dropped_batch_frames;
        if first_cut < cfg.committed_floor {
            return Err(corrupt(
                path,
                valid_end,
                Corruption::CutBelowCommitted {
                    committed: cfg.committed_floor,
                    first_cut,
                },
            ));
        }
        handle_torn(
            cfg,
            access,
            path,
            file,
            valid_end,
            file_end,
            dropped_batch_frames,
            damaged,
            &mut out.report,
        )?;
    }
    Ok(footer)
}

/// Rebuilds the footer of a sealed segment whose footer (at `at`) is damaged
/// from its frames: every frame from the header to `at` must decode, follow
/// the sequences and close its batch exactly there. The writer also writes
/// the rebuilt footer back, so the next open reads it.
fn rebuild_footer(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    id: u64,
    file: &Arc<dyn StoreFile>,
    at: u64,
    out: &mut Recovered,
) -> Result<FooterBuilder, StoreError> {
    let base = out.index.next_global_sequence();
    let mut footer = FooterBuilder::new(base);
    let mut window = FileWindow::new(file.as_ref());
    let read = |e| StoreError::io("read segment", path, e);
    let mut pos = SEGMENT_HEADER_LEN as u64;
    let mut next_gs = base;
    let mut pending: Vec<Buffered> = Vec::new();
    while pos < at {
        let frame = frame_at(&mut window, pos)
            .map_err(read)?
            .filter(|f| pos + f.len() as u64 <= at)
            .ok_or_else(|| corrupt(path, pos, Corruption::FooterMissing))?;
        let (f, n) = decode_frame(frame).map_err(|e| corrupt(path, pos, decode("frame", e)))?;
        if f.global_sequence != next_gs {
            return Err(corrupt(
                path,
                pos,
                Corruption::GlobalSequence {
                    found: f.global_sequence,
                    expected: next_gs,
                },
            ));
        }
        next_gs += 1;
        pending.push(Buffered {
            bytes: frame[..n].to_vec(),
            offset: pos,
        });
        if f.batch_remaining == 0 {
            take_batch(path, id, std::mem::take(&mut pending), &mut footer, out)?;
        }
        pos += n as u64;
    }
    if pos != at || !pending.is_empty() {
        return Err(corrupt(path, at, Corruption::FooterMisplaced));
    }
    if access == Access::Writer {
        super::repair::rewrite_footer(cfg, path, &footer)?;
    }
    Ok(footer)
}

/// The bytes of the frame at `pos`, if the file holds a whole frame's worth
/// there (by its length prefix); `None` at the end of the frames: end of
/// file, a zero or implausible length, or fewer bytes than it claims.
fn frame_at<'w>(window: &'w mut FileWindow<'_>, pos: u64) -> std::io::Result<Option<&'w [u8]>> {
    let prefix = window.bytes(pos, FRAME_PREFIX_LEN)?;
    let Some(len) = prefix.first_chunk::<4>().map(|b| u32::from_le_bytes(*b)) else {
        return Ok(None);
    };
    let body = usize::try_from(len).unwrap_or(usize::MAX);
    if !(MIN_FRAME_BODY_LEN..=MAX_FRAME_BODY_LEN).contains(&body) {
        return Ok(None);
    }
    let whole = FRAME_PREFIX_LEN + body;
    let bytes = window.bytes(pos, whole)?;
    Ok((bytes.len() == whole).then_some(bytes))
}

/// Recomputes the `event_hash` of every frame of the incomplete batch that
/// ends the active segment, whose frames are in hash layout `hash_version`.
/// A crash tears a batch only by leaving its last frames unwritten; the
/// frames it did write hash right. Returns the offset and global sequence of
/// the first frame that does not: such a batch was altered (in layout 2, a
/// rewritten `batch_remaining` is enough), and must not be dropped as torn.
fn tail_batch_mismatch(
    path: &Path,
    batch: &[Buffered],
    hash_version: u8,
) -> Result<Option<(u64, u64)>, StoreError> {
    for b in batch {
        let (f, _) =
            decode_frame(&b.bytes).map_err(|e| corrupt(path, b.offset, decode("frame", e)))?;
        let recomputed = chain::event_hash_of(&f.header(hash_version), f.entity, f.scope);
        if recomputed != f.event_hash {
            return Ok(Some((b.offset, f.global_sequence)));
        }
    }
    Ok(None)
}

/// Indexes the frames of a batch that completed, in order.
fn take_batch(
    path: &Path,
    id: u64,
    batch: Vec<Buffered>,
    footer: &mut FooterBuilder,
    out: &mut Recovered,
) -> Result<(), StoreError> {
    for b in batch {
        let (f, n) =
            decode_frame(&b.bytes).map_err(|e| corrupt(path, b.offset, decode("frame", e)))?;
        take_frame(path, id, &f, b.offset, n, footer, out)?;
    }
    Ok(())
}

/// Indexes one whole frame of the active segment, lists it in its footer
/// and keeps its idempotency key.
fn take_frame(
    path: &Path,
    id: u64,
    f: &FrameFields<'_>,
    offset: u64,
    n: usize,
    footer: &mut FooterBuilder,
    out: &mut Recovered,
) -> Result<(), StoreError> {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    push_frame(path, id, f, offset, n, &mut out.index)?;
    footer.push(f, n);
    if let Some(key) = f.idempotency_key {
        out.scanned_keys.push(KeyRecord {
            key,
            event_id: f.event_id,
            global_sequence: f.global_sequence,
            digest: crate::format::PayloadDigest::of_stored(f.payload),
        });
    }
    Ok(())
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
