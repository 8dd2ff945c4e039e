//! Receipts: one per resolved call, recorded through a required sink.

use std::collections::BTreeMap;
use std::sync::Arc;

use batpak::{AppendReceipt, BoxError, StoreError};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::row::PerformedEffect;

/// A receipt's outcome: completed, failed (the handler returned an error or
/// panicked) or denied (capability, admission or effect check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReceiptOutcome {
    /// The handler returned output.
    Completed,
    /// The handler failed.
    Failed {
        /// Failure code (`handler.failed`, `handler.panicked`, ...).
        code: String,
        /// Detail.
        message: String,
    },
    /// The call was refused.
    Denied {
        /// Denial code (`capability.denied`, `effect.violation`, or the admission guard's).
        code: String,
        /// Detail.
        message: String,
    },
}

impl ReceiptOutcome {
    /// `completed`, `failed` or `denied`.
    ///
    /// ```
    /// assert_eq!(syncbat::ReceiptOutcome::Completed.class(), "completed");
    /// ```
    pub const fn class(&self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed { .. } => "failed",
            Self::Denied { .. } => "denied",
        }
    }

    /// The failure or denial code (`None` when completed).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Completed => None,
            Self::Failed { code, .. } | Self::Denied { code, .. } => Some(code),
        }
    }
}

/// The receipt of one call, as recorded by a [`ReceiptSink`].
///
/// Stored by [`crate::StoreReceiptSink`] as MessagePack with these field
/// names; hashes and drawer values are `bin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReceiptEnvelope {
    /// The operation's name.
    pub descriptor_name: String,
    /// The operation's receipt kind.
    pub receipt_kind: String,
    /// Hash of the input bytes (blake3 under the default policy).
    #[serde(with = "crate::bytes::opt_hash")]
    pub input_hash: Option<[u8; 32]>,
    /// Hash of the output bytes, for a completed call.
    #[serde(with = "crate::bytes::opt_hash")]
    pub output_hash: Option<[u8; 32]>,
    /// How the call ended.
    pub outcome: ReceiptOutcome,
    /// Entries a handler attached for signing with the receipt.
    #[serde(with = "crate::bytes::drawer")]
    pub signed_extensions: BTreeMap<String, Vec<u8>>,
    /// Entries kept in the receipt body (emitted receipt payloads among them).
    #[serde(with = "crate::bytes::drawer")]
    pub local_extensions: BTreeMap<String, Vec<u8>>,
    /// Effects the call performed, in order (also on failure and denial).
    #[serde(default)]
    pub effects: Vec<PerformedEffect>,
}

impl ReceiptEnvelope {
    /// An envelope with no hashes, drawers or effects.
    ///
    /// ```
    /// use syncbat::{ReceiptEnvelope, ReceiptOutcome};
    /// let e = ReceiptEnvelope::new("ping", "receipt.ping.v1", ReceiptOutcome::Completed);
    /// assert_eq!(e.outcome.class(), "completed");
    /// ```
    pub fn new(
        descriptor_name: impl Into<String>,
        receipt_kind: impl Into<String>,
        outcome: ReceiptOutcome,
    ) -> Self {
        Self {
            descriptor_name: descriptor_name.into(),
            receipt_kind: receipt_kind.into(),
            input_hash: None,
            output_hash: None,
            outcome,
            signed_extensions: BTreeMap::new(),
            local_extensions: BTreeMap::new(),
            effects: Vec::new(),
        }
    }
}

/// How a receipt hashes the call's input and output bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptHashPolicy {
    /// blake3 of the raw bytes (the default).
    #[default]
    Blake3,
    /// No hashes: for a layer above that hashes and binds the bytes itself.
    Deferred,
}

impl ReceiptHashPolicy {
    /// The hash of `bytes` under this policy.
    ///
    /// ```
    /// use syncbat::ReceiptHashPolicy;
    /// assert_eq!(ReceiptHashPolicy::Blake3.hash(b"x"), Some(*blake3::hash(b"x").as_bytes()));
    /// assert_eq!(ReceiptHashPolicy::Deferred.hash(b"x"), None);
    /// ```
    pub fn hash(self, bytes: &[u8]) -> Option<[u8; 32]> {
        match self {
            Self::Blake3 => Some(*blake3::hash(bytes).as_bytes()),
            Self::Deferred => None,
        }
    }
}

/// A receipt as recorded: the envelope and, from a store sink, the store's
/// append receipt (signed when the store signs).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedReceipt {
    /// The envelope.
    pub envelope: ReceiptEnvelope,
    /// The append receipt of the stored receipt event.
    pub store_receipt: Option<AppendReceipt>,
}

impl RecordedReceipt {
    /// A recorded receipt with no store receipt.
    pub fn new(envelope: ReceiptEnvelope) -> Self {
        Self {
            envelope,
            store_receipt: None,
        }
    }

