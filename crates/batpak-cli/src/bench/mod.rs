//! `batpak bench`: batpak and SQLite side by side on the same machine, in the
//! same run, with the same payloads, in fresh temporary directories; then
//! the operation runtime's per-call cost and a served host's commit rate.
//!
//! Three sections, all run by default ([`Section`]):
//!
//! - `store`: the workloads below, batpak next to SQLite;
//! - `runtime`: syncbat's per-call overhead (`R1`–`R3`, in `runtime.rs`);
//! - `serve`: `bank.commit` through `batpak serve` with 1, 8 and 64
//!   connections next to the embedded store's durable appends (`S1`, `S8`,
//!   `S64`, in `served.rs`).
//!
//! The store workloads:
//!
//! | id | batpak | SQLite (WAL) | target |
//! |----|--------|--------------|--------|
//! | W1 | single appends, `SyncMode::OsBuffered` | autocommit inserts, `synchronous=NORMAL` | ≥ 1.5× SQLite |
//! | W2 | single appends, durable before return, 1 thread | `synchronous=FULL` | ≥ 1.0× SQLite |
//! | W2c | durable appends from 4 threads | `FULL`, 4 connections | ≥ 2.5× batpak's own W2 |
//! | W3 | atomic batches of 100, each durable | `FULL`, one transaction per 100 | ≥ 2× SQLite |
//! | W4 | cold open of the W1 data set + count | open + `count(*)` | ≤ 50 ms up to 1M events, ≤ 300 ms at 10M |
//! | W5 | N random point reads by id | by primary key | ≥ 2× SQLite |
//! | W6 | every event of each entity, decoded | `WHERE entity = ?` | ≥ 1× SQLite |
//! | disk | bytes per event of the W1 data set | file sizes | ≤ 1.5× SQLite |
//!
//! The library never prints; [`render_human`] returns the table as text.

pub mod compaction;
#[cfg(feature = "payload-encryption")]
pub mod encryption;
mod machine;
mod ours;
mod runtime;
pub mod scale;
mod served;
mod sqlite;
mod workload;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use batpak::SyncMode;
use serde::Serialize;
use tempfile::TempDir;

use crate::datadir::dir_bytes;
use crate::error::{CliError, DirProblem};
use crate::progress::Progress;
use crate::table::{human_number, Align, Table};

use machine::ProbeMode;
use ours::Ours;
use sqlite::Sql;
use workload::{Fixture, Rng, READ_SEED};

pub use machine::Machine;
pub use runtime::RuntimeResult;
pub use served::{ServeResult, CONNECTIONS as SERVE_CONNECTIONS};
pub use workload::BenchPayload;

/// Progress is reported every this many operations.
pub(crate) const TICK: usize = 256;

/// A part of the benchmark that can be run alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Section {
    /// W1–W6 and disk: batpak next to SQLite.
    Store,
    /// R1–R3: per-call overhead of the syncbat operation runtime.
    Runtime,
    /// S1, S8, S64: `bank.commit` through a served host next to the embedded store.
    Serve,
    /// `Store::compact` throughput, and durable appends beside a compaction.
    /// Not in [`Section::ALL`]: ask for it (`--only compaction`).
    Compaction,
}

impl Section {
    /// Every section, in the order they run.
    pub const ALL: [Section; 3] = [Section::Store, Section::Runtime, Section::Serve];
}

/// Calls per runtime case (R1–R3) by default.
pub const DEFAULT_RUNTIME_CALLS: u64 = 200_000;

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// The sections to run (all by default); order does not matter.
    pub sections: Vec<Section>,
    /// Events of the non-durable workloads (W1, W3, W4, W5, W6, disk).
    pub events: u64,
    /// Where to create the temporary data directories (the system's temp directory if `None`).
    pub dir: Option<PathBuf>,
    /// Writer threads (and SQLite connections) in W2c.
    pub threads: usize,
    /// How long each fsync probe (append, then overwrite) runs.
    pub fsync_probe: Duration,
    /// Repetitions of each cold open (the median is reported).
    pub open_repetitions: usize,
    /// Calls of each runtime case (R1, R2, R3).
    pub runtime_calls: u64,
    /// Calls of each served row (S1, S8, S64); [`BenchConfig::durable_events`] if `None`.
    pub serve_calls: Option<u64>,
}

impl BenchConfig {
    /// The defaults for `events` events: every section, 4 threads, 1 s per
    /// fsync probe, 5 cold opens, [`DEFAULT_RUNTIME_CALLS`] runtime calls.
    pub fn new(events: u64) -> Self {
        Self {
            sections: Section::ALL.to_vec(),
            events,
            dir: None,
            threads: 4,
            fsync_probe: Duration::from_secs(1),
            open_repetitions: 5,
            runtime_calls: DEFAULT_RUNTIME_CALLS,
            serve_calls: None,
        }
    }

