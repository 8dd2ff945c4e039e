//! Importing events from another store: each selected source event is
//! appended again, in source commit order, with its payload bytes (and so
//! its `content_hash`) unchanged and a [`GateAttestation::Imported`] in its
//! header that says where it came from.
//!
//! What an import must never do is append one source event twice. Every
//! imported event carries an idempotency key derived from its namespace and
//! source event id ([`ImportOptions::idempotency_key`]), but the writer
//! remembers keys only within its retention window, so the exact record is
//! the attestation itself: at the start of an import the destination's
//! frames are read once and the source ids already imported under the
//! namespace are collected. Batches are atomic and a crash loses at most a
//! suffix of the log, so after any crash the frames on disk are the exact
//! list of what was imported, and running the import again appends exactly
//! the rest.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::append::Appender;
use crate::attestation::GateAttestation;
use crate::chain;
use crate::engine::Shared;
use crate::error::StoreError;
use crate::event::{decode_json_payload, StoredEvent};
use crate::format::is_sealed;
use crate::id::{EventId, IdempotencyKey};
use crate::index::IndexEntry;
use crate::options::{AppendOptions, CausationRef};
use crate::region::Region;
use crate::writer::PreparedItem;

/// The context string of the idempotency key derivation (blake3 `derive_key`).
const KEY_CONTEXT: &str = "batpak 2026 import idempotency key v1";

/// Index entries read per page, from either store.
const SCAN_PAGE: usize = 1024;

/// Which source events an import considers: those in a [`Region`] (all, by
/// default) with a global sequence after a resume point (none, by default),
/// below the source's frontier when the import starts.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::ImportSelector;
/// let everything = ImportSelector::all();
/// let orders_after_41 = ImportSelector::region(Region::scope("orders")).with_after(41);
/// assert_eq!(ImportSelector::after(41).with_region(Region::scope("orders")), orders_after_41);
/// assert_ne!(everything, orders_after_41);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSelector {
    region: Region,
    after: Option<u64>,
}

impl ImportSelector {
    /// Every source event.
    ///
    /// ```
    /// assert_eq!(batpak::ImportSelector::all(), batpak::ImportSelector::default());
    /// ```
    pub fn all() -> Self {
        Self::default()
    }

    /// The source events in `region`.
    ///
    /// ```
    /// use batpak::{ImportSelector, Region};
    /// let s = ImportSelector::region(Region::entity("order:1"));
    /// # let _ = s;
    /// ```
    pub fn region(region: Region) -> Self {
        Self::all().with_region(region)
    }

    /// The source events whose global sequence is greater than `global_sequence`.
    ///
    /// ```
    /// use batpak::ImportSelector;
    /// assert_eq!(ImportSelector::after(9), ImportSelector::all().with_after(9));
    /// ```
    pub fn after(global_sequence: u64) -> Self {
        Self::all().with_after(global_sequence)
    }

    /// Replaces the region.
    ///
    /// ```
    /// use batpak::{ImportSelector, Region};
    /// let s = ImportSelector::after(3).with_region(Region::scope("s"));
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Replaces the resume point: only source events after `global_sequence`
    /// (exclusive) are considered.
    ///
    /// ```
    /// use batpak::{ImportSelector, Region};
    /// let s = ImportSelector::region(Region::scope("s")).with_after(3);
    /// # let _ = s;
    /// ```
    #[must_use]
    pub fn with_after(mut self, global_sequence: u64) -> Self {
        self.after = Some(global_sequence);
        self
    }
}

/// Decides whether a source event is imported (`true`) or counted as
/// filtered (`false`).
type ImportFilter = Box<dyn Fn(&StoredEvent<serde_json::Value>) -> bool + Send>;

