//! Whole-log evidence: the Merkle tree kept level with the log, and the
//! heads file that pins what the log has committed.
//!
//! At open, [`load_heads`] runs before recovery (the last binding head's
//! size is the floor recovery may not cut below), then [`open_evidence`]
//! brings the tree level with the recovered log, checks every binding head
//! against it and reports a log shorter than a head as lost history. The
//! writer calls [`push_leaves`] as it publishes and [`record_head`] at each
//! seal, at close, at an interval and on demand.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use proofbat::{leaf_hash, Checkpoint, Hash, VerifyingKey};

use crate::config::{StoreConfig, TailPolicy};
use crate::engine::{read_entry, Shared};
use crate::error::StoreError;
use crate::format::{
    decode_heads, encode_head_record, encode_heads_header, HeadKind, HeadRecord, HEADS_FILE,
    HEADS_HEADER_LEN,
};
use crate::fs::{OpenMode, StoreFile};
use crate::head::TreeHead;
use crate::merkle::{MerkleTree, WRITE_OUT_EVERY};
use crate::recovery::HistoryLoss;

/// The longest heads file read at open (a million heads is about 200 MiB).
const MAX_HEADS_FILE: u64 = 1 << 30;
/// Leaves read from the log between two progress lines when the tree is
/// built at open.
const PROGRESS_EVERY: u64 = 1 << 20;

/// The tree and the heads file of an open store.
#[derive(Debug)]
pub(crate) struct Evidence {
    pub(crate) tree: RwLock<MerkleTree>,
    pub(crate) heads: Mutex<Heads>,
    /// The checkpoints' origin line.
    pub(crate) origin: String,
}

impl Evidence {
    /// No tree and no heads yet; [`open_evidence`] fills them.
    pub(crate) fn empty(cfg: &StoreConfig, writable: bool) -> Self {
        Self {
            tree: RwLock::new(MerkleTree::empty(cfg.fs.clone(), &cfg.dir, writable)),
            heads: Mutex::new(Heads::empty(cfg)),
            origin: cfg.log_origin(),
        }
    }
}

/// The heads file, as the store keeps it open.
#[derive(Debug)]
pub(crate) struct Heads {
    path: PathBuf,
    file: Option<Arc<dyn StoreFile>>,
    len: u64,
    /// The newest head record.
    latest: Option<HeadRecord>,
    /// The newest loss marker.
    loss: Option<HeadRecord>,
}

impl Heads {
    fn empty(cfg: &StoreConfig) -> Self {
        Self {
            path: cfg.dir.join(HEADS_FILE),
            file: None,
            len: 0,
            latest: None,
            loss: None,
        }
    }

    /// The newest recorded head.
    pub(crate) fn latest(&self, origin: &str) -> Option<TreeHead> {
        self.latest.as_ref().and_then(|r| head_of(r, origin))
    }

    /// Creates the heads file if it is not open yet.
    fn ensure_file(&mut self, cfg: &StoreConfig) -> Result<(), StoreError> {
        let io = |op, e| StoreError::io(op, &self.path, e);
        if self.file.is_none() {
            let exists = cfg.fs.exists(&self.path).map_err(|e| io("stat", e))?;
            if exists {
                // Left by a crash before its header was whole.
                cfg.fs
                    .remove_file(&self.path)
                    .map_err(|e| io("remove", e))?;
            }
            let file = cfg
                .fs
                .open(&self.path, OpenMode::CreateNew)
                .map_err(|e| io("create", e))?;
            file.write_all_at(&encode_heads_header(), 0)
                .and_then(|()| file.sync_data())
                .and_then(|()| cfg.fs.sync_dir(&cfg.dir))
                .map_err(|e| io("create", e))?;
            self.file = Some(file);
            self.len = HEADS_HEADER_LEN as u64;
        }
        Ok(())
    }

