//! One NETBAT/2 subscription connection as a pure state machine.
//!
//! ```text
//! AwaitSubscribe --SUBSCRIBE--> Opening --opened(Ok)--> Active --SUB_END/SUB_ERR--> Closed
//!       | (optional NETBAT/1 AUTH first)      \--opened(Err): SUB_ERR--> Closed
//! ```
//!
//! While active, the session numbers deliveries from 1, remembers the cursor
//! sent at every unacknowledged index, asks the adapter to pull the feed only
//! while the window has credit (plus one delivery of look-ahead), and cuts the
//! subscription with `SUB_ERR slow_consumer` when a delivery has waited on a
//! full window for the stall timeout. Time comes in as an argument.

use std::collections::VecDeque;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{Authenticator, Grants, Principal};
use crate::codec::frame::{
    decode_stream_line, encode_stream_frame, stream_code, Cursor, ReasonCode, StreamFrame, SubEnd,
    SubErr, SubEvent, SubWatermark, Subscribe, SubscriptionId,
};
use crate::codec::line::{decode_line, encode_ok, encode_response, ClientLine};
use crate::codec::reader::LineReader;
use crate::error::{AuthFailure, Malformation, WireError};
use crate::limits::{Limits, CALL_PROTOCOL};
use crate::session::{classify, Counters, Outcome};
use crate::subscription::{FeedEvent, FeedPoll, OpenFailure, OpenRequest};

/// Default cap on the client window.
pub const DEFAULT_MAX_WINDOW: u32 = 256;
/// Default time a delivery may wait on a full window before `slow_consumer`.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);

const MALFORMED_CONTROL: &str = "malformed stream control frame";
const WINDOW_STALLED: &str = "delivery window full";

/// Settings of a [`StreamSession`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamSessionConfig {
    /// Byte bounds.
    pub limits: Limits,
    /// The largest window honoured, whatever the client asks.
    pub max_window: NonZeroU32,
    /// How long a delivery may wait on a full window before the subscription
    /// is cut with `slow_consumer`.
    pub stall_timeout: Duration,
}

impl Default for StreamSessionConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_window: NonZeroU32::new(DEFAULT_MAX_WINDOW).unwrap_or(NonZeroU32::MIN),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }
}

impl StreamSessionConfig {
    /// Sets [`StreamSessionConfig::limits`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`StreamSessionConfig::max_window`].
    #[must_use]
    pub fn with_max_window(mut self, max_window: NonZeroU32) -> Self {
        self.max_window = max_window;
        self
    }

    /// Sets [`StreamSessionConfig::stall_timeout`].
    #[must_use]
    pub fn with_stall_timeout(mut self, stall_timeout: Duration) -> Self {
        self.stall_timeout = stall_timeout;
        self
    }
}

/// Why a subscription connection closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamClose {
    /// The peer closed before sending a byte.
    EmptyStream,
    /// The peer closed.
    PeerClosed,
    /// The first line was not a valid `SUBSCRIBE` (closed without a reply).
    Malformed,
    /// No valid credential (answered `ERR`/`SUB_ERR unauthenticated`).
    Unauthenticated,
    /// The source refused to open (answered `SUB_ERR`).
    Refused,
    /// The subscription ended with `SUB_END` or `SUB_ERR`.
    Ended,
    /// The subscription was cut with `SUB_ERR slow_consumer`.
    SlowConsumer,
    /// The server is shutting down (`SUB_END … server_shutdown` when active).
    Shutdown,
}

/// What the adapter does next.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamStep {
    /// Write the outbox, then feed more bytes (before `SUBSCRIBE`).
    NeedInput,
    /// Open the source's feed and report with [`StreamSession::opened`].
    Open(OpenRequest),
    /// Poll the feed and hand the result to [`StreamSession::deliver`];
    /// feed any client bytes that arrive meanwhile.
    Pull,
    /// The window is full: write the outbox and wait for client bytes until
    /// `until`, then poll again.
    AwaitAcks {
        /// When the stall timeout expires.
        until: Instant,
    },
    /// Write the outbox, then close the connection.
    Close(StreamClose),
}

enum Auth {
    Open,
    Required(Arc<Authenticator>),
}

enum Pending {
    Event(FeedEvent),
    Watermark(Cursor),
}

struct Active {
    id: SubscriptionId,
    window: u64,
    next_index: u64,
    last_acked: u64,
    last_acked_cursor: Option<Cursor>,
    last_delivered: Option<Cursor>,
    /// Cursors sent at indices `last_acked + 1 ..= next_index - 1`, in order.
    sent: VecDeque<Cursor>,
    pending: Option<Pending>,
    blocked_since: Option<Instant>,
}

