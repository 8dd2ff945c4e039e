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

use crate::attestation::GateAttestation;
use crate::chain;
use crate::config::SyncMode;
use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::event::EventHeader;
use crate::format::KeyRecord;
use crate::format::{self, encode_frame, FrameFields, SegmentHeader};
use crate::format::{IDEMPOTENCY_FILE, SYNC_FAILURE_FILE};
use crate::fs::OpenMode;
use crate::id::{self, CorrelationId, EventId, HlcPoint, IdempotencyKey};
use crate::idempotency::KeyIndex;
use crate::index::{IndexEntry, Location};
use crate::kind::EventKind;
use crate::options::{CausationRef, ExpectedSequence};
use crate::receipt::AppendReceipt;
use crate::recovery::{segment_path, Tail};
use crate::segment::{ActiveSegment, FooterBuilder, FooterItem};
use crate::sign::SigningState;
use crate::store::{read_entry, Shared};

/// How long a waiting thread polls before it parks. Waking a parked thread
/// costs tens of microseconds on a virtual machine, more than an append.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// Polls `rx` for up to `budget` before the caller blocks on it, yielding the
/// processor between polls so that, when cores are oversubscribed, the thread
/// being waited for gets to run.
pub(crate) fn spin_recv<T>(rx: &Receiver<T>, budget: Duration) -> Option<T> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(flume::TryRecvError::Disconnected) => return None,
            Err(flume::TryRecvError::Empty) => {}
        }
        if start.elapsed() >= budget {
            return None;
        }
        std::thread::yield_now();
    }
}

/// Longest a durable group waits for more requests before it commits.
const GATHER_MAX: Duration = Duration::from_micros(100);

/// Zeros written ahead of the frames of the active segment (at most the segment size).
const PREALLOCATE_BYTES: u64 = 1 << 20;

/// One event to append, validated and encoded by the caller.
#[derive(Debug)]
pub(crate) struct PreparedItem {
    pub(crate) coordinate: Coordinate,
    pub(crate) kind: EventKind,
    pub(crate) payload: Vec<u8>,
    pub(crate) payload_version: u16,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation: CausationRef,
    pub(crate) expected: ExpectedSequence,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
    /// Set only by a gated commit ([`crate::Pipeline::commit`]).
    pub(crate) attestation: Option<GateAttestation>,
}

/// The outcome of staging one request.
enum Staging {
    /// New frames, to be written.
    Staged(Vec<AppendReceipt>, Vec<Staged>),
    /// A retry of earlier appends: their receipts.
    Deduped(Vec<AppendReceipt>),
}

fn check_expected(
    entity: &str,
    expected: ExpectedSequence,
    next_es: u64,
) -> Result<(), StoreError> {
    let actual = next_es.checked_sub(1);
    let ok = match expected {
        ExpectedSequence::Any => true,
        ExpectedSequence::NoStream => actual.is_none(),
        ExpectedSequence::Exact(n) => actual == Some(n),
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::SequenceMismatch {
            entity: entity.to_owned(),
            expected,
            actual,
        })
    }
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
    idempotency_key: Option<IdempotencyKey>,
    content_hash: [u8; 32],
}

/// A request whose frames are in the group buffer, waiting for the write and sync.
struct Pending {
    reply: Sender<Result<Vec<AppendReceipt>, StoreError>>,
    receipts: Vec<AppendReceipt>,
    staged: Vec<Staged>,
    /// A retry answered with earlier receipts.
    deduped: bool,
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
    keys: KeyIndex,
    ids: id::IdGenerator,
    /// For the last two groups, the requests answered plus those that
    /// queued while the group synced: how many callers are appending now.
    recent_callers: [usize; 2],
    /// What the last successful fsync made durable: a segment and its length.
    synced: format::DurablePoint,
}

