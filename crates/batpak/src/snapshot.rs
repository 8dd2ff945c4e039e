//! Snapshot and fork: a consistent copy of an open store in another
//! directory, taken while appends go on.
//!
//! The writer takes a cut between two groups (`writer::cut`): it syncs,
//! records a tree head of every published event if none covers them yet,
//! and lists each file with the number of its bytes that belong to that
//! instant (and a handle on it). The copy runs here, on the caller's
//! thread, reading only those bytes, so appends wait for the cut and never
//! for the copy. A fork writes the same files but shares sealed segments
//! by hard link when it can.
//!
//! What is left out, and why: `LOCK` (the copy takes its own at open),
//! `SYNC_FAILURE` (the writer stops after a failed fsync and refuses to
//! cut, and what it describes is the source's disk, not the copy's, which
//! is synced whole), temporary files of atomic replaces, and the
//! projection cache `projections/` (a cache: the copy folds projections
//! from its log the first time they are asked for). The active segment is
//! copied up to its last frame, without the zeros written ahead of it: the
//! copy opens it as its unsealed last segment and writes its own zeros at
//! its first append.
//!
//! Crash safety of the destination: before anything else the copy creates
//! the marker [`SNAPSHOT_INCOMPLETE_FILE`] and makes it and its directory
//! entry durable; it removes it (durably) only after every file and every
//! directory of the copy is synced. Every open refuses a directory that
//! holds the marker with [`StoreError::SnapshotIncomplete`], so a copy cut
//! short by an error or a crash can never open as a store missing events.
//! After an error the destination keeps what was written, marker included:
//! delete it before trying again.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::append::Appender;
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::format::{SNAPSHOT_INCOMPLETE_FILE, SNAPSHOT_MARKER_TEXT};
use crate::fs::{OpenMode, StoreFs};
use crate::head::TreeHead;
use crate::writer::{Cut, CutFile, CutKind};

/// Bytes read and written per step of a file copy (and between two
/// progress reports).
const COPY_CHUNK: u64 = 1 << 20;

/// How a file reached the destination of a snapshot or fork.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CopyStrategy {
    /// Its bytes were copied into a new file (and synced).
    Copied,
    /// The destination's name is a hard link to the source's file: the two
    /// stores share it. Only sealed segments, which never change, are linked.
    Linked,
}

/// One file written into the destination of a snapshot or fork.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotFile {
    /// Its path inside the destination (`00000000000000000001.seg`,
    /// `tree/level-00`, `KEYSET`, …).
    pub path: PathBuf,
    /// Its length in the destination.
    pub bytes: u64,
    /// Copied or linked.
    pub strategy: CopyStrategy,
}

/// What [`Store::snapshot`](crate::Store::snapshot) wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotReport {
    /// The destination directory, as given.
    pub dest: PathBuf,
    /// Events in the copy: every event that was visible when the writer
    /// took the cut.
    pub events: u64,
    /// The newest tree head in the copy; it covers all of its `events`
    /// (`None` for a store that has no event and no head yet).
    pub head: Option<TreeHead>,
    /// Every file written, in the order written (segments first).
    pub files: Vec<SnapshotFile>,
}

impl SnapshotReport {
    /// Bytes written into the destination.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path().join("live")))?;
    /// store.append(&Coordinate::new("a", "s")?, EventKind::custom(0xE, 1), &1u8)?;
    /// let report = store.snapshot(dir.path().join("copy"))?;
    /// let on_disk: u64 = report.files.iter()
    ///     .map(|f| std::fs::metadata(dir.path().join("copy").join(&f.path)).map(|m| m.len()))
    ///     .sum::<Result<u64, _>>()?;
    /// assert_eq!(report.bytes(), on_disk);
    /// # Ok(()) }
    /// ```
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// A hard link a fork could not make; from that segment on it copied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkFallback {
    /// The first segment whose link failed (its path inside the store).
    pub path: PathBuf,
    /// The kind of the error (`CrossesDevices` when the destination is on
    /// another file system, `Unsupported` when the file system has no links).
    pub kind: std::io::ErrorKind,
    /// The error's message.
    pub message: String,
}

