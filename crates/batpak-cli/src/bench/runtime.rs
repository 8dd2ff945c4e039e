//! The `runtime` section: what one call through the syncbat operation runtime
//! costs, from a bare no-op to an operation that appends an event and stores
//! its receipt in the same store.
//!
//! | id | call | target |
//! |----|------|--------|
//! | R1 | no-op handler, `CoreBuilder::without_receipts()` | ≤ 1 µs per call |
//! | R2 | no-op handler, blake3 receipts to an in-memory sink | ≤ 2 µs per call |
//! | R3 | `bank.deposit` (Persist, one append) with `StoreReceiptSink`, `SyncMode::OsBuffered` | none: calls per second |
//!
//! Every call hands `Core::invoke` a freshly allocated input, as a caller
//! that owns its request does. R1 and R2 send the 4-byte MessagePack map
//! `{"n": 1}`; R3 sends the ~100-byte bench payloads, so it appends what W1
//! appends, plus one receipt event per call.

use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use batpak::{Coordinate, Store, StoreConfig, SyncMode};
use serde::Serialize;
use syncbat::{
    Core, Ctx, EffectClass, HandlerResult, OperationDescriptor, OperationEffectRow,
    ReceiptEnvelope, ReceiptSink, RecordedReceipt, SinkError, StoreEffectBackend, StoreReceiptSink,
};

use super::workload::{self, BenchPayload, KIND, SCOPE};
use super::{temp_dir, Tick, TICK};
use crate::error::CliError;
use crate::progress::Progress;
use crate::table::{human_number, Align, Table};

/// Target of R1, nanoseconds per call.
const NOOP_TARGET_NS: f64 = 1_000.0;
/// Target of R2, nanoseconds per call.
const RECEIPT_TARGET_NS: f64 = 2_000.0;
/// The input of the no-op calls: MessagePack `{"n": 1}`.
const NOOP_INPUT: [u8; 4] = [0x81, 0xa1, b'n', 0x01];
/// Distinct R3 inputs, cycled (one per entity of the store workloads).
const DEPOSIT_INPUTS: usize = workload::ENTITIES;

const NOOP: OperationDescriptor = OperationDescriptor::new(
    "bench.noop",
    EffectClass::Compute,
    "bench.noop.request",
    "bench.noop.ack",
    "receipt.bench.noop.v1",
);

