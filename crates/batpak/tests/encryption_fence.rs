//! The keyset durability fence of payload encryption, on a `SimFs`: an
//! append or batch that needs a key not yet on disk is not written before
//! the keyset is durable, under every sync mode. A faulted keyset flush
//! fails the whole append or batch closed (nothing visible, no keyset
//! published) and leaves the keyset dirty, so the next request flushes it
//! again; its unfaulted twin reaches the fence, then writes and commits.
#![cfg(all(feature = "sim", feature = "payload-encryption"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::path::Path;

use batpak::format::KEYSET_FILE;
use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, OpClass, SimFs, TracedOp};
use batpak::{BatchAppendItem, KeyScopeGranularity};

const KIND: EventKind = EventKind::custom(0xE, 0x7B0);
const MODES: [SyncMode; 3] = [
    SyncMode::EveryGroup,
    SyncMode::IntervalMs(5),
    SyncMode::OsBuffered,
];
/// Each step of the keyset's atomic replace, faulted on its next operation.
const FAULTS: [FaultKind; 5] = [
    FaultKind::FailCreate,
    FaultKind::FailWrite,
    FaultKind::FailSync,
    FaultKind::FailRename,
    FaultKind::FailSyncDir,
];

fn config(sim: &SimFs, dir: &str, mode: SyncMode) -> StoreConfig {
    sim_config(sim, dir)
        .with_sync_mode(mode)
        .with_payload_encryption(KeyScopeGranularity::PerEntity)
}

fn is_keyset(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(KEYSET_FILE))
}

/// The request under test: one append, or a batch over two entities.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Single,
    Batch,
}

fn send(store: &Store, shape: Shape, tag: u32) -> Result<Vec<AppendReceipt>, StoreError> {
    let a = coord("person:a", "crm");
    let b = coord("person:b", "crm");
    match shape {
        Shape::Single => store
            .append(&a, KIND, &serde_json::json!({"tag": tag}))
            .map(|r| vec![r]),
        Shape::Batch => store.append_batch(
            [(&a, 0), (&b, 1), (&a, 2)]
                .into_iter()
                .map(|(c, i)| {
                    BatchAppendItem::new(
                        c.clone(),
                        KIND,
                        &serde_json::json!({"tag": tag, "i": i}),
                        AppendOptions::default(),
                        CausationRef::None,
                    )
                    .unwrap()
                })
                .collect(),
        ),
    }
}

/// The keyset is durable (renamed and its directory synced) before the
/// request's first segment write.
fn assert_fence_before_frames(trace: &[TracedOp], what: &str) {
    let first_frame = trace
        .iter()
        .position(|t| t.op == OpClass::Write && is_segment_file(&t.path))
        .unwrap_or_else(|| panic!("{what}: no segment write in {trace:?}"));
    let rename = trace
        .iter()
        .position(|t| t.op == OpClass::Rename && is_keyset(&t.path))
        .unwrap_or_else(|| panic!("{what}: the keyset was not published: {trace:?}"));
    let dir_sync = trace[rename..]
        .iter()
        .position(|t| t.op == OpClass::SyncDir)
        .map(|p| p + rename)
        .unwrap_or_else(|| panic!("{what}: the keyset's rename was not synced"));
    assert!(
        dir_sync < first_frame,
        "{what}: a frame was written before its key was durable: {trace:?}"
    );
}

/// After a power loss every surviving event must open: no durable
/// ciphertext without its durable key.
fn assert_survivors_open(store: &Store, what: &str) {
    for e in store.query(&Region::all()) {
        let got = store.get(e.event_id());
        assert!(
            got.is_ok(),
            "{what}: survivor {} does not open: {got:?}",
            e.event_id()
        );
    }
    assert!(store.verify_chain().unwrap().is_intact(), "{what}");
}

#[test]
fn the_unfaulted_twin_reaches_the_fence_then_commits_under_every_sync_mode() {
    for mode in MODES {
        for shape in [Shape::Single, Shape::Batch] {
            let what = format!("{mode:?} {shape:?}");
            let sim = SimFs::with_plan(FaultPlan::none(0x7E_0001));
            let dir = "/sim/fence-twin";
            let store = Store::open(config(&sim, dir, mode)).unwrap();
            sim.start_trace();
            let receipts = send(&store, shape, 1).unwrap();
            assert_fence_before_frames(&sim.take_trace(), &what);
            assert!(sim
                .live_files(Path::new(dir))
                .iter()
                .any(|f| f == KEYSET_FILE));
            // A second request needs no new key and publishes nothing.
            sim.start_trace();
            send(&store, shape, 2).unwrap();
            assert!(
                !sim.take_trace().iter().any(|t| is_keyset(&t.path)),
                "{what}: a clean keyset is not written again"
            );
            store.sync().unwrap();
            sim.crash();
            drop(store);
            let store = Store::open(config(&sim, dir, mode)).unwrap();
            for r in &receipts {
                assert!(store.get(r.event_id).is_ok(), "{what}: {r:?}");
            }
            assert_survivors_open(&store, &what);
        }
    }
}

