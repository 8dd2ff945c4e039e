//! The segment writer: owns the active segment file, the zeros written ahead
//! of its frames, the durable point (what the last successful fsync
//! covered) and sealing. It decides nothing about events: the group-commit
//! loop hands it encoded frames and tells it when to sync, seal or rotate.
//! It knows no engine state either, so a rewrite of segments elsewhere
//! (compaction) can drive one of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Corruption, StoreError};
use crate::format::segment_path;
use crate::format::{self, DurablePoint, SegmentHeader, SYNC_FAILURE_FILE};
use crate::fs::{OpenMode, StoreFs};
use crate::id;
use crate::segment::{ActiveSegment, FooterBuilder, SegmentFile, PREALLOCATE_BYTES};

use super::stage::Staged;

/// Where the next request's frames can go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// No segment is open yet: create one.
    NoSegment,
    /// The active segment has room (or is empty, and takes any request whole).
    Fits,
    /// The active segment would overflow, or is of an older format version
    /// (frames of this build never go into one): flush, seal and start the next.
    Full,
}

/// Writes, syncs, seals and creates segment files in one directory.
#[derive(Debug)]
pub(crate) struct SegmentWriter {
    dir: PathBuf,
    fs: Arc<dyn StoreFs>,
    max_bytes: u64,
    active: Option<ActiveSegment>,
    /// The active segment still ends in a footer (reopened, not yet appended to).
    sealed_on_disk: bool,
    next_segment_id: u64,
    /// What the last successful fsync made durable: a segment and its length.
    synced: DurablePoint,
}

