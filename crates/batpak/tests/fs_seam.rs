//! The file-system seam holds: no store code reaches the operating system's
//! file system except through `StoreFs` (`src/fs.rs`, whose `RealFs` is the
//! one production implementation, and `src/sim.rs`, its in-memory twin).
//!
//! A direct call would bypass fault injection, so crash tests could not see
//! it. The scan flags `std::fs`, `File::`, `OpenOptions`, `fs2::`, and
//! `remove_file(` / `create_dir` not called as a method (a method call on a
//! `StoreFs` value is the seam itself). Comment lines and everything after a
//! file's `#[cfg(test)]` (unit tests may build real fixtures) are skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// Files allowed to touch the real file system.
const SEAM_FILES: [&str; 2] = ["fs.rs", "sim.rs"];

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Why `line` bypasses the seam, if it does.
fn violation(line: &str) -> Option<&'static str> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return None;
    }
    let code = match code.find("//") {
        Some(i) => &code[..i],
        None => code,
    };
    let preceded_by = |needle: &str, ok: &dyn Fn(Option<char>) -> bool| {
        code.match_indices(needle)
            .any(|(i, _)| !ok(code[..i].chars().next_back()))
    };
    if code.contains("std::fs") {
        return Some("uses std::fs");
    }
    if code.contains("use std::{") && code.split(['{', ',', '}', ' ']).any(|p| p == "fs") {
        return Some("imports std::fs");
    }
    if preceded_by("File::", &|c| c.is_some_and(is_ident)) {
        return Some("uses std::fs::File");
    }
    if code.contains("OpenOptions") {
        return Some("uses OpenOptions");
    }
    if preceded_by("fs2::", &|c| c.is_some_and(is_ident)) {
        return Some("uses fs2");
    }
    if preceded_by("remove_file(", &|c| c == Some('.')) {
        return Some("removes a file outside StoreFs");
    }
    if preceded_by("create_dir", &|c| c == Some('.')) {
        return Some("creates a directory outside StoreFs");
    }
    None
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_store_code_calls_the_file_system_directly() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 10,
        "the scan found the sources in {}",
        src.display()
    );
    let mut found = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        if SEAM_FILES.iter().any(|s| rel == Path::new(s)) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            if let Some(why) = violation(line) {
                found.push(format!(
                    "src/{}:{}: {why}: {}",
                    rel.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "file-system calls that bypass StoreFs (route them through the seam in src/fs.rs):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_flags_direct_calls_and_allows_the_seam() {
    for bad in [
        "let f = std::fs::File::open(p)?;",
        "use std::{fs, io};",
        "let f = File::create(p)?;",
        "let o = OpenOptions::new();",
        "fs2::FileExt::lock_exclusive(&f)?;",
        "remove_file(&tmp)?;",
        "fs::remove_file(&tmp)?;",
        "create_dir_all(&dir)?;",
    ] {
        assert!(violation(bad).is_some(), "not flagged: {bad}");
    }
    for good in [
        "cfg.fs.remove_file(path)",
        "    .create_dir_all(&cfg.dir)",
        "let file: Arc<dyn StoreFile> = StoreFile::len(&f);",
        "/// Unlike std::fs, this goes through the seam.",
        "let x = 1; // std::fs would bypass faults",
        "use crate::fs::{OpenMode, StoreFile};",
    ] {
        assert_eq!(violation(good), None, "wrongly flagged: {good}");
    }
}
