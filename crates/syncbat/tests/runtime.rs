//! The call order and its rules: capabilities, admission, effect checks,
//! panics, receipts and sinks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use batpak::Region;
use common::*;
use syncbat::{
    codes, AdmissionDecision, BuildError, Core, CoreBuilder, Ctx, EffectAxis, EffectClass,
    HandlerError, HandlerResult, MemoryReceiptSink, MemoryStatusSink, Module, OperationDescriptor,
    OperationEffectRow, OperationStatus, Origin, ReadRequest, ReceiptHashPolicy, ReceiptOutcome,
    RuntimeError,
};

fn persist(name: &'static str, receipt_kind: &'static str) -> OperationDescriptor {
    OperationDescriptor::new(name, EffectClass::Persist, "in.v1", "out.v1", receipt_kind)
        .with_effect_row(OperationEffectRow::new().appends_event(K1))
}

fn compute(name: &'static str, receipt_kind: &'static str) -> OperationDescriptor {
    OperationDescriptor::new(name, EffectClass::Compute, "in.v1", "out.v1", receipt_kind)
}

fn echo(input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult {
    Ok(input.to_vec())
}

fn append_k1(input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
    cx.event_append_handle().append_event(K1, input)?;
    Ok(b"ok".to_vec())
}

struct Fixture {
    receipts: MemoryReceiptSink,
    statuses: MemoryStatusSink,
    backend: RecordingBackend,
}

fn builder() -> (CoreBuilder, Fixture) {
    let f = Fixture {
        receipts: MemoryReceiptSink::new(),
        statuses: MemoryStatusSink::new(),
        backend: RecordingBackend::new(),
    };
    let mut b = Core::builder();
    b.receipt_sink(f.receipts.clone())
        .status_sink(f.statuses.clone())
        .effect_backend(f.backend.clone());
    (b, f)
}

#[test]
fn unknown_operation_records_nothing() {
    let (b, f) = builder();
    let core = b.build().unwrap();
    let err = core.invoke("nope", vec![]).unwrap_err();
    assert!(matches!(err, RuntimeError::UnknownOperation { ref name } if name == "nope"));
    assert_eq!(err.code(), "unknown_operation");
    assert!(f.receipts.is_empty());
    assert!(f.statuses.facts().is_empty());
}

#[test]
fn completed_call_records_one_receipt_with_blake3_hashes_and_two_statuses() {
    let (mut b, f) = builder();
    b.register(compute("echo", "receipt.echo.v1"), echo)
        .unwrap();
    let core = b.build().unwrap();
    let r = core.invoke("echo", b"hello".to_vec()).unwrap();
    assert_eq!(r.output(), b"hello");
    let receipts = f.receipts.receipts();
    assert_eq!(receipts.len(), 1);
    let e = &receipts[0];
    assert_eq!(e.descriptor_name, "echo");
    assert_eq!(e.receipt_kind, "receipt.echo.v1");
    assert_eq!(e.outcome, ReceiptOutcome::Completed);
    assert_eq!(e.input_hash, Some(*blake3::hash(b"hello").as_bytes()));
    assert_eq!(e.output_hash, Some(*blake3::hash(b"hello").as_bytes()));
    assert_eq!(r.recorded_receipt().map(|r| &r.envelope), Some(e));
    assert_eq!(
        f.statuses.statuses(),
        [OperationStatus::Started, OperationStatus::Completed]
    );
    let done = &f.statuses.facts()[1];
    assert_eq!(done.output_hash, e.output_hash);
    assert_eq!(done.input_hash, e.input_hash);
}

#[test]
fn missing_capability_denies_before_the_handler_and_the_guard() {
    let ran = Arc::new(AtomicU64::new(0));
    let guarded = Arc::new(AtomicU64::new(0));
    let (mut b, f) = builder();
    let d = OperationDescriptor::new("x", EffectClass::Inspect, "i", "o", "receipt.x.v1")
        .with_effect_row(
            OperationEffectRow::new()
                .requires_capability("bank.write")
                .requires_capability("bank.read"),
        );
    let r = ran.clone();
    b.register(d, move |_: &[u8], _: &mut Ctx<'_>| -> HandlerResult {
        r.fetch_add(1, Ordering::SeqCst);
        Ok(vec![])
    })
    .unwrap();
    b.grant_capability("bank.read");
    let g = guarded.clone();
    b.admission_guard(move |_: &OperationDescriptor, _: &[u8]| {
        g.fetch_add(1, Ordering::SeqCst);
        AdmissionDecision::Admit
    });
    let core = b.build().unwrap();
    let err = core.invoke("x", b"in".to_vec()).unwrap_err();
    match &err {
        RuntimeError::Denied {
            code,
            message,
            effects,
            receipt,
            ..
        } => {
            assert_eq!(code, codes::CAPABILITY_DENIED);
            assert!(message.contains("bank.write"), "{message}");
            assert!(effects.is_empty());
            assert!(receipt.is_some());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(guarded.load(Ordering::SeqCst), 0);
    let receipts = f.receipts.receipts();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].outcome.code(), Some(codes::CAPABILITY_DENIED));
    assert_eq!(
        receipts[0].input_hash,
        Some(*blake3::hash(b"in").as_bytes())
    );
    assert_eq!(receipts[0].output_hash, None);
    assert_eq!(f.statuses.statuses(), [OperationStatus::Denied]);
}

