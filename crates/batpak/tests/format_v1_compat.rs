//! A store written in segment format version 1 (fixtures/active-v1: one
//! sealed segment and an active one that was never sealed) keeps opening:
//! every event reads back as written, with its version-1 hash, the chain
//! verifies, and appends go into a new version-2 segment, never into the
//! version-1 file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, copy_dir, fixture, golden_json, segments, LOCK_FILE};

use std::path::{Path, PathBuf};

use batpak::format::{segment_file_name, SegmentReader};
use batpak::prelude::*;

const K: EventKind = EventKind::custom(0xE, 1);
const V1_EVENTS: u64 = 13;
/// Global sequences of the fixture's batch of three.
const BATCH: std::ops::Range<u64> = 9..12;

fn fixture_dir() -> PathBuf {
    fixture("active-v1")
}

fn expected() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != LOCK_FILE)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The fixture's events read back exactly as written, in hash layout 1.
fn check_v1_events(store: &StoreReader) {
    let expected = expected();
    let events = store.query(&Region::all());
    assert!(events.len() >= expected.len());
    for (entry, want) in events.iter().zip(&expected) {
        let raw = store.read_raw(entry.event_id()).unwrap();
        let h = &raw.event.header;
        assert_eq!(&golden_json::describe(&raw), want);
        let remaining = if BATCH.contains(&h.global_sequence) {
            (BATCH.end - 1 - h.global_sequence) as u32
        } else {
            0
        };
        assert_eq!((h.hash_version, h.batch_remaining), (1, remaining));
        assert_eq!(batpak::chain::event_hash(h, &raw.coordinate), h.event_hash);
    }
}

fn segment_version(dir: &Path, id: u64) -> (u16, bool) {
    let s = SegmentReader::open(dir.join(segment_file_name(id))).unwrap();
    (s.version(), s.is_sealed())
}

