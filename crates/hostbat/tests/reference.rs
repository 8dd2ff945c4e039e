//! The reference operations through `Host::invoke`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use batpak::prelude::*;
use hostbat::reference::UNTRUSTED_KEY;
use hostbat::wire::*;
use hostbat::{
    hex, reference_module, reference_module_with_limit, Host, HostError, HostModule,
    SubscriptionSource,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use syncbat::{Ctx, EffectClass, HandlerResult, OperationDescriptor, RuntimeError};

fn host_on(store: Arc<Store>) -> Host {
    let mut b = Host::builder(store.clone());
    b.mount(reference_module(store).unwrap()).unwrap();
    b.build().unwrap()
}

fn open(dir: &std::path::Path) -> Arc<Store> {
    Arc::new(Store::open(StoreConfig::new(dir)).unwrap())
}

fn call<I: Serialize, O: DeserializeOwned>(host: &Host, op: &str, input: &I) -> O {
    let out = host
        .invoke(op, rmp_serde::to_vec_named(input).unwrap())
        .unwrap_or_else(|e| panic!("{op}: {e}"));
    rmp_serde::from_slice(out.output()).unwrap()
}

fn call_err<I: Serialize>(host: &Host, op: &str, input: &I) -> RuntimeError {
    match host.invoke(op, rmp_serde::to_vec_named(input).unwrap()) {
        Ok(_) => panic!("{op} succeeded"),
        Err(e) => e,
    }
}

fn failed_code(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Failed { code, .. } => code.clone(),
        other => panic!("not a failure: {other}"),
    }
}

fn commit_req(entity: &str, n: u8, key: Option<[u8; 16]>) -> CommitRequest {
    CommitRequest {
        entity: entity.into(),
        scope: "s".into(),
        kind_category: 0xE,
        kind_type_id: 1,
        payload_hex: hex::encode(&rmp_serde::to_vec_named(&n).unwrap()),
        idempotency_key_hex: key.map(|k| hex::encode(&k)),
    }
}

#[test]
fn heartbeat_echoes_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_on(open(dir.path()));
    let ack: HeartbeatAck = call(
        &host,
        "system.heartbeat",
        &HeartbeatRequest {
            nonce: "abc".into(),
        },
    );
    assert_eq!(ack.nonce, "abc");
    let wall = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap();
    let now = wall(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap(),
    );
    assert!(
        ack.server_ts_ms <= now && now - ack.server_ts_ms < 60_000,
        "the server's wall clock in ms: {} vs {now}",
        ack.server_ts_ms
    );
}

#[test]
fn reference_descriptors_have_their_classes() {
    use hostbat::reference::reference_descriptor;
    assert_eq!(
        reference_descriptor("bank.commit").unwrap().effect(),
        EffectClass::Persist
    );
    for name in [
        "system.heartbeat",
        "event.get",
        "event.query",
        "store.stats",
    ] {
        let d = reference_descriptor(name).unwrap();
        assert_eq!(d.effect(), EffectClass::Inspect, "{name}");
        assert_eq!(d.input_schema(), format!("{name}.request"));
        assert_eq!(d.receipt_kind(), format!("receipt.{name}.v1"));
    }
    assert!(reference_descriptor("bank.nope").is_none());
    assert_eq!(
        reference_descriptor("bank.commit")
            .unwrap()
            .effect_row()
            .appends_events()
            .count(),
        1
    );
    assert_eq!(
        reference_descriptor("event.get")
            .unwrap()
            .effect_row()
            .appends_events()
            .count(),
        0
    );
}

#[test]
fn commit_get_and_idempotent_retry() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_on(open(dir.path()));
    let req = commit_req("acct:1", 7, Some([9; 16]));
    let first: CommitAck = call(&host, "bank.commit", &req);
    let again: CommitAck = call(&host, "bank.commit", &req);
    assert_eq!(first, again);
    let plain: CommitAck = call(&host, "bank.commit", &commit_req("acct:1", 8, None));
    assert_ne!(plain.event_id_hex, first.event_id_hex);
    assert!(plain.sequence > first.sequence);
    let got: GetAck = call(
        &host,
        "event.get",
        &GetRequest {
            event_id_hex: first.event_id_hex.clone(),
        },
    );
    assert_eq!(got.sequence, first.sequence);
    assert_eq!(got.entity, "acct:1");
    assert_eq!(got.payload_hex, req.payload_hex);
    assert_eq!(got.content_hash_hex, first.content_hash_hex);
    assert_eq!((got.kind_category, got.kind_type_id), (0xE, 1));
    assert_eq!(got.causation_id_hex, None);
}

