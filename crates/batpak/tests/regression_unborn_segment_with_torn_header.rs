//! Regression: a crash while a new segment was being created could leave it the length of a header but holding zeros or a torn header (the size reached the disk, the data did not), and the store then refused to open with CorruptSegment although nothing was ever committed in that segment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, segments, temp_store};

use batpak::format::{parse_segment_file_name, segment_file_name, SEGMENT_HEADER_LEN};
use batpak::prelude::*;

const KIND: EventKind = EventKind::custom(0xE, 0x43);

/// A closed store with a few events, plus a next segment file holding `next`.
fn store_with_next_segment(next: &[u8]) -> (tempfile::TempDir, Vec<AppendReceipt>) {
    let (dir, store) = temp_store();
    let at = coord("entity:unborn", "scope:r");
    let receipts = (0..4)
        .map(|n| store.append(&at, KIND, &n).unwrap())
        .collect();
    store.close().unwrap();
    let last = segments(dir.path()).pop().unwrap();
    let name = last.file_name().unwrap().to_str().unwrap();
    let id = parse_segment_file_name(name).unwrap();
    std::fs::write(dir.path().join(segment_file_name(id + 1)), next).unwrap();
    (dir, receipts)
}

#[test]
fn a_header_sized_last_segment_of_zeros_or_a_torn_header_is_discarded() {
    // A real header to tear: the one the store writes for its first segment.
    let (probe, s) = temp_store();
    s.append(&coord("entity:p", "scope:p"), KIND, &0).unwrap();
    s.close().unwrap();
    let real = std::fs::read(&segments(probe.path())[0]).unwrap()[..SEGMENT_HEADER_LEN].to_vec();
    let mut torn = real.clone();
    torn[SEGMENT_HEADER_LEN / 2..].fill(0);

    for (what, bytes) in [
        ("zeros", vec![0u8; SEGMENT_HEADER_LEN]),
        ("torn header", torn),
    ] {
        let (dir, receipts) = store_with_next_segment(&bytes);
        let store = Store::open(StoreConfig::new(dir.path()))
            .unwrap_or_else(|e| panic!("{what}: an unborn segment must not block the open: {e}"));
        assert!(
            store.open_report().torn_tail.is_some(),
            "{what}: the discarded segment is reported"
        );
        for r in &receipts {
            assert!(store.verify_append_receipt(r).is_valid(), "{what}");
        }
        store
            .append(&coord("entity:unborn", "scope:r"), KIND, &"next")
            .unwrap();
        assert!(store.verify_chain().unwrap().is_intact(), "{what}");
    }
}

#[test]
fn a_bad_header_in_front_of_more_bytes_still_fails_closed() {
    let mut bytes = vec![0u8; SEGMENT_HEADER_LEN];
    bytes.extend_from_slice(&[0xAB; 100]);
    let (dir, _) = store_with_next_segment(&bytes);
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    assert!(
        matches!(err, StoreError::CorruptSegment { .. }),
        "got {err:?}"
    );
}
