//! `Core`: the runtime. One value serves every thread: `invoke` takes `&self`.
//!
//! A call runs in this order: resolve the name (unknown: error, no receipt);
//! every required capability granted, else `capability.denied`; the
//! admission guard; status `Started`; the handler, inside `catch_unwind`,
//! with a [`Ctx`] whose handles refuse undeclared effects before the
//! backend; the verdict (a refused or undeclared effect denies the call with
//! `effect.violation` and discards the output); one receipt; the terminal status.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::admission::{AdmissionDecision, AdmissionGuard};
use crate::backend::EffectBackend;
use crate::builder::CoreBuilder;
use crate::ctx::{Ctx, EffectLog};
use crate::descriptor::OperationDescriptor;
use crate::error::RuntimeError;
use crate::handler::{Handler, HandlerResult};
use crate::receipt::{
    ReceiptEnvelope, ReceiptHashPolicy, ReceiptOutcome, ReceiptSink, RecordedReceipt, SinkError,
};
use crate::row::{first_undeclared, PerformedEffect};
use crate::status::{OperationStatus, OperationStatusFact, OperationStatusSink};

/// Denial and failure codes the runtime itself records.
pub mod codes {
    /// A required capability is not granted.
    pub const CAPABILITY_DENIED: &str = "capability.denied";
    /// The handler tried or performed an effect its row does not declare.
    pub const EFFECT_VIOLATION: &str = "effect.violation";
    /// The handler panicked.
    pub const HANDLER_PANICKED: &str = "handler.panicked";
    /// The status sink refused `Started`; the handler did not run.
    pub const STATUS_SINK_FAILED: &str = "status_sink.failed";
    /// The receipt sink failed (recorded in the terminal status, if any).
    pub const RECEIPT_SINK_FAILED: &str = "receipt_sink.failed";
}

/// One registered operation.
pub(crate) struct Registered {
    descriptor: OperationDescriptor,
    handler: Box<dyn Handler>,
}

impl Registered {
    pub(crate) fn new(descriptor: OperationDescriptor, handler: Box<dyn Handler>) -> Self {
        Self {
            descriptor,
            handler,
        }
    }
}

/// The operation runtime. `Send + Sync`: share one `Core` (in an `Arc`)
/// between every connection and thread.
///
/// ```
/// use syncbat::{Core, Ctx, EffectClass, HandlerResult, MemoryReceiptSink, OperationDescriptor};
/// const ECHO: OperationDescriptor =
///     OperationDescriptor::new("echo", EffectClass::Compute, "echo.in", "echo.out", "receipt.echo.v1");
/// fn echo(input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult { Ok(input.to_vec()) }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sink = MemoryReceiptSink::new();
/// let mut builder = Core::builder();
/// builder.register(ECHO, echo)?.receipt_sink(sink.clone());
/// let core = std::sync::Arc::new(builder.build()?);
/// let worker = { let core = core.clone(); std::thread::spawn(move || core.invoke("echo", b"hi".to_vec())) };
/// assert_eq!(worker.join().unwrap()?.output(), b"hi");
/// assert_eq!(sink.receipts()[0].input_hash, Some(*blake3::hash(b"hi").as_bytes()));
/// # Ok(()) }
/// ```
pub struct Core {
    pub(crate) ops: HashMap<Box<str>, Registered, foldhash::fast::RandomState>,
    pub(crate) granted: HashSet<String, foldhash::fast::RandomState>,
    pub(crate) backend: Option<Box<dyn EffectBackend>>,
    pub(crate) receipts: Option<Box<dyn ReceiptSink>>,
    pub(crate) statuses: Option<Box<dyn OperationStatusSink>>,
    pub(crate) guard: Option<Box<dyn AdmissionGuard>>,
    pub(crate) hash_policy: ReceiptHashPolicy,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("operations", &self.ops.keys().collect::<Vec<_>>())
            .field("granted", &self.granted)
            .field("backend", &self.backend.is_some())
            .field("receipt_sink", &self.receipts.is_some())
            .field("status_sink", &self.statuses.is_some())
            .field("admission_guard", &self.guard.is_some())
            .finish()
    }
}

