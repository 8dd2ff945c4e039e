//! `Store::import_events`: events re-applied from another store keep their
//! payload bytes and content hashes, carry their provenance, are never
//! imported twice (across reruns, reopens and crashes), stop at the source's
//! frontier, and the refusals write nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::coord;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use batpak::prelude::*;
use batpak::{
    BatchAppendItem, CausationRef, Denial, GateAttestation, ImportOptions, ImportReport,
    ImportSelector, MAX_IMPORT_NAMESPACE_LEN,
};
use serde_json::json;

const PLACED: EventKind = EventKind::custom(0xE, 0x501);
const PAID: EventKind = EventKind::custom(0xE, 0x502);

fn open(dir: &Path) -> Store {
    Store::open(StoreConfig::new(dir)).unwrap()
}

/// A source with several entities and scopes, two kinds, payload versions,
/// a correlation thread, causation inside a batch and across appends, and
/// a denial (a reserved kind). Returns the number of user events.
fn fill_source(store: &Store) -> u64 {
    let thread = CorrelationId::from_u128(0xC0);
    let mut n = 0;
    for i in 0..20u32 {
        let c = coord(
            format!("order:{}", i % 5),
            if i % 2 == 0 { "eu" } else { "us" },
        );
        let opts = AppendOptions::default()
            .with_correlation_id(thread)
            .with_payload_version(1 + (i % 3) as u16);
        let placed = store
            .append_with_options(&c, PLACED, &json!({"i": i, "what": "placed"}), opts)
            .unwrap();
        let paid = AppendOptions::default().with_causation(CausationRef::Event(placed.event_id));
        store
            .append_with_options(&c, PAID, &json!({"i": i, "what": "paid"}), paid)
            .unwrap();
        n += 2;
    }
    let c = coord("order:9", "eu");
    let items = vec![
        BatchAppendItem::new(
            c.clone(),
            PLACED,
            &json!({"batch": 0}),
            AppendOptions::default(),
            CausationRef::None,
        )
        .unwrap(),
        BatchAppendItem::new(
            c.clone(),
            PAID,
            &json!({"batch": 1}),
            AppendOptions::default(),
            CausationRef::PriorItem(0),
        )
        .unwrap(),
    ];
    store.append_batch(items).unwrap();
    n += 2;
    store
        .append_denial(&c, &Denial::new("limit", "too much"))
        .unwrap();
    n
}

/// Every imported event of `dest` under `namespace`: source id → destination event.
fn copies(dest: &Store, namespace: &str) -> HashMap<EventId, StoredEvent<Vec<u8>>> {
    let mut out = HashMap::new();
    for e in dest.query(&Region::all()) {
        let stored = dest.read_stored(e.event_id()).unwrap();
        let Some((ns, source_id, _, _)) = stored
            .header()
            .attestation
            .as_ref()
            .and_then(GateAttestation::provenance)
        else {
            continue;
        };
        if ns == namespace {
            assert!(
                out.insert(source_id, stored).is_none(),
                "source event {source_id} imported twice"
            );
        }
    }
    out
}

/// Every user event of `source` below `frontier` is in `dest` exactly once,
/// with its bytes, hash, kind, coordinate, version, correlation and provenance.
fn assert_faithful_copy(source: &Store, dest: &Store, namespace: &str) {
    let copies = copies(dest, namespace);
    let user: Vec<_> = source
        .query(&Region::all())
        .into_iter()
        .filter(|e| !e.kind().is_reserved())
        .collect();
    assert_eq!(copies.len(), user.len(), "one copy per source user event");
    let mut dest_of = HashMap::new();
    for (src_id, copy) in &copies {
        dest_of.insert(*src_id, copy.event_id());
    }
    for e in &user {
        let original = source.read_stored(e.event_id()).unwrap();
        let copy = &copies[&e.event_id()];
        let (o, c) = (original.header(), copy.header());
        assert_eq!(copy.payload(), original.payload(), "payload bytes verbatim");
        assert_eq!(c.content_hash, o.content_hash);
        assert_eq!(copy.coordinate, original.coordinate);
        assert_eq!(
            (c.kind, c.payload_version, c.correlation_id),
            (o.kind, o.payload_version, o.correlation_id)
        );
        assert_ne!(c.event_id, o.event_id, "a copy gets an id of its own");
        assert_eq!(
            c.attestation,
            Some(GateAttestation::Imported {
                namespace: namespace.to_owned(),
                source_event_id: o.event_id,
                source_sequence: o.global_sequence,
                source_content_hash: o.content_hash,
            })
        );
        assert_eq!(
            c.idempotency_key,
            Some(ImportOptions::new(namespace).idempotency_key(o.event_id))
        );
        // Causation follows the cause to its copy.
        assert_eq!(
            c.causation_id,
            o.causation_id.map(|cause| dest_of[&cause]),
            "causation of {}",
            o.event_id
        );
    }
}

