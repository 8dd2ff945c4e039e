//! `batpak inspect` reports what a directory holds, including a torn tail,
//! without changing any file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    batpak, frames, frames_end_of_sealed, make_store, only_segment, path_str, stderr, stdout,
};

#[test]
fn inspect_counts_events_entities_and_last_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let receipts = make_store(tmp.path(), 3, 4);
    let out = batpak(&["inspect", "--json", path_str(tmp.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"], 12);
    assert_eq!(v["entities"], 3);
    assert_eq!(v["segments"].as_array().unwrap().len(), 1);
    assert_eq!(v["segments"][0]["sealed"], true);
    assert_eq!(v["last"]["global_sequence"], 11);
    let last = receipts.last().unwrap();
    assert_eq!(v["last"]["event_id"], last.event_id.to_string());
    assert!(v["torn_tail"].is_null());

    let human = batpak(&["inspect", path_str(tmp.path())]);
    assert_eq!(human.status.code(), Some(0));
    let text = stdout(&human);
    assert!(text.contains("events          12"), "{text}");
    assert!(text.contains("torn tail       none"), "{text}");
}

#[test]
fn inspect_reports_a_torn_tail_and_leaves_it_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    make_store(tmp.path(), 2, 5);
    let seg = only_segment(tmp.path());
    // Turn the sealed segment into an active one whose last write was cut short:
    // drop the footer, then append the first 30 bytes of a copy of the last frame.
    let bytes = std::fs::read(&seg).unwrap();
    let end = frames_end_of_sealed(&bytes);
    let (last_off, _) = *frames(&bytes, end).last().unwrap();
    let mut torn = bytes[..end].to_vec();
    torn.extend_from_slice(&bytes[last_off..last_off + 30]);
    std::fs::write(&seg, &torn).unwrap();

    let out = batpak(&["inspect", "--json", path_str(tmp.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"], 10);
    assert_eq!(v["segments"][0]["sealed"], false);
    let tail = &v["torn_tail"];
    assert_eq!(tail["offset"], end as u64, "{v}");
    assert_eq!(tail["dropped_bytes"], 30);
    assert_eq!(tail["segment"], seg.file_name().unwrap().to_str().unwrap());

    let human = stdout(&batpak(&["inspect", path_str(tmp.path())]));
    assert!(
        human.contains(&format!(
            "at byte {end}: 30 bytes after the last whole frame"
        )),
        "{human}"
    );
    // Read-only: the torn bytes are still there for the next writer to handle.
    assert_eq!(std::fs::read(&seg).unwrap(), torn);
}
