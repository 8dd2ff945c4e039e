//! Segment bookkeeping shared by recovery and the writer.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::coordinate::Coordinate;
use crate::error::{Corruption, StoreError};
use crate::event::EventHeader;
use crate::format::{Footer, FooterEntry, FrameFields, SEGMENT_HEADER_LEN};
use crate::fs::StoreFile;
use crate::id::{CorrelationId, EventId, HlcPoint};
use crate::kind::EventKind;

/// What the footer records of one event.
struct FooterItem<'a> {
    pub(crate) entity: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) event_id: EventId,
    pub(crate) global_sequence: u64,
    pub(crate) entity_sequence: u64,
    pub(crate) kind: EventKind,
    pub(crate) wall_ms: u64,
    pub(crate) hlc: HlcPoint,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation_id: Option<EventId>,
    pub(crate) payload_version: u16,
    pub(crate) event_hash: [u8; 32],
}

/// Accumulates the footer of the active segment as frames are written (or re-read at open).
#[derive(Debug)]
pub(crate) struct FooterBuilder {
    footer: Footer,
    entity_ids: HashMap<String, u32, RandomState>,
    scope_ids: HashMap<String, u32, RandomState>,
    /// False for a sealed segment opened from its footer's head: the entries
    /// stay on disk until the writer continues the segment.
    entries_loaded: bool,
}

impl FooterBuilder {
    pub(crate) fn new(base_global_sequence: u64) -> Self {
        Self {
            footer: Footer {
                base_global_sequence,
                frames_end: SEGMENT_HEADER_LEN as u64,
                ..Footer::default()
            },
            entity_ids: HashMap::default(),
            scope_ids: HashMap::default(),
            entries_loaded: true,
        }
    }

    /// Stands for a sealed segment known by its footer's head (no entries);
    /// [`FooterBuilder::from_footer`] must replace it before frames follow.
    pub(crate) fn sealed_head(head: Footer) -> Self {
        Self {
            entries_loaded: false,
            ..Self::from_footer(head)
        }
    }

