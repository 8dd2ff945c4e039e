//! proofbat: the store-free half of a verifiable log.
//!
//! What a client or an auditor needs to check a log's evidence without the
//! log itself:
//!
//! - Tree hashing (RFC 6962, SHA-256). A leaf
//!   is `SHA-256(0x00 ‖ event_hash)` for an event's 32-byte `event_hash`, an
//!   interior node `SHA-256(0x01 ‖ left ‖ right)`, the empty tree's root the
//!   hash of nothing. [`root_of`] is the recursive definition; [`Tree`] keeps
//!   only the right edge and is what a writer appends to.
//! - Proofs: [`inclusion_proof`] and [`consistency_proof`] build RFC 9162
//!   proofs from any [`SubtreeSource`] (a slice of leaf hashes is one);
//!   [`verify_inclusion`] and [`verify_consistency`] need only hashes and
//!   sizes, and refuse a proof of the wrong length (at most
//!   [`MAX_INCLUSION_HASHES`] or [`MAX_CONSISTENCY_HASHES`]) before hashing.
//! - [`Checkpoint`]: the C2SP `tlog-checkpoint` text of a tree head, and
//!   C2SP signed notes with Ed25519 ([`sign_note`], [`open_note`],
//!   [`verify_note`]) and verifier keys ([`verifier_key`]).
//!
//! The exact bytes are in `docs/FORMAT.md`, section "Verifiable log: tree,
//! proofs, checkpoint and note", and `tests/independent/verify.py` checks this
//! crate's output from that description alone.
//!
//! ```
//! use proofbat::SigningKey;
//! use proofbat::{
//!     consistency_proof, inclusion_proof, leaf_hash, sign_checkpoint, verify_consistency,
//!     verify_inclusion, verify_note, Checkpoint, Hash, Tree,
//! };
//!
//! // The log: one leaf per event hash, in commit order.
//! let events: Vec<[u8; 32]> = (0u8..10).map(|i| [i; 32]).collect();
//! let leaves: Vec<Hash> = events.iter().map(leaf_hash).collect();
//! let mut tree = Tree::new();
//! for leaf in &leaves {
//!     tree.push(*leaf)?;
//! }
//! let old_root = proofbat::root_of(&leaves[..6]);
//!
//! // The log signs its head at size 10.
//! let key = SigningKey::from_bytes(&[42; 32]);
//! let head = Checkpoint::new("example.com/log", tree.size(), tree.root())?;
//! let note = sign_checkpoint(&head, &key)?;
//!
//! // A client holding the log's public key checks the head, that event 3 is
//! // in it, and that it extends the head of size 6 it saw before.
//! let head = verify_note(&note, "example.com/log", &key.verifying_key())?;
//! let proof = inclusion_proof(&leaves[..], 3, head.size())?;
//! verify_inclusion(&leaf_hash(&events[3]), 3, head.size(), &proof, head.root())?;
//! let proof = consistency_proof(&leaves[..], 6, head.size())?;
//! verify_consistency(6, head.size(), &old_root, head.root(), &proof)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod checkpoint;
mod hash;
mod note;
mod proof;
mod tree;

pub use checkpoint::{Checkpoint, CheckpointError, MAX_CHECKPOINT_BYTES};
pub use hash::{empty_root, leaf_hash, node_hash, root_of, Hash};
pub use note::{
    key_id, open_note, parse_verifier_key, sign_checkpoint, sign_note, sign_note_with,
    verifier_key, verify_note, NoteError, SignWithError, MAX_NOTE_BYTES, MAX_SIGNATURES,
};
pub use proof::{
    consistency_proof, inclusion_proof, root_at, verify_consistency, verify_inclusion, ProofError,
    SubtreeSource, MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES,
};
pub use tree::Tree;

/// The Ed25519 types of the note API, re-exported so callers use the same
/// version.
pub use ed25519_dalek::{SigningKey, VerifyingKey};