    /// Whether `section` is selected.
    pub fn runs(&self, section: Section) -> bool {
        self.sections.contains(&section)
    }

    /// Calls of each served row: `serve_calls`, or as many as W2 appends.
    pub fn serve_calls(&self) -> u64 {
        self.serve_calls.unwrap_or_else(|| self.durable_events())
    }

    /// Events of the durable single-append workloads W2 and W2c: `events / 20`
    /// (at least 20, a multiple of the thread count). They wait for one fsync
    /// per append or group, so they would take minutes at full size.
    pub fn durable_events(&self) -> u64 {
        let threads = self.threads.max(1) as u64;
        let n = (self.events / 20).max(20);
        n.div_ceil(threads) * threads
    }

    /// Events of W3: `events` rounded up to whole batches of 100.
    pub fn batch_events(&self) -> u64 {
        self.events.div_ceil(workload::BATCH as u64).max(1) * workload::BATCH as u64
    }
}

/// Operations done and the seconds they took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Measured {
    ops: u64,
    seconds: f64,
}

impl Measured {
    pub(crate) fn new(ops: u64, seconds: f64) -> Self {
        Self {
            ops,
            // A clock too coarse to see the work must not divide by zero.
            seconds: seconds.max(1e-9),
        }
    }

    fn per_sec(self) -> f64 {
        self.ops as f64 / self.seconds
    }
}

/// The median of `v` (empty: 0).
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One system's figure for one workload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchResult {
    /// `W1`, `W2`, `W2c`, `W3`, `W4`, `W5`, `W6` or `disk`.
    pub workload: &'static str,
    /// `batpak` or `sqlite`.
    pub system: &'static str,
    /// Operations measured (events; for W4 one open).
    pub ops: u64,
    /// Operations per second: events per second; W4 opens per second; for
    /// `disk` the W1 write rate of the measured data set.
    pub ops_per_sec: f64,
    /// Seconds the measured section took (W4: the median open + count).
    pub seconds: f64,
    /// `disk` only: bytes on disk divided by events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_event: Option<f64>,
    /// Durable workloads only: commits per second (appends, or batches for W3)
    /// as a fraction of the machine's fsync rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fsync_fraction: Option<f64>,
    /// W2c, batpak only: this rate divided by batpak's single-thread W2 rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_own_w2: Option<f64>,
    /// batpak ÷ SQLite: of `ops_per_sec`, except W4 (SQLite seconds ÷ batpak
    /// seconds) and `disk` (batpak bytes ÷ SQLite bytes). The same on both rows.
    pub ratio: Option<f64>,
    /// The workload's target, in words. The same on both rows.
    pub target: String,
    /// Whether batpak met the target. The same on both rows.
    pub met: bool,
}

/// Run parameters echoed in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// The sections that ran.
    pub sections: Vec<Section>,
    /// `--events`.
    pub events: u64,
    /// Events of W2 and W2c.
    pub durable_events: u64,
    /// Events of W3.
    pub batch_events: u64,
    /// Events per W3 batch.
    pub batch_size: usize,
    /// Entities written round robin.
    pub entities: usize,
    /// Encoded payload size in bytes.
    pub payload_bytes: usize,
    /// Threads (connections) in W2c.
    pub threads: usize,
    /// Cold opens per system in W4 (median reported).
    pub open_repetitions: usize,
    /// Rounds each workload is split into, alternating the systems.
    pub rounds: usize,
    /// Calls of each runtime case (R1–R3).
    pub runtime_calls: u64,
    /// Calls of each served row (S1, S8, S64), and appends of its embedded twin.
    pub serve_calls: u64,
    /// Client connections of the served rows.
    pub serve_connections: Vec<usize>,
}

/// The whole benchmark outcome: what `--json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    /// The machine and its fsync rate.
    pub machine: Machine,
    /// Run parameters.
    pub settings: Settings,
    /// `store` section: two rows per workload, batpak first (empty if it did not run).
    pub results: Vec<BenchResult>,
    /// `runtime` section: R1, R2, R3 (empty if it did not run).
    pub runtime: Vec<RuntimeResult>,
    /// `serve` section: S1, S8, S64 (empty if it did not run).
    pub serve: Vec<ServeResult>,
    /// `compaction` section (`None` if it did not run).
    pub compaction: Option<compaction::CompactionBench>,
    /// How to read the figures.
    pub notes: Vec<String>,
}

impl BenchReport {
    /// The row of `workload` for `system`.
    pub fn result(&self, workload: &str, system: &str) -> Option<&BenchResult> {
        self.results
            .iter()
            .find(|r| r.workload == workload && r.system == system)
    }
}

