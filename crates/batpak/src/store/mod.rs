//! The facade: [`Store`] (the exclusive writer), [`ReadOnlyStore`] and
//! [`StoreReader`]. Every public method of the three is declared here (the
//! read methods in [`read`]); each delegates to the engine or to the read
//! model that owns the work, which never import this module.

mod read;

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use serde::Serialize;

use crate::append::{AppendTicket, Appender};
use crate::compact::{CompactionConfig, CompactionReport};
use crate::config::{ChainVerification, StoreConfig, TailPolicy};
use crate::coordinate::Coordinate;
use crate::denial::DenialReceipt;
use crate::engine::Shared;
use crate::error::StoreError;
use crate::event::{encode_payload, StoredEvent};
use crate::format::LOCK_FILE;
use crate::fs::FsLock;
use crate::gate::{Approved, Denial, Pipeline};
use crate::head::TreeHead;
use crate::import::{ImportOptions, ImportReport, ImportSelector};
use crate::kind::EventKind;
use crate::options::{AppendOptions, BatchAppendItem};
use crate::projection::ProjectionStates;
use crate::reactor::{Reaction, ReactorHandle, ReactorOptions};
use crate::receipt::AppendReceipt;
use crate::recovery::{self, Access};
use crate::region::Region;
#[cfg(feature = "payload-encryption")]
use crate::shred::ShredScope;
use crate::snapshot::{ForkReport, SnapshotReport};
use crate::subscription::Subscription;
use crate::typed::EventPayload;
use crate::watermark::Mark;
use crate::writer::Writer;

/// A cheap, cloneable handle on a store's read side, for code that reads a
/// [`Store`] or a [`ReadOnlyStore`] alike ([`Store::reader`],
/// [`ReadOnlyStore::reader`]). Reads run on the caller's thread and never
/// wait for a write or sync in progress.
///
/// ```
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// fn count(reader: &StoreReader) -> u64 { reader.len() }
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// store.append(&Coordinate::new("entity:a", "scope:1")?, EventKind::custom(0xE, 1), &1u8)?;
/// assert_eq!(count(store.reader()), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct StoreReader {
    shared: Arc<Shared>,
    projections: Arc<ProjectionStates>,
}

