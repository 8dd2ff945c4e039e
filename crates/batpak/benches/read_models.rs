//! Criterion benchmarks of the read models: projecting one entity with a
//! 10,000-event history, cold (no cache: a full replay) and cached.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use batpak::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const K: EventKind = EventKind::custom(0xE, 1);
const EVENTS: usize = 10_000;

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Balance {
    events: u64,
    total: i64,
}

impl EventSourced for Balance {
    fn apply(&mut self, event: &StoredEvent<serde_json::Value>) {
        self.events += 1;
        self.total += event.payload()["amount"].as_i64().unwrap_or(0);
    }
}

fn filled(cache: ProjectionCache) -> (tempfile::TempDir, Store, Coordinate) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        StoreConfig::new(dir.path())
            .with_sync_mode(SyncMode::OsBuffered)
            .with_projection_cache(cache),
    )
    .unwrap();
    let c = Coordinate::new("account:1", "bank").unwrap();
    for chunk in 0..EVENTS / 1000 {
        let items = (0..1000)
            .map(|i| {
                let p = serde_json::json!({"amount": (chunk * 1000 + i) as i64, "memo": "monthly renewal"});
                BatchAppendItem::new(c.clone(), K, &p, AppendOptions::default(), CausationRef::None).unwrap()
            })
            .collect();
        store.append_batch(items).unwrap();
    }
    store.sync().unwrap();
    (dir, store, c)
}

fn projection(c: &mut Criterion) {
    let mut g = c.benchmark_group("project_10k");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));

    let (_d1, cold, _) = filled(ProjectionCache::Disabled);
    g.bench_function("cold_full_replay", |b| {
        b.iter(|| {
            let s: Balance = cold
                .project("account:1", &Freshness::Consistent)
                .unwrap()
                .unwrap();
            assert_eq!(s.events, EVENTS as u64);
        })
    });

    let (_d2, warm, coord) = filled(ProjectionCache::default());
    warm.project::<Balance>("account:1", &Freshness::Consistent)
        .unwrap();
    g.bench_function("cached_consistent", |b| {
        b.iter(|| {
            let s: Balance = warm
                .project("account:1", &Freshness::Consistent)
                .unwrap()
                .unwrap();
            assert!(s.events >= EVENTS as u64);
        })
    });
    let stale = Freshness::MaybeStale {
        max_age: Duration::from_secs(3600),
    };
    g.bench_function("cached_maybe_stale", |b| {
        b.iter(|| {
            let s: Balance = warm.project("account:1", &stale).unwrap().unwrap();
            assert!(s.events >= EVENTS as u64);
        })
    });
    g.bench_function("cached_after_one_append", |b| {
        b.iter_batched(
            || {
                warm.append(&coord, K, &serde_json::json!({"amount": 1}))
                    .unwrap()
            },
            |_| {
                let s: Balance = warm
                    .project("account:1", &Freshness::Consistent)
                    .unwrap()
                    .unwrap();
                assert!(s.events > EVENTS as u64);
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, projection);
criterion_main!(benches);
