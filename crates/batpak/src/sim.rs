//! `SimFs`: an in-memory [`StoreFs`] that keeps what was written apart from
//! what is durable, injects faults from a seeded schedule, and simulates a
//! crash (feature `sim`, for tests only).
//!
//! # The model
//!
//! Every file is an inode with two images:
//!
//! - `live`: what reads see, changed by writes and `set_len`;
//! - `durable`: what survives a crash, replaced by `live` when
//!   [`StoreFile::sync_data`] or [`StoreFile::sync_all`] returns `Ok`.
//!
//! Directory entries are modelled the same way: creations, hard links,
//! renames and removals change the live namespace at once and the durable
//! namespace only when [`StoreFs::sync_dir`] succeeds on their directory
//! (a hard link is a second name of the same inode). Directories
//! themselves are durable as soon as they are created (the store never
//! depends on syncing a parent of its data directory).
//!
//! [`SimFs::crash`] throws away everything that is not durable. When the
//! schedule says so it lets part of the unsynced state survive as well, as a
//! real disk may: a random prefix of the span where each file's live image
//! differs from its durable one (the rest keeps its durable bytes; a grown
//! file is cut or, as when only the size reached the disk, zero-filled), and
//! a random prefix of the unsynced directory operations, in order.
//!
//! A failed fsync behaves as on Linux: the pages it could not write are
//! marked clean, so a later fsync that succeeds does not write them either.
//! Their old durable content (zeros where there was none) is what survives,
//! until the same bytes are written again. Retrying an fsync after a failure
//! and trusting the result therefore loses data here, as it does on a real
//! disk.
//!
//! # Faults
//!
//! A [`FaultPlan`] lists faults by operation count ("fail the 7th write"),
//! plus a disk byte budget (writes past it fail with `StorageFull`), short
//! reads, and whether a crash tears unsynced data. [`FaultPlan::random`]
//! derives one from a seed with [`SimRng`]; the plan prints itself, so a
//! failing test can show the seed and the schedule that broke it.
//!
//! ```
//! use std::sync::Arc;
//! use batpak::prelude::*;
//! use batpak::sim::{FaultKind, FaultPlan, SimFs};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = SimFs::with_plan(FaultPlan::none(7));
//! let cfg = StoreConfig::new("/sim/doc").with_fs(Arc::new(sim.clone()));
//! let store = Store::open(cfg.clone())?;
//! let coord = Coordinate::new("entity:a", "scope:1")?;
//! const NOTED: EventKind = EventKind::custom(0xE, 0x22);
//! let kept = store.append(&coord, NOTED, &1)?;
//! sim.arm(FaultKind::FailSync, 1);
//! assert!(store.append(&coord, NOTED, &2).is_err());
//! sim.crash();
//! drop(store);
//! let store = Store::open(cfg)?;
//! assert!(store.verify_append_receipt(&kept).is_valid());
//! assert_eq!(store.len(), 1);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::fs::{FsLock, OpenMode, StoreFile, StoreFs};

/// A small deterministic pseudo-random generator (splitmix64).
///
/// Not for cryptography; it exists so that a seed reproduces a schedule and a
/// workload exactly, on every platform, without a dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `1 / n` (always when `n <= 1`).
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// The classes of operations the schedule counts separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OpClass {
    /// [`StoreFile::write_all_at`].
    Write,
    /// [`StoreFile::sync_data`] and [`StoreFile::sync_all`].
    Sync,
    /// [`StoreFs::sync_dir`].
    SyncDir,
    /// [`StoreFs::open`] with [`OpenMode::CreateNew`], and [`StoreFs::hard_link`].
    Create,
    /// [`StoreFs::rename`].
    Rename,
    /// [`StoreFs::remove_file`].
    Remove,
    /// [`StoreFile::set_len`].
    SetLen,
    /// [`StoreFile::read_at`].
    Read,
}

impl fmt::Display for OpClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Write => "write",
            Self::Sync => "fsync",
            Self::SyncDir => "dir-fsync",
            Self::Create => "create",
            Self::Rename => "rename",
            Self::Remove => "remove",
            Self::SetLen => "set_len",
            Self::Read => "read",
        })
    }
}

/// What goes wrong when a scheduled fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// The write fails with `EIO`; nothing of it reaches the live image.
    FailWrite,
    /// A strict prefix of the buffer (chosen from the seed) reaches the live
    /// image, then the write fails with `EIO`.
    TornWrite,
    /// The fsync fails with `EIO` and makes nothing durable; the pages it
    /// could not write are lost to later fsyncs too (see the module docs).
    FailSync,
    /// The fsync reports success but makes nothing durable: a disk that lies.
    /// The store cannot detect this; it exists to show that the crash oracle
    /// notices the loss it causes.
    DropSync,
    /// The directory fsync fails with `EIO` and makes no entry durable.
    FailSyncDir,
    /// The directory fsync reports success but makes no entry durable.
    DropSyncDir,
    /// Creating the file fails with `EIO`; no entry is made.
    FailCreate,
    /// The rename fails with `EIO`; both names are left as they were.
    FailRename,
    /// The removal fails with `EIO`; the entry is left in place.
    FailRemove,
    /// Truncating or extending fails with `EIO`; the length is unchanged.
    FailSetLen,
    /// The read fails with `EIO`.
    FailRead,
    /// The read returns fewer bytes than asked for (at least one), as
    /// `pread` may.
    ShortRead,
}

impl FaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [FaultKind; 12] = [
        Self::FailWrite,
        Self::TornWrite,
        Self::FailSync,
        Self::DropSync,
        Self::FailSyncDir,
        Self::DropSyncDir,
        Self::FailCreate,
        Self::FailRename,
        Self::FailRemove,
        Self::FailSetLen,
        Self::FailRead,
        Self::ShortRead,
    ];

    /// The class of operation this fault fires on.
    pub fn op(self) -> OpClass {
        match self {
            Self::FailWrite | Self::TornWrite => OpClass::Write,
            Self::FailSync | Self::DropSync => OpClass::Sync,
            Self::FailSyncDir | Self::DropSyncDir => OpClass::SyncDir,
            Self::FailCreate => OpClass::Create,
            Self::FailRename => OpClass::Rename,
            Self::FailRemove => OpClass::Remove,
            Self::FailSetLen => OpClass::SetLen,
            Self::FailRead | Self::ShortRead => OpClass::Read,
        }
    }

    /// True for faults that report success without doing the work; a store
    /// cannot detect them, so they are never drawn by [`FaultPlan::random`].
    pub fn is_silent(self) -> bool {
        matches!(self, Self::DropSync | Self::DropSyncDir)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FailWrite => "fail",
            Self::TornWrite => "torn",
            Self::FailSync | Self::FailSyncDir => "fail",
            Self::DropSync | Self::DropSyncDir => "dropped",
            Self::FailCreate | Self::FailRename | Self::FailRemove | Self::FailSetLen => "fail",
            Self::FailRead => "fail",
            Self::ShortRead => "short",
        })
    }
}