impl StoreReader {
    fn new(shared: Arc<Shared>) -> Self {
        let projections = Arc::new(ProjectionStates::new(shared.cfg.projection_cache));
        Self {
            shared,
            projections,
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn projections(&self) -> &ProjectionStates {
        &self.projections
    }
}

/// An open store: the one writer of its data directory, and a reader.
///
/// `Store` is `Send + Sync`; share it in an `Arc`.
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
    appender: Appender,
    thread: Mutex<Option<JoinHandle<()>>>,
    #[cfg(feature = "payload-encryption")]
    keyring: Option<Arc<crate::keyring::KeyRing>>,
    /// Held by a running import: imports into one store run one at a time.
    import_lock: Mutex<()>,
    _lock: Box<dyn FsLock>,
}

/// Loads the store's keyset (if encryption is configured or a keyset
/// exists) and installs its seal, open and durability fence.
#[cfg(feature = "payload-encryption")]
fn install_keyring(
    cfg: &mut StoreConfig,
    writable: bool,
) -> Result<Option<Arc<crate::keyring::KeyRing>>, StoreError> {
    let ring =
        crate::keyring::KeyRing::open(&cfg.dir, cfg.fs.clone(), cfg.payload_encryption, writable)?;
    if let Some(r) = &ring {
        cfg.payload_transform = Some(r.clone());
        if writable {
            cfg.write_hook = Some(r.clone());
        }
    }
    Ok(ring)
}

/// A build without payload encryption refuses to write to a store that has
/// a keyset: its appends would go unsealed beside sealed ones.
#[cfg(not(feature = "payload-encryption"))]
fn refuse_keyset(cfg: &StoreConfig) -> Result<(), StoreError> {
    let path = cfg.dir.join(crate::format::KEYSET_FILE);
    let exists = cfg
        .fs
        .exists(&path)
        .map_err(|e| StoreError::io("stat keyset", &path, e))?;
    if !exists {
        return Ok(());
    }
    let bytes = crate::fs::read_all(cfg.fs.as_ref(), &path, crate::format::MAX_KEYSET_FILE)
        .map_err(|e| StoreError::io("read keyset", &path, e))?;
    let header = crate::format::decode_keyset(&bytes, |_, _, _| Ok(())).map_err(|source| {
        StoreError::KeysetCorrupt {
            path: path.clone(),
            reason: crate::error::Corruption::Decode {
                structure: "keyset",
                source,
            },
        }
    })?;
    Err(StoreError::KeyScopeGranularityMismatch {
        stored: header.granularity,
        configured: None,
    })
}

/// The configuration recovery reads: `cfg` with the committed size of the
/// heads as the floor no tail cut may go below.
fn with_floor(cfg: &StoreConfig, heads: &crate::evidence::LoadedHeads) -> StoreConfig {
    let mut cfg = cfg.clone();
    cfg.committed_floor = cfg.committed_floor.max(heads.committed());
    cfg
}

impl Store {
    /// Opens (creating if needed) the store in `cfg.dir()` as its exclusive writer.
    ///
    /// Fails with [`StoreError::StoreLocked`] if another writer has it open,
    /// and with [`StoreError::SnapshotIncomplete`] (changing nothing) if the
    /// directory holds a snapshot or fork whose writing did not finish.
    pub fn open(cfg: StoreConfig) -> Result<Self, StoreError> {
        #[cfg(feature = "payload-encryption")]
        let mut cfg = cfg;
        cfg.validate()?;
        crate::registry::check_at_open(cfg.payload_validation)?;
        crate::snapshot::refuse_unfinished_copy(&cfg)?;
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
        #[cfg(feature = "payload-encryption")]
        let keyring = install_keyring(&mut cfg, true)?;
        #[cfg(not(feature = "payload-encryption"))]
        refuse_keyset(&cfg)?;
        let heads = crate::evidence::load_heads(&cfg, true)?;
        let mut rec = recovery::recover(&with_floor(&cfg, &heads), Access::Writer)?;
        let tail = rec.tail.take();
        let shared = Shared::new(cfg.clone(), &mut rec, true);
        if cfg.chain_verification == ChainVerification::Recompute {
            crate::verify::verify_at_open(&shared)?;
        }
        crate::notary::open_evidence(&shared, heads)?;
        let (tx, rx) = flume::bounded(cfg.writer_queue);
        let keys = std::mem::take(&mut rec.keys);
        let writer = Writer::new(shared.clone(), rx, tail, keys)?;
        let thread = std::thread::Builder::new()
            .name("batpak-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::io("spawn writer thread", &cfg.dir, e))?;
        Ok(Self {
            appender: Appender::new(shared.clone(), tx),
            reader: StoreReader::new(shared),
            thread: Mutex::new(Some(thread)),
            #[cfg(feature = "payload-encryption")]
            keyring,
            import_lock: Mutex::new(()),
            _lock: lock,
        })
    }

    /// Destroys the encryption key of `scope` (payload encryption) and makes
    /// that durable; returns whether a key existed. From then on every read
    /// of a payload sealed under it fails with [`StoreError::PayloadShredded`]
    /// (or marks the event as shredded, on the read paths that go on:
    /// cursors, ancestry and causal walks; projections skip it), in this
    /// process and after any reopen. Headers, hashes, receipts and
    /// [`StoreReader::verify_chain`] are untouched: they cover the sealed bytes.
    /// Cached projection states of this store are dropped, since they may
    /// hold what the shred forgot.
    ///
    /// The selector must fit the store's [`KeyScopeGranularity`](crate::KeyScopeGranularity),
    /// else [`StoreError::ShredScopeMismatch`] and nothing changes. If the
    /// keyset cannot be written, the key is kept and the error returned
    /// (the file may already hold the new keyset): retry the shred.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{KeyScopeGranularity, ShredScope};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// const KIND: EventKind = EventKind::custom(0xE, 1);
    /// let cfg = StoreConfig::new(dir.path()).with_payload_encryption(KeyScopeGranularity::PerEntity);
    /// let store = Store::open(cfg)?;
    /// let alice = Coordinate::new("person:alice", "crm")?;
    /// let bob = Coordinate::new("person:bob", "crm")?;
    /// let r = store.append(&alice, KIND, &serde_json::json!({"email": "a@example.org"}))?;
    /// let kept = store.append(&bob, KIND, &serde_json::json!({"email": "b@example.org"}))?;
    /// assert!(store.shred_scope(ShredScope::Entity(&alice))?);
    /// assert!(matches!(store.get(r.event_id), Err(StoreError::PayloadShredded { .. })));
    /// assert_eq!(store.get(kept.event_id)?.event.payload["email"], "b@example.org");
    /// assert!(store.verify_chain()?.is_intact());
    /// let wrong = store.shred_scope(ShredScope::Kind(KIND)).unwrap_err();
    /// assert!(matches!(wrong, StoreError::ShredScopeMismatch { .. }));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "payload-encryption")]
    pub fn shred_scope(&self, scope: ShredScope<'_>) -> Result<bool, StoreError> {
        let ring = self.keyring.as_ref().ok_or(StoreError::Configuration {
            reason: "payload encryption is not configured",
        })?;
        let existed = ring.shred(&scope)?;
        if existed {
            self.projections().forget_all(self.shared())?;
        }
        Ok(existed)
    }

    /// Opens a store for reading only; see [`ReadOnlyStore`].
    pub fn open_read_only(cfg: StoreConfig) -> Result<ReadOnlyStore, StoreError> {
        ReadOnlyStore::open(cfg)
    }

    /// The read side as a handle of its own (it keeps no lock and no writer alive).
    pub fn reader(&self) -> &StoreReader {
        &self.reader
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.reader.shared
    }

    /// The public key (`key_id`) this store signs receipts with, or `None`
    /// when no signer is configured: the key a verifier of this store's
    /// receipts should trust.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    /// let public = key.verifying_key().to_bytes();
    /// let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key))?;
    /// assert_eq!(store.signing_key_id(), Some(public));
    /// let r = store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1u8)?;
    /// assert_eq!(r.key_id, store.signing_key_id());
    /// # Ok(()) }
    /// ```
    pub fn signing_key_id(&self) -> Option<[u8; 32]> {
        self.shared().cfg.signer.as_ref().map(|s| s.key_id())
    }

    fn projections(&self) -> &ProjectionStates {
        &self.reader.projections
    }

    /// Makes every published event durable, records a head of the Merkle
    /// tree over them in the heads file, and returns it: the C2SP checkpoint
    /// (origin from [`StoreConfig::with_log_origin`], size, root) and its
    /// signed note under the store's signing key (`None` without one).
    /// A failing signer fails the call and records nothing.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let c = Coordinate::new("a", "s")?;
    /// let first = store.append(&c, EventKind::custom(0xE, 1), &1u8)?;
    /// store.append(&c, EventKind::custom(0xE, 1), &2u8)?;
    /// let head = store.signed_head()?;
    /// assert_eq!((head.size(), head.note()), (2, None));
    /// let proof = store.prove_inclusion(first.event_id, head.size())?;
    /// proof.verify_against(head.checkpoint())?;
    /// # Ok(()) }
    /// ```
    pub fn signed_head(&self) -> Result<TreeHead, StoreError> {
        self.appender.signed_head()
    }

    /// Copies the store into `dest` as it is at this call: every event
    /// visible when the writer takes its cut (a moment after the call
    /// starts, between two commit groups), with the tree head that covers
    /// them, the keyset, the idempotency sidecar and the cursor checkpoints.
    /// Appends go on while the files are copied; they wait only for the cut
    /// (a sync, and a tree head if events came since the last one).
    ///
    /// `dest` must not exist or be an empty directory
    /// ([`StoreError::DestinationNotEmpty`]), must not be this store's
    /// directory or inside it ([`StoreError::DestinationInsideSource`]), and
    /// must not be a symbolic link ([`StoreError::DestinationIsSymlink`]).
    /// Every file and directory written is synced before this returns. The
    /// copy opens as a store of its own: its events are a prefix of this
    /// store's (same ids, hashes and bytes), its chain verifies and its
    /// [`latest_head`](Self::latest_head) is [`SnapshotReport::head`](crate::SnapshotReport::head).
    /// While the copy is written `dest` holds the marker `SNAPSHOT_INCOMPLETE`;
    /// an error or a crash leaves it there, and opening such a directory fails
    /// with [`StoreError::SnapshotIncomplete`]: delete it and take the copy again.
    /// The projection cache is not copied (the copy folds from its log).
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path().join("live")))?;
    /// let order = Coordinate::new("order:1", "shop")?;
    /// const NOTED: EventKind = EventKind::custom(0xE, 1);
    /// store.append(&order, NOTED, &"placed")?;
    /// let report = store.snapshot(dir.path().join("backup"))?;
    /// assert_eq!(report.events, 1);
    /// store.append(&order, NOTED, &"paid")?; // after the snapshot: not in it
    ///
    /// let copy = Store::open(StoreConfig::new(dir.path().join("backup")))?;
    /// assert_eq!(copy.len(), 1);
    /// assert!(copy.verify_chain()?.is_intact());
    /// assert_eq!(copy.latest_head(), report.head);
    /// let refused = store.snapshot(dir.path().join("backup")).unwrap_err();
    /// assert!(matches!(refused, StoreError::DestinationNotEmpty { .. }));
    /// # Ok(()) }
    /// ```
    pub fn snapshot(&self, dest: impl AsRef<Path>) -> Result<SnapshotReport, StoreError> {
        self.snapshot_with_progress(dest, |_, _| {})
    }

