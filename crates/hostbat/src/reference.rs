//! The reference operations over one store.
//!
//! | operation | effect | request → ack |
//! |---|---|---|
//! | `system.heartbeat` | Inspect | [`HeartbeatRequest`] → [`HeartbeatAck`] |
//! | `bank.commit` | Persist | [`CommitRequest`] → [`CommitAck`] |
//! | `event.get` | Inspect | [`GetRequest`] → [`GetAck`] |
//! | `event.query` | Inspect | [`QueryRequest`] → [`QueryAck`] |
//! | `receipt.verify` | Inspect | [`CommitAck`] → [`VerifyAck`] |
//! | `event.walk` | Inspect | [`WalkRequest`] → [`WalkAck`] |
//! | `store.verify_chain` | Inspect | [`EmptyRequest`] → [`VerifyChainAck`] |
//! | `store.stats` | Inspect | [`EmptyRequest`] → [`StatsAck`] |
//!
//! Schema refs are `<op>.request` / `<op>.ack`, receipt kinds
//! `receipt.<op>.v1`. A store error fails the call with code
//! `store.<StoreError::code()>`; undecodable input with
//! `handler.invalid_input`.
//!
//! `receipt.verify` trusts the store's own signing key
//! ([`Store::signing_key_id`]) and the keys of [`ReferenceConfig::with_trusted_key`],
//! never the key an ack names for itself: an ack signed by any other key is
//! `invalid` with reason [`UNTRUSTED_KEY`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use batpak::{
    AncestryBoundary, AppendOptions, AppendReceipt, Coordinate, EventId, EventKind, IdempotencyKey,
    IndexEntry, Region, Store, StoreError,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use syncbat::{
    Ctx, EffectAxis, EffectClass, HandlerError, HandlerResult, OperationDescriptor,
    OperationEffectRow,
};

use crate::hex;
use crate::host::{HostError, HostModule};
use crate::wire::*;

/// Largest `limit` of `event.query` and `event.walk`; larger ones are clamped.
pub const MAX_PAGE: u64 = 1024;

/// Default bound on an `event.query` ack's encoded size, in bytes.
pub const DEFAULT_OUTPUT_LIMIT: usize = 1 << 20;

/// The append target `bank.commit` declares. Its kinds are the caller's and
/// it appends straight to the store, so the row names one marker kind
/// (`0xFFFF`, never a user kind) to satisfy the `Persist` class.
pub const COMMIT_APPEND_TARGET: &str = "evt.ffff";

/// Names of the reference operations, in the order they are registered.
pub const REFERENCE_OPERATIONS: [&str; 8] = [
    "system.heartbeat",
    "bank.commit",
    "event.get",
    "event.query",
    "receipt.verify",
    "event.walk",
    "store.verify_chain",
    "store.stats",
];

/// Id of the module [`reference_module`] builds.
pub const REFERENCE_MODULE_ID: &str = "reference";

/// The `receipt.verify` reason for an ack signed by a key that is neither the
/// store's own nor configured as trusted.
pub const UNTRUSTED_KEY: &str = "untrusted_key";

/// How [`reference_module_with`] builds the reference operations.
///
/// ```
/// use hostbat::reference::ReferenceConfig;
/// let config = ReferenceConfig::default()
///     .with_output_limit(64 * 1024)
///     .with_trusted_key([9u8; 32]);
/// assert_eq!(config.output_limit(), 64 * 1024);
/// assert!(config.trusts(&[9u8; 32]));
/// assert!(!config.trusts(&[8u8; 32]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceConfig {
    output_limit: usize,
    trusted_keys: BTreeSet<[u8; 32]>,
}

impl Default for ReferenceConfig {
    fn default() -> Self {
        Self {
            output_limit: DEFAULT_OUTPUT_LIMIT,
            trusted_keys: BTreeSet::new(),
        }
    }
}