/// How an import runs: the namespace naming the source, the batch size and
/// an optional filter.
///
/// The namespace is the source's identity as far as the destination knows:
/// the same source must be imported under the same namespace every time,
/// else its events are imported again. It is recorded in every imported
/// event's attestation and is checked (1 to
/// [`MAX_IMPORT_NAMESPACE_LEN`](crate::MAX_IMPORT_NAMESPACE_LEN) bytes, not
/// blank, no control characters) when the import starts.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::ImportOptions;
/// let kind = EventKind::custom(0xE, 1);
/// let options = ImportOptions::new("site-a")
///     .with_batch_size(64)
///     .with_filter(move |ev| ev.header().kind == kind);
/// assert_eq!(options.namespace(), "site-a");
/// assert_eq!(options.batch_size(), 64);
/// ```
pub struct ImportOptions {
    namespace: String,
    batch_size: usize,
    filter: Option<ImportFilter>,
}

impl fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportOptions")
            .field("namespace", &self.namespace)
            .field("batch_size", &self.batch_size)
            .field("filter", &self.filter.as_ref().map(|_| "…"))
            .finish()
    }
}

impl ImportOptions {
    /// Events per atomic batch unless [`Self::with_batch_size`] says otherwise.
    pub const DEFAULT_BATCH_SIZE: usize = 256;

    /// Options for importing the source named `namespace`.
    ///
    /// ```
    /// let o = batpak::ImportOptions::new("site-a");
    /// assert_eq!(o.batch_size(), batpak::ImportOptions::DEFAULT_BATCH_SIZE);
    /// ```
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            batch_size: Self::DEFAULT_BATCH_SIZE,
            filter: None,
        }
    }

    /// Events per atomic batch (at least 1; the import also keeps each batch
    /// within the destination's batch limits on items and bytes).
    ///
    /// ```
    /// assert_eq!(batpak::ImportOptions::new("a").with_batch_size(0).batch_size(), 1);
    /// ```
    #[must_use]
    pub fn with_batch_size(mut self, events: usize) -> Self {
        self.batch_size = events.max(1);
        self
    }

    /// Imports only the source events for which `filter` returns `true`;
    /// the others are counted in [`ImportReport::filtered`]. The filter sees
    /// the source event (its header, coordinate and payload as JSON). It is
    /// not asked about events the import skips anyway (reserved kinds,
    /// events already imported).
    ///
    /// ```
    /// use batpak::ImportOptions;
    /// let o = ImportOptions::new("a").with_filter(|ev| ev.coordinate.scope() == "eu");
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn with_filter<F>(mut self, filter: F) -> Self
    where
        F: Fn(&StoredEvent<serde_json::Value>) -> bool + Send + 'static,
    {
        self.filter = Some(Box::new(filter));
        self
    }

    /// The namespace.
    ///
    /// ```
    /// assert_eq!(batpak::ImportOptions::new("site-a").namespace(), "site-a");
    /// ```
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Events per batch, before the destination's limits.
    ///
    /// ```
    /// assert_eq!(batpak::ImportOptions::new("a").with_batch_size(9).batch_size(), 9);
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The idempotency key an event imported under this namespace from the
    /// source event `source_event_id` carries: the first 16 bytes of
    /// `blake3::derive_key("batpak 2026 import idempotency key v1", m)`,
    /// where `m` is the namespace's byte length (u32 little-endian), its
    /// UTF-8 bytes, and the source event id (16 bytes, big-endian).
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::ImportOptions;
    /// let id = EventId::from_u128(7);
    /// let key = ImportOptions::new("site-a").idempotency_key(id);
    /// assert_eq!(key, ImportOptions::new("site-a").idempotency_key(id));
    /// assert_ne!(key, ImportOptions::new("site-b").idempotency_key(id));
    /// ```
    pub fn idempotency_key(&self, source_event_id: EventId) -> IdempotencyKey {
        idempotency_key(&self.namespace, source_event_id)
    }
}

fn idempotency_key(namespace: &str, source_event_id: EventId) -> IdempotencyKey {
    let len = u32::try_from(namespace.len()).unwrap_or(u32::MAX);
    let mut material = Vec::with_capacity(4 + namespace.len() + 16);
    material.extend_from_slice(&len.to_le_bytes());
    material.extend_from_slice(namespace.as_bytes());
    material.extend_from_slice(&source_event_id.as_u128().to_be_bytes());
    let derived = blake3::derive_key(KEY_CONTEXT, &material);
    let mut key = [0u8; 16];
    key.copy_from_slice(&derived[..16]);
    IdempotencyKey::from_bytes(key)
}