/// The copies in `dest` are in source commit order (true of one import run).
fn assert_source_order(dest: &Store, namespace: &str) {
    let copies = copies(dest, namespace);
    let mut by_dest: Vec<_> = copies.values().collect();
    by_dest.sort_by_key(|c| c.header().global_sequence);
    let order: Vec<u64> = by_dest
        .iter()
        .map(|c| {
            c.header()
                .attestation
                .as_ref()
                .unwrap()
                .provenance()
                .unwrap()
                .2
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

#[test]
fn importing_twice_imports_nothing_the_second_time_and_keeps_bytes_hashes_and_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("site-a"));
    let users = fill_source(&source);
    let dest_dir = dir.path().join("hq");
    let dest = open(&dest_dir);
    // The destination has history of its own, interleaved with the import.
    dest.append(&coord("order:1", "eu"), PLACED, &"local")
        .unwrap();

    let options = ImportOptions::new("site-a").with_batch_size(7);
    let first = dest
        .import_events(&source, &ImportSelector::all(), &options)
        .unwrap();
    assert_eq!(first.imported, users);
    assert_eq!(
        (
            first.deduplicated,
            first.filtered,
            first.skipped_reserved,
            first.skipped_tombstoned,
            first.skipped_own_copies
        ),
        (0, 0, 1, 0, 0)
    );
    assert_eq!(first.source_frontier, source.len());
    assert_eq!(first.considered(), source.len());
    assert_eq!(dest.len(), users + 1);
    assert_faithful_copy(&source, &dest, "site-a");
    assert_source_order(&dest, "site-a");
    assert!(dest.verify_chain().unwrap().is_intact());
    // The local event and the copies share one chain per entity.
    let chain = dest.by_entity("order:1");
    assert_eq!(chain[0].entity_sequence(), 0);
    assert_eq!(
        chain.last().unwrap().entity_sequence(),
        chain.len() as u64 - 1
    );

    let second = dest
        .import_events(&source, &ImportSelector::all(), &options)
        .unwrap();
    assert_eq!((second.imported, second.deduplicated), (0, users));
    assert_eq!(dest.len(), users + 1);

    // After a reopen, from a read-only open of the source, with another batch size.
    dest.close().unwrap();
    let source_dir = source.dir().to_path_buf();
    source.close().unwrap();
    let dest = open(&dest_dir);
    let ro = Store::open_read_only(StoreConfig::new(&source_dir)).unwrap();
    let third = dest
        .import_events(&ro, &ImportSelector::all(), &ImportOptions::new("site-a"))
        .unwrap();
    assert_eq!((third.imported, third.deduplicated), (0, users));
    assert_eq!(dest.len(), users + 1);
    assert!(dest.verify_chain().unwrap().is_intact());

    // Another namespace is another source: imported again.
    let other = dest
        .import_events(
            ro.reader(),
            &ImportSelector::all(),
            &ImportOptions::new("site-b"),
        )
        .unwrap();
    assert_eq!(other.imported, users);
}

#[test]
fn selector_and_filter_decide_and_every_event_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    let users = fill_source(&source);
    let all = source.query(&Region::all());
    let eu_users = all
        .iter()
        .filter(|e| e.coordinate().scope() == "eu" && !e.kind().is_reserved())
        .count() as u64;

    // Region: only the scope's events are considered.
    let dest = open(&dir.path().join("b"));
    let r = dest
        .import_events(
            &source,
            &ImportSelector::region(Region::scope("eu")),
            &ImportOptions::new("a"),
        )
        .unwrap();
    assert_eq!((r.imported, r.skipped_reserved), (eu_users, 1));
    assert!(dest.query(&Region::scope("us")).is_empty());

    // After: a resume point excludes it and everything before it.
    let dest = open(&dir.path().join("c"));
    let r = dest
        .import_events(&source, &ImportSelector::after(9), &ImportOptions::new("a"))
        .unwrap();
    assert_eq!(r.considered(), source.len() - 10);
    assert_eq!(r.imported, users - 10);
    let first = copies(&dest, "a")
        .values()
        .map(|c| {
            c.header()
                .attestation
                .as_ref()
                .unwrap()
                .provenance()
                .unwrap()
                .2
        })
        .min();
    assert_eq!(first, Some(10));

    // Filter: refused events are counted, and imported by a later run without it.
    let dest = open(&dir.path().join("d"));
    let only_placed = ImportOptions::new("a")
        .with_filter(|ev| ev.header().kind == PLACED && ev.payload().get("batch").is_none());
    let r = dest
        .import_events(&source, &ImportSelector::all(), &only_placed)
        .unwrap();
    assert_eq!(
        (r.imported, r.filtered, r.skipped_reserved),
        (20, users - 20, 1)
    );
    // The PAID events' causes were imported: their causation points at the copies.
    let r = dest
        .import_events(&source, &ImportSelector::all(), &ImportOptions::new("a"))
        .unwrap();
    assert_eq!((r.imported, r.deduplicated), (users - 20, 20));
    assert_faithful_copy(&source, &dest, "a");

    // Combined: region and resume point.
    let dest = open(&dir.path().join("e"));
    let sel = ImportSelector::region(Region::scope("eu")).with_after(19);
    let r = dest
        .import_events(&source, &sel, &ImportOptions::new("a"))
        .unwrap();
    let expected = all
        .iter()
        .filter(|e| e.global_sequence() > 19 && e.coordinate().scope() == "eu")
        .count() as u64;
    assert_eq!(r.considered(), expected);
}

