//! Compaction: rewriting sealed segments into fewer (`Merge`) or into
//! copies whose rejected events keep only their headers (`Tombstone`),
//! while appends go on.
//!
//! The work runs on the caller's thread over segments that never change
//! again, so appends wait only for the switch. The steps, and why a crash
//! at any of them leaves either the old set of segments or the new one:
//!
//! 1. Each output is written under a temporary name
//!    (`<segment name>.compacting`) and synced, then the directory. A crash
//!    here leaves only temporary files, which the next open removes: the
//!    old set stands.
//! 2. The marker `COMPACTION` (`format::CompactionMarker`) is written
//!    atomically (temporary file, fsync, rename, directory fsync). This is
//!    the switch: from the moment its rename is durable, the new set
//!    stands, and an open that finds the marker completes steps 4–5.
//! 3. Readers are switched in memory: the outputs replace the sources in
//!    the table of open segments, and the outputs' index parts (their index
//!    files are written beside them, under temporary names) replace the
//!    sources', under both locks at once. A reader holding an entry
//!    taken before the switch is sent to the new location (`engine`).
//! 4. Sources are removed and outputs renamed to their segment names (an
//!    output takes the name of the first source it replaces, so segment
//!    order is global-sequence order), then the directory is synced.
//! 5. The marker is removed and the directory synced.
//!
//! What survives: every event, in order, with its frame byte for byte
//! (`Merge`), or, for an event the `Tombstone` predicate rejects, a frame
//! with the same header, `prev_hash`, `event_hash` and `content_hash` and no
//! payload bytes (see `docs/FORMAT.md`). Hashes, chains, the Merkle tree,
//! idempotency keys, cursors and checkpoints are unaffected, as all of them
//! name events by id or global sequence, never by file offset.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::append::Appender;
use crate::engine::Shared;
use crate::error::{Corruption, StoreError};
use crate::event::{decode_json_payload, Event, StoredEvent};
use crate::format::{
    self, decode_frame, encode_compaction_marker, encode_frame, encode_segment_header,
    segment_path, CompactionMarker, FrameFields, SegmentHeader, COMPACTION_FILE,
    SEGMENT_HEADER_LEN,
};
use crate::fs::{write_atomic, OpenMode, StoreFile, StoreFs};
use crate::index::Part;
use crate::recovery::{complete, temp_path};
pub use crate::recovery::{CompactionAtOpen, CompactionKind};
use crate::segment::SealedSegment;
use crate::segment::{read_whole, FooterBuilder, SegmentFile};

/// The test a retention or tombstone compaction puts to each event: `true`
/// keeps it as it is. A payload that was shredded or already tombstoned is
/// seen as `null`.
pub type CompactionPredicate = Box<dyn Fn(&StoredEvent<serde_json::Value>) -> bool + Send>;

/// What a compaction does with the events of the segments it rewrites.
#[non_exhaustive]
pub enum CompactionStrategy {
    /// Joins runs of small sealed segments into fewer, each up to the
    /// target size; every frame is copied byte for byte.
    Merge,
    /// Rewrites each sealed segment holding an event the predicate rejects
    /// without it: the event is gone for good (its id, frame and payload).
    /// Survivors keep their frames byte for byte, global sequences and
    /// entity sequences skip the removed ones, and a survivor whose entity
    /// predecessor was removed reports that link as retired
    /// (`ChainVerificationReport::retired_links`, `AncestryBoundary::Retired`).
    /// The Merkle tree keeps every leaf, so heads and proofs of the
    /// survivors still verify. Only events a recorded tree head covers are
    /// removed; a segment past the newest head is left as it is.
    Retention(CompactionPredicate),
    /// Rewrites each sealed segment holding an event the predicate rejects
    /// (returns `false` for): such an event keeps its header and hashes and
    /// loses its payload bytes, so chains and proofs still verify and a read
    /// of its payload fails with [`StoreError::PayloadTombstoned`].
    /// Version-1 segments, whose frames cannot hold a tombstone, are left
    /// as they are (and counted in [`CompactionReport::segments_left`]).
    Tombstone(CompactionPredicate),
}

impl std::fmt::Debug for CompactionStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Merge => "Merge",
            Self::Retention(_) => "Retention(..)",
            Self::Tombstone(_) => "Tombstone(..)",
        })
    }
}

/// How [`Store::compact`](crate::Store::compact) runs.
///
/// ```
/// use batpak::{CompactionConfig, CompactionStrategy};
/// let merge = CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(64 << 20);
/// assert_eq!(merge.target_segment_bytes(), Some(64 << 20));
/// ```
#[derive(Debug)]
pub struct CompactionConfig {
    strategy: CompactionStrategy,
    target_segment_bytes: Option<u64>,
}

