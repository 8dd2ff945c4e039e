//! `Store::snapshot` and `Store::fork`: a copy taken while appends go on is
//! a consistent prefix of the source that opens, verifies, proves against
//! its own head and takes appends; a fork shares the sealed segments by
//! hard link and never writes to the source's files; bad destinations are
//! refused before anything is written; and a crash at any file operation of
//! a copy leaves the source whole and the destination either whole or
//! refused by every open (`SnapshotIncomplete`), never a store with fewer
//! events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use batpak::format::{parse_segment_file_name, SNAPSHOT_INCOMPLETE_FILE};
use batpak::fs::{FsLock, OpenMode, RealFs, StoreFile, StoreFs};
use batpak::prelude::*;
use batpak::{
    AppendOptions, BatchAppendItem, CausationRef, CheckpointId, CopyStrategy, IdempotencyKey,
    SnapshotReport, TreeHead,
};
use common::{coord, SMALL_SEGMENT_BYTES};

const KIND: EventKind = EventKind::custom(0xE, 0x51);

/// Segments small enough that a few hundred appends rotate several times.
fn config(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir).with_segment_max_bytes(SMALL_SEGMENT_BYTES)
}

/// An event as the checks compare it: id, event hash and stored payload bytes.
type Stored = (EventId, [u8; 32], Vec<u8>);

/// Every event of `store` in commit order.
fn events(store: &StoreReader) -> Vec<Stored> {
    store
        .query(&Region::all())
        .iter()
        .map(|e| {
            let raw = store.read_stored(e.event_id()).unwrap();
            (e.event_id(), raw.event.header.event_hash, raw.event.payload)
        })
        .collect()
}

/// Every regular file under `dir` (one level of subdirectories), by relative path.
fn file_bytes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = PathBuf::from(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            for inner in std::fs::read_dir(entry.path()).unwrap() {
                let inner = inner.unwrap();
                out.insert(
                    name.join(inner.file_name()),
                    std::fs::read(inner.path()).unwrap(),
                );
            }
        } else {
            out.insert(name, std::fs::read(entry.path()).unwrap());
        }
    }
    out
}

/// The checks every finished copy must pass: it opens, its events are the
/// first `report.events` of the source's (ids, hashes, stored bytes), its
/// chain is intact and its latest head is the report's, the root of its own
/// tree at the head's size.
fn assert_consistent_prefix(
    source: &StoreReader,
    copy: &StoreReader,
    events_in_report: u64,
    head: Option<&TreeHead>,
) {
    let theirs = events(source);
    let ours = events(copy);
    assert_eq!(ours.len() as u64, events_in_report);
    assert_eq!(ours[..], theirs[..ours.len()], "a prefix of the source");
    assert!(copy.verify_chain().unwrap().is_intact());
    let latest = copy.latest_head();
    assert_eq!(latest.as_ref(), head);
    if let Some(h) = latest {
        assert_eq!(h.size(), events_in_report, "the head covers the whole copy");
        assert_eq!(&copy.tree_root(h.size()).unwrap(), h.root());
        assert_eq!(copy.tree_size(), events_in_report);
    }
}