#[test]
fn granted_capabilities_let_the_call_run() {
    let (mut b, _f) = builder();
    let d = OperationDescriptor::new("x", EffectClass::Inspect, "i", "o", "receipt.x.v1")
        .with_effect_row(
            OperationEffectRow::new()
                .requires_capability("a")
                .requires_capability("b"),
        );
    b.register(d, echo).unwrap();
    b.grant_capabilities(["a", "b"]);
    let core = b.build().unwrap();
    assert!(core.is_granted("a"));
    assert!(!core.is_granted("c"));
    assert!(core.invoke("x", vec![1]).is_ok());
}

#[test]
fn admission_guard_denies_before_the_handler() {
    let ran = Arc::new(AtomicU64::new(0));
    let (mut b, f) = builder();
    let r = ran.clone();
    b.register(
        compute("x", "receipt.x.v1"),
        move |i: &[u8], _: &mut Ctx<'_>| -> HandlerResult {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(i.to_vec())
        },
    )
    .unwrap();
    b.admission_guard(|_: &OperationDescriptor, input: &[u8]| {
        if input.len() > 2 {
            AdmissionDecision::deny("input.too_large", format!("{} bytes", input.len()))
        } else {
            AdmissionDecision::Admit
        }
    });
    let core = b.build().unwrap();
    assert!(core.invoke("x", vec![1]).is_ok());
    let err = core.invoke("x", vec![1, 2, 3]).unwrap_err();
    assert_eq!(err.outcome_code(), Some("input.too_large"));
    assert_eq!(err.code(), "denied");
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let receipts = f.receipts.receipts();
    assert_eq!(receipts.len(), 2);
    assert_eq!(
        receipts[1].outcome,
        ReceiptOutcome::Denied {
            code: "input.too_large".into(),
            message: "3 bytes".into()
        }
    );
    assert_eq!(
        f.statuses.statuses(),
        [
            OperationStatus::Started,
            OperationStatus::Completed,
            OperationStatus::Denied
        ]
    );
}

/// A handler that tries one undeclared effect on `axis`, ignores the error
/// and returns output anyway.
fn try_undeclared(axis: EffectAxis, cx: &mut Ctx<'_>) -> Result<(), syncbat::EffectError> {
    match axis {
        EffectAxis::EventRead => cx
            .event_read_handle()
            .read_events(K2, &ReadRequest::new(Region::all(), 10))
            .map(drop),
        EffectAxis::EventAppend => cx.event_append_handle().append_event(K2, &[0xc0]).map(drop),
        EffectAxis::ProjectionQuery => cx
            .projection_read_handle()
            .query_projection("balances", "acct:1")
            .map(drop),
        EffectAxis::ReceiptEmit => cx
            .receipt_emit_handle()
            .emit_receipt("receipt.other.v1", b"x".to_vec()),
        EffectAxis::HostControl => cx
            .host_control_handle()
            .use_host_control("host.stop", b"")
            .map(drop),
        _ => Ok(()),
    }
}

