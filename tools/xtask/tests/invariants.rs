//! `invariants check` and `invariants render` on small registries in temporary
//! workspaces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use xtask::invariants::{self, Paths, BEGIN_MARKER, END_MARKER};

const LANES: &str = "\
lanes:
  - name: chain
    description: hashing
    files: [crates/demo/src/chain.rs]
    packages: [demo]
    timeout_secs: 30
    floor: 0.0
  - name: format
    description: bytes
    files: [crates/demo/src/format.rs]
    packages: [demo]
    timeout_secs: 30
    floor: 0.0
";

const GOOD: &str = "\
# registry
invariants:
  - id: INV-CHAIN-001
    statement: The event hash covers the header.
    witness: crates/demo/tests/chain.rs::hash_covers_header
    lanes: [chain]
  - id: INV-FORMAT-001
    statement: >
      A frame decodes to what was encoded.
    witness: crates/demo/src/format.rs::tests::roundtrip
    lanes: [format, chain]
";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A workspace with two witness tests, the lanes file and `registry`.
fn workspace(registry: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "traceability/lanes.yaml", LANES);
    write(root, "traceability/invariants.yaml", registry);
    write(
        root,
        "crates/demo/tests/chain.rs",
        "#[test]\nfn hash_covers_header() {}\n",
    );
    write(
        root,
        "crates/demo/src/format.rs",
        "pub fn encode() {}\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn roundtrip() {}\n}\n",
    );
    dir
}

fn problems(root: &Path) -> Vec<String> {
    invariants::check(&Paths::standard(root)).unwrap()
}

fn render(root: &Path) {
    invariants::render(&Paths::standard(root)).unwrap();
}

#[test]
fn a_good_registry_with_a_rendered_doc_passes() {
    let ws = workspace(GOOD);
    render(ws.path());
    assert_eq!(problems(ws.path()), Vec::<String>::new());
}

#[test]
fn a_missing_witness_fails_naming_the_invariant() {
    let ws = workspace(&GOOD.replace("::tests::roundtrip", "::tests::round_trip"));
    render(ws.path());
    let found = problems(ws.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("INV-FORMAT-001"), "{found:?}");
    assert!(found[0].contains("line 10"), "{found:?}");
    assert!(found[0].contains("no test fn `round_trip`"), "{found:?}");

    let ws = workspace(&GOOD.replace("tests/chain.rs", "tests/gone.rs"));
    render(ws.path());
    let found = problems(ws.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("INV-CHAIN-001"), "{found:?}");
    assert!(
        found[0].contains("crates/demo/tests/gone.rs` does not exist"),
        "{found:?}"
    );
}

#[test]
fn a_duplicate_id_fails() {
    let ws = workspace(&GOOD.replace("INV-FORMAT-001", "INV-CHAIN-001"));
    render(ws.path());
    let found = problems(ws.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("duplicate id `INV-CHAIN-001`"),
        "{found:?}"
    );
}

#[test]
fn a_malformed_id_fails() {
    let ws = workspace(&GOOD.replace("INV-FORMAT-001", "INV-format-1"));
    render(ws.path());
    let found = problems(ws.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("malformed id `INV-format-1`"),
        "{found:?}"
    );
}

#[test]
fn an_unknown_lane_fails_and_lists_the_known_ones() {
    let ws = workspace(&GOOD.replace("[format, chain]", "[format, chian]"));
    render(ws.path());
    let found = problems(ws.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("INV-FORMAT-001"), "{found:?}");
    assert!(
        found[0].contains("unknown lane `chian` (known lanes: chain, format)"),
        "{found:?}"
    );
}

#[test]
fn a_missing_field_reports_field_and_line() {
    let ws = workspace(&GOOD.replace(
        "    witness: crates/demo/tests/chain.rs::hash_covers_header\n",
        "",
    ));
    let err = invariants::check(&Paths::standard(ws.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("traceability/invariants.yaml"), "{err}");
    assert!(
        err.contains("invariants[0]: missing field `witness`"),
        "{err}"
    );
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn an_ill_typed_field_reports_field_and_line() {
    let ws = workspace(&GOOD.replace("lanes: [chain]", "lanes: chain"));
    let err = invariants::check(&Paths::standard(ws.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("invariants[0].lanes"), "{err}");
    assert!(err.contains("line 6"), "{err}");
}

#[test]
fn a_stale_doc_fails_and_render_fixes_it_keeping_the_prose() {
    let ws = workspace(GOOD);
    let doc = ws.path().join("03_INVARIANTS.md");
    let prose_before = "# Our invariants\n\nHand-written introduction.\n\n";
    let prose_after = "\n\n## Notes\n\nHand-written notes after the list.\n";
    std::fs::write(
        &doc,
        format!("{prose_before}{BEGIN_MARKER}\nout of date\n{END_MARKER}{prose_after}"),
    )
    .unwrap();

    let found = problems(ws.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("03_INVARIANTS.md is stale"), "{found:?}");

    render(ws.path());
    assert_eq!(problems(ws.path()), Vec::<String>::new());
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(
        text.starts_with(&format!("{prose_before}{BEGIN_MARKER}\n")),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("{END_MARKER}{prose_after}")),
        "{text}"
    );
    assert!(text.contains("### INV-CHAIN-001\n\nThe event hash covers the header.\n"));
    assert!(text.contains("- Lanes: `format`, `chain`\n"));
    assert!(!text.contains("out of date"));

    // A registry change makes the document stale again.
    write(
        ws.path(),
        "traceability/invariants.yaml",
        &GOOD.replace("covers the header", "covers every header field"),
    );
    assert!(problems(ws.path())[0].contains("is stale"));
}

#[test]
fn a_missing_doc_fails_and_render_creates_it() {
    let ws = workspace(GOOD);
    let found = problems(ws.path());
    assert!(
        found[0].contains("03_INVARIANTS.md does not exist"),
        "{found:?}"
    );
    render(ws.path());
    let text = std::fs::read_to_string(ws.path().join("03_INVARIANTS.md")).unwrap();
    assert!(text.starts_with("# Invariants\n"));
    assert!(problems(ws.path()).is_empty());
}

#[test]
fn the_command_line_exits_1_and_names_the_problem() {
    let ws = workspace(&GOOD.replace("hash_covers_header\n", "hash_covers_everything\n"));
    render(ws.path());
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(ws.path())
        .args(["invariants", "check"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("INV-CHAIN-001"), "{stderr}");
    assert!(stderr.contains("hash_covers_everything"), "{stderr}");

    write(ws.path(), "traceability/invariants.yaml", GOOD);
    render(ws.path());
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(ws.path())
        .args(["invariants", "check"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_subcommands_print_usage_and_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["invariants", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage:"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
}
