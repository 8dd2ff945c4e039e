//! The read methods of [`Store`], [`ReadOnlyStore`] and [`StoreReader`],
//! declared once: each delegates to the engine or the read model that owns
//! the work.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{ReadOnlyStore, Store, StoreReader};
use crate::causal::CausalWalk;
use crate::cursor::{CheckpointId, Cursor};
use crate::denial::{BypassRecord, DenialReceipt};
use crate::error::StoreError;
use crate::event::StoredEvent;
use crate::gate::Denial;
use crate::head::{ConsistencyProof, HeadVerification, InclusionProof, TreeHead};
use crate::id::{CorrelationId, EventId, HlcPoint};
use crate::index::IndexEntry;
use crate::kind::EventKind;
use crate::projection::{EventSourced, Freshness};
use crate::receipt::AppendReceipt;
use crate::recovery::OpenReport;
use crate::region::Region;
use crate::typed::EventPayload;
use crate::verify::{AncestorWalk, ChainVerificationReport, ReceiptVerification, VerifyProgress};
use crate::watermark::{Frontier, Mark};

/// A doc example, shown (and tested) on [`Store`] only: the other two types
/// have the same methods and link there.
macro_rules! example {
    (full, $text:literal) => {
        $text
    };
    (see, $text:literal) => {
        "The same method exists on [`Store`], with an example."
    };
}

