//! The single writer thread: group commit, hashing, rotation, durability.
//!
//! Callers validate and encode payloads on their own threads and send the
//! result here. The writer takes every request waiting at that moment, writes
//! their frames with one `write` per segment touched, syncs once according to
//! the [`SyncMode`], and only then publishes the events to readers and
//! acknowledges the callers. After any I/O failure it acknowledges nothing
//! more (fail-stop) until the store is reopened.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flume::{Receiver, RecvTimeoutError, Sender};
use foldhash::fast::RandomState;

use crate::chain;
use crate::config::SyncMode;
use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::event::EventHeader;
use crate::format::{self, encode_frame, FrameFields, SegmentHeader};
use crate::fs::OpenMode;
use crate::id::{self, CorrelationId, EventId, HlcPoint};
use crate::index::{IndexEntry, Location};
use crate::kind::EventKind;
use crate::receipt::AppendReceipt;
use crate::recovery::{segment_path, Tail};
use crate::segment::{ActiveSegment, FooterBuilder, FooterItem};
use crate::sign::SigningState;
use crate::store::Shared;

/// One event to append, validated and encoded by the caller.
#[derive(Debug)]
pub(crate) struct PreparedItem {
    pub(crate) coordinate: Coordinate,
    pub(crate) kind: EventKind,
    pub(crate) payload: Vec<u8>,
    pub(crate) payload_version: u16,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation_id: Option<EventId>,
}

/// Work for the writer.
pub(crate) enum Command {
    /// Append these items atomically (one item: a plain append).
    Append {
        items: Vec<PreparedItem>,
        reply: Sender<Result<Vec<AppendReceipt>, StoreError>>,
    },
    /// Make everything written so far durable.
    Sync(Sender<Result<(), StoreError>>),
    /// Sync, seal the active segment and stop.
    Shutdown(Sender<Result<(), StoreError>>),
}

/// A frame written in this group, waiting to be published.
struct Staged {
    entry: IndexEntry,
    hlc: HlcPoint,
    event_hash: [u8; 32],
    correlation_id: Option<CorrelationId>,
    causation_id: Option<EventId>,
}

/// A request whose frames are in the group buffer, waiting for the write and sync.
struct Pending {
    reply: Sender<Result<Vec<AppendReceipt>, StoreError>>,
    receipts: Vec<AppendReceipt>,
    staged: Vec<Staged>,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    rx: Receiver<Command>,
    active: Option<ActiveSegment>,
    /// The active segment still ends in a footer (reopened, not yet appended to).
    sealed_on_disk: bool,
    next_segment_id: u64,
    next_global_sequence: u64,
    hlc: HlcPoint,
    /// Written but not yet synced (for the non-durable sync modes).
    dirty_since: Option<Instant>,
    failed: Option<String>,
    signing: SigningState,
}

