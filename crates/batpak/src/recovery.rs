//! Cold start: rebuild the index from segment footers and, for the active
//! segment, from its frames; apply the torn-tail policy.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;

use crate::config::{StoreConfig, TailPolicy};
use crate::coordinate::{part_problem, Coordinate};
use crate::error::{Corruption, StoreError};
use crate::format::{
    self, decode_frame, decode_segment_header, DecodeError, Footer, FooterReader, FrameFields,
    KeyRecord, IDEMPOTENCY_FILE, SEGMENT_HEADER_LEN, SYNC_FAILURE_FILE, TRAILER_LEN,
};
use crate::fs::{OpenMode, StoreFile};
use crate::id::EventId;
use crate::id_table::IdTable;
use crate::index::{Index, IndexEntry, Location};
use crate::segment::FooterBuilder;

/// What opening found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenReport {
    /// Segment files read.
    pub segments: usize,
    /// Segments whose index came from their footer.
    pub segments_from_footer: usize,
    /// Frames decoded one by one (segments without a footer).
    pub frames_scanned: u64,
    /// Committed events found.
    pub events: u64,
    /// A torn tail that was dropped (or, read-only, ignored).
    pub torn_tail: Option<TornTail>,
    /// Zero bytes after the last frame of the active segment: space written
    /// ahead by the writer, reused by the next appends.
    pub preallocated_bytes: u64,
    /// Idempotency keys loaded from the sidecar file.
    pub idempotency_keys_from_sidecar: u64,
    /// Idempotency keys recovered by reading frames (events after the sidecar's snapshot).
    pub idempotency_keys_from_log: u64,
    /// Why the sidecar could not be used, when it was rebuilt from the log.
    pub idempotency_sidecar_problem: Option<String>,
    /// Bytes cut from segments because an earlier writer's fsync failed:
    /// frames past its last successful fsync, never acknowledged as durable,
    /// that the OS cache could still show (writer opens only).
    pub cut_after_failed_sync: u64,
}

/// An incomplete write found at the end of the active segment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the last whole frame (or whole batch) ends: the new end of the file.
    pub offset: u64,
    /// Bytes after `offset` that were dropped.
    pub dropped_bytes: u64,
    /// Whole frames dropped because their batch was incomplete.
    pub dropped_batch_frames: u64,
}

/// How the directory is being opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The exclusive writer: may truncate a torn tail.
    Writer,
    /// A reader: changes nothing on disk.
    ReadOnly,
}

/// The last segment, as the writer will continue it.
#[derive(Debug)]
pub(crate) struct Tail {
    pub(crate) id: u64,
    pub(crate) footer: FooterBuilder,
    /// The file still ends in a footer that must be cut before appending.
    pub(crate) sealed: bool,
}

/// Everything rebuilt at open.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) index: Index,
    pub(crate) files: BTreeMap<u64, Arc<dyn StoreFile>>,
    pub(crate) tail: Option<Tail>,
    pub(crate) report: OpenReport,
    /// Idempotency keys to seed the writer with (writer opens only).
    pub(crate) keys: Vec<KeyRecord>,
    /// Keys found while scanning the active segment's frames.
    scanned_keys: Vec<KeyRecord>,
    /// `(segment id, first global sequence, end global sequence, scanned)`.
    ranges: Vec<(u64, u64, u64, bool)>,
}

/// Lists segment ids in the data directory, ascending.
pub(crate) fn segment_ids(cfg: &StoreConfig) -> Result<Vec<u64>, StoreError> {
    let names = cfg
        .fs
        .list_dir(&cfg.dir)
        .map_err(|e| StoreError::io("list directory", &cfg.dir, e))?;
    let mut ids: Vec<u64> = names
        .iter()
        .filter_map(|n| format::parse_segment_file_name(n))
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format::segment_file_name(id))
}

/// Rebuilds the index from the directory.
pub(crate) fn recover(cfg: &StoreConfig, access: Access) -> Result<Recovered, StoreError> {
    let cut = if access == Access::Writer {
        apply_sync_failure(cfg)?
    } else {
        0
    };
    let ids = segment_ids(cfg)?;
    let mut out = Recovered {
        index: Index::default(),
        files: BTreeMap::new(),
        tail: None,
        report: OpenReport::default(),
        keys: Vec::new(),
        scanned_keys: Vec::new(),
        ranges: Vec::new(),
    };
    // Sealed segments' ids go into an id table on a helper thread while
    // this one decodes the next footer; the table joins the index at the end.
    let table = out.index.id_table_like();
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let mut ids_sink = IdSink::start(scope, table);
        for (i, &id) in ids.iter().enumerate() {
            load_one(cfg, access, id, i + 1 == ids.len(), &mut ids_sink, &mut out)?;
        }
        let table = ids_sink.finish();
        out.index.absorb_ids(table);
        Ok(())
    })?;
    out.report.events = out.index.len() as u64;
    out.report.cut_after_failed_sync = cut;
    if access == Access::Writer {
        recover_keys(cfg, &mut out)?;
    }
    Ok(out)
}

