//! Subscription sessions, independent of any wire (a transport frames them).
//!
//! A [`SubscriptionRegistry`] maps subscription ids to [`Source`]s: an event
//! category, an entity stream, a receipt stream or an operation's status
//! stream. [`Session::open`] replays from the beginning or from a cursor the
//! subscription issued, then delivers live. Each [`Delivery`] carries an
//! opaque [`SubscriptionCursor`] (the published `BPSC` layout) that resumes
//! right after it: no gap, no repeat. Acknowledgements are cumulative; a
//! client window bounds unacknowledged deliveries. A session whose window is
//! full pauses (credit-based flow control) and resumes on an acknowledgement;
//! only after [`SessionConfig::stall_timeout`] paused does it end as
//! `slow_consumer`. Sessions only read the store, so none can slow the writer.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use batpak::prelude::*;
//! use syncbat::session::{SessionConfig, SessionPoll, Source, SubscriptionRegistry};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
//! let acct = Coordinate::new("acct:1", "bank")?;
//! store.append(&acct, EventKind::custom(0xE, 1), &1u8)?;
//! let mut routes = SubscriptionRegistry::new();
//! routes.register("acct.1", Source::EntityStream(acct.clone()))?;
//! let mut session = routes.open(&store, "acct.1", None, 8, SessionConfig::default())?;
//! let SessionPoll::Delivery(first) = session.poll(Duration::from_secs(1))? else { panic!() };
//! session.ack(first.delivery_index, &first.cursor_after)?;
//! // Later, elsewhere: resume after what was acknowledged.
//! store.append(&acct, EventKind::custom(0xE, 1), &2u8)?;
//! let mut resumed = routes.open(&store, "acct.1", Some(&first.cursor_after), 8, SessionConfig::default())?;
//! let SessionPoll::Delivery(next) = resumed.poll(Duration::from_secs(1))? else { panic!() };
//! assert_eq!(next.entry.global_sequence(), first.entry.global_sequence() + 1);
//! # Ok(()) }
//! ```

mod cursor;
mod engine;
mod source;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use batpak::{Store, StoreError};

pub use self::cursor::{
    CursorError, Position, RouteBinding, SubscriptionCursor, CURSOR_MAGIC, CURSOR_VERSION,
    EVENT_CURSOR_LEN, ROUTE_CURSOR_LEN, SOURCE_KIND_ENTITY_STREAM, SOURCE_KIND_EVENT_CATEGORY,
    SOURCE_KIND_OPERATION_STATUS, SOURCE_KIND_PROJECTION, SOURCE_KIND_RECEIPT_STREAM,
    SOURCE_KIND_STORE_ROUTE,
};
pub use self::engine::{
    Delivery, EndReason, Phase, Session, SessionControls, SessionEnd, SessionPoll,
};
pub use self::source::Source;
use crate::name::OperationNameError;

/// Limits of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Largest window a client may ask for (larger requests are clamped).
    pub server_max_window: u32,
    /// Events read from the store per page.
    pub page_size: usize,
    /// How long a session may stay paused on a full window before it ends
    /// as a slow consumer.
    pub stall_timeout: Duration,
}

impl Default for SessionConfig {
    /// A window of at most 256, pages of 64, a 30-second stall time.
    fn default() -> Self {
        Self {
            server_max_window: 256,
            page_size: 64,
            stall_timeout: Duration::from_secs(30),
        }
    }
}

impl SessionConfig {
    /// The same limits with another stall time.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = syncbat::session::SessionConfig::default().with_stall_timeout(Duration::from_secs(5));
    /// assert_eq!(c.stall_timeout, Duration::from_secs(5));
    /// ```
    pub fn with_stall_timeout(mut self, stall_timeout: Duration) -> Self {
        self.stall_timeout = stall_timeout;
        self
    }

    /// The same limits with another maximum window.
    pub fn with_server_max_window(mut self, window: u32) -> Self {
        self.server_max_window = window;
        self
    }

    /// The same limits with another page size.
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size;
        self
    }

    fn check(&self) -> Result<(), SessionError> {
        if self.server_max_window == 0 {
            Err(SessionError::InvalidConfig {
                reason: "server max window is zero",
            })
        } else if self.page_size == 0 {
            Err(SessionError::InvalidConfig {
                reason: "page size is zero",
            })
        } else {
            Ok(())
        }
    }
}

