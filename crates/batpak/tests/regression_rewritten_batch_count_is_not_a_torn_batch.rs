//! Regression: `batch_remaining` was not covered by `event_hash`, yet decided
//! what recovery deletes. Setting the last frame's value from 0 to 1 (and
//! fixing its CRC) left a chain that verified intact, and the next writer
//! open deleted that committed, durable event as a "torn batch". In segment
//! format 2 the count is hashed, recovery recomputes the hashes of a tail
//! batch before it drops it, and a rewritten count fails the open instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{
    coord, copy_dir, field, frame_starts, live_image, only_segment, rewrite_frames,
    BATCH_REMAINING_FIELD,
};

use batpak::prelude::*;
use batpak::Corruption;

const K: EventKind = EventKind::custom(0xE, 1);

fn item(entity: &str, n: u32) -> BatchAppendItem {
    BatchAppendItem::new(
        coord(entity, "s"),
        K,
        &n,
        AppendOptions::default(),
        CausationRef::None,
    )
    .unwrap()
}

/// A crash image of a store whose active segment ends in two single appends
/// (`ends_in_batch: false`) or in a batch of three (`true`); returns the
/// receipts in commit order.
fn image(ends_in_batch: bool) -> (tempfile::TempDir, Vec<AppendReceipt>) {
    live_image(|store| {
        let mut receipts = vec![store.append(&coord("a", "s"), K, &1u32).unwrap()];
        receipts.extend(
            store
                .append_batch(vec![item("a", 2), item("b", 3)])
                .unwrap(),
        );
        if ends_in_batch {
            receipts.extend(
                store
                    .append_batch(vec![item("b", 4), item("a", 5), item("c", 6)])
                    .unwrap(),
            );
        } else {
            receipts.push(store.append(&coord("b", "s"), K, &4u32).unwrap());
            receipts.push(store.append(&coord("c", "s"), K, &5u32).unwrap());
        }
        receipts
    })
}

/// Makes the last request (its last `n` frames) claim one frame more than it
/// has: each `batch_remaining` one higher, so the count still runs down
/// without a gap but ends at 1. Fixes every CRC.
fn claim_one_more_frame(dir: &std::path::Path, n: usize) {
    rewrite_frames(dir, |frames| {
        let len = frames.len();
        for (i, frame) in frames[len - n..].iter_mut().enumerate() {
            let remaining = field(frame, BATCH_REMAINING_FIELD).as_u64().unwrap();
            assert_eq!(remaining, (n - 1 - i) as u64);
            *field(frame, BATCH_REMAINING_FIELD) = rmpv::Value::from(remaining + 1);
        }
    });
}

#[test]
fn a_rewritten_batch_count_fails_the_writer_open_and_deletes_nothing() {
    for ends_in_batch in [false, true] {
        let (dir, receipts) = image(ends_in_batch);
        let n = if ends_in_batch { 3 } else { 1 };
        claim_one_more_frame(dir.path(), n);
        let seg = only_segment(dir.path());
        let bytes = std::fs::read(&seg).unwrap();
        let starts = frame_starts(&bytes);
        // The first frame of the rewritten request is the first that fails.
        let first_frame = starts[starts.len() - n] as u64;
        let first = &receipts[receipts.len() - n];
        let rewritten: Vec<EventId> = receipts[receipts.len() - n..]
            .iter()
            .map(|r| r.event_id)
            .collect();
        for policy in [TailPolicy::RecoverTornTail, TailPolicy::FailClosed] {
            let err = Store::open(StoreConfig::new(dir.path()).with_tail_policy(policy))
                .expect_err("a rewritten batch count must not open for writing");
            match &err {
                StoreError::CorruptSegment {
                    segment,
                    offset,
                    reason: Corruption::TailBatchHashMismatch { global_sequence },
                } => {
                    assert_eq!(segment, &seg);
                    assert_eq!(*offset, first_frame, "names the rewritten frame");
                    assert_eq!(*global_sequence, first.global_sequence);
                }
                other => panic!("{policy:?}: expected TailBatchHashMismatch, got {other:?}"),
            }
            assert!(err.to_string().contains("does not hash"), "{err}");
            assert_eq!(std::fs::read(&seg).unwrap(), bytes, "no byte was cut");
        }

        // A reader shows the frame as it is, and verification names it.
        let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
        assert_eq!(ro.len(), receipts.len() as u64);
        assert_eq!(ro.open_report().torn_tail, None);
        let report = ro.verify_chain().unwrap();
        assert!(!report.is_intact());
        assert_eq!(report.mismatches, rewritten);
        let last = ro.read_raw(*rewritten.last().unwrap()).unwrap();
        assert_eq!(
            (
                last.event.header.batch_remaining,
                last.event.header.hash_version
            ),
            (1, 2)
        );
        drop(ro);
        let recompute = Store::open_read_only(
            StoreConfig::new(dir.path()).with_chain_verification(ChainVerification::Recompute),
        );
        assert!(
            matches!(
                recompute,
                Err(StoreError::ChainVerificationFailed { mismatches, .. }) if mismatches == n
            ),
            "{recompute:?}"
        );
        assert_eq!(std::fs::read(&seg).unwrap(), bytes);
    }
}

#[test]
fn a_batch_torn_by_a_crash_is_still_dropped_and_reported() {
    let (dir, receipts) = image(true);
    let seg = only_segment(dir.path());
    let bytes = std::fs::read(&seg).unwrap();
    let starts = frame_starts(&bytes);
    // The last three frames are the batch; cut inside it at every frame
    // boundary and in the middle of each frame, up to one byte short.
    let batch = &starts[starts.len() - 3..];
    let end = bytes.len();
    let mut cuts = Vec::new();
    for (i, &s) in batch.iter().enumerate() {
        let next = batch.get(i + 1).copied().unwrap_or(end);
        if i > 0 {
            cuts.push((s, i as u64));
        }
        cuts.push(((s + next) / 2, i as u64));
    }
    cuts.push((end - 1, 2));
    let kept = receipts.len() - 3;
    for (cut, whole_frames) in cuts {
        for policy in [TailPolicy::RecoverTornTail, TailPolicy::FailClosed] {
            let copy = copy_dir(dir.path());
            let copy_seg = only_segment(copy.path());
            std::fs::write(&copy_seg, &bytes[..cut]).unwrap();
            let opened = Store::open(StoreConfig::new(copy.path()).with_tail_policy(policy));
            if policy == TailPolicy::FailClosed {
                assert!(
                    matches!(opened, Err(StoreError::TornTail { offset, .. }) if offset == batch[0] as u64),
                    "cut {cut}: {opened:?}"
                );
                continue;
            }
            let store = opened.unwrap();
            let torn = store.open_report().torn_tail.expect("reported");
            assert_eq!(
                (torn.offset, torn.dropped_batch_frames, torn.damaged),
                (batch[0] as u64, whole_frames, false),
                "cut {cut}"
            );
            assert_eq!(store.len(), kept as u64);
            assert!(store.verify_chain().unwrap().is_intact());
            assert_eq!(
                std::fs::metadata(&copy_seg).unwrap().len(),
                batch[0] as u64,
                "cut back to the batch's first frame"
            );
        }
    }
}
