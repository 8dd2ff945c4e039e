//! Subscription sessions: replay then live without gap or repeat across a
//! resume from any delivered cursor, every source, cumulative acks, pause
//! on a full window and resume on credit, slow-consumer end after the stall
//! time, and a writer that a stalled session does not slow.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use batpak::prelude::*;
use syncbat::session::{
    AckError, CursorError, Delivery, EndReason, Phase, Session, SessionConfig, SessionError,
    SessionPoll, Source, SubscriptionRegistry,
};
use syncbat::{
    Core, Ctx, EffectClass, HandlerResult, OperationDescriptor, StoreOperationStatusSink,
    StoreReceiptSink,
};

const K1: EventKind = EventKind::custom(0xE, 1);
const K_OTHER_CATEGORY: EventKind = EventKind::custom(0xA, 1);
const SHORT: Duration = Duration::from_millis(50);

fn store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::open(StoreConfig::new(dir.path()).with_sync_mode(SyncMode::OsBuffered)).unwrap(),
    );
    (dir, store)
}

fn open(store: &Arc<Store>, source: Source, resume: Option<&[u8]>, window: u32) -> Session {
    Session::open(
        store.clone(),
        "sub.test",
        source,
        resume,
        window,
        SessionConfig::default(),
    )
    .unwrap()
}

/// Polls and acknowledges until the session is caught up.
fn drain(session: &mut Session) -> Vec<Delivery> {
    let mut out = Vec::new();
    loop {
        match session.poll(SHORT).unwrap() {
            SessionPoll::Delivery(d) => {
                session.ack(d.delivery_index, &d.cursor_after).unwrap();
                out.push(d);
            }
            SessionPoll::Idle => return out,
            other => panic!("{other:?}"),
        }
    }
}

fn seqs(ds: &[Delivery]) -> Vec<u64> {
    ds.iter().map(|d| d.entry.global_sequence()).collect()
}

#[test]
fn replay_then_live_without_gap_or_repeat_across_a_resume_from_any_cursor() {
    let (_dir, store) = store();
    let acct = Coordinate::new("acct:1", "bank").unwrap();
    let noise = Coordinate::new("acct:2", "bank").unwrap();
    for i in 0..6u8 {
        store.append(&acct, K1, &i).unwrap();
        store.append(&noise, K1, &i).unwrap();
    }
    let source = Source::EntityStream(acct.clone());
    let mut s = open(&store, source.clone(), None, 4);
    let replayed = drain(&mut s);
    assert_eq!(replayed.len(), 6);
    assert!(replayed.iter().all(|d| d.phase == Phase::Replay));
    let writer = {
        let store = store.clone();
        let acct = acct.clone();
        std::thread::spawn(move || {
            for i in 6..12u8 {
                store.append(&acct, K1, &i).unwrap();
            }
        })
    };
    let mut live = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while live.len() < 6 && Instant::now() < deadline {
        if let SessionPoll::Delivery(d) = s.poll(SHORT).unwrap() {
            s.ack(d.delivery_index, &d.cursor_after).unwrap();
            live.push(d);
        }
    }
    writer.join().unwrap();
    assert!(live.iter().all(|d| d.phase == Phase::Live));
    let all: Vec<Delivery> = replayed.into_iter().chain(live).collect();
    let expected: Vec<u64> = store
        .by_entity("acct:1")
        .iter()
        .map(|e| e.global_sequence())
        .collect();
    assert_eq!(seqs(&all), expected, "a gap or a repeat");
    for (i, d) in all.iter().enumerate() {
        assert_eq!(d.delivery_index, i as u64 + 1);
        let value: u8 = rmp_serde::from_slice(&d.payload).unwrap();
        assert_eq!(value, i as u8);
        if i > 0 {
            assert_eq!(d.cursor_before, all[i - 1].cursor_after);
        }
    }
    // Resume from every delivered cursor: exactly the rest, then new events.
    store.append(&acct, K1, &12u8).unwrap();
    let expected: Vec<u64> = store
        .by_entity("acct:1")
        .iter()
        .map(|e| e.global_sequence())
        .collect();
    for (i, d) in all.iter().enumerate() {
        let mut resumed = open(&store, source.clone(), Some(&d.cursor_after), 3);
        let rest = drain(&mut resumed);
        assert_eq!(
            seqs(&rest),
            expected[i + 1..],
            "resume after delivery {}",
            i + 1
        );
        assert_eq!(rest[0].cursor_before, d.cursor_after);
    }
}