/// Applies the record a writer left when an fsync failed: segments are cut
/// back to what its last successful fsync covered (later segments removed),
/// made durable, and the record removed. Frames past that point were never
/// acknowledged as durable, and the OS cache may still show frames the disk
/// does not have. Returns the bytes cut.
fn apply_sync_failure(cfg: &StoreConfig) -> Result<u64, StoreError> {
    let path = cfg.dir.join(SYNC_FAILURE_FILE);
    let exists = cfg
        .fs
        .exists(&path)
        .map_err(|e| StoreError::io("stat sync-failure record", &path, e))?;
    if !exists {
        return Ok(0);
    }
    let bytes = crate::fs::read_all(cfg.fs.as_ref(), &path)
        .map_err(|e| StoreError::io("read sync-failure record", &path, e))?;
    let record = match format::decode_sync_failure(&bytes) {
        Ok(r) => Some(r),
        Err(e) => {
            // Renamed into place before its bytes were synced, then a crash:
            // and after a crash no unsynced page survives, so nothing needs
            // cutting.
            tracing::warn!(error = %e, path = %path.display(), "ignoring an unreadable sync-failure record");
            None
        }
    };
    let cut = match record {
        Some(record) => cut_to_durable(cfg, record)?,
        None => 0,
    };
    cfg.fs
        .sync_dir(&cfg.dir)
        .and_then(|()| cfg.fs.remove_file(&path))
        .and_then(|()| cfg.fs.sync_dir(&cfg.dir))
        .map_err(|e| StoreError::io("remove sync-failure record", &path, e))?;
    Ok(cut)
}

/// Removes segments after `record.segment` and cuts that one to
/// `record.durable_len`; returns the bytes cut.
fn cut_to_durable(cfg: &StoreConfig, record: format::DurablePoint) -> Result<u64, StoreError> {
    let mut cut = 0u64;
    for id in segment_ids(cfg)? {
        let seg = segment_path(&cfg.dir, id);
        if id > record.segment {
            let len = cfg
                .fs
                .open(&seg, OpenMode::Read)
                .and_then(|f| f.len())
                .map_err(|e| StoreError::io("stat segment", &seg, e))?;
            cfg.fs
                .remove_file(&seg)
                .map_err(|e| StoreError::io("remove unsynced segment", &seg, e))?;
            cut += len;
        } else if id == record.segment {
            let f = cfg
                .fs
                .open(&seg, OpenMode::ReadWrite)
                .map_err(|e| StoreError::io("open segment", &seg, e))?;
            let len = f
                .len()
                .map_err(|e| StoreError::io("stat segment", &seg, e))?;
            if len > record.durable_len {
                f.set_len(record.durable_len)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| StoreError::io("cut unsynced frames", &seg, e))?;
                cut += len - record.durable_len;
            }
        }
    }
    if cut > 0 {
        tracing::warn!(
            bytes = cut,
            segment = record.segment,
            durable_len = record.durable_len,
            "cut frames written after the last successful fsync of a failed writer"
        );
    }
    Ok(cut)
}

/// Opens segment `id` and loads it into `out`.
fn load_one(
    cfg: &StoreConfig,
    access: Access,
    id: u64,
    is_last: bool,
    ids_sink: &mut IdSink<'_>,
    out: &mut Recovered,
) -> Result<(), StoreError> {
    let path = segment_path(&cfg.dir, id);
    let mode = if is_last && access == Access::Writer {
        OpenMode::ReadWrite
    } else {
        OpenMode::Read
    };
    let file = cfg
        .fs
        .open(&path, mode)
        .map_err(|e| StoreError::io("open segment", &path, e))?;
    out.report.segments += 1;
    let base = out.index.next_global_sequence();
    match load_segment(cfg, access, id, is_last, &file, ids_sink, out)? {
        Loaded::Kept(tail) => {
            out.files.insert(id, file);
            out.ranges
                .push((id, base, out.index.next_global_sequence(), !tail.sealed));
            // The last kept segment is the one the writer continues.
            out.tail = Some(*tail);
        }
        Loaded::Discarded => {}
    }
    Ok(())
}

