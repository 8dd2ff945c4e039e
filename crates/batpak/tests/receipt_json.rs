//! The portable JSON form of receipts against real stores: signed receipts
//! read back from JSON still verify, with the key alone and against the
//! store, and the signature covers exactly the fields docs/FORMAT.md says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use batpak::prelude::*;
use batpak::ReceiptVerificationError;
use serde_json::Value;

const K: EventKind = EventKind::custom(0xE, 9);

/// `json` with `key` set to `value`.
fn edited(json: &str, key: &str, value: Value) -> AppendReceipt {
    let mut v: Value = serde_json::from_str(json).unwrap();
    v[key] = value;
    AppendReceipt::from_json(&v.to_string()).unwrap()
}

/// Another value of the same JSON shape as `v`, still in the portable form.
fn changed(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => Value::from(n.as_u64().unwrap() ^ 1),
        Value::String(s) if s.contains('-') => {
            // An event id: flip its last hex digit.
            let mut s = s.clone();
            let last = s.pop().unwrap();
            s.push(if last == '0' { '1' } else { '0' });
            Value::String(s)
        }
        Value::String(s) if s.len() >= 32 => {
            let mut s = s.clone();
            let first = s.remove(0);
            s.insert(0, if first == '0' { '1' } else { '0' });
            Value::String(s)
        }
        Value::String(s) => Value::String((s.parse::<u64>().unwrap() + 1).to_string()),
        other => panic!("no change for {other}"),
    }
}

#[test]
fn signed_receipts_read_back_from_json_still_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(5);
    let trusted = key.verifying_key();
    let cfg = StoreConfig::new(dir.path()).with_signing_key(key);
    let store = Store::open(cfg.clone()).unwrap();
    let mut receipts = vec![store.append(&coord("a", "s"), K, &1u8).unwrap()];
    let opts = AppendOptions::default().with_idempotency_key(idempotency_key(3));
    receipts.push(
        store
            .append_with_options(&coord("a", "s"), K, &"second", opts)
            .unwrap(),
    );
    let item = |e: &str, n: u32| {
        BatchAppendItem::new(
            coord(e, "s"),
            K,
            &n,
            AppendOptions::default(),
            CausationRef::None,
        )
        .unwrap()
    };
    receipts.extend(
        store
            .append_batch(vec![item("b", 1), item("a", 2)])
            .unwrap(),
    );

    for r in &receipts {
        assert!(r.signature.is_some() && r.durable);
        let json = r.to_json();
        // No JSON number a double could round: every integer but the u32 is a string.
        let v: Value = serde_json::from_str(&json).unwrap();
        for (k, field) in v.as_object().unwrap() {
            if let Value::Number(n) = field {
                assert_eq!(k, "hlc_logical");
                assert!(n.as_u64().unwrap() <= u64::from(u32::MAX));
            }
        }
        assert_eq!(v["event_id"], r.event_id.to_string());
        let back = AppendReceipt::from_json(&json).unwrap();
        assert_eq!(&back, r);
        assert_eq!(back.to_json(), json);
        back.verify_signature(&trusted).unwrap();
        assert_eq!(
            store.verify_append_receipt(&back),
            ReceiptVerification::ValidSigned {
                key_id: trusted.to_bytes()
            }
        );
    }
    store.close().unwrap();

    // Against the store reopened from disk, and read-only.
    let store = Store::open(cfg.clone()).unwrap();
    let ro = Store::open_read_only(cfg).unwrap();
    for r in &receipts {
        let back = AppendReceipt::from_json(&r.to_json()).unwrap();
        assert!(store.verify_append_receipt(&back).is_signed());
        assert!(ro.verify_append_receipt(&back).is_signed());
    }
}

#[test]
fn the_signature_covers_ids_sequences_and_hashes_not_durable_or_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let key = signing_key(8);
    let trusted = key.verifying_key();
    let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key)).unwrap();
    store.append(&coord("a", "s"), K, &0u8).unwrap();
    let r = store.append(&coord("a", "s"), K, &1u8).unwrap();
    let json = r.to_json();
    let v: Value = serde_json::from_str(&json).unwrap();
    let signed = [
        "event_id",
        "global_sequence",
        "entity_sequence",
        "content_hash",
        "event_hash",
        "prev_hash",
        "key_id",
        "signature",
    ];
    let unsigned = ["durable", "hlc_physical_ms", "hlc_logical"];
    assert_eq!(
        v.as_object().unwrap().len(),
        signed.len() + unsigned.len(),
        "every field is one or the other"
    );
    for field in signed {
        let forged = edited(&json, field, changed(&v[field]));
        let err = forged.verify_signature(&trusted).unwrap_err();
        let want = if field == "key_id" {
            ReceiptVerificationError::WrongKey
        } else {
            ReceiptVerificationError::BadSignature
        };
        assert_eq!(err, want, "{field}");
    }
    for field in unsigned {
        let relabelled = edited(&json, field, changed(&v[field]));
        assert_ne!(relabelled, r, "{field}");
        relabelled.verify_signature(&trusted).unwrap();
        // The store compares only what the signature covers, too.
        assert!(
            store.verify_append_receipt(&relabelled).is_signed(),
            "{field}"
        );
    }
}

#[test]
fn unsigned_receipts_write_null_and_verify_unsigned() {
    let (_dir, store) = temp_store();
    let r = store.append(&coord("a", "s"), K, &1u8).unwrap();
    let json = r.to_json();
    assert!(
        json.ends_with(",\"key_id\":null,\"signature\":null}"),
        "{json}"
    );
    let back = AppendReceipt::from_json(&json).unwrap();
    assert_eq!(back, r);
    assert_eq!(
        store.verify_append_receipt(&back),
        ReceiptVerification::ValidUnsigned
    );
}
