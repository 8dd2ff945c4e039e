//! Guaranteed cursors: commit order, no skips or repeats, checkpoints that
//! survive a restart and refuse the wrong region or damaged bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, open_buffered};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use batpak::format::{CHECKPOINT_DIR, CHECKPOINT_SUFFIX};
use batpak::prelude::*;

const K: EventKind = EventKind::custom(0xE, 1);

fn append_n(store: &Store, from: usize, n: usize) {
    for i in from..from + n {
        let c = coord(format!("ent:{}", i % 3), format!("scope:{}", i % 2));
        store.append(&c, K, &i).unwrap();
    }
}

fn ids(entries: &[IndexEntry]) -> Vec<EventId> {
    entries.iter().map(IndexEntry::event_id).collect()
}

fn checkpoint_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(CHECKPOINT_DIR)
        .join(format!("{name}{CHECKPOINT_SUFFIX}"))
}

#[test]
fn a_checkpointed_cursor_resumes_with_exactly_the_rest_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let region = Region::scope("scope:1");
    let id = CheckpointId::new("worker-1").unwrap();
    let (first_half, all_before) = {
        let store = open_buffered(dir.path());
        append_n(&store, 0, 100);
        let all = store.query(&region);
        assert_eq!(all.len(), 50);
        let mut cursor = store.cursor_guaranteed(&region);
        let mut got = Vec::new();
        while got.len() < 25 {
            got.extend(cursor.poll_batch(7.min(25 - got.len())).unwrap());
        }
        cursor.save_checkpoint(&id).unwrap();
        // Read further without saving: these must come again after the restart.
        let unsaved = cursor.poll_batch(5).unwrap();
        assert_eq!(unsaved.len(), 5);
        drop(cursor);
        store.close().unwrap();
        (got, all)
    };
    assert_eq!(ids(&first_half), ids(&all_before[..25]));
    let store = open_buffered(dir.path());
    append_n(&store, 100, 10);
    let mut cursor = store.cursor_from_checkpoint(&region, &id).unwrap();
    let mut rest = Vec::new();
    loop {
        let batch = cursor.poll_batch(8).unwrap();
        if batch.is_empty() {
            break;
        }
        rest.extend(batch);
    }
    let everything = store.query(&region);
    assert_eq!(everything.len(), 55);
    assert_eq!(
        ids(&rest),
        ids(&everything[25..]),
        "exactly the rest, in order"
    );
    let mut joined = first_half;
    joined.extend(rest);
    assert_eq!(ids(&joined), ids(&everything), "no skip, no repeat");
}

#[test]
fn a_cursor_never_skips_or_repeats_under_concurrent_appends() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_buffered(dir.path()));
    let region = Region::entity_prefix("ent:");
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for i in 0..600usize {
                let c = coord(format!("ent:{}", i % 5), "s");
                store.submit(&c, K, &i).unwrap().wait().unwrap();
            }
        })
    };
    let mut cursor = store.cursor_guaranteed(&region);
    let mut seen = Vec::new();
    while seen.len() < 600 {
        let batch = cursor.poll_batch(13).unwrap();
        if batch.is_empty() {
            std::thread::yield_now();
        }
        seen.extend(batch);
    }
    writer.join().unwrap();
    assert!(cursor.poll_batch(100).unwrap().is_empty());
    assert_eq!(ids(&seen), ids(&store.query(&region)));
    let seqs: Vec<u64> = seen.iter().map(IndexEntry::global_sequence).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "commit order");
}

#[test]
fn poll_events_reads_payloads_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    append_n(&store, 0, 10);
    let mut cursor = store.cursor_guaranteed(&Region::entity("ent:1"));
    let events = cursor.poll_events(100).unwrap();
    let payloads: Vec<u64> = events
        .iter()
        .map(|e| e.event.payload.as_u64().unwrap())
        .collect();
    assert_eq!(payloads, vec![1, 4, 7]);
    assert_eq!(cursor.position(), Some(7));
}

