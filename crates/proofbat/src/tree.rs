//! The incremental tree: the right edge (compact range) of an RFC 6962 tree.
//!
//! A tree of `n` leaves is, by its definition, the perfect subtrees of the
//! binary decomposition of `n` (largest first) folded from the right. The edge
//! keeps one hash per set bit of `n`, so appending a leaf and computing the
//! root cost O(log n) and the state is at most 64 hashes.

use crate::hash::{empty_root, node_hash, Hash};
use crate::proof::ProofError;

/// The bytes of a serialized tree size: a big-endian `u64`.
const SIZE_BYTES: usize = 8;
/// The bytes of one edge hash.
const HASH_BYTES: usize = 32;

/// An append-only RFC 6962 tree that keeps only its right edge.
///
/// ```
/// use proofbat::{leaf_hash, root_of, Tree};
///
/// let leaves: Vec<_> = (0u8..5).map(|i| leaf_hash(&[i; 32])).collect();
/// let mut tree = Tree::new();
/// for leaf in &leaves {
///     tree.push(*leaf)?;
/// }
/// assert_eq!(tree.size(), 5);
/// assert_eq!(tree.root(), root_of(&leaves));
///
/// // The edge is what a store persists; rebuilding from it continues the tree.
/// let rebuilt = Tree::from_bytes(&tree.to_bytes())?;
/// assert_eq!(rebuilt, tree);
/// # Ok::<(), proofbat::ProofError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Tree {
    size: u64,
    /// The roots of the perfect subtrees that make up the tree, largest
    /// (leftmost) first: subtree `i` has `2^b` leaves for the `i`-th set bit
    /// `b` of `size`, counted from the top. Invariant: `edge.len() ==
    /// size.count_ones()`.
    edge: Vec<Hash>,
}

