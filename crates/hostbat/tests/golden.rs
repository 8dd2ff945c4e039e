//! Golden vectors: the exact request and ack bytes of each reference
//! operation for fixed inputs, committed in `tests/golden/vectors.txt`
//! (`<name> <hex>` per line). Run with `HOSTBAT_BLESS=1` to rewrite them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use hostbat::hex;
use hostbat::wire::*;
use serde::Serialize;

fn bytes<T: Serialize>(v: &T) -> String {
    hex::encode(&rmp_serde::to_vec_named(v).unwrap())
}

fn summary() -> EventSummary {
    EventSummary {
        event_id_hex: "01".repeat(16),
        global_sequence: 3,
        wall_ms: 1_700_000_000_000,
        clock: 2,
        correlation_id_hex: "01".repeat(16),
        causation_id_hex: None,
        kind_category: 0xE,
        kind_type_id: 1,
        entity: "acct:1".into(),
        scope: "bank".into(),
        content_hash_hex: "ab".repeat(32),
    }
}

fn vectors() -> Vec<(&'static str, String)> {
    let ack = CommitAck {
        event_id_hex: "01".repeat(16),
        sequence: 3,
        content_hash_hex: "ab".repeat(32),
        key_id_hex: String::new(),
        signature_hex: None,
        extensions: BTreeMap::new(),
    };
    vec![
        (
            "system.heartbeat.request",
            bytes(&HeartbeatRequest { nonce: "n1".into() }),
        ),
        (
            "system.heartbeat.ack",
            bytes(&HeartbeatAck {
                nonce: "n1".into(),
                server_ts_ms: 1_700_000_000_000,
            }),
        ),
        (
            "bank.commit.request",
            bytes(&CommitRequest {
                entity: "acct:1".into(),
                scope: "bank".into(),
                kind_category: 0xE,
                kind_type_id: 1,
                payload_hex: "07".into(),
                idempotency_key_hex: Some("09".repeat(16)),
            }),
        ),
        ("bank.commit.ack", bytes(&ack)),
        (
            "event.get.request",
            bytes(&GetRequest {
                event_id_hex: "01".repeat(16),
            }),
        ),
        (
            "event.get.ack",
            bytes(&GetAck {
                event_id_hex: "01".repeat(16),
                sequence: 3,
                timestamp_us: 1_700_000_000_000_000,
                correlation_id_hex: "01".repeat(16),
                causation_id_hex: None,
                kind_category: 0xE,
                kind_type_id: 1,
                entity: "acct:1".into(),
                scope: "bank".into(),
                payload_hex: "07".into(),
                content_hash_hex: "ab".repeat(32),
            }),
        ),
        (
            "event.query.request",
            bytes(&QueryRequest {
                entity: Some("acct".into()),
                scope: None,
                kind_category: Some(0xE),
                kind_type_id: None,
                after_global_sequence: Some(2),
                limit: 10,
            }),
        ),
        (
            "event.query.ack",
            bytes(&QueryAck {
                entries: vec![summary()],
                next_after_global_sequence: Some(3),
                truncated: false,
            }),
        ),
        ("receipt.verify.request", bytes(&ack)),
        (
            "receipt.verify.ack",
            bytes(&VerifyAck {
                valid: false,
                outcome: "invalid".into(),
                reason_code: Some("sequence_mismatch".into()),
            }),
        ),
        (
            "event.walk.request",
            bytes(&WalkRequest {
                event_id_hex: "01".repeat(16),
                limit: 5,
            }),
        ),
        (
            "event.walk.ack",
            bytes(&WalkAck {
                entries: vec![summary()],
                boundary: "reached_genesis".into(),
            }),
        ),
        ("store.verify_chain.request", bytes(&EmptyRequest {})),
        (
            "store.verify_chain.ack",
            bytes(&VerifyChainAck {
                intact: true,
                events_checked: 4,
                mismatches: vec![],
                dangling: vec![],
            }),
        ),
        ("store.stats.request", bytes(&EmptyRequest {})),
        (
            "store.stats.ack",
            bytes(&StatsAck {
                events: 4,
                entities: 1,
                next_global_sequence: 4,
            }),
        ),
    ]
}

#[test]
fn golden_vectors_match() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/vectors.txt");
    let got: String = vectors()
        .iter()
        .map(|(n, h)| format!("{n} {h}\n"))
        .collect();
    if std::env::var_os("HOSTBAT_BLESS").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")).unwrap();
        std::fs::write(path, &got).unwrap();
    }
    let want = std::fs::read_to_string(path).unwrap();
    assert_eq!(got, want);
}

#[test]
fn absent_idempotency_key_decodes_as_none() {
    // A map without the optional field: {entity, scope, kind_category, kind_type_id, payload_hex}.
    let mut buf = Vec::new();
    let v = rmpv::Value::Map(vec![
        ("entity".into(), "e".into()),
        ("scope".into(), "s".into()),
        ("kind_category".into(), 14.into()),
        ("kind_type_id".into(), 1.into()),
        ("payload_hex".into(), "07".into()),
    ]);
    rmpv::encode::write_value(&mut buf, &v).unwrap();
    let req: CommitRequest = rmp_serde::from_slice(&buf).unwrap();
    assert_eq!(req.idempotency_key_hex, None);
}
