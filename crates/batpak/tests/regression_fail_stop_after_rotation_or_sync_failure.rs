//! Regression: an I/O failure while rotating a segment (footer, create, header, directory fsync) or in an fsync of `sync()` or the interval timer did not stop the writer, so later appends and syncs were acknowledged over a disk in an unknown state.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{
    assert_fail_stopped, coord, fill_first_segment, rotation_dir_sync, sim_small_segments,
    ROTATING_PAYLOAD_LEN,
};

use std::time::{Duration, Instant};

use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, SimFs};

const KIND: EventKind = EventKind::custom(0xE, 0x41);
const ENTITY: &str = "entity:fail-stop";

#[test]
fn a_failed_directory_fsync_while_rotating_stops_the_writer() {
    let at = coord(ENTITY, "scope:r");
    let big = "r".repeat(ROTATING_PAYLOAD_LEN);
    let sim = SimFs::with_plan(FaultPlan::none(41));
    let store = Store::open(sim_small_segments(&sim, "/sim/rotate")).unwrap();
    fill_first_segment(&store, &at, KIND, &big);
    // The last directory fsync of the rotating append is the new segment's.
    let nth = rotation_dir_sync(41, "/sim/rotate", &at, KIND, &big);
    let done = sim.counters().dir_syncs;
    sim.arm(FaultKind::FailSyncDir, nth - done);
    let err = store.append(&at, KIND, &big).unwrap_err();
    assert!(
        matches!(err, StoreError::Io { .. } | StoreError::WriterFailed { .. }),
        "{err:?}"
    );
    assert_eq!(sim.fired().len(), 1);
    assert_fail_stopped(&store, &at, KIND);
}

#[test]
fn a_failed_explicit_sync_stops_the_writer() {
    // After a failed fsync the kernel may have dropped the dirty pages; a
    // second fsync that "succeeds" proves nothing.
    let at = coord(ENTITY, "scope:r");
    let sim = SimFs::with_plan(FaultPlan::none(42));
    let store =
        Store::open(sim_small_segments(&sim, "/sim/sync").with_sync_mode(SyncMode::OsBuffered))
            .unwrap();
    let acked = store.append(&at, KIND, &"volatile").unwrap();
    assert!(!acked.durable);
    sim.arm(FaultKind::FailSync, 1);
    assert!(
        store.sync().is_err(),
        "the injected fsync failure must surface"
    );
    assert_fail_stopped(&store, &at, KIND);
}

#[test]
fn a_failed_interval_sync_stops_the_writer() {
    let at = coord(ENTITY, "scope:r");
    let sim = SimFs::with_plan(FaultPlan::none(43));
    let store = Store::open(
        sim_small_segments(&sim, "/sim/interval").with_sync_mode(SyncMode::IntervalMs(1)),
    )
    .unwrap();
    store.append(&at, KIND, &"creates the segment").unwrap();
    store.sync().unwrap();
    sim.arm(FaultKind::FailSync, 1);
    let acked = store.append(&at, KIND, &"volatile").unwrap();
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
    assert_fail_stopped(&store, &at, KIND);
}
