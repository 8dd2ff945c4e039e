//! `batpak verify` exits 0 on an intact chain and 1 when a payload byte was
//! rewritten behind the store's back (with the frame CRC fixed up, so only
//! the hash chain can notice).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    batpak, frames, frames_end_of_sealed, make_store, only_segment, path_str, stderr, stdout,
};

use batpak::format::FRAME_PREFIX_LEN;
use batpak::prelude::*;

#[test]
fn verify_exits_0_on_an_intact_store() {
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path(), 4, 5);
    let out = batpak(&["verify", path_str(tmp.path())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("chain intact"), "{}", stdout(&out));

    let out = batpak(&["verify", "--json", path_str(tmp.path())]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], true);
    assert_eq!(v["events_checked"], 20);
}

#[test]
fn verify_exits_1_when_a_payload_byte_was_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let receipts = make_store(tmp.path(), 2, 4);
    let target = 5;
    let payload = {
        let ro = Store::open_read_only(StoreConfig::new(tmp.path())).unwrap();
        ro.read_raw(receipts[target].event_id)
            .unwrap()
            .payload()
            .clone()
    };
    let seg = only_segment(tmp.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    let end = frames_end_of_sealed(&bytes);
    let (off, len) = frames(&bytes, end)[target];
    let body = off + FRAME_PREFIX_LEN..off + FRAME_PREFIX_LEN + len;
    // The payload is stored as a msgpack bin inside the body; find those bytes
    // and change the final letter of its "note" string, so it still decodes.
    let at = bytes[body.clone()]
        .windows(payload.len())
        .position(|w| w == payload.as_slice())
        .expect("payload bytes inside the frame body");
    let last = body.start + at + payload.len() - 1;
    assert_eq!(bytes[last], b'o');
    bytes[last] = b'x';
    let crc = crc32fast::hash(&bytes[body.clone()]);
    bytes[off + 4..off + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();

    let out = batpak(&["verify", "--json", path_str(tmp.path())]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], false);
    let mismatches = v["mismatches"].as_array().unwrap();
    assert_eq!(mismatches.len(), 1, "{v}");
    assert_eq!(
        mismatches[0]["event_id"],
        receipts[target].event_id.to_string()
    );
    assert_eq!(mismatches[0]["global_sequence"], target as u64);
    assert!(v["dangling"].as_array().unwrap().is_empty());

    let human = batpak(&["verify", path_str(tmp.path())]);
    assert_eq!(human.status.code(), Some(1));
    let text = stdout(&human);
    assert!(text.contains("PROBLEMS FOUND: 1 hash mismatches"), "{text}");
    assert!(
        text.contains(&receipts[target].event_id.to_string()),
        "{text}"
    );
}
