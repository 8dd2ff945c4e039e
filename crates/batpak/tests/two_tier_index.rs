//! The two-tier index (sealed segments as parts read from their index
//! files, the active segment in memory) against a brute-force scan of the
//! segment files: across random appends, batches, seals, reopens, merge,
//! tombstone and retention compactions, and index files removed or damaged
//! between runs, every read API answers exactly what the frames on disk say.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use batpak::format::{SegmentReader, INDEX_SUFFIX};
use batpak::prelude::*;
use batpak::{CompactionConfig, CompactionStrategy};
use common::{coord, segments, Rng};

const KINDS: [EventKind; 3] = [
    EventKind::custom(0xE, 1),
    EventKind::custom(0xE, 2),
    EventKind::custom(0xA, 3),
];

fn config(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir).with_segment_max_bytes(4096)
}

/// One event as its frame on disk says.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Scanned {
    id: EventId,
    gs: u64,
    es: u64,
    kind: EventKind,
    entity: String,
    scope: String,
    correlation: Option<CorrelationId>,
    causation: Option<EventId>,
}

/// Every event in the segment files, in commit order.
fn scan(dir: &Path) -> Vec<Scanned> {
    let mut out = Vec::new();
    for path in segments(dir) {
        let seg = SegmentReader::open(&path).unwrap();
        for f in seg.frames() {
            let Ok(f) = f else { break };
            out.push(Scanned {
                id: f.event_id(),
                gs: f.global_sequence(),
                es: f.entity_sequence(),
                kind: f.kind(),
                entity: f.entity().to_owned(),
                scope: f.scope().to_owned(),
                correlation: f.correlation_id(),
                causation: f.causation_id(),
            });
        }
    }
    out.sort_by_key(|s| s.gs);
    out
}

fn same(e: &IndexEntry, s: &Scanned) -> bool {
    e.event_id() == s.id
        && e.global_sequence() == s.gs
        && e.entity_sequence() == s.es
        && e.kind() == s.kind
        && e.coordinate().entity() == s.entity
        && e.coordinate().scope() == s.scope
}

fn assert_same(got: &[IndexEntry], want: &[&Scanned], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (g, w) in got.iter().zip(want) {
        assert!(same(g, w), "{what}: {g:?} is not {w:?}");
    }
}

