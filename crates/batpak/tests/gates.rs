//! Caller-defined gates, the commit pipeline, attestations, bypasses and
//! denial records, including tamper evidence for attestations and denials.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{
    field, frames, live_image_with, only_segment, reassemble, rewrite_frames, signing_key,
    small_segments, temp_store, ATTESTATION_FIELD, PAYLOAD_FIELD,
};

use std::sync::Mutex;

use batpak::prelude::*;
use batpak::{
    BypassReason, Denial, DenialReceipt, Gate, GateAttestation, GateSet, Pipeline, Proposal,
    DENIAL_KIND, GATE_PANICKED,
};
use serde::Serialize;

const PLACED: EventKind = EventKind::custom(0xE, 0x30);

#[derive(Serialize)]
struct Order {
    amount: i64,
    card: &'static str,
}

/// The context gates see: an order and a log of which gates ran.
struct Ctx {
    amount: i64,
    ran: Mutex<Vec<&'static str>>,
}

impl Ctx {
    fn new(amount: i64) -> Self {
        Self {
            amount,
            ran: Mutex::new(Vec::new()),
        }
    }
    fn ran(&self) -> Vec<&'static str> {
        self.ran.lock().unwrap().clone()
    }
}

struct AmountPositive;
impl Gate<Ctx> for AmountPositive {
    fn name(&self) -> &'static str {
        "amount_positive"
    }
    fn evaluate(&self, ctx: &Ctx) -> Result<(), Denial> {
        ctx.ran.lock().unwrap().push(self.name());
        if ctx.amount > 0 {
            Ok(())
        } else {
            Err(Denial::new("amount_positive", "amount must be positive").with_code("AMOUNT"))
        }
    }
}

struct CreditLimit {
    max: i64,
}
impl Gate<Ctx> for CreditLimit {
    fn name(&self) -> &'static str {
        "credit_limit"
    }
    fn evaluate(&self, ctx: &Ctx) -> Result<(), Denial> {
        ctx.ran.lock().unwrap().push(self.name());
        if ctx.amount <= self.max {
            Ok(())
        } else {
            Err(Denial::new("credit_limit", "over the credit limit")
                .with_code("LIMIT")
                .with_context("max", self.max.to_string()))
        }
    }
}

struct NotRound;
impl Gate<Ctx> for NotRound {
    fn name(&self) -> &'static str {
        "not_round"
    }
    fn evaluate(&self, ctx: &Ctx) -> Result<(), Denial> {
        ctx.ran.lock().unwrap().push(self.name());
        if ctx.amount % 100 != 0 {
            Ok(())
        } else {
            Err(Denial::new("not_round", "round amounts need review").with_code("ROUND"))
        }
    }
}

struct Explodes;
impl Gate<Ctx> for Explodes {
    fn name(&self) -> &'static str {
        "explodes"
    }
    fn evaluate(&self, ctx: &Ctx) -> Result<(), Denial> {
        ctx.ran.lock().unwrap().push(self.name());
        panic!("gate bug: index out of range");
    }
}

fn gates() -> GateSet<Ctx> {
    GateSet::new()
        .with(AmountPositive)
        .with(CreditLimit { max: 500 })
        .with(NotRound)
}

fn proposal(amount: i64) -> Proposal {
    Proposal::new(
        PLACED,
        &Order {
            amount,
            card: "SECRET-CARD-4111",
        },
    )
    .unwrap()
}

fn coord() -> Coordinate {
    common::coord("order:1", "shop")
}

fn key() -> ed25519_dalek::SigningKey {
    signing_key(11)
}

