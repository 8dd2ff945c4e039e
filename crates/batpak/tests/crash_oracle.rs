//! Crash oracle: seeded workloads over a fault-injecting `SimFs`, then a
//! simulated power loss, a reopen, and the checks that define crash safety:
//!
//! 1. every append acknowledged as durable is there, byte for byte, and its
//!    receipt still verifies;
//! 2. nothing appears that was never appended, and nothing appears twice;
//! 3. every batch is all or nothing;
//! 4. every chain links (`verify_chain` is intact);
//! 5. idempotency keys of surviving appends still deduplicate;
//! 6. the reopened store accepts new appends.
//!
//! While the workload runs, every error must be typed and explained by an
//! injected fault, and after a write-path failure the store must refuse
//! every append until it is reopened (fail-stop).
//!
//! With payload encryption (feature `payload-encryption`, the
//! `oracle_sweep_encrypted` test), every user payload is sealed and the
//! oracle also checks that no surviving event lacks its key (a durable
//! ciphertext whose key is not durable would read as shredded), and that
//! a failed keyset flush fails its request closed without stopping the
//! writer.
//!
//! `BATPAK_ORACLE_SEEDS=N` changes how many seeds the sweep runs (default
//! 300); `BATPAK_SEED=S` with the `replay` test reruns one seed verbosely
//! (`BATPAK_ORACLE_ENCRYPTION=1` turns encryption on for it).
#![cfg(feature = "sim")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::print_stdout
)]

mod common;
use common::{
    assert_fail_stopped, fill_first_segment, idempotency_key, is_segment_file, rotation_trace,
    sim_small_segments, ROTATING_PAYLOAD_LEN,
};

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use batpak::format::{segment_file_name, KEYSET_FILE, SEALED_PAYLOAD_MARKER, SYNC_FAILURE_FILE};
use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, FiredFault, OpClass, SimFs, SimRng};
use batpak::{AppendOptions, BatchAppendItem, CausationRef, IdempotencyKey};

const DIR: &str = "/sim/oracle";
const KINDS: [EventKind; 2] = [EventKind::custom(0xE, 0x31), EventKind::custom(0xE, 0x32)];
const DEFAULT_SEEDS: u64 = 300;

/// What is known about one append attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Sent, not acknowledged (failed or never answered): may or may not exist.
    Unacked,
    /// Acknowledged with `durable: false`: may be lost in a crash.
    AckedVolatile,
    /// Acknowledged as durable, or seen after a crash: must survive.
    MustSurvive,
    /// Absent after a crash: must never reappear.
    Lost,
}

#[derive(Clone, Debug)]
struct Attempt {
    coord: Coordinate,
    kind: EventKind,
    value: serde_json::Value,
    /// The payload exactly as the store keeps it (canonical MessagePack).
    bytes: Vec<u8>,
    /// Order of the first acknowledgement since the last crash check.
    ack_order: Option<u64>,
    key: Option<IdempotencyKey>,
    receipt: Option<AppendReceipt>,
    /// The event id seen after the last crash check, for attempts without a receipt.
    seen_id: Option<EventId>,
    fate: Fate,
}

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// One seeded run: the store under test, the disk, and the model of what must hold.
struct Oracle {
    seed: u64,
    /// Payload encryption is on.
    encrypted: bool,
    sim: SimFs,
    cfg: StoreConfig,
    mode: SyncMode,
    store: Option<Store>,
    attempts: Vec<Attempt>,
    by_bytes: HashMap<Vec<u8>, usize>,
    batches: Vec<Vec<usize>>,
    /// The first write-path failure since the last open: every append must now be refused.
    failed: Option<String>,
    /// A failed fsync since the last crash: its pages are gone, so the next step is a crash.
    lost_sync: bool,
    fired_seen: usize,
    acks: u64,
    log: Vec<String>,
    verbose: bool,
    stats: Stats,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    /// Requests the keyset durability fence failed closed.
    fences: u64,
    acked: u64,
    errors: u64,
    crashes: u64,
    reopens: u64,
    batches: u64,
    dedupes: u64,
}

/// The keyset file or its temporary copy.
fn is_keyset(p: &std::path::Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(KEYSET_FILE))
}

/// `cfg` with payload encryption on, when asked for (and compiled in).
fn encryption(cfg: StoreConfig, on: bool) -> StoreConfig {
    #[cfg(feature = "payload-encryption")]
    if on {
        return cfg.with_payload_encryption(batpak::KeyScopeGranularity::PerEntity);
    }
    assert!(
        !on,
        "payload encryption needs the feature payload-encryption"
    );
    cfg
}

fn is_segment(f: &FiredFault) -> bool {
    is_segment_file(&f.path)
}

fn describe(faults: &[FiredFault]) -> String {
    let v: Vec<String> = faults.iter().map(ToString::to_string).collect();
    format!("[{}]", v.join(", "))
}

impl Oracle {
    fn new(seed: u64, plan: FaultPlan, mode: SyncMode, encrypted: bool) -> Self {
        let sim = SimFs::with_plan(plan);
        let cfg = encryption(
            sim_small_segments(&sim, DIR).with_sync_mode(mode),
            encrypted,
        );
        Self {
            seed,
            encrypted,
            sim,
            cfg,
            mode,
            store: None,
            attempts: Vec::new(),
            by_bytes: HashMap::new(),
            batches: Vec::new(),
            failed: None,
            lost_sync: false,
            fired_seen: 0,
            acks: 0,
            log: Vec::new(),
            verbose: false,
            stats: Stats::default(),
        }
    }

    fn note(&mut self, line: String) {
        if self.verbose {
            eprintln!("  {line}");
        }
        self.log.push(line);
    }

    fn store(&self) -> Result<&Store, String> {
        self.store
            .as_ref()
            .ok_or_else(|| "no open store".to_owned())
    }

    /// Faults that fired since the last call.
    fn new_faults(&mut self) -> Vec<FiredFault> {
        let all = self.sim.fired();
        let new = all[self.fired_seen.min(all.len())..].to_vec();
        self.fired_seen = all.len();
        // A keyset temp file whose fsync failed is never renamed into place:
        // its lost pages are nobody's data.
        if new
            .iter()
            .any(|f| f.kind == Some(FaultKind::FailSync) && !is_keyset(&f.path))
        {
            self.lost_sync = true;
        }
        if !new.is_empty() {
            self.note(format!("faults fired: {}", describe(&new)));
        }
        new
    }