    /// [`Store::snapshot`], calling `progress(done_bytes, total_bytes)` once
    /// the cut is known (with 0), after every MiB copied, after each file and
    /// at the end (with `total_bytes`).
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path().join("live")))?;
    /// store.append(&Coordinate::new("a", "s")?, EventKind::custom(0xE, 1), &1u8)?;
    /// let mut last = (0, 0);
    /// let report = store.snapshot_with_progress(dir.path().join("copy"), |done, total| {
    ///     last = (done, total);
    /// })?;
    /// assert_eq!(last, (report.bytes(), report.bytes()));
    /// # Ok(()) }
    /// ```
    pub fn snapshot_with_progress(
        &self,
        dest: impl AsRef<Path>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<SnapshotReport, StoreError> {
        crate::snapshot::snapshot(&self.appender, dest.as_ref(), &mut progress)
    }

    /// Like [`Store::snapshot`], but the fork shares the sealed segments with
    /// this store by hard link instead of copying them (they never change,
    /// and a writer of either store only appends to its own copy of the
    /// active segment); the active segment, the heads file, the tree files
    /// and the sidecars are copied. [`ForkReport::files`](crate::ForkReport::files)
    /// says which file was linked and which copied. Where a link cannot be made
    /// (`dest` on another file system, a file system without hard links),
    /// the fork copies that segment and every later one and says so in
    /// [`ForkReport::link_fallback`](crate::ForkReport::link_fallback).
    /// Reflinks (copy-on-write clones) are not used.
    ///
    /// The refusals, the marker and the guarantees are those of
    /// [`Store::snapshot`]. The two stores then go their own ways: appends
    /// to one never reach the other's files, and they share payload keys (a
    /// shred in one does not shred the other). A linked segment is one file
    /// with two names: damage to it is damage to both stores.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::CopyStrategy;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let cfg = StoreConfig::new(dir.path().join("live")).with_segment_max_bytes(4096);
    /// let store = Store::open(cfg)?;
    /// let c = Coordinate::new("a", "s")?;
    /// for i in 0..100u32 {
    ///     store.append(&c, EventKind::custom(0xE, 1), &i)?; // several segments
    /// }
    /// let report = store.fork(dir.path().join("fork"))?;
    /// assert!(report.files.iter().any(|f| f.strategy == CopyStrategy::Linked));
    /// assert_eq!(report.link_fallback, None);
    /// let fork = Store::open(StoreConfig::new(dir.path().join("fork")))?;
    /// fork.append(&c, EventKind::custom(0xE, 1), &"only in the fork")?;
    /// assert_eq!((fork.len(), store.len()), (101, 100));
    /// # Ok(()) }
    /// ```
    pub fn fork(&self, dest: impl AsRef<Path>) -> Result<ForkReport, StoreError> {
        self.fork_with_progress(dest, |_, _| {})
    }

    /// [`Store::fork`] with progress as in [`Store::snapshot_with_progress`];
    /// a linked file counts as done, whole, when its link is made.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path().join("live")))?;
    /// store.append(&Coordinate::new("a", "s")?, EventKind::custom(0xE, 1), &1u8)?;
    /// let mut calls = 0;
    /// store.fork_with_progress(dir.path().join("fork"), |_, _| calls += 1)?;
    /// assert!(calls >= 2);
    /// # Ok(()) }
    /// ```
    pub fn fork_with_progress(
        &self,
        dest: impl AsRef<Path>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ForkReport, StoreError> {
        crate::snapshot::fork(&self.appender, dest.as_ref(), &mut progress)
    }

    /// Rewrites sealed segments (see [`crate::CompactionStrategy`]): `Merge` joins
    /// small ones into fewer, `Tombstone` strips the payloads of the events
    /// its predicate rejects. Appends go on meanwhile and wait only for the
    /// switch; every surviving frame is byte for byte what it was, and every
    /// hash, chain and proof still verifies. A crash at any step leaves the
    /// old segments or the new ones, and the next open says which
    /// ([`OpenReport::compaction`](crate::OpenReport::compaction)).
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{CompactionConfig, CompactionStrategy};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(4096))?;
    /// let c = Coordinate::new("order:1", "shop")?;
    /// for i in 0..200u32 {
    ///     store.append(&c, EventKind::custom(0xE, 1), &i)?;
    /// }
    /// let merge = CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(1 << 20);
    /// let report = store.compact(&merge)?;
    /// assert!(report.output_segments.len() < report.source_segments.len());
    /// assert!(store.verify_chain()?.is_intact());
    ///
    /// // Tombstones: odd payloads go, their headers and hashes stay.
    /// let odd = |ev: &StoredEvent<serde_json::Value>| ev.event.payload.as_u64().is_some_and(|n| n % 2 == 0);
    /// let report = store.compact(&CompactionConfig::new(CompactionStrategy::Tombstone(Box::new(odd))))?;
    /// assert!(report.events_tombstoned > 0);
    /// let first_odd = store.query(&Region::entity("order:1"))[1].event_id();
    /// assert!(matches!(store.get(first_odd), Err(StoreError::PayloadTombstoned { .. })));
    /// assert!(store.verify_chain()?.is_intact());
    /// # Ok(()) }
    /// ```
    pub fn compact(&self, config: &CompactionConfig) -> Result<CompactionReport, StoreError> {
        self.compact_with_progress(config, |_, _| {})
    }

    /// [`Store::compact`], calling `progress(done_bytes, total_bytes)` after
    /// each source segment is read (and once at the start). Cached
    /// projection states are dropped when tombstones were written, as a
    /// shred drops them.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{CompactionConfig, CompactionStrategy};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(4096))?;
    /// for i in 0..100u32 {
    ///     store.append(&Coordinate::new("a", "s")?, EventKind::custom(0xE, 1), &i)?;
    /// }
    /// let mut last = (0, 0);
    /// store.compact_with_progress(&CompactionConfig::new(CompactionStrategy::Merge), |d, t| last = (d, t))?;
    /// assert_eq!(last.0, last.1);
    /// # Ok(()) }
    /// ```
    pub fn compact_with_progress(
        &self,
        config: &CompactionConfig,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<CompactionReport, StoreError> {
        let report = crate::compact::compact(&self.appender, config, &mut progress)?;
        if report.events_tombstoned > 0 || report.events_dropped > 0 {
            // A state folded before may hold what the tombstones removed.
            self.projections().forget_all(self.shared())?;
        }
        Ok(report)
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
        self.append_with_options(coordinate, kind, payload, AppendOptions::default())
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
            self.appender
                .prepare(coordinate.clone(), kind, encode_payload(payload)?, options)?;
        self.appender.append_one(item)
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
        self.submit_one(coordinate, kind, payload, true)
    }

    /// Like [`Store::submit`], but fails with [`StoreError::Backpressure`]
    /// instead of blocking when the writer's queue is full.
    pub fn try_submit<P: Serialize + ?Sized>(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &P,
    ) -> Result<AppendTicket, StoreError> {
        self.submit_one(coordinate, kind, payload, false)
    }

    fn submit_one<P: Serialize + ?Sized>(
        &self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &P,
        block: bool,
    ) -> Result<AppendTicket, StoreError> {
        let item = self.appender.prepare(
            coordinate.clone(),
            kind,
            encode_payload(payload)?,
            AppendOptions::default(),
        )?;
        self.appender.send(vec![item], block)
    }

    /// Queues an atomic batch and returns at once with a ticket.
    pub fn submit_batch(&self, items: Vec<BatchAppendItem>) -> Result<AppendTicket, StoreError> {
        self.appender.submit_batch(items)
    }

    /// Makes every acknowledged append durable (useful under the non-durable sync modes).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.appender.sync()
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
        let result = self.appender.shutdown();
        // No more events: end every lossy subscription.
        self.shared().subscribers.close();
        if handle.join().is_err() {
            return Err(StoreError::WriterCrashed);
        }
        result
    }

    /// Records a denial as a system event of kind [`DENIAL_KIND`](crate::DENIAL_KIND) on
    /// `coordinate`'s entity and returns its (signed, when a key is
    /// configured) receipt. The proposal's payload hash is stored, never the
    /// payload.
    ///
    /// Fails with [`StoreError::InvalidGateRecord`] on an empty or over-long
    /// gate name or code.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{Denial, DENIAL_KIND};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("order:1", "shop")?;
    /// let r = store.append_denial(&coord, &Denial::new("limit", "too much").with_code("LIMIT"))?;
    /// assert_eq!(store.by_fact(DENIAL_KIND).len(), 1);
    /// assert_eq!(store.read_denial(r.event_id())?.code(), "LIMIT");
    /// # Ok(()) }
    /// ```
    pub fn append_denial(
        &self,
        coordinate: &Coordinate,
        denial: &Denial,
    ) -> Result<DenialReceipt, StoreError> {
        crate::denial::append_denial(&self.appender, coordinate, denial)
    }

    /// [`Store::append_denial`] with options: a correlation id puts the denial
    /// in the same thread as the events around it, a causation links it to
    /// the event that prompted the refused proposal. The payload version is
    /// always the denial record's own.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::Denial;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("order:1", "shop")?;
    /// let thread = CorrelationId::from_u128(7);
    /// let cmd = store.append_with_options(&coord, EventKind::custom(0xE, 1), &"pay",
    ///     AppendOptions::default().with_correlation_id(thread))?;
    /// let opts = AppendOptions::default()
    ///     .with_correlation_id(thread)
    ///     .with_causation(CausationRef::Event(cmd.event_id));
    /// let r = store.append_denial_with_options(&coord, &Denial::new("limit", "no"), opts)?;
    /// assert_eq!(store.correlated(thread).len(), 2);
    /// assert_eq!(store.caused_by(cmd.event_id)[0].event_id(), r.event_id());
    /// # Ok(()) }
    /// ```
    pub fn append_denial_with_options(
        &self,
        coordinate: &Coordinate,
        denial: &Denial,
        options: AppendOptions,
    ) -> Result<DenialReceipt, StoreError> {
        crate::denial::append_denial_with_options(&self.appender, coordinate, denial, options)
    }

    /// Subscribes to new events in `region`: a push feed over a bounded queue
    /// of [`Subscription::DEFAULT_CAPACITY`] notifications.
    ///
    /// The writer offers each event after it is visible to readers (and, under
    /// [`crate::SyncMode::EveryGroup`], durable), before the append's receipt
    /// is returned, and never blocks on a subscriber: when the queue is full
    /// the notification is dropped and counted ([`Subscription::missed`], and
    /// the next delivered [`Notification::missed`](crate::Notification::missed)). Only events appended
    /// after this call are offered. For a feed that never skips, use
    /// [`crate::StoreReader::cursor_guaranteed`].
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let sub = store.subscribe_lossy(&Region::scope("scope:1"));
    /// let kind = EventKind::custom(0xE, 1);
    /// store.append(&Coordinate::new("a", "scope:2")?, kind, &0u8)?;
    /// store.append(&Coordinate::new("a", "scope:1")?, kind, &1u8)?;
    /// let note = sub.recv_timeout(Duration::from_secs(1)).ok_or("nothing")?;
    /// assert_eq!(note.coordinate().scope(), "scope:1");
    /// assert!(sub.try_recv().is_none());
    /// # Ok(()) }
    /// ```
    pub fn subscribe_lossy(&self, region: &Region) -> Subscription {
        self.subscribe_lossy_with_capacity(region, Subscription::DEFAULT_CAPACITY)
    }

    /// [`Store::subscribe_lossy`] with a queue of `capacity` notifications (at least 1).
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy_with_capacity(&Region::all(), 16);
    /// # drop(sub);
    /// ```
    pub fn subscribe_lossy_with_capacity(&self, region: &Region, capacity: usize) -> Subscription {
        self.shared().subscribers.add(region.clone(), capacity)
    }

    /// Number of live lossy subscriptions (dropped ones are pruned first).
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy(&Region::all());
    /// assert_eq!(store.subscriber_count(), 1);
    /// drop(sub);
    /// assert_eq!(store.subscriber_count(), 0);
    /// ```
    pub fn subscriber_count(&self) -> usize {
        self.shared().subscribers.len()
    }

    /// Appends a typed payload under `T::KIND`, recording `T::PAYLOAD_VERSION`
    /// in the event header.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
    /// # #[batpak(category = 0xE, type_id = 0x313, version = 1)]
    /// # struct Ping { n: u32 }
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("e", "s")?;
    /// let receipt = store.append_typed(&coord, &Ping { n: 1 })?;
    /// assert_eq!(store.entry(receipt.event_id).map(|e| e.kind()), Some(Ping::KIND));
    /// # Ok(()) }
    /// ```
    pub fn append_typed<T: EventPayload + Serialize>(
        &self,
        coordinate: &Coordinate,
        payload: &T,
    ) -> Result<AppendReceipt, StoreError> {
        self.append_typed_with_options(coordinate, payload, AppendOptions::default())
    }

    /// [`Store::append_typed`] with options (expected sequence, idempotency
    /// key, correlation, causation). The payload version in `options` is
    /// replaced by `T::PAYLOAD_VERSION`: a typed append always records its type's version.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
    /// # #[batpak(category = 0xE, type_id = 0x314, version = 2)]
    /// # struct Ping { n: u32 }
    /// # struct V1; impl Upcast for V1 { const KIND: EventKind = Ping::KIND; const FROM: u16 = 1;
    /// #     fn upcast(v: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> { Ok(v) } }
    /// # batpak::register_upcast!(V1);
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("e", "s")?;
    /// let opts = AppendOptions::default().with_correlation_id(CorrelationId::from_u128(9));
    /// let receipt = store.append_typed_with_options(&coord, &Ping { n: 1 }, opts)?;
    /// let ev = store.get_typed::<Ping>(receipt.event_id)?;
    /// assert_eq!(ev.event.header.payload_version, 2);
    /// assert_eq!(ev.event.header.correlation_id, Some(CorrelationId::from_u128(9)));
    /// # Ok(()) }
    /// ```
    pub fn append_typed_with_options<T: EventPayload + Serialize>(
        &self,
        coordinate: &Coordinate,
        payload: &T,
        options: AppendOptions,
    ) -> Result<AppendReceipt, StoreError> {
        let options = options.with_payload_version(T::PAYLOAD_VERSION);
        self.append_with_options(coordinate, T::KIND, payload, options)
    }

    /// Runs `handler` on a thread for each event of `region` committed from
    /// now on, appending the reactions it returns (atomically per triggering
    /// event) with causation [`CausationRef::Event`](crate::CausationRef::Event) of that event.
    ///
    /// Events are read through a guaranteed cursor, so none is skipped while
    /// the reactor runs. A handler whose reactions fall in `region` sees them
    /// too. The loop ends at [`ReactorHandle::stop`] (or drop), or at the first
    /// failed append, which `stop` then returns.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// const SIGNED_UP: EventKind = EventKind::custom(0xE, 1);
    /// const WELCOMED: EventKind = EventKind::custom(0xE, 2);
    /// let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
    /// let reactor = store.react_loop(&Region::all().with_kind(SIGNED_UP), |ev| {
    ///     let mail = Coordinate::new(format!("mail:{}", ev.coordinate.entity()), "mail");
    ///     mail.and_then(|c| Reaction::new(c, WELCOMED, &"hello")).into_iter().collect()
    /// })?;
    /// assert!(reactor.is_running());
    /// let user = store.append(&Coordinate::new("user:1", "users")?, SIGNED_UP, &"ada")?;
    /// # let mut waited = 0;
    /// # while store.caused_by(user.event_id).is_empty() && waited < 500 {
    /// #     std::thread::sleep(Duration::from_millis(10)); waited += 1;
    /// # }
    /// let reactions = store.caused_by(user.event_id);
    /// assert_eq!(reactions.len(), 1);
    /// assert_eq!(reactions[0].coordinate().entity(), "mail:user:1");
    /// let stats = reactor.stop()?;
    /// assert_eq!(stats.reactions_appended, 1);
    /// # Ok(()) }
    /// ```
    pub fn react_loop<F>(
        self: &Arc<Self>,
        region: &Region,
        handler: F,
    ) -> Result<ReactorHandle, StoreError>
    where
        F: FnMut(&StoredEvent<serde_json::Value>) -> Vec<Reaction> + Send + 'static,
    {
        self.react_loop_with(region, ReactorOptions::default(), handler)
    }

    /// [`Store::react_loop`] with options: resume from (and keep saving) a checkpoint.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
    /// let opts = ReactorOptions::default().with_checkpoint(CheckpointId::new("auditor")?);
    /// let reactor = store.react_loop_with(&Region::all(), opts, |_ev| Vec::new())?;
    /// reactor.stop()?;
    /// # Ok(()) }
    /// ```
    pub fn react_loop_with<F>(
        self: &Arc<Self>,
        region: &Region,
        options: ReactorOptions,
        handler: F,
    ) -> Result<ReactorHandle, StoreError>
    where
        F: FnMut(&StoredEvent<serde_json::Value>) -> Vec<Reaction> + Send + 'static,
    {
        let cursor = self.cursor_guaranteed(region);
        let owner: crate::reactor::Owner = self.clone();
        crate::reactor::start(owner, self.appender.clone(), cursor, options, handler)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "closing store on drop failed");
        }
    }
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
    #[cfg(feature = "payload-encryption")]
    keyring: Option<Arc<crate::keyring::KeyRing>>,
}

