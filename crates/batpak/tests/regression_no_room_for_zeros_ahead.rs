//! Regression: when the disk had room for an append's frame but not for the zeros the writer writes ahead of it, the append failed with WriterFailed although its frame was in the log (a retry without an idempotency key duplicated it), and the last MiB of free space could not be used. Writing ahead is an optimisation: without room for it the append goes on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(feature = "sim")]

use std::sync::Arc;

use batpak::prelude::*;
use batpak::sim::{FaultPlan, SimFs};

const K: EventKind = EventKind::custom(0xE, 1);

#[test]
fn appends_use_the_space_left_and_only_acknowledged_events_are_in_the_log() {
    // 64 KiB of disk: room for dozens of 1 KiB frames, never for the 1 MiB
    // of zeros a segment of 4 MiB is grown by.
    let sim = SimFs::with_plan(FaultPlan::none(5).with_disk_budget(64 << 10));
    let cfg = StoreConfig::new("/sim/no-room-ahead")
        .with_fs(Arc::new(sim.clone()))
        .with_segment_max_bytes(4 << 20);
    let store = Store::open(cfg.clone()).unwrap();
    let coord = Coordinate::new("account:1", "bank").unwrap();
    let payload = "x".repeat(1000);
    let mut acked = Vec::new();
    let err = loop {
        match store.append(&coord, K, &payload) {
            Ok(r) => {
                assert!(r.durable);
                acked.push(r);
            }
            Err(e) => break e,
        }
        assert!(acked.len() < 1000, "the disk never filled up");
    };
    assert!(
        acked.len() >= 40,
        "only {} appends fit in 64 KiB: the space was not used",
        acked.len()
    );
    assert_eq!(
        err.io_kind(),
        Some(std::io::ErrorKind::StorageFull),
        "the failing append names the full disk: {err:?}"
    );
    sim.crash();
    drop(store);
    sim.set_disk_budget(None);
    let store = Store::open(cfg).unwrap();
    assert_eq!(
        store.len(),
        acked.len() as u64,
        "exactly the acknowledged events are in the log"
    );
    for r in &acked {
        assert!(store.verify_append_receipt(r).is_valid(), "lost {r:?}");
    }
    assert!(store.verify_chain().unwrap().is_intact());
    store.append(&coord, K, &"room again").unwrap();
}
