//! Projections: a folded state always equals a fold over the entity's events
//! read back from the log, with or without the cache, across reopen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{buffered, coord};

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use batpak::format::{PROJECTION_DIR, PROJECTION_SUFFIX};
use batpak::prelude::*;
use batpak::StoreReader;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

const KINDS: [EventKind; 3] = [
    EventKind::custom(0xE, 1),
    EventKind::custom(0xE, 2),
    EventKind::custom(0xA, 3),
];
const ENTITIES: [&str; 4] = ["acct:1", "acct:2", "acct:10", "other"];

/// Order-sensitive: any reordering, skip or repeat changes `digest`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Ledger {
    count: u64,
    sum: i64,
    digest: u64,
    entity_sequences: Vec<u64>,
}

impl Ledger {
    fn fold(&mut self, event: &StoredEvent<serde_json::Value>) {
        let v = event.payload()["v"].as_i64().unwrap_or(0);
        self.count += 1;
        self.sum = self.sum.wrapping_add(v);
        self.digest = self
            .digest
            .wrapping_mul(31)
            .wrapping_add(v as u64)
            .wrapping_add(u64::from(event.header().kind.as_u16()));
        self.entity_sequences.push(event.header().entity_sequence);
    }
}

impl EventSourced for Ledger {
    fn apply(&mut self, event: &StoredEvent<serde_json::Value>) {
        self.fold(event);
    }
}

/// The same fold restricted to the first two kinds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Deposits(Ledger);

impl EventSourced for Deposits {
    fn relevant_kinds() -> Option<&'static [EventKind]> {
        Some(&KINDS[..2])
    }
    fn apply(&mut self, event: &StoredEvent<serde_json::Value>) {
        assert!(
            KINDS[..2].contains(&event.header().kind),
            "fed an irrelevant kind"
        );
        self.0.fold(event);
    }
}

/// The full replay: read every event of the entity back through `query` and `get`.
fn replay(reader: &StoreReader, entity: &str, kinds: Option<&[EventKind]>) -> Option<Ledger> {
    let mut state = Ledger::default();
    let mut any = false;
    for entry in reader.query(&Region::entity(entity)) {
        if kinds.is_some_and(|ks| !ks.contains(&entry.kind())) {
            continue;
        }
        state.fold(&reader.get(entry.event_id()).unwrap());
        any = true;
    }
    any.then_some(state)
}

fn check_all(reader: &StoreReader, freshness: &Freshness) {
    for e in ENTITIES {
        let all: Option<Ledger> = reader.project(e, freshness).unwrap();
        assert_eq!(all, replay(reader, e, None), "Ledger of {e}");
        let deposits: Option<Deposits> = reader.project(e, freshness).unwrap();
        assert_eq!(
            deposits.map(|d| d.0),
            replay(reader, e, Some(&KINDS[..2])),
            "Deposits of {e}"
        );
    }
}

fn open(dir: &Path, cache: ProjectionCache) -> Store {
    Store::open(buffered(dir).with_projection_cache(cache)).unwrap()
}

fn append_all(store: &Store, ops: &[(usize, usize, i64)]) {
    for &(e, k, v) in ops {
        let c = coord(ENTITIES[e], format!("scope:{}", e % 2));
        store
            .append(&c, KINDS[k], &serde_json::json!({ "v": v }))
            .unwrap();
    }
}

