//! An embedded, sync-first event store with a tamper-evident history.
//!
//! Events are appended to per-entity hash chains (blake3) in an append-only
//! segment log, indexed in memory, and read back by id, entity, scope, kind or
//! [`Region`]. One writer thread groups concurrent appends into one write and
//! one `fdatasync`; readers run on their own threads.
//!
//! ```
//! use batpak::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(StoreConfig::new(dir.path()))?;
//! let coord = Coordinate::new("entity:a", "scope:1")?;
//! const NOTED: EventKind = EventKind::custom(0xE, 0x22);
//! let first = store.append(&coord, NOTED, &serde_json::json!({"n": 1}))?;
//! let second = store.append(&coord, NOTED, &serde_json::json!({"n": 2}))?;
//! assert_eq!(second.prev_hash, first.event_hash);
//! let page = store.query_entries_after(&Region::all(), Some(first.global_sequence), 100);
//! assert_eq!(page.len(), 1);
//! store.close()?;
//! let ro = Store::open_read_only(StoreConfig::new(dir.path()))?;
//! assert_eq!(ro.by_entity("entity:a").len(), 2);
//! # Ok(()) }
//! ```
//!
//! The bytes each hash covers are documented in [`chain`]; every file layout in
//! `docs/FORMAT.md`; what each [`SyncMode`] may lose in a crash on [`SyncMode`].
//!
//! [`Store::snapshot`] copies an open store into another directory as of one
//! instant while appends go on; [`Store::fork`] does the same but shares the
//! sealed segments by hard link. Either copy opens as a store of its own.
//!
//! # Payload encryption and crypto-shred (feature `payload-encryption`)
//!
//! An audit trail has to keep its chain intact and still honour a request
//! to forget. With `StoreConfig::with_payload_encryption` every user
//! event's payload is sealed (XChaCha20-Poly1305, a random 192-bit nonce,
//! associated data binding it to its event id, kind, entity and scope) under
//! the 256-bit key of its scope ([`KeyScopeGranularity`]: per entity by
//! default, per kind category, per kind, or per event) before it is hashed.
//! The hashes, receipts and signatures cover the sealed bytes, so
//! [`Store::verify_chain`] needs no key. `Store::shred_scope` destroys a
//! scope's key; from then on its payloads read as
//! [`StoreError::PayloadShredded`] while every hash still verifies. The
//! store's own records (system and denial kinds) stay plaintext. A new key
//! is durable before any frame sealed under it is written, under every
//! [`SyncMode`], so encryption never turns a crash into lost data.
//!
//! Threat model. The keys live in the data directory, in the `KEYSET` file
//! beside the segments: encryption at rest does not protect a store from
//! someone who can read the directory, and is not meant to. What it gives
//! is deletion that works on an append-only, hash-chained log: after a
//! shred returns, the plaintext cannot be recovered from the store, nor
//! from any backup or copy taken after the shred. A copy of the directory
//! (or of the keyset) taken before the shred still holds the key, and so
//! does any plaintext a reader kept (including another process's projection
//! cache: a shred drops only the shredding store's cached states). The
//! replaced keyset file's blocks are released to the file system, not
//! overwritten (on flash and copy-on-write file systems overwriting would not
//! reach them anyway): a shred defeats reading the store, not forensic
//! recovery of the raw device. Keys are wiped from memory when dropped and
//! never appear in `Debug` output, logs or errors. Deleting the keyset file
//! shreds everything; a damaged one refuses to open.

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzz_api.rs"]
pub mod __fuzz;
mod append;
mod attestation;
mod cache;
mod causal;
pub mod chain;
mod compact;
mod config;
mod coordinate;
mod cursor;
mod denial;
mod engine;
mod entry;
mod error;
mod event;
mod evidence;
pub mod format;
pub mod fs;
mod gate;
mod head;
mod id;
mod id_table;
mod idempotency;
mod import;
mod index;
#[cfg(feature = "payload-encryption")]
mod keyring;
mod keyscope;
mod kind;
mod merkle;
mod notary;
mod options;
mod projection;
mod prove;
mod reactor;
mod receipt;
mod recovery;
mod region;
mod registry;
mod seam;
mod segment;
mod segment_index;
mod sequence;
mod shred;
mod sign;
#[cfg(feature = "sim")]
pub mod sim;
mod snapshot;
#[cfg(feature = "startup-registry-check")]
mod startup;
mod store;
mod subscription;
mod typed;
mod upcast;
mod verify;
mod watermark;
mod writer;