#[test]
fn event_category_and_receipt_and_status_sources_deliver_only_their_events() {
    let (_dir, store) = store();
    let mut b = Core::builder();
    for (name, kind) in [("ops.a", "receipt.ops.a.v1"), ("ops.b", "receipt.ops.b.v1")] {
        let d = OperationDescriptor::owned(name, EffectClass::Compute, "i", "o", kind);
        b.register(d, |i: &[u8], _: &mut Ctx<'_>| -> HandlerResult {
            Ok(i.to_vec())
        })
        .unwrap();
    }
    b.receipt_sink(StoreReceiptSink::new(
        store.clone(),
        Coordinate::new("syncbat:receipts", "ops").unwrap(),
    ));
    b.status_sink(StoreOperationStatusSink::new(store.clone()));
    let core = b.build().unwrap();
    let c = Coordinate::new("e", "s").unwrap();
    for i in 0..3u8 {
        core.invoke("ops.a", vec![i]).unwrap();
        core.invoke("ops.b", vec![i]).unwrap();
        store.append(&c, K1, &i).unwrap();
        store.append(&c, K_OTHER_CATEGORY, &i).unwrap();
    }
    let cat = drain(&mut open(&store, Source::EventCategory(0xE), None, 8));
    assert_eq!(cat.len(), 3);
    assert!(cat.iter().all(|d| d.entry.kind() == K1));

    let receipts = Source::ReceiptStream {
        receipt_kind: "receipt.ops.a.v1".into(),
    };
    let got = drain(&mut open(&store, receipts.clone(), None, 8));
    assert_eq!(got.len(), 3);
    for d in &got {
        let e: syncbat::ReceiptEnvelope = rmp_serde::from_slice(&d.payload).unwrap();
        assert_eq!(e.descriptor_name, "ops.a");
    }
    // Resume a receipt stream mid-way: skipped receipts of other kinds do not reappear.
    let rest = drain(&mut open(&store, receipts, Some(&got[0].cursor_after), 8));
    assert_eq!(seqs(&rest), seqs(&got[1..]));

    let status = Source::OperationStatus {
        operation: "ops.b".into(),
    };
    let facts = drain(&mut open(&store, status.clone(), None, 8));
    assert_eq!(facts.len(), 6, "started and completed for each of 3 calls");
    let kinds: Vec<_> = facts
        .iter()
        .map(|d| {
            rmp_serde::from_slice::<syncbat::OperationStatusFact>(&d.payload)
                .unwrap()
                .status
        })
        .collect();
    assert_eq!(kinds[0], syncbat::OperationStatus::Started);
    assert_eq!(kinds[1], syncbat::OperationStatus::Completed);
    let rest = drain(&mut open(
        &store,
        status.clone(),
        Some(&facts[3].cursor_after),
        8,
    ));
    assert_eq!(seqs(&rest), seqs(&facts[4..]));
    core.invoke("ops.b", vec![9]).unwrap();
    let rest = drain(&mut open(&store, status, Some(&facts[5].cursor_after), 8));
    assert_eq!(rest.len(), 2);
}

