//! `batpak serve` as a real process: calls over NETBAT/1, a SIGKILL under
//! load, a restart on the same directory, and `batpak call` through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{call, client, path_str, Served, BIN};
use hostbat::wire::*;
use netbat::{Client, ClientConfig};

fn serve(dir: &Path) -> Served {
    serve_with(dir, &[])
}

/// `batpak serve --data DIR EXTRA --listen 127.0.0.1:0`.
fn serve_with(dir: &Path, extra: &[&str]) -> Served {
    let mut args = vec!["--data", path_str(dir)];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--listen", "127.0.0.1:0"]);
    let served = common::serve(&args);
    assert_eq!(
        served.streams.ip(),
        Ipv4Addr::LOCALHOST,
        "{}",
        served.streams
    );
    served
}

fn commit(entity: &str, n: u32, key: Option<[u8; 16]>) -> CommitRequest {
    CommitRequest {
        entity: entity.into(),
        scope: "bank".into(),
        kind_category: 0xE,
        kind_type_id: 1,
        payload_hex: hostbat::hex::encode(&rmp_serde::to_vec_named(&n).unwrap()),
        idempotency_key_hex: key.map(|k| hostbat::hex::encode(&k)),
    }
}

#[test]
fn serve_calls_survive_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let mut c = client(served.calls);

    let hb: HeartbeatAck = call(
        &mut c,
        "system.heartbeat",
        &HeartbeatRequest { nonce: "n".into() },
    );
    assert_eq!(hb.nonce, "n");
    let keyed = commit("acct:1", 1, Some([5; 16]));
    let a1: CommitAck = call(&mut c, "bank.commit", &keyed);
    let a1_again: CommitAck = call(&mut c, "bank.commit", &keyed);
    assert_eq!(a1, a1_again);
    let mut acks = vec![a1.clone()];
    for n in 2..=6 {
        acks.push(call(&mut c, "bank.commit", &commit("acct:1", n, None)));
    }
    let got: GetAck = call(
        &mut c,
        "event.get",
        &GetRequest {
            event_id_hex: a1.event_id_hex.clone(),
        },
    );
    assert_eq!((got.sequence, got.entity.as_str()), (a1.sequence, "acct:1"));

    let mut q = QueryRequest {
        entity: Some("acct:1".into()),
        scope: None,
        kind_category: Some(0xE),
        kind_type_id: Some(1),
        after_global_sequence: None,
        limit: 4,
    };
    let p1: QueryAck = call(&mut c, "event.query", &q);
    assert_eq!(p1.entries.len(), 4);
    q.after_global_sequence = p1.next_after_global_sequence;
    let p2: QueryAck = call(&mut c, "event.query", &q);
    assert_eq!(p2.entries.len(), 2);

    let ok: VerifyAck = call(&mut c, "receipt.verify", &a1);
    assert!(ok.valid);
    let mut tampered = a1.clone();
    tampered.content_hash_hex = "11".repeat(32);
    let bad: VerifyAck = call(&mut c, "receipt.verify", &tampered);
    assert_eq!(bad.reason_code.as_deref(), Some("content_hash_mismatch"));

    let last = acks.last().unwrap().event_id_hex.clone();
    let walk: WalkAck = call(
        &mut c,
        "event.walk",
        &WalkRequest {
            event_id_hex: last.clone(),
            limit: 100,
        },
    );
    assert_eq!(walk.entries.len(), 6);
    assert_eq!(walk.entries[0].event_id_hex, last);

    let err = c
        .call(
            "event.get",
            &rmp_serde::to_vec_named(&GetRequest {
                event_id_hex: "00".repeat(16),
            })
            .unwrap(),
        )
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.as_str()), Some("handler"));
    assert!(err.to_string().contains("store.not_found"), "{err}");
    drop(c);

    // Load from two threads, then SIGKILL the server mid-load.
    let acked = Arc::new(Mutex::new(acks));
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..2)
        .map(|t| {
            let (acked, stop, addr) = (acked.clone(), stop.clone(), served.calls);
            std::thread::spawn(move || {
                let Ok(mut c) = Client::connect(
                    ClientConfig::new(addr).with_io_timeout(Duration::from_secs(5)),
                ) else {
                    return;
                };
                let deadline = Instant::now() + Duration::from_secs(10);
                for n in 0..5_000u32 {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    let req =
                        rmp_serde::to_vec_named(&commit(&format!("load:{t}"), n, None)).unwrap();
                    match c.call("bank.commit", &req) {
                        Ok(out) => acked
                            .lock()
                            .unwrap()
                            .push(rmp_serde::from_slice(&out).unwrap()),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    let wait_until = Instant::now() + Duration::from_secs(10);
    while acked.lock().unwrap().len() < 50 && Instant::now() < wait_until {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(served); // SIGKILL
    stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 7);

    let served = serve(dir.path());
    let mut c = client(served.calls);
    for ack in &acked {
        let got: GetAck = call(
            &mut c,
            "event.get",
            &GetRequest {
                event_id_hex: ack.event_id_hex.clone(),
            },
        );
        assert_eq!(got.sequence, ack.sequence);
        assert_eq!(got.content_hash_hex, ack.content_hash_hex);
        let v: VerifyAck = call(&mut c, "receipt.verify", ack);
        assert!(v.valid, "{v:?}");
    }
    let chain: VerifyChainAck = call(&mut c, "store.verify_chain", &EmptyRequest {});
    assert!(chain.intact, "{chain:?}");
    assert!(chain.events_checked >= acked.len() as u64);
}

/// `batpak ARGS`: (exit code, stdout).
fn batpak(args: &[&str]) -> (i32, String) {
    let (code, out, _) = common::run(args);
    (code, out)
}

#[test]
fn call_through_the_binary_and_graceful_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve_with(
        dir.path(),
        &[
            "--subscription",
            "acct.nine.v1=entity:acct:9",
            "--log-format",
            "json",
        ],
    );
    let addr = served.calls.to_string();
    let streams = served.streams.to_string();
    let (code, out) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--json",
        r#"{"nonce":"hi"}"#,
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["nonce"], "hi");
    let req = r#"{"entity":"acct:9","scope":"bank","kind_category":14,"kind_type_id":2,"payload_hex":"2a","idempotency_key_hex":"0102030405060708090a0b0c0d0e0f10"}"#;
    let (code, out) = batpak(&["call", "bank.commit", "--addr", &addr, "--json", req]);
    assert_eq!(code, 0, "{out}");
    let ack: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (_, again) = batpak(&["call", "bank.commit", "--addr", &addr, "--json", req]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&again).unwrap(),
        ack
    );
    let (code, out) = batpak(&[
        "call",
        "receipt.verify",
        "--addr",
        &addr,
        "--json",
        &ack.to_string(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["valid"],
        true
    );
    let hex = hostbat::hex::encode(&rmp_serde::to_vec_named(&EmptyRequest {}).unwrap());
    let (code, out) = batpak(&["call", "store.stats", "--addr", &addr, "--hex", &hex]);
    assert_eq!(code, 0);
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["events"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let (code, _) = batpak(&[
        "call",
        "event.get",
        "--addr",
        &addr,
        "--json",
        &format!(r#"{{"event_id_hex":"{}"}}"#, "00".repeat(16)),
    ]);
    assert_eq!(code, 12);
    let (code, _) = batpak(&["call", "no.such", "--addr", &addr, "--json", "{}"]);
    assert_eq!(code, 10);
    let (code, _) = batpak(&[
        "call",
        "bank.commit",
        "--addr",
        &addr,
        "--json",
        "{not json",
    ]);
    assert_eq!(code, 2);

    let (_, other) = batpak(&[
        "call",
        "bank.commit",
        "--addr",
        &addr,
        "--json",
        &req.replace("acct:9", "acct:8").replace("0102", "0202"),
    ]);
    assert!(other.contains("event_id_hex"), "{other}");
    // Subscriptions through the binary: the default route, a resume, an entity route.
    let (code, out) = batpak(&[
        "subscribe",
        "events.all.v1",
        "--addr",
        &streams,
        "--max",
        "2",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["index"], 1);
    let first_cursor = lines[0]["cursor_hex"].as_str().unwrap().to_owned();
    let (code, out) = batpak(&[
        "subscribe",
        "events.all.v1",
        "--addr",
        &streams,
        "--max",
        "1",
        "--from-cursor",
        &first_cursor,
    ]);
    assert_eq!(code, 0);
    let resumed: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        resumed["payload"]["global_sequence"],
        lines[1]["payload"]["global_sequence"]
    );
    let (code, out) = batpak(&[
        "subscribe",
        "acct.nine.v1",
        "--addr",
        &streams,
        "--max",
        "1",
    ]);
    assert_eq!(code, 0);
    let only: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(only["payload"]["entity"], "acct:9");
    let (code, _) = batpak(&["subscribe", "no.such.v1", "--addr", &streams, "--max", "1"]);
    assert_ne!(code, 0);

    let pid = served.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = served.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    drop(served);
    let (code, _) = batpak(&[
        "call",
        "system.heartbeat",
        "--addr",
        &addr,
        "--json",
        r#"{"nonce":"x"}"#,
    ]);
    assert_eq!(code, 4);
}

/// Calls per second through `batpak serve` with 1 and 8 clients (heartbeat
/// and durable bank.commit), 2 s each. `BATPAK_BIN` picks the binary (for a
/// release build); run with `--ignored --nocapture`.
#[test]
#[ignore = "measurement, not a check"]
#[allow(clippy::print_stderr)]
fn throughput() {
    let bin = std::env::var("BATPAK_BIN").unwrap_or_else(|_| BIN.to_owned());
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(&bin)
        .args(["serve", "--data"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let calls: SocketAddr = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("calls ")
        .unwrap()
        .parse()
        .unwrap();
    for op in ["system.heartbeat", "bank.commit"] {
        for clients in [1u32, 8] {
            let start = Instant::now();
            let handles: Vec<_> = (0..clients)
                .map(|t| {
                    std::thread::spawn(move || {
                        let mut c = client(calls);
                        let mut n = 0u64;
                        while start.elapsed() < Duration::from_secs(2) && n < 1_000_000 {
                            let input = if op == "bank.commit" {
                                rmp_serde::to_vec_named(&commit(&format!("t:{t}"), 1, None))
                                    .unwrap()
                            } else {
                                rmp_serde::to_vec_named(&HeartbeatRequest { nonce: "n".into() })
                                    .unwrap()
                            };
                            c.call(op, &input).unwrap();
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
            let secs = start.elapsed().as_secs_f64();
            eprintln!("{op} clients={clients}: {:.0} calls/s", total as f64 / secs);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
