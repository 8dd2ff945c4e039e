//! Regression: one flipped bit in any footer made the store unopenable by every path, although a footer only repeats what the segment's frames hold. A footer that fails its checksum is now rebuilt from the frames (reported in `OpenReport::rebuilt_footers`, written back by the writer), as long as the frames verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use batpak::prelude::*;
use common::{coord, footer_span, segments, small_segments, ROTATING_PAYLOAD_LEN};

const K: EventKind = EventKind::custom(0xE, 1);

/// A closed store of several sealed segments; returns the receipts.
fn sealed_store(dir: &std::path::Path) -> Vec<AppendReceipt> {
    let store = Store::open(small_segments(dir)).unwrap();
    let big = "x".repeat(ROTATING_PAYLOAD_LEN);
    let receipts = (0..10)
        .map(|i| {
            store
                .append(&coord(format!("e{}", i % 3), "s"), K, &big)
                .unwrap()
        })
        .collect();
    store.close().unwrap();
    receipts
}

/// Flips a footer byte and removes the segment's index file: a footer is
/// read at open only when no index file stands in for it
/// (tests/index_files.rs).
fn flip_footer_byte(seg: &std::path::Path) {
    let _ = std::fs::remove_file(seg.with_extension("idx"));
    let mut bytes = std::fs::read(seg).unwrap();
    let span = footer_span(&bytes);
    bytes[span.start + span.len() / 2] ^= 0x20;
    std::fs::write(seg, &bytes).unwrap();
}

#[test]
fn a_damaged_footer_is_rebuilt_from_the_frames_and_written_back() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = sealed_store(dir.path());
    let segs = segments(dir.path());
    assert!(segs.len() >= 3, "{segs:?}");
    flip_footer_byte(&segs[0]);
    let damaged = std::fs::read(&segs[0]).unwrap();

    let ro = Store::open_read_only(small_segments(dir.path())).unwrap();
    assert_eq!(ro.open_report().rebuilt_footers, vec![segs[0].clone()]);
    assert_eq!(ro.len(), receipts.len() as u64);
    drop(ro);
    assert_eq!(
        std::fs::read(&segs[0]).unwrap(),
        damaged,
        "a read-only open writes nothing"
    );

    let store = Store::open(small_segments(dir.path())).unwrap();
    assert_eq!(store.open_report().rebuilt_footers, vec![segs[0].clone()]);
    for r in &receipts {
        assert!(store.verify_append_receipt(r).is_valid());
    }
    assert!(store.verify_chain().unwrap().is_intact());
    store.close().unwrap();

    let again = Store::open(small_segments(dir.path())).unwrap();
    assert!(
        again.open_report().rebuilt_footers.is_empty(),
        "the writer wrote the footer back"
    );
    assert_eq!(again.len(), receipts.len() as u64);
}

#[test]
fn a_damaged_footer_over_damaged_frames_still_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    sealed_store(dir.path());
    let segs = segments(dir.path());
    flip_footer_byte(&segs[0]);
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    bytes[batpak::format::SEGMENT_HEADER_LEN + 50] ^= 0x01;
    std::fs::write(&segs[0], &bytes).unwrap();
    let err = Store::open(small_segments(dir.path())).unwrap_err();
    assert!(
        matches!(&err, StoreError::CorruptSegment { segment, .. } if *segment == segs[0]),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(&segs[0]).unwrap(),
        bytes,
        "nothing was changed"
    );
}