#[test]
fn every_axis_refuses_an_undeclared_effect_before_the_backend() {
    for axis in EffectAxis::ALL {
        let (mut b, f) = builder();
        // A Control row may declare every axis; declare one target per axis
        // that the handler does not use.
        let row = OperationEffectRow::new()
            .reads_event(K1)
            .appends_event(K1)
            .queries_projection("other")
            .emits_receipt("receipt.op.v1")
            .uses_host_control("host.reload");
        let d = OperationDescriptor::new("op", EffectClass::Control, "i", "o", "receipt.op.v1")
            .with_effect_row(row);
        b.register(d, move |_: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
            let err = try_undeclared(axis, cx).expect_err("undeclared effect was allowed");
            assert_eq!(err.code(), "effect.undeclared");
            Ok(b"would-be output".to_vec())
        })
        .unwrap();
        let core = b.build().unwrap();
        let err = core.invoke("op", vec![]).unwrap_err();
        assert_eq!(err.outcome_code(), Some(codes::EFFECT_VIOLATION), "{axis}");
        assert!(err.to_string().contains(axis.as_str()), "{axis}: {err}");
        assert!(
            f.backend.calls().is_empty(),
            "{axis}: the backend was reached: {:?}",
            f.backend.calls()
        );
        let receipts = f.receipts.receipts();
        assert_eq!(receipts.len(), 1, "{axis}");
        assert_eq!(
            receipts[0].output_hash, None,
            "{axis}: output not discarded"
        );
        assert_eq!(receipts[0].outcome.class(), "denied");
        assert!(receipts[0].effects.is_empty());
        assert_eq!(
            f.statuses.statuses(),
            [OperationStatus::Started, OperationStatus::Denied]
        );
    }
}

#[test]
fn declared_effects_on_every_axis_reach_the_backend_and_are_recorded() {
    let (mut b, f) = builder();
    let row = OperationEffectRow::new()
        .reads_event(K1)
        .appends_event(K1)
        .queries_projection("balances")
        .emits_receipt("receipt.op.v1")
        .uses_host_control("host.reload");
    let d = OperationDescriptor::new("op", EffectClass::Control, "i", "o", "receipt.op.v1")
        .with_effect_row(row);
    b.register(d, |_: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
        cx.event_read_handle()
            .read_events(K1, &ReadRequest::new(Region::all(), 5))?;
        let appended = cx.event_append_handle().append_event(K1, &[0xc0])?;
        cx.projection_read_handle()
            .query_projection("balances", "acct:1")?;
        cx.receipt_emit_handle()
            .emit_receipt("receipt.op.v1", b"stamp".to_vec())?;
        let out = cx
            .host_control_handle()
            .use_host_control("host.reload", b"now")?;
        assert_eq!(cx.performed_effects().len(), 5);
        assert_eq!(cx.performed_effects()[1].event_id, Some(appended.event_id));
        Ok(out)
    })
    .unwrap();
    let core = b.build().unwrap();
    let r = core.invoke("op", vec![]).unwrap();
    assert_eq!(r.output(), b"now");
    let axes: Vec<_> = r.effects().iter().map(|e| e.axis).collect();
    assert_eq!(axes, EffectAxis::ALL);
    assert_eq!(f.backend.calls().len(), 5);
    let e = &f.receipts.receipts()[0];
    assert_eq!(e.effects, r.effects());
    assert_eq!(
        e.local_extensions
            .get("syncbat.emit_receipt.receipt.op.v1")
            .map(Vec::as_slice),
        Some(&b"stamp"[..])
    );
}

