//! Registry validation across crates and processes. The programs under
//! fixtures/registry (a cargo workspace of its own) are built here with the
//! same cargo and run as subprocesses:
//!
//! - `collision-app`: a binary and a library it links each register a payload
//!   type under kind 0xE:0x007;
//! - `typed-evolution`: three releases of one payload type (v1 writer, v2
//!   reader with a complete upcast chain, v3 with a missing step);
//! - `startup-check`: feature `startup-registry-check`, with and without a
//!   cross-crate collision.
//!
//! Each package is built on its own so the startup feature reaches only its package.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{copy_dir, fixture, LOCK_FILE};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

fn fixtures_manifest() -> PathBuf {
    fixture("registry/Cargo.toml")
}

/// Kept apart from the outer build's directory: that one may be locked by the
/// cargo running this test.
fn fixtures_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("batpak-fixtures")
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into())
}

/// Builds `package` (once per test process) and returns its executables by name.
fn build(package: &str) -> BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<Mutex<BTreeMap<String, BTreeMap<String, PathBuf>>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if let Some(bins) = built.get(package) {
        return bins.clone();
    }
    let out = Command::new(cargo())
        .arg("build")
        .arg("--manifest-path")
        .arg(fixtures_manifest())
        .arg("--target-dir")
        .arg(fixtures_target_dir())
        .args(["--package", package, "--bins", "--message-format=json"])
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building fixture {package} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut bins = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let (Some(exe), Some(name)) =
            (msg["executable"].as_str(), msg["target"]["name"].as_str())
        {
            bins.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    built.insert(package.to_owned(), bins.clone());
    bins
}

fn exe(package: &str, bin: &str) -> PathBuf {
    build(package)
        .remove(bin)
        .unwrap_or_else(|| panic!("fixture {package} has no binary {bin}"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(package: &str, bin: &str, args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(exe(package, bin))
        .args(args)
        .output()
        .expect("run fixture");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn tmp_path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_owned()
}

// ---- collisions across crates ----

#[test]
fn cross_crate_collision_refuses_open_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = tmp_path(&dir, "store");
    let r = run("collision-app", "collision-app", &["open-default", &store]);
    assert_eq!(r.code, Some(2), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("REFUSED PayloadKindCollision"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("collision_app::AppThing"), "{}", r.stdout);
    assert!(r.stdout.contains("collision_lib::LibThing"), "{}", r.stdout);
    assert!(
        r.stdout.contains("0xe007"),
        "the Display names the kind: {}",
        r.stdout
    );
    assert!(
        !Path::new(&store).join(LOCK_FILE).exists(),
        "refused before locking"
    );
}

#[test]
fn cross_crate_collision_refuses_read_only_open_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = tmp_path(&dir, "store");
    let opened = run("collision-app", "collision-app", &["open-silent", &store]);
    assert_eq!(opened.code, Some(0), "{}", opened.stdout);
    let r = run(
        "collision-app",
        "collision-app",
        &["open-read-only", &store],
    );
    assert_eq!(r.code, Some(2), "{}", r.stdout);
    assert!(
        r.stdout.contains("REFUSED PayloadKindCollision"),
        "{}",
        r.stdout
    );
}

#[test]
fn cross_crate_collision_with_warn_opens_and_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        "collision-app",
        "collision-app",
        &["open-warn", &tmp_path(&dir, "store")],
    );
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("OPENED"), "{}", r.stdout);
    let warning = r
        .stderr
        .lines()
        .find(|l| l.starts_with("WARN"))
        .unwrap_or_else(|| panic!("no WARN line in:\n{}", r.stderr));
    assert!(warning.contains("collision_app::AppThing"), "{warning}");
    assert!(warning.contains("collision_lib::LibThing"), "{warning}");
}

#[test]
fn cross_crate_collision_with_silent_opens_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        "collision-app",
        "collision-app",
        &["open-silent", &tmp_path(&dir, "store")],
    );
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("OPENED"));
    assert!(!r.stderr.contains("WARN"), "{}", r.stderr);
}

#[test]
fn verify_registry_without_a_store_reports_the_cross_crate_collision() {
    let r = run("collision-app", "collision-app", &["verify"]);
    assert_eq!(r.code, Some(2), "{}", r.stdout);
    assert!(
        r.stdout.contains("INVALID PayloadKindCollision"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("collision_lib::LibThing"), "{}", r.stdout);
}

// ---- schema evolution across releases ----

#[test]
fn incomplete_upcast_chain_refuses_open_naming_the_missing_hop() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        "typed-evolution",
        "typed-v3-incomplete",
        &[&tmp_path(&dir, "store")],
    );
    assert_eq!(r.code, Some(2), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("REFUSED UpcastChainIncomplete { kind: EventKind(0xe:0x021), version: 3, missing: [(2, 3)] }"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("2→3"), "{}", r.stdout);
    let verify = run("typed-evolution", "typed-v3-incomplete", &[]);
    assert_eq!(verify.code, Some(2));
    assert!(
        verify.stdout.contains("missing: [(2, 3)]"),
        "{}",
        verify.stdout
    );
}

#[test]
fn complete_chain_opens_and_lifts_events_an_earlier_release_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let store = tmp_path(&dir, "store");
    let w = run("typed-evolution", "typed-v1-writer", &[&store]);
    assert_eq!(w.code, Some(0), "{}\n{}", w.stdout, w.stderr);
    assert_eq!(
        w.stdout.lines().filter(|l| l.starts_with("WROTE ")).count(),
        2
    );
    let r = run("typed-evolution", "typed-v2-reader", &[&store]);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let reads: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("READ "))
        .collect();
    assert_eq!(
        reads,
        vec![
            "READ id=1 title=first thing tags=[] stored_version=1",
            "READ id=2 title=second thing tags=[] stored_version=1",
            "READ id=3 title=third thing tags=[\"new\"] stored_version=2",
        ]
    );
}

#[test]
fn complete_chain_lifts_the_committed_golden_store() {
    let dir = copy_dir(&fixture("typed-v1/store"));
    let r = run(
        "typed-evolution",
        "typed-v2-reader",
        &[dir.path().to_str().unwrap()],
    );
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("READ id=1 title=first thing tags=[] stored_version=1"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("READ id=2 title=second thing tags=[] stored_version=1"),
        "{}",
        r.stdout
    );
}

// ---- feature startup-registry-check ----

#[test]
fn startup_check_stops_before_main_on_a_collision_with_another_crate() {
    let r = run("startup-check", "startup-collision", &[]);
    assert_eq!(
        r.code,
        Some(78),
        "stdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    assert!(!r.stdout.contains("MAIN RAN"), "main ran: {}", r.stdout);
    assert!(
        r.stderr
            .contains("payload registry check failed before main"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("collision_lib::LibThing"), "{}", r.stderr);
    assert!(
        r.stderr.contains("startup_collision::StartupThing"),
        "{}",
        r.stderr
    );
}

#[test]
fn startup_check_lets_a_valid_program_reach_main() {
    let r = run("startup-check", "startup-clean", &[]);
    assert_eq!(
        r.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        r.stdout,
        r.stderr
    );
    assert!(r.stdout.contains("MAIN RAN"));
    // Both crates' registrations were visible: the check had something to see.
    assert!(r.stdout.contains("PAYLOADS 2"), "{}", r.stdout);
}
