//! NETBAT/2 subscriptions served by syncbat's subscription sessions
//! (feature `sessions`, on by default).
//!
//! [`SessionSubscriptions`] is a [`SubscriptionSource`] over a store and a
//! [`SubscriptionRegistry`]: each `SUBSCRIBE` opens one syncbat
//! [`Session`], which replays from the resume cursor and then follows the
//! store live, and whose `BPSC` cursors go on the wire unchanged. The stream
//! session of this crate owns the client window and the stall limit: it
//! pulls the feed while the window has room, plus one event it holds back
//! while the window is full (that held event is what can stall), and every
//! cumulative ack it accepts is passed on to the syncbat session, whose own
//! window is the client's plus that one.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use batpak::prelude::*;
//! use netbat::SessionSubscriptions;
//! use syncbat::session::{Source, SubscriptionRegistry};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
//! let mut routes = SubscriptionRegistry::new();
//! routes.register("events.all.v1", Source::AllEvents)?;
//! let source = SessionSubscriptions::new(store, routes);
//! assert!(source.routes().get("events.all.v1").is_some());
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use batpak::{EventHeader, Store};
use syncbat::session::{
    EndReason, Session, SessionConfig, SessionError, SessionPoll, SubscriptionRegistry,
};

use crate::codec::frame::{stream_code, Cursor, ReasonCode, SchemaRef};
use crate::envelope::{EventStreamEnvelope, EVENT_STREAM_ENVELOPE_SCHEMA};
use crate::subscription::{FeedEvent, FeedPoll, OpenFailure, OpenRequest, SubscriptionFeed};
use crate::SubscriptionSource;

/// Subscriptions over one store, each served by a syncbat session.
#[derive(Debug, Clone)]
pub struct SessionSubscriptions {
    store: Arc<Store>,
    routes: SubscriptionRegistry,
    config: SessionConfig,
}

impl SessionSubscriptions {
    /// Serves `routes` over `store`, with syncbat's default page size.
    pub fn new(store: Arc<Store>, routes: SubscriptionRegistry) -> Self {
        Self {
            store,
            routes,
            // The wire session enforces the window and the stall limit; the
            // syncbat session must never pause on its own before it does.
            config: SessionConfig::default()
                .with_server_max_window(u32::MAX)
                .with_stall_timeout(Duration::from_secs(24 * 3600)),
        }
    }

    /// Reads the store `page_size` index entries at a time (64 by default).
    #[must_use]
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.config = self.config.with_page_size(page_size.max(1));
        self
    }

    /// The routes served.
    pub fn routes(&self) -> &SubscriptionRegistry {
        &self.routes
    }
}

/// The wire refusal for a session that cannot open.
fn open_failure(error: &SessionError) -> OpenFailure {
    let message = error.to_string();
    match error {
        SessionError::UnknownSubscription { .. } => OpenFailure::new(
            ReasonCode::known(stream_code::UNKNOWN_SUBSCRIPTION),
            message,
        ),
        SessionError::Cursor(e) if e.code() == stream_code::CURSOR_MISMATCH => {
            OpenFailure::cursor_mismatch(&message)
        }
        SessionError::Cursor(_) | SessionError::CursorAhead { .. } => {
            OpenFailure::cursor_invalid(&message)
        }
        SessionError::Store(e) => OpenFailure::internal(&format!("store.{}: {e}", e.code())),
        _ => OpenFailure::internal(&message),
    }
}

impl SubscriptionSource for SessionSubscriptions {
    fn open(&self, request: &OpenRequest) -> Result<Box<dyn SubscriptionFeed>, OpenFailure> {
        let resume = request.resume.as_ref().map(Cursor::as_bytes);
        let session = self
            .routes
            .open(
                &self.store,
                request.id.as_str(),
                resume,
                // The wire session holds one pulled event back while its
                // window is full, so the syncbat session allows one more.
                request.window.get().saturating_add(1),
                self.config,
            )
            .map_err(|e| open_failure(&e))?;
        Ok(Box::new(SessionFeed {
            session,
            sent: VecDeque::new(),
        }))
    }
}

/// One open subscription: a syncbat session and the cursors it has sent
/// but the client has not yet acknowledged.
struct SessionFeed {
    session: Session,
    sent: VecDeque<(u64, Vec<u8>)>,
}

