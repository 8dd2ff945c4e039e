//! `Store` (the exclusive writer), `ReadOnlyStore`, and the read methods they share.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::{ChainVerification, StoreConfig};
use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::event::{Event, EventHeader, StoredEvent};
use crate::format::decode_frame;
use crate::fs::{FsLock, StoreFile};
use crate::id::{CorrelationId, EventId, HlcPoint};
use crate::index::{Index, IndexEntry};
use crate::kind::EventKind;
use crate::options::{AppendOptions, AppendTicket, BatchAppendItem};
use crate::receipt::AppendReceipt;
use crate::recovery::{self, segment_path, Access, OpenReport};
use crate::region::Region;
use crate::watermark::Mark;
use crate::writer::{Command, PreparedItem, Writer};

/// State shared by readers and the writer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: StoreConfig,
    pub(crate) index: RwLock<Index>,
    pub(crate) files: RwLock<BTreeMap<u64, Arc<dyn StoreFile>>>,
    report: Mutex<OpenReport>,
    /// Accepted, written, durable and visible watermarks, with their waiters.
    pub(crate) marks: crate::watermark::Watermarks,
    /// Lossy subscriptions the writer offers new events to.
    pub(crate) subscribers: crate::subscription::Subscribers,
    /// Cached projection states.
    pub(crate) projections: crate::projection::ProjectionStates,
    /// False for a read-only open, which must change no file.
    pub(crate) writable: bool,
    /// Recently read segment blocks.
    pub(crate) cache: Option<crate::cache::BlockCache>,
    /// How long the writer's last fsync took, in microseconds.
    sync_micros: AtomicU64,
}

impl Shared {
    /// Longest a caller's own wait for a sync is worth polling for.
    const MAX_REPLY_SPIN: Duration = Duration::from_millis(1);

    /// Records how long the writer's last fsync took.
    pub(crate) fn note_sync_time(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sync_micros.store(micros, Ordering::Relaxed);
    }

    /// How long the writer's last fsync took.
    pub(crate) fn last_sync_time(&self) -> Duration {
        Duration::from_micros(self.sync_micros.load(Ordering::Relaxed))
    }

    /// How long a caller polls for its reply before parking: the writer's
    /// usual poll plus one sync, when syncs are short. Parking and being woken
    /// costs tens of microseconds on a virtual machine, a large share of a
    /// durable append; polling (and yielding) through a short sync avoids it.
    pub(crate) fn reply_spin(&self) -> Duration {
        let sync = self.last_sync_time();
        crate::writer::SPIN
            + if sync <= Self::MAX_REPLY_SPIN {
                sync
            } else {
                Duration::ZERO
            }
    }

    pub(crate) fn mark_failed(&self, cause: &str) {
        self.marks.fail(cause);
    }
    /// Global sequences below `next` are assigned (the last at `hlc`).
    pub(crate) fn mark_accepted(&self, next: u64, hlc: HlcPoint) {
        self.marks.advance(Mark::Accepted, next, hlc);
    }
    /// Frames below `next` are handed to the OS.
    pub(crate) fn mark_written(&self, next: u64, hlc: HlcPoint) {
        self.marks.advance(Mark::Written, next, hlc);
    }
    /// Frames below `next` are durable.
    pub(crate) fn mark_durable(&self, next: u64, hlc: HlcPoint) {
        self.marks.advance(Mark::Durable, next, hlc);
    }
    /// Events below `next` are in the index.
    pub(crate) fn mark_visible(&self, next: u64, hlc: HlcPoint) {
        self.marks.advance(Mark::Visible, next, hlc);
    }
    pub(crate) fn is_durable(&self, global_sequence: u64) -> bool {
        self.marks
            .frontier()
            .durable
            .covers_sequence(global_sequence)
    }
}

/// The read side of a store, shared by [`Store`] and [`ReadOnlyStore`]
/// (both dereference to it). Reads run on the caller's thread and never
/// wait for a write or sync in progress.
#[derive(Debug)]
pub struct StoreReader {
    shared: Arc<Shared>,
}

impl StoreReader {
    /// The event with this id, payload decoded as JSON.
    pub fn get(&self, id: EventId) -> Result<StoredEvent<serde_json::Value>, StoreError> {
        self.get_as(id)
    }

