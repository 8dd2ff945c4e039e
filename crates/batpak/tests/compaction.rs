//! Compaction: `Merge` and `Tombstone` over sealed segments. Every survivor
//! is read back (payload, hashes, frame bytes) after the compaction and
//! after a reopen and compared with a copy taken before; chains, proofs,
//! receipts, cursors, idempotent retries and projections carry across it.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use batpak::format::{SegmentReader, COMPACTION_FILE};
use batpak::prelude::*;
use batpak::{CompactionAtOpen, CompactionConfig, CompactionKind, CompactionStrategy, PolledEvent};
use common::{coord, segments};

const K: EventKind = EventKind::custom(0xE, 1);

/// What one event is, read through the store.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    payload: Option<Vec<u8>>,
    event_hash: [u8; 32],
    content_hash: [u8; 32],
    prev_hash: [u8; 32],
    global_sequence: u64,
}

fn seen(store: &StoreReader) -> BTreeMap<EventId, Seen> {
    // Tombstones carry their headers through a cursor.
    let polled = store
        .cursor_guaranteed(&Region::all())
        .poll_with_shredded(usize::MAX)
        .unwrap();
    polled
        .iter()
        .map(|p| {
            let id = p.event_id();
            let (header, payload) = match p {
                PolledEvent::Tombstoned(ev) => {
                    assert!(matches!(
                        store.read_raw(id),
                        Err(StoreError::PayloadTombstoned { .. })
                    ));
                    (ev.event.header.clone(), None)
                }
                _ => {
                    let raw = store.read_raw(id).unwrap();
                    (raw.event.header, Some(raw.event.payload))
                }
            };
            (
                id,
                Seen {
                    payload,
                    event_hash: header.event_hash,
                    content_hash: header.content_hash,
                    prev_hash: header.prev_hash,
                    global_sequence: header.global_sequence,
                },
            )
        })
        .collect()
}

/// Every frame of every segment file, in order: `(event id, frame bytes)`.
fn frames_on_disk(dir: &Path) -> Vec<(EventId, Vec<u8>)> {
    let mut out = Vec::new();
    for path in segments(dir) {
        let bytes = std::fs::read(&path).unwrap();
        let reader = SegmentReader::open(&path).unwrap();
        for f in reader.frames() {
            let f = f.unwrap();
            let at = f.offset() as usize;
            out.push((f.event_id(), bytes[at..at + f.frame_len()].to_vec()));
        }
    }
    out
}

/// The predicate the tests compact with: keeps events whose payload is not
/// marked `"secret": true`.
fn not_secret(ev: &StoredEvent<serde_json::Value>) -> bool {
    ev.event.payload["secret"] != true
}

/// Frames per segment id.
fn frame_counts(dir: &Path) -> BTreeMap<u64, u64> {
    segments(dir)
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            let id = batpak::format::parse_segment_file_name(name).unwrap();
            (id, SegmentReader::open(p).unwrap().frames().count() as u64)
        })
        .collect()
}

/// A store of many small sealed segments: 5 entities, plain appends,
/// batches and keyed appends, payloads `{"n": i, "secret": bool}`.
fn filled(dir: &Path) -> (Store, Vec<AppendReceipt>) {
    let store = Store::open(StoreConfig::new(dir).with_segment_max_bytes(4096)).unwrap();
    let mut receipts = Vec::new();
    for i in 0..400u64 {
        let c = coord(format!("entity:{}", i % 5), "scope:a");
        let payload = serde_json::json!({ "n": i, "secret": i % 3 == 0, "pad": "x".repeat((i % 7) as usize * 20) });
        if i % 50 == 10 {
            let items = (0..3)
                .map(|j| {
                    BatchAppendItem::new(
                        coord(format!("batch:{j}"), "scope:b"),
                        K,
                        &payload,
                        AppendOptions::default(),
                        CausationRef::None,
                    )
                    .unwrap()
                })
                .collect();
            receipts.extend(store.append_batch(items).unwrap());
        } else if i % 11 == 0 {
            let key = IdempotencyKey::from_bytes((u128::from(i) + 1).to_be_bytes());
            receipts.push(
                store
                    .append_with_options(
                        &c,
                        K,
                        &payload,
                        AppendOptions::default().with_idempotency_key(key),
                    )
                    .unwrap(),
            );
        } else {
            receipts.push(store.append(&c, K, &payload).unwrap());
        }
    }
    store.sync().unwrap();
    (store, receipts)
}

