//! The same workloads run against SQLite (WAL mode), with the bench code
//! computing a blake3 chain per entity so both systems do the hashing work.
//!
//! Table: one row per event, keyed by the 16-byte UUIDv7 event id
//! (`WITHOUT ROWID`, so a read by id is one B-tree lookup), with a unique
//! index on `(entity, entity_seq)` for per-entity reads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Statement};

use super::workload::{
    decode, encode, now_ms, Fixture, Rng, BATCH, ENTITIES, KIND, READ_SEED, SCOPE,
};
use super::{median, Measured, TICK};
use crate::error::CliError;
use crate::progress::Progress;

/// Database file name inside a workload's directory.
pub(crate) const DB_FILE: &str = "events.sqlite";
/// Domain tag of the bench's SQLite chain (mirrors the store's `EVENT_HASH_DOMAIN`).
const DOMAIN: &[u8; 16] = b"sqlite-bench/v1\n";
/// How long a writer waits for the write lock before failing (W2c).
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    event_id   BLOB PRIMARY KEY,
    gseq       INTEGER NOT NULL,
    entity     TEXT NOT NULL,
    scope      TEXT NOT NULL,
    entity_seq INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    wall_ms    INTEGER NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    payload    BLOB NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_by_entity ON events(entity, entity_seq);
";

const INSERT: &str = "INSERT INTO events
    (event_id, gseq, entity, scope, entity_seq, kind, wall_ms, prev_hash, hash, payload)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// SQLite's `synchronous` setting for a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sync {
    /// `synchronous=NORMAL`: in WAL mode, commits are not fsynced (checkpoints are).
    Normal,
    /// `synchronous=FULL`: every commit fsyncs the WAL.
    Full,
}

pub(crate) fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

