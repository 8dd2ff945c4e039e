//! NETBAT/2 over real loopback TCP: deliveries, cumulative acks, resume,
//! the window, slow consumers, cancellation, refusals and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::io::Write;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use netbat::{
    decode_stream_line, Client, ClientConfig, ClientError, Delivery, Limits, Server, ServerConfig,
    StreamFrame, Subscription,
};

fn server(log: MemoryLog, config: ServerConfig) -> Server {
    Server::subscriptions(
        listener(),
        log,
        config.with_feed_poll_interval(Duration::from_millis(20)),
    )
    .unwrap()
}

fn frame(stream: &mut std::net::TcpStream) -> StreamFrame {
    let line = read_line(stream);
    decode_stream_line(&line, &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&line)))
}

fn payloads(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| match d {
            Delivery::Event(e) => String::from_utf8(e.payload.clone()).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn a_subscription_delivers_acks_and_cancels() {
    let log = MemoryLog::with_events(20);
    let server = server(log.clone(), ServerConfig::default());
    let config = ClientConfig::new(server.local_addr());
    let window = NonZeroU32::new(4).unwrap();
    let mut subscription = Subscription::open(&config, "log.events.v1", None, window).unwrap();
    let got: Vec<Delivery> = subscription.by_ref().take(20).map(Result::unwrap).collect();
    assert_eq!(payloads(&got)[0], "event 1");
    assert_eq!(payloads(&got)[19], "event 20");
    let indices: Vec<u64> = got.iter().map(|d| d.index().get()).collect();
    assert_eq!(indices, (1..=20).collect::<Vec<_>>());
    assert_eq!(subscription.last_cursor(), Some(&log_cursor(20)));
    let last = subscription.cancel().unwrap();
    assert_eq!(last, Some(log_cursor(20)));
    // Every delivery was acknowledged, in order, and reached the feed.
    assert!(wait_until(Duration::from_secs(5), || log.acks().len() == 20));
    assert_eq!(log.acks(), (1..=20).map(log_cursor).collect::<Vec<_>>());
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.subscriptions_opened, 1);
    assert_eq!(stats.deliveries, 20);
}

#[test]
fn live_events_arrive_and_a_reconnect_resumes_after_the_last_cursor() {
    let log = MemoryLog::with_events(3);
    let server = server(log.clone(), ServerConfig::default());
    let client = Client::connect(ClientConfig::new(server.local_addr())).unwrap();
    let mut subscription = client.subscribe("log.events.v1", None).unwrap();
    let first: Vec<Delivery> = subscription.by_ref().take(3).map(Result::unwrap).collect();
    assert_eq!(payloads(&first), ["event 1", "event 2", "event 3"]);
    log.append(b"live 4".to_vec());
    let live = subscription.next().unwrap().unwrap();
    assert_eq!(payloads(&[live]), ["live 4"]);
    // The connection drops; the subscription resumes after cursor 4.
    subscription.reconnect().unwrap();
    log.append(b"live 5".to_vec());
    let next = subscription.next().unwrap().unwrap();
    assert_eq!(payloads(std::slice::from_ref(&next)), ["live 5"]);
    assert_eq!(next.index().get(), 1, "a new subscription numbers from 1");
    assert_eq!(subscription.last_cursor(), Some(&log_cursor(5)));
    drop(subscription);
    let resumed = client
        .subscribe("log.events.v1", Some(log_cursor(2)))
        .unwrap();
    let rest: Vec<Delivery> = resumed.take(3).map(Result::unwrap).collect();
    assert_eq!(payloads(&rest), ["event 3", "live 4", "live 5"]);
    drop(server);
}

#[test]
fn a_full_window_pauses_and_a_stalled_consumer_gets_slow_consumer() {
    let log = MemoryLog::with_events(10);
    let stall = Duration::from_millis(600);
    let server = server(log, ServerConfig::default().with_stall_timeout(stall));
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE log.events.v1 - 2\n")
        .unwrap();
    let started = Instant::now();
    for n in 1..=2_u64 {
        let StreamFrame::Event(event) = frame(&mut stream) else {
            panic!()
        };
        assert_eq!(event.index.get(), n);
    }
    let StreamFrame::Err(err) = frame(&mut stream) else {
        panic!("the window stays full, so no third event")
    };
    let waited = started.elapsed();
    assert!(waited >= stall, "{waited:?}");
    assert_eq!(err.code.as_str(), "slow_consumer");
    assert_eq!(err.last_delivered, Some(log_cursor(2)));
    assert_eq!(err.last_acked, None);
    assert!(read_to_close(&mut stream).is_empty());
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.slow_consumers, 1);
    assert_eq!(stats.deliveries, 2);
}