    /// Appends a record and makes it durable.
    fn append(&mut self, cfg: &StoreConfig, record: HeadRecord) -> Result<(), StoreError> {
        let bytes = encode_head_record(&record).ok_or_else(|| StoreError::Configuration {
            reason: "the tree head's note is too long for the heads file",
        })?;
        self.ensure_file(cfg)?;
        let io = |op, e| StoreError::io(op, &self.path, e);
        if let Some(file) = &self.file {
            file.write_all_at(&bytes, self.len)
                .and_then(|()| file.sync_data())
                .map_err(|e| io("append to", e))?;
        }
        self.len += bytes.len() as u64;
        match record.kind {
            HeadKind::Head => self.latest = Some(record),
            HeadKind::Loss => self.loss = Some(record),
        }
        Ok(())
    }
}

/// The heads file as read before recovery.
#[derive(Debug)]
pub(crate) struct LoadedHeads {
    heads: Heads,
    /// Every record and its offset.
    records: Vec<(u64, HeadRecord)>,
    torn_bytes: u64,
}

impl LoadedHeads {
    /// Events the binding heads cover: recovery may not cut below it.
    pub(crate) fn committed(&self) -> u64 {
        binding(&self.records)
            .iter()
            .map(|(_, r)| r.size)
            .max()
            .unwrap_or(0)
    }
}

/// The records that still bind the log: every head and marker, except
/// heads that a later loss marker gave up (those larger than its size).
fn binding(records: &[(u64, HeadRecord)]) -> Vec<&(u64, HeadRecord)> {
    let mut cap = u64::MAX;
    let mut out = Vec::with_capacity(records.len());
    for rec in records.iter().rev() {
        if rec.1.size <= cap {
            out.push(rec);
        }
        if rec.1.kind == HeadKind::Loss {
            cap = cap.min(rec.1.size);
        }
    }
    out.reverse();
    out
}

/// The newest binding head of at most `max` events.
fn latest_head(binding: &[&(u64, HeadRecord)], max: u64) -> Option<HeadRecord> {
    binding
        .iter()
        .rev()
        .find(|(_, r)| r.kind == HeadKind::Head && r.size <= max)
        .map(|(_, r)| r.clone())
}

/// Reads the heads file (absent: no heads). A writer cuts a torn last record.
pub(crate) fn load_heads(cfg: &StoreConfig, writable: bool) -> Result<LoadedHeads, StoreError> {
    let mut heads = Heads::empty(cfg);
    let exists = cfg
        .fs
        .exists(&heads.path)
        .map_err(|e| StoreError::io("stat", &heads.path, e))?;
    if !exists {
        return Ok(LoadedHeads {
            heads,
            records: Vec::new(),
            torn_bytes: 0,
        });
    }
    let bytes = crate::fs::read_all(cfg.fs.as_ref(), &heads.path, MAX_HEADS_FILE)
        .map_err(|e| StoreError::io("read", &heads.path, e))?;
    let scan = decode_heads(&bytes).map_err(|e| StoreError::HeadsCorrupt {
        path: heads.path.clone(),
        offset: e.offset().unwrap_or(0),
        reason: e,
    })?;
    if writable && scan.valid_len >= HEADS_HEADER_LEN as u64 {
        let file = cfg
            .fs
            .open(&heads.path, OpenMode::ReadWrite)
            .map_err(|e| StoreError::io("open", &heads.path, e))?;
        if scan.torn_bytes > 0 {
            file.set_len(scan.valid_len)
                .and_then(|()| file.sync_data())
                .map_err(|e| StoreError::io("cut torn record of", &heads.path, e))?;
        }
        heads.file = Some(file);
        heads.len = scan.valid_len;
    }
    for (_, r) in &scan.records {
        if r.kind == HeadKind::Loss {
            heads.loss = Some(r.clone());
        }
    }
    heads.latest = latest_head(&binding(&scan.records), u64::MAX);
    Ok(LoadedHeads {
        heads,
        records: scan.records,
        torn_bytes: scan.torn_bytes,
    })
}