impl ReferenceConfig {
    /// `event.query` acks stay within `bytes` (default [`DEFAULT_OUTPUT_LIMIT`]).
    #[must_use]
    pub fn with_output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// `receipt.verify` also trusts receipts signed by this ed25519 public
    /// key (the store's own key is always trusted).
    #[must_use]
    pub fn with_trusted_key(mut self, key_id: [u8; 32]) -> Self {
        self.trusted_keys.insert(key_id);
        self
    }

    /// The `event.query` output limit in bytes.
    #[must_use]
    pub fn output_limit(&self) -> usize {
        self.output_limit
    }

    /// True when `key_id` was added with [`Self::with_trusted_key`].
    #[must_use]
    pub fn trusts(&self, key_id: &[u8; 32]) -> bool {
        self.trusted_keys.contains(key_id)
    }

    /// The configured trusted keys, in byte order.
    pub fn trusted_keys(&self) -> impl Iterator<Item = &[u8; 32]> {
        self.trusted_keys.iter()
    }
}

/// The descriptor of reference operation `name`, if it is one.
pub fn reference_descriptor(name: &str) -> Option<OperationDescriptor> {
    let effect = if name == "bank.commit" {
        EffectClass::Persist
    } else {
        EffectClass::Inspect
    };
    REFERENCE_OPERATIONS.iter().find(|n| **n == name)?;
    let d = OperationDescriptor::owned(
        name,
        effect,
        format!("{name}.request"),
        format!("{name}.ack"),
        format!("receipt.{name}.v1"),
    );
    Some(if effect == EffectClass::Persist {
        d.with_effect_row(
            OperationEffectRow::new().with_target(EffectAxis::EventAppend, COMMIT_APPEND_TARGET),
        )
    } else {
        d
    })
}

/// The reference module over `store`, with the default output limit.
pub fn reference_module(store: Arc<Store>) -> Result<HostModule, HostError> {
    reference_module_with_limit(store, DEFAULT_OUTPUT_LIMIT)
}

/// The reference module over `store`; `event.query` acks stay within
/// `output_limit` bytes.
pub fn reference_module_with_limit(
    store: Arc<Store>,
    output_limit: usize,
) -> Result<HostModule, HostError> {
    reference_module_with(
        store,
        ReferenceConfig::default().with_output_limit(output_limit),
    )
}

/// The reference module over `store` as `config` says.
///
/// ```
/// use std::sync::Arc;
/// use batpak::prelude::*;
/// use hostbat::reference::{reference_module_with, ReferenceConfig};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
/// let other_signer = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
/// let config = ReferenceConfig::default().with_trusted_key(other_signer.verifying_key().to_bytes());
/// let module = reference_module_with(store, config)?;
/// assert_eq!(module.manifest().operations.len(), 8);
/// # Ok(()) }
/// ```
pub fn reference_module_with(
    store: Arc<Store>,
    config: ReferenceConfig,
) -> Result<HostModule, HostError> {
    let output_limit = config.output_limit;
    let trust = Arc::new(Trust {
        store_key: store.signing_key_id(),
        configured: config.trusted_keys,
    });
    let mut b = HostModule::builder(REFERENCE_MODULE_ID, env!("CARGO_PKG_VERSION"));
    let d =
        |n: &str| reference_descriptor(n).ok_or_else(|| HostError::UnknownReference(n.to_owned()));
    b.operation(d("system.heartbeat")?, |i: &[u8], _: &mut Ctx<'_>| {
        heartbeat(i)
    });
    let s = store.clone();
    b.operation(d("bank.commit")?, move |i: &[u8], _: &mut Ctx<'_>| {
        commit(&s, i)
    });
    let s = store.clone();
    b.operation(d("event.get")?, move |i: &[u8], _: &mut Ctx<'_>| get(&s, i));
    let s = store.clone();
    b.operation(d("event.query")?, move |i: &[u8], _: &mut Ctx<'_>| {
        query(&s, i, output_limit)
    });
    let s = store.clone();
    b.operation(d("receipt.verify")?, move |i: &[u8], _: &mut Ctx<'_>| {
        verify(&s, &trust, i)
    });
    let s = store.clone();
    b.operation(d("event.walk")?, move |i: &[u8], _: &mut Ctx<'_>| {
        walk(&s, i)
    });
    let s = store.clone();
    b.operation(
        d("store.verify_chain")?,
        move |i: &[u8], _: &mut Ctx<'_>| verify_chain(&s, i),
    );
    b.operation(d("store.stats")?, move |i: &[u8], _: &mut Ctx<'_>| {
        stats(&store, i)
    });
    b.build()
}