/// What an import did with the source events it considered. Every selected
/// source event below [`ImportReport::source_frontier`] is counted in
/// exactly one of the other fields.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::{ImportOptions, ImportSelector};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let source = Store::open(StoreConfig::new(dir.path().join("a")))?;
/// source.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1u8)?;
/// let target = Store::open(StoreConfig::new(dir.path().join("b")))?;
/// let r = target.import_events(&source, &ImportSelector::all(), &ImportOptions::new("a"))?;
/// assert_eq!((r.imported, r.deduplicated, r.source_frontier), (1, 0, 1));
/// assert_eq!(r.considered(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ImportReport {
    /// Events appended to the destination by this import.
    pub imported: u64,
    /// Events an earlier import under the same namespace had already appended.
    pub deduplicated: u64,
    /// Events the filter refused.
    pub filtered: u64,
    /// Events of a reserved kind (the source's own records: denials and
    /// markers), which belong to the source and are never imported.
    pub skipped_reserved: u64,
    /// Events whose payload compaction had removed (a tombstone in its
    /// place): there are no bytes with the source's `content_hash` to copy.
    pub skipped_tombstoned: u64,
    /// Events that are themselves copies of one of the destination's own
    /// events (their provenance names an event of the destination):
    /// importing them back would duplicate what the destination has.
    pub skipped_own_copies: u64,
    /// The source's frontier when the import started: one past the last
    /// global sequence the import could consider. Source events from this
    /// sequence on were not looked at; an import with
    /// `ImportSelector::after(source_frontier - 1)` takes up from here.
    pub source_frontier: u64,
}

impl ImportReport {
    /// Source events the import considered: the sum of every count.
    ///
    /// ```
    /// assert_eq!(batpak::ImportReport::default().considered(), 0);
    /// ```
    pub fn considered(&self) -> u64 {
        self.imported
            + self.deduplicated
            + self.filtered
            + self.skipped_reserved
            + self.skipped_tombstoned
            + self.skipped_own_copies
    }
}

/// The source ids imported under one namespace, each with its event id in
/// the destination (to point causation at).
type Imported = HashMap<EventId, EventId, RandomState>;

/// Runs an import into the store `appender` writes to, from `source`.
/// The caller holds the destination's import lock.
pub(crate) fn import(
    appender: &Appender,
    source: &Arc<Shared>,
    selector: &ImportSelector,
    options: &ImportOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport, StoreError> {
    let dest = appender.shared();
    let namespace = options.namespace.as_str();
    refuse(dest, source, namespace)?;
    // The frontier once, now: durable and visible, so nothing is imported
    // that a crash of a live source could still take back.
    let marks = source.marks.frontier();
    let frontier = marks
        .visible
        .next_global_sequence
        .min(marks.durable.next_global_sequence);
    let start = selector
        .after
        .map_or(0, |a| a.saturating_add(1))
        .min(frontier);
    let total = frontier - start;
    progress(0, total);
    let mut imported = already_imported(dest, namespace)?;
    let cfg = &dest.cfg;
    let batch_items = options.batch_size.min(cfg.max_batch_items).max(1);
    let mut report = ImportReport {
        source_frontier: frontier,
        ..ImportReport::default()
    };
    let mut batch = Batch::default();
    let mut after = selector.after;
    'pages: loop {
        let page = source.query_entries_after(&selector.region, after, SCAN_PAGE);
        if page.is_empty() {
            break;
        }
        for entry in &page {
            if entry.global_sequence >= frontier {
                break 'pages;
            }
            after = Some(entry.global_sequence);
            let Some(item) = admit(dest, source, entry, options, &imported, &mut report)? else {
                continue;
            };
            let full = batch.items.len() >= batch_items
                || batch.bytes + item.payload.len() > cfg.max_batch_bytes;
            if full && !batch.items.is_empty() {
                batch.commit(appender, &mut imported, &mut report)?;
                progress(entry.global_sequence - start, total);
            }
            batch.push(item, entry.event_id, &imported);
        }
    }
    batch.commit(appender, &mut imported, &mut report)?;
    if cfg.sync_mode != crate::config::SyncMode::EveryGroup {
        // Under a non-durable sync mode: what the report counts is on disk
        // when the call returns.
        appender.sync()?;
    }
    progress(total, total);
    Ok(report)
}

