//! Index files of sealed segments: written at seal and by compaction, read
//! at open in place of the footer, and never used when missing, damaged
//! or written for another footer (the footer is read, the file rebuilt,
//! the open report says so). Every answer of a store opened from index
//! files equals the answer of the same store opened from footers alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use batpak::format::{index_file_name, INDEX_SUFFIX};
use batpak::prelude::*;
use batpak::{CompactionConfig, CompactionStrategy};
use common::{coord, segments};

const A: EventKind = EventKind::custom(0xE, 1);
const B: EventKind = EventKind::custom(0xA, 2);

fn config(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir).with_segment_max_bytes(4096)
}

/// A store of many small sealed segments: 4 entities in 2 scopes, 2 kinds,
/// correlations and causations, one batch in every 25 appends.
fn fill(dir: &Path, events: u64) {
    let store = Store::open(config(dir)).unwrap();
    let mut last: Option<EventId> = None;
    for i in 0..events {
        let c = coord(format!("entity:{}", i % 4), format!("scope:{}", i % 2));
        let kind = if i % 3 == 0 { A } else { B };
        let mut opts = AppendOptions::default();
        if i % 5 == 0 {
            opts = opts.with_correlation_id(CorrelationId::from_u128(u128::from(i % 3 + 1)));
        }
        if let (Some(parent), true) = (last, i % 7 == 0) {
            opts = opts.with_causation(CausationRef::Event(parent));
        }
        let payload = serde_json::json!({ "i": i, "pad": "x".repeat((i % 9) as usize * 10) });
        if i % 25 == 24 {
            let items = (0..3)
                .map(|j| {
                    BatchAppendItem::new(
                        coord(format!("batch:{j}"), "scope:b"),
                        kind,
                        &payload,
                        AppendOptions::default(),
                        CausationRef::None,
                    )
                    .unwrap()
                })
                .collect();
            last = store
                .append_batch(items)
                .unwrap()
                .last()
                .map(|r| r.event_id);
        } else {
            last = Some(
                store
                    .append_with_options(&c, kind, &payload, opts)
                    .unwrap()
                    .event_id,
            );
        }
    }
    store.close().unwrap();
}

/// Everything the index answers, in the order it answers it.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    all: Vec<IndexEntry>,
    regions: Vec<Vec<IndexEntry>>,
    links: Vec<Vec<IndexEntry>>,
    by_id: Vec<Option<IndexEntry>>,
    next_sequences: Vec<(u64, u64)>,
    len: u64,
}

fn answers(store: &StoreReader) -> Answers {
    let all = store.query(&Region::all());
    let regions = [
        Region::entity("entity:1"),
        Region::entity("batch:2"),
        Region::entity_prefix("entity:"),
        Region::scope("scope:0"),
        Region::all().with_kind(B),
        Region::entity("entity:3")
            .with_scope("scope:1")
            .with_kind(A),
        Region::entity("nobody"),
    ]
    .iter()
    .map(|r| store.query(r))
    .collect();
    let mut links: Vec<Vec<IndexEntry>> = (1..=3)
        .map(|c| store.correlated(CorrelationId::from_u128(c)))
        .collect();
    links.extend(all.iter().step_by(7).map(|e| store.caused_by(e.event_id())));
    let by_id = all.iter().map(|e| store.entry(e.event_id())).collect();
    let next_sequences = (0..4)
        .map(|e| {
            let q = store.query(&Region::entity(format!("entity:{e}")));
            (
                q.len() as u64,
                q.last().map_or(0, |l| l.entity_sequence() + 1),
            )
        })
        .collect();
    Answers {
        all,
        regions,
        links,
        by_id,
        next_sequences,
        len: store.len(),
    }
}

fn index_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(INDEX_SUFFIX))
        .collect();
    v.sort();
    v
}

fn remove_index_files(dir: &Path) {
    for p in index_files(dir) {
        std::fs::remove_file(p).unwrap();
    }
}

/// The answers of the store at `dir` opened from its footers alone (on a
/// copy without index files).
fn from_footers(dir: &Path) -> Answers {
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let dest = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy_tree(&p, &dest);
            } else if !p.to_str().unwrap().ends_with(INDEX_SUFFIX) && !p.ends_with("LOCK") {
                std::fs::copy(&p, dest).unwrap();
            }
        }
    }
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir, copy.path());
    let store = Store::open_read_only(config(copy.path())).unwrap();
    assert_eq!(store.open_report().segments_from_index_file, 0);
    answers(store.reader())
}

