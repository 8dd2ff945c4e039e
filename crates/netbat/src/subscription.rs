//! The subscription seam: where a subscription listener gets its deliveries.
//!
//! The operation runtime implements [`SubscriptionSource`] (opening one
//! [`SubscriptionFeed`] per `SUBSCRIBE`). A feed is pulled: the session asks
//! for the next delivery only while the client's window has room (plus one
//! delivery of look-ahead), so a slow client never makes the source buffer,
//! and the store's writer is never involved. Delivery indices, the window,
//! ack validation and the slow-consumer cut belong to the session; the feed
//! learns of each valid cumulative ack through [`SubscriptionFeed::acknowledged`].

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::Grants;
use crate::codec::frame::{stream_code, Cursor, ReasonCode, SchemaRef, SubscriptionId};

/// What a `SUBSCRIBE` asks a source for.
#[derive(Clone, Debug)]
pub struct OpenRequest {
    /// The subscription.
    pub id: SubscriptionId,
    /// Resume after this cursor (any cursor this source delivered); `None`
    /// starts at the beginning.
    pub resume: Option<Cursor>,
    /// The window the session will honour (the client's, capped by the server).
    pub window: NonZeroU32,
    /// The connection's grants.
    pub grants: Arc<Grants>,
}

/// Why a source refused to open a subscription; sent as
/// `SUB_ERR <id> <code> - - <hex(message)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFailure {
    code: ReasonCode,
    message: Vec<u8>,
}

impl OpenFailure {
    /// A refusal with a code and a message.
    #[must_use]
    pub fn new(code: ReasonCode, message: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `unknown_subscription`; the message is the id, as published.
    #[must_use]
    pub fn unknown_subscription(id: &SubscriptionId) -> Self {
        Self::new(
            ReasonCode::known(stream_code::UNKNOWN_SUBSCRIPTION),
            id.as_str(),
        )
    }

    /// `cursor_invalid` with a reason.
    #[must_use]
    pub fn cursor_invalid(reason: &str) -> Self {
        Self::new(ReasonCode::known(stream_code::CURSOR_INVALID), reason)
    }

    /// `cursor_mismatch` with a reason.
    #[must_use]
    pub fn cursor_mismatch(reason: &str) -> Self {
        Self::new(ReasonCode::known(stream_code::CURSOR_MISMATCH), reason)
    }

    /// `forbidden` with a reason.
    #[must_use]
    pub fn forbidden(reason: &str) -> Self {
        Self::new(ReasonCode::known(stream_code::FORBIDDEN), reason)
    }

    /// `internal_error` with a reason.
    #[must_use]
    pub fn internal(reason: &str) -> Self {
        Self::new(ReasonCode::known(stream_code::INTERNAL_ERROR), reason)
    }

    /// The code.
    #[must_use]
    pub fn code(&self) -> &ReasonCode {
        &self.code
    }

    /// The message bytes (UTF-8 by convention).
    #[must_use]
    pub fn message(&self) -> &[u8] {
        &self.message
    }
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.code,
            String::from_utf8_lossy(&self.message)
        )
    }
}

impl std::error::Error for OpenFailure {}

/// One event for a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedEvent {
    /// The cursor before the event.
    pub cursor_before: Option<Cursor>,
    /// The cursor after it: what the client acks and resumes from.
    pub cursor_after: Cursor,
    /// The payload's schema (`batpak.event-stream-envelope.v1` for store events).
    pub schema: SchemaRef,
    /// The payload.
    pub payload: Vec<u8>,
}

/// What a feed produced in one poll.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedPoll {
    /// An event.
    Event(FeedEvent),
    /// The source's frontier moved to this cursor.
    Watermark(Cursor),
    /// Nothing arrived within the timeout.
    Idle,
    /// The feed is done (`SUB_END`).
    End {
        /// Why ([`stream_code`]).
        reason: ReasonCode,
        /// The final cursor.
        cursor_after: Option<Cursor>,
    },
    /// The feed failed (`SUB_ERR`); a source may also cut a slow consumer itself.
    Failed {
        /// The code ([`stream_code`]).
        code: ReasonCode,
        /// A message.
        message: String,
    },
}

/// One open subscription's deliveries, pulled by its connection's worker.
pub trait SubscriptionFeed: Send {
    /// The next delivery, waiting at most `timeout` for one.
    fn poll(&mut self, timeout: Duration) -> FeedPoll;

    /// The client acknowledged everything up to and including `cursor`.
    fn acknowledged(&mut self, cursor: &Cursor) {
        let _ = cursor;
    }
}

/// Opens subscriptions for a subscription listener.
///
/// ```
/// use std::time::Duration;
/// use netbat::{FeedPoll, OpenFailure, OpenRequest, SubscriptionFeed, SubscriptionSource};
///
/// struct Nothing;
/// impl SubscriptionFeed for Nothing {
///     fn poll(&mut self, timeout: Duration) -> FeedPoll {
///         std::thread::sleep(timeout);
///         FeedPoll::Idle
///     }
/// }
/// struct Only;
/// impl SubscriptionSource for Only {
///     fn open(&self, request: &OpenRequest) -> Result<Box<dyn SubscriptionFeed>, OpenFailure> {
///         if request.id.as_str() == "nothing.v1" {
///             Ok(Box::new(Nothing))
///         } else {
///             Err(OpenFailure::unknown_subscription(&request.id))
///         }
///     }
/// }
/// ```
pub trait SubscriptionSource: Send + Sync {
    /// Opens a feed, or refuses.
    ///
    /// # Errors
    /// An [`OpenFailure`] sent to the client as `SUB_ERR`.
    fn open(&self, request: &OpenRequest) -> Result<Box<dyn SubscriptionFeed>, OpenFailure>;
}

impl<T: SubscriptionSource + ?Sized> SubscriptionSource for Arc<T> {
    fn open(&self, request: &OpenRequest) -> Result<Box<dyn SubscriptionFeed>, OpenFailure> {
        (**self).open(request)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    #[test]
    fn open_failures_use_the_published_codes() {
        let id = SubscriptionId::new("orders.open.v1", &Limits::default()).unwrap();
        let unknown = OpenFailure::unknown_subscription(&id);
        assert_eq!(unknown.code().as_str(), "unknown_subscription");
        assert_eq!(unknown.message(), b"orders.open.v1");
        assert_eq!(unknown.to_string(), "unknown_subscription: orders.open.v1");
        assert_eq!(
            OpenFailure::cursor_invalid("x").code().as_str(),
            "cursor_invalid"
        );
        assert_eq!(
            OpenFailure::cursor_mismatch("x").code().as_str(),
            "cursor_mismatch"
        );
        assert_eq!(OpenFailure::forbidden("x").code().as_str(), "forbidden");
        assert_eq!(OpenFailure::internal("x").code().as_str(), "internal_error");
    }
}
