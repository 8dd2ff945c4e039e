//! Regression: a writer reopening a store built on a tail it had only read, never synced (frames a failed writer left in the OS cache, or a segment whose directory entry a failed directory fsync never made durable), and reported appends on it as durable, so a power loss afterwards lost acknowledged-durable appends.
#![cfg(feature = "sim")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{
    coord, fill_first_segment, rotation_dir_sync, sim_small_segments, ROTATING_PAYLOAD_LEN,
};

use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, SimFs};
use batpak::{AppendOptions, IdempotencyKey};

const KIND: EventKind = EventKind::custom(0xE, 0x42);
const ENTITY: &str = "entity:tail";

#[test]
fn a_segment_whose_directory_entry_never_became_durable_is_made_durable_at_reopen() {
    let at = coord(ENTITY, "scope:r");
    let big = "t".repeat(ROTATING_PAYLOAD_LEN);
    // Dry run: which directory fsync makes the rotated-to segment's entry durable.
    let nth = rotation_dir_sync(51, "/sim/dir-entry", &at, KIND, &big);

    let sim = SimFs::with_plan(FaultPlan::none(51).with_fault(FaultKind::FailSyncDir, nth));
    let c = sim_small_segments(&sim, "/sim/dir-entry");
    let store = Store::open(c.clone()).unwrap();
    fill_first_segment(&store, &at, KIND, &big);
    assert!(
        store.append(&at, KIND, &big).is_err(),
        "the directory fsync failed"
    );
    drop(store);
    // Same boot: the new segment is visible, its directory entry is not durable.
    let store = Store::open(c.clone()).unwrap();
    let acked = store.append(&at, KIND, &"after reopen").unwrap();
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
    let at = coord(ENTITY, "scope:r");
    let sim = SimFs::with_plan(FaultPlan::none(52));
    let c = sim_small_segments(&sim, "/sim/cache").with_sync_mode(SyncMode::OsBuffered);
    let store = Store::open(c.clone()).unwrap();
    let key = IdempotencyKey::from_bytes(*b"tail-in-os-cache");
    let opts = AppendOptions::default().with_idempotency_key(key);
    let first = store
        .append_with_options(&at, KIND, &"volatile", opts)
        .unwrap();
    assert!(!first.durable);
    // The writer fails before it ever syncs, so closing does not sync either.
    sim.arm(FaultKind::FailWrite, 1);
    assert!(store.append(&at, KIND, &"doomed").is_err());
    drop(store);
    // Same boot: recovery reads the frame from the cache; the retry finds it.
    let store = Store::open(c.clone()).unwrap();
    let retry = store
        .append_with_options(&at, KIND, &"volatile", opts)
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
