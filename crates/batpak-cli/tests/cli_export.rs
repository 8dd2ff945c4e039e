//! `batpak export` lines carry everything needed to recompute content_hash,
//! event_hash and the prev_hash links. This test re-derives them from the
//! exported fields with the `blake3` crate alone, following the recipe in the
//! crate README, without calling the store's chain functions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use batpak::prelude::*;
use batpak::{
    AppendOptions, BypassReason, CausationRef, Denial, Gate, GateSet, IdempotencyKey, Pipeline,
    Proposal,
};
use common::{batpak, path_str, stderr, NOTED};
use serde_json::Value;

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn u64_of(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

fn opt_id(out: &mut Vec<u8>, hex: &Value) {
    match hex.as_str() {
        None => out.push(0),
        Some(h) => {
            out.push(1);
            let bytes = unhex(h);
            assert_eq!(bytes.len(), 16);
            out.extend(bytes);
        }
    }
}

fn sized(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u32).to_le_bytes());
    out.extend(s.as_bytes());
}

/// The canonical header bytes, rebuilt from one exported line.
fn canonical(line: &Value) -> Vec<u8> {
    let mut b = unhex(line["event_id_hex"].as_str().unwrap());
    assert_eq!(b.len(), 16);
    b.extend(u64_of(line, "global_sequence").to_le_bytes());
    b.extend(u64_of(line, "entity_sequence").to_le_bytes());
    b.extend((u64_of(line, "kind") as u16).to_le_bytes());
    b.extend(u64_of(line, "wall_ms").to_le_bytes());
    b.extend(u64_of(line, "hlc_physical_ms").to_le_bytes());
    b.extend((u64_of(line, "hlc_logical") as u32).to_le_bytes());
    opt_id(&mut b, &line["correlation_id_hex"]);
    opt_id(&mut b, &line["causation_id_hex"]);
    opt_id(&mut b, &line["idempotency_key_hex"]);
    b.extend((u64_of(line, "payload_version") as u16).to_le_bytes());
    sized(&mut b, line["entity"].as_str().unwrap());
    sized(&mut b, line["scope"].as_str().unwrap());
    b.extend(unhex(line["prev_hash"].as_str().unwrap()));
    // Attestation: tag byte; if present, u32 section length, u32 count, then
    // each string as u32 length + UTF-8 bytes.
    let tag = u64_of(line, "attestation_tag") as u8;
    b.push(tag);
    if tag != 0 {
        let strings = line["attestation_strings"].as_array().unwrap();
        let mut section = (strings.len() as u32).to_le_bytes().to_vec();
        for s in strings {
            sized(&mut section, s.as_str().unwrap());
        }
        b.extend((section.len() as u32).to_le_bytes());
        b.extend(section);
    }
    // Layout 2 ends in the batch framing; layout 1 (version-1 segments) does not.
    match u64_of(line, "hash_version") {
        1 => {}
        2 => b.extend((u64_of(line, "batch_remaining") as u32).to_le_bytes()),
        v => panic!("unknown hash_version {v}"),
    }
    b
}

struct Named(&'static str);

impl Gate<()> for Named {
    fn name(&self) -> &'static str {
        self.0
    }
    fn evaluate(&self, _: &()) -> Result<(), Denial> {
        Ok(())
    }
}

fn event_hash(line: &Value, canonical: &[u8], content_hash: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(match u64_of(line, "hash_version") {
        1 => b"batpak/event/v1\n",
        _ => b"batpak/event/v2\n",
    });
    h.update(canonical);
    h.update(content_hash);
    *h.finalize().as_bytes()
}

