//! Real processes, real kills: a child process appends durably and reports
//! each receipt on stdout; the parent kills it with SIGKILL at a seeded
//! random moment, reopens the store and checks that every reported receipt
//! is there with the same hashes, that batches are whole, and that every
//! chain links. The child is this test binary re-executed (`child_entry`
//! with `BATPAK_CHILD_DIR` set), so no separate build step is needed.
//!
//! `BATPAK_KILL_SEED=N` changes the kill schedule.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;
use common::{coord, hex, small_segments, Rng};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use batpak::prelude::*;
use batpak::{AppendOptions, BatchAppendItem, CausationRef};

const KIND: EventKind = EventKind::custom(0xE, 0x51);
const CHILD_DIR: &str = "BATPAK_CHILD_DIR";
const CHILD_MODE: &str = "BATPAK_CHILD_MODE";
const CHILD_ROUND: &str = "BATPAK_CHILD_ROUND";
/// A child that is never killed stops by itself after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(10);

/// The child's side: append until killed, one `RECEIPT` line per acknowledged event.
#[test]
fn child_entry() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return; // Run as an ordinary test: nothing to do.
    };
    let batches = std::env::var(CHILD_MODE).is_ok_and(|m| m == "batch");
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let store = Store::open(small_segments(Path::new(&dir))).unwrap();
    let entities: Vec<Coordinate> = (0..4)
        .map(|i| coord(format!("entity:{i}"), "scope:kill"))
        .collect();
    let mut rng = Rng::new(0x9E37_79B9 ^ (round + 1));
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut n = 0u64;
    while started.elapsed() < CHILD_LIFETIME {
        let size = if batches { 2 + rng.below(5) } else { 1 };
        let tag = format!("{round}-{n}");
        let payloads: Vec<serde_json::Value> = (0..size)
            .map(|i| serde_json::json!({ "tag": tag, "item": i, "size": size, "fill": "k".repeat(rng.below(300) as usize) }))
            .collect();
        let coords: Vec<Coordinate> = (0..size)
            .map(|_| entities[rng.index(entities.len())].clone())
            .collect();
        let receipts = if batches {
            let items = payloads
                .iter()
                .zip(&coords)
                .map(|(p, c)| {
                    BatchAppendItem::new(
                        c.clone(),
                        KIND,
                        p,
                        AppendOptions::default(),
                        CausationRef::None,
                    )
                    .unwrap()
                })
                .collect();
            store.append_batch(items).unwrap()
        } else {
            vec![store.append(&coords[0], KIND, &payloads[0]).unwrap()]
        };
        for (i, r) in receipts.iter().enumerate() {
            assert!(r.durable, "the default sync mode acknowledges durably");
            writeln!(
                out,
                "RECEIPT {tag} {i} {size} {} {} {} {} {}",
                r.event_id,
                r.global_sequence,
                hex(&r.content_hash),
                hex(&r.event_hash),
                hex(&r.prev_hash)
            )
            .unwrap();
        }
        out.flush().unwrap();
        n += 1;
    }
}

/// A receipt line as the child printed it.
#[derive(Debug)]
struct Printed {
    tag: String,
    item: u64,
    size: u64,
    event_id: String,
    global_sequence: u64,
    content_hash: String,
    event_hash: String,
    prev_hash: String,
}

fn parse(line: &str) -> Option<Printed> {
    let mut w = line.strip_prefix("RECEIPT ")?.split(' ');
    let p = Printed {
        tag: w.next()?.to_owned(),
        item: w.next()?.parse().ok()?,
        size: w.next()?.parse().ok()?,
        event_id: w.next()?.to_owned(),
        global_sequence: w.next()?.parse().ok()?,
        content_hash: w.next()?.to_owned(),
        event_hash: w.next()?.to_owned(),
        prev_hash: w.next()?.to_owned(),
    };
    // A line cut short by the kill is not a report.
    (w.next().is_none() && p.prev_hash.len() == 64).then_some(p)
}