/// What [`Store::fork`](crate::Store::fork) wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForkReport {
    /// The destination directory, as given.
    pub dest: PathBuf,
    /// Events in the fork: every event visible when the writer took the cut.
    pub events: u64,
    /// The newest tree head in the fork; it covers all of its `events`.
    pub head: Option<TreeHead>,
    /// Every file, in the order written, and whether it was linked or copied.
    pub files: Vec<SnapshotFile>,
    /// Set when a hard link failed: that segment and every later one were
    /// copied instead (the first failure says the rest would fail too, as
    /// a destination on another device does).
    pub link_fallback: Option<LinkFallback>,
}

impl ForkReport {
    /// Bytes of the fork's files that are shared with the source by hard link.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path().join("live")))?;
    /// store.append(&Coordinate::new("a", "s")?, EventKind::custom(0xE, 1), &1u8)?;
    /// // One segment, the active one: nothing to share yet.
    /// let report = store.fork(dir.path().join("fork"))?;
    /// assert_eq!(report.linked_bytes(), 0);
    /// # Ok(()) }
    /// ```
    pub fn linked_bytes(&self) -> u64 {
        self.bytes_by(CopyStrategy::Linked)
    }

    /// Bytes copied into new files.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path().join("live")))?;
    /// store.append(&Coordinate::new("a", "s")?, EventKind::custom(0xE, 1), &1u8)?;
    /// let report = store.fork(dir.path().join("fork"))?;
    /// let all: u64 = report.files.iter().map(|f| f.bytes).sum();
    /// assert_eq!(report.copied_bytes() + report.linked_bytes(), all);
    /// # Ok(()) }
    /// ```
    pub fn copied_bytes(&self) -> u64 {
        self.bytes_by(CopyStrategy::Copied)
    }

    fn bytes_by(&self, strategy: CopyStrategy) -> u64 {
        self.files
            .iter()
            .filter(|f| f.strategy == strategy)
            .map(|f| f.bytes)
            .sum()
    }
}

/// Fails with [`StoreError::SnapshotIncomplete`] if `cfg.dir()` holds the
/// marker of an unfinished snapshot or fork. Every open calls it first,
/// before it creates or changes anything.
pub(crate) fn refuse_unfinished_copy(cfg: &StoreConfig) -> Result<(), StoreError> {
    let marker = cfg.dir.join(SNAPSHOT_INCOMPLETE_FILE);
    let there = cfg
        .fs
        .exists(&marker)
        .map_err(|e| StoreError::io("stat", &marker, e))?;
    if there {
        return Err(StoreError::SnapshotIncomplete {
            path: cfg.dir.clone(),
        });
    }
    Ok(())
}

