//! The committed fixtures under the workspace's `fixtures/`, and copies of them.

use std::path::{Path, PathBuf};

/// The path of `rel` under the workspace's `fixtures/` directory.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
}

/// A temporary copy of `src` and its subdirectories: opening a store for
/// writing takes a lock and may write, never on a committed fixture.
pub fn copy_dir(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    copy_into(src, dst.path());
    dst
}

fn copy_into(src: &Path, dst: &Path) {
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy_into(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}
