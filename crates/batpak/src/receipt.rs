//! What the store returns for an accepted append, and its portable JSON form.

use serde::Serialize;

mod json;
pub(crate) use json::Hex;
pub use json::ReceiptJsonError;

use crate::event::EventHeader;
use crate::id::{EventId, HlcPoint};

/// Proof of an accepted append: ids, sequences and hashes of the stored event.
///
/// `durable` is true only if the event was on disk before this receipt was returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AppendReceipt {
    /// The new event's id.
    pub event_id: EventId,
    /// Its position in commit order.
    pub global_sequence: u64,
    /// Its position in its entity's history.
    pub entity_sequence: u64,
    /// blake3 of the stored payload bytes.
    pub content_hash: [u8; 32],
    /// blake3 over domain tag, canonical header and content hash.
    pub event_hash: [u8; 32],
    /// The entity's previous `event_hash` (zeros at genesis).
    pub prev_hash: [u8; 32],
    /// The event's hybrid logical clock point.
    pub hlc: HlcPoint,
    /// True if the event was durable when the receipt was issued.
    pub durable: bool,
    /// The signer's ed25519 public key, when the receipt is signed.
    pub key_id: Option<[u8; 32]>,
    /// ed25519 signature over [`crate::receipt_cover`], when signed.
    #[serde(with = "opt_sig")]
    pub signature: Option<[u8; 64]>,
}

mod opt_sig {
    pub(super) fn serialize<S: serde::Serializer>(
        v: &Option<[u8; 64]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(sig) => s.serialize_some(&sig[..]),
            None => s.serialize_none(),
        }
    }
}

impl AppendReceipt {
    /// The unsigned, not-yet-durable receipt of the event with this header.
    pub(crate) fn of_header(h: &EventHeader) -> Self {
        Self {
            event_id: h.event_id,
            global_sequence: h.global_sequence,
            entity_sequence: h.entity_sequence,
            content_hash: h.content_hash,
            event_hash: h.event_hash,
            prev_hash: h.prev_hash,
            hlc: h.hlc,
            durable: false,
            key_id: None,
            signature: None,
        }
    }

    /// The event's hybrid logical clock point.
    pub fn hlc_point(&self) -> HlcPoint {
        self.hlc
    }
}