impl Active {
    fn in_flight(&self) -> u64 {
        self.sent.len() as u64
    }

    fn has_credit(&self) -> bool {
        self.in_flight() < self.window
    }
}

enum State {
    AwaitSubscribe,
    Opening(OpenRequest),
    Active(Box<Active>),
    Closed(StreamClose),
}

/// A NETBAT/2 connection's protocol state.
///
/// ```
/// use std::time::Instant;
/// use netbat::session::{StreamSession, StreamSessionConfig, StreamStep};
/// use netbat::{Cursor, FeedPoll};
/// let mut session = StreamSession::new(&StreamSessionConfig::default(), None);
/// let line = b"NETBAT/2 SUBSCRIBE orders.open.v1 - 8\n";
/// session.feed(line);
/// let StreamStep::Open(request) = session.poll(Instant::now()) else { unreachable!() };
/// assert_eq!(request.window.get(), 8);
/// session.opened(Ok(()));
/// assert!(matches!(session.poll(Instant::now()), StreamStep::Pull));
/// session.deliver(FeedPoll::Watermark(Cursor::new(vec![1])));
/// assert!(matches!(session.poll(Instant::now()), StreamStep::Pull));
/// assert_eq!(session.take_output(), b"NETBAT/2 SUB_WATERMARK orders.open.v1 1 01\n");
/// ```
pub struct StreamSession {
    config: StreamSessionConfig,
    reader: LineReader,
    outbox: Vec<u8>,
    auth: Auth,
    principal: Option<Principal>,
    state: State,
    ack: Option<Cursor>,
    counters: Counters,
}

impl StreamSession {
    /// A session; with `auth`, `SUBSCRIBE` needs a credential first.
    #[must_use]
    pub fn new(config: &StreamSessionConfig, auth: Option<Arc<Authenticator>>) -> Self {
        Self {
            config: *config,
            reader: LineReader::new(config.limits.max_line_bytes),
            outbox: Vec::new(),
            auth: auth.map_or(Auth::Open, Auth::Required),
            principal: None,
            state: State::AwaitSubscribe,
            ack: None,
            counters: Counters::default(),
        }
    }

    /// Sets the principal the transport proved (a TLS client certificate).
    pub fn set_principal(&mut self, principal: Principal) {
        self.principal = Some(principal);
    }

