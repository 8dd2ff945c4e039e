//! Payload encryption and crypto-shred (feature `payload-encryption`): what
//! is stored, what every read path returns after a shred, granularity and
//! keyset checks, tampering, and idempotent retries over sealed payloads.
#![cfg(feature = "payload-encryption")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::path::Path;
use std::time::Duration;

use batpak::format::{
    IDEMPOTENCY_FILE, KEYSET_FILE, PROJECTION_DIR, SEALED_OVERHEAD, SEALED_PAYLOAD_MARKER,
};
use batpak::prelude::*;
use batpak::{
    BatchAppendItem, CausalBoundary, Denial, KeyScopeGranularity, PolledEvent, ShredScope,
};
use serde_json::json;

const KIND: EventKind = EventKind::custom(0xE, 0x7A0);

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, EventPayload)]
#[batpak(category = 0xE, type_id = 0x7A1)]
struct Contact {
    email: String,
}

fn encrypted(dir: &Path, g: KeyScopeGranularity) -> StoreConfig {
    StoreConfig::new(dir).with_payload_encryption(g)
}

fn open(dir: &Path) -> Store {
    Store::open(encrypted(dir, KeyScopeGranularity::PerEntity)).unwrap()
}

fn shredded(r: Result<impl std::fmt::Debug, StoreError>, id: EventId) {
    match r {
        Err(StoreError::PayloadShredded { event_id }) => assert_eq!(event_id, id),
        other => panic!("expected PayloadShredded for {id}, got {other:?}"),
    }
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Emails(Vec<String>);
impl EventSourced for Emails {
    fn apply(&mut self, event: &StoredEvent<serde_json::Value>) {
        if let Some(e) = event.payload()["email"].as_str() {
            self.0.push(e.to_owned());
        }
    }
}

#[test]
fn the_issue_example_holds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path()).with_payload_encryption(KeyScopeGranularity::PerEntity);
    let store = Store::open(cfg).unwrap();
    let alice = coord("person:alice", "crm");
    let r = store
        .append(&alice, KIND, &json!({"email": "a@example.org"}))
        .unwrap();
    assert!(store.shred_scope(ShredScope::Entity(&alice)).unwrap());
    assert!(matches!(
        store.get(r.event_id),
        Err(StoreError::PayloadShredded { .. })
    ));
    assert!(store.verify_chain().unwrap().is_intact());
    assert!(
        !store.shred_scope(ShredScope::Entity(&alice)).unwrap(),
        "no key is left to destroy"
    );
}

#[test]
fn payloads_are_stored_sealed_and_hashes_cover_the_sealed_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let c = coord("person:alice", "crm");
    let value = json!({"email": "secret-address@example.org"});
    let r = store.append(&c, KIND, &value).unwrap();
    let stored = store.read_stored(r.event_id).unwrap();
    let plain = rmp_serde::to_vec_named(&value).unwrap();
    assert_eq!(stored.event.payload[0], SEALED_PAYLOAD_MARKER);
    assert_eq!(stored.event.payload.len(), plain.len() + SEALED_OVERHEAD);
    assert_eq!(
        r.content_hash,
        *blake3::hash(&stored.event.payload).as_bytes()
    );
    assert_eq!(store.read_raw(r.event_id).unwrap().event.payload, plain);
    assert_eq!(store.get(r.event_id).unwrap().event.payload, value);
    assert!(store.verify_append_receipt(&r).is_valid());
    store.close().unwrap();
    for seg in segments(dir.path()) {
        let bytes = std::fs::read(seg).unwrap();
        assert!(
            !bytes
                .windows(b"secret-address".len())
                .any(|w| w == b"secret-address"),
            "plaintext reached a segment"
        );
    }
    assert!(dir.path().join(KEYSET_FILE).exists());
}

#[test]
fn denial_records_stay_plaintext_and_mint_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let c = coord("order:1", "shop");
    let d = store
        .append_denial(&c, &Denial::new("limit", "too much"))
        .unwrap();
    let stored = store.read_stored(d.event_id()).unwrap();
    assert_ne!(stored.event.payload[0], SEALED_PAYLOAD_MARKER);
    assert_eq!(store.read_denial(d.event_id()).unwrap().code(), "DENIED");
    assert!(
        !dir.path().join(KEYSET_FILE).exists(),
        "a denial needs no key, so none was minted"
    );
}

