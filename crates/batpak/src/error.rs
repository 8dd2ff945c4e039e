//! The store's error type and its handling classes.

use std::path::PathBuf;
use std::sync::Arc;

use crate::format::DecodeError;
use crate::id::{EventId, IdempotencyKey};
use crate::kind::EventKind;
use crate::sequence::ExpectedSequence;

/// How a caller should react to a [`StoreError`].
///
/// ```
/// use batpak::prelude::*;
/// let err = StoreError::NotFound { event_id: EventId::from_u128(1) };
/// assert_eq!(err.handling_class(), HandlingClass::Domain);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandlingClass {
    /// The request itself is wrong or refers to something absent: fix the input.
    Domain,
    /// A transient condition: the same call may succeed later.
    RetryableOperational,
    /// The store cannot prove its state is sound: stop and investigate or reopen.
    FailClosedOperational,
}

/// Why a coordinate was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CoordinateProblem {
    /// The part is empty.
    Empty,
    /// The part is longer than [`crate::Coordinate::MAX_LEN`] bytes.
    TooLong,
    /// The part contains a NUL byte.
    NulByte,
    /// The part contains a control character.
    ControlChar,
    /// The part looks like a path traversal (`..`, leading `/` or `\`).
    PathTraversal,
}

impl std::fmt::Display for CoordinateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "is empty",
            Self::TooLong => "is longer than 256 bytes",
            Self::NulByte => "contains a NUL byte",
            Self::ControlChar => "contains a control character",
            Self::PathTraversal => "looks like a path traversal",
        })
    }
}

/// What is wrong with damaged bytes on disk: the facts, not a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// A structure did not decode.
    Decode {
        /// Which structure (`"frame"`, `"footer"`, `"segment header"`, ...).
        structure: &'static str,
        /// What the decoder found.
        source: DecodeError,
    },
    /// The segment header names another segment than its file name.
    WrongSegmentId {
        /// The id in the header.
        found: u64,
    },
    /// A segment ends in a trailer, but no valid footer goes with it.
    FooterMissing,
    /// The footer does not start where the frames end.
    FooterMisplaced,
    /// The footer changed on disk since the store was opened.
    FooterChanged,
    /// A footer was about to be written without the entries of the frames before it.
    FooterEntriesNotLoaded,
    /// A footer lists a name twice.
    DuplicateName {
        /// `"entity"` or `"scope"`.
        part: &'static str,
        /// The name.
        name: String,
    },
    /// A footer or frame holds a name that is not a valid coordinate part.
    InvalidName {
        /// `"entity"` or `"scope"`.
        part: &'static str,
        /// What is wrong with it.
        problem: CoordinateProblem,
    },
    /// An event's global sequence is not the next one.
    GlobalSequence {
        /// The sequence found.
        found: u64,
        /// The sequence expected there.
        expected: u64,
    },
    /// An event's entity sequence is not its entity's next one.
    EntitySequence {
        /// The entity.
        entity: String,
        /// The sequence found.
        found: u64,
        /// The sequence expected there.
        expected: u64,
    },
    /// The frames of an atomic batch are out of order.
    BatchOutOfOrder,
    /// A frame does not decode, but a whole frame follows it: damage before the tail.
    FrameBeforeValidFrame {
        /// Offset of the next whole frame.
        next: u64,
    },
    /// The index points at a frame that holds another event.
    WrongEvent {
        /// The event the index expected there.
        expected: EventId,
    },
    /// The segment the index points into is not open.
    SegmentNotOpen,
    /// A length read from disk does not fit this machine's arithmetic or memory.
    TooLarge,
    /// A cursor checkpoint file holds another checkpoint's name.
    WrongCheckpoint {
        /// The name in the file.
        found: String,
    },
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Decode { structure, source } => write!(f, "{structure}: {source}"),
            Self::WrongSegmentId { found } => {
                write!(f, "header names segment {found}, not this file's")
            }
            Self::FooterMissing => f.write_str("sealed segment has no valid footer"),
            Self::FooterMisplaced => f.write_str("footer does not end the frame region"),
            Self::FooterChanged => f.write_str("footer changed since the store was opened"),
            Self::FooterEntriesNotLoaded => f.write_str("footer entries were never loaded"),
            Self::DuplicateName { part, name } => write!(f, "footer lists {part} {name:?} twice"),
            Self::InvalidName { part, problem } => write!(f, "{part} name {problem}"),
            Self::GlobalSequence { found, expected } => {
                write!(f, "global sequence {found} where {expected} was expected")
            }
            Self::EntitySequence {
                entity,
                found,
                expected,
            } => write!(
                f,
                "entity {entity:?} sequence {found} where {expected} was expected"
            ),
            Self::BatchOutOfOrder => f.write_str("batch frame out of order"),
            Self::FrameBeforeValidFrame { next } => write!(
                f,
                "frame does not decode but a whole frame follows at byte {next}"
            ),
            Self::WrongEvent { expected } => write!(f, "frame does not hold event {expected}"),
            Self::SegmentNotOpen => f.write_str("segment file is not open"),
            Self::TooLarge => f.write_str("length too large for this machine"),
            Self::WrongCheckpoint { found } => write!(f, "file holds checkpoint {found:?}"),
        }
    }
}

