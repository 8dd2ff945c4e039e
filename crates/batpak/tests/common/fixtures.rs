//! The committed fixtures under the workspace's `fixtures/`, and copies of them.

use std::path::{Path, PathBuf};

/// The path of `rel` under the workspace's `fixtures/` directory.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
}

/// A temporary copy of the files of `src` (not of its subdirectories):
/// opening a store for writing takes a lock and may write, never on a
/// committed fixture.
pub fn copy_dir(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.path().join(e.file_name())).unwrap();
    }
    dst
}