/// Cold-open target in seconds for `events` events: 50 ms up to 1M,
/// rising linearly to 300 ms at 10M and at the same slope beyond (open
/// reads per-segment summaries, so it grows with segments, not events).
pub fn cold_open_target_seconds(events: u64) -> f64 {
    const BASE_EVENTS: f64 = 1_000_000.0;
    const BASE: f64 = 0.050;
    const PER_EVENT: f64 = (0.300 - 0.050) / 9_000_000.0;
    BASE + (events as f64 - BASE_EVENTS).max(0.0) * PER_EVENT
}

fn temp_dir(parent: &Path, label: &str) -> Result<TempDir, CliError> {
    tempfile::Builder::new()
        .prefix(&format!("batpak-bench-{label}-"))
        .tempdir_in(parent)
        .map_err(|e| CliError::io("create temporary directory", parent, e))
}

fn check_parent(dir: &Path) -> Result<(), CliError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(CliError::Directory {
            path: dir.to_path_buf(),
            problem: DirProblem::NotADirectory,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::Directory {
            path: dir.to_path_buf(),
            problem: DirProblem::Missing,
        }),
        Err(e) => Err(CliError::Directory {
            path: dir.to_path_buf(),
            problem: DirProblem::Unreadable {
                reason: e.to_string(),
            },
        }),
    }
}

/// A pair of rows before targets are applied.
struct Pair {
    workload: &'static str,
    ours: Measured,
    theirs: Measured,
}

/// Rounds each workload is split into. The two systems alternate rounds
/// (batpak first in even rounds, SQLite first in odd ones) so that both see
/// the same disk and CPU conditions on a shared machine.
pub(crate) const ROUNDS: usize = 10;

/// Progress of one workload across both systems; `step` is cheap.
pub(crate) struct Tick<'a> {
    progress: &'a dyn Progress,
    done: AtomicU64,
}

impl<'a> Tick<'a> {
    fn begin(progress: &'a dyn Progress, label: &str, total: u64) -> Self {
        progress.begin(label, Some(total));
        Self {
            progress,
            done: AtomicU64::new(0),
        }
    }

    /// One operation finished.
    pub(crate) fn step(&self) {
        self.add(1);
    }

    /// `n` operations finished.
    pub(crate) fn add(&self, n: u64) {
        let before = self.done.fetch_add(n, Ordering::Relaxed);
        let tick = TICK as u64;
        if before / tick != (before + n) / tick {
            self.progress.set(before + n);
        }
    }

    fn end(self) {
        self.progress.set(self.done.load(Ordering::Relaxed));
        self.progress.end();
    }
}

/// Splits `0..n` into at most [`ROUNDS`] contiguous ranges starting on multiples of `align`.
fn rounds(n: usize, align: usize) -> Vec<Range<usize>> {
    rounds_of(n, align, ROUNDS)
}

/// Splits `0..n` into at most `k` contiguous ranges starting on multiples of `align`.
fn rounds_of(n: usize, align: usize, k: usize) -> Vec<Range<usize>> {
    let align = align.max(1);
    let per = (n.div_ceil(k.max(1)).div_ceil(align) * align).max(1);
    (0..n).step_by(per).map(|s| s..(s + per).min(n)).collect()
}

/// Runs `ours` and `theirs` on every range, alternating which goes first;
/// returns the seconds each took in total.
fn alternate(
    ranges: &[Range<usize>],
    mut ours: impl FnMut(Range<usize>) -> Result<f64, CliError>,
    mut theirs: impl FnMut(Range<usize>) -> Result<f64, CliError>,
) -> Result<(f64, f64), CliError> {
    let (mut a, mut b) = (0.0, 0.0);
    for (k, r) in ranges.iter().enumerate() {
        if k % 2 == 0 {
            a += ours(r.clone())?;
            b += theirs(r.clone())?;
        } else {
            b += theirs(r.clone())?;
            a += ours(r.clone())?;
        }
    }
    Ok((a, b))
}

