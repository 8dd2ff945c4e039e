//! Request and ack bodies of the reference operations.
//!
//! Each body is MessagePack with named fields (`rmp_serde::to_vec_named`),
//! in the field order declared here. Byte strings travel as lowercase hex
//! text; ids are the 16 big-endian bytes of the UUID.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `system.heartbeat` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// Echoed back.
    pub nonce: String,
}

/// `system.heartbeat` ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    /// The request's nonce.
    pub nonce: String,
    /// The host's wall clock, Unix milliseconds.
    pub server_ts_ms: u64,
}

/// `bank.commit` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    /// Entity name.
    pub entity: String,
    /// Scope name.
    pub scope: String,
    /// Kind category (4 bits).
    pub kind_category: u8,
    /// Kind type id (12 bits).
    pub kind_type_id: u16,
    /// The payload: hex of one MessagePack value.
    pub payload_hex: String,
    /// Hex of a 16-byte idempotency key; a retry returns the first ack.
    #[serde(default)]
    pub idempotency_key_hex: Option<String>,
}

/// `bank.commit` ack (also the `receipt.verify` request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitAck {
    /// The event id.
    pub event_id_hex: String,
    /// The event's global sequence.
    pub sequence: u64,
    /// blake3 of the stored payload bytes.
    pub content_hash_hex: String,
    /// The signer's public key; empty when the receipt is unsigned.
    pub key_id_hex: String,
    /// The ed25519 signature, when signed.
    pub signature_hex: Option<String>,
    /// Extension values by name, hex.
    pub extensions: BTreeMap<String, String>,
}

/// `event.get` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRequest {
    /// The event id.
    pub event_id_hex: String,
}

/// `event.get` ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAck {
    /// The event id.
    pub event_id_hex: String,
    /// Global sequence.
    pub sequence: u64,
    /// Wall clock at commit, Unix microseconds.
    pub timestamp_us: i64,
    /// Correlation id (the event id when none was set).
    pub correlation_id_hex: String,
    /// The causing event, if any.
    pub causation_id_hex: Option<String>,
    /// Kind category.
    pub kind_category: u8,
    /// Kind type id.
    pub kind_type_id: u16,
    /// Entity name.
    pub entity: String,
    /// Scope name.
    pub scope: String,
    /// The stored payload bytes.
    pub payload_hex: String,
    /// blake3 of the stored payload bytes.
    pub content_hash_hex: String,
}

/// `event.query` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    /// The entity and its `entity:…` children.
    #[serde(default)]
    pub entity: Option<String>,
    /// Exact scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// Kind category.
    #[serde(default)]
    pub kind_category: Option<u8>,
    /// Kind type id; needs `kind_category`.
    #[serde(default)]
    pub kind_type_id: Option<u16>,
    /// Start after this global sequence.
    #[serde(default)]
    pub after_global_sequence: Option<u64>,
    /// Page size: 0 is refused, above 1024 is clamped.
    pub limit: u64,
}

/// One event without its payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSummary {
    /// The event id.
    pub event_id_hex: String,
    /// Global sequence.
    pub global_sequence: u64,
    /// Wall clock at commit, Unix milliseconds.
    pub wall_ms: u64,
    /// Entity sequence.
    pub clock: u32,
    /// Correlation id (the event id when none was set).
    pub correlation_id_hex: String,
    /// The causing event, if any.
    pub causation_id_hex: Option<String>,
    /// Kind category.
    pub kind_category: u8,
    /// Kind type id.
    pub kind_type_id: u16,
    /// Entity name.
    pub entity: String,
    /// Scope name.
    pub scope: String,
    /// blake3 of the stored payload bytes.
    pub content_hash_hex: String,
}

/// `event.query` ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryAck {
    /// Matching events in commit order.
    pub entries: Vec<EventSummary>,
    /// Pass as `after_global_sequence` for the next page; nil at the end.
    pub next_after_global_sequence: Option<u64>,
    /// The page was cut to stay within the output limit.
    pub truncated: bool,
}

/// `receipt.verify` ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyAck {
    /// The ack describes a stored event byte for byte.
    pub valid: bool,
    /// `signed`, `unsigned_accepted` or `invalid`.
    pub outcome: String,
    /// Why it is invalid (snake_case), nil when valid.
    pub reason_code: Option<String>,
}

/// `event.walk` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkRequest {
    /// The anchor event.
    pub event_id_hex: String,
    /// At most this many events (0 is refused, above 1024 is clamped).
    pub limit: u64,
}

/// `event.walk` ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkAck {
    /// The anchor first, then its entity ancestors.
    pub entries: Vec<EventSummary>,
    /// How the walk ended: `reached_genesis`, `limit_reached`,
    /// `missing_parent`, `read_failure` or `cycle`.
    pub boundary: String,
}

/// `store.verify_chain` and `store.stats` request (no fields).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyRequest {}

/// `store.verify_chain` ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyChainAck {
    /// Nothing was found wrong.
    pub intact: bool,
    /// Events rehashed.
    pub events_checked: u64,
    /// Events whose hashes do not match their bytes.
    pub mismatches: Vec<String>,
    /// Events whose `prev_hash` link is broken.
    pub dangling: Vec<String>,
}

/// `store.stats` ack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsAck {
    /// Committed events.
    pub events: u64,
    /// Distinct entities.
    pub entities: u64,
    /// The global sequence the next commit gets.
    pub next_global_sequence: u64,
}
