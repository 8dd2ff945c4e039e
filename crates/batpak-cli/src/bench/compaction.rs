//! The `compaction` section: how fast `Store::compact` rewrites a store of
//! `--events` events written in 4 MiB segments (a merge into 64 MiB
//! segments, then a tombstone pass over them), and what a compaction
//! running beside durable appends does to their rate.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use batpak::{
    AppendOptions, BatchAppendItem, CausationRef, CompactionConfig, CompactionReport,
    CompactionStrategy, Store, StoreConfig, SyncMode,
};
use serde::Serialize;

use super::temp_dir;
use super::workload::{Fixture, BATCH, ENTITIES, KIND};
use crate::error::CliError;
use crate::progress::Progress;
use crate::table::{human_bytes, human_number, Align, Table};

/// Segment size the store is written with.
pub const SOURCE_SEGMENT_BYTES: u64 = 4 << 20;
/// Largest segment the merge writes.
pub const TARGET_SEGMENT_BYTES: u64 = 64 << 20;
/// How long durable appends run alone before the compaction that runs beside them.
const ALONE: Duration = Duration::from_secs(2);

/// One compaction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompactionRow {
    /// `merge` or `tombstone`.
    pub strategy: &'static str,
    /// Segments replaced.
    pub source_segments: usize,
    /// Segments written.
    pub output_segments: usize,
    /// Events in the rewritten segments.
    pub events: u64,
    /// Events turned into tombstones.
    pub tombstoned: u64,
    /// Bytes of the replaced segments.
    pub bytes_before: u64,
    /// Bytes of the written segments.
    pub bytes_after: u64,
    /// Seconds the compaction took.
    pub seconds: f64,
    /// Source megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// Events per second.
    pub events_per_sec: f64,
}

/// The whole section.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompactionBench {
    /// Events in the store.
    pub events: u64,
    /// The merge, then the tombstone pass (every tenth event).
    pub rows: Vec<CompactionRow>,
    /// Durable single appends per second from one thread, no compaction running.
    pub appends_alone_per_sec: f64,
    /// The same while a tombstone pass rewrites the whole store.
    pub appends_during_per_sec: f64,
    /// `appends_during_per_sec / appends_alone_per_sec`.
    pub appends_ratio: f64,
}

fn row(strategy: &'static str, r: &CompactionReport) -> CompactionRow {
    let seconds = r.duration.as_secs_f64().max(1e-9);
    let events = r.events_kept + r.events_tombstoned;
    CompactionRow {
        strategy,
        source_segments: r.source_segments.len(),
        output_segments: r.output_segments.len(),
        events,
        tombstoned: r.events_tombstoned,
        bytes_before: r.bytes_before,
        bytes_after: r.bytes_after,
        seconds,
        mb_per_sec: r.bytes_before as f64 / 1e6 / seconds,
        events_per_sec: events as f64 / seconds,
    }
}

