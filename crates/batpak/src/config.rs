//! Store configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::fs::{RealFs, StoreFs};
use crate::keyscope::KeyScopeGranularity;
use crate::registry::EventPayloadValidation;
use crate::seam::{PayloadTransform, WriteHook};
use crate::sign::{ReceiptSigner, SigningPolicy};

/// Whether opening the store recomputes every hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChainVerification {
    /// Trust frame and footer CRCs at open (fast); call `verify_chain` when you need more.
    #[default]
    Crc,
    /// Recompute every `content_hash` and `event_hash` and check every link at open;
    /// refuse to open with [`StoreError::ChainVerificationFailed`] on any problem.
    Recompute,
}

/// When the writer makes appends durable, and so what a crash may lose.
///
/// | mode | an `Ok` receipt means | lost on process crash | lost on power loss / kernel crash |
/// |------|----------------------|-----------------------|------------------------------------|
/// | `EveryGroup` (default) | on disk (`fdatasync` returned) | nothing | nothing |
/// | `IntervalMs(n)` | written to the OS | nothing | appends acknowledged in the last `n` ms (about) |
/// | `OsBuffered` | written to the OS | nothing | everything since the last `sync()`, rotation or close |
///
/// Receipts carry `durable: true` only when the event was on disk before the
/// receipt was returned. Under every mode, a crash never loses an append
/// whose receipt said `durable: true`, nor one acknowledged before a
/// `sync()` or `close()` that returned `Ok`; only receipts with
/// `durable: false` acknowledged since then may be lost (under
/// `EveryGroup` there are none). What survives is always a prefix: whole
/// events and whole batches, chains intact.
///
/// If an fsync fails, the writer stops (every later append and `sync()`
/// fails with [`StoreError::WriterFailed`]) rather than retry: after a failed
/// fsync the OS may have dropped the unwritten pages, and a later fsync that
/// returns `Ok` would vouch for data that is gone. Reopen the store to go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncMode {
    /// One `fdatasync` per group of appends, before any of them is acknowledged.
    #[default]
    EveryGroup,
    /// Acknowledge after the write; the writer syncs at most this many milliseconds later.
    IntervalMs(u32),
    /// Acknowledge after the write; sync only on `sync()`, segment rotation and close.
    OsBuffered,
}

/// What to do with an incomplete write at the end of the active segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TailPolicy {
    /// Truncate to the last whole frame (or whole batch), log it and report it in [`crate::OpenReport`].
    #[default]
    RecoverTornTail,
    /// Refuse to open with [`StoreError::TornTail`].
    FailClosed,
}

/// Configuration of a store. Defaults are the safe side of every choice.
///
/// ```
/// use batpak::prelude::*;
/// let cfg = StoreConfig::new("/tmp/data")
///     .with_segment_max_bytes(8 << 20)
///     .with_sync_mode(SyncMode::EveryGroup);
/// assert_eq!(cfg.dir(), std::path::Path::new("/tmp/data"));
/// ```
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub(crate) dir: PathBuf,
    pub(crate) fs: Arc<dyn StoreFs>,
    pub(crate) segment_max_bytes: u64,
    pub(crate) max_payload_bytes: usize,
    pub(crate) sync_mode: SyncMode,
    pub(crate) tail_policy: TailPolicy,
    pub(crate) writer_queue: usize,
    pub(crate) max_group: usize,
    pub(crate) signer: Option<Arc<dyn ReceiptSigner>>,
    pub(crate) signing_policy: SigningPolicy,
    pub(crate) signing_downgrade_allowed: bool,
    pub(crate) chain_verification: ChainVerification,
    pub(crate) payload_validation: EventPayloadValidation,
    pub(crate) max_batch_items: usize,
    pub(crate) max_batch_bytes: usize,
    pub(crate) idempotency_window: u64,
    pub(crate) idempotency_capacity: usize,
    pub(crate) read_cache_bytes: usize,
    pub(crate) index_cache_bytes: usize,
    pub(crate) projection_cache: ProjectionCache,
    /// Payload encryption: the key scope granularity, when it is on.
    #[cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]
    pub(crate) payload_encryption: Option<KeyScopeGranularity>,
    /// Applied to payloads before hashing (payload encryption installs its
    /// keys here at open).
    pub(crate) payload_transform: Option<Arc<dyn PayloadTransform>>,
    /// Runs before a request's frames are buffered (keyset durability fence).
    pub(crate) write_hook: Option<Arc<dyn WriteHook>>,
    /// The origin line of the store's checkpoints; `None`: derived from the signing key.
    pub(crate) log_origin: Option<String>,
    /// How often the writer records a tree head while appends continue.
    pub(crate) head_interval: Option<Duration>,
    /// The committed floor: how many events (global sequences `0..n`) are
    /// known to be committed, from evidence outside the segment files, such
    /// as the size of the last signed tree head. Recovery at open refuses to
    /// cut any of them from the tail of the log, whatever the tail policy
    /// (`Corruption::CutBelowCommitted`). 0, the default, knows of none, and
    /// recovery behaves as it always has. Read by `recovery::load` at every
    /// open and every read-only refresh.
    pub(crate) committed_floor: u64,
}