/// A boxed error from a caller's extension point (signer, upcast step) or an encoder.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a causation reference was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CausationProblem {
    /// [`crate::CausationRef::Event`] names no committed event.
    NotCommitted {
        /// The named event.
        event_id: EventId,
    },
    /// [`crate::CausationRef::PriorItem`] names an item that is not earlier in the batch.
    NotEarlier {
        /// The item carrying the reference.
        item: usize,
        /// The item it names.
        refers_to: usize,
    },
}

impl std::fmt::Display for CausationProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotCommitted { event_id } => write!(f, "event {event_id} is not committed"),
            Self::NotEarlier { item, refers_to } => write!(
                f,
                "item {item} refers to item {refers_to}, which is not earlier in the batch"
            ),
        }
    }
}

/// Whose fault an error is: what to fix, or whom to call.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::Fault;
/// let err = StoreError::NotFound { event_id: EventId::from_u128(1) };
/// assert_eq!(err.fault(), Fault::Caller);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The request: bad input, a missing event, a refused option. Fix the call.
    Caller,
    /// The bytes on disk: damaged, torn or written by another version.
    Data,
    /// The machine: I/O, locks, a full queue, a deadline. May pass.
    Environment,
    /// The store itself (a crashed writer thread): report it.
    Internal,
}

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
    /// A batch has no items or too many.
    #[error("batch of {items} items is outside 1..={limit}")]
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
            | Self::ReactorPanicked
            | Self::Closed => HandlingClass::Domain,
            Self::CursorCheckpointCorrupt { .. } | Self::CursorCheckpointAhead { .. } => {
                HandlingClass::FailClosedOperational
            }
            Self::Backpressure | Self::WaitTimeout { .. } => HandlingClass::RetryableOperational,
            Self::SigningFailed { .. } => HandlingClass::RetryableOperational,
            Self::ChainVerificationFailed { .. } => HandlingClass::FailClosedOperational,
            Self::StoreLocked { .. } => HandlingClass::RetryableOperational,
            Self::Io { .. }
            | Self::CorruptSegment { .. }
            | Self::CorruptFrame { .. }
            | Self::TornTail { .. }
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
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::Configuration { .. } => "configuration",
            Self::WriterFailed { .. } => "writer_failed",
            Self::SigningFailed { .. } => "signing_failed",
            Self::ChainVerificationFailed { .. } => "chain_verification_failed",
            Self::SequenceMismatch { .. } => "sequence_mismatch",
            Self::InvalidCausation { .. } => "invalid_causation",
            Self::IdempotencyConflict { .. } => "idempotency_conflict",
            Self::IdempotencyPartialBatch => "idempotency_partial_batch",
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
            | Self::ReactorPanicked
            | Self::Closed => Fault::Caller,
            Self::CorruptSegment { .. }
            | Self::CorruptFrame { .. }
            | Self::TornTail { .. }
            | Self::UnsupportedVersion { .. }
            | Self::ChainVerificationFailed { .. }
            | Self::CursorCheckpointCorrupt { .. }
            | Self::CursorCheckpointAhead { .. } => Fault::Data,
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
mod tests {
    use super::*;