#[test]
fn a_snapshot_taken_while_appends_continue_is_a_consistent_prefix_that_takes_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("src"), tmp.path().join("copy"));
    let store = Arc::new(Store::open(config(&src)).unwrap());
    let keyed = store
        .append_with_options(
            &coord("keyed", "s"),
            KIND,
            &"once",
            AppendOptions::default().with_idempotency_key(IdempotencyKey::from_bytes([7; 16])),
        )
        .unwrap();
    let mut cursor = store.cursor_guaranteed(&Region::all());
    assert_eq!(cursor.poll_batch(10).unwrap().len(), 1);
    let checkpoint = CheckpointId::new("reader").unwrap();
    cursor.save_checkpoint(&checkpoint).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let writer = {
        let (store, stop, appended) = (store.clone(), stop.clone(), appended.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let c = coord(format!("e{}", i % 5), "s");
                if i % 7 == 0 {
                    let items = (0..3)
                        .map(|j| {
                            BatchAppendItem::new(
                                c.clone(),
                                KIND,
                                &(i, j),
                                AppendOptions::default(),
                                CausationRef::None,
                            )
                            .unwrap()
                        })
                        .collect();
                    store.append_batch(items).unwrap();
                } else {
                    store.append(&c, KIND, &format!("event {i}")).unwrap();
                }
                i += 1;
                appended.store(i, Ordering::SeqCst);
            }
        })
    };
    while appended.load(Ordering::SeqCst) < 150 {
        std::thread::yield_now();
    }
    let before = store.len();
    let mut calls = Vec::new();
    let report = store
        .snapshot_with_progress(&dest, |done, total| calls.push((done, total)))
        .unwrap();
    // Let appends go on past the cut, then stop them.
    let after_call = appended.load(Ordering::SeqCst);
    while appended.load(Ordering::SeqCst) < after_call + 50 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();

    assert!(report.events >= before, "every event visible at the call");
    assert!(store.len() > report.events, "appends went on after the cut");
    let total = report.bytes();
    assert_eq!(calls.first(), Some(&(0, total)));
    assert_eq!(calls.last(), Some(&(total, total)));
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
    let segments = report
        .files
        .iter()
        .filter(|f| parse_segment_file_name(f.path.to_str().unwrap()).is_some())
        .count();
    assert!(segments >= 3, "several segments were copied: {segments}");
    assert!(report
        .files
        .iter()
        .all(|f| f.strategy == CopyStrategy::Copied));
    for name in ["HEADS", "tree/level-00", "cursors/reader.ckpt"] {
        assert!(
            report.files.iter().any(|f| f.path == Path::new(name)),
            "{name} is copied"
        );
    }
    assert!(!dest.join(SNAPSHOT_INCOMPLETE_FILE).exists());
    assert!(
        !dest.join("LOCK").exists(),
        "the source's lock is not copied"
    );

    let copy = Store::open(config(&dest)).unwrap();
    assert_consistent_prefix(
        store.reader(),
        copy.reader(),
        report.events,
        report.head.as_ref(),
    );
    assert!(copy.open_report().torn_tail.is_none());
    // The copy keeps the cursor's place and the idempotency keys.
    let mut resumed = copy
        .cursor_from_checkpoint(&Region::all(), &checkpoint)
        .unwrap();
    assert_eq!(
        resumed.poll_batch(1).unwrap()[0].global_sequence(),
        1,
        "resumes after the checkpointed event"
    );
    let retried = copy
        .append_with_options(
            &coord("keyed", "s"),
            KIND,
            &"once",
            AppendOptions::default().with_idempotency_key(IdempotencyKey::from_bytes([7; 16])),
        )
        .unwrap();
    assert_eq!(retried.event_id, keyed.event_id);
    // The copy is a store of its own.
    let mine = copy
        .append(&coord("e0", "s"), KIND, &"only in the copy")
        .unwrap();
    assert_eq!(mine.global_sequence, report.events);
    assert!(store.entry(mine.event_id).is_none());
    copy.close().unwrap();
    let reopened = Store::open(config(&dest)).unwrap();
    assert_eq!(reopened.len(), report.events + 1);
    assert!(reopened.verify_chain().unwrap().is_intact());
}

