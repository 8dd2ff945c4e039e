//! Opening the part of a sealed segment: from its index file when one is
//! bound to the segment, else rebuilt from the segment's footer (and
//! written, when the store may write), else held in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Heal, Index, IndexSource, Part};
use crate::error::StoreError;
use crate::format::{encode_index_logical, Footer, IndexFileHead};
use crate::fs::{OpenMode, StoreFile, StoreFs};
use crate::segment_index;

/// A sealed segment whose part is opened.
pub(crate) struct SealedSegment {
    pub(crate) fs: Arc<dyn StoreFs>,
    pub(crate) file: Arc<dyn StoreFile>,
    pub(crate) path: PathBuf,
    /// Its id, length and footer CRC: what its index file must be bound to.
    pub(crate) head: IndexFileHead,
    /// Where its frames end and its footer starts.
    pub(crate) frames_end: u64,
    /// Where its index file is, or is written.
    pub(crate) index_file: PathBuf,
}

/// Where a part's bytes came from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PartFrom {
    /// Its index file, as it was.
    File,
    /// Rebuilt from the footer: the index file was missing, or unusable for
    /// the reason given. `written`: a new one is on disk and the part reads it.
    Rebuilt {
        damaged: Option<String>,
        written: bool,
    },
}

impl SealedSegment {
    /// Sealed segment `id` of directory `dir` on `fs` (`path`, open as
    /// `file`), with its index file at its usual name; `None` when the file
    /// does not end in a trailer that places a footer.
    pub(crate) fn at(
        fs: &Arc<dyn StoreFs>,
        dir: &Path,
        id: u64,
        path: &Path,
        file: &Arc<dyn StoreFile>,
    ) -> Result<Option<Self>, StoreError> {
        let Some((head, frames_end)) = segment_index::bound_head(id, path, file.as_ref())? else {
            return Ok(None);
        };
        Ok(Some(Self {
            fs: fs.clone(),
            file: file.clone(),
            path: path.to_path_buf(),
            head,
            frames_end,
            index_file: crate::format::index_path(dir, id),
        }))
    }

    /// Rebuilds the index file's logical bytes from the segment's footer
    /// and, when `write`, writes the file again (the next open then reads
    /// a sound one).
    fn rebuild(&self, write: bool) -> super::Rebuild {
        let (file, path, head) = (self.file.clone(), self.path.clone(), self.head);
        let (fs, index_file) = (self.fs.clone(), self.index_file.clone());
        Box::new(move || {
            let footer = segment_index::read_footer(&path, file.as_ref(), head)?;
            segment_index::check_footer_names(&path, &footer)?;
            if write {
                if let Err(e) = segment_index::write_to(fs.as_ref(), &index_file, head, &footer) {
                    tracing::warn!(index_file = %index_file.display(), error = %e, "could not write a rebuilt index file");
                }
            }
            Ok(encode_index_logical(head, &footer))
        })
    }
}

impl Index {
    /// The part of `s`. `footer`: its footer when the caller has it (a
    /// seal, a compaction), else it is read from the segment if needed.
    /// `write`: the store may write a missing or damaged index file.
    pub(crate) fn open_sealed(
        &self,
        s: &SealedSegment,
        footer: Option<&Footer>,
        write: bool,
    ) -> Result<(Part, PartFrom), StoreError> {
        let path = &s.index_file;
        let damaged = match s.fs.exists(path) {
            Ok(false) => None,
            Ok(true) => match self.open_file_part(s, path, write) {
                Ok(part) => return Ok((part, PartFrom::File)),
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(format!("stat: {e}")),
        };
        let read;
        let footer = match footer {
            Some(f) => f,
            None => {
                read = segment_index::read_footer(&s.path, s.file.as_ref(), s.head)?;
                &read
            }
        };
        segment_index::check_footer_names(&s.path, footer)?;
        if write {
            match segment_index::write_to(s.fs.as_ref(), path, s.head, footer) {
                Ok(()) => match self.open_file_part(s, path, write) {
                    Ok(part) => {
                        let from = PartFrom::Rebuilt {
                            damaged,
                            written: true,
                        };
                        return Ok((part, from));
                    }
                    Err(e) => {
                        tracing::warn!(index_file = %path.display(), error = %e, "an index file just written does not read back; its part is held in memory");
                    }
                },
                Err(e) => {
                    tracing::warn!(index_file = %path.display(), error = %e, "could not write an index file; its part is held in memory");
                }
            }
        }
        let bytes = encode_index_logical(s.head, footer);
        let part = self.open_part(s.head.segment_id, IndexSource::Memory(bytes.into()))?;
        Ok((
            part,
            PartFrom::Rebuilt {
                damaged,
                written: false,
            },
        ))
    }

    /// The part of `s` from its index file, only if one is there and bound
    /// to it (nothing is rebuilt or written).
    pub(crate) fn open_bound(&self, s: &SealedSegment, write: bool) -> Option<Part> {
        match s.fs.exists(&s.index_file) {
            Ok(true) => self.open_file_part(s, &s.index_file, write).ok(),
            _ => None,
        }
    }

    /// The part read from the index file at `path`, if it is bound to `s`
    /// (`write`: a rebuild after a failed read writes the file again).
    fn open_file_part(
        &self,
        s: &SealedSegment,
        path: &Path,
        write: bool,
    ) -> Result<Part, StoreError> {
        let file =
            s.fs.open(path, OpenMode::Read)
                .map_err(|e| StoreError::io("open index file", path, e))?;
        let source = IndexSource::file(
            file,
            path.to_path_buf(),
            self.cache().clone(),
            Some(Heal::new(s.rebuild(write))),
        )?;
        let part = self.open_part(s.head.segment_id, source)?;
        if part.layout.head != s.head || part.frames_end() != s.frames_end {
            return Err(StoreError::corrupt_segment(
                path,
                0,
                crate::error::Corruption::Decode {
                    structure: "index file",
                    source: crate::format::DecodeError::Inconsistent {
                        offset: 0,
                        problem: "written for another segment or footer",
                    },
                },
            ));
        }
        Ok(part)
    }
}