#[test]
fn gates_run_in_order_and_stop_at_the_first_denial() {
    let set = gates();
    assert_eq!(
        set.names(),
        ["amount_positive", "credit_limit", "not_round"]
    );

    let ok = Ctx::new(42);
    assert_eq!(
        set.evaluate(&ok).unwrap(),
        ["amount_positive", "credit_limit", "not_round"]
    );
    assert_eq!(ok.ran(), ["amount_positive", "credit_limit", "not_round"]);

    // Fails the second gate: the third never runs.
    let big = Ctx::new(1000);
    let d = set.evaluate(&big).unwrap_err();
    assert_eq!((d.gate(), d.code()), ("credit_limit", "LIMIT"));
    assert_eq!(d.context()["max"], "500");
    assert_eq!(big.ran(), ["amount_positive", "credit_limit"]);

    // Fails the first gate: nothing else runs.
    let neg = Ctx::new(-100);
    assert_eq!(set.evaluate(&neg).unwrap_err().gate(), "amount_positive");
    assert_eq!(neg.ran(), ["amount_positive"]);
}

#[test]
fn evaluate_all_reports_every_denial_in_order() {
    let set = gates();
    let ctx = Ctx::new(1000);
    let report = set.evaluate_all(&ctx);
    assert!(!report.is_approved());
    assert_eq!(report.passed, ["amount_positive"]);
    let codes: Vec<&str> = report.denials.iter().map(Denial::code).collect();
    assert_eq!(codes, ["LIMIT", "ROUND"]);
    assert_eq!(ctx.ran(), ["amount_positive", "credit_limit", "not_round"]);

    let ok = set.evaluate_all(&Ctx::new(7));
    assert!(ok.is_approved());
    assert_eq!(ok.passed, ["amount_positive", "credit_limit", "not_round"]);

    // Through the pipeline, every denial carries the refused proposal's digest.
    let p = proposal(1000);
    let digest = p.digest();
    let denials = Pipeline::new(gates())
        .evaluate_all(&Ctx::new(1000), p)
        .unwrap_err();
    assert_eq!(denials.len(), 2);
    assert!(denials.iter().all(|d| d.proposal() == Some(&digest)));
}

#[test]
fn a_panicking_gate_is_a_denial_not_a_crash() {
    let set = GateSet::new()
        .with(AmountPositive)
        .with(Explodes)
        .with(CreditLimit { max: 500 });
    let ctx = Ctx::new(5);
    let d = set.evaluate(&ctx).unwrap_err();
    assert_eq!(d.gate(), "explodes");
    assert_eq!(d.code(), GATE_PANICKED);
    assert!(d.is_panic());
    assert!(
        d.message().contains("index out of range"),
        "{}",
        d.message()
    );
    assert_eq!(ctx.ran(), ["amount_positive", "explodes"]);

    // evaluate_all keeps going after the panic.
    let ctx = Ctx::new(900);
    let report = set.evaluate_all(&ctx);
    let codes: Vec<&str> = report.denials.iter().map(Denial::code).collect();
    assert_eq!(codes, [GATE_PANICKED, "LIMIT"]);
    assert_eq!(ctx.ran(), ["amount_positive", "explodes", "credit_limit"]);

    // A pipeline turns it into an ordinary refusal that can be recorded.
    let (_dir, store) = temp_store();
    let pipeline = Pipeline::new(set);
    let denial = pipeline.evaluate(&Ctx::new(5), proposal(5)).unwrap_err();
    let r = store.append_denial(&coord(), &denial).unwrap();
    assert_eq!(
        store.read_denial(r.event_id()).unwrap().code(),
        GATE_PANICKED
    );
    assert_eq!(store.len(), 1, "only the denial was written");
}

#[test]
fn commit_records_the_gates_passed_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::new(gates());
    let want = GateAttestation::passed(["amount_positive", "credit_limit", "not_round"]);
    let (gated, plain) = {
        let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key())).unwrap();
        let approved = pipeline.evaluate(&Ctx::new(42), proposal(42)).unwrap();
        assert!(!approved.is_bypass());
        assert_eq!(approved.attestation(), &want);
        let gated = pipeline.commit(&store, &coord(), approved).unwrap();
        let plain = store.append(&coord(), PLACED, &"plain").unwrap();
        assert!(store.verify_append_receipt(&gated).is_signed());
        assert_eq!(
            plain.prev_hash, gated.event_hash,
            "gated events join the entity chain"
        );
        store.close().unwrap();
        (gated, plain)
    };
    for ro in [false, true] {
        let cfg = StoreConfig::new(dir.path())
            .with_signing_key(key())
            .with_chain_verification(ChainVerification::Recompute);
        let (writer, read_only);
        let reader: &batpak::StoreReader = if ro {
            read_only = Store::open_read_only(cfg).unwrap();
            read_only.reader()
        } else {
            writer = Store::open(cfg).unwrap();
            writer.reader()
        };
        let ev = reader.get(gated.event_id).unwrap();
        assert_eq!(ev.event.header.attestation.as_ref(), Some(&want));
        assert_eq!(ev.event.payload["amount"], 42);
        assert_eq!(
            reader.get(plain.event_id).unwrap().event.header.attestation,
            None
        );
        assert!(reader.verify_append_receipt(&gated).is_signed());
        assert!(reader.verify_chain().unwrap().is_intact());
        assert!(reader.bypasses().unwrap().is_empty());
    }
}

