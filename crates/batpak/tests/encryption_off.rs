//! A build without the feature `payload-encryption` and a store that has a
//! keyset: a writer refuses it (its appends would go unsealed beside sealed
//! ones), a damaged keyset is a typed error, and readers still open it.
#![cfg(not(feature = "payload-encryption"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use batpak::format::{KEYSET_FILE, KEYSET_MAGIC, KEYSET_VERSION};
use batpak::prelude::*;
use batpak::KeyScopeGranularity;

/// An empty keyset of granularity PerTypeId, spelled out from docs/FORMAT.md.
fn keyset_bytes() -> Vec<u8> {
    let mut b = KEYSET_MAGIC.to_vec();
    b.extend_from_slice(&KEYSET_VERSION.to_le_bytes());
    b.extend_from_slice(&[3, 0]);
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn a_writer_without_the_feature_refuses_a_store_with_a_keyset() {
    let (dir, store) = temp_store();
    let r = store
        .append(&coord("a", "s"), EventKind::custom(0xE, 1), &1u8)
        .unwrap();
    store.close().unwrap();
    std::fs::write(dir.path().join(KEYSET_FILE), keyset_bytes()).unwrap();
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::KeyScopeGranularityMismatch {
                stored: KeyScopeGranularity::PerTypeId,
                configured: None
            }
        ),
        "{err:?}"
    );
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(ro.get(r.event_id).unwrap().event.payload, 1);
    let mut bad = keyset_bytes();
    bad[12] ^= 1;
    std::fs::write(dir.path().join(KEYSET_FILE), bad).unwrap();
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, StoreError::KeysetCorrupt { .. }), "{err:?}");
}