#[test]
fn store_errors_reach_the_caller_with_their_code() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_on(open(dir.path()));
    let e = call_err(
        &host,
        "event.get",
        &GetRequest {
            event_id_hex: "00".repeat(16),
        },
    );
    assert_eq!(failed_code(&e), "store.not_found");
    let mut bad = commit_req("a", 1, None);
    bad.kind_category = 0;
    assert_eq!(
        failed_code(&call_err(&host, "bank.commit", &bad)),
        "store.invalid_kind"
    );
    let mut bad = commit_req("a", 1, None);
    bad.payload_hex = "zz".into();
    assert_eq!(
        failed_code(&call_err(&host, "bank.commit", &bad)),
        "handler.invalid_input"
    );
    let e = host.invoke("bank.commit", vec![0xc1]).unwrap_err();
    assert_eq!(failed_code(&e), "handler.invalid_input");
    assert!(matches!(
        host.invoke("no.such", vec![]),
        Err(RuntimeError::UnknownOperation { .. })
    ));
}

#[test]
fn garbage_input_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_on(open(dir.path()));
    let inputs: [&[u8]; 5] = [
        &[],
        &[0xff],
        &[0x80],
        &[0x81, 0xa1, b'x', 0xc0],
        &[0xdf, 0xff, 0xff, 0xff, 0xff],
    ];
    for op in hostbat::REFERENCE_OPERATIONS {
        for input in inputs {
            if let Err(e) = host.invoke(op, input.to_vec()) {
                assert!(
                    !matches!(&e, RuntimeError::Failed { code, .. } if code == "handler.panicked"),
                    "{op}: {e}"
                );
            }
        }
    }
}

#[test]
fn query_pages_filters_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_on(open(dir.path()));
    for i in 0..5 {
        let _: CommitAck = call(&host, "bank.commit", &commit_req("acct", i, None));
        let _: CommitAck = call(&host, "bank.commit", &commit_req("acct:sub", i, None));
        let _: CommitAck = call(&host, "bank.commit", &commit_req("acctx", i, None));
    }
    let mut q = QueryRequest {
        entity: Some("acct".into()),
        scope: Some("s".into()),
        kind_category: Some(0xE),
        kind_type_id: Some(1),
        after_global_sequence: None,
        limit: 4,
    };
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page: QueryAck = call(&host, "event.query", &q);
        assert!(page.entries.len() <= 4);
        seen.extend(page.entries.iter().map(|e| e.entity.clone()));
        match page.next_after_global_sequence {
            Some(n) => q.after_global_sequence = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10);
    assert!(seen.iter().all(|e| e == "acct" || e == "acct:sub"));
    q.limit = 0;
    assert_eq!(
        failed_code(&call_err(&host, "event.query", &q)),
        "handler.invalid_input"
    );
    q.limit = 1_000_000;
    q.after_global_sequence = None;
    let all: QueryAck = call(&host, "event.query", &q);
    assert_eq!(all.entries.len(), 10);
    q.kind_category = None;
    assert_eq!(
        failed_code(&call_err(&host, "event.query", &q)),
        "handler.invalid_input"
    );
}

