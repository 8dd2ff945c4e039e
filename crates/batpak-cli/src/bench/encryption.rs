//! `batpak bench --encryption`: W1, W3 and W5 on batpak with payload
//! encryption off and on, in one run, alternating rounds like the main
//! benchmark; the figure that matters is the ratio on ÷ off.

use std::path::Path;

use batpak::{KeyScopeGranularity, Store, StoreConfig, SyncMode};
use serde::Serialize;

use super::ours::Ours;
use super::workload::{Fixture, Rng, BATCH, READ_SEED};
use super::{alternate, check_parent, machine, rounds, temp_dir, BenchConfig, Measured, Tick};
use crate::error::CliError;
use crate::progress::Progress;
use crate::table::{human_number, Align, Table};

/// One workload with encryption off and on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EncryptionResult {
    /// `W1`, `W3` or `W5`.
    pub workload: &'static str,
    /// Events measured per setting.
    pub ops: u64,
    /// Events per second with encryption off (the feature compiled in).
    pub off_per_sec: f64,
    /// Events per second with payload encryption on (`PerEntity`).
    pub on_per_sec: f64,
    /// `on_per_sec / off_per_sec`.
    pub ratio: f64,
}

/// What `batpak bench --encryption --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EncryptionReport {
    /// The machine and its fsync rate.
    pub machine: machine::Machine,
    /// Events of W1 and W5.
    pub events: u64,
    /// Events of W3 (whole batches of 100).
    pub batch_events: u64,
    /// Encoded payload size in bytes (before sealing).
    pub payload_bytes: usize,
    /// One row per workload.
    pub results: Vec<EncryptionResult>,
    /// How to read the figures.
    pub notes: Vec<String>,
}

fn config(dir: &Path, mode: SyncMode, on: bool) -> StoreConfig {
    let cfg = StoreConfig::new(dir).with_sync_mode(mode);
    if on {
        cfg.with_payload_encryption(KeyScopeGranularity::PerEntity)
    } else {
        cfg
    }
}

fn open(dir: &Path, mode: SyncMode, on: bool) -> Result<Ours, CliError> {
    Ok(Ours::from_store(Store::open(config(dir, mode, on))?))
}

fn result(workload: &'static str, ops: u64, off: f64, on: f64) -> EncryptionResult {
    let (off, on) = (Measured::new(ops, off), Measured::new(ops, on));
    EncryptionResult {
        workload,
        ops,
        off_per_sec: off.per_sec(),
        on_per_sec: on.per_sec(),
        ratio: on.per_sec() / off.per_sec(),
    }
}

/// Runs W1, W3 and W5 with encryption off and on.
pub fn run(cfg: &BenchConfig, progress: &dyn Progress) -> Result<EncryptionReport, CliError> {
    let parent = cfg.dir.clone().unwrap_or_else(std::env::temp_dir);
    check_parent(&parent)?;
    let n = usize::try_from(cfg.events).map_err(|_| CliError::BenchCheck {
        what: "too many events for this platform".into(),
    })?;
    let batched = cfg.batch_events() as usize;
    let fx = Fixture::new(n.max(batched))?;
    let probe = temp_dir(&parent, "fsync")?;
    let fsync_per_sec = machine::fsync_rate(
        probe.path(),
        machine::ProbeMode::Append,
        cfg.fsync_probe,
        progress,
    )?;
    drop(probe);

    let (off_dir, on_dir) = (temp_dir(&parent, "w1-off")?, temp_dir(&parent, "w1-on")?);
    let (mut off_ids, mut on_ids) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let w1 = {
        let off = open(off_dir.path(), SyncMode::OsBuffered, false)?;
        let on = open(on_dir.path(), SyncMode::OsBuffered, true)?;
        let tick = Tick::begin(
            progress,
            "W1 single appends, encryption off / on",
            2 * n as u64,
        );
        let (a, b) = alternate(
            &rounds(n, 1),
            |r| off.append_singles(&fx, r, &tick, Some(&mut off_ids)),
            |r| on.append_singles(&fx, r, &tick, Some(&mut on_ids)),
        )?;
        tick.end();
        off.close()?;
        on.close()?;
        result("W1", n as u64, a, b)
    };
    let w3 = {
        let (d1, d2) = (temp_dir(&parent, "w3-off")?, temp_dir(&parent, "w3-on")?);
        let off = open(d1.path(), SyncMode::EveryGroup, false)?;
        let on = open(d2.path(), SyncMode::EveryGroup, true)?;
        let tick = Tick::begin(
            progress,
            "W3 durable batches, encryption off / on",
            2 * batched as u64,
        );
        let (a, b) = alternate(
            &rounds(batched, BATCH),
            |r| off.append_batches(&fx, r, &tick),
            |r| on.append_batches(&fx, r, &tick),
        )?;
        tick.end();
        off.close()?;
        on.close()?;
        result("W3", batched as u64, a, b)
    };
    let w5 = {
        let off = open(off_dir.path(), SyncMode::EveryGroup, false)?;
        let on = open(on_dir.path(), SyncMode::EveryGroup, true)?;
        let tick = Tick::begin(
            progress,
            "W5 point reads, encryption off / on",
            2 * n as u64,
        );
        let (mut ra, mut rb) = (Rng::new(READ_SEED), Rng::new(READ_SEED));
        let (a, b) = alternate(
            &rounds(n, 1),
            |r| off.point_reads(&off_ids, &mut ra, r.len(), &tick),
            |r| on.point_reads(&on_ids, &mut rb, r.len(), &tick),
        )?;
        tick.end();
        off.close()?;
        on.close()?;
        result("W5", n as u64, a, b)
    };
    Ok(EncryptionReport {
        machine: machine::describe(fsync_per_sec, fsync_per_sec, &parent),
        events: cfg.events,
        batch_events: batched as u64,
        payload_bytes: fx.payload_bytes()?,
        results: vec![w1, w3, w5],
        notes: vec![
            "on: StoreConfig::with_payload_encryption(PerEntity); every payload sealed (XChaCha20-Poly1305, random nonce) before hashing; W5 reads open it (read_raw).".into(),
            "off: the same build with encryption not configured: the write path checks one Option.".into(),
            "W1 and W3 mint one key per entity on first use, each flushed to the keyset file before its frames (the durability fence).".into(),
        ],
    })
}

/// The report as text.
pub fn render_human(r: &EncryptionReport) -> String {
    let mut out = format!(
        "batpak bench --encryption: {} events ({} in W3), {}-byte payload, off and on alternating in one run\n\n",
        human_number(r.events as f64, 0),
        human_number(r.batch_events as f64, 0),
        r.payload_bytes
    );
    let mut t = Table::new(&[
        ("workload", Align::Left),
        ("events", Align::Right),
        ("off /s", Align::Right),
        ("on /s", Align::Right),
        ("on / off", Align::Right),
    ]);
    for x in &r.results {
        t.row(vec![
            x.workload.to_owned(),
            human_number(x.ops as f64, 0),
            human_number(x.off_per_sec, 0),
            human_number(x.on_per_sec, 0),
            format!("{:.2}", x.ratio),
        ]);
    }
    out.push_str(&t.render());
    for n in &r.notes {
        out.push_str(&format!("\n- {n}"));
    }
    out.push('\n');
    out
}
