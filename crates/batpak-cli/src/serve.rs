//! `batpak serve`: a host on an embedded store, behind netbat.
//!
//! The data directory is opened read-write (receipts signed when a signing
//! key is given); the reference operations are mounted, `receipt.verify`
//! trusting the store's key and the configured ones; NETBAT/1 calls are
//! served on one listener, NETBAT/2 subscriptions on another, both with the
//! same limits, timeouts and TLS. Binding is loopback by default
//! ([`DEFAULT_LISTEN`], NETBAT/2 on the next port). Shutdown stops
//! accepting, lets in-flight calls finish within the grace period, then
//! closes the store. The options come from [`crate::config`].

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use batpak::{Store, StoreConfig};
use hostbat::reference::{reference_module_with, ReferenceConfig};
use hostbat::{Host, HostDispatch, HostSubscriptions, SubscriptionSource, DEFAULT_SUBSCRIPTION};
use netbat::{Authenticator, Grants, Server, ServerConfig, ShutdownHandle};

use crate::error::CliError;

/// The NETBAT/1 address `serve` binds when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7401";

/// What `serve` runs, every value checked (see [`crate::config::resolve`]).
#[derive(Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// The data directory (created if missing).
    pub data: PathBuf,
    /// NETBAT/1 address.
    pub listen: SocketAddr,
    /// NETBAT/2 address; the port after `listen` when `None` (a free port
    /// when `listen` has port 0).
    pub stream_listen: Option<SocketAddr>,
    /// Bearer tokens; with none, every connection may call everything
    /// (on loopback, or after a verified client certificate).
    pub tokens: Vec<String>,
    /// Subscription routes; [`hostbat::DEFAULT_SUBSCRIPTION`] (`all`) is
    /// always offered unless a route reuses its id.
    pub routes: Vec<(String, SubscriptionSource)>,
    /// The key every receipt is signed with; unsigned receipts without one.
    pub signing_key: Option<ed25519_dalek::SigningKey>,
    /// Public keys `receipt.verify` trusts besides the store's own.
    pub trusted_keys: Vec<[u8; 32]>,
    /// Limits, timeouts and TLS of both listeners (tokens are added from
    /// [`Self::tokens`] at start).
    pub server: ServerConfig,
}

impl ServeOptions {
    /// Serve `data` on [`DEFAULT_LISTEN`] with netbat's default limits, no
    /// TLS, no tokens and no signing key.
    pub fn new(data: impl Into<PathBuf>) -> Self {
        Self {
            data: data.into(),
            listen: crate::config::default_listen(),
            stream_listen: None,
            tokens: Vec::new(),
            routes: Vec::new(),
            signing_key: None,
            trusted_keys: Vec::new(),
            server: ServerConfig::default(),
        }
    }
}

impl fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOptions")
            .field("data", &self.data)
            .field("listen", &self.listen)
            .field("stream_listen", &self.stream_listen)
            .field("tokens", &self.tokens.len())
            .field("routes", &self.routes)
            .field(
                "signing_key_id",
                &self
                    .signing_key
                    .as_ref()
                    .map(|k| hostbat::hex::encode(k.verifying_key().as_bytes())),
            )
            .field("trusted_keys", &self.trusted_keys.len())
            .field("server", &self.server)
            .finish()
    }
}

/// Parses `ID=SOURCE` (`all`, `category:N`, `entity:NAME`, `receipts`).
pub fn parse_route(text: &str) -> Result<(String, SubscriptionSource), CliError> {
    let (id, source) = text.split_once('=').ok_or_else(|| {
        CliError::BadRequest(format!("subscription {text:?}: expected ID=SOURCE"))
    })?;
    netbat::SubscriptionId::new(id, &netbat::Limits::default())
        .map_err(|e| CliError::BadRequest(format!("subscription {text:?}: {e}")))?;
    Ok((id.to_owned(), SubscriptionSource::parse(source)?))
}

/// A running server: its listeners, host and store.
#[derive(Debug)]
pub struct Running {
    calls: Server,
    streams: Server,
    host: Arc<Host>,
}

