//! Regression: frames of the second and later requests in one writer group were
//! indexed at offsets that counted the group buffer twice, so reads failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Barrier};

use batpak::prelude::*;
use batpak::ReceiptSigner;

#[derive(Debug)]
struct HoldFirst {
    key: ed25519_dalek::SigningKey,
    gate: Arc<Barrier>,
    held: std::sync::atomic::AtomicBool,
}

impl ReceiptSigner for HoldFirst {
    fn key_id(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    fn sign(&self, cover: &[u8]) -> Result<[u8; 64], batpak::BoxError> {
        if !self.held.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.gate.wait();
        }
        ReceiptSigner::sign(&self.key, cover)
    }
}

#[test]
fn every_request_of_a_multi_request_group_reads_back() {
    for segment_bytes in [1 << 20, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(Barrier::new(2));
        let signer = HoldFirst {
            key: ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
            gate: gate.clone(),
            held: false.into(),
        };
        let store = Store::open(
            StoreConfig::new(dir.path())
                .with_signer(Arc::new(signer))
                .with_segment_max_bytes(segment_bytes),
        )
        .unwrap();
        let k = EventKind::custom(0xE, 1);
        let c = |i: u32| Coordinate::new(format!("e{}", i % 3), "s").unwrap();
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