    /// Consumes bytes up to the end of the next line; returns how many.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        if matches!(self.state, State::Closed(_)) {
            return 0;
        }
        self.reader.feed(bytes)
    }

    /// The peer closed its sending side.
    pub fn end_of_input(&mut self) {
        self.reader.finish();
    }

    /// True once the subscription is open and until it ends.
    #[must_use]
    pub fn is_active(&self) -> bool {
        matches!(self.state, State::Active(_))
    }

    /// True while part of a line has arrived but not its end.
    #[must_use]
    pub fn is_mid_line(&self) -> bool {
        self.reader.is_mid_line()
    }

    /// The subscription id, once `SUBSCRIBE` was accepted.
    #[must_use]
    pub fn subscription_id(&self) -> Option<&SubscriptionId> {
        match &self.state {
            State::Opening(request) => Some(&request.id),
            State::Active(active) => Some(&active.id),
            State::AwaitSubscribe | State::Closed(_) => None,
        }
    }

    /// Bytes waiting to be written.
    #[must_use]
    pub fn output_len(&self) -> usize {
        self.outbox.len()
    }

    /// Takes the bytes to write.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outbox)
    }

    /// The cursor of the latest valid cumulative ack not yet handed to the
    /// feed ([`crate::SubscriptionFeed::acknowledged`]).
    pub fn take_ack(&mut self) -> Option<Cursor> {
        self.ack.take()
    }

    /// Counts so far (and resets them).
    pub fn take_counters(&mut self) -> Counters {
        std::mem::take(&mut self.counters)
    }

    /// The server is shutting down: end an active subscription with
    /// `SUB_END … server_shutdown`.
    pub fn shutdown(&mut self) {
        if let State::Active(active) = &self.state {
            let frame = StreamFrame::End(SubEnd {
                id: active.id.clone(),
                cursor_after: active.last_delivered.clone(),
                reason: ReasonCode::known(stream_code::SERVER_SHUTDOWN),
            });
            self.outbox.extend_from_slice(&encode_stream_frame(&frame));
        }
        if !matches!(self.state, State::Closed(_)) {
            self.state = State::Closed(StreamClose::Shutdown);
        }
    }

    /// The next step at time `now`.
    pub fn poll(&mut self, now: Instant) -> StreamStep {
        loop {
            match &mut self.state {
                State::Closed(reason) => return StreamStep::Close(*reason),
                State::Opening(request) => return StreamStep::Open(request.clone()),
                State::AwaitSubscribe => match self.reader.take_line() {
                    None if self.reader.is_finished() => {
                        let reason = if self.reader.bytes_seen() == 0 {
                            StreamClose::EmptyStream
                        } else {
                            StreamClose::PeerClosed
                        };
                        self.state = State::Closed(reason);
                    }
                    None => return StreamStep::NeedInput,
                    Some(Err(error)) => {
                        self.counters.record(classify(&error));
                        self.state = State::Closed(StreamClose::Malformed);
                    }
                    Some(Ok(line)) => self.first_line(&line),
                },
                State::Active(active) => {
                    match self.reader.take_line() {
                        Some(Ok(line)) => {
                            self.control_line(&line);
                            continue;
                        }
                        Some(Err(_)) => {
                            self.malformed_control();
                            continue;
                        }
                        None if self.reader.is_finished() => {
                            self.state = State::Closed(StreamClose::PeerClosed);
                            continue;
                        }
                        None => {}
                    }
                    let Some(pending) = active.pending.take() else {
                        return StreamStep::Pull;
                    };
                    if active.has_credit() {
                        active.blocked_since = None;
                        let frame = emit(active, pending);
                        self.counters.deliveries += 1;
                        self.outbox.extend_from_slice(&encode_stream_frame(&frame));
                        continue;
                    }
                    active.pending = Some(pending);
                    let since = *active.blocked_since.get_or_insert(now);
                    let until = since + self.config.stall_timeout;
                    if now < until {
                        return StreamStep::AwaitAcks { until };
                    }
                    self.counters.slow_consumers += 1;
                    self.terminal_error(stream_code::SLOW_CONSUMER, WINDOW_STALLED.as_bytes());
                    self.state = State::Closed(StreamClose::SlowConsumer);
                }
            }
        }
    }

    /// Reports the outcome of [`StreamStep::Open`].
    pub fn opened(&mut self, result: Result<(), OpenFailure>) {
        let State::Opening(request) = &self.state else {
            return;
        };
        match result {
            Ok(()) => {
                self.counters.subscriptions_opened += 1;
                self.state = State::Active(Box::new(Active {
                    id: request.id.clone(),
                    window: u64::from(request.window.get()),
                    next_index: 1,
                    last_acked: 0,
                    last_acked_cursor: None,
                    last_delivered: None,
                    sent: VecDeque::new(),
                    pending: None,
                    blocked_since: None,
                }));
            }
            Err(failure) => {
                self.counters.subscriptions_refused += 1;
                if failure.code().as_str() == stream_code::FORBIDDEN {
                    self.counters.auth_failures += 1;
                }
                let frame = StreamFrame::Err(SubErr {
                    id: request.id.clone(),
                    code: failure.code().clone(),
                    last_delivered: None,
                    last_acked: None,
                    message: failure.message().to_vec(),
                });
                self.outbox.extend_from_slice(&encode_stream_frame(&frame));
                self.state = State::Closed(StreamClose::Refused);
            }
        }
    }

    /// Hands over what a [`StreamStep::Pull`] got from the feed.
    pub fn deliver(&mut self, poll: FeedPoll) {
        let State::Active(active) = &mut self.state else {
            return;
        };
        let limits = self.config.limits;
        match poll {
            FeedPoll::Idle => {}
            FeedPoll::Event(event) => {
                let cursor_too_large = event.cursor_after.as_bytes().len()
                    > limits.max_cursor_bytes
                    || event
                        .cursor_before
                        .as_ref()
                        .is_some_and(|c| c.as_bytes().len() > limits.max_cursor_bytes);
                if event.payload.len() > limits.max_stream_payload_bytes {
                    let error = WireError::StreamPayloadTooLarge {
                        max: limits.max_stream_payload_bytes,
                    };
                    self.oversized(&error);
                } else if cursor_too_large {
                    let error = WireError::CursorTooLarge {
                        max: limits.max_cursor_bytes,
                    };
                    self.oversized(&error);
                } else {
                    self.push_pending(Pending::Event(event));
                }
            }
            FeedPoll::Watermark(cursor) => {
                if cursor.as_bytes().len() > limits.max_cursor_bytes {
                    let error = WireError::CursorTooLarge {
                        max: limits.max_cursor_bytes,
                    };
                    self.oversized(&error);
                } else {
                    self.push_pending(Pending::Watermark(cursor));
                }
            }
            FeedPoll::End {
                reason,
                cursor_after,
            } => {
                let frame = StreamFrame::End(SubEnd {
                    id: active.id.clone(),
                    cursor_after: cursor_after.or_else(|| active.last_delivered.clone()),
                    reason,
                });
                self.outbox.extend_from_slice(&encode_stream_frame(&frame));
                self.state = State::Closed(StreamClose::Ended);
            }
            FeedPoll::Failed { code, message } => {
                if code.as_str() == stream_code::SLOW_CONSUMER {
                    self.counters.slow_consumers += 1;
                }
                self.terminal_error_code(code, message.as_bytes());
                self.state = State::Closed(StreamClose::Ended);
            }
        }
    }

    fn push_pending(&mut self, pending: Pending) {
        if let State::Active(active) = &mut self.state {
            if active.pending.is_none() {
                active.pending = Some(pending);
                return;
            }
        }
        self.terminal_error(
            stream_code::INTERNAL_ERROR,
            b"delivery pulled while one was pending",
        );
        self.state = State::Closed(StreamClose::Ended);
    }

    fn oversized(&mut self, error: &WireError) {
        let code = ReasonCode::known(error.code().as_str());
        self.terminal_error_code(code, error.to_string().as_bytes());
        self.state = State::Closed(StreamClose::Ended);
    }

    fn first_line(&mut self, line: &[u8]) {
        if line.split(|b| *b == b' ').next() == Some(CALL_PROTOCOL.as_bytes()) {
            match decode_line(line, &self.config.limits) {
                Ok(ClientLine::Auth(token)) => self.authenticate(token.as_bytes()),
                Ok(_) => {
                    self.counters.record(Outcome::Malformed);
                    self.state = State::Closed(StreamClose::Malformed);
                }
                Err(error) => {
                    self.counters.record(classify(&error));
                    self.state = State::Closed(StreamClose::Malformed);
                }
            }
            return;
        }
        match decode_stream_line(line, &self.config.limits) {
            Ok(StreamFrame::Subscribe(subscribe)) => self.subscribe(subscribe),
            Ok(_) => {
                let error = WireError::malformed_stream(Malformation::FirstFrameNotSubscribe);
                self.counters.record(classify(&error));
                self.state = State::Closed(StreamClose::Malformed);
            }
            Err(error) => {
                self.counters.record(classify(&error));
                self.state = State::Closed(StreamClose::Malformed);
            }
        }
    }

    fn authenticate(&mut self, token: &[u8]) {
        match &self.auth {
            Auth::Open => self.outbox.extend_from_slice(&encode_ok(&[])),
            Auth::Required(authenticator) => match authenticator.authenticate_token(token) {
                Ok(principal) => {
                    self.principal = Some(principal);
                    self.outbox.extend_from_slice(&encode_ok(&[]));
                }
                Err(reason) => {
                    let error = WireError::Unauthenticated { reason };
                    self.outbox.extend_from_slice(&encode_response(Err(&error)));
                    self.counters.record(classify(&error));
                    self.state = State::Closed(StreamClose::Unauthenticated);
                }
            },
        }
    }

    fn grants(&self) -> Result<Arc<Grants>, AuthFailure> {
        match (&self.auth, &self.principal) {
            (Auth::Open, None) => Ok(Arc::new(Grants::all())),
            (Auth::Open, Some(principal)) => Ok(Arc::clone(principal.grants())),
            (Auth::Required(_), None) => Err(AuthFailure::MissingCredentials),
            (Auth::Required(authenticator), Some(principal)) => {
                authenticator.current_grants(principal)
            }
        }
    }

    fn subscribe(&mut self, subscribe: Subscribe) {
        match self.grants() {
            Ok(grants) => {
                let window = subscribe.window.min(self.config.max_window);
                self.state = State::Opening(OpenRequest {
                    id: subscribe.id,
                    resume: subscribe.resume,
                    window,
                    grants,
                });
            }
            Err(reason) => {
                let error = WireError::Unauthenticated { reason };
                let frame = StreamFrame::Err(SubErr {
                    id: subscribe.id,
                    code: ReasonCode::known(stream_code::UNAUTHENTICATED),
                    last_delivered: None,
                    last_acked: None,
                    message: error.to_string().into_bytes(),
                });
                self.outbox.extend_from_slice(&encode_stream_frame(&frame));
                self.counters.record(classify(&error));
                self.counters.subscriptions_refused += 1;
                self.state = State::Closed(StreamClose::Unauthenticated);
            }
        }
    }

    fn control_line(&mut self, line: &[u8]) {
        let State::Active(active) = &mut self.state else {
            return;
        };
        match decode_stream_line(line, &self.config.limits) {
            Ok(StreamFrame::Ack(ack)) if ack.id == active.id => {
                self.apply_ack(ack.index, ack.cursor_after);
            }
            Ok(StreamFrame::Cancel(cancel)) if cancel.id == active.id => {
                let frame = StreamFrame::End(SubEnd {
                    id: active.id.clone(),
                    cursor_after: active.last_delivered.clone(),
                    reason: ReasonCode::known(stream_code::CLIENT_CANCELLED),
                });
                self.outbox.extend_from_slice(&encode_stream_frame(&frame));
                self.state = State::Closed(StreamClose::Ended);
            }
            _ => self.malformed_control(),
        }
    }

    fn malformed_control(&mut self) {
        self.counters.record(Outcome::Malformed);
        self.terminal_error(
            stream_code::MALFORMED_STREAM_FRAME,
            MALFORMED_CONTROL.as_bytes(),
        );
        self.state = State::Closed(StreamClose::Ended);
    }

    fn apply_ack(&mut self, index: NonZeroU64, cursor: Cursor) {
        let State::Active(active) = &mut self.state else {
            return;
        };
        let index = index.get();
        let last_sent = active.next_index - 1;
        let refusal = if index > last_sent {
            Some((
                stream_code::MALFORMED_STREAM_FRAME,
                "ack delivery index out of range",
            ))
        } else if index < active.last_acked {
            Some((stream_code::CURSOR_INVALID, "ack delivery index regressed"))
        } else if index == active.last_acked {
            (active.last_acked_cursor.as_ref() != Some(&cursor)).then_some((
                stream_code::MALFORMED_STREAM_FRAME,
                "ack cursor does not match sent cursor",
            ))
        } else {
            let at = usize::try_from(index - active.last_acked - 1).unwrap_or(usize::MAX);
            match active.sent.get(at) {
                Some(sent) if *sent == cursor => {
                    active.sent.drain(..=at);
                    active.last_acked = index;
                    active.last_acked_cursor = Some(cursor.clone());
                    self.ack = Some(cursor);
                    None
                }
                Some(_) => Some((
                    stream_code::MALFORMED_STREAM_FRAME,
                    "ack cursor does not match sent cursor",
                )),
                None => Some((
                    stream_code::CURSOR_INVALID,
                    "ack delivery index has no sent cursor",
                )),
            }
        };
        if let Some((code, reason)) = refusal {
            self.counters.record(Outcome::Malformed);
            self.terminal_error(code, reason.as_bytes());
            self.state = State::Closed(StreamClose::Ended);
        }
    }

    fn terminal_error(&mut self, code: &'static str, message: &[u8]) {
        self.terminal_error_code(ReasonCode::known(code), message);
    }

    fn terminal_error_code(&mut self, code: ReasonCode, message: &[u8]) {
        let State::Active(active) = &self.state else {
            return;
        };
        let frame = StreamFrame::Err(SubErr {
            id: active.id.clone(),
            code,
            last_delivered: active.last_delivered.clone(),
            last_acked: active.last_acked_cursor.clone(),
            message: message.to_vec(),
        });
        self.outbox.extend_from_slice(&encode_stream_frame(&frame));
    }
}

fn emit(active: &mut Active, pending: Pending) -> StreamFrame {
    let index = NonZeroU64::new(active.next_index).unwrap_or(NonZeroU64::MIN);
    active.next_index += 1;
    match pending {
        Pending::Event(event) => {
            active.sent.push_back(event.cursor_after.clone());
            active.last_delivered = Some(event.cursor_after.clone());
            StreamFrame::Event(SubEvent {
                id: active.id.clone(),
                index,
                cursor_before: event.cursor_before,
                cursor_after: Some(event.cursor_after),
                schema: event.schema,
                payload: event.payload,
            })
        }
        Pending::Watermark(cursor) => {
            active.sent.push_back(cursor.clone());
            active.last_delivered = Some(cursor.clone());
            StreamFrame::Watermark(SubWatermark {
                id: active.id.clone(),
                index,
                cursor_after: cursor,
            })
        }
    }
}

impl std::fmt::Debug for StreamSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSession")
            .field("subscription", &self.subscription_id())
            .field("active", &self.is_active())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "stream_tests.rs"]
mod tests;
