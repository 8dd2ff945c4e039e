//! One NETBAT/1 connection as a pure state machine.
//!
//! Bytes go in with [`CallSession::feed`]; [`CallSession::poll`] says what to
//! do next (dispatch a call, read more, or close); response lines collect in
//! an outbox, in request order, for the adapter to write. No I/O, no clocks,
//! no threads: the adapter owns the socket, the timeouts and the dispatcher.

use std::num::NonZeroUsize;
use std::sync::Arc;

use crate::auth::{Authenticator, Grants, Principal};
use crate::codec::line::{decode_line, encode_ok, encode_response, ClientLine};
use crate::codec::reader::LineReader;
use crate::dispatch::CallFailure;
use crate::error::{AuthFailure, WireError};
use crate::limits::Limits;
use crate::session::{classify, Counters, Outcome};

/// Default number of requests answered on one connection before it closes.
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: usize = 100_000;

/// Settings of a [`CallSession`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallSessionConfig {
    /// Byte bounds.
    pub limits: Limits,
    /// Requests answered before the connection closes (`AUTH` lines do not count).
    pub max_requests_per_connection: NonZeroUsize,
}

impl Default for CallSessionConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_requests_per_connection: NonZeroUsize::new(DEFAULT_MAX_REQUESTS_PER_CONNECTION)
                .unwrap_or(NonZeroUsize::MIN),
        }
    }
}

impl CallSessionConfig {
    /// Sets [`CallSessionConfig::limits`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`CallSessionConfig::max_requests_per_connection`].
    #[must_use]
    pub fn with_max_requests_per_connection(mut self, max: NonZeroUsize) -> Self {
        self.max_requests_per_connection = max;
        self
    }
}

/// A call to run for the connection, handed out by [`CallSession::poll`].
#[derive(Clone, Debug)]
pub struct PendingCall {
    /// The operation name (validated by the codec).
    pub operation: String,
    /// The decoded input.
    pub input: Vec<u8>,
    /// The connection's grants.
    pub grants: Arc<Grants>,
}

/// Why a connection closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed before sending a byte.
    EmptyStream,
    /// The peer closed its side after its last request.
    PeerClosed,
    /// A line exceeded the line limit (already answered `ERR line_too_long`).
    LineTooLong,
    /// Authentication failed (already answered `ERR unauthenticated`).
    Unauthenticated,
    /// The connection answered its maximum number of requests.
    RequestLimit,
    /// The server is shutting down.
    Shutdown,
}

/// What the adapter does next.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallStep {
    /// Run this call and hand the result to [`CallSession::complete`].
    Dispatch(PendingCall),
    /// Write the outbox, then feed more bytes (or the end of input).
    NeedInput,
    /// Write the outbox, then close the connection.
    Close(CloseReason),
}

enum Auth {
    Open,
    Required(Arc<Authenticator>),
}

/// A NETBAT/1 connection's protocol state.
///
/// ```
/// use netbat::session::{CallSession, CallSessionConfig, CallStep};
/// let mut session = CallSession::new(&CallSessionConfig::default(), None);
/// let input = b"NETBAT/1 CALL echo 6869\n";
/// assert_eq!(session.feed(input), input.len());
/// let CallStep::Dispatch(call) = session.poll() else { unreachable!() };
/// session.complete(Ok(call.input.clone()));
/// assert!(matches!(session.poll(), CallStep::NeedInput));
/// assert_eq!(session.take_output(), b"OK 6869\n");
/// ```
pub struct CallSession {
    limits: Limits,
    max_requests: usize,
    reader: LineReader,
    outbox: Vec<u8>,
    auth: Auth,
    principal: Option<Principal>,
    open_grants: Arc<Grants>,
    awaiting: bool,
    answered: usize,
    closing: Option<CloseReason>,
    counters: Counters,
}

impl CallSession {
    /// A session; with `auth`, every call needs a credential.
    #[must_use]
    pub fn new(config: &CallSessionConfig, auth: Option<Arc<Authenticator>>) -> Self {
        Self {
            limits: config.limits,
            max_requests: config.max_requests_per_connection.get(),
            reader: LineReader::new(config.limits.max_line_bytes),
            outbox: Vec::new(),
            auth: auth.map_or(Auth::Open, Auth::Required),
            principal: None,
            open_grants: Arc::new(Grants::all()),
            awaiting: false,
            answered: 0,
            closing: None,
            counters: Counters::default(),
        }
    }

    /// Sets the principal the transport proved (a TLS client certificate).
    pub fn set_principal(&mut self, principal: Principal) {
        self.principal = Some(principal);
    }