/// Runs the section with `n` events under `parent`.
pub(crate) fn run(
    fx: &Fixture,
    n: usize,
    parent: &Path,
    progress: &dyn Progress,
) -> Result<CompactionBench, CliError> {
    let dir = temp_dir(parent, "compaction")?;
    let build = StoreConfig::new(dir.path())
        .with_segment_max_bytes(SOURCE_SEGMENT_BYTES)
        .with_sync_mode(SyncMode::OsBuffered);
    let store = Store::open(build)?;
    progress.begin("compaction: writing", Some(n as u64));
    for start in (0..n).step_by(BATCH) {
        let items = (start..(start + BATCH).min(n))
            .map(|i| {
                BatchAppendItem::new(
                    fx.coordinates[i % ENTITIES].clone(),
                    KIND,
                    fx.payload(i),
                    AppendOptions::default(),
                    CausationRef::None,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        store.append_batch(items)?;
        progress.set(start as u64);
    }
    progress.end();
    store.close()?;
    let store = Arc::new(Store::open(
        StoreConfig::new(dir.path()).with_segment_max_bytes(SOURCE_SEGMENT_BYTES),
    )?);

    let with_bar = |label: &str, config: CompactionConfig| {
        let mut started = false;
        let r = store.compact_with_progress(&config, |done, total| {
            if !started {
                progress.begin(label, Some(total));
                started = true;
            }
            progress.set(done);
        });
        progress.end();
        r
    };
    let merge = with_bar(
        "compaction: merge",
        CompactionConfig::new(CompactionStrategy::Merge)
            .with_target_segment_bytes(TARGET_SEGMENT_BYTES),
    )?;
    let tenth =
        |ev: &batpak::StoredEvent<serde_json::Value>| ev.event.header.global_sequence % 10 != 0;
    let tombstone = with_bar(
        "compaction: tombstone",
        CompactionConfig::new(CompactionStrategy::Tombstone(Box::new(tenth))),
    )?;

    // Durable appends alone, then beside a compaction that rewrites every
    // sealed segment again (a second tombstone pass, other events).
    let appender = |stop: Arc<AtomicBool>, store: Arc<Store>| -> Result<(u64, f64), CliError> {
        let started = Instant::now();
        let mut done = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let i = done as usize % fx.len();
            store.append(&fx.coordinates[i % ENTITIES], KIND, fx.payload(i))?;
            done += 1;
        }
        Ok((done, started.elapsed().as_secs_f64()))
    };
    progress.begin("compaction: appends alone", None);
    let stop = Arc::new(AtomicBool::new(false));
    let alone = std::thread::scope(|s| {
        let h = s.spawn(|| appender(stop.clone(), store.clone()));
        std::thread::sleep(ALONE);
        stop.store(true, Ordering::Relaxed);
        h.join()
    })
    .map_err(|_| CliError::BenchCheck {
        what: "the append thread panicked".into(),
    })??;
    progress.end();
    progress.begin("compaction: appends beside a compaction", None);
    let stop = Arc::new(AtomicBool::new(false));
    let eleventh =
        |ev: &batpak::StoredEvent<serde_json::Value>| ev.event.header.global_sequence % 10 != 1;
    let (during, beside) = std::thread::scope(|s| {
        let h = s.spawn(|| appender(stop.clone(), store.clone()));
        let r = store.compact(&CompactionConfig::new(CompactionStrategy::Tombstone(
            Box::new(eleventh),
        )));
        stop.store(true, Ordering::Relaxed);
        (h.join(), r)
    });
    progress.end();
    let during = during.map_err(|_| CliError::BenchCheck {
        what: "the append thread panicked".into(),
    })??;
    beside?;
    let per_sec = |(done, secs): (u64, f64)| done as f64 / secs.max(1e-9);
    let (a, d) = (per_sec(alone), per_sec(during));
    Ok(CompactionBench {
        events: n as u64,
        rows: vec![row("merge", &merge), row("tombstone", &tombstone)],
        appends_alone_per_sec: a,
        appends_during_per_sec: d,
        appends_ratio: d / a.max(1e-9),
    })
}

/// The section's table.
pub(crate) fn render(b: Option<&CompactionBench>, out: &mut String) {
    let Some(b) = b else {
        return;
    };
    out.push_str(&format!(
        "\ncompaction: {} events written in {} segments; merge into up to {}, then a tombstone pass (every tenth payload)\n",
        human_number(b.events as f64, 0),
        human_bytes(SOURCE_SEGMENT_BYTES),
        human_bytes(TARGET_SEGMENT_BYTES)
    ));
    let mut t = Table::new(&[
        ("strategy", Align::Left),
        ("segments", Align::Right),
        ("bytes", Align::Right),
        ("seconds", Align::Right),
        ("MB/s", Align::Right),
        ("events/s", Align::Right),
    ]);
    for r in &b.rows {
        t.row(vec![
            r.strategy.to_owned(),
            format!("{} -> {}", r.source_segments, r.output_segments),
            format!(
                "{} -> {}",
                human_bytes(r.bytes_before),
                human_bytes(r.bytes_after)
            ),
            format!("{:.2}", r.seconds),
            human_number(r.mb_per_sec, 0),
            human_number(r.events_per_sec, 0),
        ]);
    }
    out.push_str(&t.render());
    out.push_str(&format!(
        "durable appends, one thread: {}/s alone, {}/s beside a compaction ({:.2}x)\n",
        human_number(b.appends_alone_per_sec, 0),
        human_number(b.appends_during_per_sec, 0),
        b.appends_ratio
    ));
}
