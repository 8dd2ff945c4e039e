//! The three benchmarks of `crates/syncbat/benches/runtime.rs`, with the
//! same names and criterion settings, against the published syncbat 0.10.
//! `run.sh` runs both and prints the ratios.
//!
//! The stores differ where the releases do: ours is `SyncMode::OsBuffered`;
//! batpak 0.10 has no such mode and runs with its default of one fsync per
//! 1000 events.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parking_lot::Mutex;

const INPUT: [u8; 4] = [0x81, 0xa1, b'n', 0x01];

mod published {
    use super::*;
    use batpak010::coordinate::Coordinate;
    use batpak010::event::EventKind;
    use batpak010::store::{Store, StoreConfig};
    use syncbat010::{
        append_target, Core, Ctx, EffectClass, HandlerError, HandlerResult, OperationDescriptor,
        OperationEffectRow, ReceiptEnvelope, ReceiptSink, ReceiptSinkError, RecordedReceipt,
        StoreEffectBackend, StoreReceiptSink,
    };

    const NOOP: OperationDescriptor = OperationDescriptor::new(
        "noop",
        EffectClass::Compute,
        "noop.in",
        "noop.out",
        "receipt.noop.v1",
    );
    const DEPOSITED: EventKind = EventKind::custom(0xE, 1);

    fn noop(_: &[u8], _: &mut Ctx<'_>) -> HandlerResult {
        Ok(Vec::new())
    }

    fn deposit(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
        cx.event_append_handle()
            .append_event(DEPOSITED, input)
            .map_err(|e| HandlerError::failed(e.to_string()))?;
        Ok(b"ok".to_vec())
    }

    #[derive(Default)]
    struct LastReceipt(Mutex<Option<ReceiptEnvelope>>);
    impl ReceiptSink for LastReceipt {
        fn record_receipt(&self, e: &ReceiptEnvelope) -> Result<RecordedReceipt, ReceiptSinkError> {
            *self.0.lock() = Some(e.clone());
            Ok(RecordedReceipt::new(e.clone()))
        }
    }

    pub fn noop_bare() -> impl FnMut() {
        let mut b = Core::builder();
        b.register(NOOP, noop).unwrap();
        b.without_receipts();
        let mut core = b.build().unwrap();
        move || {
            black_box(core.invoke("noop", INPUT.to_vec()).unwrap());
        }
    }

    pub fn noop_hashed() -> impl FnMut() {
        let mut b = Core::builder();
        b.register(NOOP, noop).unwrap();
        b.receipt_sink(LastReceipt::default());
        let mut core = b.build().unwrap();
        move || {
            black_box(core.invoke("noop", INPUT.to_vec()).unwrap());
        }
    }

    pub fn deposit_store(dir: &std::path::Path) -> impl FnMut() {
        let store = Arc::new(Store::open(StoreConfig::new(dir)).unwrap());
        let d = OperationDescriptor::new(
            "bank.deposit",
            EffectClass::Persist,
            "bank.deposit.request",
            "bank.deposit.ack",
            "receipt.bank.deposit.v1",
        )
        .with_effect_row(OperationEffectRow::new().appends_event(append_target(DEPOSITED)));
        let mut b = Core::builder();
        b.register(d, deposit).unwrap();
        b.effect_backend(StoreEffectBackend::new(
            store.clone(),
            Coordinate::new("bank:ops", "bank").unwrap(),
        ));
        b.receipt_sink(StoreReceiptSink::new(
            store,
            Coordinate::new("syncbat:receipts", "bank").unwrap(),
        ));
        let mut core = b.build().unwrap();
        move || {
            black_box(core.invoke("bank.deposit", INPUT.to_vec()).unwrap());
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("runtime");
    g.throughput(Throughput::Elements(1));
    g.bench_function("noop_without_receipts", |b| b.iter(published::noop_bare()));
    g.bench_function("noop_blake3_memory_sink", |b| {
        b.iter(published::noop_hashed())
    });
    g.bench_function("bank_deposit_store_sink_osbuffered", |b| {
        b.iter(published::deposit_store(dir.path()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
