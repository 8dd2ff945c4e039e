//! Crash safety of compaction over the fault-injecting `SimFs`: a crash
//! at any file operation of a compaction leaves the old set of segments or
//! the new one, never both and never neither, and the next open completes
//! or rolls back and says which.
//!
//! A dry run of each workload records the compaction's file operations.
//! Then, for one operation at a time, an identical run fails that
//! operation (the compaction stops there), the power goes out, and the
//! store is reopened and checked:
//!
//! 1. every event is there (but those a retention removed), in order, with
//!    its payload, `event_hash`, `content_hash` and `prev_hash` as before;
//! 2. for a tombstone or retention compaction, either every rejected
//!    payload (or event) is gone or none is (one switch for all outputs);
//! 3. the chains verify, no temporary output or marker is left, and the
//!    open report names what open did;
//! 4. the store takes a new append.
//!
//! `exhaustive_*` faults every operation of fixed workloads;
//! `seeded_sweep` draws the workload, strategy, faulted operation and
//! crash tearing from a seed: `BATPAK_COMPACTION_SEEDS=N` (default 1,000)
//! and `BATPAK_COMPACTION_BASE=S` pick the seeds.
#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use batpak::format::{COMPACTING_SUFFIX, COMPACTION_FILE};
use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, OpClass, SimFs, SimRng, TracedOp};
use batpak::{CompactionAtOpen, CompactionConfig, CompactionStrategy, PolledEvent};
use common::{coord, sim_config};

const DIR: &str = "/sim/compaction";
const K: EventKind = EventKind::custom(0xE, 0x41);

#[derive(Clone, Copy, Debug)]
struct Workload {
    seed: u64,
    events: u64,
    entities: u64,
    strategy: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Merge,
    Tombstone,
    Retention,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    payload: Option<Vec<u8>>,
    hashes: [[u8; 32]; 3],
    global_sequence: u64,
}

fn config(sim: &SimFs) -> StoreConfig {
    sim_config(sim, DIR).with_segment_max_bytes(4096)
}

fn strategy(w: Workload) -> CompactionStrategy {
    let keep = |ev: &StoredEvent<serde_json::Value>| ev.event.header.global_sequence % 3 != 0;
    match w.strategy {
        Kind::Merge => CompactionStrategy::Merge,
        Kind::Tombstone => CompactionStrategy::Tombstone(Box::new(keep)),
        Kind::Retention => CompactionStrategy::Retention(Box::new(keep)),
    }
}

fn compaction(w: Workload) -> CompactionConfig {
    CompactionConfig::new(strategy(w)).with_target_segment_bytes(16 << 10)
}

/// Opens a store on `sim` and appends the workload's events.
fn fill(sim: &SimFs, w: Workload) -> Store {
    let store = Store::open(config(sim)).unwrap();
    let mut rng = SimRng::new(w.seed);
    for i in 0..w.events {
        let c = coord(format!("entity:{}", rng.below(w.entities)), "scope:s");
        let pad = "p".repeat(rng.below(200) as usize);
        store.append(&c, K, &(i, pad)).unwrap();
    }
    store.sync().unwrap();
    store
}

fn seen(store: &StoreReader) -> BTreeMap<u64, Seen> {
    store
        .cursor_guaranteed(&Region::all())
        .poll_with_shredded(usize::MAX)
        .unwrap()
        .iter()
        .map(|p| {
            let (header, payload) = match p {
                PolledEvent::Tombstoned(ev) => (ev.event.header.clone(), None),
                _ => {
                    let raw = store.read_raw(p.event_id()).unwrap();
                    (raw.event.header, Some(raw.event.payload))
                }
            };
            (
                header.global_sequence,
                Seen {
                    payload,
                    hashes: [header.event_hash, header.content_hash, header.prev_hash],
                    global_sequence: header.global_sequence,
                },
            )
        })
        .collect()
}