/// Runs the selected sections.
pub fn run(cfg: &BenchConfig, progress: &dyn Progress) -> Result<BenchReport, CliError> {
    let parent = cfg.dir.clone().unwrap_or_else(std::env::temp_dir);
    check_parent(&parent)?;
    if cfg.events == 0
        || cfg.threads == 0
        || cfg.open_repetitions == 0
        || cfg.runtime_calls == 0
        || cfg.serve_calls() == 0
    {
        return Err(CliError::BenchCheck {
            what: "events, threads, open repetitions and call counts must be positive".into(),
        });
    }
    if cfg.sections.is_empty() {
        return Err(CliError::BenchCheck {
            what: "no section selected".into(),
        });
    }
    let too_many = || CliError::BenchCheck {
        what: "too many events for this platform".into(),
    };
    let n = usize::try_from(cfg.events).map_err(|_| too_many())?;
    let serve_calls = usize::try_from(cfg.serve_calls()).map_err(|_| too_many())?;
    let durable = cfg.durable_events() as usize;
    let batched = cfg.batch_events() as usize;
    let mut fixture_events = 1;
    if cfg.runs(Section::Store) {
        fixture_events = n.max(durable).max(batched);
    }
    if cfg.runs(Section::Serve) {
        fixture_events = fixture_events.max(serve_calls);
    }
    if cfg.runs(Section::Compaction) {
        fixture_events = fixture_events.max(n);
    }
    let fx = Fixture::new(fixture_events)?;

    let probe = temp_dir(&parent, "fsync")?;
    let fsync_per_sec =
        machine::fsync_rate(probe.path(), ProbeMode::Append, cfg.fsync_probe, progress)?;
    let fsync_overwrite_per_sec = machine::fsync_rate(
        probe.path(),
        ProbeMode::Overwrite,
        cfg.fsync_probe,
        progress,
    )?;
    drop(probe);

    let results = if cfg.runs(Section::Store) {
        run_store(cfg, &fx, n, &parent, fsync_per_sec, progress)?
    } else {
        Vec::new()
    };
    let runtime = if cfg.runs(Section::Runtime) {
        runtime::run(cfg.runtime_calls, &parent, progress)?
    } else {
        Vec::new()
    };
    let serve = if cfg.runs(Section::Serve) {
        served::run(&fx, serve_calls, &parent, fsync_per_sec, progress)?
    } else {
        Vec::new()
    };
    let compaction = if cfg.runs(Section::Compaction) {
        Some(compaction::run(&fx, n, &parent, progress)?)
    } else {
        None
    };

    let mut sections = cfg.sections.clone();
    sections.sort();
    sections.dedup();
    let settings = Settings {
        sections,
        events: cfg.events,
        durable_events: durable as u64,
        batch_events: batched as u64,
        batch_size: workload::BATCH,
        entities: workload::ENTITIES,
        payload_bytes: fx.payload_bytes()?,
        threads: cfg.threads,
        open_repetitions: cfg.open_repetitions,
        rounds: ROUNDS,
        runtime_calls: cfg.runtime_calls,
        serve_calls: serve_calls as u64,
        serve_connections: served::CONNECTIONS.to_vec(),
    };
    Ok(BenchReport {
        machine: machine::describe(fsync_per_sec, fsync_overwrite_per_sec, &parent),
        notes: notes(&settings),
        settings,
        results,
        runtime,
        serve,
        compaction,
    })
}