/// One scheduled fault: `kind` fires on `count` consecutive operations of
/// its class starting with the `nth` (counting from 1 since the file system
/// was made).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// The first operation of the class it fires on, 1-based, counted over the file system's life.
    pub nth: u64,
    /// How many consecutive operations it fires on (at least 1).
    pub count: u64,
}

impl Fault {
    fn covers(&self, op: OpClass, n: u64) -> bool {
        self.kind.op() == op && n >= self.nth && n - self.nth < self.count.max(1)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.kind.op(), self.nth)?;
        if self.count > 1 {
            write!(f, "..{}", self.nth + self.count - 1)?;
        }
        write!(f, " {}", self.kind)
    }
}

/// A fault that fired: which operation, on which file, and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FiredFault {
    /// The class of the operation.
    pub op: OpClass,
    /// Its count within the class, 1-based.
    pub nth: u64,
    /// The scheduled fault, or `None` when the disk budget refused the operation.
    pub kind: Option<FaultKind>,
    /// The file (or directory) the operation was on.
    pub path: PathBuf,
    /// The operation was a write of zero bytes only: the space a writer
    /// writes ahead of its frames, whose loss fails no append.
    pub zeros: bool,
}

impl fmt::Display for FiredFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{} ", self.op, self.nth)?;
        match self.kind {
            Some(k) => write!(f, "{k}")?,
            None => f.write_str("disk-full")?,
        }
        write!(f, " on {}", self.path.display())
    }
}

/// One counted operation, as recorded by [`SimFs::start_trace`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TracedOp {
    /// The class of the operation.
    pub op: OpClass,
    /// Its count within the class, 1-based: the `nth` a [`Fault`] on it needs.
    pub nth: u64,
    /// The file (or directory) it was on.
    pub path: PathBuf,
}

/// The fault schedule of a [`SimFs`]. Prints as one line that, with the
/// seed, is enough to reproduce a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    /// The seed the plan (and the file system's own randomness) came from.
    pub seed: u64,
    /// Faults by operation count.
    pub faults: Vec<Fault>,
    /// Total bytes the disk holds; growing files past it fails with
    /// `StorageFull` after the bytes that fit were written.
    pub disk_budget: Option<u64>,
    /// Every read returns a random number of bytes between 1 and the request.
    pub short_reads: bool,
    /// A crash lets random prefixes of unsynced data and of unsynced
    /// directory operations survive (otherwise exactly the durable state does).
    pub torn_crash: bool,
}

impl FaultPlan {
    /// A plan with no faults: an honest disk that keeps exactly what was synced.
    pub fn none(seed: u64) -> Self {
        Self {
            seed,
            faults: Vec::new(),
            disk_budget: None,
            short_reads: false,
            torn_crash: false,
        }
    }

    /// A plan derived from `seed`: up to two faults the store can observe
    /// (never a silent one), sometimes a disk budget, short reads and torn
    /// crashes. The operation counts are sized for a workload of a few
    /// hundred operations per class.
    pub fn random(seed: u64) -> Self {
        let mut r = SimRng::new(seed ^ 0x5EED_FA17_5EED_FA17);
        let mut plan = Self::none(seed);
        let honest: Vec<FaultKind> = FaultKind::ALL
            .iter()
            .copied()
            .filter(|k| !k.is_silent())
            .collect();
        let n = r.below(3);
        for _ in 0..n {
            let kind = honest[r.below(honest.len() as u64) as usize];
            let range = match kind.op() {
                OpClass::Write | OpClass::Sync => 160,
                OpClass::Read => 400,
                OpClass::SyncDir | OpClass::Create => 12,
                OpClass::Rename | OpClass::Remove | OpClass::SetLen => 6,
            };
            plan.faults.push(Fault {
                kind,
                nth: 1 + r.below(range),
                count: 1,
            });
        }
        if r.one_in(8) {
            plan.disk_budget = Some(4096 + r.below(40_000));
        }
        plan.short_reads = r.one_in(4);
        plan.torn_crash = r.one_in(2);
        plan
    }

    /// Adds a fault on the `nth` operation of its class.
    pub fn with_fault(self, kind: FaultKind, nth: u64) -> Self {
        self.with_faults(kind, nth, 1)
    }

    /// Adds a fault on `count` consecutive operations of its class from the `nth` on.
    pub fn with_faults(mut self, kind: FaultKind, nth: u64, count: u64) -> Self {
        self.faults.push(Fault {
            kind,
            nth,
            count: count.max(1),
        });
        self
    }

    /// Sets the disk byte budget.
    pub fn with_disk_budget(mut self, bytes: u64) -> Self {
        self.disk_budget = Some(bytes);
        self
    }

    /// Turns short reads on or off.
    pub fn with_short_reads(mut self, on: bool) -> Self {
        self.short_reads = on;
        self
    }

    /// Turns torn crashes on or off.
    pub fn with_torn_crash(mut self, on: bool) -> Self {
        self.torn_crash = on;
        self
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed={} faults=[", self.seed)?;
        for (i, fault) in self.faults.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{fault}")?;
        }
        f.write_str("]")?;
        match self.disk_budget {
            Some(b) => write!(f, " disk_budget={b}")?,
            None => f.write_str(" disk_budget=none")?,
        }
        write!(
            f,
            " short_reads={} crash={}",
            self.short_reads,
            if self.torn_crash { "torn" } else { "clean" }
        )
    }
}

/// How many operations of each kind the file system has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpCounters {
    /// Opens of existing files.
    pub opens: u64,
    /// Files created.
    pub creates: u64,
    /// `write_all_at` calls.
    pub writes: u64,
    /// Bytes that reached a live image.
    pub bytes_written: u64,
    /// `sync_data` and `sync_all` calls.
    pub syncs: u64,
    /// `sync_dir` calls.
    pub dir_syncs: u64,
    /// Renames.
    pub renames: u64,
    /// Removals.
    pub removes: u64,
    /// `set_len` calls.
    pub set_lens: u64,
    /// `read_at` calls.
    pub reads: u64,
    /// Simulated crashes.
    pub crashes: u64,
    /// Scheduled faults (and disk-full refusals) that fired.
    pub faults_fired: u64,
}

impl OpCounters {
    fn bump(&mut self, op: OpClass) -> u64 {
        let c = match op {
            OpClass::Write => &mut self.writes,
            OpClass::Sync => &mut self.syncs,
            OpClass::SyncDir => &mut self.dir_syncs,
            OpClass::Create => &mut self.creates,
            OpClass::Rename => &mut self.renames,
            OpClass::Remove => &mut self.removes,
            OpClass::SetLen => &mut self.set_lens,
            OpClass::Read => &mut self.reads,
        };
        *c += 1;
        *c
    }
}

