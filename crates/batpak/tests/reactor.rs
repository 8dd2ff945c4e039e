//! Reactors: each new event of a region runs the handler once, its reactions
//! are appended with causation set to that event, and a checkpointed reactor
//! resumes after a restart without skipping or repeating.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{coord, open_buffered};

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use batpak::prelude::*;

const SIGNED_UP: EventKind = EventKind::custom(0xE, 1);
const WELCOMED: EventKind = EventKind::custom(0xE, 2);

fn open(dir: &Path) -> Arc<Store> {
    Arc::new(open_buffered(dir))
}

fn sign_up(store: &Store, i: usize) -> AppendReceipt {
    store
        .append(&coord(format!("user:{i}"), "users"), SIGNED_UP, &i)
        .unwrap()
}

fn welcome(ev: &StoredEvent<serde_json::Value>) -> Vec<Reaction> {
    let c = coord(format!("mail:{}", ev.coordinate.entity()), "mail");
    vec![Reaction::new(c, WELCOMED, &ev.event.payload).unwrap()]
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn reactions_are_appended_with_the_trigger_as_causation() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let before: Vec<AppendReceipt> = (0..3).map(|i| sign_up(&store, i)).collect();
    let reactor = store
        .react_loop(&Region::all().with_kind(SIGNED_UP), welcome)
        .unwrap();
    let triggers: Vec<AppendReceipt> = (3..23).map(|i| sign_up(&store, i)).collect();
    wait_for("reactions", || {
        store.by_fact(WELCOMED).len() == triggers.len()
    });
    for t in &triggers {
        let caused = store.caused_by(t.event_id);
        assert_eq!(caused.len(), 1, "one reaction per trigger");
        let ev = store.get(caused[0].event_id()).unwrap();
        assert_eq!(ev.event.header.causation_id, Some(t.event_id));
        assert_eq!(ev.event.header.kind, WELCOMED);
        assert!(ev.event.header.global_sequence > t.global_sequence);
    }
    for b in &before {
        assert!(
            store.caused_by(b.event_id).is_empty(),
            "started at the end: older events are not handled"
        );
    }
    let stats = reactor.stop().unwrap();
    assert_eq!(stats.events_handled, 20);
    assert_eq!(stats.reactions_appended, 20);
    assert_eq!(
        Arc::strong_count(&store),
        1,
        "the reactor released the store"
    );
}

#[test]
fn a_checkpointed_reactor_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let region = Region::all().with_kind(SIGNED_UP);
    let opts = || {
        ReactorOptions::default()
            .with_checkpoint(CheckpointId::new("welcomer").unwrap())
            .with_batch_size(3)
    };
    {
        let store = open(dir.path());
        let reactor = store.react_loop_with(&region, opts(), welcome).unwrap();
        for i in 0..10 {
            sign_up(&store, i);
        }
        wait_for("first reactions", || store.by_fact(WELCOMED).len() == 10);
        assert_eq!(reactor.stop().unwrap().events_handled, 10);
        // Committed while no reactor runs.
        for i in 10..15 {
            sign_up(&store, i);
        }
        Arc::try_unwrap(store).unwrap().close().unwrap();
    }
    let store = open(dir.path());
    let reactor = store.react_loop_with(&region, opts(), welcome).unwrap();
    for i in 15..18 {
        sign_up(&store, i);
    }
    wait_for("all reactions", || store.by_fact(WELCOMED).len() == 18);
    let stats = reactor.stop().unwrap();
    assert_eq!(
        stats.events_handled, 8,
        "exactly the events after the checkpoint"
    );
    for trigger in store.by_fact(SIGNED_UP) {
        assert_eq!(
            store.caused_by(trigger.event_id()).len(),
            1,
            "no skip, no repeat"
        );
    }
}

#[test]
fn dropping_the_handle_stops_the_reactor() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let reactor = store
        .react_loop(&Region::all().with_kind(SIGNED_UP), welcome)
        .unwrap();
    assert!(reactor.is_running());
    assert_eq!(Arc::strong_count(&store), 3);
    drop(reactor);
    assert_eq!(Arc::strong_count(&store), 1);
    sign_up(&store, 1);
    std::thread::sleep(Duration::from_millis(20));
    assert!(store.by_fact(WELCOMED).is_empty());
}

#[test]
fn a_failed_append_ends_the_loop_and_stop_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let reactor = store
        .react_loop(&Region::all().with_kind(SIGNED_UP), |ev| {
            let c = coord("audit", "audit");
            let strict =
                AppendOptions::default().with_expected_sequence(ExpectedSequence::Exact(99));
            vec![Reaction::new(c, WELCOMED, &ev.event.payload)
                .unwrap()
                .with_options(strict)]
        })
        .unwrap();
    sign_up(&store, 1);
    wait_for("the loop to end", || !reactor.is_running());
    assert!(matches!(
        reactor.stop(),
        Err(StoreError::SequenceMismatch { .. })
    ));
}

#[test]
fn a_panicking_handler_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let reactor = store
        .react_loop(&Region::all(), |_ev| -> Vec<Reaction> {
            panic!("handler bug")
        })
        .unwrap();
    sign_up(&store, 1);
    wait_for("the loop to end", || !reactor.is_running());
    assert!(matches!(reactor.stop(), Err(StoreError::ReactorPanicked)));
}