#[test]
fn exported_lines_rehash_and_link_without_batpak_code() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(tmp.path())).unwrap();
    let gated: Pipeline<()> = Pipeline::new(
        GateSet::new()
            .with(Named("amount_positive"))
            .with(Named("limit")),
    );
    let mut written = Vec::new();
    for i in 0..12u32 {
        let coord = Coordinate::new(format!("order:{}", i % 3), "shop:eu").unwrap();
        let payload = serde_json::json!({"i": i, "items": ["a", "b"], "total": f64::from(i) * 1.5});
        let r = if i == 5 {
            let approved = gated
                .evaluate(&(), Proposal::new(NOTED, &payload).unwrap())
                .unwrap();
            gated.commit(&store, &coord, approved).unwrap()
        } else if i == 9 {
            let proposal = Proposal::new(NOTED, &payload).unwrap();
            let approved = gated
                .bypass(proposal, BypassReason::new("INC-7", "gate service down"))
                .unwrap();
            gated.commit(&store, &coord, approved).unwrap()
        } else if i % 4 == 3 {
            // Present correlation, causation and idempotency ids exercise the optional-id encoding.
            let opts = AppendOptions::default()
                .with_idempotency_key(IdempotencyKey::from_bytes([i as u8; 16]))
                .with_correlation_id(CorrelationId::from_u128(0xC0FFEE + u128::from(i)))
                .with_causation(CausationRef::Event(
                    written
                        .last()
                        .map(|(r, _): &(AppendReceipt, Value)| r.event_id)
                        .unwrap(),
                ));
            store
                .append_with_options(&coord, NOTED, &payload, opts)
                .unwrap()
        } else {
            store.append(&coord, NOTED, &payload).unwrap()
        };
        written.push((r, payload));
    }
    store.close().unwrap();

    let out = batpak(&["export", path_str(tmp.path()), "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The last line is the tree head (tests/cli_proofs.rs checks it); the
    // rest are the events.
    assert_eq!(lines.pop().unwrap()["record"], "tree_head");
    assert_eq!(lines.len(), written.len());

    let mut tips: HashMap<String, Vec<u8>> = HashMap::new();
    let mut next_entity_seq: HashMap<String, u64> = HashMap::new();
    for (n, (line, (receipt, payload))) in lines.iter().zip(&written).enumerate() {
        // Order: global sequence = line number from 0; entity sequence 0, 1, … per entity.
        assert_eq!(u64_of(line, "global_sequence"), n as u64);
        let entity = line["entity"].as_str().unwrap().to_owned();
        let expected_es = next_entity_seq.get(&entity).copied().unwrap_or(0);
        assert_eq!(u64_of(line, "entity_sequence"), expected_es);
        next_entity_seq.insert(entity.clone(), expected_es + 1);

        // Identity fields agree with each other and with what the writer returned.
        assert_eq!(line["event_id"], receipt.event_id.to_string());
        assert_eq!(
            line["event_id_hex"].as_str().unwrap(),
            line["event_id"].as_str().unwrap().replace('-', "")
        );
        assert_eq!(u64_of(line, "global_sequence"), receipt.global_sequence);
        assert_eq!(line["kind_hex"], "e022");
        assert_eq!(u64_of(line, "kind"), 0xE022);
        assert_eq!(&line["payload"], payload);
        assert!(line.get("payload_error").is_none());

        // content_hash = blake3(stored payload bytes)
        let stored = base64::engine::general_purpose::STANDARD
            .decode(line["payload_base64"].as_str().unwrap())
            .unwrap();
        let content = blake3::hash(&stored);
        assert_eq!(
            content.as_bytes().to_vec(),
            unhex(line["content_hash"].as_str().unwrap())
        );

        // event_hash = blake3(domain ‖ canonical header ‖ content_hash)
        let canon = canonical(line);
        assert_eq!(canon, unhex(line["canonical_header_hex"].as_str().unwrap()));
        let recomputed = event_hash(line, &canon, content.as_bytes());
        let stored_hash = unhex(line["event_hash"].as_str().unwrap());
        assert_eq!(recomputed.to_vec(), stored_hash);
        assert_eq!(recomputed, receipt.event_hash);

        // A changed field changes the hash: the recipe covers the metadata.
        let mut tampered = line.clone();
        tampered["wall_ms"] = Value::from(u64_of(line, "wall_ms") + 1);
        assert_ne!(
            event_hash(&tampered, &canonical(&tampered), content.as_bytes()).to_vec(),
            stored_hash
        );
        // So does the batch framing, in layout 2.
        assert_eq!(u64_of(line, "hash_version"), 2);
        let mut tampered = line.clone();
        tampered["batch_remaining"] = Value::from(u64_of(line, "batch_remaining") + 1);
        assert_ne!(
            event_hash(&tampered, &canonical(&tampered), content.as_bytes()).to_vec(),
            stored_hash
        );

        // prev_hash links to the same entity's previous line, zeros at genesis.
        let prev = unhex(line["prev_hash"].as_str().unwrap());
        match tips.get(&entity) {
            None => {
                assert_eq!(u64_of(line, "entity_sequence"), 0);
                assert_eq!(prev, vec![0u8; 32]);
            }
            Some(tip) => assert_eq!(&prev, tip),
        }
        tips.insert(entity, stored_hash);

        // The unhashed conveniences agree with the hashed fields.
        for id in ["correlation_id", "causation_id"] {
            let hex = &line[format!("{id}_hex").as_str()];
            match line[id].as_str() {
                None => assert!(line[id].is_null() && hex.is_null(), "{id}"),
                Some(text) => assert_eq!(text.replace('-', ""), hex.as_str().unwrap()),
            }
        }
        let strings = line["attestation_strings"].as_array().unwrap();
        let attestation = &line["attestation"];
        match u64_of(line, "attestation_tag") {
            0 => assert!(attestation.is_null() && strings.is_empty()),
            1 => {
                assert_eq!(attestation["type"], "passed");
                assert_eq!(attestation["gates"].as_array().unwrap(), strings);
            }
            2 => {
                assert_eq!(attestation["type"], "bypassed");
                assert_eq!(strings.len(), 2);
                assert_eq!(
                    [&attestation["ticket"], &attestation["reason"]],
                    [&strings[0], &strings[1]]
                );
            }
            tag => panic!("attestation tag {tag}"),
        }
    }
    assert_eq!(tips.len(), 3);
    let with_ids = &lines[3];
    assert_eq!(with_ids["causation_id"], lines[2]["event_id"]);
    assert_eq!(
        with_ids["correlation_id_hex"],
        format!("{:032x}", 0xC0FFEE + 3)
    );
    assert_eq!(with_ids["idempotency_key_hex"], "03".repeat(16));
    assert!(lines[2]["idempotency_key_hex"].is_null());
    assert_eq!(lines[5]["attestation"]["type"], "passed");
    assert_eq!(lines[5]["attestation_tag"], 1);
    assert_eq!(
        lines[5]["attestation_strings"],
        serde_json::json!(["amount_positive", "limit"])
    );
    assert_eq!(lines[9]["attestation"]["type"], "bypassed");
    assert_eq!(lines[9]["attestation_tag"], 2);
    assert_eq!(
        lines[9]["attestation_strings"],
        serde_json::json!(["INC-7", "gate service down"])
    );
    assert!(lines[0]["attestation"].is_null());
    assert_eq!(lines[0]["attestation_tag"], 0);
}

#[test]
fn export_to_a_file_matches_stdout_and_undecodable_payloads_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(tmp.path())).unwrap();
    let coord = Coordinate::new("blob:1", "s").unwrap();
    // Raw bytes encode as msgpack bin: exported as an array of byte values,
    // as `Store::get` reads them.
    store
        .append(&coord, NOTED, &serde_bytes_like(vec![1, 2, 3]))
        .unwrap();
    store.append(&coord, NOTED, &"plain").unwrap();
    // A msgpack extension type has no JSON form at all.
    store.append(&coord, NOTED, &ext_type(5, vec![9])).unwrap();
    store.close().unwrap();
    let file = tmp.path().join("out.jsonl");
    let out = batpak(&["export", path_str(tmp.path()), "-o", path_str(&file)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_file = std::fs::read_to_string(&file).unwrap();
    let from_stdout = String::from_utf8(batpak(&["export", path_str(tmp.path())]).stdout).unwrap();
    assert_eq!(from_file, from_stdout);
    let mut lines: Vec<Value> = from_file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.pop().unwrap()["record"], "tree_head");
    assert_eq!(lines[0]["payload"], serde_json::json!([1, 2, 3]));
    assert!(lines[0].get("payload_error").is_none(), "{}", lines[0]);
    assert_eq!(lines[0]["payload_base64"], "xAMBAgM=");
    assert_eq!(lines[1]["payload"], "plain");
    assert!(lines[2]["payload"].is_null());
    assert!(
        lines[2]["payload_error"]
            .as_str()
            .is_some_and(|e| e.contains("extension")),
        "{}",
        lines[2]
    );
}