impl ReadOnlyStore {
    /// Opens `cfg.dir()` for reading; the directory must exist and must not
    /// hold an unfinished snapshot or fork ([`StoreError::SnapshotIncomplete`]).
    pub fn open(mut cfg: StoreConfig) -> Result<Self, StoreError> {
        cfg.validate()?;
        crate::registry::check_at_open(cfg.payload_validation)?;
        crate::snapshot::refuse_unfinished_copy(&cfg)?;
        cfg.tail_policy = TailPolicy::RecoverTornTail;
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
        // Before the frames: every head a live writer recorded covers frames
        // already written.
        let heads = crate::evidence::load_heads(&cfg, false)?;
        let mut rec = recovery::recover(&with_floor(&cfg, &heads), Access::ReadOnly)?;
        // After the frames: a live writer flushes a key before any frame
        // sealed under it, so every frame recovery saw has its key in the
        // keyset read now (unless a shred destroyed it since).
        #[cfg(feature = "payload-encryption")]
        let keyring = install_keyring(&mut cfg, false)?;
        let verify = cfg.chain_verification == ChainVerification::Recompute;
        let shared = Shared::new(cfg, &mut rec, false);
        if verify {
            crate::verify::verify_at_open(&shared)?;
        }
        crate::notary::open_evidence(&shared, heads)?;
        Ok(Self {
            reader: StoreReader::new(shared),
            #[cfg(feature = "payload-encryption")]
            keyring,
        })
    }

