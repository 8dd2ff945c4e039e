//! RFC 6962 tree hashing (RFC 9162 §2.1.1) with SHA-256.
//!
//! The leaf input is the event's 32-byte `event_hash`; every other function
//! in the crate works on leaf hashes, the output of [`leaf_hash`].

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf hash, an interior node or a tree root.
pub type Hash = [u8; 32];

/// Prefix of a leaf hash's input (RFC 6962 §2.1): keeps a leaf from ever
/// hashing like an interior node.
const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node's input.
const NODE_PREFIX: u8 = 0x01;

/// The leaf hash of one event: `SHA-256(0x00 ‖ event_hash)`.
///
/// ```
/// let leaf = proofbat::leaf_hash(&[7; 32]);
/// assert_ne!(leaf, [7; 32]);
/// ```
pub fn leaf_hash(event_hash: &[u8; 32]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(event_hash);
    hasher.finalize().into()
}

/// An interior node: `SHA-256(0x01 ‖ left ‖ right)`.
///
/// ```
/// use proofbat::{leaf_hash, node_hash, root_of};
/// let (a, b) = (leaf_hash(&[1; 32]), leaf_hash(&[2; 32]));
/// assert_eq!(root_of(&[a, b]), node_hash(&a, &b));
/// ```
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([NODE_PREFIX]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
///
/// ```
/// assert_eq!(proofbat::empty_root(), proofbat::root_of(&[]));
/// ```
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The tree root over `leaves` (leaf hashes, in order), straight from the
/// recursive definition: the reference the incremental [`Tree`](crate::Tree)
/// and the proofs are tested against.
///
/// ```
/// use proofbat::{leaf_hash, root_of};
/// let leaf = leaf_hash(&[0; 32]);
/// assert_eq!(root_of(&[leaf]), leaf);
/// ```
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [leaf] => *leaf,
        _ => {
            let k = split_point(leaves.len() as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// The largest power of two strictly below `n`, for `n > 1`: where RFC 6962
/// splits a tree of `n` leaves. Returns 0 for `n <= 1` (no split).
pub(crate) fn split_point(n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: &Hash) -> String {
        hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_prefixes_are_the_documented_bytes() {
        let event = [0xab; 32];
        let mut leaf_input = vec![0x00];
        leaf_input.extend_from_slice(&event);
        assert_eq!(
            leaf_hash(&event),
            <[u8; 32]>::from(Sha256::digest(&leaf_input))
        );

        let (l, r) = ([1; 32], [2; 32]);
        let mut node_input = vec![0x01];
        node_input.extend_from_slice(&l);
        node_input.extend_from_slice(&r);
        assert_eq!(
            node_hash(&l, &r),
            <[u8; 32]>::from(Sha256::digest(&node_input))
        );
        assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
    }

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        let cases = [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
            ((1 << 40) + 1, 1 << 40),
            (u64::MAX, 1 << 63),
        ];
        for (n, k) in cases {
            assert_eq!(split_point(n), k, "split_point({n})");
        }
    }

    #[test]
    fn root_of_three_leaves_splits_two_and_one() {
        let leaves: Vec<Hash> = (0u8..3).map(|i| leaf_hash(&[i; 32])).collect();
        let expected = node_hash(&node_hash(&leaves[0], &leaves[1]), &leaves[2]);
        assert_eq!(root_of(&leaves), expected);
    }
}