    fn new_attempt(
        &mut self,
        coord: Coordinate,
        kind: EventKind,
        fill: usize,
        key: Option<IdempotencyKey>,
    ) -> usize {
        let n = self.attempts.len();
        let value =
            serde_json::json!({ "attempt": n, "seed": self.seed, "fill": "x".repeat(fill) });
        let bytes = rmp_serde::to_vec_named(&value).unwrap();
        self.by_bytes.insert(bytes.clone(), n);
        self.attempts.push(Attempt {
            coord,
            kind,
            value,
            bytes,
            ack_order: None,
            key,
            receipt: None,
            seen_id: None,
            fate: Fate::Unacked,
        });
        n
    }

    /// Opens the store; an open that fails must be explained by a fault.
    fn open(&mut self) -> Check {
        self.failed = None;
        for round in 0..4 {
            if round == 3 {
                self.note("healing the disk to reopen".into());
                self.sim.heal();
            }
            match Store::open(self.cfg.clone()) {
                Ok(s) => {
                    self.new_faults();
                    if let Some(t) = s.open_report().torn_tail {
                        self.note(format!("open recovered a torn tail: {t:?}"));
                    }
                    self.store = Some(s);
                    return Ok(());
                }
                Err(e) => {
                    let faults = self.new_faults();
                    ensure!(
                        !faults.is_empty(),
                        "open failed without an injected fault: {e}"
                    );
                    ensure!(
                        matches!(e, StoreError::Io { .. }),
                        "open failed with {e:?} after {}; only a typed I/O error is acceptable",
                        describe(&faults)
                    );
                    self.note(format!("open failed as expected: {e}"));
                }
            }
        }
        Err("the store does not reopen on a healed disk".into())
    }

    /// Judges the outcome of a write-path call (append, batch, sync).
    fn judge(&mut self, what: &str, outcome: Result<(), StoreError>) -> Result<bool, String> {
        let faults = self.new_faults();
        match outcome {
            Ok(()) => {
                if let Some(cause) = &self.failed {
                    return Err(format!(
                        "{what} was acknowledged after the writer failed ({cause}): fail-stop broken"
                    ));
                }
                let hidden: Vec<FiredFault> = faults
                    .iter()
                    .filter(|f| {
                        is_segment(f)
                            && f.op != OpClass::Read
                            && !f.kind.is_some_and(FaultKind::is_silent)
                            // Space written ahead: losing it fails no append.
                            && !f.zeros
                    })
                    .cloned()
                    .collect();
                ensure!(
                    hidden.is_empty(),
                    "{what} was acknowledged although a segment operation failed under it: {}",
                    describe(&hidden)
                );
                Ok(true)
            }
            Err(e) => {
                self.stats.errors += 1;
                self.note(format!("{what} failed: {e}"));
                if let Some(cause) = &self.failed {
                    ensure!(
                        matches!(e, StoreError::WriterFailed { .. }),
                        "after the writer failed ({cause}) {what} returned {e:?} instead of WriterFailed"
                    );
                    return Ok(false);
                }
                ensure!(
                    !faults.is_empty(),
                    "{what} failed with no injected fault: {e:?}"
                );
                match &e {
                    // The keyset durability fence refused the request: nothing of
                    // it was written, and the writer goes on.
                    StoreError::Io { op, path, .. } if *op == "write keyset" => {
                        ensure!(
                            self.encrypted && is_keyset(path),
                            "{what}: a keyset failure without encryption: {e:?}"
                        );
                        self.stats.fences += 1;
                    }
                    StoreError::Io { op, .. } if op.starts_with("read") => {
                        ensure!(
                            faults.iter().any(|f| f.op == OpClass::Read),
                            "{what} reported a read failure but no read fault fired: {e:?}"
                        );
                    }
                    StoreError::Io { .. } | StoreError::WriterFailed { .. } => {
                        self.failed = Some(e.to_string());
                    }
                    other => {
                        return Err(format!(
                            "{what} failed with {other:?} after {}; expected a typed I/O error or WriterFailed",
                            describe(&faults)
                        ))
                    }
                }
                Ok(false)
            }
        }
    }

    /// Records receipts of an acknowledged request and checks them against the attempts.
    fn acknowledge(&mut self, idxs: &[usize], receipts: Vec<AppendReceipt>) -> Check {
        ensure!(
            receipts.len() == idxs.len(),
            "{} receipts for {} items",
            receipts.len(),
            idxs.len()
        );
        for (&i, r) in idxs.iter().zip(receipts) {
            let a = &mut self.attempts[i];
            // Sealed payloads differ from one append to the next; their receipts
            // are checked against the stored bytes after every crash instead.
            ensure!(
                self.encrypted || r.content_hash == *blake3::hash(&a.bytes).as_bytes(),
                "receipt of attempt {i} names another payload"
            );
            // Only receipts issued since the last crash check take part in the prefix check.
            let fresh = a.receipt.is_none() && a.seen_id.is_none();
            if let Some(seen) = a.seen_id {
                ensure!(
                    seen == r.event_id,
                    "retry of attempt {i} produced event {} instead of the surviving {seen}",
                    r.event_id
                );
            }
            if let Some(old) = &a.receipt {
                ensure!(
                    old.event_id == r.event_id,
                    "retry of attempt {i} (key {:?}) produced event {} instead of the original {}",
                    a.key,
                    r.event_id,
                    old.event_id
                );
                self.stats.dedupes += 1;
            }
            if self.mode == SyncMode::EveryGroup {
                ensure!(
                    r.durable,
                    "EveryGroup acknowledged attempt {i} as not durable"
                );
            }
            if r.durable {
                a.fate = Fate::MustSurvive;
            } else if a.fate != Fate::MustSurvive {
                a.fate = Fate::AckedVolatile;
            }
            a.receipt = Some(r);
            if fresh {
                a.ack_order = Some(self.acks);
                self.acks += 1;
            }
            self.stats.acked += 1;
        }
        Ok(())
    }

    fn append(
        &mut self,
        coord: Coordinate,
        kind: EventKind,
        fill: usize,
        key: Option<IdempotencyKey>,
    ) -> Check {
        let i = self.new_attempt(coord, kind, fill, key);
        self.send_single(i)
    }