/// Copies the store `appender` writes to into `dest` (see the module docs).
pub(crate) fn snapshot(
    appender: &Appender,
    dest: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SnapshotReport, StoreError> {
    let out = copy_store(appender, dest, false, progress)?;
    Ok(SnapshotReport {
        dest: dest.to_path_buf(),
        events: out.events,
        head: out.head,
        files: out.files,
    })
}

/// Like [`snapshot`], sharing sealed segments by hard link where it can.
pub(crate) fn fork(
    appender: &Appender,
    dest: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ForkReport, StoreError> {
    let out = copy_store(appender, dest, true, progress)?;
    Ok(ForkReport {
        dest: dest.to_path_buf(),
        events: out.events,
        head: out.head,
        files: out.files,
        link_fallback: out.link_fallback,
    })
}

/// What [`copy_store`] did.
struct Copied {
    events: u64,
    head: Option<TreeHead>,
    files: Vec<SnapshotFile>,
    link_fallback: Option<LinkFallback>,
}

fn copy_store(
    appender: &Appender,
    dest: &Path,
    link_sealed: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Copied, StoreError> {
    let cfg = &appender.shared().cfg;
    let fs = cfg.fs.as_ref();
    check_destination(fs, &cfg.dir, dest)?;
    // No compaction replaces a segment this copy names.
    let _maintenance = appender.shared().maintenance.lock();
    let cut = appender.cut()?;
    let Cut {
        files: cut_files,
        events,
        head,
    } = cut;
    begin(fs, dest)?;
    let total: u64 = cut_files.iter().map(|f| f.len).sum();
    let mut done = 0u64;
    progress(done, total);
    let mut files = Vec::with_capacity(cut_files.len());
    let mut subdirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut link_fallback: Option<LinkFallback> = None;
    for f in &cut_files {
        let target = dest.join(&f.name);
        if let Some(sub) = f.name.parent().filter(|p| !p.as_os_str().is_empty()) {
            if subdirs.insert(sub.to_path_buf()) {
                let path = dest.join(sub);
                fs.create_dir_all(&path)
                    .map_err(|e| StoreError::io("create snapshot directory", &path, e))?;
            }
        }
        let mut strategy = CopyStrategy::Copied;
        if link_sealed && f.kind == CutKind::SealedSegment && link_fallback.is_none() {
            let original = cfg.dir.join(&f.name);
            match fs.hard_link(&original, &target) {
                Ok(()) => strategy = CopyStrategy::Linked,
                Err(e) => {
                    tracing::warn!(error = %e, segment = %original.display(), "fork could not hard-link a sealed segment; copying it and the rest");
                    link_fallback = Some(LinkFallback {
                        path: f.name.clone(),
                        kind: e.kind(),
                        message: e.to_string(),
                    });
                }
            }
        }
        if strategy == CopyStrategy::Copied {
            copy_file(fs, cfg.dir.as_path(), f, &target, &mut |n| {
                progress(done + n, total);
            })?;
        }
        done += f.len;
        progress(done, total);
        files.push(SnapshotFile {
            path: f.name.clone(),
            bytes: f.len,
            strategy,
        });
    }
    for sub in &subdirs {
        let path = dest.join(sub);
        fs.sync_dir(&path)
            .map_err(|e| StoreError::io("sync snapshot directory", &path, e))?;
    }
    finish(fs, dest)?;
    Ok(Copied {
        events,
        head,
        files,
        link_fallback,
    })
}

/// Refuses a destination that is a symbolic link, the store's directory or
/// inside it, or anything but an absent path or an empty directory.
fn check_destination(fs: &dyn StoreFs, store: &Path, dest: &Path) -> Result<(), StoreError> {
    let io = |op, e| StoreError::io(op, dest, e);
    if fs
        .is_symlink(dest)
        .map_err(|e| io("stat snapshot destination", e))?
    {
        return Err(StoreError::DestinationIsSymlink {
            path: dest.to_path_buf(),
        });
    }
    let resolved_store =
        resolve(fs, store).map_err(|e| StoreError::io("resolve store directory", store, e))?;
    let resolved_dest = resolve(fs, dest).map_err(|e| io("resolve snapshot destination", e))?;
    if resolved_dest.starts_with(&resolved_store) {
        return Err(StoreError::DestinationInsideSource {
            path: dest.to_path_buf(),
            store: store.to_path_buf(),
        });
    }
    if !fs
        .exists(dest)
        .map_err(|e| io("stat snapshot destination", e))?
    {
        return Ok(());
    }
    let not_empty = || StoreError::DestinationNotEmpty {
        path: dest.to_path_buf(),
    };
    match fs.list_dir(dest) {
        Ok(names) if names.is_empty() => Ok(()),
        Ok(_) => Err(not_empty()),
        // It exists and does not list: a file, not a directory.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotADirectory | std::io::ErrorKind::NotFound
            ) =>
        {
            Err(not_empty())
        }
        Err(e) => Err(io("list snapshot destination", e)),
    }
}

/// `path` made absolute with its links resolved: the longest prefix that
/// exists goes through [`StoreFs::canonicalize`]; the components after it
/// name nothing yet, so they hold no link and `.` and `..` among them are
/// taken as written.
fn resolve(fs: &dyn StoreFs, path: &Path) -> std::io::Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut existing = PathBuf::new();
    let mut rest: Vec<Component<'_>> = Vec::new();
    for c in absolute.components() {
        if rest.is_empty() && fs.exists(&existing.join(c))? {
            existing.push(c);
        } else {
            rest.push(c);
        }
    }
    let mut out = fs.canonicalize(&existing)?;
    for c in rest {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// Creates `dest` (and any missing parents) and the marker, and makes both
/// durable before any file of the copy exists.
fn begin(fs: &dyn StoreFs, dest: &Path) -> Result<(), StoreError> {
    let io = |op, path: &Path, e| StoreError::io(op, path, e);
    // The directories about to be created, deepest first: each one's entry
    // in its parent must reach the disk too.
    let mut created = Vec::new();
    let mut p = dest;
    while !fs
        .exists(p)
        .map_err(|e| io("stat snapshot destination", p, e))?
    {
        created.push(p.to_path_buf());
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent,
            _ => break,
        }
    }
    fs.create_dir_all(dest)
        .map_err(|e| io("create snapshot destination", dest, e))?;
    let marker = dest.join(SNAPSHOT_INCOMPLETE_FILE);
    let file = fs.open(&marker, OpenMode::CreateNew).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            // Another copy into the same directory started first.
            StoreError::DestinationNotEmpty {
                path: dest.to_path_buf(),
            }
        } else {
            io("create snapshot marker", &marker, e)
        }
    })?;
    file.write_all_at(SNAPSHOT_MARKER_TEXT, 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| io("write snapshot marker", &marker, e))?;
    fs.sync_dir(dest)
        .map_err(|e| io("sync snapshot destination", dest, e))?;
    for dir in &created {
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs.sync_dir(parent)
            .map_err(|e| io("sync snapshot destination's parent", parent, e))?;
    }
    Ok(())
}

