//! Unit and property tests of proof generation and verification.

use super::*;
use crate::hash::{leaf_hash, root_of};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&event(i))).collect()
}

/// The event hash of test leaf `i`: 32 bytes, the first 8 of them `i`.
fn event(i: u64) -> [u8; 32] {
    let mut event = [0u8; 32];
    event[..8].copy_from_slice(&i.to_be_bytes());
    event
}

fn hex(hash: &Hash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Hash {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    out
}

/// Leaves whose event hash is 32 copies of the byte `i`: the crate's pinned
/// vectors (computed from the RFC definitions by an independent script).
fn byte_leaves(n: u8) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&[i; 32])).collect()
}

/// The RFC 9162 §2.1.3.1 `PATH` recursion, word for word, over a slice.
fn reference_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split_point(n as u64) as usize;
    if m < k {
        let mut p = reference_path(m, &d[..k]);
        p.push(root_of(&d[k..]));
        p
    } else {
        let mut p = reference_path(m - k, &d[k..]);
        p.push(root_of(&d[..k]));
        p
    }
}

/// The RFC 9162 §2.1.4.1 `SUBPROOF` recursion, word for word.
fn reference_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![root_of(d)] };
    }
    let k = split_point(n as u64) as usize;
    if m <= k {
        let mut p = reference_subproof(m, &d[..k], b);
        p.push(root_of(&d[k..]));
        p
    } else {
        let mut p = reference_subproof(m - k, &d[k..], false);
        p.push(root_of(&d[..k]));
        p
    }
}

/// A tree of any size whose leaves are all the same hash: each perfect
/// subtree's root depends only on its level, so proofs over sizes near
/// `u64::MAX` cost O(log n) to build.
struct Uniform;

impl SubtreeSource for Uniform {
    type Error = ProofError;

    fn subtree(&self, _start: u64, level: u32) -> Result<Hash, ProofError> {
        let mut hash = leaf_hash(&[0x55; 32]);
        for _ in 0..level {
            hash = node_hash(&hash, &hash);
        }
        Ok(hash)
    }
}

#[test]
fn reference_roots_of_the_eight_leaf_test_set() {
    // The leaf inputs of the RFC 6962 test set published with the Go
    // implementations; each leaf is hashed here by the definition,
    // SHA-256(0x00 ‖ input), and the roots are those published for it.
    let inputs: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let leaves: Vec<Hash> = inputs
        .iter()
        .map(|input| {
            let mut hasher = Sha256::new();
            hasher.update([0u8]);
            hasher.update(input);
            hasher.finalize().into()
        })
        .collect();
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    for (n, root) in roots.iter().enumerate() {
        assert_eq!(hex(&root_of(&leaves[..=n])), *root, "size {}", n + 1);
        assert_eq!(
            hex(&root_at(&leaves[..], n as u64 + 1).unwrap_or_default()),
            *root
        );
    }
}