    /// Sends attempt `i` as a single append (first try or idempotent retry).
    fn send_single(&mut self, i: usize) -> Check {
        let a = self.attempts[i].clone();
        let store = self.store()?;
        let res = match a.key {
            Some(k) => store.append_with_options(
                &a.coord,
                a.kind,
                &a.value,
                AppendOptions::default().with_idempotency_key(k),
            ),
            None => store.append(&a.coord, a.kind, &a.value),
        };
        let (outcome, receipt) = match res {
            Ok(r) => (Ok(()), Some(r)),
            Err(e) => (Err(e), None),
        };
        let what = format!(
            "append #{i} ({}, {} bytes, key {})",
            a.coord.entity(),
            a.bytes.len(),
            a.key.is_some()
        );
        if self.judge(&what, outcome)? {
            self.acknowledge(&[i], receipt.into_iter().collect())?;
            self.note(format!("{what} acknowledged"));
        }
        Ok(())
    }

    fn batch(&mut self, items: Vec<(Coordinate, EventKind, usize)>) -> Check {
        let b = self.batches.len();
        let idxs: Vec<usize> = items
            .into_iter()
            .map(|(c, k, fill)| self.new_attempt(c, k, fill, None))
            .collect();
        self.batches.push(idxs.clone());
        self.stats.batches += 1;
        let built: Vec<BatchAppendItem> = idxs
            .iter()
            .map(|&i| {
                let a = &self.attempts[i];
                BatchAppendItem::new(
                    a.coord.clone(),
                    a.kind,
                    &a.value,
                    AppendOptions::default(),
                    CausationRef::None,
                )
                .unwrap()
            })
            .collect();
        let res = self.store()?.append_batch(built);
        let (outcome, receipts) = match res {
            Ok(r) => (Ok(()), r),
            Err(e) => (Err(e), Vec::new()),
        };
        let what = format!("batch #{b} of {} items", idxs.len());
        if self.judge(&what, outcome)? {
            self.acknowledge(&idxs, receipts)?;
            self.note(format!("{what} acknowledged"));
        }
        Ok(())
    }

    fn promote_volatile(&mut self) {
        for a in &mut self.attempts {
            if a.fate == Fate::AckedVolatile {
                a.fate = Fate::MustSurvive;
            }
        }
    }

    fn sync(&mut self) -> Check {
        let outcome = self.store()?.sync();
        if self.judge("sync", outcome)? {
            // Everything acknowledged before a successful sync is durable.
            self.promote_volatile();
        }
        Ok(())
    }

    /// Closes (or just drops) the store and opens it again without a crash.
    fn reopen(&mut self, clean: bool) -> Check {
        self.stats.reopens += 1;
        let store = self.store.take().ok_or("no open store")?;
        if clean {
            let res = store.close();
            let faults = self.new_faults();
            match res {
                Ok(()) => {
                    ensure!(
                        self.failed.is_none(),
                        "close succeeded after the writer failed"
                    );
                    self.promote_volatile();
                }
                Err(e) => ensure!(
                    self.failed.is_some() || !faults.is_empty(),
                    "close failed with no injected fault: {e:?}"
                ),
            }
        } else {
            drop(store);
            self.new_faults();
        }
        if self.lost_sync {
            // The close's own fsync failed: its pages are gone for good (see
            // `drive`), so the only consistent next state is a restart.
            self.note("close hit a failed fsync: crash instead of reopening".into());
            return self.crash_and_check(false);
        }
        self.note(format!("reopen (clean close: {clean})"));
        self.open()
    }