    /// The read side as a handle of its own.
    pub fn reader(&self) -> &StoreReader {
        &self.reader
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.reader.shared
    }

    fn projections(&self) -> &ProjectionStates {
        &self.reader.projections
    }

    /// Re-reads the directory to see events committed since open (or the
    /// last refresh), and the keyset: keys the writer minted open, keys it
    /// destroyed shred here too (and drop this store's cached projections).
    pub fn refresh(&self) -> Result<(), StoreError> {
        let shared = self.shared();
        let heads = crate::evidence::load_heads(&shared.cfg, false)?;
        let mut rec = recovery::recover(&with_floor(&shared.cfg, &heads), Access::ReadOnly)?;
        // After the frames, as at open.
        #[cfg(feature = "payload-encryption")]
        if let Some(ring) = &self.keyring {
            if ring.reload()? {
                self.projections().forget_all(shared)?;
            }
        }
        let (next, hlc) = (rec.index.next_global_sequence(), rec.index.last_hlc);
        {
            // Files and index change together (in the order a compaction
            // takes them): a segment id may name another file now, and no
            // reader may pair a location with the wrong one.
            let mut files = shared.files.write();
            let mut index = shared.index.write();
            *files = std::mem::take(&mut rec.files);
            if let Some(cache) = &shared.cache {
                cache.clear();
            }
            *index = std::mem::take(&mut rec.index);
            // Under the index lock, as the writer does: `visible` covers what readers see.
            for mark in [Mark::Accepted, Mark::Written, Mark::Durable, Mark::Visible] {
                shared.marks.advance(mark, next, hlc);
            }
        }
        *shared.report.lock() = rec.report;
        crate::notary::open_evidence(shared, heads)
    }
}