/// The stream-listener address for `listen` when none is given.
pub fn default_stream_addr(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if listen.port() != 0 {
        addr.set_port(listen.port().saturating_add(1));
    }
    addr
}

/// Opens the store, builds the host and starts both listeners.
pub fn start(options: &ServeOptions) -> Result<Running, CliError> {
    std::fs::create_dir_all(&options.data).map_err(|e| CliError::Io {
        op: "create data directory",
        path: options.data.clone(),
        source: e,
    })?;
    let mut store_config = StoreConfig::new(&options.data);
    if let Some(key) = &options.signing_key {
        store_config = store_config.with_signing_key(key.clone());
    }
    let store = Arc::new(Store::open(store_config)?);
    match store.signing_key_id() {
        Some(key) => tracing::info!(key_id = %hostbat::hex::encode(&key), "receipts are signed"),
        None => tracing::info!("receipts are unsigned (no signing key)"),
    }
    let reference = options.trusted_keys.iter().fold(
        ReferenceConfig::default().with_output_limit(options.server.limits.max_output_bytes),
        |config, key| config.with_trusted_key(*key),
    );
    let mut builder = Host::builder(store.clone());
    builder.mount(reference_module_with(store.clone(), reference)?)?;
    let host = Arc::new(builder.build()?);
    let mut subscriptions = HostSubscriptions::new(store).with_declared(&host)?;
    subscriptions.route(DEFAULT_SUBSCRIPTION, SubscriptionSource::All)?;
    for (id, source) in &options.routes {
        subscriptions.route(id.clone(), source.clone())?;
    }
    tracing::info!(routes = ?subscriptions.ids().collect::<Vec<_>>(), "subscription routes");
    host.start()?;
    let mut config = options.server.clone();
    if !options.tokens.is_empty() {
        let auth = Arc::new(Authenticator::new());
        for t in &options.tokens {
            auth.add_token(t.as_bytes(), Grants::all());
        }
        config = config.with_auth(auth);
    }
    let bind = |addr: SocketAddr| {
        TcpListener::bind(addr).map_err(|e| CliError::Serve(format!("bind {addr}: {e}")))
    };
    let calls_listener = bind(options.listen)?;
    let stream_addr = options
        .stream_listen
        .unwrap_or_else(|| default_stream_addr(options.listen));
    let streams_listener = bind(stream_addr)?;
    let calls = Server::calls(
        calls_listener,
        HostDispatch::new(host.clone()),
        config.clone(),
    )
    .map_err(|e| CliError::Serve(e.to_string()))?;
    let streams = Server::subscriptions(streams_listener, subscriptions, config)
        .map_err(|e| CliError::Serve(e.to_string()))?;
    tracing::info!(
        calls = %calls.local_addr(),
        streams = %streams.local_addr(),
        tls = options.server.tls.is_some(),
        "serving"
    );
    Ok(Running {
        calls,
        streams,
        host,
    })
}

impl Running {
    /// The NETBAT/1 address.
    pub fn calls_addr(&self) -> SocketAddr {
        self.calls.local_addr()
    }

    /// The NETBAT/2 address.
    pub fn streams_addr(&self) -> SocketAddr {
        self.streams.local_addr()
    }

    /// Handles that stop the listeners from another thread.
    pub fn shutdown_handles(&self) -> [ShutdownHandle; 2] {
        [self.calls.shutdown_handle(), self.streams.shutdown_handle()]
    }

    /// Waits until the listeners stop (after a shutdown handle fires).
    pub fn wait_and_close(self) -> Result<(), CliError> {
        let served = self
            .calls
            .join()
            .map_err(|e| CliError::Serve(e.to_string()))?;
        self.streams
            .join()
            .map_err(|e| CliError::Serve(e.to_string()))?;
        tracing::info!(requests = served.served_requests, "listeners stopped");
        self.host.shutdown()?;
        let store = self.host.store().clone();
        drop(self.host);
        match Arc::try_unwrap(store) {
            Ok(store) => store.close()?,
            Err(shared) => shared.sync()?,
        }
        tracing::info!("store closed");
        Ok(())
    }
}
