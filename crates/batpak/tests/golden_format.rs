//! The committed golden stores (fixtures/golden-v1 and fixtures/golden-v2,
//! the same events written by `examples/write_golden.rs` in segment format
//! versions 1 and 2) open and read back byte for byte, so a format change
//! cannot slip in unnoticed, and a version-1 store keeps its version-1 hashes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, copy_dir, fixture, golden_json, LOCK_FILE};

use std::path::{Path, PathBuf};

use batpak::prelude::*;

/// The golden stores and the segment format version each was written in.
const GOLDEN: [(&str, u16); 2] = [("golden-v1", 1), ("golden-v2", 2)];

fn golden(name: &str) -> PathBuf {
    fixture(name)
}

fn copy_store(name: &str) -> tempfile::TempDir {
    copy_dir(&golden(name).join("store"))
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

fn check_against_expected(name: &str, version: u16, store: &batpak::StoreReader) {
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(golden(name).join("expected.json")).unwrap())
            .unwrap();
    assert_eq!(store.len() as usize, expected.len());
    let events = store.query(&Region::all());
    for (i, (entry, want)) in events.iter().zip(&expected).enumerate() {
        let raw = store.read_raw(entry.event_id()).unwrap();
        let h = &raw.event.header;
        let got = golden_json::describe(&raw);
        assert_eq!(&got, want, "{name} event {i}");
        // The store's last request is a batch of two; every other append is single.
        let remaining = if i + 2 == events.len() { 1 } else { 0 };
        assert_eq!(
            (h.hash_version, h.batch_remaining),
            (version as u8, remaining),
            "{name} event {i}"
        );
        assert_eq!(
            batpak::chain::event_hash(h, &raw.coordinate),
            h.event_hash,
            "hash recomputes"
        );
    }
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn golden_stores_read_back_byte_for_byte() {
    for (name, version) in GOLDEN {
        golden_store_reads_back_byte_for_byte(name, version);
    }
}

fn golden_store_reads_back_byte_for_byte(name: &str, version: u16) {
    let dir = copy_store(name);
    let before = snapshot(dir.path());
    let ro = Store::open_read_only(
        StoreConfig::new(dir.path()).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap();
    check_against_expected(name, version, ro.reader());
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
    check_against_expected(name, version, store.reader());
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
    // It writes the sealed segments' index files too (derived data).
    after.retain(|(n, _)| !n.ends_with(batpak::format::INDEX_SUFFIX));
    assert_eq!(
        after, before,
        "{name}: opening and closing without appends rewrites nothing"
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
fn each_golden_store_hashes_in_the_layout_of_its_version() {
    // The layouts spelled out from docs/FORMAT.md ("Hashes"), as a third party
    // would recompute them: version 2 appends batch_remaining (u32 LE) to the
    // version-1 canonical header and has its own domain tag.
    for (name, version) in GOLDEN {
        let ro = Store::open_read_only(StoreConfig::new(golden(name).join("store"))).unwrap();
        for e in ro.query(&Region::all()) {
            let raw = ro.read_raw(e.event_id()).unwrap();
            let h = &raw.event.header;
            let canonical = batpak::chain::canonical_header_bytes(h, &raw.coordinate);
            let mut as_v1 = h.clone();
            as_v1.hash_version = 1;
            let v1_bytes = batpak::chain::canonical_header_bytes(&as_v1, &raw.coordinate);
            let domain: &[u8] = if version == 1 {
                assert_eq!(canonical, v1_bytes);
                b"batpak/event/v1\n"
            } else {
                assert_eq!(&canonical[..v1_bytes.len()], &v1_bytes[..]);
                assert_eq!(
                    &canonical[v1_bytes.len()..],
                    &h.batch_remaining.to_le_bytes()
                );
                b"batpak/event/v2\n"
            };
            let mut input = domain.to_vec();
            input.extend(&canonical);
            input.extend(h.content_hash);
            assert_eq!(*blake3::hash(&input).as_bytes(), h.event_hash, "{name}");
        }
    }
}

#[test]
fn the_version_1_idempotency_sidecar_of_the_golden_store_is_still_used() {
    // fixtures/golden-v1 holds an IDEMPOTENCY sidecar of version 1, written
    // before version 2 added the digest form; this build reads it as is.
    let dir = copy_store("golden-v1");
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
    let dir = copy_store("golden-v2");
    // The file name and the header offsets (version at 8, CRC of bytes 0..28
    // at 28) are spelled out from docs/FORMAT.md on purpose, not taken from
    // `batpak::format`: this test reads the format as a third party would.
    let seg = dir.path().join("00000000000000000001.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[8..10].copy_from_slice(&4u16.to_le_bytes());
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
                assert_eq!((*found, *supported), (4, 3));
            }
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
        assert!(err.to_string().contains("format version 4"), "{err}");
    }
}

#[test]
fn a_version_1_segment_after_a_version_2_one_is_refused() {
    // Reading a version-2 segment in the version-1 hash layout is what a
    // header rewritten to version 1 would be for: refused, naming the file.
    let dir = copy_store("golden-v2");
    let seg = dir.path().join("00000000000000000002.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[8..10].copy_from_slice(&1u16.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    for err in [
        Store::open(StoreConfig::new(dir.path())).unwrap_err(),
        Store::open_read_only(StoreConfig::new(dir.path())).unwrap_err(),
    ] {
        match &err {
            StoreError::CorruptSegment {
                segment,
                offset: 0,
                reason,
            } => {
                assert_eq!(segment, &seg);
                assert_eq!(
                    reason.to_string(),
                    "segment format version 1 after a segment of version 2"
                );
            }
            other => panic!("expected CorruptSegment, got {other:?}"),
        }
    }
}

#[test]
fn the_segment_reader_reads_the_golden_segments_as_the_store_does() {
    for (name, version) in GOLDEN {
        segment_reader_reads_as_the_store_does(name, version);
    }
}

fn segment_reader_reads_as_the_store_does(name: &str, version: u16) {
    let dir = copy_store(name);
    let store = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    let mut frames = Vec::new();
    for id in [1u64, 2] {
        let path = dir.path().join(batpak::format::segment_file_name(id));
        let segment = batpak::format::SegmentReader::open(&path).unwrap();
        assert_eq!(segment.segment_id(), id);
        assert_eq!(segment.version(), version);
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
