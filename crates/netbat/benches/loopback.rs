//! Calls per second and latency over loopback, with 1, 8 and 64 persistent
//! connections, for a no-op dispatcher and for a durable commit (one append
//! to a batpak store with `SyncMode::EveryGroup`, acknowledged once on disk).
//!
//! Criterion reports throughput (one element is one call). After the
//! criterion groups, a fixed run per connection count prints calls/s, p50
//! and p99 latency. Figures are for comparison within one run; the side by
//! side with the published netbat 0.10 lives in `crates/netbat/interop/benches`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use netbat::{dispatch_fn, Client, ClientConfig, Server, ServerConfig};

const CONNECTIONS: [usize; 3] = [1, 8, 64];

fn server() -> Server {
    let noop = dispatch_fn(|_op, _input, _grants| Ok(Vec::new()));
    serve(noop)
}

/// A server whose every call appends one event durably to a fresh store.
fn durable_server() -> (Server, tempfile::TempDir) {
    use batpak::{Coordinate, EventKind, Store, StoreConfig};
    const COMMITTED: EventKind = EventKind::custom(0xE, 0x31);
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let coordinates: Vec<Coordinate> = (0..64)
        .map(|n| Coordinate::new(format!("account:{n}"), "bench").unwrap())
        .collect();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let commit = dispatch_fn(move |_op, input, _grants| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let receipt = store
            .append(&coordinates[n % coordinates.len()], COMMITTED, input)
            .map_err(|error| netbat::CallFailure::runtime(format!("{}: {error}", error.code())))?;
        Ok(receipt.global_sequence.to_be_bytes().to_vec())
    });
    (serve(commit), dir)
}

fn serve(dispatch: impl netbat::Dispatch + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = ServerConfig::default()
        .with_max_requests_per_connection(std::num::NonZeroUsize::MAX)
        .with_timeouts(netbat::Timeouts::default().with_idle(Duration::from_secs(600)));
    Server::calls(listener, dispatch, config).unwrap()
}

fn clients(addr: SocketAddr, count: usize) -> Vec<Client> {
    (0..count)
        .map(|_| {
            Client::connect(ClientConfig::new(addr).with_requests_per_connection(usize::MAX))
                .unwrap()
        })
        .collect()
}

/// Runs `total` calls spread over the clients, one thread each; returns the
/// wall time and every call's latency.
fn run(
    clients: Vec<Client>,
    total: u64,
    keep_latencies: bool,
) -> (Duration, Vec<Duration>, Vec<Client>) {
    let count = clients.len() as u64;
    let barrier = Arc::new(Barrier::new(clients.len() + 1));
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let barrier = Arc::clone(&barrier);
            let calls = total / count + u64::from((i as u64) < total % count);
            thread::spawn(move || {
                let mut latencies =
                    Vec::with_capacity(if keep_latencies { calls as usize } else { 0 });
                barrier.wait();
                for _ in 0..calls {
                    let started = Instant::now();
                    client
                        .call("system.heartbeat", b"0123456789abcdef")
                        .unwrap();
                    if keep_latencies {
                        latencies.push(started.elapsed());
                    }
                }
                (latencies, client)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut back = Vec::new();
    for handle in handles {
        let (mut l, client) = handle.join().unwrap();
        latencies.append(&mut l);
        back.push(client);
    }
    (started.elapsed(), latencies, back)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("netbat_noop_calls");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for connections in CONNECTIONS {
        let server = server();
        let mut pool = Some(clients(server.local_addr(), connections));
        group.bench_function(format!("{connections}_connections"), |b| {
            b.iter_custom(|iters| {
                let (took, _, back) = run(pool.take().unwrap(), iters, false);
                pool = Some(back);
                took
            });
        });
        drop(pool);
        drop(server);
    }
    group.finish();
}

fn durable(c: &mut Criterion) {
    let mut group = c.benchmark_group("netbat_durable_commits");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for connections in CONNECTIONS {
        let (server, _dir) = durable_server();
        let mut pool = Some(clients(server.local_addr(), connections));
        group.bench_function(format!("{connections}_connections"), |b| {
            b.iter_custom(|iters| {
                let (took, _, back) = run(pool.take().unwrap(), iters, false);
                pool = Some(back);
                took
            });
        });
        drop(pool);
        drop(server);
    }
    group.finish();
}

fn latency_report() {
    report("no-op calls", 40_000, || (server(), None));
    report("durable commits", 4_000, || {
        let (server, dir) = durable_server();
        (server, Some(dir))
    });
}

fn report(what: &str, total: u64, start: impl Fn() -> (Server, Option<tempfile::TempDir>)) {
    println!("\nnetbat loopback, {what} (fixed run per connection count):");
    println!(
        "{:>12} {:>12} {:>10} {:>10}",
        "connections", "calls/s", "p50", "p99"
    );
    for connections in CONNECTIONS {
        let (server, _dir) = start();
        let pool = clients(server.local_addr(), connections);
        let (_, _, pool) = run(pool, total / 20, false);
        let (took, mut latencies, pool) = run(pool, total, true);
        latencies.sort();
        println!(
            "{:>12} {:>12.0} {:>8.1}µs {:>8.1}µs",
            connections,
            total as f64 / took.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e6,
            percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        );
        drop(pool);
        drop(server);
    }
}

criterion_group!(benches, calls, durable);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    latency_report();
}
