//! The effect backend: what actually performs a handler's effects.
//!
//! A [`crate::Ctx`] handle checks an effect against the declared row first and
//! only then calls the backend, so a backend never sees an undeclared effect.

use batpak::{
    AppendReceipt, BoxError, Coordinate, EventId, EventKind, IndexEntry, Region, StoreError,
};

use crate::row::EffectAxis;

/// An event a backend appended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppendedEvent {
    /// The new event's id.
    pub event_id: EventId,
    /// Its position in commit order.
    pub global_sequence: u64,
    /// Its position in its entity's history.
    pub entity_sequence: u64,
    /// The store's receipt, when the backend is a store.
    pub store_receipt: Option<AppendReceipt>,
}

impl AppendedEvent {
    /// An appended event known by its id and sequences (backends that are not a store).
    ///
    /// ```
    /// use batpak::EventId;
    /// let e = syncbat::AppendedEvent::new(EventId::from_u128(7), 0, 0);
    /// assert_eq!(e.event_id, EventId::from_u128(7));
    /// ```
    pub fn new(event_id: EventId, global_sequence: u64, entity_sequence: u64) -> Self {
        Self {
            event_id,
            global_sequence,
            entity_sequence,
            store_receipt: None,
        }
    }
}

impl From<AppendReceipt> for AppendedEvent {
    fn from(r: AppendReceipt) -> Self {
        Self {
            event_id: r.event_id,
            global_sequence: r.global_sequence,
            entity_sequence: r.entity_sequence,
            store_receipt: Some(r),
        }
    }
}

/// One event returned by a read: its index entry and its payload as stored
/// (MessagePack bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadEvent {
    /// Ids, sequences, kind and coordinate.
    pub entry: IndexEntry,
    /// The stored payload bytes.
    pub payload: Vec<u8>,
}

impl ReadEvent {
    /// A read event from its parts.
    pub fn new(entry: IndexEntry, payload: Vec<u8>) -> Self {
        Self { entry, payload }
    }
}

/// A read of events of one kind: the kind comes from the handle call, the
/// rest narrows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadRequest {
    /// Which events (the kind filter is replaced by the declared kind).
    pub region: Region,
    /// Only events after this global sequence (`None`: from the start).
    pub after: Option<u64>,
    /// At most this many events.
    pub limit: usize,
}

impl ReadRequest {
    /// Events of `region` from the start, at most `limit`.
    ///
    /// ```
    /// use batpak::Region;
    /// let r = syncbat::ReadRequest::new(Region::entity("acct:1"), 10).after(Some(4));
    /// assert_eq!((r.after, r.limit), (Some(4), 10));
    /// ```
    pub fn new(region: Region, limit: usize) -> Self {
        Self {
            region,
            after: None,
            limit,
        }
    }

    /// Only events after `global_sequence`.
    pub fn after(mut self, global_sequence: Option<u64>) -> Self {
        self.after = global_sequence;
        self
    }
}

/// Why an effect failed. An effect that fails is not recorded as performed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EffectError {
    /// The operation's row does not declare this effect: refused before the
    /// backend was reached. The call ends `Denied` with `effect.violation`
    /// whatever the handler does with this error.
    #[error("{axis} {target:?} is not declared by operation {operation}")]
    Undeclared {
        /// The operation.
        operation: String,
        /// The axis.
        axis: EffectAxis,
        /// The target the handler asked for.
        target: String,
    },
    /// The core has no effect backend.
    #[error("no effect backend is configured; {axis} is unavailable")]
    NoBackend {
        /// The axis.
        axis: EffectAxis,
    },
    /// The backend does not offer this axis (a store backend has no host controls).
    #[error("this effect backend does not perform {axis}")]
    Unsupported {
        /// The axis.
        axis: EffectAxis,
    },
    /// The payload handed to an append is not exactly one MessagePack value.
    #[error("append payload is not one MessagePack value: {reason}")]
    InvalidPayload {
        /// What is wrong with it.
        reason: String,
    },
    /// No projection with this id is known to the backend.
    #[error("unknown projection {projection:?}")]
    UnknownProjection {
        /// The id asked for.
        projection: String,
    },
    /// The store refused or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A custom backend failed.
    #[error("backend: {0}")]
    Backend(BoxError),
}

