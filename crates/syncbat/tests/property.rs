//! For random registrations and handler behaviours, every resolved call
//! records exactly one receipt whose hashes are blake3 of the bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{RecordingBackend, K1, K2};
use proptest::prelude::*;
use syncbat::{
    AdmissionDecision, Core, Ctx, EffectClass, HandlerError, HandlerResult, MemoryReceiptSink,
    OperationDescriptor, OperationEffectRow, ReceiptOutcome,
};

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Echo,
    Fail,
    Panic,
    AppendDeclared,
    AppendUndeclaredIgnoringError,
    NeedsUngrantedCapability,
    DeniedByGuard,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        Just(Behaviour::Echo),
        Just(Behaviour::Fail),
        Just(Behaviour::Panic),
        Just(Behaviour::AppendDeclared),
        Just(Behaviour::AppendUndeclaredIgnoringError),
        Just(Behaviour::NeedsUngrantedCapability),
        Just(Behaviour::DeniedByGuard),
    ]
}

fn handler(b: Behaviour) -> impl Fn(&[u8], &mut Ctx<'_>) -> HandlerResult + Send + Sync {
    move |input: &[u8], cx: &mut Ctx<'_>| -> HandlerResult {
        match b {
            Behaviour::Fail => Err(HandlerError::failed("no")),
            Behaviour::Panic => panic!("property panic"),
            Behaviour::AppendDeclared => {
                cx.event_append_handle().append_event(K1, &[0xc0])?;
                Ok(input.iter().rev().copied().collect())
            }
            Behaviour::AppendUndeclaredIgnoringError => {
                let _ = cx.event_append_handle().append_event(K2, &[0xc0]);
                Ok(input.to_vec())
            }
            _ => Ok(input.to_vec()),
        }
    }
}

/// The outcome class each behaviour must end with.
fn expected_class(b: Behaviour) -> &'static str {
    match b {
        Behaviour::Echo | Behaviour::AppendDeclared => "completed",
        Behaviour::Fail | Behaviour::Panic => "failed",
        Behaviour::AppendUndeclaredIgnoringError
        | Behaviour::NeedsUngrantedCapability
        | Behaviour::DeniedByGuard => "denied",
    }
}

fn descriptor(i: usize, b: Behaviour) -> OperationDescriptor {
    let name: &'static str = Box::leak(format!("prop.op{i}").into_boxed_str());
    let kind: &'static str = Box::leak(format!("receipt.prop.op{i}.v1").into_boxed_str());
    let (class, row) = match b {
        Behaviour::AppendDeclared | Behaviour::AppendUndeclaredIgnoringError => (
            EffectClass::Persist,
            OperationEffectRow::new().appends_event(K1),
        ),
        Behaviour::NeedsUngrantedCapability => (
            EffectClass::Inspect,
            OperationEffectRow::new().requires_capability("never.granted"),
        ),
        _ => (EffectClass::Compute, OperationEffectRow::new()),
    };
    OperationDescriptor::new(name, class, "prop.in", "prop.out", kind).with_effect_row(row)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_resolved_call_records_exactly_one_receipt_with_blake3_hashes(
        ops in prop::collection::vec(behaviour(), 1..6),
        calls in prop::collection::vec((0usize..8, prop::collection::vec(any::<u8>(), 0..64)), 1..24),
    ) {
        let sink = MemoryReceiptSink::new();
        let mut b = Core::builder();
        b.receipt_sink(sink.clone()).effect_backend(RecordingBackend::new());
        for (i, beh) in ops.iter().enumerate() {
            b.register(descriptor(i, *beh), handler(*beh)).unwrap();
        }
        let guarded: Vec<String> = ops
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b, Behaviour::DeniedByGuard))
            .map(|(i, _)| format!("prop.op{i}"))
            .collect();
        b.admission_guard(move |d: &OperationDescriptor, _: &[u8]| {
            if guarded.iter().any(|g| g == d.name()) {
                AdmissionDecision::deny("prop.guard", "denied by the property guard")
            } else {
                AdmissionDecision::Admit
            }
        });
        let core = b.build().unwrap();
        for (idx, input) in calls {
            let before = sink.len();
            let name = format!("prop.op{idx}");
            let result = core.invoke(&name, input.clone());
            let Some(beh) = ops.get(idx).copied() else {
                prop_assert!(result.is_err());
                prop_assert_eq!(sink.len(), before, "an unknown operation recorded a receipt");
                continue;
            };
            prop_assert_eq!(sink.len(), before + 1, "{:?} did not record exactly one receipt", beh);
            let receipt = sink.receipts().pop().unwrap();
            prop_assert_eq!(receipt.input_hash, Some(*blake3::hash(&input).as_bytes()));
            prop_assert_eq!(receipt.outcome.class(), expected_class(beh), "{:?}", beh);
            match result {
                Ok(done) => {
                    prop_assert_eq!(&receipt.outcome, &ReceiptOutcome::Completed);
                    prop_assert_eq!(receipt.output_hash, Some(*blake3::hash(done.output()).as_bytes()));
                    prop_assert_eq!(done.recorded_receipt().map(|r| &r.envelope), Some(&receipt));
                }
                Err(e) => {
                    prop_assert_eq!(receipt.output_hash, None);
                    prop_assert_eq!(e.receipt().map(|r| &r.envelope), Some(&receipt));
                }
            }
        }
    }
}