/// The `store` section: W1–W6 and disk for both systems, `n` events.
fn run_store(
    cfg: &BenchConfig,
    fx: &Fixture,
    n: usize,
    parent: &Path,
    fsync_per_sec: f64,
    progress: &dyn Progress,
) -> Result<Vec<BenchResult>, CliError> {
    let durable = cfg.durable_events() as usize;
    let batched = cfg.batch_events() as usize;

    // W1, and the data sets W4, W5, W6 and disk reuse.
    let ours_w1_dir = temp_dir(parent, "w1-batpak")?;
    let sql_w1_dir = temp_dir(parent, "w1-sqlite")?;
    let mut ours_ids = Vec::with_capacity(n);
    let mut sql_ids = Vec::with_capacity(n);
    let w1 = {
        let ours = Ours::open(ours_w1_dir.path(), SyncMode::OsBuffered)?;
        let mut sql = Sql::open(sql_w1_dir.path(), sqlite::Sync::Normal, 1)?;
        let tick = Tick::begin(progress, "W1 single appends, not fsynced", 2 * n as u64);
        let (a, b) = alternate(
            &rounds(n, 1),
            |r| ours.append_singles(fx, r, &tick, Some(&mut ours_ids)),
            |r| sql.append_singles(fx, r, &tick, Some(&mut sql_ids)),
        )?;
        tick.end();
        ours.close()?;
        sql.close()?;
        Pair {
            workload: "W1",
            ours: Measured::new(n as u64, a),
            theirs: Measured::new(n as u64, b),
        }
    };
    let ours_bytes = dir_bytes(ours_w1_dir.path())?;
    let sql_bytes = dir_bytes(sql_w1_dir.path())?;

    let w2 = {
        let (d1, d2) = (
            temp_dir(parent, "w2-batpak")?,
            temp_dir(parent, "w2-sqlite")?,
        );
        let ours = Ours::open(d1.path(), SyncMode::EveryGroup)?;
        let mut sql = Sql::open(d2.path(), sqlite::Sync::Full, 1)?;
        let tick = Tick::begin(progress, "W2 durable single appends", 2 * durable as u64);
        let (a, b) = alternate(
            &rounds(durable, 1),
            |r| ours.append_singles(fx, r, &tick, None),
            |r| sql.append_singles(fx, r, &tick, None),
        )?;
        tick.end();
        ours.close()?;
        sql.close()?;
        Pair {
            workload: "W2",
            ours: Measured::new(durable as u64, a),
            theirs: Measured::new(durable as u64, b),
        }
    };
    let w2c = {
        let (d1, d2) = (
            temp_dir(parent, "w2c-batpak")?,
            temp_dir(parent, "w2c-sqlite")?,
        );
        let ours = Ours::open(d1.path(), SyncMode::EveryGroup)?;
        let mut sql = Sql::open(d2.path(), sqlite::Sync::Full, cfg.threads)?;
        let tick = Tick::begin(
            progress,
            "W2c durable appends, concurrent",
            2 * durable as u64,
        );
        let (a, b) = alternate(
            &rounds(durable, cfg.threads),
            |r| ours.append_concurrent(fx, r, cfg.threads, &tick),
            |r| sql.append_concurrent(fx, r, &tick),
        )?;
        tick.end();
        ours.close()?;
        sql.close()?;
        Pair {
            workload: "W2c",
            ours: Measured::new(durable as u64, a),
            theirs: Measured::new(durable as u64, b),
        }
    };
    let w3 = {
        let (d1, d2) = (
            temp_dir(parent, "w3-batpak")?,
            temp_dir(parent, "w3-sqlite")?,
        );
        let ours = Ours::open(d1.path(), SyncMode::EveryGroup)?;
        let mut sql = Sql::open(d2.path(), sqlite::Sync::Full, 1)?;
        let tick = Tick::begin(progress, "W3 durable batches of 100", 2 * batched as u64);
        let (a, b) = alternate(
            &rounds(batched, workload::BATCH),
            |r| ours.append_batches(fx, r, &tick),
            |r| sql.append_batches(fx, r, &tick),
        )?;
        tick.end();
        ours.close()?;
        sql.close()?;
        Pair {
            workload: "W3",
            ours: Measured::new(batched as u64, a),
            theirs: Measured::new(batched as u64, b),
        }
    };

    let (ours_open, sql_open) = {
        let reps = cfg.open_repetitions;
        let tick = Tick::begin(progress, "W4 cold open + count", 2 * reps as u64);
        let (mut a, mut b) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
        for k in 0..reps {
            if k % 2 == 0 {
                a.push(ours::cold_open(ours_w1_dir.path(), n as u64)?);
                b.push(sqlite::cold_open(sql_w1_dir.path(), n as u64)?);
            } else {
                b.push(sqlite::cold_open(sql_w1_dir.path(), n as u64)?);
                a.push(ours::cold_open(ours_w1_dir.path(), n as u64)?);
            }
            tick.add(2);
        }
        tick.end();
        (median(&mut a), median(&mut b))
    };

    let ours = Ours::open(ours_w1_dir.path(), SyncMode::EveryGroup)?;
    let sql = Sql::open(sql_w1_dir.path(), sqlite::Sync::Normal, 1)?;
    let w5 = {
        let tick = Tick::begin(progress, "W5 random point reads by id", 2 * n as u64);
        let (mut ra, mut rb) = (Rng::new(READ_SEED), Rng::new(READ_SEED));
        let (a, b) = alternate(
            &rounds(n, 1),
            |r| ours.point_reads(&ours_ids, &mut ra, r.len(), &tick),
            |r| sql.point_reads(&sql_ids, &mut rb, r.len(), &tick),
        )?;
        tick.end();
        Pair {
            workload: "W5",
            ours: Measured::new(n as u64, a),
            theirs: Measured::new(n as u64, b),
        }
    };
    let w6 = {
        let tick = Tick::begin(progress, "W6 read each entity, decoded", 2 * n as u64);
        let (mut ea, mut eb) = (0u64, 0u64);
        let (a, b) = alternate(
            &rounds(workload::ENTITIES, 1),
            |r| {
                let (events, s) = ours.entity_reads(fx, r, &tick)?;
                ea += events;
                Ok(s)
            },
            |r| {
                let (events, s) = sql.entity_reads(fx, r, &tick)?;
                eb += events;
                Ok(s)
            },
        )?;
        tick.end();
        Pair {
            workload: "W6",
            ours: Measured::new(ea, a),
            theirs: Measured::new(eb, b),
        }
    };
    ours.close()?;
    sql.close()?;

    let mut results = Vec::with_capacity(16);
    push_ratio_pair(&mut results, &w1, 1.5, None);
    push_ratio_pair(&mut results, &w2, 1.0, Some((fsync_per_sec, 1)));
    let own_w2 = w2.ours.per_sec();
    push_concurrent_pair(&mut results, &w2c, own_w2, fsync_per_sec, cfg.threads);
    push_ratio_pair(
        &mut results,
        &w3,
        2.0,
        Some((fsync_per_sec, workload::BATCH)),
    );
    push_open_pair(&mut results, n as u64, ours_open, sql_open);
    push_ratio_pair(&mut results, &w5, 2.0, None);
    push_ratio_pair(&mut results, &w6, 1.0, None);
    push_disk_pair(
        &mut results,
        n as u64,
        (ours_bytes, w1.ours),
        (sql_bytes, w1.theirs),
    );

    Ok(results)
}

