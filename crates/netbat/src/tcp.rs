//! The TCP listeners: one for NETBAT/1 calls, one for NETBAT/2
//! subscriptions. Blocking `std::net`, one worker thread per connection.
//!
//! The accept loop takes a permit before it accepts (back-pressure when the
//! pool is exhausted), hands the connection and its permit to a worker, and
//! keeps going whatever the worker does: a handler panic, an I/O error or a
//! hostile peer ends that connection only. The TLS handshake, when
//! configured, runs on the worker after the permit is taken.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::num::{NonZeroU32, NonZeroUsize};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::auth::Authenticator;
use crate::dispatch::Dispatch;
use crate::limits::Limits;
use crate::permit::{ConnectionLimit, Gate, Permit, PermitPool};
use crate::session::{
    CallSession, StreamSession, DEFAULT_MAX_REQUESTS_PER_CONNECTION, DEFAULT_MAX_WINDOW,
    DEFAULT_STALL_TIMEOUT,
};
use crate::stats::{StatsCell, TcpServeStats};
use crate::subscription::SubscriptionSource;
use crate::transport::Conn;
use crate::worker::{self, End, WorkerContext};

/// Read, idle and write timeouts of a connection.
///
/// - `read`: a whole line must arrive within it; the first line of a
///   connection within it of the accept (and of the TLS handshake), so a
///   silent or trickling client holds its permit for at most this long.
/// - `idle`: how long a persistent connection may wait for the first byte of
///   its next request.
/// - `write`: how long one write may block on a peer that does not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// The line timeout.
    pub read: Duration,
    /// The between-requests timeout.
    pub idle: Duration,
    /// The write timeout.
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            read: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            write: Duration::from_secs(10),
        }
    }
}

impl Timeouts {
    /// Sets [`Timeouts::read`].
    #[must_use]
    pub fn with_read(mut self, read: Duration) -> Self {
        self.read = read;
        self
    }

    /// Sets [`Timeouts::idle`].
    #[must_use]
    pub fn with_idle(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Sets [`Timeouts::write`].
    #[must_use]
    pub fn with_write(mut self, write: Duration) -> Self {
        self.write = write;
        self
    }
}

/// How a listener serves.
///
/// ```
/// use netbat::ServerConfig;
/// use std::time::Duration;
/// let config = ServerConfig::default()
///     .with_timeouts(netbat::Timeouts::default().with_read(Duration::from_secs(2)));
/// assert_eq!(config.timeouts.read, Duration::from_secs(2));
/// assert!(config.auth.is_none());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Byte bounds.
    pub limits: Limits,
    /// Admission.
    pub connection_limit: ConnectionLimit,
    /// Requests answered per connection before it closes.
    pub max_requests_per_connection: NonZeroUsize,
    /// Connection timeouts.
    pub timeouts: Timeouts,
    /// The largest subscription window honoured.
    pub max_window: NonZeroU32,
    /// How long a delivery may wait on a full window before `slow_consumer`.
    pub stall_timeout: Duration,
    /// How long one poll of a subscription feed may wait.
    pub feed_poll_interval: Duration,
    /// How often an idle accept loop checks for connections and shutdown.
    pub accept_poll_interval: Duration,
    /// How long shutdown waits for connections to finish.
    pub shutdown_grace: Duration,
    /// Stack size of connection worker threads (handlers run on them).
    pub worker_stack_size: usize,
    /// Credentials; without them every connection gets every capability.
    pub auth: Option<Arc<Authenticator>>,
    /// TLS for every connection of the listener.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsServerConfig>,
    /// Serve a non-loopback address without authentication.
    pub dangerously_allow_unauthenticated_remote: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            connection_limit: ConnectionLimit::default(),
            max_requests_per_connection: NonZeroUsize::new(DEFAULT_MAX_REQUESTS_PER_CONNECTION)
                .unwrap_or(NonZeroUsize::MIN),
            timeouts: Timeouts::default(),
            max_window: NonZeroU32::new(DEFAULT_MAX_WINDOW).unwrap_or(NonZeroU32::MIN),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            feed_poll_interval: Duration::from_millis(50),
            accept_poll_interval: Duration::from_millis(5),
            shutdown_grace: Duration::from_secs(10),
            worker_stack_size: 2 * 1024 * 1024,
            auth: None,
            #[cfg(feature = "tls")]
            tls: None,
            dangerously_allow_unauthenticated_remote: false,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ServerConfig");
        out.field("limits", &self.limits)
            .field("connection_limit", &self.connection_limit)
            .field(
                "max_requests_per_connection",
                &self.max_requests_per_connection,
            )
            .field("timeouts", &self.timeouts)
            .field("max_window", &self.max_window)
            .field("stall_timeout", &self.stall_timeout)
            .field("auth", &self.auth.is_some());
        #[cfg(feature = "tls")]
        out.field("tls", &self.tls.is_some());
        out.field(
            "dangerously_allow_unauthenticated_remote",
            &self.dangerously_allow_unauthenticated_remote,
        )
        .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Sets [`ServerConfig::limits`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`ServerConfig::connection_limit`].
    #[must_use]
    pub fn with_connection_limit(mut self, limit: ConnectionLimit) -> Self {
        self.connection_limit = limit;
        self
    }