/// Why an acknowledgement was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// Index 0, or past the last delivery.
    #[error("ack of delivery {index}, but the last delivery is {last_sent}")]
    OutOfRange {
        /// The index acknowledged.
        index: u64,
        /// The last delivery sent.
        last_sent: u64,
    },
    /// Below an index already acknowledged.
    #[error("ack of delivery {index} after delivery {last_acked} was acknowledged")]
    Regressed {
        /// The index acknowledged.
        index: u64,
        /// The highest index acknowledged before.
        last_acked: u64,
    },
    /// The cursor is not the one delivered with that index.
    #[error("ack cursor does not match the cursor sent with delivery {index}")]
    CursorMismatch {
        /// The index acknowledged.
        index: u64,
    },
    /// The session has ended.
    #[error("the session has ended")]
    Ended,
}

/// Why a registry or session call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A subscription id breaks the operation-name grammar.
    #[error("invalid subscription id {id:?}: {problem}")]
    InvalidSubscriptionId {
        /// The id.
        id: String,
        /// What is wrong with it.
        problem: OperationNameError,
    },
    /// A subscription id registered twice.
    #[error("subscription {id:?} is already registered")]
    DuplicateSubscription {
        /// The id.
        id: String,
    },
    /// No subscription of this id.
    #[error("unknown subscription {id:?}")]
    UnknownSubscription {
        /// The id.
        id: String,
    },
    /// A source that cannot be followed.
    #[error("invalid subscription route: {reason}")]
    InvalidRoute {
        /// Why.
        reason: &'static str,
    },
    /// Limits that cannot make progress.
    #[error("invalid session configuration: {reason}")]
    InvalidConfig {
        /// Why.
        reason: &'static str,
    },
    /// A client window of zero.
    #[error("the client window is zero")]
    InvalidWindow,
    /// The resume cursor is malformed or was issued for another subscription.
    #[error("resume cursor: {0}")]
    Cursor(#[from] CursorError),
    /// The resume cursor names an entity position this store does not hold.
    #[error(
        "resume cursor is after entity sequence {entity_sequence}, which this store does not hold"
    )]
    CursorAhead {
        /// The position.
        entity_sequence: u64,
    },
    /// An acknowledgement was refused.
    #[error("ack: {0}")]
    Ack(AckError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl SessionError {
    /// A stable token: `invalid_subscription_id`, `duplicate_subscription`,
    /// `unknown_subscription`, `invalid_route`, `invalid_config`,
    /// `invalid_window`, `cursor_invalid` / `cursor_mismatch`,
    /// `cursor_ahead`, `ack_invalid`, `store`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSubscriptionId { .. } => "invalid_subscription_id",
            Self::DuplicateSubscription { .. } => "duplicate_subscription",
            Self::UnknownSubscription { .. } => "unknown_subscription",
            Self::InvalidRoute { .. } => "invalid_route",
            Self::InvalidConfig { .. } => "invalid_config",
            Self::InvalidWindow => "invalid_window",
            Self::Cursor(e) => e.code(),
            Self::CursorAhead { .. } => "cursor_ahead",
            Self::Ack(_) => "ack_invalid",
            Self::Store(_) => "store",
        }
    }
}

/// Subscription ids and their sources.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionRegistry {
    routes: HashMap<String, Source>,
}

impl SubscriptionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `id` (operation-name grammar) for `source`.
    pub fn register(
        &mut self,
        id: impl Into<String>,
        source: Source,
    ) -> Result<&mut Self, SessionError> {
        let id = id.into();
        if let Err(problem) = crate::name::check(&id) {
            return Err(SessionError::InvalidSubscriptionId { id, problem });
        }
        source
            .check()
            .map_err(|reason| SessionError::InvalidRoute { reason })?;
        if self.routes.contains_key(&id) {
            return Err(SessionError::DuplicateSubscription { id });
        }
        self.routes.insert(id, source);
        Ok(self)
    }

    /// The source of `id`.
    pub fn get(&self, id: &str) -> Option<&Source> {
        self.routes.get(id)
    }

    /// Opens a session of `id`; see [`Session::open`].
    pub fn open(
        &self,
        store: &Arc<Store>,
        id: &str,
        resume: Option<&[u8]>,
        client_window: u32,
        config: SessionConfig,
    ) -> Result<Session, SessionError> {
        let source = self
            .routes
            .get(id)
            .ok_or_else(|| SessionError::UnknownSubscription { id: id.to_owned() })?;
        Session::open(
            store.clone(),
            id,
            source.clone(),
            resume,
            client_window,
            config,
        )
    }
}