    /// One value of every variant, with the code netbat and logs rely on.
    /// A renamed or reused code fails here: codes are part of the API.
    fn every_variant() -> Vec<(StoreError, &'static str, Fault)> {
        let id = EventId::from_u128(1);
        let kind = EventKind::custom(0xE, 1);
        let path = PathBuf::from("x");
        let io = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        vec![
            (StoreError::io("fsync", "x", io()), "io", Fault::Environment),
            (
                StoreError::StoreLocked { path: path.clone() },
                "store_locked",
                Fault::Environment,
            ),
            (
                StoreError::InvalidCoordinate {
                    part: "entity",
                    value: String::new(),
                    problem: CoordinateProblem::Empty,
                },
                "invalid_coordinate",
                Fault::Caller,
            ),
            (
                StoreError::InvalidKind {
                    kind: 0,
                    reason: "r",
                },
                "invalid_kind",
                Fault::Caller,
            ),
            (
                StoreError::InvalidName {
                    value: String::new(),
                    reason: "r",
                },
                "invalid_name",
                Fault::Caller,
            ),
            (
                StoreError::NotFound { event_id: id },
                "not_found",
                Fault::Caller,
            ),
            (
                StoreError::Serialization { source: "e".into() },
                "serialization",
                Fault::Caller,
            ),
            (
                StoreError::Deserialization {
                    event_id: id,
                    source: "e".into(),
                },
                "deserialization",
                Fault::Caller,
            ),
            (
                StoreError::PayloadTooLarge { size: 2, limit: 1 },
                "payload_too_large",
                Fault::Caller,
            ),
            (
                StoreError::CorruptSegment {
                    segment: path.clone(),
                    offset: 0,
                    reason: Corruption::TooLarge,
                },
                "corrupt_segment",
                Fault::Data,
            ),
            (
                StoreError::CorruptFrame {
                    segment: path.clone(),
                    offset: 0,
                    reason: Corruption::TooLarge,
                },
                "corrupt_frame",
                Fault::Data,
            ),
            (
                StoreError::TornTail {
                    segment: path.clone(),
                    offset: 0,
                    dropped_bytes: 1,
                },
                "torn_tail",
                Fault::Data,
            ),
            (
                StoreError::UnsupportedVersion {
                    path: path.clone(),
                    found: 9,
                    supported: 1,
                },
                "unsupported_version",
                Fault::Data,
            ),
            (
                StoreError::Configuration { reason: "r" },
                "configuration",
                Fault::Caller,
            ),
            (
                StoreError::WriterFailed {
                    cause: Arc::new(StoreError::io("fsync", "x", io())),
                },
                "writer_failed",
                Fault::Environment,
            ),
            (
                StoreError::SigningFailed { source: "e".into() },
                "signing_failed",
                Fault::Environment,
            ),
            (
                StoreError::ChainVerificationFailed {
                    mismatches: 1,
                    dangling: 0,
                    first: None,
                },
                "chain_verification_failed",
                Fault::Data,
            ),
            (
                StoreError::SequenceMismatch {
                    entity: String::new(),
                    expected: ExpectedSequence::NoStream,
                    actual: Some(0),
                },
                "sequence_mismatch",
                Fault::Caller,
            ),
            (
                StoreError::InvalidCausation {
                    problem: CausationProblem::NotCommitted { event_id: id },
                },
                "invalid_causation",
                Fault::Caller,
            ),
            (
                StoreError::IdempotencyConflict {
                    key: IdempotencyKey::from_bytes([1; 16]),
                    reason: "r",
                },
                "idempotency_conflict",
                Fault::Caller,
            ),
            (
                StoreError::IdempotencyPartialBatch,
                "idempotency_partial_batch",
                Fault::Caller,
            ),
            (
                StoreError::BatchTooLarge { items: 0, limit: 1 },
                "batch_too_large",
                Fault::Caller,
            ),
            (
                StoreError::BatchItemTooLarge {
                    index: 0,
                    bytes: 2,
                    limit: 1,
                },
                "batch_item_too_large",
                Fault::Caller,
            ),
            (StoreError::Backpressure, "backpressure", Fault::Environment),
            (
                StoreError::WaitTimeout {
                    what: "w",
                    waited_ms: 1,
                },
                "wait_timeout",
                Fault::Environment,
            ),
            (
                StoreError::PayloadKindCollision {
                    kind,
                    first: "a",
                    second: "b",
                },
                "payload_kind_collision",
                Fault::Caller,
            ),
            (
                StoreError::UpcastChainIncomplete {
                    kind,
                    version: 2,
                    missing: vec![(1, 2)],
                },
                "upcast_chain_incomplete",
                Fault::Caller,
            ),
            (
                StoreError::DuplicateUpcastStep {
                    kind,
                    from: 1,
                    first: "a",
                    second: "b",
                },
                "duplicate_upcast_step",
                Fault::Caller,
            ),
            (
                StoreError::FutureVersion {
                    event_id: id,
                    kind,
                    stored: 3,
                    supported: 2,
                },
                "future_version",
                Fault::Caller,
            ),
            (
                StoreError::KindMismatch {
                    event_id: id,
                    expected: kind,
                    found: kind,
                },
                "kind_mismatch",
                Fault::Caller,
            ),
            (
                StoreError::UpcastFailed {
                    event_id: id,
                    kind,
                    from: 1,
                    source: "e".into(),
                },
                "upcast_failed",
                Fault::Caller,
            ),
            (
                StoreError::InvalidGateRecord {
                    field: "f",
                    problem: "p",
                },
                "invalid_gate_record",
                Fault::Caller,
            ),
            (
                StoreError::ReadOnly { operation: "o" },
                "read_only",
                Fault::Caller,
            ),
            (
                StoreError::CursorCheckpointNotFound {
                    checkpoint: String::new(),
                },
                "cursor_checkpoint_not_found",
                Fault::Caller,
            ),
            (
                StoreError::CursorCheckpointRegionMismatch {
                    checkpoint: String::new(),
                },
                "cursor_checkpoint_region_mismatch",
                Fault::Caller,
            ),
            (
                StoreError::CursorCheckpointCorrupt {
                    path: path.clone(),
                    reason: Corruption::TooLarge,
                },
                "cursor_checkpoint_corrupt",
                Fault::Data,
            ),
            (
                StoreError::CursorCheckpointAhead {
                    checkpoint: String::new(),
                    global_sequence: 1,
                },
                "cursor_checkpoint_ahead",
                Fault::Data,
            ),
            (
                StoreError::ReactorPanicked,
                "reactor_panicked",
                Fault::Caller,
            ),
            (StoreError::Closed, "closed", Fault::Caller),
            (StoreError::WriterCrashed, "writer_crashed", Fault::Internal),
        ]
    }

    #[test]
    fn every_variant_has_its_pinned_code_and_fault() {
        let all = every_variant();
        assert_eq!(all.len(), 40, "a new variant needs a row here");
        let mut seen = std::collections::HashSet::new();
        for (err, code, fault) in &all {
            assert_eq!(err.code(), *code, "{err:?}");
            assert_eq!(err.fault(), *fault, "{err:?}");
            assert!(seen.insert(*code), "code {code} used twice");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn writer_failed_keeps_the_io_kind_of_its_first_failure() {
        let first = StoreError::io("fsync", "seg", std::io::ErrorKind::StorageFull.into());
        let failed = StoreError::WriterFailed {
            cause: Arc::new(first.copy_as_cause()),
        };
        assert_eq!(failed.io_kind(), Some(std::io::ErrorKind::StorageFull));
        assert_eq!(first.io_kind(), Some(std::io::ErrorKind::StorageFull));
        assert_eq!(StoreError::Closed.io_kind(), None);
        // A fail-stopped writer's cause is the first failure, never a chain of them.
        let again = failed.copy_as_cause();
        assert!(matches!(again, StoreError::Io { .. }), "{again:?}");
    }
}
