//! Every file name and name pattern of a data directory.
//!
//! | name | what |
//! |------|------|
//! | `NNNNNNNNNNNNNNNNNNNN.seg` | segment `N` (20 decimal digits) |
//! | `NNNNNNNNNNNNNNNNNNNN.idx` | the index file of sealed segment `N` (derived; rebuilt when missing or damaged) |
//! | [`LOCK_FILE`] | the writer's exclusive lock |
//! | [`IDEMPOTENCY_FILE`] | idempotency key snapshot |
//! | [`KEYSET_FILE`] | payload encryption keys, one per key scope |
//! | [`SYNC_FAILURE_FILE`] | what a writer whose fsync failed had made durable |
//! | [`CHECKPOINT_DIR`]`/<name>`[`CHECKPOINT_SUFFIX`] | a cursor checkpoint |
//! | [`PROJECTION_DIR`]`/<hex>`[`PROJECTION_SUFFIX`] | a cached projection state |
//! | `<name>`[`TEMP_SUFFIX`] | a file being replaced atomically |
//! | [`SNAPSHOT_INCOMPLETE_FILE`] | a snapshot or fork still being written into this directory |
//! | `COMPACTION` | a compaction's switch, until the next open completes it (`format::COMPACTION_FILE`) |
//! | `NNNN.seg.compacting` | a compaction's output before its switch (`format::COMPACTING_SUFFIX`) |

/// Suffix of a segment file name.
pub const SEGMENT_SUFFIX: &str = ".seg";
/// Suffix of the index file of a sealed segment.
pub const INDEX_SUFFIX: &str = ".idx";
/// Decimal digits of the segment id in a segment file name.
const SEGMENT_DIGITS: usize = 20;
/// Name of the lock file in a data directory.
pub(crate) const LOCK_FILE: &str = "LOCK";
/// Name of the idempotency sidecar in a data directory.
pub const IDEMPOTENCY_FILE: &str = "IDEMPOTENCY";
/// Name of the keyset file of payload encryption in a data directory.
pub const KEYSET_FILE: &str = "KEYSET";
/// Name of the record a writer leaves when an fsync fails.
pub const SYNC_FAILURE_FILE: &str = "SYNC_FAILURE";
/// The heads file: tree heads the writer recorded.
pub const HEADS_FILE: &str = "HEADS";
/// The directory of the Merkle tree's level files.
pub const TREE_DIR: &str = "tree";
/// Directory (inside the data directory) holding cursor checkpoints.
pub const CHECKPOINT_DIR: &str = "cursors";
/// Suffix of a checkpoint file: `cursors/<name>.ckpt`.
pub const CHECKPOINT_SUFFIX: &str = ".ckpt";
/// Directory (inside the data directory) holding cached projection states.
pub const PROJECTION_DIR: &str = "projections";
/// Suffix of a cached projection state file: `projections/<hex>.proj`.
pub const PROJECTION_SUFFIX: &str = ".proj";
/// Suffix of the temporary file an atomic replace writes before its rename.
pub const TEMP_SUFFIX: &str = ".tmp";
/// The marker a snapshot or fork writes first into its destination and
/// removes last: while it is there the directory is not a store, and
/// opening it fails with `StoreError::SnapshotIncomplete`.
pub const SNAPSHOT_INCOMPLETE_FILE: &str = "SNAPSHOT_INCOMPLETE";

/// File name of segment `id`.
///
/// ```
/// assert_eq!(batpak::format::segment_file_name(7), "00000000000000000007.seg");
/// ```
pub fn segment_file_name(id: u64) -> String {
    format!("{id:0width$}{SEGMENT_SUFFIX}", width = SEGMENT_DIGITS)
}

/// The segment id a file name encodes, if it is a segment file name.
///
/// ```
/// use batpak::format::parse_segment_file_name;
/// assert_eq!(parse_segment_file_name("00000000000000000007.seg"), Some(7));
/// assert_eq!(parse_segment_file_name("7.seg"), None);
/// assert_eq!(parse_segment_file_name("LOCK"), None);
/// ```
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Path of segment `id` in the data directory `dir`.
pub(crate) fn segment_path(dir: &std::path::Path, id: u64) -> std::path::PathBuf {
    dir.join(segment_file_name(id))
}

/// File name of the index file of segment `id`.
///
/// ```
/// assert_eq!(batpak::format::index_file_name(7), "00000000000000000007.idx");
/// ```
pub fn index_file_name(id: u64) -> String {
    format!("{id:0width$}{INDEX_SUFFIX}", width = SEGMENT_DIGITS)
}

/// The segment id an index file name encodes, if it is one.
pub(crate) fn parse_index_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(INDEX_SUFFIX)?;
    parse_segment_file_name(&format!("{digits}{SEGMENT_SUFFIX}"))
}

/// Path of the index file of segment `id` in the data directory `dir`.
pub(crate) fn index_path(dir: &std::path::Path, id: u64) -> std::path::PathBuf {
    dir.join(index_file_name(id))
}

/// File name of checkpoint `name` inside [`CHECKPOINT_DIR`].
pub(crate) fn checkpoint_file_name(name: &str) -> String {
    format!("{name}{CHECKPOINT_SUFFIX}")
}

/// File name of a cached projection state inside [`PROJECTION_DIR`]:
/// the hex blake3 of the type key and the entity name (entity names may hold
/// characters a file name cannot).
pub(crate) fn projection_file_name(key: &[u8; 32], entity: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(key);
    h.update(entity.as_bytes());
    format!("{}{PROJECTION_SUFFIX}", h.finalize().to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_roundtrip() {
        assert_eq!(segment_file_name(7), "00000000000000000007.seg");
        assert_eq!(parse_segment_file_name(&segment_file_name(7)), Some(7));
        assert_eq!(parse_segment_file_name("7.seg"), None);
        assert_eq!(parse_segment_file_name("0000000000000000000x.seg"), None);
    }

    #[test]
    fn projection_files_are_named_by_a_hash_of_type_and_entity() {
        let a = projection_file_name(&[1; 32], "order/1");
        assert_eq!(a.len(), 64 + ".proj".len());
        assert!(a.ends_with(".proj"));
        assert!(a[..64].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, projection_file_name(&[1; 32], "order/2"));
        assert_ne!(a, projection_file_name(&[2; 32], "order/1"));
        assert_eq!(a, projection_file_name(&[1; 32], "order/1"));
    }

    #[test]
    fn checkpoint_files_are_named_after_the_cursor() {
        assert_eq!(checkpoint_file_name("orders"), "orders.ckpt");
    }

    #[test]
    fn the_fixed_names_are_the_documented_ones() {
        assert_eq!(
            [
                LOCK_FILE,
                IDEMPOTENCY_FILE,
                KEYSET_FILE,
                SYNC_FAILURE_FILE,
                CHECKPOINT_DIR,
                PROJECTION_DIR,
                SNAPSHOT_INCOMPLETE_FILE
            ],
            [
                "LOCK",
                "IDEMPOTENCY",
                "KEYSET",
                "SYNC_FAILURE",
                "cursors",
                "projections",
                "SNAPSHOT_INCOMPLETE"
            ]
        );
        assert_eq!(TEMP_SUFFIX, ".tmp");
        assert_eq!(parse_segment_file_name("00000000000000000001.sega"), None);
        assert_eq!(
            parse_segment_file_name("18446744073709551615.seg"),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_file_name("18446744073709551616.seg"), None);
    }
}