/// A completed call: the handler's output, its receipt (when the core
/// records receipts) and the effects it performed.
#[derive(Debug)]
pub struct InvokeResult {
    output: Vec<u8>,
    // Boxed: a receipt with its store receipt is several hundred bytes, and
    // a call result is moved several times on the way out.
    receipt: Option<Box<RecordedReceipt>>,
    effects: Vec<PerformedEffect>,
}

impl InvokeResult {
    /// The output bytes.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// The output bytes, owned.
    pub fn into_output(self) -> Vec<u8> {
        self.output
    }

    /// The receipt recorded for this call.
    pub fn recorded_receipt(&self) -> Option<&RecordedReceipt> {
        self.receipt.as_deref()
    }

    /// The effects the call performed, in order.
    pub fn effects(&self) -> &[PerformedEffect] {
        &self.effects
    }
}

/// How a resolved call ends.
enum Verdict {
    Completed(Vec<u8>),
    Failed { code: String, message: String },
    Denied { code: String, message: String },
}

impl Verdict {
    fn outcome(&self) -> ReceiptOutcome {
        match self {
            Self::Completed(_) => ReceiptOutcome::Completed,
            Self::Failed { code, message } => ReceiptOutcome::Failed {
                code: code.clone(),
                message: message.clone(),
            },
            Self::Denied { code, message } => ReceiptOutcome::Denied {
                code: code.clone(),
                message: message.clone(),
            },
        }
    }

    fn status(&self) -> OperationStatus {
        match self {
            Self::Completed(_) => OperationStatus::Completed,
            Self::Failed { .. } => OperationStatus::Failed,
            Self::Denied { .. } => OperationStatus::Denied,
        }
    }
}

impl Core {
    /// A new builder.
    pub fn builder() -> CoreBuilder {
        CoreBuilder::new()
    }

    /// The descriptor of operation `name`.
    pub fn descriptor(&self, name: &str) -> Option<&OperationDescriptor> {
        self.ops.get(name).map(|r| &r.descriptor)
    }

    /// True if operation `name` is registered.
    pub fn contains_operation(&self, name: &str) -> bool {
        self.ops.contains_key(name)
    }

    /// Every registered descriptor (unordered).
    pub fn descriptors(&self) -> impl Iterator<Item = &OperationDescriptor> {
        self.ops.values().map(|r| &r.descriptor)
    }

    /// True if `capability` is granted.
    pub fn is_granted(&self, capability: &str) -> bool {
        self.granted.contains(capability)
    }

    /// Calls operation `name` with `input`.
    ///
    /// Output comes back in an [`InvokeResult`]; a denied or failed call is
    /// a [`RuntimeError`] carrying its recorded receipt and its effects.
    pub fn invoke(&self, name: &str, input: Vec<u8>) -> Result<InvokeResult, RuntimeError> {
        let reg = self
            .ops
            .get(name)
            .ok_or_else(|| RuntimeError::UnknownOperation {
                name: name.to_owned(),
            })?;
        self.run(reg, &input)
    }