impl SegmentWriter {
    /// A writer for `dir` with no active segment; the first one it creates is segment 1.
    pub(crate) fn new(dir: &Path, fs: Arc<dyn StoreFs>, max_bytes: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            fs,
            max_bytes,
            active: None,
            sealed_on_disk: false,
            next_segment_id: 1,
            synced: DurablePoint {
                segment: 0,
                durable_len: 0,
            },
        }
    }

    /// Continues segment `id` of format `version`, whose frames `footer`
    /// lists (still ending in its footer on disk when `sealed`). Returns the
    /// file, open for writing. A segment of an older version takes no more
    /// frames: the first append seals it and starts a new one.
    pub(crate) fn resume(
        &mut self,
        id: u64,
        version: u16,
        footer: FooterBuilder,
        sealed: bool,
    ) -> Result<SegmentFile, StoreError> {
        let path = self.path(id);
        let next = id
            .checked_add(1)
            .ok_or_else(|| StoreError::corrupt_segment(&path, 0, Corruption::LastSegmentId))?;
        let file = self
            .fs
            .open(&path, OpenMode::ReadWrite)
            .map_err(|e| StoreError::io("open segment for writing", &path, e))?;
        // Recovery may have read the tail from the OS cache only (a writer
        // that failed before its fsync, a directory fsync that failed after
        // the segment was created). Make the tail and its directory entry
        // durable before building on it and calling what it holds durable.
        file.sync_all()
            .and_then(|()| self.fs.sync_dir(&self.dir))
            .map_err(|e| StoreError::io("sync recovered tail", &path, e))?;
        let allocated = file
            .len()
            .map_err(|e| StoreError::io("stat segment", &path, e))?;
        self.next_segment_id = next;
        self.sealed_on_disk = sealed;
        self.synced = DurablePoint {
            segment: id,
            durable_len: if sealed {
                allocated
            } else {
                footer.frames_end()
            },
        };
        self.active = Some(ActiveSegment {
            id,
            file: file.clone(),
            version,
            footer,
            allocated,
            zeros_may_follow: false,
        });
        Ok(SegmentFile { file, version })
    }

    /// Whether `need` more bytes fit after the `buffered` bytes not yet written.
    pub(crate) fn room(&self, buffered: usize, need: u64) -> Room {
        match &self.active {
            None => Room::NoSegment,
            Some(a) if a.version != format::SEGMENT_FORMAT_VERSION => Room::Full,
            Some(a) => {
                // frames_end already counts the buffered frames.
                let used = a.footer.frames_end();
                let non_empty = !a.footer.is_empty() || buffered > 0;
                if non_empty && used + need > self.max_bytes {
                    Room::Full
                } else {
                    Room::Fits
                }
            }
        }
    }

    /// The active segment's id and the end of its last written frame: the
    /// length a copy of it takes at a cut. A sealed tail reopened and not
    /// appended to yet counts too, without its footer (the next append cuts
    /// it off, so the bytes after the frames may change while a copy runs).
    pub(crate) fn cut_point(&self) -> Option<(u64, u64)> {
        self.active.as_ref().map(|a| (a.id, a.footer.frames_end()))
    }

    /// True while the active segment ends in a footer (it was sealed and
    /// is not continued yet).
    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed_on_disk
    }

    /// True if the active segment holds at least one frame.
    pub(crate) fn has_frames(&self) -> bool {
        self.active.as_ref().is_some_and(|a| !a.footer.is_empty())
    }

    /// Places a request's staged frames at the end of the active segment:
    /// fills in their segment and offsets and lists them in its footer.
    pub(crate) fn place(&mut self, staged: &mut [Staged]) -> Result<(), StoreError> {
        let active = self.active.as_mut().ok_or(StoreError::WriterCrashed)?;
        // `room` rotates away from an older segment before any frame is placed.
        debug_assert_eq!(active.version, format::SEGMENT_FORMAT_VERSION);
        // The footer already counts the frames buffered earlier in this group.
        let base = active.footer.frames_end();
        for s in staged {
            s.entry.location.segment = active.id;
            s.entry.location.offset += base;
            active.footer.push_event(
                &s.header,
                &s.entry.coordinate,
                s.entry.location.len as usize,
            );
        }
        Ok(())
    }

    /// Before frames follow a sealed tail opened from its footer's head, reads
    /// that footer's entries (the footer is still on disk), so the footer
    /// written at the next seal lists every frame. Changes nothing on disk.
    pub(crate) fn load_footer_entries(&mut self) -> Result<(), StoreError> {
        let Some(a) = self.active.as_mut().filter(|a| !a.footer.entries_loaded()) else {
            return Ok(());
        };
        let path = segment_path(&self.dir, a.id);
        let footer = crate::recovery::read_sealed_footer(&path, a.file.as_ref())?;
        if footer.frames_end != a.footer.frames_end() {
            return Err(StoreError::CorruptSegment {
                segment: path,
                offset: footer.frames_end,
                reason: Corruption::FooterChanged,
            });
        }
        a.footer = FooterBuilder::from_footer(footer);
        Ok(())
    }

    /// Cuts the footer of a reopened sealed segment so frames can follow.
    pub(crate) fn unseal(&mut self) -> Result<(), StoreError> {
        if !self.sealed_on_disk {
            return Ok(());
        }
        let a = self.active.as_mut().ok_or(StoreError::WriterCrashed)?;
        let path = segment_path(&self.dir, a.id);
        let end = a.footer.frames_end();
        // The index file describes the footer about to go. Its removal is
        // made durable first: an open that found it again after a crash
        // would take the segment for sealed at that footer.
        let index_file = format::index_path(&self.dir, a.id);
        crate::segment_index::remove(self.fs.as_ref(), &self.dir, a.id)
            .and_then(|()| self.fs.sync_dir(&self.dir))
            .map_err(|e| StoreError::io("remove index file", &index_file, e))?;
        a.file
            .set_len(end)
            .map_err(|e| StoreError::io("unseal segment", &path, e))?;
        if let Err(e) = a.file.sync_all() {
            self.record_sync_failure();
            return Err(StoreError::io("unseal segment", &path, e));
        }
        a.allocated = end;
        self.synced = DurablePoint {
            segment: a.id,
            durable_len: end,
        };
        self.sealed_on_disk = false;
        Ok(())
    }

    /// Writes `frames` (already counted by the footer) at the end of the
    /// active segment, and zeros ahead of them when the file must grow.
    pub(crate) fn write(&mut self, frames: &[u8]) -> Result<(), StoreError> {
        if frames.is_empty() {
            return Ok(());
        }
        let chunk = self.max_bytes.min(PREALLOCATE_BYTES);
        let a = self.active.as_mut().ok_or(StoreError::WriterCrashed)?;
        // The footer builder already counts these frames; they start before its end.
        let end = a.footer.frames_end();
        let offset = end - frames.len() as u64;
        a.file
            .write_all_at(frames, offset)
            .map_err(|e| StoreError::io("write frames", segment_path(&self.dir, a.id), e))?;
        if end > a.allocated && !a.zeros_may_follow {
            // Write zeros ahead, so the next syncs only overwrite allocated blocks
            // (a sync that also grows the file costs a metadata journal write).
            // Only an optimisation: the frames are written, so a disk too full
            // for the zeros (or a short write of them) must not fail the
            // append; frames then grow the file as they come, and the seal
            // cuts whatever part of the zeros did land.
            let zeros = vec![0u8; usize::try_from(chunk).unwrap_or(0)];
            match a.file.write_all_at(&zeros, end) {
                Ok(()) => a.allocated = end.saturating_add(chunk),
                Err(e) => {
                    tracing::debug!(error = %e, "no room to write zeros ahead; appending without them");
                    a.allocated = end;
                    a.zeros_may_follow = true;
                }
            }
        }
        Ok(())
    }

    /// Makes the active segment's frames durable. Returns how long the fsync
    /// took, and its outcome. A failed fsync is never retried (the kernel may
    /// have dropped the dirty pages, and a later "successful" fsync would
    /// vouch for data that is gone): it leaves the sync-failure record.
    pub(crate) fn sync(&mut self) -> (Duration, Result<(), StoreError>) {
        let Some(a) = &self.active else {
            return (Duration::ZERO, Ok(()));
        };
        let started = Instant::now();
        let synced = a.file.sync_data();
        let took = started.elapsed();
        if let Err(e) = synced {
            let err = StoreError::io("fsync segment", segment_path(&self.dir, a.id), e);
            self.record_sync_failure();
            return (took, Err(err));
        }
        self.synced = DurablePoint {
            segment: a.id,
            durable_len: a.footer.frames_end(),
        };
        (took, Ok(()))
    }

    /// Writes the footer of the active segment and makes it durable. Returns
    /// true if it wrote one (false: no segment, or it is sealed already).
    pub(crate) fn seal(&mut self) -> Result<bool, StoreError> {
        if self.sealed_on_disk {
            return Ok(false);
        }
        let Some(a) = &self.active else {
            return Ok(false);
        };
        let path = segment_path(&self.dir, a.id);
        if !a.footer.entries_loaded() {
            // Only a segment still sealed on disk lacks its entries, and that
            // returned above; never write a footer that would lose frames.
            return Err(StoreError::CorruptSegment {
                segment: path,
                offset: a.footer.frames_end(),
                reason: Corruption::FooterEntriesNotLoaded,
            });
        }
        let bytes = format::encode_footer(a.footer.footer());
        let end = format::sealed_len(a.footer.frames_end(), bytes.len()).ok_or_else(|| {
            StoreError::CorruptSegment {
                segment: path.clone(),
                offset: a.footer.frames_end(),
                reason: Corruption::TooLarge,
            }
        })?;
        // The trailer must end the file: cut the zeros written ahead (or the
        // part of them a failed write left).
        let cut = a.allocated > end || a.zeros_may_follow;
        let id = a.id;
        a.file
            .write_all_at(&bytes, a.footer.frames_end())
            .and_then(|()| if cut { a.file.set_len(end) } else { Ok(()) })
            .map_err(|e| StoreError::io("seal segment", &path, e))?;
        if let Err(e) = a.file.sync_data() {
            self.record_sync_failure();
            return Err(StoreError::io("seal segment", &path, e));
        }
        if let Some(a) = self.active.as_mut() {
            a.allocated = end;
            a.zeros_may_follow = false;
        }
        self.synced = DurablePoint {
            segment: id,
            durable_len: end,
        };
        self.sealed_on_disk = true;
        self.write_index_file(id, end, &bytes);
        Ok(true)
    }

    /// Writes the index file of the segment just sealed. It is derived from
    /// the footer, so a failure loses nothing: it is logged, and the next
    /// open rebuilds the file.
    fn write_index_file(&self, id: u64, segment_len: u64, footer_and_trailer: &[u8]) {
        let Some(a) = self.active.as_ref().filter(|a| a.id == id) else {
            return;
        };
        let body = footer_and_trailer
            .len()
            .checked_sub(format::TRAILER_LEN)
            .map_or(footer_and_trailer, |n| &footer_and_trailer[..n]);
        let head = format::IndexFileHead {
            segment_id: id,
            segment_len,
            footer_crc: crc32fast::hash(body),
        };
        if let Err(e) =
            crate::segment_index::write(self.fs.as_ref(), &self.dir, head, a.footer.footer())
        {
            tracing::warn!(segment = id, error = %e, "could not write the segment's index file; the next open rebuilds it");
        }
    }

    /// Creates the next segment file, whose first event will have global
    /// sequence `base_global_sequence`, and makes its existence durable.
    pub(crate) fn create(
        &mut self,
        base_global_sequence: u64,
    ) -> Result<(u64, SegmentFile), StoreError> {
        let id = self.next_segment_id;
        let path = self.path(id);
        let next = id
            .checked_add(1)
            .ok_or_else(|| StoreError::corrupt_segment(&path, 0, Corruption::LastSegmentId))?;
        let version = format::SEGMENT_FORMAT_VERSION;
        let header = format::encode_segment_header(SegmentHeader {
            version,
            segment_id: id,
            created_ms: id::now_ms(),
        });
        let file = self
            .fs
            .open(&path, OpenMode::CreateNew)
            .and_then(|f| f.write_all_at(&header, 0).map(|()| f))
            .map_err(|e| StoreError::io("create segment", &path, e))?;
        if let Err(e) = file.sync_data().and_then(|()| self.fs.sync_dir(&self.dir)) {
            self.record_sync_failure();
            return Err(StoreError::io("create segment", &path, e));
        }
        self.synced = DurablePoint {
            segment: id,
            durable_len: format::SEGMENT_HEADER_LEN as u64,
        };
        self.active = Some(ActiveSegment {
            id,
            file: file.clone(),
            version,
            footer: FooterBuilder::new(base_global_sequence),
            allocated: format::SEGMENT_HEADER_LEN as u64,
            zeros_may_follow: false,
        });
        self.sealed_on_disk = false;
        self.next_segment_id = next;
        Ok((id, SegmentFile { file, version }))
    }

    fn path(&self, id: u64) -> PathBuf {
        segment_path(&self.dir, id)
    }

    /// After a failed fsync the pages it could not write may stay in the OS
    /// cache, marked clean: a store reopened without a crash would read
    /// those frames as if they were on disk and build on them. Records what
    /// the last successful fsync covered; the next writer open cuts the
    /// segments back to it (see `recovery::apply_sync_failure`). Called only
    /// when an fsync itself failed: a failed write or truncation loses no
    /// cached page.
    ///
    /// What matters is that the next open in this boot sees the record, so
    /// it is renamed into place whether or not its own fsyncs succeed (they
    /// may fail like the one that brought us here). After a crash the record
    /// is not needed: no unsynced page survives one.
    fn record_sync_failure(&self) {
        let path = self.dir.join(SYNC_FAILURE_FILE);
        let bytes = format::encode_sync_failure(self.synced);
        if let Err(e) = crate::fs::write_visible(self.fs.as_ref(), &path, &bytes) {
            tracing::error!(error = %e, path = %path.display(), "could not record the durable length after a failed fsync: until the machine restarts, a reopened store may build on bytes the disk does not have");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fs::RealFs;

    fn writer(dir: &Path, max: u64) -> SegmentWriter {
        SegmentWriter::new(dir, Arc::new(RealFs), max)
    }

    #[test]
    fn a_sealed_segment_ends_in_its_trailer_and_reopens_for_more_frames() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path(), 1 << 20);
        assert_eq!(w.room(0, 10), Room::NoSegment);
        let (id, created) = w.create(0).unwrap();
        let file = created.file;
        assert_eq!(id, 1);
        assert_eq!(
            w.room(0, 2 << 20),
            Room::Fits,
            "an empty segment takes any request"
        );
        assert!(!w.has_frames());
        assert!(w.seal().unwrap(), "the first seal writes the footer");
        let len = file.len().unwrap();
        let path = dir.path().join(format::segment_file_name(1));
        assert!(
            format::SegmentReader::is_sealed_file(&path).unwrap(),
            "the trailer ends the file"
        );
        assert!(!w.seal().unwrap(), "sealing twice writes nothing");
        let durable = w.synced;
        assert_eq!((durable.segment, durable.durable_len), (1, len));
    }

    #[test]
    fn a_segment_of_an_older_format_version_takes_no_frames() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path(), 1 << 20);
        let (id, created) = w.create(0).unwrap();
        assert_eq!(created.version, format::SEGMENT_FORMAT_VERSION);
        assert_eq!(w.room(0, 10), Room::Fits);
        drop(w);
        // The same file continued as a version-1 segment, as recovery would
        // hand over the tail of a store written before version 2.
        let mut w = writer(dir.path(), 1 << 20);
        let resumed = w.resume(id, 1, FooterBuilder::new(0), false).unwrap();
        assert_eq!(resumed.hash_version(), 1);
        assert_eq!(w.room(0, 10), Room::Full, "even empty, it is left behind");
        assert!(w.seal().unwrap());
        let (next, created) = w.create(0).unwrap();
        assert_eq!(
            (next, created.version),
            (id + 1, format::SEGMENT_FORMAT_VERSION)
        );
        assert_eq!(w.room(0, 10), Room::Fits);
    }

    #[test]
    fn zeros_are_written_ahead_and_sync_moves_the_durable_point() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = writer(dir.path(), 8192);
        let (_, created) = w.create(0).unwrap();
        let file = created.file;
        assert_eq!(w.write(&[]).ok(), Some(()));
        let (_, synced) = w.sync();
        synced.unwrap();
        assert_eq!(w.synced.durable_len, format::SEGMENT_HEADER_LEN as u64);
        // The segment size caps the zeros written ahead.
        assert_eq!(file.len().unwrap(), format::SEGMENT_HEADER_LEN as u64);
        assert_eq!(
            w.room(1, 8192),
            Room::Full,
            "buffered frames make it non-empty"
        );
    }
}
