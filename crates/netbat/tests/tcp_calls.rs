//! NETBAT/1 over real loopback TCP: persistent and pipelined connections,
//! the published one-request client, oversized lines, slowloris, panics
//! under load, admission and permits. Every loop is bounded in count and time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;
use common::*;

use std::io::Write;
use std::net::TcpStream;
use std::num::NonZeroUsize;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use netbat::{
    decode_response, encode_request, ConnectionLimit, Limits, Response, Server, ServerConfig,
    Timeouts,
};

fn server(config: ServerConfig) -> Server {
    Server::calls(listener(), test_dispatch(), config).unwrap()
}

fn quick() -> ServerConfig {
    ServerConfig::default().with_timeouts(
        Timeouts::default()
            .with_read(Duration::from_secs(2))
            .with_idle(Duration::from_secs(2)),
    )
}

fn permits_all_back(server: &Server) {
    let capacity = server.permit_capacity().unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || server.available_permits()
            == Some(capacity)),
        "permits: {:?} of {capacity}",
        server.available_permits()
    );
}

#[test]
fn many_requests_on_one_connection() {
    let server = server(quick());
    let mut stream = connect(server.local_addr());
    for n in 0..200_u16 {
        let input = n.to_be_bytes();
        let line = roundtrip(&mut stream, &encode_request("echo", &input));
        assert_eq!(line, netbat::encode_ok(&input));
    }
    drop(stream);
    permits_all_back(&server);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.accepted_connections, 1);
    assert_eq!(stats.served_requests, 200);
    assert!(stats.shutdown_requested);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server(quick());
    let mut stream = connect(server.local_addr());
    let mut burst = Vec::new();
    for n in 0..500_u16 {
        burst.extend(encode_request("echo", &n.to_be_bytes()));
    }
    stream.write_all(&burst).unwrap();
    for n in 0..500_u16 {
        let line = read_line(&mut stream);
        assert_eq!(line, netbat::encode_ok(&n.to_be_bytes()), "answer {n}");
    }
    drop(stream);
    assert_eq!(server.shutdown().unwrap().served_requests, 500);
}

#[test]
fn the_published_client_pattern_works() {
    let server = server(quick());
    for _ in 0..20 {
        let mut stream = connect(server.local_addr());
        stream.write_all(b"NETBAT/1 CALL echo 6869\n").unwrap();
        assert_eq!(read_line(&mut stream), b"OK 6869\n");
    }
    permits_all_back(&server);
    assert_eq!(server.shutdown().unwrap().served_requests, 20);
}

#[test]
fn connect_and_close_does_not_disturb_the_listener() {
    let server = server(quick());
    for _ in 0..20 {
        drop(TcpStream::connect(server.local_addr()).unwrap());
    }
    let mut stream = connect(server.local_addr());
    assert_eq!(
        roundtrip(&mut stream, b"NETBAT/1 CALL echo 00\n"),
        b"OK 00\n"
    );
    drop(stream);
    permits_all_back(&server);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.accepted_connections, 21);
    assert_eq!(stats.failed_requests, 0);
}

#[test]
fn a_line_of_65536_bytes_is_served_and_65537_is_line_too_long_then_closed() {
    let server = server(quick());
    let ok_line = encode_request("ec", &vec![1; 32_759]);
    assert_eq!(ok_line.len(), 65_536);
    let mut stream = connect(server.local_addr());
    let answer = roundtrip(&mut stream, &ok_line);
    assert_eq!(
        decode_response(&answer, &Limits::default()).unwrap(),
        Response::Err(netbat::ErrorReply {
            code: "unknown_operation".into(),
            message: "runtime error: unknown operation `ec`".into()
        })
    );

    let too_long = encode_request("ech", &vec![1; 32_759]);
    assert_eq!(too_long.len(), 65_537);
    let mut stream = connect(server.local_addr());
    stream.write_all(&too_long).unwrap();
    let rest = read_to_close(&mut stream);
    assert_eq!(
        rest,
        netbat::encode_response(Err(&netbat::WireError::LineTooLong { max: 65_536 }))
    );

    // A megabyte without a newline: one answer, then the close.
    let mut stream = connect(server.local_addr());
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..16 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        })
    };
    let rest = read_to_close(&mut stream);
    assert!(rest.starts_with(b"ERR line_too_long "), "{rest:?}");
    writer.join().unwrap();
    permits_all_back(&server);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.limit_failures, 2);
}

