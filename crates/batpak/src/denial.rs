//! Denials and bypasses as evidence: recording a gate's refusal as a system
//! event, its signed receipt, and the audit list of bypassed approvals.
//!
//! A denial event has kind [`DENIAL_KIND`] (category `0x0`, reserved for the
//! store) and a MessagePack map payload:
//!
//! | key | value |
//! |-----|-------|
//! | `gate` | the refusing gate's name |
//! | `code` | the denial code |
//! | `message` | the message |
//! | `context` | map of string to string, sorted by key |
//! | `proposed_kind` | the refused proposal's kind (`u16`), or nil |
//! | `payload_hash` | lowercase hex blake3 of the refused payload, or nil |
//!
//! The refused payload itself is never stored. Like any event, the denial is
//! hashed into its entity's chain, and its receipt is signed with the same
//! cover as an append receipt (see [`crate::sign`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::attestation::{check_name, GateAttestation};
use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::gate::{Denial, ProposalDigest};
use crate::id::EventId;
use crate::index::IndexEntry;
use crate::kind::EventKind;
use crate::options::AppendOptions;
use crate::receipt::AppendReceipt;
use crate::region::Region;
use crate::sign::ReceiptVerificationError;
use std::sync::Arc;

use crate::append::Appender;
use crate::engine::Shared;
use crate::event::encode_payload;
use crate::verify::ReceiptVerification;

/// The kind of the store's denial records (category `0x0`, type id `0x0DE`).
/// User appends of this kind are refused; only [`Store::append_denial`](crate::Store::append_denial) writes it.
///
/// ```
/// assert_eq!(batpak::DENIAL_KIND.category(), 0);
/// assert!(batpak::DENIAL_KIND.is_reserved());
/// ```
pub const DENIAL_KIND: EventKind = EventKind::system(0x0DE);

/// Payload schema version of denial records.
const DENIAL_PAYLOAD_VERSION: u16 = 1;

/// Number of frames read between index lock acquisitions during an audit scan.
const SCAN_CHUNK: usize = 4096;

/// The stored shape of a denial, borrowed for encoding.
#[derive(Serialize)]
struct RecordRef<'a> {
    gate: &'a str,
    code: &'a str,
    message: &'a str,
    context: &'a BTreeMap<String, String>,
    proposed_kind: Option<u16>,
    payload_hash: Option<String>,
}

/// The stored shape of a denial, owned for decoding.
#[derive(Deserialize)]
struct Record {
    gate: String,
    code: String,
    message: String,
    context: BTreeMap<String, String>,
    proposed_kind: Option<u16>,
    payload_hash: Option<String>,
}

impl Denial {
    fn record(&self) -> RecordRef<'_> {
        RecordRef {
            gate: &self.gate,
            code: &self.code,
            message: &self.message,
            context: &self.context,
            proposed_kind: self.proposal.as_ref().map(|p| p.kind.as_u16()),
            payload_hash: self
                .proposal
                .as_ref()
                .map(|p| blake3::Hash::from(p.payload_hash).to_hex().to_string()),
        }
    }

    /// The exact payload bytes a denial event stores.
    fn encode_record(&self) -> Result<Vec<u8>, StoreError> {
        encode_payload(&self.record())
    }
}

impl Serialize for Denial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.record().serialize(s)
    }
}

/// Proof that a denial was recorded: the receipt of the denial event and the
/// denial it describes.
///
/// The signature is the ordinary receipt signature; it covers the event's
/// `content_hash`, which is the hash of the denial's stored record, so the
/// gate, code, message, context and proposal digest are all signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DenialReceipt {
    /// The receipt of the denial event.
    pub receipt: AppendReceipt,
    /// The denial recorded.
    pub denial: Denial,
}

impl DenialReceipt {
    /// The denial event's id.
    pub fn event_id(&self) -> EventId {
        self.receipt.event_id
    }

    /// True when the receipt's `content_hash` is the hash of this denial's record.
    pub fn describes_denial(&self) -> bool {
        self.denial
            .encode_record()
            .is_ok_and(|bytes| crate::chain::content_hash(&bytes) == self.receipt.content_hash)
    }

    /// Checks the signature against a public key you trust, and that the signed
    /// `content_hash` is this denial's; needs no store. A receipt whose denial
    /// was altered fails with [`ReceiptVerificationError::BadSignature`]: the
    /// signature does not vouch for it.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::Denial;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    /// let trusted = key.verifying_key();
    /// let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key))?;
    /// let coord = Coordinate::new("order:1", "shop")?;
    /// let mut r = store.append_denial(&coord, &Denial::new("limit", "too much"))?;
    /// r.verify_signature(&trusted)?;
    /// r.denial = Denial::new("limit", "fine actually");
    /// assert!(r.verify_signature(&trusted).is_err());
    /// # Ok(()) }
    /// ```
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<(), ReceiptVerificationError> {
        self.receipt.verify_signature(key)?;
        if self.describes_denial() {
            Ok(())
        } else {
            Err(ReceiptVerificationError::BadSignature)
        }
    }
}

