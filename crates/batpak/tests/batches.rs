//! Atomic batches, expected sequences, durable idempotency, causation, submission.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::sync::{Arc, Barrier};

use batpak::format::IDEMPOTENCY_FILE;
use batpak::prelude::*;

const K: EventKind = EventKind::custom(0xE, 3);

fn c(e: &str) -> Coordinate {
    coord(e, "s")
}

fn item(e: &str, p: u32, causation: CausationRef) -> BatchAppendItem {
    BatchAppendItem::new(c(e), K, &p, AppendOptions::default(), causation).unwrap()
}

#[test]
fn batch_mixes_entities_links_chains_and_resolves_prior_items() {
    let (_dir, store) = temp_store();
    let first = store.append(&c("a"), K, &0u32).unwrap();
    let rs = store
        .append_batch(vec![
            item("a", 1, CausationRef::Event(first.event_id)),
            item("b", 2, CausationRef::None),
            item("a", 3, CausationRef::PriorItem(0)),
        ])
        .unwrap();
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0].prev_hash, first.event_hash);
    assert_eq!(rs[2].prev_hash, rs[0].event_hash);
    assert_eq!(
        (
            rs[0].entity_sequence,
            rs[1].entity_sequence,
            rs[2].entity_sequence
        ),
        (1, 0, 2)
    );
    assert_eq!(
        rs.iter().map(|r| r.global_sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let third = store.get(rs[2].event_id).unwrap();
    assert_eq!(third.event.header.causation_id, Some(rs[0].event_id));
    assert_eq!(
        store.get(rs[0].event_id).unwrap().event.header.causation_id,
        Some(first.event_id)
    );
    assert_eq!(store.caused_by(first.event_id).len(), 1);
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn a_failing_item_writes_nothing_of_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_batch_limits(3, 1 << 20)).unwrap();
    store.append(&c("a"), K, &0u32).unwrap();
    let bad_seq = BatchAppendItem::new(
        c("a"),
        K,
        &1u32,
        AppendOptions::default().with_expected_sequence(ExpectedSequence::Exact(5)),
        CausationRef::None,
    )
    .unwrap();
    let err = store
        .append_batch(vec![item("b", 1, CausationRef::None), bad_seq])
        .unwrap_err();
    match err {
        StoreError::SequenceMismatch {
            entity,
            expected,
            actual,
        } => {
            assert_eq!(entity, "a");
            assert_eq!(expected, ExpectedSequence::Exact(5));
            assert_eq!(actual, Some(0));
        }
        other => panic!("{other:?}"),
    }
    let err = store
        .append_batch(vec![
            item("b", 1, CausationRef::PriorItem(1)),
            item("b", 2, CausationRef::None),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCausation { .. }), "{err}");
    let err = store
        .append_batch(vec![item(
            "b",
            1,
            CausationRef::Event(EventId::from_u128(77)),
        )])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCausation { .. }), "{err}");
    let err = store
        .append_batch((0..4).map(|i| item("b", i, CausationRef::None)).collect())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::BatchTooLarge { items: 4, limit: 3 }),
        "{err}"
    );
    assert!(matches!(
        store.append_batch(vec![]).unwrap_err(),
        StoreError::EmptyBatch
    ));
    assert_eq!(store.len(), 1, "nothing of any refused batch was written");
    assert!(store.by_entity("b").is_empty());
    let big = "x".repeat(600);
    let store2_dir = tempfile::tempdir().unwrap();
    let store2 =
        Store::open(StoreConfig::new(store2_dir.path()).with_batch_limits(10, 1000)).unwrap();
    let items = (0..3)
        .map(|_| {
            BatchAppendItem::new(
                c("a"),
                K,
                &big,
                AppendOptions::default(),
                CausationRef::None,
            )
            .unwrap()
        })
        .collect();
    assert!(matches!(
        store2.append_batch(items).unwrap_err(),
        StoreError::BatchItemTooLarge { index: 1, .. }
    ));
}

