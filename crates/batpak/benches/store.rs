//! Criterion benchmarks of the core store paths.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use batpak::prelude::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const K: EventKind = EventKind::custom(0xE, 1);

fn payload() -> serde_json::Value {
    // About 100 bytes once encoded.
    serde_json::json!({"account": "acct-000123", "amount": 12345, "currency": "EUR", "memo": "monthly subscription renewal"})
}

fn coords(n: usize) -> Vec<Coordinate> {
    (0..n)
        .map(|i| Coordinate::new(format!("entity-{i:04}"), "scope").unwrap())
        .collect()
}

fn single_appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(4));
    let cs = coords(1000);
    let p = payload();
    for (name, mode) in [
        ("durable", SyncMode::EveryGroup),
        ("os_buffered", SyncMode::OsBuffered),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path()).with_sync_mode(mode)).unwrap();
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i += 1;
                store.append(&cs[i % cs.len()], K, &p).unwrap()
            })
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let store = Store::open(
        StoreConfig::new(dir.path())
            .with_sync_mode(SyncMode::OsBuffered)
            .with_signing_key(key),
    )
    .unwrap();
    let mut i = 0usize;
    g.bench_function("os_buffered_signed", |b| {
        b.iter(|| {
            i += 1;
            store.append(&cs[i % cs.len()], K, &p).unwrap()
        })
    });
    g.finish();
}

fn concurrent_durable(c: &mut Criterion) {
    let mut g = c.benchmark_group("append_4_threads");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(400));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let cs = Arc::new(coords(1000));
    g.bench_function("durable_400", |b| {
        b.iter(|| {
            let hs: Vec<_> = (0..4)
                .map(|t| {
                    let (store, cs) = (store.clone(), cs.clone());
                    std::thread::spawn(move || {
                        let p = payload();
                        for i in 0..100 {
                            store.append(&cs[(t * 100 + i) % cs.len()], K, &p).unwrap();
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        })
    });
    g.finish();
}

fn batches(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    g.sample_size(20);
    g.throughput(Throughput::Elements(100));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let cs = coords(1000);
    let p = payload();
    let mut n = 0usize;
    g.bench_function("durable_batch_of_100", |b| {
        b.iter_batched(
            || {
                (0..100)
                    .map(|_| {
                        n += 1;
                        BatchAppendItem::new(
                            cs[n % cs.len()].clone(),
                            K,
                            &p,
                            AppendOptions::default(),
                            CausationRef::None,
                        )
                        .unwrap()
                    })
                    .collect::<Vec<_>>()
            },
            |items| store.append_batch(items).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A closed store with `n` events (written without per-append fsync, then synced).
fn filled(n: usize) -> (tempfile::TempDir, Vec<EventId>) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(StoreConfig::new(dir.path()).with_sync_mode(SyncMode::OsBuffered)).unwrap();
    let cs = coords(1000);
    let p = payload();
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let items = chunk
            .iter()
            .map(|i| {
                BatchAppendItem::new(
                    cs[i % cs.len()].clone(),
                    K,
                    &p,
                    AppendOptions::default(),
                    CausationRef::None,
                )
                .unwrap()
            })
            .collect();
        ids.extend(
            store
                .append_batch(items)
                .unwrap()
                .into_iter()
                .map(|r| r.event_id),
        );
    }
    store.close().unwrap();
    (dir, ids)
}

/// Reads `region` in pages of `page` entries, each after the last seen;
/// returns how many entries it read.
fn page_through(store: &ReadOnlyStore, region: &Region, page: usize) -> usize {
    let (mut after, mut seen) = (None, 0);
    loop {
        let entries = store.query_entries_after(region, after, page);
        let Some(last) = entries.last() else {
            return seen;
        };
        after = Some(last.global_sequence());
        seen += entries.len();
    }
}

fn reads(c: &mut Criterion) {
    let (dir, ids) = filled(100_000);
    let mut g = c.benchmark_group("read");
    g.sample_size(20);
    g.bench_function("cold_open_100k", |b| {
        b.iter(|| {
            let s = Store::open(StoreConfig::new(dir.path())).unwrap();
            assert_eq!(s.len(), 100_000);
            s.close().unwrap();
        })
    });
    g.bench_function("cold_open_read_only_100k", |b| {
        b.iter(|| {
            Store::open_read_only(StoreConfig::new(dir.path()))
                .unwrap()
                .len()
        })
    });
    let store = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("point_get", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            store.get(ids[i]).unwrap()
        })
    });
    g.throughput(Throughput::Elements(100_000));
    g.sample_size(10);
    // A scan of the whole scope in pages of 100, each after the last seen.
    g.bench_function("page_scope_100k_by_100", |b| {
        let region = Region::scope("scope");
        b.iter(|| assert_eq!(page_through(&store, &region, 100), 100_000))
    });
    // The same through a prefix of all 1,000 entities (a merge of their lists).
    g.bench_function("page_prefix_100k_by_100", |b| {
        let region = Region::entity_prefix("entity-");
        b.iter(|| assert_eq!(page_through(&store, &region, 100), 100_000))
    });
    g.bench_function("verify_chain_100k", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                assert!(store.verify_chain().unwrap().is_intact());
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group!(benches, single_appends, concurrent_durable, batches, reads);
criterion_main!(benches);
