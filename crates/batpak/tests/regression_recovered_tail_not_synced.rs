//! Regression: a writer reopening a store built on a tail it had only read, never synced (frames a failed writer left in the OS cache, or a segment whose directory entry a failed directory fsync never made durable), and reported appends on it as durable, so a power loss afterwards lost acknowledged-durable appends.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, OpClass, SimFs};
use batpak::{AppendOptions, IdempotencyKey};

const KIND: EventKind = EventKind::custom(0xE, 0x42);

fn coord() -> Coordinate {
    Coordinate::new("entity:tail", "scope:r").unwrap()
}

fn cfg(sim: &SimFs, dir: &str) -> StoreConfig {
    StoreConfig::new(dir)
        .with_fs(Arc::new(sim.clone()))
        .with_segment_max_bytes(4096)
}

#[test]
fn a_segment_whose_directory_entry_never_became_durable_is_made_durable_at_reopen() {
    let big = "t".repeat(900);
    let fill = |store: &Store| {
        for _ in 0..3 {
            store.append(&coord(), KIND, &big).unwrap();
        }
    };
    // Dry run: which directory fsync makes the rotated-to segment's entry durable.
    let dry = SimFs::with_plan(FaultPlan::none(51));
    let s = Store::open(cfg(&dry, "/sim/dir-entry")).unwrap();
    fill(&s);
    dry.start_trace();
    s.append(&coord(), KIND, &big).unwrap();
    let nth = dry
        .take_trace()
        .iter()
        .rev()
        .find(|t| t.op == OpClass::SyncDir)
        .expect("rotation syncs the directory")
        .nth;
    drop(s);

    let sim = SimFs::with_plan(FaultPlan::none(51).with_fault(FaultKind::FailSyncDir, nth));
    let c = cfg(&sim, "/sim/dir-entry");
    let store = Store::open(c.clone()).unwrap();
    fill(&store);
    assert!(
        store.append(&coord(), KIND, &big).is_err(),
        "the directory fsync failed"
    );
    drop(store);
    // Same boot: the new segment is visible, its directory entry is not durable.
    let store = Store::open(c.clone()).unwrap();
    let acked = store.append(&coord(), KIND, &"after reopen").unwrap();
    assert!(acked.durable);
    sim.crash();
    drop(store);
    let store = Store::open(c).unwrap();
    assert!(
        store.verify_append_receipt(&acked).is_valid(),
        "an append acknowledged as durable was lost with its segment's directory entry"
    );
}

#[test]
fn frames_read_from_the_os_cache_are_synced_before_a_retry_calls_them_durable() {
    let sim = SimFs::with_plan(FaultPlan::none(52));
    let c = cfg(&sim, "/sim/cache").with_sync_mode(SyncMode::OsBuffered);
    let store = Store::open(c.clone()).unwrap();
    let key = IdempotencyKey::from_bytes(*b"tail-in-os-cache");
    let opts = AppendOptions::default().with_idempotency_key(key);
    let first = store
        .append_with_options(&coord(), KIND, &"volatile", opts)
        .unwrap();
    assert!(!first.durable);
    // The writer fails before it ever syncs, so closing does not sync either.
    sim.arm(FaultKind::FailWrite, 1);
    assert!(store.append(&coord(), KIND, &"doomed").is_err());
    drop(store);
    // Same boot: recovery reads the frame from the cache; the retry finds it.
    let store = Store::open(c.clone()).unwrap();
    let retry = store
        .append_with_options(&coord(), KIND, &"volatile", opts)
        .unwrap();
    assert_eq!(retry.event_id, first.event_id, "the retry is deduplicated");
    sim.crash();
    drop(store);
    let store = Store::open(c).unwrap();
    if retry.durable {
        assert!(
            store.verify_append_receipt(&retry).is_valid(),
            "a receipt said durable but its event did not survive the crash"
        );
    }
}