#[test]
fn a_slowloris_client_is_cut_by_the_read_timeout() {
    let read = Duration::from_millis(1500);
    let config = ServerConfig::default()
        .with_timeouts(
            Timeouts::default()
                .with_read(read)
                .with_idle(Duration::from_secs(30)),
        )
        .with_connection_limit(ConnectionLimit::Concurrent(NonZeroUsize::new(4).unwrap()));
    let server = server(config);
    let mut stream = connect(server.local_addr());
    let started = Instant::now();
    let mut sent = 0;
    // One byte every 250 ms; each byte alone would keep a naive per-read timeout alive.
    for byte in b"NETBAT/1 CALL echo 00".iter().take(12) {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        thread::sleep(Duration::from_millis(250));
        assert!(
            server.available_permits().unwrap() >= 3,
            "it holds one permit at most"
        );
    }
    let rest = read_to_close(&mut stream);
    let held = started.elapsed();
    assert!(rest.is_empty());
    assert!(sent < 12, "the server cut the trickle before it finished");
    assert!(held < read + Duration::from_secs(2), "held {held:?}");
    permits_all_back(&server);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.timeouts, 1);
    assert_eq!(stats.served_requests, 0);
}

#[test]
fn a_silent_client_is_cut_by_the_read_timeout() {
    let read = Duration::from_millis(500);
    let server = server(ServerConfig::default().with_timeouts(Timeouts::default().with_read(read)));
    let mut stream = connect(server.local_addr());
    let started = Instant::now();
    assert!(read_to_close(&mut stream).is_empty());
    let held = started.elapsed();
    assert!(
        held >= read && held < read + Duration::from_secs(2),
        "{held:?}"
    );
    permits_all_back(&server);
    assert_eq!(server.shutdown().unwrap().timeouts, 1);
}

#[test]
fn an_idle_persistent_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(400);
    let server = server(ServerConfig::default().with_timeouts(Timeouts::default().with_idle(idle)));
    let mut stream = connect(server.local_addr());
    assert_eq!(
        roundtrip(&mut stream, b"NETBAT/1 CALL echo 01\n"),
        b"OK 01\n"
    );
    let started = Instant::now();
    assert!(read_to_close(&mut stream).is_empty());
    let held = started.elapsed();
    assert!(
        held >= idle && held < idle + Duration::from_secs(2),
        "{held:?}"
    );
    assert_eq!(server.shutdown().unwrap().timeouts, 1);
}

#[test]
fn a_handler_panic_under_load_is_answered_counted_and_contained() {
    let server = server(quick());
    let addr = server.local_addr();
    let threads = 8;
    let rounds = 50;
    let barrier = Arc::new(Barrier::new(threads));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut stream = connect(addr);
                barrier.wait();
                let mut panics = 0;
                for round in 0..rounds {
                    if (t + round) % 5 == 0 {
                        let line = roundtrip(&mut stream, &encode_request("boom", b""));
                        let Response::Err(reply) =
                            decode_response(&line, &Limits::default()).unwrap()
                        else {
                            panic!("a panic is answered ERR")
                        };
                        assert_eq!(reply.code, "runtime");
                        assert_eq!(reply.message, "runtime error: handler panicked");
                        panics += 1;
                    } else {
                        let input = [t as u8, round as u8];
                        let line = roundtrip(&mut stream, &encode_request("echo", &input));
                        assert_eq!(line, netbat::encode_ok(&input));
                    }
                }
                panics
            })
        })
        .collect();
    let panics: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut after = connect(addr);
    assert_eq!(
        roundtrip(&mut after, b"NETBAT/1 CALL echo 07\n"),
        b"OK 07\n"
    );
    drop(after);
    permits_all_back(&server);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.worker_panics, panics);
    assert_eq!(stats.runtime_failures, panics);
    assert_eq!(
        stats.served_requests,
        (threads * rounds) as u64 - panics + 1
    );
}

