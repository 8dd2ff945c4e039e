//! The call context and its five effect handles.
//!
//! A handle checks each effect against the operation's declared row before
//! it reaches the backend: an undeclared effect is refused (and the refusal
//! remembered, so the call ends `Denied` even if the handler ignores the
//! error); a declared one is performed by the backend and recorded in the
//! same step; one the backend rejects is not recorded.

use std::collections::BTreeMap;

use batpak::{Coordinate, EventKind};

use crate::backend::{AppendedEvent, EffectBackend, EffectError, ReadEvent, ReadRequest};
use crate::descriptor::OperationDescriptor;
use crate::row::{event_target, EffectAxis, PerformedEffect};

/// Key prefix under which an emitted receipt payload is stamped into the
/// call's receipt (`local_extensions`), followed by the receipt kind.
pub const EMIT_RECEIPT_KEY_PREFIX: &str = "syncbat.emit_receipt.";

/// What a call did and tried, collected by its handles.
#[derive(Debug, Default)]
pub(crate) struct EffectLog {
    pub(crate) performed: Vec<PerformedEffect>,
    /// The first effect refused because the row does not declare it.
    pub(crate) refused: Option<(EffectAxis, String)>,
    pub(crate) signed: BTreeMap<String, Vec<u8>>,
    pub(crate) local: BTreeMap<String, Vec<u8>>,
}

/// The context of one call, handed to its handler. Effects are reached only
/// through its five handles.
///
/// ```
/// use syncbat::{Ctx, HandlerResult};
/// fn handler(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
///     cx.attach_local_extension("note", b"seen".to_vec());
///     Ok(cx.descriptor().name().as_bytes().to_vec())
/// }
/// # let _ = handler;
/// ```
pub struct Ctx<'a> {
    descriptor: &'a OperationDescriptor,
    backend: Option<&'a dyn EffectBackend>,
    log: EffectLog,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("operation", &self.descriptor.name())
            .field("backend", &self.backend.is_some())
            .field("performed", &self.log.performed)
            .finish()
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        descriptor: &'a OperationDescriptor,
        backend: Option<&'a dyn EffectBackend>,
    ) -> Self {
        Self {
            descriptor,
            backend,
            log: EffectLog::default(),
        }
    }

    pub(crate) fn into_log(self) -> EffectLog {
        self.log
    }

    /// The descriptor of the operation being called.
    pub fn descriptor(&self) -> &'a OperationDescriptor {
        self.descriptor
    }

    /// Effects performed so far in this call.
    pub fn performed_effects(&self) -> &[PerformedEffect] {
        &self.log.performed
    }

    /// Adds an entry to the receipt's signed drawer (`signed_extensions`).
    pub fn attach_signed_extension(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.log.signed.insert(key.into(), value.into());
    }

    /// Adds an entry to the receipt's local drawer (`local_extensions`).
    pub fn attach_local_extension(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.log.local.insert(key.into(), value.into());
    }

    fn scope(&mut self) -> Scope<'_> {
        Scope {
            descriptor: self.descriptor,
            backend: self.backend,
            log: &mut self.log,
        }
    }

    /// The handle for reading events (`reads_events`).
    pub fn event_read_handle(&mut self) -> EventReadHandle<'_> {
        EventReadHandle {
            scope: self.scope(),
        }
    }

    /// The handle for appending events (`appends_events`).
    pub fn event_append_handle(&mut self) -> EventAppendHandle<'_> {
        EventAppendHandle {
            scope: self.scope(),
        }
    }

    /// The handle for querying projections (`queries_projections`).
    pub fn projection_read_handle(&mut self) -> ProjectionReadHandle<'_> {
        ProjectionReadHandle {
            scope: self.scope(),
        }
    }

    /// The handle for emitting receipt payloads (`emits_receipts`).
    pub fn receipt_emit_handle(&mut self) -> ReceiptEmitHandle<'_> {
        ReceiptEmitHandle {
            scope: self.scope(),
        }
    }

    /// The handle for host controls (`uses_host_controls`).
    pub fn host_control_handle(&mut self) -> HostControlHandle<'_> {
        HostControlHandle {
            scope: self.scope(),
        }
    }
}

/// What every handle holds: the row to check, the backend, the log.
struct Scope<'c> {
    descriptor: &'c OperationDescriptor,
    backend: Option<&'c dyn EffectBackend>,
    log: &'c mut EffectLog,
}

impl<'c> Scope<'c> {
    /// Refuses an undeclared effect (remembering it), then a missing backend.
    fn gate(
        &mut self,
        axis: EffectAxis,
        declared: bool,
        target: impl FnOnce() -> String,
    ) -> Result<&'c dyn EffectBackend, EffectError> {
        if !declared {
            let target = target();
            if self.log.refused.is_none() {
                self.log.refused = Some((axis, target.clone()));
            }
            return Err(EffectError::Undeclared {
                operation: self.descriptor.name().to_owned(),
                axis,
                target,
            });
        }
        self.backend.ok_or(EffectError::NoBackend { axis })
    }

    fn gate_named(
        &mut self,
        axis: EffectAxis,
        target: &str,
    ) -> Result<&'c dyn EffectBackend, EffectError> {
        let declared = self.descriptor.effect_row().declares(axis, target);
        self.gate(axis, declared, || target.to_owned())
    }

    fn gate_kind(
        &mut self,
        axis: EffectAxis,
        kind: EventKind,
    ) -> Result<&'c dyn EffectBackend, EffectError> {
        let declared = self.descriptor.effect_row().declares_kind(axis, kind);
        self.gate(axis, declared, || event_target(kind))
    }

    fn record(&mut self, effect: PerformedEffect) {
        self.log.performed.push(effect);
    }
}

