//! The file-system seam: every file operation of the store goes through [`StoreFs`].
//!
//! [`RealFs`] is the production implementation. Tests can substitute a
//! fault-injecting one (feature `sim`) to prove crash safety.

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open file, addressed by offset so that readers and the writer never share a cursor.
#[allow(clippy::len_without_is_empty)] // a file's length is a size, not a collection's
pub trait StoreFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at end of file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes written data (and the metadata needed to read it) durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes data and all metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()>;
    /// Truncates or extends the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// A held exclusive lock; released when dropped.
pub trait FsLock: Send + Sync + Debug {}

/// How to open a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and write; the file must exist.
    ReadWrite,
    /// Read and write; the file must not exist yet.
    CreateNew,
}

/// Every file-system operation the store performs.
///
/// Contract: `sync_dir` makes creations, renames and removals inside the
/// directory durable; data is durable only after `StoreFile::sync_data` or
/// `sync_all` returned `Ok`. After any error the caller must assume nothing
/// about what reached the disk.
pub trait StoreFs: Send + Sync + Debug + 'static {
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Lists the file names (not paths) in a directory.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Opens a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StoreFile>>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Takes an exclusive advisory lock on `path` (created if absent) without
    /// blocking; `Ok(None)` means someone else holds it.
    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Option<Box<dyn FsLock>>>;
    /// Whether `path` is a regular file (following symlinks), found without
    /// opening it: a FIFO or a device is never opened by the store. The
    /// default answers yes, for file systems that hold only regular files.
    fn is_regular_file(&self, path: &Path) -> io::Result<bool> {
        let _ = path;
        Ok(true)
    }
    /// True if the path exists (a file or directory).
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Makes `link` a second name of the file at `original` (a hard link:
    /// both names share one file, its bytes and its later writes). The new
    /// entry is durable after `sync_dir` of its directory. The default
    /// answers `Unsupported`, for file systems without hard links; callers
    /// copy instead.
    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        let _ = (original, link);
        Err(io::ErrorKind::Unsupported.into())
    }
    /// Whether `path` itself is a symbolic link (not followed); `false` when
    /// nothing is there. The default answers `false`, for file systems
    /// without symbolic links.
    fn is_symlink(&self, path: &Path) -> io::Result<bool> {
        let _ = path;
        Ok(false)
    }
    /// The absolute path of an existing `path` with every symbolic link,
    /// `.` and `..` resolved, to compare two paths for containment. The
    /// default returns `path` unchanged, for file systems whose paths have
    /// no links (and are absolute already).
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(path.to_path_buf())
    }
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, directory fsync.
pub(crate) fn write_atomic(fs: &dyn StoreFs, path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(fs, path, bytes, true)
}

/// Like [`write_atomic`], but the two fsyncs are attempted and their
/// failures ignored: for a file whose job is to be seen by the next open in
/// this boot even when the disk refuses to sync.
pub(crate) fn write_visible(fs: &dyn StoreFs, path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(fs, path, bytes, false)
}

/// Temp file and rename, without fsyncs: for derived files (a segment's
/// index file) that open checks and rebuilds when a crash lost or tore them.
pub(crate) fn write_derived(fs: &dyn StoreFs, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(crate::format::TEMP_SUFFIX);
    let tmp: PathBuf = dir.join(tmp_name);
    if fs.exists(&tmp)? {
        fs.remove_file(&tmp)?;
    }
    let file = fs.open(&tmp, OpenMode::CreateNew)?;
    file.write_all_at(bytes, 0)?;
    drop(file);
    fs.rename(&tmp, path)
}

/// Temp file, fsync, rename, directory fsync; fsync failures are errors
/// only when `must_sync`.
fn replace(fs: &dyn StoreFs, path: &Path, bytes: &[u8], must_sync: bool) -> io::Result<()> {
    let synced = |r: io::Result<()>| if must_sync { r } else { Ok(()) };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(crate::format::TEMP_SUFFIX);
    let tmp: PathBuf = dir.join(tmp_name);
    if fs.exists(&tmp)? {
        fs.remove_file(&tmp)?;
    }
    let file = fs.open(&tmp, OpenMode::CreateNew)?;
    file.write_all_at(bytes, 0)?;
    synced(file.sync_all())?;
    drop(file);
    fs.rename(&tmp, path)?;
    synced(fs.sync_dir(dir))
}

/// Opens `path` read-only if it is a regular file (following symlinks);
/// `Ok(None)` if it is anything else. A FIFO or device is never opened, so
/// the caller is never blocked by one.
pub(crate) fn open_regular_file(path: &Path) -> io::Result<Option<Arc<dyn StoreFile>>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(path)?;
    // The path may have been replaced between the two looks.
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    Ok(Some(Arc::new(RealFile(file))))
}

/// The error of an open that found something other than a regular file.
pub(crate) fn not_a_regular_file() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// Reads a whole file of at most `max` bytes; a longer one is an
/// `InvalidData` error before anything is allocated for it.
pub(crate) fn read_all(fs: &dyn StoreFs, path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = fs.open(path, OpenMode::Read)?;
    let len = file.len()?;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file of {len} bytes, longer than the {max} bytes it can hold"),
        ));
    }
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}

/// The operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile(std::fs::File);

#[derive(Debug)]
struct RealLock(#[allow(dead_code)] std::fs::File);

impl FsLock for RealLock {}

impl Drop for RealLock {
    fn drop(&mut self) {
        let _ = fs2::FileExt::unlock(&self.0);
    }
}

impl StoreFile for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.0, buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl StoreFs for RealFs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            if let Some(name) = entry?.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StoreFile>> {
        let mut o = std::fs::OpenOptions::new();
        match mode {
            OpenMode::Read => o.read(true),
            OpenMode::ReadWrite => o.read(true).write(true),
            OpenMode::CreateNew => o.read(true).write(true).create_new(true),
        };
        // Opening a FIFO without O_NONBLOCK waits for a writer; with it the
        // open returns, and the check below refuses what is not a regular
        // file (O_NONBLOCK changes nothing for regular files).
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, libc::O_NONBLOCK);
        let file = o.open(path)?;
        if !file.metadata()?.is_file() {
            return Err(not_a_regular_file());
        }
        Ok(Arc::new(RealFile(file)))
    }

    fn is_regular_file(&self, path: &Path) -> io::Result<bool> {
        Ok(std::fs::metadata(path)?.is_file())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::File::open(path)?.sync_all()
    }

    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Option<Box<dyn FsLock>>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match fs2::FileExt::try_lock_exclusive(&file) {
            Ok(()) => Ok(Some(Box::new(RealLock(file)))),
            Err(e) if e.kind() == fs2::lock_contended_error().kind() => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        std::fs::hard_link(original, link)
    }

    fn is_symlink(&self, path: &Path) -> io::Result<bool> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => Ok(meta.file_type().is_symlink()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}
