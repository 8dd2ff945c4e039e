//! Checks a data directory before the store opens it, and lists its files.
//!
//! The store itself would open an empty directory as an empty store; the
//! command refuses it instead, because a typo in a path should not look like
//! a healthy store with zero events.

use std::path::{Path, PathBuf};

use batpak::format::{parse_segment_file_name, SegmentError, SegmentReader};
use batpak::{ReadOnlyStore, Store, StoreConfig};
use serde::Serialize;

use crate::error::{CliError, DirProblem};

/// One segment file as found on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentFile {
    /// File name, `NNNNNNNNNNNNNNNNNNNN.seg`.
    pub name: String,
    /// The segment id the name encodes.
    pub id: u64,
    /// Size in bytes when listed.
    pub bytes: u64,
    /// The file ends in a footer trailer (a sealed segment).
    pub sealed: bool,
}

/// Any other file in the directory (lock, sidecars).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OtherFile {
    /// File name.
    pub name: String,
    /// Size in bytes when listed.
    pub bytes: u64,
}

/// What a data directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataDir {
    /// The path as given.
    pub path: PathBuf,
    /// Segment files in id order.
    pub segments: Vec<SegmentFile>,
    /// Every other regular file, by name.
    pub other_files: Vec<OtherFile>,
}

impl DataDir {
    /// Bytes in segment files.
    pub fn segment_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Bytes in every regular file listed.
    pub fn total_bytes(&self) -> u64 {
        self.segment_bytes() + self.other_files.iter().map(|f| f.bytes).sum::<u64>()
    }

    /// Opens the store read-only: no lock, no file changed, works beside a live writer.
    pub fn open_read_only(&self) -> Result<ReadOnlyStore, CliError> {
        Ok(Store::open_read_only(StoreConfig::new(&self.path))?)
    }
}

/// Checks that `path` is a readable directory holding at least one segment, and lists it.
pub fn check(path: &Path) -> Result<DataDir, CliError> {
    let problem = |problem| CliError::Directory {
        path: path.to_path_buf(),
        problem,
    };
    let unreadable = |e: std::io::Error| {
        problem(DirProblem::Unreadable {
            reason: e.to_string(),
        })
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(DirProblem::Missing),
        _ => unreadable(e),
    })?;
    if !meta.is_dir() {
        return Err(problem(DirProblem::NotADirectory));
    }
    let mut segments = Vec::new();
    let mut other_files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let meta = match entry.metadata() {
            Ok(m) => m,
            // Removed between listing and stat (a writer replacing a sidecar).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(unreadable(e)),
        };
        if !meta.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        match parse_segment_file_name(&name) {
            Some(id) => {
                let sealed = SegmentReader::is_sealed_file(entry.path()).map_err(|e| match e {
                    SegmentError::Io { source, .. } => unreadable(source),
                    other => problem(DirProblem::Unreadable {
                        reason: other.to_string(),
                    }),
                })?;
                segments.push(SegmentFile {
                    name,
                    id,
                    bytes: meta.len(),
                    sealed,
                });
            }
            None => other_files.push(OtherFile {
                name,
                bytes: meta.len(),
            }),
        }
    }
    if segments.is_empty() {
        return Err(problem(DirProblem::NoSegments));
    }
    segments.sort_by_key(|s| s.id);
    other_files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(DataDir {
        path: path.to_path_buf(),
        segments,
        other_files,
    })
}

/// Sum of the sizes of the regular files directly in `dir`.
pub fn dir_bytes(dir: &Path) -> Result<u64, CliError> {
    let mut total = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| CliError::io("list directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CliError::io("list directory", dir, e))?;
        let meta = entry
            .metadata()
            .map_err(|e| CliError::io("stat", entry.path(), e))?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn segment_names() {
        assert_eq!(parse_segment_file_name("00000000000000000001.seg"), Some(1));
        assert_eq!(parse_segment_file_name("1.seg"), None);
        assert_eq!(parse_segment_file_name("0000000000000000000a.seg"), None);
        assert_eq!(parse_segment_file_name("00000000000000000001.sega"), None);
        assert_eq!(parse_segment_file_name("LOCK"), None);
    }

    #[test]
    fn refusals_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let err = check(&dir.path().join("absent")).unwrap_err();
        assert!(matches!(
            err,
            CliError::Directory {
                problem: DirProblem::Missing,
                ..
            }
        ));
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let err = check(&file).unwrap_err();
        assert!(matches!(
            err,
            CliError::Directory {
                problem: DirProblem::NotADirectory,
                ..
            }
        ));
        let err = check(dir.path()).unwrap_err();
        assert!(matches!(
            err,
            CliError::Directory {
                problem: DirProblem::NoSegments,
                ..
            }
        ));
        assert!(err.to_string().contains("no segment files"));
    }
}