#[test]
fn a_fork_links_the_sealed_segments_and_appends_to_it_never_touch_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("src"), tmp.path().join("fork"));
    let store = Store::open(config(&src)).unwrap();
    for i in 0..200u32 {
        store
            .append(&coord(format!("e{}", i % 3), "s"), KIND, &i)
            .unwrap();
    }
    let report = store.fork(&dest).unwrap();
    assert_eq!(report.events, 200);
    assert_eq!(report.link_fallback, None);
    let segment = |p: &Path| p.to_str().and_then(parse_segment_file_name).is_some();
    let linked: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.strategy == CopyStrategy::Linked)
        .collect();
    assert!(linked.len() >= 2, "sealed segments are linked: {report:?}");
    for f in &report.files {
        let theirs = std::fs::metadata(src.join(&f.path)).unwrap();
        let ours = std::fs::metadata(dest.join(&f.path)).unwrap();
        match f.strategy {
            CopyStrategy::Linked => {
                assert!(segment(&f.path), "only segments are linked: {f:?}");
                assert_eq!(ours.ino(), theirs.ino(), "{f:?} shares the inode");
                assert_eq!(ours.nlink(), 2);
            }
            _ => assert_ne!(ours.ino(), theirs.ino(), "{f:?} is a copy"),
        }
    }
    // The last segment (the active one) is a copy, so the fork's writer never
    // appends to a shared file.
    let last = report.files.iter().rfind(|f| segment(&f.path));
    assert_eq!(last.map(|f| f.strategy), Some(CopyStrategy::Copied));
    assert_eq!(report.linked_bytes() + report.copied_bytes(), {
        report.files.iter().map(|f| f.bytes).sum::<u64>()
    });

    let source_files = file_bytes(&src);
    let fork = Store::open(config(&dest)).unwrap();
    assert_consistent_prefix(
        store.reader(),
        fork.reader(),
        report.events,
        report.head.as_ref(),
    );
    for i in 0..200u32 {
        fork.append(&coord("fork-only", "s"), KIND, &i).unwrap();
    }
    fork.close().unwrap();
    assert_eq!(
        file_bytes(&src),
        source_files,
        "the fork's appends, rotations and close changed no file of the source"
    );
    let fork = Store::open(config(&dest)).unwrap();
    assert_eq!(fork.len(), 400);
    assert!(fork.verify_chain().unwrap().is_intact());
    assert!(store.verify_chain().unwrap().is_intact());
    store.append(&coord("e0", "s"), KIND, &"source").unwrap();
    store.close().unwrap();
    let source = Store::open(config(&src)).unwrap();
    assert_eq!(source.len(), 201);
    assert!(source.verify_chain().unwrap().is_intact());
    assert!(source.by_entity("fork-only").is_empty());
}

/// A file system that delegates to the real one but, like any
/// implementation written before hard links were part of the seam, keeps
/// the default `hard_link` (it answers `Unsupported`).
#[derive(Debug)]
struct WithoutLinks;

impl StoreFs for WithoutLinks {
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        RealFs.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> std::io::Result<Vec<String>> {
        RealFs.list_dir(path)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> std::io::Result<Arc<dyn StoreFile>> {
        RealFs.open(path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        RealFs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        RealFs.remove_file(path)
    }
    fn sync_dir(&self, path: &Path) -> std::io::Result<()> {
        RealFs.sync_dir(path)
    }
    fn try_lock_exclusive(&self, path: &Path) -> std::io::Result<Option<Box<dyn FsLock>>> {
        RealFs.try_lock_exclusive(path)
    }
    fn exists(&self, path: &Path) -> std::io::Result<bool> {
        RealFs.exists(path)
    }
}

#[test]
fn a_fork_without_hard_links_copies_every_segment_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("src"), tmp.path().join("fork"));
    let store = Store::open(config(&src).with_fs(Arc::new(WithoutLinks))).unwrap();
    for i in 0..100u32 {
        store.append(&coord("e", "s"), KIND, &i).unwrap();
    }
    let report = store.fork(&dest).unwrap();
    let fallback = report
        .link_fallback
        .clone()
        .expect("the link failure is reported");
    assert_eq!(fallback.kind, std::io::ErrorKind::Unsupported);
    assert_eq!(fallback.path, PathBuf::from("00000000000000000001.seg"));
    assert!(report
        .files
        .iter()
        .all(|f| f.strategy == CopyStrategy::Copied));
    assert_eq!(report.linked_bytes(), 0);
    let theirs = std::fs::metadata(src.join(&fallback.path)).unwrap();
    let ours = std::fs::metadata(dest.join(&fallback.path)).unwrap();
    assert_ne!(ours.ino(), theirs.ino());
    let fork = Store::open(config(&dest)).unwrap();
    assert_consistent_prefix(
        store.reader(),
        fork.reader(),
        report.events,
        report.head.as_ref(),
    );
}

