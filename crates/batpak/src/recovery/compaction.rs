//! Compactions an earlier run left unfinished, settled at open: a switched
//! one (its marker is on disk) is completed, the temporary outputs of one
//! that never switched are removed. The steps themselves are in
//! `crate::compact`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::format::{
    self, decode_compaction_marker, segment_file_name, segment_path, CompactionMarker,
    COMPACTING_SUFFIX, COMPACTION_FILE,
};
use crate::fs::{OpenMode, StoreFs};

/// The strategy of a compaction, without its predicate (for reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CompactionKind {
    /// [`CompactionStrategy::Merge`].
    Merge,
    /// [`CompactionStrategy::Retention`].
    Retention,
    /// [`CompactionStrategy::Tombstone`].
    Tombstone,
}

impl CompactionKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Merge => 0,
            Self::Retention => 1,
            Self::Tombstone => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Retention,
            2 => Self::Tombstone,
            _ => Self::Merge,
        }
    }
}

/// What an open found of an earlier compaction (in `OpenReport::compaction`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CompactionAtOpen {
    /// The switch had happened: open removed what was left of the sources
    /// and renamed the outputs.
    Completed {
        /// The strategy the marker recorded.
        strategy: CompactionKind,
        /// The segments replaced.
        sources: Vec<u64>,
        /// The segments that replaced them.
        outputs: Vec<u64>,
    },
    /// The switch had not happened: open removed the outputs' temporary
    /// files and the old segments stand.
    RolledBack {
        /// Temporary output files removed.
        removed: usize,
    },
}

/// How many times (10 ms apart) a read-only open looks again for a
/// compaction marker to go before it gives up.
const READ_ONLY_MARKER_WAITS: u32 = 200;

/// The temporary name of output `id` before the switch.
pub(crate) fn temp_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{}{COMPACTING_SUFFIX}", segment_file_name(id)))
}

/// The temporary name of output `id`'s index file before the switch.
pub(crate) fn index_temp_path(dir: &Path, id: u64) -> PathBuf {
    let mut name = format::index_path(dir, id).into_os_string();
    name.push(COMPACTING_SUFFIX);
    PathBuf::from(name)
}

/// Steps 4 and 5 of the module docs: removes the sources that are not
/// outputs, renames the outputs to their segment names, removes the marker.
pub(crate) fn complete(
    fs: &dyn StoreFs,
    dir: &Path,
    marker: &CompactionMarker,
) -> Result<(), StoreError> {
    let outputs: Vec<u64> = marker.outputs.iter().map(|o| o.0).collect();
    // The sources' index files describe footers about to go (an output
    // takes a source's id); the outputs' take their names after the outputs.
    for &id in &marker.sources {
        crate::segment_index::remove(fs, dir, id)
            .map_err(|e| StoreError::io("remove index file", format::index_path(dir, id), e))?;
    }
    for id in marker.sources.iter().filter(|id| !outputs.contains(id)) {
        let path = segment_path(dir, *id);
        if fs
            .exists(&path)
            .map_err(|e| StoreError::io("stat segment", &path, e))?
        {
            fs.remove_file(&path)
                .map_err(|e| StoreError::io("remove compacted segment", &path, e))?;
        }
    }
    for &(id, len) in &marker.outputs {
        let temp = temp_path(dir, id);
        let path = segment_path(dir, id);
        if fs
            .exists(&temp)
            .map_err(|e| StoreError::io("stat segment", &temp, e))?
        {
            fs.rename(&temp, &path)
                .map_err(|e| StoreError::io("rename compacted segment", &temp, e))?;
        } else {
            // Renamed before: the file under the segment name must be the output.
            let found = fs
                .open(&path, OpenMode::Read)
                .and_then(|f| f.len())
                .map_err(|e| StoreError::io("open compacted segment", &path, e))?;
            if found != len {
                return Err(StoreError::CompactionIncomplete {
                    path,
                    reason: "an output is neither under its temporary name nor, at its length, under its segment name",
                });
            }
        }
    }
    for &(id, _) in &marker.outputs {
        // Derived data: one that fails to move is rebuilt by the next open.
        let temp = index_temp_path(dir, id);
        let moved = fs.exists(&temp).and_then(|there| match there {
            true => fs.rename(&temp, &format::index_path(dir, id)),
            false => Ok(()),
        });
        if let Err(e) = moved {
            tracing::warn!(index_file = %temp.display(), error = %e, "could not rename a compacted segment's index file");
        }
    }
    fs.sync_dir(dir)
        .map_err(|e| StoreError::io("sync directory", dir, e))?;
    let marker_path = dir.join(COMPACTION_FILE);
    fs.remove_file(&marker_path)
        .and_then(|()| fs.sync_dir(dir))
        .map_err(|e| StoreError::io("remove compaction marker", &marker_path, e))
}

