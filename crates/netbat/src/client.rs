//! A blocking client: calls over a persistent connection, and subscriptions
//! that acknowledge as they are read and resume from their last cursor.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use crate::codec::frame::{
    decode_stream_line, encode_stream_frame, stream_code, Cursor, ReasonCode, StreamFrame, SubAck,
    SubCancel, SubEvent, SubWatermark, Subscribe, SubscriptionId,
};
use crate::codec::line::{
    decode_response, encode_auth, encode_request, ErrorReply, Response, ResponseError,
};
use crate::codec::reader::LineReader;
use crate::error::{ErrorCode, WireError};
use crate::limits::Limits;
use crate::session::DEFAULT_MAX_REQUESTS_PER_CONNECTION;

/// Where and how a [`Client`] connects.
///
/// ```
/// use netbat::ClientConfig;
/// let config = ClientConfig::new("127.0.0.1:7000".parse().unwrap()).with_token(b"s3cret");
/// assert_eq!(config.addr().port(), 7000);
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    addr: SocketAddr,
    subscription_addr: Option<SocketAddr>,
    token: Option<Vec<u8>>,
    limits: Limits,
    connect_timeout: Duration,
    io_timeout: Duration,
    requests_per_connection: usize,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsClientConfig>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ClientConfig");
        out.field("addr", &self.addr)
            .field("subscription_addr", &self.subscription_addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"));
        #[cfg(feature = "tls")]
        out.field("tls", &self.tls.is_some());
        out.finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Connects to `addr` in plain TCP, without a token.
    #[must_use]
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            subscription_addr: None,
            token: None,
            limits: Limits::default(),
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(30),
            requests_per_connection: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The call listener's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends `NETBAT/1 AUTH <token>` first on every connection.
    #[must_use]
    pub fn with_token(mut self, token: &[u8]) -> Self {
        self.token = Some(token.to_vec());
        self
    }

    /// The subscription listener's address (default: the call address).
    #[must_use]
    pub fn with_subscription_addr(mut self, addr: SocketAddr) -> Self {
        self.subscription_addr = Some(addr);
        self
    }

    /// Byte bounds for what the server sends.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long to wait for a connection.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one read or write may take.
    #[must_use]
    pub fn with_io_timeout(mut self, timeout: Duration) -> Self {
        self.io_timeout = timeout;
        self
    }

    /// Calls sent on one connection before the client opens a fresh one;
    /// set it to the server's `max_requests_per_connection`.
    #[must_use]
    pub fn with_requests_per_connection(mut self, requests: usize) -> Self {
        self.requests_per_connection = requests.max(1);
        self
    }

    /// Connects with TLS.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, tls: crate::tls::TlsClientConfig) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// Why a client call or subscription failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Connecting, reading or writing failed.
    #[error("{operation} failed: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The server closed the connection before answering.
    #[error("the server closed the connection")]
    Closed,
    /// The server answered `ERR`.
    #[error("server error {}", .0)]
    Server(ErrorReply),
    /// The server's answer is not a response line.
    #[error(transparent)]
    Response(#[from] ResponseError),
    /// A subscription ended with `SUB_ERR`.
    #[error("subscription error {code}: {message}")]
    Stream {
        /// The stream code (e.g. `slow_consumer`, `unknown_subscription`).
        code: String,
        /// The message.
        message: String,
        /// The last cursor the server delivered.
        last_delivered: Option<Cursor>,
        /// The last cursor the server saw acknowledged.
        last_acked: Option<Cursor>,
    },
    /// The server sent a malformed stream frame.
    #[error("bad stream frame: {0}")]
    Frame(WireError),
    /// The server sent a frame that does not belong here.
    #[error("unexpected stream frame")]
    UnexpectedFrame,
    /// TLS setup failed.
    #[error("tls: {reason}")]
    Tls {
        /// What failed.
        reason: String,
    },
}

impl ClientError {
    /// The server's error code, when it answered `ERR` with a known code.
    #[must_use]
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Server(reply) => reply.known_code(),
            _ => None,
        }
    }

    fn io(operation: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { operation, source }
    }
}

enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(stream) => stream.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(stream) => stream.flush(),
            #[cfg(feature = "tls")]
            Self::Tls(stream) => stream.flush(),
        }
    }
}

