//! Tamper evidence, signed receipts, the signing policy and ancestry walks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::path::Path;
use std::sync::Arc;

use batpak::prelude::*;
use batpak::{ReceiptSigner, ReceiptVerificationError};

const K: EventKind = EventKind::custom(0xE, 1);

/// A live store with 6 events of entity `e` (and 2 of `f`), as a crash image.
fn image() -> (tempfile::TempDir, Vec<AppendReceipt>) {
    live_image(|store| {
        (0..8u32)
            .map(|i| {
                let entity = if i == 3 || i == 6 { "f" } else { "e" };
                store
                    .append(&coord(entity, "s"), K, &format!("payload {i}"))
                    .unwrap()
            })
            .collect()
    })
}

fn assert_tamper_caught(dir: &Path, expect_mismatch: &[EventId], expect_dangling: &[EventId]) {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    let report = store.verify_chain().unwrap();
    assert!(!report.is_intact());
    assert_eq!(report.mismatches, expect_mismatch);
    assert_eq!(report.dangling, expect_dangling);
    drop(store);
    let err =
        Store::open(StoreConfig::new(dir).with_chain_verification(ChainVerification::Recompute))
            .unwrap_err();
    match err {
        StoreError::ChainVerificationFailed {
            mismatches,
            dangling,
            ..
        } => {
            assert_eq!(
                (mismatches, dangling),
                (expect_mismatch.len(), expect_dangling.len())
            );
        }
        other => panic!("expected ChainVerificationFailed, got {other:?}"),
    }
    let err = Store::open_read_only(
        StoreConfig::new(dir).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::ChainVerificationFailed { .. }));
}

#[test]
fn a_verification_checks_the_events_there_were_when_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(small_segments(dir.path())).unwrap();
    let c = coord("entity:v", "scope:v");
    for i in 0..300u32 {
        store.append(&c, EventKind::custom(0xE, 1), &i).unwrap();
    }
    // Events appended while it runs (here, from its progress callback,
    // between pages) are the next verification's.
    let mut seen = Vec::new();
    let report = store
        .verify_chain_with_progress(|p| {
            seen.push(p);
            store.append(&c, EventKind::custom(0xE, 1), &0u32).unwrap();
        })
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events_checked, 300);
    assert!(
        seen.iter().all(|p| p.total == 300 && p.checked <= 300),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap().checked, 300);
    assert_eq!(
        store.verify_chain().unwrap().events_checked,
        300 + seen.len() as u64
    );
}

#[test]
fn untampered_store_is_intact_both_ways() {
    let (img, rs) = image();
    let store = Store::open(
        StoreConfig::new(img.path()).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap();
    let mut seen = Vec::new();
    let report = store.verify_chain_with_progress(|p| seen.push(p)).unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events_checked, rs.len() as u64);
    assert_eq!(seen.last().unwrap().checked, rs.len() as u64);
    store.close().unwrap();
    // And after sealing (footer path).
    let store = Store::open(
        StoreConfig::new(img.path()).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap();
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn rewritten_payload_with_fixed_crc_is_caught() {
    let (img, rs) = image();
    rewrite_frames(img.path(), |fs| {
        if let rmpv::Value::Binary(b) = field(&mut fs[4], PAYLOAD_FIELD) {
            let last = b.len() - 1;
            b[last] ^= 1;
        }
    });
    assert_tamper_caught(img.path(), &[rs[4].event_id], &[]);
}

#[test]
fn changed_header_fields_with_fixed_crc_are_caught() {
    // kind, coordinate scope, and timestamp: each covered by event_hash.
    for (idx, value) in [
        (
            KIND_FIELD,
            rmpv::Value::from(EventKind::custom(0xE, 2).as_u16()),
        ),
        (SCOPE_FIELD, rmpv::Value::from("t")),
        (WALL_MS_FIELD, rmpv::Value::from(1u64)),
    ] {
        let (img, rs) = image();
        rewrite_frames(img.path(), |fs| *field(&mut fs[2], idx) = value);
        assert_tamper_caught(img.path(), &[rs[2].event_id], &[]);
    }
}

#[test]
fn removed_middle_frame_leaves_a_dangling_link() {
    let (img, rs) = image();
    // Remove event 2 (entity e, es 2) and renumber what follows so the log still opens.
    rewrite_frames(img.path(), |fs| {
        fs.remove(2);
        for f in fs.iter_mut().skip(2) {
            let gs = field(f, GLOBAL_SEQUENCE_FIELD).as_u64().unwrap();
            *field(f, GLOBAL_SEQUENCE_FIELD) = rmpv::Value::from(gs - 1);
            let is_e = field(f, ENTITY_FIELD).as_str() == Some("e");
            if is_e {
                let es = field(f, ENTITY_SEQUENCE_FIELD).as_u64().unwrap();
                *field(f, ENTITY_SEQUENCE_FIELD) = rmpv::Value::from(es - 1);
            }
        }
    });
    // Every renumbered event's hash no longer matches; the event after the gap dangles.
    let renumbered: Vec<EventId> = rs[3..].iter().map(|r| r.event_id).collect();
    assert_tamper_caught(img.path(), &renumbered, &[rs[4].event_id]);
}

struct FailingSigner([u8; 32]);

impl std::fmt::Debug for FailingSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailingSigner")
    }
}

