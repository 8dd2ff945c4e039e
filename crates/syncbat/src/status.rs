//! Operation status facts: `Started` when a call passes its checks, then
//! one of `Completed`, `Failed` or `Denied`.

use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::receipt::SinkError;

/// Where a call is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OperationStatus {
    /// Capabilities and admission passed; the handler is about to run.
    Started,
    /// The handler returned output.
    Completed,
    /// The handler failed or panicked.
    Failed,
    /// The call was refused.
    Denied,
}

impl OperationStatus {
    /// `started`, `completed`, `failed` or `denied`.
    ///
    /// ```
    /// assert_eq!(syncbat::OperationStatus::Denied.as_str(), "denied");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Denied => "denied",
        }
    }
}

/// One status fact. Stored by [`crate::StoreOperationStatusSink`] as
/// MessagePack with these field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OperationStatusFact {
    /// The operation.
    pub operation: String,
    /// The phase.
    pub status: OperationStatus,
    /// The operation's receipt kind.
    pub receipt_kind: String,
    /// The failure or denial code, for `Failed` and `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Detail, for `Failed` and `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Hash of the input (terminal facts).
    #[serde(
        default,
        with = "crate::bytes::opt_hash",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_hash: Option<[u8; 32]>,
    /// Hash of the output (`Completed`).
    #[serde(
        default,
        with = "crate::bytes::opt_hash",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_hash: Option<[u8; 32]>,
}

impl OperationStatusFact {
    /// A fact with no code, message or hashes.
    ///
    /// ```
    /// use syncbat::{OperationStatus, OperationStatusFact};
    /// let f = OperationStatusFact::new("ping", OperationStatus::Started, "receipt.ping.v1");
    /// assert_eq!(f.code, None);
    /// ```
    pub fn new(
        operation: impl Into<String>,
        status: OperationStatus,
        receipt_kind: impl Into<String>,
    ) -> Self {
        Self {
            operation: operation.into(),
            status,
            receipt_kind: receipt_kind.into(),
            code: None,
            message: None,
            input_hash: None,
            output_hash: None,
        }
    }
}

/// Records status facts. A sink that fails makes the call fail closed
/// ([`crate::RuntimeError::StatusSink`]).
pub trait OperationStatusSink: Send + Sync {
    /// Records `fact`.
    fn record_status(&self, fact: &OperationStatusFact) -> Result<(), SinkError>;
}

/// A status sink in memory: clones share the list. For tests.
///
/// ```
/// use syncbat::{MemoryStatusSink, OperationStatus, OperationStatusFact, OperationStatusSink};
/// let sink = MemoryStatusSink::new();
/// sink.record_status(&OperationStatusFact::new("ping", OperationStatus::Started, "r")).unwrap();
/// assert_eq!(sink.statuses(), [OperationStatus::Started]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryStatusSink {
    facts: Arc<Mutex<Vec<OperationStatusFact>>>,
}

impl MemoryStatusSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every fact recorded so far, in order.
    pub fn facts(&self) -> Vec<OperationStatusFact> {
        self.facts.lock().clone()
    }

    /// The phases recorded so far, in order.
    pub fn statuses(&self) -> Vec<OperationStatus> {
        self.facts.lock().iter().map(|f| f.status).collect()
    }
}

impl OperationStatusSink for MemoryStatusSink {
    fn record_status(&self, fact: &OperationStatusFact) -> Result<(), SinkError> {
        self.facts.lock().push(fact.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn facts_round_trip_and_names_are_stable() {
        let mut f = OperationStatusFact::new("ping", OperationStatus::Failed, "r");
        f.code = Some("handler.failed".into());
        f.input_hash = Some([1; 32]);
        let bytes = rmp_serde::to_vec_named(&f).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<OperationStatusFact>(&bytes).unwrap(),
            f
        );
        let names: Vec<_> = [
            OperationStatus::Started,
            OperationStatus::Completed,
            OperationStatus::Failed,
            OperationStatus::Denied,
        ]
        .iter()
        .map(|s| s.as_str())
        .collect();
        assert_eq!(names, ["started", "completed", "failed", "denied"]);
        let sink = MemoryStatusSink::new();
        sink.record_status(&f).unwrap();
        assert_eq!(sink.facts(), [f]);
    }
}