#[test]
fn commit_keeps_the_proposal_options() {
    let (_dir, store) = temp_store();
    let cause = store.append(&coord(), PLACED, &"command").unwrap();
    let thread = CorrelationId::from_u128(77);
    let pipeline = Pipeline::new(gates());
    let p = proposal(42).with_options(
        AppendOptions::default()
            .with_correlation_id(thread)
            .with_causation(CausationRef::Event(cause.event_id))
            .with_expected_sequence(ExpectedSequence::Exact(0)),
    );
    let r = pipeline
        .commit(
            &store,
            &coord(),
            pipeline.evaluate(&Ctx::new(42), p).unwrap(),
        )
        .unwrap();
    assert_eq!(store.caused_by(cause.event_id)[0].event_id(), r.event_id);
    assert_eq!(store.correlated(thread).len(), 1);
    // The expected sequence is checked at commit: a stale approval is refused.
    let stale = proposal(43)
        .with_options(AppendOptions::default().with_expected_sequence(ExpectedSequence::Exact(0)));
    let approved = pipeline.evaluate(&Ctx::new(43), stale).unwrap();
    assert!(matches!(
        pipeline.commit(&store, &coord(), approved),
        Err(StoreError::SequenceMismatch { .. })
    ));
}

#[test]
fn a_gate_with_an_invalid_name_cannot_commit() {
    struct Nameless;
    impl Gate<Ctx> for Nameless {
        fn name(&self) -> &'static str {
            ""
        }
        fn evaluate(&self, _: &Ctx) -> Result<(), Denial> {
            Ok(())
        }
    }
    let (_dir, store) = temp_store();
    let pipeline = Pipeline::new(GateSet::new().with(Nameless));
    let approved = pipeline.evaluate(&Ctx::new(1), proposal(1)).unwrap();
    let err = pipeline.commit(&store, &coord(), approved).unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidGateRecord { .. }),
        "{err:?}"
    );
    assert_eq!(err.handling_class(), HandlingClass::Domain);
    assert!(store.is_empty());
}

#[test]
fn bypasses_need_a_reason_and_are_listed_for_audit() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::new(gates());
    for (ticket, reason) in [
        ("", "r"),
        ("INC-1", ""),
        ("INC-1", "   "),
        ("bad\nticket", "r"),
    ] {
        let err = pipeline
            .bypass(proposal(-5), BypassReason::new(ticket, reason))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidGateRecord { .. }),
            "{ticket:?} {reason:?}"
        );
    }
    let long = "x".repeat(batpak::MAX_BYPASS_REASON_LEN + 1);
    assert!(pipeline
        .bypass(proposal(-5), BypassReason::new("INC-1", long))
        .is_err());

    let other = common::coord("order:2", "shop");
    let mut bypassed = Vec::new();
    {
        let store = Store::open(small_segments(dir.path())).unwrap();
        for i in 0..60i64 {
            let c = if i % 2 == 0 { coord() } else { other.clone() };
            if i % 7 == 3 {
                let approved = pipeline
                    .bypass(
                        proposal(-i),
                        BypassReason::new(format!("INC-{i}"), format!("on-call approved {i}")),
                    )
                    .unwrap();
                assert!(approved.is_bypass());
                let r = pipeline.commit(&store, &c, approved).unwrap();
                bypassed.push((r.event_id, c, format!("INC-{i}")));
            } else if i % 3 == 0 {
                store.append(&c, PLACED, &i).unwrap();
            } else {
                let approved = pipeline
                    .evaluate(&Ctx::new(i + 1), proposal(i + 1))
                    .unwrap();
                pipeline.commit(&store, &c, approved).unwrap();
            }
        }
        check_bypasses(store.reader(), &bypassed);
        store.close().unwrap();
    }
    // After reopen the list comes from the frames again, across segments.
    let store = Store::open_read_only(StoreConfig::new(dir.path())).unwrap();
    assert!(
        store.open_report().segments > 1,
        "{:?}",
        store.open_report()
    );
    check_bypasses(store.reader(), &bypassed);
    let only_other = store.bypasses_in(&Region::entity("order:2")).unwrap();
    let want: Vec<EventId> = bypassed
        .iter()
        .filter(|b| b.1 == other)
        .map(|b| b.0)
        .collect();
    assert_eq!(
        only_other.iter().map(|b| b.event_id).collect::<Vec<_>>(),
        want
    );
}