impl EffectError {
    /// A stable token per variant: `effect.undeclared`, `effect.no_backend`,
    /// `effect.unsupported`, `effect.invalid_payload`,
    /// `effect.unknown_projection`, `effect.store`, `effect.backend`.
    ///
    /// ```
    /// use syncbat::{EffectAxis, EffectError};
    /// assert_eq!(EffectError::Unsupported { axis: EffectAxis::HostControl }.code(), "effect.unsupported");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::Undeclared { .. } => "effect.undeclared",
            Self::NoBackend { .. } => "effect.no_backend",
            Self::Unsupported { .. } => "effect.unsupported",
            Self::InvalidPayload { .. } => "effect.invalid_payload",
            Self::UnknownProjection { .. } => "effect.unknown_projection",
            Self::Store(_) => "effect.store",
            Self::Backend(_) => "effect.backend",
        }
    }
}

/// Performs effects for a [`crate::Core`]. One backend serves every call on
/// every thread, so it is `Send + Sync` and takes `&self`.
///
/// Every method but [`EffectBackend::append_event`] has a default: reads,
/// projection queries and host controls are [`EffectError::Unsupported`];
/// receipt emission is accepted (its payload travels in the call's receipt).
pub trait EffectBackend: Send + Sync {
    /// Appends one event of `kind` with `payload` (one MessagePack value) to
    /// `coordinate`, or to the backend's own coordinate when `None`.
    fn append_event(
        &self,
        coordinate: Option<&Coordinate>,
        kind: EventKind,
        payload: &[u8],
    ) -> Result<AppendedEvent, EffectError>;

    /// Reads events of `kind` matching `request`, in commit order.
    fn read_events(
        &self,
        kind: EventKind,
        request: &ReadRequest,
    ) -> Result<Vec<ReadEvent>, EffectError> {
        let _ = (kind, request);
        Err(EffectError::Unsupported {
            axis: EffectAxis::EventRead,
        })
    }

    /// The state of projection `projection` for `entity`, encoded (`None`:
    /// the entity has no relevant events).
    fn query_projection(
        &self,
        projection: &str,
        entity: &str,
    ) -> Result<Option<Vec<u8>>, EffectError> {
        let _ = (projection, entity);
        Err(EffectError::Unsupported {
            axis: EffectAxis::ProjectionQuery,
        })
    }

    /// Accepts (or vetoes) an emitted receipt payload before it is stamped
    /// into the call's receipt.
    fn emit_receipt(&self, receipt_kind: &str, payload: &[u8]) -> Result<(), EffectError> {
        let _ = (receipt_kind, payload);
        Ok(())
    }

    /// Uses host control `control` with `input`, returning its output.
    fn use_host_control(&self, control: &str, input: &[u8]) -> Result<Vec<u8>, EffectError> {
        let _ = (control, input);
        Err(EffectError::Unsupported {
            axis: EffectAxis::HostControl,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    struct AppendOnly;
    impl EffectBackend for AppendOnly {
        fn append_event(
            &self,
            _: Option<&Coordinate>,
            _: EventKind,
            _: &[u8],
        ) -> Result<AppendedEvent, EffectError> {
            Ok(AppendedEvent::new(EventId::from_u128(1), 0, 0))
        }
    }

    #[test]
    fn defaults_refuse_reads_queries_and_controls_and_accept_emits() {
        let b = AppendOnly;
        let req = ReadRequest::new(Region::all(), 1);
        let kind = EventKind::custom(0xE, 1);
        assert_eq!(
            b.read_events(kind, &req).map(|_| ()).map_err(|e| e.code()),
            Err("effect.unsupported")
        );
        assert!(matches!(
            b.query_projection("p", "e"),
            Err(EffectError::Unsupported {
                axis: EffectAxis::ProjectionQuery
            })
        ));
        assert!(matches!(
            b.use_host_control("h", b""),
            Err(EffectError::Unsupported {
                axis: EffectAxis::HostControl
            })
        ));
        assert!(b.emit_receipt("r", b"x").is_ok());
        assert!(b.append_event(None, kind, b"\x01").is_ok());
    }

    #[test]
    fn codes_are_stable() {
        let codes = [
            EffectError::Undeclared {
                operation: "o".into(),
                axis: EffectAxis::EventRead,
                target: "t".into(),
            }
            .code(),
            EffectError::NoBackend {
                axis: EffectAxis::EventRead,
            }
            .code(),
            EffectError::Unsupported {
                axis: EffectAxis::EventRead,
            }
            .code(),
            EffectError::InvalidPayload { reason: "r".into() }.code(),
            EffectError::UnknownProjection {
                projection: "p".into(),
            }
            .code(),
            EffectError::Store(StoreError::Backpressure).code(),
            EffectError::Backend("x".into()).code(),
        ];
        assert_eq!(
            codes,
            [
                "effect.undeclared",
                "effect.no_backend",
                "effect.unsupported",
                "effect.invalid_payload",
                "effect.unknown_projection",
                "effect.store",
                "effect.backend"
            ]
        );
    }
}