#[test]
fn sealed_segments_are_read_from_their_index_files_with_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 400);
    let segs = segments(dir.path()).len();
    assert!(segs > 5, "{segs} segments");
    // Every sealed segment got its index file at seal.
    assert_eq!(index_files(dir.path()).len(), segs);
    let store = Store::open(config(dir.path())).unwrap();
    let report = store.open_report();
    // The last one too: it ends in the footer its index file is bound to.
    assert_eq!(report.segments_from_index_file, segs, "{report:?}");
    assert_eq!(report.segments_from_footer, 0);
    assert_eq!(report.index_files_written, 0);
    assert!(report.damaged_index_files.is_empty());
    let got = answers(store.reader());
    assert_eq!(got, from_footers(dir.path()));
    assert!(store.verify_chain().unwrap().is_intact());
    // The writer chains on from what the index files said.
    let r = store
        .append(&coord("entity:1", "scope:1"), A, &"next")
        .unwrap();
    assert_eq!(r.entity_sequence, got.next_sequences[1].1);
    assert_eq!(r.global_sequence, got.len);
    assert_eq!(
        r.prev_hash,
        store
            .read_raw(got.regions[0].last().unwrap().event_id())
            .unwrap()
            .event
            .header
            .event_hash
    );
}

#[test]
fn a_store_without_index_files_gets_them_at_its_first_writer_open() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 300);
    let segs = segments(dir.path()).len();
    remove_index_files(dir.path());
    // A read-only open reads footers and writes nothing.
    let ro = Store::open_read_only(config(dir.path())).unwrap();
    let report = ro.open_report();
    assert_eq!(report.segments_from_footer, segs);
    assert_eq!(report.index_files_written, 0);
    assert!(index_files(dir.path()).is_empty());
    let want = answers(ro.reader());
    drop(ro);
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.open_report().index_files_written, segs);
    assert_eq!(answers(store.reader()), want);
    store.close().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    assert_eq!(store.open_report().segments_from_index_file, segs);
    assert_eq!(answers(store.reader()), want);
}

/// Opens the store at `dir` whose index file `victim` was damaged: the
/// damage is caught (at open, for the head and rows; else by the first
/// read of the damaged page) and reported, the answers are those of the
/// footers, and the file is rewritten so the next open uses it again.
fn assert_damage_caught(dir: &Path, victim: &Path, want: &Answers, what: &str) {
    let store = Store::open(config(dir)).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(answers(store.reader()), *want, "{what}");
    let report = store.open_report();
    let at_open = report.damaged_index_files.len() == 1 && report.index_files_written == 1;
    let at_read = report.index_files_rebuilt_after_open == 1;
    assert!(at_open != at_read, "{what}: {report:?}");
    assert_eq!(report.index_read_failures, 0, "{what}");
    drop(store);
    let store = Store::open_read_only(config(dir)).unwrap();
    assert_eq!(answers(store.reader()), *want, "{what}");
    let report = store.open_report();
    assert!(
        report.damaged_index_files.is_empty() && report.index_files_rebuilt_after_open == 0,
        "{what}: not rewritten: {report:?}"
    );
    assert!(victim.exists());
}

#[test]
fn every_flipped_byte_and_every_truncation_of_an_index_file_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 60);
    let want = from_footers(dir.path());
    let victim = dir.path().join(index_file_name(2));
    let good = std::fs::read(&victim).unwrap();
    assert!(good.len() > 300, "{} bytes", good.len());
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x10;
        std::fs::write(&victim, &b).unwrap();
        assert_damage_caught(dir.path(), &victim, &want, &format!("byte {i}"));
    }
    for len in (0..good.len()).step_by(7).chain([good.len() - 1]) {
        std::fs::write(&victim, &good[..len]).unwrap();
        assert_damage_caught(dir.path(), &victim, &want, &format!("length {len}"));
    }
}

#[test]
fn an_index_file_of_another_segment_or_footer_is_never_used() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 100);
    let want = from_footers(dir.path());
    // A whole, valid file of segment 3 under segment 2's name.
    let victim = dir.path().join(index_file_name(2));
    std::fs::copy(dir.path().join(index_file_name(3)), &victim).unwrap();
    assert_damage_caught(dir.path(), &victim, &want, "another segment's file");
    // A file written for the segment before its footer changed: a copy
    // taken before a tombstone compaction rewrote the segment.
    let before = std::fs::read(&victim).unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    let keep = |ev: &StoredEvent<serde_json::Value>| ev.event.payload["i"] != 3;
    let report = store
        .compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
            Box::new(keep),
        )))
        .unwrap();
    assert_eq!(report.events_tombstoned, 1);
    assert_eq!(report.source_segments, vec![1]);
    store.close().unwrap();
    let want = from_footers(dir.path());
    let stale = dir.path().join(index_file_name(1));
    let stale_bytes = std::fs::read(&stale).unwrap();
    assert_ne!(stale_bytes, before);
    std::fs::write(&victim, &before).unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    assert!(store.open_report().damaged_index_files.is_empty());
    assert_eq!(answers(store.reader()), want);
    drop(store);
    let pre_compaction = {
        let d = tempfile::tempdir().unwrap();
        fill(d.path(), 100);
        std::fs::read(d.path().join(index_file_name(1))).unwrap()
    };
    std::fs::write(&stale, pre_compaction).unwrap();
    assert_damage_caught(dir.path(), &stale, &want, "a file for the old footer");
}

