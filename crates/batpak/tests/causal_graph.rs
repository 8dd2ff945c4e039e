//! The causal graph (caused_by, correlated, causal_ancestors) against a
//! brute-force computation over every stored header, before and after reopen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::collections::HashMap;
use std::path::Path;

use batpak::prelude::*;
use batpak::{CausalBoundary, Denial, StoreReader};

const K: EventKind = EventKind::custom(0xE, 0x40);

/// Builds a graph of about 400 events: a long chain, hubs with wide fan-out,
/// random links, batches whose items cause each other, denials that join
/// threads, and roots. Returns the ids in commit order.
fn build(store: &Store) -> Vec<EventId> {
    let mut rng = Rng::new(0x5eed);
    let mut ids: Vec<EventId> = Vec::new();
    let mut hubs: Vec<EventId> = Vec::new();
    let coords: Vec<Coordinate> = (0..9)
        .map(|i| coord(format!("ent:{i}"), format!("scope:{}", i % 3)))
        .collect();
    let corr = |rng: &mut Rng| match rng.below(5) {
        0 => None,
        n => Some(CorrelationId::from_u128(u128::from(n))),
    };
    let opts = |corr: Option<CorrelationId>, cause: Option<EventId>| {
        let mut o = AppendOptions::default();
        if let Some(c) = corr {
            o = o.with_correlation_id(c);
        }
        if let Some(c) = cause {
            o = o.with_causation(CausationRef::Event(c));
        }
        o
    };
    // A chain of 150: each event caused by the previous one.
    let mut prev: Option<EventId> = None;
    for i in 0..150u32 {
        let c = &coords[rng.index(coords.len())];
        let r = store
            .append_with_options(
                c,
                K,
                &format!("chain {i}"),
                opts(Some(CorrelationId::from_u128(99)), prev),
            )
            .unwrap();
        prev = Some(r.event_id);
        ids.push(r.event_id);
        if i % 50 == 0 {
            hubs.push(r.event_id);
        }
    }
    for i in 0..220u32 {
        let c = &coords[rng.index(coords.len())];
        let cause = match rng.below(6) {
            0 => None,
            1 => Some(hubs[0]),
            2 => Some(hubs[rng.index(hubs.len())]),
            3 => ids.last().copied(),
            _ => Some(ids[rng.index(ids.len())]),
        };
        let corr_id = corr(&mut rng);
        match rng.below(10) {
            0 => {
                // A batch: item 0 caused by `cause`, each later item by the one before or by item 0.
                let mut items = Vec::new();
                let n = 2 + rng.index(4);
                for j in 0..n {
                    let causation = match (j, cause) {
                        (0, Some(c)) => CausationRef::Event(c),
                        (0, None) => CausationRef::None,
                        (j, _) => CausationRef::PriorItem(rng.index(j)),
                    };
                    let c = coords[rng.index(coords.len())].clone();
                    items.push(
                        BatchAppendItem::new(
                            c,
                            K,
                            &format!("batch {i}.{j}"),
                            opts(corr_id, None),
                            causation,
                        )
                        .unwrap(),
                    );
                }
                for r in store.append_batch(items).unwrap() {
                    ids.push(r.event_id);
                }
            }
            1 => {
                let denial = Denial::new("limit", format!("refused {i}")).with_code("LIMIT");
                let r = store
                    .append_denial_with_options(c, &denial, opts(corr_id, cause))
                    .unwrap();
                ids.push(r.event_id());
            }
            _ => {
                let r = store
                    .append_with_options(c, K, &format!("event {i}"), opts(corr_id, cause))
                    .unwrap();
                ids.push(r.event_id);
                if rng.below(15) == 0 {
                    hubs.push(r.event_id);
                }
            }
        }
    }
    ids
}

/// Every header, read from the frames (not from the causal index).
fn headers(store: &StoreReader) -> Vec<EventHeader> {
    store
        .query(&Region::all())
        .iter()
        .map(|e| store.get(e.event_id()).unwrap().event.header)
        .collect()
}

