//! Per-call overhead of the runtime: a no-op handler without receipts, the
//! same with blake3 receipts to an in-memory sink, and `bank.deposit`
//! through a `StoreReceiptSink` on an `OsBuffered` store.
//!
//! The side-by-side run against the published syncbat 0.10 lives in
//! `crates/syncbat/compare010` (its own workspace: the published crate's
//! dependencies do not resolve beside this workspace's).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use batpak::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parking_lot::Mutex;
use syncbat::{
    Core, Ctx, EffectClass, HandlerResult, OperationDescriptor, OperationEffectRow,
    ReceiptEnvelope, ReceiptSink, RecordedReceipt, SinkError, StoreEffectBackend, StoreReceiptSink,
};

const NOOP: OperationDescriptor = OperationDescriptor::new(
    "noop",
    EffectClass::Compute,
    "noop.in",
    "noop.out",
    "receipt.noop.v1",
);
const DEPOSITED: EventKind = EventKind::custom(0xE, 1);
const INPUT: [u8; 4] = [0x81, 0xa1, b'n', 0x01];

fn noop(_input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult {
    Ok(Vec::new())
}

fn deposit(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
    let e = cx.event_append_handle().append_event(DEPOSITED, input)?;
    Ok(e.event_id.to_string().into_bytes())
}

/// An in-memory sink that keeps the last receipt (memory stays flat over
/// millions of iterations).
#[derive(Default)]
struct LastReceipt(Mutex<Option<ReceiptEnvelope>>);

impl ReceiptSink for LastReceipt {
    fn record_receipt(&self, envelope: &ReceiptEnvelope) -> Result<RecordedReceipt, SinkError> {
        *self.0.lock() = Some(envelope.clone());
        Ok(RecordedReceipt::new(envelope.clone()))
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("runtime");
    g.throughput(Throughput::Elements(1));

    let mut b = Core::builder();
    b.register(NOOP, noop).unwrap().without_receipts();
    let bare = b.build().unwrap();
    g.bench_function("noop_without_receipts", |bench| {
        bench.iter(|| black_box(bare.invoke("noop", INPUT.to_vec()).unwrap()))
    });

    let mut b = Core::builder();
    b.register(NOOP, noop)
        .unwrap()
        .receipt_sink(LastReceipt::default());
    let hashed = b.build().unwrap();
    g.bench_function("noop_blake3_memory_sink", |bench| {
        bench.iter(|| black_box(hashed.invoke("noop", INPUT.to_vec()).unwrap()))
    });

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::open(StoreConfig::new(dir.path()).with_sync_mode(SyncMode::OsBuffered)).unwrap(),
    );
    let mut b = Core::builder();
    let d = OperationDescriptor::new(
        "bank.deposit",
        EffectClass::Persist,
        "bank.deposit.request",
        "bank.deposit.ack",
        "receipt.bank.deposit.v1",
    )
    .with_effect_row(OperationEffectRow::new().appends_event(DEPOSITED));
    b.register(d, deposit).unwrap();
    b.effect_backend(StoreEffectBackend::new(
        store.clone(),
        Coordinate::new("bank:ops", "bank").unwrap(),
    ));
    b.receipt_sink(StoreReceiptSink::new(
        store.clone(),
        Coordinate::new("syncbat:receipts", "bank").unwrap(),
    ));
    let bank = b.build().unwrap();
    g.bench_function("bank_deposit_store_sink_osbuffered", |bench| {
        bench.iter(|| black_box(bank.invoke("bank.deposit", INPUT.to_vec()).unwrap()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