#[test]
fn pinned_vectors_for_event_hash_leaves() {
    let leaves = byte_leaves(8);
    let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "7f9c9e31ac8256ca2f258583df262dbc7d6f68f2a03043d5c99a4ae5a7396ce9",
        "28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444",
        "ba8d94b7fbcecae7b81c4c80574fe24734a6917bf9c1ecd66ff3e0c34ead4620",
        "fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2",
        "85e20cac1f02fda7bcdb2fc3f908568c57018c77815f1fa361acad13994f08bf",
        "380272ed524daf3398067faf4717782ba90805d4823ea6e1e594668c9fd40bba",
        "7318881c41fce3c1de3640df8e8c110c93f43f686b74204a9d1ad5b8c71c2047",
        "f907f23f76aa01b755a614d31ef9832909f44638b4590073301e61e6d01f9a1d",
    ];
    for (n, root) in roots.iter().enumerate() {
        assert_eq!(hex(&root_of(&leaves[..n])), *root, "size {n}");
    }

    let inclusions: [(u64, u64, &[&str]); 3] = [
        (
            2,
            7,
            &[
                "acaa04663a8547a2f70c60cc18f9378796b13c4f9a08f70d6adae662365b30c6",
                "28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444",
                "1f3f95843413191fe7521996b6b1e4147d703b1702c475a478ad25a6f6b415b4",
            ],
        ),
        (
            6,
            7,
            &[
                "f1c176552a35e1d035f843d463220b6c85a90ea7f6644980630a6f71a3330ed3",
                "fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2",
            ],
        ),
        (
            5,
            8,
            &[
                "1da033bf8927ed69376d91533748494f7f5e88c20603dede2afc9bfd43d46f17",
                "3ebd606fb49a3b46ea6025f6ca81438c59c6644eff2a753ae4b564ffbf0eb06a",
                "fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2",
            ],
        ),
    ];
    for (index, size, expected) in inclusions {
        let proof = inclusion_proof(&leaves[..], index, size).unwrap_or_default();
        let texts: Vec<String> = proof.iter().map(hex).collect();
        assert_eq!(texts, expected, "inclusion of {index} in {size}");
        let root = unhex(roots[size as usize]);
        assert_eq!(
            verify_inclusion(&leaves[index as usize], index, size, &proof, &root),
            Ok(())
        );
    }

    let consistencies: [(u64, u64, &[&str]); 4] = [
        (
            1,
            2,
            &["dcffe786ded16d283c663846ad0c4ff26558fccde36ca9d30b2ea19eade9fc0e"],
        ),
        (
            3,
            7,
            &[
                "cba8c596120bdb69debbd923d92cba948bde7c7d06a465a1bb7d98d3116038fa",
                "acaa04663a8547a2f70c60cc18f9378796b13c4f9a08f70d6adae662365b30c6",
                "28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444",
                "1f3f95843413191fe7521996b6b1e4147d703b1702c475a478ad25a6f6b415b4",
            ],
        ),
        (
            4,
            8,
            &["2e2d377b6f1faa1bbb10885d1232b4be13d48ed90a1db9d78ea9caf2c9e8ef43"],
        ),
        (
            6,
            8,
            &[
                "f1c176552a35e1d035f843d463220b6c85a90ea7f6644980630a6f71a3330ed3",
                "3ebd606fb49a3b46ea6025f6ca81438c59c6644eff2a753ae4b564ffbf0eb06a",
                "fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2",
            ],
        ),
    ];
    for (old, new, expected) in consistencies {
        let proof = consistency_proof(&leaves[..], old, new).unwrap_or_default();
        let texts: Vec<String> = proof.iter().map(hex).collect();
        assert_eq!(texts, expected, "consistency {old} -> {new}");
        let (old_root, new_root) = (unhex(roots[old as usize]), unhex(roots[new as usize]));
        assert_eq!(
            verify_consistency(old, new, &old_root, &new_root, &proof),
            Ok(())
        );
    }
}

#[test]
fn generation_follows_the_rfc_recursion_for_every_small_tree() {
    let all = leaves(64);
    for n in 1..=64usize {
        let d = &all[..n];
        for m in 0..n {
            let proof = inclusion_proof(d, m as u64, n as u64);
            assert_eq!(proof, Ok(reference_path(m, d)), "PATH({m}, {n})");
            assert_eq!(
                inclusion_len(m as u64, n as u64),
                reference_path(m, d).len()
            );
        }
        for m in 1..n {
            let proof = consistency_proof(d, m as u64, n as u64);
            assert_eq!(proof, Ok(reference_subproof(m, d, true)), "PROOF({m}, {n})");
            assert_eq!(
                consistency_len(m as u64, n as u64),
                reference_subproof(m, d, true).len()
            );
        }
    }
}

#[test]
fn every_proof_of_every_small_tree_verifies_and_fails_elsewhere() {
    let all = leaves(33);
    let roots: Vec<Hash> = (0..=all.len()).map(|n| root_of(&all[..n])).collect();
    for n in 1..=all.len() as u64 {
        let root = roots[n as usize];
        for m in 0..n {
            let leaf = all[m as usize];
            let proof = inclusion_proof(&all[..], m, n).unwrap_or_default();
            assert_eq!(verify_inclusion(&leaf, m, n, &proof, &root), Ok(()));
            // The same proof at a neighbouring index, for another leaf, or
            // against another root, fails.
            if m + 1 < n && inclusion_len(m + 1, n) == proof.len() {
                assert!(verify_inclusion(&leaf, m + 1, n, &proof, &root).is_err());
            }
            let other = all[((m + 1) % n) as usize];
            if n > 1 {
                assert_eq!(
                    verify_inclusion(&other, m, n, &proof, &root),
                    Err(ProofError::RootMismatch)
                );
            }
            assert_eq!(
                verify_inclusion(&leaf, m, n, &proof, &roots[n as usize - 1]),
                Err(ProofError::RootMismatch)
            );
        }
        for m in 0..=n {
            let proof = consistency_proof(&all[..], m, n).unwrap_or_default();
            let (old_root, new_root) = (roots[m as usize], root);
            assert_eq!(
                verify_consistency(m, n, &old_root, &new_root, &proof),
                Ok(()),
                "{m} -> {n}"
            );
        }
    }
}

