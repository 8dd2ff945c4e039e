//! Regression: frames of the second and later requests in one writer group were
//! indexed at offsets that counted the group buffer twice, so reads failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, signing_key, BarrierSigner, SMALL_SEGMENT_BYTES};

use std::sync::{Arc, Barrier};

use batpak::prelude::*;

#[test]
fn every_request_of_a_multi_request_group_reads_back() {
    for segment_bytes in [1 << 20, SMALL_SEGMENT_BYTES] {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(Barrier::new(2));
        let signer = BarrierSigner::first(signing_key(2), gate.clone());
        let store = Store::open(
            StoreConfig::new(dir.path())
                .with_signer(Arc::new(signer))
                .with_segment_max_bytes(segment_bytes),
        )
        .unwrap();
        let k = EventKind::custom(0xE, 1);
        let c = |i: u32| coord(format!("e{}", i % 3), "s");
        // The writer holds the first request in the signer while the rest queue up,
        // so they are then handled as one group (with rotations inside it at 4 KiB).
        let first = store.submit(&c(0), k, &"x".repeat(100)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let rest: Vec<AppendTicket> = (1..60u32)
            .map(|i| store.submit(&c(i), k, &"y".repeat(100)).unwrap())
            .collect();
        gate.wait();
        let mut receipts = vec![first.wait().unwrap()];
        receipts.extend(rest.into_iter().map(|t| t.wait().unwrap()));
        for r in &receipts {
            let raw = store.read_raw(r.event_id).unwrap();
            assert_eq!(raw.event.header.event_hash, r.event_hash);
        }
        assert!(store.verify_chain().unwrap().is_intact());
        store.close().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        assert_eq!(store.len(), 60);
        assert!(store.verify_chain().unwrap().is_intact());
    }
}
