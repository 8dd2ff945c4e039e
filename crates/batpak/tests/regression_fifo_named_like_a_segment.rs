//! Regression: a FIFO (or any non-regular file) named like a segment made a read-only open and `batpak inspect` wait forever for a writer of the FIFO, and the writer open deleted it as an unborn segment. It is now a typed error naming the file, nothing blocks, and nothing is removed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use batpak::format::segment_file_name;
use batpak::prelude::*;

/// Runs `f` on a thread and fails the test if it has not returned in 20 s.
fn within_time<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} did not return: it blocked on the FIFO"))
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo failed");
}

#[test]
fn a_fifo_named_like_a_segment_is_refused_without_blocking_or_removing_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store
        .append(
            &Coordinate::new("a", "s").unwrap(),
            EventKind::custom(0xE, 1),
            &1u8,
        )
        .unwrap();
    store.close().unwrap();
    let fifo = dir.path().join(segment_file_name(2));
    mkfifo(&fifo);
    let root = dir.path().to_path_buf();

    let cfg = StoreConfig::new(&root);
    let err = within_time("a read-only open", move || {
        Store::open_read_only(cfg).map(drop)
    })
    .unwrap_err();
    assert!(
        matches!(&err, StoreError::NotARegularFile { path } if *path == fifo),
        "{err:?}"
    );
    assert_eq!(err.code(), "not_a_regular_file");

    let cfg = StoreConfig::new(&root);
    let err = within_time("a writer open", move || Store::open(cfg).map(drop)).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotARegularFile { .. }),
        "{err:?}"
    );
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&kind),
        "the FIFO is still there"
    );

    std::fs::remove_file(&fifo).unwrap();
    let store = Store::open(StoreConfig::new(&root)).unwrap();
    assert_eq!(
        store.len(),
        1,
        "the store opens again once the FIFO is gone"
    );
}

#[test]
fn a_sidecar_that_is_a_fifo_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.close().unwrap();
    let sidecar = dir.path().join(batpak::format::IDEMPOTENCY_FILE);
    let _ = std::fs::remove_file(&sidecar);
    mkfifo(&sidecar);
    let root = dir.path().to_path_buf();
    // The sidecar is only a snapshot: the writer reports it and rebuilds the keys.
    let report = within_time("a writer open", move || {
        Store::open(StoreConfig::new(&root)).map(|s| s.open_report())
    })
    .unwrap();
    assert!(report.idempotency_sidecar_problem.is_some(), "{report:?}");
}