#[test]
fn an_effect_the_backend_rejects_fails_closed_and_is_not_recorded() {
    let mut b = Core::builder();
    let receipts = MemoryReceiptSink::new();
    b.receipt_sink(receipts.clone())
        .effect_backend(RecordingBackend::failing());
    b.register(persist("p", "receipt.p.v1"), append_k1).unwrap();
    let core = b.build().unwrap();
    let err = core.invoke("p", vec![0xc0]).unwrap_err();
    assert_eq!(err.outcome_code(), Some("effect.backend"));
    assert!(err.effects().is_empty());
    assert!(receipts.receipts()[0].effects.is_empty());
}

#[test]
fn without_a_backend_every_effect_fails_closed() {
    let mut b = Core::builder();
    b.without_receipts();
    b.register(persist("p", "receipt.p.v1"), append_k1).unwrap();
    let core = b.build().unwrap();
    let err = core.invoke("p", vec![0xc0]).unwrap_err();
    assert_eq!(err.outcome_code(), Some("effect.no_backend"));
}

#[test]
fn a_panicking_handler_fails_its_call_and_leaves_the_core_usable() {
    let (mut b, f) = builder();
    b.register(
        persist("boom", "receipt.boom.v1"),
        |_: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
            cx.event_append_handle().append_event(K1, &[0xc0])?;
            panic!("handler blew up");
        },
    )
    .unwrap();
    b.register(compute("echo", "receipt.echo.v1"), echo)
        .unwrap();
    let core = Arc::new(b.build().unwrap());
    for _ in 0..3 {
        let err = core.invoke("boom", vec![]).unwrap_err();
        match &err {
            RuntimeError::Failed {
                code,
                message,
                effects,
                ..
            } => {
                assert_eq!(code, codes::HANDLER_PANICKED);
                assert_eq!(message, "handler blew up");
                assert_eq!(effects.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.receipt().map(|r| r.envelope.effects.len()), Some(1));
    }
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let core = core.clone();
            std::thread::spawn(move || core.invoke("echo", vec![i]).map(|r| r.into_output()))
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        assert_eq!(t.join().unwrap().unwrap(), vec![i as u8]);
    }
    // 3 panics + 4 echoes: one receipt each.
    assert_eq!(f.receipts.len(), 7);
    let panicked = f
        .receipts
        .receipts()
        .iter()
        .filter(|r| r.outcome.code() == Some("handler.panicked"))
        .count();
    assert_eq!(panicked, 3);
}

#[test]
fn a_handler_error_fails_the_call_with_its_code() {
    let (mut b, f) = builder();
    b.register(
        compute("x", "receipt.x.v1"),
        |_: &[u8], _: &mut Ctx<'_>| -> HandlerResult {
            Err(HandlerError::coded("bank.overdrawn", "balance 3"))
        },
    )
    .unwrap();
    let core = b.build().unwrap();
    let err = core.invoke("x", vec![]).unwrap_err();
    assert_eq!(
        (err.code(), err.outcome_code()),
        ("handler_failed", Some("bank.overdrawn"))
    );
    assert_eq!(
        f.receipts.receipts()[0].outcome,
        ReceiptOutcome::Failed {
            code: "bank.overdrawn".into(),
            message: "balance 3".into()
        }
    );
    assert_eq!(
        f.statuses.statuses(),
        [OperationStatus::Started, OperationStatus::Failed]
    );
}

#[test]
fn a_failing_receipt_sink_fails_the_call_closed_and_reports_effects() {
    let backend = RecordingBackend::new();
    let mut b = Core::builder();
    b.receipt_sink(BrokenSink).effect_backend(backend.clone());
    b.register(persist("p", "receipt.p.v1"), append_k1).unwrap();
    let core = b.build().unwrap();
    let err = core.invoke("p", vec![0xc0]).unwrap_err();
    match &err {
        RuntimeError::ReceiptSink {
            outcome, effects, ..
        } => {
            assert_eq!(outcome, &ReceiptOutcome::Completed);
            assert_eq!(effects.len(), 1);
            assert_eq!(effects[0].target, "evt.e001");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), "receipt_sink_failed");
    assert_eq!(backend.calls().len(), 1);
}