#[test]
fn compaction_writes_its_outputs_index_files_and_removes_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 400);
    let store = Store::open(config(dir.path())).unwrap();
    let report = store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(64 << 10),
        )
        .unwrap();
    assert!(report.source_segments.len() > report.output_segments.len());
    let expected: Vec<PathBuf> = segments(dir.path())
        .iter()
        .map(|s| s.with_extension("idx"))
        .collect();
    // Every segment has one: the last is still sealed on disk (no append
    // since the open), and keeps its file until the writer continues it.
    assert_eq!(index_files(dir.path()), expected);
    store
        .append(&coord("entity:0", "scope:0"), A, &"continue")
        .unwrap();
    assert_eq!(index_files(dir.path()), expected[..expected.len() - 1]);
    let keep =
        |ev: &StoredEvent<serde_json::Value>| ev.event.payload["i"].as_u64().unwrap() % 4 != 1;
    store
        .compact(&CompactionConfig::new(CompactionStrategy::Retention(
            Box::new(keep),
        )))
        .unwrap();
    let want = answers(store.reader());
    store.close().unwrap();
    assert_eq!(want, from_footers(dir.path()));
    let store = Store::open(config(dir.path())).unwrap();
    let report = store.open_report();
    assert!(report.damaged_index_files.is_empty(), "{report:?}");
    assert_eq!(report.index_files_written, 0, "{report:?}");
    assert!(report.segments_from_index_file > 0);
    assert_eq!(answers(store.reader()), want);
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn index_files_without_a_segment_and_half_written_ones_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 100);
    let orphan = dir.path().join(index_file_name(999));
    std::fs::copy(dir.path().join(index_file_name(1)), &orphan).unwrap();
    let half = dir.path().join(format!("{}.tmp", index_file_name(2)));
    std::fs::write(&half, b"BPKINDEX").unwrap();
    let ro = Store::open_read_only(config(dir.path())).unwrap();
    drop(ro);
    assert!(
        orphan.exists() && half.exists(),
        "a read-only open changes nothing"
    );
    let store = Store::open(config(dir.path())).unwrap();
    assert!(!orphan.exists());
    assert!(!half.exists());
    assert!(store.open_report().damaged_index_files.is_empty());
}

/// A crash at any file operation while an index file is written (by the
/// writer at seal, or by an open rebuilding a missing one) leaves a store
/// that opens and answers exactly as its footers do.
#[cfg(feature = "sim")]
mod crash {
    use super::*;
    use batpak::fs::StoreFs;
    use batpak::sim::{FaultPlan, SimFs, TracedOp};
    use std::sync::Arc;

    const DIR: &str = "/sim/index";

    fn sim_cfg(sim: &SimFs) -> StoreConfig {
        StoreConfig::new(DIR)
            .with_fs(Arc::new(sim.clone()))
            .with_segment_max_bytes(4096)
    }

    /// Appends 40 events of 4 entities; returns their ids in commit order.
    fn fill_sim(store: &Store) -> Vec<EventId> {
        (0..40u32)
            .map(|i| {
                store
                    .append(&coord(format!("e:{}", i % 4), "s"), A, &"y".repeat(200))
                    .unwrap()
                    .event_id
            })
            .collect()
    }