#[test]
fn merge_keeps_every_frame_byte_for_byte_and_every_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (store, receipts) = filled(dir.path());
    let before = seen(store.reader());
    let frames_before = frames_on_disk(dir.path());
    let counts_before = frame_counts(dir.path());
    let files_before = segments(dir.path()).len();
    let head = store.signed_head().unwrap();
    let report = store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(64 << 10),
        )
        .unwrap();
    assert_eq!(report.strategy, CompactionKind::Merge);
    assert!(
        report.source_segments.len() > report.output_segments.len(),
        "{report:?}"
    );
    assert!(!report.output_segments.is_empty());
    assert_eq!(report.events_tombstoned, 0);
    assert_eq!(
        report.events_kept,
        report
            .source_segments
            .iter()
            .map(|id| counts_before[id])
            .sum::<u64>(),
        "every event of the sources is counted once"
    );
    assert!(
        report.bytes_reclaimed > 0,
        "headers and footers of the merged segments"
    );
    assert_eq!(
        report.bytes_before - report.bytes_after,
        report.bytes_reclaimed
    );
    assert!(segments(dir.path()).len() < files_before);
    assert!(!dir.path().join(COMPACTION_FILE).exists());
    // Through the store, before and after a reopen.
    assert_eq!(seen(store.reader()), before);
    assert!(store.verify_chain().unwrap().is_intact());
    for r in &receipts {
        assert!(store.verify_append_receipt(r).is_valid(), "{}", r.event_id);
    }
    assert!(store
        .verify_against_head(head.checkpoint())
        .unwrap()
        .extends_head(head.checkpoint()));
    assert_eq!(
        frames_on_disk(dir.path()),
        frames_before,
        "frames byte for byte, in order"
    );
    store.close().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(4096)).unwrap();
    assert_eq!(store.open_report().compaction, None);
    assert_eq!(seen(store.reader()), before);
    assert!(store.verify_chain().unwrap().is_intact());
    let last = receipts.last().unwrap().event_id;
    let proof = store.prove_inclusion(last, store.len() as u64).unwrap();
    proof.verify().unwrap();
    // Appends after it chain on from the same tips.
    let r = store
        .append(&coord("entity:0", "scope:a"), K, &"after")
        .unwrap();
    assert!(store.verify_chain().unwrap().is_intact());
    assert_eq!(r.global_sequence, before.len() as u64);
}

