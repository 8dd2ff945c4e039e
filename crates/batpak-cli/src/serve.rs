//! `batpak serve`: a host on an embedded store, behind netbat.
//!
//! The data directory is opened read-write; the reference operations are
//! mounted; NETBAT/1 calls are served on one listener. Binding is loopback
//! by default ([`DEFAULT_LISTEN`], NETBAT/2 on the next port). Shutdown stops
//! accepting, lets in-flight calls finish within the grace period, then
//! closes the store.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use batpak::{Store, StoreConfig};
use hostbat::{reference_module, Host, HostDispatch, HostSubscriptions, DEFAULT_SUBSCRIPTION};
use netbat::{Authenticator, Grants, Server, ServerConfig, ShutdownHandle};

use crate::error::CliError;

/// The NETBAT/1 address `serve` binds when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7401";

/// What `serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The data directory (created if missing).
    pub data: PathBuf,
    /// NETBAT/1 address.
    pub listen: SocketAddr,
    /// NETBAT/2 address; the port after `listen` when `None` (a free port
    /// when `listen` has port 0).
    pub stream_listen: Option<SocketAddr>,
    /// Bearer tokens; with none, every loopback connection may call everything.
    pub tokens: Vec<String>,
    /// Subscription routes `ID=SOURCE`; [`hostbat::DEFAULT_SUBSCRIPTION`]
    /// (`all`) is always offered unless a route reuses its id.
    pub subscriptions: Vec<String>,
}

/// Parses `ID=SOURCE` (`all`, `category:N`, `entity:NAME`, `receipts`).
pub fn parse_route(text: &str) -> Result<(String, hostbat::SubscriptionSource), CliError> {
    let (id, source) = text.split_once('=').ok_or_else(|| {
        CliError::BadRequest(format!("--subscription {text:?}: expected ID=SOURCE"))
    })?;
    if id.is_empty() {
        return Err(CliError::BadRequest(format!(
            "--subscription {text:?}: empty id"
        )));
    }
    Ok((id.to_owned(), hostbat::SubscriptionSource::parse(source)?))
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
    let routes = options
        .subscriptions
        .iter()
        .map(|r| parse_route(r))
        .collect::<Result<Vec<_>, _>>()?;
    let store = Arc::new(Store::open(StoreConfig::new(&options.data))?);
    let mut builder = Host::builder(store.clone());
    builder.mount(reference_module(store.clone())?)?;
    let host = Arc::new(builder.build()?);
    let mut subscriptions = HostSubscriptions::new(store).with_declared(&host)?;
    subscriptions.route(DEFAULT_SUBSCRIPTION, hostbat::SubscriptionSource::All)?;
    for (id, source) in routes {
        subscriptions.route(id, source)?;
    }
    tracing::info!(routes = ?subscriptions.ids().collect::<Vec<_>>(), "subscription routes");
    host.start()?;
    let mut config = ServerConfig::default();
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
    tracing::info!(calls = %calls.local_addr(), streams = %streams.local_addr(), "serving");
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