/// The refusals checked before anything is read or written.
fn refuse(dest: &Arc<Shared>, source: &Arc<Shared>, namespace: &str) -> Result<(), StoreError> {
    GateAttestation::Imported {
        namespace: namespace.to_owned(),
        source_event_id: EventId::from_u128(0),
        source_sequence: 0,
        source_content_hash: [0; 32],
    }
    .validate()?;
    if Arc::ptr_eq(dest, source) || same_directory(dest, source) {
        return Err(StoreError::ImportFromItself {
            path: dest.cfg.dir.clone(),
        });
    }
    // A sealed payload is bound (by its associated data) to its event id
    // and to a key of the store that sealed it: copied, it could never be
    // opened, and sealing again would change its content hash.
    if dest.cfg.payload_transform.is_some() {
        return Err(StoreError::ImportWithEncryption {
            store: "destination",
            event_id: None,
        });
    }
    if source.cfg.payload_transform.is_some() {
        return Err(StoreError::ImportWithEncryption {
            store: "source",
            event_id: None,
        });
    }
    Ok(())
}

/// True when both stores live in one directory (a read-only open of the
/// destination, say), compared after resolving links.
fn same_directory(dest: &Shared, source: &Shared) -> bool {
    let resolve = |s: &Shared| {
        s.cfg
            .fs
            .canonicalize(&s.cfg.dir)
            .unwrap_or_else(|_| s.cfg.dir.clone())
    };
    resolve(dest) == resolve(source)
}

/// The source ids imported into `dest` under `namespace`, read from the
/// attestation of every destination event: one frame read per event.
fn already_imported(dest: &Shared, namespace: &str) -> Result<Imported, StoreError> {
    let mut found = Imported::default();
    let mut after = None;
    loop {
        let page = dest.query_entries_after(&Region::all(), after, SCAN_PAGE);
        let Some(last) = page.last() else {
            return Ok(found);
        };
        after = Some(last.global_sequence);
        for entry in page.iter().filter(|e| !e.kind.is_reserved()) {
            let raw = dest.read_entry(entry)?;
            if let Some((ns, source_id, _, _)) = raw
                .event
                .header
                .attestation
                .as_ref()
                .and_then(GateAttestation::provenance)
            {
                if ns == namespace {
                    found.insert(source_id, entry.event_id);
                }
            }
        }
    }
}

/// Decides what happens to one source event: `Some` to import it, `None`
/// when it is counted in `report` instead.
fn admit(
    dest: &Shared,
    source: &Shared,
    entry: &IndexEntry,
    options: &ImportOptions,
    imported: &Imported,
    report: &mut ImportReport,
) -> Result<Option<Pending>, StoreError> {
    if entry.kind.is_reserved() {
        report.skipped_reserved += 1;
        return Ok(None);
    }
    if imported.contains_key(&entry.event_id) {
        report.deduplicated += 1;
        return Ok(None);
    }
    let raw = source.read_entry(entry)?;
    let header = &raw.event.header;
    if chain::content_hash(&raw.event.payload) != header.content_hash {
        // Only a tombstone's frame holds other bytes than its hash covers.
        report.skipped_tombstoned += 1;
        return Ok(None);
    }
    let own = header
        .attestation
        .as_ref()
        .and_then(GateAttestation::provenance)
        .is_some_and(|(_, id, _, _)| dest.entry(id).is_some());
    if own {
        report.skipped_own_copies += 1;
        return Ok(None);
    }
    if is_sealed(&raw.event.payload) {
        // A store without its keyset (or a build without payload
        // encryption) reads sealed bytes as they are.
        return Err(StoreError::ImportWithEncryption {
            store: "source",
            event_id: Some(entry.event_id),
        });
    }
    if let Some(filter) = &options.filter {
        let json = decode_json_payload(raw.clone())?;
        if !filter(&json) {
            report.filtered += 1;
            return Ok(None);
        }
    }
    let header = raw.event.header;
    let attestation = GateAttestation::Imported {
        namespace: options.namespace.clone(),
        source_event_id: header.event_id,
        source_sequence: header.global_sequence,
        source_content_hash: header.content_hash,
    };
    Ok(Some(Pending {
        coordinate: raw.coordinate,
        kind: header.kind,
        payload: raw.event.payload,
        payload_version: header.payload_version,
        correlation_id: header.correlation_id,
        source_cause: header.causation_id,
        key: options.idempotency_key(header.event_id),
        attestation,
    }))
}