#[test]
fn tombstones_keep_headers_and_hashes_and_drop_only_rejected_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let (store, receipts) = filled(dir.path());
    let before = seen(store.reader());
    let bytes_before: u64 = segments(dir.path())
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    let report = store
        .compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
            Box::new(not_secret),
        )))
        .unwrap();
    assert_eq!(report.strategy, CompactionKind::Tombstone);
    assert!(report.events_tombstoned > 0);
    assert!(report.bytes_reclaimed > 0);
    let bytes_after: u64 = segments(dir.path())
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert!(bytes_after < bytes_before);
    let check = |store: &StoreReader| {
        let after = seen(store);
        assert_eq!(after.len(), before.len());
        let mut stones = 0u64;
        for (id, was) in &before {
            let now = &after[id];
            let value: serde_json::Value =
                rmp_serde::from_slice(was.payload.as_ref().unwrap()).unwrap();
            let rejected = value["secret"] == true;
            let in_sealed = now.payload.is_none();
            if in_sealed {
                stones += 1;
                assert!(rejected, "{id} lost a payload the predicate kept");
                assert!(matches!(
                    store.get(*id),
                    Err(StoreError::PayloadTombstoned { .. })
                ));
                assert_eq!(
                    Seen {
                        payload: None,
                        ..was.clone()
                    },
                    *now,
                    "a tombstone keeps every hash"
                );
            } else {
                assert_eq!(now, was);
            }
        }
        assert_eq!(stones, report.events_tombstoned);
        assert!(store.verify_chain().unwrap().is_intact());
        for r in &receipts {
            assert!(store.verify_append_receipt(r).is_valid(), "{}", r.event_id);
        }
        // A cursor shows tombstones for what they are.
        let mut cursor = store.cursor_guaranteed(&Region::all());
        let polled = cursor.poll_with_shredded(usize::MAX).unwrap();
        assert_eq!(polled.len(), before.len());
        assert_eq!(
            polled.iter().filter(|p| p.is_tombstoned()).count() as u64,
            report.events_tombstoned
        );
        assert!(polled
            .iter()
            .all(|p| !matches!(p, PolledEvent::Shredded(_))));
    };
    check(store.reader());
    // A second pass finds nothing new to tombstone.
    let again = store
        .compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
            Box::new(not_secret),
        )))
        .unwrap();
    assert_eq!(again.events_tombstoned, 0);
    assert!(again.source_segments.is_empty());
    store.close().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(4096)).unwrap();
    check(store.reader());
    // And a merge of tombstoned segments keeps the tombstones as they are.
    store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(1 << 20),
        )
        .unwrap();
    check(store.reader());
    // Counts are exact: a pass rejecting everything tombstones what still
    // had a payload and counts no tombstone twice; the next finds nothing.
    let sealed_events: u64 = {
        let files = segments(dir.path());
        files[..files.len() - 1]
            .iter()
            .map(|p| SegmentReader::open(p).unwrap().frames().count() as u64)
            .sum()
    };
    let all = store
        .compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
            Box::new(|_| false),
        )))
        .unwrap();
    assert_eq!(
        all.events_tombstoned,
        sealed_events - report.events_tombstoned
    );
    assert_eq!(all.events_kept, 0);
    let none = store
        .compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
            Box::new(|_| false),
        )))
        .unwrap();
    assert_eq!((none.events_tombstoned, none.source_segments.len()), (0, 0));
}

#[test]
fn a_predicate_that_panics_fails_the_compaction_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let files_before: Vec<(std::path::PathBuf, Vec<u8>)> = segments(dir.path())
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let before = seen(store.reader());
    let boom = |ev: &StoredEvent<serde_json::Value>| {
        if ev.event.header.global_sequence == 123 {
            panic!("predicate bug");
        }
        false
    };
    let err = store
        .compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
            Box::new(boom),
        )))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::CompactionPredicatePanicked { .. }),
        "{err}"
    );
    let files_after: Vec<(std::path::PathBuf, Vec<u8>)> = segments(dir.path())
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    assert_eq!(files_after, files_before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".compacting") || n.starts_with(COMPACTION_FILE))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(seen(store.reader()), before);
    store
        .append(&coord("entity:0", "scope:a"), K, &"still writable")
        .unwrap();
}

#[test]
fn cursors_checkpoints_and_idempotent_retries_carry_across_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let region = Region::scope("scope:a");
    let mut cursor = store.cursor_guaranteed(&region);
    let first = cursor.poll_batch(100).unwrap();
    let ckpt = CheckpointId::new("worker").unwrap();
    cursor.save_checkpoint(&ckpt).unwrap();
    let rest_before: Vec<EventId> = {
        let mut c = store.cursor_from_checkpoint(&region, &ckpt).unwrap();
        c.poll_batch(usize::MAX)
            .unwrap()
            .iter()
            .map(|e| e.event_id())
            .collect()
    };
    // A retry of the keyed append of i = 11 (entity:1), made before the compaction.
    let key = IdempotencyKey::from_bytes(12u128.to_be_bytes());
    let payload = serde_json::json!({ "n": 11, "secret": false, "pad": "x".repeat(80) });
    let original = store
        .append_with_options(
            &coord("entity:1", "scope:a"),
            K,
            &payload,
            AppendOptions::default().with_idempotency_key(key),
        )
        .unwrap();
    store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(1 << 20),
        )
        .unwrap();
    // The cursor held across the compaction goes on exactly after its last event.
    let next = cursor.poll_batch(usize::MAX).unwrap();
    assert_eq!(
        next.iter().map(|e| e.event_id()).collect::<Vec<_>>(),
        rest_before
    );
    assert!(first.last().unwrap().global_sequence() < next[0].global_sequence());
    let mut resumed = store.cursor_from_checkpoint(&region, &ckpt).unwrap();
    let again: Vec<EventId> = resumed
        .poll_batch(usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.event_id())
        .collect();
    assert_eq!(again, rest_before);
    // A retry of a key appended before the compaction is answered with the original receipt.
    let retry = store
        .append_with_options(
            &coord("entity:1", "scope:a"),
            K,
            &payload,
            AppendOptions::default().with_idempotency_key(key),
        )
        .unwrap();
    assert_eq!(retry.event_id, original.event_id);
    store.close().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(4096)).unwrap();
    let retry = store
        .append_with_options(
            &coord("entity:1", "scope:a"),
            K,
            &payload,
            AppendOptions::default().with_idempotency_key(key),
        )
        .unwrap();
    assert_eq!(retry.event_id, original.event_id);
    let mut resumed = store.cursor_from_checkpoint(&region, &ckpt).unwrap();
    let again: Vec<EventId> = resumed
        .poll_batch(usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.event_id())
        .collect();
    assert_eq!(again, rest_before, "the retries appended nothing");
}