fn check_bypasses(store: &batpak::StoreReader, want: &[(EventId, Coordinate, String)]) {
    let list = store.bypasses().unwrap();
    assert_eq!(list.len(), want.len());
    for (got, (id, c, ticket)) in list.iter().zip(want) {
        assert_eq!(
            (&got.event_id, &got.coordinate, &got.ticket),
            (id, c, ticket)
        );
        assert_eq!(got.kind, PLACED);
        assert!(got.reason.starts_with("on-call approved"));
        let header = store.get(*id).unwrap().event.header;
        assert_eq!(header.global_sequence, got.global_sequence);
        assert_eq!(
            header.attestation.unwrap().bypass().map(|b| b.0.to_owned()),
            Some(ticket.clone())
        );
    }
    // Brute force: every bypassed header, in commit order.
    let brute: Vec<EventId> = store
        .query(&Region::all())
        .iter()
        .filter(|e| {
            store
                .get(e.event_id())
                .unwrap()
                .event
                .header
                .attestation
                .is_some_and(|a| a.is_bypass())
        })
        .map(|e| e.event_id())
        .collect();
    assert_eq!(brute, list.iter().map(|b| b.event_id).collect::<Vec<_>>());
}

#[test]
fn denial_records_hash_the_payload_and_their_receipts_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key())).unwrap();
    let pipeline = Pipeline::new(gates());
    let p = proposal(1000);
    let want_hash = *blake3::hash(p.payload_bytes()).as_bytes();
    let denial = pipeline.evaluate(&Ctx::new(1000), p).unwrap_err();
    assert_eq!(
        denial.proposal().map(|d| (d.kind, d.payload_hash)),
        Some((PLACED, want_hash))
    );

    let r = store.append_denial(&coord(), &denial).unwrap();
    assert!(r.receipt.durable);
    assert_eq!(
        store.verify_denial_receipt(&r),
        ReceiptVerification::ValidSigned {
            key_id: key().verifying_key().to_bytes()
        }
    );
    r.verify_signature(&key().verifying_key()).unwrap();
    assert_eq!(store.read_denial(r.event_id()).unwrap(), denial);

    // The denial is an ordinary system event of the entity, with the hash but not the payload.
    let raw = store.read_raw(r.event_id()).unwrap();
    assert_eq!(raw.event.header.kind, DENIAL_KIND);
    assert_eq!(raw.event.header.attestation, None);
    assert!(!contains(&raw.event.payload, b"SECRET-CARD-4111"));
    let json = store.get(r.event_id()).unwrap().event.payload;
    assert_eq!(json["gate"], "credit_limit");
    assert_eq!(json["code"], "LIMIT");
    assert_eq!(json["context"]["max"], "500");
    assert_eq!(json["proposed_kind"], PLACED.as_u16());
    assert_eq!(
        json["payload_hash"],
        blake3::Hash::from(want_hash).to_hex().as_str()
    );
    assert_eq!(store.by_fact(DENIAL_KIND).len(), 1);

    // Users cannot write the denial kind themselves.
    assert!(matches!(
        store.append(&coord(), DENIAL_KIND, &"forged denial"),
        Err(StoreError::InvalidKind { .. })
    ));

    // A receipt whose denial was edited, or that names a non-denial event, fails.
    let mut edited = r.clone();
    edited.denial = edited.denial.with_code("OTHER");
    assert_eq!(
        store.verify_denial_receipt(&edited),
        ReceiptVerification::Mismatch { field: "denial" }
    );
    assert!(edited.verify_signature(&key().verifying_key()).is_err());
    let plain = store.append(&coord(), PLACED, &"x").unwrap();
    let mut posing = r.clone();
    posing.receipt = plain;
    assert_eq!(
        store.verify_denial_receipt(&posing),
        ReceiptVerification::Mismatch { field: "kind" }
    );
    assert!(matches!(
        store.read_denial(posing.receipt.event_id),
        Err(StoreError::KindMismatch { .. })
    ));

    // Denials without a proposal, and invalid gate names or codes.
    let bare = store
        .append_denial(&coord(), &Denial::new("manual_review", "rejected by staff"))
        .unwrap();
    assert!(store.verify_denial_receipt(&bare).is_valid());
    assert_eq!(store.read_denial(bare.event_id()).unwrap().proposal(), None);
    for bad in [
        Denial::new("", "m"),
        Denial::new("g", "m").with_code(""),
        Denial::new("g\u{7}", "m"),
    ] {
        assert!(matches!(
            store.append_denial(&coord(), &bad),
            Err(StoreError::InvalidGateRecord { .. })
        ));
    }
    store.close().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key())).unwrap();
    assert!(store.verify_denial_receipt(&r).is_signed());
    assert!(store.verify_chain().unwrap().is_intact());
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// ---- tamper evidence: rewrite frames with valid CRCs ----

