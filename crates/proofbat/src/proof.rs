//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4).
//!
//! Generation reads perfect subtrees from a [`SubtreeSource`], so a store can
//! answer from interior hashes it keeps instead of from every leaf; a slice of
//! leaf hashes is the reference source. Verification needs nothing but the
//! proof, the sizes and the roots, and refuses a proof of the wrong length
//! before hashing anything.

use crate::hash::{empty_root, node_hash, split_point, Hash};

/// The most hashes an inclusion proof over a `u64`-sized tree can need: the
/// tree's height. A longer proof is refused before any other check.
pub const MAX_INCLUSION_HASHES: usize = 64;

/// The most hashes a consistency proof over `u64`-sized trees can need: the
/// height plus the root of the old tree's rightmost perfect subtree (e.g.
/// from 3 leaves to `u64::MAX`). A longer proof is refused before any other
/// check.
pub const MAX_CONSISTENCY_HASHES: usize = 65;

/// Why a tree operation, a proof generation or a proof verification failed.
///
/// Every variant but [`SubtreeUnavailable`](Self::SubtreeUnavailable) and
/// [`TreeFull`](Self::TreeFull) describes input from the other side (a proof,
/// a size, a root or a serialized edge) that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The proof holds more hashes than any tree of `u64` size needs.
    #[error("proof of {len} hashes is longer than the maximum of {max}")]
    TooLong {
        /// Hashes in the proof.
        len: usize,
        /// [`MAX_INCLUSION_HASHES`] or [`MAX_CONSISTENCY_HASHES`].
        max: usize,
    },
    /// The proof length does not match the one its sizes determine.
    #[error("proof of {actual} hashes, but these sizes need exactly {expected}")]
    WrongLength {
        /// The length the sizes determine.
        expected: usize,
        /// Hashes in the proof.
        actual: usize,
    },
    /// A leaf index at or beyond the tree size.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    OldLargerThanNew {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// An inclusion proof that leads to another root than the one given.
    #[error("the proof does not lead to the given root")]
    RootMismatch,
    /// A consistency proof that does not lead to the given old root.
    #[error("the proof does not lead to the given old root")]
    OldRootMismatch,
    /// A consistency proof that does not lead to the given new root.
    #[error("the proof does not lead to the given new root")]
    NewRootMismatch,
    /// The source cannot supply a subtree (the caller asked for a size beyond
    /// the leaves it holds).
    #[error("subtree of 2^{level} leaves at {start} is not available")]
    SubtreeUnavailable {
        /// First leaf of the subtree.
        start: u64,
        /// Height of the subtree: it covers `2^level` leaves.
        level: u32,
    },
    /// A tree edge without exactly one hash per set bit of its size.
    #[error("a tree of {size} leaves has {expected} edge hashes, not {actual}")]
    EdgeLength {
        /// The tree size.
        size: u64,
        /// `popcount(size)`.
        expected: usize,
        /// Hashes given.
        actual: usize,
    },
    /// A serialized edge of the wrong length for the size it begins with.
    #[error("a serialized tree edge of {len} bytes is malformed")]
    EdgeBytes {
        /// Bytes given.
        len: usize,
    },
    /// The tree already holds `u64::MAX` leaves.
    #[error("the tree is full")]
    TreeFull,
}

/// Supplies the roots of perfect subtrees: the leaves `[start, start + 2^level)`
/// with `start` a multiple of `2^level`. Level 0 is a leaf hash.
///
/// Proof generation only ever asks for such aligned, perfect subtrees, so a
/// store that keeps them (or can rebuild them) answers without reading leaves.
///
/// ```
/// use proofbat::{leaf_hash, node_hash, Hash, SubtreeSource};
/// let leaves: Vec<Hash> = (0u8..4).map(|i| leaf_hash(&[i; 32])).collect();
/// assert_eq!(leaves[..].subtree(2, 1)?, node_hash(&leaves[2], &leaves[3]));
/// # Ok::<(), proofbat::ProofError>(())
/// ```
pub trait SubtreeSource {
    /// The source's error; a generator reports its own refusals through it.
    type Error: From<ProofError>;

    /// The root of the perfect subtree of `2^level` leaves starting at `start`.
    fn subtree(&self, start: u64, level: u32) -> Result<Hash, Self::Error>;
}