#[test]
fn appends_and_reads_go_on_while_a_compaction_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let before = seen(store.reader());
    let ids: Vec<EventId> = before.keys().copied().collect();
    let store = std::sync::Arc::new(store);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 50 {
                store.append(&coord("live:1", "scope:live"), K, &n).unwrap();
                n += 1;
            }
            n
        })
    };
    let reader = {
        let (store, stop, ids) = (store.clone(), stop.clone(), ids.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 500 {
                let id = ids[(reads as usize * 7919) % ids.len()];
                store.read_raw(id).unwrap();
                reads += 1;
            }
        })
    };
    for _ in 0..3 {
        store
            .compact(
                &CompactionConfig::new(CompactionStrategy::Merge)
                    .with_target_segment_bytes(1 << 20),
            )
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let appended = writer.join().unwrap();
    reader.join().unwrap();
    let after = seen(store.reader());
    assert_eq!(after.len() as u64, before.len() as u64 + appended);
    for (id, s) in &before {
        assert_eq!(&after[id], s);
    }
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn a_damaged_marker_fails_open_closed_and_a_read_only_open_never_guesses() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    store.close().unwrap();
    std::fs::write(dir.path().join(COMPACTION_FILE), b"BPKCMPCT garbage").unwrap();
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    assert!(
        matches!(err, StoreError::CompactionMarkerCorrupt { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(COMPACTION_FILE), "{err}");
    let err = Store::open_read_only(StoreConfig::new(dir.path())).unwrap_err();
    assert!(
        matches!(err, StoreError::CompactionIncomplete { .. }),
        "{err}"
    );
    // Leftover outputs without a marker are removed, and open says so.
    std::fs::remove_file(dir.path().join(COMPACTION_FILE)).unwrap();
    let leftover = dir.path().join(format!(
        "{}.compacting",
        batpak::format::segment_file_name(1)
    ));
    std::fs::write(&leftover, b"half written").unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(
        store.open_report().compaction,
        Some(CompactionAtOpen::RolledBack { removed: 1 })
    );
    assert!(!leftover.exists());
}

#[test]
fn retention_removes_rejected_events_for_good_and_survivors_keep_every_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (store, receipts) = filled(dir.path());
    let before = seen(store.reader());
    let nexts: Vec<(String, u64)> = (0..5)
        .map(|e| {
            let name = format!("entity:{e}");
            let last = store
                .query(&Region::entity(&name))
                .last()
                .unwrap()
                .entity_sequence();
            (name, last + 1)
        })
        .collect();
    let head = store.signed_head().unwrap();
    let size_before = store.latest_head().unwrap().size();
    // A checkpoint at an event that will be removed.
    let secret_ids: Vec<EventId> = before
        .iter()
        .filter(|(_, s)| {
            let v: serde_json::Value = rmp_serde::from_slice(s.payload.as_ref().unwrap()).unwrap();
            v["secret"] == true
        })
        .map(|(id, _)| *id)
        .collect();
    let region = Region::all();
    let mut cursor = store.cursor_guaranteed(&region);
    let upto = before[&secret_ids[3]].global_sequence as usize + 1;
    cursor.poll_batch(upto).unwrap();
    let ckpt = CheckpointId::new("at-a-secret").unwrap();
    cursor.save_checkpoint(&ckpt).unwrap();
    let report = store
        .compact(&CompactionConfig::new(CompactionStrategy::Retention(
            Box::new(not_secret),
        )))
        .unwrap();
    assert_eq!(report.strategy, CompactionKind::Retention);
    assert!(report.events_dropped > 0);
    assert_eq!(report.events_tombstoned, 0);
    assert!(report.bytes_reclaimed > 0);
    let check = |store: &StoreReader| {
        let after = seen(store);
        assert_eq!(
            after.len() as u64,
            before.len() as u64 - report.events_dropped,
            "{report:?}"
        );
        assert_eq!(store.len(), after.len() as u64);
        for (id, was) in &before {
            match after.get(id) {
                Some(now) => assert_eq!(now, was, "a survivor changed"),
                None => {
                    assert!(
                        secret_ids.contains(id),
                        "{id} removed but kept by the predicate"
                    );
                    assert!(matches!(store.get(*id), Err(StoreError::NotFound { .. })));
                }
            }
        }
        let dropped = before.len() - after.len();
        // Global sequences skip the removed events; nothing else moved.
        assert!(after
            .values()
            .all(|s| s.global_sequence == before[&after_key(&after, s)].global_sequence));
        let v = store.verify_chain().unwrap();
        assert!(v.is_intact(), "{v:?}");
        assert!(!v.retired_links.is_empty());
        assert_eq!(v.events_checked, after.len() as u64);
        for r in receipts.iter().filter(|r| after.contains_key(&r.event_id)) {
            assert!(store.verify_append_receipt(r).is_valid(), "{}", r.event_id);
            let p = store.prove_inclusion(r.event_id, size_before).unwrap();
            p.verify().unwrap();
        }
        // The head recorded before still verifies against the kept log:
        // removed leaves come from the tree files.
        let hv = store.verify_against_head(head.checkpoint()).unwrap();
        assert!(hv.extends_head(head.checkpoint()), "{hv:?}");
        assert_eq!(hv.retired_leaves, dropped as u64);
        // The cursor checkpointed at a removed event resumes after its position.
        let mut resumed = store.cursor_from_checkpoint(&region, &ckpt).unwrap();
        let rest = resumed.poll_batch(usize::MAX).unwrap();
        assert!(rest.iter().all(|e| e.global_sequence() >= upto as u64));
        assert_eq!(
            rest.len(),
            after
                .values()
                .filter(|s| s.global_sequence >= upto as u64)
                .count()
        );
        // An ancestry walk stops at a removed parent with that reason.
        let orphan = v.retired_links[0];
        let walk = store.walk_ancestors_outcome(orphan, 1000).unwrap();
        assert_eq!(
            walk.boundary,
            batpak::AncestryBoundary::Retired { child: orphan }
        );
    };
    check(store.reader());
    store.close().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(4096)).unwrap();
    check(store.reader());
    // A merge over segments with removed events keeps them removed.
    store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(1 << 20),
        )
        .unwrap();
    check(store.reader());
    store.close().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    check(store.reader());
    // Appends chain on from the entity tips and the log's size, removed
    // events included: every entity's next sequence is where it was.
    for (entity, next) in &nexts {
        let r = store
            .append(&coord(entity, "scope:a"), K, &"after")
            .unwrap();
        assert_eq!(r.entity_sequence, *next, "{entity}");
    }
    let last = store
        .append(&coord("entity:0", "scope:a"), K, &"last")
        .unwrap();
    assert_eq!(
        last.global_sequence,
        before.len() as u64 + nexts.len() as u64
    );
    assert!(store.verify_chain().unwrap().is_intact());
}