/// The published event-stream envelope of one delivered event.
fn envelope(
    id: &str,
    header: &EventHeader,
    entry: &batpak::IndexEntry,
    payload: Vec<u8>,
) -> Result<Vec<u8>, crate::EnvelopeError> {
    let mut env = EventStreamEnvelope::new(
        id,
        header.event_id.as_u128(),
        header.global_sequence,
        payload,
    );
    env.correlation_id = header
        .correlation_id
        .map_or(header.event_id.as_u128(), |c| c.as_u128());
    env.causation_id = header.causation_id.map(batpak::EventId::as_u128);
    env.entity = entry.coordinate().entity().to_owned();
    env.scope = entry.coordinate().scope().to_owned();
    env.event_kind_raw = header.kind.as_u16();
    env.event_category = header.kind.category();
    env.payload_version = header.payload_version;
    env.timestamp_us = i64::try_from(header.wall_ms.saturating_mul(1000)).unwrap_or(i64::MAX);
    env.hlc_wall_ms = header.wall_ms;
    env.content_hash = header.content_hash;
    env.prev_hash = Some(header.prev_hash);
    env.event_hash = Some(header.event_hash);
    env.encode()
}

fn failed(code: &'static str, message: String) -> FeedPoll {
    FeedPoll::Failed {
        code: ReasonCode::known(code),
        message,
    }
}

impl SubscriptionFeed for SessionFeed {
    fn poll(&mut self, timeout: Duration) -> FeedPoll {
        match self.session.poll(timeout) {
            Ok(SessionPoll::Delivery(d)) => {
                let payload = match envelope(
                    self.session.subscription_id(),
                    &d.header,
                    &d.entry,
                    d.payload,
                ) {
                    Ok(p) => p,
                    Err(e) => return failed(stream_code::INTERNAL_ERROR, e.to_string()),
                };
                self.sent
                    .push_back((d.delivery_index, d.cursor_after.clone()));
                FeedPoll::Event(FeedEvent {
                    cursor_before: Some(Cursor::new(d.cursor_before)),
                    cursor_after: Cursor::new(d.cursor_after),
                    schema: SchemaRef::known(EVENT_STREAM_ENVELOPE_SCHEMA),
                    payload,
                })
            }
            Ok(SessionPoll::Paused { .. } | SessionPoll::Idle) => FeedPoll::Idle,
            Ok(SessionPoll::Ended(end)) => match end.reason {
                EndReason::ClientCancelled => FeedPoll::End {
                    reason: ReasonCode::known(stream_code::CLIENT_CANCELLED),
                    cursor_after: end.last_delivered_cursor.map(Cursor::new),
                },
                EndReason::SlowConsumer => failed(
                    stream_code::SLOW_CONSUMER,
                    "the session's window stayed full past its stall time".to_owned(),
                ),
                EndReason::AckInvalid(e) => {
                    failed(stream_code::MALFORMED_STREAM_FRAME, e.to_string())
                }
                _ => failed(
                    stream_code::INTERNAL_ERROR,
                    format!("session ended: {}", end.reason.code()),
                ),
            },
            Ok(_) => FeedPoll::Idle,
            Err(SessionError::Store(e)) => failed(
                stream_code::INTERNAL_ERROR,
                format!("store.{}: {e}", e.code()),
            ),
            Err(e) => failed(stream_code::INTERNAL_ERROR, e.to_string()),
        }
    }

