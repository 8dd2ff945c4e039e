//! Side by side in one run: no-op calls over loopback against our server and
//! against a server built from the published netbat 0.10 (over a syncbat
//! 0.10 `Core`), with 1, 8 and 64 persistent connections, driven by the
//! same client. Prints calls/s, p50 and p99 and the ratios ours / published.
//! The published server's default (one request per connection) is measured
//! too, with a reconnect per call.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use netbat010 as up;
use syncbat010 as sb;

const NOOP: sb::OperationDescriptor = sb::OperationDescriptor::new(
    "system.heartbeat",
    sb::EffectClass::Inspect,
    "schema.heartbeat.input.v1",
    "schema.heartbeat.output.v1",
    "receipt.heartbeat.v1",
);

struct Noop;
impl sb::Handler for Noop {
    fn handle(&mut self, _input: &[u8], _cx: &mut sb::Ctx<'_>) -> sb::HandlerResult {
        Ok(Vec::new())
    }
}

fn core() -> sb::Core {
    let mut builder = sb::Core::builder();
    builder.register(NOOP, Noop).expect("register");
    builder.without_receipts();
    builder.build().expect("build")
}

enum Target {
    Ours(netbat::Server),
    Published(
        up::ShutdownHandle,
        Option<thread::JoinHandle<()>>,
        SocketAddr,
    ),
}

impl Target {
    fn ours() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let noop =
            netbat::dispatch_fn(
                |_op: &str, _input: &[u8], _grants: &netbat::Grants| Ok(Vec::new()),
            );
        let config = netbat::ServerConfig::default()
            .with_max_requests_per_connection(std::num::NonZeroUsize::MAX)
            .with_timeouts(netbat::Timeouts::default().with_idle(Duration::from_secs(600)));
        Self::Ours(netbat::Server::calls(listener, noop, config).expect("serve"))
    }

    fn published(max_requests: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = up::ShutdownHandle::new();
        let handle = shutdown.clone();
        let config = up::TcpServerConfig::default()
            .with_connection_limit(up::ConnectionLimit::Unlimited)
            .with_max_requests_per_connection(max_requests);
        let thread = thread::spawn(move || {
            let _ = up::serve_tcp_listener(listener, core, &config, &handle);
        });
        Self::Published(shutdown, Some(thread), addr)
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Self::Ours(server) => server.local_addr(),
            Self::Published(_, _, addr) => *addr,
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Self::Published(shutdown, thread, _) = self {
            shutdown.shutdown();
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

fn clients(addr: SocketAddr, count: usize, per_connection: usize) -> Vec<netbat::Client> {
    (0..count)
        .map(|_| {
            let config =
                netbat::ClientConfig::new(addr).with_requests_per_connection(per_connection);
            netbat::Client::connect(config).expect("connect")
        })
        .collect()
}

fn run(
    pool: Vec<netbat::Client>,
    total: u64,
    latencies: bool,
) -> (Duration, Vec<Duration>, Vec<netbat::Client>) {
    let count = pool.len() as u64;
    let barrier = Arc::new(Barrier::new(pool.len() + 1));
    let handles: Vec<_> = pool
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let barrier = Arc::clone(&barrier);
            let calls = total / count + u64::from((i as u64) < total % count);
            thread::spawn(move || {
                let mut seen = Vec::with_capacity(if latencies { calls as usize } else { 0 });
                barrier.wait();
                for _ in 0..calls {
                    let started = Instant::now();
                    client.call("system.heartbeat", b"").expect("call");
                    if latencies {
                        seen.push(started.elapsed());
                    }
                }
                (seen, client)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut all = Vec::new();
    let mut back = Vec::new();
    for handle in handles {
        let (mut seen, client) = handle.join().expect("join");
        all.append(&mut seen);
        back.push(client);
    }
    (started.elapsed(), all, back)
}

struct Figures {
    calls_per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn measure(target: &Target, connections: usize, per_connection: usize, total: u64) -> Figures {
    let pool = clients(target.addr(), connections, per_connection);
    let (_, _, pool) = run(pool, total / 10, false);
    let (took, mut latencies, pool) = run(pool, total, true);
    drop(pool);
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Figures {
        calls_per_second: total as f64 / took.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}

fn criterion_groups(c: &mut Criterion) {
    let mut group = c.benchmark_group("noop_calls_vs_published");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    for connections in [1_usize, 8, 64] {
        for (name, target) in [
            ("ours", Target::ours()),
            ("published", Target::published(usize::MAX)),
        ] {
            let mut pool = Some(clients(target.addr(), connections, usize::MAX));
            group.bench_function(format!("{name}/{connections}_connections"), |b| {
                b.iter_custom(|iters| {
                    let (took, _, back) = run(pool.take().expect("pool"), iters, false);
                    pool = Some(back);
                    took
                });
            });
        }
    }
    group.finish();
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report() {
    println!("\nno-op calls over loopback, one run, the same client for both servers");
    println!(
        "{:>5}  {:>22}  {:>22}  {:>8}  {:>8}  {:>8}",
        "conns", "ours calls/s p50/p99", "published calls/s p50/p99", "thr x", "p50 x", "p99 x"
    );
    for connections in [1_usize, 8, 64] {
        let ours = measure(&Target::ours(), connections, usize::MAX, 40_000);
        let theirs = measure(
            &Target::published(usize::MAX),
            connections,
            usize::MAX,
            40_000,
        );
        println!(
            "{:>5}  {:>9.0} {:>5.0}/{:<6.0}  {:>9.0} {:>5.0}/{:<6.0}  {:>8.2}  {:>8.2}  {:>8.2}",
            connections,
            ours.calls_per_second,
            us(ours.p50),
            us(ours.p99),
            theirs.calls_per_second,
            us(theirs.p50),
            us(theirs.p99),
            ours.calls_per_second / theirs.calls_per_second,
            us(ours.p50) / us(theirs.p50),
            us(ours.p99) / us(theirs.p99),
        );
    }
    println!("\nthe published default (one request per connection: a connection per call)");
    for connections in [1_usize, 8] {
        let ours = measure(&Target::ours(), connections, usize::MAX, 4_000);
        let theirs = measure(&Target::published(1), connections, 1, 4_000);
        println!(
            "{:>5}  ours {:>9.0} calls/s (persistent)  published {:>9.0} calls/s (p50 {:.0} µs, p99 {:.0} µs)  ratio {:.1}",
            connections,
            ours.calls_per_second,
            theirs.calls_per_second,
            us(theirs.p50),
            us(theirs.p99),
            ours.calls_per_second / theirs.calls_per_second,
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    criterion_groups(&mut criterion);
    criterion.final_summary();
    report();
}