fn after_key(after: &BTreeMap<EventId, Seen>, s: &Seen) -> EventId {
    *after.iter().find(|(_, v)| *v == s).unwrap().0
}

/// 20 secret events of `gone:1`, then 200 kept ones of `other:1`, and a
/// retention compaction that removes all of `gone:1`. Returns the store
/// and the receipts of both entities.
fn gone_then_other(cfg: StoreConfig) -> (Store, Vec<AppendReceipt>, Vec<AppendReceipt>) {
    let store = Store::open(cfg).unwrap();
    let gone: Vec<AppendReceipt> = (0..20u32)
        .map(|i| {
            let payload = serde_json::json!({"secret": true, "i": i});
            store
                .append(&coord("gone:1", "scope:a"), K, &payload)
                .unwrap()
        })
        .collect();
    let other: Vec<AppendReceipt> = (0..200u32)
        .map(|i| {
            let payload = serde_json::json!({"secret": false, "i": i, "pad": "y".repeat(40)});
            store
                .append(&coord("other:1", "scope:a"), K, &payload)
                .unwrap()
        })
        .collect();
    let report = store
        .compact(&CompactionConfig::new(CompactionStrategy::Retention(
            Box::new(not_secret),
        )))
        .unwrap();
    assert_eq!(report.events_dropped, 20);
    (store, gone, other)
}