/// Brings the tree level with the recovered log, checks the heads against
/// it, and handles a log shorter than a head (see the module docs).
pub(crate) fn open_evidence(shared: &Shared, loaded: LoadedHeads) -> Result<(), StoreError> {
    let cfg = &shared.cfg;
    let writable = shared.writable;
    let n = shared.index.read().len() as u64;
    let binding_records = binding(&loaded.records);
    let committed = loaded.committed();
    let mut tree = match MerkleTree::open(cfg.fs.clone(), &cfg.dir, writable) {
        Ok(t) => t,
        Err(e @ StoreError::TreeCorrupt { .. }) => {
            tracing::warn!(error = %e, "tree files damaged; rebuilding them from the log");
            shared.report.lock().tree_rebuilt = true;
            if writable {
                MerkleTree::discard(cfg.fs.as_ref(), &cfg.dir)?;
            }
            MerkleTree::empty(cfg.fs.clone(), &cfg.dir, writable)
        }
        Err(e) => return Err(e),
    };
    // Records past the last head were never synced: check them against the log.
    if tree.size() > n {
        tree.truncate(n)?;
    }
    let trusted = committed.min(tree.size());
    let mut good = tree.size();
    for i in trusted..tree.size() {
        if tree.leaf(i)? != leaf_at(shared, i)? {
            good = i;
            break;
        }
    }
    tree.truncate(good)?;
    tree.truncate_upper(trusted.min(good))?;
    let from_log = n - tree.size();
    let mut batch = Vec::with_capacity(4096);
    for i in tree.size()..n {
        batch.push(leaf_at(shared, i)?);
        if batch.len() == batch.capacity() {
            tree.push(&batch)?;
            batch.clear();
        }
        if i > 0 && i % PROGRESS_EVERY == 0 {
            tracing::info!(leaves = i, of = n, "building the Merkle tree from the log");
        }
    }
    tree.push(&batch)?;
    if writable {
        // Created now, so that recording a head never creates a file in
        // the middle of an append (only a new level, rarely, does).
        tree.ensure_first_level()?;
        tree.sync()?;
    }
    // Every binding head must be the tree's root at its size.
    let path = cfg.dir.join(HEADS_FILE);
    let mut checked = 0u64;
    let mut longest: Option<(u64, u64)> = None;
    for (offset, r) in &binding_records {
        if r.size > n {
            if longest.is_none_or(|(_, size)| r.size > size) {
                longest = Some((*offset, r.size));
            }
            continue;
        }
        let note_agrees = r.kind == HeadKind::Loss
            || head_of(r, &shared.evidence.origin)
                .is_some_and(|h| h.size() == r.size && *h.root() == r.root);
        if !note_agrees || tree.root_at(r.size)? != r.root {
            return Err(StoreError::HeadMismatch {
                path,
                offset: *offset,
                size: r.size,
            });
        }
        checked += 1;
    }
    let mut heads = loaded.heads;
    if writable {
        heads.ensure_file(cfg)?;
    }
    let mut report_loss = heads.loss.as_ref().map(|m| HistoryLoss {
        head_size: m.lost_from,
        log_size: m.size,
        found_now: false,
    });
    if let Some((offset, head_size)) = longest {
        if cfg.tail_policy == TailPolicy::FailClosed {
            return Err(StoreError::LogBelowHead {
                path,
                offset,
                head_size,
                log_size: n,
            });
        }
        tracing::error!(
            head_size,
            log_size = n,
            "committed events lost: the log is shorter than a recorded tree head"
        );
        report_loss = Some(HistoryLoss {
            head_size,
            log_size: n,
            found_now: true,
        });
        heads.latest = latest_head(&binding_records, n);
        if writable {
            let marker = HeadRecord {
                kind: HeadKind::Loss,
                size: n,
                root: tree.root_at(n)?,
                recorded_ms: now_ms(),
                lost_from: head_size,
                key: [0; 32],
                note: String::new(),
            };
            heads.append(cfg, marker)?;
        }
    }
    {
        let mut report = shared.report.lock();
        report.heads_checked = checked;
        report.tree_leaves_from_log = from_log;
        report.torn_head_bytes = loaded.torn_bytes;
        report.history_lost = report_loss;
    }
    *shared.evidence.tree.write() = tree;
    *shared.evidence.heads.lock() = heads;
    Ok(())
}