/// A live store (as a crash image) holding: 0 plain, 1 gated, 2 denial, 3 bypassed, 4 plain.
struct Image {
    dir: tempfile::TempDir,
    gated: AppendReceipt,
    denial: DenialReceipt,
    bypassed: AppendReceipt,
    plain: AppendReceipt,
}

fn image() -> Image {
    let (dir, (gated, denial, bypassed, plain)) = live_image_with(
        |cfg| cfg.with_signing_key(key()),
        |store| {
            let pipeline = Pipeline::new(gates());
            store.append(&coord(), PLACED, &"first").unwrap();
            let gated = pipeline
                .commit(
                    store,
                    &coord(),
                    pipeline.evaluate(&Ctx::new(42), proposal(42)).unwrap(),
                )
                .unwrap();
            let denial = store
                .append_denial(
                    &coord(),
                    &pipeline.evaluate(&Ctx::new(-1), proposal(-1)).unwrap_err(),
                )
                .unwrap();
            let bypassed = pipeline
                .commit(
                    store,
                    &coord(),
                    pipeline
                        .bypass(
                            proposal(-2),
                            BypassReason::new("INC-9", "approved by on-call"),
                        )
                        .unwrap(),
                )
                .unwrap();
            let plain = store.append(&coord(), PLACED, &"last").unwrap();
            (gated, denial, bypassed, plain)
        },
    );
    Image {
        dir,
        gated,
        denial,
        bypassed,
        plain,
    }
}

fn tamper(img: &Image, frame: usize, edit: impl FnOnce(&mut rmpv::Value)) {
    rewrite_frames(img.dir.path(), |fs| {
        assert_eq!(fs.len(), 5);
        edit(&mut fs[frame]);
    });
}

fn verify(img: &Image) -> (ChainVerificationReport, Store) {
    let store = Store::open(StoreConfig::new(img.dir.path()).with_signing_key(key())).unwrap();
    (store.verify_chain().unwrap(), store)
}