#[test]
fn a_failing_status_sink_stops_the_call_before_the_handler() {
    let ran = Arc::new(AtomicU64::new(0));
    let receipts = MemoryReceiptSink::new();
    let mut b = Core::builder();
    b.receipt_sink(receipts.clone())
        .status_sink(BrokenStatusSink);
    let r = ran.clone();
    b.register(
        compute("x", "receipt.x.v1"),
        move |_: &[u8], _: &mut Ctx<'_>| -> HandlerResult {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(vec![])
        },
    )
    .unwrap();
    let core = b.build().unwrap();
    let err = core.invoke("x", vec![]).unwrap_err();
    assert!(matches!(
        err,
        RuntimeError::StatusSink {
            status: OperationStatus::Started,
            ..
        }
    ));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(
        receipts.receipts()[0].outcome.code(),
        Some(codes::STATUS_SINK_FAILED)
    );
    assert!(err.receipt().is_some());
}

#[test]
fn build_needs_a_receipt_sink_unless_stated_otherwise() {
    assert_eq!(
        Core::builder().build().unwrap_err(),
        BuildError::MissingReceiptSink
    );
    let mut b = Core::builder();
    b.without_receipts()
        .register(compute("x", "r.x"), echo)
        .unwrap();
    let core = b.build().unwrap();
    assert!(core
        .invoke("x", vec![])
        .unwrap()
        .recorded_receipt()
        .is_none());
}

#[test]
fn conflicts_name_both_registrations() {
    let mut b = Core::builder();
    b.register(compute("a.x", "r.a"), echo).unwrap();
    let err = b.register(compute("a.x", "r.b"), echo).unwrap_err();
    assert_eq!(
        err,
        BuildError::DuplicateOperation {
            operation: "a.x".into(),
            first: Origin::Direct,
            second: Origin::Direct
        }
    );
    let mut m = Module::new("bank").unwrap();
    m.register(compute("a.x", "r.c"), echo).unwrap();
    let err = b.mount(m).unwrap_err();
    assert_eq!(
        err,
        BuildError::DuplicateOperation {
            operation: "a.x".into(),
            first: Origin::Direct,
            second: Origin::Module("bank".into())
        }
    );
    assert!(
        err.to_string().contains("a direct registration")
            && err.to_string().contains("module \"bank\"")
    );

    let mut m1 = Module::new("one").unwrap();
    m1.register(compute("m.x", "r.m"), echo).unwrap();
    m1.register(compute("m.y", "r.y"), echo).unwrap();
    b.mount(m1).unwrap();
    let mut m2 = Module::new("two").unwrap();
    m2.register(compute("m.z", "r.z"), echo).unwrap();
    m2.register(compute("m.y", "r.y2"), echo).unwrap();
    assert_eq!(
        b.mount(m2).unwrap_err(),
        BuildError::DuplicateOperation {
            operation: "m.y".into(),
            first: Origin::Module("one".into()),
            second: Origin::Module("two".into())
        }
    );
    // Nothing of the refused module was mounted.
    b.register(compute("m.z", "r.z"), echo).unwrap();
    assert_eq!(
        b.register(compute("k.x", "r.a"), echo).unwrap_err(),
        BuildError::ReceiptKindConflict {
            receipt_kind: "r.a".into(),
            first: "a.x".into(),
            second: "k.x".into()
        }
    );
    assert_eq!(
        b.mount(Module::new("one").unwrap()).unwrap_err(),
        BuildError::DuplicateModule {
            module: "one".into()
        }
    );
    let mut inner = Module::new("dup").unwrap();
    inner.register(compute("d.x", "r.dx"), echo).unwrap();
    assert!(matches!(
        inner.register(compute("d.x", "r.dy"), echo),
        Err(BuildError::DuplicateOperation { .. })
    ));
    assert!(matches!(
        Module::new("bad..name"),
        Err(BuildError::InvalidModuleName { .. })
    ));
    assert!(matches!(
        b.register(
            OperationDescriptor::new("p", EffectClass::Persist, "i", "o", "r.p"),
            echo
        ),
        Err(BuildError::InvalidDescriptor(_))
    ));
    let core = b.build_without_sink_for_test();
    assert!(
        core.contains_operation("m.x")
            && core.contains_operation("m.z")
            && core.contains_operation("a.x")
    );
    assert_eq!(
        core.descriptor("m.x").map(|d| d.receipt_kind()),
        Some("r.m")
    );
}