    /// Consumes bytes up to the end of the next line; returns how many.
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        if self.closing.is_some() {
            return 0;
        }
        self.reader.feed(bytes)
    }

    /// The peer closed its sending side.
    pub fn end_of_input(&mut self) {
        self.reader.finish();
    }

    /// The server is shutting down: close after the current request.
    pub fn shutdown(&mut self) {
        self.closing.get_or_insert(CloseReason::Shutdown);
    }

    /// True while part of a request line has arrived but not its end.
    #[must_use]
    pub fn is_mid_request(&self) -> bool {
        self.reader.is_mid_line()
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

    /// Counts so far (and resets them), for the adapter's statistics.
    pub fn take_counters(&mut self) -> Counters {
        std::mem::take(&mut self.counters)
    }

    /// The next step.
    pub fn poll(&mut self) -> CallStep {
        if self.awaiting {
            // A dispatched call was never completed: answer it as a runtime failure.
            self.complete(Err(CallFailure::runtime("call was not completed")));
        }
        loop {
            if let Some(reason) = self.closing {
                return CallStep::Close(reason);
            }
            let line = match self.reader.take_line() {
                None if self.reader.is_finished() => {
                    let reason = if self.reader.bytes_seen() == 0 {
                        CloseReason::EmptyStream
                    } else {
                        CloseReason::PeerClosed
                    };
                    return CallStep::Close(reason);
                }
                None => return CallStep::NeedInput,
                Some(Err(error)) => {
                    self.answer_error(&error);
                    self.closing = Some(CloseReason::LineTooLong);
                    continue;
                }
                Some(Ok(line)) => line,
            };
            match decode_line(&line, &self.limits) {
                Err(error) => self.answer_error(&error),
                Ok(ClientLine::Auth(token)) => self.authenticate(token.as_bytes()),
                Ok(ClientLine::Call(request)) => match self.grants() {
                    Ok(grants) => {
                        let (operation, input) = request.into_parts();
                        self.awaiting = true;
                        return CallStep::Dispatch(PendingCall {
                            operation,
                            input,
                            grants,
                        });
                    }
                    Err(failure) => self.refuse(failure),
                },
            }
        }
    }

    /// Hands back the result of the call [`CallSession::poll`] handed out.
    pub fn complete(&mut self, result: Result<Vec<u8>, CallFailure>) {
        if !self.awaiting {
            return;
        }
        self.awaiting = false;
        match result {
            Ok(output) if output.len() > self.limits.max_output_bytes => {
                self.answer_error(&WireError::OutputTooLarge {
                    max: self.limits.max_output_bytes,
                });
            }
            Ok(output) => {
                self.outbox.extend_from_slice(&encode_ok(&output));
                self.counters.record(Outcome::Served);
                self.count_answer();
            }
            Err(failure) => self.answer_error(&WireError::Call(failure)),
        }
    }

    fn answer_error(&mut self, error: &WireError) {
        self.outbox.extend_from_slice(&encode_response(Err(error)));
        self.counters.record(classify(error));
        self.count_answer();
    }

    fn count_answer(&mut self) {
        self.answered += 1;
        if self.answered >= self.max_requests {
            self.closing.get_or_insert(CloseReason::RequestLimit);
        }
    }

    fn refuse(&mut self, failure: AuthFailure) {
        let error = WireError::Unauthenticated { reason: failure };
        self.outbox.extend_from_slice(&encode_response(Err(&error)));
        self.counters.record(classify(&error));
        self.closing = Some(CloseReason::Unauthenticated);
    }

    fn authenticate(&mut self, token: &[u8]) {
        match &self.auth {
            Auth::Open => self.outbox.extend_from_slice(&encode_ok(&[])),
            Auth::Required(authenticator) => match authenticator.authenticate_token(token) {
                Ok(principal) => {
                    self.principal = Some(principal);
                    self.outbox.extend_from_slice(&encode_ok(&[]));
                }
                Err(failure) => {
                    self.principal = None;
                    self.refuse(failure);
                }
            },
        }
    }

    fn grants(&self) -> Result<Arc<Grants>, AuthFailure> {
        match &self.auth {
            Auth::Open => Ok(self
                .principal
                .as_ref()
                .map_or_else(|| Arc::clone(&self.open_grants), |p| Arc::clone(p.grants()))),
            Auth::Required(authenticator) => match &self.principal {
                None => Err(AuthFailure::MissingCredentials),
                Some(principal) => authenticator.current_grants(principal),
            },
        }
    }
}

impl std::fmt::Debug for CallSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSession")
            .field("answered", &self.answered)
            .field("awaiting", &self.awaiting)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "call_tests.rs"]
mod tests;
