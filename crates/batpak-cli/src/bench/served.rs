//! The `serve` section: `bank.commit` calls per second through a served host
//! (the stack `batpak serve` runs: [`crate::serve::start`] on loopback, the
//! store in its durable default sync mode), beside the embedded store's own
//! durable appends at the same concurrency, in the same run.
//!
//! | id | served | embedded |
//! |----|--------|----------|
//! | S1 | 1 client connection | W2: durable single appends, 1 thread |
//! | S8 | 8 connections, one client thread each | W2c with 8 threads |
//! | S64 | 64 connections | W2c with 64 threads |
//!
//! Both sides write the same payloads to the same entities; the served side
//! sends them hex-encoded in a MessagePack `CommitRequest`, encoded before
//! the clock starts. Each served call stores two events, the commit and its
//! receipt (the host's `StoreReceiptSink`), and answers only once both are
//! durable; the embedded side appends one event per operation. Rounds
//! alternate between the two sides, as the store workloads alternate
//! between batpak and SQLite.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

use batpak::{Store, StoreConfig, SyncMode};
use hostbat::wire::CommitRequest;
use netbat::{Client, ClientConfig, ClientError};
use serde::Serialize;

use super::ours::Ours;
use super::workload::{self, Fixture, ENTITIES, KIND, SCOPE};
use super::{alternate, rounds_of, temp_dir, Measured, Tick};
use crate::error::CliError;
use crate::progress::Progress;
use crate::serve::{self, ServeOptions};
use crate::table::{human_number, Align, Table};

/// Client connections of the served rows (and threads of the embedded ones).
pub const CONNECTIONS: [usize; 3] = [1, 8, 64];

/// The operation called.
const OP: &str = "bank.commit";

/// Rounds each row is cut into, alternating served and embedded. Fewer than
/// the store workloads' ten: every round starts and drains every connection,
/// and the served rows are short.
const SERVE_ROUNDS: usize = 4;

/// How long one client read or write may take.
const CLIENT_IO_TIMEOUT: Duration = Duration::from_secs(30);

// `serve::start` serves with `ServerConfig::default()`, whose connection
// limit is `DEFAULT_MAX_CONNECTIONS` at once; the widest row must fit in it,
// or its last connections would wait in the backlog for the whole row.
const _: () = assert!(
    CONNECTIONS[CONNECTIONS.len() - 1] <= netbat::DEFAULT_MAX_CONNECTIONS,
    "the served host must admit the widest row's connections at once"
);

/// One served row and its embedded counterpart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServeResult {
    /// `S1`, `S8` or `S64`.
    pub workload: String,
    /// Client connections, one client thread each.
    pub connections: usize,
    /// Calls measured (and embedded appends: the same number).
    pub calls: u64,
    /// Served `bank.commit` calls per second.
    pub calls_per_sec: f64,
    /// Seconds the served calls took, summed over rounds.
    pub seconds: f64,
    /// The embedded workload beside it: `W2` (1 thread) or `W2c`.
    pub embedded: &'static str,
    /// Threads of the embedded workload (the same as `connections`).
    pub embedded_threads: usize,
    /// Embedded durable appends per second.
    pub embedded_per_sec: f64,
    /// Seconds the embedded appends took, summed over rounds.
    pub embedded_seconds: f64,
    /// Served calls per second ÷ embedded appends per second.
    pub ratio: f64,
    /// Served calls per second as a fraction of the machine's fsync rate.
    pub fsync_fraction: f64,
    /// Embedded appends per second as a fraction of the machine's fsync rate.
    pub embedded_fsync_fraction: f64,
}

impl ServeResult {
    fn new(connections: usize, served: Measured, embedded: Measured, fsync_rate: f64) -> Self {
        let (a, b) = (served.per_sec(), embedded.per_sec());
        Self {
            workload: format!("S{connections}"),
            connections,
            calls: served.ops,
            calls_per_sec: a,
            seconds: served.seconds,
            embedded: if connections == 1 { "W2" } else { "W2c" },
            embedded_threads: connections,
            embedded_per_sec: b,
            embedded_seconds: embedded.seconds,
            ratio: a / b,
            fsync_fraction: a / fsync_rate,
            embedded_fsync_fraction: b / fsync_rate,
        }
    }
}