/// Fills an id table with the ids of footer-loaded segments on a helper
/// thread, so hashing them overlaps with decoding the next footer. Without a
/// helper (none could be started, or it hung up) the ids go in inline.
struct IdSink<'scope> {
    tx: Option<mpsc::Sender<(usize, Vec<EventId>)>>,
    helper: Option<thread::ScopedJoinHandle<'scope, IdTable>>,
    inline: IdTable,
}

impl<'scope> IdSink<'scope> {
    fn start<'env>(scope: &'scope thread::Scope<'scope, 'env>, inline: IdTable) -> Self {
        let (tx, rx) = mpsc::channel::<(usize, Vec<EventId>)>();
        let mut table = inline.empty_like();
        let spawned = thread::Builder::new()
            .name("batpak-open-ids".into())
            .spawn_scoped(scope, move || {
                for (first, ids) in rx {
                    table.insert_run(first, &ids);
                }
                table
            });
        match spawned {
            Ok(helper) => Self {
                tx: Some(tx),
                helper: Some(helper),
                inline,
            },
            Err(_) => Self {
                tx: None,
                helper: None,
                inline,
            },
        }
    }

    /// Adds `ids[i]` at position `first + i`.
    fn send(&mut self, first: usize, ids: Vec<EventId>) {
        let unsent = match &self.tx {
            Some(tx) => tx.send((first, ids)).err().map(|mpsc::SendError(v)| v),
            None => Some((first, ids)),
        };
        if let Some((first, ids)) = unsent {
            self.tx = None;
            self.inline.insert_run(first, &ids);
        }
    }

    /// Waits for the helper and returns every id sent.
    fn finish(mut self) -> IdTable {
        self.tx = None;
        let Some(helper) = self.helper else {
            return self.inline;
        };
        match helper.join() {
            Ok(mut table) => {
                table.absorb(self.inline);
                table
            }
            // The helper only inserts into a table; a panic there is a bug
            // that must surface, as it would on this thread.
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}

/// Seeds the writer's idempotency keys: the sidecar snapshot if it checks
/// out against the index, then every keyed frame after it.
fn recover_keys(cfg: &StoreConfig, out: &mut Recovered) -> Result<(), StoreError> {
    let next = out.index.next_global_sequence();
    let window_start = next.saturating_sub(cfg.idempotency_window);
    let path = cfg.dir.join(IDEMPOTENCY_FILE);
    let exists = cfg
        .fs
        .exists(&path)
        .map_err(|e| StoreError::io("stat idempotency sidecar", &path, e))?;
    let loaded = if exists {
        let checked = crate::fs::read_all(cfg.fs.as_ref(), &path)
            .map_err(|e| e.to_string())
            .and_then(|b| format::decode_idempotency(&b).map_err(|e| e.to_string()))
            .and_then(|(through, recs)| check_sidecar(&out.index, next, through, recs));
        match checked {
            Ok(ok) => Some(ok),
            Err(problem) => {
                tracing::warn!(%problem, path = %path.display(), "idempotency sidecar rejected; rebuilding keys from the log");
                out.report.idempotency_sidecar_problem = Some(problem);
                None
            }
        }
    } else {
        if out.ranges.iter().any(|r| !r.3) {
            out.report.idempotency_sidecar_problem = Some("sidecar file is missing".into());
        }
        None
    };
    let (mut keys, from) = match loaded {
        Some((through, recs)) => (recs, through.max(window_start)),
        None => (Vec::new(), window_start),
    };
    out.report.idempotency_keys_from_sidecar = keys.len() as u64;
    for &(id, base, end, scanned) in &out.ranges {
        if scanned || end <= from {
            continue;
        }
        let path = segment_path(&cfg.dir, id);
        let Some(file) = out.files.get(&id) else {
            continue;
        };
        let bytes = read_file(file.as_ref(), &path)?;
        let mut pos = SEGMENT_HEADER_LEN;
        let mut gs = base;
        while gs < end {
            let (f, n) = decode_frame(&bytes[pos.min(bytes.len())..])
                .map_err(|e| corrupt(&path, pos as u64, decode("frame", e)))?;
            if let Some(key) = f.idempotency_key.filter(|_| gs >= from) {
                keys.push(KeyRecord {
                    key,
                    event_id: f.event_id,
                    global_sequence: gs,
                    content_hash: crate::chain::content_hash(f.payload),
                });
                out.report.idempotency_keys_from_log += 1;
            }
            pos += n;
            gs += 1;
        }
    }
    let scanned = std::mem::take(&mut out.scanned_keys);
    for k in scanned.into_iter().filter(|k| k.global_sequence >= from) {
        out.report.idempotency_keys_from_log += 1;
        keys.push(k);
    }
    out.keys = keys;
    Ok(())
}

/// A sidecar is trusted only if every record names the event the index has at that sequence.
fn check_sidecar(
    index: &Index,
    next: u64,
    through: u64,
    recs: Vec<KeyRecord>,
) -> Result<(u64, Vec<KeyRecord>), String> {
    if through > next {
        return Err(format!(
            "sidecar covers {through} events but the log has {next}"
        ));
    }
    let entries = index.entries();
    for r in &recs {
        let ok = r.global_sequence < through
            && usize::try_from(r.global_sequence)
                .ok()
                .and_then(|i| entries.get(i))
                .is_some_and(|e| e.event_id == r.event_id);
        if !ok {
            return Err(format!(
                "sidecar record for sequence {} does not match the log",
                r.global_sequence
            ));
        }
    }
    Ok((through, recs))
}

fn read_file(file: &dyn StoreFile, path: &Path) -> Result<Vec<u8>, StoreError> {
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat segment", path, e))?;
    let len = usize::try_from(len).map_err(|_| corrupt(path, 0, Corruption::TooLarge))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)
        .map_err(|e| StoreError::io("read segment", path, e))?;
    Ok(buf)
}

