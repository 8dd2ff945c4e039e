//! `batpak bench --scale`: batpak and SQLite on data sets of millions of
//! events, built once under `--dir` and reused by later runs (building 10M
//! events takes minutes; measuring them takes seconds).
//!
//! For each size, both systems hold the same events (the store workloads'
//! payloads, 1,000 entities round robin). Measured:
//!
//! - **open**: a fresh process opens the data set and counts its events
//!   (batpak: `Store::open` + `len`; SQLite: open + `count(*)`), three times
//!   (median), and reports its resident memory before and after the open
//!   (`VmRSS`), so nothing the benchmark itself allocated is counted;
//! - **point reads**: [`POINT_READS`] reads by id, drawn at random;
//! - **one entity**: every event of one entity, payloads decoded (at 10M
//!   events, 10,000 of them).
//!
//! The child process is this binary again, with the hidden `scale-probe`
//! command ([`probe`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use batpak::{Region, Store, StoreConfig, SyncMode};
use serde::{Deserialize, Serialize};

use super::ours::Ours;
use super::sqlite::{self, Sql};
use super::workload::{Fixture, Rng, READ_SEED};
use super::{median, Tick};
use crate::datadir::dir_bytes;
use crate::error::CliError;
use crate::progress::Progress;

/// Reads by id per size.
pub const POINT_READS: usize = 20_000;

/// Events built per window (payloads are made a window at a time).
const WINDOW: usize = 1_000_000;

/// Opens per system and size (the median is reported).
const OPENS: usize = 3;

/// What the scale benchmark runs.
#[derive(Clone, Debug)]
pub struct ScaleConfig {
    /// Data set sizes, in events.
    pub sizes: Vec<u64>,
    /// Where the data sets are kept between runs.
    pub dir: PathBuf,
}

/// One system at one size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleRow {
    /// Events in the data set.
    pub events: u64,
    /// `batpak` or `sqlite`.
    pub system: &'static str,
    /// Median seconds to open and count, in a fresh process.
    pub open_seconds: f64,
    /// Resident memory of that process after the open, in bytes.
    pub rss_after_open: u64,
    /// Its resident memory before the open (the program itself), in bytes.
    pub rss_before_open: u64,
    /// Reads by id per second.
    pub point_reads_per_sec: f64,
    /// Events of one entity read (payloads decoded) per second.
    pub entity_events_per_sec: f64,
    /// Events that entity has.
    pub entity_events: u64,
    /// Bytes of the data set on disk.
    pub disk_bytes: u64,
}

/// The whole outcome: what `--json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleBench {
    /// batpak then SQLite, for each size in order.
    pub rows: Vec<ScaleRow>,
    /// Sizes whose data sets this run built (the others were reused).
    pub built: Vec<u64>,
}

/// What a probe process prints: one JSON line.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProbeOutcome {
    /// Seconds to open and count.
    pub seconds: f64,
    /// Events counted.
    pub events: u64,
    /// `VmRSS` before the open, in bytes.
    pub rss_before: u64,
    /// `VmRSS` after it, with the store still open, in bytes.
    pub rss_after: u64,
}