fn noop(_input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult {
    Ok(Vec::new())
}

fn deposit(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
    let appended = cx.event_append_handle().append_event(KIND, input)?;
    Ok(appended.event_id.to_string().into_bytes())
}

/// An in-memory receipt sink that keeps only the last receipt, so memory
/// stays flat however many calls run.
#[derive(Default)]
struct LastReceipt(Mutex<Option<ReceiptEnvelope>>);

impl LastReceipt {
    fn has_receipt(&self) -> bool {
        // A panic while holding this lock cannot leave the option half-written.
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

impl ReceiptSink for LastReceipt {
    fn record_receipt(&self, envelope: &ReceiptEnvelope) -> Result<RecordedReceipt, SinkError> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(envelope.clone());
        Ok(RecordedReceipt::new(envelope.clone()))
    }
}

/// Lets the core and the check after the run share one sink.
struct Shared(Arc<LastReceipt>);

impl ReceiptSink for Shared {
    fn record_receipt(&self, envelope: &ReceiptEnvelope) -> Result<RecordedReceipt, SinkError> {
        self.0.record_receipt(envelope)
    }
}

/// One runtime case: calls made, time taken, and the target if it has one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuntimeResult {
    /// `R1`, `R2` or `R3`.
    pub workload: &'static str,
    /// What one call does.
    pub what: &'static str,
    /// Calls measured.
    pub calls: u64,
    /// Seconds the calls took.
    pub seconds: f64,
    /// Mean nanoseconds per call.
    pub ns_per_call: f64,
    /// Calls per second.
    pub calls_per_sec: f64,
    /// The target in words (`none` for R3).
    pub target: String,
    /// Whether the target was met; `None` without a target.
    pub met: Option<bool>,
}

impl RuntimeResult {
    fn new(workload: &'static str, what: &'static str, calls: u64, seconds: f64) -> Self {
        // A clock too coarse to see the work must not divide by zero.
        let seconds = seconds.max(1e-9);
        Self {
            workload,
            what,
            calls,
            seconds,
            ns_per_call: seconds * 1e9 / calls.max(1) as f64,
            calls_per_sec: calls as f64 / seconds,
            target: "none".into(),
            met: None,
        }
    }

    fn with_target_ns(mut self, max_ns: f64) -> Self {
        self.target = format!("<= {max_ns:.0} ns/call");
        self.met = Some(self.ns_per_call <= max_ns);
        self
    }
}

/// Invokes `op` `calls` times with `input(i)` for call `i`; returns seconds.
fn time_calls(
    core: &Core,
    op: &str,
    calls: u64,
    input: impl Fn(u64) -> Vec<u8>,
    tick: &Tick<'_>,
) -> Result<f64, CliError> {
    let started = Instant::now();
    let mut done = 0;
    while done < calls {
        let chunk = (calls - done).min(TICK as u64);
        for i in done..done + chunk {
            black_box(core.invoke(op, input(i))?);
        }
        done += chunk;
        tick.add(chunk);
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Runs R1, R2 and R3 with `calls` calls each; R3's store lives in a
/// temporary directory under `parent`.
pub(crate) fn run(
    calls: u64,
    parent: &Path,
    progress: &dyn Progress,
) -> Result<Vec<RuntimeResult>, CliError> {
    let mut out = Vec::with_capacity(3);

    let mut b = Core::builder();
    b.register(NOOP, noop)?.without_receipts();
    let bare = b.build()?;
    let tick = Tick::begin(progress, "R1 no-op calls, no receipts", calls);
    let s = time_calls(&bare, NOOP.name(), calls, |_| NOOP_INPUT.to_vec(), &tick)?;
    tick.end();
    out.push(
        RuntimeResult::new("R1", "no-op handler, without_receipts()", calls, s)
            .with_target_ns(NOOP_TARGET_NS),
    );

    let sink = Arc::new(LastReceipt::default());
    let mut b = Core::builder();
    b.register(NOOP, noop)?.receipt_sink(Shared(sink.clone()));
    let hashed = b.build()?;
    let tick = Tick::begin(progress, "R2 no-op calls, blake3 receipts", calls);
    let s = time_calls(&hashed, NOOP.name(), calls, |_| NOOP_INPUT.to_vec(), &tick)?;
    tick.end();
    if !sink.has_receipt() {
        return Err(CliError::BenchCheck {
            what: "R2 recorded no receipt".into(),
        });
    }
    out.push(
        RuntimeResult::new(
            "R2",
            "no-op handler, blake3 receipts, memory sink",
            calls,
            s,
        )
        .with_target_ns(RECEIPT_TARGET_NS),
    );

    let dir = temp_dir(parent, "runtime-deposit")?;
    let store = Arc::new(Store::open(
        StoreConfig::new(dir.path()).with_sync_mode(SyncMode::OsBuffered),
    )?);
    let deposit_op = OperationDescriptor::new(
        "bank.deposit",
        EffectClass::Persist,
        "bank.deposit.request",
        "bank.deposit.ack",
        "receipt.bank.deposit.v1",
    )
    .with_effect_row(OperationEffectRow::new().appends_event(KIND));
    let mut b = Core::builder();
    b.register(deposit_op, deposit)?;
    b.effect_backend(StoreEffectBackend::new(
        store.clone(),
        Coordinate::new("bank:ops", SCOPE)?,
    ));
    b.receipt_sink(StoreReceiptSink::new(
        store.clone(),
        Coordinate::new("syncbat:receipts", SCOPE)?,
    ));
    let bank = b.build()?;
    let inputs = (0..DEPOSIT_INPUTS)
        .map(|i| workload::encode(&BenchPayload::nth(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let tick = Tick::begin(progress, "R3 bank.deposit, store receipts", calls);
    let s = time_calls(
        &bank,
        "bank.deposit",
        calls,
        |i| inputs[(i % DEPOSIT_INPUTS as u64) as usize].clone(),
        &tick,
    )?;
    tick.end();
    drop(bank);
    // Each call appends its event and its receipt event.
    let stored = store.len();
    if stored != 2 * calls {
        return Err(CliError::BenchCheck {
            what: format!("R3 stored {stored} events, expected {}", 2 * calls),
        });
    }
    match Arc::try_unwrap(store) {
        Ok(store) => store.close()?,
        Err(_) => {
            return Err(CliError::BenchCheck {
                what: "R3 store still shared after the run".into(),
            })
        }
    }
    out.push(RuntimeResult::new(
        "R3",
        "bank.deposit: one append + store receipt, OsBuffered",
        calls,
        s,
    ));
    Ok(out)
}

/// The runtime rows as a table, or nothing when the section did not run.
pub(crate) fn render(rows: &[RuntimeResult], out: &mut String) {
    if rows.is_empty() {
        return;
    }
    let calls = rows.first().map_or(0, |r| r.calls);
    out.push_str(&format!(
        "\nruntime: syncbat Core::invoke, {} calls per row, one thread\n",
        human_number(calls as f64, 0)
    ));
    let mut t = Table::new(&[
        ("workload", Align::Left),
        ("what", Align::Left),
        ("per call", Align::Right),
        ("calls/s", Align::Right),
        ("target", Align::Left),
        ("met", Align::Left),
    ]);
    for r in rows {
        t.row(vec![
            r.workload.to_owned(),
            r.what.to_owned(),
            format!("{} ns", human_number(r.ns_per_call, 0)),
            human_number(r.calls_per_sec, 0),
            r.target.clone(),
            match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            }
            .into(),
        ]);
    }
    out.push_str(&t.render());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn every_case_runs_and_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let rows = run(300, tmp.path(), &NoProgress).unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r.workload).collect();
        assert_eq!(ids, ["R1", "R2", "R3"]);
        for r in &rows {
            assert_eq!(r.calls, 300);
            assert!(r.ns_per_call > 0.0 && r.calls_per_sec > 0.0, "{r:?}");
        }
        assert!(rows[0].met.is_some() && rows[1].met.is_some());
        assert_eq!(rows[2].met, None);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn targets_compare_nanoseconds_per_call() {
        let fast = RuntimeResult::new("R1", "x", 1_000, 0.000_5).with_target_ns(1_000.0);
        assert_eq!(fast.met, Some(true));
        assert!((fast.ns_per_call - 500.0).abs() < 1e-6);
        let slow = RuntimeResult::new("R1", "x", 1_000, 0.002).with_target_ns(1_000.0);
        assert_eq!(slow.met, Some(false));
        assert_eq!(slow.target, "<= 1000 ns/call");
    }
}
