//! Criterion benchmarks of the verifiable log at scale: inclusion and
//! consistency proofs from the store, their verification, a head, and the
//! open of a store that large. The store is built once per size and kept in
//! the system temp directory (`batpak-proof-bench-N`) for later runs;
//! `BATPAK_PROOF_EVENTS` sets the size (default 1,000,000).
// Setup times and proof sizes go to stderr beside criterion's own report.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use batpak::prelude::*;
use batpak::proofbat;
use criterion::{criterion_group, criterion_main, Criterion};

const K: EventKind = EventKind::custom(0xE, 1);

fn events() -> u64 {
    std::env::var("BATPAK_PROOF_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The store of `n` events, built unless a complete one is already there.
fn store_dir(n: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("batpak-proof-bench-{n}"));
    if let Ok(s) = Store::open_read_only(StoreConfig::new(&dir)) {
        if s.len() == n && s.latest_head().is_some_and(|h| h.size() == n) {
            return dir;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let store = Store::open(StoreConfig::new(&dir)).unwrap();
    let coords: Vec<Coordinate> = (0..1000)
        .map(|i| Coordinate::new(format!("entity-{i:04}"), "scope").unwrap())
        .collect();
    let mut done = 0u64;
    while done < n {
        let take = (n - done).min(10_000);
        let items = (0..take)
            .map(|i| {
                let at = &coords[((done + i) % 1000) as usize];
                BatchAppendItem::new(
                    at.clone(),
                    K,
                    &(done + i),
                    AppendOptions::default(),
                    CausationRef::None,
                )
                .unwrap()
            })
            .collect();
        store.append_batch(items).unwrap();
        done += take;
    }
    store.close().unwrap();
    eprintln!("built a store of {n} events in {:.1?}", started.elapsed());
    dir
}

fn proofs(c: &mut Criterion) {
    let n = events();
    let dir = store_dir(n);
    let started = Instant::now();
    let store = Store::open_read_only(StoreConfig::new(&dir)).unwrap();
    let report = store.open_report();
    eprintln!(
        "read-only open of {n} events: {:.1?} ({} heads checked, {} leaves from the log)",
        started.elapsed(),
        report.heads_checked,
        report.tree_leaves_from_log
    );
    let ids: Vec<EventId> = [0, n / 3, n / 2, n - 1]
        .iter()
        .map(|&gs| {
            // Event `gs` is entity-(gs % 1000)'s (gs / 1000)-th.
            let of = store.query(&Region::entity(format!("entity-{:04}", gs % 1000)));
            of[(gs / 1000) as usize].event_id()
        })
        .collect();
    let mut g = c.benchmark_group(format!("proofs_{n}"));
    g.measurement_time(Duration::from_secs(3));
    let mut i = 0usize;
    g.bench_function("prove_inclusion", |b| {
        b.iter(|| {
            i += 1;
            store.prove_inclusion(ids[i % ids.len()], n).unwrap()
        })
    });
    let proof = store.prove_inclusion(ids[1], n).unwrap();
    g.bench_function("verify_inclusion", |b| b.iter(|| proof.verify().unwrap()));
    g.bench_function("prove_consistency", |b| {
        b.iter(|| store.prove_consistency(n / 3, n).unwrap())
    });
    let cons = store.prove_consistency(n / 3, n).unwrap();
    g.bench_function("verify_consistency", |b| b.iter(|| cons.verify().unwrap()));
    g.bench_function("tree_root", |b| b.iter(|| store.tree_root(n).unwrap()));
    let head = store.latest_head().unwrap();
    let key = proofbat::SigningKey::from_bytes(&[3; 32]);
    let note = proofbat::sign_checkpoint(head.checkpoint(), &key).unwrap();
    g.bench_function("verify_note", |b| {
        b.iter(|| {
            proofbat::verify_note(&note, head.checkpoint().origin(), &key.verifying_key()).unwrap()
        })
    });
    g.finish();
    eprintln!(
        "inclusion proof: {} hashes; consistency proof: {} hashes",
        proof.audit_path.len(),
        cons.proof.len()
    );
}

criterion_group!(benches, proofs);
criterion_main!(benches);
