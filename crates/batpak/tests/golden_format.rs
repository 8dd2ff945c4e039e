//! The committed golden store (fixtures/golden-v1, written by
//! `examples/write_golden.rs`) opens and reads back byte for byte, so a format
//! change cannot slip in unnoticed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, copy_dir, fixture, golden_json, LOCK_FILE};

use std::path::{Path, PathBuf};

use batpak::prelude::*;

fn golden() -> PathBuf {
    fixture("golden-v1")
}

fn copy_store() -> tempfile::TempDir {
    copy_dir(&golden().join("store"))
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != LOCK_FILE && e.file_type().unwrap().is_file())
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

fn check_against_expected(store: &batpak::StoreReader) {
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(golden().join("expected.json")).unwrap())
            .unwrap();
    assert_eq!(store.len() as usize, expected.len());
    for (entry, want) in store.query(&Region::all()).iter().zip(&expected) {
        let raw = store.read_raw(entry.event_id()).unwrap();
        let h = &raw.event.header;
        let got = golden_json::describe(&raw);
        assert_eq!(&got, want);
        assert_eq!(
            batpak::chain::event_hash(h, &raw.coordinate),
            h.event_hash,
            "hash recomputes"
        );
    }
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn golden_store_reads_back_byte_for_byte() {
    let dir = copy_store();
    let before = snapshot(dir.path());
    let ro = Store::open_read_only(
        StoreConfig::new(dir.path()).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap();
    check_against_expected(ro.reader());
    drop(ro);
    assert_eq!(snapshot(dir.path()), before, "reading changes no byte");
    let store = Store::open(
        StoreConfig::new(dir.path()).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap();
    assert_eq!(
        store.open_report().segments,
        store.open_report().segments_from_footer
    );
    check_against_expected(store.reader());
    // Idempotency survives in the golden data too: the keyed append dedupes.
    let opts = AppendOptions::default()
        .with_idempotency_key(IdempotencyKey::from_bytes(*b"golden-key-00001"))
        .with_correlation_id(CorrelationId::from_u128(0x00c0_ffee));
    let first = store.query(&Region::all())[0].event_id();
    let again = store
        .append_with_options(
            &coord("account:0", "tenant:0"),
            EventKind::custom(0xE, 1),
            &"with options",
            opts.with_causation(CausationRef::Event(first)),
        )
        .unwrap();
    assert!(again.global_sequence < store.len());
    store.close().unwrap();
    // The store predates the Merkle tree: its first writer open builds the
    // tree and records a first head, and changes nothing else.
    let mut after = snapshot(dir.path());
    let heads = after
        .iter()
        .position(|(n, _)| n == batpak::format::HEADS_FILE);
    let heads = after.remove(heads.expect("the first writer open records a head"));
    assert_eq!(
        after, before,
        "opening and closing without appends rewrites nothing"
    );
    assert_eq!(&heads.1[..8], b"BPKHEADS");
    let tree = dir.path().join(batpak::format::TREE_DIR);
    let tree_before = snapshot(&tree);
    let all_before = snapshot(dir.path());
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(store.latest_head().unwrap().size(), store.len());
    assert_eq!(store.open_report().tree_leaves_from_log, 0);
    store.close().unwrap();
    assert_eq!(
        snapshot(dir.path()),
        all_before,
        "a second open and close rewrites nothing"
    );
    assert_eq!(snapshot(&tree), tree_before);
}

#[test]
fn the_version_1_idempotency_sidecar_of_the_golden_store_is_still_used() {
    // fixtures/golden-v1 holds an IDEMPOTENCY sidecar of version 1, written
    // before version 2 added the digest form; this build reads it as is.
    let dir = copy_store();
    let sidecar = std::fs::read(dir.path().join(batpak::format::IDEMPOTENCY_FILE)).unwrap();
    assert_eq!(
        &sidecar[..10],
        b"BPKIDEM1\x01\x00",
        "the fixture is version 1"
    );
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let report = store.open_report();
    assert_eq!(report.idempotency_sidecar_problem, None);
    assert_eq!(report.idempotency_keys_from_sidecar, 1);
    assert_eq!(report.idempotency_keys_from_log, 0);
    let first = store.query(&Region::all())[0].event_id();
    let keyed = store
        .query(&Region::all())
        .into_iter()
        .find(|e| {
            store
                .read_raw(e.event_id())
                .unwrap()
                .event
                .header
                .idempotency_key
                == Some(IdempotencyKey::from_bytes(*b"golden-key-00001"))
        })
        .unwrap();
    let opts = AppendOptions::default()
        .with_idempotency_key(IdempotencyKey::from_bytes(*b"golden-key-00001"))
        .with_correlation_id(CorrelationId::from_u128(0x00c0_ffee))
        .with_causation(CausationRef::Event(first));
    let before = store.len();
    let again = store
        .append_with_options(
            &coord("account:0", "tenant:0"),
            EventKind::custom(0xE, 1),
            &"with options",
            opts,
        )
        .unwrap();
    assert_eq!(again.event_id, keyed.event_id());
    assert_eq!(store.len(), before, "the retry wrote nothing");
}

#[test]
fn a_segment_of_another_format_version_is_refused_by_name() {
    let dir = copy_store();
    // The file name and the header offsets (version at 8, CRC of bytes 0..28
    // at 28) are spelled out from docs/FORMAT.md on purpose, not taken from
    // `batpak::format`: this test reads the format as a third party would.
    let seg = dir.path().join("00000000000000000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    for err in [
        Store::open(StoreConfig::new(dir.path())).unwrap_err(),
        Store::open_read_only(StoreConfig::new(dir.path())).unwrap_err(),
    ] {
        match &err {
            StoreError::UnsupportedVersion {
                path,
                found,
                supported,
            } => {
                assert_eq!(path, &seg);
                assert_eq!((*found, *supported), (2, 1));
            }
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
        assert!(err.to_string().contains("format version 2"), "{err}");
    }
}

#[test]
fn the_segment_reader_reads_the_golden_segments_as_the_store_does() {
    let dir = copy_store();
    let store = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    let mut frames = Vec::new();
    for id in [1u64, 2] {
        let path = dir.path().join(batpak::format::segment_file_name(id));
        let segment = batpak::format::SegmentReader::open(&path).unwrap();
        assert_eq!(segment.segment_id(), id);
        assert_eq!(
            segment.is_sealed(),
            batpak::format::SegmentReader::is_sealed_file(&path).unwrap()
        );
        let these: Vec<_> = segment
            .frames()
            .map(|f| {
                let f = f.unwrap();
                (f.offset(), f.frame_len(), f.event_id(), f.global_sequence())
            })
            .collect();
        if let Some(footer) = segment.footer().unwrap() {
            let listed: Vec<_> = footer
                .entries()
                .map(|e| {
                    (
                        e.offset(),
                        e.frame_len() as usize,
                        e.event_id(),
                        e.global_sequence(),
                    )
                })
                .collect();
            assert_eq!(listed, these, "segment {id}: footer and frames agree");
        }
        frames.extend(these);
    }
    assert_eq!(frames.len(), store.len() as usize);
    for ((_, _, id, gs), entry) in frames.iter().zip(store.query(&Region::all()).iter()) {
        assert_eq!((*id, *gs), (entry.event_id(), entry.global_sequence()));
    }
}
