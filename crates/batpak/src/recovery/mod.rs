//! Cold start: rebuild the index from segment footers and, for the active
//! segment, from its frames; apply the torn-tail policy. Loading lives in
//! [`load`], the repairs open makes to files in [`repair`], and rebuilding
//! the writer's idempotency keys in `crate::idempotency`.

mod compaction;
mod found;
mod ids;
mod load;
mod repair;

use std::collections::BTreeMap;

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::format::segment_path;
use crate::fs::OpenMode;
use crate::idempotency::rebuild_keys;
use crate::index::Index;
use crate::segment::SegmentFile;

pub(crate) use compaction::{complete, finish_pending, index_temp_path, settle_at_open, temp_path};
pub use compaction::{CompactionAtOpen, CompactionKind};
use found::Loaded;
pub(crate) use found::{segment_ids, Access, Recovered, Tail};
pub use found::{HistoryLoss, OpenReport, TornTail};
use ids::IdSink;
use load::load_segment;
pub(crate) use load::read_sealed_footer;
use repair::apply_sync_failure;

/// Rebuilds the index from the directory.
///
/// `cfg.committed_floor` is the committed floor: the number of events known
/// committed from outside the segment files (to be set from the size of the
/// last signed tree head). No cut of the active segment's tail may remove an
/// event below it (`Corruption::CutBelowCommitted`, in `load::scan_frames`);
/// 0 knows of none.
pub(crate) fn recover(cfg: &StoreConfig, access: Access) -> Result<Recovered, StoreError> {
    let compaction = settle_at_open(cfg, access == Access::Writer)?;
    let cut = if access == Access::Writer {
        apply_sync_failure(cfg)?
    } else {
        0
    };
    let ids = segment_ids(cfg)?;
    if access == Access::Writer {
        if let Err(e) = crate::segment_index::remove_orphans(cfg.fs.as_ref(), &cfg.dir, &ids) {
            tracing::warn!(error = %e, "could not remove index files without a segment");
        }
    }
    let mut out = Recovered {
        index: Index::new(cfg.index_cache_bytes),
        files: BTreeMap::new(),
        tail: None,
        report: OpenReport::default(),
        keys: Vec::new(),
        scanned_keys: Vec::new(),
        ranges: Vec::new(),
        newest_version: 0,
    };
    // Sealed segments' ids go into an id table on a helper thread while
    // this one decodes the next footer; the table joins the index at the end.
    let table = out.index.id_table_like();
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let mut ids_sink = IdSink::start(scope, table);
        for (i, &id) in ids.iter().enumerate() {
            load_one(cfg, access, id, i + 1 == ids.len(), &mut ids_sink, &mut out)?;
        }
        let table = ids_sink.finish();
        out.index.absorb_ids(table);
        Ok(())
    })?;
    out.report.events = out.index.len() as u64;
    out.report.cut_after_failed_sync = cut;
    out.report.compaction = compaction;
    if access == Access::Writer {
        let scanned = std::mem::take(&mut out.scanned_keys);
        let rebuilt = rebuild_keys(cfg, &out.index, &out.files, &out.ranges, scanned)?;
        out.report.idempotency_keys_from_sidecar = rebuilt.from_sidecar;
        out.report.idempotency_keys_from_log = rebuilt.from_log;
        if rebuilt.sidecar_problem.is_some() {
            out.report.idempotency_sidecar_problem = rebuilt.sidecar_problem;
        }
        out.keys = rebuilt.keys;
    }
    Ok(out)
}

