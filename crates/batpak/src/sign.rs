//! Signed receipts: the canonical cover, signers, and the signing policy.

use std::fmt::Debug;
use std::sync::Arc;

use ed25519_dalek::{SigningKey, Verifier as _, VerifyingKey};

use crate::receipt::AppendReceipt;

/// Domain separation tag at the start of every receipt cover.
pub const RECEIPT_COVER_DOMAIN: &[u8; 16] = b"batpak/receipt1\n";
/// Length of a receipt cover in bytes.
pub const RECEIPT_COVER_LEN: usize = 176;

/// The exact bytes a receipt signature covers.
///
/// A receipt signature is ed25519 over these 176 bytes (integers little-endian):
///
/// | field           | bytes |
/// |-----------------|-------|
/// | domain tag `batpak/receipt1\n` | 16 |
/// | event_id (big-endian, UUID order) | 16 |
/// | global_sequence | 8 |
/// | entity_sequence | 8 |
/// | content_hash    | 32 |
/// | event_hash      | 32 |
/// | prev_hash       | 32 |
/// | key_id          | 32 |
///
/// `key_id` is the signer's 32-byte ed25519 public key, so anyone holding the
/// public key they trust can check a receipt with any ed25519 library:
///
/// ```
/// use batpak::prelude::*;
/// use ed25519_dalek::{Signature, Verifier, VerifyingKey};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
/// let trusted: VerifyingKey = key.verifying_key();
/// let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key))?;
/// let r = store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1u8)?;
/// let cover = batpak::receipt_cover(&r, &trusted.to_bytes());
/// trusted.verify(&cover, &Signature::from_bytes(&r.signature.unwrap()))?;
/// r.verify_signature(&trusted)?;
/// # Ok(()) }
/// ```
pub fn receipt_cover(r: &AppendReceipt, key_id: &[u8; 32]) -> [u8; RECEIPT_COVER_LEN] {
    cover_from_parts(
        r.event_id.to_bytes(),
        r.global_sequence,
        r.entity_sequence,
        &r.content_hash,
        &r.event_hash,
        &r.prev_hash,
        key_id,
    )
}

pub(crate) fn cover_from_parts(
    event_id: [u8; 16],
    global_sequence: u64,
    entity_sequence: u64,
    content_hash: &[u8; 32],
    event_hash: &[u8; 32],
    prev_hash: &[u8; 32],
    key_id: &[u8; 32],
) -> [u8; RECEIPT_COVER_LEN] {
    let mut c = [0u8; RECEIPT_COVER_LEN];
    let parts: [&[u8]; 8] = [
        RECEIPT_COVER_DOMAIN,
        &event_id,
        &global_sequence.to_le_bytes(),
        &entity_sequence.to_le_bytes(),
        content_hash,
        event_hash,
        prev_hash,
        key_id,
    ];
    let mut at = 0;
    for p in parts {
        c[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    c
}

/// Something that signs receipt covers. [`SigningKey`] is the usual one;
/// another implementation can hold its key in a hardware module.
pub trait ReceiptSigner: Send + Sync + Debug {
    /// The 32-byte ed25519 public key.
    fn key_id(&self) -> [u8; 32];
    /// Signs `cover`; an `Err` fails the append unless downgrade is allowed.
    fn sign(&self, cover: &[u8]) -> Result<[u8; 64], crate::BoxError>;
}

impl ReceiptSigner for SigningKey {
    fn key_id(&self) -> [u8; 32] {
        self.verifying_key().to_bytes()
    }
    fn sign(&self, cover: &[u8]) -> Result<[u8; 64], crate::BoxError> {
        Ok(ed25519_dalek::Signer::sign(self, cover).to_bytes())
    }
}

/// Whether a store must sign its receipts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningPolicy {
    /// Sign when a key is configured; a keyless store issues unsigned receipts.
    #[default]
    Optional,
    /// Refuse to open without a signing key.
    Required,
}

/// Why a receipt's signature did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptVerificationError {
    /// The receipt carries no signature.
    #[error("receipt is unsigned")]
    Unsigned,
    /// The receipt was signed by another key.
    #[error("receipt was signed by another key")]
    WrongKey,
    /// The signature does not match the cover.
    #[error("signature does not verify")]
    BadSignature,
}

impl AppendReceipt {
    /// Checks the signature against a public key you trust; needs no store.
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<(), ReceiptVerificationError> {
        let (Some(key_id), Some(sig)) = (self.key_id, self.signature) else {
            return Err(ReceiptVerificationError::Unsigned);
        };
        if key_id != key.to_bytes() {
            return Err(ReceiptVerificationError::WrongKey);
        }
        let cover = receipt_cover(self, &key_id);
        key.verify(&cover, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| ReceiptVerificationError::BadSignature)
    }
}

/// Signs receipts under the configured policy.
#[derive(Clone, Debug)]
pub(crate) struct SigningState {
    pub(crate) signer: Option<Arc<dyn ReceiptSigner>>,
    pub(crate) downgrade_allowed: bool,
}

impl SigningState {
    /// Fills `key_id` and `signature`; `Err` means the append must fail.
    pub(crate) fn sign(&self, r: &mut AppendReceipt) -> Result<(), crate::BoxError> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let key_id = signer.key_id();
        match signer.sign(&receipt_cover(r, &key_id)) {
            Ok(sig) => {
                r.key_id = Some(key_id);
                r.signature = Some(sig);
                Ok(())
            }
            Err(reason) if self.downgrade_allowed => {
                tracing::warn!(%reason, "signing failed; issuing an unsigned receipt (downgrade allowed)");
                Ok(())
            }
            Err(reason) => Err(reason),
        }
    }

    /// The verifying key of the configured signer, if it is a valid ed25519 key.
    pub(crate) fn verifying_key(&self) -> Option<VerifyingKey> {
        self.signer
            .as_ref()
            .and_then(|s| VerifyingKey::from_bytes(&s.key_id()).ok())
    }
}
