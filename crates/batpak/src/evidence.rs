//! Whole-log evidence as an open store holds it: the Merkle tree and the
//! heads file that pins what the log has committed, with the rule of which
//! heads bind. [`load_heads`] runs before recovery (the last binding head's
//! size is the floor recovery may not cut below); `crate::notary` does the
//! work that needs the engine (checking at open, recording heads).

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use proofbat::{leaf_hash, Checkpoint, Hash};

use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::format::{
    decode_heads, encode_head_record, encode_heads_header, HeadKind, HeadRecord, HEADS_FILE,
    HEADS_HEADER_LEN,
};
use crate::fs::{OpenMode, StoreFile};
use crate::head::TreeHead;
use crate::merkle::{MerkleTree, WRITE_OUT_EVERY};

/// The longest heads file read at open (a million heads is about 200 MiB).
const MAX_HEADS_FILE: u64 = 1 << 30;

/// The tree and the heads file of an open store.
#[derive(Debug)]
pub(crate) struct Evidence {
    pub(crate) tree: RwLock<MerkleTree>,
    pub(crate) heads: Mutex<Heads>,
    /// The checkpoints' origin line.
    pub(crate) origin: String,
    /// Event hashes published to readers and not yet in the tree: the
    /// writer only appends here, and whoever needs the tree next (the tree
    /// thread, a proof, a head) hashes them in.
    pending: Mutex<Vec<[u8; 32]>>,
}

impl Evidence {
    /// No tree and no heads yet; [`open_evidence`] fills them.
    pub(crate) fn empty(cfg: &StoreConfig, writable: bool) -> Self {
        Self {
            tree: RwLock::new(MerkleTree::empty(cfg.fs.clone(), &cfg.dir, writable)),
            heads: Mutex::new(Heads::empty(cfg)),
            origin: cfg.log_origin(),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Adds the event hashes of a published group (the writer, in commit
    /// order, before it makes them visible); returns how many it added and
    /// how many now wait.
    pub(crate) fn add_pending(&self, event_hashes: impl Iterator<Item = [u8; 32]>) -> (u64, usize) {
        let mut pending = self.pending.lock();
        let before = pending.len();
        pending.extend(event_hashes);
        ((pending.len() - before) as u64, pending.len())
    }

    /// Hashes every pending event into the tree, in order (the tree's lock
    /// is held from taking them to pushing them, so two callers cannot
    /// swap batches). Writing the records out may fail without harm: they
    /// stay in memory, and the next open rebuilds what the files lack.
    pub(crate) fn catch_up(&self) {
        let mut tree = self.tree.write();
        let hashes = std::mem::take(&mut *self.pending.lock());
        if hashes.is_empty() {
            return;
        }
        let leaves: Vec<Hash> = hashes.iter().map(leaf_hash).collect();
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

    /// Brings the tree up to every published event and checks that it
    /// holds at least `size` leaves.
    pub(crate) fn caught_up(&self, size: u64) -> Result<(), StoreError> {
        self.catch_up();
        let have = self.tree.read().size();
        if have < size {
            return Err(StoreError::TreeCorrupt {
                path: PathBuf::from(crate::format::TREE_DIR),
                reason: format!("the tree holds {have} leaves, short of the {size} published"),
            });
        }
        Ok(())
    }
}

/// The heads file, as the store keeps it open.
#[derive(Debug)]
pub(crate) struct Heads {
    path: PathBuf,
    file: Option<Arc<dyn StoreFile>>,
    len: u64,
    /// The newest binding head record.
    pub(crate) latest: Option<HeadRecord>,
    /// The newest loss marker.
    pub(crate) loss: Option<HeadRecord>,
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

    /// The open heads file and its length (what a cut copies), if it exists.
    pub(crate) fn written_file(&self) -> Option<(Arc<dyn StoreFile>, u64)> {
        self.file.as_ref().map(|f| (f.clone(), self.len))
    }

    /// Creates the heads file if it is not open yet.
    pub(crate) fn ensure_file(&mut self, cfg: &StoreConfig) -> Result<(), StoreError> {
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
    pub(crate) fn append(
        &mut self,
        cfg: &StoreConfig,
        record: HeadRecord,
    ) -> Result<(), StoreError> {
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
    pub(crate) heads: Heads,
    /// Every record and its offset.
    pub(crate) records: Vec<(u64, HeadRecord)>,
    pub(crate) torn_bytes: u64,
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
pub(crate) fn binding(records: &[(u64, HeadRecord)]) -> Vec<&(u64, HeadRecord)> {
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
pub(crate) fn latest_head(binding: &[&(u64, HeadRecord)], max: u64) -> Option<HeadRecord> {
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

/// The head a record describes.
pub(crate) fn head_of(r: &HeadRecord, origin: &str) -> Option<TreeHead> {
    let signed = r.key != [0; 32];
    let checkpoint = if r.note.is_empty() {
        Checkpoint::new(origin, r.size, r.root).ok()?
    } else if signed {
        let text = r.note.split("\n\n").next()?;
        Checkpoint::parse(&format!("{text}\n")).ok()?
    } else {
        Checkpoint::parse(&r.note).ok()?
    };
    Some(TreeHead {
        checkpoint,
        note: signed.then(|| r.note.clone()),
        public_key: signed.then_some(r.key),
        recorded_ms: r.recorded_ms,
    })
}