impl Writer {
    /// Prepares the writer from what recovery found. Opens the tail segment for writing.
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: Receiver<Command>,
        tail: Option<Tail>,
    ) -> Result<Self, StoreError> {
        let (next_global_sequence, hlc) = {
            let idx = shared.index.read();
            (idx.next_global_sequence(), idx.last_hlc)
        };
        let signing = SigningState {
            signer: shared.cfg.signer.clone(),
            downgrade_allowed: shared.cfg.signing_downgrade_allowed,
        };
        let mut w = Self {
            shared,
            rx,
            active: None,
            sealed_on_disk: false,
            next_segment_id: 1,
            next_global_sequence,
            hlc,
            dirty_since: None,
            failed: None,
            signing,
        };
        if let Some(t) = tail {
            let path = segment_path(&w.shared.cfg.dir, t.id);
            let file = w
                .shared
                .cfg
                .fs
                .open(&path, OpenMode::ReadWrite)
                .map_err(|e| StoreError::io("open segment for writing", &path, e))?;
            w.shared.files.write().insert(t.id, file.clone());
            w.next_segment_id = t.id + 1;
            w.sealed_on_disk = t.sealed;
            w.active = Some(ActiveSegment {
                id: t.id,
                file,
                footer: t.footer,
            });
        }
        Ok(w)
    }

    /// Runs until shutdown or until every sender is gone.
    pub(crate) fn run(mut self) {
        loop {
            let first = match self.next_command() {
                Some(c) => c,
                None => {
                    let _ = self.finish();
                    return;
                }
            };
            let mut group = vec![first];
            while group.len() < self.shared.cfg.max_group {
                match self.rx.try_recv() {
                    Ok(c) => group.push(c),
                    Err(_) => break,
                }
            }
            if self.process(group) {
                return;
            }
        }
    }

    /// Waits for the next command; in `IntervalMs` mode syncs when the interval passes.
    fn next_command(&mut self) -> Option<Command> {
        loop {
            let deadline = match (self.shared.cfg.sync_mode, self.dirty_since) {
                (SyncMode::IntervalMs(ms), Some(t)) => Some(t + Duration::from_millis(u64::from(ms))),
                _ => None,
            };
            let Some(deadline) = deadline else {
                return self.rx.recv().ok();
            };
            match self.rx.recv_deadline(deadline) {
                Ok(c) => return Some(c),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.sync_active();
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Handles one group; returns true when the writer should stop.
    fn process(&mut self, group: Vec<Command>) -> bool {
        let mut buf: Vec<u8> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut overlay: HashMap<Arc<str>, (u64, [u8; 32]), RandomState> = HashMap::default();
        let mut stop = false;
        let mut syncs: Vec<Sender<Result<(), StoreError>>> = Vec::new();
        let mut shutdown: Option<Sender<Result<(), StoreError>>> = None;
        for cmd in group {
            match cmd {
                Command::Append { items, reply } => {
                    if let Some(cause) = &self.failed {
                        let _ = reply.send(Err(StoreError::WriterFailed {
                            cause: cause.clone(),
                        }));
                        continue;
                    }
                    match self.stage(items, &mut buf, &mut overlay) {
                        Ok((receipts, staged)) => pending.push(Pending {
                            reply,
                            receipts,
                            staged,
                        }),
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
                Command::Sync(reply) => syncs.push(reply),
                Command::Shutdown(reply) => {
                    shutdown = Some(reply);
                    stop = true;
                }
            }
        }
        let durable_mode = self.shared.cfg.sync_mode == SyncMode::EveryGroup;
        let mut result = self.flush(&mut buf);
        if result.is_ok() && !pending.is_empty() {
            if durable_mode || !syncs.is_empty() {
                result = self.sync_active();
            } else if self.dirty_since.is_none() {
                self.dirty_since = Some(Instant::now());
            }
        }
        let synced_now = result.is_ok() && (durable_mode || !syncs.is_empty());
        match result {
            Ok(()) => self.publish(pending, synced_now),
            Err(e) => {
                let cause = e.to_string();
                self.fail(cause.clone());
                for p in pending {
                    let _ = p.reply.send(Err(StoreError::WriterFailed {
                        cause: cause.clone(),
                    }));
                }
            }
        }
        for s in syncs {
            let r = self.check_failed().and_then(|()| self.sync_active());
            let _ = s.send(r);
        }
        if let Some(reply) = shutdown {
            let _ = reply.send(self.finish());
        }
        stop
    }

    fn check_failed(&self) -> Result<(), StoreError> {
        match &self.failed {
            Some(cause) => Err(StoreError::WriterFailed {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    fn fail(&mut self, cause: String) {
        tracing::error!(%cause, "writer fail-stopped");
        self.shared.mark_failed(&cause);
        if self.failed.is_none() {
            self.failed = Some(cause);
        }
    }

    /// Assigns sequences and hashes to a request's items and encodes their frames into `buf`.
    fn stage(
        &mut self,
        items: Vec<PreparedItem>,
        buf: &mut Vec<u8>,
        overlay: &mut HashMap<Arc<str>, (u64, [u8; 32]), RandomState>,
    ) -> Result<(Vec<AppendReceipt>, Vec<Staged>), StoreError> {
        // Encode the whole request first so it never straddles a segment boundary.
        let mut frames = Vec::new();
        let mut receipts = Vec::with_capacity(items.len());
        let mut staged = Vec::with_capacity(items.len());
        let mut local: HashMap<Arc<str>, (u64, [u8; 32]), RandomState> = HashMap::default();
        let mut hlc = self.hlc;
        let n = items.len();
        let wall = id::now_ms();
        for (i, item) in items.into_iter().enumerate() {
            let coordinate = self.shared.index.read().interned_coordinate(&item.coordinate);
            let ent = coordinate.entity_arc().clone();
            let (es, prev) = match local.get(&ent).or_else(|| overlay.get(&ent)) {
                Some(&t) => t,
                None => self.shared.index.read().entity_tip(&ent),
            };
            hlc = hlc.tick(wall);
            let header = EventHeader {
                event_id: EventId::new_v7(),
                global_sequence: self.next_global_sequence + i as u64,
                entity_sequence: es,
                kind: item.kind,
                wall_ms: wall,
                hlc,
                correlation_id: item.correlation_id,
                causation_id: item.causation_id,
                payload_version: item.payload_version,
                prev_hash: prev,
                content_hash: chain::content_hash(&item.payload),
                event_hash: [0; 32],
            };
            let event_hash = chain::event_hash(&header, &coordinate);
            let start = frames.len();
            let fields = FrameFields {
                event_id: header.event_id,
                global_sequence: header.global_sequence,
                entity_sequence: es,
                kind: item.kind,
                entity: coordinate.entity(),
                scope: coordinate.scope(),
                wall_ms: wall,
                hlc,
                correlation_id: item.correlation_id,
                causation_id: item.causation_id,
                payload_version: item.payload_version,
                batch_remaining: u32::try_from(n - 1 - i).unwrap_or(u32::MAX),
                prev_hash: prev,
                event_hash,
                payload: &item.payload,
            };
            encode_frame(&mut frames, &fields);
            let len = frames.len() - start;
            local.insert(ent, (es + 1, event_hash));
            let mut receipt = AppendReceipt {
                event_id: header.event_id,
                global_sequence: header.global_sequence,
                entity_sequence: es,
                content_hash: header.content_hash,
                event_hash,
                prev_hash: prev,
                hlc,
                durable: false,
                key_id: None,
                signature: None,
            };
            self.signing
                .sign(&mut receipt)
                .map_err(|reason| StoreError::SigningFailed { reason })?;
            receipts.push(receipt);
            staged.push(Staged {
                entry: IndexEntry {
                    event_id: header.event_id,
                    global_sequence: header.global_sequence,
                    entity_sequence: es,
                    kind: item.kind,
                    coordinate,
                    wall_ms: wall,
                    payload_version: item.payload_version,
                    location: Location {
                        segment: 0,
                        offset: start as u64,
                        len: u32::try_from(len).unwrap_or(u32::MAX),
                    },
                },
                hlc,
                event_hash,
                correlation_id: item.correlation_id,
                causation_id: item.causation_id,
            });
        }
        // Place the request: rotate first if it would overflow a non-empty segment.
        self.make_room(buf, frames.len() as u64)?;
        let active = self.active.as_mut().ok_or(StoreError::WriterCrashed)?;
        let base = active.footer.frames_end() + buf.len() as u64;
        for s in &mut staged {
            s.entry.location.segment = active.id;
            let e = &s.entry;
            active.footer.push_item(
                &FooterItem {
                    entity: e.coordinate.entity(),
                    scope: e.coordinate.scope(),
                    event_id: e.event_id,
                    entity_sequence: e.entity_sequence,
                    kind: e.kind,
                    wall_ms: e.wall_ms,
                    hlc: s.hlc,
                    correlation_id: s.correlation_id,
                    causation_id: s.causation_id,
                    payload_version: e.payload_version,
                    event_hash: s.event_hash,
                },
                e.location.len as usize,
            );
            s.entry.location.offset += base;
        }
        buf.extend_from_slice(&frames);
        self.next_global_sequence += n as u64;
        self.hlc = hlc;
        for (k, v) in local {
            overlay.insert(k, v);
        }
        Ok((receipts, staged))
    }

    /// Ensures an active segment with room for `need` more bytes (a full,
    /// non-empty segment is flushed, sealed and replaced first).
    fn make_room(&mut self, buf: &mut Vec<u8>, need: u64) -> Result<(), StoreError> {
        let max = self.shared.cfg.segment_max_bytes;
        let full = match &self.active {
            None => None,
            Some(a) => {
                let used = a.footer.frames_end() + buf.len() as u64;
                let non_empty = !a.footer.is_empty() || !buf.is_empty();
                Some(non_empty && used + need > max)
            }
        };
        match full {
            Some(false) => self.unseal(),
            Some(true) => {
                self.flush(buf)?;
                self.seal()?;
                self.create_segment()
            }
            None => self.create_segment(),
        }
    }

    /// Cuts the footer of a reopened sealed segment so frames can follow.
    fn unseal(&mut self) -> Result<(), StoreError> {
        if !self.sealed_on_disk {
            return Ok(());
        }
        let a = self.active.as_ref().ok_or(StoreError::WriterCrashed)?;
        let path = segment_path(&self.shared.cfg.dir, a.id);
        a.file
            .set_len(a.footer.frames_end())
            .and_then(|()| a.file.sync_all())
            .map_err(|e| self.io_failure("unseal segment", &path, e))?;
        self.sealed_on_disk = false;
        Ok(())
    }

    /// Writes the buffered frames at the end of the active segment.
    fn flush(&mut self, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        if buf.is_empty() {
            return Ok(());
        }
        let a = self.active.as_ref().ok_or(StoreError::WriterCrashed)?;
        // The footer builder already counts these frames; they start before its end.
        let offset = a.footer.frames_end() - buf.len() as u64;
        let path = segment_path(&self.shared.cfg.dir, a.id);
        a.file
            .write_all_at(buf, offset)
            .map_err(|e| self.io_failure("write frames", &path, e))?;
        buf.clear();
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), StoreError> {
        self.check_failed()?;
        if let Some(a) = &self.active {
            let path = segment_path(&self.shared.cfg.dir, a.id);
            a.file
                .sync_data()
                .map_err(|e| self.io_failure("fsync segment", &path, e))?;
            self.shared.mark_durable(self.next_global_sequence);
        }
        self.dirty_since = None;
        Ok(())
    }

    fn io_failure(&self, op: &'static str, path: &std::path::Path, e: std::io::Error) -> StoreError {
        StoreError::io(op, path, e)
    }

    /// Writes the footer of the active segment and makes it durable.
    fn seal(&mut self) -> Result<(), StoreError> {
        if self.sealed_on_disk {
            return Ok(());
        }
        let Some(a) = &self.active else {
            return Ok(());
        };
        let path = segment_path(&self.shared.cfg.dir, a.id);
        let bytes = format::encode_footer(a.footer.footer());
        a.file
            .write_all_at(&bytes, a.footer.frames_end())
            .and_then(|()| a.file.sync_data())
            .map_err(|e| self.io_failure("seal segment", &path, e))?;
        self.sealed_on_disk = true;
        self.shared.mark_durable(self.next_global_sequence);
        Ok(())
    }

    /// Creates the next segment file and makes its existence durable.
    fn create_segment(&mut self) -> Result<(), StoreError> {
        let id = self.next_segment_id;
        let path = segment_path(&self.shared.cfg.dir, id);
        let fs = &self.shared.cfg.fs;
        let header = format::encode_segment_header(SegmentHeader {
            segment_id: id,
            created_ms: id::now_ms(),
        });
        let file = fs
            .open(&path, OpenMode::CreateNew)
            .and_then(|f| {
                f.write_all_at(&header, 0)?;
                f.sync_data()?;
                Ok(f)
            })
            .and_then(|f| fs.sync_dir(&self.shared.cfg.dir).map(|()| f))
            .map_err(|e| self.io_failure("create segment", &path, e))?;
        self.shared.files.write().insert(id, file.clone());
        self.active = Some(ActiveSegment {
            id,
            file,
            footer: FooterBuilder::new(self.next_global_sequence),
        });
        self.sealed_on_disk = false;
        self.next_segment_id = id + 1;
        Ok(())
    }

    /// Makes staged events visible and acknowledges their callers.
    fn publish(&mut self, pending: Vec<Pending>, durable: bool) {
        if pending.is_empty() {
            return;
        }
        {
            let mut idx = self.shared.index.write();
            for p in &pending {
                for s in &p.staged {
                    idx.push(
                        s.entry.clone(),
                        Some(s.event_hash),
                        s.correlation_id,
                        s.causation_id,
                    );
                }
            }
            idx.last_hlc = self.hlc;
        }
        self.shared.mark_written(self.next_global_sequence);
        for p in pending {
            let mut receipts = p.receipts;
            for r in &mut receipts {
                r.durable = durable;
            }
            let _ = p.reply.send(Ok(receipts));
        }
    }

    /// Final sync and seal; used at shutdown.
    fn finish(&mut self) -> Result<(), StoreError> {
        self.check_failed()?;
        self.sync_active()?;
        let has_frames = self.active.as_ref().is_some_and(|a| !a.footer.is_empty());
        if has_frames {
            self.seal()?;
        }
        Ok(())
    }
}
