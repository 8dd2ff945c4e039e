//! The engine state: what readers and the writer thread share (configuration,
//! index, open segment files, watermarks, subscribers, block cache), and the
//! one read of an event's frame from disk.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;

use crate::config::StoreConfig;
use crate::error::{Corruption, StoreError};
use crate::event::{decode_json_payload, decode_payload, Event, StoredEvent};
use crate::format::segment_path;
use crate::format::{decode_frame, is_sealed};
use crate::fs::StoreFile;
use crate::id::{EventId, HlcPoint};
use crate::index::{Index, IndexEntry};
use crate::kind::EventKind;
use crate::recovery::{OpenReport, Recovered};
use crate::region::Region;
use crate::seam::{Opened, PayloadAt};
use crate::watermark::Mark;

/// State shared by readers and the writer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: StoreConfig,
    pub(crate) index: RwLock<Index>,
    pub(crate) files: RwLock<BTreeMap<u64, crate::segment::SegmentFile>>,
    pub(crate) report: Mutex<OpenReport>,
    /// Accepted, written, durable and visible watermarks, with their waiters.
    pub(crate) marks: crate::watermark::Watermarks,
    /// Lossy subscriptions the writer offers new events to.
    pub(crate) subscribers: crate::subscription::Subscribers,
    /// False for a read-only open, which must change no file.
    pub(crate) writable: bool,
    /// Recently read segment blocks.
    pub(crate) cache: Option<crate::cache::BlockCache>,
    /// How long the writer's last fsync took, in microseconds.
    sync_micros: AtomicU64,
    /// The Merkle tree and the heads file.
    pub(crate) evidence: crate::evidence::Evidence,
    /// Held by a compaction, a snapshot and a fork: one of them at a time,
    /// so a copy never names files a compaction is replacing.
    pub(crate) maintenance: Mutex<()>,
}

impl Shared {
    /// Records how long the writer's last fsync took.
    pub(crate) fn note_sync_time(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sync_micros.store(micros, Ordering::Relaxed);
    }

    /// How long the writer's last fsync took.
    pub(crate) fn last_sync_time(&self) -> Duration {
        Duration::from_micros(self.sync_micros.load(Ordering::Relaxed))
    }