impl CompactionConfig {
    /// A compaction with this strategy and, for `Merge`, outputs up to the
    /// store's segment size.
    pub fn new(strategy: CompactionStrategy) -> Self {
        Self {
            strategy,
            target_segment_bytes: None,
        }
    }

    /// The largest output `Merge` writes (frames and footer), in bytes;
    /// segments already larger are left alone.
    pub fn with_target_segment_bytes(mut self, bytes: u64) -> Self {
        self.target_segment_bytes = Some(bytes);
        self
    }

    /// The target size set with [`Self::with_target_segment_bytes`], if any.
    pub fn target_segment_bytes(&self) -> Option<u64> {
        self.target_segment_bytes
    }

    fn kind(&self) -> CompactionKind {
        match self.strategy {
            CompactionStrategy::Merge => CompactionKind::Merge,
            CompactionStrategy::Retention(_) => CompactionKind::Retention,
            CompactionStrategy::Tombstone(_) => CompactionKind::Tombstone,
        }
    }
}

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CompactionReport {
    /// The strategy that ran.
    pub strategy: CompactionKind,
    /// Ids of the segments replaced (empty when there was nothing to do).
    pub source_segments: Vec<u64>,
    /// Ids of the segments that replaced them (each the id of its first source).
    pub output_segments: Vec<u64>,
    /// Sealed segments looked at and left as they were.
    pub segments_left: usize,
    /// Events in the rewritten segments kept with their payloads.
    pub events_kept: u64,
    /// Events newly turned into tombstones.
    pub events_tombstoned: u64,
    /// Events removed for good (retention).
    pub events_dropped: u64,
    /// Bytes of the source segments.
    pub bytes_before: u64,
    /// Bytes of the output segments.
    pub bytes_after: u64,
    /// `bytes_before - bytes_after` (0 if the outputs are larger).
    pub bytes_reclaimed: u64,
    /// Wall time of the whole compaction.
    #[serde(serialize_with = "serialize_micros")]
    pub duration: Duration,
}

fn serialize_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// One output being written.
struct Output {
    id: u64,
    sources: Vec<u64>,
    version: u16,
    /// The temporary file and its path.
    file: Arc<dyn StoreFile>,
    temp: PathBuf,
    len: u64,
    /// Global sequences of the events it leaves out (retention).
    retired: Vec<u64>,
    /// Its footer, for its index file (written before it is switched in).
    footer: format::Footer,
    /// CRC-32 of its encoded footer.
    footer_crc: u32,
}