#[test]
fn bad_destinations_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let store = Store::open(config(&src)).unwrap();
    store.append(&coord("a", "s"), KIND, &1u8).unwrap();
    let heads_before = std::fs::read(src.join("HEADS")).unwrap();

    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("someone-else.txt"), b"x").unwrap();
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let elsewhere = tmp.path().join("empty-elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let link_to_src = tmp.path().join("link-to-src");
    std::os::unix::fs::symlink(&src, &link_to_src).unwrap();

    type Check = fn(&StoreError) -> bool;
    let cases: Vec<(PathBuf, Check)> = vec![
        (full.clone(), |e| {
            matches!(e, StoreError::DestinationNotEmpty { .. })
        }),
        (file.clone(), |e| {
            matches!(e, StoreError::DestinationNotEmpty { .. })
        }),
        (src.clone(), |e| {
            matches!(e, StoreError::DestinationInsideSource { .. })
        }),
        (src.join("inner"), |e| {
            matches!(e, StoreError::DestinationInsideSource { .. })
        }),
        (src.join("cursors/../x/y"), |e| {
            matches!(e, StoreError::DestinationInsideSource { .. })
        }),
        (tmp.path().join("src/../src/deeper"), |e| {
            matches!(e, StoreError::DestinationInsideSource { .. })
        }),
        (link_to_src.join("inner"), |e| {
            matches!(e, StoreError::DestinationInsideSource { .. })
        }),
        (link.clone(), |e| {
            matches!(e, StoreError::DestinationIsSymlink { .. })
        }),
    ];
    for (dest, check) in &cases {
        for fork in [false, true] {
            let err = if fork {
                store.fork(dest).map(|_| ()).unwrap_err()
            } else {
                store.snapshot(dest).map(|_| ()).unwrap_err()
            };
            assert!(check(&err), "{} (fork: {fork}): {err:?}", dest.display());
            assert_eq!(err.fault(), batpak::Fault::Caller);
            assert_eq!(err.handling_class(), HandlingClass::Domain);
            assert!(
                err.to_string().contains(dest.to_str().unwrap()),
                "the message names the destination: {err}"
            );
        }
    }
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(!src.join("inner").exists() && !src.join("x").exists());
    assert_eq!(
        std::fs::read(src.join("HEADS")).unwrap(),
        heads_before,
        "a refusal comes before the cut: no head was recorded"
    );
    // An empty directory, and a path whose parents do not exist yet, are fine.
    assert_eq!(store.snapshot(&elsewhere).unwrap().events, 1);
    let nested = tmp.path().join("a/b/c");
    assert_eq!(store.fork(&nested).unwrap().events, 1);
    assert_eq!(Store::open(config(&nested)).unwrap().len(), 1);
}

#[test]
fn an_unfinished_copy_is_refused_by_every_open_and_left_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("src"), tmp.path().join("copy"));
    let store = Store::open(config(&src)).unwrap();
    store.append(&coord("a", "s"), KIND, &1u8).unwrap();
    store.snapshot(&dest).unwrap();
    // What a copy cut short looks like: everything there, the marker too.
    std::fs::write(dest.join(SNAPSHOT_INCOMPLETE_FILE), b"").unwrap();
    let before = file_bytes(&dest);
    let err = Store::open(config(&dest)).unwrap_err();
    assert!(
        matches!(&err, StoreError::SnapshotIncomplete { path } if path == &dest),
        "{err:?}"
    );
    assert_eq!(err.code(), "snapshot_incomplete");
    assert_eq!(err.handling_class(), HandlingClass::FailClosedOperational);
    assert!(err.to_string().contains("delete the directory"), "{err}");
    let err = Store::open_read_only(config(&dest)).unwrap_err();
    assert!(
        matches!(err, StoreError::SnapshotIncomplete { .. }),
        "{err:?}"
    );
    assert_eq!(file_bytes(&dest), before, "no lock file, no repair");
    std::fs::remove_file(dest.join(SNAPSHOT_INCOMPLETE_FILE)).unwrap();
    assert_eq!(Store::open(config(&dest)).unwrap().len(), 1);
}

#[test]
fn a_snapshot_of_an_empty_store_opens_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(config(&tmp.path().join("src"))).unwrap();
    let report: SnapshotReport = store.snapshot(tmp.path().join("copy")).unwrap();
    assert_eq!((report.events, report.head.as_ref()), (0, None));
    let copy = Store::open(config(&tmp.path().join("copy"))).unwrap();
    assert!(copy.is_empty());
    assert_eq!(copy.latest_head(), None);
    copy.append(&coord("a", "s"), KIND, &1u8).unwrap();
}