    /// A read of an event that must exist: right bytes, or a typed error from an injected read fault.
    fn read_one(&mut self, pick: u64) -> Check {
        let known: Vec<(usize, EventId)> = self
            .attempts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.fate == Fate::MustSurvive)
            .filter_map(|(i, a)| {
                a.receipt
                    .as_ref()
                    .map(|r| r.event_id)
                    .or(a.seen_id)
                    .map(|id| (i, id))
            })
            .collect();
        if known.is_empty() {
            return Ok(());
        }
        let (i, id) = known[(pick % known.len() as u64) as usize];
        let res = self.store()?.read_raw(id);
        let faults = self.new_faults();
        match res {
            Ok(raw) => ensure!(
                raw.event.payload == self.attempts[i].bytes,
                "read of attempt {i} returned other bytes"
            ),
            Err(e) => {
                ensure!(
                    faults.iter().any(|f| f.op == OpClass::Read),
                    "read of attempt {i} failed without a read fault: {e:?}"
                );
                ensure!(
                    matches!(e, StoreError::Io { .. }),
                    "a failed read must be a typed I/O error, got {e:?}"
                );
                self.note(format!("read of attempt {i} failed as injected: {e}"));
            }
        }
        Ok(())
    }

    /// Whether the failed writer's record of what was durable is in place.
    fn sync_failure_recorded(&self) -> bool {
        self.sim
            .live_files(self.cfg.dir())
            .iter()
            .any(|f| f == SYNC_FAILURE_FILE)
    }

    /// After a failed fsync: drop the store and reopen without a crash. What
    /// the reopened store holds is checked like survivors of a crash; it
    /// must then survive any later crash, which fails if the reopen kept
    /// bytes that only the OS cache had.
    fn reopen_after_failed_sync(&mut self) -> Check {
        self.stats.reopens += 1;
        drop(self.store.take());
        self.new_faults();
        self.lost_sync = false;
        self.note("reopen after a failed fsync, without a crash".into());
        self.open()?;
        self.sim.set_paused(true);
        let result = self.check_survivors();
        self.sim.set_paused(false);
        result
    }

    /// Power loss, reopen, and every check; then the model learns what survived.
    fn crash_and_check(&mut self, heal: bool) -> Check {
        self.stats.crashes += 1;
        let report = self.sim.crash();
        self.note(format!("CRASH: {report}"));
        drop(self.store.take());
        self.new_faults();
        self.lost_sync = false;
        if heal {
            self.sim.heal();
        }
        self.open()?;
        self.sim.set_paused(true);
        let result = self.check_survivors();
        self.sim.set_paused(false);
        result
    }

    fn check_survivors(&mut self) -> Check {
        let store = self.store.as_ref().ok_or("no open store")?;
        // The heads: none lost, the newest one covered by the log, and the
        // log's tree a consistent extension of it.
        let report = store.open_report();
        ensure!(
            report.history_lost.is_none(),
            "the log fell below a recorded tree head: {:?}",
            report.history_lost
        );
        if let Some(head) = store.latest_head() {
            ensure!(
                head.size() <= store.len(),
                "the newest head covers {} events, the log holds {}",
                head.size(),
                store.len()
            );
            let proof = store
                .prove_consistency(head.size(), store.len())
                .map_err(|e| format!("no consistency proof from the newest head: {e}"))?;
            ensure!(
                proof.old_root == *head.root() && proof.verify().is_ok(),
                "the log's tree does not extend the newest head"
            );
        }
        let mut present: HashMap<usize, EventId> = HashMap::new();
        for e in store.query(&Region::all()) {
            let raw = store.read_raw(e.event_id()).map_err(|err| match err {
                StoreError::PayloadShredded { .. } => format!(
                    "event {} (sequence {}) survived but its key did not: a durable ciphertext without a durable key",
                    e.event_id(),
                    e.global_sequence()
                ),
                err => format!("event {} is indexed but unreadable: {err}", e.event_id()),
            })?;
            if self.encrypted {
                let stored = store
                    .read_stored(e.event_id())
                    .map_err(|err| err.to_string())?;
                ensure!(
                    stored.event.payload.first() == Some(&SEALED_PAYLOAD_MARKER),
                    "event {} was stored unsealed",
                    e.event_id()
                );
            }
            let Some(&i) = self.by_bytes.get(&raw.event.payload) else {
                return Err(format!(
                    "event {} (entity {}, sequence {}) holds a payload that was never appended",
                    e.event_id(),
                    e.coordinate().entity(),
                    e.global_sequence()
                ));
            };
            let a = &self.attempts[i];
            ensure!(
                present.insert(i, e.event_id()).is_none(),
                "attempt {i} is stored twice"
            );
            ensure!(
                a.coord == *e.coordinate() && a.kind == e.kind(),
                "attempt {i} is stored under another coordinate or kind"
            );
            ensure!(
                a.fate != Fate::Lost,
                "attempt {i}, lost in an earlier crash, reappeared"
            );
        }
        // (1) acknowledged-durable appends survive, byte-identical, receipts verify.
        for (i, a) in self.attempts.iter().enumerate() {
            let here = present.get(&i);
            if a.fate == Fate::MustSurvive {
                ensure!(
                    here.is_some(),
                    "attempt {i} was acknowledged as durable (receipt {:?}) but is gone after the crash",
                    a.receipt.as_ref().map(|r| r.event_id)
                );
            }
            if let (Some(r), Some(&id)) = (&a.receipt, here) {
                ensure!(
                    id == r.event_id,
                    "attempt {i} survived under another event id"
                );
                let v = store.verify_append_receipt(r);
                ensure!(
                    v.is_valid(),
                    "receipt of attempt {i} no longer verifies: {v:?}"
                );
            }
        }
        // What survives is a prefix of the log: no acknowledged append is
        // missing while one committed after it is there.
        let mut order: Vec<(u64, usize)> = self
            .attempts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.ack_order.is_some())
            .filter_map(|(i, a)| a.receipt.as_ref().map(|r| (r.global_sequence, i)))
            .collect();
        order.sort_unstable();
        if let Some(&(gap_seq, gap)) = order.iter().find(|(_, i)| !present.contains_key(i)) {
            if let Some(&(later_seq, later)) =
                order.iter().rev().find(|(_, i)| present.contains_key(i))
            {
                ensure!(
                    later_seq < gap_seq,
                    "acknowledged attempt {gap} (sequence {gap_seq}) is gone but attempt {later} (sequence {later_seq}), committed after it, survived"
                );
            }
        }
        // (3) batches are all or nothing.
        for (b, idxs) in self.batches.iter().enumerate() {
            let n = idxs.iter().filter(|i| present.contains_key(i)).count();
            ensure!(
                n == 0 || n == idxs.len(),
                "batch #{b} is partly present: {n} of {} items",
                idxs.len()
            );
        }
        // (4) every chain links.
        let chain = store
            .verify_chain()
            .map_err(|e| format!("verify_chain failed: {e}"))?;
        ensure!(
            chain.is_intact(),
            "chain is broken after the crash: {chain:?}"
        );
        let before = store.len();
        // (5) keys of surviving appends still deduplicate.
        let keyed: Vec<(usize, EventId)> = present
            .iter()
            .filter(|(i, _)| self.attempts[**i].key.is_some())
            .map(|(i, id)| (*i, *id))
            .collect();
        for (i, id) in keyed {
            let a = &self.attempts[i];
            let opts = AppendOptions::default().with_idempotency_key(a.key.ok_or("no key")?);
            let r = store
                .append_with_options(&a.coord, a.kind, &a.value, opts)
                .map_err(|e| format!("idempotent retry of surviving attempt {i} failed: {e}"))?;
            ensure!(
                r.event_id == id,
                "idempotent retry of attempt {i} wrote event {} instead of returning {id}",
                r.event_id
            );
        }
        ensure!(store.len() == before, "idempotent retries wrote new events");
        // The model learns what survived: present is now on disk, absent is lost.
        for (i, a) in self.attempts.iter_mut().enumerate() {
            match present.get(&i) {
                Some(&id) => {
                    a.fate = Fate::MustSurvive;
                    a.seen_id = Some(id);
                }
                None => a.fate = Fate::Lost,
            }
            a.ack_order = None;
        }
        self.note(format!("checks passed: {} events survive", present.len()));
        Ok(())
    }

    /// (6) the store accepts new appends after everything else.
    fn final_append(&mut self) -> Check {
        self.sim.set_paused(true);
        let coord = common::coord("entity:after", "scope:after");
        let i = self.new_attempt(coord.clone(), KINDS[0], 8, None);
        let value = self.attempts[i].value.clone();
        let store = self.store.as_ref().ok_or("no open store")?;
        let r = store
            .append(&coord, KINDS[0], &value)
            .map_err(|e| format!("the reopened store refuses a new append: {e}"))?;
        ensure!(
            store.verify_append_receipt(&r).is_valid(),
            "receipt of the post-crash append does not verify"
        );
        if self.mode == SyncMode::EveryGroup {
            ensure!(r.durable, "post-crash append not durable under EveryGroup");
        }
        let chain = store.verify_chain().map_err(|e| e.to_string())?;
        ensure!(
            chain.is_intact(),
            "chain broken after the post-crash append"
        );
        self.sim.set_paused(false);
        Ok(())
    }

    fn failure_report(&self, problem: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "crash oracle failed for seed {}", self.seed);
        let _ = writeln!(s, "  schedule: {}", self.sim.plan());
        let _ = writeln!(s, "  sync mode: {:?}", self.mode);
        let _ = writeln!(s, "  payload encryption: {}", self.encrypted);
        let _ = writeln!(s, "  fired: {}", describe(&self.sim.fired()));
        let _ = writeln!(s, "  counters: {}", self.sim.counters());
        let _ = writeln!(s, "  problem: {problem}");
        let _ = writeln!(s, "  last steps:");
        for line in self
            .log
            .iter()
            .rev()
            .take(25)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let _ = writeln!(s, "    {line}");
        }
        let _ = writeln!(
            s,
            "  replay: BATPAK_SEED={}{} cargo test -p batpak --features sim{} --test crash_oracle replay -- --nocapture",
            self.seed,
            if self.encrypted { " BATPAK_ORACLE_ENCRYPTION=1" } else { "" },
            if self.encrypted { ",payload-encryption" } else { "" }
        );
        s
    }
}

