//! Tree heads and proofs as the store hands them out.
//!
//! A [`TreeHead`] is a C2SP checkpoint of the store's Merkle tree (origin,
//! size, root), with its signed note when the store has a signing key. An
//! [`InclusionProof`] shows one event is in a tree of some size; a
//! [`ConsistencyProof`] that a tree of one size is a prefix of a larger one.
//! Both check themselves with `proofbat`, which a client can use alone; their
//! JSON forms (lowercase hex for hashes) are documented in `docs/FORMAT.md`.

use proofbat::{Checkpoint, Hash, ProofError};

use crate::receipt::{AppendReceipt, Hex};

/// A head of the store's Merkle tree: the checkpoint and, when the store
/// signs, its signed note.
///
/// ```
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let key = batpak::proofbat::SigningKey::from_bytes(&[7; 32]);
/// let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key.clone()))?;
/// store.append(&Coordinate::new("a", "s")?, EventKind::custom(0xE, 1), &1u8)?;
/// let head = store.signed_head()?;
/// assert_eq!(head.size(), 1);
/// let origin = head.checkpoint().origin().to_owned();
/// let checked = batpak::proofbat::verify_note(head.note().unwrap(), &origin, &key.verifying_key())?;
/// assert_eq!(&checked, head.checkpoint());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeHead {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) note: Option<String>,
    pub(crate) public_key: Option<[u8; 32]>,
    pub(crate) recorded_ms: u64,
}

impl TreeHead {
    /// Events the tree covers.
    pub fn size(&self) -> u64 {
        self.checkpoint.size()
    }

    /// The tree's root hash.
    pub fn root(&self) -> &Hash {
        self.checkpoint.root()
    }

    /// The checkpoint (origin, size, root).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note, `None` for a store without a signing key.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The note when signed, else the checkpoint's text: what
    /// `batpak head` prints.
    pub fn text(&self) -> String {
        self.note.clone().unwrap_or_else(|| self.checkpoint.body())
    }

    /// The ed25519 public key that signed the note, as the heads file
    /// records it. It says which key to check with; whether to trust that
    /// key is for the verifier to know from elsewhere.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        self.public_key
    }

    /// Wall-clock milliseconds when the writer recorded it.
    pub fn recorded_ms(&self) -> u64 {
        self.recorded_ms
    }
}

/// Proof that the event at `leaf_index` is in the tree of `tree_size` events
/// whose root is `root_hash` (RFC 9162 §2.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InclusionProof {
    /// The event's global sequence.
    pub leaf_index: u64,
    /// Events in the tree.
    pub tree_size: u64,
    /// `SHA-256(0x00 ‖ event_hash)`.
    pub leaf_hash: Hash,
    /// The tree's root.
    pub root_hash: Hash,
    /// Sibling hashes from the leaf up.
    pub audit_path: Vec<Hash>,
}

impl InclusionProof {
    /// Checks the proof against its own root (compare `root_hash` with a
    /// head you trust, or use [`Self::verify_against`]).
    pub fn verify(&self) -> Result<(), ProofError> {
        proofbat::verify_inclusion(
            &self.leaf_hash,
            self.leaf_index,
            self.tree_size,
            &self.audit_path,
            &self.root_hash,
        )
    }

    /// Checks the proof against a trusted head; a head of another size than
    /// the proof's tree is [`ProofError::RootMismatch`].
    pub fn verify_against(&self, head: &Checkpoint) -> Result<(), ProofError> {
        if head.size() != self.tree_size {
            return Err(ProofError::RootMismatch);
        }
        proofbat::verify_inclusion(
            &self.leaf_hash,
            self.leaf_index,
            self.tree_size,
            &self.audit_path,
            head.root(),
        )
    }

    /// Whether this proof shows the receipt's event in the tree of a head:
    /// the proof is for the receipt's global sequence and event hash, and
    /// it verifies against the head.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let c = Coordinate::new("a", "s")?;
    /// let receipt = store.append(&c, EventKind::custom(0xE, 1), &1u8)?;
    /// store.append(&c, EventKind::custom(0xE, 1), &2u8)?;
    /// let head = store.signed_head()?;
    /// let proof = store.prove_inclusion(receipt.event_id, head.size())?;
    /// assert!(proof.proves_receipt(&receipt, head.checkpoint()));
    /// # Ok(()) }
    /// ```
    pub fn proves_receipt(&self, receipt: &AppendReceipt, head: &Checkpoint) -> bool {
        self.leaf_index == receipt.global_sequence
            && self.leaf_hash == proofbat::leaf_hash(&receipt.event_hash)
            && self.verify_against(head).is_ok()
    }

    /// The documented JSON form:
    /// `{"leaf_index", "tree_size", "leaf_hash", "root_hash", "audit_path": [hex, …]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": hex(&self.leaf_hash),
            "root_hash": hex(&self.root_hash),
            "audit_path": self.audit_path.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        })
    }
}

/// Proof that the tree of `old_size` events is a prefix of the tree of
/// `new_size` events (RFC 9162 §2.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsistencyProof {
    /// The smaller tree's size.
    pub old_size: u64,
    /// The larger tree's size.
    pub new_size: u64,
    /// The smaller tree's root.
    pub old_root: Hash,
    /// The larger tree's root.
    pub new_root: Hash,
    /// The proof's hashes.
    pub proof: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks the proof between its own two roots.
    pub fn verify(&self) -> Result<(), ProofError> {
        proofbat::verify_consistency(
            self.old_size,
            self.new_size,
            &self.old_root,
            &self.new_root,
            &self.proof,
        )
    }

    /// The documented JSON form:
    /// `{"old_size", "new_size", "old_root", "new_root", "proof": [hex, …]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": hex(&self.old_root),
            "new_root": hex(&self.new_root),
            "proof": self.proof.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        })
    }
}

/// What checking the log against a head kept earlier found
/// ([`crate::StoreReader::verify_against_head`]): every leaf recomputed from
/// the frames on disk, not read from the tree files.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeadVerification {
    /// Events in the log.
    pub log_size: u64,
    /// Events the head covers.
    pub head_size: u64,
    /// The root of the log's first `head_size` events, recomputed; `None`
    /// when the log is shorter than the head.
    pub log_root_at_head: Option<Hash>,
    /// The first leaf whose stored tree record differs from the one
    /// recomputed from its frame (damaged tree files, or a log rewritten
    /// under them).
    pub first_tree_mismatch: Option<u64>,
    /// Leaves of events a retention compaction removed: no frame is left to
    /// recompute them from, so they are taken from the tree files (whose
    /// records the head's root still has to match).
    pub retired_leaves: u64,
}

impl HeadVerification {
    /// The log holds the head's events unchanged (it may have grown since):
    /// no truncation, rewrite or fork.
    pub fn extends_head(&self, head: &Checkpoint) -> bool {
        self.log_root_at_head.as_ref() == Some(head.root())
    }
}

fn hex(bytes: &[u8]) -> String {
    Hex(bytes).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hex_is_lowercase_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