impl Writer {
    /// Prepares the writer from what recovery found. Opens the tail segment for writing.
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: Receiver<Command>,
        tail: Option<Tail>,
        keys: Vec<KeyRecord>,
    ) -> Result<Self, StoreError> {
        let (next_global_sequence, hlc) = {
            let idx = shared.index.read();
            (idx.next_global_sequence(), idx.last_hlc)
        };
        let signing = SigningState {
            signer: shared.cfg.signer.clone(),
            downgrade_allowed: shared.cfg.signing_downgrade_allowed,
        };
        let key_index = KeyIndex::new(
            shared.cfg.idempotency_window,
            shared.cfg.idempotency_capacity,
        );
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
            keys: key_index,
            ids: id::IdGenerator::new(),
            recent_callers: [1, 1],
            synced: format::DurablePoint {
                segment: 0,
                durable_len: 0,
            },
        };
        for rec in keys {
            w.keys.insert(rec, next_global_sequence);
        }
        if let Some(t) = tail {
            let path = segment_path(&w.shared.cfg.dir, t.id);
            let file = w
                .shared
                .cfg
                .fs
                .open(&path, OpenMode::ReadWrite)
                .map_err(|e| StoreError::io("open segment for writing", &path, e))?;
            // Recovery may have read the tail from the OS cache only (a writer
            // that failed before its fsync, a directory fsync that failed after
            // the segment was created). Make the tail and its directory entry
            // durable before building on it and calling what it holds durable.
            file.sync_all()
                .and_then(|()| w.shared.cfg.fs.sync_dir(&w.shared.cfg.dir))
                .map_err(|e| StoreError::io("sync recovered tail", &path, e))?;
            w.shared.files.write().insert(t.id, file.clone());
            w.next_segment_id = t.id + 1;
            w.sealed_on_disk = t.sealed;
            let allocated = file
                .len()
                .map_err(|e| StoreError::io("stat segment", &path, e))?;
            w.synced = format::DurablePoint {
                segment: t.id,
                durable_len: if t.sealed {
                    allocated
                } else {
                    t.footer.frames_end()
                },
            };
            w.active = Some(ActiveSegment {
                id: t.id,
                file,
                footer: t.footer,
                allocated,
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
            self.gather(&mut group);
            if self.process(group) {
                return;
            }
        }
    }

    /// Before a durable group commits, waits briefly for the callers the
    /// last groups saw (answered, or queued while they synced): callers
    /// acknowledged by the previous sync are about to send their next
    /// request, and one sync can then cover them all instead of every other
    /// one. One caller never waits; the wait is at most half the last sync
    /// and [`GATHER_MAX`], so a caller that went quiet costs its group little.
    fn gather(&self, group: &mut Vec<Command>) {
        if self.shared.cfg.sync_mode != SyncMode::EveryGroup {
            return;
        }
        let want = self.recent_callers[0]
            .max(self.recent_callers[1])
            .min(self.shared.cfg.max_group);
        if group.len() >= want {
            return;
        }
        let deadline = Instant::now() + (self.shared.last_sync_time() / 2).min(GATHER_MAX);
        while group.len() < want {
            match self.rx.try_recv() {
                Ok(c) => {
                    group.push(c);
                    continue;
                }
                Err(flume::TryRecvError::Disconnected) => return,
                Err(flume::TryRecvError::Empty) => {}
            }
            if Instant::now() >= deadline {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// Waits for the next command; in `IntervalMs` mode syncs when the interval passes.
    fn next_command(&mut self) -> Option<Command> {
        if let Some(c) = spin_recv(&self.rx, SPIN) {
            return Some(c);
        }
        loop {
            let deadline = match (self.shared.cfg.sync_mode, self.dirty_since) {
                (SyncMode::IntervalMs(ms), Some(t)) => {
                    Some(t + Duration::from_millis(u64::from(ms)))
                }
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
        let group_len = group.len();
        let mut buf: Vec<u8> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut overlay: HashMap<Arc<str>, (u64, [u8; 32]), RandomState> = HashMap::default();
        let mut stop = false;
        let mut syncs: Vec<Sender<Result<(), StoreError>>> = Vec::new();
        let mut shutdown: Option<Sender<Result<(), StoreError>>> = None;
        let mut group_keys: HashMap<IdempotencyKey, AppendReceipt, RandomState> =
            HashMap::default();
        for cmd in group {
            match cmd {
                Command::Append { items, reply } => {
                    if let Some(cause) = &self.failed {
                        let _ = reply.send(Err(StoreError::WriterFailed {
                            cause: cause.clone(),
                        }));
                        continue;
                    }
                    match self.stage(items, &mut buf, &mut overlay, &group_keys) {
                        Ok(Staging::Staged(receipts, staged)) => {
                            for (r, s) in receipts.iter().zip(&staged) {
                                if let Some(k) = s.idempotency_key {
                                    group_keys.insert(k, r.clone());
                                }
                            }
                            pending.push(Pending {
                                reply,
                                receipts,
                                staged,
                                deduped: false,
                            });
                        }
                        Ok(Staging::Deduped(receipts)) => pending.push(Pending {
                            reply,
                            receipts,
                            staged: Vec::new(),
                            deduped: true,
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
        // Callers answered now plus callers that queued during the sync: how
        // many are appending (see `gather`).
        self.recent_callers = [self.recent_callers[1], group_len + self.rx.len()];
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

    /// Validates a request against the current state, then assigns sequences
    /// and hashes and encodes its frames into `buf`. Nothing is changed when
    /// it returns an error.
    fn stage(
        &mut self,
        items: Vec<PreparedItem>,
        buf: &mut Vec<u8>,
        overlay: &mut HashMap<Arc<str>, (u64, [u8; 32]), RandomState>,
        group_keys: &HashMap<IdempotencyKey, AppendReceipt, RandomState>,
    ) -> Result<Staging, StoreError> {
        if let Some(receipts) = self.dedupe(&items, group_keys)? {
            return Ok(Staging::Deduped(receipts));
        }
        let mut frames = Vec::new();
        let mut receipts: Vec<AppendReceipt> = Vec::with_capacity(items.len());
        let mut staged = Vec::with_capacity(items.len());
        let mut local: HashMap<Arc<str>, (u64, [u8; 32]), RandomState> = HashMap::default();
        let mut hlc = self.hlc;
        let n = items.len();
        let wall = id::now_ms();
        for (i, item) in items.into_iter().enumerate() {
            // One index lookup per item: the shared names and, unless this group
            // already touched the entity, its chain tip.
            let (coordinate, tip) = {
                let index = self.shared.index.read();
                let c = index.interned_coordinate(&item.coordinate);
                let staged = local.get(c.entity()).or_else(|| overlay.get(c.entity()));
                let tip = staged
                    .copied()
                    .unwrap_or_else(|| index.entity_tip(c.entity()));
                (c, tip)
            };
            let ent = coordinate.entity_arc().clone();
            let (es, prev) = tip;
            check_expected(&ent, item.expected, es)?;
            let causation_id = self.resolve_causation(&item, i, &receipts)?;
            hlc = hlc.tick(wall);
            let header = EventHeader {
                event_id: self.ids.next_id(hlc.physical_ms),
                global_sequence: self.next_global_sequence + i as u64,
                entity_sequence: es,
                kind: item.kind,
                wall_ms: wall,
                hlc,
                correlation_id: item.correlation_id,
                causation_id,
                idempotency_key: item.idempotency_key,
                payload_version: item.payload_version,
                attestation: item.attestation.clone(),
                prev_hash: prev,
                content_hash: chain::content_hash(&item.payload),
                event_hash: [0; 32],
            };
            let event_hash = chain::event_hash(&header, &coordinate);
            let start = frames.len();
            encode_frame(
                &mut frames,
                &FrameFields {
                    event_id: header.event_id,
                    global_sequence: header.global_sequence,
                    entity_sequence: es,
                    kind: item.kind,
                    entity: coordinate.entity(),
                    scope: coordinate.scope(),
                    wall_ms: wall,
                    hlc,
                    correlation_id: item.correlation_id,
                    causation_id,
                    idempotency_key: item.idempotency_key,
                    payload_version: item.payload_version,
                    batch_remaining: u32::try_from(n - 1 - i).unwrap_or(u32::MAX),
                    prev_hash: prev,
                    event_hash,
                    payload: &item.payload,
                    attestation: header.attestation,
                },
            );
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
                causation_id,
                idempotency_key: item.idempotency_key,
                content_hash: header.content_hash,
            });
        }
        // Place the request: rotate first if it would overflow a non-empty segment,
        // so a batch never straddles two segments.
        self.make_room(buf, frames.len() as u64)?;
        let active = self.active.as_mut().ok_or(StoreError::WriterCrashed)?;
        // The footer already counts the frames buffered earlier in this group.
        let base = active.footer.frames_end();
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
        self.shared.mark_accepted(self.next_global_sequence, hlc);
        for (k, v) in local {
            overlay.insert(k, v);
        }
        Ok(Staging::Staged(receipts, staged))
    }

    /// Finds earlier appends with the same idempotency keys. `Ok(Some)` holds
    /// the original receipts of a full retry.
    fn dedupe(
        &self,
        items: &[PreparedItem],
        group_keys: &HashMap<IdempotencyKey, AppendReceipt, RandomState>,
    ) -> Result<Option<Vec<AppendReceipt>>, StoreError> {
        let mut found = Vec::new();
        for item in items {
            let Some(key) = item.idempotency_key else {
                found.push(None);
                continue;
            };
            let content = chain::content_hash(&item.payload);
            if let Some(r) = group_keys.get(&key) {
                if r.content_hash != content {
                    return Err(StoreError::IdempotencyConflict {
                        key,
                        reason: "payload differs",
                    });
                }
                found.push(Some(r.clone()));
                continue;
            }
            match self.keys.get(&key) {
                None => found.push(None),
                Some(rec) => {
                    if rec.content_hash != content {
                        return Err(StoreError::IdempotencyConflict {
                            key,
                            reason: "payload differs",
                        });
                    }
                    found.push(Some(self.original_receipt(rec, item)?));
                }
            }
        }
        let hits = found.iter().filter(|f| f.is_some()).count();
        if hits == 0 {
            Ok(None)
        } else if hits < found.len() {
            Err(StoreError::IdempotencyPartialBatch)
        } else {
            Ok(Some(found.into_iter().flatten().collect()))
        }
    }

    /// Rebuilds (and re-signs) the receipt of a committed event from its frame.
    fn original_receipt(
        &self,
        rec: &KeyRecord,
        item: &PreparedItem,
    ) -> Result<AppendReceipt, StoreError> {
        let entry =
            self.shared
                .index
                .read()
                .get(rec.event_id)
                .cloned()
                .ok_or(StoreError::NotFound {
                    event_id: rec.event_id,
                })?;
        if entry.coordinate != item.coordinate || entry.kind != item.kind {
            return Err(StoreError::IdempotencyConflict {
                key: rec.key,
                reason: "coordinate or kind differs",
            });
        }
        let raw = read_entry(&self.shared, &entry)?;
        let h = raw.event.header;
        let mut r = AppendReceipt {
            event_id: h.event_id,
            global_sequence: h.global_sequence,
            entity_sequence: h.entity_sequence,
            content_hash: h.content_hash,
            event_hash: h.event_hash,
            prev_hash: h.prev_hash,
            hlc: h.hlc,
            durable: self.shared.is_durable(h.global_sequence),
            key_id: None,
            signature: None,
        };
        self.signing
            .sign(&mut r)
            .map_err(|reason| StoreError::SigningFailed { reason })?;
        Ok(r)
    }

    fn resolve_causation(
        &self,
        item: &PreparedItem,
        index: usize,
        earlier: &[AppendReceipt],
    ) -> Result<Option<EventId>, StoreError> {
        match item.causation {
            CausationRef::None => Ok(None),
            CausationRef::Event(id) => {
                if self.shared.index.read().get(id).is_some() {
                    Ok(Some(id))
                } else {
                    Err(StoreError::InvalidCausation {
                        reason: format!("event {id} is not committed"),
                    })
                }
            }
            CausationRef::PriorItem(p) if p < index => Ok(earlier.get(p).map(|r| r.event_id)),
            CausationRef::PriorItem(p) => Err(StoreError::InvalidCausation {
                reason: format!(
                    "item {index} refers to item {p}, which is not earlier in the batch"
                ),
            }),
        }
    }

    /// Ensures an active segment with room for `need` more bytes (a full,
    /// non-empty segment is flushed, sealed and replaced first).
    fn make_room(&mut self, buf: &mut Vec<u8>, need: u64) -> Result<(), StoreError> {
        let max = self.shared.cfg.segment_max_bytes;
        let full = match &self.active {
            None => None,
            Some(a) => {
                // frames_end already counts the buffered frames.
                let used = a.footer.frames_end();
                let non_empty = !a.footer.is_empty() || !buf.is_empty();
                Some(non_empty && used + need > max)
            }
        };
        if full == Some(false) {
            // Reading changes nothing on disk: a failure here is this
            // request's error, not a reason to stop the writer.
            self.load_footer_entries()?;
        }
        let result = match full {
            Some(false) => self.unseal(),
            Some(true) => self
                .flush(buf)
                .and_then(|()| self.seal())
                .and_then(|()| self.create_segment()),
            None => self.create_segment(),
        };
        // A failed unseal, seal or segment creation leaves the disk state
        // unknown, like any other write-path failure: stop.
        if let Err(e) = &result {
            self.fail(e.to_string());
        }
        result
    }

    /// Open read only the head of a sealed tail's footer; before frames
    /// follow, the entries are read too (the footer is still on disk), so the
    /// footer written at the next seal lists every frame.
    fn load_footer_entries(&mut self) -> Result<(), StoreError> {
        let Some(a) = self.active.as_mut().filter(|a| !a.footer.entries_loaded()) else {
            return Ok(());
        };
        let path = segment_path(&self.shared.cfg.dir, a.id);
        let footer = crate::recovery::read_sealed_footer(&path, a.file.as_ref())?;
        if footer.frames_end != a.footer.frames_end() {
            return Err(StoreError::CorruptSegment {
                segment: path,
                offset: footer.frames_end,
                reason: "footer changed since the store was opened".into(),
            });
        }
        a.footer = FooterBuilder::from_footer(footer);
        Ok(())
    }

    /// Cuts the footer of a reopened sealed segment so frames can follow.
    fn unseal(&mut self) -> Result<(), StoreError> {
        if !self.sealed_on_disk {
            return Ok(());
        }
        let a = self.active.as_mut().ok_or(StoreError::WriterCrashed)?;
        let path = segment_path(&self.shared.cfg.dir, a.id);
        let end = a.footer.frames_end();
        a.file
            .set_len(end)
            .map_err(|e| StoreError::io("unseal segment", &path, e))?;
        if let Err(e) = a.file.sync_all() {
            self.record_sync_failure();
            return Err(StoreError::io("unseal segment", &path, e));
        }
        a.allocated = end;
        self.synced = format::DurablePoint {
            segment: a.id,
            durable_len: end,
        };
        self.sealed_on_disk = false;
        Ok(())
    }

    /// Writes the buffered frames at the end of the active segment.
    fn flush(&mut self, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        if buf.is_empty() {
            return Ok(());
        }
        let chunk = self.shared.cfg.segment_max_bytes.min(PREALLOCATE_BYTES);
        let a = self.active.as_mut().ok_or(StoreError::WriterCrashed)?;
        // The footer builder already counts these frames; they start before its end.
        let end = a.footer.frames_end();
        let offset = end - buf.len() as u64;
        let mut result = a.file.write_all_at(buf, offset);
        if result.is_ok() && end > a.allocated {
            // Write zeros ahead, so the next syncs only overwrite allocated blocks
            // (a sync that also grows the file costs a metadata journal write).
            let zeros = vec![0u8; usize::try_from(chunk).unwrap_or(0)];
            result = a.file.write_all_at(&zeros, end);
            if result.is_ok() {
                a.allocated = end + chunk;
            }
        }
        if let Err(e) = result {
            return Err(StoreError::io(
                "write frames",
                segment_path(&self.shared.cfg.dir, a.id),
                e,
            ));
        }
        buf.clear();
        // Every staged frame before `next_global_sequence` is now in the OS.
        self.shared
            .mark_written(self.next_global_sequence, self.hlc);
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), StoreError> {
        self.check_failed()?;
        if let Some(a) = &self.active {
            let path = segment_path(&self.shared.cfg.dir, a.id);
            let started = Instant::now();
            let synced = a.file.sync_data();
            self.shared.note_sync_time(started.elapsed());
            if let Err(e) = synced {
                // Never retry an fsync: after a failure the kernel may have
                // dropped the dirty pages, and a later "successful" fsync
                // would vouch for data that is gone. Stop instead.
                let err = StoreError::io("fsync segment", &path, e);
                self.fail(err.to_string());
                self.record_sync_failure();
                return Err(err);
            }
            self.synced = format::DurablePoint {
                segment: a.id,
                durable_len: a.footer.frames_end(),
            };
            self.shared
                .mark_durable(self.next_global_sequence, self.hlc);
        }
        self.dirty_since = None;
        Ok(())
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
        if !a.footer.entries_loaded() {
            // Only a segment still sealed on disk lacks its entries, and that
            // returned above; never write a footer that would lose frames.
            return Err(StoreError::CorruptSegment {
                segment: path,
                offset: a.footer.frames_end(),
                reason: "footer entries were never loaded".into(),
            });
        }
        let bytes = format::encode_footer(a.footer.footer());
        let end = format::sealed_len(a.footer.frames_end(), bytes.len()).ok_or_else(|| {
            StoreError::CorruptSegment {
                segment: path.clone(),
                offset: a.footer.frames_end(),
                reason: "sealed segment length overflows".into(),
            }
        })?;
        // The trailer must end the file: cut the zeros written ahead.
        let cut = a.allocated > end;
        let id = a.id;
        a.file
            .write_all_at(&bytes, a.footer.frames_end())
            .and_then(|()| if cut { a.file.set_len(end) } else { Ok(()) })
            .map_err(|e| StoreError::io("seal segment", &path, e))?;
        if let Err(e) = a.file.sync_data() {
            self.record_sync_failure();
            return Err(StoreError::io("seal segment", &path, e));
        }
        if let Some(a) = self.active.as_mut() {
            a.allocated = end;
        }
        self.synced = format::DurablePoint {
            segment: id,
            durable_len: end,
        };
        self.sealed_on_disk = true;
        self.shared
            .mark_durable(self.next_global_sequence, self.hlc);
        self.write_sidecar();
        Ok(())
    }

    /// After a failed fsync the pages it could not write may stay in the OS
    /// cache, marked clean: a store reopened without a crash would read
    /// those frames as if they were on disk and build on them. Records what
    /// the last successful fsync covered; the next writer open cuts the
    /// segments back to it (see `recovery::apply_sync_failure`). Called only
    /// when an fsync itself failed: a failed write or truncation loses no
    /// cached page.
    ///
    /// What matters is that the next open in this boot sees the record, so
    /// it is renamed into place whether or not its own fsyncs succeed (they
    /// may fail like the one that brought us here). After a crash the record
    /// is not needed: no unsynced page survives one.
    fn record_sync_failure(&self) {
        let path = self.shared.cfg.dir.join(SYNC_FAILURE_FILE);
        let bytes = format::encode_sync_failure(self.synced);
        if let Err(e) = crate::fs::write_visible(self.shared.cfg.fs.as_ref(), &path, &bytes) {
            tracing::error!(error = %e, path = %path.display(), "could not record the durable length after a failed fsync: until the machine restarts, a reopened store may build on bytes the disk does not have");
        }
    }

    /// Snapshots the idempotency keys of published events. A failure only costs
    /// a rebuild from the log at the next open, so it is logged, not fatal.
    fn write_sidecar(&self) {
        let through = self.shared.index.read().next_global_sequence();
        let records: Vec<KeyRecord> = self
            .keys
            .records()
            .into_iter()
            .filter(|r| r.global_sequence < through)
            .collect();
        let bytes = format::encode_idempotency(through, &records);
        let path = self.shared.cfg.dir.join(IDEMPOTENCY_FILE);
        if let Err(e) = crate::fs::write_atomic(self.shared.cfg.fs.as_ref(), &path, &bytes) {
            tracing::warn!(error = %e, path = %path.display(), "could not write idempotency sidecar; it will be rebuilt from the log");
        }
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
            .and_then(|f| f.write_all_at(&header, 0).map(|()| f))
            .map_err(|e| StoreError::io("create segment", &path, e))?;
        if let Err(e) = file
            .sync_data()
            .and_then(|()| fs.sync_dir(&self.shared.cfg.dir))
        {
            self.record_sync_failure();
            return Err(StoreError::io("create segment", &path, e));
        }
        self.synced = format::DurablePoint {
            segment: id,
            durable_len: format::SEGMENT_HEADER_LEN as u64,
        };
        self.shared.files.write().insert(id, file.clone());
        self.active = Some(ActiveSegment {
            id,
            file,
            footer: FooterBuilder::new(self.next_global_sequence),
            allocated: format::SEGMENT_HEADER_LEN as u64,
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
            // Under the index lock: a reader that saw these entries then finds
            // them covered by `visible`, and one that sees `visible` finds them.
            self.shared
                .mark_visible(self.next_global_sequence, self.hlc);
        }
        // Offered before the callers are answered: once a receipt is out, every
        // subscriber has either queued its notification or counted it missed.
        self.shared.subscribers.publish(
            pending
                .iter()
                .flat_map(|p| p.staged.iter().map(|s| &s.entry)),
        );
        for p in &pending {
            for s in &p.staged {
                if let Some(key) = s.idempotency_key {
                    let rec = KeyRecord {
                        key,
                        event_id: s.entry.event_id,
                        global_sequence: s.entry.global_sequence,
                        content_hash: s.content_hash,
                    };
                    self.keys.insert(rec, self.next_global_sequence);
                }
            }
        }
        for p in pending {
            let mut receipts = p.receipts;
            for r in &mut receipts {
                // A retry of an older append keeps its own durability unless this group synced.
                r.durable = durable || (p.deduped && r.durable);
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
        } else if self.keys.len() > 0 {
            self.write_sidecar();
        }
        Ok(())
    }
}