    /// Resumes from the whole footer of a segment that is being reopened for appends.
    pub(crate) fn from_footer(footer: Footer) -> Self {
        let entity_ids = footer
            .entities
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i as u32))
            .collect();
        let scope_ids = footer
            .scopes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Self {
            footer,
            entity_ids,
            scope_ids,
            entries_loaded: true,
        }
    }

    /// Records a frame of `frame_len` bytes appended at the end of the frame region.
    pub(crate) fn push(&mut self, f: &FrameFields<'_>, frame_len: usize) {
        self.push_item(
            &FooterItem {
                entity: f.entity,
                scope: f.scope,
                event_id: f.event_id,
                global_sequence: f.global_sequence,
                entity_sequence: f.entity_sequence,
                kind: f.kind,
                wall_ms: f.wall_ms,
                hlc: f.hlc,
                correlation_id: f.correlation_id,
                causation_id: f.causation_id,
                payload_version: f.payload_version,
                event_hash: f.event_hash,
            },
            frame_len,
        );
    }

    /// Records the frame of the event with this header.
    pub(crate) fn push_event(
        &mut self,
        h: &EventHeader,
        coordinate: &Coordinate,
        frame_len: usize,
    ) {
        self.push_item(
            &FooterItem {
                entity: coordinate.entity(),
                scope: coordinate.scope(),
                event_id: h.event_id,
                global_sequence: h.global_sequence,
                entity_sequence: h.entity_sequence,
                kind: h.kind,
                wall_ms: h.wall_ms,
                hlc: h.hlc,
                correlation_id: h.correlation_id,
                causation_id: h.causation_id,
                payload_version: h.payload_version,
                event_hash: h.event_hash,
            },
            frame_len,
        );
    }

    /// Makes this the footer of a range that may skip events
    /// ([`FooterBuilder::retire`]), written as footer version 2
    /// (`format::Retired`). The entries pushed so far ran densely from the
    /// base: their sequences and the entities' next sequences follow.
    pub(crate) fn ensure_retired(&mut self) {
        if self.footer.retired.is_some() {
            return;
        }
        let base = self.footer.base_global_sequence;
        let mut next = vec![0u64; self.footer.entities.len()];
        for (i, e) in self.footer.entries.iter_mut().enumerate() {
            e.global_sequence = Some(base + i as u64);
            if let Some(n) = next.get_mut(e.entity as usize) {
                *n = (*n).max(e.entity_sequence + 1);
            }
        }
        self.footer.retired = Some(crate::format::Retired {
            end_global_sequence: base + self.footer.entries.len() as u64,
            next_entity_sequences: next,
        });
    }

    /// Records an event of the range that is not kept (no frame): its
    /// entity's tip and next sequence move past it. Only for a footer made
    /// by [`FooterBuilder::with_retired`].
    pub(crate) fn retire(&mut self, f: &FrameFields<'_>) {
        let i = self.entity_index(f.entity, f.event_hash);
        self.note_range(i, f.global_sequence, f.entity_sequence);
    }

    /// Carries the entity rows of a version-2 source footer (read after its
    /// frames were pushed or retired here): an entity whose source row
    /// reaches further than this footer's takes that row's tip and next
    /// sequence (its last events were retired by an earlier compaction).
    pub(crate) fn carry_retired(
        &mut self,
        entities: &[(String, [u8; 32])],
        retired: &crate::format::Retired,
    ) {
        for ((name, tip), &next) in entities.iter().zip(&retired.next_entity_sequences) {
            let i = match self.entity_ids.get(name.as_str()) {
                Some(&i) => i,
                None => self.entity_index(name, *tip),
            };
            let Some(r) = self.footer.retired.as_mut() else {
                return;
            };
            if let Some(n) = r.next_entity_sequences.get_mut(i as usize) {
                if next >= *n {
                    *n = next;
                    self.footer.entities[i as usize].1 = *tip;
                }
            }
        }
        if let Some(r) = self.footer.retired.as_mut() {
            r.end_global_sequence = r.end_global_sequence.max(retired.end_global_sequence);
        }
    }

    /// The entity's number in the table (added if new); its tip becomes `tip`.
    fn entity_index(&mut self, entity: &str, tip: [u8; 32]) -> u32 {
        match self.entity_ids.get(entity) {
            Some(&i) => {
                self.footer.entities[i as usize].1 = tip;
                i
            }
            None => {
                let i = self.footer.entities.len() as u32;
                self.footer.entities.push((entity.to_owned(), tip));
                self.entity_ids.insert(entity.to_owned(), i);
                if let Some(r) = self.footer.retired.as_mut() {
                    r.next_entity_sequences.push(0);
                }
                i
            }
        }
    }

    /// In a version-2 footer, the range now reaches past `global_sequence`
    /// and entity `i` past `entity_sequence`.
    fn note_range(&mut self, i: u32, global_sequence: u64, entity_sequence: u64) {
        if let Some(r) = self.footer.retired.as_mut() {
            r.end_global_sequence = r.end_global_sequence.max(global_sequence + 1);
            if let Some(n) = r.next_entity_sequences.get_mut(i as usize) {
                *n = (*n).max(entity_sequence + 1);
            }
        }
    }

    fn push_item(&mut self, f: &FooterItem<'_>, frame_len: usize) {
        let entity = self.entity_index(f.entity, f.event_hash);
        self.note_range(entity, f.global_sequence, f.entity_sequence);
        let scope = match self.scope_ids.get(f.scope) {
            Some(&i) => i,
            None => {
                let i = self.footer.scopes.len() as u32;
                self.footer.scopes.push(f.scope.to_owned());
                self.scope_ids.insert(f.scope.to_owned(), i);
                i
            }
        };
        self.footer.entries.push(FooterEntry {
            frame_len: u32::try_from(frame_len).unwrap_or(u32::MAX),
            event_id: f.event_id,
            entity_sequence: f.entity_sequence,
            kind: f.kind,
            entity,
            scope,
            wall_ms: f.wall_ms,
            correlation_id: f.correlation_id,
            causation_id: f.causation_id,
            payload_version: f.payload_version,
            global_sequence: self.footer.retired.as_ref().map(|_| f.global_sequence),
        });
        self.footer.frames_end += frame_len as u64;
        self.footer.last_hlc = f.hlc;
    }

    pub(crate) fn frames_end(&self) -> u64 {
        self.footer.frames_end
    }

    /// No frame recorded (every frame adds to `frames_end`).
    pub(crate) fn is_empty(&self) -> bool {
        self.footer.frames_end == SEGMENT_HEADER_LEN as u64
    }

    /// Whether the footer lists every frame (see [`FooterBuilder::sealed_head`]).
    pub(crate) fn entries_loaded(&self) -> bool {
        self.entries_loaded
    }

    pub(crate) fn footer(&self) -> &Footer {
        &self.footer
    }
}

/// A sealed segment the writer will never write again (what a compaction
/// may rewrite).
pub(crate) struct SealedSegment {
    pub(crate) id: u64,
    pub(crate) file: SegmentFile,
}

/// An open segment file with the format version its header declares,
/// which decides the hash layout of the events read from it.
#[derive(Clone, Debug)]
pub(crate) struct SegmentFile {
    pub(crate) file: Arc<dyn StoreFile>,
    pub(crate) version: u16,
}

impl SegmentFile {
    /// The `hash_version` of every event in this segment.
    pub(crate) fn hash_version(&self) -> u8 {
        crate::format::hash_version_of(self.version)
    }
}

