//! Shared pieces of the command's behaviour tests: build stores, run the
//! binary, find and rewrite frames in segment files, and run `batpak serve`
//! as a child process with a NETBAT client for it.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use batpak::format::{FRAME_PREFIX_LEN, SEGMENT_HEADER_LEN, TRAILER_LEN};
use batpak::prelude::*;
use netbat::{Client, ClientConfig};

pub const NOTED: EventKind = EventKind::custom(0xE, 0x22);

/// The `batpak` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_batpak");

/// Runs the `batpak` binary with `args` (progress bars off: stderr is not a terminal).
pub fn batpak(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run batpak")
}

/// Runs `batpak ARGS`: (exit code, stdout, stderr), both UTF-8.
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = batpak(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A running `batpak serve` and the two addresses it printed; killed (and
/// reaped) when dropped.
pub struct Served {
    pub child: Child,
    pub calls: SocketAddr,
    pub streams: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `batpak serve ARGS` (logging at `warn`, stderr discarded) and
/// waits, 20 s at most for each, for its `calls ADDR` and `streams ADDR` lines.
pub fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let second = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let calls = first.strip_prefix("calls ").unwrap().parse().unwrap();
    let streams = second.strip_prefix("streams ").unwrap().parse().unwrap();
    Served {
        child,
        calls,
        streams,
    }
}

/// A NETBAT/1 client of `addr` with a 10 s I/O timeout.
pub fn client(addr: SocketAddr) -> Client {
    Client::connect(ClientConfig::new(addr).with_io_timeout(Duration::from_secs(10))).unwrap()
}

/// Calls `op` with `input` as named-field MessagePack and decodes the ack.
pub fn call<I: serde::Serialize, O: serde::de::DeserializeOwned>(
    c: &mut Client,
    op: &str,
    input: &I,
) -> O {
    let out = c
        .call(op, &rmp_serde::to_vec_named(input).unwrap())
        .unwrap_or_else(|e| panic!("{op}: {e}"));
    rmp_serde::from_slice(&out).unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Writes `per_entity` events to each of `entities` entities (interleaved), then closes.
pub fn make_store(dir: &Path, entities: usize, per_entity: usize) -> Vec<AppendReceipt> {
    let store = Store::open(StoreConfig::new(dir)).unwrap();
    let mut receipts = Vec::new();
    for i in 0..per_entity {
        for e in 0..entities {
            let coord = Coordinate::new(format!("entity:{e}"), "scope:test").unwrap();
            let payload = serde_json::json!({"n": i, "entity": e, "note": "hello"});
            receipts.push(store.append(&coord, NOTED, &payload).unwrap());
        }
    }
    store.close().unwrap();
    receipts
}

/// The only segment file of a data directory.
pub fn only_segment(dir: &Path) -> PathBuf {
    let segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    assert_eq!(segs.len(), 1, "expected one segment in {}", dir.display());
    segs[0].clone()
}

/// Every segment file of a data directory, oldest first.
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs
}

/// Copies every file and directory of `src` into `dst` (created if absent).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// Replaces everything in `dst` with a copy of `src`: one data directory's
/// files put in place of another's.
pub fn replace_dir(dst: &Path, src: &Path) {
    for entry in std::fs::read_dir(dst).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    copy_dir(src, dst);
}

/// Where the frames of a sealed segment end (the footer starts).
pub fn frames_end_of_sealed(bytes: &[u8]) -> usize {
    let trailer = &bytes[bytes.len() - TRAILER_LEN..];
    let footer_len = u32::from_le_bytes(trailer[..4].try_into().unwrap()) as usize;
    bytes.len() - TRAILER_LEN - footer_len
}

/// `(offset, body_len)` of every frame between the segment header and `end`.
pub fn frames(bytes: &[u8], end: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN;
    while pos < end {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        out.push((pos, len));
        pos += FRAME_PREFIX_LEN + len;
    }
    assert_eq!(pos, end, "frames do not tile the frame region");
    out
}