/// A msgpack extension value (rmp-serde writes its `_ExtStruct` newtype as one).
fn ext_type(tag: i8, data: Vec<u8>) -> impl serde::Serialize {
    struct Ext(i8, Vec<u8>);
    impl serde::Serialize for Ext {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_newtype_struct("_ExtStruct", &(self.0, serde_bytes_like(self.1.clone())))
        }
    }
    Ext(tag, data)
}

/// A value that serializes as bytes (msgpack bin), without another crate.
fn serde_bytes_like(v: Vec<u8>) -> impl serde::Serialize {
    struct Bytes(Vec<u8>);
    impl serde::Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
    Bytes(v)
}

#[cfg(feature = "payload-encryption")]
#[test]
fn an_encrypted_store_exports_sealed_bytes_its_opened_payloads_and_marks_shredded_events() {
    use batpak::{KeyScopeGranularity, ShredScope};
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(
        StoreConfig::new(tmp.path()).with_payload_encryption(KeyScopeGranularity::PerEntity),
    )
    .unwrap();
    let alice = Coordinate::new("person:alice", "crm").unwrap();
    let bob = Coordinate::new("person:bob", "crm").unwrap();
    let a = store
        .append(
            &alice,
            NOTED,
            &serde_json::json!({"email": "a@example.org"}),
        )
        .unwrap();
    let b = store
        .append(&bob, NOTED, &serde_json::json!({"email": "b@example.org"}))
        .unwrap();
    assert!(store.shred_scope(ShredScope::Entity(&alice)).unwrap());
    store.close().unwrap();
    let out = batpak(&["export", path_str(tmp.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.pop().unwrap()["record"], "tree_head");
    assert_eq!(lines.len(), 2);
    for (line, r) in lines.iter().zip([&a, &b]) {
        assert_eq!(line["payload_sealed"], true, "{line}");
        // The hashes cover the sealed bytes, so they recompute from the export alone.
        let stored = base64::engine::general_purpose::STANDARD
            .decode(line["payload_base64"].as_str().unwrap())
            .unwrap();
        let content = blake3::hash(&stored);
        assert_eq!(
            unhex(line["content_hash"].as_str().unwrap()),
            content.as_bytes()
        );
        assert_eq!(
            event_hash(line, &canonical(line), content.as_bytes()),
            r.event_hash,
            "{line}"
        );
    }
    assert_eq!(lines[0]["shredded"], true);
    assert!(lines[0]["payload"].is_null());
    assert!(lines[0].get("payload_error").is_none());
    assert!(lines[1].get("shredded").is_none());
    assert_eq!(lines[1]["payload"]["email"], "b@example.org");
    let verify = batpak(&["verify", path_str(tmp.path())]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}