#[test]
fn query_cuts_before_the_output_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = Host::builder(store.clone());
    b.mount(reference_module_with_limit(store, 700).unwrap())
        .unwrap();
    let host = b.build().unwrap();
    for i in 0..10 {
        let _: CommitAck = call(&host, "bank.commit", &commit_req("acct", i, None));
    }
    let q = QueryRequest {
        entity: Some("acct".into()),
        scope: None,
        kind_category: None,
        kind_type_id: None,
        after_global_sequence: None,
        limit: 100,
    };
    let out = host
        .invoke("event.query", rmp_serde::to_vec_named(&q).unwrap())
        .unwrap();
    assert!(out.output().len() <= 700);
    let page: QueryAck = rmp_serde::from_slice(out.output()).unwrap();
    assert!(page.truncated);
    assert!(!page.entries.is_empty() && page.entries.len() < 10);
    assert_eq!(
        page.next_after_global_sequence,
        page.entries.last().map(|e| e.global_sequence)
    );
}

#[test]
fn a_page_that_exactly_fills_the_output_limit_is_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let probe = host_on(store.clone());
    let _: CommitAck = call(&probe, "bank.commit", &commit_req("acct", 1, None));
    let q = QueryRequest {
        entity: Some("acct".into()),
        scope: None,
        kind_category: None,
        kind_type_id: None,
        after_global_sequence: None,
        limit: 10,
    };
    let page: QueryAck = call(&probe, "event.query", &q);
    let entry = rmp_serde::to_vec_named(&page.entries[0]).unwrap().len();
    drop(probe);
    let exact = hostbat::reference::QUERY_ACK_OVERHEAD + entry;
    let mut b = Host::builder(store.clone());
    b.mount(reference_module_with_limit(store, exact).unwrap())
        .unwrap();
    let host = b.build().unwrap();
    let page: QueryAck = call(&host, "event.query", &q);
    assert_eq!(page.entries.len(), 1, "one entry fits exactly");
    assert!(!page.truncated);
}

#[test]
fn verify_valid_tampered_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_on(open(dir.path()));
    let ack: CommitAck = call(&host, "bank.commit", &commit_req("acct", 1, None));
    let ok: VerifyAck = call(&host, "receipt.verify", &ack);
    assert_eq!(
        (ok.valid, ok.outcome.as_str(), ok.reason_code),
        (true, "unsigned_accepted", None)
    );
    let mut t = ack.clone();
    t.sequence += 1;
    let v: VerifyAck = call(&host, "receipt.verify", &t);
    assert_eq!(
        (v.valid, v.reason_code.as_deref()),
        (false, Some("sequence_mismatch"))
    );
    let mut t = ack.clone();
    t.content_hash_hex = "00".repeat(32);
    let v: VerifyAck = call(&host, "receipt.verify", &t);
    assert_eq!(v.reason_code.as_deref(), Some("content_hash_mismatch"));
    let mut t = ack;
    t.event_id_hex = "01".repeat(16);
    let v: VerifyAck = call(&host, "receipt.verify", &t);
    assert_eq!(
        (v.outcome.as_str(), v.reason_code.as_deref()),
        ("invalid", Some("missing_committed_event"))
    );
}

#[test]
fn verify_signed_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let store = Arc::new(Store::open(StoreConfig::new(dir.path()).with_signing_key(key)).unwrap());
    let host = host_on(store);
    let ack: CommitAck = call(&host, "bank.commit", &commit_req("acct", 1, None));
    assert!(ack.signature_hex.is_some());
    let v: VerifyAck = call(&host, "receipt.verify", &ack);
    assert_eq!((v.valid, v.outcome.as_str()), (true, "signed"));
    let mut t = ack;
    let mut sig = hex::decode(t.signature_hex.as_deref().unwrap()).unwrap();
    sig[0] ^= 1;
    t.signature_hex = Some(hex::encode(&sig));
    let v: VerifyAck = call(&host, "receipt.verify", &t);
    assert_eq!(v.reason_code.as_deref(), Some("invalid_signature"));
}