/// The reference source: every subtree is hashed from the leaves, so one
/// proof costs O(n) hashes. Asking beyond the slice is
/// [`ProofError::SubtreeUnavailable`].
impl SubtreeSource for [Hash] {
    type Error = ProofError;

    fn subtree(&self, start: u64, level: u32) -> Result<Hash, ProofError> {
        let unavailable = ProofError::SubtreeUnavailable { start, level };
        let width = 1u64.checked_shl(level).ok_or(unavailable.clone())?;
        let end = start.checked_add(width).ok_or(unavailable.clone())?;
        let (Ok(from), Ok(to)) = (usize::try_from(start), usize::try_from(end)) else {
            return Err(unavailable);
        };
        let leaves = self.get(from..to).ok_or(unavailable)?;
        Ok(perfect_root(leaves))
    }
}

/// The root of a perfect (power-of-two, non-empty) run of leaves.
fn perfect_root(leaves: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

/// The root of the `len` leaves starting at `start`, where `start` is a
/// multiple of the smallest power of two at least `len` (true of every range
/// the RFC's recursion visits). The range is the perfect subtrees of the
/// binary decomposition of `len`, largest first, folded from the right.
fn range_root<S: SubtreeSource + ?Sized>(
    source: &S,
    start: u64,
    len: u64,
) -> Result<Hash, S::Error> {
    if len == 0 {
        return Ok(empty_root());
    }
    let mut parts = Vec::with_capacity(len.count_ones() as usize);
    let mut at = start;
    for level in (0..64u32).rev() {
        if len & (1 << level) != 0 {
            parts.push(source.subtree(at, level)?);
            at += 1 << level;
        }
    }
    let mut parts = parts.into_iter().rev();
    let last = parts.next().unwrap_or_else(empty_root);
    Ok(parts.fold(last, |right, left| node_hash(&left, &right)))
}

/// The tree root over the first `size` leaves of `source`.
///
/// ```
/// use proofbat::{leaf_hash, root_at, root_of, Hash};
/// let leaves: Vec<Hash> = (0u8..7).map(|i| leaf_hash(&[i; 32])).collect();
/// assert_eq!(root_at(&leaves[..], 5)?, root_of(&leaves[..5]));
/// # Ok::<(), proofbat::ProofError>(())
/// ```
pub fn root_at<S: SubtreeSource + ?Sized>(source: &S, size: u64) -> Result<Hash, S::Error> {
    range_root(source, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of the first `size`
/// leaves (RFC 9162 §2.1.3.1, `PATH(index, D[size])`): sibling hashes from the
/// leaf up to the root.
///
/// ```
/// use proofbat::{inclusion_proof, leaf_hash, root_of, verify_inclusion, Hash};
/// let leaves: Vec<Hash> = (0u8..6).map(|i| leaf_hash(&[i; 32])).collect();
/// let proof = inclusion_proof(&leaves[..], 4, 6)?;
/// verify_inclusion(&leaves[4], 4, 6, &proof, &root_of(&leaves))?;
/// # Ok::<(), proofbat::ProofError>(())
/// ```
pub fn inclusion_proof<S: SubtreeSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    // Walk down from the root, keeping the sibling at each split; the proof
    // lists them bottom up.
    let mut proof = Vec::new();
    let (mut start, mut len, mut m) = (0u64, size, index);
    while len > 1 {
        let k = split_point(len);
        if m < k {
            proof.push(range_root(source, start + k, len - k)?);
            len = k;
        } else {
            proof.push(range_root(source, start, k)?);
            start += k;
            m -= k;
            len -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The consistency proof from the tree of the first `old_size` leaves to the
/// tree of the first `new_size` (RFC 9162 §2.1.4.1, `PROOF(old, D[new])`).
/// It is empty when `old_size` is 0 or equal to `new_size`.
///
/// ```
/// use proofbat::{consistency_proof, leaf_hash, root_of, verify_consistency, Hash};
/// let leaves: Vec<Hash> = (0u8..7).map(|i| leaf_hash(&[i; 32])).collect();
/// let proof = consistency_proof(&leaves[..], 3, 7)?;
/// verify_consistency(3, 7, &root_of(&leaves[..3]), &root_of(&leaves), &proof)?;
/// # Ok::<(), proofbat::ProofError>(())
/// ```
pub fn consistency_proof<S: SubtreeSource + ?Sized>(
    source: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, S::Error> {
    if old_size > new_size {
        return Err(ProofError::OldLargerThanNew {
            old: old_size,
            new: new_size,
        }
        .into());
    }
    let mut proof = Vec::new();
    if old_size == 0 || old_size == new_size {
        return Ok(proof);
    }
    // SUBPROOF(m, D[start..start+len], whole): `whole` stays true while the
    // old tree is a left part of the current range, whose root the verifier
    // already holds.
    let (mut start, mut len, mut m, mut whole) = (0u64, new_size, old_size, true);
    loop {
        if m == len {
            if !whole {
                proof.push(range_root(source, start, len)?);
            }
            break;
        }
        let k = split_point(len);
        if m <= k {
            proof.push(range_root(source, start + k, len - k)?);
            len = k;
        } else {
            proof.push(range_root(source, start, k)?);
            start += k;
            m -= k;
            len -= k;
            whole = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The number of hashes in the inclusion proof of `index` in a tree of `size`
/// leaves (`index < size`): one per level below the point where the paths to
/// `index` and to the last leaf part, plus one per left sibling above it.
fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The number of hashes in the consistency proof from `old` to `new`
/// (`0 < old < new`).
fn consistency_len(old: u64, new: u64) -> usize {
    // The proof is the inclusion path of the old tree's last leaf, without
    // the levels inside the old tree's rightmost perfect subtree, plus that
    // subtree's root unless the old tree is perfect (the verifier has it).
    let shift = old.trailing_zeros() as usize;
    let seed = usize::from(!old.is_power_of_two());
    inclusion_len(old - 1, new) - shift + seed
}

/// Refuses a proof over `max` hashes, the first check of every verifier.
fn check_max(proof: &[Hash], max: usize) -> Result<(), ProofError> {
    if proof.len() > max {
        return Err(ProofError::TooLong {
            len: proof.len(),
            max,
        });
    }
    Ok(())
}

/// Refuses a proof of another length than `expected`, before any hashing.
fn check_len(proof: &[Hash], expected: usize) -> Result<(), ProofError> {
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            actual: proof.len(),
        });
    }
    Ok(())
}

/// Verifies that `leaf` (a leaf hash) is leaf `index` of the tree of `size`
/// leaves with root `root` (RFC 9162 §2.1.3.2).
///
/// A proof longer than [`MAX_INCLUSION_HASHES`] is [`ProofError::TooLong`] and a
/// proof of any other length than `size` and `index` determine is
/// [`ProofError::WrongLength`], both before any hashing.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    check_max(proof, MAX_INCLUSION_HASHES)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    check_len(proof, inclusion_len(index, size))?;
    // RFC 9162 §2.1.3.2 steps 2 to 5, shortened where the length check
    // already decides. With the length fixed by the sizes, `snode` reaches 0
    // exactly with the last hash, so the checks of it (4a and 5) cannot fail.
    // And once `fnode == snode` (the path has joined the right border) equal
    // shifts keep them equal, so every later hash is a left sibling whatever
    // the parity: the RFC's climb in 4b, which only moves `snode` for those
    // checks, changes nothing and is left out.
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. From size 0 the proof is
/// empty and `old_root` must be the empty tree's root; every tree extends the
/// empty one. A proof longer than [`MAX_CONSISTENCY_HASHES`] is
/// [`ProofError::TooLong`] and one of another length than the sizes
/// determine is [`ProofError::WrongLength`], both before any hashing.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    check_max(proof, MAX_CONSISTENCY_HASHES)?;
    if old_size > new_size {
        return Err(ProofError::OldLargerThanNew {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        check_len(proof, 0)?;
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::NewRootMismatch)
        };
    }
    if old_size == 0 {
        check_len(proof, 0)?;
        return if *old_root == empty_root() {
            Ok(())
        } else {
            Err(ProofError::OldRootMismatch)
        };
    }
    check_len(proof, consistency_len(old_size, new_size))?;

    // A perfect old tree is its own rightmost subtree: the verifier already
    // holds that node, so the proof starts one hash later (step 2).
    let seeded;
    let path: &[Hash] = if old_size.is_power_of_two() {
        seeded = [std::slice::from_ref(old_root), proof].concat();
        &seeded
    } else {
        proof
    };
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength {
            expected: consistency_len(old_size, new_size),
            actual: 0,
        });
    };
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Steps 5 to 7, shortened as in `verify_inclusion`: the fixed length
    // makes the checks of `snode` (6a, 7) unnecessary, and the climb of 6b.iii
    // changes nothing once `fnode == snode`.
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
