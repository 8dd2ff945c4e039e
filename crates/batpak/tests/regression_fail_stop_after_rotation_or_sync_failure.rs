//! Regression: an I/O failure while rotating a segment (footer, create, header, directory fsync) or in an fsync of `sync()` or the interval timer did not stop the writer, so later appends and syncs were acknowledged over a disk in an unknown state.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, OpClass, SimFs};

const KIND: EventKind = EventKind::custom(0xE, 0x41);

fn coord() -> Coordinate {
    Coordinate::new("entity:fail-stop", "scope:r").unwrap()
}

fn cfg(sim: &SimFs, dir: &str) -> StoreConfig {
    StoreConfig::new(dir)
        .with_fs(Arc::new(sim.clone()))
        .with_segment_max_bytes(4096)
}

fn assert_fail_stopped(store: &Store) {
    let next = store.append(&coord(), KIND, &"after the failure");
    assert!(
        matches!(next, Err(StoreError::WriterFailed { .. })),
        "a fail-stopped writer must refuse appends, got {next:?}"
    );
    let sync = store.sync();
    assert!(
        matches!(sync, Err(StoreError::WriterFailed { .. })),
        "a fail-stopped writer must refuse sync, got {sync:?}"
    );
}

#[test]
fn a_failed_directory_fsync_while_rotating_stops_the_writer() {
    let big = "r".repeat(900);
    let sim = SimFs::with_plan(FaultPlan::none(41));
    let store = Store::open(cfg(&sim, "/sim/rotate")).unwrap();
    for _ in 0..3 {
        store.append(&coord(), KIND, &big).unwrap();
    }
    // The last directory fsync of the rotating append is the new segment's.
    let dry = SimFs::with_plan(FaultPlan::none(41));
    let dry_store = Store::open(cfg(&dry, "/sim/rotate")).unwrap();
    for _ in 0..3 {
        dry_store.append(&coord(), KIND, &big).unwrap();
    }
    dry.start_trace();
    dry_store.append(&coord(), KIND, &big).unwrap();
    let nth = dry
        .take_trace()
        .iter()
        .rev()
        .find(|t| t.op == OpClass::SyncDir)
        .expect("rotation syncs the directory")
        .nth;
    drop(dry_store);
    let done = sim.counters().dir_syncs;
    sim.arm(FaultKind::FailSyncDir, nth - done);
    let err = store.append(&coord(), KIND, &big).unwrap_err();
    assert!(
        matches!(err, StoreError::Io { .. } | StoreError::WriterFailed { .. }),
        "{err:?}"
    );
    assert_eq!(sim.fired().len(), 1);
    assert_fail_stopped(&store);
}

#[test]
fn a_failed_explicit_sync_stops_the_writer() {
    // After a failed fsync the kernel may have dropped the dirty pages; a
    // second fsync that "succeeds" proves nothing.
    let sim = SimFs::with_plan(FaultPlan::none(42));
    let store = Store::open(cfg(&sim, "/sim/sync").with_sync_mode(SyncMode::OsBuffered)).unwrap();
    let acked = store.append(&coord(), KIND, &"volatile").unwrap();
    assert!(!acked.durable);
    sim.arm(FaultKind::FailSync, 1);
    assert!(
        store.sync().is_err(),
        "the injected fsync failure must surface"
    );
    assert_fail_stopped(&store);
}

#[test]
fn a_failed_interval_sync_stops_the_writer() {
    let sim = SimFs::with_plan(FaultPlan::none(43));
    let store =
        Store::open(cfg(&sim, "/sim/interval").with_sync_mode(SyncMode::IntervalMs(1))).unwrap();
    store
        .append(&coord(), KIND, &"creates the segment")
        .unwrap();
    store.sync().unwrap();
    sim.arm(FaultKind::FailSync, 1);
    let acked = store.append(&coord(), KIND, &"volatile").unwrap();
    assert!(!acked.durable);
    // Wait for the writer's own interval fsync to run into the fault.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.fired().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        sim.fired().len(),
        1,
        "the interval fsync ran into the fault"
    );
    assert_fail_stopped(&store);
}
