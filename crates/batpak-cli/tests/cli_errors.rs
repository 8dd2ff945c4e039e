//! Bad input is refused with a clear message and exit code 2.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{batpak, path_str, stderr};

#[test]
fn missing_directory_exits_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-data");
    for cmd in ["inspect", "verify", "export"] {
        let out = batpak(&[cmd, path_str(&missing)]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("no such directory"), "{cmd}: {err}");
        assert!(
            err.contains("no-such-data"),
            "{cmd}: message names the path: {err}"
        );
        assert!(out.stdout.is_empty(), "{cmd} printed to stdout");
    }
}

#[test]
fn a_file_or_a_directory_without_segments_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain.txt");
    std::fs::write(&file, b"not a store").unwrap();
    let out = batpak(&["inspect", path_str(&file)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));

    let out = batpak(&["verify", path_str(tmp.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no segment files"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    let out = batpak(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = batpak(&["bench", "--events", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = batpak(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = common::stdout(&out);
    for line in [
        "Exit codes:",
        "0  success",
        "1  verify found problems",
        "2  usage or bad input",
        "3  I/O error",
    ] {
        assert!(help.contains(line), "help lacks {line:?}:\n{help}");
    }
}

#[test]
fn bench_refuses_a_missing_parent_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("absent");
    let out = batpak(&["bench", "--events", "100", "--dir", path_str(&missing)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no such directory"));
}