/// Every read API of `r` against the scan of `dir`.
fn check(r: &StoreReader, dir: &Path, what: &str) {
    let all = scan(dir);
    let want = |f: &dyn Fn(&Scanned) -> bool| all.iter().filter(|s| f(s)).collect::<Vec<_>>();
    assert_eq!(r.len(), all.len() as u64, "{what}: len");
    assert_same(
        &r.query(&Region::all()),
        &want(&|_| true),
        &format!("{what}: all"),
    );
    let entities: BTreeSet<&str> = all.iter().map(|s| s.entity.as_str()).collect();
    let scopes: BTreeSet<&str> = all.iter().map(|s| s.scope.as_str()).collect();
    for e in &entities {
        assert_same(
            &r.by_entity(e),
            &want(&|s| s.entity == *e),
            &format!("{what}: entity {e}"),
        );
        for k in KINDS {
            let region = Region::entity(*e).with_scope("s:1").with_kind(k);
            let got = r.query(&region);
            let w = want(&|s| s.entity == *e && s.scope == "s:1" && s.kind == k);
            assert_same(&got, &w, &format!("{what}: {region:?}"));
        }
    }
    // Entity predecessors, which walks look up by entity sequence, back to
    // the first gap a retention left.
    for e in &entities {
        let mine: Vec<&Scanned> = want(&|s| s.entity == *e);
        let Some(last) = mine.last() else { continue };
        let mut expected = vec![last.id];
        for pair in mine.windows(2).rev() {
            if pair[0].es + 1 != pair[1].es {
                break;
            }
            expected.push(pair[0].id);
        }
        let walked: Vec<EventId> = r
            .walk_ancestors(last.id, usize::MAX)
            .unwrap()
            .iter()
            .map(|ev| ev.event.header.event_id)
            .collect();
        assert_eq!(walked, expected, "{what}: ancestors of {e}");
    }
    for sc in &scopes {
        assert_same(
            &r.by_scope(sc),
            &want(&|s| s.scope == *sc),
            &format!("{what}: scope {sc}"),
        );
    }
    for k in KINDS {
        assert_same(
            &r.by_fact(k),
            &want(&|s| s.kind == k),
            &format!("{what}: kind {k:?}"),
        );
    }
    let two = Region::all().with_kinds([KINDS[0], KINDS[2]]);
    assert_same(
        &r.query(&two),
        &want(&|s| s.kind == KINDS[0] || s.kind == KINDS[2]),
        &format!("{what}: two kinds"),
    );
    for p in ["e:", "e:1", "b", "none"] {
        let got = r.query(&Region::entity_prefix(p));
        assert_same(
            &got,
            &want(&|s| s.entity.starts_with(p)),
            &format!("{what}: prefix {p}"),
        );
    }
    let correlations: BTreeSet<u128> = all
        .iter()
        .filter_map(|s| s.correlation)
        .map(|c| c.as_u128())
        .collect();
    for c in correlations {
        let id = CorrelationId::from_u128(c);
        assert_same(
            &r.correlated(id),
            &want(&|s| s.correlation == Some(id)),
            &format!("{what}: correlated {c}"),
        );
    }
    let parents: BTreeSet<EventId> = all.iter().filter_map(|s| s.causation).collect();
    for p in parents {
        assert_same(
            &r.caused_by(p),
            &want(&|s| s.causation == Some(p)),
            &format!("{what}: caused_by"),
        );
    }
    for s in &all {
        let e = r
            .entry(s.id)
            .unwrap_or_else(|| panic!("{what}: no entry for {:?}", s.id));
        assert!(same(&e, s), "{what}: entry {e:?} is not {s:?}");
    }
    assert_eq!(
        r.entry(EventId::from_u128(u128::MAX)),
        None,
        "{what}: absent id"
    );
    // Paging by the last sequence seen yields the whole answer once, in
    // pages that cross segment and tier boundaries.
    for region in [Region::all(), Region::entity("e:2"), Region::scope("s:0")] {
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = r.query_entries_after(&region, after, 7);
            let Some(last) = page.last() else { break };
            after = Some(last.global_sequence());
            paged.extend(page);
        }
        assert_eq!(paged, r.query(&region), "{what}: paged {region:?}");
    }
    let listed: BTreeSet<String> = r.entities().into_iter().collect();
    for e in &entities {
        assert!(listed.contains(*e), "{what}: entities() misses {e}");
    }
    let mut cursor = r.cursor_guaranteed(&Region::all());
    assert_eq!(
        cursor.poll_batch(usize::MAX).unwrap(),
        r.query(&Region::all()),
        "{what}: cursor"
    );
    assert!(r.verify_chain().unwrap().is_intact(), "{what}: chain");
}

/// Removes or damages one index file of `dir` (between runs).
fn spoil_an_index_file(dir: &Path, rng: &mut Rng) {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(INDEX_SUFFIX))
        .collect();
    if files.is_empty() {
        return;
    }
    let victim = &files[rng.index(files.len())];
    if rng.below(2) == 0 {
        std::fs::remove_file(victim).unwrap();
    } else {
        let mut b = std::fs::read(victim).unwrap();
        let at = rng.index(b.len());
        b[at] ^= 0x41;
        std::fs::write(victim, b).unwrap();
    }
}