impl ReceiptSigner for FailingSigner {
    fn key_id(&self) -> [u8; 32] {
        self.0
    }
    fn sign(&self, _cover: &[u8]) -> Result<[u8; 64], batpak::BoxError> {
        Err("hardware token unplugged".into())
    }
}

#[derive(Clone, Copy, Debug)]
enum Key {
    None,
    Good,
    Failing,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    RefusedAtOpen,
    Signed,
    Unsigned,
    AppendFails,
}

#[test]
fn signing_policy_table() {
    use Key::*;
    use Outcome::*;
    let table = [
        (None, SigningPolicy::Optional, false, Unsigned),
        (None, SigningPolicy::Optional, true, Unsigned),
        (None, SigningPolicy::Required, false, RefusedAtOpen),
        (None, SigningPolicy::Required, true, RefusedAtOpen),
        (Good, SigningPolicy::Optional, false, Signed),
        (Good, SigningPolicy::Optional, true, Signed),
        (Good, SigningPolicy::Required, false, Signed),
        (Good, SigningPolicy::Required, true, RefusedAtOpen),
        (Failing, SigningPolicy::Optional, false, AppendFails),
        (Failing, SigningPolicy::Optional, true, Unsigned),
        (Failing, SigningPolicy::Required, false, AppendFails),
        (Failing, SigningPolicy::Required, true, RefusedAtOpen),
    ];
    for (key, policy, downgrade, want) in table {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::new(dir.path())
            .with_signing_policy(policy)
            .with_dangerous_signing_downgrade(downgrade);
        cfg = match key {
            None => cfg,
            Good => cfg.with_signing_key(signing_key(3)),
            Failing => cfg.with_signer(Arc::new(FailingSigner([1; 32]))),
        };
        let got = match Store::open(cfg) {
            Err(StoreError::Configuration { .. }) => RefusedAtOpen,
            Err(e) => panic!("{key:?} {policy:?} {downgrade}: unexpected {e}"),
            Ok(store) => match store.append(&coord("e", "s"), K, &1u8) {
                Ok(r) if r.signature.is_some() => {
                    assert!(store.verify_append_receipt(&r).is_signed());
                    Signed
                }
                Ok(r) => {
                    let v = store.verify_append_receipt(&r);
                    assert!(v.is_valid() && !v.is_signed());
                    Unsigned
                }
                Err(StoreError::SigningFailed { .. }) => {
                    assert!(store.is_empty(), "a failed signature writes nothing");
                    AppendFails
                }
                Err(e) => panic!("{key:?} {policy:?} {downgrade}: unexpected {e}"),
            },
        };
        assert_eq!(got, want, "{key:?} {policy:?} downgrade={downgrade}");
    }
}