/// Every read path over a store where alice was shredded and bob was not.
fn check_read_paths(reader: &StoreReader, alice: &[AppendReceipt], bob: &AppendReceipt) {
    let first = alice[0].event_id;
    let last = alice[alice.len() - 1].event_id;
    for r in alice {
        shredded(reader.get(r.event_id), r.event_id);
        shredded(reader.read_raw(r.event_id), r.event_id);
        shredded(reader.get_as::<serde_json::Value>(r.event_id), r.event_id);
        // The stored bytes and the receipt are still there: hashes cover them.
        let stored = reader.read_stored(r.event_id).unwrap();
        assert_eq!(stored.event.header.event_hash, r.event_hash);
        assert!(reader.verify_append_receipt(r).is_valid());
    }
    shredded(reader.get_typed::<Contact>(last), last);
    // Other scopes still decrypt.
    assert_eq!(
        reader
            .get_typed::<Contact>(bob.event_id)
            .unwrap()
            .event
            .payload,
        Contact {
            email: "b@example.org".into()
        }
    );
    // Projections skip what was shredded.
    let a: Option<Emails> = reader
        .project("person:alice", &Freshness::Consistent)
        .unwrap();
    assert_eq!(a.map(|e| e.0), Some(Vec::new()));
    let b: Option<Emails> = reader
        .project("person:bob", &Freshness::Consistent)
        .unwrap();
    assert_eq!(b.map(|e| e.0), Some(vec!["b@example.org".to_owned()]));
    // Cursors: entries as ever, shredded events delivered as such.
    let mut cursor = reader.cursor_guaranteed(&Region::all());
    let polled = cursor.poll_with_shredded(100).unwrap();
    assert_eq!(polled.len(), alice.len() + 1);
    let marked: Vec<EventId> = polled
        .iter()
        .filter(|p| p.is_shredded())
        .map(PolledEvent::event_id)
        .collect();
    assert_eq!(marked, alice.iter().map(|r| r.event_id).collect::<Vec<_>>());
    assert!(polled.iter().any(|p| matches!(p,
        PolledEvent::Readable(e) if e.event_id() == bob.event_id && e.event.payload["email"] == "b@example.org")));
    let mut plain = reader.cursor_guaranteed(&Region::all());
    let events = plain.poll_events(100).unwrap();
    assert_eq!(
        events.iter().map(StoredEvent::event_id).collect::<Vec<_>>(),
        [bob.event_id]
    );
    assert!(
        plain.poll_events(100).unwrap().is_empty(),
        "passed over, not stuck"
    );
    assert_eq!(
        reader
            .cursor_guaranteed(&Region::entity("person:alice"))
            .poll_batch(100)
            .unwrap()
            .len(),
        alice.len()
    );
    // Ancestry: included, marked, and the walk reaches genesis.
    let walk = reader.walk_ancestors_outcome(last, 100).unwrap();
    assert!(walk.reached_genesis(), "{:?}", walk.boundary);
    assert_eq!(walk.ancestors.len(), alice.len());
    assert_eq!(walk.shredded.len(), alice.len());
    assert!(walk.is_shredded(first));
    assert!(walk
        .ancestors
        .iter()
        .all(|e| e.event.payload == serde_json::Value::Null));
    // Causal walks likewise (alice's last event was caused by bob's).
    let causal = reader.causal_ancestors(last, 10).unwrap();
    assert_eq!(causal.boundary, CausalBoundary::ReachedRoot);
    assert_eq!(causal.ids(), [last, bob.event_id]);
    assert_eq!(causal.shredded, [last]);
    assert!(reader.verify_chain().unwrap().is_intact());
}

fn shredded_store(dir: &Path) -> (Vec<AppendReceipt>, AppendReceipt) {
    let store = open(dir);
    let alice = coord("person:alice", "crm");
    let bob_c = coord("person:bob", "crm");
    let bob = store
        .append_typed(
            &bob_c,
            &Contact {
                email: "b@example.org".into(),
            },
        )
        .unwrap();
    let mut a = vec![store
        .append(&alice, KIND, &json!({"email": "a@example.org"}))
        .unwrap()];
    a.push(
        store
            .append_typed_with_options(
                &alice,
                &Contact {
                    email: "a2@example.org".into(),
                },
                AppendOptions::default().with_causation(CausationRef::Event(bob.event_id)),
            )
            .unwrap(),
    );
    assert_eq!(
        store.get(a[0].event_id).unwrap().event.payload["email"],
        "a@example.org"
    );
    assert!(store.shred_scope(ShredScope::Entity(&alice)).unwrap());
    check_read_paths(store.reader(), &a, &bob);
    store.close().unwrap();
    (a, bob)
}