    fn run(&self, reg: &Registered, input: &[u8]) -> Result<InvokeResult, RuntimeError> {
        let d = &reg.descriptor;
        let missing = d
            .effect_row()
            .requires_capabilities()
            .find(|c| !self.granted.contains(*c));
        if let Some(missing) = missing {
            let verdict = Verdict::Denied {
                code: codes::CAPABILITY_DENIED.to_owned(),
                message: format!("capability {missing:?} is not granted"),
            };
            return self.finish(d, input, verdict, EffectLog::default(), false);
        }
        if let Some(guard) = &self.guard {
            if let AdmissionDecision::Deny { code, message } = guard.admit(d, input) {
                let verdict = Verdict::Denied { code, message };
                return self.finish(d, input, verdict, EffectLog::default(), false);
            }
        }
        if let Err(source) = self.record_status(d, OperationStatus::Started, None, input, None) {
            let verdict = Verdict::Failed {
                code: codes::STATUS_SINK_FAILED.to_owned(),
                message: source.to_string(),
            };
            let log = EffectLog::default();
            let receipt = self.record_receipt(d, input, &verdict, &log).map_err(|e| {
                RuntimeError::ReceiptSink {
                    name: d.name().to_owned(),
                    outcome: verdict.outcome(),
                    effects: Vec::new(),
                    source: Box::new(e),
                }
            })?;
            return Err(RuntimeError::StatusSink {
                name: d.name().to_owned(),
                status: OperationStatus::Started,
                effects: Vec::new(),
                receipt,
                source: Box::new(source),
            });
        }
        let mut cx = Ctx::new(d, self.backend.as_deref());
        // The handler's panic is contained here; nothing the handler can
        // reach holds a lock of ours, so none is left poisoned.
        let result = catch_unwind(AssertUnwindSafe(|| reg.handler.handle(input, &mut cx)));
        let log = cx.into_log();
        let verdict = verdict(d, &log, result);
        self.finish(d, input, verdict, log, true)
    }

    /// Records the receipt, then the terminal status, and shapes the result.
    fn finish(
        &self,
        d: &OperationDescriptor,
        input: &[u8],
        verdict: Verdict,
        log: EffectLog,
        started: bool,
    ) -> Result<InvokeResult, RuntimeError> {
        let receipt = match self.record_receipt(d, input, &verdict, &log) {
            Ok(r) => r,
            Err(source) => {
                if started {
                    // Best effort: the call already fails with the sink error,
                    // which is the one the caller must see.
                    let _ = self.record_status(
                        d,
                        OperationStatus::Failed,
                        Some((codes::RECEIPT_SINK_FAILED, &source.to_string())),
                        input,
                        None,
                    );
                }
                return Err(RuntimeError::ReceiptSink {
                    name: d.name().to_owned(),
                    outcome: verdict.outcome(),
                    effects: log.performed,
                    source: Box::new(source),
                });
            }
        };
        let status = verdict.status();
        let status_result = match &verdict {
            Verdict::Completed(out) => self.record_status(d, status, None, input, Some(out)),
            Verdict::Failed { code, message } | Verdict::Denied { code, message } => {
                self.record_status(d, status, Some((code, message)), input, None)
            }
        };
        if let Err(source) = status_result {
            return Err(RuntimeError::StatusSink {
                name: d.name().to_owned(),
                status,
                effects: log.performed,
                receipt,
                source: Box::new(source),
            });
        }
        let name = || d.name().to_owned();
        match verdict {
            Verdict::Completed(output) => Ok(InvokeResult {
                output,
                receipt,
                effects: log.performed,
            }),
            Verdict::Failed { code, message } => {
                tracing::debug!(operation = d.name(), %code, "call failed");
                Err(RuntimeError::Failed {
                    name: name(),
                    code,
                    message,
                    effects: log.performed,
                    receipt,
                })
            }
            Verdict::Denied { code, message } => {
                tracing::debug!(operation = d.name(), %code, "call denied");
                Err(RuntimeError::Denied {
                    name: name(),
                    code,
                    message,
                    effects: log.performed,
                    receipt,
                })
            }
        }
    }

    fn record_receipt(
        &self,
        d: &OperationDescriptor,
        input: &[u8],
        verdict: &Verdict,
        log: &EffectLog,
    ) -> Result<Option<Box<RecordedReceipt>>, SinkError> {
        let Some(sink) = &self.receipts else {
            return Ok(None);
        };
        let mut envelope = ReceiptEnvelope::new(d.name(), d.receipt_kind(), verdict.outcome());
        envelope.input_hash = self.hash_policy.hash(input);
        if let Verdict::Completed(output) = verdict {
            envelope.output_hash = self.hash_policy.hash(output);
        }
        envelope.signed_extensions = log.signed.clone();
        envelope.local_extensions = log.local.clone();
        envelope.effects = log.performed.clone();
        sink.record_receipt(&envelope).map(|r| Some(Box::new(r)))
    }

