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

/// A copy of a live store's segment files (what a crash leaves): one event,
/// then a batch of 17; returns the copy and the offset of its last frame.
fn crash_copy_ending_in_a_batch() -> (tempfile::TempDir, std::path::PathBuf, usize) {
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(live.path())).unwrap();
    let c = |e: &str| Coordinate::new(e, "s").unwrap();
    const K: EventKind = EventKind::custom(0xE, 1);
    store.append(&c("a"), K, &"first").unwrap();
    let items = (0..17)
        .map(|i| BatchAppendItem::new(c("b"), K, &i, AppendOptions::default(), CausationRef::None))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    store.append_batch(items).unwrap();
    let copy = tempfile::tempdir().unwrap();
    let seg = only_segment(live.path());
    let target = copy.path().join(seg.file_name().unwrap());
    std::fs::copy(&seg, &target).unwrap();
    store.close().unwrap();
    let bytes = std::fs::read(&target).unwrap();
    let (mut p, mut last) = (batpak::format::SEGMENT_HEADER_LEN, 0);
    loop {
        let len = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        last = p;
        p += FRAME_PREFIX_LEN + len;
    }
    (copy, target, last)
}

#[test]
fn verify_exits_1_when_a_damaged_last_frame_left_written_events_out() {
    let (copy, seg, last) = crash_copy_ending_in_a_batch();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[last + 40] ^= 0x04;
    std::fs::write(&seg, &bytes).unwrap();
    let out = batpak(&["verify", path_str(copy.path())]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("EVENTS MISSING"), "{}", stdout(&out));
    let out = batpak(&["verify", "--json", path_str(copy.path())]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intact"], false);
    assert_eq!(v["open"]["torn_tail"]["damaged"], true);
    assert_eq!(v["open"]["torn_tail"]["dropped_batch_frames"], 16);
}

#[test]
fn verify_reports_a_torn_tail_and_exits_0_when_only_an_incomplete_write_was_left_out() {
    let (copy, seg, last) = crash_copy_ending_in_a_batch();
    let bytes = std::fs::read(&seg).unwrap();
    std::fs::write(&seg, &bytes[..last + 30]).unwrap();
    let out = batpak(&["verify", path_str(copy.path())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("torn tail"), "{}", stdout(&out));
}
