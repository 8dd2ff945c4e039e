//! The store-backed backend and sinks: receipts as events that survive
//! reopen and verify, status facts, denied calls that leave nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use batpak::prelude::*;
use syncbat::{
    codes, read_receipt, read_receipts, status_coordinate, to_msgpack, Core, Ctx, EffectClass,
    EffectError, HandlerResult, OperationDescriptor, OperationEffectRow, OperationStatus,
    OperationStatusFact, ReadRequest, ReceiptEnvelope, StoreEffectBackend,
    StoreOperationStatusSink, StoreReceiptSink, RECEIPT_EVENT_KIND, STATUS_EVENT_KIND,
};

const DEPOSITED: EventKind = EventKind::custom(0xE, 1);
const OTHER: EventKind = EventKind::custom(0xE, 2);

fn deposit_descriptor() -> OperationDescriptor {
    OperationDescriptor::new(
        "bank.deposit",
        EffectClass::Persist,
        "bank.deposit.request",
        "bank.deposit.ack",
        "receipt.bank.deposit.v1",
    )
    .with_effect_row(
        OperationEffectRow::new()
            .appends_event(DEPOSITED)
            .reads_event(DEPOSITED),
    )
}

fn deposit(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
    let receipt = cx.event_append_handle().append_event(DEPOSITED, input)?;
    Ok(receipt.event_id.to_string().into_bytes())
}

fn core_over(store: &Arc<Store>) -> Core {
    let mut b = Core::builder();
    b.register(deposit_descriptor(), deposit).unwrap();
    b.register(
        OperationDescriptor::new(
            "bank.sneaky",
            EffectClass::Persist,
            "i",
            "o",
            "receipt.bank.sneaky.v1",
        )
        .with_effect_row(OperationEffectRow::new().appends_event(DEPOSITED)),
        |input: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
            let _ignored = cx.event_append_handle().append_event(OTHER, input);
            Ok(b"done".to_vec())
        },
    )
    .unwrap();
    b.register(
        OperationDescriptor::new(
            "bank.to",
            EffectClass::Persist,
            "i",
            "o",
            "receipt.bank.to.v1",
        )
        .with_effect_row(OperationEffectRow::new().appends_event(DEPOSITED)),
        |input: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
            let acct = Coordinate::new("acct:7", "bank")
                .map_err(|e| syncbat::HandlerError::failed(e.to_string()))?;
            cx.event_append_handle()
                .append_event_to(&acct, DEPOSITED, input)?;
            let wrong = cx
                .event_append_handle()
                .append_event_to(&acct, OTHER, input);
            assert!(matches!(wrong, Err(EffectError::Undeclared { .. })));
            Ok(vec![])
        },
    )
    .unwrap();
    b.effect_backend(StoreEffectBackend::new(
        store.clone(),
        Coordinate::new("bank:ops", "bank").unwrap(),
    ));
    b.receipt_sink(StoreReceiptSink::new(
        store.clone(),
        Coordinate::new("syncbat:receipts", "bank").unwrap(),
    ));
    b.status_sink(StoreOperationStatusSink::new(store.clone()));
    b.build().unwrap()
}

#[test]
fn receipts_are_events_that_survive_reopen_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let cfg = || StoreConfig::new(dir.path()).with_signing_key(key.clone());
    let store = Arc::new(Store::open(cfg()).unwrap());
    let core = core_over(&store);
    let input = to_msgpack(&serde_json::json!({"n": 1})).unwrap();
    let r = core.invoke("bank.deposit", input.clone()).unwrap();
    let recorded = r.recorded_receipt().unwrap();
    let store_receipt = recorded.store_receipt.clone().unwrap();
    assert!(
        store_receipt.signature.is_some(),
        "the store signs, so the receipt is signed"
    );
    assert!(store.verify_append_receipt(&store_receipt).is_valid());
    let appended = &r.effects()[0];
    let ev = store.get(appended.event_id.unwrap()).unwrap();
    assert_eq!(ev.event.payload["n"], 1);
    assert_eq!(ev.coordinate.entity(), "bank:ops");
    assert_eq!(
        String::from_utf8(r.output().to_vec()).unwrap(),
        appended.event_id.unwrap().to_string()
    );

    drop(core);
    let store = Arc::into_inner(store).unwrap();
    store.close().unwrap();
    let reopened = Store::open(cfg()).unwrap();
    let back = read_receipt(reopened.reader(), store_receipt.event_id).unwrap();
    assert_eq!(back, recorded.envelope);
    assert_eq!(back.input_hash, Some(*blake3::hash(&input).as_bytes()));
    assert_eq!(back.output_hash, Some(*blake3::hash(r.output()).as_bytes()));
    assert!(reopened.verify_chain().unwrap().is_intact());
    assert!(reopened.verify_append_receipt(&store_receipt).is_valid());
    assert_eq!(
        reopened.entry(store_receipt.event_id).map(|e| e.kind()),
        Some(RECEIPT_EVENT_KIND)
    );
    let all = read_receipts(reopened.reader(), &Region::entity("syncbat:receipts")).unwrap();
    assert_eq!(all, [back]);
}