/// Runs the random workload of `seed` with the schedule derived from it.
fn run_seed(seed: u64, encrypted: bool, verbose: bool) -> Result<Stats, String> {
    let mut rng = SimRng::new(seed);
    let mode = if rng.one_in(5) {
        SyncMode::OsBuffered
    } else {
        SyncMode::EveryGroup
    };
    run_workload_with(seed, FaultPlan::random(seed), mode, encrypted, verbose)
}

fn run_workload(
    seed: u64,
    plan: FaultPlan,
    mode: SyncMode,
    verbose: bool,
) -> Result<Stats, String> {
    run_workload_with(seed, plan, mode, false, verbose)
}

fn run_workload_with(
    seed: u64,
    plan: FaultPlan,
    mode: SyncMode,
    encrypted: bool,
    verbose: bool,
) -> Result<Stats, String> {
    let mut o = Oracle::new(seed, plan, mode, encrypted);
    o.verbose = verbose;
    if verbose {
        eprintln!(
            "seed {seed}: schedule {} mode {mode:?} encrypted {encrypted}",
            o.sim.plan()
        );
    }
    match drive(&mut o, seed) {
        Ok(()) => Ok(o.stats),
        Err(problem) => Err(o.failure_report(&problem)),
    }
}

fn drive(o: &mut Oracle, seed: u64) -> Check {
    let mut rng = SimRng::new(seed.rotate_left(17) ^ 0xA11C_E5ED);
    let entities: Vec<Coordinate> = (0..5)
        .map(|i| common::coord(format!("entity:{i}"), format!("scope:{}", i % 2)))
        .collect();
    let pick = |rng: &mut SimRng| entities[rng.below(entities.len() as u64) as usize].clone();
    o.open()?;
    let steps = 20 + rng.below(50);
    for _ in 0..steps {
        if o.lost_sync {
            if o.failed.is_some() {
                // The writer must have stopped: one more append is refused.
                o.append(pick(&mut rng), KINDS[0], 1, None)?;
            }
            // Pages a failed fsync could not write are marked clean and never
            // reach the disk, yet reads still see them. Either a restart from
            // what is durable, or a reopen in the same boot, which must cut
            // those bytes: the failed writer recorded what was durable (when
            // an injected fault stopped that too, only a restart is safe).
            if o.sync_failure_recorded() && rng.one_in(2) {
                o.reopen_after_failed_sync()?;
            } else {
                o.crash_and_check(false)?;
            }
            continue;
        }
        if o.failed.is_some() && rng.one_in(2) {
            o.reopen(rng.one_in(2))?;
            continue;
        }
        let fill = if rng.one_in(6) {
            800 + rng.below(2400) as usize
        } else {
            rng.below(300) as usize
        };
        let kind = KINDS[rng.below(2) as usize];
        match rng.below(100) {
            0..=49 => {
                let key = rng.one_in(3).then(|| {
                    IdempotencyKey::from_bytes(
                        (u128::from(rng.next_u64()) << 64 | u128::from(seed)).to_be_bytes(),
                    )
                });
                o.append(pick(&mut rng), kind, fill, key)?;
            }
            50..=64 => {
                let n = 2 + rng.below(4) as usize;
                let items = (0..n)
                    .map(|_| {
                        (
                            pick(&mut rng),
                            KINDS[rng.below(2) as usize],
                            rng.below(400) as usize,
                        )
                    })
                    .collect();
                o.batch(items)?;
            }
            65..=72 => {
                // An idempotent retry of an earlier keyed attempt.
                let keyed: Vec<usize> = (0..o.attempts.len())
                    .filter(|&i| o.attempts[i].key.is_some())
                    .collect();
                if let Some(&i) = keyed.get(rng.below(keyed.len().max(1) as u64) as usize) {
                    if o.attempts[i].fate == Fate::Lost {
                        // Lost in a crash: the retry writes it afresh.
                        o.attempts[i].fate = Fate::Unacked;
                        o.attempts[i].receipt = None;
                        o.attempts[i].seen_id = None;
                    }
                    o.note(format!("retrying attempt {i}"));
                    o.send_single(i)?;
                }
            }
            73..=79 => o.sync()?,
            80..=85 => o.reopen(rng.one_in(2))?,
            86..=89 => o.crash_and_check(false)?,
            _ => o.read_one(rng.next_u64())?,
        }
    }
    o.crash_and_check(true)?;
    o.final_append()
}

