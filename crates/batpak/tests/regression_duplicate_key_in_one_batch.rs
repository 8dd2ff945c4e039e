//! Regression: a batch carrying the same idempotency key twice wrote both events, and its retry then answered with two receipts of the second (same payloads) or failed as a conflict (different payloads). Such a batch is now refused whole, before anything is written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use batpak::prelude::*;

const K: EventKind = EventKind::custom(0xE, 1);

fn keyed(key: IdempotencyKey, v: u32) -> BatchAppendItem {
    BatchAppendItem::new(
        Coordinate::new("account:1", "bank").unwrap(),
        K,
        &serde_json::json!({ "v": v }),
        AppendOptions::default().with_idempotency_key(key),
        CausationRef::None,
    )
    .unwrap()
}

#[test]
fn a_batch_that_repeats_an_idempotency_key_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let key = IdempotencyKey::from_bytes([9; 16]);
    let other = IdempotencyKey::from_bytes([8; 16]);
    for payloads in [[5, 5], [6, 7]] {
        let batch = vec![
            keyed(other, 1),
            keyed(key, payloads[0]),
            keyed(key, payloads[1]),
        ];
        let err = store.append_batch(batch).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::DuplicateIdempotencyKey { key: k, first: 1, second: 2 } if k == key
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "duplicate_idempotency_key");
        assert_eq!(store.len(), 0, "nothing of the refused batch was written");
    }
    // The key is still free: a batch that uses it once commits, and its retry
    // returns the first receipts.
    let first = store
        .append_batch(vec![keyed(key, 5), keyed(other, 1)])
        .unwrap();
    let retry = store
        .append_batch(vec![keyed(key, 5), keyed(other, 1)])
        .unwrap();
    assert_eq!(first, retry);
    assert_eq!(store.len(), 2);
}