fn check(store: &StoreReader, ids: &[EventId]) {
    let all = headers(store);
    assert_eq!(all.iter().map(|h| h.event_id).collect::<Vec<_>>(), ids);
    let parent: HashMap<EventId, Option<EventId>> =
        all.iter().map(|h| (h.event_id, h.causation_id)).collect();

    let mut max_fan_out = 0;
    for h in &all {
        let want: Vec<EventId> = all
            .iter()
            .filter(|c| c.causation_id == Some(h.event_id))
            .map(|c| c.event_id)
            .collect();
        let got: Vec<EventId> = store
            .caused_by(h.event_id)
            .iter()
            .map(IndexEntry::event_id)
            .collect();
        assert_eq!(got, want, "caused_by {}", h.event_id);
        max_fan_out = max_fan_out.max(want.len());
    }
    assert!(
        max_fan_out >= 20,
        "the graph should have wide fan-out, max is {max_fan_out}"
    );
    assert!(store.caused_by(EventId::from_u128(12345)).is_empty());

    for c in 0..=100u128 {
        let corr = CorrelationId::from_u128(c);
        let want: Vec<EventId> = all
            .iter()
            .filter(|h| h.correlation_id == Some(corr))
            .map(|h| h.event_id)
            .collect();
        let got: Vec<EventId> = store
            .correlated(corr)
            .iter()
            .map(IndexEntry::event_id)
            .collect();
        assert_eq!(got, want, "correlated {c}");
    }

    let by_id: HashMap<EventId, &EventHeader> = all.iter().map(|h| (h.event_id, h)).collect();
    let mut longest = 0;
    for (i, h) in all.iter().enumerate() {
        // Brute force: follow the parent map to the root.
        let mut chain = vec![h.event_id];
        while let Some(Some(p)) = parent.get(chain.last().unwrap()) {
            chain.push(*p);
        }
        longest = longest.max(chain.len());
        let full = store.causal_ancestors(h.event_id, usize::MAX).unwrap();
        assert_eq!(full.ids(), chain, "walk from {}", h.event_id);
        assert_eq!(full.boundary, CausalBoundary::ReachedRoot);
        assert_eq!(full.root().map(|r| r.event_id()), chain.last().copied());
        for ev in &full.events {
            assert_eq!(&ev.event.header, by_id[&ev.event_id()]);
        }
        // Limits around the chain's length, on a sample of start points.
        if i % 9 != 0 {
            continue;
        }
        for limit in [0, 1, 2, chain.len() - 1, chain.len(), chain.len() + 1] {
            let walk = store.causal_ancestors(h.event_id, limit).unwrap();
            let keep = chain.len().min(limit.max(1));
            assert_eq!(
                walk.ids(),
                chain[..keep],
                "walk from {} limit {limit}",
                h.event_id
            );
            let want = if keep == chain.len() {
                CausalBoundary::ReachedRoot
            } else {
                CausalBoundary::LimitReached
            };
            assert_eq!(
                walk.boundary, want,
                "walk from {} limit {limit}",
                h.event_id
            );
            assert_eq!(walk.root().is_some(), walk.reached_root());
        }
    }
    assert!(
        longest >= 150,
        "the graph should hold a long chain, longest is {longest}"
    );
}

/// Segments of 16 KiB: the graph spans a few of them.
fn sixteen_kib_segments(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir).with_segment_max_bytes(16 * 1024)
}

