//! Coordinates, store configurations, stores in temporary directories, live
//! crash images, and what a fail-stopped writer must answer.

use std::path::Path;

use batpak::prelude::*;

use super::bytes::crash_image;

/// The segment size that makes a few appends rotate: three appends of
/// [`ROTATING_PAYLOAD_LEN`] bytes fill a segment, the fourth seals it and
/// starts the next.
pub const SMALL_SEGMENT_BYTES: u64 = 4096;

/// A payload length that fills a [`SMALL_SEGMENT_BYTES`] segment in three appends.
pub const ROTATING_PAYLOAD_LEN: usize = 900;

/// A valid coordinate.
pub fn coord(entity: impl AsRef<str>, scope: impl AsRef<str>) -> Coordinate {
    Coordinate::new(entity, scope).unwrap()
}

/// A store with the default configuration in a new temporary directory.
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    (dir, store)
}

/// The default configuration with [`SMALL_SEGMENT_BYTES`] segments.
pub fn small_segments(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir).with_segment_max_bytes(SMALL_SEGMENT_BYTES)
}

/// The default configuration acknowledging before fsync (`SyncMode::OsBuffered`).
pub fn buffered(dir: &Path) -> StoreConfig {
    StoreConfig::new(dir).with_sync_mode(SyncMode::OsBuffered)
}

/// Opens a store at `dir` with the [`buffered`] configuration.
pub fn open_buffered(dir: &Path) -> Store {
    Store::open(buffered(dir)).unwrap()
}

/// Runs `fill` on a new store with the default configuration and returns a
/// crash image taken before the store closed (see [`crash_image`]).
pub fn live_image<T>(fill: impl FnOnce(&Store) -> T) -> (tempfile::TempDir, T) {
    live_image_with(|cfg| cfg, fill)
}

/// [`live_image`] of a store whose default configuration `configure` changes.
pub fn live_image_with<T>(
    configure: impl FnOnce(StoreConfig) -> StoreConfig,
    fill: impl FnOnce(&Store) -> T,
) -> (tempfile::TempDir, T) {
    let live = tempfile::tempdir().unwrap();
    let store = Store::open(configure(StoreConfig::new(live.path()))).unwrap();
    let out = fill(&store);
    let image = crash_image(live.path());
    store.close().unwrap();
    (image, out)
}

/// Appends `big` (of [`ROTATING_PAYLOAD_LEN`] bytes) three times: the first
/// segment of a [`SMALL_SEGMENT_BYTES`] store is then full, and the next
/// append of the same size rotates.
pub fn fill_first_segment(
    store: &Store,
    coord: &Coordinate,
    kind: EventKind,
    big: &str,
) -> Vec<AppendReceipt> {
    (0..3)
        .map(|_| store.append(coord, kind, &big).unwrap())
        .collect()
}

/// A writer that failed must refuse every later append and sync with
/// `WriterFailed` until the store is reopened.
pub fn assert_fail_stopped(store: &Store, coord: &Coordinate, kind: EventKind) {
    for _ in 0..3 {
        match store.append(coord, kind, &"after the failure") {
            Err(StoreError::WriterFailed { .. }) => {}
            other => {
                panic!("a fail-stopped writer must refuse appends with WriterFailed, got {other:?}")
            }
        }
    }
    let sync = store.sync();
    assert!(
        matches!(sync, Err(StoreError::WriterFailed { .. })),
        "a fail-stopped writer must refuse sync, got {sync:?}"
    );
}