impl StoreConfig {
    /// Default segment size limit: 64 MiB.
    pub const DEFAULT_SEGMENT_MAX_BYTES: u64 = 64 << 20;
    /// Default payload size limit: 16 MiB.
    pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 16 << 20;
    /// Default interval between tree heads while appends continue: 60 s.
    pub const DEFAULT_HEAD_INTERVAL: Duration = Duration::from_secs(60);

    /// A configuration for the data directory `dir` with safe defaults.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
            fs: Arc::new(RealFs),
            segment_max_bytes: Self::DEFAULT_SEGMENT_MAX_BYTES,
            max_payload_bytes: Self::DEFAULT_MAX_PAYLOAD_BYTES,
            sync_mode: SyncMode::default(),
            tail_policy: TailPolicy::default(),
            writer_queue: 4096,
            max_group: 1024,
            signer: None,
            signing_policy: SigningPolicy::default(),
            signing_downgrade_allowed: false,
            chain_verification: ChainVerification::default(),
            payload_validation: EventPayloadValidation::default(),
            max_batch_items: 10_000,
            max_batch_bytes: 64 << 20,
            idempotency_window: 1_000_000,
            idempotency_capacity: 1_000_000,
            read_cache_bytes: 32 << 20,
            index_cache_bytes: crate::index::DEFAULT_PAGE_CACHE_BYTES,
            projection_cache: ProjectionCache::default(),
            payload_encryption: None,
            payload_transform: None,
            write_hook: None,
            log_origin: None,
            head_interval: Some(Self::DEFAULT_HEAD_INTERVAL),
            committed_floor: 0,
        }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Uses another file-system implementation (for fault-injection tests).
    pub fn with_fs(mut self, fs: Arc<dyn StoreFs>) -> Self {
        self.fs = fs;
        self
    }

    /// Rotates to a new segment once the active one reaches this size (at least 4 KiB).
    pub fn with_segment_max_bytes(mut self, bytes: u64) -> Self {
        self.segment_max_bytes = bytes;
        self
    }

    /// Refuses payloads larger than this many encoded bytes (at most 256 MiB).
    pub fn with_max_payload_bytes(mut self, bytes: usize) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// Chooses when appends become durable; see [`SyncMode`] for what each may lose.
    pub fn with_sync_mode(mut self, mode: SyncMode) -> Self {
        self.sync_mode = mode;
        self
    }

    /// Chooses how a torn tail is handled at open.
    pub fn with_tail_policy(mut self, policy: TailPolicy) -> Self {
        self.tail_policy = policy;
        self
    }

    /// Capacity of the writer's request queue (back-pressure beyond it).
    pub fn with_writer_queue(mut self, capacity: usize) -> Self {
        self.writer_queue = capacity;
        self
    }

    /// Signs every receipt with this ed25519 key.
    pub fn with_signing_key(self, key: ed25519_dalek::SigningKey) -> Self {
        self.with_signer(Arc::new(key))
    }

    /// Signs every receipt with this signer (for keys held outside the process).
    pub fn with_signer(mut self, signer: Arc<dyn ReceiptSigner>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Whether a signing key is required to open.
    pub fn with_signing_policy(mut self, policy: SigningPolicy) -> Self {
        self.signing_policy = policy;
        self
    }

    /// Dangerous: when the signer fails, issue an unsigned receipt instead of
    /// failing the append (each downgrade is logged). Refused together with
    /// [`SigningPolicy::Required`].
    pub fn with_dangerous_signing_downgrade(mut self, allowed: bool) -> Self {
        self.signing_downgrade_allowed = allowed;
        self
    }

    /// The former name of [`StoreConfig::with_dangerous_signing_downgrade`].
    #[deprecated(note = "renamed to with_dangerous_signing_downgrade")]
    pub fn with_signing_downgrade_allowed(self, allowed: bool) -> Self {
        self.with_dangerous_signing_downgrade(allowed)
    }

    /// Whether opening recomputes every hash.
    pub fn with_chain_verification(mut self, mode: ChainVerification) -> Self {
        self.chain_verification = mode;
        self
    }

    /// What opening does when the payload registry has a problem (two types
    /// claiming one kind, an incomplete upcast chain). The default,
    /// [`EventPayloadValidation::FailFast`], refuses to open.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// // Risky: a program whose registry has problems opens anyway, with a warning.
    /// let cfg = StoreConfig::new("/tmp/data").with_payload_validation(EventPayloadValidation::Warn);
    /// # let _ = cfg;
    /// ```
    pub fn with_payload_validation(mut self, mode: EventPayloadValidation) -> Self {
        self.payload_validation = mode;
        self
    }

    /// Limits of one atomic batch: item count (default 10,000) and total payload bytes (default 64 MiB).
    pub fn with_batch_limits(mut self, max_items: usize, max_bytes: usize) -> Self {
        self.max_batch_items = max_items;
        self.max_batch_bytes = max_bytes;
        self
    }

    /// Idempotency retention: a key is honoured at least while its event is
    /// within `window` global sequences of the newest event (default 1,000,000);
    /// beyond that, keys are evicted oldest first once more than `capacity` are held.
    pub fn with_idempotency_retention(mut self, window: u64, capacity: usize) -> Self {
        self.idempotency_window = window;
        self.idempotency_capacity = capacity;
        self
    }

    /// Where projection states are cached between calls (default: in memory,
    /// 4096 states); see [`crate::ProjectionCache`].
    ///
    /// ```
    /// use batpak::prelude::*;
    /// let cfg = StoreConfig::new("/tmp/data").with_projection_cache(ProjectionCache::Disabled);
    /// # let _ = cfg;
    /// ```
    pub fn with_projection_cache(mut self, cache: ProjectionCache) -> Self {
        self.projection_cache = cache;
        self
    }

    /// Size of the in-process cache of 4 KiB segment blocks that reads share
    /// (default 32 MiB; 0 turns it off and every read is one `pread`).
    pub fn with_read_cache_bytes(mut self, bytes: usize) -> Self {
        self.read_cache_bytes = bytes;
        self
    }

    /// Size of the cache of checked 4 KiB pages of sealed segments' index
    /// files that index reads share (default 64 MiB; at least one page is
    /// kept). With the index's other parts it bounds the memory the index
    /// holds: see [`IndexStats`](crate::IndexStats).
    pub fn with_index_cache_bytes(mut self, bytes: usize) -> Self {
        self.index_cache_bytes = bytes;
        self
    }

    /// Seals every user event's payload (XChaCha20-Poly1305) under the key
    /// of its scope, so that [`Store::shred_scope`](crate::Store::shred_scope)
    /// can make a scope's payloads unreadable forever while every hash
    /// still verifies. The granularity is recorded in the keyset file at
    /// the first sealed append and checked at every open after. See the
    /// crate documentation for the threat model.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{KeyScopeGranularity, ShredScope};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let cfg = StoreConfig::new(dir.path()).with_payload_encryption(KeyScopeGranularity::PerEntity);
    /// let store = Store::open(cfg)?;
    /// let alice = Coordinate::new("person:alice", "crm")?;
    /// let r = store.append(&alice, EventKind::custom(0xE, 1), &serde_json::json!({"email": "a@example.org"}))?;
    /// assert_eq!(store.get(r.event_id)?.event.payload["email"], "a@example.org");
    /// assert!(store.shred_scope(ShredScope::Entity(&alice))?);
    /// assert!(matches!(store.get(r.event_id), Err(StoreError::PayloadShredded { .. })));
    /// assert!(store.verify_chain()?.is_intact());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "payload-encryption")]
    pub fn with_payload_encryption(mut self, granularity: KeyScopeGranularity) -> Self {
        self.payload_encryption = Some(granularity);
        self
    }

    /// The origin line of the store's checkpoints (and the name of its note
    /// key): a name for this log that verifiers know it by. Without one,
    /// `batpak/` and the first 16 hex digits of the signing key's public
    /// key (`batpak/unsigned` without a key). At most 255 bytes, no
    /// whitespace, `+` or control characters.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// let cfg = StoreConfig::new("/tmp/data").with_log_origin("audit.example.com/ledger");
    /// assert_eq!(cfg.log_origin(), "audit.example.com/ledger");
    /// ```
    pub fn with_log_origin(mut self, origin: impl Into<String>) -> Self {
        self.log_origin = Some(origin.into());
        self
    }

    /// The origin line the store's checkpoints carry (see [`Self::with_log_origin`]).
    pub fn log_origin(&self) -> String {
        if let Some(o) = &self.log_origin {
            return o.clone();
        }
        match &self.signer {
            Some(s) => format!("batpak/{}", crate::receipt::Hex(&s.key_id()[..8])),
            None => "batpak/unsigned".to_owned(),
        }
    }

    /// How often the writer records a tree head while appends continue
    /// (`None`: only at each segment seal, at close, at open after new
    /// events, and on [`crate::Store::signed_head`]). Each head costs an
    /// fsync of the tree files and of the heads file, and checking it at
    /// open costs a few reads.
    pub fn with_head_interval(mut self, interval: Option<Duration>) -> Self {
        self.head_interval = interval;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        let bad = |reason: &'static str| Err(StoreError::Configuration { reason });
        if self.segment_max_bytes < 4096 || self.segment_max_bytes > (1 << 40) {
            return bad("segment_max_bytes must be between 4 KiB and 1 TiB");
        }
        if self.max_payload_bytes == 0 || self.max_payload_bytes > (256 << 20) {
            return bad("max_payload_bytes must be between 1 byte and 256 MiB");
        }
        if self.writer_queue == 0 {
            return bad("writer_queue must be at least 1");
        }
        if self.signing_policy == SigningPolicy::Required {
            if self.signer.is_none() {
                return bad("SigningPolicy::Required needs a signing key");
            }
            if self.signing_downgrade_allowed {
                return bad("signing downgrade cannot be allowed under SigningPolicy::Required");
            }
        }
        if self.max_batch_items == 0 || self.max_batch_bytes == 0 {
            return bad("batch limits must be positive");
        }
        if let SyncMode::IntervalMs(0) = self.sync_mode {
            return bad("SyncMode::IntervalMs needs a positive interval");
        }
        let origin = self.log_origin();
        if origin.len() > 255
            || proofbat::Checkpoint::new(origin.as_str(), 0, proofbat::empty_root()).is_err()
            || origin.chars().any(|c| c.is_whitespace() || c == '+')
        {
            return bad(
                "log origin must be 1 to 255 bytes without whitespace, '+' or control characters",
            );
        }
        if self.head_interval == Some(Duration::ZERO) {
            return bad("head interval must be positive");
        }
        Ok(())
    }
}

/// Where folded projection states are kept between calls.
///
/// ```
/// use batpak::prelude::*;
/// let cfg = StoreConfig::new("/tmp/data")
///     .with_projection_cache(ProjectionCache::File { max_entries: 10_000 });
/// # let _ = cfg;
/// assert_eq!(ProjectionCache::default(), ProjectionCache::Memory { max_entries: 4096 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProjectionCache {
    /// No cache: every projection folds the entity's history from the start.
    Disabled,
    /// States of up to `max_entries` (type, entity) pairs in memory; the least
    /// recently refreshed is evicted first.
    Memory {
        /// How many states to keep.
        max_entries: usize,
    },
    /// As `Memory`, and each state that folded new events is also written to
    /// `projections/` in the data directory (atomically; one small file and
    /// fsync per such call), so a reopened store resumes folding instead of
    /// starting over. A read-only store reads these files but never writes them.
    File {
        /// How many states to keep in memory.
        max_entries: usize,
    },
}

impl Default for ProjectionCache {
    fn default() -> Self {
        Self::Memory { max_entries: 4096 }
    }
}