    fn acknowledged(&mut self, cursor: &Cursor) {
        let Some(at) = self.sent.iter().position(|(_, c)| c == cursor.as_bytes()) else {
            return;
        };
        let (index, bytes) = self.sent[at].clone();
        self.sent.drain(..=at);
        // The wire session has already checked the ack against what it sent;
        // the syncbat session agrees with it by construction.
        let _ = self.session.ack(index, &bytes);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::num::NonZeroU32;

    use crate::codec::frame::Cursor;
    use batpak::prelude::*;
    use syncbat::session::Source;

    use super::*;
    use crate::auth::Grants;
    use crate::codec::frame::SubscriptionId;
    use crate::limits::Limits;

    const K: EventKind = EventKind::custom(0xE, 1);

    fn setup() -> (tempfile::TempDir, Arc<Store>, SessionSubscriptions) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(StoreConfig::new(dir.path()).with_sync_mode(SyncMode::OsBuffered)).unwrap(),
        );
        let mut routes = SubscriptionRegistry::new();
        routes.register("all.v1", Source::AllEvents).unwrap();
        routes
            .register("cat.v1", Source::EventCategory(0xE))
            .unwrap();
        (dir, store.clone(), SessionSubscriptions::new(store, routes))
    }

    fn request(id: &str, resume: Option<Cursor>) -> OpenRequest {
        OpenRequest {
            id: SubscriptionId::new(id, &Limits::default()).unwrap(),
            resume,
            window: NonZeroU32::new(4).unwrap(),
            grants: Arc::new(Grants::all()),
        }
    }

    fn next(feed: &mut Box<dyn SubscriptionFeed>) -> FeedEvent {
        match feed.poll(Duration::from_millis(500)) {
            FeedPoll::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_carry_the_published_envelope_and_syncbat_cursors() {
        let (_dir, store, subs) = setup();
        let c = Coordinate::new("acct:1", "bank").unwrap();
        let r = store.append(&c, K, &7u8).unwrap();
        let mut feed = subs.open(&request("all.v1", None)).unwrap();
        let e = next(&mut feed);
        assert_eq!(e.schema.as_str(), EVENT_STREAM_ENVELOPE_SCHEMA);
        assert_eq!(&e.cursor_after.as_bytes()[..4], b"BPSC");
        let env = EventStreamEnvelope::decode(&e.payload).unwrap();
        assert_eq!(env.subscription_id, "all.v1");
        assert_eq!(env.event_id, r.event_id.as_u128());
        assert_eq!(env.entity, "acct:1");
        assert_eq!(env.scope, "bank");
        assert_eq!(env.event_kind_raw, K.as_u16());
        assert_eq!(env.payload, rmp_serde::to_vec(&7u8).unwrap());
        assert!(matches!(
            feed.poll(Duration::from_millis(20)),
            FeedPoll::Idle
        ));
        // Live after replay.
        store.append(&c, K, &8u8).unwrap();
        let live = next(&mut feed);
        assert_eq!(live.cursor_before.as_ref(), Some(&e.cursor_after));
        feed.acknowledged(&live.cursor_after);
        // A resume from the first cursor continues with the second event.
        let mut resumed = subs
            .open(&request("all.v1", Some(e.cursor_after.clone())))
            .unwrap();
        assert_eq!(next(&mut resumed).cursor_after, live.cursor_after);
    }

    #[test]
    fn refusals_use_the_published_codes() {
        let (_dir, store, subs) = setup();
        let c = Coordinate::new("acct:1", "bank").unwrap();
        store.append(&c, K, &1u8).unwrap();
        let code = |r: Result<Box<dyn SubscriptionFeed>, OpenFailure>| match r {
            Err(f) => f.code().as_str().to_owned(),
            Ok(_) => panic!("opened"),
        };
        assert_eq!(
            code(subs.open(&request("nope.v1", None))),
            "unknown_subscription"
        );
        assert_eq!(
            code(subs.open(&request("all.v1", Some(Cursor::new(b"junk".to_vec()))))),
            "cursor_invalid"
        );
        let mut feed = subs.open(&request("cat.v1", None)).unwrap();
        let from_cat = next(&mut feed).cursor_after;
        assert_eq!(
            code(subs.open(&request("all.v1", Some(from_cat)))),
            "cursor_mismatch"
        );
    }

    #[test]
    fn an_ack_frees_the_session_window() {
        let (_dir, store, subs) = setup();
        let c = Coordinate::new("acct:1", "bank").unwrap();
        for i in 0..12u8 {
            store.append(&c, K, &i).unwrap();
        }
        let mut feed = subs.open(&request("all.v1", None)).unwrap();
        let mut last = None;
        for _ in 0..12 {
            let e = next(&mut feed);
            feed.acknowledged(&e.cursor_after);
            last = Some(e);
        }
        assert!(last.is_some());
        // An unknown cursor is ignored rather than trusted.
        feed.acknowledged(&Cursor::new(b"never sent".to_vec()));
        assert!(matches!(
            feed.poll(Duration::from_millis(20)),
            FeedPoll::Idle
        ));
    }
}
