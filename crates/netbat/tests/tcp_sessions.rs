//! NETBAT/2 over real loopback TCP, served by syncbat's sessions over a real
//! store: replay then live without gap or repeat across a reconnect from
//! every delivered cursor, a full window that pauses and resumes on acks, a
//! stalled consumer cut with `slow_consumer`, and a writer it does not slow.
#![cfg(feature = "sessions")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;
use common::*;

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use batpak::prelude::*;
use netbat::{
    decode_stream_line, ClientConfig, Delivery, EventStreamEnvelope, Limits, Server, ServerConfig,
    SessionSubscriptions, StreamFrame, Subscription,
};
use syncbat::session::{Source, SubscriptionRegistry};

const K: EventKind = EventKind::custom(0xE, 1);

fn store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::open(StoreConfig::new(dir.path()).with_sync_mode(SyncMode::OsBuffered)).unwrap(),
    );
    (dir, store)
}

fn server(store: &Arc<Store>, config: ServerConfig) -> Server {
    let mut routes = SubscriptionRegistry::new();
    routes.register("events.all.v1", Source::AllEvents).unwrap();
    routes
        .register("acct.tree.v1", Source::EntityTree("acct:1".into()))
        .unwrap();
    Server::subscriptions(
        listener(),
        SessionSubscriptions::new(store.clone(), routes),
        config.with_feed_poll_interval(Duration::from_millis(20)),
    )
    .unwrap()
}

fn sequence(d: &Delivery) -> u64 {
    match d {
        Delivery::Event(e) => {
            EventStreamEnvelope::decode(&e.payload)
                .unwrap()
                .global_sequence
        }
        other => panic!("{other:?}"),
    }
}

fn frame(stream: &mut std::net::TcpStream) -> StreamFrame {
    let line = read_line(stream);
    decode_stream_line(&line, &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&line)))
}

#[test]
fn replay_then_live_resumes_from_every_delivered_cursor_without_gap_or_repeat() {
    let (_dir, store) = store();
    let acct = Coordinate::new("acct:1", "bank").unwrap();
    for i in 0..8u8 {
        store.append(&acct, K, &i).unwrap();
    }
    let server = server(&store, ServerConfig::default());
    let config = ClientConfig::new(server.local_addr());
    let window = NonZeroU32::new(3).unwrap();
    let mut sub = Subscription::open(&config, "events.all.v1", None, window).unwrap();
    let mut got: Vec<Delivery> = sub.by_ref().take(8).map(Result::unwrap).collect();
    // Live after replay.
    store.append(&acct, K, &8u8).unwrap();
    got.push(sub.next().unwrap().unwrap());
    let seqs: Vec<u64> = got.iter().map(sequence).collect();
    assert_eq!(seqs, (0..9).collect::<Vec<_>>());
    drop(sub);
    for (i, d) in got.iter().enumerate() {
        let cursor = d.cursor_after().unwrap().clone();
        assert_eq!(&cursor.as_bytes()[..4], b"BPSC");
        let mut resumed =
            Subscription::open(&config, "events.all.v1", Some(cursor), window).unwrap();
        let rest: Vec<u64> = resumed
            .by_ref()
            .take(8 - i)
            .map(|d| sequence(&d.unwrap()))
            .collect();
        assert_eq!(rest, seqs[i + 1..], "resumed after delivery {}", i + 1);
    }
    // An entity-tree route delivers the entity and its children only.
    store
        .append(&Coordinate::new("acct:10", "bank").unwrap(), K, &0u8)
        .unwrap();
    store
        .append(&Coordinate::new("acct:1:card", "cards").unwrap(), K, &0u8)
        .unwrap();
    let mut tree = Subscription::open(&config, "acct.tree.v1", None, window).unwrap();
    let entities: Vec<String> = tree
        .by_ref()
        .take(10)
        .map(|d| match d.unwrap() {
            Delivery::Event(e) => EventStreamEnvelope::decode(&e.payload).unwrap().entity,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(entities.last().map(String::as_str), Some("acct:1:card"));
    assert!(entities.iter().all(|e| e != "acct:10"));
    drop(tree);
    server.shutdown().unwrap();
}

#[test]
fn a_full_window_pauses_resumes_on_acks_and_a_stall_ends_as_slow_consumer() {
    let (_dir, store) = store();
    let acct = Coordinate::new("acct:1", "bank").unwrap();
    for i in 0..6u8 {
        store.append(&acct, K, &i).unwrap();
    }
    let stall = Duration::from_millis(700);
    let server = server(&store, ServerConfig::default().with_stall_timeout(stall));
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE events.all.v1 - 2\n")
        .unwrap();
    let mut cursors = Vec::new();
    for n in 1..=2u64 {
        let StreamFrame::Event(e) = frame(&mut stream) else {
            panic!()
        };
        assert_eq!(e.index.get(), n);
        cursors.push(e.cursor_after.unwrap());
    }
    // The window is full: nothing more arrives until an ack.
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut probe = [0u8; 1];
    assert!(
        std::io::Read::read(&mut stream, &mut probe).is_err(),
        "paused"
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let ack = format!(
        "NETBAT/2 SUB_ACK events.all.v1 2 {}\n",
        netbat::encode_hex(cursors[1].as_bytes())
    );
    stream.write_all(ack.as_bytes()).unwrap();
    for n in 3..=4u64 {
        let StreamFrame::Event(e) = frame(&mut stream) else {
            panic!()
        };
        assert_eq!(e.index.get(), n, "resumed on credit");
        cursors.push(e.cursor_after.unwrap());
    }
    // No more acks: the stall ends the subscription, and the writer is not slowed.
    let started = Instant::now();
    let mut appended = 0u64;
    while started.elapsed() < stall / 2 {
        store.append(&acct, K, &appended).unwrap();
        appended += 1;
    }
    let StreamFrame::Err(err) = frame(&mut stream) else {
        panic!("slow consumer expected")
    };
    assert!(started.elapsed() >= stall / 2);
    assert_eq!(err.code.as_str(), "slow_consumer");
    assert_eq!(err.last_delivered.as_ref(), Some(&cursors[3]));
    assert_eq!(err.last_acked.as_ref(), Some(&cursors[1]));
    eprintln!(
        "writer beside a stalled subscriber: {appended} appends in {:?}",
        stall / 2
    );
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.slow_consumers, 1);
    assert_eq!(stats.deliveries, 4);
}