    /// The event with this id, payload decoded into `T`.
    pub fn get_as<T: DeserializeOwned>(&self, id: EventId) -> Result<StoredEvent<T>, StoreError> {
        decode_payload(self.read_raw(id)?)
    }

    /// The event with this id and its payload exactly as stored (MessagePack bytes).
    pub fn read_raw(&self, id: EventId) -> Result<StoredEvent<Vec<u8>>, StoreError> {
        let entry = self
            .shared
            .index
            .read()
            .get(id)
            .cloned()
            .ok_or(StoreError::NotFound { event_id: id })?;
        self.read_entry(&entry)
    }

    /// Reads and checks the frame an index entry points at.
    pub(crate) fn read_entry(
        &self,
        entry: &IndexEntry,
    ) -> Result<StoredEvent<Vec<u8>>, StoreError> {
        read_entry(&self.shared, entry)
    }

    /// Every committed event in `region`, in commit order.
    pub fn query(&self, region: &Region) -> Vec<IndexEntry> {
        self.shared.index.read().query(region, None, usize::MAX)
    }

    /// At most `limit` events in `region` whose global sequence is after `after`
    /// (from the start when `None`), in commit order: a page of a scan.
    pub fn query_entries_after(
        &self,
        region: &Region,
        after: Option<u64>,
        limit: usize,
    ) -> Vec<IndexEntry> {
        self.shared.index.read().query(region, after, limit)
    }

    /// Every event of exactly this entity, in order.
    pub fn by_entity(&self, entity: &str) -> Vec<IndexEntry> {
        self.query(&Region::entity(entity))
    }

    /// Every event filed under exactly this scope, in commit order.
    pub fn by_scope(&self, scope: &str) -> Vec<IndexEntry> {
        self.query(&Region::scope(scope))
    }

    /// Every event of this kind, in commit order.
    pub fn by_fact(&self, kind: EventKind) -> Vec<IndexEntry> {
        self.query(&Region::all().with_kind(kind))
    }

    /// Events whose causation id is `parent`, in commit order.
    pub fn caused_by(&self, parent: EventId) -> Vec<IndexEntry> {
        self.shared.index.read().caused_by(parent)
    }

    /// Events carrying this correlation id, in commit order.
    pub fn correlated(&self, id: CorrelationId) -> Vec<IndexEntry> {
        self.shared.index.read().correlated(id)
    }

    /// The index entry of an event.
    pub fn entry(&self, id: EventId) -> Option<IndexEntry> {
        self.shared.index.read().get(id).cloned()
    }

    /// Number of committed events visible to readers.
    pub fn len(&self) -> u64 {
        self.shared.index.read().len() as u64
    }

    /// True if no event is committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Names of every entity with at least one event (unordered).
    pub fn entities(&self) -> Vec<String> {
        self.shared
            .index
            .read()
            .entity_names()
            .map(|n| n.to_string())
            .collect()
    }