/// Starts a child, kills it `after` its first receipt, returns what it reported.
fn run_child(dir: &Path, mode: &str, round: u64, after: Duration) -> Vec<Printed> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_MODE, mode)
        .env(CHILD_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    // Wait for the first receipt so the kill lands while appends are running.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(l) => {
                let first = l.starts_with("RECEIPT ");
                lines.push(l);
                if first {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no close, no flush.
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, it did not finish");
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines.iter().filter_map(|l| parse(l)).collect()
}

/// Reopens after a kill and checks everything ever reported.
fn check_after_kill(dir: &Path, reported: &[Printed], batches: bool, round: u64) {
    let store = Store::open(small_segments(dir))
        .unwrap_or_else(|e| panic!("reopen after SIGKILL failed: {e}"));
    let by_id: HashMap<String, IndexEntry> = store
        .query(&Region::all())
        .into_iter()
        .map(|e| (e.event_id().to_string(), e))
        .collect();
    for p in reported {
        let entry = by_id
            .get(&p.event_id)
            .unwrap_or_else(|| panic!("a receipt the child reported as durable is gone: {p:?}"));
        let raw = store.read_raw(entry.event_id()).unwrap();
        let h = &raw.event.header;
        assert_eq!(h.global_sequence, p.global_sequence, "{p:?}");
        assert_eq!(hex(&h.content_hash), p.content_hash, "{p:?}");
        assert_eq!(
            hex(blake3::hash(&raw.event.payload).as_bytes()),
            p.content_hash,
            "{p:?}"
        );
        assert_eq!(hex(&h.event_hash), p.event_hash, "{p:?}");
        assert_eq!(hex(&h.prev_hash), p.prev_hash, "{p:?}");
        let payload = store.get(entry.event_id()).unwrap().event.payload;
        assert_eq!(payload["tag"], p.tag.as_str(), "{p:?}");
        assert_eq!(payload["item"], p.item, "{p:?}");
        assert_eq!(payload["size"], p.size, "{p:?}");
    }
    // Batches are whole: every tag present holds exactly its announced size.
    if batches {
        let mut counts: HashMap<String, (u64, u64)> = HashMap::new();
        for e in by_id.values() {
            let payload = store.get(e.event_id()).unwrap().event.payload;
            let tag = payload["tag"].as_str().unwrap().to_owned();
            let size = payload["size"].as_u64().unwrap();
            counts.entry(tag).or_insert((0, size)).0 += 1;
        }
        for (tag, (seen, size)) in counts {
            assert_eq!(seen, size, "batch {tag} is partly present after a kill");
        }
    }
    let chain = store.verify_chain().unwrap();
    assert!(chain.is_intact(), "chain broken after a kill: {chain:?}");
    let c = coord("entity:parent", "scope:kill");
    let r = store
        .append(
            &c,
            KIND,
            &serde_json::json!({ "tag": format!("parent-{round}"), "item": 0, "size": 1 }),
        )
        .unwrap();
    assert!(store.verify_append_receipt(&r).is_valid());
    store.close().unwrap();
}

fn kill_rounds(mode: &str, rounds: u64) {
    let seed: u64 = std::env::var("BATPAK_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_0001);
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut reported = Vec::new();
    for round in 0..rounds {
        let after = Duration::from_millis(rng.below(60));
        let got = run_child(dir.path(), mode, round, after);
        assert!(
            !got.is_empty(),
            "round {round}: the child reported no receipt before the kill"
        );
        reported.extend(got);
        check_after_kill(dir.path(), &reported, mode == "batch", round);
    }
    eprintln!(
        "{mode}: {rounds} kills (seed {seed}), {} receipts checked",
        reported.len()
    );
}

#[test]
fn sigkill_loses_no_reported_append() {
    kill_rounds("single", 10);
}

#[test]
fn sigkill_leaves_every_batch_whole() {
    kill_rounds("batch", 10);
}