/// One approval that skipped its gates, as [`Store::bypasses`](crate::Store::bypasses) lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BypassRecord {
    /// The bypassed event.
    pub event_id: EventId,
    /// Its position in commit order.
    pub global_sequence: u64,
    /// Its kind.
    pub kind: EventKind,
    /// Its entity and scope.
    pub coordinate: Coordinate,
    /// The recorded ticket.
    pub ticket: String,
    /// The recorded reason.
    pub reason: String,
}

/// Records a denial as a system event of kind [`DENIAL_KIND`] on
pub(crate) fn append_denial(
    appender: &Appender,
    coordinate: &Coordinate,
    denial: &Denial,
) -> Result<DenialReceipt, StoreError> {
    append_denial_with_options(appender, coordinate, denial, AppendOptions::default())
}

/// [`Store::append_denial`](crate::Store::append_denial) with options: a correlation id puts the denial
pub(crate) fn append_denial_with_options(
    appender: &Appender,
    coordinate: &Coordinate,
    denial: &Denial,
    options: AppendOptions,
) -> Result<DenialReceipt, StoreError> {
    check_name("gate name", &denial.gate)?;
    check_name("denial code", &denial.code)?;
    let payload = denial.encode_record()?;
    let item = appender.prepare_any_kind(
        coordinate.clone(),
        DENIAL_KIND,
        payload,
        options.with_payload_version(DENIAL_PAYLOAD_VERSION),
    )?;
    let receipt = appender.append_one(item)?;
    Ok(DenialReceipt {
        receipt,
        denial: denial.clone(),
    })
}

/// Checks a denial receipt: the receipt against the stored event (as
pub(crate) fn verify_denial_receipt(
    shared: &Arc<Shared>,
    receipt: &DenialReceipt,
) -> ReceiptVerification {
    let verdict = crate::verify::verify_append_receipt(shared, &receipt.receipt);
    if matches!(
        verdict,
        ReceiptVerification::NotFound | ReceiptVerification::Mismatch { .. }
    ) {
        return verdict;
    }
    if shared.entry(receipt.receipt.event_id).map(|e| e.kind) != Some(DENIAL_KIND) {
        return ReceiptVerification::Mismatch { field: "kind" };
    }
    if !receipt.describes_denial() {
        return ReceiptVerification::Mismatch { field: "denial" };
    }
    verdict
}

/// Reads a recorded denial back. Fails with [`StoreError::KindMismatch`]
pub(crate) fn read_denial(shared: &Arc<Shared>, id: EventId) -> Result<Denial, StoreError> {
    let raw = shared.read_raw(id)?;
    let found = raw.event.header.kind;
    if found != DENIAL_KIND {
        return Err(StoreError::KindMismatch {
            event_id: id,
            expected: DENIAL_KIND,
            found,
        });
    }
    let bad = |source: crate::BoxError| StoreError::Deserialization {
        event_id: id,
        source,
    };
    let r: Record = rmp_serde::from_slice(&raw.event.payload).map_err(|e| bad(Box::new(e)))?;
    let proposal = match (r.proposed_kind, r.payload_hash) {
        (Some(kind), Some(hex)) => {
            let hash = blake3::Hash::from_hex(hex.as_bytes()).map_err(|e| bad(Box::new(e)))?;
            Some(Box::new(ProposalDigest {
                kind: EventKind::from_u16(kind),
                payload_hash: *hash.as_bytes(),
            }))
        }
        (None, None) => None,
        _ => {
            return Err(bad(
                "proposed_kind and payload_hash must be set together".into()
            ))
        }
    };
    Ok(Denial {
        gate: Cow::Owned(r.gate),
        code: Cow::Owned(r.code),
        message: r.message,
        context: r.context,
        proposal,
    })
}

/// Every committed event whose gates were bypassed, in commit order.
pub(crate) fn bypasses(shared: &Arc<Shared>) -> Result<Vec<BypassRecord>, StoreError> {
    bypasses_in(shared, &Region::all())
}

/// [`Self::bypasses`] restricted to `region` (reads only that region's frames).
pub(crate) fn bypasses_in(
    shared: &Arc<Shared>,
    region: &Region,
) -> Result<Vec<BypassRecord>, StoreError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page: Vec<IndexEntry> = shared.query_entries_after(region, after, SCAN_CHUNK);
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = Some(last.global_sequence);
        for entry in &page {
            let raw = shared.read_entry(entry)?;
            if let Some(GateAttestation::Bypassed { ticket, reason }) = raw.event.header.attestation
            {
                out.push(BypassRecord {
                    event_id: entry.event_id,
                    global_sequence: entry.global_sequence,
                    kind: entry.kind,
                    coordinate: entry.coordinate.clone(),
                    ticket,
                    reason,
                });
            }
        }
    }
}