pub use append::AppendTicket;
pub use attestation::{
    GateAttestation, MAX_ATTESTED_GATES, MAX_BYPASS_REASON_LEN, MAX_GATE_NAME_LEN,
    MAX_IMPORT_NAMESPACE_LEN,
};
pub use causal::{CausalBoundary, CausalWalk};
pub use compact::{
    CompactionAtOpen, CompactionConfig, CompactionKind, CompactionPredicate, CompactionReport,
    CompactionStrategy,
};
pub use config::ProjectionCache;
pub use config::{ChainVerification, StoreConfig, SyncMode, TailPolicy};
pub use coordinate::Coordinate;
pub use cursor::{CheckpointId, Cursor, PolledEvent};
pub use denial::{BypassRecord, DenialReceipt, DENIAL_KIND};
pub use entry::IndexEntry;
pub use error::{
    BoxError, CausationProblem, CoordinateProblem, Corruption, Fault, HandlingClass, Result,
    StoreError,
};
pub use event::{Event, EventHeader, StoredEvent};
pub use gate::{
    Approved, BypassReason, Denial, Gate, GateReport, GateSet, Pipeline, Proposal, ProposalDigest,
    DEFAULT_DENIAL_CODE, GATE_PANICKED,
};
pub use head::{ConsistencyProof, HeadVerification, InclusionProof, TreeHead};
pub use id::{CorrelationId, EventId, HlcPoint, IdempotencyKey};
pub use import::{ImportOptions, ImportReport, ImportSelector};
pub use index::IndexStats;
pub use keyscope::KeyScopeGranularity;
pub use kind::EventKind;
pub use options::{AppendOptions, BatchAppendItem, CausationRef};
pub use projection::{EventSourced, Freshness};
pub use reactor::{Reaction, ReactorHandle, ReactorOptions, ReactorStats};
pub use receipt::{AppendReceipt, ReceiptJsonError};
pub use recovery::{HistoryLoss, OpenReport, TornTail};
pub use region::{EntityMatch, KindFilter, Region};
pub use sequence::ExpectedSequence;
pub use shred::ShredScope;
pub use sign::{
    receipt_cover, ReceiptSigner, ReceiptVerificationError, SigningPolicy, RECEIPT_COVER_DOMAIN,
    RECEIPT_COVER_LEN,
};
pub use snapshot::{CopyStrategy, ForkReport, LinkFallback, SnapshotFile, SnapshotReport};
pub use store::{ReadOnlyStore, Store, StoreReader};

/// Name of the lock file in a data directory.
#[deprecated(note = "the lock file's name is not part of the API; it will stop being public")]
pub const LOCK_FILE: &str = format::LOCK_FILE;
pub use subscription::{Notification, Subscription};
pub use typed::EventPayload;
pub use upcast::Upcast;
pub use watermark::{Frontier, Watermark};

/// `#[derive(EventPayload)]`: binds a type to an event kind and registers it.
pub use batpak_macros::EventPayload;
/// Store-free checking of tree heads and proofs (what a client needs).
pub use proofbat;
pub use registry::{
    registry_report, verify_registry, EventPayloadValidation, RegisteredPayload, RegisteredUpcast,
    RegistryProblem, RegistryReport,
};
/// The neutral MessagePack value [`Upcast`] steps work on.
pub use rmpv;

#[doc(hidden)]
pub use registry::private as __private;
pub use verify::{
    AncestorWalk, AncestryBoundary, ChainVerificationReport, ReceiptVerification, VerifyProgress,
};

/// Format constants a third party needs to read segment files; the same
/// constants are in [`format`](mod@crate::format), with a reader of segment files.
#[deprecated(note = "use batpak::format")]
pub mod format_constants {
    pub use crate::format::{
        CHECKPOINT_MAGIC, CHECKPOINT_VERSION, PROJECTION_MAGIC, PROJECTION_VERSION,
    };
    pub use crate::format::{
        FOOTER_MAGIC, FRAME_PREFIX_LEN, IDEMPOTENCY_MAGIC, IDEMPOTENCY_VERSION,
        SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SYNC_FAILURE_MAGIC,
        SYNC_FAILURE_VERSION, TRAILER_LEN,
    };
}

/// The names most programs need: `use batpak::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AncestorWalk, AncestryBoundary, AppendOptions, AppendReceipt, AppendTicket,
        BatchAppendItem, CausationRef, ChainVerification, ChainVerificationReport, Coordinate,
        CorrelationId, Event, EventHeader, EventId, EventKind, ExpectedSequence, HandlingClass,
        HlcPoint, IdempotencyKey, IndexEntry, OpenReport, ReadOnlyStore, ReceiptVerification,
        Region, SigningPolicy, Store, StoreConfig, StoreError, StoreReader, StoredEvent, SyncMode,
        TailPolicy,
    };
    pub use crate::{
        CheckpointId, Cursor, EventSourced, Freshness, Frontier, Notification, ProjectionCache,
        Reaction, ReactorHandle, ReactorOptions, Subscription, Watermark,
    };
    pub use crate::{EventPayload, EventPayloadValidation, Upcast};
}