    pub(crate) fn mark_failed(&self, cause: &Arc<StoreError>) {
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

    /// The event with this id, payload decoded as JSON.
    pub(crate) fn get(&self, id: EventId) -> Result<StoredEvent<serde_json::Value>, StoreError> {
        decode_json_payload(self.read_raw(id)?)
    }

    /// The event with this id, payload decoded into `T`.
    pub(crate) fn get_as<T: DeserializeOwned>(
        &self,
        id: EventId,
    ) -> Result<StoredEvent<T>, StoreError> {
        decode_payload(self.read_raw(id)?)
    }

    /// The event with this id and its payload as the caller appended it
    /// (opened, if it was sealed).
    pub(crate) fn read_raw(&self, id: EventId) -> Result<StoredEvent<Vec<u8>>, StoreError> {
        self.open_stored(self.read_stored(id)?)
    }

    /// The event with this id and its payload exactly as stored (sealed
    /// bytes under payload encryption).
    pub(crate) fn read_stored(&self, id: EventId) -> Result<StoredEvent<Vec<u8>>, StoreError> {
        let entry = self
            .index
            .read()
            .get(id)?
            .ok_or(StoreError::NotFound { event_id: id })?;
        read_entry(self, &entry)
    }

    /// A stored event with its payload opened: as stored when it is not
    /// sealed (one byte tells), the caller's bytes when its key exists,
    /// [`StoreError::PayloadShredded`] when its key was destroyed.
    pub(crate) fn open_stored(
        &self,
        mut raw: StoredEvent<Vec<u8>>,
    ) -> Result<StoredEvent<Vec<u8>>, StoreError> {
        if is_tombstone(&raw) {
            return Err(StoreError::PayloadTombstoned {
                event_id: raw.event.header.event_id,
            });
        }
        if !is_sealed(&raw.event.payload) {
            return Ok(raw);
        }
        let event_id = raw.event.header.event_id;
        let Some(t) = &self.cfg.payload_transform else {
            return Err(StoreError::PayloadDecryptFailed {
                event_id,
                reason:
                    "the payload is sealed, and the store was opened without payload encryption",
            });
        };
        let at = PayloadAt {
            coordinate: &raw.coordinate,
            kind: raw.event.header.kind,
            event_id,
        };
        match t.open(at, &raw.event.payload)? {
            Opened::Plain(p) => {
                raw.event.payload = p;
                Ok(raw)
            }
            Opened::Shredded => Err(StoreError::PayloadShredded { event_id }),
        }
    }

    /// The event with this id as JSON, or, when its payload was shredded or
    /// removed by a tombstone compaction, its header with a `null` payload
    /// and `true`.
    pub(crate) fn get_marked(
        &self,
        id: EventId,
    ) -> Result<(StoredEvent<serde_json::Value>, bool), StoreError> {
        let stored = self.read_stored(id)?;
        let header = stored.event.header.clone();
        let coordinate = stored.coordinate.clone();
        match self.open_stored(stored) {
            Ok(raw) => Ok((decode_json_payload(raw)?, false)),
            Err(StoreError::PayloadShredded { .. } | StoreError::PayloadTombstoned { .. }) => Ok((
                StoredEvent {
                    event: Event {
                        header,
                        payload: serde_json::Value::Null,
                    },
                    coordinate,
                },
                true,
            )),
            Err(e) => Err(e),
        }
    }

    /// Reads and checks the frame an index entry points at.
    pub(crate) fn read_entry(
        &self,
        entry: &IndexEntry,
    ) -> Result<StoredEvent<Vec<u8>>, StoreError> {
        read_entry(self, entry)
    }

    /// What an index read that has no error to return gives when it
    /// fails: a sealed segment whose index file and footer are both
    /// unreadable. The failure is logged and counted in the open report
    /// (`index_read_failures`), and the caller gets `fallback`.
    pub(crate) fn or_reported<T>(&self, read: Result<T, StoreError>, fallback: T) -> T {
        match read {
            Ok(v) => v,
            Err(error) => {
                tracing::error!(%error, "an index read failed: its segment's index file and footer are unreadable");
                self.report.lock().index_read_failures += 1;
                fallback
            }
        }
    }

    /// The index entry of an event.
    pub(crate) fn entry(&self, id: EventId) -> Option<IndexEntry> {
        let read = self.index.read().get(id);
        self.or_reported(read, None)
    }

    /// Every committed event in `region`, in commit order.
    pub(crate) fn query(&self, region: &Region) -> Vec<IndexEntry> {
        self.query_entries_after(region, None, usize::MAX)
    }

    /// At most `limit` events of `region` after global sequence `after`.
    pub(crate) fn query_entries_after(
        &self,
        region: &Region,
        after: Option<u64>,
        limit: usize,
    ) -> Vec<IndexEntry> {
        let read = self.index.read().query(region, after, limit);
        self.or_reported(read, Vec::new())
    }

    /// Every event of this kind, in commit order.
    pub(crate) fn by_fact(&self, kind: EventKind) -> Vec<IndexEntry> {
        self.query(&Region::all().with_kind(kind))
    }

    /// Reads an event and decodes its payload as JSON.
    pub(crate) fn read_json(
        &self,
        entry: &IndexEntry,
    ) -> Result<StoredEvent<serde_json::Value>, StoreError> {
        decode_json_payload(self.open_stored(read_entry(self, entry)?)?)
    }

    /// The directory `name` inside the data directory, created (and made
    /// durable in its parent) if missing.
    pub(crate) fn ensure_dir(&self, name: &str) -> Result<std::path::PathBuf, StoreError> {
        let dir = self.cfg.dir.join(name);
        let fs = self.cfg.fs.as_ref();
        let exists = fs
            .exists(&dir)
            .map_err(|e| StoreError::io("stat directory", &dir, e))?;
        if !exists {
            fs.create_dir_all(&dir)
                .and_then(|()| fs.sync_dir(&self.cfg.dir))
                .map_err(|e| StoreError::io("create directory", &dir, e))?;
        }
        Ok(dir)
    }

    /// Engine state over what recovery found.
    pub(crate) fn new(cfg: StoreConfig, rec: &mut Recovered, writable: bool) -> Arc<Self> {
        let index = std::mem::take(&mut rec.index);
        let next = index.next_global_sequence();
        let marks = crate::watermark::Watermarks::new(next, index.last_hlc);
        let evidence = crate::evidence::Evidence::empty(&cfg, writable);
        Arc::new(Shared {
            marks,
            subscribers: crate::subscription::Subscribers::default(),
            writable,
            cache: crate::cache::BlockCache::new(cfg.read_cache_bytes),
            cfg,
            index: RwLock::new(index),
            files: RwLock::new(std::mem::take(&mut rec.files)),
            report: Mutex::new(rec.report.clone()),
            sync_micros: AtomicU64::new(0),
            evidence,
            maintenance: Mutex::new(()),
        })
    }
}

/// True for an event read from a tombstone: its payload is gone, and its
/// `content_hash` (kept in the frame) is not that of the empty payload it
/// now has. An event whose frame holds a payload always has the content
/// hash of that payload, so nothing else matches.
fn is_tombstone(raw: &StoredEvent<Vec<u8>>) -> bool {
    raw.event.payload.is_empty() && raw.event.header.content_hash != *EMPTY_CONTENT_HASH
}

static EMPTY_CONTENT_HASH: std::sync::LazyLock<[u8; 32]> =
    std::sync::LazyLock::new(|| crate::chain::content_hash(&[]));

/// Reads and checks the frame an index entry points at. An entry taken
/// before a compaction moved its event (its segment replaced, its offset
/// changed) is read again at the event's current location.
pub(crate) fn read_entry(
    shared: &Shared,
    entry: &IndexEntry,
) -> Result<StoredEvent<Vec<u8>>, StoreError> {
    match read_at_entry(shared, entry) {
        Err(e) => {
            let current = shared.index.read().get(entry.event_id);
            match current {
                Ok(Some(now)) if now.location != entry.location => read_at_entry(shared, &now),
                _ => Err(e),
            }
        }
        ok => ok,
    }
}

fn read_at_entry(shared: &Shared, entry: &IndexEntry) -> Result<StoredEvent<Vec<u8>>, StoreError> {
    let loc = entry.location;
    // The path is only built on the error paths: formatting it per read costs more than the read.
    let path = || segment_path(&shared.cfg.dir, loc.segment);
    let bad = |reason: Corruption| StoreError::CorruptFrame {
        segment: path(),
        offset: loc.offset,
        reason,
    };
    let segment = shared
        .files
        .read()
        .get(&loc.segment)
        .cloned()
        .ok_or_else(|| bad(Corruption::SegmentNotOpen))?;
    let file = &segment.file;
    let cached = read_cached(shared, &segment.file, loc)
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
    let (f, used) = decode_frame(&buf).map_err(|source| {
        bad(Corruption::Decode {
            structure: "frame",
            source,
        })
    })?;
    if used != buf.len() || f.event_id != entry.event_id {
        return Err(bad(Corruption::WrongEvent {
            expected: entry.event_id,
        }));
    }
    let header = f.header(segment.hash_version());
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
    file: &Arc<dyn StoreFile>,
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
    // Only a block of the file the segment id still names is cached: a
    // compaction may have replaced it while this read ran (it clears the
    // cache under the same lock).
    let files = shared.files.read();
    if files
        .get(&loc.segment)
        .is_some_and(|s| Arc::ptr_eq(&s.file, file))
    {
        cache.insert(loc.segment, block, data.into(), valid);
    }
    drop(files);
    Ok(frame)
}