impl Store {
    /// Appends the events `selector` picks from `source`, another open
    /// store, in the source's commit order, and reports what it did.
    ///
    /// Each imported event keeps its source's kind, coordinate, payload
    /// version, correlation id and stored payload bytes (so its
    /// `content_hash` is the source's), and gets its id, sequences, chain
    /// links and clocks here. Its header records
    /// [`GateAttestation::Imported`](crate::GateAttestation::Imported)
    /// (namespace, source event id, sequence and content hash) in place of
    /// any attestation the source event had, and the idempotency key
    /// [`ImportOptions::idempotency_key`]. Causation points at the imported
    /// copy of the cause when the cause was imported under the same
    /// namespace (in this call or before), and is dropped otherwise.
    ///
    /// Only events below the source's frontier at the start of the call
    /// (visible and durable) are considered. Reserved kinds, tombstoned
    /// payloads and copies of this store's own events are skipped and
    /// counted; see [`ImportReport`].
    ///
    /// Nothing is imported twice under one namespace, however often the
    /// import runs or wherever a crash stops it: the import first reads the
    /// header of every event of this store (one frame read per event; the
    /// ids found cost about 40 bytes each in memory for the call) to learn
    /// which source events are already here, then appends the rest in
    /// atomic batches. When it returns `Ok`, every event it counts as
    /// imported is durable, whatever the [`SyncMode`](crate::SyncMode).
    /// Imports into one store run one at a time.
    ///
    /// Refused before anything is written: a namespace that is blank, too
    /// long or holds a control character
    /// ([`StoreError::InvalidGateRecord`]), a source that is this store or
    /// its directory ([`StoreError::ImportFromItself`]), and either store
    /// with payload encryption on ([`StoreError::ImportWithEncryption`]).
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{GateAttestation, ImportOptions, ImportSelector};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let source = Store::open(StoreConfig::new(dir.path().join("site-a")))?;
    /// let target = Store::open(StoreConfig::new(dir.path().join("hq")))?;
    /// let coord = Coordinate::new("order:1", "shop")?;
    /// let placed = source.append(&coord, EventKind::custom(0xE, 1), &"placed")?;
    ///
    /// let r = target.import_events(&source, &ImportSelector::all(), &ImportOptions::new("site-a"))?;
    /// assert_eq!((r.imported, r.deduplicated), (1, 0));
    /// let copy = &target.by_entity("order:1")[0];
    /// let header = target.get(copy.event_id())?.event.header;
    /// assert_eq!(header.content_hash, placed.content_hash);
    /// let (ns, id, _, _) = header.attestation.as_ref().and_then(GateAttestation::provenance).ok_or("no provenance")?;
    /// assert_eq!((ns, id), ("site-a", placed.event_id));
    ///
    /// let again = target.import_events(source.reader(), &ImportSelector::all(), &ImportOptions::new("site-a"))?;
    /// assert_eq!((again.imported, again.deduplicated), (0, 1));
    /// # Ok(()) }
    /// ```
    pub fn import_events<S: AsRef<StoreReader> + ?Sized>(
        &self,
        source: &S,
        selector: &ImportSelector,
        options: &ImportOptions,
    ) -> Result<ImportReport, StoreError> {
        self.import_events_with_progress(source, selector, options, |_, _| {})
    }

