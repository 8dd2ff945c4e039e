//! `batpak call` and `batpak subscribe`: a NETBAT client.
//!
//! A JSON request is converted to the operation's MessagePack body: the
//! reference operations through their typed request (so integer widths and
//! field order are the wire's), any other operation as the JSON value itself
//! with named fields. The ack is decoded back to JSON.

use std::net::SocketAddr;

use hostbat::wire;
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

fn remote(e: ClientError) -> CliError {
    CliError::Remote {
        code: e.code().map(|c| c.as_str().to_owned()),
        message: e.to_string(),
    }
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Target {
    /// The NETBAT/1 address.
    pub addr: SocketAddr,
    /// The NETBAT/2 address.
    pub stream_addr: SocketAddr,
    /// A bearer token.
    pub token: Option<String>,
}

impl Target {
    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new(self.addr).with_subscription_addr(self.stream_addr);
        if let Some(t) = &self.token {
            c = c.with_token(t.as_bytes());
        }
        c
    }
}

/// Calls `op` with `input` and returns the ack bytes.
pub fn call(target: &Target, op: &str, input: &[u8]) -> Result<Vec<u8>, CliError> {
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