#[test]
fn a_cause_that_is_not_imported_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    fill_source(&source);
    let dest = open(&dir.path().join("b"));
    let only_paid = ImportOptions::new("a").with_filter(|ev| ev.header().kind == PAID);
    let r = dest
        .import_events(&source, &ImportSelector::all(), &only_paid)
        .unwrap();
    assert_eq!(r.imported, 21);
    for e in dest.query(&Region::all()) {
        let h = dest.get(e.event_id()).unwrap().event.header;
        assert_eq!(
            h.causation_id, None,
            "no source id is used as a local cause"
        );
    }
    assert!(dest.verify_chain().unwrap().is_intact());
}

#[test]
fn reserved_kinds_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    let c = coord("order:1", "eu");
    source.append_denial(&c, &Denial::new("g", "no")).unwrap();
    source.append(&c, PLACED, &1u8).unwrap();
    source.append_denial(&c, &Denial::new("g", "no")).unwrap();
    let dest = open(&dir.path().join("b"));
    let r = dest
        .import_events(&source, &ImportSelector::all(), &ImportOptions::new("a"))
        .unwrap();
    assert_eq!((r.imported, r.skipped_reserved), (1, 2));
    assert!(dest.by_fact(batpak::DENIAL_KIND).is_empty());
}

#[test]
fn events_appended_after_the_import_started_wait_for_the_next_import() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    let c = coord("order:1", "eu");
    for i in 0..10u32 {
        source.append(&c, PLACED, &i).unwrap();
    }
    let dest = open(&dir.path().join("b"));
    let options = ImportOptions::new("a").with_batch_size(3);
    let mut appended = 0u32;
    // Progress is first reported once the frontier is read: append then,
    // and after every batch.
    let r = dest
        .import_events_with_progress(&source, &ImportSelector::all(), &options, |_, _| {
            source.append(&c, PAID, &appended).unwrap();
            appended += 1;
        })
        .unwrap();
    assert!(appended >= 2);
    assert_eq!((r.imported, r.source_frontier), (10, 10));
    assert!(dest.query(&Region::all().with_kind(PAID)).is_empty());

    let r2 = dest
        .import_events(&source, &ImportSelector::all(), &options)
        .unwrap();
    assert_eq!((r2.imported, r2.deduplicated), (u64::from(appended), 10));
    assert_eq!(r2.source_frontier, source.len());
    assert_faithful_copy(&source, &dest, "a");
    // Resuming from the report's frontier considers only the new events.
    let r3 = dest
        .import_events(
            &source,
            &ImportSelector::after(r.source_frontier - 1),
            &options,
        )
        .unwrap();
    assert_eq!((r3.imported, r3.deduplicated), (0, u64::from(appended)));
}