impl fmt::Display for OpCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "opens={} creates={} writes={} bytes={} fsyncs={} dir-fsyncs={} renames={} removes={} set_lens={} reads={} crashes={} faults={}",
            self.opens,
            self.creates,
            self.writes,
            self.bytes_written,
            self.syncs,
            self.dir_syncs,
            self.renames,
            self.removes,
            self.set_lens,
            self.reads,
            self.crashes,
            self.faults_fired
        )
    }
}

/// A file whose unsynced data partly survived a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TornFile {
    /// The file's path after the crash.
    pub path: PathBuf,
    /// Length of the durable image before the crash.
    pub durable_len: u64,
    /// Length of the live image before the crash.
    pub live_len: u64,
    /// How many bytes of the unsynced span (where live and durable images differ) survived.
    pub kept_unsynced: u64,
    /// The rest of the live length survived as zeros (the size reached the disk, the data did not).
    pub zero_filled: bool,
}

/// What a crash kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrashReport {
    /// Files present after the crash.
    pub files: usize,
    /// Unsynced directory operations that survived (a prefix, in order).
    pub namespace_ops_kept: usize,
    /// Unsynced directory operations that were lost.
    pub namespace_ops_lost: usize,
    /// Files whose unsynced data partly survived.
    pub torn: Vec<TornFile>,
}

impl fmt::Display for CrashReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crash kept {} files, {} of {} unsynced directory ops",
            self.files,
            self.namespace_ops_kept,
            self.namespace_ops_kept + self.namespace_ops_lost
        )?;
        for t in &self.torn {
            write!(
                f,
                "; {} kept {} unsynced bytes (durable {}, live {}{})",
                t.path.display(),
                t.kept_unsynced,
                t.durable_len,
                t.live_len,
                if t.zero_filled { ", zero-filled" } else { "" }
            )?;
        }
        Ok(())
    }
}

/// The page size of the lost-page model of failed fsyncs.
const PAGE: usize = 4096;

#[derive(Debug, Default)]
struct Inode {
    live: Vec<u8>,
    durable: Vec<u8>,
    /// Pages a failed fsync could not write and marked clean: a later
    /// successful fsync keeps their old durable content.
    lost_pages: BTreeSet<usize>,
}

impl Inode {
    fn fresh(image: Vec<u8>) -> Self {
        Self {
            live: image.clone(),
            durable: image,
            lost_pages: BTreeSet::new(),
        }
    }

    /// A failed fsync: every page that differs from the durable image is lost.
    fn fail_sync(&mut self) {
        let len = self.live.len().max(self.durable.len());
        for page in 0..len.div_ceil(PAGE) {
            let range = page * PAGE..(page + 1) * PAGE;
            let live = clip(&self.live, range.clone());
            let durable = clip(&self.durable, range);
            if live != durable {
                self.lost_pages.insert(page);
            }
        }
    }

    /// A successful fsync: the live image becomes durable, except lost pages.
    fn sync(&mut self) {
        let mut next = self.live.clone();
        for &page in &self.lost_pages {
            let start = page * PAGE;
            if start >= next.len() {
                break;
            }
            let end = (start + PAGE).min(next.len());
            for (i, b) in next[start..end].iter_mut().enumerate() {
                *b = self.durable.get(start + i).copied().unwrap_or(0);
            }
        }
        self.durable = next;
    }

    /// The span `[start, end)` where the live image differs from the durable
    /// one (in content or length); empty when they are identical.
    fn unsynced_span(&self) -> (usize, usize) {
        let (live, durable) = (&self.live, &self.durable);
        let start = durable.iter().zip(live).take_while(|(a, b)| a == b).count();
        let end = if live.len() == durable.len() {
            let same_tail = durable
                .iter()
                .rev()
                .zip(live.iter().rev())
                .take_while(|(a, b)| a == b)
                .count();
            live.len() - same_tail.min(live.len() - start)
        } else {
            live.len().max(durable.len())
        };
        (start, end)
    }

    /// What survives when the first `keep` bytes of the unsynced span reached
    /// the disk and the rest did not (the durable bytes stay there). With
    /// `zero_fill`, a file the live image had grown keeps its live length,
    /// the part that did not reach the disk reading as zeros.
    fn torn_image(&self, keep: usize, zero_fill: bool) -> Vec<u8> {
        let (start, end) = self.unsynced_span();
        if keep >= end - start {
            return self.live.clone();
        }
        // Past the live end there is nothing new to keep: a truncation either
        // reached the disk whole (above) or not at all.
        let cut = (start + keep).min(self.live.len());
        let mut img = self.live[..cut].to_vec();
        if self.durable.len() > cut {
            img.extend_from_slice(&self.durable[cut..]);
        }
        if zero_fill && img.len() < self.live.len() {
            img.resize(self.live.len(), 0);
        }
        img
    }

    /// Writing bytes dirties their pages again, so they are no longer lost.
    fn dirty(&mut self, offset: usize, len: usize) {
        if len == 0 || self.lost_pages.is_empty() {
            return;
        }
        let first = offset / PAGE;
        let last = (offset + len - 1) / PAGE;
        self.lost_pages.retain(|&p| p < first || p > last);
    }
}

fn clip(bytes: &[u8], range: std::ops::Range<usize>) -> &[u8] {
    let end = range.end.min(bytes.len());
    let start = range.start.min(end);
    &bytes[start..end]
}

#[derive(Clone, Debug)]
enum NsOp {
    Create {
        path: PathBuf,
        ino: u64,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
        ino: u64,
    },
    Remove {
        path: PathBuf,
    },
}

impl NsOp {
    fn within(&self, dir: &Path) -> bool {
        match self {
            Self::Create { path, .. } | Self::Remove { path } => path.parent() == Some(dir),
            Self::Rename { from, to, .. } => from.parent() == Some(dir) && to.parent() == Some(dir),
        }
    }

    fn apply(&self, ns: &mut BTreeMap<PathBuf, u64>) {
        match self {
            Self::Create { path, ino } => {
                ns.insert(path.clone(), *ino);
            }
            Self::Rename { from, to, ino } => {
                ns.remove(from);
                ns.insert(to.clone(), *ino);
            }
            Self::Remove { path } => {
                ns.remove(path);
            }
        }
    }
}

/// Decides the surviving image of one file at a crash.
type TearFn<'a> = dyn FnMut(&mut State, &Path, &Inode) -> (Vec<u8>, Option<TornFile>) + 'a;

