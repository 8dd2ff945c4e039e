//! Shared pieces of the command's behaviour tests: build stores, run the
//! binary, find and rewrite frames in segment files.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use batpak::format::{FRAME_PREFIX_LEN, SEGMENT_HEADER_LEN, TRAILER_LEN};
use batpak::prelude::*;

pub const NOTED: EventKind = EventKind::custom(0xE, 0x22);

/// Runs the `batpak` binary with `args` (progress bars off: stderr is not a terminal).
pub fn batpak(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_batpak"))
        .args(args)
        .output()
        .expect("run batpak")
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