#[test]
fn a_batch_crossing_the_segment_limit_lands_whole_in_the_next_segment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = || small_segments(dir.path());
    let store = Store::open(cfg()).unwrap();
    for i in 0..20u32 {
        store.append(&c("a"), K, &i).unwrap();
    }
    let payload = "y".repeat(150);
    let items: Vec<BatchAppendItem> = (0..12)
        .map(|i| {
            BatchAppendItem::new(
                c(&format!("e{i}")),
                K,
                &payload,
                AppendOptions::default(),
                CausationRef::None,
            )
            .unwrap()
        })
        .collect();
    let rs = store.append_batch(items).unwrap();
    store.close().unwrap();
    let store = Store::open(cfg()).unwrap();
    for r in &rs {
        store.get(r.event_id).unwrap();
    }
    assert_eq!(store.len(), 32);
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn a_batch_torn_by_a_crash_disappears_whole() {
    let (image, rs) = live_image(|store| {
        store.append(&c("a"), K, &0u32).unwrap();
        store
            .append_batch(
                (0..5)
                    .map(|i| item(if i % 2 == 0 { "a" } else { "b" }, i, CausationRef::None))
                    .collect(),
            )
            .unwrap()
    });
    let seg = only_segment(image.path());
    let bytes = std::fs::read(&seg).unwrap();
    // Find the frame boundaries, then cut after the 3rd of the batch's 5 frames (a whole-frame cut).
    let starts = frame_starts(&bytes);
    assert_eq!(starts.len(), 6);
    for cut in [starts[4], starts[2] + 10, starts[5] + 3] {
        std::fs::write(&seg, &bytes[..cut]).unwrap();
        let store = Store::open(StoreConfig::new(image.path())).unwrap();
        assert_eq!(
            store.len(),
            1,
            "cut at {cut}: only the event before the batch survives"
        );
        for r in &rs {
            assert!(store.entry(r.event_id).is_none());
        }
        let torn = store.open_report().torn_tail.unwrap();
        assert_eq!(torn.offset as usize, starts[1]);
        assert!(torn.dropped_batch_frames > 0 || cut < starts[3]);
        drop(store);
    }
    // Under FailClosed the incomplete batch is refused, not dropped.
    std::fs::write(&seg, &bytes[..starts[4]]).unwrap();
    let err = Store::open(StoreConfig::new(image.path()).with_tail_policy(TailPolicy::FailClosed))
        .unwrap_err();
    assert!(matches!(err, StoreError::TornTail { .. }), "{err}");
}

#[test]
fn expected_sequence_lets_exactly_one_writer_win_each_slot() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let first = store
        .append_with_options(
            &c("acct"),
            K,
            &0u32,
            AppendOptions::default().with_expected_sequence(ExpectedSequence::NoStream),
        )
        .unwrap();
    assert_eq!(first.entity_sequence, 0);
    let err = store
        .append_with_options(
            &c("acct"),
            K,
            &0u32,
            AppendOptions::default().with_expected_sequence(ExpectedSequence::NoStream),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::SequenceMismatch {
            actual: Some(0),
            ..
        }
    ));
    let threads = 4;
    let slots = 25u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut wins = 0u64;
                let mut losses = 0u64;
                let mut seen = 0u64;
                while seen < slots {
                    let opts = AppendOptions::default()
                        .with_expected_sequence(ExpectedSequence::Exact(seen));
                    match store.append_with_options(&c("acct"), K, &(t as u32), opts) {
                        Ok(r) => {
                            assert_eq!(r.entity_sequence, seen + 1);
                            wins += 1;
                            seen += 1;
                        }
                        Err(StoreError::SequenceMismatch {
                            actual: Some(a), ..
                        }) => {
                            assert!(a > seen);
                            losses += 1;
                            seen = a;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                (wins, losses)
            })
        })
        .collect();
    let results: Vec<(u64, u64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let wins: u64 = results.iter().map(|r| r.0).sum();
    assert_eq!(wins, slots, "exactly one winner per slot");
    let seqs: Vec<u64> = store
        .by_entity("acct")
        .iter()
        .map(|e| e.entity_sequence())
        .collect();
    assert_eq!(seqs, (0..=slots).collect::<Vec<_>>(), "no gaps");
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn idempotent_retries_return_the_first_receipt_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let signing = signing_key(4);
    let cfg = || small_segments(dir.path()).with_signing_key(signing.clone());
    let opts = AppendOptions::default()
        .with_idempotency_key(idempotency_key(1))
        .with_correlation_id(CorrelationId::from_u128(5));
    let store = Store::open(cfg()).unwrap();
    let r1 = store.append_with_options(&c("a"), K, &"pay", opts).unwrap();
    let r2 = store.append_with_options(&c("a"), K, &"pay", opts).unwrap();
    assert_eq!(r1, r2);
    assert_eq!(store.len(), 1, "nothing new written");
    let err = store
        .append_with_options(&c("a"), K, &"other", opts)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IdempotencyConflict { .. }),
        "{err}"
    );
    let err = store
        .append_with_options(&c("b"), K, &"pay", opts)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::IdempotencyConflict { .. }),
        "{err}"
    );
    // Fill a few segments so the key's event is in a sealed one.
    for i in 0..100u32 {
        store.append(&c("fill"), K, &i).unwrap();
    }
    let batch = |p: u32| {
        vec![
            BatchAppendItem::new(
                c("x"),
                K,
                &p,
                AppendOptions::default().with_idempotency_key(idempotency_key(2)),
                CausationRef::None,
            )
            .unwrap(),
            BatchAppendItem::new(
                c("y"),
                K,
                &p,
                AppendOptions::default().with_idempotency_key(idempotency_key(3)),
                CausationRef::None,
            )
            .unwrap(),
        ]
    };
    let b1 = store.append_batch(batch(9)).unwrap();
    assert_eq!(store.append_batch(batch(9)).unwrap(), b1);
    let partial = vec![
        BatchAppendItem::new(
            c("x"),
            K,
            &9u32,
            AppendOptions::default().with_idempotency_key(idempotency_key(2)),
            CausationRef::None,
        )
        .unwrap(),
        BatchAppendItem::new(
            c("z"),
            K,
            &9u32,
            AppendOptions::default().with_idempotency_key(idempotency_key(4)),
            CausationRef::None,
        )
        .unwrap(),
    ];
    assert!(matches!(
        store.append_batch(partial).unwrap_err(),
        StoreError::IdempotencyPartialBatch
    ));
    let n = store.len();
    store.close().unwrap();

    let store = Store::open(cfg()).unwrap();
    assert!(store.open_report().idempotency_sidecar_problem.is_none());
    assert_eq!(store.open_report().idempotency_keys_from_sidecar, 3);
    assert_eq!(
        store.append_with_options(&c("a"), K, &"pay", opts).unwrap(),
        r1
    );
    assert_eq!(store.append_batch(batch(9)).unwrap(), b1);
    assert_eq!(store.len(), n);
    store.close().unwrap();

    // A corrupt sidecar is reported and rebuilt from the log.
    let side = dir.path().join(IDEMPOTENCY_FILE);
    let mut bytes = std::fs::read(&side).unwrap();
    bytes[30] ^= 0xff;
    std::fs::write(&side, &bytes).unwrap();
    let store = Store::open(cfg()).unwrap();
    let report = store.open_report();
    assert!(
        report
            .idempotency_sidecar_problem
            .as_deref()
            .unwrap()
            .contains("CRC"),
        "{report:?}"
    );
    assert_eq!(report.idempotency_keys_from_log, 3);
    assert_eq!(
        store.append_with_options(&c("a"), K, &"pay", opts).unwrap(),
        r1
    );
    assert_eq!(store.len(), n);
    store.close().unwrap();

    // A missing sidecar too; and keys of a crash image (no close) come from the frames.
    std::fs::remove_file(&side).unwrap();
    let store = Store::open(cfg()).unwrap();
    assert!(store.open_report().idempotency_sidecar_problem.is_some());
    let r5 = store
        .append_with_options(
            &c("q"),
            K,
            &1u8,
            AppendOptions::default().with_idempotency_key(idempotency_key(5)),
        )
        .unwrap();
    let image = crash_image(dir.path());
    drop(store);
    let store =
        Store::open(StoreConfig::new(image.path()).with_signing_key(signing.clone())).unwrap();
    assert_eq!(
        store
            .append_with_options(
                &c("q"),
                K,
                &1u8,
                AppendOptions::default().with_idempotency_key(idempotency_key(5))
            )
            .unwrap(),
        r5
    );
    assert_eq!(
        store.append_with_options(&c("a"), K, &"pay", opts).unwrap(),
        r1
    );
}

