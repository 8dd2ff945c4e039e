//! The work on the evidence that needs the engine: at open,
//! [`open_evidence`] brings the tree level with the recovered log, checks
//! every binding head against it and reports a log shorter than a head as
//! lost history; the writer calls [`push_leaves`] as it publishes and
//! [`record_head`] at each seal, at close, at an interval and on demand.

use std::sync::Arc;

use proofbat::{leaf_hash, Checkpoint, Hash, VerifyingKey};

use crate::config::TailPolicy;
use crate::engine::{read_entry, Shared};
use crate::error::StoreError;
use crate::evidence::{binding, head_of, latest_head, LoadedHeads};
use crate::format::{HeadKind, HeadRecord, HEADS_FILE};
use crate::head::TreeHead;
use crate::id::now_ms;
use crate::merkle::MerkleTree;
use crate::recovery::HistoryLoss;

/// Leaves read from the log between two progress lines when the tree is
/// built at open.
const PROGRESS_EVERY: u64 = 1 << 20;

/// Brings the tree level with the recovered log, checks the heads against
/// it, and handles a log shorter than a head (see the module docs).
pub(crate) fn open_evidence(shared: &Shared, loaded: LoadedHeads) -> Result<(), StoreError> {
    let cfg = &shared.cfg;
    let writable = shared.writable;
    let n = shared.index.read().next_global_sequence();
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
    let entry = shared.index.read().entry_at(i)?;
    let entry = entry.ok_or_else(|| {
        let size = shared.index.read().next_global_sequence();
        if i < size {
            // Only the tree files hold it: the frame is gone.
            StoreError::TreeCorrupt {
                path: shared.cfg.dir.join(crate::format::TREE_DIR),
                reason: format!(
                    "leaf {i} is needed from the log, but a retention compaction removed its event"
                ),
            }
        } else {
            StoreError::TreeSizeOutOfRange {
                requested: i + 1,
                size,
            }
        }
    })?;
    Ok(leaf_hash(
        &read_entry(shared, &entry)?.event.header.event_hash,
    ))
}

/// Events pending for the tree before the writer wakes the tree thread.
pub(crate) const WAKE_TREE_AT: usize = 1024;

/// Starts the thread that grows a writer's tree off the commit path: each
/// wake (the writer's, once [`WAKE_TREE_AT`] events wait) hashes every
/// pending event in. It ends when the writer drops the sender.
pub(crate) fn spawn_tree_thread(
    shared: Arc<Shared>,
) -> Result<(flume::Sender<()>, std::thread::JoinHandle<()>), StoreError> {
    let (tx, rx) = flume::bounded::<()>(1);
    let dir = shared.cfg.dir.clone();
    let handle = std::thread::Builder::new()
        .name("batpak-tree".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                shared.evidence.catch_up();
            }
        })
        .map_err(|e| StoreError::io("spawn tree thread", dir, e))?;
    Ok((tx, handle))
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
        // Unsigned: the checkpoint text itself, so the origin is kept.
        note: note.clone().unwrap_or_else(|| checkpoint.body()),
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