/// The leaf of the event at global sequence `i`, read from its frame.
pub(crate) fn leaf_at(shared: &Shared, i: u64) -> Result<Hash, StoreError> {
    let entry = {
        let index = shared.index.read();
        let pos = usize::try_from(i).unwrap_or(usize::MAX);
        index.entries().get(pos).cloned()
    };
    let entry = entry.ok_or(StoreError::TreeSizeOutOfRange {
        requested: i + 1,
        size: shared.index.read().len() as u64,
    })?;
    Ok(leaf_hash(
        &read_entry(shared, &entry)?.event.header.event_hash,
    ))
}

/// Appends the leaves of newly published events (the writer, before it
/// makes them visible). Writing them out may fail without harm: they stay
/// in memory, and the next open rebuilds what the files lack.
pub(crate) fn push_leaves(shared: &Shared, event_hashes: &[[u8; 32]]) {
    let leaves: Vec<Hash> = event_hashes.iter().map(leaf_hash).collect();
    let mut tree = shared.evidence.tree.write();
    if let Err(e) = tree.push(&leaves) {
        tracing::warn!(error = %e, "could not extend the Merkle tree");
        return;
    }
    if tree.unwritten() >= WRITE_OUT_EVERY {
        if let Err(e) = tree.write_out() {
            tracing::warn!(error = %e, "could not write tree records; they stay in memory");
        }
    }
}

/// Records a head of the whole tree (the writer, after a sync, so the tree
/// covers only durable events). With `require_signature`, a failing signer
/// fails the call; otherwise the head is recorded unsigned, with a warning.
pub(crate) fn record_head(
    shared: &Shared,
    require_signature: bool,
) -> Result<TreeHead, StoreError> {
    let (size, root) = {
        let mut tree = shared.evidence.tree.write();
        tree.sync()?;
        let size = tree.size();
        (size, tree.root_at(size)?)
    };
    let origin = &shared.evidence.origin;
    let checkpoint =
        Checkpoint::new(origin.as_str(), size, root).map_err(|_| StoreError::Configuration {
            reason: "log origin is not a valid checkpoint origin",
        })?;
    let note = match sign(shared, &checkpoint) {
        Ok(note) => note,
        Err(e) if !require_signature => {
            tracing::warn!(error = %e, "tree head recorded unsigned: the signer failed");
            None
        }
        Err(e) => return Err(e),
    };
    let record = HeadRecord {
        kind: HeadKind::Head,
        size,
        root,
        recorded_ms: now_ms(),
        lost_from: 0,
        key: match (&note, &shared.cfg.signer) {
            (Some(_), Some(signer)) => signer.key_id(),
            _ => [0; 32],
        },
        note: note.clone().unwrap_or_default(),
    };
    let public_key = note.as_ref().map(|_| record.key);
    let recorded_ms = record.recorded_ms;
    shared.evidence.heads.lock().append(&shared.cfg, record)?;
    Ok(TreeHead {
        checkpoint,
        note,
        public_key,
        recorded_ms,
    })
}

/// The signed note of a checkpoint, `None` without a signer.
fn sign(shared: &Shared, checkpoint: &Checkpoint) -> Result<Option<String>, StoreError> {
    let Some(signer) = &shared.cfg.signer else {
        return Ok(None);
    };
    let key =
        VerifyingKey::from_bytes(&signer.key_id()).map_err(|e| StoreError::SigningFailed {
            source: Box::new(e),
        })?;
    proofbat::sign_note_with(&checkpoint.body(), checkpoint.origin(), &key, |msg| {
        signer.sign(msg)
    })
    .map(Some)
    .map_err(|e| StoreError::SigningFailed {
        source: e.to_string().into(),
    })
}

/// The head a record describes.
fn head_of(r: &HeadRecord, origin: &str) -> Option<TreeHead> {
    let checkpoint = if r.note.is_empty() {
        Checkpoint::new(origin, r.size, r.root).ok()?
    } else {
        let text = r.note.split("\n\n").next()?;
        Checkpoint::parse(&format!("{text}\n")).ok()?
    };
    let signed = !r.note.is_empty();
    Some(TreeHead {
        checkpoint,
        note: signed.then(|| r.note.clone()),
        public_key: signed.then_some(r.key),
        recorded_ms: r.recorded_ms,
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
