//! `batpak bench --json` at tiny sizes reports every workload for both
//! systems, every runtime case and every served row; `--only` runs just the
//! sections named. No timing assertions: performance is judged by the full run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{batpak, path_str, stderr, stdout};

/// Checks the runtime and serve rows of a `bench --json` report.
fn check_runtime_and_serve(v: &serde_json::Value, calls: u64, serve_calls: u64) {
    let runtime = v["runtime"].as_array().unwrap();
    let ids: Vec<_> = runtime
        .iter()
        .map(|r| r["workload"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["R1", "R2", "R3"]);
    for r in runtime {
        assert_eq!(r["calls"], calls, "{r}");
        assert!(r["ns_per_call"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["calls_per_sec"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["target"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
    }
    assert!(runtime[0]["met"].is_boolean() && runtime[1]["met"].is_boolean());
    assert!(runtime[2]["met"].is_null());

    let serve = v["serve"].as_array().unwrap();
    let ids: Vec<_> = serve
        .iter()
        .map(|r| r["workload"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["S1", "S8", "S64"]);
    for (r, connections) in serve.iter().zip([1u64, 8, 64]) {
        assert_eq!(r["connections"], connections, "{r}");
        assert_eq!(r["embedded_threads"], connections, "{r}");
        assert_eq!(r["embedded"], if connections == 1 { "W2" } else { "W2c" });
        assert_eq!(r["calls"], serve_calls, "{r}");
        for field in [
            "calls_per_sec",
            "embedded_per_sec",
            "ratio",
            "fsync_fraction",
            "embedded_fsync_fraction",
        ] {
            assert!(r[field].as_f64().unwrap() > 0.0, "{field}: {r}");
        }
    }
    assert_eq!(v["settings"]["runtime_calls"], calls);
    assert_eq!(v["settings"]["serve_calls"], serve_calls);
}

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
        "--calls",
        "200",
        "--serve-calls",
        "64",
        "--dir",
        path_str(tmp.path()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["settings"]["sections"],
        serde_json::json!(["store", "runtime", "serve"])
    );
    check_runtime_and_serve(&v, 200, 64);
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

#[test]
fn bench_only_runtime_and_serve_skips_the_store_workloads() {
    let tmp = tempfile::tempdir().unwrap();
    let out = batpak(&[
        "bench",
        "--only",
        "runtime,serve",
        "--calls",
        "300",
        "--serve-calls",
        "100",
        "--json",
        "--quiet",
        "--fsync-probe-ms",
        "20",
        "--dir",
        path_str(tmp.path()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["settings"]["sections"],
        serde_json::json!(["runtime", "serve"])
    );
    assert_eq!(v["results"].as_array().unwrap().len(), 0);
    check_runtime_and_serve(&v, 300, 100);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn bench_only_runtime_prints_its_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = batpak(&[
        "bench",
        "--only",
        "runtime",
        "--calls",
        "100",
        "--fsync-probe-ms",
        "20",
        "--dir",
        path_str(tmp.path()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in ["sections runtime", "R1", "R2", "R3", "targets met: "] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains("W1") && !text.contains("S64"), "{text}");
}

#[test]
fn bench_rejects_an_unknown_section() {
    let out = batpak(&["bench", "--only", "runtime,nonsense"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