#[test]
fn a_full_window_pauses_and_resumes_on_credit() {
    let (_dir, store) = store();
    let c = Coordinate::new("e", "s").unwrap();
    for i in 0..5u8 {
        store.append(&c, K1, &i).unwrap();
    }
    let mut s = open(&store, Source::EntityStream(c), None, 2);
    let SessionPoll::Delivery(d1) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    let SessionPoll::Delivery(d2) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    assert!(matches!(
        s.poll(SHORT).unwrap(),
        SessionPoll::Paused { in_flight: 2, .. }
    ));
    assert!(matches!(
        s.poll(Duration::ZERO).unwrap(),
        SessionPoll::Paused { .. }
    ));
    // One credit: one more delivery, then paused again.
    s.ack(d1.delivery_index, &d1.cursor_after).unwrap();
    let SessionPoll::Delivery(d3) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    assert_eq!(d3.entry.global_sequence(), d2.entry.global_sequence() + 1);
    assert!(matches!(s.poll(SHORT).unwrap(), SessionPoll::Paused { .. }));
    // Cumulative: acknowledging 3 frees both.
    s.ack(d3.delivery_index, &d3.cursor_after).unwrap();
    assert_eq!(s.in_flight(), 0);
    assert_eq!(s.last_acked_cursor(), Some(&d3.cursor_after[..]));
    // Credit sent from another thread wakes a paused poll.
    let SessionPoll::Delivery(d4) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    let SessionPoll::Delivery(d5) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    let controls = s.controls();
    let (writer_store, c2) = (store.clone(), Coordinate::new("e", "s").unwrap());
    let acker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        let sent = controls.ack(d5.delivery_index, d5.cursor_after);
        writer_store.append(&c2, K1, &5u8).unwrap();
        sent
    });
    // Paused now; the credit and the new event arrive while this poll waits.
    let after = s.poll(Duration::from_secs(10)).unwrap();
    assert!(acker.join().unwrap());
    match after {
        SessionPoll::Delivery(d6) => assert_eq!(d6.delivery_index, 6),
        other => panic!("{other:?}"),
    }
    let _ = d4;
}

