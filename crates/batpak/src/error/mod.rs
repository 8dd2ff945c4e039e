//! The store's error type: every variant with its facts as typed data, a
//! stable code, a handling class and a fault.

mod corruption;
mod problems;

use std::path::PathBuf;
use std::sync::Arc;

pub use corruption::Corruption;
pub use problems::{BoxError, CausationProblem, CoordinateProblem, Fault, HandlingClass};

use crate::format::DecodeError;
use crate::id::{EventId, IdempotencyKey};
use crate::keyscope::KeyScopeGranularity;
use crate::kind::EventKind;
use crate::sequence::ExpectedSequence;

/// Every error the store reports.
///
/// Each variant carries its context as data; [`StoreError::handling_class`]
/// says whose problem it is and whether retrying can help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An operating-system I/O call failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// The operation that failed (for example `fsync`).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `Store` in this one) holds the writer lock.
    #[error("store at {} is locked by another writer", path.display())]
    StoreLocked {
        /// The data directory.
        path: PathBuf,
    },
    /// A coordinate part is invalid.
    #[error("invalid coordinate {part} {value:?}: {problem}")]
    InvalidCoordinate {
        /// `"entity"` or `"scope"`.
        part: &'static str,
        /// The rejected value (truncated to 64 characters).
        value: String,
        /// What is wrong with it.
        problem: CoordinateProblem,
    },
    /// An event kind uses a reserved category or an out-of-range value.
    #[error("invalid event kind {kind:#06x}: {reason}")]
    InvalidKind {
        /// The raw kind.
        kind: u16,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A checkpoint, cursor or other name is invalid.
    #[error("invalid name {value:?}: {reason}")]
    InvalidName {
        /// The rejected value.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// No committed event has this id.
    #[error("event {event_id} not found")]
    NotFound {
        /// The id that was looked up.
        event_id: EventId,
    },
    /// A payload could not be encoded.
    #[error("payload could not be encoded: {source}")]
    Serialization {
        /// The encoder's error.
        source: BoxError,
    },
    /// A stored payload could not be decoded into the requested type.
    #[error("payload of event {event_id} could not be decoded: {source}")]
    Deserialization {
        /// The event whose payload failed.
        event_id: EventId,
        /// The decoder's error.
        source: BoxError,
    },
    /// A payload is larger than the configured limit.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The encoded size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Bytes before the tail of the log are damaged.
    #[error("corrupt segment {} at byte {offset}: {reason}", segment.display())]
    CorruptSegment {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the damaged frame or structure.
        offset: u64,
        /// What was wrong.
        reason: Corruption,
    },
    /// A frame read for an event failed its CRC or did not decode.
    #[error("corrupt frame in {} at byte {offset}: {reason}", segment.display())]
    CorruptFrame {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// What was wrong.
        reason: Corruption,
    },
    /// A file named like one of the store's files is not a regular file
    /// (a FIFO, a device, a directory); it was not opened.
    #[error("{} is not a regular file; the store does not open it", path.display())]
    NotARegularFile {
        /// The file.
        path: PathBuf,
    },
    /// The active segment ends in an incomplete write and the tail policy is `FailClosed`.
    #[error("torn tail in {} at byte {offset} ({dropped_bytes} bytes after the last whole frame); tail policy is FailClosed", segment.display())]
    TornTail {
        /// The segment file.
        segment: PathBuf,
        /// Offset where the last whole frame ends.
        offset: u64,
        /// Bytes that would have to be dropped.
        dropped_bytes: u64,
    },
    /// A file written by a newer or unknown format version.
    #[error("{} has format version {found}, this build reads {supported}", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// A configuration value is invalid or a combination is refused.
    #[error("invalid configuration: {reason}")]
    Configuration {
        /// What is wrong.
        reason: &'static str,
    },
    /// The writer stopped after an I/O failure; reopen the store to continue.
    /// [`StoreError::io_kind`] gives the first failure's `io::ErrorKind`.
    #[error("writer is fail-stopped after an earlier failure ({cause}); reopen the store")]
    WriterFailed {
        /// The first failure, shared by every request it failed.
        cause: Arc<StoreError>,
    },
    /// The configured signer failed and signing downgrade is not allowed; nothing was written.
    #[error("receipt signing failed, append refused: {source}")]
    SigningFailed {
        /// The signer's error.
        source: BoxError,
    },
    /// `ChainVerification::Recompute` found problems at open.
    #[error("chain verification failed at open: {mismatches} hash mismatches, {dangling} dangling links (first: {first:?})")]
    ChainVerificationFailed {
        /// Events whose recomputed hashes differ from the stored ones.
        mismatches: usize,
        /// Events whose `prev_hash` does not name their predecessor.
        dangling: usize,
        /// The first event with a problem.
        first: Option<EventId>,
    },
    /// An expected-sequence check failed; nothing was written.
    #[error(
        "entity {entity:?}: expected {expected:?}, but its last entity_sequence is {actual:?}"
    )]
    SequenceMismatch {
        /// The entity.
        entity: String,
        /// What the appender expected.
        expected: ExpectedSequence,
        /// The entity's last `entity_sequence` (`None`: no events).
        actual: Option<u64>,
    },
    /// A causation reference names no committed event or no earlier batch item.
    #[error("invalid causation: {problem}")]
    InvalidCausation {
        /// What is wrong.
        problem: CausationProblem,
    },
    /// An idempotency key was reused for a different append.
    #[error("idempotency key {key:?} was first used for a different append ({reason})")]
    IdempotencyConflict {
        /// The key.
        key: IdempotencyKey,
        /// What differs.
        reason: &'static str,
    },
    /// Some but not all items of a retried batch match earlier appends.
    #[error("batch retry matches earlier appends for only some of its items")]
    IdempotencyPartialBatch,
    /// Two items of one batch carry the same idempotency key; nothing was written.
    #[error("batch items {first} and {second} carry the same idempotency key {key:?}")]
    DuplicateIdempotencyKey {
        /// The key.
        key: IdempotencyKey,
        /// The first item carrying it.
        first: usize,
        /// The next item carrying it.
        second: usize,
    },
    /// A batch with no items; nothing was written.
    #[error("batch has no items")]
    EmptyBatch,
    /// A batch has more items than the configured limit.
    #[error("batch of {items} items is over the limit of {limit}")]
    BatchTooLarge {
        /// Items in the batch.
        items: usize,
        /// Configured limit.
        limit: usize,
    },
    /// A batch's payloads together exceed the byte limit.
    #[error("batch item {index} brings the batch to {bytes} bytes, over the limit of {limit}")]
    BatchItemTooLarge {
        /// Index of the item that crossed the limit.
        index: usize,
        /// Total payload bytes up to and including it.
        bytes: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The writer's queue is full (`try_submit`); retry later.
    #[error("writer queue is full")]
    Backpressure,
    /// A wait ran out of time.
    #[error("timed out after {waited_ms} ms waiting for {what}")]
    WaitTimeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        waited_ms: u64,
    },
    /// Two registered payload types claim the same event kind.
    #[error("payload kind {kind} is claimed by two types: {first} and {second}")]
    PayloadKindCollision {
        /// The contested kind.
        kind: crate::kind::EventKind,
        /// One claimant's type name.
        first: &'static str,
        /// The other claimant's type name.
        second: &'static str,
    },
    /// A payload version is not reachable from an older one by registered upcast steps.
    #[error("payload kind {kind} at version {version} has no upcast step for {}", hops(.missing))]
    UpcastChainIncomplete {
        /// The payload kind.
        kind: crate::kind::EventKind,
        /// The version to reach.
        version: u16,
        /// Hops `(from, to)` without a registered step.
        missing: Vec<(u16, u16)>,
    },
    /// Two registered upcast steps lift the same kind from the same version.
    #[error(
        "payload kind {kind}: upcast from version {from} is registered twice: {first} and {second}"
    )]
    DuplicateUpcastStep {
        /// The payload kind.
        kind: crate::kind::EventKind,
        /// The version both steps read.
        from: u16,
        /// One step's type name.
        first: &'static str,
        /// The other step's type name.
        second: &'static str,
    },
    /// A typed read met a payload written by a newer schema than the reader's type.
    #[error("event {event_id} of kind {kind} has payload version {stored}; this reader supports up to {supported}")]
    FutureVersion {
        /// The event.
        event_id: EventId,
        /// Its kind.
        kind: crate::kind::EventKind,
        /// The version in its header.
        stored: u16,
        /// The reader type's `PAYLOAD_VERSION`.
        supported: u16,
    },
    /// A typed read asked for a type whose kind is not the event's.
    #[error("event {event_id} has kind {found}, not {expected}")]
    KindMismatch {
        /// The event.
        event_id: EventId,
        /// The reader type's kind.
        expected: crate::kind::EventKind,
        /// The event's kind.
        found: crate::kind::EventKind,
    },
    /// A registered upcast step refused a stored payload.
    #[error("upcast of event {event_id} (kind {kind}) from version {from} failed: {source}")]
    UpcastFailed {
        /// The event.
        event_id: EventId,
        /// Its kind.
        kind: crate::kind::EventKind,
        /// The version the failing step reads.
        from: u16,
        /// The step's error.
        source: BoxError,
    },
    /// A gate name, denial, bypass ticket or reason is empty, too long or malformed.
    #[error("invalid gate record: {field} {problem}")]
    InvalidGateRecord {
        /// Which value (`"gate name"`, `"bypass reason"`, ...).
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The operation writes a file, and the store was opened read-only.
    #[error("cannot {operation}: the store is open read-only")]
    ReadOnly {
        /// What was refused.
        operation: &'static str,
    },
    /// No cursor checkpoint has this name.
    #[error("cursor checkpoint {checkpoint:?} does not exist")]
    CursorCheckpointNotFound {
        /// The checkpoint name.
        checkpoint: String,
    },
    /// A cursor checkpoint was saved for a different region than the cursor's.
    #[error("cursor checkpoint {checkpoint:?} was saved for a different region")]
    CursorCheckpointRegionMismatch {
        /// The checkpoint name.
        checkpoint: String,
    },
    /// A cursor checkpoint file is damaged (bad magic, CRC, length or contents).
    #[error("corrupt cursor checkpoint {}: {reason}", path.display())]
    CursorCheckpointCorrupt {
        /// The checkpoint file.
        path: PathBuf,
        /// What was wrong.
        reason: Corruption,
    },
    /// A cursor checkpoint names an event this store does not hold at its position:
    /// the log lost its tail after the checkpoint was saved, or a read-only
    /// store opened before that event was written (refresh it).
    #[error("cursor checkpoint {checkpoint:?} is past this store's log (its last event, at global sequence {global_sequence}, is not here)")]
    CursorCheckpointAhead {
        /// The checkpoint name.
        checkpoint: String,
        /// Global sequence of the event the checkpoint was taken after.
        global_sequence: u64,
    },
    /// The event's payload was shredded: the key of its scope was destroyed
    /// (`Store::shred_scope`, feature `payload-encryption`), so it can never be
    /// read again. Its header, hashes and chain links are intact.
    #[error("payload of event {event_id} was shredded (its scope's key was destroyed)")]
    PayloadShredded {
        /// The event.
        event_id: EventId,
    },
    /// A sealed payload did not open: its bytes or its binding to the event
    /// were altered, or the store was opened without payload encryption.
    #[error("sealed payload of event {event_id} did not open: {reason}")]
    PayloadDecryptFailed {
        /// The event.
        event_id: EventId,
        /// What went wrong.
        reason: &'static str,
    },
    /// The keyset file is damaged; the store refuses to open rather than
    /// start without keys (which would shred every sealed payload).
    #[error("corrupt keyset {}: {reason}", path.display())]
    KeysetCorrupt {
        /// The keyset file.
        path: PathBuf,
        /// What was wrong.
        reason: Corruption,
    },
    /// The store's keyset records another key scope granularity than the
    /// configuration asks for (`configured: None`: a writer opened without
    /// payload encryption on a store that has a keyset). Reopen with the
    /// recorded granularity.
    #[error("store's keys are scoped {stored}, but the configuration asks for {}", configured.map_or("no payload encryption".to_owned(), |g| g.to_string()))]
    KeyScopeGranularityMismatch {
        /// The granularity in the keyset file.
        stored: KeyScopeGranularity,
        /// The configured granularity, if any.
        configured: Option<KeyScopeGranularity>,
    },
    /// A shred selector that does not fit the store's granularity; nothing was shredded.
    #[error("{selector} does not name a key under granularity {granularity}; use {}", granularity.selector())]
    ShredScopeMismatch {
        /// The store's granularity.
        granularity: KeyScopeGranularity,
        /// The selector given.
        selector: &'static str,
    },
    /// A file of the Merkle tree (`tree/level-NN`) is damaged or disagrees
    /// with the records it is built from.
    #[error("corrupt Merkle tree file {}: {reason}", path.display())]
    TreeCorrupt {
        /// The level file, or the tree directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The heads file is damaged before its last record.
    #[error("corrupt heads file {} at byte {offset}: {reason}", path.display())]
    HeadsCorrupt {
        /// The heads file.
        path: PathBuf,
        /// Where the damage is.
        offset: u64,
        /// What is wrong.
        reason: DecodeError,
    },
    /// A recorded tree head does not match the log's tree at its size: the
    /// history it covered was rewritten (or its tree files were).
    #[error("the tree head recorded at byte {offset} of {} (size {size}) does not match the log's tree: committed history was rewritten", path.display())]
    HeadMismatch {
        /// The heads file.
        path: PathBuf,
        /// Where the record starts.
        offset: u64,
        /// The head's tree size.
        size: u64,
    },
    /// The log holds fewer events than a recorded tree head covered:
    /// committed events were lost (a deleted or cut segment, zeroed frames).
    #[error("the log holds {log_size} events, but the tree head recorded at byte {offset} of {} covers {head_size}: committed events were lost", path.display())]
    LogBelowHead {
        /// The heads file.
        path: PathBuf,
        /// Where the head's record starts.
        offset: u64,
        /// Events the head covered.
        head_size: u64,
        /// Events the log holds.
        log_size: u64,
    },
    /// A proof or root was asked for a tree larger than the log, or an
    /// empty tree, or an event outside the tree asked for.
    #[error("tree size {requested} is out of range: the log holds {size} events")]
    TreeSizeOutOfRange {
        /// The size asked for.
        requested: u64,
        /// Events in the log.
        size: u64,
    },
    /// The destination of a snapshot or fork exists and is not an empty
    /// directory (a file, or a directory with entries); nothing was written.
    #[error("snapshot destination {} is not an empty directory", path.display())]
    DestinationNotEmpty {
        /// The destination as given.
        path: PathBuf,
    },
    /// The destination of a snapshot or fork is the store's own directory
    /// or lies inside it (after resolving links); nothing was written.
    #[error("snapshot destination {} is inside the store's directory {}", path.display(), store.display())]
    DestinationInsideSource {
        /// The destination as given.
        path: PathBuf,
        /// The store's data directory.
        store: PathBuf,
    },
    /// The destination of a snapshot or fork is a symbolic link; nothing was
    /// written. Name the directory it points to, if that is the one meant.
    #[error("snapshot destination {} is a symbolic link; name a real directory", path.display())]
    DestinationIsSymlink {
        /// The destination as given.
        path: PathBuf,
    },
    /// The directory holds a snapshot or fork whose writing did not finish
    /// (its `SNAPSHOT_INCOMPLETE` marker is there), so it is not a store:
    /// delete it and take the copy again.
    #[error("{} holds a snapshot or fork that was not finished (its SNAPSHOT_INCOMPLETE marker is there): delete the directory and take the copy again", path.display())]
    SnapshotIncomplete {
        /// The directory.
        path: PathBuf,
    },
    /// The event's payload was removed by a tombstone compaction
    /// (`CompactionStrategy::Tombstone`). Its header, hashes and chain links
    /// are intact.
    #[error("payload of event {event_id} was removed by compaction (a tombstone keeps its header and hashes)")]
    PayloadTombstoned {
        /// The event.
        event_id: EventId,
    },
    /// A compaction's predicate panicked on this event; the compaction
    /// stopped before its switch and changed nothing.
    #[error("compaction predicate panicked on event {event_id}; nothing was changed")]
    CompactionPredicatePanicked {
        /// The event the predicate was judging.
        event_id: EventId,
    },
    /// A compaction switched (its marker is durable) but its files are not
    /// where the marker says, or a read-only open found it unfinished.
    #[error("compaction not finished at {}: {reason}", path.display())]
    CompactionIncomplete {
        /// The marker or the segment in question.
        path: PathBuf,
        /// What is wrong, and what to do.
        reason: &'static str,
    },
    /// The compaction marker `COMPACTION` is damaged: open cannot tell which
    /// set of segments stands, and refuses to guess.
    #[error("corrupt compaction marker {}: {reason}", path.display())]
    CompactionMarkerCorrupt {
        /// The marker file.
        path: PathBuf,
        /// What is wrong.
        reason: DecodeError,
    },
    /// An import named the destination as its own source (the same store,
    /// or another open of its directory); nothing was written.
    #[error("cannot import the store at {} into itself", path.display())]
    ImportFromItself {
        /// The data directory.
        path: PathBuf,
    },
    /// An import involving payload encryption was refused: a sealed payload
    /// is bound to the key and event id of the store that sealed it, so a
    /// copy could never be opened, and sealing it again would change its
    /// content hash. Refused before anything is written when a store has
    /// payload encryption on; for a sealed payload found in a source
    /// without its keyset, when that event is reached (the batches before
    /// it are imported).
    #[error("import refused: the {store} store's payloads are sealed{}", event_id.map(|id| format!(" (event {id})")).unwrap_or_default())]
    ImportWithEncryption {
        /// `"source"` or `"destination"`.
        store: &'static str,
        /// The sealed source event, when one was found.
        event_id: Option<EventId>,
    },
    /// A reactor's handler panicked; the reactor stopped.
    #[error("reactor handler panicked")]
    ReactorPanicked,
    /// The store was closed.
    #[error("store is closed")]
    Closed,
    /// The writer thread ended unexpectedly.
    #[error("writer thread crashed")]
    WriterCrashed,
}

impl StoreError {
    /// Says whether the caller, a transient condition, or the store's own state is at fault.
    pub fn handling_class(&self) -> HandlingClass {
        match self {
            Self::InvalidCoordinate { .. }
            | Self::InvalidKind { .. }
            | Self::InvalidName { .. }
            | Self::NotFound { .. }
            | Self::Serialization { .. }
            | Self::Deserialization { .. }
            | Self::PayloadTooLarge { .. }
            | Self::Configuration { .. }
            | Self::SequenceMismatch { .. }
            | Self::InvalidCausation { .. }
            | Self::IdempotencyConflict { .. }
            | Self::IdempotencyPartialBatch
            | Self::DuplicateIdempotencyKey { .. }
            | Self::EmptyBatch
            | Self::BatchTooLarge { .. }
            | Self::BatchItemTooLarge { .. }
            | Self::PayloadKindCollision { .. }
            | Self::UpcastChainIncomplete { .. }
            | Self::DuplicateUpcastStep { .. }
            | Self::FutureVersion { .. }
            | Self::KindMismatch { .. }
            | Self::UpcastFailed { .. }
            | Self::InvalidGateRecord { .. }
            | Self::ReadOnly { .. }
            | Self::CursorCheckpointNotFound { .. }
            | Self::CursorCheckpointRegionMismatch { .. }
            | Self::PayloadShredded { .. }
            | Self::KeyScopeGranularityMismatch { .. }
            | Self::ShredScopeMismatch { .. }
            | Self::TreeSizeOutOfRange { .. }
            | Self::DestinationNotEmpty { .. }
            | Self::DestinationInsideSource { .. }
            | Self::DestinationIsSymlink { .. }
            | Self::PayloadTombstoned { .. }
            | Self::CompactionPredicatePanicked { .. }
            | Self::ImportFromItself { .. }
            | Self::ImportWithEncryption { .. }
            | Self::ReactorPanicked
            | Self::Closed => HandlingClass::Domain,
            Self::TreeCorrupt { .. }
            | Self::HeadsCorrupt { .. }
            | Self::HeadMismatch { .. }
            | Self::LogBelowHead { .. }
            | Self::CursorCheckpointCorrupt { .. }
            | Self::CursorCheckpointAhead { .. }
            | Self::PayloadDecryptFailed { .. }
            | Self::KeysetCorrupt { .. }
            | Self::CompactionIncomplete { .. }
            | Self::CompactionMarkerCorrupt { .. }
            | Self::SnapshotIncomplete { .. } => HandlingClass::FailClosedOperational,
            Self::Backpressure | Self::WaitTimeout { .. } => HandlingClass::RetryableOperational,
            Self::SigningFailed { .. } => HandlingClass::RetryableOperational,
            Self::ChainVerificationFailed { .. } => HandlingClass::FailClosedOperational,
            Self::StoreLocked { .. } => HandlingClass::RetryableOperational,
            Self::Io { .. }
            | Self::CorruptSegment { .. }
            | Self::CorruptFrame { .. }
            | Self::TornTail { .. }
            | Self::NotARegularFile { .. }
            | Self::UnsupportedVersion { .. }
            | Self::WriterFailed { .. }
            | Self::WriterCrashed => HandlingClass::FailClosedOperational,
        }
    }

    /// A stable, machine-readable token for this error's variant (snake_case,
    /// never reused or renamed): what a network peer or a log parser matches on.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// assert_eq!(StoreError::Backpressure.code(), "backpressure");
    /// assert_eq!(StoreError::NotFound { event_id: EventId::from_u128(1) }.code(), "not_found");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::StoreLocked { .. } => "store_locked",
            Self::InvalidCoordinate { .. } => "invalid_coordinate",
            Self::InvalidKind { .. } => "invalid_kind",
            Self::InvalidName { .. } => "invalid_name",
            Self::NotFound { .. } => "not_found",
            Self::Serialization { .. } => "serialization",
            Self::Deserialization { .. } => "deserialization",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::CorruptSegment { .. } => "corrupt_segment",
            Self::CorruptFrame { .. } => "corrupt_frame",
            Self::TornTail { .. } => "torn_tail",
            Self::NotARegularFile { .. } => "not_a_regular_file",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::Configuration { .. } => "configuration",
            Self::WriterFailed { .. } => "writer_failed",
            Self::SigningFailed { .. } => "signing_failed",
            Self::ChainVerificationFailed { .. } => "chain_verification_failed",
            Self::SequenceMismatch { .. } => "sequence_mismatch",
            Self::InvalidCausation { .. } => "invalid_causation",
            Self::IdempotencyConflict { .. } => "idempotency_conflict",
            Self::IdempotencyPartialBatch => "idempotency_partial_batch",
            Self::DuplicateIdempotencyKey { .. } => "duplicate_idempotency_key",
            Self::EmptyBatch => "empty_batch",
            Self::BatchTooLarge { .. } => "batch_too_large",
            Self::BatchItemTooLarge { .. } => "batch_item_too_large",
            Self::Backpressure => "backpressure",
            Self::WaitTimeout { .. } => "wait_timeout",
            Self::PayloadKindCollision { .. } => "payload_kind_collision",
            Self::UpcastChainIncomplete { .. } => "upcast_chain_incomplete",
            Self::DuplicateUpcastStep { .. } => "duplicate_upcast_step",
            Self::FutureVersion { .. } => "future_version",
            Self::KindMismatch { .. } => "kind_mismatch",
            Self::UpcastFailed { .. } => "upcast_failed",
            Self::InvalidGateRecord { .. } => "invalid_gate_record",
            Self::ReadOnly { .. } => "read_only",
            Self::CursorCheckpointNotFound { .. } => "cursor_checkpoint_not_found",
            Self::CursorCheckpointRegionMismatch { .. } => "cursor_checkpoint_region_mismatch",
            Self::CursorCheckpointCorrupt { .. } => "cursor_checkpoint_corrupt",
            Self::CursorCheckpointAhead { .. } => "cursor_checkpoint_ahead",
            Self::PayloadShredded { .. } => "payload_shredded",
            Self::PayloadDecryptFailed { .. } => "payload_decrypt_failed",
            Self::KeysetCorrupt { .. } => "keyset_corrupt",
            Self::KeyScopeGranularityMismatch { .. } => "key_scope_granularity_mismatch",
            Self::ShredScopeMismatch { .. } => "shred_scope_mismatch",
            Self::TreeCorrupt { .. } => "tree_corrupt",
            Self::HeadsCorrupt { .. } => "heads_corrupt",
            Self::HeadMismatch { .. } => "head_mismatch",
            Self::LogBelowHead { .. } => "log_below_head",
            Self::TreeSizeOutOfRange { .. } => "tree_size_out_of_range",
            Self::DestinationNotEmpty { .. } => "destination_not_empty",
            Self::DestinationInsideSource { .. } => "destination_inside_source",
            Self::DestinationIsSymlink { .. } => "destination_is_symlink",
            Self::SnapshotIncomplete { .. } => "snapshot_incomplete",
            Self::PayloadTombstoned { .. } => "payload_tombstoned",
            Self::CompactionPredicatePanicked { .. } => "compaction_predicate_panicked",
            Self::CompactionIncomplete { .. } => "compaction_incomplete",
            Self::CompactionMarkerCorrupt { .. } => "compaction_marker_corrupt",
            Self::ImportFromItself { .. } => "import_from_itself",
            Self::ImportWithEncryption { .. } => "import_with_encryption",
            Self::ReactorPanicked => "reactor_panicked",
            Self::Closed => "closed",
            Self::WriterCrashed => "writer_crashed",
        }
    }

    /// Whose fault this error is: the caller's request, the data on disk,
    /// the environment, or the store itself.
    pub fn fault(&self) -> Fault {
        match self {
            Self::InvalidCoordinate { .. }
            | Self::InvalidKind { .. }
            | Self::InvalidName { .. }
            | Self::NotFound { .. }
            | Self::Serialization { .. }
            | Self::Deserialization { .. }
            | Self::PayloadTooLarge { .. }
            | Self::Configuration { .. }
            | Self::SequenceMismatch { .. }
            | Self::InvalidCausation { .. }
            | Self::IdempotencyConflict { .. }
            | Self::IdempotencyPartialBatch
            | Self::DuplicateIdempotencyKey { .. }
            | Self::EmptyBatch
            | Self::BatchTooLarge { .. }
            | Self::BatchItemTooLarge { .. }
            | Self::PayloadKindCollision { .. }
            | Self::UpcastChainIncomplete { .. }
            | Self::DuplicateUpcastStep { .. }
            | Self::FutureVersion { .. }
            | Self::KindMismatch { .. }
            | Self::UpcastFailed { .. }
            | Self::InvalidGateRecord { .. }
            | Self::ReadOnly { .. }
            | Self::CursorCheckpointNotFound { .. }
            | Self::CursorCheckpointRegionMismatch { .. }
            | Self::PayloadShredded { .. }
            | Self::KeyScopeGranularityMismatch { .. }
            | Self::ShredScopeMismatch { .. }
            | Self::TreeSizeOutOfRange { .. }
            | Self::DestinationNotEmpty { .. }
            | Self::DestinationInsideSource { .. }
            | Self::DestinationIsSymlink { .. }
            | Self::PayloadTombstoned { .. }
            | Self::CompactionPredicatePanicked { .. }
            | Self::ImportFromItself { .. }
            | Self::ImportWithEncryption { .. }
            | Self::ReactorPanicked
            | Self::Closed => Fault::Caller,
            Self::CorruptSegment { .. }
            | Self::CorruptFrame { .. }
            | Self::TornTail { .. }
            | Self::NotARegularFile { .. }
            | Self::UnsupportedVersion { .. }
            | Self::ChainVerificationFailed { .. }
            | Self::CursorCheckpointCorrupt { .. }
            | Self::CursorCheckpointAhead { .. }
            | Self::PayloadDecryptFailed { .. }
            | Self::KeysetCorrupt { .. }
            | Self::TreeCorrupt { .. }
            | Self::HeadsCorrupt { .. }
            | Self::HeadMismatch { .. }
            | Self::LogBelowHead { .. }
            | Self::CompactionIncomplete { .. }
            | Self::CompactionMarkerCorrupt { .. }
            | Self::SnapshotIncomplete { .. } => Fault::Data,
            Self::Io { .. }
            | Self::StoreLocked { .. }
            | Self::SigningFailed { .. }
            | Self::Backpressure
            | Self::WaitTimeout { .. } => Fault::Environment,
            Self::WriterCrashed => Fault::Internal,
            Self::WriterFailed { cause } => cause.fault(),
        }
    }

    /// The `io::ErrorKind` behind this error, if an I/O call failed (directly,
    /// or as the writer's first failure).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Self::Io { source, .. } => Some(source.kind()),
            Self::WriterFailed { cause } => cause.io_kind(),
            _ => None,
        }
    }

    /// A copy of this error to keep as a fail-stopped writer's cause: the
    /// same variant and facts, an I/O source rebuilt with the same kind and
    /// message (an `io::Error` cannot be cloned).
    pub(crate) fn copy_as_cause(&self) -> StoreError {
        match self {
            Self::Io { op, path, source } => Self::Io {
                op,
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Self::CorruptSegment {
                segment,
                offset,
                reason,
            } => Self::CorruptSegment {
                segment: segment.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            Self::WriterFailed { cause } => cause.copy_as_cause(),
            Self::WriterCrashed => Self::WriterCrashed,
            other => Self::Io {
                op: "write path",
                path: PathBuf::new(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }

    /// Damage in a segment file at `offset`.
    pub(crate) fn corrupt_segment(
        segment: &std::path::Path,
        offset: u64,
        reason: Corruption,
    ) -> Self {
        Self::CorruptSegment {
            segment: segment.to_path_buf(),
            offset,
            reason,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results whose error is [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

// The fallible constructor of `EventKind` lives beside the error it returns,
// so that `kind` (which `error` names) never imports `error`.
impl EventKind {
    /// A user kind, checked at run time.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// assert_eq!(EventKind::try_custom(0xE, 1)?, EventKind::custom(0xE, 1));
    /// assert!(EventKind::try_custom(0x0, 1).is_err());
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn try_custom(category: u8, type_id: u16) -> Result<Self, StoreError> {
        Self::check(category, type_id).map_err(|reason| StoreError::InvalidKind {
            kind: (u16::from(category) << 12) | (type_id & Self::MAX_TYPE_ID),
            reason,
        })
    }
}

/// Formats upcast hops as `1→2, 3→4` for error messages.
fn hops(missing: &[(u16, u16)]) -> String {
    missing
        .iter()
        .map(|(from, to)| format!("{from}→{to}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