#[test]
fn causal_queries_equal_brute_force_before_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(sixteen_kib_segments(dir.path())).unwrap();
    let ids = build(&store);
    assert!(ids.len() >= 300, "{} events", ids.len());
    check(store.reader(), &ids);
    // A crash image: the active segment has no footer and is rebuilt from its frames.
    let image = live_copy(dir.path());
    store.close().unwrap();

    // Sealed segments: the index is rebuilt from index files and footers.
    let store = Store::open(sixteen_kib_segments(dir.path())).unwrap();
    let report = store.open_report();
    assert!(
        report.segments > 3
            && report.segments_from_footer + report.segments_from_index_file == report.segments,
        "{report:?}"
    );
    check(store.reader(), &ids);
    store.close().unwrap();
    let ro = Store::open_read_only(sixteen_kib_segments(dir.path())).unwrap();
    check(ro.reader(), &ids);

    let crashed = Store::open(sixteen_kib_segments(image.path())).unwrap();
    assert!(crashed.open_report().frames_scanned > 0);
    check(crashed.reader(), &ids);
}

#[test]
fn causation_must_name_a_committed_event() {
    let (_dir, store) = temp_store();
    let c = coord("e", "s");
    let err = store
        .append_with_options(
            &c,
            K,
            &1,
            AppendOptions::default().with_causation(CausationRef::Event(EventId::from_u128(7))),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCausation { .. }));
    let denial = Denial::new("g", "m");
    let err = store
        .append_denial_with_options(
            &c,
            &denial,
            AppendOptions::default().with_causation(CausationRef::Event(EventId::from_u128(7))),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidCausation { .. }));
    assert!(store.is_empty());
    assert!(matches!(
        store.causal_ancestors(EventId::from_u128(7), 10),
        Err(StoreError::NotFound { .. })
    ));
}

// ---- boundaries that only a damaged store can show: rewrite causation fields ----

/// Three events a <- b <- c (c caused by b, b by a), as a crash image whose
/// frames `edit` rewrites (CRCs fixed).
fn damaged(edit: impl FnOnce(&mut [rmpv::Value], &[EventId])) -> (tempfile::TempDir, Vec<EventId>) {
    let (img, ids) = live_image(|store| {
        let c = coord("e", "s");
        let mut ids = Vec::new();
        let mut cause = CausationRef::None;
        for i in 0..3 {
            let r = store
                .append_with_options(&c, K, &i, AppendOptions::default().with_causation(cause))
                .unwrap();
            cause = CausationRef::Event(r.event_id);
            ids.push(r.event_id);
        }
        ids
    });
    rewrite_frames(img.path(), |fs| edit(fs, &ids));
    (img, ids)
}

fn set_causation(frame: &mut rmpv::Value, id: EventId) {
    *field(frame, CAUSATION_FIELD) = rmpv::Value::Binary(id.as_u128().to_be_bytes().to_vec());
}

#[test]
fn walks_report_missing_parents_and_cycles() {
    // b's cause rewritten to an id the store never held.
    let (img, ids) = damaged(|fs, _| set_causation(&mut fs[1], EventId::from_u128(0xdead)));
    let store = Store::open(StoreConfig::new(img.path())).unwrap();
    let walk = store.causal_ancestors(ids[2], 100).unwrap();
    assert_eq!(walk.ids(), [ids[2], ids[1]]);
    assert_eq!(
        walk.boundary,
        CausalBoundary::MissingParent { child: ids[1] }
    );
    assert!(
        !store.verify_chain().unwrap().is_intact(),
        "the rewrite itself is caught"
    );
    drop(store);

    // a's cause rewritten to c: c -> b -> a -> c.
    let (img, ids) = damaged(|fs, ids| set_causation(&mut fs[0], ids[2]));
    let store = Store::open(StoreConfig::new(img.path())).unwrap();
    let walk = store.causal_ancestors(ids[2], 100).unwrap();
    assert_eq!(walk.ids(), [ids[2], ids[1], ids[0]]);
    assert_eq!(walk.boundary, CausalBoundary::Cycle { event_id: ids[2] });
    assert!(!walk.reached_root());
    assert_eq!(
        store
            .caused_by(ids[2])
            .iter()
            .map(IndexEntry::event_id)
            .collect::<Vec<_>>(),
        [ids[0]]
    );
}
