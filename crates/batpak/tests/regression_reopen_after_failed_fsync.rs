//! Regression: after an fsync failed, the pages it could not write stay in
//! the OS cache marked clean. A store reopened without a crash (same process,
//! or a restarted process on a running machine) read those frames as if they
//! were on disk, built new acknowledged appends on them, and a later power
//! loss left a hole in front of acknowledged events.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, fill_first_segment, sim_config, sim_small_segments, ROTATING_PAYLOAD_LEN};

use batpak::format::SYNC_FAILURE_FILE;
use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, SimFs};

const KIND: EventKind = EventKind::custom(0xE, 0x42);
const DIR: &str = "/sim/reopen-after-failed-fsync";
const ENTITY: &str = "entity:reopen";

#[test]
fn appends_after_reopening_on_a_failed_fsync_survive_a_later_power_loss() {
    let at = coord(ENTITY, "scope:r");
    let sim = SimFs::with_plan(FaultPlan::none(7));
    let store = Store::open(sim_config(&sim, DIR)).unwrap();
    let mut acked = Vec::new();
    for i in 0..5u32 {
        acked.push(store.append(&at, KIND, &i).unwrap());
    }
    // The next append's fsync fails: it is not acknowledged, and its frame
    // stays in the live image on pages a later fsync will not write.
    sim.arm(FaultKind::FailSync, 1);
    let failed = store.append(&at, KIND, &"never acknowledged");
    assert!(failed.is_err(), "{failed:?}");
    let _ = store.close();

    // Reopen without a crash: the OS cache still holds the unsynced frame.
    let store = Store::open(sim_config(&sim, DIR)).unwrap();
    assert_eq!(
        store.len(),
        5,
        "the unacknowledged frame is not part of the log"
    );
    assert!(store.open_report().cut_after_failed_sync > 0);
    assert!(
        !sim.live_files(std::path::Path::new(DIR))
            .iter()
            .any(|f| f == SYNC_FAILURE_FILE),
        "the record is removed once applied"
    );
    for i in 0..5u32 {
        acked.push(store.append(&at, KIND, &(100 + i)).unwrap());
    }
    drop(store);

    // Power loss: only what fsync wrote survives.
    sim.crash();
    let store = Store::open(sim_config(&sim, DIR)).unwrap();
    assert_eq!(store.len(), acked.len() as u64);
    for r in &acked {
        assert!(store.verify_append_receipt(r).is_valid(), "lost {r:?}");
    }
    let report = store.verify_chain().unwrap();
    assert!(report.is_intact(), "{report:?}");
}

/// Every fsync (file or directory) of an append that seals a full segment and
/// creates the next one fails in turn; after each, a reopen without a crash,
/// more appends and then a power loss keep exactly the acknowledged events.
#[test]
fn a_failed_fsync_at_any_point_of_a_rotation_is_cut_back_at_reopen() {
    let at = coord(ENTITY, "scope:r");
    let big = "r".repeat(ROTATING_PAYLOAD_LEN);
    for (kind, nth) in [
        (FaultKind::FailSync, 1),
        (FaultKind::FailSync, 2),
        (FaultKind::FailSync, 3),
        (FaultKind::FailSyncDir, 1),
    ] {
        let sim = SimFs::with_plan(FaultPlan::none(11));
        let cfg = || sim_small_segments(&sim, DIR);
        let store = Store::open(cfg()).unwrap();
        let mut acked = fill_first_segment(&store, &at, KIND, &big);
        sim.arm(kind, nth);
        // This append fills the segment: seal, create the next, write, sync.
        match store.append(&at, KIND, &big) {
            Ok(r) => acked.push(r),
            Err(e) => assert!(
                matches!(e, StoreError::Io { .. } | StoreError::WriterFailed { .. }),
                "{kind:?} #{nth}: {e:?}"
            ),
        }
        sim.heal();
        let _ = store.close();

        let store = Store::open(cfg()).unwrap();
        assert_eq!(store.len(), acked.len() as u64, "{kind:?} #{nth}");
        for _ in 0..3 {
            acked.push(store.append(&at, KIND, &big).unwrap());
        }
        drop(store);

        sim.crash();
        let store = Store::open(cfg()).unwrap();
        assert_eq!(store.len(), acked.len() as u64, "{kind:?} #{nth}");
        for r in &acked {
            assert!(
                store.verify_append_receipt(r).is_valid(),
                "{kind:?} #{nth}: lost {r:?}"
            );
        }
        assert!(store.verify_chain().unwrap().is_intact(), "{kind:?} #{nth}");
    }
}