#[test]
fn copies_of_the_destinations_own_events_are_not_imported_back() {
    let dir = tempfile::tempdir().unwrap();
    let a = open(&dir.path().join("a"));
    let b = open(&dir.path().join("b"));
    a.append(&coord("x", "s"), PLACED, &"from a").unwrap();
    b.append(&coord("y", "s"), PLACED, &"from b").unwrap();
    let into_b = b
        .import_events(&a, &ImportSelector::all(), &ImportOptions::new("a"))
        .unwrap();
    assert_eq!(into_b.imported, 1);
    // b now holds its own event and a copy of a's: only b's own goes to a.
    let into_a = a
        .import_events(&b, &ImportSelector::all(), &ImportOptions::new("b"))
        .unwrap();
    assert_eq!((into_a.imported, into_a.skipped_own_copies), (1, 1));
    assert_eq!(a.len(), 2);
    // And b's copy of that copy is not sent back to b either.
    let again = b
        .import_events(&a, &ImportSelector::all(), &ImportOptions::new("a"))
        .unwrap();
    assert_eq!(
        (again.imported, again.deduplicated, again.skipped_own_copies),
        (0, 1, 1)
    );
    assert_eq!(b.len(), 2);
}

#[test]
fn deduplication_is_exact_beyond_the_idempotency_window() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    let users = fill_source(&source);
    // The writer remembers two keys: every imported key is long forgotten.
    let cfg = StoreConfig::new(dir.path().join("b")).with_idempotency_retention(2, 2);
    let dest = Store::open(cfg).unwrap();
    let options = ImportOptions::new("a").with_batch_size(5);
    let r = dest
        .import_events(&source, &ImportSelector::all(), &options)
        .unwrap();
    assert_eq!(r.imported, users);
    for i in 0..10u32 {
        dest.append(&coord("local", "s"), PLACED, &i).unwrap();
    }
    let r = dest
        .import_events(&source, &ImportSelector::all(), &options)
        .unwrap();
    assert_eq!((r.imported, r.deduplicated), (0, users));
    assert_faithful_copy(&source, &dest, "a");
}

#[test]
fn batches_stay_within_the_destinations_limits() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    let c = coord("order:1", "eu");
    for i in 0..25u32 {
        source.append(&c, PLACED, &vec![i as u8; 100]).unwrap();
    }
    let cfg = StoreConfig::new(dir.path().join("b")).with_batch_limits(4, 450);
    let dest = Store::open(cfg).unwrap();
    let r = dest
        .import_events(&source, &ImportSelector::all(), &ImportOptions::new("a"))
        .unwrap();
    assert_eq!(r.imported, 25);
    assert!(dest.verify_chain().unwrap().is_intact());
}

#[test]
fn a_batch_is_cut_when_the_next_payload_would_pass_the_byte_limit() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    let c = coord("order:1", "eu");
    for i in 0..25u32 {
        source.append(&c, PLACED, &vec![i as u8; 100]).unwrap();
    }
    let payload = source
        .read_raw(source.query(&Region::all())[0].event_id())
        .unwrap();
    let bytes = payload.event.payload.len();
    // Room for exactly four payloads: the items limit does not bind.
    let cfg = StoreConfig::new(dir.path().join("b")).with_batch_limits(100, 4 * bytes);
    let dest = Store::open(cfg).unwrap();
    let r = dest
        .import_events(&source, &ImportSelector::all(), &ImportOptions::new("a"))
        .unwrap();
    assert_eq!(r.imported, 25);
    dest.close().unwrap();
    // Each atomic batch holds four events (the last one), by the frames'
    // batch framing: a batch fills up to the limit, never past it.
    let mut remaining = Vec::new();
    for path in common::segments(&dir.path().join("b")) {
        let seg = batpak::format::SegmentReader::open(&path).unwrap();
        for f in seg.frames() {
            remaining.push(f.unwrap().batch_remaining());
        }
    }
    let firsts: Vec<u32> = remaining
        .iter()
        .enumerate()
        .filter(|&(i, _)| i == 0 || remaining[i - 1] == 0)
        .map(|(_, &r)| r)
        .collect();
    assert_eq!(firsts, [vec![3; 6], vec![0]].concat(), "{remaining:?}");
}

