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
use syncbat::session::{Source, SubscriptionRegistry};
use syncbat::RuntimeError;

use crate::host::{Host, HostError};

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

/// The subscription id every `serve` offers unless told otherwise.
pub const DEFAULT_SUBSCRIPTION: &str = "events.all.v1";

/// netbat's subscription seam over a store: each route follows a
/// [`crate::SubscriptionSource`] through syncbat's subscription sessions
/// ([`netbat::SessionSubscriptions`]), replaying from the start or after a
/// `BPSC` cursor it issued, then live.
///
/// | route | syncbat source |
/// |---|---|
/// | `all` | [`Source::AllEvents`] |
/// | `category:N` | [`Source::EventCategory`] |
/// | `entity:NAME` | [`Source::EntityTree`] (the entity and its `NAME:…` children) |
/// | `receipts` | [`Source::AllReceipts`] |
#[derive(Debug, Clone)]
pub struct HostSubscriptions {
    store: Arc<batpak::Store>,
    routes: std::collections::BTreeMap<String, crate::SubscriptionSource>,
    served: netbat::SessionSubscriptions,
}

/// The syncbat source a host route reads.
fn session_source(source: &crate::SubscriptionSource) -> Source {
    match source {
        crate::SubscriptionSource::All => Source::AllEvents,
        crate::SubscriptionSource::Category(c) => Source::EventCategory(*c),
        crate::SubscriptionSource::Entity(e) => Source::EntityTree(e.clone()),
        crate::SubscriptionSource::Receipts => Source::AllReceipts,
    }
}

impl HostSubscriptions {
    /// No routes yet.
    pub fn new(store: Arc<batpak::Store>) -> Self {
        Self {
            served: netbat::SessionSubscriptions::new(store.clone(), SubscriptionRegistry::new()),
            store,
            routes: std::collections::BTreeMap::new(),
        }
    }

    /// Adds (or replaces) route `id`.
    ///
    /// # Errors
    /// [`HostError::InvalidSubscription`] when `id` breaks the NETBAT/2
    /// subscription-id grammar or the source is not a valid route.
    pub fn route(
        &mut self,
        id: impl Into<String>,
        source: crate::SubscriptionSource,
    ) -> Result<&mut Self, HostError> {
        let id = id.into();
        let invalid = |reason: String| HostError::InvalidSubscription {
            id: id.clone(),
            reason,
        };
        netbat::SubscriptionId::new(&id, &netbat::Limits::default())
            .map_err(|e| invalid(e.to_string()))?;
        let mut routes = self.routes.clone();
        routes.insert(id.clone(), source);
        let mut registry = SubscriptionRegistry::new();
        for (rid, rsource) in &routes {
            registry
                .register(rid.clone(), session_source(rsource))
                .map_err(|e| invalid(e.to_string()))?;
        }
        self.routes = routes;
        self.served = netbat::SessionSubscriptions::new(self.store.clone(), registry);
        Ok(self)
    }

    /// Every route of the host's declared subscriptions.
    ///
    /// # Errors
    /// As [`HostSubscriptions::route`], for a declared route.
    pub fn with_declared(mut self, host: &Host) -> Result<Self, HostError> {
        for s in host.subscriptions() {
            self.route(s.id.clone(), s.source.clone())?;
        }
        Ok(self)
    }

    /// Route ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }
}

impl netbat::SubscriptionSource for HostSubscriptions {
    fn open(
        &self,
        request: &netbat::OpenRequest,
    ) -> Result<Box<dyn netbat::SubscriptionFeed>, netbat::OpenFailure> {
        self.served.open(request)
    }
}
