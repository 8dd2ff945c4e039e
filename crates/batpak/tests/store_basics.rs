//! Append, read, query, reopen and locking on real files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, segments, small_segments, temp_store};

use batpak::prelude::*;
use serde::{Deserialize, Serialize};

const NOTED: EventKind = EventKind::custom(0xE, 0x22);
const OTHER: EventKind = EventKind::custom(0xA, 0x01);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Note {
    n: u64,
    text: String,
}

#[test]
fn append_get_read_raw_query() {
    let (_dir, store) = temp_store();
    let c = coord("entity:a", "scope:1");
    let r = store
        .append(&c, NOTED, &serde_json::json!({"n": 1}))
        .unwrap();
    assert!(r.durable);
    assert_eq!((r.global_sequence, r.entity_sequence), (0, 0));
    assert_eq!(r.prev_hash, [0; 32]);
    let ev = store.get(r.event_id).unwrap();
    assert_eq!(ev.event.payload, serde_json::json!({"n": 1}));
    assert_eq!(ev.coordinate, c);
    assert_eq!(ev.event.header.event_hash, r.event_hash);
    assert_eq!(ev.event.header.content_hash, r.content_hash);
    let raw = store.read_raw(r.event_id).unwrap();
    assert_eq!(
        raw.event.payload,
        rmp_serde::to_vec_named(&serde_json::json!({"n": 1})).unwrap()
    );
    assert_eq!(*blake3::hash(&raw.event.payload).as_bytes(), r.content_hash);
    let all = store.query(&Region::entity("entity:a"));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].event_id(), r.event_id);
    assert_eq!(all[0].kind(), NOTED);
    assert_eq!(all[0].coordinate(), &c);
    store.sync().unwrap();
    store.close().unwrap();
}

#[test]
fn typed_payload_roundtrip_and_kind_queries() {
    let (_dir, store) = temp_store();
    let a = coord("order:1", "tenant:1");
    let b = coord("order:10", "tenant:2");
    let note = Note {
        n: 5,
        text: "hello".into(),
    };
    let r1 = store.append(&a, NOTED, &note).unwrap();
    let r2 = store.append(&b, OTHER, &note).unwrap();
    let r3 = store.append(&a, OTHER, &"plain string").unwrap();
    let back: StoredEvent<Note> = store.get_as(r1.event_id).unwrap();
    assert_eq!(back.event.payload, note);
    assert_eq!(r3.entity_sequence, 1);
    assert_eq!(r3.prev_hash, r1.event_hash);
    assert_eq!(r2.prev_hash, [0; 32], "another entity starts its own chain");
    let ids = |v: Vec<IndexEntry>| v.iter().map(|e| e.event_id()).collect::<Vec<_>>();
    assert_eq!(
        ids(store.by_entity("order:1")),
        vec![r1.event_id, r3.event_id]
    );
    assert_eq!(ids(store.by_entity("order:10")), vec![r2.event_id]);
    assert_eq!(
        ids(store.query(&Region::entity_prefix("order:1"))),
        vec![r1.event_id, r2.event_id, r3.event_id]
    );
    assert_eq!(ids(store.by_scope("tenant:2")), vec![r2.event_id]);
    assert_eq!(ids(store.by_fact(OTHER)), vec![r2.event_id, r3.event_id]);
    assert_eq!(
        ids(store.query_entries_after(&Region::all(), Some(0), 1)),
        vec![r2.event_id]
    );
    assert_eq!(
        ids(store.query_entries_after(&Region::all(), None, 10)).len(),
        3
    );
    assert!(store
        .query_entries_after(&Region::all(), Some(2), 10)
        .is_empty());
}

#[test]
fn reopen_reads_back_everything_and_continues_chains() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = || small_segments(dir.path());
    let mut receipts = Vec::new();
    {
        let store = Store::open(cfg()).unwrap();
        for i in 0..120u64 {
            let c = coord(format!("e{}", i % 7), "s");
            receipts.push(
                store
                    .append(
                        &c,
                        NOTED,
                        &Note {
                            n: i,
                            text: "x".repeat(20),
                        },
                    )
                    .unwrap(),
            );
        }
        store.close().unwrap();
    }
    let segs = segments(dir.path()).len();
    assert!(segs > 3, "rotation happened ({segs} segments)");
    let store = Store::open(cfg()).unwrap();
    let report = store.open_report();
    assert_eq!(report.events, 120);
    assert_eq!(
        report.segments_from_footer + report.segments_from_index_file,
        segs,
        "every segment opened from its footer or index file"
    );
    assert_eq!(report.frames_scanned, 0);
    for (i, r) in receipts.iter().enumerate() {
        let ev: StoredEvent<Note> = store.get_as(r.event_id).unwrap();
        assert_eq!(ev.event.payload.n, i as u64);
        assert_eq!(ev.event.header.event_hash, r.event_hash);
        assert_eq!(ev.event.header.global_sequence, i as u64);
    }
    // The chain continues across the reopen.
    let c = coord("e0", "s");
    let last_e0 = receipts
        .iter()
        .rev()
        .find(|r| store.entry(r.event_id).unwrap().coordinate().entity() == "e0")
        .unwrap();
    let next = store
        .append(
            &c,
            NOTED,
            &Note {
                n: 999,
                text: String::new(),
            },
        )
        .unwrap();
    assert_eq!(next.prev_hash, last_e0.event_hash);
    assert_eq!(next.entity_sequence, last_e0.entity_sequence + 1);
    assert_eq!(next.global_sequence, 120);
    drop(store);
    // Dropping without close also seals; a third open still reads everything.
    let store = Store::open(cfg()).unwrap();
    assert_eq!(store.len(), 121);
    assert_eq!(
        store
            .get(next.event_id)
            .unwrap()
            .event
            .header
            .entity_sequence,
        next.entity_sequence
    );
}

