//! Projections: an entity's events folded, in order, into a typed state.
//!
//! A projection is defined by its fold ([`EventSourced`]) and is always equal
//! to folding the entity's relevant events from the log (INV-READ-001). The
//! optional cache keeps folded states (encoded with MessagePack) keyed by
//! projection type and entity; a later projection resumes folding after the
//! last event the cached state covers instead of rereading the history, and
//! first checks that the log still holds that event at that position, so a
//! cached state is never ahead of the log (INV-READ-002).
//!
//! A shredded event (payload encryption) is skipped by the fold: its
//! payload no longer exists, so `apply` never sees it; the fold's position
//! still moves past it. Shredding drops every cached state (in memory and
//! in files) of the store that shreds, since a state folded earlier may
//! hold what the shred forgot. An event whose payload a tombstone
//! compaction removed is skipped the same way, and such a compaction drops
//! the cached states too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::ProjectionCache;
use crate::engine::Shared;
use crate::error::StoreError;
use crate::event::StoredEvent;
use crate::format::{self, ProjectionRecord};
use crate::id::EventId;
use crate::kind::EventKind;

/// A state built by folding one entity's events in order.
///
/// `apply` sees each relevant event once, in entity order, payload decoded as
/// JSON. The state must round-trip through serde unchanged (the projection
/// cache stores it encoded); bump [`EventSourced::CACHE_VERSION`] whenever
/// `apply` or the state's shape changes, so file-cached states of the old
/// fold are not reused.
///
/// ```
/// use batpak::prelude::*;
///
/// const OPENED: EventKind = EventKind::custom(0xE, 1);
/// const DEPOSITED: EventKind = EventKind::custom(0xE, 2);
///
/// #[derive(Default, serde::Serialize, serde::Deserialize)]
/// struct Account { open: bool, balance: i64 }
///
/// impl EventSourced for Account {
///     fn relevant_kinds() -> Option<&'static [EventKind]> {
///         Some(&[OPENED, DEPOSITED])
///     }
///     fn apply(&mut self, event: &StoredEvent<serde_json::Value>) {
///         match event.header().kind {
///             OPENED => self.open = true,
///             DEPOSITED => self.balance += event.payload()["amount"].as_i64().unwrap_or(0),
///             _ => {}
///         }
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let acct = Coordinate::new("account:1", "bank")?;
/// store.append(&acct, OPENED, &serde_json::json!({}))?;
/// store.append(&acct, DEPOSITED, &serde_json::json!({"amount": 30}))?;
/// store.append(&acct, EventKind::custom(0xE, 9), &serde_json::json!({"ignored": true}))?;
/// let state: Option<Account> = store.project("account:1", &Freshness::Consistent)?;
/// let state = state.ok_or("no events")?;
/// assert!(state.open);
/// assert_eq!(state.balance, 30);
/// assert!(store.project::<Account>("account:2", &Freshness::Consistent)?.is_none());
/// # Ok(()) }
/// ```
pub trait EventSourced: Default + Serialize + DeserializeOwned {
    /// Bump when the fold or the state's shape changes: cached states of
    /// another version are ignored.
    const CACHE_VERSION: u32 = 1;

    /// The kinds this state folds; `None` (the default) folds every kind.
    fn relevant_kinds() -> Option<&'static [EventKind]> {
        None
    }

    /// Folds one event into the state.
    fn apply(&mut self, event: &StoredEvent<serde_json::Value>);
}

/// How fresh a projection must be.
///
/// ```
/// use batpak::prelude::*;
/// use std::time::Duration;
/// let strict = Freshness::Consistent;
/// let relaxed = Freshness::MaybeStale { max_age: Duration::from_millis(250) };
/// assert_ne!(strict, relaxed);
/// assert_eq!(Freshness::default(), Freshness::Consistent);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Freshness {
    /// Reflects every event visible when the call starts.
    #[default]
    Consistent,
    /// May return a cached state brought up to date less than `max_age` ago,
    /// without looking for newer events; otherwise as `Consistent`.
    MaybeStale {
        /// Oldest acceptable cached state.
        max_age: Duration,
    },
}