/// Runs a compaction (see the module docs).
pub(crate) fn compact(
    appender: &Appender,
    config: &CompactionConfig,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<CompactionReport, StoreError> {
    let started = Instant::now();
    let shared = appender.shared();
    let _maintenance = shared.maintenance.lock();
    // An earlier compaction of this run that switched but failed to finish
    // its renames: finish it first (its marker must not be overwritten).
    let dir = shared.cfg.dir.as_path();
    let fs = shared.cfg.fs.as_ref();
    let marker_path = dir.join(COMPACTION_FILE);
    crate::recovery::finish_pending(fs, dir)?;
    let sealed = appender.sealed_segments()?;
    let kind = config.kind();
    let target = config
        .target_segment_bytes
        .unwrap_or(shared.cfg.segment_max_bytes);
    let lens: Vec<u64> = sealed
        .iter()
        .map(|s| {
            s.file
                .file
                .len()
                .map_err(|e| StoreError::io("stat segment", segment_path(&shared.cfg.dir, s.id), e))
        })
        .collect::<Result<_, _>>()?;
    let groups = match &config.strategy {
        CompactionStrategy::Merge => merge_groups(&sealed, &lens, target),
        CompactionStrategy::Tombstone(_) => sealed
            .iter()
            .enumerate()
            .filter(|(_, s)| s.file.version > format::OLDEST_SEGMENT_FORMAT_VERSION)
            .map(|(i, _)| vec![i])
            .collect(),
        CompactionStrategy::Retention(_) => (0..sealed.len()).map(|i| vec![i]).collect(),
    };
    // Retention removes only what a recorded head covers: the tree files
    // then hold those leaves, which no frame will again.
    let covered = shared
        .evidence
        .heads
        .lock()
        .latest(&shared.evidence.origin)
        .map_or(0, |h| h.size());
    let total: u64 = groups.iter().flatten().map(|&i| lens[i]).sum();
    let mut done = 0u64;
    progress(done, total);
    let mut outputs: Vec<Output> = Vec::new();
    let mut report = CompactionReport {
        strategy: kind,
        source_segments: Vec::new(),
        output_segments: Vec::new(),
        segments_left: sealed.len(),
        events_kept: 0,
        events_tombstoned: 0,
        events_dropped: 0,
        bytes_before: 0,
        bytes_after: 0,
        bytes_reclaimed: 0,
        duration: Duration::ZERO,
    };
    let written = (|| {
        for group in &groups {
            let members: Vec<&SealedSegment> = group.iter().map(|&i| &sealed[i]).collect();
            let out = rewrite(shared, &config.strategy, &members, covered, &mut report)?;
            done += group.iter().map(|&i| lens[i]).sum::<u64>();
            progress(done, total);
            if let Some(out) = out {
                report.bytes_before += group.iter().map(|&i| lens[i]).sum::<u64>();
                outputs.push(out);
            }
        }
        Ok::<(), StoreError>(())
    })();
    if let Err(e) = written.and_then(|()| {
        fs.sync_dir(dir)
            .map_err(|e| StoreError::io("sync directory", dir, e))
    }) {
        discard(fs, &outputs);
        return Err(e);
    }
    if outputs.is_empty() {
        report.duration = started.elapsed();
        return Ok(report);
    }
    // The outputs' index files, under temporary names like the outputs
    // (a rollback removes both; the switch renames both).
    let parts = {
        let index = shared.index.read();
        outputs
            .iter()
            .map(|o| {
                let s = crate::index::SealedSegment {
                    fs: shared.cfg.fs.clone(),
                    file: o.file.clone(),
                    path: segment_path(dir, o.id),
                    head: format::IndexFileHead {
                        segment_id: o.id,
                        segment_len: o.len,
                        footer_crc: o.footer_crc,
                    },
                    frames_end: o.footer.frames_end,
                    index_file: crate::recovery::index_temp_path(dir, o.id),
                };
                index.open_sealed(&s, Some(&o.footer), true).map(|(p, _)| p)
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let parts = match parts {
        Ok(parts) => parts,
        Err(e) => {
            discard(fs, &outputs);
            return Err(e);
        }
    };
    let marker = CompactionMarker {
        strategy: kind.code(),
        sources: outputs
            .iter()
            .flat_map(|o| o.sources.iter().copied())
            .collect(),
        outputs: outputs.iter().map(|o| (o.id, o.len)).collect(),
    };
    if let Err(e) = write_atomic(fs, &marker_path, &encode_compaction_marker(&marker)) {
        // The rename may or may not have reached the disk; whichever it
        // did, the next open decides, and the files it needs are still here.
        return Err(StoreError::io("write compaction marker", &marker_path, e));
    }
    switch_readers(shared, &outputs, &marker.sources, parts);
    report.events_dropped = outputs.iter().map(|o| o.retired.len() as u64).sum();
    report.source_segments = marker.sources.clone();
    report.output_segments = outputs.iter().map(|o| o.id).collect();
    report.segments_left = sealed.len() - report.source_segments.len();
    report.bytes_after = outputs.iter().map(|o| o.len).sum();
    report.bytes_reclaimed = report.bytes_before.saturating_sub(report.bytes_after);
    complete(fs, dir, &marker)?;
    report.duration = started.elapsed();
    Ok(report)
}

/// Runs of consecutive sealed segments of one format version whose bytes
/// add up to at most `target`, taken greedily in log order; runs of one
/// are left alone.
fn merge_groups(sealed: &[SealedSegment], lens: &[u64], target: u64) -> Vec<Vec<usize>> {
    let mut groups = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    let mut run_len = 0u64;
    for (i, s) in sealed.iter().enumerate() {
        // The run's last member is this one's neighbour in the log. A
        // segment as large as the target joins no run and ends up in a run
        // of one, which is left alone.
        let joins = run
            .last()
            .is_some_and(|&p| sealed[p].file.version == s.file.version)
            && run_len + lens[i] <= target;
        if !joins {
            if run.len() > 1 {
                groups.push(std::mem::take(&mut run));
            }
            run.clear();
            run_len = 0;
        }
        run.push(i);
        run_len += lens[i];
    }
    if run.len() > 1 {
        groups.push(run);
    }
    groups
}

/// Writes the output that replaces `members`; `None` if nothing in them
/// changes (a tombstone pass that rejects nothing new).
fn rewrite(
    shared: &Shared,
    strategy: &CompactionStrategy,
    members: &[&SealedSegment],
    covered: u64,
    report: &mut CompactionReport,
) -> Result<Option<Output>, StoreError> {
    let cfg = &shared.cfg;
    let first = members[0];
    let id = first.id;
    let version = match strategy {
        CompactionStrategy::Merge | CompactionStrategy::Retention(_) => first.file.version,
        CompactionStrategy::Tombstone(_) => format::SEGMENT_FORMAT_VERSION,
    };
    let retention = matches!(strategy, CompactionStrategy::Retention(_));
    let mut retired: Vec<u64> = Vec::new();
    let mut frames: Vec<u8> = Vec::new();
    let mut footer: Option<FooterBuilder> = None;
    let mut kept = 0u64;
    let mut tombstoned = 0u64;
    for member in members {
        let path = segment_path(&cfg.dir, member.id);
        let bytes = read_whole(member.file.file.as_ref(), &path)?;
        let sealed_footer = crate::recovery::read_sealed_footer(&path, member.file.file.as_ref())?;
        let base = sealed_footer.base_global_sequence;
        let builder = footer.get_or_insert_with(|| FooterBuilder::new(base));
        if retention || sealed_footer.retired.is_some() {
            builder.ensure_retired();
        }

        let end = usize::try_from(sealed_footer.frames_end).unwrap_or(usize::MAX);
        let mut at = SEGMENT_HEADER_LEN;
        let mut gs = sealed_footer.base_global_sequence;
        let mut listed = sealed_footer.entries.iter();
        let bad = |offset: usize, reason: Corruption| StoreError::CorruptSegment {
            segment: path.clone(),
            offset: offset as u64,
            reason,
        };
        while at < end {
            let frame_bytes = bytes.get(at..end).unwrap_or_default();
            let (f, used) = decode_frame(frame_bytes).map_err(|source| {
                bad(
                    at,
                    Corruption::Decode {
                        structure: "frame",
                        source,
                    },
                )
            })?;
            // A version-2 source skips retired sequences: its entries say where.
            if let Some(g) = listed.next().and_then(|e| e.global_sequence) {
                gs = g;
            }
            if f.global_sequence != gs {
                return Err(bad(
                    at,
                    Corruption::GlobalSequence {
                        found: f.global_sequence,
                        expected: gs,
                    },
                ));
            }
            let entry = shared.index.read().entry_at(gs)?;
            let Some(entry) = entry.filter(|e| e.event_id == f.event_id) else {
                return Err(bad(
                    at,
                    Corruption::WrongEvent {
                        expected: f.event_id,
                    },
                ));
            };
            let keep = match strategy {
                CompactionStrategy::Merge => true,
                CompactionStrategy::Tombstone(_) if f.tombstone.is_some() => true,
                CompactionStrategy::Retention(_) if gs >= covered => true,
                CompactionStrategy::Tombstone(keep) | CompactionStrategy::Retention(keep) => judge(
                    shared,
                    keep,
                    &f,
                    &entry.coordinate,
                    member.file.hash_version(),
                )?,
            };
            if !keep && retention {
                builder.retire(&f);
                retired.push(gs);
                at += used;
                gs += 1;
                continue;
            }
            if keep {
                frames.extend_from_slice(&frame_bytes[..used]);
                builder.push(&f, used);
                if f.tombstone.is_none() {
                    kept += 1;
                }
            } else {
                let content_hash = f.header(member.file.hash_version()).content_hash;
                // The encoder writes the tombstone in the payload's place.
                let stone = FrameFields {
                    tombstone: Some(content_hash),
                    ..f.clone()
                };
                let before = frames.len();
                encode_frame(&mut frames, &stone);
                let n = frames.len() - before;
                builder.push(&stone, n);
                tombstoned += 1;
            }
            at += used;
            gs += 1;
        }
        // A version-2 source's entities whose last events were retired
        // before: their rows (tip, next sequence) carry on.
        if let Some(r) = &sealed_footer.retired {
            builder.carry_retired(&sealed_footer.entities, r);
        }
    }
    if matches!(strategy, CompactionStrategy::Tombstone(_)) && tombstoned == 0 {
        return Ok(None);
    }
    if retention && retired.is_empty() {
        return Ok(None);
    }
    report.events_kept += kept;
    report.events_tombstoned += tombstoned;
    let Some(footer) = footer else {
        return Ok(None);
    };
    let temp = temp_path(&cfg.dir, id);
    let fs = cfg.fs.as_ref();
    let io = |e| StoreError::io("write compacted segment", &temp, e);
    if fs.exists(&temp).map_err(io)? {
        fs.remove_file(&temp).map_err(io)?;
    }
    let file = fs.open(&temp, OpenMode::CreateNew).map_err(io)?;
    let header = encode_segment_header(SegmentHeader {
        version,
        segment_id: id,
        created_ms: crate::id::now_ms(),
    });
    let trailer = format::encode_footer(footer.footer());
    let len = (SEGMENT_HEADER_LEN + frames.len() + trailer.len()) as u64;
    let written = file
        .write_all_at(&header, 0)
        .and_then(|()| file.write_all_at(&frames, SEGMENT_HEADER_LEN as u64))
        .and_then(|()| file.write_all_at(&trailer, (SEGMENT_HEADER_LEN + frames.len()) as u64))
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = fs.remove_file(&temp);
        return Err(io(e));
    }
    Ok(Some(Output {
        id,
        sources: members.iter().map(|m| m.id).collect(),
        version,
        file,
        temp,
        len,
        retired,
        footer_crc: crc32fast::hash(&trailer[..trailer.len() - format::TRAILER_LEN]),
        footer: footer.footer().clone(),
    }))
}

/// The predicate's verdict on one event (a shredded or tombstoned payload
/// seen as `null`); a panic in it fails the compaction.
fn judge(
    shared: &Shared,
    keep: &CompactionPredicate,
    f: &FrameFields<'_>,
    coordinate: &crate::coordinate::Coordinate,
    hash_version: u8,
) -> Result<bool, StoreError> {
    let raw = StoredEvent {
        event: Event {
            header: f.header(hash_version),
            payload: f.payload.to_vec(),
        },
        coordinate: coordinate.clone(),
    };
    let event = match shared.open_stored(raw) {
        Ok(raw) => decode_json_payload(raw)?,
        Err(StoreError::PayloadShredded { .. } | StoreError::PayloadTombstoned { .. }) => {
            StoredEvent {
                event: Event {
                    header: f.header(hash_version),
                    payload: serde_json::Value::Null,
                },
                coordinate: coordinate.clone(),
            }
        }
        Err(e) => return Err(e),
    };
    catch_unwind(AssertUnwindSafe(|| keep(&event))).map_err(|_| {
        StoreError::CompactionPredicatePanicked {
            event_id: f.event_id,
        }
    })
}

/// Removes the temporary outputs of a compaction that will not switch.
fn discard(fs: &dyn StoreFs, outputs: &[Output]) {
    for o in outputs {
        let _ = fs.remove_file(&o.temp);
        let index = crate::recovery::index_temp_path(o.temp.parent().unwrap_or(&o.temp), o.id);
        let _ = fs.remove_file(&index);
    }
}

/// Points readers at the outputs (step 3 of the module docs).
fn switch_readers(shared: &Shared, outputs: &[Output], sources: &[u64], parts: Vec<Part>) {
    let mut files = shared.files.write();
    let mut index = shared.index.write();
    for id in sources {
        files.remove(id);
    }
    for o in outputs {
        files.insert(
            o.id,
            SegmentFile {
                file: o.file.clone(),
                version: o.version,
            },
        );
    }
    index.replace(sources, parts);
    if let Some(cache) = &shared.cache {
        cache.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn configs_and_strategies_say_what_they_are() {
        let keep: CompactionPredicate = Box::new(|_| true);
        assert_eq!(format!("{:?}", CompactionStrategy::Merge), "Merge");
        assert_eq!(
            format!("{:?}", CompactionStrategy::Retention(Box::new(|_| true))),
            "Retention(..)"
        );
        assert_eq!(
            format!("{:?}", CompactionStrategy::Tombstone(keep)),
            "Tombstone(..)"
        );
        let c = CompactionConfig::new(CompactionStrategy::Merge);
        assert_eq!(c.target_segment_bytes(), None);
        assert_eq!(c.kind(), CompactionKind::Merge);
        let c = c.with_target_segment_bytes(12_345);
        assert_eq!(c.target_segment_bytes(), Some(12_345));
        for k in [
            CompactionKind::Merge,
            CompactionKind::Retention,
            CompactionKind::Tombstone,
        ] {
            assert_eq!(CompactionKind::from_code(k.code()), k);
        }
        assert_eq!(CompactionKind::Merge.code(), 0);
        assert_eq!(CompactionKind::Retention.code(), 1);
        assert_eq!(CompactionKind::Tombstone.code(), 2);
    }
}