fn notes(s: &Settings) -> Vec<String> {
    let mut notes = Vec::new();
    if s.sections.contains(&Section::Store) {
        notes.extend(store_notes(s));
    }
    if s.sections.contains(&Section::Runtime) {
        notes.push(format!(
            "runtime: {} calls of Core::invoke per case on one thread, each with a freshly allocated input; R1 and R2 call a no-op handler with a 4-byte input, R3 calls bank.deposit with the ~100-byte bench payload and stores its event and its receipt event (StoreReceiptSink, SyncMode::OsBuffered).",
            s.runtime_calls
        ));
    }
    if s.sections.contains(&Section::Compaction) {
        notes.push(format!(
            "compaction: {} events written in {} MiB segments (batches of {}, OsBuffered), closed and reopened durable; a Merge into segments of up to {} MiB, then a Tombstone pass over every sealed segment (every tenth payload removed, each event decoded for the predicate); MB/s counts source bytes. Appends: durable single appends from one thread for 2 s alone, then for the length of a second tombstone pass running beside them.",
            s.events,
            compaction::SOURCE_SEGMENT_BYTES >> 20,
            workload::BATCH,
            compaction::TARGET_SEGMENT_BYTES >> 20
        ));
    }
    if s.sections.contains(&Section::Serve) {
        notes.push(format!(
            "serve: {} bank.commit calls per row through batpak serve's stack (loopback, port 0, default durable sync), one persistent connection per client thread, connected before the clock starts; the embedded column appends the same payloads to a durable store from as many threads (W2 for 1, W2c otherwise), in 4 alternating rounds.",
            s.serve_calls
        ));
        notes.push("serve: every served call stores two events, its commit and its receipt, and answers once both are durable; ratio is served calls/s divided by embedded appends/s, and of fsync rate compares both with machine.fsync_per_sec.".into());
    }
    notes
}

fn store_notes(s: &Settings) -> Vec<String> {
    vec![
        format!(
            "W2 and W2c write {} events (--events / 20): every append waits for an fsync, so they are bound by the disk, not the CPU.",
            s.durable_events
        ),
        "fsync_fraction: durable commits per second (appends; batches for W3) divided by the probe's 4 KiB append + fdatasync rate (machine.fsync_per_sec). Overwriting already written blocks syncs faster (machine.fsync_overwrite_per_sec): no file size to make durable.".into(),
        "W4 opens the closed W1 data set (page cache warm) and counts its events; ops_per_sec is opens per second, seconds the median.".into(),
        "W5 reads return the stored payload bytes undecoded; W6 decodes every payload.".into(),
        "disk: every file of the W1 data set after a clean close; its ops_per_sec repeats the W1 rate of that data set.".into(),
        "SQLite runs in WAL mode with the blake3 chain per entity computed by the bench and stored in prev_hash/hash columns.".into(),
        format!(
            "Each workload runs in {} rounds that alternate between the systems, so both see the same disk and CPU conditions; seconds are summed per system.",
            s.rounds
        ),
    ]
}

fn row(workload: &'static str, system: &'static str, m: Measured) -> BenchResult {
    BenchResult {
        workload,
        system,
        ops: m.ops,
        ops_per_sec: m.per_sec(),
        seconds: m.seconds,
        bytes_per_event: None,
        fsync_fraction: None,
        vs_own_w2: None,
        ratio: None,
        target: String::new(),
        met: false,
    }
}

fn finish_pair(
    out: &mut Vec<BenchResult>,
    mut ours: BenchResult,
    mut theirs: BenchResult,
    ratio: Option<f64>,
    target: String,
    met: bool,
) {
    for r in [&mut ours, &mut theirs] {
        r.ratio = ratio;
        r.target = target.clone();
        r.met = met;
    }
    out.push(ours);
    out.push(theirs);
}

/// A throughput pair whose target is `ours / theirs >= min`. `fsync` is the
/// machine's fsync rate and the events per commit, for durable workloads.
fn push_ratio_pair(out: &mut Vec<BenchResult>, p: &Pair, min: f64, fsync: Option<(f64, usize)>) {
    let mut ours = row(p.workload, "batpak", p.ours);
    let mut theirs = row(p.workload, "sqlite", p.theirs);
    if let Some((rate, per_commit)) = fsync {
        for r in [&mut ours, &mut theirs] {
            r.fsync_fraction = Some(r.ops_per_sec / per_commit as f64 / rate);
        }
    }
    let ratio = ours.ops_per_sec / theirs.ops_per_sec;
    finish_pair(
        out,
        ours,
        theirs,
        Some(ratio),
        format!(">= {min}x sqlite"),
        ratio >= min,
    );
}