/// A folded state and the last event it covers.
#[derive(Debug, Clone)]
struct Cached {
    entity: Arc<str>,
    state: Arc<[u8]>,
    last_global_sequence: u64,
    last_event_id: EventId,
    /// When a call last brought it up to date in this process (`None`: loaded from a file).
    refreshed: Option<Instant>,
}

/// The projection cache of one open store.
#[derive(Debug)]
pub(crate) struct ProjectionStates {
    mode: ProjectionCache,
    states: Mutex<HashMap<[u8; 32], Cached, RandomState>>,
    /// Bumped when every state is dropped: a fold that started before
    /// keeps its result to itself.
    epoch: AtomicU64,
    /// Held while a state file is written or the files are removed.
    files: Mutex<()>,
}

impl ProjectionStates {
    pub(crate) fn new(mode: ProjectionCache) -> Self {
        Self {
            mode,
            states: Mutex::new(HashMap::default()),
            epoch: AtomicU64::new(0),
            files: Mutex::new(()),
        }
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Drops every cached state, in memory and (for a writable store) in
    /// `projections/`. Called after a shred and after a compaction that
    /// wrote tombstones.
    pub(crate) fn forget_all(&self, shared: &Shared) -> Result<(), StoreError> {
        let _files = self.files.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.states.lock().clear();
        if !shared.writable {
            return Ok(());
        }
        let fs = shared.cfg.fs.as_ref();
        let dir = shared.cfg.dir.join(format::PROJECTION_DIR);
        if !fs
            .exists(&dir)
            .map_err(|e| StoreError::io("stat directory", &dir, e))?
        {
            return Ok(());
        }
        let names = fs
            .list_dir(&dir)
            .map_err(|e| StoreError::io("list directory", &dir, e))?;
        for name in names {
            if name.ends_with(format::PROJECTION_SUFFIX) || name.ends_with(format::TEMP_SUFFIX) {
                let path = dir.join(&name);
                fs.remove_file(&path)
                    .map_err(|e| StoreError::io("remove projection state", &path, e))?;
            }
        }
        fs.sync_dir(&dir)
            .map_err(|e| StoreError::io("sync directory", &dir, e))
    }

    fn max_entries(&self) -> Option<usize> {
        match self.mode {
            ProjectionCache::Disabled => None,
            ProjectionCache::Memory { max_entries } | ProjectionCache::File { max_entries } => {
                Some(max_entries)
            }
        }
    }

    fn get(
        &self,
        shared: &Shared,
        key: &[u8; 32],
        slot: &[u8; 32],
        entity: &str,
    ) -> Option<Cached> {
        if let Some(c) = self.states.lock().get(slot) {
            return Some(c.clone());
        }
        if !matches!(self.mode, ProjectionCache::File { .. }) {
            return None;
        }
        let path = shared
            .cfg
            .dir
            .join(format::PROJECTION_DIR)
            .join(format::projection_file_name(key, entity));
        let fs = shared.cfg.fs.as_ref();
        if !fs.exists(&path).unwrap_or(false) {
            return None;
        }
        let record = crate::fs::read_all(fs, &path, format::MAX_PROJECTION_FILE)
            .map_err(|e| e.to_string())
            .and_then(|b| format::decode_projection(&b).map_err(|e| e.to_string()));
        match record {
            Ok(r) if r.key == *key && r.entity == entity => Some(Cached {
                entity: Arc::from(entity),
                state: Arc::from(r.state),
                last_global_sequence: r.last_global_sequence,
                last_event_id: r.last_event_id,
                refreshed: None,
            }),
            Ok(_) => None,
            Err(reason) => {
                // A cache: a damaged file costs a replay, not an error.
                tracing::warn!(path = %path.display(), %reason, "ignoring damaged projection state");
                None
            }
        }
    }

    fn put(&self, epoch: u64, slot: [u8; 32], fresh: Cached) {
        let Some(max) = self.max_entries() else {
            return;
        };
        let mut states = self.states.lock();
        if self.epoch() != epoch {
            return;
        }
        if let Some(old) = states.get(&slot) {
            // Another call may have folded further meanwhile; keep the newer state.
            if old.last_global_sequence > fresh.last_global_sequence {
                return;
            }
        } else if states.len() >= max {
            let oldest = states
                .iter()
                .min_by_key(|(_, c)| c.refreshed)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    states.remove(&k);
                }
                None => return,
            }
        }
        states.insert(slot, fresh);
    }

    fn forget(&self, slot: &[u8; 32]) {
        self.states.lock().remove(slot);
    }

    fn persist(&self, epoch: u64, shared: &Shared, key: &[u8; 32], c: &Cached) {
        if !matches!(self.mode, ProjectionCache::File { .. }) || !shared.writable {
            return;
        }
        let _files = self.files.lock();
        if self.epoch() != epoch {
            return;
        }
        let record = ProjectionRecord {
            key: *key,
            entity: c.entity.to_string(),
            last_global_sequence: c.last_global_sequence,
            last_event_id: c.last_event_id,
            state: c.state.to_vec(),
        };
        let result = shared.ensure_dir(format::PROJECTION_DIR).and_then(|dir| {
            let path = dir.join(format::projection_file_name(key, &c.entity));
            crate::fs::write_atomic(
                shared.cfg.fs.as_ref(),
                &path,
                &format::encode_projection(&record),
            )
            .map_err(|e| StoreError::io("write projection state", &path, e))
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not persist a projection state; it will be refolded");
        }
    }
}