#[test]
fn a_faulted_keyset_flush_fails_the_request_closed_and_the_next_one_flushes_again() {
    for mode in MODES {
        for shape in [Shape::Single, Shape::Batch] {
            for fault in FAULTS {
                let what = format!("{mode:?} {shape:?} {fault:?}");
                let sim = SimFs::with_plan(FaultPlan::none(0x7E_0002));
                let dir = "/sim/fence-fault";
                let store = Store::open(config(&sim, dir, mode)).unwrap();
                sim.arm(fault, 1);
                sim.start_trace();
                let err = send(&store, shape, 1).unwrap_err();
                let trace = sim.take_trace();
                assert_eq!(sim.fired().len(), 1, "{what}: the fault fired");
                let on = &sim.fired()[0].path;
                assert!(
                    is_keyset(on) || (fault == FaultKind::FailSyncDir && on == Path::new(dir)),
                    "{what}: on the keyset's flush, not {}",
                    on.display()
                );
                assert!(
                    matches!(err, StoreError::Io { .. }),
                    "{what}: a typed I/O error, not {err:?}"
                );
                assert!(
                    !trace.iter().any(|t| is_segment_file(&t.path)),
                    "{what}: no frame may be written after a failed fence: {trace:?}"
                );
                assert_eq!(store.len(), 0, "{what}: nothing visible");
                if fault != FaultKind::FailSyncDir {
                    assert!(
                        !sim.live_files(Path::new(dir))
                            .iter()
                            .any(|f| f == KEYSET_FILE),
                        "{what}: no keyset published"
                    );
                }
                // Not a fail-stop: the key minted for the failed request is
                // still in memory, the keyset still dirty, and the retry
                // (which mints nothing) flushes it before writing.
                sim.start_trace();
                let receipts = send(&store, shape, 2)
                    .unwrap_or_else(|e| panic!("{what}: the retry failed: {e:?}"));
                assert_fence_before_frames(&sim.take_trace(), &what);
                assert_eq!(store.len(), receipts.len() as u64);
                store.sync().unwrap();
                sim.crash();
                drop(store);
                let store = Store::open(config(&sim, dir, mode)).unwrap();
                assert_eq!(store.len(), receipts.len() as u64, "{what}");
                for r in &receipts {
                    assert_eq!(store.get(r.event_id).unwrap().event.payload["tag"], 2);
                }
                assert_survivors_open(&store, &what);
            }
        }
    }
}

#[test]
fn a_crash_right_after_an_unsynced_append_never_leaves_a_frame_without_its_key() {
    // OsBuffered acknowledges before any segment fsync; a torn crash keeps
    // random prefixes of what was not synced. Whatever frame survives, its
    // key was durable before the frame was written.
    for seed in 0..40u64 {
        let sim = SimFs::with_plan(FaultPlan::none(seed).with_torn_crash(true));
        let dir = "/sim/fence-torn";
        let store = Store::open(config(&sim, dir, SyncMode::OsBuffered)).unwrap();
        let mut synced = 0;
        for i in 0..8u32 {
            let c = coord(format!("person:{}", (seed as u32 + i) % 5), "crm");
            store
                .append(&c, KIND, &serde_json::json!({"i": i}))
                .unwrap();
            if i == 3 {
                // What was acknowledged before a sync must survive, and open.
                store.sync().unwrap();
                synced = 4;
            }
        }
        sim.crash();
        drop(store);
        let store = Store::open(config(&sim, dir, SyncMode::OsBuffered)).unwrap();
        assert!(store.len() >= synced);
        assert_survivors_open(&store, &format!("seed {seed}"));
    }
}

#[test]
fn a_failed_shred_keeps_the_key_and_a_retry_shreds() {
    let sim = SimFs::with_plan(FaultPlan::none(0x7E_0003));
    let dir = "/sim/fence-shred";
    let store = Store::open(config(&sim, dir, SyncMode::EveryGroup)).unwrap();
    let a = coord("person:a", "crm");
    let r = store.append(&a, KIND, &1u8).unwrap();
    sim.arm(FaultKind::FailRename, 1);
    let err = store
        .shred_scope(batpak::ShredScope::Entity(&a))
        .unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert_eq!(
        store.get(r.event_id).unwrap().event.payload,
        1,
        "the key was kept"
    );
    assert!(store.shred_scope(batpak::ShredScope::Entity(&a)).unwrap());
    assert!(matches!(
        store.get(r.event_id),
        Err(StoreError::PayloadShredded { .. })
    ));
    sim.crash();
    drop(store);
    let store = Store::open(config(&sim, dir, SyncMode::EveryGroup)).unwrap();
    assert!(
        matches!(
            store.get(r.event_id),
            Err(StoreError::PayloadShredded { .. })
        ),
        "the shred was durable before it returned"
    );
    assert!(store.verify_chain().unwrap().is_intact());
}