#[test]
fn a_reopened_sealed_tail_is_copied_to_its_last_frame_and_appends_after_the_cut_stay_out() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let store = Store::open(config(&src)).unwrap();
    for i in 0..5u32 {
        store.append(&coord("a", "s"), KIND, &i).unwrap();
    }
    store.close().unwrap();
    // Reopened, the last segment is sealed and still the writer's: the
    // first append after the cut cuts its footer off and writes there.
    let store = Store::open(config(&src).with_sync_mode(SyncMode::OsBuffered)).unwrap();
    let snap = store.snapshot(tmp.path().join("snap")).unwrap();
    let fork = store.fork(tmp.path().join("fork")).unwrap();
    for i in 5..10u32 {
        store.append(&coord("a", "s"), KIND, &i).unwrap();
    }
    let last_segment = |files: &[batpak::SnapshotFile]| {
        files
            .iter()
            .rfind(|f| f.path.to_str().and_then(parse_segment_file_name).is_some())
            .cloned()
            .unwrap()
    };
    assert_eq!(last_segment(&fork.files).strategy, CopyStrategy::Copied);
    for (dir, events, head) in [
        ("snap", snap.events, snap.head.as_ref()),
        ("fork", fork.events, fork.head.as_ref()),
    ] {
        let copy = Store::open(config(&tmp.path().join(dir))).unwrap();
        assert_eq!(events, 5);
        assert_consistent_prefix(store.reader(), copy.reader(), events, head);
        // Cut at its last frame: an unsealed tail with nothing after it.
        let report = copy.open_report();
        assert!(report.torn_tail.is_none(), "{dir}: {report:?}");
        copy.append(&coord("a", "s"), KIND, &"more").unwrap();
    }
    // Unsynced appends of a buffered store are synced by the cut.
    store.append(&coord("a", "s"), KIND, &"buffered").unwrap();
    let again = store.snapshot(tmp.path().join("again")).unwrap();
    assert_eq!(again.events, 11);
    assert!(store.frontier().durable.covers_sequence(10));
}

#[cfg(feature = "payload-encryption")]
#[test]
fn a_snapshot_of_an_encrypted_store_reads_every_payload_and_keeps_shreds() {
    use batpak::{KeyScopeGranularity, ShredScope};
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("src"), tmp.path().join("copy"));
    let encrypted =
        |dir: &Path| config(dir).with_payload_encryption(KeyScopeGranularity::PerEntity);
    let store = Store::open(encrypted(&src)).unwrap();
    for i in 0..120u32 {
        let c = coord(format!("person:{}", i % 6), "crm");
        store
            .append(
                &c,
                KIND,
                &serde_json::json!({"n": i, "mail": format!("{i}@example.org")}),
            )
            .unwrap();
    }
    let gone = coord("person:0", "crm");
    assert!(store.shred_scope(ShredScope::Entity(&gone)).unwrap());
    let report = store.snapshot(&dest).unwrap();
    assert!(report.files.iter().any(|f| f.path == Path::new("KEYSET")));
    drop(store);

    let source = Store::open(encrypted(&src)).unwrap();
    let copy = Store::open(encrypted(&dest)).unwrap();
    assert_consistent_prefix(
        source.reader(),
        copy.reader(),
        report.events,
        report.head.as_ref(),
    );
    let mut read = 0;
    for e in copy.query(&Region::all()) {
        let ours = copy.read_raw(e.event_id());
        if e.coordinate().entity() == "person:0" {
            assert!(
                matches!(ours, Err(StoreError::PayloadShredded { .. })),
                "a shred before the snapshot stays a shred"
            );
            continue;
        }
        assert_eq!(
            ours.unwrap().event.payload,
            source.read_raw(e.event_id()).unwrap().event.payload
        );
        read += 1;
    }
    assert_eq!(read, 100);
    // New keys minted in the copy are the copy's own.
    copy.append(&coord("person:new", "crm"), KIND, &"fresh")
        .unwrap();
    assert!(copy.verify_chain().unwrap().is_intact());
}