#[test]
fn progress_rises_from_zero_to_the_total_of_the_sequences_considered() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    let users = fill_source(&source);
    let dest = open(&dir.path().join("b"));
    let selector = ImportSelector::after(9);
    let mut seen = Vec::new();
    let options = ImportOptions::new("a").with_batch_size(4);
    let r = dest
        .import_events_with_progress(&source, &selector, &options, |done, total| {
            seen.push((done, total))
        })
        .unwrap();
    let total = source.len() - 10;
    assert!(r.imported > 0 && r.imported < users);
    assert_eq!(seen.first(), Some(&(0, total)));
    assert_eq!(seen.last(), Some(&(total, total)));
    assert!(
        seen.iter().all(|&(d, t)| t == total && d <= total),
        "{seen:?}"
    );
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    // One report per batch between the first and the last.
    assert!(seen.len() >= 2 + (r.imported as usize - 1) / 4, "{seen:?}");
}

/// Nothing in the destination changed: same length, same frontier.
fn assert_untouched(dest: &Store, before: (u64, Frontier)) {
    assert_eq!((dest.len(), dest.frontier()), before);
}

#[test]
fn a_bad_namespace_or_importing_a_store_into_itself_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = open(&dir.path().join("a"));
    source.append(&coord("x", "s"), PLACED, &1u8).unwrap();
    let dest = open(&dir.path().join("b"));
    dest.append(&coord("x", "s"), PLACED, &1u8).unwrap();
    let before = (dest.len(), dest.frontier());
    let long = "n".repeat(MAX_IMPORT_NAMESPACE_LEN + 1);
    for bad in ["", "   ", "a\nb", "tab\there", long.as_str()] {
        let err = dest
            .import_events(&source, &ImportSelector::all(), &ImportOptions::new(bad))
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidGateRecord {
                    field: "import namespace",
                    ..
                }
            ),
            "{bad:?}: {err:?}"
        );
        assert_eq!(err.handling_class(), HandlingClass::Domain);
        assert_untouched(&dest, before);
    }
    let longest = "n".repeat(MAX_IMPORT_NAMESPACE_LEN);
    let ok = dest
        .import_events(
            &source,
            &ImportSelector::all(),
            &ImportOptions::new(longest),
        )
        .unwrap();
    assert_eq!(ok.imported, 1);
    let before = (dest.len(), dest.frontier());

    let err = dest
        .import_events(&dest, &ImportSelector::all(), &ImportOptions::new("me"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ImportFromItself { .. }),
        "{err:?}"
    );
    assert_untouched(&dest, before);
    // Another open of the same directory is the same store.
    let ro = Store::open_read_only(StoreConfig::new(dir.path().join("b"))).unwrap();
    let err = dest
        .import_events(&ro, &ImportSelector::all(), &ImportOptions::new("me"))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ImportFromItself { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "import_from_itself");
    assert_untouched(&dest, before);
}