/// Runs the scale benchmark.
pub fn run(cfg: &ScaleConfig, progress: &dyn Progress) -> Result<ScaleBench, CliError> {
    let mut out = ScaleBench {
        rows: Vec::new(),
        built: Vec::new(),
    };
    for &n in &cfg.sizes {
        let here = cfg.dir.join(format!("scale-{n}"));
        if !here.join(COMPLETE).exists() {
            build(&here, n, progress)?;
            out.built.push(n);
        }
        let ours_dir = here.join("batpak");
        let sql_dir = here.join("sqlite");
        let (ours_open, sql_open) = (
            probe_median("batpak", &ours_dir, n)?,
            probe_median("sqlite", &sql_dir, n)?,
        );
        let fx = Fixture::window(0..0)?;
        let tick = Tick::begin(
            progress,
            &format!("scale {n}: reads"),
            2 * POINT_READS as u64,
        );
        let ours = Ours::open(&ours_dir, SyncMode::OsBuffered)?;
        let ids = sample_ids(&ours_dir, n)?;
        let ours_reads = ours.point_reads(&ids.0, &mut Rng::new(READ_SEED), POINT_READS, &tick)?;
        let (ours_entity, ours_entity_s) = ours.entity_reads(&fx, 0..1, &tick)?;
        ours.close()?;
        let sql = Sql::open(&sql_dir, sqlite::Sync::Normal, 1)?;
        let sql_reads = sql.point_reads(&ids.1, &mut Rng::new(READ_SEED), POINT_READS, &tick)?;
        let (sql_entity, sql_entity_s) = sql.entity_reads(&fx, 0..1, &tick)?;
        sql.close()?;
        tick.end();
        out.rows.push(ScaleRow {
            events: n,
            system: "batpak",
            open_seconds: ours_open.seconds,
            rss_after_open: ours_open.rss_after,
            rss_before_open: ours_open.rss_before,
            point_reads_per_sec: POINT_READS as f64 / ours_reads.max(1e-9),
            entity_events_per_sec: ours_entity as f64 / ours_entity_s.max(1e-9),
            entity_events: ours_entity,
            disk_bytes: dir_bytes(&ours_dir)?,
        });
        out.rows.push(ScaleRow {
            events: n,
            system: "sqlite",
            open_seconds: sql_open.seconds,
            rss_after_open: sql_open.rss_after,
            rss_before_open: sql_open.rss_before,
            point_reads_per_sec: POINT_READS as f64 / sql_reads.max(1e-9),
            entity_events_per_sec: sql_entity as f64 / sql_entity_s.max(1e-9),
            entity_events: sql_entity,
            disk_bytes: dir_bytes(&sql_dir)?,
        });
    }
    Ok(out)
}

/// Written in a size's directory once both data sets are whole.
const COMPLETE: &str = "COMPLETE";

/// Builds both data sets of `n` events in `here` (emptied first).
fn build(here: &Path, n: u64, progress: &dyn Progress) -> Result<(), CliError> {
    let io = |e| CliError::io("build a scale data set", here, e);
    if here.exists() {
        std::fs::remove_dir_all(here).map_err(io)?;
    }
    std::fs::create_dir_all(here.join("sqlite")).map_err(io)?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let tick = Tick::begin(progress, &format!("scale {n}: build"), 2 * n as u64);
    let ours = Ours::open(&here.join("batpak"), SyncMode::OsBuffered)?;
    let mut sql = Sql::open(&here.join("sqlite"), sqlite::Sync::Normal, 1)?;
    let mut start = 0;
    while start < n {
        let end = (start + WINDOW).min(n);
        let fx = Fixture::window(start..end)?;
        ours.append_batches(&fx, start..end, &tick)?;
        sql.append_batches(&fx, start..end, &tick)?;
        start = end;
    }
    ours.close()?;
    sql.close()?;
    tick.end();
    std::fs::write(here.join(COMPLETE), n.to_string()).map_err(io)
}

/// Ids of [`POINT_READS`] events spread over the data set, the same events
/// in both systems (by global sequence), found before any clock starts.
fn sample_ids(ours_dir: &Path, n: u64) -> Result<(Vec<batpak::EventId>, Vec<[u8; 16]>), CliError> {
    let store = Store::open_read_only(StoreConfig::new(ours_dir))?;
    let reader = store.reader();
    let mut rng = Rng::new(READ_SEED ^ 1);
    let mut ours = Vec::with_capacity(POINT_READS);
    for _ in 0..POINT_READS {
        let gs = rng.below(usize::try_from(n).unwrap_or(usize::MAX)) as u64;
        let after = gs.checked_sub(1);
        if let Some(e) = reader.query_entries_after(&Region::all(), after, 1).first() {
            ours.push(e.event_id());
        }
    }
    drop(store);
    let sql = sqlite::ids_by_sequence(
        &ours_dir.with_file_name("sqlite"),
        &mut Rng::new(READ_SEED ^ 1),
        n,
        POINT_READS,
    )?;
    Ok((ours, sql))
}

