//! Regression: one flipped bit in the last frame of the active segment made open drop that frame's whole batch (17 durable events) as an ordinary torn tail, and nothing told it apart from a write cut short by a crash. A whole frame that fails its checksum is now reported as damage (`TornTail::damaged`), logged as loss, and refused under `FailClosed`; a write cut short still is not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use batpak::prelude::*;
use common::{coord, frame_starts, live_image, only_segment};

const K: EventKind = EventKind::custom(0xE, 1);

/// A crash image whose active segment ends in one batch of 17 events.
fn image_ending_in_a_batch() -> (tempfile::TempDir, Vec<AppendReceipt>) {
    live_image(|store| {
        store.append(&coord("a", "s"), K, &"first").unwrap();
        let items = (0..17)
            .map(|i| {
                BatchAppendItem::new(
                    coord("b", "s"),
                    K,
                    &i,
                    AppendOptions::default(),
                    CausationRef::None,
                )
                .unwrap()
            })
            .collect();
        store.append_batch(items).unwrap()
    })
}

#[test]
fn a_damaged_last_frame_is_reported_as_loss_and_refused_under_fail_closed() {
    let (image, batch) = image_ending_in_a_batch();
    assert!(batch.iter().all(|r| r.durable));
    let seg = only_segment(image.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    let last = *frame_starts(&bytes).last().unwrap();
    bytes[last + 40] ^= 0x04;
    std::fs::write(&seg, &bytes).unwrap();

    let err = Store::open(StoreConfig::new(image.path()).with_tail_policy(TailPolicy::FailClosed))
        .unwrap_err();
    assert!(matches!(err, StoreError::TornTail { .. }), "{err:?}");
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        bytes,
        "FailClosed changed nothing"
    );

    let ro = Store::open_read_only(StoreConfig::new(image.path())).unwrap();
    let torn = ro.open_report().torn_tail.unwrap();
    assert!(torn.damaged, "a whole frame failed its checksum: {torn:?}");
    assert_eq!(torn.dropped_batch_frames, 16);
    assert_eq!(ro.len(), 1);
    drop(ro);

    let store = Store::open(StoreConfig::new(image.path())).unwrap();
    let torn = store.open_report().torn_tail.unwrap();
    assert!(torn.damaged);
    assert_eq!(
        store.len(),
        1,
        "the damaged batch is left out, and reported"
    );
}

#[test]
fn a_write_cut_short_is_a_torn_tail_not_damage() {
    let (image, _) = image_ending_in_a_batch();
    let seg = only_segment(image.path());
    let bytes = std::fs::read(&seg).unwrap();
    let last = *frame_starts(&bytes).last().unwrap();
    std::fs::write(&seg, &bytes[..last + 30]).unwrap();
    let store = Store::open(StoreConfig::new(image.path())).unwrap();
    let torn = store.open_report().torn_tail.unwrap();
    assert!(!torn.damaged, "{torn:?}");
    assert_eq!(torn.dropped_batch_frames, 16);
    assert_eq!(store.len(), 1);
}
