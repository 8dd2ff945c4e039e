//! Signing keys, idempotency keys, and a signer that holds the writer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use batpak::{IdempotencyKey, ReceiptSigner};

/// The ed25519 key whose secret is 32 bytes of `n`.
pub fn signing_key(n: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[n; 32])
}

/// The idempotency key of 16 bytes of `n`.
pub fn idempotency_key(n: u8) -> IdempotencyKey {
    IdempotencyKey::from_bytes([n; 16])
}

/// Signs with a key after waiting at a barrier: the writer stops inside a
/// group, with its request taken, until the test meets it there.
#[derive(Debug)]
pub struct BarrierSigner {
    key: ed25519_dalek::SigningKey,
    gate: Arc<Barrier>,
    first_only: bool,
    held: AtomicBool,
}

impl BarrierSigner {
    /// Waits at `gate` before every signature.
    pub fn every(key: ed25519_dalek::SigningKey, gate: Arc<Barrier>) -> Self {
        Self {
            key,
            gate,
            first_only: false,
            held: AtomicBool::new(false),
        }
    }

    /// Waits at `gate` before the first signature only.
    pub fn first(key: ed25519_dalek::SigningKey, gate: Arc<Barrier>) -> Self {
        Self {
            first_only: true,
            ..Self::every(key, gate)
        }
    }
}

impl ReceiptSigner for BarrierSigner {
    fn key_id(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    fn sign(&self, cover: &[u8]) -> Result<[u8; 64], batpak::BoxError> {
        if !self.first_only || !self.held.swap(true, Ordering::SeqCst) {
            self.gate.wait();
        }
        ReceiptSigner::sign(&self.key, cover)
    }
}