#[test]
fn receipt_verifies_with_an_independent_ed25519_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(9);
    let public = key.verifying_key().to_bytes();
    let store = Store::open(
        StoreConfig::new(dir.path())
            .with_signing_key(key)
            .with_signing_policy(SigningPolicy::Required),
    )
    .unwrap();
    let c = coord("e", "s");
    store.append(&c, K, &0u8).unwrap();
    let r = store
        .append(&c, K, &serde_json::json!({"amount": 5}))
        .unwrap();
    // Cover built here from the documented layout alone: the domain tag is
    // spelled out rather than taken from `batpak::RECEIPT_COVER_DOMAIN`.
    let mut cover = b"batpak/receipt1\n".to_vec();
    cover.extend_from_slice(&r.event_id.as_u128().to_be_bytes());
    cover.extend_from_slice(&r.global_sequence.to_le_bytes());
    cover.extend_from_slice(&r.entity_sequence.to_le_bytes());
    cover.extend_from_slice(&r.content_hash);
    cover.extend_from_slice(&r.event_hash);
    cover.extend_from_slice(&r.prev_hash);
    cover.extend_from_slice(&public);
    assert_eq!(cover.len(), 176);
    assert_eq!(r.key_id, Some(public));
    let verifier = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public);
    verifier
        .verify(&cover, &r.signature.unwrap())
        .expect("ring verifies our receipt");
    let mut tampered = cover.clone();
    tampered[40] ^= 1;
    assert!(verifier.verify(&tampered, &r.signature.unwrap()).is_err());
    // Our own checks agree.
    assert_eq!(
        r.verify_signature(&ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap()),
        Ok(())
    );
    let v = store.verify_append_receipt(&r);
    assert!(v.is_valid() && v.is_signed());
}

#[test]
fn receipt_verification_distinguishes_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(5);
    let other = signing_key(6);
    let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key.clone())).unwrap();
    let r = store.append(&coord("e", "s"), K, &1u8).unwrap();
    assert!(matches!(
        store.verify_append_receipt(&r),
        ReceiptVerification::ValidSigned { .. }
    ));
    let mut unsigned = r.clone();
    unsigned.signature = None;
    unsigned.key_id = None;
    assert_eq!(
        store.verify_append_receipt(&unsigned),
        ReceiptVerification::ValidUnsigned
    );
    assert_eq!(
        unsigned.verify_signature(&key.verifying_key()),
        Err(ReceiptVerificationError::Unsigned)
    );
    let mut bad_sig = r.clone();
    bad_sig.signature.as_mut().unwrap()[0] ^= 1;
    assert_eq!(
        store.verify_append_receipt(&bad_sig),
        ReceiptVerification::SignatureInvalid
    );
    assert_eq!(
        bad_sig.verify_signature(&key.verifying_key()),
        Err(ReceiptVerificationError::BadSignature)
    );
    assert_eq!(
        r.verify_signature(&other.verifying_key()),
        Err(ReceiptVerificationError::WrongKey)
    );
    let mut forged = r.clone();
    forged.content_hash[0] ^= 1;
    assert_eq!(
        store.verify_append_receipt(&forged),
        ReceiptVerification::Mismatch {
            field: "content_hash"
        }
    );
    let mut moved = r.clone();
    moved.entity_sequence = 1;
    assert_eq!(
        store.verify_append_receipt(&moved),
        ReceiptVerification::Mismatch {
            field: "entity_sequence"
        }
    );
    let mut missing = r.clone();
    missing.event_id = EventId::from_u128(1);
    assert_eq!(
        store.verify_append_receipt(&missing),
        ReceiptVerification::NotFound
    );
    // Only a receipt that matches the stored event is valid; only a verified signature is signed.
    for bad in [&bad_sig, &forged, &moved, &missing] {
        let v = store.verify_append_receipt(bad);
        assert!(!v.is_signed(), "{v:?}");
        assert!(!v.is_valid(), "{v:?}");
    }
    let v = store.verify_append_receipt(&bad_sig);
    assert!(!v.is_valid() && !v.is_signed());
}