#[test]
fn after_a_shred_every_read_path_says_shredded_and_so_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = shredded_store(dir.path());
    let store = open(dir.path());
    check_read_paths(store.reader(), &alice, &bob);
    // A new event of the shredded entity gets a new key; the old ones stay shredded.
    let again = store
        .append(
            &coord("person:alice", "crm"),
            KIND,
            &json!({"email": "new"}),
        )
        .unwrap();
    assert_eq!(
        store.get(again.event_id).unwrap().event.payload["email"],
        "new"
    );
    shredded(store.get(alice[0].event_id), alice[0].event_id);
    store.close().unwrap();
    // A read-only open without configuration takes the keyset's granularity.
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    shredded(ro.get(alice[1].event_id), alice[1].event_id);
    assert_eq!(
        ro.get(again.event_id).unwrap().event.payload["email"],
        "new"
    );
    assert_eq!(
        ro.get(bob.event_id).unwrap().event.payload["email"],
        "b@example.org"
    );
    assert!(ro.verify_chain().unwrap().is_intact());
    let chain = Store::open_read_only(
        StoreConfig::new(dir.path()).with_chain_verification(ChainVerification::Recompute),
    );
    assert!(chain.is_ok(), "recomputing every hash at open needs no key");
}

#[test]
fn subscriptions_deliver_shredded_events_as_notifications_whose_reads_say_shredded() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let sub = store.subscribe_lossy(&Region::entity("person:alice"));
    let alice = coord("person:alice", "crm");
    let r = store.append(&alice, KIND, &json!({"email": "a"})).unwrap();
    store.shred_scope(ShredScope::Entity(&alice)).unwrap();
    let n = sub.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(n.event_id(), r.event_id);
    shredded(store.get(n.event_id()), r.event_id);
}

#[test]
fn a_shred_drops_cached_projection_states_in_memory_and_in_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = encrypted(dir.path(), KeyScopeGranularity::PerEntity)
        .with_projection_cache(ProjectionCache::File { max_entries: 16 });
    let store = Store::open(cfg.clone()).unwrap();
    let alice = coord("person:alice", "crm");
    store.append(&alice, KIND, &json!({"email": "a"})).unwrap();
    let before: Option<Emails> = store
        .project("person:alice", &Freshness::Consistent)
        .unwrap();
    assert_eq!(before.unwrap().0, ["a"]);
    let proj = dir.path().join(PROJECTION_DIR);
    assert_eq!(std::fs::read_dir(&proj).unwrap().count(), 1);
    store.shred_scope(ShredScope::Entity(&alice)).unwrap();
    assert_eq!(
        std::fs::read_dir(&proj).unwrap().count(),
        0,
        "the file cache held what the shred forgot"
    );
    let stale = Freshness::MaybeStale {
        max_age: Duration::from_secs(3600),
    };
    let after: Option<Emails> = store.project("person:alice", &stale).unwrap();
    assert_eq!(after.unwrap().0, Vec::<String>::new());
}

