//! `batpak bench --json` with a tiny event count reports every workload for
//! both systems. No timing assertions: performance is judged by the full run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{batpak, path_str, stderr};

#[test]
fn bench_json_has_every_workload_for_both_systems() {
    let tmp = tempfile::tempdir().unwrap();
    let out = batpak(&[
        "bench",
        "--events",
        "500",
        "--json",
        "--quiet",
        "--fsync-probe-ms",
        "50",
        "--dir",
        path_str(tmp.path()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["machine"]["fsync_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["machine"]["fsync_overwrite_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(v["machine"]["os"].as_str().is_some());
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 16);
    for workload in ["W1", "W2", "W2c", "W3", "W4", "W5", "W6", "disk"] {
        for system in ["batpak", "sqlite"] {
            let r = results
                .iter()
                .find(|r| r["workload"] == workload && r["system"] == system)
                .unwrap_or_else(|| panic!("no {workload}/{system} row"));
            assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["ratio"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["target"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
            assert!(r["met"].is_boolean(), "{r}");
            if workload == "W4" {
                assert!(r["seconds"].as_f64().unwrap() > 0.0, "{r}");
            }
            if workload == "disk" {
                assert!(r["bytes_per_event"].as_f64().unwrap() > 0.0, "{r}");
            }
            if ["W2", "W2c", "W3"].contains(&workload) {
                assert!(r["fsync_fraction"].as_f64().unwrap() > 0.0, "{r}");
            }
        }
    }
    assert_eq!(v["settings"]["durable_events"], 28);
    // Every temporary directory is removed afterwards.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}