#[derive(Debug)]
struct State {
    plan: FaultPlan,
    rng: SimRng,
    /// Bumped by every crash; handles and locks of an older boot stop working.
    boot: u64,
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    live_ns: BTreeMap<PathBuf, u64>,
    durable_ns: BTreeMap<PathBuf, u64>,
    /// Directory operations not yet made durable, oldest first.
    pending_ns: Vec<NsOp>,
    dirs: BTreeSet<PathBuf>,
    locks: HashMap<PathBuf, u64>,
    next_lock: u64,
    counters: OpCounters,
    fired: Vec<FiredFault>,
    /// While set, operations are neither counted nor faulted.
    paused: bool,
    trace: Option<Vec<TracedOp>>,
}

fn sim_eio(what: &str) -> io::Error {
    io::Error::other(format!("simulated EIO: {what}"))
}

fn stale() -> io::Error {
    io::Error::other("simulated crash: this handle belongs to a previous boot")
}

impl State {
    /// Counts an operation and returns the scheduled fault that fires on it, if any.
    fn tick(&mut self, op: OpClass, path: &Path) -> Option<FaultKind> {
        if self.paused {
            return None;
        }
        let n = self.counters.bump(op);
        if let Some(t) = &mut self.trace {
            t.push(TracedOp {
                op,
                nth: n,
                path: path.to_path_buf(),
            });
        }
        let hit = self
            .plan
            .faults
            .iter()
            .find(|f| f.covers(op, n))
            .map(|f| f.kind);
        if hit.is_some() {
            self.counters.faults_fired += 1;
            self.fired.push(FiredFault {
                op,
                nth: n,
                kind: hit,
                path: path.to_path_buf(),
                zeros: false,
            });
        }
        hit
    }

    fn used_bytes(&self) -> u64 {
        self.inodes.values().map(|i| i.live.len() as u64).sum()
    }

    /// Bytes a file may still grow by, under the disk budget.
    fn room(&self) -> u64 {
        match self.plan.disk_budget {
            Some(b) if !self.paused => b.saturating_sub(self.used_bytes()),
            _ => u64::MAX,
        }
    }

    fn disk_full(&mut self, op: OpClass, path: &Path) -> io::Error {
        self.counters.faults_fired += 1;
        let nth = match op {
            OpClass::SetLen => self.counters.set_lens,
            _ => self.counters.writes,
        };
        self.fired.push(FiredFault {
            op,
            nth,
            kind: None,
            path: path.to_path_buf(),
            zeros: false,
        });
        io::Error::new(
            io::ErrorKind::StorageFull,
            "simulated ENOSPC: disk budget exhausted",
        )
    }

    fn inode(&mut self, ino: u64) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other("simulated file system lost an inode"))
    }

    fn parent_exists(&self, path: &Path) -> bool {
        path.parent().is_some_and(|p| self.dirs.contains(p))
    }

    /// The surviving bytes of one file at a crash, when tearing is on.
    fn tear(&mut self, path: &Path, ino: &Inode) -> (Vec<u8>, Option<TornFile>) {
        let (start, end) = ino.unsynced_span();
        if start == end || !self.rng.one_in(2) {
            return (ino.durable.clone(), None);
        }
        let extra = (end - start) as u64;
        let keep = self.rng.below(extra + 1) as usize;
        let zero_filled = keep < extra as usize && self.rng.one_in(3);
        let bytes = ino.torn_image(keep, zero_filled);
        let torn = TornFile {
            path: path.to_path_buf(),
            durable_len: ino.durable.len() as u64,
            live_len: ino.live.len() as u64,
            kept_unsynced: keep as u64,
            zero_filled,
        };
        (bytes, Some(torn))
    }

    fn crash(&mut self, tear: &mut TearFn<'_>, ns_keep: usize) -> CrashReport {
        self.boot += 1;
        self.locks.clear();
        self.counters.crashes += 1;
        let mut ns = self.durable_ns.clone();
        let pending = std::mem::take(&mut self.pending_ns);
        let kept = ns_keep.min(pending.len());
        for op in &pending[..kept] {
            op.apply(&mut ns);
        }
        let old = std::mem::take(&mut self.inodes);
        let mut report = CrashReport {
            files: ns.len(),
            namespace_ops_kept: kept,
            namespace_ops_lost: pending.len() - kept,
            torn: Vec::new(),
        };
        let mut done: BTreeSet<u64> = BTreeSet::new();
        for (path, &ino) in &ns {
            if !done.insert(ino) {
                continue;
            }
            let image = match old.get(&ino) {
                Some(node) => {
                    let (bytes, torn) = tear(self, path, node);
                    report.torn.extend(torn);
                    bytes
                }
                None => Vec::new(),
            };
            self.inodes.insert(ino, Inode::fresh(image));
        }
        self.live_ns = ns.clone();
        self.durable_ns = ns;
        report
    }
}

/// An in-memory, fault-injecting file system; see the [module docs](self).
///
/// Cloning gives another handle to the same disk.
#[derive(Clone, Debug)]
pub struct SimFs {
    state: Arc<Mutex<State>>,
}

