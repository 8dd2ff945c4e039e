//! The index files of sealed segments on disk: written when a segment is
//! sealed (and for a compaction's outputs), read by the index's parts in
//! place of the footer when they are bound to it, removed with their
//! segment.
//!
//! An index file only repeats its segment's footer, so it is derived data:
//! written without an fsync, bound to its segment (length and footer CRC)
//! and checked a page at a time (CRC) as it is read, and rebuilt from the
//! footer when it is missing or fails a check.

use std::path::Path;

use crate::error::{Corruption, StoreError};
use crate::format::{self, encode_index_file, DecodeError, Footer, IndexFileHead};
use crate::fs::{write_derived, StoreFile, StoreFs};

/// Writes the index file of sealed segment `segment_id`, `segment_len` bytes
/// long, whose footer `footer` is stored with CRC-32 `footer_crc`.
pub(crate) fn write(
    fs: &dyn StoreFs,
    dir: &Path,
    head: IndexFileHead,
    footer: &Footer,
) -> std::io::Result<()> {
    write_to(fs, &format::index_path(dir, head.segment_id), head, footer)
}

/// Writes the index file of `head`'s segment, whose footer is `footer`, at `path`.
pub(crate) fn write_to(
    fs: &dyn StoreFs,
    path: &Path,
    head: IndexFileHead,
    footer: &Footer,
) -> std::io::Result<()> {
    write_derived(fs, path, &encode_index_file(head, footer))
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

/// Reads and decodes the footer of the sealed segment `path` (open as
/// `file`), which must still be the one `expected` describes (length and
/// footer CRC): what a part rebuilds its index file's bytes from.
pub(crate) fn read_footer(
    path: &Path,
    file: &dyn StoreFile,
    expected: IndexFileHead,
) -> Result<Footer, StoreError> {
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat segment", path, e))?;
    let changed = |at: u64| {
        StoreError::corrupt_segment(
            path,
            at,
            Corruption::Decode {
                structure: "footer",
                source: DecodeError::Inconsistent {
                    offset: at,
                    problem: "the segment is no longer the one its index file was written for",
                },
            },
        )
    };
    if len != expected.segment_len {
        return Err(changed(len));
    }
    let at = format::trailer_offset(len).ok_or_else(|| changed(len))?;
    let mut trailer = [0u8; format::TRAILER_LEN];
    file.read_exact_at(&mut trailer, at)
        .map_err(|e| StoreError::io("read segment trailer", path, e))?;
    let decode = |e: DecodeError| {
        StoreError::corrupt_segment(
            path,
            at,
            Corruption::Decode {
                structure: "footer",
                source: e,
            },
        )
    };
    let span = format::locate_footer(len, &trailer)
        .map_err(decode)?
        .ok_or_else(|| changed(at))?;
    if span.crc != expected.footer_crc {
        return Err(changed(span.start));
    }
    let mut body = vec![0u8; span.len];
    file.read_exact_at(&mut body, span.start)
        .map_err(|e| StoreError::io("read segment footer", path, e))?;
    format::decode_footer(&body, span.crc).map_err(decode)
}

/// What the index file of sealed segment `id` (`path`, open as `file`) must
/// be bound to, and where its frames end: from the segment's trailer alone.
/// `None` when the file does not end in a trailer that places a footer.
pub(crate) fn bound_head(
    id: u64,
    path: &Path,
    file: &dyn StoreFile,
) -> Result<Option<(IndexFileHead, u64)>, StoreError> {
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat segment", path, e))?;
    let Some(start) = format::trailer_offset(len) else {
        return Ok(None);
    };
    let mut trailer = [0u8; format::TRAILER_LEN];
    match file.read_exact_at(&mut trailer, start) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(StoreError::io("read segment trailer", path, e)),
    }
    Ok(format::locate_footer(len, &trailer)
        .ok()
        .flatten()
        .map(|span| {
            let head = IndexFileHead {
                segment_id: id,
                segment_len: len,
                footer_crc: span.crc,
            };
            (head, span.start)
        }))
}

/// Checks the name tables of the footer of segment `path` before an index
/// is built from it: every name valid, none listed twice (two entities
/// under one name would merge two histories).
pub(crate) fn check_footer_names(path: &Path, f: &Footer) -> Result<(), StoreError> {
    let at = f.frames_end;
    let tables = [
        (
            "entity",
            f.entities
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
        ),
        ("scope", f.scopes.iter().map(String::as_str).collect()),
    ];
    for (part, names) in tables {
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        for name in names {
            if let Some(problem) = crate::coordinate::part_problem(name) {
                return Err(StoreError::corrupt_segment(
                    path,
                    at,
                    Corruption::InvalidName { part, problem },
                ));
            }
            if !seen.insert(name) {
                return Err(StoreError::corrupt_segment(
                    path,
                    at,
                    Corruption::DuplicateName {
                        part,
                        name: name.to_owned(),
                    },
                ));
            }
        }
    }
    Ok(())
}
