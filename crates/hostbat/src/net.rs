//! The host behind netbat: [`HostDispatch`] implements [`netbat::Dispatch`]
//! over a [`Host`].
//!
//! | syncbat outcome | wire kind | message carries |
//! |---|---|---|
//! | unknown operation | `unknown_operation` | the name |
//! | a required capability the connection lacks | `forbidden` | `capability.denied` |
//! | `Denied` with `capability.denied` | `forbidden` | `capability.denied` |
//! | other `Denied` (`effect.violation`, admission) | `runtime` | the denial code |
//! | `Failed` (a handler code, `store.<StoreError::code()>`) | `handler` | the failure code |
//! | `Failed` with `handler.panicked` | `runtime` | `handler.panicked` |
//! | `ReceiptSink` | `receipt_sink` | `receipt_sink_failed` |
//! | anything else | `runtime` | the runtime's code |

use std::sync::Arc;

use netbat::{CallFailure, CallFailureKind, Dispatch, Grants};
use syncbat::RuntimeError;

use crate::host::Host;

/// netbat's call seam over a shared [`Host`].
#[derive(Debug, Clone)]
pub struct HostDispatch {
    host: Arc<Host>,
}

impl HostDispatch {
    /// Dispatches to `host`.
    pub fn new(host: Arc<Host>) -> Self {
        Self { host }
    }

    /// The host.
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }
}

/// The wire failure of a runtime error of operation `op`.
pub fn call_failure(op: &str, error: &RuntimeError) -> CallFailure {
    match error {
        RuntimeError::UnknownOperation { name } => CallFailure::unknown_operation(name),
        RuntimeError::Denied { code, message, .. } if code == "capability.denied" => {
            CallFailure::new(
                CallFailureKind::Forbidden,
                format!("operation `{op}` denied: {code}: {message}"),
            )
        }
        RuntimeError::Denied { code, message, .. } => {
            CallFailure::runtime(format!("operation `{op}` denied: {code}: {message}"))
        }
        RuntimeError::Failed { code, message, .. } if code == "handler.panicked" => {
            CallFailure::runtime(format!("operation `{op}` failed: {code}: {message}"))
        }
        RuntimeError::Failed { code, message, .. } => CallFailure::handler(op, code, message),
        RuntimeError::ReceiptSink { .. } => CallFailure::new(
            CallFailureKind::ReceiptSink,
            format!("{}: {error}", error.code()),
        ),
        other => CallFailure::runtime(format!("{}: {other}", other.code())),
    }
}

impl Dispatch for HostDispatch {
    fn call(&self, op: &str, input: &[u8], grants: &Grants) -> Result<Vec<u8>, CallFailure> {
        let Some(descriptor) = self.host.core().descriptor(op) else {
            return Err(CallFailure::unknown_operation(op));
        };
        if let Some(missing) = descriptor
            .effect_row()
            .requires_capabilities()
            .find(|c| !grants.allows(c))
        {
            return Err(CallFailure::new(
                CallFailureKind::Forbidden,
                format!("operation `{op}` needs capability `{missing}`: capability.denied"),
            ));
        }
        match self.host.invoke(op, input.to_vec()) {
            Ok(out) => Ok(out.into_output()),
            Err(e) => {
                tracing::debug!(operation = op, code = e.code(), "call failed: {e}");
                Err(call_failure(op, &e))
            }
        }
    }
}