#[test]
fn untampered_image_is_intact_and_plain_frames_end_in_one_nil_byte() {
    let img = image();
    let seg = only_segment(img.dir.path());
    let (hdr, mut fs) = frames(&std::fs::read(&seg).unwrap());
    for (i, f) in fs.iter_mut().enumerate() {
        let absent = matches!(field(f, ATTESTATION_FIELD), rmpv::Value::Nil);
        assert_eq!(absent, [true, false, true, false, true][i], "frame {i}");
        assert!(matches!(field(f, PAYLOAD_FIELD), rmpv::Value::Binary(_)));
    }
    // The last frame is a plain append: its body's final byte is msgpack nil.
    assert_eq!(*reassemble(&hdr, &fs).last().unwrap(), 0xc0);
    let (report, store) = verify(&img);
    assert!(report.is_intact(), "{report:?}");
    assert!(store.verify_append_receipt(&img.plain).is_signed());
}

#[test]
fn rewritten_denial_payload_with_fixed_crc_is_caught() {
    let img = image();
    tamper(&img, 2, |f| {
        let rmpv::Value::Binary(b) = field(f, PAYLOAD_FIELD) else {
            panic!("payload is bin")
        };
        // Flip one byte inside the stored message text.
        let at = b.windows(8).position(|w| w == b"positive").unwrap();
        b[at] ^= 0x20;
    });
    let (report, store) = verify(&img);
    assert_eq!(report.mismatches, [img.denial.event_id()]);
    assert!(report.dangling.is_empty());
    assert_eq!(
        store.verify_denial_receipt(&img.denial),
        ReceiptVerification::Mismatch {
            field: "content_hash"
        }
    );
    // The edited record reads back as a different denial.
    assert_ne!(
        store.read_denial(img.denial.event_id()).unwrap(),
        img.denial.denial
    );
    drop(store);
    let err = Store::open(
        StoreConfig::new(img.dir.path()).with_chain_verification(ChainVerification::Recompute),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        StoreError::ChainVerificationFailed { mismatches: 1, .. }
    ));
}

#[test]
fn changed_gate_name_with_fixed_crc_is_caught() {
    let img = image();
    tamper(&img, 1, |f| {
        let rmpv::Value::Array(att) = field(f, ATTESTATION_FIELD) else {
            panic!("attestation present")
        };
        let rmpv::Value::Array(names) = &mut att[1] else {
            panic!("names")
        };
        assert_eq!(names[1].as_str(), Some("credit_limit"));
        names[1] = rmpv::Value::from("credit_limiT");
    });
    let (report, store) = verify(&img);
    assert_eq!(report.mismatches, [img.gated.event_id]);
    let header = store.get(img.gated.event_id).unwrap().event.header;
    assert_eq!(header.attestation.unwrap().gates()[1], "credit_limiT");
    assert_eq!(
        store.verify_append_receipt(&img.gated),
        ReceiptVerification::Mismatch {
            field: "event_hash"
        }
    );
}

#[test]
fn dropped_or_forged_attestations_with_fixed_crc_are_caught() {
    // Remove the gates from a gated event.
    let img = image();
    tamper(&img, 1, |f| *field(f, ATTESTATION_FIELD) = rmpv::Value::Nil);
    assert_eq!(verify(&img).0.mismatches, [img.gated.event_id]);

    // Hide a bypass by turning it into a gate pass.
    let img = image();
    tamper(&img, 3, |f| {
        *field(f, ATTESTATION_FIELD) = rmpv::Value::Array(vec![
            rmpv::Value::from(1u8),
            rmpv::Value::Array(vec![rmpv::Value::from("amount_positive")]),
        ]);
    });
    let (report, store) = verify(&img);
    assert_eq!(report.mismatches, [img.bypassed.event_id]);
    assert!(
        store.bypasses().unwrap().is_empty(),
        "the edit hides it from the listing..."
    );
    assert!(
        !store.verify_append_receipt(&img.bypassed).is_valid(),
        "...but not from verification"
    );

    // Claim gates for a plain append.
    let img = image();
    tamper(&img, 4, |f| {
        *field(f, ATTESTATION_FIELD) = rmpv::Value::Array(vec![
            rmpv::Value::from(1u8),
            rmpv::Value::Array(vec![rmpv::Value::from("credit_limit")]),
        ]);
    });
    assert_eq!(verify(&img).0.mismatches, [img.plain.event_id]);
}
