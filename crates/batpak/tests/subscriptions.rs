//! Lossy subscriptions: bounded, never block the writer, and tell a slow
//! subscriber how many notifications it lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;
use common::{coord, open_buffered, temp_store};

use std::time::{Duration, Instant};

use batpak::prelude::*;

const K: EventKind = EventKind::custom(0xE, 1);

fn append_timed(store: &Store, n: usize, tag: &str) -> f64 {
    let c = coord("e", "s");
    let start = Instant::now();
    for i in 0..n {
        store.append(&c, K, &i).unwrap();
    }
    let per_sec = n as f64 / start.elapsed().as_secs_f64();
    println!("{tag}: {per_sec:.0} appends/s");
    per_sec
}

#[test]
fn a_stalled_subscriber_loses_notifications_is_told_and_never_slows_the_writer() {
    const N: usize = 3000;
    const CAP: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    append_timed(&store, N, "without subscribers");

    let stalled = store.subscribe_lossy_with_capacity(&Region::all(), CAP);
    append_timed(&store, N, "with a stalled subscriber");

    // Every append succeeded (append_timed unwraps); account for every event.
    assert_eq!(store.len(), 2 * N as u64);
    assert_eq!(stalled.delivered(), CAP as u64);
    assert_eq!(stalled.missed(), (N - CAP) as u64);
    assert_eq!(stalled.delivered() + stalled.missed(), N as u64);
    let queued: Vec<Notification> = std::iter::from_fn(|| stalled.try_recv()).collect();
    assert_eq!(queued.len(), CAP);
    assert!(
        queued.iter().all(|n| n.missed == 0),
        "nothing was lost before these"
    );
    let first_new = N as u64;
    let got: Vec<u64> = queued.iter().map(Notification::global_sequence).collect();
    assert_eq!(got, (first_new..first_new + CAP as u64).collect::<Vec<_>>());

    // The next notification that gets through carries the loss count.
    let r = store.append(&coord("e", "s"), K, &0u8).unwrap();
    let note = stalled.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(note.event_id(), r.event_id);
    assert_eq!(note.missed, (N - CAP) as u64);
    assert_eq!(stalled.missed(), (N - CAP) as u64);
}

#[test]
fn a_stalled_subscriber_does_not_block_durable_appends() {
    let (_dir, store) = temp_store();
    let sub = store.subscribe_lossy_with_capacity(&Region::all(), 1);
    let c = coord("e", "s");
    let tickets: Vec<AppendTicket> = (0..200u32)
        .map(|i| store.submit(&c, K, &i).unwrap())
        .collect();
    for t in tickets {
        assert!(t.wait().unwrap().durable);
    }
    assert_eq!(sub.delivered() + sub.missed(), 200);
    assert_eq!(sub.delivered(), 1);
}

#[test]
fn a_keeping_up_subscriber_sees_every_matching_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    let sub = store.subscribe_lossy_with_capacity(&Region::scope("s1").with_kind(K), 10_000);
    let other = EventKind::custom(0xA, 2);
    let mut want = Vec::new();
    for i in 0..300u32 {
        let c = coord(format!("e{}", i % 7), format!("s{}", i % 2));
        let kind = if i % 3 == 0 { other } else { K };
        let r = store.append(&c, kind, &i).unwrap();
        if i % 2 == 1 && kind == K {
            want.push(r.event_id);
        }
    }
    let got: Vec<EventId> = std::iter::from_fn(|| sub.try_recv())
        .map(|n| {
            assert_eq!(n.missed, 0);
            assert_eq!(n.coordinate().scope(), "s1");
            assert_eq!(n.kind(), K);
            n.event_id()
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(sub.missed(), 0);
}

#[test]
fn notifications_follow_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    let sub = store.subscribe_lossy(&Region::all());
    let c = coord("e", "s");
    for i in 0..50u32 {
        store.append(&c, K, &i).unwrap();
    }
    while let Some(note) = sub.try_recv() {
        assert!(store
            .frontier()
            .visible
            .covers_sequence(note.global_sequence()));
        assert_eq!(store.entry(note.event_id()).as_ref(), Some(&note.entry));
    }
}

#[test]
fn dropped_subscribers_are_pruned_and_closing_ends_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_buffered(dir.path());
    let kept = store.subscribe_lossy(&Region::all());
    let dropped: Vec<Subscription> = (0..5)
        .map(|_| store.subscribe_lossy(&Region::all()))
        .collect();
    assert_eq!(store.subscriber_count(), 6);
    drop(dropped);
    store.append(&coord("e", "s"), K, &1u8).unwrap();
    assert_eq!(store.subscriber_count(), 1);
    assert!(kept.try_recv().is_some());
    let before_close = store.subscribe_lossy(&Region::all());
    store.close().unwrap();
    assert!(
        before_close.recv().is_none(),
        "closing the store ends the subscription"
    );
    assert!(kept.recv_timeout(Duration::from_secs(1)).is_none());
}