impl SimFs {
    /// A disk with the schedule [`FaultPlan::random`] derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_plan(FaultPlan::random(seed))
    }

    /// A disk with exactly this schedule.
    pub fn with_plan(plan: FaultPlan) -> Self {
        let rng = SimRng::new(plan.seed ^ 0xC0FF_EE00_D15C_0001);
        let mut dirs = BTreeSet::new();
        dirs.insert(PathBuf::from("/"));
        Self {
            state: Arc::new(Mutex::new(State {
                plan,
                rng,
                boot: 0,
                inodes: HashMap::new(),
                next_ino: 1,
                live_ns: BTreeMap::new(),
                durable_ns: BTreeMap::new(),
                pending_ns: Vec::new(),
                dirs,
                locks: HashMap::new(),
                next_lock: 1,
                counters: OpCounters::default(),
                fired: Vec::new(),
                paused: false,
                trace: None,
            })),
        }
    }

    /// The current schedule (including faults added by [`Self::arm`]).
    pub fn plan(&self) -> FaultPlan {
        self.state.lock().plan.clone()
    }

    /// Operation counts so far.
    pub fn counters(&self) -> OpCounters {
        self.state.lock().counters
    }

    /// Faults (and disk-full refusals) that have fired, in order.
    pub fn fired(&self) -> Vec<FiredFault> {
        self.state.lock().fired.clone()
    }

    /// Schedules `kind` on the `after`-th next operation of its class
    /// (1 = the very next one) and returns the fault as scheduled.
    pub fn arm(&self, kind: FaultKind, after: u64) -> Fault {
        let mut s = self.state.lock();
        let done = match kind.op() {
            OpClass::Write => s.counters.writes,
            OpClass::Sync => s.counters.syncs,
            OpClass::SyncDir => s.counters.dir_syncs,
            OpClass::Create => s.counters.creates,
            OpClass::Rename => s.counters.renames,
            OpClass::Remove => s.counters.removes,
            OpClass::SetLen => s.counters.set_lens,
            OpClass::Read => s.counters.reads,
        };
        let fault = Fault {
            kind,
            nth: done + after.max(1),
            count: 1,
        };
        s.plan.faults.push(fault);
        fault
    }

    /// Sets (or with `None` lifts) the disk byte budget from now on.
    pub fn set_disk_budget(&self, bytes: Option<u64>) {
        self.state.lock().plan.disk_budget = bytes;
    }

    /// Starts recording every counted operation (a dry run of a workload
    /// shows which `nth` to fault in an identical second run).
    pub fn start_trace(&self) {
        self.state.lock().trace = Some(Vec::new());
    }

    /// Stops recording and returns what was recorded since [`Self::start_trace`].
    pub fn take_trace(&self) -> Vec<TracedOp> {
        self.state.lock().trace.take().unwrap_or_default()
    }

    /// While paused, operations are not counted and no fault, disk budget or
    /// short read applies; the schedule resumes where it stopped when unpaused.
    /// For checking a store's state between faulty phases.
    pub fn set_paused(&self, paused: bool) {
        self.state.lock().paused = paused;
    }

    /// Turns short reads on or off from now on.
    pub fn set_short_reads(&self, on: bool) {
        self.state.lock().plan.short_reads = on;
    }

    /// Removes every fault still to fire, the disk budget and short reads:
    /// from now on the disk is honest. Torn crashes stay as planned.
    pub fn heal(&self) {
        let mut s = self.state.lock();
        let s = &mut *s;
        let (w, y, d, c, r, m, l, rd) = (
            s.counters.writes,
            s.counters.syncs,
            s.counters.dir_syncs,
            s.counters.creates,
            s.counters.renames,
            s.counters.removes,
            s.counters.set_lens,
            s.counters.reads,
        );
        s.plan.faults.retain(|f| {
            let done = match f.kind.op() {
                OpClass::Write => w,
                OpClass::Sync => y,
                OpClass::SyncDir => d,
                OpClass::Create => c,
                OpClass::Rename => r,
                OpClass::Remove => m,
                OpClass::SetLen => l,
                OpClass::Read => rd,
            };
            f.nth + f.count.max(1) - 1 <= done
        });
        s.plan.disk_budget = None;
        s.plan.short_reads = false;
    }

    /// Simulates a power loss: every file reverts to its durable image and the
    /// namespace to its durable entries. With `torn_crash` in the plan, a
    /// random prefix of each file's unsynced tail and of the unsynced
    /// directory operations may survive too.
    ///
    /// Every handle and lock taken before the crash stops working (their
    /// operations fail, their drops do nothing), so a store object that
    /// outlives the crash cannot change what survived; open a new store.
    pub fn crash(&self) -> CrashReport {
        let mut s = self.state.lock();
        let torn = s.plan.torn_crash;
        let ns_keep = if torn {
            let n = s.pending_ns.len() as u64;
            s.rng.below(n + 1) as usize
        } else {
            0
        };
        s.crash(
            &mut |st: &mut State, path: &Path, node: &Inode| {
                if torn {
                    st.tear(path, node)
                } else {
                    (node.durable.clone(), None)
                }
            },
            ns_keep,
        )
    }

    /// Simulates a power loss in which `keep(path, unsynced)` decides how many
    /// of a file's `unsynced` bytes survive: the span from the first to the
    /// last byte where its live image differs from its durable one (growth
    /// included). The first `keep` bytes of the span come from the live
    /// image, the rest from the durable one (a grown file is cut there).
    /// Unsynced directory operations are all lost. For tests that need one
    /// exact tear.
    pub fn crash_with(&self, mut keep: impl FnMut(&Path, u64) -> u64) -> CrashReport {
        let mut s = self.state.lock();
        s.crash(
            &mut |_: &mut State, path: &Path, node: &Inode| {
                let (start, end) = node.unsynced_span();
                let extra = (end - start) as u64;
                let k = keep(path, extra).min(extra) as usize;
                if k == 0 {
                    return (node.durable.clone(), None);
                }
                let torn = TornFile {
                    path: path.to_path_buf(),
                    durable_len: node.durable.len() as u64,
                    live_len: node.live.len() as u64,
                    kept_unsynced: k as u64,
                    zero_filled: false,
                };
                (node.torn_image(k, false), Some(torn))
            },
            0,
        )
    }

    /// Live and durable length of the file at `path`, if it exists.
    pub fn file_lens(&self, path: &Path) -> Option<(u64, u64)> {
        let s = self.state.lock();
        let ino = s.live_ns.get(path)?;
        let node = s.inodes.get(ino)?;
        Some((node.live.len() as u64, node.durable.len() as u64))
    }

    /// The live bytes of the file at `path`, if it exists (no fault applies).
    pub fn read_live(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.state.lock();
        let ino = s.live_ns.get(path)?;
        s.inodes.get(ino).map(|n| n.live.clone())
    }

    /// Replaces the bytes of the file at `path`, live and durable, as damage
    /// that happened on the disk itself would. Returns false if there is no such file.
    pub fn overwrite(&self, path: &Path, bytes: &[u8]) -> bool {
        let mut s = self.state.lock();
        let Some(&ino) = s.live_ns.get(path) else {
            return false;
        };
        match s.inodes.get_mut(&ino) {
            Some(node) => {
                node.live = bytes.to_vec();
                node.durable = bytes.to_vec();
                true
            }
            None => false,
        }
    }

    /// Names of the files at `dir` in the live namespace.
    pub fn live_files(&self, dir: &Path) -> Vec<String> {
        let s = self.state.lock();
        s.live_ns
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect()
    }
}

/// A file handle of a [`SimFs`].
#[derive(Debug)]
struct SimFile {
    state: Arc<Mutex<State>>,
    /// The name it was opened under (for fault reports).
    path: PathBuf,
    ino: u64,
    boot: u64,
    writable: bool,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> io::Result<T>) -> io::Result<T> {
        let mut s = self.state.lock();
        if s.boot != self.boot {
            return Err(stale());
        }
        f(&mut s)
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "file was opened read-only",
            ))
        }
    }

    fn sync(&self) -> io::Result<()> {
        let ino = self.ino;
        self.with(|s| {
            match s.tick(OpClass::Sync, &self.path) {
                Some(FaultKind::FailSync) => {
                    s.inode(ino)?.fail_sync();
                    return Err(sim_eio("fsync"));
                }
                Some(FaultKind::DropSync) => return Ok(()),
                _ => {}
            }
            s.inode(ino)?.sync();
            Ok(())
        })
    }
}