    /// Sets [`ServerConfig::max_requests_per_connection`].
    #[must_use]
    pub fn with_max_requests_per_connection(mut self, max: NonZeroUsize) -> Self {
        self.max_requests_per_connection = max;
        self
    }

    /// Sets [`ServerConfig::timeouts`].
    #[must_use]
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sets [`ServerConfig::max_window`].
    #[must_use]
    pub fn with_max_window(mut self, max_window: NonZeroU32) -> Self {
        self.max_window = max_window;
        self
    }

    /// Sets [`ServerConfig::stall_timeout`].
    #[must_use]
    pub fn with_stall_timeout(mut self, stall: Duration) -> Self {
        self.stall_timeout = stall;
        self
    }

    /// Sets [`ServerConfig::feed_poll_interval`].
    #[must_use]
    pub fn with_feed_poll_interval(mut self, interval: Duration) -> Self {
        self.feed_poll_interval = interval;
        self
    }

    /// Sets [`ServerConfig::accept_poll_interval`].
    #[must_use]
    pub fn with_accept_poll_interval(mut self, interval: Duration) -> Self {
        self.accept_poll_interval = interval;
        self
    }

    /// Sets [`ServerConfig::shutdown_grace`].
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Sets [`ServerConfig::worker_stack_size`].
    #[must_use]
    pub fn with_worker_stack_size(mut self, bytes: usize) -> Self {
        self.worker_stack_size = bytes;
        self
    }

    /// Requires a credential on every connection.
    #[must_use]
    pub fn with_auth(mut self, auth: Arc<Authenticator>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Serves TLS only.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls(mut self, tls: crate::tls::TlsServerConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether every connection must prove who it is: an authenticator, or
    /// TLS that requires a client certificate verified against a CA (every
    /// such client is then trusted with every grant unless an authenticator
    /// maps certificates to grants).
    #[must_use]
    pub fn authenticates(&self) -> bool {
        #[cfg(feature = "tls")]
        if self
            .tls
            .as_ref()
            .is_some_and(crate::tls::TlsServerConfig::requires_client_certificates)
        {
            return true;
        }
        self.auth.is_some()
    }

    /// Allows serving a non-loopback address without authentication: anyone
    /// who can reach the port gets every capability.
    #[must_use]
    pub fn dangerously_allow_unauthenticated_remote(mut self) -> Self {
        self.dangerously_allow_unauthenticated_remote = true;
        self
    }
}

/// Why a listener could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listener is bound to a non-loopback address and no
    /// authentication is configured.
    #[error(
        "refusing to serve {addr} without authentication: bind to loopback, configure \
         credentials, or set dangerously_allow_unauthenticated_remote"
    )]
    UnauthenticatedRemoteBind {
        /// The address.
        addr: SocketAddr,
    },
    /// Setting up the listener failed.
    #[error("listener setup failed during {operation}: {source}")]
    Setup {
        /// What was being done.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The listener's thread could not start or panicked.
    #[error("listener thread failed: {reason}")]
    Thread {
        /// What happened.
        reason: &'static str,
    },
}