#[test]
fn idempotency_dedupes_within_one_group_of_concurrent_retries() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let opts = AppendOptions::default().with_idempotency_key(idempotency_key(7));
                store
                    .append_with_options(&c("a"), K, &"same", opts)
                    .unwrap()
            })
        })
        .collect();
    let rs: Vec<AppendReceipt> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(rs.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(store.len(), 1);
}

#[test]
fn submit_returns_tickets_and_try_submit_reports_backpressure() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Barrier::new(2));
    let signer = BarrierSigner::every(signing_key(1), gate.clone());
    let store = Store::open(
        StoreConfig::new(dir.path())
            .with_writer_queue(1)
            .with_signer(Arc::new(signer)),
    )
    .unwrap();
    // The writer takes the first request and blocks in the signer; the second fills the queue.
    let t1 = store.submit(&c("a"), K, &1u8).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let t2 = store.submit(&c("a"), K, &2u8).unwrap();
    let err = store.try_submit(&c("a"), K, &3u8).unwrap_err();
    assert!(matches!(err, StoreError::Backpressure), "{err}");
    assert_eq!(err.handling_class(), HandlingClass::RetryableOperational);
    assert!(t1
        .wait_timeout(std::time::Duration::from_millis(10))
        .unwrap()
        .is_none());
    gate.wait();
    gate.wait();
    let r1 = t1.wait().unwrap();
    let r2 = t2.wait().unwrap();
    assert_eq!((r1.entity_sequence, r2.entity_sequence), (0, 1));
    let t3 = store.try_submit(&c("a"), K, &3u8).unwrap();
    gate.wait();
    assert_eq!(t3.wait().unwrap().entity_sequence, 2);
    // Closing signs a tree head with the same signer.
    let release = std::thread::spawn(move || gate.wait());
    drop(store);
    release.join().unwrap();
}
