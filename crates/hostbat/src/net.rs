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

/// The subscription id every `serve` offers unless told otherwise.
pub const DEFAULT_SUBSCRIPTION: &str = "events.all.v1";

/// Magic of a hostbat subscription cursor: `HBC1`, the 8-byte big-endian
/// global sequence of the last delivered event, and the first 8 bytes of
/// blake3(subscription id ‖ 0 ‖ source text), binding it to its route.
pub const CURSOR_MAGIC: &[u8; 4] = b"HBC1";

/// netbat's subscription seam over a store: each route follows a
/// [`crate::SubscriptionSource`] in commit order, replaying from the start or
/// after a cursor it issued, then live.
#[derive(Debug, Clone)]
pub struct HostSubscriptions {
    store: Arc<batpak::Store>,
    routes: std::collections::BTreeMap<String, crate::SubscriptionSource>,
    poll_step: std::time::Duration,
}

impl HostSubscriptions {
    /// No routes yet.
    pub fn new(store: Arc<batpak::Store>) -> Self {
        Self {
            store,
            routes: std::collections::BTreeMap::new(),
            poll_step: std::time::Duration::from_millis(10),
        }
    }

    /// Adds (or replaces) route `id`.
    pub fn route(&mut self, id: impl Into<String>, source: crate::SubscriptionSource) -> &mut Self {
        self.routes.insert(id.into(), source);
        self
    }

    /// Every route of the host's declared subscriptions.
    pub fn with_declared(mut self, host: &Host) -> Self {
        for s in host.subscriptions() {
            self.routes.insert(s.id.clone(), s.source.clone());
        }
        self
    }

    /// Route ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }
}

fn binding(id: &str, source: &crate::SubscriptionSource) -> [u8; 8] {
    let mut h = blake3::Hasher::new();
    h.update(id.as_bytes());
    h.update(&[0]);
    h.update(source.as_text().as_bytes());
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    out
}

fn encode_cursor(sequence: u64, bind: [u8; 8]) -> netbat::Cursor {
    let mut c = CURSOR_MAGIC.to_vec();
    c.extend_from_slice(&sequence.to_be_bytes());
    c.extend_from_slice(&bind);
    netbat::Cursor::new(c)
}

/// `internal_error` with `message` (idle if the code itself were refused).
fn feed_failure(message: String) -> netbat::FeedPoll {
    match netbat::ReasonCode::new(netbat::stream_code::INTERNAL_ERROR) {
        Ok(code) => netbat::FeedPoll::Failed { code, message },
        Err(_) => netbat::FeedPoll::Idle,
    }
}

struct StoreFeed {
    store: Arc<batpak::Store>,
    id: String,
    region: batpak::Region,
    entity: Option<String>,
    bind: [u8; 8],
    after: Option<u64>,
    step: std::time::Duration,
}

impl StoreFeed {
    fn next_entry(&mut self) -> Option<batpak::IndexEntry> {
        loop {
            let batch = self.store.query_entries_after(&self.region, self.after, 64);
            if batch.is_empty() {
                return None;
            }
            for e in batch {
                self.after = Some(e.global_sequence());
                if crate::reference::entity_matches(self.entity.as_deref(), e.coordinate().entity())
                {
                    return Some(e);
                }
            }
        }
    }

    fn event(&mut self, entry: &batpak::IndexEntry) -> netbat::FeedPoll {
        let raw = match self.store.read_raw(entry.event_id()) {
            Ok(raw) => raw,
            Err(e) => return feed_failure(format!("store.{}: {e}", e.code())),
        };
        let h = raw.header();
        let mut env = netbat::EventStreamEnvelope::new(
            &self.id,
            h.event_id.as_u128(),
            h.global_sequence,
            raw.payload().clone(),
        );
        env.correlation_id = h
            .correlation_id
            .map_or(h.event_id.as_u128(), |c| c.as_u128());
        env.causation_id = h.causation_id.map(batpak::EventId::as_u128);
        env.entity = raw.coordinate.entity().to_owned();
        env.scope = raw.coordinate.scope().to_owned();
        env.event_kind_raw = h.kind.as_u16();
        env.event_category = h.kind.category();
        env.payload_version = h.payload_version;
        env.timestamp_us = i64::try_from(h.wall_ms.saturating_mul(1000)).unwrap_or(i64::MAX);
        env.hlc_wall_ms = h.wall_ms;
        env.content_hash = h.content_hash;
        env.prev_hash = Some(h.prev_hash);
        env.event_hash = Some(h.event_hash);
        let payload = match env.encode() {
            Ok(p) => p,
            Err(e) => return feed_failure(e.to_string()),
        };
        let schema = match netbat::SchemaRef::new(netbat::EVENT_STREAM_ENVELOPE_SCHEMA) {
            Ok(s) => s,
            Err(e) => return feed_failure(e.to_string()),
        };
        let before = entry
            .global_sequence()
            .checked_sub(1)
            .map(|s| encode_cursor(s, self.bind));
        netbat::FeedPoll::Event(netbat::FeedEvent {
            cursor_before: before,
            cursor_after: encode_cursor(entry.global_sequence(), self.bind),
            schema,
            payload,
        })
    }
}

impl netbat::SubscriptionFeed for StoreFeed {
    fn poll(&mut self, timeout: std::time::Duration) -> netbat::FeedPoll {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(entry) = self.next_entry() {
                return self.event(&entry);
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return netbat::FeedPoll::Idle;
            }
            std::thread::sleep(self.step.min(deadline - now));
        }
    }
}

impl netbat::SubscriptionSource for HostSubscriptions {
    fn open(
        &self,
        request: &netbat::OpenRequest,
    ) -> Result<Box<dyn netbat::SubscriptionFeed>, netbat::OpenFailure> {
        let id = request.id.as_str();
        let Some(source) = self.routes.get(id) else {
            return Err(netbat::OpenFailure::unknown_subscription(&request.id));
        };
        let bind = binding(id, source);
        let after = match &request.resume {
            None => None,
            Some(c) => {
                let b = c.as_bytes();
                if b.len() != 20 || &b[..4] != CURSOR_MAGIC {
                    return Err(netbat::OpenFailure::cursor_invalid("not a hostbat cursor"));
                }
                if b[12..] != bind {
                    return Err(netbat::OpenFailure::cursor_mismatch(
                        "cursor belongs to another route",
                    ));
                }
                let mut seq = [0u8; 8];
                seq.copy_from_slice(&b[4..12]);
                Some(u64::from_be_bytes(seq))
            }
        };
        let (region, entity) = match source {
            crate::SubscriptionSource::All => (batpak::Region::all(), None),
            crate::SubscriptionSource::Category(c) => {
                (batpak::Region::all().with_category(*c), None)
            }
            crate::SubscriptionSource::Entity(e) => {
                (batpak::Region::entity_prefix(e), Some(e.clone()))
            }
            crate::SubscriptionSource::Receipts => (
                batpak::Region::all().with_kind(syncbat::RECEIPT_EVENT_KIND),
                None,
            ),
        };
        Ok(Box::new(StoreFeed {
            store: self.store.clone(),
            id: id.to_owned(),
            region,
            entity,
            bind,
            after,
            step: self.poll_step,
        }))
    }
}