    fn record_status(
        &self,
        d: &OperationDescriptor,
        status: OperationStatus,
        detail: Option<(&str, &str)>,
        input: &[u8],
        output: Option<&[u8]>,
    ) -> Result<(), SinkError> {
        let Some(sink) = &self.statuses else {
            return Ok(());
        };
        let mut fact = OperationStatusFact::new(d.name(), status, d.receipt_kind());
        if status != OperationStatus::Started {
            fact.input_hash = self.hash_policy.hash(input);
            fact.output_hash = output.and_then(|o| self.hash_policy.hash(o));
        }
        if let Some((code, message)) = detail {
            fact.code = Some(code.to_owned());
            fact.message = Some(message.to_owned());
        }
        sink.record_status(&fact)
    }
}

/// The verdict after the handler: a refused effect, or a performed effect
/// outside the row (observed ⊆ declared on every axis), denies the call;
/// otherwise the handler's result decides.
fn verdict(
    d: &OperationDescriptor,
    log: &EffectLog,
    result: std::thread::Result<HandlerResult>,
) -> Verdict {
    if let Some((axis, target)) = &log.refused {
        return Verdict::Denied {
            code: codes::EFFECT_VIOLATION.to_owned(),
            message: format!("{axis} {target:?} is not declared by {}", d.name()),
        };
    }
    if let Some(e) = first_undeclared(d.effect_row(), &log.performed) {
        return Verdict::Denied {
            code: codes::EFFECT_VIOLATION.to_owned(),
            message: format!(
                "{} {:?} was performed but is not declared by {}",
                e.axis,
                e.target,
                d.name()
            ),
        };
    }
    match result {
        Ok(Ok(output)) => Verdict::Completed(output),
        Ok(Err(e)) => Verdict::Failed {
            code: e.code().to_owned(),
            message: e.message(),
        },
        Err(payload) => Verdict::Failed {
            code: codes::HANDLER_PANICKED.to_owned(),
            message: panic_message(payload.as_ref()),
        },
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "handler panicked with a non-string payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::row::EffectAxis;

    #[test]
    fn a_core_lists_what_it_registered_and_nothing_else() {
        let mut b = Core::builder();
        for (name, receipt) in [("ops.a", "r.a"), ("ops.b", "r.b")] {
            let d =
                OperationDescriptor::owned(name, crate::EffectClass::Compute, "i", "o", receipt);
            b.register(
                d,
                |_: &[u8], _: &mut crate::Ctx<'_>| -> crate::HandlerResult { Ok(Vec::new()) },
            )
            .unwrap();
        }
        b.without_receipts();
        let core = b.build().unwrap();
        assert!(core.contains_operation("ops.a"));
        assert!(!core.contains_operation("ops.c"));
        let mut names: Vec<&str> = core.descriptors().map(|d| d.name()).collect();
        names.sort_unstable();
        assert_eq!(names, ["ops.a", "ops.b"]);
    }

    #[test]
    fn core_is_send_and_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<Core>();
        assert::<InvokeResult>();
        assert::<RuntimeError>();
    }

    #[test]
    fn a_performed_effect_outside_the_row_denies_even_without_a_refusal() {
        let d = OperationDescriptor::new("x", crate::EffectClass::Compute, "a", "b", "c");
        let mut log = EffectLog::default();
        log.performed
            .push(PerformedEffect::new(EffectAxis::HostControl, "h".into()));
        match verdict(&d, &log, Ok(Ok(vec![1]))) {
            Verdict::Denied { code, .. } => assert_eq!(code, codes::EFFECT_VIOLATION),
            _ => panic!("not denied"),
        }
        let clean = EffectLog::default();
        assert!(matches!(
            verdict(&d, &clean, Ok(Ok(vec![1]))),
            Verdict::Completed(_)
        ));
    }

    #[test]
    fn panic_messages_are_kept() {
        assert_eq!(panic_message(&"boom"), "boom");
        assert_eq!(panic_message(&String::from("bang")), "bang");
        assert_eq!(
            panic_message(&7u8),
            "handler panicked with a non-string payload"
        );
    }
}