#[test]
fn an_entity_whose_every_event_was_removed_chains_on_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = || StoreConfig::new(dir.path()).with_segment_max_bytes(4096);
    let (store, gone, _) = gone_then_other(cfg());
    let last = gone.last().unwrap();
    let gone = coord("gone:1", "scope:a");
    assert!(store.query(&Region::entity("gone:1")).is_empty());
    store.close().unwrap();
    let store = Store::open(cfg()).unwrap();
    assert!(store.query(&Region::entity("gone:1")).is_empty());
    let next = store
        .append(&gone, K, &serde_json::json!({"secret": false}))
        .unwrap();
    assert_eq!(next.entity_sequence, 20, "the entity's sequences go on");
    assert_eq!(
        next.prev_hash, last.event_hash,
        "and its chain links to its last event, removed or not"
    );
    let v = store.verify_chain().unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.retired_links, vec![next.event_id]);
    let walk = store.walk_ancestors_outcome(next.event_id, 10).unwrap();
    assert_eq!(
        walk.boundary,
        batpak::AncestryBoundary::Retired {
            child: next.event_id
        }
    );
}

/// Sum and count of the `n` fields an entity's events carry (skipping
/// tombstoned or removed ones, as every projection does).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Sum {
    total: u64,
    events: u64,
}

impl EventSourced for Sum {
    fn apply(&mut self, event: &StoredEvent<serde_json::Value>) {
        self.total += event.event.payload["n"].as_u64().unwrap_or(0);
        self.events += 1;
    }
}

/// A fold straight from the log, with no cache: what a projection must equal.
fn fold(store: &StoreReader, entity: &str) -> Sum {
    let mut s = Sum::default();
    for e in store.query(&Region::entity(entity)) {
        if let Ok(ev) = store.get(e.event_id()) {
            s.apply(&ev);
        }
    }
    s
}

#[test]
fn cached_projections_equal_a_fresh_fold_across_every_strategy() {
    let dir = tempfile::tempdir().unwrap();
    for cache in [
        batpak::ProjectionCache::Memory { max_entries: 64 },
        batpak::ProjectionCache::File { max_entries: 64 },
    ] {
        let sub = dir
            .path()
            .join(format!("{cache:?}").replace([' ', '{', '}', ':'], ""));
        let (store, _) = filled(&sub);
        store.close().unwrap();
        let store = Store::open(
            StoreConfig::new(&sub)
                .with_segment_max_bytes(4096)
                .with_projection_cache(cache),
        )
        .unwrap();
        let entities: Vec<String> = (0..5).map(|e| format!("entity:{e}")).collect();
        let project = |store: &Store, e: &str| {
            store
                .project::<Sum>(e, &Freshness::Consistent)
                .unwrap()
                .unwrap_or_default()
        };
        for e in &entities {
            assert_eq!(project(&store, e), fold(store.reader(), e));
        }
        let odd = |ev: &StoredEvent<serde_json::Value>| {
            ev.event.payload["n"].as_u64().is_some_and(|n| n % 2 == 0)
        };
        for config in [
            CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(1 << 20),
            CompactionConfig::new(CompactionStrategy::Tombstone(Box::new(not_secret))),
            CompactionConfig::new(CompactionStrategy::Retention(Box::new(odd))),
        ] {
            let before: Vec<Sum> = entities.iter().map(|e| project(&store, e)).collect();
            let report = store.compact(&config).unwrap();
            for (i, e) in entities.iter().enumerate() {
                let now = project(&store, e);
                assert_eq!(
                    now,
                    fold(store.reader(), e),
                    "{e} after {:?}",
                    report.strategy
                );
                if report.strategy == CompactionKind::Merge {
                    assert_eq!(now, before[i], "a merge changes no projection");
                }
            }
        }
        store.close().unwrap();
        let store = Store::open(StoreConfig::new(&sub).with_projection_cache(cache)).unwrap();
        for e in &entities {
            assert_eq!(
                project(&store, e),
                fold(store.reader(), e),
                "{e} after a reopen"
            );
        }
    }
}