#[test]
fn an_exhausted_pool_applies_back_pressure_and_stays_responsive_to_shutdown() {
    let config =
        quick().with_connection_limit(ConnectionLimit::Concurrent(NonZeroUsize::new(2).unwrap()));
    let server = server(config);
    let addr = server.local_addr();
    let mut first = connect(addr);
    let mut second = connect(addr);
    assert_eq!(
        roundtrip(&mut first, b"NETBAT/1 CALL echo 01\n"),
        b"OK 01\n"
    );
    assert_eq!(
        roundtrip(&mut second, b"NETBAT/1 CALL echo 02\n"),
        b"OK 02\n"
    );
    assert_eq!(server.available_permits(), Some(0));
    // The third connection completes in the kernel backlog but is not served.
    let mut third = connect(addr);
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    third.write_all(b"NETBAT/1 CALL echo 03\n").unwrap();
    let mut byte = [0_u8; 1];
    assert!(
        std::io::Read::read(&mut third, &mut byte).is_err(),
        "not served while the pool is empty"
    );
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(read_line(&mut third), b"OK 03\n");
    // Exhaust again and shut down while the accept loop waits for a permit.
    let _fourth = connect(addr);
    let started = Instant::now();
    let stats = server.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(stats.served_requests, 3);
    drop((second, third));
}

#[test]
fn a_lifetime_budget_stops_the_listener() {
    let config =
        quick().with_connection_limit(ConnectionLimit::Lifetime(NonZeroUsize::new(3).unwrap()));
    let server = server(config);
    let addr = server.local_addr();
    for n in 0..3_u8 {
        let mut stream = connect(addr);
        assert_eq!(
            roundtrip(&mut stream, &encode_request("echo", &[n])),
            netbat::encode_ok(&[n])
        );
    }
    let stats = server.join().unwrap();
    assert_eq!(stats.accepted_connections, 3);
    assert!(!stats.shutdown_requested);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err());
}

#[test]
fn the_request_limit_closes_after_its_last_answer() {
    let config = quick().with_max_requests_per_connection(NonZeroUsize::new(3).unwrap());
    let server = server(config);
    let mut stream = connect(server.local_addr());
    let mut burst = Vec::new();
    for _ in 0..5 {
        burst.extend(encode_request("echo", b"x"));
    }
    stream.write_all(&burst).unwrap();
    let rest = read_to_close(&mut stream);
    assert_eq!(rest, b"OK 78\nOK 78\nOK 78\n");
    assert_eq!(server.shutdown().unwrap().served_requests, 3);
}

#[test]
fn shutdown_closes_idle_connections_promptly() {
    let server = server(ServerConfig::default());
    let mut streams: Vec<_> = (0..5).map(|_| connect(server.local_addr())).collect();
    for stream in &mut streams {
        assert_eq!(roundtrip(stream, b"NETBAT/1 CALL echo 00\n"), b"OK 00\n");
    }
    let started = Instant::now();
    let stats = server.shutdown().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stats.closed_connections, 5);
    for stream in &mut streams {
        assert!(read_to_close(stream).is_empty());
    }
}

#[test]
fn a_thousand_concurrent_connections() {
    let wanted = 1000_usize;
    let limit = ensure_fd_limit(2 * wanted as u64 + 256);
    let count = wanted.min(((limit.saturating_sub(256)) / 2) as usize);
    if count < wanted {
        eprintln!("note: the open-file limit is {limit}; testing {count} concurrent connections");
    }
    let config = quick().with_worker_stack_size(256 * 1024).with_timeouts(
        Timeouts::default()
            .with_read(Duration::from_secs(20))
            .with_idle(Duration::from_secs(20)),
    );
    let server = server(config);
    let addr = server.local_addr();
    let before = resident_kib();
    let mut streams = Vec::with_capacity(count);
    for n in 0..count {
        let mut stream = connect(addr);
        let input = (n as u32).to_be_bytes();
        assert_eq!(
            roundtrip(&mut stream, &encode_request("echo", &input)),
            netbat::encode_ok(&input)
        );
        streams.push(stream);
    }
    assert!(wait_until(Duration::from_secs(10), || server
        .available_permits()
        == Some(1024 - count)));
    let during = resident_kib();
    // Every connection is still served, in any order.
    for (n, stream) in streams.iter_mut().enumerate().rev() {
        let input = (n as u32).to_le_bytes();
        assert_eq!(
            roundtrip(stream, &encode_request("echo", &input)),
            netbat::encode_ok(&input)
        );
    }
    if let (Some(before), Some(during)) = (before, during) {
        eprintln!(
            "resident memory: {before} KiB before, {during} KiB with {count} open connections \
             (client and server in one process): {:.1} KiB per connection",
            (during.saturating_sub(before)) as f64 / count as f64
        );
    }
    drop(streams);
    permits_all_back(&server);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.accepted_connections, count as u64);
    assert_eq!(stats.served_requests, 2 * count as u64);
    assert_eq!(stats.closed_connections, count as u64);
}
