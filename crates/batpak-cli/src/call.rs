//! `batpak call` and `batpak subscribe`: a NETBAT client.
//!
//! A JSON request is converted to the operation's MessagePack body: the
//! reference operations through their typed request (so integer widths and
//! field order are the wire's), any other operation as the JSON value itself
//! with named fields. The ack is decoded back to JSON.
//!
//! With `--tls` (or any of `--ca`, `--server-name`, `--client-cert`) the
//! connection is TLS, the server checked against the CA certificates of
//! `--ca` (no system trust store is used) and the name of `--server-name`
//! (default: the IP address connected to).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hostbat::wire;
use netbat::tls::TlsClientConfig;
use netbat::{Client, ClientConfig, ClientError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CliError;

fn typed<T: DeserializeOwned + Serialize>(json: serde_json::Value) -> Result<Vec<u8>, CliError> {
    let value: T = serde_json::from_value(json).map_err(|e| CliError::BadRequest(e.to_string()))?;
    rmp_serde::to_vec_named(&value).map_err(|e| CliError::BadRequest(e.to_string()))
}

/// The MessagePack body of `op` for a JSON request.
pub fn json_to_input(op: &str, json: &str) -> Result<Vec<u8>, CliError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| CliError::BadRequest(format!("JSON: {e}")))?;
    match op {
        "system.heartbeat" => typed::<wire::HeartbeatRequest>(value),
        "bank.commit" => typed::<wire::CommitRequest>(value),
        "event.get" => typed::<wire::GetRequest>(value),
        "event.query" => typed::<wire::QueryRequest>(value),
        "receipt.verify" => typed::<wire::CommitAck>(value),
        "event.walk" => typed::<wire::WalkRequest>(value),
        "store.verify_chain" | "store.stats" => typed::<wire::EmptyRequest>(value),
        _ => rmp_serde::to_vec_named(&value).map_err(|e| CliError::BadRequest(e.to_string())),
    }
}

/// An ack decoded to JSON (MessagePack maps, arrays and scalars; binary as an
/// array of byte values).
pub fn output_to_json(bytes: &[u8]) -> Result<serde_json::Value, CliError> {
    let mut cursor = bytes;
    let value = rmpv::decode::read_value(&mut cursor).map_err(|e| CliError::Remote {
        code: None,
        message: format!("ack is not MessagePack: {e}"),
    })?;
    Ok(to_json(&value))
}

fn to_json(value: &rmpv::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        rmpv::Value::Nil => J::Null,
        rmpv::Value::Boolean(b) => J::Bool(*b),
        rmpv::Value::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => J::from(u),
            (None, Some(s)) => J::from(s),
            _ => J::Null,
        },
        rmpv::Value::F32(f) => J::from(f64::from(*f)),
        rmpv::Value::F64(f) => J::from(*f),
        rmpv::Value::String(s) => J::String(
            s.as_str()
                .map_or_else(|| hostbat::hex::encode(s.as_bytes()), str::to_owned),
        ),
        rmpv::Value::Binary(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
        rmpv::Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        rmpv::Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        rmpv::Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        rmpv::Value::Ext(t, b) => serde_json::json!({"ext": t, "hex": hostbat::hex::encode(b)}),
    }
}

/// The TLS flags of `call` and `subscribe`.
#[derive(Clone, Debug, Default, clap::Args)]
#[non_exhaustive]
pub struct TlsFlags {
    /// Connect with TLS (needs --ca).
    #[arg(long, requires = "ca")]
    pub tls: bool,
    /// PEM file of the CA certificate(s) the server's certificate must chain to.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the IP address of --addr).
    #[arg(long, value_name = "NAME", requires = "ca")]
    pub server_name: Option<String>,
    /// Present this client certificate (PEM; mTLS), with --client-key.
    #[arg(long, value_name = "PEM", requires_all = ["ca", "client_key"])]
    pub client_cert: Option<PathBuf>,
    /// The private key of --client-cert.
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

fn flag_error(flag: &str, problem: impl Into<String>) -> CliError {
    CliError::Config {
        file: None,
        key: Some(flag.to_owned()),
        problem: problem.into(),
    }
}

fn read_pem(flag: &str, path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| flag_error(flag, format!("reading {}: {e}", path.display())))
}