/// What a dry run on an honest disk saw: the events before, the
/// compaction's file operations, and the tombstones it left.
struct Dry {
    before: BTreeMap<u64, Seen>,
    trace: Vec<TracedOp>,
    stones: BTreeSet<u64>,
}

fn dry_run(w: Workload) -> Dry {
    let sim = SimFs::with_plan(FaultPlan::none(w.seed));
    let store = fill(&sim, w);
    let before = seen(store.reader());
    sim.start_trace();
    let report = store.compact(&compaction(w)).unwrap();
    let trace = sim.take_trace();
    assert!(
        !report.source_segments.is_empty(),
        "workload {w:?} compacts nothing"
    );
    let stones = changed(&before, &seen(store.reader()));
    assert_eq!(
        stones.len() as u64,
        report.events_tombstoned + report.events_dropped
    );
    assert_eq!(stones.is_empty(), w.strategy == Kind::Merge);
    Dry {
        before,
        trace,
        stones,
    }
}

/// Events of `before` a compaction changed in `now`: tombstoned (no
/// payload) or removed.
fn changed(before: &BTreeMap<u64, Seen>, now: &BTreeMap<u64, Seen>) -> BTreeSet<u64> {
    before
        .keys()
        .filter(|gs| now.get(gs).is_none_or(|s| s.payload.is_none()))
        .copied()
        .collect()
}

/// Runs workload `w` again, fails the `i`-th traced operation, crashes
/// (tearing unsynced bytes if `torn`), reopens and checks (module docs).
fn crash_at(w: Workload, dry: &Dry, i: usize, torn: bool) -> Outcome {
    let trace = &dry.trace;
    let plan = FaultPlan::none(w.seed).with_torn_crash(torn);
    let sim = SimFs::with_plan(plan);
    let store = fill(&sim, w);
    // Ids and times differ from the dry run's; the file operations do not.
    let before = &seen(store.reader());
    assert_eq!(before.len(), dry.before.len());
    let op = &trace[i];
    let after = trace[..=i].iter().filter(|t| t.op == op.op).count() as u64;
    sim.arm(common::failing(op.op), after);
    let outcome = store.compact(&compaction(w));
    let fired = !sim.fired().is_empty();
    let what = format!(
        "{w:?}, fault on op {i} ({} #{} on {}), torn {torn}",
        op.op,
        op.nth,
        op.path.display()
    );
    assert!(fired, "{what}: the fault did not fire");
    drop(outcome);
    sim.crash();
    drop(store);
    let store = Store::open(config(&sim)).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    let now = seen(store.reader());
    let found = changed(before, &now);
    assert!(
        found.is_empty() || found == dry.stones,
        "{what}: changed {found:?}, not none and not all of {:?}",
        dry.stones
    );
    assert!(
        now.keys().all(|gs| before.contains_key(gs)),
        "{what}: events appeared"
    );
    for (gs, was) in before {
        match now.get(gs) {
            None => assert!(w.strategy == Kind::Retention, "{what}: event {gs} lost"),
            Some(is) if found.contains(gs) => {
                assert_eq!(
                    is.hashes, was.hashes,
                    "{what}: tombstone {gs} changed a hash"
                );
            }
            Some(is) => assert_eq!(is, was, "{what}: event {gs} changed"),
        }
    }
    assert!(store.verify_chain().unwrap().is_intact(), "{what}: chain");
    let names = sim.live_files(std::path::Path::new(DIR));
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(COMPACTING_SUFFIX) || n.starts_with(COMPACTION_FILE)),
        "{what}: leftovers {names:?}"
    );
    let outcome = match store.open_report().compaction {
        Some(CompactionAtOpen::Completed { .. }) => Outcome::Completed,
        Some(CompactionAtOpen::RolledBack { .. }) => {
            assert!(
                found.is_empty(),
                "{what}: rolled back, yet tombstones are there"
            );
            Outcome::RolledBack
        }
        None => Outcome::Nothing,
        Some(other) => panic!("{what}: {other:?}"),
    };
    store
        .append(&coord("entity:0", "scope:s"), K, &"after")
        .unwrap();
    outcome
}

