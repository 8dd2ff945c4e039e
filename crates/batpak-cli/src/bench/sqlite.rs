//! The same workloads run against SQLite (WAL mode), with the bench code
//! computing a blake3 chain per entity so both systems do the hashing work.
//!
//! Table: one row per event, keyed by the 16-byte UUIDv7 event id
//! (`WITHOUT ROWID`, so a read by id is one B-tree lookup), with a unique
//! index on `(entity, entity_seq)` for per-entity reads.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Statement};

use super::workload::{decode, encode, now_ms, Fixture, Rng, BATCH, ENTITIES, KIND, SCOPE};
use super::Tick;
use crate::error::CliError;

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
        let payload = encode(fx.payload(i))?;
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

const POINT_READ: &str =
    "SELECT gseq, entity, scope, entity_seq, kind, wall_ms, prev_hash, hash, payload
     FROM events WHERE event_id = ?1";
const ENTITY_READ: &str =
    "SELECT entity_seq, event_id, gseq, kind, wall_ms, prev_hash, hash, payload
     FROM events WHERE entity = ?1 ORDER BY entity_seq";

/// An open SQLite database under test: one connection per writer thread,
/// each with the chain tips of the entities it writes.
pub(crate) struct Sql {
    conns: Vec<Connection>,
    chains: Vec<Chain>,
}

impl Sql {
    /// Opens (creating) the database in `dir` with `connections` connections.
    pub(crate) fn open(dir: &Path, sync: Sync, connections: usize) -> Result<Self, CliError> {
        let conns = (0..connections.max(1))
            .map(|_| connect(dir, sync))
            .collect::<Result<Vec<_>, _>>()?;
        let chains = conns.iter().map(|_| Chain::new()).collect();
        Ok(Self { conns, chains })
    }

    /// Autocommit inserts of events `range` on the first connection; ids pushed to `ids` if given.
    pub(crate) fn append_singles(
        &mut self,
        fx: &Fixture,
        range: Range<usize>,
        tick: &Tick<'_>,
        mut ids: Option<&mut Vec<[u8; 16]>>,
    ) -> Result<f64, CliError> {
        let mut stmt = self.conns[0]
            .prepare_cached(INSERT)
            .map_err(CliError::sqlite("prepare insert"))?;
        let chain = &mut self.chains[0];
        let started = Instant::now();
        for i in range {
            let id = chain.insert(&mut stmt, fx, i, i as u64)?;
            if let Some(ids) = ids.as_deref_mut() {
                ids.push(id);
            }
            tick.step();
        }
        Ok(started.elapsed().as_secs_f64())
    }

