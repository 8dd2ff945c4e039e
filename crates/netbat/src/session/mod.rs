//! Per-connection protocol state machines, pure over bytes and time.
//!
//! [`CallSession`] runs a NETBAT/1 connection (authentication, pipelined
//! requests answered in order, the request limit); [`StreamSession`] runs a
//! NETBAT/2 subscription (the `SUBSCRIBE` handshake, delivery indices,
//! credit from the client window, cumulative acks, cancellation and the
//! slow-consumer cut). Both are driven by an adapter that moves bytes.

mod call;
mod stream;

pub use call::{
    CallSession, CallSessionConfig, CallStep, CloseReason, PendingCall,
    DEFAULT_MAX_REQUESTS_PER_CONNECTION,
};
pub use stream::{
    StreamClose, StreamSession, StreamSessionConfig, StreamStep, DEFAULT_MAX_WINDOW,
    DEFAULT_STALL_TIMEOUT,
};

use crate::dispatch::CallFailureKind;
use crate::error::WireError;

/// What a session counted: requests, refusals and subscription outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Requests answered `OK`.
    pub served: u64,
    /// Requests (and lines) answered `ERR`.
    pub failed: u64,
    /// Failures from bad grammar or an unsupported version.
    pub malformed: u64,
    /// Failures from a byte limit (line, name, input, output, stream fields).
    pub limit_failures: u64,
    /// Failures reported by the dispatcher (other than `forbidden`).
    pub runtime_failures: u64,
    /// Unauthenticated and forbidden requests and subscriptions.
    pub auth_failures: u64,
    /// Subscriptions opened.
    pub subscriptions_opened: u64,
    /// Subscriptions refused at open (unknown id, bad cursor, no credential…).
    pub subscriptions_refused: u64,
    /// Subscriptions cut with `slow_consumer`.
    pub slow_consumers: u64,
    /// Events and watermarks delivered.
    pub deliveries: u64,
}

impl Counters {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Counters) {
        self.served += other.served;
        self.failed += other.failed;
        self.malformed += other.malformed;
        self.limit_failures += other.limit_failures;
        self.runtime_failures += other.runtime_failures;
        self.auth_failures += other.auth_failures;
        self.subscriptions_opened += other.subscriptions_opened;
        self.subscriptions_refused += other.subscriptions_refused;
        self.slow_consumers += other.slow_consumers;
        self.deliveries += other.deliveries;
    }

    pub(crate) fn record(&mut self, outcome: Outcome) {
        if outcome == Outcome::Served {
            self.served += 1;
            return;
        }
        self.failed += 1;
        match outcome {
            Outcome::Served | Outcome::Other => {}
            Outcome::Malformed => self.malformed += 1,
            Outcome::Limit => self.limit_failures += 1,
            Outcome::Runtime => self.runtime_failures += 1,
            Outcome::Auth => self.auth_failures += 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Served,
    Malformed,
    Limit,
    Runtime,
    Auth,
    Other,
}

pub(crate) fn classify(error: &WireError) -> Outcome {
    match error {
        WireError::MalformedRequest { .. }
        | WireError::MalformedStreamFrame { .. }
        | WireError::UnsupportedProtocolVersion { .. } => Outcome::Malformed,
        WireError::LineTooLong { .. }
        | WireError::OperationNameTooLong { .. }
        | WireError::InputTooLarge { .. }
        | WireError::OutputTooLarge { .. }
        | WireError::SubscriptionIdTooLong { .. }
        | WireError::CursorTooLarge { .. }
        | WireError::StreamPayloadTooLarge { .. }
        | WireError::StreamMessageTooLarge { .. } => Outcome::Limit,
        WireError::Call(failure) if failure.kind() == CallFailureKind::Forbidden => Outcome::Auth,
        WireError::Call(_) => Outcome::Runtime,
        WireError::Unauthenticated { .. } => Outcome::Auth,
        WireError::Io { .. } | WireError::EmptyStream => Outcome::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::dispatch::CallFailure;
    use crate::error::{AuthFailure, Malformation};

    #[test]
    fn classification_and_counting() {
        let cases = [
            (
                WireError::malformed_request(Malformation::EmptyLine),
                Outcome::Malformed,
            ),
            (
                WireError::malformed_stream(Malformation::EmptyLine),
                Outcome::Malformed,
            ),
            (
                WireError::UnsupportedProtocolVersion {
                    version: "x".into(),
                },
                Outcome::Malformed,
            ),
            (WireError::LineTooLong { max: 1 }, Outcome::Limit),
            (WireError::OperationNameTooLong { max: 1 }, Outcome::Limit),
            (WireError::InputTooLarge { max: 1 }, Outcome::Limit),
            (WireError::OutputTooLarge { max: 1 }, Outcome::Limit),
            (WireError::SubscriptionIdTooLong { max: 1 }, Outcome::Limit),
            (WireError::CursorTooLarge { max: 1 }, Outcome::Limit),
            (WireError::StreamPayloadTooLarge { max: 1 }, Outcome::Limit),
            (WireError::StreamMessageTooLarge { max: 1 }, Outcome::Limit),
            (WireError::Call(CallFailure::runtime("x")), Outcome::Runtime),
            (
                WireError::Call(CallFailure::forbidden("a", "b")),
                Outcome::Auth,
            ),
            (
                WireError::Unauthenticated {
                    reason: AuthFailure::MissingCredentials,
                },
                Outcome::Auth,
            ),
            (WireError::EmptyStream, Outcome::Other),
        ];
        let mut counters = Counters::default();
        for (error, outcome) in &cases {
            assert_eq!(classify(error), *outcome, "{error:?}");
            counters.record(*outcome);
        }
        counters.record(Outcome::Served);
        assert_eq!(counters.served, 1);
        assert_eq!(counters.failed, cases.len() as u64);
        assert_eq!(counters.malformed, 3);
        assert_eq!(counters.limit_failures, 8);
        assert_eq!(counters.runtime_failures, 1);
        assert_eq!(counters.auth_failures, 2);
        let mut total = Counters::default();
        total.add(&counters);
        total.add(&counters);
        assert_eq!(total.served, 2);
        assert_eq!(total.limit_failures, 16);
        let stream = Counters {
            subscriptions_opened: 1,
            subscriptions_refused: 2,
            slow_consumers: 3,
            deliveries: 4,
            ..Counters::default()
        };
        total.add(&stream);
        total.add(&stream);
        assert_eq!(
            (
                total.subscriptions_opened,
                total.subscriptions_refused,
                total.slow_consumers,
                total.deliveries,
                total.runtime_failures,
                total.auth_failures,
                total.malformed,
                total.failed
            ),
            (2, 4, 6, 8, 2, 4, 6, 2 * cases.len() as u64)
        );
    }
}