/// Asks a listener (and its connections) to stop.
#[derive(Clone, Debug, Default)]
pub struct ShutdownHandle {
    flag: Arc<AtomicBool>,
}

impl ShutdownHandle {
    /// A handle not yet triggered.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests shutdown: no new connections; open ones finish their current
    /// request (subscriptions get `SUB_END … server_shutdown`) and close.
    pub fn shutdown(&self) {
        self.flag.store(true, Ordering::Release);
    }

    /// True once shutdown was requested.
    #[must_use]
    pub fn is_shutdown(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

/// Open connections, so that shutdown can wake workers blocked in a read.
#[derive(Default)]
struct Registry {
    sockets: Mutex<HashMap<u64, TcpStream>>,
}

impl Registry {
    fn insert(&self, id: u64, socket: &TcpStream) {
        if let Ok(clone) = socket.try_clone() {
            if let Ok(mut sockets) = self.sockets.lock() {
                sockets.insert(id, clone);
            }
        }
    }

    fn remove(&self, id: u64) {
        if let Ok(mut sockets) = self.sockets.lock() {
            sockets.remove(&id);
        }
    }

    fn close_reads(&self) {
        if let Ok(sockets) = self.sockets.lock() {
            for socket in sockets.values() {
                let _ = socket.shutdown(Shutdown::Read);
            }
        }
    }
}

#[derive(Clone)]
enum Handler {
    Calls(Arc<dyn Dispatch>),
    Streams(Arc<dyn SubscriptionSource>),
}

impl Handler {
    fn protocol(&self) -> &'static str {
        match self {
            Self::Calls(_) => crate::limits::CALL_PROTOCOL,
            Self::Streams(_) => crate::limits::STREAM_PROTOCOL,
        }
    }
}

struct Listening {
    listener: TcpListener,
    addr: SocketAddr,
    config: Arc<ServerConfig>,
    stats: Arc<StatsCell>,
    gate: Gate,
    shutdown: ShutdownHandle,
    registry: Arc<Registry>,
}

fn prepare(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &ShutdownHandle,
) -> Result<Listening, ServeError> {
    let setup = |operation| move |source| ServeError::Setup { operation, source };
    let addr = listener.local_addr().map_err(setup("local_addr"))?;
    if !addr.ip().is_loopback()
        && !config.authenticates()
        && !config.dangerously_allow_unauthenticated_remote
    {
        return Err(ServeError::UnauthenticatedRemoteBind { addr });
    }
    listener
        .set_nonblocking(true)
        .map_err(setup("set_nonblocking"))?;
    Ok(Listening {
        listener,
        addr,
        config: Arc::new(config.clone()),
        stats: Arc::new(StatsCell::default()),
        gate: Gate::new(config.connection_limit),
        shutdown: shutdown.clone(),
        registry: Arc::new(Registry::default()),
    })
}

/// Serves NETBAT/1 calls on `listener` until `shutdown` (or a lifetime
/// connection budget) stops it, on the calling thread.
///
/// # Errors
/// [`ServeError::UnauthenticatedRemoteBind`] for a non-loopback address
/// without authentication; [`ServeError::Setup`] when the listener cannot be
/// configured. Nothing a peer sends stops the listener.
pub fn serve_calls(
    listener: TcpListener,
    dispatch: Arc<dyn Dispatch>,
    config: &ServerConfig,
    shutdown: &ShutdownHandle,
) -> Result<TcpServeStats, ServeError> {
    let listening = prepare(listener, config, shutdown)?;
    Ok(run(listening, Handler::Calls(dispatch)))
}

/// Serves NETBAT/2 subscriptions on `listener`, on the calling thread.
///
/// # Errors
/// As [`serve_calls`].
pub fn serve_subscriptions(
    listener: TcpListener,
    source: Arc<dyn SubscriptionSource>,
    config: &ServerConfig,
    shutdown: &ShutdownHandle,
) -> Result<TcpServeStats, ServeError> {
    let listening = prepare(listener, config, shutdown)?;
    Ok(run(listening, Handler::Streams(source)))
}

fn run(mut listening: Listening, handler: Handler) -> TcpServeStats {
    let span = tracing::info_span!("netbat.listener", addr = %listening.addr, protocol = handler.protocol());
    let _entered = span.enter();
    tracing::info!("listening");
    let poll = listening.config.accept_poll_interval;
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0_u64;
    'accept: loop {
        workers.retain(|worker| !worker.is_finished());
        if listening.gate.is_spent() {
            break;
        }
        let (stream, peer) = loop {
            if listening.shutdown.is_shutdown() {
                break 'accept;
            }
            match listening.listener.accept() {
                Ok(pair) => break pair,
                Err(error) => match error.kind() {
                    io::ErrorKind::WouldBlock => thread::sleep(poll),
                    io::ErrorKind::Interrupted
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::ConnectionReset => {}
                    kind => {
                        StatsCell::bump(&listening.stats.accept_errors);
                        tracing::warn!(?kind, "accept failed; retrying");
                        thread::sleep(poll);
                    }
                },
            }
        };
        // With the pool exhausted this waits, holding the one connection just
        // accepted and accepting no other: the rest wait in the backlog.
        let Some(permit) = listening.gate.admit(&listening.shutdown, poll) else {
            break;
        };
        StatsCell::bump(&listening.stats.accepted_connections);
        next_id += 1;
        match spawn_worker(&listening, &handler, stream, peer, next_id, permit) {
            Ok(worker) => workers.push(worker),
            Err(_) => {
                StatsCell::bump(&listening.stats.spawn_failures);
                StatsCell::bump(&listening.stats.closed_connections);
                tracing::warn!("could not start a connection worker");
            }
        }
    }
    drop(listening.listener);
    let mut grace_ends = None;
    while workers.iter().any(|worker| !worker.is_finished()) {
        if listening.shutdown.is_shutdown() {
            let ends = *grace_ends.get_or_insert_with(|| {
                listening.registry.close_reads();
                Instant::now() + listening.config.shutdown_grace
            });
            if Instant::now() >= ends {
                tracing::warn!("shutdown grace expired with connections still open");
                break;
            }
        }
        thread::sleep(Duration::from_millis(2));
    }
    for worker in workers {
        if worker.is_finished() {
            let _ = worker.join();
        }
    }
    listening
        .stats
        .shutdown_requested
        .store(listening.shutdown.is_shutdown(), Ordering::Relaxed);
    let stats = listening.stats.snapshot();
    tracing::info!(
        accepted = stats.accepted_connections,
        served = stats.served_requests,
        failed = stats.failed_requests,
        "listener stopped"
    );
    stats
}