fn caches() -> impl Strategy<Value = ProjectionCache> {
    prop_oneof![
        Just(ProjectionCache::Disabled),
        Just(ProjectionCache::Memory { max_entries: 3 }),
        Just(ProjectionCache::Memory { max_entries: 1000 }),
        Just(ProjectionCache::File { max_entries: 2 }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random appends across entities and kinds, projected between chunks, after a
    /// reopen and after more appends: always equal to the replay from the log.
    #[test]
    fn projection_equals_a_fold_over_query_results(
        ops in proptest::collection::vec((0usize..4, 0usize..3, -1000i64..1000), 0..60),
        split in 0usize..60,
        more in proptest::collection::vec((0usize..4, 0usize..3, -1000i64..1000), 0..20),
        cache in caches(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let split = split.min(ops.len());
        {
            let store = open(dir.path(), cache);
            check_all(store.reader(), &Freshness::Consistent);
            append_all(&store, &ops[..split]);
            check_all(store.reader(), &Freshness::Consistent);
            append_all(&store, &ops[split..]);
            check_all(store.reader(), &Freshness::Consistent);
            check_all(store.reader(), &Freshness::MaybeStale { max_age: Duration::ZERO });
            store.close().unwrap();
        }
        let store = open(dir.path(), cache);
        check_all(store.reader(), &Freshness::Consistent);
        append_all(&store, &more);
        check_all(store.reader(), &Freshness::Consistent);
        store.close().unwrap();
        let ro = Store::open_read_only(StoreConfig::new(dir.path()).with_projection_cache(cache)).unwrap();
        check_all(ro.reader(), &Freshness::Consistent);
    }
}

static COUNTED_APPLIES: AtomicU64 = AtomicU64::new(0);

/// Counts how many events it is fed, to show what the cache saves.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Counted {
    n: u64,
}

impl EventSourced for Counted {
    fn apply(&mut self, _event: &StoredEvent<serde_json::Value>) {
        self.n += 1;
        COUNTED_APPLIES.fetch_add(1, Ordering::SeqCst);
    }
}

fn applies() -> u64 {
    COUNTED_APPLIES.load(Ordering::SeqCst)
}

/// The counting tests share one static counter; run them one at a time.
static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

#[test]
fn the_cache_folds_only_events_after_its_state() {
    let _g = SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), ProjectionCache::default());
    let c = coord("e", "s");
    for i in 0..100u32 {
        store.append(&c, KINDS[0], &i).unwrap();
    }
    let before = applies();
    let p: Counted = store.project("e", &Freshness::Consistent).unwrap().unwrap();
    assert_eq!((p.n, applies() - before), (100, 100));
    store.append(&c, KINDS[0], &100u32).unwrap();
    let before = applies();
    let p: Counted = store.project("e", &Freshness::Consistent).unwrap().unwrap();
    assert_eq!(
        (p.n, applies() - before),
        (101, 1),
        "only the new event is folded"
    );
    let before = applies();
    let p: Counted = store.project("e", &Freshness::Consistent).unwrap().unwrap();
    assert_eq!((p.n, applies() - before), (101, 0));

    let dir2 = tempfile::tempdir().unwrap();
    let uncached = open(dir2.path(), ProjectionCache::Disabled);
    for i in 0..10u32 {
        uncached.append(&c, KINDS[0], &i).unwrap();
    }
    uncached
        .project::<Counted>("e", &Freshness::Consistent)
        .unwrap();
    let before = applies();
    uncached
        .project::<Counted>("e", &Freshness::Consistent)
        .unwrap();
    assert_eq!(applies() - before, 10, "without a cache every call replays");
}

#[test]
fn maybe_stale_may_serve_a_young_cached_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), ProjectionCache::default());
    let c = coord("e", "s");
    store
        .append(&c, KINDS[0], &serde_json::json!({"v": 1}))
        .unwrap();
    let first: Ledger = store.project("e", &Freshness::Consistent).unwrap().unwrap();
    store
        .append(&c, KINDS[0], &serde_json::json!({"v": 2}))
        .unwrap();
    let stale: Ledger = store
        .project(
            "e",
            &Freshness::MaybeStale {
                max_age: Duration::from_secs(3600),
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(stale, first, "a young cached state is served as is");
    let old_enough: Ledger = store
        .project(
            "e",
            &Freshness::MaybeStale {
                max_age: Duration::ZERO,
            },
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        old_enough.count, 2,
        "a state older than max_age is brought up to date"
    );
    let consistent: Ledger = store.project("e", &Freshness::Consistent).unwrap().unwrap();
    assert_eq!(consistent.count, 2);
}

#[test]
fn none_for_an_entity_without_relevant_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), ProjectionCache::default());
    let c = coord("e", "s");
    assert!(store
        .project::<Ledger>("e", &Freshness::Consistent)
        .unwrap()
        .is_none());
    store
        .append(&c, KINDS[2], &serde_json::json!({"v": 1}))
        .unwrap();
    assert!(store
        .project::<Deposits>("e", &Freshness::Consistent)
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .project::<Ledger>("e", &Freshness::Consistent)
            .unwrap()
            .unwrap()
            .count,
        1
    );
    store
        .append(&c, KINDS[1], &serde_json::json!({"v": 5}))
        .unwrap();
    let d: Deposits = store.project("e", &Freshness::Consistent).unwrap().unwrap();
    assert_eq!((d.0.count, d.0.sum), (1, 5));
}

