//! The small typed facts errors carry: handling class, fault, and what is
//! wrong with a coordinate or a causation reference.

use crate::id::EventId;

/// How a caller should react to a [`StoreError`](crate::StoreError).
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
