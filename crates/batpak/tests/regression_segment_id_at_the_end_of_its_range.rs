//! Regression: a crafted segment whose id is u64::MAX made the writer's next segment id overflow (a panic with overflow checks, a wrapped id and an unopenable store without); opening it as the writer is now a typed CorruptSegment naming the file, and a read-only open still reads it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use batpak::format::{segment_file_name, SegmentReader};
use batpak::prelude::*;
use batpak::Corruption;

#[test]
fn a_segment_with_the_last_id_is_refused_by_the_writer_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store
        .append(
            &Coordinate::new("a", "s").unwrap(),
            EventKind::custom(0xE, 1),
            &1u8,
        )
        .unwrap();
    store.close().unwrap();
    // Rename segment 1 to the last id and rewrite its header to match, with
    // its CRC, as a crafted file would be. The offsets (id at 12..20, CRC of
    // bytes 0..28 at 28..32) are read from docs/FORMAT.md on purpose: an
    // independent reading of the header, as a third party would write it.
    let old = dir.path().join(segment_file_name(1));
    let new = dir.path().join(segment_file_name(u64::MAX));
    let mut bytes = std::fs::read(&old).unwrap();
    bytes[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&new, &bytes).unwrap();
    std::fs::remove_file(&old).unwrap();
    assert_eq!(SegmentReader::open(&new).unwrap().segment_id(), u64::MAX);

    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(ro.len(), 1, "a read-only open reads the segment as it is");
    drop(ro);
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    match &err {
        StoreError::CorruptSegment {
            segment, reason, ..
        } => {
            assert_eq!(segment, &new);
            assert_eq!(*reason, Corruption::LastSegmentId);
        }
        other => panic!("expected CorruptSegment, got {other:?}"),
    }
    assert_eq!(err.fault(), batpak::Fault::Data);
    assert!(
        dir.path().join(segment_file_name(u64::MAX)).exists(),
        "nothing was changed"
    );
    assert!(!dir.path().join(segment_file_name(0)).exists());
}