#[test]
fn walk_chain_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_on(open(dir.path()));
    let mut last = None;
    for i in 0..4 {
        let a: CommitAck = call(&host, "bank.commit", &commit_req("acct", i, None));
        last = Some(a);
    }
    let last = last.unwrap();
    let w: WalkAck = call(
        &host,
        "event.walk",
        &WalkRequest {
            event_id_hex: last.event_id_hex.clone(),
            limit: 10,
        },
    );
    assert_eq!(w.entries.len(), 4);
    assert_eq!(w.entries[0].event_id_hex, last.event_id_hex);
    assert_eq!(w.boundary, "reached_genesis");
    let w: WalkAck = call(
        &host,
        "event.walk",
        &WalkRequest {
            event_id_hex: last.event_id_hex,
            limit: 2,
        },
    );
    assert_eq!((w.entries.len(), w.boundary.as_str()), (2, "limit_reached"));
    let c: VerifyChainAck = call(&host, "store.verify_chain", &EmptyRequest {});
    assert!(c.intact && c.events_checked >= 4);
    let s: StatsAck = call(&host, "store.stats", &EmptyRequest {});
    assert!(s.events >= 4 && s.entities >= 1);
}

const NOOP: OperationDescriptor = OperationDescriptor::new(
    "demo.noop",
    EffectClass::Compute,
    "demo.noop.request",
    "demo.noop.ack",
    "receipt.demo.noop.v1",
);

fn noop(_: &[u8], _: &mut Ctx<'_>) -> HandlerResult {
    Ok(Vec::new())
}

#[test]
fn conflicts_name_both_modules() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = Host::builder(store.clone());
    let mut one = HostModule::builder("one", "1");
    one.operation(NOOP, noop)
        .subscription("s.v1", SubscriptionSource::All);
    b.mount(one.build().unwrap()).unwrap();
    let mut two = HostModule::builder("two", "1");
    two.operation(NOOP, noop);
    match b.mount(two.build().unwrap()) {
        Err(HostError::OperationConflict {
            operation,
            first,
            second,
        }) => {
            assert_eq!(
                (operation.as_str(), first.as_str(), second.as_str()),
                ("demo.noop", "one", "two")
            );
        }
        other => panic!("{other:?}"),
    }
    let mut three = HostModule::builder("three", "1");
    three.subscription("s.v1", SubscriptionSource::Receipts);
    assert!(matches!(
        b.mount(three.build().unwrap()),
        Err(HostError::SubscriptionConflict { .. })
    ));
    assert!(matches!(
        b.mount(HostModule::builder("one", "2").build().unwrap()),
        Err(HostError::DuplicateModule { .. })
    ));
}

#[test]
fn fingerprint_ignores_mount_order_and_hooks_run_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let log = Arc::new(Mutex::new(Vec::new()));
    let module = |id: &'static str| {
        let mut m = HostModule::builder(id, "1");
        let (a, b) = (log.clone(), log.clone());
        m.on_start(move |_| {
            a.lock().unwrap().push(format!("start {id}"));
            Ok(())
        })
        .on_shutdown(move |_| {
            b.lock().unwrap().push(format!("stop {id}"));
            Ok(())
        });
        m.build().unwrap()
    };
    let mut b1 = Host::builder(store.clone());
    b1.mount(module("b"))
        .unwrap()
        .mount(module("a"))
        .unwrap()
        .grant("x")
        .grant("y");
    let h1 = b1.build().unwrap();
    let mut b2 = Host::builder(store.clone());
    b2.mount(module("a"))
        .unwrap()
        .mount(module("b"))
        .unwrap()
        .grant("y")
        .grant("x");
    let h2 = b2.build().unwrap();
    assert_eq!(h1.fingerprint(), h2.fingerprint());
    assert_eq!(h1.interface_fingerprint(), h2.interface_fingerprint());
    h1.start().unwrap();
    h1.shutdown().unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["start a", "start b", "stop b", "stop a"]
    );
    let mut b3 = Host::builder(store);
    b3.mount(module("a")).unwrap().grant("x");
    assert_ne!(b3.build().unwrap().fingerprint(), h1.fingerprint());
}