#[test]
fn each_granularity_shreds_exactly_its_scope_and_refuses_other_selectors() {
    let k1 = EventKind::custom(0xE, 0x7A2);
    let k2 = EventKind::custom(0xE, 0x7A3);
    let k3 = EventKind::custom(0xC, 0x7A2);
    let a = coord("a", "s");
    let b = coord("b", "s");
    for g in [
        KeyScopeGranularity::PerEntity,
        KeyScopeGranularity::PerCategory,
        KeyScopeGranularity::PerTypeId,
        KeyScopeGranularity::PerEvent,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(encrypted(dir.path(), g)).unwrap();
        let events = [
            store.append(&a, k1, &1u8).unwrap(),
            store.append(&a, k2, &2u8).unwrap(),
            store.append(&b, k1, &3u8).unwrap(),
            store.append(&b, k3, &4u8).unwrap(),
        ];
        let ids: Vec<EventId> = events.iter().map(|r| r.event_id).collect();
        let (selector, gone): (ShredScope<'_>, &[usize]) = match g {
            KeyScopeGranularity::PerEntity => (ShredScope::Entity(&a), &[0, 1]),
            KeyScopeGranularity::PerCategory => (ShredScope::Kind(k2), &[0, 1, 2]),
            KeyScopeGranularity::PerTypeId => (ShredScope::Kind(k1), &[0, 2]),
            _ => (ShredScope::Event(ids[2]), &[2]),
        };
        let wrong = match g {
            KeyScopeGranularity::PerEvent => ShredScope::Entity(&a),
            _ => ShredScope::Event(ids[0]),
        };
        let err = store.shred_scope(wrong).unwrap_err();
        assert!(
            matches!(err, StoreError::ShredScopeMismatch { granularity, .. } if granularity == g),
            "{g:?}: {err:?}"
        );
        assert_eq!(err.handling_class(), HandlingClass::Domain);
        assert!(store.shred_scope(selector).unwrap(), "{g:?}");
        for (i, id) in ids.iter().enumerate() {
            let got = store.get(*id);
            if gone.contains(&i) {
                shredded(got, *id);
            } else {
                assert_eq!(
                    got.unwrap().event.payload,
                    (i + 1) as u64,
                    "{g:?} event {i}"
                );
            }
        }
        assert!(store.verify_chain().unwrap().is_intact());
        store.close().unwrap();
        // Reopened with another granularity: a typed error, nothing opened.
        let other = if g == KeyScopeGranularity::PerEvent {
            KeyScopeGranularity::PerEntity
        } else {
            KeyScopeGranularity::PerEvent
        };
        let err = Store::open(encrypted(dir.path(), other)).unwrap_err();
        assert!(
            matches!(err, StoreError::KeyScopeGranularityMismatch { stored, configured: Some(c) } if stored == g && c == other),
            "{err:?}"
        );
        let err = Store::open_read_only(encrypted(dir.path(), other)).unwrap_err();
        assert!(matches!(
            err,
            StoreError::KeyScopeGranularityMismatch { .. }
        ));
    }
}

#[test]
fn a_writer_without_encryption_refuses_an_encrypted_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append(&coord("a", "s"), KIND, &1u8).unwrap();
    store.close().unwrap();
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::KeyScopeGranularityMismatch {
                stored: KeyScopeGranularity::PerEntity,
                configured: None
            }
        ),
        "its appends would be stored in the clear: {err:?}"
    );
}

#[test]
fn shred_needs_encryption_configured() {
    let (_dir, store) = temp_store();
    let c = coord("a", "s");
    let err = store.shred_scope(ShredScope::Entity(&c)).unwrap_err();
    assert!(matches!(err, StoreError::Configuration { .. }), "{err:?}");
}

#[test]
fn a_damaged_keyset_fails_the_open_closed_and_an_absent_one_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let r = store.append(&coord("a", "s"), KIND, &1u8).unwrap();
    store.close().unwrap();
    let path = dir.path().join(KEYSET_FILE);
    let good = std::fs::read(&path).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x40;
    for bad in [flipped, good[..good.len() - 3].to_vec(), Vec::new()] {
        std::fs::write(&path, &bad).unwrap();
        for err in [
            Store::open(encrypted(dir.path(), KeyScopeGranularity::PerEntity)).unwrap_err(),
            Store::open_read_only(StoreConfig::new(dir.path())).unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::KeysetCorrupt { .. }), "{err:?}");
            assert_eq!(err.handling_class(), HandlingClass::FailClosedOperational);
        }
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(open(dir.path()).get(r.event_id).unwrap().event.payload, 1);
    // Only an absent keyset starts empty (and then no old payload opens).
    std::fs::remove_file(&path).unwrap();
    let store = open(dir.path());
    shredded(store.get(r.event_id), r.event_id);
}

#[test]
fn a_flipped_ciphertext_byte_with_a_fixed_crc_is_caught_by_verify_chain_and_by_decryption() {
    let (img, rs) = live_image_with(
        |cfg| cfg.with_payload_encryption(KeyScopeGranularity::PerEntity),
        |store| {
            (0..4u8)
                .map(|i| {
                    store
                        .append(&coord("e", "s"), KIND, &json!({"i": i}))
                        .unwrap()
                })
                .collect::<Vec<_>>()
        },
    );
    rewrite_frames(img.path(), |fs| {
        if let rmpv::Value::Binary(b) = field(&mut fs[2], PAYLOAD_FIELD) {
            assert_eq!(b[0], SEALED_PAYLOAD_MARKER);
            let mid = b.len() - 20;
            b[mid] ^= 1;
        }
    });
    let store = open(img.path());
    let report = store.verify_chain().unwrap();
    assert_eq!(report.mismatches, [rs[2].event_id]);
    match store.get(rs[2].event_id) {
        Err(StoreError::PayloadDecryptFailed { event_id, .. }) => {
            assert_eq!(event_id, rs[2].event_id)
        }
        other => panic!("expected PayloadDecryptFailed, got {other:?}"),
    }
    assert_eq!(store.get(rs[3].event_id).unwrap().event.payload["i"], 3);
}