fn decode<T: DeserializeOwned>(input: &[u8]) -> Result<T, HandlerError> {
    rmp_serde::from_slice(input).map_err(|e| HandlerError::invalid_input(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> HandlerResult {
    rmp_serde::to_vec_named(value).map_err(|e| HandlerError::failed(e.to_string()))
}

/// The handler error of a store error: code `store.<code>`.
pub fn store_error(e: &StoreError) -> HandlerError {
    HandlerError::coded(format!("store.{}", e.code()), e.to_string())
}

fn parse_id(text: &str) -> Result<EventId, HandlerError> {
    hex::decode_array::<16>(text)
        .map(EventId::from_bytes)
        .ok_or_else(|| HandlerError::invalid_input("event_id_hex must be 32 hex digits"))
}

fn id_hex(id: EventId) -> String {
    hex::encode(&id.to_bytes())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn heartbeat(input: &[u8]) -> HandlerResult {
    let req: HeartbeatRequest = decode(input)?;
    encode(&HeartbeatAck {
        nonce: req.nonce,
        server_ts_ms: now_ms(),
    })
}

/// The `bank.commit` ack of an append receipt.
pub fn commit_ack(receipt: &AppendReceipt) -> CommitAck {
    CommitAck {
        event_id_hex: id_hex(receipt.event_id),
        sequence: receipt.global_sequence,
        content_hash_hex: hex::encode(&receipt.content_hash),
        key_id_hex: receipt.key_id.map(|k| hex::encode(&k)).unwrap_or_default(),
        signature_hex: receipt.signature.map(|s| hex::encode(&s)),
        extensions: BTreeMap::new(),
    }
}

fn commit(store: &Store, input: &[u8]) -> HandlerResult {
    let req: CommitRequest = decode(input)?;
    let kind =
        EventKind::try_custom(req.kind_category, req.kind_type_id).map_err(|e| store_error(&e))?;
    let coordinate = Coordinate::new(&req.entity, &req.scope).map_err(|e| store_error(&e))?;
    let bytes = hex::decode(&req.payload_hex)
        .ok_or_else(|| HandlerError::invalid_input("payload_hex is not hex"))?;
    let mut cursor = bytes.as_slice();
    let value = rmpv::decode::read_value(&mut cursor)
        .map_err(|e| HandlerError::invalid_input(format!("payload is not MessagePack: {e}")))?;
    if !cursor.is_empty() {
        return Err(HandlerError::invalid_input(
            "payload must be exactly one MessagePack value",
        ));
    }
    let mut options = AppendOptions::default();
    if let Some(key) = &req.idempotency_key_hex {
        let key = hex::decode_array::<16>(key).ok_or_else(|| {
            HandlerError::invalid_input("idempotency_key_hex must be 32 hex digits")
        })?;
        options = options.with_idempotency_key(IdempotencyKey::from_bytes(key));
    }
    let receipt = store
        .append_with_options(&coordinate, kind, &value, options)
        .map_err(|e| store_error(&e))?;
    encode(&commit_ack(&receipt))
}

fn get(store: &Store, input: &[u8]) -> HandlerResult {
    let req: GetRequest = decode(input)?;
    let id = parse_id(&req.event_id_hex)?;
    let ev = store.read_raw(id).map_err(|e| store_error(&e))?;
    let h = ev.header();
    encode(&GetAck {
        event_id_hex: id_hex(h.event_id),
        sequence: h.global_sequence,
        timestamp_us: i64::try_from(h.wall_ms.saturating_mul(1000)).unwrap_or(i64::MAX),
        correlation_id_hex: h.correlation_id.map_or_else(
            || id_hex(h.event_id),
            |c| hex::encode(&c.as_u128().to_be_bytes()),
        ),
        causation_id_hex: h.causation_id.map(id_hex),
        kind_category: h.kind.category(),
        kind_type_id: h.kind.type_id(),
        entity: ev.coordinate.entity().to_owned(),
        scope: ev.coordinate.scope().to_owned(),
        payload_hex: hex::encode(ev.payload()),
        content_hash_hex: hex::encode(&h.content_hash),
    })
}

fn summary(store: &Store, entry: &IndexEntry) -> Result<EventSummary, HandlerError> {
    let ev = store
        .read_raw(entry.event_id())
        .map_err(|e| store_error(&e))?;
    let h = ev.header();
    Ok(EventSummary {
        event_id_hex: id_hex(h.event_id),
        global_sequence: h.global_sequence,
        wall_ms: h.wall_ms,
        clock: u32::try_from(h.entity_sequence).unwrap_or(u32::MAX),
        correlation_id_hex: h.correlation_id.map_or_else(
            || id_hex(h.event_id),
            |c| hex::encode(&c.as_u128().to_be_bytes()),
        ),
        causation_id_hex: h.causation_id.map(id_hex),
        kind_category: h.kind.category(),
        kind_type_id: h.kind.type_id(),
        entity: ev.coordinate.entity().to_owned(),
        scope: ev.coordinate.scope().to_owned(),
        content_hash_hex: hex::encode(&h.content_hash),
    })
}

fn page_limit(limit: u64) -> Result<usize, HandlerError> {
    if limit == 0 {
        return Err(HandlerError::invalid_input("limit must be at least 1"));
    }
    usize::try_from(limit.min(MAX_PAGE))
        .map_err(|_| HandlerError::invalid_input("limit out of range"))
}

pub(crate) fn entity_matches(filter: Option<&str>, entity: &str) -> bool {
    match filter {
        None => true,
        Some(f) => {
            entity == f
                || entity
                    .strip_prefix(f)
                    .is_some_and(|rest| rest.starts_with(':'))
        }
    }
}

/// Bytes an `event.query` ack is counted to hold besides its entries (map
/// header, keys, the next cursor, the flag, array header), with room to
/// spare: a page is cut once this plus its entries would pass the output
/// limit.
pub const QUERY_ACK_OVERHEAD: usize = 96;

fn query(store: &Store, input: &[u8], output_limit: usize) -> HandlerResult {
    let req: QueryRequest = decode(input)?;
    let limit = page_limit(req.limit)?;
    let mut region = match &req.entity {
        Some(e) => Region::entity_prefix(e),
        None => Region::all(),
    };
    if let Some(scope) = &req.scope {
        region = region.with_scope(scope);
    }
    match (req.kind_category, req.kind_type_id) {
        (Some(c), Some(t)) => {
            let kind = EventKind::try_custom(c, t).map_err(|e| store_error(&e))?;
            region = region.with_kind(kind);
        }
        (Some(c), None) => region = region.with_category(c),
        (None, Some(_)) => {
            return Err(HandlerError::invalid_input(
                "kind_type_id needs kind_category",
            ))
        }
        (None, None) => {}
    }
    let mut entries = Vec::new();
    let mut size = QUERY_ACK_OVERHEAD;
    let mut cursor = req.after_global_sequence;
    let mut truncated = false;
    let mut exhausted = false;
    // A page ends when it holds `limit` entries (the break after a push),
    // when the region is exhausted, or before the output limit.
    'pages: loop {
        let batch = store.query_entries_after(&region, cursor, limit - entries.len());
        if batch.is_empty() {
            exhausted = true;
            break;
        }
        for entry in &batch {
            cursor = Some(entry.global_sequence());
            if !entity_matches(req.entity.as_deref(), entry.coordinate().entity()) {
                continue;
            }
            let s = summary(store, entry)?;
            let len = rmp_serde::to_vec_named(&s)
                .map_err(|e| HandlerError::failed(e.to_string()))?
                .len();
            if size + len > output_limit {
                truncated = true;
                cursor = entries
                    .last()
                    .map(|e: &EventSummary| e.global_sequence)
                    .or(req.after_global_sequence);
                break 'pages;
            }
            size += len;
            entries.push(s);
            if entries.len() == limit {
                break 'pages;
            }
        }
    }
    let next = if exhausted {
        None
    } else if truncated && entries.is_empty() {
        return Err(HandlerError::coded(
            "query.output_limit",
            "a single entry exceeds the output limit",
        ));
    } else {
        cursor
    };
    encode(&QueryAck {
        entries,
        next_after_global_sequence: next,
        truncated,
    })
}

/// The keys `receipt.verify` accepts a signature from.
#[derive(Debug)]
struct Trust {
    /// The store's own signer, read when the module is built.
    store_key: Option<[u8; 32]>,
    configured: BTreeSet<[u8; 32]>,
}

impl Trust {
    fn trusts(&self, key_id: &[u8; 32]) -> bool {
        self.store_key.as_ref() == Some(key_id) || self.configured.contains(key_id)
    }
}

fn verify(store: &Store, trust: &Trust, input: &[u8]) -> HandlerResult {
    let ack: CommitAck = decode(input)?;
    let invalid = |reason: &str| VerifyAck {
        valid: false,
        outcome: "invalid".to_owned(),
        reason_code: Some(reason.to_owned()),
    };
    let id = parse_id(&ack.event_id_hex)?;
    let ack_hash = hex::decode_array::<32>(&ack.content_hash_hex)
        .ok_or_else(|| HandlerError::invalid_input("content_hash_hex must be 64 hex digits"))?;
    let key_id = if ack.key_id_hex.is_empty() {
        None
    } else {
        Some(
            hex::decode_array::<32>(&ack.key_id_hex)
                .ok_or_else(|| HandlerError::invalid_input("key_id_hex must be 64 hex digits"))?,
        )
    };
    let signature =
        match &ack.signature_hex {
            None => None,
            Some(s) => Some(hex::decode_array::<64>(s).ok_or_else(|| {
                HandlerError::invalid_input("signature_hex must be 128 hex digits")
            })?),
        };
    let ev = match store.read_stored(id) {
        Ok(ev) => ev,
        Err(StoreError::NotFound { .. }) => return encode(&invalid("missing_committed_event")),
        Err(e) => return Err(store_error(&e)),
    };
    let h = ev.header();
    if h.global_sequence != ack.sequence {
        return encode(&invalid("sequence_mismatch"));
    }
    let on_disk = *blake3::hash(ev.payload()).as_bytes();
    if on_disk != ack_hash || h.content_hash != ack_hash {
        return encode(&invalid("content_hash_mismatch"));
    }
    if key_id.is_some() != signature.is_some() {
        return encode(&invalid("invalid_signature"));
    }
    let (Some(key_id), Some(signature)) = (key_id, signature) else {
        return encode(&VerifyAck {
            valid: true,
            outcome: "unsigned_accepted".to_owned(),
            reason_code: None,
        });
    };
    // The key an ack names proves nothing by itself: anyone can sign the
    // cover of a real event with a key of their own.
    if !trust.trusts(&key_id) {
        return encode(&invalid(UNTRUSTED_KEY));
    }
    let cover = receipt_cover(
        id,
        ack.sequence,
        h.entity_sequence,
        &ack_hash,
        &h.event_hash,
        &h.prev_hash,
        &key_id,
    );
    let verified = ed25519_dalek::VerifyingKey::from_bytes(&key_id).is_ok_and(|key| {
        ed25519_dalek::Verifier::verify(
            &key,
            &cover,
            &ed25519_dalek::Signature::from_bytes(&signature),
        )
        .is_ok()
    });
    let out = if verified {
        VerifyAck {
            valid: true,
            outcome: "signed".to_owned(),
            reason_code: None,
        }
    } else {
        invalid("invalid_signature")
    };
    encode(&out)
}

/// The bytes a receipt signature covers, laid out as `batpak::receipt_cover` documents.
fn receipt_cover(
    id: EventId,
    global_sequence: u64,
    entity_sequence: u64,
    content_hash: &[u8; 32],
    event_hash: &[u8; 32],
    prev_hash: &[u8; 32],
    key_id: &[u8; 32],
) -> Vec<u8> {
    let mut c = Vec::with_capacity(batpak::RECEIPT_COVER_LEN);
    c.extend_from_slice(batpak::RECEIPT_COVER_DOMAIN);
    c.extend_from_slice(&id.to_bytes());
    c.extend_from_slice(&global_sequence.to_le_bytes());
    c.extend_from_slice(&entity_sequence.to_le_bytes());
    c.extend_from_slice(content_hash);
    c.extend_from_slice(event_hash);
    c.extend_from_slice(prev_hash);
    c.extend_from_slice(key_id);
    c
}

fn walk(store: &Store, input: &[u8]) -> HandlerResult {
    let req: WalkRequest = decode(input)?;
    let limit = page_limit(req.limit)?;
    let id = parse_id(&req.event_id_hex)?;
    let walk = store
        .walk_ancestors_outcome(id, limit)
        .map_err(|e| store_error(&e))?;
    let mut entries = Vec::with_capacity(walk.ancestors.len());
    for ev in &walk.ancestors {
        let entry = store.entry(ev.event_id()).ok_or_else(|| {
            store_error(&StoreError::NotFound {
                event_id: ev.event_id(),
            })
        })?;
        entries.push(summary(store, &entry)?);
    }
    encode(&WalkAck {
        entries,
        boundary: boundary_name(&walk.boundary).to_owned(),
    })
}

/// How a walk ended, as `event.walk` reports it.
fn boundary_name(boundary: &AncestryBoundary) -> &'static str {
    match boundary {
        AncestryBoundary::ReachedGenesis => "reached_genesis",
        AncestryBoundary::LimitReached => "limit_reached",
        AncestryBoundary::MissingParent { .. } => "missing_parent",
        AncestryBoundary::ReadFailure { .. } => "read_failure",
        AncestryBoundary::Cycle { .. } => "cycle",
        _ => "unknown",
    }
}

fn verify_chain(store: &Store, input: &[u8]) -> HandlerResult {
    let _: EmptyRequest = decode(input)?;
    let report = store.verify_chain().map_err(|e| store_error(&e))?;
    encode(&VerifyChainAck {
        intact: report.is_intact(),
        events_checked: report.events_checked,
        mismatches: report.mismatches.iter().copied().map(id_hex).collect(),
        dangling: report.dangling.iter().copied().map(id_hex).collect(),
    })
}

fn stats(store: &Store, input: &[u8]) -> HandlerResult {
    let _: EmptyRequest = decode(input)?;
    encode(&StatsAck {
        events: store.len(),
        entities: u64::try_from(store.entities().len()).unwrap_or(u64::MAX),
        next_global_sequence: store.frontier().visible.next_global_sequence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_boundaries_have_their_wire_names() {
        let id = EventId::from_u128(7);
        let names: Vec<&str> = [
            AncestryBoundary::ReachedGenesis,
            AncestryBoundary::LimitReached,
            AncestryBoundary::MissingParent { child: id },
            AncestryBoundary::ReadFailure { event_id: id },
            AncestryBoundary::Cycle { event_id: id },
        ]
        .iter()
        .map(boundary_name)
        .collect();
        assert_eq!(
            names,
            [
                "reached_genesis",
                "limit_reached",
                "missing_parent",
                "read_failure",
                "cycle"
            ]
        );
    }
}
