//! The workloads run against batpak.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use batpak::{AppendOptions, BatchAppendItem, CausationRef, EventId, Store, StoreConfig, SyncMode};

use super::workload::{Fixture, Rng, BATCH, ENTITIES, KIND, READ_SEED};
use super::{median, Measured, TICK};
use crate::error::CliError;
use crate::progress::Progress;

fn open(dir: &Path, mode: SyncMode) -> Result<Store, CliError> {
    Ok(Store::open(StoreConfig::new(dir).with_sync_mode(mode))?)
}

/// W1: `n` single appends under `SyncMode::OsBuffered`; returns the ids written.
pub(crate) fn single_appends_buffered(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    progress: &dyn Progress,
) -> Result<(Measured, Vec<EventId>), CliError> {
    let store = open(dir, SyncMode::OsBuffered)?;
    let mut ids = Vec::with_capacity(n);
    progress.begin("W1 batpak: single appends (OS-buffered)", Some(n as u64));
    let started = Instant::now();
    for (i, payload) in fx.payloads[..n].iter().enumerate() {
        let r = store.append(&fx.coordinates[i % ENTITIES], KIND, payload)?;
        ids.push(r.event_id);
        if i % TICK == 0 {
            progress.set(i as u64);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    store.close()?;
    Ok((Measured::new(n as u64, seconds), ids))
}

/// W2: `n` single appends, each durable before it returns (the default sync mode).
pub(crate) fn single_appends_durable(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let store = open(dir, SyncMode::EveryGroup)?;
    progress.begin("W2 batpak: durable single appends", Some(n as u64));
    let started = Instant::now();
    for (i, payload) in fx.payloads[..n].iter().enumerate() {
        store.append(&fx.coordinates[i % ENTITIES], KIND, payload)?;
        if i % TICK == 0 {
            progress.set(i as u64);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    store.close()?;
    Ok(Measured::new(n as u64, seconds))
}

/// W2c: `n` durable single appends spread over `threads` threads sharing one store.
pub(crate) fn concurrent_appends_durable(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    threads: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let store = open(dir, SyncMode::EveryGroup)?;
    let done = AtomicU64::new(0);
    progress.begin("W2c batpak: durable appends, concurrent", Some(n as u64));
    let started = Instant::now();
    let outcome: Result<(), CliError> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (store, done) = (&store, &done);
                s.spawn(move || -> Result<(), CliError> {
                    for i in (t..n).step_by(threads) {
                        store.append(&fx.coordinates[i % ENTITIES], KIND, &fx.payloads[i])?;
                        let d = done.fetch_add(1, Ordering::Relaxed);
                        if d as usize % TICK == 0 {
                            progress.set(d);
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| CliError::WorkerPanicked { workload: "W2c" })??;
        }
        Ok(())
    });
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    outcome?;
    store.close()?;
    Ok(Measured::new(n as u64, seconds))
}

/// W3: `n` events in atomic batches of [`BATCH`], each batch durable.
pub(crate) fn batches_durable(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let store = open(dir, SyncMode::EveryGroup)?;
    progress.begin("W3 batpak: durable batches of 100", Some(n as u64));
    let started = Instant::now();
    for start in (0..n).step_by(BATCH) {
        let items = (start..(start + BATCH).min(n))
            .map(|i| {
                BatchAppendItem::new(
                    fx.coordinates[i % ENTITIES].clone(),
                    KIND,
                    &fx.payloads[i],
                    AppendOptions::default(),
                    CausationRef::None,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        store.append_batch(items)?;
        progress.set(start as u64);
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    store.close()?;
    Ok(Measured::new(n as u64, seconds))
}

/// W4: seconds to open the closed store in `dir` and count its events (median of `reps`).
pub(crate) fn cold_open(dir: &Path, expected: u64, reps: usize) -> Result<f64, CliError> {
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        let store = Store::open(StoreConfig::new(dir))?;
        let count = std::hint::black_box(store.len());
        times.push(started.elapsed().as_secs_f64());
        store.close()?;
        if count != expected {
            return Err(CliError::BenchCheck {
                what: format!("cold open counted {count} events, expected {expected}"),
            });
        }
    }
    Ok(median(&mut times))
}

/// W5: `n` reads by id in a seeded random order (payload bytes as stored, not decoded).
pub(crate) fn point_reads(
    dir: &Path,
    ids: &[EventId],
    n: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let store = Store::open(StoreConfig::new(dir))?;
    let mut rng = Rng::new(READ_SEED);
    let mut sink = 0u64;
    progress.begin("W5 batpak: random point reads", Some(n as u64));
    let started = Instant::now();
    for i in 0..n {
        let raw = store.read_raw(ids[rng.below(ids.len())])?;
        sink = sink.wrapping_add(raw.header().global_sequence + raw.payload().len() as u64);
        if i % TICK == 0 {
            progress.set(i as u64);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    std::hint::black_box(sink);
    store.close()?;
    Ok(Measured::new(n as u64, seconds))
}

/// W6: every event of every entity, payloads decoded into [`super::workload::BenchPayload`].
pub(crate) fn entity_reads(
    dir: &Path,
    fx: &Fixture,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let store = Store::open(StoreConfig::new(dir))?;
    let mut read = 0u64;
    let mut sink = 0u64;
    progress.begin("W6 batpak: read every entity, decoded", Some(store.len()));
    let started = Instant::now();
    for entity in &fx.entities {
        for entry in store.by_entity(entity) {
            let ev = store.get_as::<super::workload::BenchPayload>(entry.event_id())?;
            sink = sink.wrapping_add(ev.payload().seq);
            read += 1;
        }
        progress.set(read);
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    std::hint::black_box(sink);
    store.close()?;
    Ok(Measured::new(read, seconds))
}