impl StoreFile for SimFile {
    /// Reads from the live image. Faults: `FailRead`, `ShortRead`, and with
    /// `short_reads` in the plan every read may return fewer bytes than asked.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let ino = self.ino;
        self.with(|s| {
            let fault = s.tick(OpClass::Read, &self.path);
            if fault == Some(FaultKind::FailRead) {
                return Err(sim_eio("read"));
            }
            let short_reads = s.plan.short_reads && !s.paused;
            let len = s.inode(ino)?.live.len() as u64;
            if offset >= len || buf.is_empty() {
                return Ok(0);
            }
            let mut n = (len - offset).min(buf.len() as u64) as usize;
            if fault == Some(FaultKind::ShortRead) {
                n = n.div_ceil(2);
            } else if short_reads {
                n = 1 + s.rng.below(n as u64) as usize;
            }
            let start = offset as usize;
            let node = s.inode(ino)?;
            buf[..n].copy_from_slice(&node.live[start..start + n]);
            Ok(n)
        })
    }

    /// Writes into the live image, extending it with zeros across any gap.
    /// Faults: `FailWrite` (nothing lands), `TornWrite` (a strict prefix
    /// lands), disk budget (what fits lands, then `StorageFull`).
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_writable()?;
        let ino = self.ino;
        let zeros = buf.iter().all(|&b| b == 0);
        self.with(|s| {
            let fired_before = s.fired.len();
            let result = (|| {
                let mut land = buf.len();
                let mut err = None;
                match s.tick(OpClass::Write, &self.path) {
                    Some(FaultKind::FailWrite) => return Err(sim_eio("write")),
                    Some(FaultKind::TornWrite) => {
                        land = s.rng.below(buf.len() as u64) as usize;
                        err = Some(sim_eio("torn write"));
                    }
                    _ => {}
                }
                let cur = s.inode(ino)?.live.len() as u64;
                let end = offset + land as u64;
                let growth = end.saturating_sub(cur);
                let room = s.room();
                if growth > room {
                    let fits = cur.max(offset) + room;
                    land = fits.saturating_sub(offset).min(land as u64) as usize;
                    err = Some(s.disk_full(OpClass::Write, &self.path));
                }
                if land > 0 {
                    let node = s.inode(ino)?;
                    let start = offset as usize;
                    if node.live.len() < start + land {
                        node.live.resize(start + land, 0);
                    }
                    node.live[start..start + land].copy_from_slice(&buf[..land]);
                    node.dirty(start, land);
                }
                s.counters.bytes_written += land as u64;
                match err {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            })();
            if zeros {
                for f in &mut s.fired[fired_before..] {
                    f.zeros = true;
                }
            }
            result
        })
    }

    /// Copies the live image to the durable one. Faults: `FailSync` (nothing
    /// becomes durable), `DropSync` (success reported, nothing durable).
    fn sync_data(&self) -> io::Result<()> {
        self.sync()
    }

    /// Same as [`StoreFile::sync_data`] in this model (lengths are data here).
    fn sync_all(&self) -> io::Result<()> {
        self.sync()
    }

    /// Changes the live length. Faults: `FailSetLen`; growing past the disk
    /// budget fails with `StorageFull` and changes nothing.
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        let ino = self.ino;
        self.with(|s| {
            if s.tick(OpClass::SetLen, &self.path) == Some(FaultKind::FailSetLen) {
                return Err(sim_eio("set_len"));
            }
            let cur = s.inode(ino)?.live.len() as u64;
            if len > cur && len - cur > s.room() {
                return Err(s.disk_full(OpClass::SetLen, &self.path));
            }
            let n = usize::try_from(len).map_err(|_| io::Error::other("length too large"))?;
            s.inode(ino)?.live.resize(n, 0);
            Ok(())
        })
    }

    /// Length of the live image; never faulted.
    fn len(&self) -> io::Result<u64> {
        let ino = self.ino;
        self.with(|s| Ok(s.inode(ino)?.live.len() as u64))
    }
}

/// An exclusive lock of a [`SimFs`]; released on drop unless a crash came first.
#[derive(Debug)]
struct SimLock {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    token: u64,
}

impl FsLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut s = self.state.lock();
        if s.locks.get(&self.path) == Some(&self.token) {
            s.locks.remove(&self.path);
        }
    }
}

impl SimFs {
    fn handle(&self, s: &State, path: &Path, ino: u64, writable: bool) -> Arc<dyn StoreFile> {
        Arc::new(SimFile {
            state: Arc::clone(&self.state),
            path: path.to_path_buf(),
            ino,
            boot: s.boot,
            writable,
        })
    }
}