impl Tree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a tree from its size and edge (as returned by
    /// [`edge`](Self::edge)). The edge must hold exactly one hash per set bit
    /// of `size`; its hashes cannot be checked without the leaves.
    ///
    /// ```
    /// use proofbat::{leaf_hash, Tree, ProofError};
    /// let mut tree = Tree::new();
    /// tree.push(leaf_hash(&[1; 32]))?;
    /// assert_eq!(Tree::from_edge(1, tree.edge())?, tree);
    /// assert!(matches!(Tree::from_edge(3, tree.edge()), Err(ProofError::EdgeLength { .. })));
    /// # Ok::<(), ProofError>(())
    /// ```
    pub fn from_edge(size: u64, edge: &[Hash]) -> Result<Self, ProofError> {
        let expected = size.count_ones() as usize;
        if edge.len() != expected {
            return Err(ProofError::EdgeLength {
                size,
                expected,
                actual: edge.len(),
            });
        }
        Ok(Self {
            size,
            edge: edge.to_vec(),
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees along the right edge, largest first
    /// (one per set bit of [`size`](Self::size)).
    pub fn edge(&self) -> &[Hash] {
        &self.edge
    }

    /// Appends a leaf hash and returns its index.
    ///
    /// A tree already holding `u64::MAX` leaves refuses with
    /// [`ProofError::TreeFull`].
    pub fn push(&mut self, leaf: Hash) -> Result<u64, ProofError> {
        let index = self.size;
        let size = index.checked_add(1).ok_or(ProofError::TreeFull)?;
        // Each trailing one bit of the old size is a perfect subtree that the
        // new leaf completes into one twice as large, like a binary carry.
        let mut carry = leaf;
        for _ in 0..index.trailing_ones() {
            // The edge has one entry per set bit of `index`, so it holds at
            // least `trailing_ones` entries.
            let Some(left) = self.edge.pop() else {
                return Err(ProofError::EdgeLength {
                    size: index,
                    expected: index.count_ones() as usize,
                    actual: self.edge.len(),
                });
            };
            carry = node_hash(&left, &carry);
        }
        self.edge.push(carry);
        self.size = size;
        Ok(index)
    }

    /// The tree root (RFC 9162 §2.1.1 `MTH`); SHA-256 of the empty string for
    /// the empty tree.
    pub fn root(&self) -> Hash {
        let mut hashes = self.edge.iter().rev();
        let Some(last) = hashes.next() else {
            return empty_root();
        };
        hashes.fold(*last, |right, left| node_hash(left, &right))
    }

    /// The serialized edge: the size as a big-endian `u64`, then the edge
    /// hashes, largest subtree first (`8 + 32 × popcount(size)` bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIZE_BYTES + HASH_BYTES * self.edge.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for hash in &self.edge {
            out.extend_from_slice(hash);
        }
        out
    }

    /// Decodes [`to_bytes`](Self::to_bytes); any other length is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        let Some((size, rest)) = bytes.split_first_chunk::<SIZE_BYTES>() else {
            return Err(ProofError::EdgeBytes { len: bytes.len() });
        };
        let size = u64::from_be_bytes(*size);
        let expected = size.count_ones() as usize;
        if rest.len() != expected * HASH_BYTES {
            return Err(ProofError::EdgeBytes { len: bytes.len() });
        }
        let edge: Vec<Hash> = rest
            .chunks_exact(HASH_BYTES)
            .filter_map(|chunk| chunk.try_into().ok())
            .collect();
        Self::from_edge(size, &edge)
    }
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tree {{ size: {}, root: ", self.size)?;
        for byte in self.root() {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(" }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, root_of};

    fn leaves(n: u8) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&[i; 32])).collect()
    }

    #[test]
    fn pushes_return_dense_indices_and_roots_match_the_definition() {
        let all = leaves(40);
        let mut tree = Tree::new();
        assert_eq!(tree.root(), empty_root());
        for (i, leaf) in all.iter().enumerate() {
            assert_eq!(tree.push(*leaf), Ok(i as u64));
            assert_eq!(tree.size(), i as u64 + 1);
            assert_eq!(tree.edge().len(), (i + 1).count_ones() as usize);
            assert_eq!(tree.root(), root_of(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn edge_bytes_round_trip_and_every_other_length_is_refused() {
        let mut tree = Tree::new();
        for leaf in leaves(13) {
            tree.push(leaf).ok();
        }
        let bytes = tree.to_bytes();
        assert_eq!(bytes.len(), 8 + 32 * 3);
        assert_eq!(&bytes[..8], &13u64.to_be_bytes());
        assert_eq!(Tree::from_bytes(&bytes), Ok(tree.clone()));
        for cut in 0..bytes.len() {
            assert_eq!(
                Tree::from_bytes(&bytes[..cut]),
                Err(ProofError::EdgeBytes { len: cut }),
                "prefix of {cut} bytes"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Tree::from_bytes(&longer),
            Err(ProofError::EdgeBytes { len: longer.len() })
        );
        assert_eq!(Tree::from_bytes(&0u64.to_be_bytes()), Ok(Tree::new()));
    }

    #[test]
    fn a_rebuilt_tree_continues_like_the_original() {
        let all = leaves(21);
        let mut tree = Tree::new();
        for leaf in &all[..11] {
            tree.push(*leaf).ok();
        }
        let mut rebuilt = Tree::from_edge(tree.size(), tree.edge()).unwrap_or_default();
        for leaf in &all[11..] {
            rebuilt.push(*leaf).ok();
        }
        assert_eq!(rebuilt.root(), root_of(&all));
    }

    #[test]
    fn a_full_tree_refuses_another_leaf() {
        let mut tree = Tree::from_edge(u64::MAX, &[[0; 32]; 64]).unwrap_or_default();
        assert_eq!(tree.size(), u64::MAX);
        assert_eq!(tree.push([1; 32]), Err(ProofError::TreeFull));
        assert_eq!(tree.size(), u64::MAX);
    }

    #[test]
    fn debug_shows_size_and_root() {
        let mut tree = Tree::new();
        tree.push([0; 32]).ok();
        let text = format!("{tree:?}");
        assert_eq!(
            text,
            format!("Tree {{ size: 1, root: {} }}", "00".repeat(32))
        );
    }
}