    /// Autocommit inserts of events `range`, connection `t` on its own thread
    /// inserting the events `i` with `i % connections == t`. With
    /// `ENTITIES % connections == 0` each entity's chain stays on one connection.
    pub(crate) fn append_concurrent(
        &mut self,
        fx: &Fixture,
        range: Range<usize>,
        tick: &Tick<'_>,
    ) -> Result<f64, CliError> {
        let threads = self.conns.len();
        let started = Instant::now();
        std::thread::scope(|s| {
            let workers: Vec<_> = self
                .conns
                .iter_mut()
                .zip(self.chains.iter_mut())
                .enumerate()
                .map(|(t, (conn, chain))| {
                    let range = range.clone();
                    s.spawn(move || -> Result<(), CliError> {
                        let mut stmt = conn
                            .prepare_cached(INSERT)
                            .map_err(CliError::sqlite("prepare insert"))?;
                        for i in range.filter(|i| i % threads == t) {
                            chain.insert(&mut stmt, fx, i, i as u64)?;
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

    /// Transactions of [`BATCH`] inserts over `range` (which starts on a batch boundary).
    pub(crate) fn append_batches(
        &mut self,
        fx: &Fixture,
        range: Range<usize>,
        tick: &Tick<'_>,
    ) -> Result<f64, CliError> {
        let conn = &mut self.conns[0];
        let chain = &mut self.chains[0];
        let started = Instant::now();
        for start in range.clone().step_by(BATCH) {
            let end = (start + BATCH).min(range.end);
            let tx = conn.transaction().map_err(CliError::sqlite("begin"))?;
            {
                let mut stmt = tx
                    .prepare_cached(INSERT)
                    .map_err(CliError::sqlite("prepare insert"))?;
                for i in start..end {
                    chain.insert(&mut stmt, fx, i, i as u64)?;
                }
            }
            tx.commit().map_err(CliError::sqlite("commit"))?;
            tick.add((end - start) as u64);
        }
        Ok(started.elapsed().as_secs_f64())
    }

    /// `count` reads by primary key, drawn from `ids` by `rng` (payload bytes undecoded).
    pub(crate) fn point_reads(
        &self,
        ids: &[[u8; 16]],
        rng: &mut Rng,
        count: usize,
        tick: &Tick<'_>,
    ) -> Result<f64, CliError> {
        let mut stmt = self.conns[0]
            .prepare_cached(POINT_READ)
            .map_err(CliError::sqlite("prepare select"))?;
        let mut sink = 0u64;
        let started = Instant::now();
        for _ in 0..count {
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
            tick.step();
        }
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        Ok(seconds)
    }

    /// Every event of the entities `entities` by `WHERE entity = ?`, payloads
    /// decoded; returns (events, seconds).
    pub(crate) fn entity_reads(
        &self,
        fx: &Fixture,
        entities: Range<usize>,
        tick: &Tick<'_>,
    ) -> Result<(u64, f64), CliError> {
        let mut stmt = self.conns[0]
            .prepare_cached(ENTITY_READ)
            .map_err(CliError::sqlite("prepare select"))?;
        let err = CliError::sqlite;
        let mut read = 0u64;
        let mut sink = 0u64;
        let started = Instant::now();
        for entity in &fx.entities[entities] {
            let mut rows = stmt.query([entity]).map_err(err("entity read"))?;
            while let Some(r) = rows.next().map_err(err("entity read"))? {
                let fields: (i64, Vec<u8>, i64, i64, i64, Vec<u8>, Vec<u8>) = (
                    r.get(0).map_err(err("entity read"))?,
                    r.get(1).map_err(err("entity read"))?,
                    r.get(2).map_err(err("entity read"))?,
                    r.get(3).map_err(err("entity read"))?,
                    r.get(4).map_err(err("entity read"))?,
                    r.get(5).map_err(err("entity read"))?,
                    r.get(6).map_err(err("entity read"))?,
                );
                let payload = r
                    .get_ref(7)
                    .and_then(|v| v.as_blob().map_err(Into::into))
                    .map_err(err("entity read"))?;
                let p = decode(payload)?;
                sink = sink.wrapping_add(p.seq);
                std::hint::black_box(&fields);
                read += 1;
                tick.step();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        std::hint::black_box(sink);
        Ok((read, seconds))
    }

    /// Closes every connection (the last close checkpoints the WAL into the database).
    pub(crate) fn close(self) -> Result<(), CliError> {
        for conn in self.conns {
            close(conn)?;
        }
        Ok(())
    }
}

/// W4: seconds to open the database in `dir` and count its rows.
pub(crate) fn cold_open(dir: &Path, expected: u64) -> Result<f64, CliError> {
    let started = Instant::now();
    let conn = Connection::open(db_path(dir)).map_err(CliError::sqlite("open"))?;
    let count: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .map_err(CliError::sqlite("count"))?;
    let seconds = started.elapsed().as_secs_f64();
    close(conn)?;
    if count as u64 != expected {
        return Err(CliError::BenchCheck {
            what: format!("SQLite counted {count} rows, expected {expected}"),
        });
    }
    Ok(seconds)
}

/// A row as a point read returns it (payload bytes as stored, not decoded).
struct Row {
    gseq: i64,
    payload: Vec<u8>,
    _fields: (String, String, i64, i64, i64, Vec<u8>, Vec<u8>),
}

/// The scale probe: opens the database in `dir` and counts its rows;
/// returns the count and the open connection.
pub(crate) fn open_and_count(dir: &Path) -> Result<(u64, Connection), CliError> {
    let conn = Connection::open(db_path(dir)).map_err(CliError::sqlite("open"))?;
    let count: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .map_err(CliError::sqlite("count"))?;
    Ok((u64::try_from(count).unwrap_or(0), conn))
}

/// The ids of `count` events drawn by `rng` by global sequence below `n`,
/// in draw order (one scan of the table; before any clock starts).
pub(crate) fn ids_by_sequence(
    dir: &Path,
    rng: &mut Rng,
    n: u64,
    count: usize,
) -> Result<Vec<[u8; 16]>, CliError> {
    let wanted: Vec<i64> = (0..count)
        .map(|_| rng.below(usize::try_from(n).unwrap_or(usize::MAX)) as i64)
        .collect();
    let set: std::collections::HashSet<i64> = wanted.iter().copied().collect();
    let conn = Connection::open(db_path(dir)).map_err(CliError::sqlite("open"))?;
    let mut found = std::collections::HashMap::with_capacity(set.len());
    {
        let mut stmt = conn
            .prepare("SELECT gseq, event_id FROM events")
            .map_err(CliError::sqlite("prepare scan"))?;
        let mut rows = stmt.query([]).map_err(CliError::sqlite("scan"))?;
        while let Some(r) = rows.next().map_err(CliError::sqlite("scan"))? {
            let gseq: i64 = r.get(0).map_err(CliError::sqlite("scan"))?;
            if set.contains(&gseq) {
                let id: Vec<u8> = r.get(1).map_err(CliError::sqlite("scan"))?;
                if let Ok(id) = <[u8; 16]>::try_from(id.as_slice()) {
                    found.insert(gseq, id);
                }
            }
        }
    }
    close(conn)?;
    Ok(wanted
        .iter()
        .filter_map(|g| found.get(g).copied())
        .collect())
}
