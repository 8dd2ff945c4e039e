//! Mutation lanes run against `fixtures/mutant-fixture` with the real
//! cargo-mutants. The fixture has 9 mutants: 8 are caught and one
//! (`replace > with >= in is_adult`, line 11) survives, so its kill rate is
//! 8/9 = 88.9%.
//!
//! These tests need cargo-mutants and cargo-nextest; without cargo-mutants
//! they fail (CI installs it with `cargo install --locked cargo-mutants`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use xtask::mutants::{self, RunOptions};

const SURVIVOR: &str = "src/lib.rs:11: replace > with >= in is_adult";

fn require_cargo_mutants() {
    if mutants::cargo_mutants_version().is_none() {
        panic!(
            "cargo-mutants is not installed, and this test runs the real tool; install it with `{}`",
            mutants::INSTALL_HINT
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "mutants.out" || name == "mutants.out.old" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn lanes_yaml(floor: f64, exclusions: &str) -> String {
    format!(
        "\
lanes:
  - name: fixture
    description: the mutant fixture
    files: [src/lib.rs]
    packages: [mutant-fixture]
    timeout_secs: 60
    floor: {floor:.1}
    exclusions:{exclusions}
  - name: other
    description: unused
    files: [src/*.rs]
    packages: [mutant-fixture]
    timeout_secs: 60
    floor: 0.0
"
    )
}

/// A copy of the fixture crate with a lanes file.
fn fixture(lanes: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mutant-fixture"),
        dir.path(),
    );
    std::fs::create_dir_all(dir.path().join("traceability")).unwrap();
    std::fs::write(dir.path().join("traceability/lanes.yaml"), lanes).unwrap();
    dir
}

fn quiet(root: &Path) -> RunOptions {
    RunOptions {
        quiet: true,
        output_dir: Some(root.join("target/lane-out")),
        ..RunOptions::new(root, "fixture")
    }
}

#[test]
fn a_lane_below_its_floor_fails_and_lists_the_survivor() {
    require_cargo_mutants();
    let ws = fixture(&lanes_yaml(95.0, " []"));
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(ws.path())
        .args(["mutants", "--lane", "fixture", "--jobs", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("caught 8, missed 1, timeout 0, unviable 0"),
        "{stdout}"
    );
    assert!(stdout.contains("kill rate 88.9%"), "{stdout}");
    assert!(stdout.contains("floor 95.0%: FAIL"), "{stdout}");
    assert!(
        stdout.contains(&format!("missed mutants (1):\n  {SURVIVOR}\n")),
        "{stdout}"
    );
    assert!(
        stderr.contains("lane `fixture` is below its floor of 95.0%"),
        "{stderr}"
    );
    assert!(ws
        .path()
        .join("target/xtask-mutants/fixture/mutants.out/outcomes.json")
        .is_file());
}

#[test]
fn an_excluded_survivor_does_not_count_and_stale_exclusions_are_errors() {
    require_cargo_mutants();
    let exclusion = "
      - file: src/lib.rs
        line: 11
        function: is_adult
        replacement: replace > with >= in is_adult
        reason: the fixture keeps this gap on purpose";
    let ws = fixture(&lanes_yaml(100.0, exclusion));
    let report = mutants::run_lane(&quiet(ws.path()), &mut Vec::new()).unwrap();
    assert_eq!(report.counts.caught, 8);
    assert_eq!(report.counts.missed, 0);
    assert_eq!(report.counts.excluded, 1);
    assert_eq!(report.kill_rate, Some(100.0));
    assert!(report.passed(), "{report}");
    assert_eq!(report.excluded[0].0.to_string(), SURVIVOR);

    // An exclusion whose mutant does not exist fails before anything runs.
    let stale = "
      - file: src/lib.rs
        replacement: replace + with / in add
        reason: there is no such mutant";
    let ws = fixture(&lanes_yaml(0.0, stale));
    let err = mutants::run_lane(&quiet(ws.path()), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"replace + with / in add\": no such mutant"),
        "{err}"
    );
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(root)
        .args([
            "-c",
            "user.name=lane test",
            "-c",
            "user.email=lane@test.invalid",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn in_diff_runs_only_changed_lines() {
    require_cargo_mutants();
    let ws = fixture(&lanes_yaml(100.0, " []"));
    let root = ws.path();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "fixture"]);
    let in_diff = |rev: &str| RunOptions {
        in_diff: Some(rev.to_owned()),
        ..quiet(root)
    };

    let report = mutants::run_lane(&in_diff("HEAD"), &mut Vec::new()).unwrap();
    assert!(report.passed());
    assert!(report.nothing_to_test.unwrap().contains("no changes"));

    let lib = root.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, text.replace("one with a gap", "and one with a gap")).unwrap();
    let report = mutants::run_lane(&in_diff("HEAD"), &mut Vec::new()).unwrap();
    assert!(report.passed());
    assert!(report
        .nothing_to_test
        .unwrap()
        .contains("no mutants in the lines changed"));

    // Touch `add` only: its 4 mutants run and are all caught, so the lane
    // passes even at a floor of 100% (the survivor in is_adult is not run).
    std::fs::write(&lib, text.replace("    a + b\n", "    b + a\n")).unwrap();
    let report = mutants::run_lane(&in_diff("HEAD"), &mut Vec::new()).unwrap();
    assert_eq!(report.nothing_to_test, None);
    assert_eq!(report.counts.caught, 4, "{report}");
    assert_eq!(report.counts.missed, 0, "{report}");
    assert!(report.passed(), "{report}");
}

#[test]
fn an_unknown_lane_lists_the_known_ones() {
    let ws = fixture(&lanes_yaml(0.0, " []"));
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(ws.path())
        .args(["mutants", "--lane", "nope"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unknown lane `nope`; known lanes: fixture, other"),
        "{stderr}"
    );
}

#[test]
fn list_lanes_shows_files_and_floors() {
    let ws = fixture(&lanes_yaml(95.0, " []"));
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(ws.path())
        .args(["mutants", "--list-lanes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("fixture: floor 95.0%, timeout 60s per mutant, packages mutant-fixture"),
        "{stdout}"
    );
    assert!(stdout.contains("  file src/lib.rs\n"), "{stdout}");
    assert!(
        stdout.contains("  file src/*.rs  (src/lib.rs)\n"),
        "{stdout}"
    );
}