/// What the reopen after the crash found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// A marker: the new set stands, open finished the switch.
    Completed,
    /// Temporary outputs and no marker: the old set stands.
    RolledBack,
    /// Nothing to do (the crash came before the first output or after the end).
    Nothing,
}

fn exhaustive(w: Workload) {
    let dry = dry_run(w);
    assert!(
        dry.trace.len() > 10,
        "{w:?}: {} operations",
        dry.trace.len()
    );
    let outcomes: BTreeSet<Outcome> = (0..dry.trace.len())
        .map(|i| crash_at(w, &dry, i, false))
        .collect();
    // Crashes on both sides of the switch were exercised.
    assert!(outcomes.contains(&Outcome::Completed), "{outcomes:?}");
    assert!(outcomes.contains(&Outcome::RolledBack), "{outcomes:?}");
}

#[test]
fn exhaustive_merge_crash_at_every_file_operation() {
    exhaustive(Workload {
        seed: 1,
        events: 120,
        entities: 4,
        strategy: Kind::Merge,
    });
}

#[test]
fn exhaustive_tombstone_crash_at_every_file_operation() {
    exhaustive(Workload {
        seed: 2,
        events: 120,
        entities: 4,
        strategy: Kind::Tombstone,
    });
}

#[test]
fn exhaustive_retention_crash_at_every_file_operation() {
    exhaustive(Workload {
        seed: 3,
        events: 120,
        entities: 4,
        strategy: Kind::Retention,
    });
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn seeded_sweep() {
    let n = env_u64("BATPAK_COMPACTION_SEEDS", 1_000);
    let base = env_u64("BATPAK_COMPACTION_BASE", 0);
    // Dry runs are shared by the seeds that draw the same workload.
    let mut traces: BTreeMap<(u64, u64, Kind), Dry> = BTreeMap::new();
    let mut tally: BTreeMap<Outcome, u64> = BTreeMap::new();
    for seed in base..base + n {
        let mut rng = SimRng::new(seed ^ 0xC0A1_E5CE);
        let w = Workload {
            seed: 100 + rng.below(4),
            events: 80 + 20 * rng.below(4),
            entities: 1 + rng.below(6),
            strategy: [Kind::Merge, Kind::Tombstone, Kind::Retention][rng.below(3) as usize],
        };
        let dry = traces
            .entry((w.seed, w.events * 100 + w.entities, w.strategy))
            .or_insert_with(|| dry_run(w));
        let i = rng.below(dry.trace.len() as u64) as usize;
        *tally
            .entry(crash_at(w, dry, i, rng.one_in(2)))
            .or_insert(0u64) += 1;
    }
    eprintln!("compaction crash sweep: {n} seeds from {base}: {tally:?}");
    if n >= 100 {
        assert!(
            tally.contains_key(&Outcome::Completed) && tally.contains_key(&Outcome::RolledBack)
        );
    }
}

/// A compaction whose marker could not be removed (its switch done, its
/// last step failed) is completed by the next compaction of the same run
/// before that one writes a marker of its own; nothing is lost and the next
/// open finds nothing to do.
#[test]
fn a_marker_left_by_a_failed_finish_is_completed_by_the_next_compaction() {
    let w = Workload {
        seed: 4,
        events: 120,
        entities: 3,
        strategy: Kind::Tombstone,
    };
    let dry = dry_run(w);
    let marker_removal = dry
        .trace
        .iter()
        .filter(|t| t.op == OpClass::Remove)
        .position(|t| t.path.ends_with(COMPACTION_FILE))
        .expect("the marker is removed");
    let sim = SimFs::with_plan(FaultPlan::none(w.seed));
    let store = fill(&sim, w);
    let before = seen(store.reader());
    sim.arm(FaultKind::FailRemove, marker_removal as u64 + 1);
    let err = store.compact(&compaction(w)).unwrap_err();
    assert!(err.to_string().contains("compaction marker"), "{err}");
    let marker = std::path::Path::new(DIR).join(COMPACTION_FILE);
    assert!(sim
        .live_files(std::path::Path::new(DIR))
        .contains(&COMPACTION_FILE.to_owned()));
    // Readers already see the new set.
    assert_eq!(changed(&before, &seen(store.reader())), dry.stones);
    // More appends seal more segments; the next compaction finishes the
    // first one and then does its own work.
    for i in 0..40u32 {
        store
            .append(&coord("entity:9", "scope:s"), K, &(i, "q".repeat(150)))
            .unwrap();
    }
    let again = store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(64 << 10),
        )
        .unwrap();
    assert!(!again.source_segments.is_empty());
    assert!(
        !sim.live_files(std::path::Path::new(DIR))
            .contains(&COMPACTION_FILE.to_owned()),
        "{marker:?}"
    );
    assert!(store.verify_chain().unwrap().is_intact());
    drop(store);
    let store = Store::open(config(&sim)).unwrap();
    assert_eq!(store.open_report().compaction, None);
    let now = seen(store.reader());
    assert_eq!(changed(&before, &now), dry.stones);
    assert!(store.verify_chain().unwrap().is_intact());
}