#[test]
fn a_version_1_store_with_an_unsealed_active_segment_reads_as_written() {
    let dir = copy_dir(&fixture_dir().join("store"));
    let before = snapshot(dir.path());
    assert_eq!(segment_version(dir.path(), 1), (1, true));
    assert_eq!(segment_version(dir.path(), 2), (1, false));
    let ro = Store::open_read_only(
        StoreConfig::new(dir.path()).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap();
    assert_eq!(ro.len(), V1_EVENTS);
    let report = ro.open_report();
    assert_eq!((report.segments, report.segments_from_footer), (2, 1));
    assert_eq!(report.torn_tail, None);
    assert!(
        report.preallocated_bytes > 0,
        "the zeros written ahead are kept"
    );
    check_v1_events(ro.reader());
    assert!(ro.verify_chain().unwrap().is_intact());
    drop(ro);
    assert_eq!(snapshot(dir.path()), before, "reading changes no byte");
}

#[test]
fn appends_to_a_version_1_store_go_into_a_new_version_2_segment_and_all_verify() {
    let dir = copy_dir(&fixture_dir().join("store"));
    let cfg = || StoreConfig::new(dir.path()).with_chain_verification(ChainVerification::Recompute);
    let store = Store::open(cfg()).unwrap();
    check_v1_events(store.reader());
    // The keyed event of the unsealed version-1 segment still dedupes its retry.
    let first = store.query(&Region::all())[0].event_id();
    let opts = AppendOptions::default()
        .with_idempotency_key(IdempotencyKey::from_bytes(*b"active-v1-key-01"))
        .with_correlation_id(CorrelationId::from_u128(0x0bad_cafe))
        .with_causation(CausationRef::Event(first));
    let retry = store
        .append_with_options(&coord("account:0", "bank"), K, &"keyed", opts)
        .unwrap();
    assert_eq!(retry.global_sequence, 8);
    assert_eq!(store.len(), V1_EVENTS, "the retry wrote nothing");
    assert_eq!(
        segments(dir.path()).len(),
        2,
        "no append yet, no new segment"
    );

    let single = store
        .append(&coord("account:2", "bank"), K, &"after v1")
        .unwrap();
    let batch = store
        .append_batch(vec![
            BatchAppendItem::new(
                coord("transfer:2", "bank"),
                K,
                &"debit",
                AppendOptions::default(),
                CausationRef::None,
            )
            .unwrap(),
            BatchAppendItem::new(
                coord("account:0", "bank"),
                K,
                &"credit",
                AppendOptions::default(),
                CausationRef::PriorItem(0),
            )
            .unwrap(),
        ])
        .unwrap();
    assert_eq!(single.global_sequence, V1_EVENTS);
    assert_eq!(segments(dir.path()).len(), 3);
    assert_eq!(
        segment_version(dir.path(), 2),
        (1, true),
        "the version-1 active segment was sealed, not appended to"
    );
    assert_eq!(
        segment_version(dir.path(), 3),
        (batpak::format::SEGMENT_FORMAT_VERSION, false)
    );
    let check_new = |store: &StoreReader| {
        let new: Vec<_> = [single.event_id, batch[0].event_id, batch[1].event_id]
            .iter()
            .map(|id| store.read_raw(*id).unwrap().event.header)
            .collect();
        let layout: Vec<_> = new
            .iter()
            .map(|h| (h.hash_version, h.batch_remaining))
            .collect();
        assert_eq!(layout, [(2, 0), (2, 1), (2, 0)]);
        // The chains run on across the versions.
        let prev = store
            .read_raw(store.query(&Region::all())[12].event_id())
            .unwrap();
        assert_eq!(new[0].prev_hash, prev.event.header.event_hash);
        assert_eq!(new[0].entity_sequence, 3);
    };
    check_new(store.reader());
    assert!(store.verify_chain().unwrap().is_intact());
    store.close().unwrap();

    let store = Store::open(cfg()).unwrap();
    assert_eq!(store.len(), V1_EVENTS + 3);
    check_v1_events(store.reader());
    check_new(store.reader());
    assert!(store.verify_chain().unwrap().is_intact());
    // The version-2 segment is the active one now and takes the next appends.
    store
        .append(&coord("account:1", "bank"), K, &"more")
        .unwrap();
    assert_eq!(segments(dir.path()).len(), 3);
    store.close().unwrap();

    let ro = Store::open_read_only(cfg()).unwrap();
    assert_eq!(ro.len(), V1_EVENTS + 4);
    check_v1_events(ro.reader());
    assert!(ro.verify_chain().unwrap().is_intact());
}

#[test]
fn a_torn_batch_in_a_version_1_segment_is_still_dropped() {
    let dir = copy_dir(&fixture_dir().join("store"));
    let seg = dir.path().join(segment_file_name(2));
    let reader = SegmentReader::open(&seg).unwrap();
    let frames: Vec<(u64, u64)> = reader
        .frames()
        .map(|f| {
            let f = f.unwrap();
            (f.global_sequence(), f.offset())
        })
        .collect();
    let offset_of = |gs: u64| frames.iter().find(|f| f.0 == gs).unwrap().1;
    // A crash in the middle of the batch's second frame: the first is whole.
    let cut = offset_of(BATCH.start + 1) + 20;
    let file = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    file.set_len(cut).unwrap();
    drop(file);
    for policy in [TailPolicy::RecoverTornTail, TailPolicy::FailClosed] {
        let copy = copy_dir(dir.path());
        let opened = Store::open(StoreConfig::new(copy.path()).with_tail_policy(policy));
        if policy == TailPolicy::FailClosed {
            assert!(
                matches!(opened, Err(StoreError::TornTail { .. })),
                "{opened:?}"
            );
            continue;
        }
        let store = opened.unwrap();
        let torn = store.open_report().torn_tail.expect("reported");
        assert_eq!(
            (torn.offset, torn.dropped_batch_frames, torn.damaged),
            (offset_of(BATCH.start), 1, false)
        );
        assert_eq!(store.len(), BATCH.start);
        assert!(store.verify_chain().unwrap().is_intact());
        store.append(&coord("account:0", "bank"), K, &"on").unwrap();
        assert_eq!(
            segment_version(copy.path(), 3),
            (batpak::format::SEGMENT_FORMAT_VERSION, false)
        );
        store.close().unwrap();
        let store = Store::open(StoreConfig::new(copy.path())).unwrap();
        assert_eq!(store.len(), BATCH.start + 1);
        assert!(store.verify_chain().unwrap().is_intact());
    }
}