#[test]
fn a_denied_call_leaves_nothing_but_its_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let core = core_over(&store);
    let before = store.query(&Region::entity("bank:ops")).len();
    let err = core
        .invoke("bank.sneaky", to_msgpack(&1u8).unwrap())
        .unwrap_err();
    assert_eq!(err.outcome_code(), Some(codes::EFFECT_VIOLATION));
    assert_eq!(store.query(&Region::entity("bank:ops")).len(), before);
    assert!(store.by_fact(OTHER).is_empty());
    let receipts = read_receipts(store.reader(), &Region::all()).unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].outcome.class(), "denied");
    let statuses: Vec<OperationStatus> = store
        .query(&Region::entity(
            status_coordinate("bank.sneaky").unwrap().entity(),
        ))
        .iter()
        .map(|e| {
            store
                .get_as::<OperationStatusFact>(e.event_id())
                .unwrap()
                .event
                .payload
                .status
        })
        .collect();
    assert_eq!(
        statuses,
        [OperationStatus::Started, OperationStatus::Denied]
    );
    assert!(store.by_fact(STATUS_EVENT_KIND).len() == 2);
}

#[test]
fn append_event_to_addresses_another_entity_and_the_row_still_governs_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let core = core_over(&store);
    let err = core
        .invoke("bank.to", to_msgpack(&5u8).unwrap())
        .unwrap_err();
    // The refused second append denies the call, though the handler went on.
    assert_eq!(err.outcome_code(), Some(codes::EFFECT_VIOLATION));
    let acct = store.by_entity("acct:7");
    assert_eq!(acct.len(), 1);
    assert_eq!(acct[0].kind(), DEPOSITED);
    assert_eq!(err.effects().len(), 1);
}

#[test]
fn reads_and_projection_queries_go_through_the_store_and_host_controls_fail_closed() {
    #[derive(Default, serde::Serialize, serde::Deserialize)]
    struct Count {
        n: u64,
    }
    impl EventSourced for Count {
        fn apply(&mut self, _event: &StoredEvent<serde_json::Value>) {
            self.n += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let ops = Coordinate::new("bank:ops", "bank").unwrap();
    store.append(&ops, DEPOSITED, &1u8).unwrap();
    store.append(&ops, OTHER, &2u8).unwrap();
    store.append(&ops, DEPOSITED, &3u8).unwrap();
    let backend = StoreEffectBackend::new(store.clone(), ops).with_projection::<Count>("count");
    let mut b = Core::builder();
    b.without_receipts();
    let row = OperationEffectRow::new()
        .reads_event(DEPOSITED)
        .queries_projection("count")
        .queries_projection("missing")
        .uses_host_control("host.stop");
    b.register(
        OperationDescriptor::new("bank.inspect", EffectClass::Control, "i", "o", "r.i")
            .with_effect_row(row),
        |_: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
            let read = cx
                .event_read_handle()
                .read_events(DEPOSITED, &ReadRequest::new(Region::entity("bank:ops"), 10))?;
            let values: Vec<u8> = read
                .iter()
                .map(|e| rmp_serde::from_slice(&e.payload).unwrap())
                .collect();
            assert_eq!(values, [1, 3]);
            let after = cx.event_read_handle().read_events(
                DEPOSITED,
                &ReadRequest::new(Region::all(), 10).after(Some(read[0].entry.global_sequence())),
            )?;
            assert_eq!(after.len(), 1);
            let state = cx
                .projection_read_handle()
                .query_projection("count", "bank:ops")?
                .unwrap();
            let count: serde_json::Value = rmp_serde::from_slice(&state).unwrap();
            assert_eq!(count["n"], 3);
            assert_eq!(
                cx.projection_read_handle()
                    .query_projection("count", "nobody")?,
                None
            );
            let unknown = cx
                .projection_read_handle()
                .query_projection("missing", "bank:ops");
            assert!(matches!(
                unknown,
                Err(EffectError::UnknownProjection { .. })
            ));
            let control = cx.host_control_handle().use_host_control("host.stop", b"");
            assert!(matches!(control, Err(EffectError::Unsupported { .. })));
            Ok(vec![])
        },
    )
    .unwrap();
    b.effect_backend(backend);
    let core = b.build().unwrap();
    let r = core.invoke("bank.inspect", vec![]).unwrap();
    // Two reads and two successful queries; the failed query and control are not recorded.
    assert_eq!(r.effects().len(), 4);
}

#[test]
fn a_payload_that_is_not_one_msgpack_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(StoreConfig::new(dir.path())).unwrap());
    let core = core_over(&store);
    let err = core.invoke("bank.deposit", vec![0x01, 0x02]).unwrap_err();
    assert_eq!(err.outcome_code(), Some("effect.invalid_payload"));
    assert!(store.by_entity("bank:ops").is_empty());
}

#[test]
fn a_store_sink_that_fails_fails_the_call_closed() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Store::open(StoreConfig::new(dir.path()).with_max_payload_bytes(64)).unwrap());
    let mut b = Core::builder();
    b.register(deposit_descriptor(), deposit).unwrap();
    b.effect_backend(StoreEffectBackend::new(
        store.clone(),
        Coordinate::new("bank:ops", "bank").unwrap(),
    ));
    // A receipt is far larger than 64 bytes: the store refuses it.
    b.receipt_sink(StoreReceiptSink::new(
        store.clone(),
        Coordinate::new("syncbat:receipts", "bank").unwrap(),
    ));
    let core = b.build().unwrap();
    let err = core
        .invoke("bank.deposit", to_msgpack(&1u8).unwrap())
        .unwrap_err();
    assert_eq!(err.code(), "receipt_sink_failed");
    assert_eq!(
        err.effects().len(),
        1,
        "the append that happened is reported"
    );
    assert_eq!(store.by_entity("bank:ops").len(), 1);
    assert!(store.by_fact(RECEIPT_EVENT_KIND).is_empty());
    let _: Option<ReceiptEnvelope> = None;
}