#[test]
fn acks_are_checked() {
    let (_dir, store) = store();
    let c = Coordinate::new("e", "s").unwrap();
    for i in 0..3u8 {
        store.append(&c, K1, &i).unwrap();
    }
    let mut s = open(&store, Source::EntityStream(c), None, 8);
    let SessionPoll::Delivery(d1) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    let SessionPoll::Delivery(d2) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    let ack = |s: &mut Session, i, c: &[u8]| match s.ack(i, c) {
        Err(SessionError::Ack(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ack(&mut s, 0, &d1.cursor_after),
        AckError::OutOfRange {
            index: 0,
            last_sent: 2
        }
    );
    assert_eq!(
        ack(&mut s, 3, &d1.cursor_after),
        AckError::OutOfRange {
            index: 3,
            last_sent: 2
        }
    );
    assert_eq!(
        ack(&mut s, 2, &d1.cursor_after),
        AckError::CursorMismatch { index: 2 }
    );
    s.ack(2, &d2.cursor_after).unwrap();
    s.ack(2, &d2.cursor_after).unwrap(); // repeating the last ack is harmless
    assert_eq!(
        ack(&mut s, 1, &d1.cursor_after),
        AckError::Regressed {
            index: 1,
            last_acked: 2
        }
    );
    // An invalid ack through the controls ends the session.
    s.controls().ack(9, vec![1, 2, 3]);
    match s.poll(SHORT).unwrap() {
        SessionPoll::Ended(end) => {
            assert!(matches!(
                end.reason,
                EndReason::AckInvalid(AckError::OutOfRange { .. })
            ));
            assert_eq!(end.reason.code(), "malformed_stream_frame");
            assert_eq!(end.last_acked_cursor.as_deref(), Some(&d2.cursor_after[..]));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.ack(2, &d2.cursor_after),
        Err(SessionError::Ack(AckError::Ended))
    ));
}

#[test]
fn a_stalled_session_ends_as_slow_consumer_only_after_the_stall_time() {
    let (_dir, store) = store();
    let c = Coordinate::new("e", "s").unwrap();
    for i in 0..3u8 {
        store.append(&c, K1, &i).unwrap();
    }
    let stall = Duration::from_millis(300);
    let cfg = SessionConfig::default().with_stall_timeout(stall);
    let mut s = Session::open(
        store.clone(),
        "sub.slow",
        Source::EntityStream(c),
        None,
        1,
        cfg,
    )
    .unwrap();
    let SessionPoll::Delivery(d1) = s.poll(SHORT).unwrap() else {
        panic!()
    };
    let mut paused_polls = 0;
    let paused_at = Instant::now();
    let end = loop {
        assert!(
            paused_at.elapsed() < stall * 10,
            "still paused long after the stall time"
        );
        match s.poll(SHORT).unwrap() {
            SessionPoll::Paused { .. } => paused_polls += 1,
            SessionPoll::Ended(end) => break end,
            other => panic!("{other:?}"),
        }
    };
    assert!(paused_polls >= 1, "the session was cut instead of paused");
    assert!(paused_at.elapsed() >= stall, "ended before the stall time");
    assert_eq!(end.reason, EndReason::SlowConsumer);
    assert_eq!(end.reason.code(), "slow_consumer");
    assert_eq!(
        end.last_delivered_cursor.as_deref(),
        Some(&d1.cursor_after[..])
    );
    assert_eq!(end.last_acked_cursor, None);
    assert!(matches!(
        s.poll(Duration::ZERO).unwrap(),
        SessionPoll::Ended(_)
    ));
}

fn appends_per_second(store: &Store, n: u32) -> f64 {
    let c = Coordinate::new("writer", "bench").unwrap();
    let started = Instant::now();
    for i in 0..n {
        store.append(&c, K1, &i).unwrap();
    }
    f64::from(n) / started.elapsed().as_secs_f64()
}

/// Measured, not asserted: the figures are printed for the record.
#[test]
fn a_stalled_session_does_not_slow_the_writer() {
    let (_dir, store) = store();
    let n = 3000;
    let _warm = appends_per_second(&store, 3000);
    let alone = appends_per_second(&store, n);
    let cfg = SessionConfig::default().with_stall_timeout(Duration::from_millis(400));
    let mut stalled = Session::open(
        store.clone(),
        "sub.stalled",
        Source::EventCategory(0xE),
        None,
        1,
        cfg,
    )
    .unwrap();
    let SessionPoll::Delivery(_) = stalled.poll(SHORT).unwrap() else {
        panic!()
    };
    // The stalled consumer keeps polling (paused) on its own thread while the writer runs.
    let consumer = std::thread::spawn(move || loop {
        if let SessionPoll::Ended(end) = stalled.poll(Duration::from_millis(20)).unwrap() {
            return end;
        }
    });
    let beside = appends_per_second(&store, n);
    let end = consumer.join().unwrap();
    assert_eq!(end.reason, EndReason::SlowConsumer);
    let after = appends_per_second(&store, n);
    eprintln!(
        "writer appends/s (OsBuffered, {n} appends each): alone {alone:.0}, beside a stalled session {beside:.0} \
         (ratio {:.2}), after it ended {after:.0}",
        beside / alone
    );
    assert_eq!(store.by_entity("writer").len() as u32, 4 * n);
}

#[test]
fn opening_refuses_bad_cursors_windows_and_ids() {
    let (_dir, store) = store();
    let c = Coordinate::new("e", "s").unwrap();
    store.append(&c, K1, &1u8).unwrap();
    let source = Source::EntityStream(c.clone());
    let d = drain(&mut open(&store, source.clone(), None, 8));
    let err = Session::open(
        store.clone(),
        "sub.other",
        source.clone(),
        Some(&d[0].cursor_after),
        8,
        SessionConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        SessionError::Cursor(CursorError::SubscriptionMismatch)
    ));
    assert_eq!(err.code(), "cursor_mismatch");
    let err = Session::open(
        store.clone(),
        "sub.test",
        Source::EventCategory(0xE),
        Some(&d[0].cursor_after),
        8,
        SessionConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        SessionError::Cursor(CursorError::RouteMismatch)
    ));
    let err = Session::open(
        store.clone(),
        "sub.test",
        source.clone(),
        Some(b"garbage"),
        8,
        SessionConfig::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "cursor_invalid");
    let err = Session::open(
        store.clone(),
        "sub.test",
        source.clone(),
        None,
        0,
        SessionConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, SessionError::InvalidWindow));
    let cfg = SessionConfig::default().with_server_max_window(4);
    assert_eq!(
        Session::open(store.clone(), "sub.test", source.clone(), None, 100, cfg)
            .unwrap()
            .window(),
        4
    );
    assert!(matches!(
        Session::open(
            store.clone(),
            "sub.test",
            source,
            None,
            1,
            SessionConfig::default().with_page_size(0)
        ),
        Err(SessionError::InvalidConfig { .. })
    ));
    let status = Source::OperationStatus {
        operation: "nothing.here".into(),
    };
    let ahead = syncbat::session::SubscriptionCursor::new(
        "sub.test",
        &status,
        syncbat::session::Position::AfterEntitySequence(5),
        0,
    );
    assert!(matches!(
        Session::open(
            store.clone(),
            "sub.test",
            status,
            Some(&ahead.encode()),
            1,
            SessionConfig::default()
        ),
        Err(SessionError::CursorAhead { entity_sequence: 5 })
    ));

    let mut reg = SubscriptionRegistry::new();
    reg.register("orders.v1", Source::EventCategory(0xE))
        .unwrap();
    assert!(matches!(
        reg.register("orders.v1", Source::EventCategory(1)),
        Err(SessionError::DuplicateSubscription { .. })
    ));
    assert!(matches!(
        reg.register("bad id", Source::EventCategory(1)),
        Err(SessionError::InvalidSubscriptionId { .. })
    ));
    assert!(matches!(
        reg.register("cat.big", Source::EventCategory(0x10)),
        Err(SessionError::InvalidRoute { .. })
    ));
    let err = reg
        .open(&store, "nope", None, 1, SessionConfig::default())
        .unwrap_err();
    assert_eq!(err.code(), "unknown_subscription");
    assert_eq!(reg.get("orders.v1"), Some(&Source::EventCategory(0xE)));
    assert_eq!(
        drain(
            &mut reg
                .open(&store, "orders.v1", None, 4, SessionConfig::default())
                .unwrap()
        )
        .len(),
        1
    );
}

