//! A synchronous runtime that dispatches named operations to handlers and
//! enforces what each handler may do.
//!
//! An operation has a [`OperationDescriptor`]: a name ([`OperationName`]
//! grammar), an [`EffectClass`], schema references, a receipt kind and a
//! declared [`OperationEffectRow`] over five axes (`reads_events`,
//! `appends_events`, `queries_projections`, `emits_receipts`,
//! `uses_host_controls`) plus `requires_capabilities`. A handler reaches
//! effects only through the five handles of its [`Ctx`]; a handle refuses an
//! undeclared effect before it reaches the [`EffectBackend`], so a denied
//! call leaves nothing behind. Every resolved call records exactly one
//! [`ReceiptEnvelope`] through the required [`ReceiptSink`].
//!
//! ```
//! use std::sync::Arc;
//! use batpak::prelude::*;
//! use syncbat::{operation, Core, Ctx, HandlerResult, StoreEffectBackend, StoreReceiptSink};
//!
//! #[operation(
//!     descriptor = DEPOSIT,
//!     register = register_deposit,
//!     name = "bank.deposit",
//!     effect = Persist,
//!     input_schema = "bank.deposit.request",
//!     output_schema = "bank.deposit.ack",
//!     receipt_kind = "receipt.bank.deposit.v1",
//!     appends_events = ["evt.e001"],
//!     requires_capabilities = ["bank.write"],
//! )]
//! fn deposit(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
//!     let receipt = cx.event_append_handle().append_event(EventKind::custom(0xE, 1), input)?;
//!     Ok(receipt.event_id.to_string().into_bytes())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
//! let mut builder = Core::builder();
//! register_deposit(&mut builder)?;
//! builder.grant_capability("bank.write");
//! builder.effect_backend(StoreEffectBackend::new(store.clone(), Coordinate::new("bank:ops", "bank")?));
//! builder.receipt_sink(StoreReceiptSink::new(store.clone(), Coordinate::new("syncbat:receipts", "bank")?));
//! let core: Core = builder.build()?;
//! let result = core.invoke("bank.deposit", vec![0x81, 0xa1, b'n', 0x01])?;   // &self
//! assert_eq!(result.recorded_receipt().map(|r| r.envelope.outcome.class()), Some("completed"));
//! # Ok(()) }
//! ```
//!
//! # What a call does
//!
//! 1. An unknown name is [`RuntimeError::UnknownOperation`]; nothing is recorded.
//! 2. A required capability that is not granted denies the call
//!    (`capability.denied`) before the handler runs.
//! 3. The [`AdmissionGuard`], if any, may deny it.
//! 4. Status `Started` (when an [`OperationStatusSink`] is set).
//! 5. The handler runs. A panic is caught: the call ends `Failed` with
//!    `handler.panicked`, and the core stays usable.
//! 6. An effect the row does not declare (refused by its handle, or found by
//!    the after-the-handler check that observed ⊆ declared) denies the call
//!    with `effect.violation` and discards its output, whatever the handler
//!    did with the error.
//! 7. One receipt ([`ReceiptHashPolicy::Blake3`] hashes of input and output
//!    by default); a sink failure fails the call closed
//!    ([`RuntimeError::ReceiptSink`]) and lists the effects already performed.
//! 8. The terminal status.
//!
//! # Stored records
//!
//! [`StoreReceiptSink`] appends receipts as events of kind
//! [`RECEIPT_EVENT_KIND`] (`custom(0xC, 0x5B7)`), [`StoreOperationStatusSink`]
//! status facts as [`STATUS_EVENT_KIND`] (`custom(0xC, 0x5B9)`), and the
//! [`catalog`] descriptors as [`catalog::CATALOG_EVENT_KIND`]
//! (`custom(0xC, 0x5B8)`); all MessagePack with named fields (the field
//! lists are in the [`store`] and [`catalog`] module docs).
#![forbid(unsafe_code)]

mod admission;
mod backend;
mod builder;
mod bytes;
pub mod catalog;
mod core;
mod ctx;
mod descriptor;
mod error;
mod handler;
mod module;
mod name;
mod receipt;
mod row;
pub mod session;
mod status;
pub mod store;

pub use crate::admission::{AdmissionDecision, AdmissionGuard};
pub use crate::backend::{AppendedEvent, EffectBackend, EffectError, ReadEvent, ReadRequest};
pub use crate::builder::{BuildError, CoreBuilder, Origin};
pub use crate::core::{codes, Core, InvokeResult};
pub use crate::ctx::{
    Ctx, EventAppendHandle, EventReadHandle, HostControlHandle, ProjectionReadHandle,
    ReceiptEmitHandle, EMIT_RECEIPT_KEY_PREFIX,
};
pub use crate::descriptor::{
    DescriptorError, DescriptorField, EffectClass, OperationDescriptor, StaticDescriptor,
    TitleProblem,
};
pub use crate::error::RuntimeError;
pub use crate::handler::{Handler, HandlerError, HandlerFn, HandlerResult};
pub use crate::module::Module;
pub use crate::name::{OperationName, OperationNameError, MAX_OPERATION_NAME_BYTES};
pub use crate::receipt::{
    MemoryReceiptSink, ReceiptEnvelope, ReceiptHashPolicy, ReceiptOutcome, ReceiptSink,
    RecordedReceipt, SinkError,
};
pub use crate::row::{
    event_target, EffectAxis, OperationEffectRow, PerformedEffect, RowField, StaticEffectRow,
    TargetIter, TargetProblem, MAX_DESCRIPTOR_REF_BYTES,
};
pub use crate::status::{
    MemoryStatusSink, OperationStatus, OperationStatusFact, OperationStatusSink,
};
pub use crate::store::{
    read_receipt, read_receipts, status_coordinate, to_msgpack, StoreEffectBackend,
    StoreOperationStatusSink, StoreReceiptSink, RECEIPT_EVENT_KIND, STATUS_EVENT_KIND,
};

/// `#[operation(...)]`: declares an operation on a handler function.
///
/// Required keys: `descriptor` (name of the `const` descriptor to emit),
/// `name`, `effect` (`Inspect`, `Compute`, `Persist`, `Emit` or `Control`),
/// `input_schema`, `output_schema`, `receipt_kind`. Optional: `title`,
/// `register` (name of a `fn(&mut CoreBuilder) -> Result<(), BuildError>` to
/// emit), the five axes and `requires_capabilities` (arrays of strings).
/// Everything [`OperationDescriptor::validate`] checks is checked at
/// compile time, with the error on the offending key; the target must be a
/// plain `fn(&[u8], &mut Ctx<'_>) -> HandlerResult` (not async, generic or
/// unsafe). See the crate example.
pub use batpak_macros::operation;