trait BuildForTest {
    fn build_without_sink_for_test(self) -> Core;
}

impl BuildForTest for CoreBuilder {
    fn build_without_sink_for_test(mut self) -> Core {
        self.without_receipts();
        self.build().unwrap()
    }
}

#[test]
fn one_core_serves_many_threads_with_a_stateful_handler() {
    let counter = Arc::new(AtomicU64::new(0));
    let (mut b, f) = builder();
    let c = counter.clone();
    b.register(
        compute("count", "receipt.count.v1"),
        move |_: &[u8], _: &mut Ctx<'_>| -> HandlerResult {
            Ok(c.fetch_add(1, Ordering::SeqCst).to_be_bytes().to_vec())
        },
    )
    .unwrap();
    let core = Arc::new(b.build().unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let core = core.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    core.invoke("count", vec![]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 800);
    assert_eq!(f.receipts.len(), 800);
}

#[test]
fn deferred_hash_policy_records_no_hashes() {
    let (mut b, f) = builder();
    b.receipt_hash_policy(ReceiptHashPolicy::Deferred);
    b.register(compute("x", "r.x"), echo).unwrap();
    b.build().unwrap().invoke("x", vec![1]).unwrap();
    let e = &f.receipts.receipts()[0];
    assert_eq!((e.input_hash, e.output_hash), (None, None));
}

#[test]
fn extensions_attached_by_the_handler_reach_the_receipt() {
    let (mut b, f) = builder();
    b.register(
        compute("x", "r.x"),
        |_: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
            cx.attach_signed_extension("corr", b"c-1".to_vec());
            cx.attach_local_extension("note", b"n".to_vec());
            assert_eq!(cx.descriptor().name(), "x");
            Ok(vec![])
        },
    )
    .unwrap();
    b.build().unwrap().invoke("x", vec![]).unwrap();
    let e = &f.receipts.receipts()[0];
    assert_eq!(
        e.signed_extensions.get("corr").map(Vec::as_slice),
        Some(&b"c-1"[..])
    );
    assert_eq!(
        e.local_extensions.get("note").map(Vec::as_slice),
        Some(&b"n"[..])
    );
}

#[test]
fn debug_output_names_what_is_configured() {
    let (mut b, _f) = builder();
    b.register(
        compute("dbg.op", "r.dbg"),
        |_: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
            let text = format!("{cx:?}");
            assert!(
                text.contains("dbg.op") && text.contains("backend: true"),
                "{text}"
            );
            Ok(vec![])
        },
    )
    .unwrap();
    b.grant_capability("cap.x");
    let text = format!("{b:?}");
    assert!(
        text.contains("dbg.op") && text.contains("cap.x") && text.contains("receipt_sink: true"),
        "{text}"
    );
    let core = b.build().unwrap();
    let text = format!("{core:?}");
    assert!(
        text.contains("dbg.op")
            && text.contains("status_sink: true")
            && text.contains("admission_guard: false"),
        "{text}"
    );
    core.invoke("dbg.op", vec![]).unwrap();
    let mut m = Module::new("dbg").unwrap();
    m.register(compute("dbg.two", "r.two"), echo).unwrap();
    assert_eq!(m.operation_names().collect::<Vec<_>>(), ["dbg.two"]);
    let text = format!("{m:?}");
    assert!(text.contains("dbg.two") && text.contains("dbg"), "{text}");
    assert!(AdmissionDecision::Admit.is_admit());
    assert!(!AdmissionDecision::deny("a", "b").is_admit());
}