fn seed_count() -> u64 {
    std::env::var("BATPAK_ORACLE_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEEDS)
}

/// Runs the sweep's seeds and panics with the first failure report.
fn sweep(encrypted: bool) {
    let n = seed_count();
    let base: u64 = std::env::var("BATPAK_ORACLE_BASE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let started = Instant::now();
    let mut total = Stats::default();
    let mut failures = Vec::new();
    for seed in base..base + n {
        match run_seed(seed, encrypted, false) {
            Ok(s) => {
                total.acked += s.acked;
                total.errors += s.errors;
                total.crashes += s.crashes;
                total.reopens += s.reopens;
                total.batches += s.batches;
                total.dedupes += s.dedupes;
                total.fences += s.fences;
            }
            Err(report) => {
                failures.push(report);
                if failures.len() >= 3 {
                    break;
                }
            }
        }
    }
    eprintln!(
        "crash oracle{}: {n} seeds from {base} in {:.2?}: {} acknowledged, {} batches, {} dedupes, {} injected errors ({} at the keyset fence), {} crashes, {} reopens",
        if encrypted { " (payload encryption)" } else { "" },
        started.elapsed(),
        total.acked,
        total.batches,
        total.dedupes,
        total.errors,
        total.fences,
        total.crashes,
        total.reopens
    );
    if let Some(first) = failures.first() {
        panic!("{} seed(s) failed; first:\n{first}", failures.len());
    }
}

#[test]
fn oracle_sweep() {
    sweep(false);
}

/// The sweep with every user payload sealed: no surviving event may lack its key.
#[cfg(feature = "payload-encryption")]
#[test]
fn oracle_sweep_encrypted() {
    sweep(true);
}

/// Reruns one seed with every step printed: `BATPAK_SEED=1234`.
#[test]
fn replay() {
    let seed = std::env::var("BATPAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0xC0DE);
    let encrypted = std::env::var("BATPAK_ORACLE_ENCRYPTION").is_ok_and(|v| v == "1");
    if let Err(report) = run_seed(seed, encrypted, true) {
        panic!("{report}");
    }
}

// ---------------------------------------------------------------------------
// Focused fault tests: each kind of fault, and what the store must do with it.
// ---------------------------------------------------------------------------

fn coord(n: u32) -> Coordinate {
    common::coord(format!("entity:{n}"), "scope:f")
}

#[test]
fn failed_write_fails_the_append_stops_the_writer_and_reopen_recovers() {
    for kind in [FaultKind::FailWrite, FaultKind::TornWrite] {
        let sim = SimFs::with_plan(FaultPlan::none(11));
        let cfg = sim_small_segments(&sim, "/sim/failed-write");
        let store = Store::open(cfg.clone()).unwrap();
        let kept: Vec<AppendReceipt> = (0..5)
            .map(|n| store.append(&coord(1), KINDS[0], &n).unwrap())
            .collect();
        sim.arm(kind, 1);
        let err = store.append(&coord(1), KINDS[0], &"doomed").unwrap_err();
        assert!(
            matches!(err, StoreError::WriterFailed { .. } | StoreError::Io { .. }),
            "{kind:?}: expected a typed failure, got {err:?}"
        );
        assert_fail_stopped(&store, &coord(9), KINDS[0]);
        drop(store);
        // Reopen over the live image (no crash): a torn frame is cut, the rest is intact.
        let store = Store::open(cfg).unwrap();
        assert_eq!(store.len(), 5, "{kind:?}: only acknowledged events remain");
        for r in &kept {
            assert!(store.verify_append_receipt(r).is_valid());
        }
        assert!(store.verify_chain().unwrap().is_intact());
        let r = store.append(&coord(1), KINDS[0], &"after").unwrap();
        assert!(r.durable && store.verify_append_receipt(&r).is_valid());
    }
}

#[test]
fn failed_fsync_is_not_acknowledged_and_stops_the_writer() {
    let sim = SimFs::with_plan(FaultPlan::none(12));
    let cfg = sim_small_segments(&sim, "/sim/failed-fsync");
    let store = Store::open(cfg.clone()).unwrap();
    let kept = store.append(&coord(1), KINDS[0], &"kept").unwrap();
    sim.arm(FaultKind::FailSync, 1);
    let err = store.append(&coord(1), KINDS[0], &"unsynced").unwrap_err();
    assert!(
        matches!(err, StoreError::WriterFailed { .. }),
        "got {err:?}"
    );
    assert_fail_stopped(&store, &coord(9), KINDS[0]);
    sim.crash();
    drop(store);
    let store = Store::open(cfg).unwrap();
    assert!(store.verify_append_receipt(&kept).is_valid());
    assert_eq!(store.len(), 1);
}

#[test]
fn failed_rotation_steps_are_typed_errors_and_stop_the_writer() {
    let big = "r".repeat(ROTATING_PAYLOAD_LEN);
    // Dry run on an honest disk: record the operations of the rotating append.
    let trace = rotation_trace(15, "/sim/rotation", &coord(2), KINDS[0], &big);
    let find = |op: OpClass, file: &str| {
        trace
            .iter()
            .find(|t| t.op == op && t.path.ends_with(file))
            .unwrap_or_else(|| panic!("no {op} on {file} in the rotation: {trace:?}"))
            .nth
    };
    let create = trace
        .iter()
        .position(|t| t.op == OpClass::Create && t.path.ends_with(segment_file_name(2)))
        .expect("the rotation creates segment 2");
    let dir_sync = trace[create..]
        .iter()
        .find(|t| t.op == OpClass::SyncDir)
        .expect("the new segment's directory entry is synced")
        .nth;
    // A rotation: footer write + fsync, create, header write + fsync, directory fsync.
    let steps = [
        (
            FaultKind::FailWrite,
            find(OpClass::Write, &segment_file_name(1)),
            "footer write",
        ),
        (
            FaultKind::TornWrite,
            find(OpClass::Write, &segment_file_name(1)),
            "torn footer write",
        ),
        (
            FaultKind::FailSync,
            find(OpClass::Sync, &segment_file_name(1)),
            "footer fsync",
        ),
        (
            FaultKind::FailCreate,
            find(OpClass::Create, &segment_file_name(2)),
            "create",
        ),
        (
            FaultKind::FailWrite,
            find(OpClass::Write, &segment_file_name(2)),
            "header write",
        ),
        (
            FaultKind::FailSync,
            find(OpClass::Sync, &segment_file_name(2)),
            "header fsync",
        ),
        (FaultKind::FailSyncDir, dir_sync, "directory fsync"),
    ];
    for (kind, nth, step) in steps {
        let sim = SimFs::with_plan(FaultPlan::none(15).with_fault(kind, nth));
        let cfg = sim_small_segments(&sim, "/sim/rotation");
        let store = Store::open(cfg.clone()).unwrap();
        let kept = fill_first_segment(&store, &coord(2), KINDS[0], &big);
        let err = store.append(&coord(2), KINDS[0], &big).unwrap_err();
        assert_eq!(sim.fired().len(), 1, "{step}: the fault fired");
        assert!(
            matches!(err, StoreError::Io { .. } | StoreError::WriterFailed { .. }),
            "{step}: expected a typed error, got {err:?}"
        );
        assert_fail_stopped(&store, &coord(9), KINDS[0]);
        sim.crash();
        drop(store);
        let store = Store::open(cfg).unwrap();
        for r in &kept {
            assert!(
                store.verify_append_receipt(r).is_valid(),
                "{step}: lost {r:?}"
            );
        }
        let r = store.append(&coord(2), KINDS[0], &big).unwrap();
        assert!(store.verify_append_receipt(&r).is_valid(), "{step}");
        assert!(store.verify_chain().unwrap().is_intact(), "{step}");
    }
}

#[test]
fn a_failed_sidecar_rename_costs_only_a_rebuild_of_the_keys() {
    // The idempotency sidecar is published with temp file, fsync, rename,
    // directory fsync. It is a cache of keys the log holds anyway, so a
    // failed rename must neither fail the close nor lose a key.
    let workload = |store: &Store| -> Vec<AppendReceipt> {
        (0..6u8)
            .map(|n| {
                let opts = AppendOptions::default().with_idempotency_key(idempotency_key(n));
                store
                    .append_with_options(&coord(6), KINDS[0], &n, opts)
                    .unwrap()
            })
            .collect()
    };
    let dry = SimFs::with_plan(FaultPlan::none(23));
    let s = Store::open(sim_small_segments(&dry, "/sim/sidecar")).unwrap();
    workload(&s);
    dry.start_trace();
    s.close().unwrap();
    let rename = dry
        .take_trace()
        .into_iter()
        .find(|t| t.op == OpClass::Rename)
        .expect("close publishes the sidecar with a rename")
        .nth;

    let sim = SimFs::with_plan(FaultPlan::none(23).with_fault(FaultKind::FailRename, rename));
    let cfg = sim_small_segments(&sim, "/sim/sidecar");
    let store = Store::open(cfg.clone()).unwrap();
    let receipts = workload(&store);
    store
        .close()
        .expect("a sidecar that could not be published does not fail the close");
    assert_eq!(sim.fired().len(), 1, "the rename failed");
    sim.crash();
    let store = Store::open(cfg).unwrap();
    for (n, r) in receipts.iter().enumerate() {
        let opts = AppendOptions::default().with_idempotency_key(idempotency_key(n as u8));
        let again = store
            .append_with_options(&coord(6), KINDS[0], &(n as u8), opts)
            .unwrap();
        assert_eq!(again.event_id, r.event_id, "key {n} still deduplicates");
    }
    assert_eq!(store.len(), 6, "no retry wrote a second event");
}

#[test]
fn disk_full_is_a_typed_error_and_stops_the_writer() {
    let sim = SimFs::with_plan(FaultPlan::none(16));
    let cfg = sim_small_segments(&sim, "/sim/full");
    let store = Store::open(cfg.clone()).unwrap();
    let kept = store.append(&coord(3), KINDS[0], &"fits").unwrap();
    let dir = std::path::Path::new("/sim/full");
    let used: u64 = sim
        .live_files(dir)
        .iter()
        .filter_map(|n| sim.file_lens(&dir.join(n)))
        .map(|(live, _)| live)
        .sum();
    // A little room: appends go on until the files must grow past it.
    sim.set_disk_budget(Some(used + 20));
    let mut acked = vec![kept];
    let err = loop {
        match store.append(&coord(3), KINDS[0], &"x".repeat(200)) {
            Ok(r) => {
                assert!(acked.len() < 200, "the disk never filled up");
                acked.push(r);
            }
            Err(e) => break e,
        }
    };
    assert!(
        sim.fired().iter().any(|f| f.kind.is_none()),
        "the disk budget refused a write"
    );
    let mentions_enospc = match &err {
        StoreError::WriterFailed { cause } => {
            cause.io_kind() == Some(std::io::ErrorKind::StorageFull)
                || cause.to_string().contains("ENOSPC")
        }
        StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
        _ => false,
    };
    assert!(
        mentions_enospc,
        "the error must carry the disk-full cause, got {err:?}"
    );
    assert_fail_stopped(&store, &coord(9), KINDS[0]);
    sim.crash();
    drop(store);
    sim.set_disk_budget(None);
    let store = Store::open(cfg).unwrap();
    for r in &acked {
        assert!(store.verify_append_receipt(r).is_valid(), "lost {r:?}");
    }
    assert!(store.verify_chain().unwrap().is_intact());
    store.append(&coord(3), KINDS[0], &"room again").unwrap();
}

#[test]
fn read_errors_are_typed_and_the_store_keeps_working() {
    let sim = SimFs::with_plan(FaultPlan::none(17));
    let cfg = sim_small_segments(&sim, "/sim/read-error");
    let store = Store::open(cfg).unwrap();
    let r = store.append(&coord(4), KINDS[0], &"readable").unwrap();
    sim.arm(FaultKind::FailRead, 1);
    let err = store.get(r.event_id).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "got {err:?}");
    assert_eq!(store.get(r.event_id).unwrap().event.payload, "readable");
    let r2 = store
        .append(&coord(4), KINDS[0], &"still writable")
        .unwrap();
    assert!(store.verify_append_receipt(&r2).is_valid());
}

#[test]
fn short_reads_are_completed() {
    let sim = SimFs::with_plan(FaultPlan::none(18));
    let cfg = sim_small_segments(&sim, "/sim/short-read");
    let store = Store::open(cfg.clone()).unwrap();
    let receipts: Vec<AppendReceipt> = (0..40)
        .map(|n| {
            store
                .append(&coord(n % 3), KINDS[0], &"s".repeat(n as usize * 10))
                .unwrap()
        })
        .collect();
    store.close().unwrap();
    sim.set_short_reads(true);
    sim.arm(FaultKind::ShortRead, 1);
    let store = Store::open(cfg).unwrap();
    assert_eq!(store.len(), 40);
    for (n, r) in receipts.iter().enumerate() {
        let ev = store.get(r.event_id).unwrap();
        assert_eq!(ev.event.payload, serde_json::json!("s".repeat(n * 10)));
        assert!(store.verify_append_receipt(r).is_valid());
    }
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn a_torn_tail_left_by_a_crash_is_cut_at_reopen() {
    for keep_frac in [1u64, 2, 3, 5, 7] {
        let sim = SimFs::with_plan(FaultPlan::none(19));
        let cfg = sim_small_segments(&sim, "/sim/torn")
            .with_segment_max_bytes(1 << 20)
            .with_sync_mode(SyncMode::OsBuffered);
        let store = Store::open(cfg.clone()).unwrap();
        let durable: Vec<AppendReceipt> = (0..4)
            .map(|n| store.append(&coord(5), KINDS[0], &n).unwrap())
            .collect();
        store.sync().unwrap();
        for n in 0..4 {
            store.append(&coord(5), KINDS[0], &(100 + n)).unwrap();
        }
        // Keep a part of the unsynced frames that ends inside a frame.
        let report = sim.crash_with(|_, unsynced| unsynced * keep_frac / 8 + 1);
        assert!(!report.torn.is_empty());
        drop(store);
        let store = Store::open(cfg).unwrap();
        for r in &durable {
            assert!(store.verify_append_receipt(r).is_valid());
        }
        assert!(
            store.len() >= 4 && store.len() < 8,
            "the torn frame was cut"
        );
        for e in store.query(&Region::all()) {
            store.read_raw(e.event_id()).unwrap();
        }
        assert!(store.verify_chain().unwrap().is_intact());
        let r = store.append(&coord(5), KINDS[0], &"next").unwrap();
        assert!(store.verify_append_receipt(&r).is_valid());
    }
}

#[test]
fn a_batch_torn_by_a_crash_disappears_whole() {
    for eighths in 1..8u64 {
        let sim = SimFs::with_plan(FaultPlan::none(24));
        let cfg = sim_small_segments(&sim, "/sim/torn-batch")
            .with_segment_max_bytes(1 << 20)
            .with_sync_mode(SyncMode::OsBuffered);
        let store = Store::open(cfg.clone()).unwrap();
        let before = store.append(&coord(7), KINDS[0], &"synced").unwrap();
        store.sync().unwrap();
        let items = (0..5)
            .map(|i| {
                BatchAppendItem::new(
                    coord(7 + i % 2),
                    KINDS[1],
                    &i,
                    AppendOptions::default(),
                    CausationRef::None,
                )
                .unwrap()
            })
            .collect();
        let batch = store.append_batch(items).unwrap();
        // Keep whole frames of the batch and part of the next: never all of it.
        sim.crash_with(|_, unsynced| unsynced * eighths / 8);
        drop(store);
        let store = Store::open(cfg).unwrap();
        let present = batch
            .iter()
            .filter(|r| store.entry(r.event_id).is_some())
            .count();
        assert_eq!(
            present, 0,
            "cut at {eighths}/8: {present} of 5 batch items survived"
        );
        assert!(store.verify_append_receipt(&before).is_valid());
        assert!(store.verify_chain().unwrap().is_intact());
    }
}

#[test]
fn a_dropped_fsync_loses_acknowledged_data_and_the_oracle_notices() {
    // A disk that lies about fsync cannot be detected by the store. This test
    // proves the oracle has teeth: the workloads pass on an honest disk and
    // every one of them fails on a disk that drops every fsync.
    let mut gone = 0;
    for seed in 0..12 {
        let honest = run_workload(seed, FaultPlan::none(seed), SyncMode::EveryGroup, false);
        assert!(honest.is_ok(), "honest disk: {}", honest.unwrap_err());
        let plan = FaultPlan::none(seed).with_faults(FaultKind::DropSync, 1, u64::MAX / 2);
        let report = run_workload(seed, plan, SyncMode::EveryGroup, false)
            .expect_err("the oracle must detect what the dropped fsyncs lost");
        // What the lie costs depends on the fsync: acknowledged events vanish,
        // or a segment whose header never reached the disk makes the store
        // refuse to open. Either way the oracle must say so.
        assert!(
            report.contains("gone after the crash") || report.contains("open failed"),
            "unexpected report:\n{report}"
        );
        gone += usize::from(report.contains("gone after the crash"));
        assert!(
            report.contains(&format!("replay: BATPAK_SEED={seed} ")),
            "the report names the replay command"
        );
    }
    assert!(gone > 0, "some run shows acknowledged appends vanishing");
}

#[test]
fn a_dropped_directory_fsync_loses_a_segment_and_the_oracle_notices() {
    let seed = 22;
    let plan = FaultPlan::none(seed).with_faults(FaultKind::DropSyncDir, 1, u64::MAX / 2);
    let report = run_workload(seed, plan, SyncMode::EveryGroup, false)
        .expect_err("a segment whose directory entry never became durable is lost");
    assert!(
        report.contains("gone after the crash"),
        "unexpected report:\n{report}"
    );
}

// ---------------------------------------------------------------------------
// SyncMode promises (see the table on `SyncMode`).
// ---------------------------------------------------------------------------

#[test]
fn os_buffered_may_lose_volatile_receipts_but_never_durable_ones() {
    let sim = SimFs::with_plan(FaultPlan::none(31));
    let cfg = sim_small_segments(&sim, "/sim/os-buffered")
        .with_sync_mode(SyncMode::OsBuffered)
        .with_segment_max_bytes(1 << 20);
    let store = Store::open(cfg.clone()).unwrap();
    let mut durable = Vec::new();
    let mut volatile = Vec::new();
    for n in 0..30u32 {
        let r = store.append(&coord(n % 4), KINDS[0], &n).unwrap();
        assert!(!r.durable, "OsBuffered acknowledges before any fsync");
        volatile.push(r);
        if n % 10 == 9 {
            store.sync().unwrap();
            // Everything acknowledged before a successful sync is durable now.
            durable.append(&mut volatile);
        }
    }
    let tail: Vec<AppendReceipt> = (0..5)
        .map(|n| store.append(&coord(n % 4), KINDS[0], &(1000 + n)).unwrap())
        .collect();
    sim.crash();
    drop(store);
    let store = Store::open(cfg).unwrap();
    for r in &durable {
        assert!(
            store.verify_append_receipt(r).is_valid(),
            "synced append lost: {r:?}"
        );
    }
    let lost = tail
        .iter()
        .filter(|r| !store.verify_append_receipt(r).is_valid())
        .count();
    assert_eq!(
        lost,
        tail.len(),
        "a clean crash drops every unsynced append under OsBuffered"
    );
    assert_eq!(store.len(), 30);
    assert!(store.verify_chain().unwrap().is_intact());
}

#[test]
fn every_group_loses_nothing_acknowledged() {
    for torn in [false, true] {
        let sim = SimFs::with_plan(FaultPlan::none(32).with_torn_crash(torn));
        let cfg = sim_small_segments(&sim, "/sim/every-group");
        let store = Store::open(cfg.clone()).unwrap();
        let receipts: Vec<AppendReceipt> = (0..60u32)
            .map(|n| {
                store
                    .append(
                        &coord(n % 4),
                        KINDS[n as usize % 2],
                        &"e".repeat(n as usize * 7),
                    )
                    .unwrap()
            })
            .collect();
        assert!(receipts.iter().all(|r| r.durable));
        sim.crash();
        drop(store);
        let store = Store::open(cfg).unwrap();
        assert_eq!(store.len(), 60);
        for r in &receipts {
            assert!(store.verify_append_receipt(r).is_valid());
        }
        assert!(store.verify_chain().unwrap().is_intact());
    }
}