/// Appends that seal at least one more segment (big payloads, one entity).
fn seal_more(store: &Store) {
    for i in 0..40u32 {
        store
            .append(&coord("entity:more", "scope:s"), K, &(i, "m".repeat(180)))
            .unwrap();
    }
    store.sync().unwrap();
}

/// Retention removes only events a recorded tree head covers: when the
/// heads write at a seal fails (the writer goes on; the head is simply
/// missing), the segment sealed past the newest head keeps every event.
#[test]
fn retention_keeps_the_events_no_recorded_head_covers() {
    let w = Workload {
        seed: 6,
        events: 120,
        entities: 3,
        strategy: Kind::Retention,
    };
    let dry = SimFs::with_plan(FaultPlan::none(w.seed));
    let store = fill(&dry, w);
    dry.start_trace();
    seal_more(&store);
    let trace = dry.take_trace();
    drop(store);
    let heads_writes: Vec<usize> = trace
        .iter()
        .filter(|t| t.op == OpClass::Write)
        .enumerate()
        .filter(|(_, t)| t.path.ends_with(batpak::format::HEADS_FILE))
        .map(|(i, _)| i)
        .collect();
    assert!(!heads_writes.is_empty(), "no head was recorded: {trace:?}");
    let sim = SimFs::with_plan(FaultPlan::none(w.seed));
    let store = fill(&sim, w);
    let covered_before = store.latest_head().unwrap().size();
    // Every heads write of these appends fails (counted from now).
    for i in &heads_writes {
        sim.arm(FaultKind::FailWrite, *i as u64 + 1);
    }
    seal_more(&store);
    assert!(!sim.fired().is_empty());
    let covered = store.latest_head().unwrap().size();
    assert_eq!(
        covered, covered_before,
        "the failed heads writes recorded nothing"
    );
    let before = seen(store.reader());
    assert!(before.keys().any(|gs| *gs >= covered));
    let report = store
        .compact(&CompactionConfig::new(CompactionStrategy::Retention(
            Box::new(|_| false),
        )))
        .unwrap();
    assert!(report.events_dropped > 0);
    let now = seen(store.reader());
    for (gs, was) in &before {
        if *gs >= covered {
            assert_eq!(
                now.get(gs),
                Some(was),
                "event {gs} past the head {covered} was removed"
            );
        }
    }
    assert_eq!(
        before
            .keys()
            .filter(|gs| **gs < covered && !now.contains_key(gs))
            .count() as u64,
        report.events_dropped,
        "only events a head covers were removed"
    );
    assert!(store.verify_chain().unwrap().is_intact());
}