#[test]
fn a_cancel_from_another_thread_ends_an_idle_session() {
    let (_dir, store) = store();
    let mut s = open(&store, Source::EventCategory(0xE), None, 4);
    let controls = s.controls();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        controls.cancel()
    });
    let started = Instant::now();
    let mut end = None;
    while end.is_none() && started.elapsed() < Duration::from_secs(5) {
        if let SessionPoll::Ended(e) = s.poll(Duration::from_secs(1)).unwrap() {
            end = Some(e);
        }
    }
    assert!(t.join().unwrap());
    assert_eq!(end.map(|e| e.reason), Some(EndReason::ClientCancelled));
    assert_eq!(s.cancel().reason, EndReason::ClientCancelled);
}

#[test]
fn a_session_describes_itself() {
    let (_dir, store) = store();
    let s = open(&store, Source::EventCategory(0xE), None, 4);
    let text = format!("{s:?}");
    assert!(
        text.contains("sub.test")
            && text.contains("EventCategory(14)")
            && text.contains("window: 4"),
        "{text}"
    );
    assert_eq!(s.subscription_id(), "sub.test");
    assert_eq!(s.source(), &Source::EventCategory(0xE));
    assert_eq!(s.last_delivered_cursor(), None);
    assert!(format!("{:?}", s.controls()).contains("SessionControls"));
}