    /// The same, with the store's append receipt.
    pub fn with_store_receipt(mut self, receipt: AppendReceipt) -> Self {
        self.store_receipt = Some(receipt);
        self
    }
}

/// Why a sink could not record a receipt or a status fact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The store refused or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The record could not be encoded.
    #[error("encoding: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// A custom sink failed.
    #[error("sink: {0}")]
    Other(BoxError),
}

/// Records receipts. One sink serves every call; a sink that fails makes
/// the call fail closed ([`crate::RuntimeError::ReceiptSink`]).
pub trait ReceiptSink: Send + Sync {
    /// Records `envelope`.
    fn record_receipt(&self, envelope: &ReceiptEnvelope) -> Result<RecordedReceipt, SinkError>;
}

/// A receipt sink in memory: clones share the list. For tests and benches.
///
/// ```
/// use syncbat::{MemoryReceiptSink, ReceiptEnvelope, ReceiptOutcome, ReceiptSink};
/// let sink = MemoryReceiptSink::new();
/// sink.record_receipt(&ReceiptEnvelope::new("ping", "r", ReceiptOutcome::Completed)).unwrap();
/// assert_eq!(sink.len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryReceiptSink {
    receipts: Arc<Mutex<Vec<ReceiptEnvelope>>>,
}

impl MemoryReceiptSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every receipt recorded so far, in order.
    pub fn receipts(&self) -> Vec<ReceiptEnvelope> {
        self.receipts.lock().clone()
    }

    /// Number of receipts recorded.
    pub fn len(&self) -> usize {
        self.receipts.lock().len()
    }

    /// True if none is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes and returns every receipt.
    pub fn take(&self) -> Vec<ReceiptEnvelope> {
        std::mem::take(&mut *self.receipts.lock())
    }
}

impl ReceiptSink for MemoryReceiptSink {
    fn record_receipt(&self, envelope: &ReceiptEnvelope) -> Result<RecordedReceipt, SinkError> {
        self.receipts.lock().push(envelope.clone());
        Ok(RecordedReceipt::new(envelope.clone()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::row::EffectAxis;

    #[test]
    fn a_memory_sink_counts_shares_and_drains() {
        let sink = MemoryReceiptSink::new();
        assert!(sink.is_empty());
        let shared = sink.clone();
        shared
            .record_receipt(&ReceiptEnvelope::new(
                "ping",
                "r",
                ReceiptOutcome::Completed,
            ))
            .unwrap();
        assert!(!sink.is_empty());
        assert_eq!(sink.len(), 1);
        assert_eq!(sink.receipts()[0].descriptor_name, "ping");
        assert_eq!(sink.take().len(), 1);
        assert!(shared.is_empty());
    }

    #[test]
    fn envelopes_round_trip_with_named_fields() {
        let mut e = ReceiptEnvelope::new(
            "bank.deposit",
            "receipt.bank.deposit.v1",
            ReceiptOutcome::Failed {
                code: "handler.failed".into(),
                message: "no".into(),
            },
        );
        e.input_hash = ReceiptHashPolicy::Blake3.hash(b"in");
        e.signed_extensions.insert("k".into(), vec![1]);
        e.local_extensions.insert("l".into(), vec![2]);
        e.effects.push(PerformedEffect::new(
            EffectAxis::EventAppend,
            "evt.e001".into(),
        ));
        let bytes = rmp_serde::to_vec_named(&e).unwrap();
        for name in [
            "descriptor_name",
            "receipt_kind",
            "input_hash",
            "output_hash",
            "outcome",
            "signed_extensions",
            "local_extensions",
            "effects",
        ] {
            assert!(
                bytes.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name}"
            );
        }
        assert_eq!(rmp_serde::from_slice::<ReceiptEnvelope>(&bytes).unwrap(), e);
    }

    #[test]
    fn outcome_classes_and_codes() {
        let f = ReceiptOutcome::Failed {
            code: "a".into(),
            message: String::new(),
        };
        let d = ReceiptOutcome::Denied {
            code: "b".into(),
            message: String::new(),
        };
        assert_eq!((f.class(), f.code()), ("failed", Some("a")));
        assert_eq!((d.class(), d.code()), ("denied", Some("b")));
        assert_eq!(ReceiptOutcome::Completed.code(), None);
    }

    #[test]
    fn memory_sink_shares_between_clones() {
        let a = MemoryReceiptSink::new();
        let b = a.clone();
        assert!(a.is_empty());
        b.record_receipt(&ReceiptEnvelope::new("x", "y", ReceiptOutcome::Completed))
            .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a.receipts()[0].descriptor_name, "x");
        assert_eq!(a.take().len(), 1);
        assert!(b.is_empty());
    }
}