fn spawn_worker(
    listening: &Listening,
    handler: &Handler,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    permit: Permit,
) -> io::Result<JoinHandle<()>> {
    let ctx = WorkerContext {
        config: Arc::clone(&listening.config),
        stats: Arc::clone(&listening.stats),
        shutdown: listening.shutdown.clone(),
    };
    let registry = Arc::clone(&listening.registry);
    let handler = handler.clone();
    let protocol = handler.protocol();
    thread::Builder::new()
        .name(format!("netbat-conn-{id}"))
        .stack_size(listening.config.worker_stack_size)
        .spawn(move || {
            // Held outside catch_unwind: dropped on every exit, unwinding included.
            let _permit = permit;
            let span = tracing::info_span!("netbat.connection", id, %peer, protocol);
            let _entered = span.enter();
            registry.insert(id, &stream);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                serve_connection(stream, &handler, &ctx)
            }));
            match outcome {
                Ok(end) => ctx.record(&end),
                Err(_) => {
                    StatsCell::bump(&ctx.stats.worker_panics);
                    tracing::error!("connection worker panicked");
                }
            }
            registry.remove(id);
            StatsCell::bump(&ctx.stats.closed_connections);
        })
}

fn serve_connection(stream: TcpStream, handler: &Handler, ctx: &WorkerContext) -> End {
    let started = Instant::now();
    let config = &ctx.config;
    let ready = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_nodelay(true))
        .and_then(|()| stream.set_write_timeout(Some(config.timeouts.write)));
    if ready.is_err() {
        return End::Io;
    }
    let Some(conn) = secure(stream, ctx, started) else {
        return End::Closed;
    };
    let principal = match (&config.auth, conn.peer_certificate()) {
        (Some(auth), Some(der)) => auth.authenticate_certificate(&der).ok(),
        _ => None,
    };
    match handler {
        Handler::Calls(dispatch) => {
            let mut conn = conn;
            let mut session =
                CallSession::new(&worker::call_session_config(config), config.auth.clone());
            if let Some(principal) = principal {
                session.set_principal(principal);
            }
            worker::serve_calls(conn.as_mut(), &mut session, dispatch.as_ref(), ctx, started)
        }
        Handler::Streams(source) => {
            let mut session =
                StreamSession::new(&worker::stream_session_config(config), config.auth.clone());
            if let Some(principal) = principal {
                session.set_principal(principal);
            }
            worker::serve_stream(conn, &mut session, source.as_ref(), ctx, started)
        }
    }
}

