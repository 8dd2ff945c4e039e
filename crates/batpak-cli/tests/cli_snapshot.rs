//! `batpak snapshot` and `batpak fork`: the copy opens and verifies, `--json`
//! has its documented shape, a fork's sealed segments are hard links, a bad
//! destination exits 2, and a directory locked by a running server exits 5
//! without writing anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use batpak::prelude::*;
use common::{make_store, path_str, run, serve, NOTED};
use serde_json::Value;

/// A store of `events` events over segments of 4 KiB, closed.
fn many_segments(dir: &Path, events: u32) {
    let store = Store::open(StoreConfig::new(dir).with_segment_max_bytes(4096)).unwrap();
    let c = Coordinate::new("entity:a", "scope:test").unwrap();
    for i in 0..events {
        store
            .append(&c, NOTED, &serde_json::json!({"n": i, "note": "hello"}))
            .unwrap();
    }
    store.close().unwrap();
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn snapshot_writes_a_copy_that_verifies_and_reports_it_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("data"), tmp.path().join("copy"));
    make_store(&src, 3, 20);
    let (code, out, err) = run(&["snapshot", path_str(&src), path_str(&dest), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["command"], "snapshot");
    assert_eq!(v["source"], path_str(&src));
    assert_eq!(v["dest"], path_str(&dest));
    assert_eq!(v["events"], 60);
    assert_eq!(v["head"]["size"], 60);
    assert_eq!(v["head"]["root_hash"].as_str().unwrap().len(), 64);
    assert_eq!(v["head"]["signed"], false);
    assert_eq!(v["linked_bytes"], 0);
    assert_eq!(v["link_fallback"], Value::Null);
    let files = v["files"].as_array().unwrap();
    let sum: u64 = files.iter().map(|f| f["bytes"].as_u64().unwrap()).sum();
    assert_eq!(v["bytes"].as_u64(), Some(sum));
    assert_eq!(v["copied_bytes"].as_u64(), Some(sum));
    assert!(files.iter().all(|f| f["strategy"] == "copied"));
    for name in ["00000000000000000001.seg", "HEADS", "tree/level-00"] {
        let f = files.iter().find(|f| f["path"] == name);
        let f = f.unwrap_or_else(|| panic!("{name} not listed: {out}"));
        assert_eq!(
            std::fs::metadata(dest.join(name)).unwrap().len(),
            f["bytes"].as_u64().unwrap()
        );
    }

    let (code, out, err) = run(&["verify", path_str(&dest), "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["intact"], true);
    let (code, out, _) = run(&["inspect", path_str(&dest), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["events"], 60);
    let copy = Store::open(StoreConfig::new(&dest)).unwrap();
    assert_eq!(copy.latest_head().map(|h| h.size()), Some(60));

    // Without --json: a few lines for a person.
    let again = tmp.path().join("again");
    let (code, out, _) = run(&["snapshot", path_str(&src), path_str(&again)]);
    assert_eq!(code, 0);
    assert!(out.starts_with("snapshot of "), "{out}");
    assert!(
        out.contains("60 events") && out.contains("tree head: size 60"),
        "{out}"
    );
}

#[test]
fn fork_links_the_sealed_segments_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("data"), tmp.path().join("fork"));
    many_segments(&src, 120);
    let (code, out, err) = run(&["fork", path_str(&src), path_str(&dest), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["command"], "fork");
    assert_eq!(v["events"], 120);
    assert_eq!(v["link_fallback"], Value::Null);
    let files = v["files"].as_array().unwrap();
    let linked: Vec<&Value> = files.iter().filter(|f| f["strategy"] == "linked").collect();
    assert!(linked.len() >= 2, "{out}");
    let linked_bytes: u64 = linked.iter().map(|f| f["bytes"].as_u64().unwrap()).sum();
    assert_eq!(v["linked_bytes"].as_u64(), Some(linked_bytes));
    assert_eq!(
        v["linked_bytes"].as_u64().unwrap() + v["copied_bytes"].as_u64().unwrap(),
        v["bytes"].as_u64().unwrap()
    );
    for f in &linked {
        let name = f["path"].as_str().unwrap();
        assert!(name.ends_with(".seg"), "{name}");
        let a = std::fs::metadata(src.join(name)).unwrap().ino();
        let b = std::fs::metadata(dest.join(name)).unwrap().ino();
        assert_eq!(a, b, "{name} is one file with two names");
    }
    let (code, _, err) = run(&["verify", path_str(&dest)]);
    assert_eq!(code, 0, "{err}");

    let human = tmp.path().join("human");
    let (code, out, _) = run(&["fork", path_str(&src), path_str(&human)]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("fork of ") && out.contains("sealed segments linked"),
        "{out}"
    );
}

#[test]
fn a_refused_destination_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("data");
    make_store(&src, 1, 3);
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    let link = tmp.path().join("link");
    std::fs::create_dir(tmp.path().join("target")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("target"), &link).unwrap();
    let cases = [
        (full.clone(), "not an empty directory"),
        (src.join("inner"), "inside the store's directory"),
        (link.clone(), "symbolic link"),
    ];
    for cmd in ["snapshot", "fork"] {
        for (dest, message) in &cases {
            let (code, out, err) = run(&[cmd, path_str(&src), path_str(dest), "--json"]);
            assert_eq!(code, 2, "{cmd} {}: {err}", dest.display());
            assert!(err.contains(message), "{cmd}: {err}");
            assert!(out.is_empty(), "{cmd} printed {out}");
        }
    }
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    assert!(!src.join("inner").exists());
    assert_eq!(
        std::fs::read_dir(tmp.path().join("target"))
            .unwrap()
            .count(),
        0
    );

    // A source that is not a data directory is refused before anything is created.
    let dest = tmp.path().join("never");
    let (code, _, err) = run(&[
        "snapshot",
        path_str(&tmp.path().join("nope")),
        path_str(&dest),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no such directory"), "{err}");
    assert!(!dest.exists());
}

#[test]
fn a_store_locked_by_a_running_server_exits_5_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("data");
    make_store(&src, 1, 3);
    let _served = serve(&["--data", path_str(&src), "--listen", "127.0.0.1:0"]);
    for cmd in ["snapshot", "fork"] {
        let dest = tmp.path().join(cmd);
        let (code, out, err) = run(&[cmd, path_str(&src), path_str(&dest), "--json"]);
        assert_eq!(code, 5, "{cmd}: {err}");
        assert!(err.contains("open for writing by another process"), "{err}");
        assert!(err.contains(path_str(&src)), "{err}");
        assert!(out.is_empty());
        assert!(!dest.exists(), "{cmd} wrote into its destination");
    }
}

#[test]
fn help_documents_the_locked_exit_code() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("5  snapshot/fork"), "{out}");
    let (code, out, _) = run(&["snapshot", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("DEST"), "{out}");
}
