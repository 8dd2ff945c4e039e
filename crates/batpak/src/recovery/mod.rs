//! Cold start: rebuild the index from segment footers and, for the active
//! segment, from its frames; apply the torn-tail policy. Loading lives in
//! [`load`], the repairs open makes to files in [`repair`], and rebuilding
//! the writer's idempotency keys in `crate::idempotency`.

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

use found::Loaded;
pub(crate) use found::{segment_ids, Access, Recovered, Tail};
pub use found::{HistoryLoss, OpenReport, TornTail};
use ids::IdSink;
use load::load_segment;
pub(crate) use load::read_sealed_footer;
use repair::apply_sync_failure;

/// Rebuilds the index from the directory.
pub(crate) fn recover(cfg: &StoreConfig, access: Access) -> Result<Recovered, StoreError> {
    let cut = if access == Access::Writer {
        apply_sync_failure(cfg)?
    } else {
        0
    };
    let ids = segment_ids(cfg)?;
    let mut out = Recovered {
        index: Index::default(),
        files: BTreeMap::new(),
        tail: None,
        report: OpenReport::default(),
        keys: Vec::new(),
        scanned_keys: Vec::new(),
        ranges: Vec::new(),
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
            out.files.insert(id, file);
            out.ranges
                .push((id, base, out.index.next_global_sequence(), !tail.sealed));
            // The last kept segment is the one the writer continues.
            out.tail = Some(*tail);
        }
        Loaded::Discarded => {}
    }
    Ok(())
}