#[cfg(feature = "payload-encryption")]
#[test]
fn an_import_into_or_out_of_an_encrypted_store_is_refused_and_writes_nothing() {
    use batpak::KeyScopeGranularity;
    let dir = tempfile::tempdir().unwrap();
    let plain = open(&dir.path().join("plain"));
    plain.append(&coord("x", "s"), PLACED, &1u8).unwrap();
    let sealed_cfg = StoreConfig::new(dir.path().join("sealed"))
        .with_payload_encryption(KeyScopeGranularity::PerEntity);
    let sealed = Store::open(sealed_cfg).unwrap();
    sealed.append(&coord("y", "s"), PLACED, &2u8).unwrap();

    let before = (sealed.len(), sealed.frontier());
    let err = sealed
        .import_events(&plain, &ImportSelector::all(), &ImportOptions::new("plain"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ImportWithEncryption {
                store: "destination",
                event_id: None
            }
        ),
        "{err:?}"
    );
    assert_untouched(&sealed, before);

    let before = (plain.len(), plain.frontier());
    let err = plain
        .import_events(
            &sealed,
            &ImportSelector::all(),
            &ImportOptions::new("sealed"),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ImportWithEncryption {
                store: "source",
                ..
            }
        ),
        "{err:?}"
    );
    assert_untouched(&plain, before);

    // A source whose keyset is gone still holds sealed bytes: refused at
    // the first of them, after the plaintext events before it.
    let dir2 = dir.path().join("sealed");
    sealed.close().unwrap();
    std::fs::remove_file(dir2.join(batpak::format::KEYSET_FILE)).unwrap();
    let keyless = Store::open_read_only(StoreConfig::new(&dir2)).unwrap();
    let err = plain
        .import_events(
            &keyless,
            &ImportSelector::all(),
            &ImportOptions::new("sealed"),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ImportWithEncryption {
                store: "source",
                event_id: Some(_)
            }
        ),
        "{err:?}"
    );
    assert_untouched(&plain, before);
}

#[test]
fn options_report_their_settings_and_a_report_sums_its_counts() {
    let o = ImportOptions::new("site-a").with_batch_size(9);
    assert_eq!(o.namespace(), "site-a");
    assert_eq!(o.batch_size(), 9);
    let shown = format!("{o:?}");
    assert!(
        shown.contains("\"site-a\"") && shown.contains("batch_size: 9"),
        "{shown}"
    );
    let mut r = ImportReport::default();
    r.imported = 1;
    r.deduplicated = 2;
    r.filtered = 4;
    r.skipped_reserved = 8;
    r.skipped_tombstoned = 16;
    r.skipped_own_copies = 32;
    r.source_frontier = 1000;
    assert_eq!(r.considered(), 63);
}

#[cfg(feature = "sim")]
mod crash {
    use super::*;
    use batpak::sim::{FaultKind, FaultPlan, SimFs};
    use std::sync::Arc;

    const SOURCE: &str = "/sim/import/source";
    const DEST: &str = "/sim/import/dest";

    fn cfg(sim: &SimFs, dir: &str) -> StoreConfig {
        StoreConfig::new(dir).with_fs(Arc::new(sim.clone()))
    }

    /// A source of 42 user events (with causation) and a destination with
    /// one event of its own, both durable on `sim`.
    fn setup(sim: &SimFs) -> u64 {
        let source = Store::open(cfg(sim, SOURCE)).unwrap();
        let users = fill_source(&source);
        source.close().unwrap();
        let dest = Store::open(cfg(sim, DEST)).unwrap();
        dest.append(&coord("order:1", "eu"), PLACED, &"local")
            .unwrap();
        dest.close().unwrap();
        users
    }

    #[test]
    fn under_buffered_sync_what_the_report_counts_is_on_disk_when_it_returns() {
        let sim = SimFs::with_plan(FaultPlan::none(7));
        let users = setup(&sim);
        let source = Store::open_read_only(cfg(&sim, SOURCE)).unwrap();
        let dest = Store::open(cfg(&sim, DEST).with_sync_mode(SyncMode::OsBuffered)).unwrap();
        let options = ImportOptions::new("site-a").with_batch_size(5);
        let r = dest
            .import_events(&source, &ImportSelector::all(), &options)
            .unwrap();
        assert_eq!(r.imported, users);
        // The power goes the moment it returns: nothing unsynced survives.
        sim.crash_with(|_, _| 0);
        drop(dest);
        drop(source);
        sim.heal();
        let dest = Store::open(cfg(&sim, DEST)).unwrap();
        assert_eq!(copies(&dest, "site-a").len() as u64, users);
        assert!(dest.verify_chain().unwrap().is_intact());
    }