fn run(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let mut store = Store::open(config(dir.path())).unwrap();
    let mut ids: Vec<EventId> = Vec::new();
    for step in 0..steps {
        let what = format!("seed {seed} step {step}");
        match rng.below(100) {
            0..=69 => {
                let e = rng.below(6);
                let c = coord(format!("e:{e}"), format!("s:{}", rng.below(3)));
                let mut opts = AppendOptions::default();
                if rng.below(4) == 0 {
                    opts = opts.with_correlation_id(CorrelationId::from_u128(u128::from(
                        rng.below(5) + 1,
                    )));
                }
                if !ids.is_empty() && rng.below(5) == 0 {
                    // A parent a retention removed is no longer committed.
                    let parent = ids[rng.index(ids.len())];
                    if store.entry(parent).is_some() {
                        opts = opts.with_causation(CausationRef::Event(parent));
                    }
                }
                let n = rng.below(1000);
                let payload = serde_json::json!({ "n": n, "pad": "y".repeat(rng.index(80)) });
                let kind = KINDS[rng.index(3)];
                let r = store.append_with_options(&c, kind, &payload, opts).unwrap();
                ids.push(r.event_id);
            }
            70..=79 => {
                let items = (0..1 + rng.below(4))
                    .map(|j| {
                        BatchAppendItem::new(
                            coord(format!("b:{j}"), "s:2"),
                            KINDS[j as usize % 3],
                            &serde_json::json!({ "n": j }),
                            AppendOptions::default(),
                            CausationRef::None,
                        )
                        .unwrap()
                    })
                    .collect();
                for r in store.append_batch(items).unwrap() {
                    ids.push(r.event_id);
                }
            }
            80..=85 => {
                store.close().unwrap();
                if rng.below(3) == 0 {
                    spoil_an_index_file(dir.path(), &mut rng);
                }
                store = if rng.below(4) == 0 {
                    let ro = Store::open_read_only(config(dir.path())).unwrap();
                    check(ro.reader(), dir.path(), &format!("{what} (read-only)"));
                    drop(ro);
                    Store::open(config(dir.path())).unwrap()
                } else {
                    Store::open(config(dir.path())).unwrap()
                };
                check(store.reader(), dir.path(), &format!("{what} (reopened)"));
            }
            86..=89 => {
                store
                    .compact(&CompactionConfig::new(CompactionStrategy::Merge))
                    .unwrap();
            }
            90..=92 => {
                let cut = rng.below(1000);
                let keep = move |ev: &StoredEvent<serde_json::Value>| {
                    ev.event.payload["n"].as_u64().is_none_or(|n| n < cut)
                };
                store
                    .compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
                        Box::new(keep),
                    )))
                    .unwrap();
            }
            93..=95 => {
                store.signed_head().ok();
                let cut = rng.below(1000);
                let keep = move |ev: &StoredEvent<serde_json::Value>| {
                    ev.event.payload["n"]
                        .as_u64()
                        .is_none_or(|n| n % 7 != cut % 7)
                };
                store
                    .compact(&CompactionConfig::new(CompactionStrategy::Retention(
                        Box::new(keep),
                    )))
                    .unwrap();
            }
            _ => check(store.reader(), dir.path(), &what),
        }
    }
    check(store.reader(), dir.path(), &format!("seed {seed} end"));
    store.close().unwrap();
    let store = Store::open(config(dir.path())).unwrap();
    check(
        store.reader(),
        dir.path(),
        &format!("seed {seed} reopened at the end"),
    );
    // Every sealed segment has its index file again.
    let report = store.open_report();
    assert!(
        report.segments_from_index_file + 1 >= segments(dir.path()).len(),
        "{report:?}"
    );
}

#[test]
fn every_read_api_answers_what_a_scan_of_the_segments_says() {
    for seed in 1..=6 {
        run(seed, 400);
    }
}

#[test]
fn open_reads_a_few_pages_per_sealed_segment_and_holds_none_of_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = || StoreConfig::new(dir.path()).with_segment_max_bytes(64 << 10);
    let store = Store::open(cfg()).unwrap();
    for i in 0..6000u64 {
        let c = coord(format!("e:{}", i % 40), format!("s:{}", i % 3));
        store
            .append(&c, KINDS[(i % 3) as usize], &serde_json::json!({ "i": i }))
            .unwrap();
    }
    // While the writer runs, only the active segment's events are in memory.
    let live = store.index_stats();
    assert!(live.sealed_parts >= 5, "{live:?}");
    assert!(live.memtable_events < 1000, "{live:?}");
    store.close().unwrap();
    let segs = segments(dir.path()).len();
    let store = Store::open(cfg()).unwrap();
    let stats = store.index_stats();
    assert_eq!(stats.sealed_parts, segs, "{stats:?}");
    assert_eq!(stats.memtable_events, 0, "{stats:?}");
    assert_eq!(stats.sealed_events, 6000);
    assert_eq!(stats.entities, 40);
    // A head, the rows and the names: no record, id or postings page.
    let pages = stats.page_cache_bytes / batpak::format::INDEX_PAGE_LEN;
    assert!(pages <= 4 * segs, "{pages} pages for {segs} segments");
    assert!(stats.estimated_bytes() < stats.page_cache_capacity as u64 + (1 << 20));
    check(store.reader(), dir.path(), "after open");
    // The writer continues the last segment: it leaves its part.
    store.append(&coord("e:1", "s:1"), KINDS[0], &1).unwrap();
    let after = store.index_stats();
    assert_eq!(after.sealed_parts, segs - 1, "{after:?}");
    assert!(after.memtable_events > 1);
    check(store.reader(), dir.path(), "continued");
}
