//! `batpak import`: a rerun imports nothing, `--json` has its documented
//! shape, the copies carry their provenance and verify, and a bad namespace,
//! an import into itself and a locked destination exit with their codes
//! without writing anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use batpak::prelude::*;
use batpak::GateAttestation;
use common::{make_store, path_str, run};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn import_twice_imports_once_and_reports_it_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("site-a"), tmp.path().join("hq"));
    let receipts = make_store(&src, 3, 20);
    let args = [
        "import",
        path_str(&src),
        "--into",
        path_str(&dest),
        "--namespace",
        "site-a",
        "--json",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["command"], "import");
    assert_eq!(v["source"], path_str(&src));
    assert_eq!(v["dest"], path_str(&dest));
    assert_eq!(v["namespace"], "site-a");
    assert_eq!(
        (v["imported"].as_u64(), v["deduplicated"].as_u64()),
        (Some(60), Some(0))
    );
    assert_eq!(v["skipped_reserved"], 0);
    assert_eq!(v["skipped_tombstoned"], 0);
    assert_eq!(v["skipped_own_copies"], 0);
    assert_eq!(v["source_frontier"], 60);

    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(
        (v["imported"].as_u64(), v["deduplicated"].as_u64()),
        (Some(0), Some(60))
    );

    let store = Store::open_read_only(StoreConfig::new(&dest)).unwrap();
    assert_eq!(store.len(), 60);
    assert!(store.verify_chain().unwrap().is_intact());
    for (entry, original) in store.query(&Region::all()).iter().zip(&receipts) {
        let header = store.get(entry.event_id()).unwrap().event.header;
        assert_eq!(header.content_hash, original.content_hash);
        let (ns, id, _, hash) = header
            .attestation
            .as_ref()
            .and_then(GateAttestation::provenance)
            .unwrap();
        assert_eq!(
            (ns, id, *hash),
            ("site-a", original.event_id, original.content_hash)
        );
    }
}

#[test]
fn human_output_names_the_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("a"), tmp.path().join("b"));
    make_store(&src, 1, 5);
    let args = [
        "import",
        path_str(&src),
        "--into",
        path_str(&dest),
        "--namespace",
        "a",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 events imported, 0 already there"), "{out}");
    assert!(out.contains("source frontier: 5"), "{out}");
}

#[test]
fn refusals_exit_2_or_5_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dest) = (tmp.path().join("a"), tmp.path().join("b"));
    make_store(&src, 1, 3);
    make_store(&dest, 1, 2);
    let before = std::fs::read_dir(&dest).unwrap().count();
    let import = |from: &std::path::Path, ns: &str| {
        run(&[
            "import",
            path_str(from),
            "--into",
            path_str(&dest),
            "--namespace",
            ns,
        ])
    };
    let (code, out, err) = import(&src, "bad\nname");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("namespace"), "{err}");
    assert!(out.is_empty());
    let (code, _, err) = import(&dest, "me");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("into itself"), "{err}");
    {
        let _writer = Store::open(StoreConfig::new(&dest)).unwrap();
        let (code, _, err) = import(&src, "a");
        assert_eq!(code, 5, "{err}");
    }
    let store = Store::open_read_only(StoreConfig::new(&dest)).unwrap();
    assert_eq!(store.len(), 2, "nothing was imported");
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), before);
}