    /// Runs an import whose `nth` fsync fails, then cuts the power keeping
    /// `keep` of every file's unsynced bytes; reopens both stores and checks
    /// what a crash may leave: a prefix of whole batches, each event once.
    /// Returns the disk, the source's user events and how many copies the crash left.
    fn crash_during_import(seed: u64, nth: u64, keep: f64) -> (SimFs, u64, u64) {
        let sim = SimFs::with_plan(FaultPlan::none(seed));
        let users = setup(&sim);
        let source = Store::open_read_only(cfg(&sim, SOURCE)).unwrap();
        let dest = Store::open(cfg(&sim, DEST)).unwrap();
        sim.arm(FaultKind::FailSync, nth);
        let options = ImportOptions::new("site-a").with_batch_size(6);
        let outcome = dest.import_events(&source, &ImportSelector::all(), &options);
        if let Err(e) = &outcome {
            assert!(
                matches!(e, StoreError::Io { .. } | StoreError::WriterFailed { .. }),
                "only the injected fault may fail the import: {e:?}"
            );
        }
        drop(dest);
        drop(source);
        sim.crash_with(|_, unsynced| (unsynced as f64 * keep) as u64);
        sim.heal();
        let dest = Store::open(cfg(&sim, DEST)).unwrap();
        let source = Store::open(cfg(&sim, SOURCE)).unwrap();
        let survived = copies(&dest, "site-a");
        // Whole batches, in order: the survivors are the first k source events.
        let mut seqs: Vec<u64> = survived
            .values()
            .map(|c| {
                c.header()
                    .attestation
                    .as_ref()
                    .unwrap()
                    .provenance()
                    .unwrap()
                    .2
            })
            .collect();
        seqs.sort_unstable();
        let user_seqs: Vec<u64> = source
            .query(&Region::all())
            .iter()
            .filter(|e| !e.kind().is_reserved())
            .map(|e| e.global_sequence())
            .collect();
        assert_eq!(
            seqs,
            user_seqs[..seqs.len()],
            "nth {nth}: a prefix survived"
        );
        assert_eq!(seqs.len() % 6, 0, "nth {nth}: whole batches only");
        assert!(dest.verify_chain().unwrap().is_intact());
        // The rerun imports exactly the rest.
        let before = seqs.len() as u64;
        let r = dest
            .import_events(&source, &ImportSelector::all(), &options)
            .unwrap();
        assert_eq!(
            (r.imported, r.deduplicated),
            (users - before, before),
            "nth {nth}"
        );
        assert_faithful_copy(&source, &dest, "site-a");
        assert_source_order(&dest, "site-a");
        assert!(dest.verify_chain().unwrap().is_intact());
        assert_eq!(dest.len(), users + 1);
        drop(dest);
        drop(source);
        (sim, users, before)
    }

    #[test]
    fn a_crash_at_any_batch_never_duplicates_and_the_rerun_completes_the_import() {
        let mut survivors = HashSet::new();
        // 42 user events in batches of 6: 7 batches, one fsync each; fail
        // each in turn (and the syncs of the close after it), with the
        // unsynced tail lost, half kept (a torn batch) or all kept.
        for nth in 1..=9 {
            for keep in [0.0, 0.5, 1.0] {
                let (_, _, before) = crash_during_import(nth, nth, keep);
                survivors.insert(before);
            }
        }
        assert!(
            survivors.len() >= 5,
            "crashes landed at many batches: {survivors:?}"
        );
    }

    #[test]
    fn an_import_that_finished_is_durable_even_under_a_non_durable_sync_mode() {
        let sim = SimFs::with_plan(FaultPlan::none(1));
        let users = setup(&sim);
        let source = Store::open_read_only(cfg(&sim, SOURCE)).unwrap();
        let dest = Store::open(cfg(&sim, DEST).with_sync_mode(SyncMode::OsBuffered)).unwrap();
        let r = dest
            .import_events(
                &source,
                &ImportSelector::all(),
                &ImportOptions::new("site-a"),
            )
            .unwrap();
        assert_eq!(r.imported, users);
        sim.crash();
        drop(dest);
        let dest = Store::open(cfg(&sim, DEST)).unwrap();
        assert_eq!(copies(&dest, "site-a").len() as u64, users);
    }
}