fn push_concurrent_pair(
    out: &mut Vec<BenchResult>,
    p: &Pair,
    own_w2: f64,
    fsync_rate: f64,
    threads: usize,
) {
    const MIN: f64 = 2.5;
    let mut ours = row(p.workload, "batpak", p.ours);
    let mut theirs = row(p.workload, "sqlite", p.theirs);
    for r in [&mut ours, &mut theirs] {
        r.fsync_fraction = Some(r.ops_per_sec / fsync_rate);
    }
    let vs_own = ours.ops_per_sec / own_w2;
    ours.vs_own_w2 = Some(vs_own);
    let ratio = ours.ops_per_sec / theirs.ops_per_sec;
    let target = format!(">= {MIN}x batpak W2 ({threads} threads)");
    finish_pair(out, ours, theirs, Some(ratio), target, vs_own >= MIN);
}

fn push_open_pair(out: &mut Vec<BenchResult>, events: u64, ours_s: f64, theirs_s: f64) {
    let limit = cold_open_target_seconds(events);
    let ours = row("W4", "batpak", Measured::new(1, ours_s));
    let theirs = row("W4", "sqlite", Measured::new(1, theirs_s));
    let ratio = theirs.seconds / ours.seconds;
    let met = ours.seconds <= limit;
    finish_pair(
        out,
        ours,
        theirs,
        Some(ratio),
        format!("<= {:.0} ms", limit * 1000.0),
        met,
    );
}

fn push_disk_pair(
    out: &mut Vec<BenchResult>,
    events: u64,
    ours: (u64, Measured),
    theirs: (u64, Measured),
) {
    const MAX: f64 = 1.5;
    let per_event = |b: u64| b as f64 / events.max(1) as f64;
    let mut o = row("disk", "batpak", ours.1);
    o.bytes_per_event = Some(per_event(ours.0));
    let mut t = row("disk", "sqlite", theirs.1);
    t.bytes_per_event = Some(per_event(theirs.0));
    let ratio = per_event(ours.0) / per_event(theirs.0).max(f64::MIN_POSITIVE);
    finish_pair(
        out,
        o,
        t,
        Some(ratio),
        format!("<= {MAX}x sqlite bytes"),
        ratio <= MAX,
    );
}

const DESCRIPTIONS: [(&str, &str); 8] = [
    ("W1", "single appends, not fsynced per append"),
    ("W2", "single appends, durable, 1 thread"),
    ("W2c", "durable appends, concurrent threads"),
    ("W3", "batches of 100, each durable"),
    ("W4", "cold open + count"),
    ("W5", "random point reads by id"),
    ("W6", "read each entity's events, decoded"),
    ("disk", "bytes per event on disk"),
];

/// The report as a table for a terminal.
pub fn render_human(r: &BenchReport) -> String {
    let s = &r.settings;
    let m = &r.machine;
    let mut out = String::new();
    let store = s.sections.contains(&Section::Store);
    if store {
        out.push_str(&format!(
            "batpak bench: {} events, {} entities round robin, {}-byte MessagePack payload; batpak and SQLite {} (WAL) in one run\n",
            human_number(s.events as f64, 0),
            human_number(s.entities as f64, 0),
            s.payload_bytes,
            m.sqlite_version
        ));
        out.push_str(&format!(
            "durable single appends (W2, W2c) use {} events (--events / 20): they are bound by fsync; W3 uses {} events\n",
            human_number(s.durable_events as f64, 0),
            human_number(s.batch_events as f64, 0)
        ));
    } else {
        let names: Vec<&str> = s
            .sections
            .iter()
            .map(|x| match x {
                Section::Store => "store",
                Section::Runtime => "runtime",
                Section::Serve => "serve",
                Section::Compaction => "compaction",
            })
            .collect();
        out.push_str(&format!("batpak bench: sections {}\n", names.join(", ")));
    }
    out.push_str(&format!(
        "machine: {}, kernel {}, {} cores, {}\n",
        m.os,
        m.kernel.as_deref().unwrap_or("?"),
        m.cores,
        m.cpu_model.as_deref().unwrap_or("unknown CPU"),
    ));
    out.push_str(&format!(
        "fsync in {}: 4 KiB append + fdatasync {}/s; 4 KiB overwrite + fdatasync {}/s\n",
        m.bench_dir,
        human_number(m.fsync_per_sec, 0),
        human_number(m.fsync_overwrite_per_sec, 0),
    ));
    let (mut met, mut total) = (0, 0);
    if store {
        let (a, b) = render_store(r, &mut out);
        met += a;
        total += b;
    }
    runtime::render(&r.runtime, &mut out);
    for x in &r.runtime {
        total += usize::from(x.met.is_some());
        met += usize::from(x.met == Some(true));
    }
    served::render(&r.serve, &mut out);
    compaction::render(r.compaction.as_ref(), &mut out);
    if total > 0 {
        out.push_str(&format!("\ntargets met: {met} of {total}\n"));
    }
    out
}