/// With every file and directory of the copy durable: syncs `dest`, then
/// removes the marker and makes that durable.
fn finish(fs: &dyn StoreFs, dest: &Path) -> Result<(), StoreError> {
    let marker = dest.join(SNAPSHOT_INCOMPLETE_FILE);
    fs.sync_dir(dest)
        .and_then(|()| fs.remove_file(&marker))
        .and_then(|()| fs.sync_dir(dest))
        .map_err(|e| StoreError::io("finish snapshot", dest, e))
}

/// Copies the first `f.len` bytes of `f` into the new file `target` and
/// syncs it; `progress(n)` after each step, with the bytes copied so far.
fn copy_file(
    fs: &dyn StoreFs,
    store: &Path,
    f: &CutFile,
    target: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<(), StoreError> {
    let source = store.join(&f.name);
    let out = fs
        .open(target, OpenMode::CreateNew)
        .map_err(|e| StoreError::io("create snapshot file", target, e))?;
    let step = usize::try_from(COPY_CHUNK.min(f.len)).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; step];
    let mut at = 0u64;
    while at < f.len {
        let n = usize::try_from((f.len - at).min(COPY_CHUNK)).unwrap_or(step);
        let chunk = &mut buf[..n];
        // No source file shrinks below its cut length while the store is open.
        f.file
            .read_exact_at(chunk, at)
            .map_err(|e| StoreError::io("read for snapshot", &source, e))?;
        out.write_all_at(chunk, at)
            .map_err(|e| StoreError::io("write snapshot file", target, e))?;
        at += n as u64;
        progress(at);
    }
    out.sync_all()
        .map_err(|e| StoreError::io("sync snapshot file", target, e))
}