#[test]
fn ancestry_walks_report_their_boundary() {
    let (_dir, store) = temp_store();
    let c = coord("e", "s");
    let rs: Vec<AppendReceipt> = (0..5u8).map(|i| store.append(&c, K, &i).unwrap()).collect();
    store.append(&coord("other", "s"), K, &9u8).unwrap();
    let walk = store.walk_ancestors_outcome(rs[4].event_id, 100).unwrap();
    assert!(walk.reached_genesis());
    assert_eq!(walk.truncated_at(), None);
    let ids: Vec<EventId> = walk.ancestors.iter().map(|e| e.event_id()).collect();
    let want: Vec<EventId> = rs.iter().rev().map(|r| r.event_id).collect();
    assert_eq!(ids, want, "newest first, only this entity");
    let walk = store.walk_ancestors_outcome(rs[4].event_id, 2).unwrap();
    assert_eq!(walk.boundary, AncestryBoundary::LimitReached);
    assert_eq!(walk.truncated_at(), Some(rs[3].event_id));
    assert_eq!(store.walk_ancestors(rs[2].event_id, 10).unwrap().len(), 3);
    assert!(matches!(
        store.walk_ancestors_outcome(EventId::from_u128(7), 3),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn ancestry_walk_reports_a_parent_that_no_longer_hashes() {
    let (img, rs) = image();
    // Rewrite event 1's payload: its stored hash stays but event 2's prev_hash no longer
    // names a readable, matching parent once the frame's event_hash is recomputed by the attacker.
    rewrite_frames(img.path(), |fs| {
        *field(&mut fs[1], EVENT_HASH_FIELD) = rmpv::Value::Binary(vec![7; 32]);
    });
    let store = Store::open(StoreConfig::new(img.path())).unwrap();
    let walk = store.walk_ancestors_outcome(rs[2].event_id, 10).unwrap();
    assert_eq!(
        walk.boundary,
        AncestryBoundary::MissingParent {
            child: rs[2].event_id
        }
    );
    assert_eq!(walk.ancestors.len(), 1);
}

/// Rewrites one header field of an entity's last event in a sealed segment and
/// recomputes its event_hash as an attacker who knows the format would: the
/// frame is self-consistent, the chain link into it is unchanged, only the
/// footer (and so the index) disagrees.
fn rewrite_sealed_tip(
    field_index: usize,
    new_value: rmpv::Value,
    patch: impl Fn(&mut EventHeader),
) -> (tempfile::TempDir, EventId) {
    let (dir, store) = temp_store();
    let c = coord("e", "s");
    for i in 0..3u8 {
        store.append(&c, K, &i).unwrap();
    }
    let tip = store.append(&c, K, &3u8).unwrap();
    let raw = store.read_raw(tip.event_id).unwrap();
    store.close().unwrap();
    let seg = only_segment(dir.path());
    let (hdr, mut fs, tail) = sealed_parts(&std::fs::read(&seg).unwrap());
    let mut h = raw.event.header.clone();
    patch(&mut h);
    let forged = batpak::chain::event_hash(&h, &raw.coordinate);
    *field(&mut fs[3], field_index) = new_value;
    *field(&mut fs[3], EVENT_HASH_FIELD) = rmpv::Value::Binary(forged.to_vec());
    let mut out = reassemble(&hdr, &fs);
    out.extend_from_slice(&tail);
    std::fs::write(&seg, out).unwrap();
    (dir, tip.event_id)
}

#[test]
fn a_self_consistent_frame_that_disagrees_with_its_footer_is_a_mismatch() {
    let other = EventKind::custom(0xE, 2);
    let cases: Vec<(tempfile::TempDir, EventId)> = vec![
        rewrite_sealed_tip(KIND_FIELD, rmpv::Value::from(other.as_u16()), |h| {
            h.kind = other
        }),
        rewrite_sealed_tip(ENTITY_SEQUENCE_FIELD, rmpv::Value::from(7u64), |h| {
            h.entity_sequence = 7
        }),
        rewrite_sealed_tip(GLOBAL_SEQUENCE_FIELD, rmpv::Value::from(9u64), |h| {
            h.global_sequence = 9
        }),
    ];
    for (dir, id) in cases {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let report = store.verify_chain().unwrap();
        assert_eq!(report.mismatches, vec![id], "{report:?}");
        assert!(report.dangling.is_empty(), "{report:?}");
    }
}

#[test]
fn a_genesis_event_with_a_nonzero_prev_hash_is_not_genesis() {
    let (img, rs) = image();
    rewrite_frames(img.path(), |fs| {
        *field(&mut fs[0], PREV_HASH_FIELD) = rmpv::Value::Binary(vec![1; 32]);
    });
    let store = Store::open(StoreConfig::new(img.path())).unwrap();
    let walk = store.walk_ancestors_outcome(rs[0].event_id, 10).unwrap();
    assert_eq!(
        walk.boundary,
        AncestryBoundary::MissingParent {
            child: rs[0].event_id
        }
    );
    assert!(!walk.reached_genesis());
    assert_eq!(walk.truncated_at(), Some(rs[0].event_id));
}