#[test]
fn store_routes_follow_every_event_every_receipt_and_an_entity_with_its_children() {
    let (_dir, store) = store();
    let mut b = Core::builder();
    for (name, kind) in [("ops.a", "receipt.ops.a.v1"), ("ops.b", "receipt.ops.b.v1")] {
        let d = OperationDescriptor::owned(name, EffectClass::Compute, "i", "o", kind);
        b.register(d, |_: &[u8], _: &mut Ctx<'_>| -> HandlerResult {
            Ok(Vec::new())
        })
        .unwrap();
    }
    b.receipt_sink(StoreReceiptSink::new(
        store.clone(),
        Coordinate::new("syncbat:receipts", "ops").unwrap(),
    ));
    let core = b.build().unwrap();
    let parent = Coordinate::new("acct:1", "bank").unwrap();
    let child = Coordinate::new("acct:1:card", "cards").unwrap();
    let sibling = Coordinate::new("acct:10", "bank").unwrap();
    for i in 0..3u8 {
        store.append(&parent, K1, &i).unwrap();
        store.append(&child, K_OTHER_CATEGORY, &i).unwrap();
        store.append(&sibling, K1, &i).unwrap();
        core.invoke("ops.a", vec![i]).unwrap();
        core.invoke("ops.b", vec![i]).unwrap();
    }
    let total = store.query(&Region::all()).len() as u64;

    let all = drain(&mut open(&store, Source::AllEvents, None, 8));
    assert_eq!(all.len() as u64, total);
    assert_eq!(seqs(&all), (0..total).collect::<Vec<_>>());
    for d in &all {
        assert_eq!(d.header.event_id, d.entry.event_id());
        assert_eq!(d.header.global_sequence, d.entry.global_sequence());
    }

    let receipts = drain(&mut open(&store, Source::AllReceipts, None, 8));
    assert_eq!(receipts.len(), 6, "both receipt kinds");
    let names: Vec<String> = receipts
        .iter()
        .map(|d| {
            rmp_serde::from_slice::<syncbat::ReceiptEnvelope>(&d.payload)
                .unwrap()
                .descriptor_name
        })
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "ops.a").count(), 3);
    assert_eq!(names.iter().filter(|n| *n == "ops.b").count(), 3);

    let tree = Source::EntityTree("acct:1".into());
    let got = drain(&mut open(&store, tree.clone(), None, 8));
    let entities: Vec<&str> = got.iter().map(|d| d.entry.coordinate().entity()).collect();
    assert_eq!(got.len(), 6, "{entities:?}");
    assert!(entities
        .iter()
        .all(|e| *e == "acct:1" || *e == "acct:1:card"));
    // A resume from every delivered cursor continues with exactly the rest,
    // and skipped events of `acct:10` never shift it.
    for (i, d) in got.iter().enumerate() {
        let rest = drain(&mut open(&store, tree.clone(), Some(&d.cursor_after), 8));
        assert_eq!(seqs(&rest), seqs(&got[i + 1..]));
    }
    // Live: a new child event arrives, a new sibling event does not.
    let mut s = open(&store, tree.clone(), Some(&got[5].cursor_after), 8);
    store.append(&sibling, K1, &9u8).unwrap();
    store.append(&child, K1, &9u8).unwrap();
    let live = drain(&mut s);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].entry.coordinate().entity(), "acct:1:card");
    assert_eq!(live[0].phase, Phase::Live);

    // Cursors of one route do not resume another.
    let err = Session::open(
        store.clone(),
        "sub.test",
        Source::AllEvents,
        Some(&got[0].cursor_after),
        8,
        SessionConfig::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SessionError::Cursor(CursorError::RouteMismatch)),
        "{err:?}"
    );
    assert_eq!(
        got[0].cursor_after[5],
        syncbat::session::SOURCE_KIND_STORE_ROUTE
    );
    assert!(matches!(
        SubscriptionRegistry::new().register("t.v1", Source::EntityTree(String::new())),
        Err(SessionError::InvalidRoute { .. })
    ));
}
