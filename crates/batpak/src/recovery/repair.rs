//! Repairs open makes to files before it trusts them: cutting segments back
//! to the last durable point after a failed fsync, handling a torn tail by
//! the tail policy, and dropping a segment that was never born.

use std::path::Path;
use std::sync::Arc;

use crate::config::{StoreConfig, TailPolicy};
use crate::error::StoreError;
use crate::format::{self, SEGMENT_HEADER_LEN, SYNC_FAILURE_FILE};
use crate::fs::{OpenMode, StoreFile};
use crate::segment::FooterBuilder;

use super::found::{segment_ids, Access, OpenReport, TornTail};
use crate::format::segment_path;

/// Applies the record a writer left when an fsync failed: segments are cut
/// back to what its last successful fsync covered (later segments removed),
/// made durable, and the record removed. Frames past that point were never
/// acknowledged as durable, and the OS cache may still show frames the disk
/// does not have. Returns the bytes cut.
pub(super) fn apply_sync_failure(cfg: &StoreConfig) -> Result<u64, StoreError> {
    let path = cfg.dir.join(SYNC_FAILURE_FILE);
    let exists = cfg
        .fs
        .exists(&path)
        .map_err(|e| StoreError::io("stat sync-failure record", &path, e))?;
    if !exists {
        return Ok(0);
    }
    let bytes = crate::fs::read_all(cfg.fs.as_ref(), &path, format::MAX_SMALL_FILE)
        .map_err(|e| StoreError::io("read sync-failure record", &path, e))?;
    let record = match format::decode_sync_failure(&bytes) {
        Ok(r) => Some(r),
        Err(e) => {
            // Renamed into place before its bytes were synced, then a crash:
            // and after a crash no unsynced page survives, so nothing needs
            // cutting.
            tracing::warn!(error = %e, path = %path.display(), "ignoring an unreadable sync-failure record");
            None
        }
    };
    let cut = match record {
        Some(record) => cut_to_durable(cfg, record)?,
        None => 0,
    };
    cfg.fs
        .sync_dir(&cfg.dir)
        .and_then(|()| cfg.fs.remove_file(&path))
        .and_then(|()| cfg.fs.sync_dir(&cfg.dir))
        .map_err(|e| StoreError::io("remove sync-failure record", &path, e))?;
    Ok(cut)
}

/// Removes segments after `record.segment` and cuts that one to
/// `record.durable_len`; returns the bytes cut.
pub(super) fn cut_to_durable(
    cfg: &StoreConfig,
    record: format::DurablePoint,
) -> Result<u64, StoreError> {
    let mut cut = 0u64;
    for id in segment_ids(cfg)? {
        let seg = segment_path(&cfg.dir, id);
        if id > record.segment {
            let len = cfg
                .fs
                .open(&seg, OpenMode::Read)
                .and_then(|f| f.len())
                .map_err(|e| StoreError::io("stat segment", &seg, e))?;
            cfg.fs
                .remove_file(&seg)
                .map_err(|e| StoreError::io("remove unsynced segment", &seg, e))?;
            cut += len;
        } else if id == record.segment {
            let f = cfg
                .fs
                .open(&seg, OpenMode::ReadWrite)
                .map_err(|e| StoreError::io("open segment", &seg, e))?;
            let len = f
                .len()
                .map_err(|e| StoreError::io("stat segment", &seg, e))?;
            if len > record.durable_len {
                f.set_len(record.durable_len)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| StoreError::io("cut unsynced frames", &seg, e))?;
                cut += len - record.durable_len;
            }
        }
    }
    if cut > 0 {
        tracing::warn!(
            bytes = cut,
            segment = record.segment,
            durable_len = record.durable_len,
            "cut frames written after the last successful fsync of a failed writer"
        );
    }
    Ok(cut)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn handle_torn(
    cfg: &StoreConfig,
    access: Access,
    path: &Path,
    file: &Arc<dyn StoreFile>,
    valid_end: u64,
    file_len: u64,
    dropped_batch_frames: u64,
    damaged: bool,
    report: &mut OpenReport,
) -> Result<(), StoreError> {
    let dropped_bytes = file_len - valid_end;
    if damaged {
        tracing::error!(
            segment = %path.display(),
            offset = valid_end,
            dropped_batch_frames,
            "a whole frame at the end of the log fails its checksum: events that were written are lost"
        );
    }
    if cfg.tail_policy == TailPolicy::FailClosed {
        return Err(StoreError::TornTail {
            segment: path.to_path_buf(),
            offset: valid_end,
            dropped_bytes,
        });
    }
    if access == Access::Writer {
        if valid_end < SEGMENT_HEADER_LEN as u64 {
            drop_unborn_segment(cfg, path)?;
        } else {
            file.set_len(valid_end)
                .and_then(|()| file.sync_all())
                .map_err(|e| StoreError::io("truncate torn tail", path, e))?;
        }
        tracing::warn!(
            segment = %path.display(),
            offset = valid_end,
            dropped_bytes,
            dropped_batch_frames,
            "recovered torn tail"
        );
    }
    report.torn_tail = Some(TornTail {
        segment: path.to_path_buf(),
        offset: valid_end,
        dropped_bytes,
        dropped_batch_frames,
        damaged,
    });
    Ok(())
}

pub(super) fn drop_unborn_segment(cfg: &StoreConfig, path: &Path) -> Result<(), StoreError> {
    cfg.fs
        .remove_file(path)
        .and_then(|()| cfg.fs.sync_dir(&cfg.dir))
        .map_err(|e| StoreError::io("remove incomplete segment", path, e))
}

/// Writes a rebuilt footer back over a damaged one at the end of a sealed
/// segment, then makes it durable.
pub(super) fn rewrite_footer(
    cfg: &StoreConfig,
    path: &Path,
    footer: &FooterBuilder,
) -> Result<(), StoreError> {
    // Open for reading only (a sealed segment): a handle of its own writes.
    let file = cfg
        .fs
        .open(path, OpenMode::ReadWrite)
        .map_err(|e| StoreError::io("open segment to rewrite its footer", path, e))?;
    let bytes = format::encode_footer(footer.footer());
    let at = footer.frames_end();
    let end = format::sealed_len(at, bytes.len())
        .ok_or_else(|| StoreError::corrupt_segment(path, at, crate::error::Corruption::TooLarge))?;
    file.write_all_at(&bytes, at)
        .and_then(|()| file.set_len(end))
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io("rewrite damaged footer", path, e))?;
    tracing::warn!(segment = %path.display(), "rebuilt a damaged footer from the segment's frames");
    Ok(())
}