impl TlsFlags {
    /// The client TLS configuration for a server at `addr`, or `None` for
    /// plain TCP.
    pub fn load(&self, addr: SocketAddr) -> Result<Option<TlsClientConfig>, CliError> {
        let Some(ca_path) = &self.ca else {
            return Ok(None);
        };
        let ca = read_pem("--ca", ca_path)?;
        let name = self
            .server_name
            .clone()
            .unwrap_or_else(|| addr.ip().to_string());
        let config = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let cert_pem = read_pem("--client-cert", cert)?;
                let key_pem = read_pem("--client-key", key)?;
                TlsClientConfig::with_client_certificate(&ca, &name, &cert_pem, &key_pem)
                    .map_err(|e| flag_error("--client-cert", e.to_string()))?
            }
            _ => TlsClientConfig::new(&ca, &name).map_err(|e| {
                let flag = if self.server_name.is_some() {
                    "--ca/--server-name"
                } else {
                    "--ca"
                };
                flag_error(flag, e.to_string())
            })?,
        };
        Ok(Some(config))
    }
}

/// Where and how to connect.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Target {
    /// The NETBAT/1 address.
    pub addr: SocketAddr,
    /// The NETBAT/2 address.
    pub stream_addr: SocketAddr,
    /// A bearer token.
    pub token: Option<String>,
    /// TLS, or plain TCP when `None`.
    pub tls: Option<TlsClientConfig>,
}

impl Target {
    /// Plain TCP to `addr` (calls) and `stream_addr` (subscriptions), no token.
    pub fn new(addr: SocketAddr, stream_addr: SocketAddr) -> Self {
        Self {
            addr,
            stream_addr,
            token: None,
            tls: None,
        }
    }

    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.addr).with_subscription_addr(self.stream_addr);
        if let Some(t) = &self.token {
            c = c.with_token(t.as_bytes());
        }
        if let Some(tls) = &self.tls {
            c = c.with_tls(tls.clone());
        }
        c
    }

    /// The error of a failed call, with a hint when the failure looks like
    /// TLS on one side only.
    fn remote(&self, e: ClientError) -> CliError {
        let code = e.code().map(|c| c.as_str().to_owned());
        let hint = match (&e, self.tls.is_some()) {
            (ClientError::Io { operation, .. }, _) if *operation == "connect" => "",
            (ClientError::Tls { .. }, true) => {
                " (is the server serving TLS, with a certificate from --ca for this name?)"
            }
            (
                ClientError::Closed
                | ClientError::Response(_)
                | ClientError::Frame(_)
                | ClientError::Io { .. },
                false,
            ) => " (if the server serves TLS, connect with --tls --ca PEM)",
            _ => "",
        };
        CliError::Remote {
            code,
            message: format!("{e}{hint}"),
        }
    }
}

/// Calls `op` with `input` and returns the ack bytes.
pub fn call(target: &Target, op: &str, input: &[u8]) -> Result<Vec<u8>, CliError> {
    let remote = |e| target.remote(e);
    let mut client = Client::connect(target.config()).map_err(remote)?;
    client.call(op, input).map_err(remote)
}

/// Subscribes to `id` (after `from_cursor`, hex) and hands each delivery
/// (index, cursor hex, payload) to `each` until it returns false, the
/// stream ends, or `max` deliveries were seen.
pub fn subscribe(
    target: &Target,
    id: &str,
    from_cursor: Option<&str>,
    max: Option<u64>,
    mut each: impl FnMut(u64, String, &[u8]) -> bool,
) -> Result<(), CliError> {
    let remote = |e| target.remote(e);
    let client = Client::connect(target.config()).map_err(remote)?;
    let resume = match from_cursor {
        Some(h) => Some(netbat::Cursor::new(
            netbat::decode_hex(h.as_bytes())
                .ok_or_else(|| CliError::BadRequest("--from-cursor is not hex".to_owned()))?,
        )),
        None => None,
    };
    let mut sub = client.subscribe(id, resume).map_err(remote)?;
    let mut seen = 0u64;
    while max.is_none_or(|m| seen < m) {
        let Some(delivery) = sub.next() else {
            break;
        };
        let delivery = delivery.map_err(remote)?;
        seen += 1;
        let cursor = delivery
            .cursor_after()
            .map(|c| hostbat::hex::encode(c.as_bytes()))
            .unwrap_or_default();
        let payload: &[u8] = match &delivery {
            netbat::Delivery::Event(e) => &e.payload,
            _ => &[],
        };
        if !each(delivery.index().get(), cursor, payload) {
            break;
        }
    }
    Ok(())
}