#[cfg(feature = "sim")]
mod crashes {
    //! A crash at every file operation of a snapshot or fork on a `SimFs`.

    use super::*;
    use batpak::sim::{FaultKind, FaultPlan, OpClass, SimFs, TracedOp};

    const SRC: &str = "/sim/src";
    const DEST: &str = "/sim/copy";
    const EVENTS: u64 = 60;

    /// No heads on a timer: every run of the workload does the same operations.
    fn sim_config(sim: &SimFs, dir: &str) -> StoreConfig {
        config(Path::new(dir))
            .with_fs(Arc::new(sim.clone()))
            .with_head_interval(None)
    }

    /// A source of [`EVENTS`] events over several segments, with a cursor
    /// checkpoint and an idempotency key; the same operations on every disk.
    fn source(sim: &SimFs) -> Store {
        let store = Store::open(sim_config(sim, SRC)).unwrap();
        let keyed =
            AppendOptions::default().with_idempotency_key(IdempotencyKey::from_bytes([1; 16]));
        store
            .append_with_options(&coord("e0", "s"), KIND, &"keyed", keyed)
            .unwrap();
        for i in 1..EVENTS {
            store
                .append(
                    &coord(format!("e{}", i % 4), "s"),
                    KIND,
                    &format!("payload {i}"),
                )
                .unwrap();
        }
        let mut cursor = store.cursor_guaranteed(&Region::all());
        cursor.poll_batch(10).unwrap();
        cursor
            .save_checkpoint(&CheckpointId::new("c").unwrap())
            .unwrap();
        store
    }

    /// Takes the copy; returns how many files it linked.
    fn copy(store: &Store, fork: bool) -> Result<usize, StoreError> {
        let dest = Path::new(DEST);
        if fork {
            let report = store.fork(dest)?;
            Ok(report
                .files
                .iter()
                .filter(|f| f.strategy == CopyStrategy::Linked)
                .count())
        } else {
            store.snapshot(dest).map(|_| 0)
        }
    }

    /// The events of the source, the operations of one copy on an honest
    /// disk, and how many files it linked.
    fn trace(fork: bool) -> (Vec<TracedOp>, Vec<Stored>, usize) {
        let sim = SimFs::with_plan(FaultPlan::none(1));
        let store = source(&sim);
        let expected = events(store.reader());
        sim.start_trace();
        let linked = copy(&store, fork).unwrap();
        (sim.take_trace(), expected, linked)
    }

    /// How the destination came out of a crash.
    #[derive(Debug, Default)]
    struct Outcomes {
        absent_or_empty: u32,
        refused: u32,
        whole: u32,
    }

    /// Fails operation `nth` of the copy (`None`: none), crashes, and checks
    /// the source and the destination.
    fn crash_at(fork: bool, seed: u64, torn: bool, op: Option<&TracedOp>, seen: &mut Outcomes) {
        let sim = SimFs::with_plan(FaultPlan::none(seed).with_torn_crash(torn));
        let store = source(&sim);
        let expected = events(store.reader());
        let what = format!("fork {fork}, seed {seed}, torn {torn}, fault at {op:?}");
        if let Some(t) = op {
            let now = sim.counters();
            let done = match t.op {
                OpClass::Write => now.writes,
                OpClass::Sync => now.syncs,
                OpClass::SyncDir => now.dir_syncs,
                OpClass::Create => now.creates,
                OpClass::Rename => now.renames,
                OpClass::Remove => now.removes,
                OpClass::SetLen => now.set_lens,
                _ => now.reads,
            };
            assert!(t.nth > done, "{what}: the workload is not deterministic");
            sim.arm(common::failing(t.op), t.nth - done);
        }
        let outcome = copy(&store, fork);
        if op.is_none() {
            outcome.unwrap();
        }
        sim.crash();
        drop(store);

        let source = Store::open(sim_config(&sim, SRC))
            .unwrap_or_else(|e| panic!("{what}: the source does not reopen: {e:?}"));
        assert!(
            events(source.reader()) == expected,
            "{what}: the source lost or changed events"
        );
        assert!(source.verify_chain().unwrap().is_intact(), "{what}");
        drop(source);

        let dest = Path::new(DEST);
        let listed = sim.list_dir(dest);
        if listed.map_or(true, |names| names.is_empty()) {
            seen.absent_or_empty += 1;
            return;
        }
        match Store::open(sim_config(&sim, DEST)) {
            Err(StoreError::SnapshotIncomplete { .. }) => seen.refused += 1,
            Ok(copy) => {
                let held = events(copy.reader());
                assert!(
                    held == expected,
                    "{what}: a copy that opens holds every event ({} of {})",
                    held.len(),
                    expected.len()
                );
                assert!(copy.verify_chain().unwrap().is_intact(), "{what}");
                let head = copy.latest_head().expect("the copy has its head");
                assert_eq!(head.size(), EVENTS, "{what}");
                assert_eq!(&copy.tree_root(EVENTS).unwrap(), head.root(), "{what}");
                copy.append(&coord("after", "s"), KIND, &"x")
                    .unwrap_or_else(|e| panic!("{what}: the copy takes no append: {e:?}"));
                seen.whole += 1;
            }
            Err(e) => panic!("{what}: the destination is neither whole nor refused: {e:?}"),
        }
    }