#[test]
fn second_writer_is_refused_and_read_only_opens_beside_it() {
    let (dir, store) = temp_store();
    let r = store.append(&coord("e", "s"), NOTED, &1u8).unwrap();
    match Store::open(StoreConfig::new(dir.path())) {
        Err(e @ StoreError::StoreLocked { .. }) => {
            assert_eq!(e.handling_class(), HandlingClass::RetryableOperational);
            assert!(e.to_string().contains("locked"));
        }
        other => panic!("expected StoreLocked, got {other:?}"),
    }
    let ro = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(
        ro.get(r.event_id).unwrap().event.payload,
        serde_json::json!(1)
    );
    let r2 = store.append(&coord("e", "s"), NOTED, &2u8).unwrap();
    assert!(
        ro.entry(r2.event_id).is_none(),
        "read-only sees the prefix as of its open"
    );
    ro.refresh().unwrap();
    assert_eq!(
        ro.get(r2.event_id).unwrap().event.payload,
        serde_json::json!(2)
    );
    store.close().unwrap();
    // After the writer is gone the lock is free again.
    Store::open(StoreConfig::new(dir.path()))
        .unwrap()
        .close()
        .unwrap();
}

#[test]
fn read_only_refuses_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = Store::open_read_only(StoreConfig::new(&missing)).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(!missing.exists(), "read-only open created nothing");
}

#[test]
fn bad_input_gets_typed_errors_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_max_payload_bytes(64)).unwrap();
    assert!(matches!(
        Coordinate::new("a\0", "s"),
        Err(StoreError::InvalidCoordinate { .. })
    ));
    let reserved = EventKind::from_u16(0x0001);
    let err = store.append(&coord("e", "s"), reserved, &1).unwrap_err();
    assert!(matches!(err, StoreError::InvalidKind { .. }), "{err}");
    let err = store
        .append(&coord("e", "s"), NOTED, &"x".repeat(100))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::PayloadTooLarge { size: _, limit: 64 }),
        "{err}"
    );
    assert_eq!(err.handling_class(), HandlingClass::Domain);
    let missing = EventId::from_u128(42);
    assert!(matches!(
        store.get(missing),
        Err(StoreError::NotFound { .. })
    ));
    let err = store
        .get_as::<Note>(
            store
                .append(&coord("e", "s"), NOTED, &7u32)
                .unwrap()
                .event_id,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Deserialization { .. }), "{err}");
    assert_eq!(store.len(), 1);
}

#[test]
fn invalid_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(10)).unwrap_err();
    assert!(matches!(err, StoreError::Configuration { .. }), "{err}");
    let err = Store::open(StoreConfig::new(dir.path()).with_sync_mode(SyncMode::IntervalMs(0)))
        .unwrap_err();
    assert!(matches!(err, StoreError::Configuration { .. }), "{err}");
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<ReadOnlyStore>();
}

#[test]
fn reads_through_the_block_cache_see_frames_written_after_the_block_was_cached() {
    let c = coord("e", "s");
    let (dir, store) = temp_store();
    let a = store.append(&c, NOTED, &"first").unwrap();
    // Caches the block holding `a`; the bytes after it are still zeros written ahead.
    assert_eq!(store.get(a.event_id).unwrap().event.payload, "first");
    let b = store.append(&c, NOTED, &"second").unwrap();
    assert_eq!(store.get(b.event_id).unwrap().event.payload, "second");
    store.close().unwrap();
    // Reopen a sealed segment: a cached block now holds footer bytes past the
    // last frame, which the first append after reopen cuts and overwrites.
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(store.get(b.event_id).unwrap().event.payload, "second");
    let d = store.append(&c, NOTED, &"third").unwrap();
    assert_eq!(store.get(d.event_id).unwrap().event.payload, "third");
    assert!(store.verify_chain().unwrap().is_intact());
    // The same reads with the cache off agree.
    drop(store);
    let store = Store::open(StoreConfig::new(dir.path()).with_read_cache_bytes(0)).unwrap();
    for r in [&a, &b, &d] {
        assert_eq!(
            store.read_raw(r.event_id).unwrap().event.header.event_hash,
            r.event_hash
        );
    }
}