#[cfg(not(feature = "tls"))]
fn secure(stream: TcpStream, _ctx: &WorkerContext, _started: Instant) -> Option<Box<dyn Conn>> {
    Some(Box::new(stream))
}

#[cfg(feature = "tls")]
fn secure(stream: TcpStream, ctx: &WorkerContext, started: Instant) -> Option<Box<dyn Conn>> {
    let Some(tls) = &ctx.config.tls else {
        return Some(Box::new(stream));
    };
    match tls.accept(stream, started + ctx.config.timeouts.read) {
        Ok(conn) => Some(Box::new(conn)),
        Err(error) => {
            StatsCell::bump(&ctx.stats.tls_handshake_failures);
            tracing::debug!(%error, "tls handshake failed");
            None
        }
    }
}

/// A listener running on its own thread.
///
/// ```
/// use std::net::TcpListener;
/// use netbat::{dispatch_fn, Client, ClientConfig, Server, ServerConfig};
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let echo = dispatch_fn(|_op, input, _grants| Ok(input.to_vec()));
/// let server = Server::calls(listener, echo, ServerConfig::default())?;
/// let mut client = Client::connect(ClientConfig::new(server.local_addr()))?;
/// assert_eq!(client.call("echo", b"hi")?, b"hi");
/// drop(client);
/// let stats = server.shutdown()?;
/// assert_eq!(stats.served_requests, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    addr: SocketAddr,
    shutdown: ShutdownHandle,
    stats: Arc<StatsCell>,
    pool: Option<PermitPool>,
    thread: Option<JoinHandle<TcpServeStats>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("shutdown", &self.shutdown.is_shutdown())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Serves NETBAT/1 calls with `dispatch`.
    ///
    /// # Errors
    /// As [`serve_calls`], or [`ServeError::Thread`].
    pub fn calls(
        listener: TcpListener,
        dispatch: impl Dispatch + 'static,
        config: ServerConfig,
    ) -> Result<Self, ServeError> {
        Self::start(listener, Handler::Calls(Arc::new(dispatch)), &config)
    }

    /// Serves NETBAT/2 subscriptions from `source`.
    ///
    /// # Errors
    /// As [`serve_subscriptions`], or [`ServeError::Thread`].
    pub fn subscriptions(
        listener: TcpListener,
        source: impl SubscriptionSource + 'static,
        config: ServerConfig,
    ) -> Result<Self, ServeError> {
        Self::start(listener, Handler::Streams(Arc::new(source)), &config)
    }

    fn start(
        listener: TcpListener,
        handler: Handler,
        config: &ServerConfig,
    ) -> Result<Self, ServeError> {
        let shutdown = ShutdownHandle::new();
        let listening = prepare(listener, config, &shutdown)?;
        let addr = listening.addr;
        let stats = Arc::clone(&listening.stats);
        let pool = listening.gate.pool().cloned();
        let thread = thread::Builder::new()
            .name(format!("netbat-listen-{}", addr.port()))
            .spawn(move || run(listening, handler))
            .map_err(|_| ServeError::Thread {
                reason: "could not start the listener thread",
            })?;
        Ok(Self {
            addr,
            shutdown,
            stats,
            pool,
            thread: Some(thread),
        })
    }

    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> TcpServeStats {
        self.stats.snapshot()
    }

    /// Free permits of a [`ConnectionLimit::Concurrent`] pool (`None` for other limits).
    #[must_use]
    pub fn available_permits(&self) -> Option<usize> {
        self.pool.as_ref().map(PermitPool::available)
    }

    /// The size of a [`ConnectionLimit::Concurrent`] pool (`None` for other limits).
    #[must_use]
    pub fn permit_capacity(&self) -> Option<usize> {
        self.pool.as_ref().map(PermitPool::capacity)
    }

    /// A handle that stops this server.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Stops the server and waits for it (at most the shutdown grace for
    /// open connections).
    ///
    /// # Errors
    /// [`ServeError::Thread`] if the listener thread panicked.
    pub fn shutdown(mut self) -> Result<TcpServeStats, ServeError> {
        self.shutdown.shutdown();
        self.wait()
    }

    /// Waits for the server to stop by itself (a lifetime budget, or another
    /// holder of the shutdown handle).
    ///
    /// # Errors
    /// [`ServeError::Thread`] if the listener thread panicked.
    pub fn join(mut self) -> Result<TcpServeStats, ServeError> {
        self.wait()
    }

    fn wait(&mut self) -> Result<TcpServeStats, ServeError> {
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| ServeError::Thread {
                reason: "the listener thread panicked",
            }),
            None => Ok(self.stats.snapshot()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown.shutdown();
            let _ = self.wait();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_non_loopback_bind_without_auth_refuses_to_start() {
        let Ok(listener) = TcpListener::bind("0.0.0.0:0") else {
            return;
        };
        let echo = crate::dispatch_fn(|_, input, _| Ok(input.to_vec()));
        let error = Server::calls(listener, echo, ServerConfig::default()).unwrap_err();
        assert!(matches!(
            error,
            ServeError::UnauthenticatedRemoteBind { .. }
        ));
        assert!(error
            .to_string()
            .contains("dangerously_allow_unauthenticated_remote"));

        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let echo = crate::dispatch_fn(|_, input, _| Ok(input.to_vec()));
        let with_auth = ServerConfig::default().with_auth(Arc::new(Authenticator::new()));
        Server::calls(listener, echo, with_auth)
            .unwrap()
            .shutdown()
            .unwrap();

        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let echo = crate::dispatch_fn(|_, input, _| Ok(input.to_vec()));
        let danger = ServerConfig::default().dangerously_allow_unauthenticated_remote();
        assert!(format!("{danger:?}").contains("dangerously_allow_unauthenticated_remote: true"));
        Server::calls(listener, echo, danger)
            .unwrap()
            .shutdown()
            .unwrap();
    }

    #[test]
    fn config_setters() {
        let config = ServerConfig::default()
            .with_limits(Limits::default().with_max_input_bytes(1))
            .with_connection_limit(ConnectionLimit::Unlimited)
            .with_max_requests_per_connection(NonZeroUsize::new(3).unwrap())
            .with_timeouts(Timeouts::default().with_write(Duration::from_secs(1)))
            .with_max_window(NonZeroU32::new(2).unwrap())
            .with_stall_timeout(Duration::from_secs(4))
            .with_feed_poll_interval(Duration::from_millis(5))
            .with_accept_poll_interval(Duration::from_millis(6))
            .with_shutdown_grace(Duration::from_millis(7))
            .with_worker_stack_size(8);
        assert_eq!(config.limits.max_input_bytes, 1);
        assert_eq!(config.connection_limit, ConnectionLimit::Unlimited);
        assert_eq!(config.max_requests_per_connection.get(), 3);
        assert_eq!(config.timeouts.write, Duration::from_secs(1));
        assert_eq!(config.max_window.get(), 2);
        assert_eq!(config.stall_timeout, Duration::from_secs(4));
        assert_eq!(config.feed_poll_interval, Duration::from_millis(5));
        assert_eq!(config.accept_poll_interval, Duration::from_millis(6));
        assert_eq!(config.shutdown_grace, Duration::from_millis(7));
        assert_eq!(config.worker_stack_size, 8);
        let timeouts = Timeouts::default();
        assert_eq!(
            (timeouts.read, timeouts.idle, timeouts.write),
            (
                Duration::from_secs(10),
                Duration::from_secs(30),
                Duration::from_secs(10)
            )
        );
    }
}