    fn sweep(fork: bool) -> (usize, Outcomes) {
        let (ops, expected, linked) = trace(fork);
        assert_eq!(expected.len() as u64, EVENTS);
        if fork {
            assert!(linked >= 2, "the fork links sealed segments on a SimFs");
        }
        let mut seen = Outcomes::default();
        for seed in [11, 12] {
            for torn in [false, true] {
                for t in &ops {
                    crash_at(fork, seed, torn, Some(t), &mut seen);
                }
                crash_at(fork, seed, torn, None, &mut seen);
            }
        }
        (ops.len(), seen)
    }

    #[test]
    fn a_crash_at_any_operation_of_a_snapshot_leaves_the_source_whole_and_the_copy_whole_or_refused(
    ) {
        let (ops, seen) = sweep(false);
        assert!(ops > 40, "the snapshot has {ops} operations");
        assert!(seen.refused > 0 && seen.whole > 0, "{seen:?}");
    }

    #[test]
    fn a_crash_at_any_operation_of_a_fork_leaves_the_source_whole_and_the_fork_whole_or_refused() {
        let (ops, seen) = sweep(true);
        assert!(ops > 30, "the fork has {ops} operations");
        assert!(seen.refused > 0 && seen.whole > 0, "{seen:?}");
    }

    #[test]
    fn a_fork_whose_first_link_fails_copies_the_rest_and_reports_it() {
        let (ops, _, _) = trace(true);
        let link = ops
            .iter()
            .find(|t| t.op == OpClass::Create && t.path.extension() == Some("seg".as_ref()))
            .expect("the fork links a segment")
            .nth;
        let sim = SimFs::with_plan(FaultPlan::none(1).with_fault(FaultKind::FailCreate, link));
        let store = source(&sim);
        let report = store.fork(DEST).unwrap();
        let fallback = report.link_fallback.expect("reported");
        assert_eq!(fallback.path, PathBuf::from("00000000000000000001.seg"));
        assert!(report
            .files
            .iter()
            .all(|f| f.strategy == CopyStrategy::Copied));
        drop(store);
        let copy = Store::open(sim_config(&sim, DEST)).unwrap();
        assert_eq!(copy.len(), EVENTS);
        assert!(copy.verify_chain().unwrap().is_intact());
    }

    #[test]
    fn a_fail_stopped_writer_refuses_to_be_copied() {
        let sim = SimFs::with_plan(FaultPlan::none(4));
        let store = source(&sim);
        sim.arm(FaultKind::FailSync, 1);
        assert!(store.append(&coord("e", "s"), KIND, &"lost").is_err());
        let err = store.snapshot(DEST).unwrap_err();
        assert!(matches!(err, StoreError::WriterFailed { .. }), "{err:?}");
        assert!(!sim.exists(Path::new(DEST)).unwrap(), "nothing was written");
    }
}