#[test]
fn inclusion_errors_are_typed() {
    let all = leaves(5);
    let root = root_of(&all);
    assert_eq!(
        inclusion_proof(&all[..], 5, 5),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        inclusion_proof(&all[..], 0, 0),
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        inclusion_proof(&all[..], 1, 6),
        Err(ProofError::SubtreeUnavailable { start: 4, level: 1 })
    );
    assert_eq!(
        verify_inclusion(&all[0], 5, 5, &[], &root),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    let proof = inclusion_proof(&all[..], 1, 5).unwrap_or_default();
    assert_eq!(proof.len(), 3);
    assert_eq!(
        verify_inclusion(&all[1], 1, 5, &proof[..2], &root),
        Err(ProofError::WrongLength {
            expected: 3,
            actual: 2
        })
    );
    let long = vec![[0u8; 32]; MAX_INCLUSION_HASHES + 1];
    // Too long is the first check, before the index or the length.
    assert_eq!(
        verify_inclusion(&all[1], 9, 5, &long, &root),
        Err(ProofError::TooLong { len: 65, max: 64 })
    );
    let max = vec![[0u8; 32]; MAX_INCLUSION_HASHES];
    assert_eq!(
        verify_inclusion(&all[1], 1, 5, &max, &root),
        Err(ProofError::WrongLength {
            expected: 3,
            actual: 64
        })
    );
    // A single-leaf tree: the empty proof, and the leaf is the root.
    assert_eq!(verify_inclusion(&all[0], 0, 1, &[], &all[0]), Ok(()));
    assert_eq!(
        verify_inclusion(&all[0], 0, 1, &[], &all[1]),
        Err(ProofError::RootMismatch)
    );
}

#[test]
fn consistency_errors_are_typed() {
    let all = leaves(8);
    let (r3, r8) = (root_of(&all[..3]), root_of(&all));
    let empty = crate::hash::empty_root();
    assert_eq!(
        consistency_proof(&all[..], 4, 3),
        Err(ProofError::OldLargerThanNew { old: 4, new: 3 })
    );
    assert_eq!(
        verify_consistency(4, 3, &r3, &r8, &[]),
        Err(ProofError::OldLargerThanNew { old: 4, new: 3 })
    );
    assert_eq!(consistency_proof(&all[..], 0, 8), Ok(Vec::new()));
    assert_eq!(consistency_proof(&all[..], 8, 8), Ok(Vec::new()));
    assert_eq!(verify_consistency(0, 8, &empty, &r8, &[]), Ok(()));
    assert_eq!(verify_consistency(0, 0, &empty, &empty, &[]), Ok(()));
    assert_eq!(
        verify_consistency(0, 8, &r3, &r8, &[]),
        Err(ProofError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(0, 8, &empty, &r8, &[r3]),
        Err(ProofError::WrongLength {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(verify_consistency(8, 8, &r8, &r8, &[]), Ok(()));
    assert_eq!(
        verify_consistency(8, 8, &r8, &r3, &[]),
        Err(ProofError::NewRootMismatch)
    );
    assert_eq!(
        verify_consistency(8, 8, &r8, &r8, &[r8]),
        Err(ProofError::WrongLength {
            expected: 0,
            actual: 1
        })
    );
    let proof = consistency_proof(&all[..], 3, 8).unwrap_or_default();
    assert_eq!(verify_consistency(3, 8, &r3, &r8, &proof), Ok(()));
    assert_eq!(
        verify_consistency(3, 8, &r8, &r8, &proof),
        Err(ProofError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(3, 8, &r3, &r3, &proof),
        Err(ProofError::NewRootMismatch)
    );
    let long = vec![[0u8; 32]; MAX_CONSISTENCY_HASHES + 1];
    assert_eq!(
        verify_consistency(9, 8, &r3, &r8, &long),
        Err(ProofError::TooLong { len: 66, max: 65 })
    );
    let max = vec![[0u8; 32]; MAX_CONSISTENCY_HASHES];
    assert_eq!(
        verify_consistency(3, 8, &r3, &r8, &max),
        Err(ProofError::WrongLength {
            expected: 4,
            actual: 65
        })
    );
    assert_eq!(
        consistency_proof(&all[..], 3, 9),
        Err(ProofError::SubtreeUnavailable { start: 8, level: 0 })
    );
}

#[test]
fn the_slice_source_refuses_subtrees_beyond_its_leaves() {
    let all = leaves(4);
    assert_eq!(all[..].subtree(0, 2), Ok(root_of(&all)));
    assert_eq!(all[..].subtree(3, 0), Ok(all[3]));
    assert_eq!(
        all[..].subtree(4, 0),
        Err(ProofError::SubtreeUnavailable { start: 4, level: 0 })
    );
    assert_eq!(
        all[..].subtree(0, 3),
        Err(ProofError::SubtreeUnavailable { start: 0, level: 3 })
    );
    assert_eq!(
        all[..].subtree(0, 64),
        Err(ProofError::SubtreeUnavailable {
            start: 0,
            level: 64
        })
    );
    assert_eq!(
        all[..].subtree(u64::MAX, 1),
        Err(ProofError::SubtreeUnavailable {
            start: u64::MAX,
            level: 1
        })
    );
}

#[test]
fn proofs_near_the_largest_size_stay_within_the_bounds() {
    let sizes = [
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        (1 << 63) + 1,
        (1 << 63) - 1,
    ];
    for size in sizes {
        let root = root_at(&Uniform, size).unwrap_or_default();
        let leaf = leaf_hash(&[0x55; 32]);
        for index in [0, 1, size / 2, size - 2, size - 1] {
            let proof = inclusion_proof(&Uniform, index, size).unwrap_or_default();
            assert!(proof.len() <= MAX_INCLUSION_HASHES);
            assert_eq!(proof.len(), inclusion_len(index, size));
            assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
        }
        for old in [1, 2, 3, size / 2, size - 1] {
            let proof = consistency_proof(&Uniform, old, size).unwrap_or_default();
            assert!(proof.len() <= MAX_CONSISTENCY_HASHES);
            assert_eq!(proof.len(), consistency_len(old, size));
            let old_root = root_at(&Uniform, old).unwrap_or_default();
            assert_eq!(
                verify_consistency(old, size, &old_root, &root, &proof),
                Ok(()),
                "{old} -> {size}"
            );
        }
    }
    // Both bounds are reached.
    assert_eq!(inclusion_len(0, u64::MAX), MAX_INCLUSION_HASHES);
    assert_eq!(consistency_len(3, u64::MAX), MAX_CONSISTENCY_HASHES);
}

#[test]
fn error_messages_name_their_context() {
    let cases = [
        (
            ProofError::TooLong { len: 65, max: 64 },
            "proof of 65 hashes is longer than the maximum of 64",
        ),
        (
            ProofError::WrongLength {
                expected: 3,
                actual: 2,
            },
            "proof of 2 hashes, but these sizes need exactly 3",
        ),
        (
            ProofError::IndexOutOfRange { index: 5, size: 5 },
            "leaf index 5 is out of range for a tree of 5 leaves",
        ),
        (
            ProofError::OldLargerThanNew { old: 4, new: 3 },
            "old tree size 4 is larger than new tree size 3",
        ),
        (
            ProofError::SubtreeUnavailable { start: 8, level: 2 },
            "subtree of 2^2 leaves at 8 is not available",
        ),
        (
            ProofError::EdgeLength {
                size: 3,
                expected: 2,
                actual: 1,
            },
            "a tree of 3 leaves has 2 edge hashes, not 1",
        ),
        (
            ProofError::EdgeBytes { len: 7 },
            "a serialized tree edge of 7 bytes is malformed",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

fn is_wrong_length(result: &Result<(), ProofError>) -> bool {
    matches!(result, Err(ProofError::WrongLength { .. }))
}

/// Flips bit `bit` of byte `byte` of hash `which` in `proof`.
fn flip(proof: &[Hash], which: usize, byte: usize, bit: u8) -> Vec<Hash> {
    let mut out = proof.to_vec();
    out[which][byte] ^= 1 << bit;
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every inclusion proof in a random tree verifies against its root;
    /// a flipped bit in the proof, the leaf or the root, a truncated proof or
    /// an extended one fails.
    #[test]
    fn inclusion_proofs_verify_and_every_tampering_fails(
        n in 1u64..=300,
        pick in any::<u64>(),
        byte in 0usize..32,
        bit in 0u8..8,
        extra in any::<[u8; 32]>(),
    ) {
        let all = leaves(n);
        let root = root_of(&all);
        let index = pick % n;
        let leaf = all[index as usize];
        let proof = inclusion_proof(&all[..], index, n).unwrap_or_default();
        prop_assert_eq!(verify_inclusion(&leaf, index, n, &proof, &root), Ok(()));

        for which in 0..proof.len() {
            let bad = flip(&proof, which, byte, bit);
            prop_assert_eq!(
                verify_inclusion(&leaf, index, n, &bad, &root),
                Err(ProofError::RootMismatch)
            );
        }
        let mut bad_leaf = leaf;
        bad_leaf[byte] ^= 1 << bit;
        prop_assert_eq!(
            verify_inclusion(&bad_leaf, index, n, &proof, &root),
            Err(ProofError::RootMismatch)
        );
        let mut bad_root = root;
        bad_root[byte] ^= 1 << bit;
        prop_assert_eq!(
            verify_inclusion(&leaf, index, n, &proof, &bad_root),
            Err(ProofError::RootMismatch)
        );
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(is_wrong_length(&verify_inclusion(&leaf, index, n, shorter, &root)));
        }
        let mut longer = proof.clone();
        longer.push(extra);
        prop_assert!(is_wrong_length(&verify_inclusion(&leaf, index, n, &longer, &root)));
    }

    /// Every consistency proof m -> n (m <= n <= 300) verifies; a flipped bit
    /// in the proof or either root, a truncated or an extended proof fails.
    #[test]
    fn consistency_proofs_verify_and_every_tampering_fails(
        n in 1u64..=300,
        pick in any::<u64>(),
        byte in 0usize..32,
        bit in 0u8..8,
        extra in any::<[u8; 32]>(),
    ) {
        let all = leaves(n);
        let m = pick % (n + 1);
        let (old_root, new_root) = (root_of(&all[..m as usize]), root_of(&all));
        let proof = consistency_proof(&all[..], m, n).unwrap_or_default();
        prop_assert_eq!(verify_consistency(m, n, &old_root, &new_root, &proof), Ok(()));

        for which in 0..proof.len() {
            let bad = flip(&proof, which, byte, bit);
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &bad).is_err());
        }
        let mut bad_old = old_root;
        bad_old[byte] ^= 1 << bit;
        prop_assert!(verify_consistency(m, n, &bad_old, &new_root, &proof).is_err());
        let mut bad_new = new_root;
        bad_new[byte] ^= 1 << bit;
        if m > 0 {
            prop_assert!(verify_consistency(m, n, &old_root, &bad_new, &proof).is_err());
        }
        if let Some((_, shorter)) = proof.split_last() {
            prop_assert!(is_wrong_length(&verify_consistency(m, n, &old_root, &new_root, shorter)));
        }
        let mut longer = proof.clone();
        longer.push(extra);
        prop_assert!(is_wrong_length(&verify_consistency(m, n, &old_root, &new_root, &longer)));
    }

    /// The incremental tree's root equals the reference at every size, and
    /// its edge round-trips through bytes and continues the same tree.
    #[test]
    fn tree_edges_round_trip_and_roots_equal_the_reference(n in 0u64..=300, cut in any::<u64>()) {
        let all = leaves(n);
        let cut = cut % (n + 1);
        let mut tree = crate::Tree::new();
        for leaf in &all[..cut as usize] {
            tree.push(*leaf).ok();
        }
        prop_assert_eq!(tree.root(), root_of(&all[..cut as usize]));
        let mut rebuilt = crate::Tree::from_bytes(&tree.to_bytes());
        prop_assert_eq!(rebuilt.as_ref(), Ok(&tree));
        if let Ok(rebuilt) = rebuilt.as_mut() {
            for leaf in &all[cut as usize..] {
                rebuilt.push(*leaf).ok();
            }
            prop_assert_eq!(rebuilt.size(), n);
            prop_assert_eq!(rebuilt.root(), root_of(&all));
            prop_assert_eq!(rebuilt.root(), root_at(&all[..], n).unwrap_or_default());
        }
    }
}