macro_rules! read_methods {
    ($ty:ty, $mode:ident) => {
        impl $ty {
        /// The event with this id, payload decoded as JSON.
        pub fn get(&self, id: EventId) -> Result<StoredEvent<serde_json::Value>, StoreError> {
            self.shared().get(id)
        }

        /// The event with this id, payload decoded into `T`.
        pub fn get_as<T: DeserializeOwned>(&self, id: EventId) -> Result<StoredEvent<T>, StoreError> {
            self.shared().get_as(id)
        }

        /// The event with this id and its payload as appended (MessagePack
        /// bytes). Under payload encryption the payload is opened first:
        /// [`StoreError::PayloadShredded`] if its key was destroyed.
        pub fn read_raw(&self, id: EventId) -> Result<StoredEvent<Vec<u8>>, StoreError> {
            self.shared().read_raw(id)
        }

        /// The event with this id and its payload exactly as stored: what
        /// `content_hash` covers. Under payload encryption that is the sealed
        /// payload (see `docs/FORMAT.md`), readable without any key, also
        /// after a shred; otherwise the same bytes as [`Self::read_raw`].
        pub fn read_stored(&self, id: EventId) -> Result<StoredEvent<Vec<u8>>, StoreError> {
            self.shared().read_stored(id)
        }

        /// Every committed event in `region`, in commit order.
        pub fn query(&self, region: &Region) -> Vec<IndexEntry> {
            self.shared().query(region)
        }

        /// At most `limit` events in `region` whose global sequence is after `after`
        /// (from the start when `None`), in commit order: a page of a scan.
        pub fn query_entries_after(
            &self,
            region: &Region,
            after: Option<u64>,
            limit: usize,
        ) -> Vec<IndexEntry> {
            self.shared().query_entries_after(region, after, limit)
        }

        /// Every event of exactly this entity, in order.
        pub fn by_entity(&self, entity: &str) -> Vec<IndexEntry> {
            self.shared().query(&Region::entity(entity))
        }

        /// Every event filed under exactly this scope, in commit order.
        pub fn by_scope(&self, scope: &str) -> Vec<IndexEntry> {
            self.shared().query(&Region::scope(scope))
        }

        /// Every event of this kind, in commit order.
        pub fn by_fact(&self, kind: EventKind) -> Vec<IndexEntry> {
            self.shared().by_fact(kind)
        }

        /// Events whose causation id is `parent`, in commit order.
        pub fn caused_by(&self, parent: EventId) -> Vec<IndexEntry> {
            let read = self.shared().index.read().caused_by(parent);
            self.shared().or_reported(read, Vec::new())
        }

        /// Events carrying this correlation id, in commit order.
        pub fn correlated(&self, id: CorrelationId) -> Vec<IndexEntry> {
            let read = self.shared().index.read().correlated(id);
            self.shared().or_reported(read, Vec::new())
        }

        /// The index entry of an event.
        pub fn entry(&self, id: EventId) -> Option<IndexEntry> {
            self.shared().entry(id)
        }

        /// Number of committed events visible to readers.
        pub fn len(&self) -> u64 {
            self.shared().index.read().len() as u64
        }

        /// True if no event is committed.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Names of every entity with at least one event (unordered).
        pub fn entities(&self) -> Vec<String> {
            self.shared().index.read().entity_names().map(|n| n.to_string()).collect()
        }

        /// Events the Merkle tree covers: every visible event, in commit order.
        pub fn tree_size(&self) -> u64 {
            crate::prove::tree_size(self.shared())
        }

        /// The root of the Merkle tree of the first `size` events;
        /// [`StoreError::TreeSizeOutOfRange`] beyond the log.
        pub fn tree_root(&self, size: u64) -> Result<[u8; 32], StoreError> {
            crate::prove::tree_root(self.shared(), size)
        }

        /// The newest tree head in the heads file (`None` before the first).
        pub fn latest_head(&self) -> Option<TreeHead> {
            let evidence = &self.shared().evidence;
            evidence.heads.lock().latest(&evidence.origin)
        }

        /// The origin line of this store's checkpoints.
        pub fn log_origin(&self) -> &str {
            &self.shared().evidence.origin
        }

        /// Proof that event `id` is in the tree of the first `tree_size`
        /// events (RFC 9162 inclusion proof, checked before it is returned).
        /// [`StoreError::TreeSizeOutOfRange`] if `tree_size` is beyond the log
        /// or does not cover the event.
        pub fn prove_inclusion(&self, id: EventId, tree_size: u64) -> Result<InclusionProof, StoreError> {
            crate::prove::prove_inclusion(self.shared(), id, tree_size)
        }

        /// Proof that the tree of `old_size` events is a prefix of the tree
        /// of `new_size` events (RFC 9162 consistency proof).
        pub fn prove_consistency(&self, old_size: u64, new_size: u64) -> Result<ConsistencyProof, StoreError> {
            crate::prove::prove_consistency(self.shared(), old_size, new_size)
        }

        /// Checks the log against a head kept earlier: recomputes every
        /// event's leaf from its frame and the tree root at the head's size.
        /// [`HeadVerification::extends_head`] says whether the log still
        /// holds the head's events unchanged (truncation, rewrite and fork
        /// all fail it). Verify the head's signature first
        /// (`proofbat::verify_note`): this checks the log, not the head.
        pub fn verify_against_head(&self, head: &proofbat::Checkpoint) -> Result<HeadVerification, StoreError> {
            crate::prove::verify_against_head(self.shared(), head, |_, _| {})
        }

        /// [`Self::verify_against_head`], calling `progress(done, total)`
        /// every 65,536 events and at the end.
        pub fn verify_against_head_with_progress(
            &self,
            head: &proofbat::Checkpoint,
            progress: impl FnMut(u64, u64),
        ) -> Result<HeadVerification, StoreError> {
            crate::prove::verify_against_head(self.shared(), head, progress)
        }

        /// What opening the store found (segments, events, a recovered torn tail).
        pub fn open_report(&self) -> OpenReport {
            let rebuilt = self.shared().index.read().cache().rebuilt();
            let mut report = self.shared().report.lock().clone();
            report.index_files_rebuilt_after_open = rebuilt;
            report
        }

        /// What the index holds in memory now, and the bound on it (see
        /// [`IndexStats`](crate::IndexStats)).
        pub fn index_stats(&self) -> crate::IndexStats {
            self.shared().index.read().stats()
        }

        /// The data directory.
        pub fn dir(&self) -> &Path {
            &self.shared().cfg.dir
        }

        /// Follows causation links up from `id`: the event, its cause, that
        /// event's cause, ... at most `limit` events (the starting event always
        /// counts), newest first, and the [`CausalBoundary`](crate::CausalBoundary) that ended the walk.
        ///
        /// Fails only if the starting event is absent or unreadable.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
use batpak::CausalBoundary;
# fn main() -> Result<(), Box<dyn std::error::Error>> {
let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
const K: EventKind = EventKind::custom(0xE, 1);
let order = Coordinate::new("order:1", "shop")?;
let stock = Coordinate::new("stock:9", "shop")?;
let placed = store.append(&order, K, &"placed")?;
let reserved = store.append_with_options(&stock, K, &"reserved",
    AppendOptions::default().with_causation(CausationRef::Event(placed.event_id)))?;
let shipped = store.append_with_options(&order, K, &"shipped",
    AppendOptions::default().with_causation(CausationRef::Event(reserved.event_id)))?;

let walk = store.causal_ancestors(shipped.event_id, 100)?;
assert_eq!(walk.ids(), [shipped.event_id, reserved.event_id, placed.event_id]);
assert_eq!(walk.boundary, CausalBoundary::ReachedRoot);
assert_eq!(store.causal_ancestors(shipped.event_id, 2)?.boundary, CausalBoundary::LimitReached);
# Ok(()) }
```
"#)]
        pub fn causal_ancestors(&self, id: EventId, limit: usize) -> Result<CausalWalk, StoreError> {
            crate::causal::causal_ancestors(self.shared(), id, limit)
        }

        /// A guaranteed cursor over `region`, from its first event.
        ///
        /// Works on [`crate::Store`] and [`crate::ReadOnlyStore`] alike (the latter
        /// sees what open or its last refresh found, and cannot save checkpoints).
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
let coord = Coordinate::new("entity:a", "scope:1")?;
let first = store.append(&coord, EventKind::custom(0xE, 1), &1u8)?;
let mut cursor = store.cursor_guaranteed(&Region::all());
let batch = cursor.poll_batch(100)?;
assert_eq!(batch[0].event_id(), first.event_id);
# Ok(()) }
```
"#)]
        pub fn cursor_guaranteed(&self, region: &Region) -> Cursor {
            crate::cursor::cursor_guaranteed(self.shared(), region)
        }

        /// A guaranteed cursor over `region`, after the last event checkpoint `id` recorded.
        ///
        /// Fails with [`StoreError::CursorCheckpointNotFound`] if there is no such
        /// checkpoint, [`StoreError::CursorCheckpointRegionMismatch`] if it was
        /// saved for another region, [`StoreError::CursorCheckpointCorrupt`] if
        /// the file is damaged, and [`StoreError::CursorCheckpointAhead`] if it
        /// names an event this store does not hold at that position.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
let id = CheckpointId::new("worker-1")?;
store.cursor_guaranteed(&Region::scope("a")).save_checkpoint(&id)?;
assert!(store.cursor_from_checkpoint(&Region::scope("a"), &id).is_ok());
let err = store.cursor_from_checkpoint(&Region::scope("b"), &id).unwrap_err();
assert!(matches!(err, StoreError::CursorCheckpointRegionMismatch { .. }));
# Ok(()) }
```
"#)]
        pub fn cursor_from_checkpoint(
            &self,
            region: &Region,
            id: &CheckpointId,
        ) -> Result<Cursor, StoreError> {
            crate::cursor::cursor_from_checkpoint(self.shared(), region, id)
        }

        /// Checks a denial receipt: the receipt against the stored event (as
        /// [`Self::verify_append_receipt`] does, hashes recomputed from disk), the
        /// event's kind ([`DENIAL_KIND`](crate::DENIAL_KIND)), and that the stored record is the
        /// receipt's denial. A mismatch names the field: `"kind"` or `"denial"`.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
use batpak::Denial;
# fn main() -> Result<(), Box<dyn std::error::Error>> {
let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
let coord = Coordinate::new("order:1", "shop")?;
let mut r = store.append_denial(&coord, &Denial::new("limit", "too much"))?;
assert!(store.verify_denial_receipt(&r).is_valid());
r.denial = r.denial.with_context("edited", "after the fact");
assert_eq!(store.verify_denial_receipt(&r), ReceiptVerification::Mismatch { field: "denial" });
# Ok(()) }
```
"#)]
        pub fn verify_denial_receipt(&self, receipt: &DenialReceipt) -> ReceiptVerification {
            crate::denial::verify_denial_receipt(self.shared(), receipt)
        }

        /// Reads a recorded denial back. Fails with [`StoreError::KindMismatch`]
        /// if the event is not a denial record.
        pub fn read_denial(&self, id: EventId) -> Result<Denial, StoreError> {
            crate::denial::read_denial(self.shared(), id)
        }

        /// Every committed event whose gates were bypassed, in commit order.
        ///
        /// Reads every frame (the attestation is in the hashed frame, not in the
        /// index), so it costs a scan like [`Self::verify_chain`]; an unreadable
        /// frame fails the listing rather than leaving a silent gap.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
use batpak::{BypassReason, GateSet, Pipeline, Proposal};
# fn main() -> Result<(), Box<dyn std::error::Error>> {
let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
let pipeline: Pipeline<()> = Pipeline::new(GateSet::new());
let approved = pipeline.bypass(
    Proposal::new(EventKind::custom(0xE, 1), &1u8)?,
    BypassReason::new("INC-7", "restore from backup"),
)?;
let r = pipeline.commit(&store, &Coordinate::new("e", "s")?, approved)?;
let list = store.bypasses()?;
assert_eq!((list[0].event_id, list[0].ticket.as_str()), (r.event_id, "INC-7"));
# Ok(()) }
```
"#)]
        pub fn bypasses(&self) -> Result<Vec<BypassRecord>, StoreError> {
            crate::denial::bypasses(self.shared())
        }

        /// [`Self::bypasses`] restricted to `region` (reads only that region's frames).
        pub fn bypasses_in(&self, region: &Region) -> Result<Vec<BypassRecord>, StoreError> {
            crate::denial::bypasses_in(self.shared(), region)
        }

        /// Folds `entity`'s relevant events into `T`, or `None` if it has none.
        ///
        /// With [`Freshness::Consistent`] the result reflects every event visible
        /// when the call starts; with [`Freshness::MaybeStale`] a cached state
        /// refreshed within `max_age` may be returned as is. With the cache on
        /// (see [`ProjectionCache`](crate::ProjectionCache)), only events after the cached state's last
        /// one are read.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
use std::time::Duration;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Counter { n: u64 }
impl EventSourced for Counter {
    fn apply(&mut self, _event: &StoredEvent<serde_json::Value>) { self.n += 1; }
}

# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
let coord = Coordinate::new("entity:a", "scope:1")?;
for n in 0..3u8 { store.append(&coord, EventKind::custom(0xE, 1), &n)?; }
let c: Option<Counter> = store.project("entity:a", &Freshness::Consistent)?;
assert_eq!(c.map(|c| c.n), Some(3));
store.append(&coord, EventKind::custom(0xE, 1), &3u8)?;
let stale = Freshness::MaybeStale { max_age: Duration::from_secs(60) };
let maybe: Option<Counter> = store.project("entity:a", &stale)?;
assert!(matches!(maybe.map(|c| c.n), Some(3 | 4)));
let now: Option<Counter> = store.project("entity:a", &Freshness::Consistent)?;
assert_eq!(now.map(|c| c.n), Some(4));
# Ok(()) }
```
"#)]
        pub fn project<T: EventSourced>(
            &self,
            entity: &str,
            freshness: &Freshness,
        ) -> Result<Option<T>, StoreError> {
            crate::projection::project(self.shared(), self.projections(), entity, freshness)
        }

        /// The event with this id, decoded into the payload type `T`.
        ///
        /// Fails with [`StoreError::KindMismatch`] when the event is not of
        /// `T::KIND`, [`StoreError::FutureVersion`] when it was written by a newer
        /// schema than `T::PAYLOAD_VERSION`, and lifts older versions through the
        /// registered [`crate::Upcast`] steps (the stored bytes are untouched).
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
# #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
# #[batpak(category = 0xE, type_id = 0x311)]
# struct Ping { n: u32 }
# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
# let store = Store::open(StoreConfig::new(dir.path()))?;
# let coord = Coordinate::new("e", "s")?;
let receipt = store.append_typed(&coord, &Ping { n: 3 })?;
let ev = store.get_typed::<Ping>(receipt.event_id)?;
assert_eq!(ev.event.payload.n, 3);
assert_eq!(ev.event.header.payload_version, 1);
# Ok(()) }
```
"#)]
        pub fn get_typed<T: EventPayload + DeserializeOwned>(
            &self,
            id: EventId,
        ) -> Result<StoredEvent<T>, StoreError> {
            self.shared().read_raw(id)?.decode_typed()
        }

        /// Index entries of every event of `T::KIND`, in commit order.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
# #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
# #[batpak(category = 0xE, type_id = 0x312)]
# struct Ping { n: u32 }
# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
# let store = Store::open(StoreConfig::new(dir.path()))?;
# let coord = Coordinate::new("e", "s")?;
store.append_typed(&coord, &Ping { n: 1 })?;
store.append_typed(&coord, &Ping { n: 2 })?;
let entries = store.by_fact_typed::<Ping>();
assert_eq!(entries.len(), 2);
assert!(entries.iter().all(|e| e.kind() == Ping::KIND));
# Ok(()) }
```
"#)]
        pub fn by_fact_typed<T: EventPayload>(&self) -> Vec<IndexEntry> {
            self.by_fact(T::KIND)
        }

        /// Recomputes `content_hash` and `event_hash` of every committed event
        /// from the bytes on disk and checks every `prev_hash` link.
        ///
        /// Checks the prefix committed when it starts; appends may continue meanwhile.
        pub fn verify_chain(&self) -> Result<ChainVerificationReport, StoreError> {
            crate::verify::verify_chain(self.shared())
        }

        /// [`Self::verify_chain`], calling `progress` after every few thousand events.
        pub fn verify_chain_with_progress(
            &self,
            progress: impl FnMut(VerifyProgress),
        ) -> Result<ChainVerificationReport, StoreError> {
            crate::verify::verify_chain_with_progress(self.shared(), progress)
        }

        /// Checks a receipt against the stored event, recomputing its hashes from
        /// the bytes on disk, and checks the receipt's signature.
        ///
        /// A signed receipt is checked against the store's configured key; on a
        /// store without one, against the receipt's own `key_id` (compare that with
        /// the key you trust).
        pub fn verify_append_receipt(&self, receipt: &AppendReceipt) -> ReceiptVerification {
            crate::verify::verify_append_receipt(self.shared(), receipt)
        }

        /// The event and its entity ancestors, newest first, at most `limit` events.
        pub fn walk_ancestors(
            &self,
            id: EventId,
            limit: usize,
        ) -> Result<Vec<StoredEvent<serde_json::Value>>, StoreError> {
            crate::verify::walk_ancestors(self.shared(), id, limit)
        }

        /// Like [`Self::walk_ancestors`], also saying why the walk stopped.
        /// Fails only if the starting event is absent or unreadable.
        pub fn walk_ancestors_outcome(
            &self,
            id: EventId,
            limit: usize,
        ) -> Result<AncestorWalk, StoreError> {
            crate::verify::walk_ancestors_outcome(self.shared(), id, limit)
        }

        /// The four watermarks, read together.
        ///
        /// On a [`crate::ReadOnlyStore`] every mark is the end of what open (or the
        /// last [`crate::ReadOnlyStore::refresh`]) found.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
assert_eq!(store.frontier().accepted.next_global_sequence, 0);
# Ok(()) }
```
"#)]
        pub fn frontier(&self) -> Frontier {
            self.shared().marks.frontier()
        }

        /// Waits until every event up to HLC `point` is durable, and returns the
        /// frontier that showed it.
        ///
        /// Fails with [`StoreError::WaitTimeout`] after `timeout`, and with
        /// [`StoreError::WriterFailed`] if the writer fail-stops meanwhile. Under
        /// the non-durable [`crate::SyncMode`]s durability comes with the next
        /// interval sync, `sync()`, rotation or close.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
use std::time::Duration;
# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
let coord = Coordinate::new("entity:a", "scope:1")?;
let receipt = store.submit(&coord, EventKind::custom(0xE, 1), &1u8)?.wait()?;
let f = store.wait_for_durable(receipt.hlc_point(), Duration::from_secs(1))?;
assert!(f.durable.covers_sequence(receipt.global_sequence));
# Ok(()) }
```
"#)]
        pub fn wait_for_durable(
            &self,
            point: HlcPoint,
            timeout: Duration,
        ) -> Result<Frontier, StoreError> {
            self.shared().marks.wait_for(Mark::Durable, point, timeout)
        }

        /// Waits until every event up to HLC `point` is visible to readers; see
        /// [`StoreReader::wait_for_durable`] for the errors.
        #[doc = example!($mode, r#"
```
use batpak::prelude::*;
use std::time::Duration;
# fn main() -> Result<(), Box<dyn std::error::Error>> {
# let dir = tempfile::tempdir()?;
let store = Store::open(StoreConfig::new(dir.path()))?;
let coord = Coordinate::new("entity:a", "scope:1")?;
let receipt = store.append(&coord, EventKind::custom(0xE, 1), &1u8)?;
store.wait_for_visible(receipt.hlc_point(), Duration::from_secs(1))?;
assert!(store.entry(receipt.event_id).is_some());
let far = HlcPoint::new(u64::MAX, 0);
let err = store.wait_for_visible(far, Duration::from_millis(10)).unwrap_err();
assert!(matches!(err, StoreError::WaitTimeout { .. }));
# Ok(()) }
```
"#)]
        pub fn wait_for_visible(
            &self,
            point: HlcPoint,
            timeout: Duration,
        ) -> Result<Frontier, StoreError> {
            self.shared().marks.wait_for(Mark::Visible, point, timeout)
        }
        }
    };
}

read_methods!(Store, full);
read_methods!(ReadOnlyStore, see);
read_methods!(StoreReader, see);