/// Reads events of declared kinds.
pub struct EventReadHandle<'c> {
    scope: Scope<'c>,
}

impl EventReadHandle<'_> {
    /// Events of `kind` matching `request` (its kind filter is replaced by
    /// `kind`), in commit order. `kind` must be declared in `reads_events`.
    pub fn read_events(
        &mut self,
        kind: EventKind,
        request: &ReadRequest,
    ) -> Result<Vec<ReadEvent>, EffectError> {
        let backend = self.scope.gate_kind(EffectAxis::EventRead, kind)?;
        let mut narrowed = request.clone();
        narrowed.region = narrowed.region.with_kind(kind);
        let mut events = backend.read_events(kind, &narrowed)?;
        // The row governs kinds even if a backend ignores the filter.
        events.retain(|e| e.entry.kind() == kind);
        self.scope.record(PerformedEffect::new(
            EffectAxis::EventRead,
            event_target(kind),
        ));
        Ok(events)
    }
}

/// Appends events of declared kinds.
pub struct EventAppendHandle<'c> {
    scope: Scope<'c>,
}

impl EventAppendHandle<'_> {
    /// Appends one event of `kind` with `payload` (one MessagePack value) to
    /// the backend's coordinate. `kind` must be declared in `appends_events`.
    pub fn append_event(
        &mut self,
        kind: EventKind,
        payload: &[u8],
    ) -> Result<AppendedEvent, EffectError> {
        self.append(None, kind, payload)
    }

    /// Appends one event to `coordinate`'s entity; the row still governs the kind.
    pub fn append_event_to(
        &mut self,
        coordinate: &Coordinate,
        kind: EventKind,
        payload: &[u8],
    ) -> Result<AppendedEvent, EffectError> {
        self.append(Some(coordinate), kind, payload)
    }

    fn append(
        &mut self,
        coordinate: Option<&Coordinate>,
        kind: EventKind,
        payload: &[u8],
    ) -> Result<AppendedEvent, EffectError> {
        let backend = self.scope.gate_kind(EffectAxis::EventAppend, kind)?;
        let appended = backend.append_event(coordinate, kind, payload)?;
        let mut effect = PerformedEffect::new(EffectAxis::EventAppend, event_target(kind));
        effect.event_id = Some(appended.event_id);
        self.scope.record(effect);
        Ok(appended)
    }
}

/// Queries declared projections.
pub struct ProjectionReadHandle<'c> {
    scope: Scope<'c>,
}

impl ProjectionReadHandle<'_> {
    /// The encoded state of `projection` for `entity` (`None`: no events).
    /// `projection` must be declared in `queries_projections`.
    pub fn query_projection(
        &mut self,
        projection: &str,
        entity: &str,
    ) -> Result<Option<Vec<u8>>, EffectError> {
        let backend = self
            .scope
            .gate_named(EffectAxis::ProjectionQuery, projection)?;
        let state = backend.query_projection(projection, entity)?;
        self.scope.record(PerformedEffect::new(
            EffectAxis::ProjectionQuery,
            projection.to_owned(),
        ));
        Ok(state)
    }
}

/// Emits receipt payloads of declared kinds into the call's one receipt.
pub struct ReceiptEmitHandle<'c> {
    scope: Scope<'c>,
}

impl ReceiptEmitHandle<'_> {
    /// Stamps `payload` into the call's receipt under
    /// `syncbat.emit_receipt.<receipt_kind>` in `local_extensions`, once the
    /// backend accepts it. `receipt_kind` must be declared in `emits_receipts`.
    pub fn emit_receipt(
        &mut self,
        receipt_kind: &str,
        payload: impl Into<Vec<u8>>,
    ) -> Result<(), EffectError> {
        let backend = self
            .scope
            .gate_named(EffectAxis::ReceiptEmit, receipt_kind)?;
        let payload = payload.into();
        backend.emit_receipt(receipt_kind, &payload)?;
        self.scope
            .log
            .local
            .insert(format!("{EMIT_RECEIPT_KEY_PREFIX}{receipt_kind}"), payload);
        self.scope.record(PerformedEffect::new(
            EffectAxis::ReceiptEmit,
            receipt_kind.to_owned(),
        ));
        Ok(())
    }
}

/// Uses declared host controls.
pub struct HostControlHandle<'c> {
    scope: Scope<'c>,
}

impl HostControlHandle<'_> {
    /// Uses host control `control` with `input`. `control` must be declared
    /// in `uses_host_controls`.
    pub fn use_host_control(
        &mut self,
        control: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, EffectError> {
        let backend = self.scope.gate_named(EffectAxis::HostControl, control)?;
        let output = backend.use_host_control(control, input)?;
        self.scope.record(PerformedEffect::new(
            EffectAxis::HostControl,
            control.to_owned(),
        ));
        Ok(output)
    }
}
