//! Proofs from the store's Merkle tree: inclusion of one event, consistency
//! of two sizes, and roots. Each proof is checked against the tree's root
//! before it is returned, and an inclusion proof's leaf against the event's
//! frame, so damaged tree files fail here with an error naming the leaf or
//! size, never with a proof that cannot verify.

use proofbat::{leaf_hash, Hash};

use crate::engine::Shared;
use crate::error::StoreError;
use crate::format::TREE_DIR;
use crate::head::{ConsistencyProof, HeadVerification, InclusionProof};
use crate::id::EventId;

/// Events the tree covers for readers: the visible log.
pub(crate) fn tree_size(shared: &Shared) -> u64 {
    shared.index.read().next_global_sequence()
}

fn check_size(shared: &Shared, requested: u64) -> Result<(), StoreError> {
    let size = tree_size(shared);
    if requested > size {
        return Err(StoreError::TreeSizeOutOfRange { requested, size });
    }
    Ok(())
}

fn damaged(shared: &Shared, reason: String) -> StoreError {
    StoreError::TreeCorrupt {
        path: shared.cfg.dir.join(TREE_DIR),
        reason,
    }
}

/// The root of the tree of the first `size` events.
pub(crate) fn tree_root(shared: &Shared, size: u64) -> Result<Hash, StoreError> {
    check_size(shared, size)?;
    shared.evidence.caught_up(size)?;
    shared.evidence.tree.read().root_at(size)
}

/// Proof that event `id` is in the tree of the first `tree_size` events.
pub(crate) fn prove_inclusion(
    shared: &Shared,
    id: EventId,
    tree_size: u64,
) -> Result<InclusionProof, StoreError> {
    check_size(shared, tree_size)?;
    let entry = shared
        .entry(id)
        .ok_or(StoreError::NotFound { event_id: id })?;
    let index = entry.global_sequence();
    if index >= tree_size {
        return Err(StoreError::TreeSizeOutOfRange {
            requested: tree_size,
            size: crate::prove::tree_size(shared),
        });
    }
    let stored = shared.read_entry(&entry)?;
    let leaf = leaf_hash(&stored.event.header.event_hash);
    shared.evidence.caught_up(tree_size)?;
    let proof = {
        let tree = shared.evidence.tree.read();
        if tree.leaf(index)? != leaf {
            return Err(damaged(
                shared,
                format!("leaf {index} does not match the event_hash of event {id}"),
            ));
        }
        InclusionProof {
            leaf_index: index,
            tree_size,
            leaf_hash: leaf,
            root_hash: tree.root_at(tree_size)?,
            audit_path: proofbat::inclusion_proof(&*tree, index, tree_size)?,
        }
    };
    proof.verify().map_err(|e| {
        damaged(
            shared,
            format!("the proof of leaf {index} at size {tree_size} does not reach the root: {e}"),
        )
    })?;
    Ok(proof)
}

/// Proof that the tree of `old_size` events is a prefix of the tree of
/// `new_size` events.
pub(crate) fn prove_consistency(
    shared: &Shared,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, StoreError> {
    check_size(shared, new_size)?;
    if old_size > new_size {
        return Err(StoreError::TreeSizeOutOfRange {
            requested: old_size,
            size: new_size,
        });
    }
    shared.evidence.caught_up(new_size)?;
    let proof = {
        let tree = shared.evidence.tree.read();
        ConsistencyProof {
            old_size,
            new_size,
            old_root: tree.root_at(old_size)?,
            new_root: tree.root_at(new_size)?,
            proof: proofbat::consistency_proof(&*tree, old_size, new_size)?,
        }
    };
    proof.verify().map_err(|e| {
        damaged(
            shared,
            format!("the consistency proof from {old_size} to {new_size} does not verify: {e}"),
        )
    })?;
    Ok(proof)
}

/// Events between two progress calls of [`verify_against_head`].
const PROGRESS_EVERY: u64 = 1 << 16;

/// Recomputes every leaf from its frame and the root at the head's size;
/// `progress(done, total)` is called every few tens of thousands of events.
pub(crate) fn verify_against_head(
    shared: &Shared,
    head: &proofbat::Checkpoint,
    mut progress: impl FnMut(u64, u64),
) -> Result<HeadVerification, StoreError> {
    let n = tree_size(shared);
    shared.evidence.caught_up(n)?;
    let mut tree = proofbat::Tree::new();
    let mut out = HeadVerification {
        log_size: n,
        head_size: head.size(),
        log_root_at_head: (head.size() == 0).then(proofbat::empty_root),
        first_tree_mismatch: None,
        retired_leaves: 0,
    };
    for i in 0..n {
        let retired = shared.index.read().is_retired(i)?;
        let leaf = if retired {
            out.retired_leaves += 1;
            shared.evidence.tree.read().leaf(i)?
        } else {
            crate::notary::leaf_at(shared, i)?
        };
        if out.first_tree_mismatch.is_none() {
            let stored = shared.evidence.tree.read().leaf(i);
            if stored.ok() != Some(leaf) {
                out.first_tree_mismatch = Some(i);
            }
        }
        tree.push(leaf)?;
        if tree.size() == head.size() {
            out.log_root_at_head = Some(tree.root());
        }
        if (i + 1) % PROGRESS_EVERY == 0 {
            progress(i + 1, n);
        }
    }
    progress(n, n);
    Ok(out)
}