/// Identifies a projection type: name, cache version and relevant kinds.
fn type_key<T: EventSourced>() -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"batpak/projection/v1");
    let name = std::any::type_name::<T>();
    h.update(&(name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update(&T::CACHE_VERSION.to_le_bytes());
    match T::relevant_kinds() {
        None => {
            h.update(&[0]);
        }
        Some(kinds) => {
            let mut ks: Vec<u16> = kinds.iter().map(|k| k.as_u16()).collect();
            ks.sort_unstable();
            ks.dedup();
            h.update(&[1]);
            for k in ks {
                h.update(&k.to_le_bytes());
            }
        }
    }
    *h.finalize().as_bytes()
}

/// Cache slot of (type, entity).
fn slot_of(key: &[u8; 32], entity: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(key);
    h.update(entity.as_bytes());
    *h.finalize().as_bytes()
}

fn encode_state<T: Serialize>(state: &T) -> Result<Vec<u8>, StoreError> {
    crate::event::encode_payload(state)
}

/// Events are read in pages so a long history never holds the index lock for long.
const PAGE: usize = 1024;

/// Folds `entity`'s relevant events into `T`, or `None` if it has none.
pub(crate) fn project<T: EventSourced>(
    shared: &Arc<Shared>,
    cache: &ProjectionStates,
    entity: &str,
    freshness: &Freshness,
) -> Result<Option<T>, StoreError> {
    let key = type_key::<T>();
    let slot = slot_of(&key, entity);
    let epoch = cache.epoch();
    // The cached state, if the log still holds its last event where it says:
    // `(state, entity_sequence, global_sequence, id)` of that event.
    let mut start: Option<(T, u64, u64, EventId)> = None;
    let mut hit: Option<Cached> = None;
    if cache.max_entries().is_some() {
        if let Some(c) = cache.get(shared, &key, &slot, entity) {
            let held = shared
                .index
                .read()
                .get(c.last_event_id)?
                .filter(|e| {
                    e.global_sequence() == c.last_global_sequence
                        && e.coordinate().entity() == entity
                })
                .map(|e| e.entity_sequence());
            match (held, rmp_serde::from_slice::<T>(&c.state)) {
                (Some(es), Ok(state)) => {
                    if let (Freshness::MaybeStale { max_age }, Some(at)) = (freshness, c.refreshed)
                    {
                        if at.elapsed() <= *max_age {
                            return Ok(Some(state));
                        }
                    }
                    start = Some((state, es, c.last_global_sequence, c.last_event_id));
                    hit = Some(c);
                }
                // Not in the log any more (a lost tail), or an undecodable state: refold.
                _ => cache.forget(&slot),
            }
        }
    }
    let had_state = start.is_some();
    let (mut state, mut next_es, mut last) = match start {
        Some((s, es, gs, id)) => (s, es + 1, Some((gs, id))),
        None => (T::default(), 0, None),
    };
    let kinds = T::relevant_kinds();
    let mut folded = 0usize;
    loop {
        // Walk the entity's own positions from the next entity sequence: the
        // cost is the new events only, whatever the length of the history.
        let (page, done) = {
            let idx = shared.index.read();
            let tip = idx.entity_tip(entity).0;
            let mut page = Vec::new();
            while next_es < tip && page.len() < PAGE {
                if let Some(e) = idx.entity_event_at(entity, next_es)? {
                    if kinds.is_none_or(|ks| ks.contains(&e.kind())) {
                        page.push(e);
                    }
                }
                next_es += 1;
            }
            (page, next_es >= tip)
        };
        for entry in &page {
            match shared.read_json(entry) {
                Ok(event) => state.apply(&event),
                // Its payload is gone: skipped (see the module documentation).
                Err(StoreError::PayloadShredded { .. } | StoreError::PayloadTombstoned { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        folded += page.len();
        if let Some(e) = page.last() {
            last = Some((e.global_sequence(), e.event_id()));
        }
        if done {
            break;
        }
    }
    let Some((last_gs, last_id)) = last else {
        return Ok(None);
    };
    if cache.max_entries().is_some() {
        let fresh = match (folded, hit) {
            (0, Some(c)) if had_state => Cached {
                refreshed: Some(Instant::now()),
                ..c
            },
            _ => Cached {
                entity: Arc::from(entity),
                state: Arc::from(encode_state(&state)?),
                last_global_sequence: last_gs,
                last_event_id: last_id,
                refreshed: Some(Instant::now()),
            },
        };
        if folded > 0 {
            cache.persist(epoch, shared, &key, &fresh);
        }
        cache.put(epoch, slot, fresh);
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn projection_state_roundtrip_truncation_and_flips() {
        let r = ProjectionRecord {
            key: [3; 32],
            entity: "account:1".into(),
            last_global_sequence: 77,
            last_event_id: EventId::from_u128(5),
            state: vec![0x81, 0xa1, b'n', 7],
        };
        let b = format::encode_projection(&r);
        assert_eq!(format::decode_projection(&b).unwrap(), r);
        for cut in 0..b.len() {
            assert!(
                format::decode_projection(&b[..cut]).is_err(),
                "prefix {cut}"
            );
        }
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x08;
            assert!(format::decode_projection(&bad).is_err(), "flip {i}");
        }
    }

    #[test]
    fn the_memory_cache_evicts_beyond_its_limit() {
        let states = ProjectionStates::new(ProjectionCache::Memory { max_entries: 2 });
        let c = |gs| Cached {
            entity: Arc::from("e"),
            state: Arc::from(vec![]),
            last_global_sequence: gs,
            last_event_id: EventId::from_u128(1),
            refreshed: Some(Instant::now()),
        };
        for i in 0..5u8 {
            states.put(0, [i; 32], c(u64::from(i)));
        }
        assert_eq!(states.states.lock().len(), 2);
        states.put(0, [4; 32], c(1));
        assert_eq!(
            states
                .states
                .lock()
                .get(&[4; 32])
                .map(|c| c.last_global_sequence),
            Some(4),
            "never regresses"
        );
    }
}