/// The median of [`OPENS`] probes of `system` on `dir`.
fn probe_median(system: &str, dir: &Path, events: u64) -> Result<ProbeOutcome, CliError> {
    let mut runs = Vec::with_capacity(OPENS);
    for _ in 0..OPENS {
        runs.push(spawn_probe(system, dir, events)?);
    }
    let mut seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
    let mid = median(&mut seconds);
    let mut best = runs
        .into_iter()
        .min_by(|a, b| (a.seconds - mid).abs().total_cmp(&(b.seconds - mid).abs()))
        .ok_or_else(|| CliError::BenchCheck {
            what: "no open probe ran".into(),
        })?;
    best.seconds = mid;
    Ok(best)
}

/// Runs one probe in a fresh process (this binary, `scale-probe`).
fn spawn_probe(system: &str, dir: &Path, events: u64) -> Result<ProbeOutcome, CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::io("find the current executable", "batpak", e))?;
    let output = Command::new(&exe)
        .arg("scale-probe")
        .arg(system)
        .arg(dir)
        .arg(events.to_string())
        .output()
        .map_err(|e| CliError::io("run the open probe", &exe, e))?;
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).map_err(|e| CliError::BenchCheck {
        what: format!(
            "the {system} open probe printed {text:?} ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}

/// The probe: opens `dir` as `system` (`batpak` or `sqlite`), counts, and
/// says how long that took and how much memory the process holds.
pub fn probe(system: &str, dir: &Path, events: u64) -> Result<ProbeOutcome, CliError> {
    let rss_before = resident_bytes();
    let started = Instant::now();
    let (count, keep): (u64, Box<dyn std::any::Any>) = match system {
        "batpak" => {
            let store = Store::open(StoreConfig::new(dir))?;
            (store.len(), Box::new(store))
        }
        "sqlite" => {
            let (count, conn) = sqlite::open_and_count(dir)?;
            (count, Box::new(conn))
        }
        other => {
            return Err(CliError::BenchCheck {
                what: format!("no system {other:?}"),
            })
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let rss_after = resident_bytes();
    drop(keep);
    if count != events {
        return Err(CliError::BenchCheck {
            what: format!("{system} counted {count} events, expected {events}"),
        });
    }
    Ok(ProbeOutcome {
        seconds,
        events: count,
        rss_before,
        rss_after,
    })
}

/// This process's resident memory (`VmRSS`), in bytes; 0 where unknown.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The table, as text.
pub fn render_human(b: &ScaleBench) -> String {
    let mut t = crate::table::Table::new(&[
        ("events", crate::table::Align::Right),
        ("system", crate::table::Align::Left),
        ("open + count", crate::table::Align::Right),
        ("memory after open", crate::table::Align::Right),
        ("point reads", crate::table::Align::Right),
        ("one entity", crate::table::Align::Right),
        ("disk", crate::table::Align::Right),
    ]);
    for r in &b.rows {
        t.row(vec![
            crate::table::human_number(r.events as f64, 0),
            r.system.to_string(),
            format!("{:.1} ms", r.open_seconds * 1e3),
            format!(
                "{:.1} MiB (+{:.1})",
                r.rss_after_open as f64 / (1 << 20) as f64,
                r.rss_after_open.saturating_sub(r.rss_before_open) as f64 / (1 << 20) as f64
            ),
            format!(
                "{} /s",
                crate::table::human_number(r.point_reads_per_sec, 0)
            ),
            format!(
                "{} ev/s ({} events)",
                crate::table::human_number(r.entity_events_per_sec, 0),
                r.entity_events
            ),
            format!("{:.1} B/ev", r.disk_bytes as f64 / r.events.max(1) as f64),
        ]);
    }
    let mut out = t.render();
    if !b.built.is_empty() {
        out.push_str(&format!("built this run: {:?}\n", b.built));
    }
    out.push_str("memory: the open process's resident set (+ what the open added); point reads: by id, payload not decoded; one entity: every event of account:0000, payload decoded\n");
    out
}