#[test]
fn a_tombstone_pass_leaves_version_1_segments_as_they_are_and_reports_its_work_exactly() {
    let copy = common::copy_dir(&common::fixture("golden-v1/store"));
    let cfg = || StoreConfig::new(copy.path()).with_segment_max_bytes(4096);
    let store = Store::open(cfg()).unwrap();
    let v1_events = store.len();
    let v1_segments = segments(copy.path()).len();
    for i in 0..120u32 {
        store
            .append(
                &coord("new:1", "scope:new"),
                K,
                &serde_json::json!({"i": i, "pad": "z".repeat(60)}),
            )
            .unwrap();
    }
    let before = seen(store.reader());
    let sealed = segments(copy.path()).len() - 1;
    let mut calls: Vec<(u64, u64)> = Vec::new();
    let report = store
        .compact_with_progress(
            &CompactionConfig::new(CompactionStrategy::Tombstone(Box::new(|_| false))),
            |d, t| calls.push((d, t)),
        )
        .unwrap();
    // Only the segments written in format 2 or later were rewritten.
    assert!(
        report
            .source_segments
            .iter()
            .all(|&id| id > v1_segments as u64),
        "{report:?}"
    );
    assert!(!report.source_segments.is_empty());
    assert_eq!(report.segments_left, sealed - report.source_segments.len());
    assert!(report.segments_left >= v1_segments);
    // Progress rises to its total, which is the bytes of the segments looked at.
    assert!(
        calls
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 == w[1].1),
        "{calls:?}"
    );
    let (done, total) = *calls.last().unwrap();
    assert_eq!(done, total);
    assert!(total >= report.bytes_before && report.bytes_before > 0);
    // The version-1 events read and verify in their own hash layout.
    let after = seen(store.reader());
    let mut untouched = 0;
    for (id, was) in &before {
        let now = &after[id];
        if now.payload.is_some() {
            assert_eq!(now, was);
            untouched += 1;
        }
    }
    assert!(untouched >= v1_events as usize);
    assert!(store.verify_chain().unwrap().is_intact());
    // A merge never joins segments of two format versions (each event is
    // hashed in its own segment's layout).
    let merged = store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(1 << 20),
        )
        .unwrap();
    assert!(!merged.source_segments.is_empty());
    assert!(store.verify_chain().unwrap().is_intact());
    assert_eq!(seen(store.reader()), after);
    store.close().unwrap();
    let store = Store::open(cfg()).unwrap();
    assert!(store.verify_chain().unwrap().is_intact());
    assert_eq!(seen(store.reader()), after);
}

#[test]
fn a_merge_keeps_every_output_within_its_target_and_leaves_big_segments_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let before = seen(store.reader());
    let target = 10_000u64;
    let report = store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(target),
        )
        .unwrap();
    assert!(report.output_segments.len() > 1, "{report:?}");
    for id in &report.output_segments {
        let len = std::fs::metadata(dir.path().join(batpak::format::segment_file_name(*id)))
            .unwrap()
            .len();
        assert!(len <= target, "segment {id}: {len} bytes");
    }
    // Segments at least as large as the target are not merged again.
    let again = store
        .compact(&CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(4096))
        .unwrap();
    assert!(again.source_segments.is_empty(), "{again:?}");
    assert_eq!(seen(store.reader()), before);
}