#[test]
fn a_checkpoint_for_another_region_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    append_n(&store, 0, 6);
    let id = CheckpointId::new("w").unwrap();
    let mut cursor = store.cursor_guaranteed(&Region::scope("scope:0"));
    cursor.poll_batch(2).unwrap();
    cursor.save_checkpoint(&id).unwrap();
    for other in [
        Region::scope("scope:1"),
        Region::all(),
        Region::scope("scope:0").with_kind(K),
        Region::entity("scope:0"),
    ] {
        let err = store.cursor_from_checkpoint(&other, &id).unwrap_err();
        assert!(
            matches!(err, StoreError::CursorCheckpointRegionMismatch { .. }),
            "{other:?}: {err}"
        );
        let err = store.cursor_guaranteed(&other).resume(&id).unwrap_err();
        assert!(matches!(
            err,
            StoreError::CursorCheckpointRegionMismatch { .. }
        ));
    }
    assert_eq!(
        store
            .cursor_from_checkpoint(&Region::scope("scope:0"), &id)
            .unwrap()
            .position(),
        Some(2)
    );
}

#[test]
fn a_damaged_checkpoint_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    append_n(&store, 0, 4);
    let id = CheckpointId::new("w").unwrap();
    let mut cursor = store.cursor_guaranteed(&Region::all());
    cursor.poll_batch(3).unwrap();
    cursor.save_checkpoint(&id).unwrap();
    let path = checkpoint_file(dir.path(), "w");
    let good = std::fs::read(&path).unwrap();
    let mut damaged: Vec<Vec<u8>> = (0..good.len()).map(|cut| good[..cut].to_vec()).collect();
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x01;
        damaged.push(b);
    }
    for bytes in damaged {
        std::fs::write(&path, &bytes).unwrap();
        match store.cursor_from_checkpoint(&Region::all(), &id) {
            Err(StoreError::CursorCheckpointCorrupt { path: p, .. }) => assert_eq!(p, path),
            Err(StoreError::UnsupportedVersion { .. }) => {}
            other => panic!("damaged checkpoint gave {other:?}"),
        }
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(
        store
            .cursor_from_checkpoint(&Region::all(), &id)
            .unwrap()
            .position(),
        Some(2)
    );
}

#[test]
fn a_missing_checkpoint_is_reported_or_kept_as_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    append_n(&store, 0, 3);
    let id = CheckpointId::new("absent").unwrap();
    let err = store
        .cursor_from_checkpoint(&Region::all(), &id)
        .unwrap_err();
    assert!(matches!(err, StoreError::CursorCheckpointNotFound { .. }));
    assert_eq!(
        store
            .cursor_guaranteed(&Region::all())
            .resume(&id)
            .unwrap()
            .position(),
        None
    );
    let at_end = store
        .cursor_guaranteed(&Region::all())
        .at_end()
        .resume(&id)
        .unwrap();
    assert_eq!(at_end.position(), Some(2));
}

/// A checkpoint naming an event the log does not hold (the log lost its tail
/// after the checkpoint was saved) would skip the events that take those
/// positions next: refused.
#[test]
fn a_checkpoint_past_the_log_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let id = CheckpointId::new("w").unwrap();
    {
        let store = open_buffered(a.path());
        append_n(&store, 0, 10);
        let mut cursor = store.cursor_guaranteed(&Region::all());
        cursor.poll_batch(8).unwrap();
        cursor.save_checkpoint(&id).unwrap();
    }
    let store = open_buffered(b.path());
    append_n(&store, 0, 10);
    std::fs::create_dir_all(b.path().join(CHECKPOINT_DIR)).unwrap();
    std::fs::copy(
        checkpoint_file(a.path(), "w"),
        checkpoint_file(b.path(), "w"),
    )
    .unwrap();
    let err = store
        .cursor_from_checkpoint(&Region::all(), &id)
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::CursorCheckpointAhead {
                global_sequence: 7,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_read_only_store_resumes_but_does_not_save() {
    let dir = tempfile::tempdir().unwrap();
    let id = CheckpointId::new("w").unwrap();
    {
        let store = open_buffered(dir.path());
        append_n(&store, 0, 10);
        let mut cursor = store.cursor_guaranteed(&Region::all());
        cursor.poll_batch(4).unwrap();
        cursor.save_checkpoint(&id).unwrap();
        store.close().unwrap();
    }
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    let mut cursor = ro.cursor_from_checkpoint(&Region::all(), &id).unwrap();
    assert_eq!(cursor.poll_batch(100).unwrap().len(), 6);
    let err = cursor.save_checkpoint(&id).unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }));
    let err = cursor
        .save_checkpoint(&CheckpointId::new("new").unwrap())
        .unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }));
    assert!(!checkpoint_file(dir.path(), "new").exists());
}
