//! `RuntimeError`: how a call can end other than with output.

use crate::receipt::{ReceiptOutcome, RecordedReceipt, SinkError};
use crate::row::PerformedEffect;
use crate::status::OperationStatus;

/// Why a call returned no output. Every variant but `UnknownOperation`
/// belongs to a resolved call, which records exactly one receipt (or fails
/// with `ReceiptSink` when that receipt could not be recorded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No operation of this name is registered; nothing is recorded.
    #[error("unknown operation {name:?}")]
    UnknownOperation {
        /// The name asked for.
        name: String,
    },
    /// The call was refused: a capability not granted (`capability.denied`),
    /// the admission guard, or an effect outside the row (`effect.violation`).
    #[error("operation {name} denied: {code}: {message}")]
    Denied {
        /// The operation.
        name: String,
        /// Denial code.
        code: String,
        /// Detail.
        message: String,
        /// Effects performed before the denial (none are undeclared).
        effects: Vec<PerformedEffect>,
        /// The recorded `Denied` receipt.
        receipt: Option<Box<RecordedReceipt>>,
    },
    /// The handler failed or panicked (`handler.panicked`).
    #[error("operation {name} failed: {code}: {message}")]
    Failed {
        /// The operation.
        name: String,
        /// Failure code.
        code: String,
        /// Detail.
        message: String,
        /// Effects performed before the failure.
        effects: Vec<PerformedEffect>,
        /// The recorded `Failed` receipt.
        receipt: Option<Box<RecordedReceipt>>,
    },
    /// The receipt sink failed: the call fails closed. Effects already
    /// performed are listed.
    #[error("operation {name}: receipt sink failed after {} performed effects: {source}", effects.len())]
    ReceiptSink {
        /// The operation.
        name: String,
        /// The outcome the lost receipt would have recorded.
        outcome: ReceiptOutcome,
        /// Effects performed by the call.
        effects: Vec<PerformedEffect>,
        /// The sink's error.
        source: Box<SinkError>,
    },
    /// The status sink failed: the call fails closed. Effects already
    /// performed are listed; the receipt, if recorded, too.
    #[error("operation {name}: status sink failed recording {}: {source}", status.as_str())]
    StatusSink {
        /// The operation.
        name: String,
        /// The status that could not be recorded.
        status: OperationStatus,
        /// Effects performed by the call.
        effects: Vec<PerformedEffect>,
        /// The call's receipt, if it was recorded.
        receipt: Option<Box<RecordedReceipt>>,
        /// The sink's error.
        source: Box<SinkError>,
    },
}

impl RuntimeError {
    /// A stable token per variant: `unknown_operation`, `denied`,
    /// `handler_failed`, `receipt_sink_failed`, `status_sink_failed`.
    ///
    /// ```
    /// let e = syncbat::RuntimeError::UnknownOperation { name: "x".into() };
    /// assert_eq!(e.code(), "unknown_operation");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownOperation { .. } => "unknown_operation",
            Self::Denied { .. } => "denied",
            Self::Failed { .. } => "handler_failed",
            Self::ReceiptSink { .. } => "receipt_sink_failed",
            Self::StatusSink { .. } => "status_sink_failed",
        }
    }

    /// The denial or failure code of the call (`capability.denied`,
    /// `effect.violation`, `handler.panicked`, ...), when there is one.
    pub fn outcome_code(&self) -> Option<&str> {
        match self {
            Self::Denied { code, .. } | Self::Failed { code, .. } => Some(code),
            Self::ReceiptSink { outcome, .. } => outcome.code(),
            Self::UnknownOperation { .. } | Self::StatusSink { .. } => None,
        }
    }

    /// Effects the call performed before it ended.
    pub fn effects(&self) -> &[PerformedEffect] {
        match self {
            Self::UnknownOperation { .. } => &[],
            Self::Denied { effects, .. }
            | Self::Failed { effects, .. }
            | Self::ReceiptSink { effects, .. }
            | Self::StatusSink { effects, .. } => effects,
        }
    }

    /// The call's recorded receipt, if one was recorded.
    pub fn receipt(&self) -> Option<&RecordedReceipt> {
        match self {
            Self::Denied { receipt, .. }
            | Self::Failed { receipt, .. }
            | Self::StatusSink { receipt, .. } => receipt.as_deref(),
            Self::UnknownOperation { .. } | Self::ReceiptSink { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::row::EffectAxis;

    fn every_variant() -> Vec<(RuntimeError, &'static str)> {
        let effects = vec![PerformedEffect::new(
            EffectAxis::EventAppend,
            "evt.e001".into(),
        )];
        let sink = || Box::new(SinkError::Other("down".into()));
        vec![
            (
                RuntimeError::UnknownOperation { name: "x".into() },
                "unknown_operation",
            ),
            (
                RuntimeError::Denied {
                    name: "x".into(),
                    code: "capability.denied".into(),
                    message: String::new(),
                    effects: vec![],
                    receipt: None,
                },
                "denied",
            ),
            (
                RuntimeError::Failed {
                    name: "x".into(),
                    code: "handler.panicked".into(),
                    message: String::new(),
                    effects: effects.clone(),
                    receipt: None,
                },
                "handler_failed",
            ),
            (
                RuntimeError::ReceiptSink {
                    name: "x".into(),
                    outcome: ReceiptOutcome::Completed,
                    effects: effects.clone(),
                    source: sink(),
                },
                "receipt_sink_failed",
            ),
            (
                RuntimeError::StatusSink {
                    name: "x".into(),
                    status: OperationStatus::Started,
                    effects,
                    receipt: None,
                    source: sink(),
                },
                "status_sink_failed",
            ),
        ]
    }

    #[test]
    fn every_variant_has_its_code() {
        for (e, code) in every_variant() {
            assert_eq!(e.code(), code, "{e}");
            assert!(e.receipt().is_none());
        }
        let v = every_variant();
        assert_eq!(v[1].0.outcome_code(), Some("capability.denied"));
        assert_eq!(v[2].0.outcome_code(), Some("handler.panicked"));
        assert_eq!(v[3].0.outcome_code(), None);
        assert_eq!(v[2].0.effects().len(), 1);
        assert_eq!(v[3].0.effects().len(), 1);
        assert_eq!(v[0].0.effects().len(), 0);
        assert!(v[3].0.to_string().contains("1 performed effects"));
    }
}