#[test]
fn a_sealed_payload_moved_onto_another_event_does_not_open() {
    let (img, rs) = live_image_with(
        |cfg| cfg.with_payload_encryption(KeyScopeGranularity::PerEntity),
        |store| {
            (0..2u8)
                .map(|i| store.append(&coord("e", "s"), KIND, &i).unwrap())
                .collect::<Vec<_>>()
        },
    );
    rewrite_frames(img.path(), |fs| {
        let p0 = field(&mut fs[0], PAYLOAD_FIELD).clone();
        *field(&mut fs[1], PAYLOAD_FIELD) = p0;
    });
    let store = open(img.path());
    assert!(matches!(
        store.get(rs[1].event_id),
        Err(StoreError::PayloadDecryptFailed { .. })
    ));
}

fn keyed(n: u8) -> AppendOptions {
    AppendOptions::default().with_idempotency_key(idempotency_key(n))
}

#[test]
fn idempotent_retries_dedupe_over_random_nonces_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = coord("a", "s");
    let v = json!({"email": "a@example.org"});
    let store = open(dir.path());
    let first = store.append_with_options(&c, KIND, &v, keyed(1)).unwrap();
    let again = store.append_with_options(&c, KIND, &v, keyed(1)).unwrap();
    assert_eq!(again.event_id, first.event_id);
    let err = store
        .append_with_options(&c, KIND, &json!({"email": "other"}), keyed(1))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::IdempotencyConflict {
                reason: "payload differs",
                ..
            }
        ),
        "{err:?}"
    );
    let batch = |n: u8| -> Vec<BatchAppendItem> {
        (0..3u8)
            .map(|i| {
                BatchAppendItem::new(coord("b", "s"), KIND, &i, keyed(n + i), CausationRef::None)
                    .unwrap()
            })
            .collect()
    };
    let b1 = store.append_batch(batch(10)).unwrap();
    assert_eq!(store.append_batch(batch(10)).unwrap(), b1);
    assert_eq!(store.len(), 4);
    // Without the sidecar the keys come back from the frames, where only the
    // sealed bytes are: a retry then opens the original to compare.
    drop(store);
    std::fs::remove_file(dir.path().join(IDEMPOTENCY_FILE)).unwrap();
    for round in 0..2 {
        let store = open(dir.path());
        let r = store.append_with_options(&c, KIND, &v, keyed(1)).unwrap();
        assert_eq!(r.event_id, first.event_id, "round {round}");
        let ids: Vec<EventId> = store
            .append_batch(batch(10))
            .unwrap()
            .iter()
            .map(|r| r.event_id)
            .collect();
        assert_eq!(ids, b1.iter().map(|r| r.event_id).collect::<Vec<_>>());
        assert!(store
            .append_with_options(&c, KIND, &json!(1), keyed(1))
            .is_err());
        assert_eq!(store.len(), 4 + round);
        if round == 0 {
            assert_eq!(store.open_report().idempotency_keys_from_log, 4);
            // New frames, so that the close seals the segment and writes the sidecar.
            store.append(&coord("z", "s"), KIND, &0u8).unwrap();
        }
        // The second round reads the sidecar this close writes.
        store.close().unwrap();
        assert!(dir.path().join(IDEMPOTENCY_FILE).exists(), "round {round}");
    }
    let store = open(dir.path());
    assert_eq!(store.open_report().idempotency_sidecar_problem, None);
    assert!(store.open_report().idempotency_keys_from_sidecar >= 4);
    assert_eq!(
        store
            .append_with_options(&c, KIND, &v, keyed(1))
            .unwrap()
            .event_id,
        first.event_id
    );
}

#[test]
fn a_retry_of_a_shredded_append_is_refused_not_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let c = coord("a", "s");
    let store = open(dir.path());
    store.append_with_options(&c, KIND, &1u8, keyed(1)).unwrap();
    store.shred_scope(ShredScope::Entity(&c)).unwrap();
    for _ in 0..2 {
        let err = store
            .append_with_options(&c, KIND, &1u8, keyed(1))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyConflict { reason, .. } if reason.contains("shredded")),
            "{err:?}"
        );
        assert_eq!(store.len(), 1);
    }
    drop(store);
    let store = open(dir.path());
    let err = store
        .append_with_options(&c, KIND, &1u8, keyed(1))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IdempotencyConflict { .. }),
        "{err:?}"
    );
}