    /// The store on `sim` holds exactly `acked` (and maybe `maybe`, an
    /// append whose acknowledgement the crash cut off), verifies, chains
    /// on, and a second open (from the index files the first one wrote)
    /// answers the same.
    fn check(sim: &SimFs, acked: &[EventId], maybe: Option<EventId>, what: &str) {
        let store = Store::open(sim_cfg(sim)).unwrap_or_else(|e| panic!("{what}: {e}"));
        let got: Vec<EventId> = store
            .query(&Region::all())
            .iter()
            .map(|e| e.event_id())
            .collect();
        let mut want = acked.to_vec();
        if got.len() == acked.len() + 1 {
            want.extend(maybe);
        }
        assert_eq!(got, want, "{what}");
        assert!(store.verify_chain().unwrap().is_intact(), "{what}");
        let first = answers(store.reader());
        drop(store);
        let store = Store::open(sim_cfg(sim)).unwrap();
        let report = store.open_report();
        assert!(report.damaged_index_files.is_empty(), "{what}: {report:?}");
        assert_eq!(report.index_files_written, 0, "{what}: {report:?}");
        assert_eq!(answers(store.reader()), first, "{what}");
        let last = store
            .query(&Region::entity("e:1"))
            .last()
            .unwrap()
            .entity_sequence();
        let r = store.append(&coord("e:1", "s"), A, &"after").unwrap();
        assert_eq!(r.entity_sequence, last + 1, "{what}");
        let names = sim.live_files(Path::new(DIR));
        assert!(
            !names.iter().any(|n| n.ends_with(".tmp")),
            "{what}: {names:?}"
        );
    }

    /// What one sweep does: `prepare` on the filled store (untraced, no
    /// fault), then `act`, whose file operations are faulted one by one.
    struct Step {
        prepare: fn(&SimFs, Store) -> Option<Store>,
        act: fn(&SimFs, Option<Store>) -> Option<EventId>,
    }

    /// Runs `step` on a fresh filled store, failing the `i`-th operation
    /// of `trace` (none when `trace` is `None`: a traced dry run), then
    /// cuts the power (`torn`: unsynced bytes partly kept).
    fn run(
        trace: Option<&[TracedOp]>,
        i: usize,
        torn: bool,
        step: &Step,
    ) -> (SimFs, Vec<EventId>, Option<EventId>) {
        let sim = SimFs::with_plan(FaultPlan::none(7).with_torn_crash(torn));
        let store = Store::open(sim_cfg(&sim)).unwrap();
        let acked = fill_sim(&store);
        let store = (step.prepare)(&sim, store);
        match trace {
            Some(t) => {
                let op = &t[i];
                let after = t[..=i].iter().filter(|x| x.op == op.op).count() as u64;
                sim.arm(common::failing(op.op), after);
            }
            None => sim.start_trace(),
        }
        let maybe = (step.act)(&sim, store);
        sim.crash();
        (sim, acked, maybe)
    }

    /// Faults every operation of `step.act` on a segment or index file or
    /// on the directory, with and without torn writes.
    fn sweep(name: &str, step: &Step) {
        let (dry, _, _) = run(None, 0, false, step);
        let trace = dry.take_trace();
        let ours = |t: &TracedOp| {
            let p = t.path.to_str().unwrap();
            p == DIR || p.contains(INDEX_SUFFIX) || p.ends_with(".seg")
        };
        let writes_index = trace
            .iter()
            .filter(|t| t.path.to_str().unwrap().contains(INDEX_SUFFIX))
            .count();
        assert!(writes_index >= 3, "{name}: {trace:?}");
        for torn in [false, true] {
            for i in (0..trace.len()).filter(|&i| ours(&trace[i])) {
                let (sim, acked, maybe) = run(Some(&trace), i, torn, step);
                let op = &trace[i];
                let what = format!(
                    "{name}: {} #{} on {}, torn {torn}",
                    op.op,
                    op.nth,
                    op.path.display()
                );
                check(&sim, &acked, maybe, &what);
            }
        }
    }

    #[test]
    fn a_crash_while_a_seal_writes_its_index_file_loses_nothing() {
        // One more append seals the active segment (writing its index
        // file) and starts the next.
        sweep(
            "seal",
            &Step {
                prepare: |_, store| Some(store),
                act: |_, store| {
                    let store = store.unwrap();
                    let r = store.append(&coord("e:0", "s"), A, &"z".repeat(3000));
                    r.ok().map(|r| r.event_id)
                },
            },
        );
    }

    #[test]
    fn a_crash_while_an_open_rebuilds_index_files_loses_nothing() {
        sweep(
            "open",
            &Step {
                prepare: |sim, store| {
                    store.close().unwrap();
                    for name in sim.live_files(Path::new(DIR)) {
                        if name.ends_with(INDEX_SUFFIX) {
                            sim.remove_file(&Path::new(DIR).join(name)).unwrap();
                        }
                    }
                    sim.sync_dir(Path::new(DIR)).unwrap();
                    None
                },
                act: |sim, _| {
                    let _ = Store::open(sim_cfg(sim));
                    None
                },
            },
        );
    }
}
