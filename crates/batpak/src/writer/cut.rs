//! The consistent cut a snapshot or fork copies, taken by the writer
//! between two groups.
//!
//! At that instant every published event's frames are written and synced,
//! a tree head covers them all, and nothing is half done. The cut records,
//! for each file of the data directory that a copy needs, an open handle and
//! how many of its bytes belong to this instant. The copy then runs on the
//! caller's thread while appends go on, and stays consistent because of
//! what each kind of file does after the cut:
//!
//! - sealed segments never change;
//! - the active segment, the heads file and the tree level files only grow
//!   (or, for the active segment, have a footer written after its frames
//!   and the zeros written ahead cut off): bytes below the recorded length
//!   stay as they are;
//! - files replaced by rename (the idempotency sidecar, the keyset, cursor
//!   checkpoints) are opened here: a handle keeps the version it opened, so
//!   the copy reads that whole version even if a newer one replaces it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::StoreError;
use crate::format::{
    segment_file_name, CHECKPOINT_DIR, CHECKPOINT_SUFFIX, HEADS_FILE, IDEMPOTENCY_FILE,
    KEYSET_FILE, TREE_DIR,
};
use crate::fs::{OpenMode, StoreFile, StoreFs};
use crate::head::TreeHead;

use super::Writer;

/// What a copy may do with a file of the cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CutKind {
    /// A segment before the active one: it never changes again, so a fork
    /// may share it (hard link) instead of copying it.
    SealedSegment,
    /// The active segment, up to its last written frame.
    ActiveSegment,
    /// A file that only grows while the store is open (heads, tree levels).
    Growing,
    /// A file replaced by rename: the whole version the handle opened.
    Replaced,
}

/// One file of a cut.
#[derive(Debug)]
pub(crate) struct CutFile {
    /// Its path inside the data directory (`tree/level-00`, `KEYSET`, …).
    pub(crate) name: PathBuf,
    /// The file as it was at the cut.
    pub(crate) file: Arc<dyn StoreFile>,
    /// How many of its bytes belong to the cut.
    pub(crate) len: u64,
    pub(crate) kind: CutKind,
}

/// What a copy needs, as of one instant of the log.
#[derive(Debug)]
pub(crate) struct Cut {
    /// Every file to copy, segments first (in id order).
    pub(crate) files: Vec<CutFile>,
    /// Events covered: every event visible at the cut.
    pub(crate) events: u64,
    /// The newest tree head in the heads file at the cut (it covers
    /// `events`); `None` while the store holds no event and no head.
    pub(crate) head: Option<TreeHead>,
}

impl Writer {
    /// Takes the cut (see the module docs). Refused after a write-path
    /// failure, like an append: the files may not be what was acknowledged.
    pub(super) fn cut(&mut self) -> Result<Cut, StoreError> {
        self.check_failed()?;
        // A head of everything published, so the copy's heads file covers
        // its whole log; `record_head` syncs first. With a head already
        // covering it all, a sync is all that is left to do.
        if self.published() > self.head_size {
            self.record_head(false)?;
        } else if self.unsynced {
            self.sync_active()?;
        }
        let shared = &self.shared;
        let dir = shared.cfg.dir.as_path();
        let fs = shared.cfg.fs.as_ref();
        let mut files = Vec::new();
        let active = self.segments.cut_point();
        for (&id, segment) in shared.files.read().iter() {
            let name = PathBuf::from(segment_file_name(id));
            let (len, kind) = match active {
                Some((active_id, frames_end)) if active_id == id => {
                    (frames_end, CutKind::ActiveSegment)
                }
                _ => {
                    let len = segment
                        .file
                        .len()
                        .map_err(|e| StoreError::io("stat segment", dir.join(&name), e))?;
                    (len, CutKind::SealedSegment)
                }
            };
            files.push(CutFile {
                name,
                file: segment.file.clone(),
                len,
                kind,
            });
        }
        if let Some((file, len)) = shared.evidence.heads.lock().written_file() {
            files.push(CutFile {
                name: PathBuf::from(HEADS_FILE),
                file,
                len,
                kind: CutKind::Growing,
            });
        }
        for (level, file, len) in shared.evidence.tree.read().written_files() {
            files.push(CutFile {
                name: Path::new(TREE_DIR).join(level),
                file,
                len,
                kind: CutKind::Growing,
            });
        }
        // The keyset on disk holds the key of every frame written so far:
        // the keyring's hook flushes a dirty keyset before frames that need
        // it reach the group buffer, on this thread. A shred on another
        // thread may replace it at any moment; either version opened here is
        // whole.
        for name in [IDEMPOTENCY_FILE, KEYSET_FILE] {
            if let Some(f) = open_whole(fs, dir, Path::new(name))? {
                files.push(f);
            }
        }
        // Checkpoints saved before this instant name events visible before
        // it, hence in the copy; one saved later is not taken.
        let cursors = dir.join(CHECKPOINT_DIR);
        let listed = fs.exists(&cursors).and_then(|there| {
            if there {
                fs.list_dir(&cursors)
            } else {
                Ok(Vec::new())
            }
        });
        let names = listed.map_err(|e| StoreError::io("list cursor checkpoints", &cursors, e))?;
        for name in names.iter().filter(|n| n.ends_with(CHECKPOINT_SUFFIX)) {
            if let Some(f) = open_whole(fs, dir, &Path::new(CHECKPOINT_DIR).join(name))? {
                files.push(f);
            }
        }
        let origin = &shared.evidence.origin;
        let head = shared.evidence.heads.lock().latest(origin);
        Ok(Cut {
            files,
            events: self.published(),
            head,
        })
    }
}

/// Opens a file replaced by rename, if it exists, and takes its length
/// through the handle (the version the handle holds).
fn open_whole(fs: &dyn StoreFs, dir: &Path, name: &Path) -> Result<Option<CutFile>, StoreError> {
    let path = dir.join(name);
    let file = match fs.open(&path, OpenMode::Read) {
        Ok(f) => f,
        // Never written yet, or removed since the directory was listed.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("open for a snapshot", &path, e)),
    };
    let len = file
        .len()
        .map_err(|e| StoreError::io("stat for a snapshot", &path, e))?;
    Ok(Some(CutFile {
        name: name.to_path_buf(),
        file,
        len,
        kind: CutKind::Replaced,
    }))
}