fn connect(dir: &Path, sync: Sync) -> Result<Connection, CliError> {
    let conn = Connection::open(db_path(dir)).map_err(CliError::sqlite("open"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(CliError::sqlite("set journal_mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(CliError::BenchCheck {
            what: format!("SQLite refused WAL mode (got {mode})"),
        });
    }
    let level = match sync {
        Sync::Normal => "NORMAL",
        Sync::Full => "FULL",
    };
    conn.execute_batch(&format!("PRAGMA synchronous={level};"))
        .map_err(CliError::sqlite("set synchronous"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(CliError::sqlite("set busy_timeout"))?;
    conn.execute_batch(SCHEMA)
        .map_err(CliError::sqlite("create schema"))?;
    Ok(conn)
}

/// Per-entity chain tips kept by the bench code: `(next entity_seq, last hash)`.
struct Chain {
    tips: Vec<(u64, [u8; 32])>,
}

impl Chain {
    fn new() -> Self {
        Self {
            tips: vec![(0, [0; 32]); ENTITIES],
        }
    }

    /// Hashes and inserts event `i` at global sequence `gseq`; returns its id.
    fn insert(
        &mut self,
        stmt: &mut Statement<'_>,
        fx: &Fixture,
        i: usize,
        gseq: u64,
    ) -> Result<[u8; 16], CliError> {
        let e = i % ENTITIES;
        let entity = fx.entities[e].as_str();
        let id = *uuid::Uuid::now_v7().as_bytes();
        let wall = now_ms();
        let payload = encode(&fx.payloads[i])?;
        let content = blake3::hash(&payload);
        let (eseq, prev) = self.tips[e];
        let mut h = blake3::Hasher::new();
        h.update(DOMAIN);
        h.update(&id);
        h.update(&gseq.to_le_bytes());
        h.update(&eseq.to_le_bytes());
        h.update(&KIND.as_u16().to_le_bytes());
        h.update(&wall.to_le_bytes());
        h.update(&(entity.len() as u32).to_le_bytes());
        h.update(entity.as_bytes());
        h.update(&(SCOPE.len() as u32).to_le_bytes());
        h.update(SCOPE.as_bytes());
        h.update(&prev);
        h.update(content.as_bytes());
        let hash = *h.finalize().as_bytes();
        stmt.execute(params![
            &id[..],
            gseq as i64,
            entity,
            SCOPE,
            eseq as i64,
            i64::from(KIND.as_u16()),
            wall as i64,
            &prev[..],
            &hash[..],
            payload
        ])
        .map_err(CliError::sqlite("insert"))?;
        self.tips[e] = (eseq + 1, hash);
        Ok(id)
    }
}

fn close(conn: Connection) -> Result<(), CliError> {
    conn.close().map_err(|(_, e)| CliError::Sqlite {
        op: "close",
        source: e,
    })
}

/// W1: `n` autocommit inserts under `synchronous=NORMAL`; returns the ids written.
pub(crate) fn single_appends_buffered(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    progress: &dyn Progress,
) -> Result<(Measured, Vec<[u8; 16]>), CliError> {
    let conn = connect(dir, Sync::Normal)?;
    let mut ids = Vec::with_capacity(n);
    let measured = {
        let mut stmt = conn
            .prepare(INSERT)
            .map_err(CliError::sqlite("prepare insert"))?;
        let mut chain = Chain::new();
        progress.begin(
            "W1 sqlite: autocommit inserts (synchronous=NORMAL)",
            Some(n as u64),
        );
        let started = Instant::now();
        for i in 0..n {
            ids.push(chain.insert(&mut stmt, fx, i, i as u64)?);
            if i % TICK == 0 {
                progress.set(i as u64);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        progress.end();
        Measured::new(n as u64, seconds)
    };
    close(conn)?;
    Ok((measured, ids))
}

/// W2: `n` autocommit inserts under `synchronous=FULL`.
pub(crate) fn single_appends_durable(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let conn = connect(dir, Sync::Full)?;
    let measured = {
        let mut stmt = conn
            .prepare(INSERT)
            .map_err(CliError::sqlite("prepare insert"))?;
        let mut chain = Chain::new();
        progress.begin(
            "W2 sqlite: autocommit inserts (synchronous=FULL)",
            Some(n as u64),
        );
        let started = Instant::now();
        for i in 0..n {
            chain.insert(&mut stmt, fx, i, i as u64)?;
            if i % TICK == 0 {
                progress.set(i as u64);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        progress.end();
        Measured::new(n as u64, seconds)
    };
    close(conn)?;
    Ok(measured)
}

/// W2c: `n` autocommit inserts under `synchronous=FULL` from `threads`
/// connections. Thread `t` writes events `t, t + threads, …`, so with
/// `ENTITIES % threads == 0` each entity's chain belongs to one thread.
pub(crate) fn concurrent_appends_durable(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    threads: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    // Create the database and schema before the clock starts.
    close(connect(dir, Sync::Full)?)?;
    let gseq = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    progress.begin(
        "W2c sqlite: autocommit inserts, concurrent connections",
        Some(n as u64),
    );
    let started = Instant::now();
    let outcome: Result<(), CliError> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (gseq, done) = (&gseq, &done);
                s.spawn(move || -> Result<(), CliError> {
                    let conn = connect(dir, Sync::Full)?;
                    {
                        let mut stmt = conn
                            .prepare(INSERT)
                            .map_err(CliError::sqlite("prepare insert"))?;
                        let mut chain = Chain::new();
                        for i in (t..n).step_by(threads) {
                            chain.insert(&mut stmt, fx, i, gseq.fetch_add(1, Ordering::Relaxed))?;
                            let d = done.fetch_add(1, Ordering::Relaxed);
                            if d as usize % TICK == 0 {
                                progress.set(d);
                            }
                        }
                    }
                    close(conn)
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
    Ok(Measured::new(n as u64, seconds))
}

/// W3: `n` inserts in transactions of [`BATCH`] under `synchronous=FULL`.
pub(crate) fn batches_durable(
    dir: &Path,
    fx: &Fixture,
    n: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let mut conn = connect(dir, Sync::Full)?;
    let mut chain = Chain::new();
    progress.begin(
        "W3 sqlite: transactions of 100 (synchronous=FULL)",
        Some(n as u64),
    );
    let started = Instant::now();
    for start in (0..n).step_by(BATCH) {
        let tx = conn.transaction().map_err(CliError::sqlite("begin"))?;
        {
            let mut stmt = tx
                .prepare_cached(INSERT)
                .map_err(CliError::sqlite("prepare insert"))?;
            for i in start..(start + BATCH).min(n) {
                chain.insert(&mut stmt, fx, i, i as u64)?;
            }
        }
        tx.commit().map_err(CliError::sqlite("commit"))?;
        progress.set(start as u64);
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    close(conn)?;
    Ok(Measured::new(n as u64, seconds))
}

/// W4: seconds to open the database in `dir` and count its rows (median of `reps`).
pub(crate) fn cold_open(dir: &Path, expected: u64, reps: usize) -> Result<f64, CliError> {
    let path = db_path(dir);
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        let conn = Connection::open(&path).map_err(CliError::sqlite("open"))?;
        let count: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(CliError::sqlite("count"))?;
        times.push(started.elapsed().as_secs_f64());
        close(conn)?;
        if count as u64 != expected {
            return Err(CliError::BenchCheck {
                what: format!("SQLite counted {count} rows, expected {expected}"),
            });
        }
    }
    Ok(median(&mut times))
}

/// A row as a point read returns it (payload bytes as stored, not decoded).
struct Row {
    gseq: i64,
    payload: Vec<u8>,
    _fields: (String, String, i64, i64, i64, Vec<u8>, Vec<u8>),
}

/// W5: `n` reads by primary key in a seeded random order.
pub(crate) fn point_reads(
    dir: &Path,
    ids: &[[u8; 16]],
    n: usize,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let conn = connect(dir, Sync::Normal)?;
    let measured = {
        let mut stmt = conn
            .prepare(
                "SELECT gseq, entity, scope, entity_seq, kind, wall_ms, prev_hash, hash, payload
                 FROM events WHERE event_id = ?1",
            )
            .map_err(CliError::sqlite("prepare select"))?;
        let mut rng = Rng::new(READ_SEED);
        let mut sink = 0u64;
        progress.begin("W5 sqlite: random point reads", Some(n as u64));
        let started = Instant::now();
        for i in 0..n {
            let id = &ids[rng.below(ids.len())];
            let row = stmt
                .query_row([&id[..]], |r| {
                    Ok(Row {
                        gseq: r.get(0)?,
                        _fields: (
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                        ),
                        payload: r.get(8)?,
                    })
                })
                .map_err(CliError::sqlite("point read"))?;
            sink = sink.wrapping_add(row.gseq as u64 + row.payload.len() as u64);
            std::hint::black_box(&row);
            if i % TICK == 0 {
                progress.set(i as u64);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        progress.end();
        std::hint::black_box(sink);
        Measured::new(n as u64, seconds)
    };
    close(conn)?;
    Ok(measured)
}

/// W6: every event of every entity by `WHERE entity = ?`, payloads decoded.
pub(crate) fn entity_reads(
    dir: &Path,
    fx: &Fixture,
    progress: &dyn Progress,
) -> Result<Measured, CliError> {
    let conn = connect(dir, Sync::Normal)?;
    let measured = {
        let mut stmt = conn
            .prepare(
                "SELECT entity_seq, event_id, gseq, kind, wall_ms, prev_hash, hash, payload
                 FROM events WHERE entity = ?1 ORDER BY entity_seq",
            )
            .map_err(CliError::sqlite("prepare select"))?;
        let mut read = 0u64;
        let mut sink = 0u64;
        progress.begin(
            "W6 sqlite: read every entity, decoded",
            Some(fx.payloads.len() as u64),
        );
        let started = Instant::now();
        for entity in &fx.entities {
            let mut rows = stmt
                .query([entity])
                .map_err(CliError::sqlite("entity read"))?;
            while let Some(r) = rows.next().map_err(CliError::sqlite("entity read"))? {
                let fields: (i64, Vec<u8>, i64, i64, i64, Vec<u8>, Vec<u8>) = (
                    r.get(0).map_err(CliError::sqlite("entity read"))?,
                    r.get(1).map_err(CliError::sqlite("entity read"))?,
                    r.get(2).map_err(CliError::sqlite("entity read"))?,
                    r.get(3).map_err(CliError::sqlite("entity read"))?,
                    r.get(4).map_err(CliError::sqlite("entity read"))?,
                    r.get(5).map_err(CliError::sqlite("entity read"))?,
                    r.get(6).map_err(CliError::sqlite("entity read"))?,
                );
                let payload = r
                    .get_ref(7)
                    .and_then(|v| v.as_blob().map_err(Into::into))
                    .map_err(CliError::sqlite("entity read"))?;
                let p = decode(payload)?;
                sink = sink.wrapping_add(p.seq);
                std::hint::black_box(&fields);
                read += 1;
            }
            progress.set(read);
        }
        let seconds = started.elapsed().as_secs_f64();
        progress.end();
        std::hint::black_box(sink);
        Measured::new(read, seconds)
    };
    close(conn)?;
    Ok(measured)
}