enum Loaded {
    Kept(Box<Tail>),
    Discarded,
}

/// Checks a name found on disk as a coordinate part.
fn check_name(path: &Path, offset: u64, part: &'static str, name: &str) -> Result<(), StoreError> {
    match part_problem(name) {
        None => Ok(()),
        Some(problem) => Err(corrupt(
            path,
            offset,
            Corruption::InvalidName { part, problem },
        )),
    }
}

fn decode(structure: &'static str, source: DecodeError) -> Corruption {
    Corruption::Decode { structure, source }
}

fn corrupt(path: &Path, offset: u64, reason: Corruption) -> StoreError {
    StoreError::CorruptSegment {
        segment: path.to_path_buf(),
        offset,
        reason,
    }
}

fn load_segment(
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
    let bytes = read_file(file.as_ref(), path)?;
    let footer = scan_frames(cfg, access, path, id, &bytes, file, out)?;
    Ok(Loaded::Kept(Box::new(Tail {
        id,
        footer,
        sealed: false,
    })))
}

/// The footer bytes of a sealed segment (reading only the trailer and the
/// footer): `(body, crc, offset of the footer)`, `None` if the file has no trailer.
fn read_footer(
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
fn open_footer<'a>(
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

fn footer_error(path: &Path, at: u64, e: DecodeError) -> StoreError {
    corrupt(path, at, decode("footer", e))
}

/// Loads a sealed segment's events into the index from its footer; returns
/// the footer's head (no entries) and the loaded ids with the position of the
/// first, which the caller puts in an id table.
fn load_from_footer(
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
fn scan_frames(
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
                if f.batch_remaining + 1 != expected {
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

fn push_frame(
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

#[allow(clippy::too_many_arguments)]
fn handle_torn(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    file: &Arc<dyn StoreFile>,
    valid_end: u64,
    file_len: u64,
    dropped_batch_frames: u64,
    report: &mut OpenReport,
) -> Result<(), StoreError> {
    let dropped_bytes = file_len - valid_end;
    if cfg.tail_policy == TailPolicy::FailClosed {
        return Err(StoreError::TornTail {
            segment: path.to_path_buf(),
            offset: valid_end,
            dropped_bytes,
        });
    }
    if access == Access::Writer {
        if valid_end < SEGMENT_HEADER_LEN as u64 {
            drop_unborn_segment(cfg, path)?;
        } else {
            file.set_len(valid_end)
                .and_then(|()| file.sync_all())
                .map_err(|e| StoreError::io("truncate torn tail", path, e))?;
        }
        tracing::warn!(
            segment = %path.display(),
            offset = valid_end,
            dropped_bytes,
            dropped_batch_frames,
            "recovered torn tail"
        );
    }
    report.torn_tail = Some(TornTail {
        segment: path.to_path_buf(),
        offset: valid_end,
        dropped_bytes,
        dropped_batch_frames,
    });
    Ok(())
}

fn drop_unborn_segment(cfg: &StoreConfig, path: &Path) -> Result<(), StoreError> {
    cfg.fs
        .remove_file(path)
        .and_then(|()| cfg.fs.sync_dir(&cfg.dir))
        .map_err(|e| StoreError::io("remove incomplete segment", path, e))
}