/// Completes the compaction whose marker is in `dir`, if one is, and
/// returns that marker; a marker that does not decode is an error (which
/// set of segments stands cannot be known).
pub(crate) fn finish_pending(
    fs: &dyn StoreFs,
    dir: &Path,
) -> Result<Option<CompactionMarker>, StoreError> {
    let marker_path = dir.join(COMPACTION_FILE);
    let present = fs
        .exists(&marker_path)
        .map_err(|e| StoreError::io("stat compaction marker", &marker_path, e))?;
    if !present {
        return Ok(None);
    }
    let bytes = crate::fs::read_all(fs, &marker_path, 1 << 26)
        .map_err(|e| StoreError::io("read compaction marker", &marker_path, e))?;
    let marker =
        decode_compaction_marker(&bytes).map_err(|reason| StoreError::CompactionMarkerCorrupt {
            path: marker_path.clone(),
            reason,
        })?;
    complete(fs, dir, &marker)?;
    Ok(Some(marker))
}

/// At open: completes a compaction whose marker is on disk, or removes the
/// temporary outputs of one that never switched. A read-only open changes
/// nothing and refuses a directory with a marker (its segments are half
/// switched until a writer completes them).
pub(crate) fn settle_at_open(
    cfg: &StoreConfig,
    writable: bool,
) -> Result<Option<CompactionAtOpen>, StoreError> {
    let fs = cfg.fs.as_ref();
    let dir = cfg.dir.as_path();
    if !writable {
        let marker_path = dir.join(COMPACTION_FILE);
        let stat = || {
            fs.exists(&marker_path)
                .map_err(|e| StoreError::io("stat compaction marker", &marker_path, e))
        };
        // A live writer removes its marker milliseconds after writing it.
        let mut waited = 0;
        let mut present = stat()?;
        while present && waited < READ_ONLY_MARKER_WAITS {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
            present = stat()?;
        }
        if present {
            return Err(StoreError::CompactionIncomplete {
                path: marker_path,
                reason: "a compaction switched but did not finish; open the store for writing once to complete it",
            });
        }
        return Ok(None);
    }
    if let Some(marker) = finish_pending(fs, dir)? {
        return Ok(Some(CompactionAtOpen::Completed {
            strategy: CompactionKind::from_code(marker.strategy),
            sources: marker.sources,
            outputs: marker.outputs.iter().map(|o| o.0).collect(),
        }));
    }
    let names = fs
        .list_dir(dir)
        .map_err(|e| StoreError::io("list directory", dir, e))?;
    let mut removed = 0;
    let mut derived = 0;
    let stale_marker = format!("{COMPACTION_FILE}{}", format::TEMP_SUFFIX);
    let index_temp = format!("{}{COMPACTING_SUFFIX}", format::INDEX_SUFFIX);
    for name in names
        .iter()
        .filter(|n| n.ends_with(COMPACTING_SUFFIX) || **n == stale_marker)
    {
        let path = dir.join(name);
        fs.remove_file(&path)
            .map_err(|e| StoreError::io("remove compaction leftover", &path, e))?;
        // An output's index file is derived data: one left by a
        // compaction that completed (its rename failed) says nothing of
        // which set of segments stands.
        if name.ends_with(&index_temp) {
            derived += 1;
        } else {
            removed += 1;
        }
    }
    if removed == 0 {
        if derived > 0 {
            fs.sync_dir(dir)
                .map_err(|e| StoreError::io("sync directory", dir, e))?;
        }
        return Ok(None);
    }
    fs.sync_dir(dir)
        .map_err(|e| StoreError::io("sync directory", dir, e))?;
    Ok(Some(CompactionAtOpen::RolledBack { removed }))
}