/// One connection: a stream and a bounded line reader over it.
struct Connection {
    stream: Stream,
    reader: LineReader,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Connection {
    fn open(config: &ClientConfig, addr: SocketAddr) -> Result<Self, ClientError> {
        let tcp = TcpStream::connect_timeout(&addr, config.connect_timeout)
            .map_err(ClientError::io("connect"))?;
        tcp.set_nodelay(true)
            .map_err(ClientError::io("configure"))?;
        tcp.set_read_timeout(Some(config.io_timeout))
            .map_err(ClientError::io("configure"))?;
        tcp.set_write_timeout(Some(config.io_timeout))
            .map_err(ClientError::io("configure"))?;
        #[cfg(feature = "tls")]
        let stream = match &config.tls {
            Some(tls) => Stream::Tls(Box::new(tls.connect(tcp)?)),
            None => Stream::Plain(tcp),
        };
        #[cfg(not(feature = "tls"))]
        let stream = Stream::Plain(tcp);
        let mut connection = Self {
            stream,
            reader: LineReader::new(config.limits.max_line_bytes),
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
        };
        if let Some(token) = &config.token {
            connection.send(&encode_auth(token))?;
            match decode_response(&connection.line()?, &config.limits)? {
                Response::Ok(_) => {}
                Response::Err(reply) => return Err(ClientError::Server(reply)),
            }
        }
        Ok(connection)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(ClientError::io("write"))
    }

    /// The next line; `Closed` at end of stream without one.
    fn line(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(line) = self.reader.take_line() {
                return line.map_err(|error| match error {
                    WireError::LineTooLong { max } => {
                        ClientError::Response(ResponseError::LineTooLong { max })
                    }
                    other => ClientError::Frame(other),
                });
            }
            if self.reader.is_finished() {
                return Err(ClientError::Closed);
            }
            if self.start < self.end {
                let used = self.reader.feed(&self.buf[self.start..self.end]);
                self.start += used;
                continue;
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => self.reader.finish(),
                Ok(n) => {
                    self.start = 0;
                    self.end = n;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => self.reader.finish(),
                Err(error) => return Err(ClientError::io("read")(error)),
            }
        }
    }
}

/// A NETBAT/1 client over one persistent connection (reopened when needed).
///
/// A call that fails on I/O drops the connection; the next call opens a new
/// one. A call is never retried: the client cannot know whether the server
/// ran it.
pub struct Client {
    config: ClientConfig,
    connection: Option<Connection>,
    calls_on_connection: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("connected", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects (and authenticates, with a token).
    ///
    /// # Errors
    /// [`ClientError`] when connecting or authenticating fails.
    pub fn connect(config: ClientConfig) -> Result<Self, ClientError> {
        let connection = Connection::open(&config, config.addr)?;
        Ok(Self {
            config,
            connection: Some(connection),
            calls_on_connection: 0,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Calls `operation` with `input` and returns its output.
    ///
    /// # Errors
    /// [`ClientError::Server`] for an `ERR` answer; other variants for
    /// connection failures (after which the connection is dropped).
    pub fn call(&mut self, operation: &str, input: &[u8]) -> Result<Vec<u8>, ClientError> {
        if self.calls_on_connection >= self.config.requests_per_connection {
            self.connection = None;
        }
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => {
                self.calls_on_connection = 0;
                Connection::open(&self.config, self.config.addr)?
            }
        };
        let answer = connection
            .send(&encode_request(operation, input))
            .and_then(|()| connection.line())
            .and_then(|line| Ok(decode_response(&line, &self.config.limits)?));
        self.calls_on_connection += 1;
        match answer {
            Ok(Response::Ok(output)) => {
                self.connection = Some(connection);
                Ok(output)
            }
            Ok(Response::Err(reply)) => {
                let closes = matches!(
                    reply.known_code(),
                    Some(ErrorCode::LineTooLong | ErrorCode::Unauthenticated)
                );
                if !closes {
                    self.connection = Some(connection);
                }
                Err(ClientError::Server(reply))
            }
            Err(error) => Err(error),
        }
    }

    /// Subscribes to `id` on the subscription listener, resuming after
    /// `resume` when given, with a window of 64.
    ///
    /// # Errors
    /// [`ClientError`] when connecting or subscribing fails.
    pub fn subscribe(&self, id: &str, resume: Option<Cursor>) -> Result<Subscription, ClientError> {
        Subscription::open(
            &self.config,
            id,
            resume,
            NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
        )
    }
}

/// One delivery of a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// An event.
    Event(SubEvent),
    /// A watermark.
    Watermark(SubWatermark),
}

impl Delivery {
    /// The delivery index.
    #[must_use]
    pub fn index(&self) -> NonZeroU64 {
        match self {
            Self::Event(event) => event.index,
            Self::Watermark(watermark) => watermark.index,
        }
    }

    /// The cursor after the delivery (what resuming starts after).
    #[must_use]
    pub fn cursor_after(&self) -> Option<&Cursor> {
        match self {
            Self::Event(event) => event.cursor_after.as_ref(),
            Self::Watermark(watermark) => Some(&watermark.cursor_after),
        }
    }
}

/// A subscription: an iterator of deliveries that acknowledges each one when
/// the next is asked for, and can reconnect and resume after the last
/// delivery it returned.
pub struct Subscription {
    config: ClientConfig,
    id: SubscriptionId,
    window: NonZeroU32,
    connection: Option<Connection>,
    last_cursor: Option<Cursor>,
    unacked: Option<(NonZeroU64, Cursor)>,
    end: Option<ReasonCode>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("last_cursor", &self.last_cursor)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Opens a subscription with an explicit window.
    ///
    /// # Errors
    /// [`ClientError`] when the id is invalid or connecting fails.
    pub fn open(
        config: &ClientConfig,
        id: &str,
        resume: Option<Cursor>,
        window: NonZeroU32,
    ) -> Result<Self, ClientError> {
        let id = SubscriptionId::new(id, &config.limits).map_err(ClientError::Frame)?;
        let mut subscription = Self {
            config: config.clone(),
            id,
            window,
            connection: None,
            last_cursor: resume,
            unacked: None,
            end: None,
        };
        subscription.reconnect()?;
        Ok(subscription)
    }

    /// The subscription id.
    #[must_use]
    pub fn id(&self) -> &SubscriptionId {
        &self.id
    }

    /// The cursor after the last delivery returned (or the resume cursor).
    #[must_use]
    pub fn last_cursor(&self) -> Option<&Cursor> {
        self.last_cursor.as_ref()
    }

    /// The `SUB_END` reason, once the server ended the subscription.
    #[must_use]
    pub fn end_reason(&self) -> Option<&ReasonCode> {
        self.end.as_ref()
    }

    /// Opens a fresh connection and resumes after [`Subscription::last_cursor`].
    ///
    /// # Errors
    /// [`ClientError`] when connecting fails.
    pub fn reconnect(&mut self) -> Result<(), ClientError> {
        self.connection = None;
        self.unacked = None;
        self.end = None;
        let addr = self.config.subscription_addr.unwrap_or(self.config.addr);
        let mut connection = Connection::open(&self.config, addr)?;
        let subscribe = StreamFrame::Subscribe(Subscribe {
            id: self.id.clone(),
            resume: self.last_cursor.clone(),
            window: self.window,
        });
        connection.send(&encode_stream_frame(&subscribe))?;
        self.connection = Some(connection);
        Ok(())
    }

    /// Cancels: sends `SUB_CANCEL`, reads up to `SUB_END`, and returns the
    /// final cursor the server reported.
    ///
    /// # Errors
    /// [`ClientError`] when the exchange fails.
    pub fn cancel(mut self) -> Result<Option<Cursor>, ClientError> {
        self.send_ack()?;
        let Some(connection) = self.connection.as_mut() else {
            return Ok(self.last_cursor.take());
        };
        let cancel = StreamFrame::Cancel(SubCancel {
            id: self.id.clone(),
            reason: ReasonCode::known(stream_code::CLIENT_DONE),
        });
        connection.send(&encode_stream_frame(&cancel))?;
        loop {
            let line = connection.line()?;
            match decode_stream_line(&line, &self.config.limits).map_err(ClientError::Frame)? {
                StreamFrame::End(end) => return Ok(end.cursor_after),
                StreamFrame::Err(err) => return Err(stream_error(err)),
                _ => {}
            }
        }
    }

    fn send_ack(&mut self) -> Result<(), ClientError> {
        let (Some((index, cursor)), Some(connection)) =
            (self.unacked.take(), self.connection.as_mut())
        else {
            return Ok(());
        };
        let ack = StreamFrame::Ack(SubAck {
            id: self.id.clone(),
            index,
            cursor_after: cursor,
        });
        connection.send(&encode_stream_frame(&ack))
    }

    fn next_delivery(&mut self) -> Result<Option<Delivery>, ClientError> {
        self.send_ack()?;
        let Some(connection) = self.connection.as_mut() else {
            return Ok(None);
        };
        let line = connection.line()?;
        let frame = decode_stream_line(&line, &self.config.limits).map_err(ClientError::Frame)?;
        if frame.id() != &self.id {
            return Err(ClientError::UnexpectedFrame);
        }
        let delivery = match frame {
            StreamFrame::Event(event) => Delivery::Event(event),
            StreamFrame::Watermark(watermark) => Delivery::Watermark(watermark),
            StreamFrame::End(end) => {
                if end.cursor_after.is_some() {
                    self.last_cursor = end.cursor_after;
                }
                self.end = Some(end.reason);
                self.connection = None;
                return Ok(None);
            }
            StreamFrame::Err(err) => {
                self.connection = None;
                return Err(stream_error(err));
            }
            _ => return Err(ClientError::UnexpectedFrame),
        };
        if let Some(cursor) = delivery.cursor_after() {
            self.last_cursor = Some(cursor.clone());
            self.unacked = Some((delivery.index(), cursor.clone()));
        }
        Ok(Some(delivery))
    }
}

fn stream_error(err: crate::codec::frame::SubErr) -> ClientError {
    ClientError::Stream {
        code: err.code.as_str().to_owned(),
        message: String::from_utf8_lossy(&err.message).into_owned(),
        last_delivered: err.last_delivered,
        last_acked: err.last_acked,
    }
}

impl Iterator for Subscription {
    type Item = Result<Delivery, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_delivery() {
            Ok(Some(delivery)) => Some(Ok(delivery)),
            Ok(None) => None,
            Err(error) => {
                self.connection = None;
                Some(Err(error))
            }
        }
    }
}