/// A source event on its way into a batch.
struct Pending {
    coordinate: crate::coordinate::Coordinate,
    kind: crate::kind::EventKind,
    payload: Vec<u8>,
    payload_version: u16,
    correlation_id: Option<crate::id::CorrelationId>,
    source_cause: Option<EventId>,
    key: IdempotencyKey,
    attestation: GateAttestation,
}

/// The next atomic batch: its items and the source id of each.
#[derive(Default)]
struct Batch {
    items: Vec<(Pending, CausationRef)>,
    sources: Vec<EventId>,
    bytes: usize,
}

impl Batch {
    /// Adds an item, pointing its causation at the imported copy of its
    /// cause: an earlier item of this batch, or an event imported before.
    /// A cause that was not imported is dropped.
    fn push(&mut self, item: Pending, source_id: EventId, imported: &Imported) {
        let cause = match item.source_cause {
            None => CausationRef::None,
            Some(c) => match self.sources.iter().position(|s| *s == c) {
                Some(i) => CausationRef::PriorItem(i),
                None => imported
                    .get(&c)
                    .map_or(CausationRef::None, |d| CausationRef::Event(*d)),
            },
        };
        self.bytes += item.payload.len();
        self.items.push((item, cause));
        self.sources.push(source_id);
    }

    /// Appends the batch atomically and waits for it. Empties the batch.
    fn commit(
        &mut self,
        appender: &Appender,
        imported: &mut Imported,
        report: &mut ImportReport,
    ) -> Result<(), StoreError> {
        if self.items.is_empty() {
            return Ok(());
        }
        let sources = std::mem::take(&mut self.sources);
        self.bytes = 0;
        let mut prepared = Vec::with_capacity(sources.len());
        for (item, cause) in self.items.drain(..) {
            prepared.push(prepare(appender, item, cause)?);
        }
        // A new event's sequence is at least the accepted frontier now; a
        // batch the writer answers from its idempotency keys (an import
        // running beside this one under the same namespace) comes back
        // with the receipts of older events.
        let before = appender
            .shared()
            .marks
            .frontier()
            .accepted
            .next_global_sequence;
        let receipts = appender.send(prepared, true)?.wait_batch()?;
        for (source_id, r) in sources.into_iter().zip(&receipts) {
            if r.global_sequence >= before {
                report.imported += 1;
            } else {
                report.deduplicated += 1;
            }
            imported.insert(source_id, r.event_id);
        }
        Ok(())
    }
}

fn prepare(
    appender: &Appender,
    item: Pending,
    cause: CausationRef,
) -> Result<PreparedItem, StoreError> {
    let mut options = AppendOptions::default()
        .with_idempotency_key(item.key)
        .with_payload_version(item.payload_version)
        .with_causation(cause);
    if let Some(c) = item.correlation_id {
        options = options.with_correlation_id(c);
    }
    let mut prepared = appender.prepare(item.coordinate, item.kind, item.payload, options)?;
    prepared.attestation = Some(item.attestation);
    Ok(prepared)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_key_is_the_documented_derivation() {
        let id = EventId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let mut m = vec![6, 0, 0, 0];
        m.extend_from_slice(b"site-a");
        m.extend_from_slice(&(1u8..=16).collect::<Vec<_>>());
        let full = blake3::derive_key("batpak 2026 import idempotency key v1", &m);
        assert_eq!(idempotency_key("site-a", id).as_bytes()[..], full[..16]);
        // The length prefix keeps ("ab", id) and ("a", "b"‖id) apart.
        assert_ne!(idempotency_key("ab", id), idempotency_key("a", id));
    }
}
