//! The JSON description of one stored event that `fixtures/golden-v1/expected.json`
//! holds: written by `examples/write_golden.rs`, compared by `tests/golden_format.rs`.

use batpak::StoredEvent;

/// Lowercase hex of `b`.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every header field, the coordinate, the hashes and the payload bytes of `raw`.
pub(crate) fn describe(raw: &StoredEvent<Vec<u8>>) -> serde_json::Value {
    let h = &raw.event.header;
    serde_json::json!({
        "event_id": h.event_id.to_string(),
        "global_sequence": h.global_sequence,
        "entity_sequence": h.entity_sequence,
        "kind": h.kind.as_u16(),
        "entity": raw.coordinate.entity(),
        "scope": raw.coordinate.scope(),
        "wall_ms": h.wall_ms,
        "hlc": [h.hlc.physical_ms, h.hlc.logical],
        "correlation_id": h.correlation_id.map(|c| c.as_u128().to_string()),
        "causation_id": h.causation_id.map(|c| c.to_string()),
        "idempotency_key": h.idempotency_key.map(|k| hex(k.as_bytes())),
        "payload_version": h.payload_version,
        "prev_hash": hex(&h.prev_hash),
        "content_hash": hex(&h.content_hash),
        "event_hash": hex(&h.event_hash),
        "payload": hex(&raw.event.payload),
    })
}