#[test]
fn capability_guard_denies() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let d = OperationDescriptor::new(
        "demo.look",
        EffectClass::Inspect,
        "demo.look.request",
        "demo.look.ack",
        "receipt.demo.look.v1",
    )
    .with_effect_row(syncbat::OperationEffectRow::new().requires_capability("demo.run"));
    let mut m = HostModule::builder("demo", "1");
    m.operation(d, noop).capability("demo.run");
    let mut b = Host::builder(store.clone());
    b.mount(m.build().unwrap()).unwrap();
    let host = b.build().unwrap();
    match host.invoke("demo.look", vec![]) {
        Err(RuntimeError::Denied { code, .. }) => assert_eq!(code, "capability.denied"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn admission_guard_denies_before_the_handler() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = Host::builder(store.clone());
    b.mount(reference_module(store).unwrap()).unwrap();
    b.admission_guard(|d: &OperationDescriptor, _: &[u8]| {
        if d.name() == "bank.commit" {
            syncbat::AdmissionDecision::deny("host.read_only", "commits are closed")
        } else {
            syncbat::AdmissionDecision::Admit
        }
    });
    let host = b.build().unwrap();
    match host.invoke(
        "bank.commit",
        rmp_serde::to_vec_named(&commit_req("a", 1, None)).unwrap(),
    ) {
        Err(RuntimeError::Denied { code, .. }) => assert_eq!(code, "host.read_only"),
        other => panic!("{other:?}"),
    }
    let _: HeartbeatAck = call(
        &host,
        "system.heartbeat",
        &HeartbeatRequest { nonce: "n".into() },
    );
}

/// The 176 bytes a receipt signature covers, rebuilt from the stored header
/// (the layout `batpak::receipt_cover` documents), for forging test acks.
fn cover_of(store: &Store, ack: &CommitAck, key_id: &[u8; 32]) -> Vec<u8> {
    let id = EventId::from_bytes(hex::decode_array::<16>(&ack.event_id_hex).unwrap());
    let raw = store.read_raw(id).unwrap();
    let h = raw.header();
    let mut c = Vec::with_capacity(batpak::RECEIPT_COVER_LEN);
    c.extend_from_slice(batpak::RECEIPT_COVER_DOMAIN);
    c.extend_from_slice(&id.to_bytes());
    c.extend_from_slice(&h.global_sequence.to_le_bytes());
    c.extend_from_slice(&h.entity_sequence.to_le_bytes());
    c.extend_from_slice(&h.content_hash);
    c.extend_from_slice(&h.event_hash);
    c.extend_from_slice(&h.prev_hash);
    c.extend_from_slice(key_id);
    assert_eq!(c.len(), batpak::RECEIPT_COVER_LEN);
    c
}

/// `ack` signed again by `key`, naming `key` as its signer.
fn resigned(store: &Store, ack: &CommitAck, key: &ed25519_dalek::SigningKey) -> CommitAck {
    let key_id = key.verifying_key().to_bytes();
    let sig = ed25519_dalek::Signer::sign(key, &cover_of(store, ack, &key_id));
    let mut forged = ack.clone();
    forged.key_id_hex = hex::encode(&key_id);
    forged.signature_hex = Some(hex::encode(&sig.to_bytes()));
    forged
}

fn host_with(store: Arc<Store>, config: hostbat::ReferenceConfig) -> Host {
    let mut b = Host::builder(store.clone());
    b.mount(hostbat::reference_module_with(store, config).unwrap())
        .unwrap();
    b.build().unwrap()
}

fn outcome(v: &VerifyAck) -> (bool, &str, Option<&str>) {
    (v.valid, v.outcome.as_str(), v.reason_code.as_deref())
}

#[test]
fn verify_trusts_the_store_key_and_configured_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let own = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
    let next = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let own_id = own.verifying_key().to_bytes();
    let signed = |key: &ed25519_dalek::SigningKey| {
        Arc::new(Store::open(StoreConfig::new(dir.path()).with_signing_key(key.clone())).unwrap())
    };

    let store = signed(&own);
    assert_eq!(store.signing_key_id(), Some(own_id));
    let host = host_on(store.clone());
    let ack: CommitAck = call(&host, "bank.commit", &commit_req("acct", 1, None));
    assert_eq!(ack.key_id_hex, hex::encode(&own_id));
    let v: VerifyAck = call(&host, "receipt.verify", &ack);
    assert_eq!(outcome(&v), (true, "signed", None));

    // A correct signature by a key the host does not trust.
    let forged = resigned(&store, &ack, &other);
    let v: VerifyAck = call(&host, "receipt.verify", &forged);
    assert_eq!(outcome(&v), (false, "invalid", Some(UNTRUSTED_KEY)));
    // The key id swapped, the signature left as it was.
    let mut swapped = ack.clone();
    swapped.key_id_hex = hex::encode(&other.verifying_key().to_bytes());
    let v: VerifyAck = call(&host, "receipt.verify", &swapped);
    assert_eq!(outcome(&v), (false, "invalid", Some(UNTRUSTED_KEY)));
    // Not even a valid public key: still untrusted, never a panic.
    let mut junk = ack.clone();
    junk.key_id_hex = "ff".repeat(32);
    let v: VerifyAck = call(&host, "receipt.verify", &junk);
    assert_eq!(outcome(&v), (false, "invalid", Some(UNTRUSTED_KEY)));

    // Configured as trusted, the other key verifies; a trusted key with a
    // wrong signature is still invalid_signature.
    let config =
        hostbat::ReferenceConfig::default().with_trusted_key(other.verifying_key().to_bytes());
    let trusting = host_with(store.clone(), config.clone());
    let v: VerifyAck = call(&trusting, "receipt.verify", &forged);
    assert_eq!(outcome(&v), (true, "signed", None));
    let v: VerifyAck = call(&trusting, "receipt.verify", &ack);
    assert_eq!(outcome(&v), (true, "signed", None));
    let v: VerifyAck = call(&trusting, "receipt.verify", &swapped);
    assert_eq!(outcome(&v), (false, "invalid", Some("invalid_signature")));
    drop((host, trusting));
    Arc::try_unwrap(store).unwrap().close().unwrap();

    // The store reopened with another signing key: the old ack's key is no
    // longer the store's, so it is untrusted unless configured.
    let store = signed(&next);
    let host = host_on(store.clone());
    let v: VerifyAck = call(&host, "receipt.verify", &ack);
    assert_eq!(outcome(&v), (false, "invalid", Some(UNTRUSTED_KEY)));
    let fresh: CommitAck = call(&host, "bank.commit", &commit_req("acct", 2, None));
    let v: VerifyAck = call(&host, "receipt.verify", &fresh);
    assert_eq!(outcome(&v), (true, "signed", None));
    let keeps_old = host_with(
        store.clone(),
        hostbat::ReferenceConfig::default().with_trusted_key(own_id),
    );
    let v: VerifyAck = call(&keeps_old, "receipt.verify", &ack);
    assert_eq!(outcome(&v), (true, "signed", None));
    drop((host, keeps_old));
    Arc::try_unwrap(store).unwrap().close().unwrap();

    // A store without a key trusts no signature of its own accord, and an
    // ack stripped of its signature is only unsigned_accepted.
    let store = open(dir.path());
    assert_eq!(store.signing_key_id(), None);
    let host = host_on(store);
    let v: VerifyAck = call(&host, "receipt.verify", &ack);
    assert_eq!(outcome(&v), (false, "invalid", Some(UNTRUSTED_KEY)));
    let mut stripped = ack;
    stripped.key_id_hex = String::new();
    stripped.signature_hex = None;
    let v: VerifyAck = call(&host, "receipt.verify", &stripped);
    assert_eq!(outcome(&v), (true, "unsigned_accepted", None));
}

#[test]
fn reference_config_keeps_its_settings() {
    let c = hostbat::ReferenceConfig::default();
    assert_eq!(c.output_limit(), hostbat::reference::DEFAULT_OUTPUT_LIMIT);
    assert_eq!(c.trusted_keys().count(), 0);
    let c = c
        .with_output_limit(10)
        .with_trusted_key([2; 32])
        .with_trusted_key([1; 32])
        .with_trusted_key([2; 32]);
    assert_eq!(c.output_limit(), 10);
    assert_eq!(
        c.trusted_keys().copied().collect::<Vec<_>>(),
        vec![[1; 32], [2; 32]]
    );
    assert!(c.trusts(&[1; 32]) && !c.trusts(&[3; 32]));
}