/// Opens segment `id` and loads it into `out`.
fn load_one(
    cfg: &StoreConfig,
    access: Access,
    id: u64,
    is_last: bool,
    ids_sink: &mut IdSink<'_>,
    out: &mut Recovered,
) -> Result<(), StoreError> {
    let path = segment_path(&cfg.dir, id);
    let mode = if is_last && access == Access::Writer {
        OpenMode::ReadWrite
    } else {
        OpenMode::Read
    };
    let file = cfg
        .fs
        .open(&path, mode)
        .map_err(|e| StoreError::io("open segment", &path, e))?;
    out.report.segments += 1;
    let base = out.index.next_global_sequence();
    match load_segment(cfg, access, id, is_last, &file, ids_sink, out)? {
        Loaded::Kept(tail) => {
            let version = tail.version;
            out.files.insert(id, SegmentFile { file, version });
            out.ranges
                .push((id, base, out.index.next_global_sequence(), !tail.sealed));
            // The last kept segment is the one the writer continues.
            out.tail = Some(*tail);
        }
        Loaded::Discarded => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The committed floor (`StoreConfig::committed_floor`): recovery never
    //! cuts an event below it from the tail, whatever the tail policy.
    #![allow(clippy::unwrap_used, clippy::panic)]

    use std::path::Path;

    use crate::config::{StoreConfig, TailPolicy};
    use crate::coordinate::Coordinate;
    use crate::error::{Corruption, StoreError};
    use crate::format::{segment_file_name, LOCK_FILE};
    use crate::kind::EventKind;
    use crate::options::{AppendOptions, BatchAppendItem, CausationRef};
    use crate::region::Region;
    use crate::store::Store;

    const K: EventKind = EventKind::custom(0xE, 1);

    fn coord(entity: &str) -> Coordinate {
        Coordinate::new(entity, "s").unwrap()
    }

    /// The files of a store that is still open (what a killed process leaves),
    /// and the frame offset of every event in its one segment.
    fn killed_image(fill: impl FnOnce(&Store)) -> (tempfile::TempDir, Vec<u64>) {
        let live = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(live.path())).unwrap();
        fill(&store);
        let offsets = store
            .query(&Region::all())
            .iter()
            .map(|e| e.location.offset)
            .collect();
        let image = copy(live.path());
        store.close().unwrap();
        (image, offsets)
    }

    fn copy(src: &Path) -> tempfile::TempDir {
        let dst = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            if e.file_name() != LOCK_FILE && e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dst.path().join(e.file_name())).unwrap();
            }
        }
        dst
    }

    fn segment(dir: &Path) -> std::path::PathBuf {
        dir.join(segment_file_name(1))
    }

    fn cut(dir: &Path, len: u64) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(segment(dir))
            .unwrap();
        f.set_len(len).unwrap();
    }

    fn with_floor(dir: &Path, policy: TailPolicy, committed: u64) -> StoreConfig {
        let mut cfg = StoreConfig::new(dir).with_tail_policy(policy);
        cfg.committed_floor = committed;
        cfg
    }

    fn item(entity: &str, n: u32) -> BatchAppendItem {
        BatchAppendItem::new(
            coord(entity),
            K,
            &n,
            AppendOptions::default(),
            CausationRef::None,
        )
        .unwrap()
    }

    /// Two single appends (global sequences 0 and 1), then a batch of three
    /// (2, 3, 4) torn by a crash inside its second frame.
    fn torn_batch_image() -> (tempfile::TempDir, Vec<u64>) {
        let (dir, offsets) = killed_image(|s| {
            s.append(&coord("a"), K, &0u32).unwrap();
            s.append(&coord("b"), K, &1u32).unwrap();
            s.append_batch(vec![item("a", 2), item("b", 3), item("c", 4)])
                .unwrap();
        });
        cut(dir.path(), offsets[3] + 10);
        (dir, offsets)
    }

    fn assert_cut_below_floor(
        result: Result<impl std::fmt::Debug, StoreError>,
        dir: &Path,
        offset: u64,
        committed: u64,
        first_cut: u64,
    ) {
        match result {
            Err(StoreError::CorruptSegment {
                segment: s,
                offset: o,
                reason,
            }) => {
                assert_eq!((s, o), (segment(dir), offset));
                assert_eq!(
                    reason,
                    Corruption::CutBelowCommitted {
                        committed,
                        first_cut
                    }
                );
            }
            other => panic!("expected CutBelowCommitted, got {other:?}"),
        }
    }

    #[test]
    fn a_torn_batch_below_the_committed_floor_is_corruption_under_either_policy() {
        let (dir, offsets) = torn_batch_image();
        let before = std::fs::read(segment(dir.path())).unwrap();
        for policy in [TailPolicy::RecoverTornTail, TailPolicy::FailClosed] {
            for committed in [3, 5, u64::MAX] {
                let cfg = with_floor(dir.path(), policy, committed);
                assert_cut_below_floor(
                    Store::open(cfg.clone()),
                    dir.path(),
                    offsets[2],
                    committed,
                    2,
                );
                assert_cut_below_floor(
                    Store::open_read_only(cfg),
                    dir.path(),
                    offsets[2],
                    committed,
                    2,
                );
                assert_eq!(std::fs::read(segment(dir.path())).unwrap(), before);
            }
        }
        // At or below the batch's first event, the cut takes nothing committed.
        for committed in [0, 2] {
            let copy = copy(dir.path());
            let store = Store::open(with_floor(
                copy.path(),
                TailPolicy::RecoverTornTail,
                committed,
            ))
            .unwrap();
            let torn = store.open_report().torn_tail.unwrap();
            assert_eq!((torn.offset, torn.dropped_batch_frames), (offsets[2], 1));
            assert_eq!(store.len(), 2);
        }
    }

    #[test]
    fn a_damaged_last_frame_below_the_committed_floor_is_corruption() {
        let (dir, offsets) = killed_image(|s| {
            for n in 0..3u32 {
                s.append(&coord("a"), K, &n).unwrap();
            }
        });
        // A flipped byte in the last frame's body: a whole frame that fails its CRC.
        let path = segment(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let at = usize::try_from(offsets[2]).unwrap() + 20;
        bytes[at] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        for policy in [TailPolicy::RecoverTornTail, TailPolicy::FailClosed] {
            let cfg = with_floor(dir.path(), policy, 3);
            assert_cut_below_floor(Store::open(cfg), dir.path(), offsets[2], 3, 2);
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        let store = Store::open(with_floor(dir.path(), TailPolicy::RecoverTornTail, 2)).unwrap();
        let torn = store.open_report().torn_tail.unwrap();
        assert!(torn.damaged);
        assert_eq!((torn.offset, store.len()), (offsets[2], 2));
    }

    #[test]
    fn the_default_floor_is_zero() {
        assert_eq!(StoreConfig::new("unused").committed_floor, 0);
    }
}
