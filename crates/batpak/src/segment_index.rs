//! The index files of sealed segments on disk: written when a segment is
//! sealed (and for a compaction's outputs), read at open in place of the
//! footer when they agree with it, removed with their segment.
//!
//! An index file only repeats its segment's footer, so it is derived data:
//! written without an fsync, checked (CRC of every page, the segment's
//! length and footer CRC, every table against the others) before it is
//! used, and rebuilt from the footer when it is missing or fails a check.

use std::path::Path;

use crate::format::{self, decode_index_file, encode_index_file, Footer, IndexFileHead};
use crate::fs::{read_all, write_derived, StoreFs};

/// What an index file on disk turned out to be.
#[derive(Debug)]
pub(crate) enum IndexFileState {
    /// It agrees with the segment: the footer it repeats.
    Usable(Footer),
    /// There is none.
    Missing,
    /// There is one, unusable for the reason given.
    Damaged(String),
}

/// The largest index file open reads: larger ones are damaged (a segment
/// of [`crate::config::StoreConfig`]'s largest size lists far fewer bytes).
const MAX_INDEX_FILE_LEN: u64 = 1 << 34;

/// Writes the index file of sealed segment `segment_id`, `segment_len` bytes
/// long, whose footer `footer` is stored with CRC-32 `footer_crc`.
pub(crate) fn write(
    fs: &dyn StoreFs,
    dir: &Path,
    head: IndexFileHead,
    footer: &Footer,
) -> std::io::Result<()> {
    let bytes = encode_index_file(head, footer);
    write_derived(fs, &format::index_path(dir, head.segment_id), &bytes)
}

/// Reads the index file of segment `expected.segment_id` and checks it
/// against the segment's length and footer CRC in `expected` and the
/// footer's offset `frames_end`.
pub(crate) fn read(
    fs: &dyn StoreFs,
    dir: &Path,
    expected: IndexFileHead,
    frames_end: u64,
) -> IndexFileState {
    let path = format::index_path(dir, expected.segment_id);
    match fs.exists(&path) {
        Ok(false) => return IndexFileState::Missing,
        Ok(true) => {}
        Err(e) => return IndexFileState::Damaged(format!("stat: {e}")),
    }
    let bytes = match read_all(fs, &path, MAX_INDEX_FILE_LEN) {
        Ok(bytes) => bytes,
        Err(e) => return IndexFileState::Damaged(format!("read: {e}")),
    };
    match decode_index_file(&bytes) {
        Ok(file) if file.head != expected => IndexFileState::Damaged(format!(
            "written for another footer (segment {}, {} bytes, footer CRC {:#010x}; the segment has {} bytes, footer CRC {:#010x})",
            file.head.segment_id,
            file.head.segment_len,
            file.head.footer_crc,
            expected.segment_len,
            expected.footer_crc
        )),
        Ok(file) if file.footer.frames_end != frames_end => {
            IndexFileState::Damaged("its frames do not end where the footer starts".into())
        }
        Ok(file) => IndexFileState::Usable(file.footer),
        Err(e) => IndexFileState::Damaged(e.to_string()),
    }
}

/// Removes the index file of segment `id`, if there is one.
pub(crate) fn remove(fs: &dyn StoreFs, dir: &Path, id: u64) -> std::io::Result<()> {
    let path = format::index_path(dir, id);
    if fs.exists(&path)? {
        fs.remove_file(&path)?;
    }
    Ok(())
}

/// Removes index files whose segment is gone (a crash between removing a
/// segment and its index file) and index files half written by a crash;
/// returns how many it removed. `segments`: the ids of the segments there are.
pub(crate) fn remove_orphans(
    fs: &dyn StoreFs,
    dir: &Path,
    segments: &[u64],
) -> std::io::Result<usize> {
    let mut removed = 0;
    for name in fs.list_dir(dir)? {
        let orphan = match name.strip_suffix(format::TEMP_SUFFIX) {
            Some(stem) => format::parse_index_file_name(stem).is_some(),
            None => format::parse_index_file_name(&name)
                .is_some_and(|id| segments.binary_search(&id).is_err()),
        };
        if orphan {
            fs.remove_file(&dir.join(&name))?;
            removed += 1;
        }
    }
    Ok(removed)
}