/// What `batpak serve --data DIR --listen 127.0.0.1:0` runs with. The one
/// place the bench builds [`ServeOptions`].
fn serve_options(data: &Path) -> ServeOptions {
    let mut options = ServeOptions::new(data);
    options.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    options
}

fn remote(e: ClientError) -> CliError {
    CliError::Remote {
        code: e.code().map(|c| c.as_str().to_owned()),
        message: e.to_string(),
    }
}

/// The `bank.commit` request of event `i`: the payload and entity the
/// embedded store appends for `i`.
fn request(fx: &Fixture, i: usize) -> Result<Vec<u8>, CliError> {
    let req = CommitRequest {
        entity: fx.entities[i % ENTITIES].clone(),
        scope: SCOPE.to_owned(),
        kind_category: KIND.category(),
        kind_type_id: KIND.type_id(),
        payload_hex: hostbat::hex::encode(&workload::encode(fx.payload(i))?),
        idempotency_key_hex: None,
    };
    rmp_serde::to_vec_named(&req).map_err(|e| CliError::Codec {
        reason: e.to_string(),
    })
}

/// Calls `bank.commit` for the requests `range`, client `t` taking those
/// with `i % clients.len() == t`; returns seconds.
fn served_round(
    clients: &mut [Client],
    requests: &[Vec<u8>],
    range: Range<usize>,
    tick: &Tick<'_>,
) -> Result<f64, CliError> {
    let n = clients.len();
    let started = Instant::now();
    std::thread::scope(|s| {
        let workers: Vec<_> = clients
            .iter_mut()
            .enumerate()
            .map(|(t, client)| {
                let range = range.clone();
                s.spawn(move || -> Result<(), CliError> {
                    for i in range.filter(|i| i % n == t) {
                        client.call(OP, &requests[i]).map_err(remote)?;
                        tick.step();
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| CliError::WorkerPanicked { workload: "serve" })??;
        }
        Ok::<(), CliError>(())
    })?;
    Ok(started.elapsed().as_secs_f64())
}

/// Every row, with the host already serving on `addr`.
fn measure(
    fx: &Fixture,
    calls: usize,
    addr: SocketAddr,
    embedded: &Ours,
    fsync_rate: f64,
    progress: &dyn Progress,
) -> Result<Vec<ServeResult>, CliError> {
    let requests = (0..calls)
        .map(|i| request(fx, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(CONNECTIONS.len());
    for connections in CONNECTIONS {
        let config = ClientConfig::new(addr).with_io_timeout(CLIENT_IO_TIMEOUT);
        // Connected before the clock starts; each keeps its connection.
        let mut clients = (0..connections)
            .map(|_| Client::connect(config.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(remote)?;
        let label = format!("S{connections} bank.commit served | embedded, {connections} conn.");
        let tick = Tick::begin(progress, &label, 2 * calls as u64);
        let (a, b) = alternate(
            &rounds_of(calls, connections, SERVE_ROUNDS),
            |r| served_round(&mut clients, &requests, r, &tick),
            |r| match connections {
                1 => embedded.append_singles(fx, r, &tick, None),
                n => embedded.append_concurrent(fx, r, n, &tick),
            },
        )?;
        tick.end();
        out.push(ServeResult::new(
            connections,
            Measured::new(calls as u64, a),
            Measured::new(calls as u64, b),
            fsync_rate,
        ));
    }
    Ok(out)
}

/// Runs every row with `calls` calls each: one served host and one embedded
/// store, each in a temporary directory under `parent`.
pub(crate) fn run(
    fx: &Fixture,
    calls: usize,
    parent: &Path,
    fsync_rate: f64,
    progress: &dyn Progress,
) -> Result<Vec<ServeResult>, CliError> {
    let host_dir = temp_dir(parent, "serve-host")?;
    let embedded_dir = temp_dir(parent, "serve-embedded")?;
    let embedded = Ours::open(embedded_dir.path(), SyncMode::EveryGroup)?;
    let running = serve::start(&serve_options(host_dir.path()))?;
    let measured = measure(
        fx,
        calls,
        running.calls_addr(),
        &embedded,
        fsync_rate,
        progress,
    );
    // Stopped whether or not the rows succeeded; the clients are gone by now.
    for h in running.shutdown_handles() {
        h.shutdown();
    }
    let stopped = running.wait_and_close();
    let rows = measured?;
    stopped?;
    embedded.close()?;
    check_committed(fx, host_dir.path(), calls * CONNECTIONS.len())?;
    Ok(rows)
}

/// Every served call must have left its event in the host's store.
fn check_committed(fx: &Fixture, dir: &Path, expected: usize) -> Result<(), CliError> {
    let store = Store::open_read_only(StoreConfig::new(dir))?;
    let found: usize = fx.entities.iter().map(|e| store.by_entity(e).len()).sum();
    if found != expected {
        return Err(CliError::BenchCheck {
            what: format!("the served store holds {found} commits, expected {expected}"),
        });
    }
    Ok(())
}

/// The serve rows as a table, or nothing when the section did not run.
pub(crate) fn render(rows: &[ServeResult], out: &mut String) {
    if rows.is_empty() {
        return;
    }
    let calls = rows.first().map_or(0, |r| r.calls);
    out.push_str(&format!(
        "\nserve: bank.commit over NETBAT/1 on loopback (batpak serve, durable), {} calls per row,\n\
         beside the embedded store's durable appends at the same concurrency (W2, W2c)\n",
        human_number(calls as f64, 0)
    ));
    let mut t = Table::new(&[
        ("workload", Align::Left),
        ("connections", Align::Right),
        ("served", Align::Right),
        ("embedded", Align::Left),
        ("embedded rate", Align::Right),
        ("ratio", Align::Right),
        ("of fsync rate", Align::Right),
    ]);
    for r in rows {
        let threads = if r.embedded_threads == 1 {
            "thread"
        } else {
            "threads"
        };
        t.row(vec![
            r.workload.clone(),
            r.connections.to_string(),
            format!("{} calls/s", human_number(r.calls_per_sec, 0)),
            format!("{}, {} {threads}", r.embedded, r.embedded_threads),
            format!("{} ev/s", human_number(r.embedded_per_sec, 0)),
            format!("{:.2}x", r.ratio),
            format!(
                "{:.0}% | {:.0}%",
                r.fsync_fraction * 100.0,
                r.embedded_fsync_fraction * 100.0
            ),
        ]);
    }
    out.push_str(&t.render());
    out.push_str("ratio: served calls/s / embedded appends/s; a served call stores its event and its receipt.\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_carry_the_embedded_payload_and_entity() {
        let fx = Fixture::new(3).unwrap();
        let req: CommitRequest = rmp_serde::from_slice(&request(&fx, 2).unwrap()).unwrap();
        assert_eq!(req.entity, fx.entities[2]);
        assert_eq!(req.scope, SCOPE);
        assert_eq!((req.kind_category, req.kind_type_id), (0xE, 1));
        let payload = hostbat::hex::decode(&req.payload_hex).unwrap();
        assert_eq!(workload::decode(&payload).unwrap(), *fx.payload(2));
    }

    #[test]
    fn ratio_is_served_over_embedded() {
        let r = ServeResult::new(8, Measured::new(100, 1.0), Measured::new(100, 0.5), 400.0);
        assert_eq!((r.workload.as_str(), r.embedded), ("S8", "W2c"));
        assert!((r.ratio - 0.5).abs() < 1e-9);
        assert!((r.fsync_fraction - 0.25).abs() < 1e-9);
        assert!((r.embedded_fsync_fraction - 0.5).abs() < 1e-9);
    }
}
