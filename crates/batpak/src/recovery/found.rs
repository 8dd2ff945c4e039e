//! What recovery builds and reports: the open report, the tail the writer
//! continues, and the pieces the loaders share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::compaction::CompactionAtOpen;
use crate::config::StoreConfig;
use crate::error::{Corruption, StoreError};
use crate::format::{self, DecodeError, KeyRecord};
use crate::index::Index;
use crate::segment::{FooterBuilder, SegmentFile};

/// What opening found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenReport {
    /// Segment files read.
    pub segments: usize,
    /// Segments whose index came from their footer.
    pub segments_from_footer: usize,
    /// Sealed segments whose index came from their index file.
    pub segments_from_index_file: usize,
    /// Index files written by this open, for sealed segments that had none
    /// or whose file was damaged (writer opens only).
    pub index_files_written: usize,
    /// Sealed segments whose index file failed a check (CRC, or written for
    /// another footer) and was not used: their footer was read instead.
    pub damaged_index_files: Vec<PathBuf>,
    /// Sealed segments held in memory, their index built from the footer
    /// (a read-only open of a segment without a usable index file, or an
    /// index file that could not be written).
    pub segments_indexed_in_memory: usize,
    /// Index files that failed a read after open (a page's CRC, an I/O
    /// error): their parts answer from bytes rebuilt from the segment's
    /// footer, and a writable store writes the file again.
    pub index_files_rebuilt_after_open: u64,
    /// Index reads that failed after open, at a segment whose index file
    /// and footer were both unreadable: the call that made them got no
    /// entries from that segment, and the error was logged. 0 on a sound
    /// store.
    pub index_read_failures: u64,
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
    /// Sealed segments whose damaged footer was rebuilt from their frames
    /// (and, by a writer, written back).
    pub rebuilt_footers: Vec<PathBuf>,
    /// Tree heads in the heads file that were checked against the log's tree.
    pub heads_checked: u64,
    /// Leaves of the Merkle tree computed from the log at open: events its
    /// files did not cover yet (the tail since the last write-out, or the
    /// whole log when the tree was new or rebuilt).
    pub tree_leaves_from_log: u64,
    /// The tree files were damaged and were rebuilt from the log.
    pub tree_rebuilt: bool,
    /// Bytes of a heads record whose append did not complete (dropped).
    pub torn_head_bytes: u64,
    /// The log holds fewer events than a recorded tree head covered:
    /// committed events were lost. Reported at every open once found.
    pub history_lost: Option<HistoryLoss>,
    /// A compaction an earlier run left unfinished, and what open did
    /// about it (completed its switch, or removed its temporary outputs).
    pub compaction: Option<CompactionAtOpen>,
}

/// Committed events that are gone: a recorded tree head covered more
/// events than the log now holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryLoss {
    /// Events the head covered.
    pub head_size: u64,
    /// Events the log held when the loss was found.
    pub log_size: u64,
    /// Found by this open (else found earlier and recorded in the heads file).
    pub found_now: bool,
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
    /// The bytes after `offset` held a whole frame that failed its checksum:
    /// damage to events that were written (and may have been acknowledged),
    /// not a write cut short by a crash.
    pub damaged: bool,
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
    /// The header's format version: an older one takes no more frames.
    pub(crate) version: u16,
    pub(crate) footer: FooterBuilder,
    /// The file still ends in a footer that must be cut before appending.
    pub(crate) sealed: bool,
}

/// Everything rebuilt at open.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) index: Index,
    pub(crate) files: BTreeMap<u64, SegmentFile>,
    pub(crate) tail: Option<Tail>,
    pub(crate) report: OpenReport,
    /// Idempotency keys to seed the writer with (writer opens only).
    pub(crate) keys: Vec<KeyRecord>,
    /// Keys found while scanning the active segment's frames.
    pub(super) scanned_keys: Vec<KeyRecord>,
    /// `(segment id, first global sequence, end global sequence, scanned)`.
    pub(super) ranges: Vec<(u64, u64, u64, bool)>,
    /// The format version of the last segment read (0 before the first).
    pub(super) newest_version: u16,
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
    for &id in &ids {
        // Named like a segment but a FIFO, a device or a directory: opening
        // it could block, and removing it (as an unborn segment) would
        // destroy what someone put there. Refuse, naming it.
        let path = format::segment_path(&cfg.dir, id);
        let regular = cfg
            .fs
            .is_regular_file(&path)
            .map_err(|e| StoreError::io("stat segment", &path, e))?;
        if !regular {
            return Err(StoreError::NotARegularFile { path });
        }
    }
    Ok(ids)
}

pub(super) enum Loaded {
    Kept(Box<Tail>),
    Discarded,
}

pub(super) fn decode(structure: &'static str, source: DecodeError) -> Corruption {
    Corruption::Decode { structure, source }
}

pub(super) fn corrupt(path: &Path, offset: u64, reason: Corruption) -> StoreError {
    StoreError::CorruptSegment {
        segment: path.to_path_buf(),
        offset,
        reason,
    }
}