#[test]
fn acks_reopen_the_window() {
    let log = MemoryLog::with_events(6);
    let server = server(log, ServerConfig::default());
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE log.events.v1 - 2\n")
        .unwrap();
    let mut seen = 0;
    while seen < 6 {
        let StreamFrame::Event(event) = frame(&mut stream) else {
            panic!()
        };
        seen += 1;
        assert_eq!(event.index.get(), seen);
        if seen % 2 == 0 {
            let ack = format!(
                "NETBAT/2 SUB_ACK log.events.v1 {seen} {}\n",
                netbat::encode_hex(log_cursor(seen).as_bytes())
            );
            stream.write_all(ack.as_bytes()).unwrap();
        }
    }
    stream
        .write_all(b"NETBAT/2 SUB_ACK log.events.v1 6 00\n")
        .unwrap();
    let StreamFrame::Err(err) = frame(&mut stream) else {
        panic!()
    };
    assert_eq!(err.code.as_str(), "malformed_stream_frame");
    assert_eq!(err.message, b"ack cursor does not match sent cursor");
    assert_eq!(err.last_acked, Some(log_cursor(6)));
    drop(server);
}

#[test]
fn refusals_and_a_malformed_first_frame() {
    let server = server(MemoryLog::default(), ServerConfig::default());
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE nope.events.v1 - 8\n")
        .unwrap();
    assert_eq!(
        read_to_close(&mut stream),
        format!(
            "NETBAT/2 SUB_ERR nope.events.v1 unknown_subscription - - {}\n",
            netbat::encode_hex(b"nope.events.v1")
        )
        .into_bytes()
    );
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUB_ACK log.events.v1 1 00\n")
        .unwrap();
    assert!(read_to_close(&mut stream).is_empty());
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE log.events.v1 zz 8\n")
        .unwrap();
    assert!(read_to_close(&mut stream).is_empty());
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE log.events.v1 00 8\n")
        .unwrap();
    let StreamFrame::Err(err) = frame(&mut stream) else {
        panic!()
    };
    assert_eq!(err.code.as_str(), "cursor_invalid");
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE boom.v1 - 8\n")
        .unwrap();
    let StreamFrame::Err(err) = frame(&mut stream) else {
        panic!()
    };
    assert_eq!(err.code.as_str(), "internal_error");
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.subscriptions_refused, 3);
    assert_eq!(stats.malformed_requests, 2);
    assert_eq!(stats.worker_panics, 1);
}

#[test]
fn the_client_reports_stream_errors() {
    let server = server(MemoryLog::default(), ServerConfig::default());
    let client = Client::connect(ClientConfig::new(server.local_addr())).unwrap();
    let mut subscription = client.subscribe("nope.events.v1", None).unwrap();
    match subscription.next() {
        Some(Err(ClientError::Stream { code, message, .. })) => {
            assert_eq!(code, "unknown_subscription");
            assert_eq!(message, "nope.events.v1");
        }
        other => panic!("{other:?}"),
    }
    assert!(subscription.next().is_none());
    drop(server);
}

#[test]
fn shutdown_ends_subscriptions_with_server_shutdown() {
    let log = MemoryLog::with_events(1);
    let server = server(log, ServerConfig::default());
    let mut subscription = Subscription::open(
        &ClientConfig::new(server.local_addr()),
        "log.events.v1",
        None,
        NonZeroU32::new(8).unwrap(),
    )
    .unwrap();
    assert!(subscription.next().unwrap().is_ok());
    let started = Instant::now();
    let stats = server.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(subscription.next().is_none());
    assert_eq!(
        subscription.end_reason().map(|r| r.as_str()),
        Some("server_shutdown")
    );
    assert_eq!(stats.closed_connections, 1);
}

#[test]
fn a_silent_subscriber_is_cut_by_the_read_timeout_before_subscribe() {
    let read = Duration::from_millis(400);
    let config = ServerConfig::default().with_timeouts(netbat::Timeouts::default().with_read(read));
    let server = server(MemoryLog::default(), config);
    let mut stream = connect(server.local_addr());
    stream.write_all(b"NETBAT/2 SUBSCRI").unwrap();
    let started = Instant::now();
    assert!(read_to_close(&mut stream).is_empty());
    assert!(started.elapsed() < read + Duration::from_secs(2));
    assert_eq!(server.shutdown().unwrap().timeouts, 1);
}