/// Writes `{"v": v}` events of entity `e` into a store with a file cache at
/// `dir`, projects `Ledger` when `project` says so (leaving a state file),
/// and closes it.
fn write_ledger(dir: &Path, values: impl IntoIterator<Item = i64>, project: bool) {
    let store = open(dir, ProjectionCache::File { max_entries: 16 });
    let c = coord("e", "s");
    for v in values {
        store
            .append(&c, KINDS[0], &serde_json::json!({ "v": v }))
            .unwrap();
    }
    if project {
        store
            .project::<Ledger>("e", &Freshness::Consistent)
            .unwrap();
    }
    store.close().unwrap();
}

fn projection_files(dir: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(dir.join(PROJECTION_DIR)) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(PROJECTION_SUFFIX))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn the_file_cache_resumes_after_reopen() {
    let _g = SERIAL.lock();
    let dir = tempfile::tempdir().unwrap();
    let cache = ProjectionCache::File { max_entries: 16 };
    let c = coord("e", "s");
    {
        let store = open(dir.path(), cache);
        for i in 0..50u32 {
            store.append(&c, KINDS[0], &i).unwrap();
        }
        assert_eq!(
            store
                .project::<Counted>("e", &Freshness::Consistent)
                .unwrap()
                .unwrap()
                .n,
            50
        );
        store.close().unwrap();
    }
    assert_eq!(projection_files(dir.path()).len(), 1);
    let store = open(dir.path(), cache);
    let before = applies();
    assert_eq!(
        store
            .project::<Counted>("e", &Freshness::Consistent)
            .unwrap()
            .unwrap()
            .n,
        50
    );
    assert_eq!(applies() - before, 0, "the state came from the file");
    store.append(&c, KINDS[0], &50u32).unwrap();
    let before = applies();
    assert_eq!(
        store
            .project::<Counted>("e", &Freshness::Consistent)
            .unwrap()
            .unwrap()
            .n,
        51
    );
    assert_eq!(applies() - before, 1);
}

/// A cached state whose last event the log does not hold (a lost tail, or a
/// file from another store) is never used: the projection refolds from the log.
#[test]
fn a_cached_state_the_log_does_not_back_is_refolded() {
    let cache = ProjectionCache::File { max_entries: 16 };
    let a = tempfile::tempdir().unwrap();
    write_ledger(a.path(), 0..20, true);
    let b = tempfile::tempdir().unwrap();
    write_ledger(b.path(), (0..3).map(|v| v * 100), false);
    let files = projection_files(a.path());
    assert_eq!(files.len(), 1);
    std::fs::create_dir_all(b.path().join(PROJECTION_DIR)).unwrap();
    std::fs::copy(
        &files[0],
        b.path()
            .join(PROJECTION_DIR)
            .join(files[0].file_name().unwrap()),
    )
    .unwrap();
    let store = open(b.path(), cache);
    let got: Ledger = store.project("e", &Freshness::Consistent).unwrap().unwrap();
    assert_eq!(Some(got.clone()), replay(store.reader(), "e", None));
    assert_eq!((got.count, got.sum), (3, 300));
}

#[test]
fn a_damaged_state_file_is_ignored() {
    let cache = ProjectionCache::File { max_entries: 16 };
    let dir = tempfile::tempdir().unwrap();
    write_ledger(dir.path(), 0..5, true);
    let file = projection_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let store = open(dir.path(), cache);
    let got: Option<Ledger> = store.project("e", &Freshness::Consistent).unwrap();
    assert_eq!(got, replay(store.reader(), "e", None));
}

#[test]
fn a_read_only_store_projects_but_writes_no_state_file() {
    let cache = ProjectionCache::File { max_entries: 16 };
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), cache);
        append_all(&store, &[(0, 0, 1), (0, 1, 2), (1, 0, 3)]);
        store.close().unwrap();
    }
    let ro =
        Store::open_read_only(StoreConfig::new(dir.path()).with_projection_cache(cache)).unwrap();
    check_all(ro.reader(), &Freshness::Consistent);
    assert!(projection_files(dir.path()).is_empty());
}
