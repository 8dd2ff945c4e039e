//! `#[operation]` emits the descriptor registration would build by hand,
//! and a register function that mounts the handler.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use batpak::EventKind;
use syncbat::{
    operation, Core, Ctx, EffectClass, HandlerResult, MemoryReceiptSink, OperationDescriptor,
    OperationEffectRow,
};

#[operation(
    descriptor = AUDIT,
    register = register_audit,
    name = "bank.audit",
    title = "Audit an account",
    effect = Control,
    input_schema = "bank.audit.request",
    output_schema = "bank.audit.report",
    receipt_kind = "receipt.bank.audit.v1",
    reads_events = ["evt.e001", "evt.e002"],
    appends_events = ["evt.e003"],
    queries_projections = ["bank.balance"],
    emits_receipts = ["receipt.bank.audit.v1"],
    uses_host_controls = ["host.snapshot"],
    requires_capabilities = ["bank.audit"],
)]
/// Audits an account (the doc comment stays on the function).
pub fn audit(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
    cx.attach_local_extension("seen", input.to_vec());
    Ok(b"clean".to_vec())
}

#[operation(descriptor = PING, register = register_ping, name = "diag.ping", effect = Compute,
    input_schema = "diag.ping.in", output_schema = "diag.ping.out", receipt_kind = "receipt.diag.ping.v1")]
fn ping(_input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult {
    Ok(b"pong".to_vec())
}

#[test]
fn the_emitted_descriptor_equals_the_hand_built_one() {
    let by_hand = OperationDescriptor::owned(
        "bank.audit",
        EffectClass::Control,
        "bank.audit.request",
        "bank.audit.report",
        "receipt.bank.audit.v1",
    )
    .with_title("Audit an account")
    .with_effect_row(
        OperationEffectRow::new()
            .reads_event(EventKind::custom(0xE, 2))
            .reads_event(EventKind::custom(0xE, 1))
            .appends_event(EventKind::custom(0xE, 3))
            .queries_projection("bank.balance")
            .emits_receipt("receipt.bank.audit.v1")
            .uses_host_control("host.snapshot")
            .requires_capability("bank.audit"),
    );
    assert_eq!(AUDIT, by_hand);
    assert!(AUDIT.validate().is_ok());
    assert_eq!(PING.effect(), EffectClass::Compute);
    assert!(PING.effect_row().is_empty());
    assert_eq!(PING.title(), None);
}

#[test]
fn register_functions_mount_the_handlers() {
    let sink = MemoryReceiptSink::new();
    let mut b = Core::builder();
    register_audit(&mut b).unwrap();
    register_ping(&mut b).unwrap();
    assert!(
        register_ping(&mut b).is_err(),
        "a second registration is a conflict"
    );
    b.grant_capability("bank.audit").receipt_sink(sink.clone());
    let core = b.build().unwrap();
    assert_eq!(core.invoke("diag.ping", vec![]).unwrap().output(), b"pong");
    assert_eq!(
        core.invoke("bank.audit", b"acct:1".to_vec())
            .unwrap()
            .output(),
        b"clean"
    );
    assert_eq!(sink.receipts()[1].local_extensions["seen"], b"acct:1");
    let f: syncbat::HandlerFn = audit;
    let _ = (f, ping as syncbat::HandlerFn);
}
