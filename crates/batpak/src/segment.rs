//! Segment bookkeeping shared by recovery and the writer.

use std::collections::HashMap;
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

    fn push_item(&mut self, f: &FooterItem<'_>, frame_len: usize) {
        let entity = match self.entity_ids.get(f.entity) {
            Some(&i) => {
                self.footer.entities[i as usize].1 = f.event_hash;
                i
            }
            None => {
                let i = self.footer.entities.len() as u32;
                self.footer
                    .entities
                    .push((f.entity.to_owned(), f.event_hash));
                self.entity_ids.insert(f.entity.to_owned(), i);
                i
            }
        };
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

/// The segment the writer appends to.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub(crate) id: u64,
    pub(crate) file: Arc<dyn StoreFile>,
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
