//! The workloads run against batpak. Each method runs one round (a slice of
//! the workload) and returns the seconds it took; the caller alternates
//! rounds with SQLite's.

use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use batpak::{AppendOptions, BatchAppendItem, CausationRef, EventId, Store, StoreConfig, SyncMode};

use super::workload::{BenchPayload, Fixture, Rng, BATCH, ENTITIES, KIND};
use super::Tick;
use crate::error::CliError;

/// An open batpak store under test.
pub(crate) struct Ours {
    store: Store,
}

impl Ours {
    /// Opens (creating) the store in `dir` with `mode`.
    pub(crate) fn open(dir: &Path, mode: SyncMode) -> Result<Self, CliError> {
        Ok(Self {
            store: Store::open(StoreConfig::new(dir).with_sync_mode(mode))?,
        })
    }

    /// A store opened by the caller (another configuration).
    #[cfg(feature = "payload-encryption")]
    pub(crate) fn from_store(store: Store) -> Self {
        Self { store }
    }

    /// Single appends of events `range`; their ids are pushed to `ids` if given.
    pub(crate) fn append_singles(
        &self,
        fx: &Fixture,
        range: Range<usize>,
        tick: &Tick<'_>,
        mut ids: Option<&mut Vec<EventId>>,
    ) -> Result<f64, CliError> {
        let started = Instant::now();
        for i in range {
            let r = self
                .store
                .append(&fx.coordinates[i % ENTITIES], KIND, fx.payload(i))?;
            if let Some(ids) = ids.as_deref_mut() {
                ids.push(r.event_id);
            }
            tick.step();
        }
        Ok(started.elapsed().as_secs_f64())
    }

    /// Single appends of events `range` from `threads` threads sharing the
    /// store; thread `t` appends the events `i` with `i % threads == t`.
    pub(crate) fn append_concurrent(
        &self,
        fx: &Fixture,
        range: Range<usize>,
        threads: usize,
        tick: &Tick<'_>,
    ) -> Result<f64, CliError> {
        let started = Instant::now();
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let range = range.clone();
                    s.spawn(move || -> Result<(), CliError> {
                        for i in range.filter(|i| i % threads == t) {
                            self.store.append(
                                &fx.coordinates[i % ENTITIES],
                                KIND,
                                fx.payload(i),
                            )?;
                            tick.step();
                        }
                        Ok(())
                    })
                })
                .collect();
            for w in workers {
                w.join()
                    .map_err(|_| CliError::WorkerPanicked { workload: "W2c" })??;
            }
            Ok::<(), CliError>(())
        })?;
        Ok(started.elapsed().as_secs_f64())
    }

    /// Atomic batches of [`BATCH`] events over `range` (which starts on a batch boundary).
    pub(crate) fn append_batches(
        &self,
        fx: &Fixture,
        range: Range<usize>,
        tick: &Tick<'_>,
    ) -> Result<f64, CliError> {
        let started = Instant::now();
        for start in range.clone().step_by(BATCH) {
            let items = (start..(start + BATCH).min(range.end))
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
            let n = items.len();
            self.store.append_batch(items)?;
            tick.add(n as u64);
        }
        Ok(started.elapsed().as_secs_f64())
    }

    /// `count` reads by id, drawn from `ids` by `rng` (payload bytes as stored, not decoded).
    pub(crate) fn point_reads(
        &self,
        ids: &[EventId],
        rng: &mut Rng,
        count: usize,
        tick: &Tick<'_>,
    ) -> Result<f64, CliError> {
        let mut sink = 0u64;
        let started = Instant::now();
        for _ in 0..count {
            let raw = self.store.read_raw(ids[rng.below(ids.len())])?;
            sink = sink.wrapping_add(raw.header().global_sequence + raw.payload().len() as u64);
            tick.step();
        }
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        Ok(seconds)
    }

    /// Every event of the entities `entities`, payloads decoded; returns (events, seconds).
    pub(crate) fn entity_reads(
        &self,
        fx: &Fixture,
        entities: Range<usize>,
        tick: &Tick<'_>,
    ) -> Result<(u64, f64), CliError> {
        let mut read = 0u64;
        let mut sink = 0u64;
        let started = Instant::now();
        for entity in &fx.entities[entities] {
            for entry in self.store.by_entity(entity) {
                let ev = self.store.get_as::<BenchPayload>(entry.event_id())?;
                sink = sink.wrapping_add(ev.payload().seq);
                read += 1;
                tick.step();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        Ok((read, seconds))
    }

    /// Syncs, seals and closes.
    pub(crate) fn close(self) -> Result<(), CliError> {
        Ok(self.store.close()?)
    }
}

/// W4: seconds to open the closed store in `dir` and count its events.
pub(crate) fn cold_open(dir: &Path, expected: u64) -> Result<f64, CliError> {
    let started = Instant::now();
    let store = Store::open(StoreConfig::new(dir))?;
    let count = std::hint::black_box(store.len());
    let seconds = started.elapsed().as_secs_f64();
    store.close()?;
    if count != expected {
        return Err(CliError::BenchCheck {
            what: format!("cold open counted {count} events, expected {expected}"),
        });
    }
    Ok(seconds)
}
