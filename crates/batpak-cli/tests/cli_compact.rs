//! `batpak compact`: a merge and a tombstone pass over a real data
//! directory, `--json` in its documented shape, the store verifying after
//! each, and the refusals (no filter for `--tombstone`: exit 2; a directory
//! another writer holds: exit 5, nothing changed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use batpak::prelude::*;
use common::{path_str, run, NOTED};
use serde_json::Value;

const OTHER: EventKind = EventKind::custom(0xE, 0x23);

/// 300 events over segments of 4 KiB, every third of kind `OTHER`; closed.
fn many_segments(dir: &Path) -> Vec<AppendReceipt> {
    let store = Store::open(StoreConfig::new(dir).with_segment_max_bytes(4096)).unwrap();
    let c = Coordinate::new("entity:a", "scope:test").unwrap();
    let receipts = (0..300u32)
        .map(|i| {
            let kind = if i % 3 == 0 { OTHER } else { NOTED };
            store
                .append(&c, kind, &serde_json::json!({"n": i, "note": "hello"}))
                .unwrap()
        })
        .collect();
    store.close().unwrap();
    receipts
}

fn segment_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn merge_then_tombstone_by_kind_and_the_store_still_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let receipts = many_segments(&dir);
    let before = segment_count(&dir);
    let (code, out, err) = run(&[
        "compact",
        path_str(&dir),
        "--target-bytes",
        "1048576",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["dir"], path_str(&dir));
    assert_eq!(v["strategy"], "merge");
    let sources = v["source_segments"].as_array().unwrap().len();
    let outputs = v["output_segments"].as_array().unwrap().len();
    assert!(sources > outputs && outputs >= 1, "{out}");
    assert_eq!(v["events_tombstoned"], 0);
    assert!(v["bytes_reclaimed"].as_u64().unwrap() > 0);
    assert!(v["duration"].as_u64().is_some());
    assert_eq!(segment_count(&dir), before - sources + outputs);
    let (code, _, err) = run(&["verify", path_str(&dir)]);
    assert_eq!(code, 0, "{err}");

    let kind = format!("{:#06x}", OTHER.as_u16());
    let (code, out, err) = run(&[
        "compact",
        path_str(&dir),
        "--tombstone",
        "--kind",
        &kind,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["strategy"], "tombstone");
    let stones = v["events_tombstoned"].as_u64().unwrap();
    assert!(stones > 0, "{out}");
    let (code, _, err) = run(&["verify", path_str(&dir)]);
    assert_eq!(code, 0, "{err}");
    let store = Store::open_read_only(StoreConfig::new(&dir)).unwrap();
    let mut gone = 0;
    for (i, r) in receipts.iter().enumerate() {
        match store.get(r.event_id) {
            Err(StoreError::PayloadTombstoned { .. }) => {
                assert_eq!(i % 3, 0, "event {i} is not of the selected kind");
                gone += 1;
            }
            Ok(ev) => assert_eq!(ev.event.payload["n"], i as u64),
            Err(e) => panic!("{i}: {e}"),
        }
        assert!(store.verify_append_receipt(r).is_valid(), "{i}");
    }
    assert_eq!(gone, stones);
    // Text output says what happened.
    let (code, out, err) = run(&["compact", path_str(&dir)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(path_str(&dir)), "{out}");
}

#[test]
fn a_tombstone_pass_without_a_filter_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    many_segments(&dir);
    let (code, _, err) = run(&["compact", path_str(&dir), "--tombstone"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--kind"), "{err}");
    let (code, _, err) = run(&["compact", path_str(&dir), "--kind", "7"]);
    assert_eq!(code, 2, "--kind alone is a usage error: {err}");
}

#[test]
fn a_directory_held_by_another_writer_is_refused_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    many_segments(&dir);
    let before = segment_count(&dir);
    let holder = Store::open(StoreConfig::new(&dir)).unwrap();
    let (code, _, err) = run(&["compact", path_str(&dir)]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("compact"), "{err}");
    drop(holder);
    assert_eq!(segment_count(&dir), before);
}