impl StoreFs for SimFs {
    /// Creates the directory and its parents; they are durable at once.
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        for p in path.ancestors() {
            if s.live_ns.contains_key(p) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is a file", p.display()),
                ));
            }
            if !p.as_os_str().is_empty() {
                s.dirs.insert(p.to_path_buf());
            }
        }
        Ok(())
    }

    /// Names of the live files and directories directly inside `path`, sorted.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let s = self.state.lock();
        if !s.dirs.contains(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let mut names: Vec<String> = s
            .live_ns
            .keys()
            .chain(s.dirs.iter())
            .filter(|p| p.parent() == Some(path))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Opens a live file. `CreateNew` counts as a create (fault `FailCreate`)
    /// and adds a live, not yet durable, directory entry.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StoreFile>> {
        let mut s = self.state.lock();
        match mode {
            OpenMode::Read | OpenMode::ReadWrite => {
                s.counters.opens += 1;
                if s.dirs.contains(path) {
                    return Err(io::Error::new(
                        io::ErrorKind::IsADirectory,
                        "is a directory",
                    ));
                }
                let ino = *s.live_ns.get(path).ok_or(io::ErrorKind::NotFound)?;
                Ok(self.handle(&s, path, ino, mode == OpenMode::ReadWrite))
            }
            OpenMode::CreateNew => {
                if s.tick(OpClass::Create, path) == Some(FaultKind::FailCreate) {
                    return Err(sim_eio("create"));
                }
                if s.live_ns.contains_key(path) || s.dirs.contains(path) {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                if !s.parent_exists(path) {
                    return Err(io::ErrorKind::NotFound.into());
                }
                let ino = s.next_ino;
                s.next_ino += 1;
                s.inodes.insert(ino, Inode::default());
                s.live_ns.insert(path.to_path_buf(), ino);
                s.pending_ns.push(NsOp::Create {
                    path: path.to_path_buf(),
                    ino,
                });
                Ok(self.handle(&s, path, ino, true))
            }
        }
    }

    /// Moves a live entry, replacing `to`. Fault: `FailRename`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        if s.tick(OpClass::Rename, from) == Some(FaultKind::FailRename) {
            return Err(sim_eio("rename"));
        }
        if !s.parent_exists(to) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let ino = s.live_ns.remove(from).ok_or(io::ErrorKind::NotFound)?;
        s.live_ns.insert(to.to_path_buf(), ino);
        s.pending_ns.push(NsOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            ino,
        });
        Ok(())
    }

    /// Removes a live entry (open handles keep working). Fault: `FailRemove`.
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        if s.tick(OpClass::Remove, path) == Some(FaultKind::FailRemove) {
            return Err(sim_eio("remove"));
        }
        s.live_ns.remove(path).ok_or(io::ErrorKind::NotFound)?;
        s.pending_ns.push(NsOp::Remove {
            path: path.to_path_buf(),
        });
        Ok(())
    }

    /// Makes the live entries directly inside `path` durable. Faults:
    /// `FailSyncDir` (nothing durable), `DropSyncDir` (success, nothing durable).
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        match s.tick(OpClass::SyncDir, path) {
            Some(FaultKind::FailSyncDir) => return Err(sim_eio("directory fsync")),
            Some(FaultKind::DropSyncDir) => return Ok(()),
            _ => {}
        }
        if !s.dirs.contains(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let s = &mut *s;
        s.durable_ns.retain(|p, _| p.parent() != Some(path));
        for (p, &ino) in &s.live_ns {
            if p.parent() == Some(path) {
                s.durable_ns.insert(p.clone(), ino);
            }
        }
        s.pending_ns.retain(|op| !op.within(path));
        Ok(())
    }

    /// Takes an in-memory exclusive lock on `path`, creating the file (live
    /// only) if absent. `Ok(None)` while another lock of this boot holds it.
    fn try_lock_exclusive(&self, path: &Path) -> io::Result<Option<Box<dyn FsLock>>> {
        let mut s = self.state.lock();
        if !s.live_ns.contains_key(path) {
            if !s.parent_exists(path) {
                return Err(io::ErrorKind::NotFound.into());
            }
            let ino = s.next_ino;
            s.next_ino += 1;
            s.inodes.insert(ino, Inode::default());
            s.live_ns.insert(path.to_path_buf(), ino);
            s.pending_ns.push(NsOp::Create {
                path: path.to_path_buf(),
                ino,
            });
        }
        if s.locks.contains_key(path) {
            return Ok(None);
        }
        let token = s.next_lock;
        s.next_lock += 1;
        s.locks.insert(path.to_path_buf(), token);
        Ok(Some(Box::new(SimLock {
            state: Arc::clone(&self.state),
            path: path.to_path_buf(),
            token,
        })))
    }

    /// Gives the inode of the live file `original` a second live name,
    /// `link`, which becomes durable like a creation (at `sync_dir` of its
    /// directory). Both names then read and write the same images. Counts as
    /// a create (fault `FailCreate`: no entry is made).
    fn hard_link(&self, original: &Path, link: &Path) -> io::Result<()> {
        let mut s = self.state.lock();
        if s.tick(OpClass::Create, link) == Some(FaultKind::FailCreate) {
            return Err(sim_eio("link"));
        }
        let ino = *s.live_ns.get(original).ok_or(io::ErrorKind::NotFound)?;
        if s.live_ns.contains_key(link) || s.dirs.contains(link) {
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        if !s.parent_exists(link) {
            return Err(io::ErrorKind::NotFound.into());
        }
        s.live_ns.insert(link.to_path_buf(), ino);
        s.pending_ns.push(NsOp::Create {
            path: link.to_path_buf(),
            ino,
        });
        Ok(())
    }

    /// True if a live file or a directory is at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool> {
        let s = self.state.lock();
        Ok(s.live_ns.contains_key(path) || s.dirs.contains(path))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from("/d")
    }

    fn disk(plan: FaultPlan) -> SimFs {
        let fs = SimFs::with_plan(plan);
        fs.create_dir_all(&dir()).unwrap();
        fs
    }

    #[test]
    fn unsynced_data_and_entries_are_lost_in_a_clean_crash() {
        let fs = disk(FaultPlan::none(1));
        let a = dir().join("a");
        let f = fs.open(&a, OpenMode::CreateNew).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        fs.crash();
        assert!(!fs.exists(&a).unwrap(), "entry was never dir-synced");

        let f = fs.open(&a, OpenMode::CreateNew).unwrap();
        f.write_all_at(b"hello", 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&dir()).unwrap();
        f.write_all_at(b" world", 5).unwrap();
        fs.crash();
        assert_eq!(fs.read_live(&a).unwrap(), b"hello");
        assert!(
            f.write_all_at(b"x", 0).is_err(),
            "old handles are dead after a crash"
        );
    }

    #[test]
    fn rename_is_durable_only_after_sync_dir() {
        let fs = disk(FaultPlan::none(2));
        let (a, b) = (dir().join("a"), dir().join("b"));
        let f = fs.open(&a, OpenMode::CreateNew).unwrap();
        f.write_all_at(b"1", 0).unwrap();
        f.sync_all().unwrap();
        fs.sync_dir(&dir()).unwrap();
        fs.rename(&a, &b).unwrap();
        fs.crash();
        assert!(fs.exists(&a).unwrap() && !fs.exists(&b).unwrap());
        fs.rename(&a, &b).unwrap();
        fs.sync_dir(&dir()).unwrap();
        fs.crash();
        assert!(!fs.exists(&a).unwrap() && fs.exists(&b).unwrap());
        assert_eq!(fs.list_dir(&dir()).unwrap(), vec!["b".to_owned()]);
    }

    #[test]
    fn scheduled_faults_fire_on_their_operation() {
        let plan = FaultPlan::none(3)
            .with_fault(FaultKind::FailWrite, 2)
            .with_fault(FaultKind::DropSync, 1);
        let fs = disk(plan);
        let f = fs.open(&dir().join("a"), OpenMode::CreateNew).unwrap();
        f.write_all_at(b"ab", 0).unwrap();
        assert!(f.write_all_at(b"cd", 2).is_err());
        assert_eq!(f.len().unwrap(), 2);
        f.sync_data().unwrap();
        assert_eq!(
            fs.file_lens(&dir().join("a")),
            Some((2, 0)),
            "dropped sync kept nothing"
        );
        assert_eq!(fs.fired().len(), 2);
        let torn = fs.arm(FaultKind::TornWrite, 1);
        assert_eq!(torn.nth, 3);
        assert!(f.write_all_at(b"0123456789", 2).is_err());
        assert!(f.len().unwrap() < 12);
    }

    #[test]
    fn a_failed_fsync_loses_its_pages_even_if_a_later_fsync_succeeds() {
        let fs = disk(FaultPlan::none(8).with_fault(FaultKind::FailSync, 2));
        let a = dir().join("a");
        let f = fs.open(&a, OpenMode::CreateNew).unwrap();
        f.write_all_at(&[1; 10], 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&dir()).unwrap();
        f.write_all_at(&[2; 10], 10).unwrap();
        assert!(f.sync_data().is_err());
        f.sync_data().unwrap();
        fs.crash();
        let after = fs.read_live(&a).unwrap();
        assert_eq!(&after[..10], &[1; 10]);
        assert_eq!(
            &after[10..],
            &[0; 10],
            "the retried fsync did not write the lost page"
        );

        let f = fs.open(&a, OpenMode::ReadWrite).unwrap();
        f.write_all_at(&[3; 10], 10).unwrap();
        f.sync_data().unwrap();
        fs.crash();
        assert_eq!(
            &fs.read_live(&a).unwrap()[10..],
            &[3; 10],
            "rewriting the page dirties it again"
        );
    }

    #[test]
    fn disk_budget_lands_what_fits() {
        let fs = disk(FaultPlan::none(4).with_disk_budget(10));
        let f = fs.open(&dir().join("a"), OpenMode::CreateNew).unwrap();
        let err = f.write_all_at(&[1; 16], 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(f.len().unwrap(), 10);
        f.write_all_at(&[2; 4], 0).unwrap();
        fs.heal();
        f.write_all_at(&[3; 16], 10).unwrap();
    }

    #[test]
    fn short_reads_still_read_everything_with_read_exact_at() {
        let fs = disk(FaultPlan::none(5).with_short_reads(true));
        let f = fs.open(&dir().join("a"), OpenMode::CreateNew).unwrap();
        let data: Vec<u8> = (0..=255).collect();
        f.write_all_at(&data, 0).unwrap();
        let mut one = vec![0; 256];
        let n = f.read_at(&mut one, 0).unwrap();
        assert!((1..=256).contains(&n));
        let mut all = vec![0; 256];
        f.read_exact_at(&mut all, 0).unwrap();
        assert_eq!(all, data);
    }

    #[test]
    fn a_hard_link_shares_the_inode_and_is_durable_only_after_sync_dir() {
        let fs = disk(FaultPlan::none(9));
        let (a, b) = (dir().join("a"), dir().join("b"));
        let f = fs.open(&a, OpenMode::CreateNew).unwrap();
        f.write_all_at(b"one", 0).unwrap();
        f.sync_all().unwrap();
        fs.sync_dir(&dir()).unwrap();
        fs.hard_link(&a, &b).unwrap();
        assert_eq!(
            fs.hard_link(&a, &b).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        fs.open(&b, OpenMode::ReadWrite)
            .unwrap()
            .write_all_at(b"two", 0)
            .unwrap();
        assert_eq!(fs.read_live(&a).unwrap(), b"two", "one inode, two names");
        fs.crash();
        assert!(!fs.exists(&b).unwrap(), "the link was never dir-synced");
        assert_eq!(
            fs.read_live(&a).unwrap(),
            b"one",
            "the write was never synced"
        );
        fs.hard_link(&a, &b).unwrap();
        fs.sync_dir(&dir()).unwrap();
        fs.crash();
        assert_eq!(fs.read_live(&b).unwrap(), b"one");
        assert_eq!(fs.counters().creates, 4, "a link counts as a create");
        fs.arm(FaultKind::FailCreate, 1);
        let c = dir().join("c");
        assert!(fs.hard_link(&a, &c).is_err());
        assert!(!fs.exists(&c).unwrap(), "a failed link makes no entry");
    }

    #[test]
    fn locks_are_exclusive_and_released_on_drop_or_crash() {
        let fs = disk(FaultPlan::none(6));
        let p = dir().join("LOCK");
        let l = fs.try_lock_exclusive(&p).unwrap().unwrap();
        assert!(fs.try_lock_exclusive(&p).unwrap().is_none());
        drop(l);
        let l = fs.try_lock_exclusive(&p).unwrap().unwrap();
        fs.crash();
        let l2 = fs.try_lock_exclusive(&p).unwrap().unwrap();
        drop(l);
        assert!(
            fs.try_lock_exclusive(&p).unwrap().is_none(),
            "a stale drop must not free the new lock"
        );
        drop(l2);
    }

    #[test]
    fn torn_crash_keeps_a_prefix_of_the_unsynced_tail() {
        for seed in 0..64 {
            let fs = disk(FaultPlan::none(seed).with_torn_crash(true));
            let a = dir().join("a");
            let f = fs.open(&a, OpenMode::CreateNew).unwrap();
            f.write_all_at(b"durable|", 0).unwrap();
            f.sync_data().unwrap();
            fs.sync_dir(&dir()).unwrap();
            f.write_all_at(b"unsynced", 8).unwrap();
            fs.crash();
            let after = fs.read_live(&a).unwrap();
            assert!(after.starts_with(b"durable|"), "seed {seed}");
            let tail = &after[8..];
            let prefix = b"unsynced"
                .iter()
                .zip(tail)
                .take_while(|(x, y)| x == y)
                .count();
            assert!(
                tail[prefix..].iter().all(|&b| b == 0),
                "seed {seed}: {after:?}"
            );
        }
    }

    #[test]
    fn a_tear_inside_preallocated_space_keeps_the_durable_bytes_after_it() {
        let fs = disk(FaultPlan::none(9));
        let a = dir().join("a");
        let f = fs.open(&a, OpenMode::CreateNew).unwrap();
        f.write_all_at(&[0; 16], 0).unwrap();
        f.sync_data().unwrap();
        fs.sync_dir(&dir()).unwrap();
        f.write_all_at(&[7; 6], 4).unwrap();
        let report = fs.crash_with(|_, unsynced| {
            assert_eq!(unsynced, 6);
            2
        });
        assert_eq!(report.torn.len(), 1);
        let mut expected = vec![0u8; 16];
        expected[4..6].fill(7);
        assert_eq!(fs.read_live(&a).unwrap(), expected);

        // A truncation that did not reach the disk leaves the old bytes whole.
        let f = fs.open(&a, OpenMode::ReadWrite).unwrap();
        f.write_all_at(&[9; 16], 0).unwrap();
        f.sync_data().unwrap();
        f.set_len(4).unwrap();
        fs.crash_with(|_, unsynced| unsynced / 2);
        assert_eq!(fs.read_live(&a).unwrap(), vec![9; 16]);
    }

    #[test]
    fn plans_print_their_seed_and_schedule() {
        let p = FaultPlan::none(42)
            .with_fault(FaultKind::FailSync, 3)
            .with_disk_budget(100);
        assert_eq!(
            p.to_string(),
            "seed=42 faults=[fsync#3 fail] disk_budget=100 short_reads=false crash=clean"
        );
        assert_eq!(FaultPlan::random(9), FaultPlan::random(9));
        assert!(FaultPlan::random(9)
            .faults
            .iter()
            .all(|f| !f.kind.is_silent()));
    }
}