#[test]
fn a_merge_joins_greedily_and_does_nothing_when_no_two_segments_fit() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let before = seen(store.reader());
    let files = segments(dir.path());
    let sealed: Vec<u64> = files[..files.len() - 1]
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .collect();
    let (min, max) = (*sealed.iter().min().unwrap(), *sealed.iter().max().unwrap());
    // Every segment fits the target on its own, no two fit together.
    let target = max + 1;
    assert!(2 * min > target, "segments of {min}..{max} bytes");
    let report = store
        .compact(
            &CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(target),
        )
        .unwrap();
    assert!(report.source_segments.is_empty(), "{report:?}");
    assert!(report.output_segments.is_empty());
    assert_eq!(report.segments_left, sealed.len());
    assert_eq!((report.bytes_before, report.bytes_after), (0, 0));
    assert_eq!(segments(dir.path()).len(), files.len());
    // A target that holds them all joins every sealed segment into one.
    let all: u64 = sealed.iter().sum();
    let report = store
        .compact(&CompactionConfig::new(CompactionStrategy::Merge).with_target_segment_bytes(all))
        .unwrap();
    assert_eq!(report.source_segments.len(), sealed.len(), "{report:?}");
    assert_eq!(report.output_segments, vec![report.source_segments[0]]);
    assert_eq!(report.segments_left, 0);
    assert_eq!(report.bytes_before, all);
    assert_eq!(seen(store.reader()), before);
}

#[test]
fn a_read_only_open_waits_for_a_live_writers_marker_to_go() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let events = store.len();
    store.close().unwrap();
    let marker = dir.path().join(COMPACTION_FILE);
    std::fs::write(&marker, b"switching").unwrap();
    let remover = {
        let marker = marker.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::fs::remove_file(marker).unwrap();
        })
    };
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    remover.join().unwrap();
    assert_eq!(ro.len(), events);
}

#[test]
fn after_a_retention_a_lost_tree_cannot_be_rebuilt_and_the_open_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = filled(dir.path());
    let report = store
        .compact(&CompactionConfig::new(CompactionStrategy::Retention(
            Box::new(not_secret),
        )))
        .unwrap();
    assert!(report.events_dropped > 0);
    store.close().unwrap();
    // The removed events' leaves live only in the tree files now.
    std::fs::remove_dir_all(dir.path().join(batpak::format::TREE_DIR)).unwrap();
    let err = Store::open(StoreConfig::new(dir.path())).unwrap_err();
    assert!(matches!(err, StoreError::TreeCorrupt { .. }), "{err}");
    assert!(err.to_string().contains("retention"), "{err}");
}

#[test]
fn after_a_retention_an_unreadable_frame_still_leaves_its_successor_dangling() {
    // A removed event explains a missing predecessor; an unreadable one
    // does not: its successor's link cannot be checked and is reported.
    let dir = tempfile::tempdir().unwrap();
    let cfg = || StoreConfig::new(dir.path()).with_segment_max_bytes(4096);
    let (store, _, kept) = gone_then_other(cfg());
    let (victim, successor) = (kept[50].event_id, kept[51].event_id);
    let (_, frame) = frames_on_disk(dir.path())
        .into_iter()
        .find(|(id, _)| *id == victim)
        .unwrap();
    store.close().unwrap();
    // Flip one payload byte of the victim's frame, leaving its CRC stale.
    let mut hit = 0;
    for path in segments(dir.path()) {
        let mut bytes = std::fs::read(&path).unwrap();
        if let Some(at) = bytes.windows(frame.len()).position(|w| w == frame) {
            bytes[at + frame.len() - 8] ^= 0x01;
            std::fs::write(&path, bytes).unwrap();
            hit += 1;
        }
    }
    assert_eq!(hit, 1);
    let store = Store::open(cfg()).unwrap();
    let v = store.verify_chain().unwrap();
    assert_eq!(v.mismatches, vec![victim], "{v:?}");
    assert_eq!(v.dangling, vec![successor], "{v:?}");
    assert!(v.retired_links.is_empty(), "{v:?}");
}
