//! Stores on a `SimFs`, and what a rotating append does to it.

use std::path::Path;
use std::sync::Arc;

use batpak::prelude::*;
use batpak::sim::{FaultKind, FaultPlan, OpClass, SimFs, TracedOp};

use super::store::{fill_first_segment, SMALL_SEGMENT_BYTES};

/// The default configuration at `dir` of the simulated disk `sim`.
pub fn sim_config(sim: &SimFs, dir: impl AsRef<Path>) -> StoreConfig {
    StoreConfig::new(dir).with_fs(Arc::new(sim.clone()))
}

/// [`sim_config`] with [`SMALL_SEGMENT_BYTES`] segments.
pub fn sim_small_segments(sim: &SimFs, dir: impl AsRef<Path>) -> StoreConfig {
    sim_config(sim, dir).with_segment_max_bytes(SMALL_SEGMENT_BYTES)
}

/// A dry run on an honest disk of seed `seed`: fills the first segment
/// ([`fill_first_segment`]) and returns the operations of the next, rotating
/// append, whose counts (`nth`) a fault plan of the same seed can target.
pub fn rotation_trace(
    seed: u64,
    dir: &str,
    coord: &Coordinate,
    kind: EventKind,
    big: &str,
) -> Vec<TracedOp> {
    let dry = SimFs::with_plan(FaultPlan::none(seed));
    let store = Store::open(sim_small_segments(&dry, dir)).unwrap();
    fill_first_segment(&store, coord, kind, big);
    dry.start_trace();
    store.append(coord, kind, &big).unwrap();
    let trace = dry.take_trace();
    drop(store);
    trace
}

/// The count (`nth`) of the last directory fsync in [`rotation_trace`]: the
/// one that makes the new segment's directory entry durable.
pub fn rotation_dir_sync(
    seed: u64,
    dir: &str,
    coord: &Coordinate,
    kind: EventKind,
    big: &str,
) -> u64 {
    rotation_trace(seed, dir, coord, kind, big)
        .iter()
        .rev()
        .find(|t| t.op == OpClass::SyncDir)
        .expect("rotation syncs the directory")
        .nth
}

/// The fault that makes one operation of class `op` fail outright.
pub fn failing(op: OpClass) -> FaultKind {
    match op {
        OpClass::Write => FaultKind::FailWrite,
        OpClass::Sync => FaultKind::FailSync,
        OpClass::SyncDir => FaultKind::FailSyncDir,
        OpClass::Create => FaultKind::FailCreate,
        OpClass::Rename => FaultKind::FailRename,
        OpClass::Remove => FaultKind::FailRemove,
        OpClass::SetLen => FaultKind::FailSetLen,
        _ => FaultKind::FailRead,
    }
}