/// The store table and its legend; returns (targets met, targets).
fn render_store(r: &BenchReport, out: &mut String) -> (usize, usize) {
    let s = &r.settings;
    out.push('\n');
    let mut t = Table::new(&[
        ("workload", Align::Left),
        ("what", Align::Left),
        ("batpak", Align::Right),
        ("sqlite", Align::Right),
        ("ratio", Align::Right),
        ("of fsync rate", Align::Right),
        ("target", Align::Left),
        ("met", Align::Left),
    ]);
    let mut met = 0;
    let mut total = 0;
    for (id, what) in DESCRIPTIONS {
        let (Some(o), Some(q)) = (r.result(id, "batpak"), r.result(id, "sqlite")) else {
            continue;
        };
        total += 1;
        met += usize::from(o.met);
        let cell = |x: &BenchResult| match id {
            "W4" => format!("{:.1} ms", x.seconds * 1000.0),
            "disk" => format!("{:.1} B", x.bytes_per_event.unwrap_or(0.0)),
            _ => format!("{} ev/s", human_number(x.ops_per_sec, 0)),
        };
        let fsync = match (o.fsync_fraction, q.fsync_fraction) {
            (Some(a), Some(b)) => format!("{:.0}% | {:.0}%", a * 100.0, b * 100.0),
            _ => String::new(),
        };
        let what = match id {
            "W2c" => format!("{what} ({} threads)", s.threads),
            "W4" => format!("{what} ({} events)", human_number(s.events as f64, 0)),
            _ => what.to_owned(),
        };
        let mut target = o.target.clone();
        if let Some(v) = o.vs_own_w2 {
            target.push_str(&format!(": {v:.2}x"));
        }
        t.row(vec![
            id.to_owned(),
            what,
            cell(o),
            cell(q),
            o.ratio.map_or_else(String::new, |x| format!("{x:.2}x")),
            fsync,
            target,
            if o.met { "yes" } else { "NO" }.into(),
        ]);
    }
    out.push_str(&t.render());
    out.push_str("ratio: batpak / sqlite throughput; W4: sqlite time / batpak time; disk: batpak bytes / sqlite bytes.\n");
    out.push_str("of fsync rate: durable commits per second (batpak | sqlite) as a share of the append + fdatasync rate; W3 counts batches.\n");
    (met, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_rules() {
        let c = BenchConfig::new(100_000);
        assert_eq!(c.durable_events(), 5_000);
        assert_eq!(c.batch_events(), 100_000);
        let small = BenchConfig::new(150);
        assert_eq!(small.durable_events(), 20);
        assert_eq!(small.batch_events(), 200);
        assert_eq!(c.serve_calls(), 5_000);
        let mut chosen = BenchConfig::new(100_000);
        chosen.serve_calls = Some(64);
        assert_eq!(chosen.serve_calls(), 64);
        assert!(Section::ALL.iter().all(|s| c.runs(*s)));
        assert!((cold_open_target_seconds(100_000) - 0.050).abs() < 1e-9);
        assert!((cold_open_target_seconds(1_000_000) - 0.050).abs() < 1e-9);
        assert!((cold_open_target_seconds(10_000_000) - 0.300).abs() < 1e-9);
        assert!((cold_open_target_seconds(10_000) - 0.050).abs() < 1e-9);
    }

    #[test]
    fn rounds_tile_the_range_on_aligned_starts() {
        for (n, align) in [
            (100_000, 1),
            (28, 4),
            (500, 100),
            (5, 1),
            (1, 1),
            (1_000, 1),
        ] {
            let r = rounds(n, align);
            assert!(r.len() <= ROUNDS, "{n}/{align}: {r:?}");
            let four = rounds_of(n, align, 4);
            assert!(four.len() <= 4, "{n}/{align}: {four:?}");
            assert_eq!(four.last().map(|x| x.end), Some(n));
            assert_eq!(r.first().map(|x| x.start), Some(0));
            assert_eq!(r.last().map(|x| x.end), Some(n));
            for w in r.windows(2) {
                assert_eq!(w[0].end, w[1].start);
                assert_eq!(w[1].start % align, 0, "{n}/{align}: {r:?}");
            }
        }
    }

    #[test]
    fn alternation_swaps_the_order_every_round() {
        let order = std::cell::RefCell::new(Vec::new());
        let (a, b) = alternate(
            &rounds(4, 1),
            |r| {
                order.borrow_mut().push(('a', r.start));
                Ok(1.0)
            },
            |r| {
                order.borrow_mut().push(('b', r.start));
                Ok(2.0)
            },
        )
        .unwrap_or((0.0, 0.0));
        assert_eq!((a, b), (4.0, 8.0));
        let got = order.into_inner();
        assert_eq!(&got[..4], &[('a', 0), ('b', 0), ('b', 1), ('a', 1)]);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