    /// What opening the store found (segments, events, a recovered torn tail).
    pub fn open_report(&self) -> OpenReport {
        self.shared.report.lock().clone()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.cfg.dir
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// Reads and checks the frame an index entry points at.
pub(crate) fn read_entry(
    shared: &Shared,
    entry: &IndexEntry,
) -> Result<StoredEvent<Vec<u8>>, StoreError> {
    let loc = entry.location;
    // The path is only built on the error paths: formatting it per read costs more than the read.
    let path = || segment_path(&shared.cfg.dir, loc.segment);
    let bad = |reason: String| StoreError::CorruptFrame {
        segment: path(),
        offset: loc.offset,
        reason,
    };
    let file = shared
        .files
        .read()
        .get(&loc.segment)
        .cloned()
        .ok_or_else(|| bad("segment file is not open".into()))?;
    let cached = read_cached(shared, file.as_ref(), loc)
        .map_err(|e| StoreError::io("read frame", path(), e))?;
    let buf = match cached {
        Some(bytes) => bytes,
        None => {
            let mut buf = vec![0u8; loc.len as usize];
            file.read_exact_at(&mut buf, loc.offset)
                .map_err(|e| StoreError::io("read frame", path(), e))?;
            buf
        }
    };
    let (f, used) = decode_frame(&buf).map_err(|e| bad(e.to_string()))?;
    if used != buf.len() || f.event_id != entry.event_id {
        return Err(bad(format!("frame does not hold event {}", entry.event_id)));
    }
    let header = EventHeader {
        event_id: f.event_id,
        global_sequence: f.global_sequence,
        entity_sequence: f.entity_sequence,
        kind: f.kind,
        wall_ms: f.wall_ms,
        hlc: f.hlc,
        correlation_id: f.correlation_id,
        causation_id: f.causation_id,
        idempotency_key: f.idempotency_key,
        payload_version: f.payload_version,
        attestation: f.attestation,
        prev_hash: f.prev_hash,
        content_hash: crate::chain::content_hash(f.payload),
        event_hash: f.event_hash,
    };
    Ok(StoredEvent {
        event: Event {
            header,
            payload: f.payload.to_vec(),
        },
        coordinate: entry.coordinate.clone(),
    })
}

/// The frame at `loc` through the block cache: from a cached block, or by
/// reading its whole block once. `Ok(None)` when the cache is off, the frame
/// straddles two blocks or lies past the published end (the caller then reads
/// the frame itself).
fn read_cached(
    shared: &Shared,
    file: &dyn StoreFile,
    loc: crate::index::Location,
) -> std::io::Result<Option<Vec<u8>>> {
    use crate::cache::BLOCK;
    let Some(cache) = shared.cache.as_ref() else {
        return Ok(None);
    };
    let len = loc.len as usize;
    let block = loc.offset / BLOCK;
    let block_start = block * BLOCK;
    if loc.offset + u64::from(loc.len) > block_start + BLOCK {
        return Ok(None);
    }
    if let Some(bytes) = cache.get(loc.segment, loc.offset, len) {
        return Ok(Some(bytes));
    }
    // Bytes below the published end, taken before reading, are final frames.
    let published_end = shared.index.read().segment_end(loc.segment);
    let mut data = vec![0u8; BLOCK as usize];
    let mut filled = 0usize;
    while filled < data.len() {
        match file.read_at(&mut data[filled..], block_start + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(filled);
    let valid = usize::try_from(published_end.saturating_sub(block_start))
        .unwrap_or(usize::MAX)
        .min(filled);
    let start = (loc.offset - block_start) as usize;
    let frame = (start + len <= valid).then(|| data[start..start + len].to_vec());
    cache.insert(loc.segment, block, data.into(), valid);
    Ok(frame)
}

/// Decodes a raw event's payload as `T`.
pub(crate) fn decode_payload<T: DeserializeOwned>(
    raw: StoredEvent<Vec<u8>>,
) -> Result<StoredEvent<T>, StoreError> {
    let payload =
        rmp_serde::from_slice(&raw.event.payload).map_err(|e| StoreError::Deserialization {
            event_id: raw.event.header.event_id,
            reason: e.to_string(),
        })?;
    Ok(StoredEvent {
        event: Event {
            header: raw.event.header,
            payload,
        },
        coordinate: raw.coordinate,
    })
}

fn build_shared(cfg: StoreConfig, rec: &mut recovery::Recovered, writable: bool) -> Arc<Shared> {
    let index = std::mem::take(&mut rec.index);
    let next = index.next_global_sequence();
    let marks = crate::watermark::Watermarks::new(next, index.last_hlc);
    let projections = crate::projection::ProjectionStates::new(cfg.projection_cache);
    Arc::new(Shared {
        marks,
        subscribers: crate::subscription::Subscribers::default(),
        projections,
        writable,
        cache: crate::cache::BlockCache::new(cfg.read_cache_bytes),
        cfg,
        index: RwLock::new(index),
        files: RwLock::new(std::mem::take(&mut rec.files)),
        report: Mutex::new(rec.report.clone()),
        sync_micros: AtomicU64::new(0),
    })
}

/// An open store: the one writer of its data directory, and a reader.
///
/// `Store` is `Send + Sync`; share it in an `Arc`. Read methods come from
/// [`StoreReader`].
///
/// ```
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let coord = Coordinate::new("entity:a", "scope:1")?;
/// const NOTED: EventKind = EventKind::custom(0xE, 0x22);
/// let receipt = store.append(&coord, NOTED, &serde_json::json!({"n": 1}))?;
/// assert!(receipt.durable);
/// let ev = store.get(receipt.event_id)?;
/// assert_eq!(ev.event.payload["n"], 1);
/// assert_eq!(store.query(&Region::entity("entity:a")).len(), 1);
/// store.close()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Store {
    reader: StoreReader,
    tx: flume::Sender<Command>,
    thread: Mutex<Option<JoinHandle<()>>>,
    _lock: Box<dyn FsLock>,
}

impl Deref for Store {
    type Target = StoreReader;
    fn deref(&self) -> &StoreReader {
        &self.reader
    }
}

pub use crate::format::LOCK_FILE;

impl Store {
    /// Opens (creating if needed) the store in `cfg.dir()` as its exclusive writer.
    ///
    /// Fails with [`StoreError::StoreLocked`] if another writer has it open.
    pub fn open(cfg: StoreConfig) -> Result<Self, StoreError> {
        cfg.validate()?;
        crate::registry::check_at_open(cfg.payload_validation)?;
        cfg.fs
            .create_dir_all(&cfg.dir)
            .map_err(|e| StoreError::io("create data directory", &cfg.dir, e))?;
        let lock_path = cfg.dir.join(LOCK_FILE);
        let lock = cfg
            .fs
            .try_lock_exclusive(&lock_path)
            .map_err(|e| StoreError::io("lock", &lock_path, e))?
            .ok_or_else(|| StoreError::StoreLocked {
                path: cfg.dir.clone(),
            })?;
        let mut rec = recovery::recover(&cfg, Access::Writer)?;
        let tail = rec.tail.take();
        let shared = build_shared(cfg.clone(), &mut rec, true);
        if cfg.chain_verification == ChainVerification::Recompute {
            crate::verify::verify_at_open(&StoreReader {
                shared: shared.clone(),
            })?;
        }
        let (tx, rx) = flume::bounded(cfg.writer_queue);
        let keys = std::mem::take(&mut rec.keys);
        let writer = Writer::new(shared.clone(), rx, tail, keys)?;
        let thread = std::thread::Builder::new()
            .name("batpak-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::io("spawn writer thread", &cfg.dir, e))?;
        Ok(Self {
            reader: StoreReader { shared },
            tx,
            thread: Mutex::new(Some(thread)),
            _lock: lock,
        })
    }

    /// Opens a store for reading only; see [`ReadOnlyStore`].
    pub fn open_read_only(cfg: StoreConfig) -> Result<ReadOnlyStore, StoreError> {
        ReadOnlyStore::open(cfg)
    }

    /// Appends one event to `coordinate`'s entity and returns its receipt.
    ///
    /// The payload is any `Serialize` value, stored as MessagePack. Under the
    /// default [`crate::SyncMode`] the receipt is returned only once the event is durable.
    pub fn append<P: Serialize + ?Sized>(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &P,
    ) -> Result<AppendReceipt, StoreError> {
        let item = self.prepare(coordinate, kind, payload)?;
        let mut receipts = self.submit_items(vec![item])?;
        receipts.pop().ok_or(StoreError::WriterCrashed)
    }

    /// Appends one event with options (expected sequence, idempotency key,
    /// correlation, causation). A retry with the same idempotency key returns
    /// the first receipt and writes nothing.
    pub fn append_with_options<P: Serialize + ?Sized>(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &P,
        options: AppendOptions,
    ) -> Result<AppendReceipt, StoreError> {
        let item =
            self.prepare_with(coordinate.clone(), kind, encode_payload(payload)?, options)?;
        let mut receipts = self.submit_items(vec![item])?;
        receipts.pop().ok_or(StoreError::WriterCrashed)
    }

    /// Appends every item or none, even across a crash. Items may name
    /// different entities; each entity's chain stays linked in item order.
    pub fn append_batch(
        &self,
        items: Vec<BatchAppendItem>,
    ) -> Result<Vec<AppendReceipt>, StoreError> {
        self.submit_batch(items)?.wait_batch()
    }

    /// Queues one append and returns at once with a ticket to wait on.
    /// Blocks only while the writer's queue is full.
    pub fn submit<P: Serialize + ?Sized>(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &P,
    ) -> Result<AppendTicket, StoreError> {
        let item = self.prepare(coordinate, kind, payload)?;
        self.send(vec![item], true)
    }

    /// Like [`Store::submit`], but fails with [`StoreError::Backpressure`]
    /// instead of blocking when the writer's queue is full.
    pub fn try_submit<P: Serialize + ?Sized>(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &P,
    ) -> Result<AppendTicket, StoreError> {
        let item = self.prepare(coordinate, kind, payload)?;
        self.send(vec![item], false)
    }

    /// Queues an atomic batch and returns at once with a ticket.
    pub fn submit_batch(&self, items: Vec<BatchAppendItem>) -> Result<AppendTicket, StoreError> {
        let cfg = &self.shared().cfg;
        if items.is_empty() || items.len() > cfg.max_batch_items {
            return Err(StoreError::BatchTooLarge {
                items: items.len(),
                limit: cfg.max_batch_items,
            });
        }
        let mut total = 0usize;
        let mut prepared = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            total += item.payload.len();
            if total > cfg.max_batch_bytes {
                return Err(StoreError::BatchItemTooLarge {
                    index,
                    bytes: total,
                    limit: cfg.max_batch_bytes,
                });
            }
            prepared.push(self.prepare_with(
                item.coordinate,
                item.kind,
                item.payload,
                item.options,
            )?);
        }
        self.send(prepared, true)
    }

    fn prepare<P: Serialize + ?Sized>(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &P,
    ) -> Result<PreparedItem, StoreError> {
        self.prepare_with(
            coordinate.clone(),
            kind,
            encode_payload(payload)?,
            AppendOptions::default(),
        )
    }

    /// Checks what can be checked without the writer's state.
    pub(crate) fn prepare_with(
        &self,
        coordinate: Coordinate,
        kind: EventKind,
        payload: Vec<u8>,
        options: AppendOptions,
    ) -> Result<PreparedItem, StoreError> {
        if kind.is_reserved() {
            return Err(StoreError::InvalidKind {
                kind: kind.as_u16(),
                reason: "categories 0x0 and 0xD are reserved for the store",
            });
        }
        self.prepare_any_kind(coordinate, kind, payload, options)
    }

    /// [`Self::prepare_with`] without the reserved-kind check: only for the
    /// store's own events (denial records).
    pub(crate) fn prepare_any_kind(
        &self,
        coordinate: Coordinate,
        kind: EventKind,
        payload: Vec<u8>,
        options: AppendOptions,
    ) -> Result<PreparedItem, StoreError> {
        let limit = self.shared().cfg.max_payload_bytes;
        if payload.len() > limit {
            return Err(StoreError::PayloadTooLarge {
                size: payload.len(),
                limit,
            });
        }
        Ok(PreparedItem {
            coordinate,
            kind,
            payload,
            payload_version: options.payload_version.unwrap_or(1),
            correlation_id: options.correlation_id,
            causation: options.causation,
            expected: options.expected,
            idempotency_key: options.idempotency_key,
            attestation: None,
        })
    }

    /// Appends one item prepared by the store's own code (gated commits, denial records).
    pub(crate) fn append_prepared(&self, item: PreparedItem) -> Result<AppendReceipt, StoreError> {
        let mut receipts = self.submit_items(vec![item])?;
        receipts.pop().ok_or(StoreError::WriterCrashed)
    }

    fn submit_items(&self, items: Vec<PreparedItem>) -> Result<Vec<AppendReceipt>, StoreError> {
        self.send(items, true)?.wait_batch()
    }

    fn send(&self, items: Vec<PreparedItem>, block: bool) -> Result<AppendTicket, StoreError> {
        // After a failure the writer still answers, naming the first failure.
        let (reply, rx) = flume::bounded(1);
        let cmd = Command::Append { items, reply };
        if block {
            self.tx.send(cmd).map_err(|_| StoreError::Closed)?;
        } else {
            self.tx.try_send(cmd).map_err(|e| match e {
                flume::TrySendError::Full(_) => StoreError::Backpressure,
                flume::TrySendError::Disconnected(_) => StoreError::Closed,
            })?;
        }
        Ok(AppendTicket {
            rx,
            spin: self.shared.reply_spin(),
        })
    }

    /// Makes every acknowledged append durable (useful under the non-durable sync modes).
    pub fn sync(&self) -> Result<(), StoreError> {
        let (reply, rx) = flume::bounded(1);
        self.tx
            .send(Command::Sync(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::WriterCrashed)?
    }

    /// Syncs, seals the active segment (so the next open reads its footer),
    /// stops the writer and releases the lock.
    pub fn close(self) -> Result<(), StoreError> {
        self.shutdown()
    }

    fn shutdown(&self) -> Result<(), StoreError> {
        let Some(handle) = self.thread.lock().take() else {
            return Ok(());
        };
        let (reply, rx) = flume::bounded(1);
        let sent = self.tx.send(Command::Shutdown(reply)).is_ok();
        let result = if sent {
            rx.recv().unwrap_or(Err(StoreError::WriterCrashed))
        } else {
            Err(StoreError::WriterCrashed)
        };
        // No more events: end every lossy subscription.
        self.shared().subscribers.close();
        if handle.join().is_err() {
            return Err(StoreError::WriterCrashed);
        }
        result
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "closing store on drop failed");
        }
    }
}

/// Encodes a payload as MessagePack with named struct fields.
pub(crate) fn encode_payload<P: Serialize + ?Sized>(payload: &P) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec_named(payload).map_err(|e| StoreError::Serialization {
        reason: e.to_string(),
    })
}

/// A store opened for reading only: no lock, no writer, no write methods.
///
/// It can open beside a live writer in another process and sees the
/// committed prefix as of its open; [`ReadOnlyStore::refresh`] catches up.
/// It never changes a file: an incomplete tail is ignored (and reported),
/// whatever the tail policy.
#[derive(Debug)]
pub struct ReadOnlyStore {
    reader: StoreReader,
}

impl Deref for ReadOnlyStore {
    type Target = StoreReader;
    fn deref(&self) -> &StoreReader {
        &self.reader
    }
}

impl ReadOnlyStore {
    /// Opens `cfg.dir()` for reading; the directory must exist.
    pub fn open(mut cfg: StoreConfig) -> Result<Self, StoreError> {
        cfg.validate()?;
        crate::registry::check_at_open(cfg.payload_validation)?;
        cfg.tail_policy = crate::config::TailPolicy::RecoverTornTail;
        let exists = cfg
            .fs
            .exists(&cfg.dir)
            .map_err(|e| StoreError::io("stat data directory", &cfg.dir, e))?;
        if !exists {
            return Err(StoreError::io(
                "open data directory",
                &cfg.dir,
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        let mut rec = recovery::recover(&cfg, Access::ReadOnly)?;
        let verify = cfg.chain_verification == ChainVerification::Recompute;
        let shared = build_shared(cfg, &mut rec, false);
        let reader = StoreReader { shared };
        if verify {
            crate::verify::verify_at_open(&reader)?;
        }
        Ok(Self { reader })
    }

    /// Re-reads the directory to see events committed since open (or the last refresh).
    pub fn refresh(&self) -> Result<(), StoreError> {
        let shared = self.reader.shared();
        let mut rec = recovery::recover(&shared.cfg, Access::ReadOnly)?;
        *shared.files.write() = std::mem::take(&mut rec.files);
        if let Some(cache) = &shared.cache {
            cache.clear();
        }
        let (next, hlc) = (rec.index.next_global_sequence(), rec.index.last_hlc);
        {
            let mut index = shared.index.write();
            *index = std::mem::take(&mut rec.index);
            // Under the index lock, as the writer does: `visible` covers what readers see.
            for mark in [Mark::Accepted, Mark::Written, Mark::Durable, Mark::Visible] {
                shared.marks.advance(mark, next, hlc);
            }
        }
        *shared.report.lock() = rec.report;
        Ok(())
    }
}