    /// [`Store::import_events`], calling `progress(done, total)` in source
    /// global sequences: `total` is the span from the selector's start to
    /// the source frontier, `done` how much of it has been looked at. It is
    /// called with 0 at the start, after each batch and with `total` at the end.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{ImportOptions, ImportSelector};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let source = Store::open(StoreConfig::new(dir.path().join("a")))?;
    /// for i in 0..10u8 {
    ///     source.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &i)?;
    /// }
    /// let target = Store::open(StoreConfig::new(dir.path().join("b")))?;
    /// let mut seen = Vec::new();
    /// let options = ImportOptions::new("a").with_batch_size(4);
    /// target.import_events_with_progress(&source, &ImportSelector::after(1), &options, |d, t| seen.push((d, t)))?;
    /// assert_eq!(seen.first(), Some(&(0, 8)));
    /// assert_eq!(seen.last(), Some(&(8, 8)));
    /// # Ok(()) }
    /// ```
    pub fn import_events_with_progress<S: AsRef<StoreReader> + ?Sized>(
        &self,
        source: &S,
        selector: &ImportSelector,
        options: &ImportOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ImportReport, StoreError> {
        let _one_at_a_time = self.import_lock.lock();
        let source = source.as_ref().shared();
        crate::import::import(&self.appender, source, selector, options, &mut progress)
    }
}

impl AsRef<StoreReader> for Store {
    fn as_ref(&self) -> &StoreReader {
        &self.reader
    }
}

impl AsRef<StoreReader> for ReadOnlyStore {
    fn as_ref(&self) -> &StoreReader {
        &self.reader
    }
}

impl AsRef<StoreReader> for StoreReader {
    fn as_ref(&self) -> &StoreReader {
        self
    }
}

impl<Ctx: ?Sized> Pipeline<Ctx> {
    /// Appends an approved proposal to `coordinate`'s entity, recording its
    /// attestation in the event header (covered by `event_hash`, hence by the
    /// receipt signature). Returns the append receipt.
    pub fn commit(
        &self,
        store: &Store,
        coordinate: &Coordinate,
        approved: Approved,
    ) -> Result<AppendReceipt, StoreError> {
        crate::gate::commit(&store.appender, coordinate, approved)
    }
}