/// The segment the writer appends to.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub(crate) id: u64,
    pub(crate) file: Arc<dyn StoreFile>,
    /// The header's format version. Frames are only ever appended to a
    /// segment of the version this build writes; an older one is sealed and
    /// left behind instead.
    pub(crate) version: u16,
    pub(crate) footer: FooterBuilder,
    /// Physical length of the file: frames, then zeros written ahead so that
    /// later syncs overwrite blocks instead of growing the file.
    pub(crate) allocated: u64,
    /// A write of zeros ahead failed part way: bytes past `allocated` may exist.
    pub(crate) zeros_may_follow: bool,
}

/// Reads a whole segment file into memory.
pub(crate) fn read_whole(file: &dyn StoreFile, path: &Path) -> Result<Vec<u8>, StoreError> {
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat segment", path, e))?;
    let len = usize::try_from(len)
        .map_err(|_| StoreError::corrupt_segment(path, 0, Corruption::TooLarge))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)
        .map_err(|e| StoreError::io("read segment", path, e))?;
    Ok(buf)
}

/// Zeros the writer writes ahead of the frames of its active segment (at
/// most the segment size); no more than this lies past its last frame.
pub(crate) const PREALLOCATE_BYTES: u64 = 1 << 20;

/// Bytes of a segment file read at a time when scanning it front to back.
const WINDOW_BYTES: usize = 4 << 20;

/// A bounded window over a file that is read front to back: memory stays at
/// about the largest frame (or [`WINDOW_BYTES`]) whatever the file's size,
/// and the end of the file is wherever reads stop returning bytes, not a
/// length taken earlier (a live writer may have cut or grown the file).
pub(crate) struct FileWindow<'f> {
    file: &'f dyn StoreFile,
    /// File offset of `buf[0]`.
    start: u64,
    buf: Vec<u8>,
    /// Reads found no byte at or after this offset.
    eof: Option<u64>,
}

impl<'f> FileWindow<'f> {
    /// A window over `file`, empty until read.
    pub(crate) fn new(file: &'f dyn StoreFile) -> Self {
        Self {
            file,
            start: 0,
            buf: Vec::new(),
            eof: None,
        }
    }

    /// Forgets what was read, so the next look reads the file again.
    pub(crate) fn refresh(&mut self) {
        self.buf.clear();
        self.eof = None;
    }

    /// The offset reads last found the file to end at, if one was reached.
    pub(crate) fn end(&self) -> Option<u64> {
        self.eof
    }

    /// The bytes `[pos, pos + len)`, or as many of them as the file holds.
    pub(crate) fn bytes(&mut self, pos: u64, len: usize) -> io::Result<&[u8]> {
        let want_end = pos.saturating_add(len as u64);
        let have_end = self.start.saturating_add(self.buf.len() as u64);
        if pos < self.start || want_end > have_end {
            self.fill(pos, len)?;
        }
        let from = usize::try_from(pos.saturating_sub(self.start)).unwrap_or(usize::MAX);
        let to = from.saturating_add(len).min(self.buf.len());
        Ok(self.buf.get(from.min(to)..to).unwrap_or(&[]))
    }

    /// Reads so that the buffer starts at `pos` and holds `len` bytes (or a
    /// window's worth, if more), or everything up to the end of the file.
    fn fill(&mut self, pos: u64, len: usize) -> io::Result<()> {
        let have_end = self.start.saturating_add(self.buf.len() as u64);
        if pos >= self.start && pos <= have_end {
            let keep = usize::try_from(pos - self.start).unwrap_or(usize::MAX);
            self.buf.drain(..keep.min(self.buf.len()));
        } else {
            self.buf.clear();
        }
        self.start = pos;
        let target = len.max(WINDOW_BYTES);
        let mut chunk = vec![0u8; target.saturating_sub(self.buf.len()).min(WINDOW_BYTES)];
        while self.buf.len() < target {
            let at = self.start.saturating_add(self.buf.len() as u64);
            if self.eof.is_some_and(|end| at >= end) {
                break;
            }
            let room = (target - self.buf.len()).min(chunk.len());
            match self.file.read_at(&mut chunk[..room], at) {
                Ok(0) => {
                    self.eof = Some(at);
                    break;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// True if every byte from `pos` to the end of the file is zero. Reads
    /// the whole rest, a window at a time; callers bound how far that is.
    pub(crate) fn zeros_from(&mut self, mut pos: u64) -> io::Result<bool> {
        loop {
            let chunk = self.bytes(pos, WINDOW_BYTES)?;
            if chunk.is_empty() {
                return Ok(true);
            }
            if chunk.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            pos = pos.saturating_add(chunk.len() as u64);
        }
    }
}
