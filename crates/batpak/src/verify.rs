//! Verification: recompute hashes from the bytes on disk, check links,
//! check receipts, walk ancestry.

use std::collections::{HashMap, HashSet};

use crate::chain;
use crate::error::StoreError;
use crate::event::StoredEvent;
use crate::id::EventId;
use crate::index::IndexEntry;
use crate::receipt::AppendReceipt;
use crate::sign::{receipt_cover, SigningState};
use std::sync::Arc;

use crate::engine::Shared;

/// The result of [`Store::verify_chain`](crate::Store::verify_chain).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainVerificationReport {
    /// Events whose frames were read and rehashed.
    pub events_checked: u64,
    /// Events whose recomputed `content_hash`/`event_hash` differ from the stored
    /// ones, or whose frame could not be read or decoded.
    pub mismatches: Vec<EventId>,
    /// Events whose `prev_hash` is not their entity predecessor's `event_hash`
    /// (or not zeros at genesis).
    pub dangling: Vec<EventId>,
    /// Events whose entity predecessor a retention compaction removed: their
    /// `prev_hash` names an event no longer held, so the link cannot be
    /// checked. A boundary of the kept history, not damage.
    pub retired_links: Vec<EventId>,
}

impl ChainVerificationReport {
    /// True when nothing was found wrong (links to retired events are
    /// boundaries, not faults).
    pub fn is_intact(&self) -> bool {
        self.mismatches.is_empty() && self.dangling.is_empty()
    }
}

/// Progress of a long verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyProgress {
    /// Events checked so far.
    pub checked: u64,
    /// Events that will be checked in total.
    pub total: u64,
}

/// What [`Store::verify_append_receipt`](crate::Store::verify_append_receipt) concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptVerification {
    /// The receipt matches the stored event and its signature verifies.
    ValidSigned {
        /// The signer's public key.
        key_id: [u8; 32],
    },
    /// The receipt matches the stored event but carries no signature.
    ValidUnsigned,
    /// The receipt matches the stored event but its signature does not verify
    /// (or was made by a key other than the store's).
    SignatureInvalid,
    /// The stored event differs from the receipt, or its bytes no longer hash to it.
    Mismatch {
        /// The first field that differs.
        field: &'static str,
    },
    /// No committed event has the receipt's id.
    NotFound,
}

impl ReceiptVerification {
    /// The receipt describes an event the store holds, byte for byte.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::ValidSigned { .. } | Self::ValidUnsigned)
    }

    /// The receipt carries a signature that verifies. Ask this separately from
    /// [`Self::is_valid`] when you need cryptographic proof.
    pub fn is_signed(&self) -> bool {
        matches!(self, Self::ValidSigned { .. })
    }
}

/// Why an ancestry walk stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AncestryBoundary {
    /// The walk reached the entity's first event.
    ReachedGenesis,
    /// The walk collected `limit` events.
    LimitReached,
    /// The parent of `child` is not in the store (or does not hash to `child.prev_hash`).
    MissingParent {
        /// The last event collected.
        child: EventId,
    },
    /// The parent of `child` was removed by a retention compaction: the
    /// kept history starts at `child`.
    Retired {
        /// The last event collected.
        child: EventId,
    },
    /// Reading `event_id` failed.
    ReadFailure {
        /// The event that could not be read.
        event_id: EventId,
    },
    /// The walk came back to `event_id`.
    Cycle {
        /// The event seen twice.
        event_id: EventId,
    },
}

/// An ancestry walk: the events found, newest first, and why it stopped.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct AncestorWalk {
    /// The starting event and its ancestors, newest first.
    pub ancestors: Vec<StoredEvent<serde_json::Value>>,
    /// Why the walk stopped.
    pub boundary: AncestryBoundary,
    /// Ancestors whose payload was shredded (payload encryption), newest
    /// first: each is in `ancestors` with a `null` payload, and the walk
    /// went on through it (the chain links hashes, not payloads).
    pub shredded: Vec<EventId>,
}

impl AncestorWalk {
    /// True if the event's payload was shredded (it is in the walk with a `null` payload).
    pub fn is_shredded(&self, id: EventId) -> bool {
        self.shredded.contains(&id)
    }

    /// True if the walk reached the entity's first event.
    pub fn reached_genesis(&self) -> bool {
        self.boundary == AncestryBoundary::ReachedGenesis
    }

    /// The last event collected when the walk stopped before genesis.
    pub fn truncated_at(&self) -> Option<EventId> {
        if self.reached_genesis() {
            None
        } else {
            self.ancestors.last().map(StoredEvent::event_id)
        }
    }
}

const CHUNK: usize = 4096;

/// Recomputes `content_hash` and `event_hash` of every committed event
pub(crate) fn verify_chain(shared: &Arc<Shared>) -> Result<ChainVerificationReport, StoreError> {
    verify_chain_with_progress(shared, |_| {})
}

/// [`Self::verify_chain`], calling `progress` after every few thousand events.
pub(crate) fn verify_chain_with_progress(
    shared: &Arc<Shared>,
    mut progress: impl FnMut(VerifyProgress),
) -> Result<ChainVerificationReport, StoreError> {
    let total = shared.index.read().len();
    let mut report = ChainVerificationReport::default();
    // entity -> (entity sequence, event_hash as stored) of its latest event checked so far
    let mut tips: HashMap<std::sync::Arc<str>, (u64, [u8; 32]), foldhash::fast::RandomState> =
        HashMap::default();
    // The first `total` events in commit order (appends made meanwhile are
    // the next verification's), a page at a time.
    let mut checked = 0;
    let mut after = None;
    let all = crate::region::Region::all();
    loop {
        let left = total - checked;
        if left == 0 {
            break;
        }
        let chunk = shared.index.read().query(&all, after, left.min(CHUNK))?;
        let Some(last) = chunk.last() else {
            break;
        };
        after = Some(last.global_sequence);
        for entry in &chunk {
            check_event(shared, entry, &mut tips, &mut report);
        }
        checked += chunk.len();
        report.events_checked = checked as u64;
        progress(VerifyProgress {
            checked: checked as u64,
            total: total as u64,
        });
    }
    Ok(report)
}

fn check_event(
    shared: &Arc<Shared>,
    entry: &IndexEntry,
    tips: &mut HashMap<std::sync::Arc<str>, (u64, [u8; 32]), foldhash::fast::RandomState>,
    report: &mut ChainVerificationReport,
) {
    let ent = entry.coordinate.entity_arc().clone();
    let raw = match shared.read_entry(entry) {
        Ok(raw) => raw,
        Err(_) => {
            report.mismatches.push(entry.event_id);
            // The link of the next event cannot be judged against unreadable bytes.
            tips.remove(&ent);
            return;
        }
    };
    let h = &raw.event.header;
    let recomputed = chain::event_hash(h, &raw.coordinate);
    let header_matches_index = h.global_sequence == entry.global_sequence
        && h.entity_sequence == entry.entity_sequence
        && h.kind == entry.kind
        && raw.coordinate == entry.coordinate;
    if recomputed != h.event_hash || !header_matches_index {
        report.mismatches.push(entry.event_id);
    }
    // The link is judged by the index's entity sequence (checked at open);
    // a frame that disagrees with it is a mismatch above.
    let es = entry.entity_sequence;
    let expected_prev = match (es, tips.get(&ent).copied()) {
        (0, _) => Some(chain::GENESIS_HASH),
        (es, Some((prev_es, hash))) if prev_es + 1 == es => Some(hash),
        (_, Some((_, hash))) if !retired_predecessor(shared, entry) => Some(hash),
        (_, None) if !retired_predecessor(shared, entry) => None,
        _ => {
            report.retired_links.push(entry.event_id);
            tips.insert(ent, (es, h.event_hash));
            return;
        }
    };
    if expected_prev != Some(h.prev_hash) {
        report.dangling.push(entry.event_id);
    }
    tips.insert(ent, (es, h.event_hash));
}

/// True when the entity's previous event was removed by a retention
/// compaction: the index holds no event at the entity sequence before this
/// one. Open checks that every range a retention did not rewrite is dense,
/// so nothing else leaves that gap.
fn retired_predecessor(shared: &Arc<Shared>, entry: &IndexEntry) -> bool {
    let Some(previous) = entry.entity_sequence.checked_sub(1) else {
        return false;
    };
    let index = shared.index.read();
    // An unreadable index is not a retirement: the link stays unexplained.
    index.has_retired()
        && index
            .entity_event_at(entry.coordinate.entity(), previous)
            .is_ok_and(|e| e.is_none())
}

/// Checks a receipt against the stored event, recomputing its hashes from
pub(crate) fn verify_append_receipt(
    shared: &Arc<Shared>,
    receipt: &AppendReceipt,
) -> ReceiptVerification {
    let Some(entry) = shared.entry(receipt.event_id) else {
        return ReceiptVerification::NotFound;
    };
    let raw = match shared.read_entry(&entry) {
        Ok(raw) => raw,
        Err(_) => return ReceiptVerification::Mismatch { field: "frame" },
    };
    let h = &raw.event.header;
    let checks: [(&'static str, bool); 6] = [
        (
            "global_sequence",
            h.global_sequence == receipt.global_sequence,
        ),
        (
            "entity_sequence",
            h.entity_sequence == receipt.entity_sequence,
        ),
        ("content_hash", h.content_hash == receipt.content_hash),
        (
            "event_hash",
            chain::event_hash(h, &raw.coordinate) == receipt.event_hash,
        ),
        ("stored_event_hash", h.event_hash == receipt.event_hash),
        ("prev_hash", h.prev_hash == receipt.prev_hash),
    ];
    if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
        return ReceiptVerification::Mismatch { field };
    }
    let (Some(key_id), Some(sig)) = (receipt.key_id, receipt.signature) else {
        return ReceiptVerification::ValidUnsigned;
    };
    let state = SigningState {
        signer: shared.cfg.signer.clone(),
        downgrade_allowed: false,
    };
    let key = match state.verifying_key() {
        Some(k) if k.to_bytes() != key_id => return ReceiptVerification::SignatureInvalid,
        Some(k) => k,
        None => match ed25519_dalek::VerifyingKey::from_bytes(&key_id) {
            Ok(k) => k,
            Err(_) => return ReceiptVerification::SignatureInvalid,
        },
    };
    let cover = receipt_cover(receipt, &key_id);
    match ed25519_dalek::Verifier::verify(&key, &cover, &ed25519_dalek::Signature::from_bytes(&sig))
    {
        Ok(()) => ReceiptVerification::ValidSigned { key_id },
        Err(_) => ReceiptVerification::SignatureInvalid,
    }
}

/// The event and its entity ancestors, newest first, at most `limit` events.
pub(crate) fn walk_ancestors(
    shared: &Arc<Shared>,
    id: EventId,
    limit: usize,
) -> Result<Vec<StoredEvent<serde_json::Value>>, StoreError> {
    Ok(walk_ancestors_outcome(shared, id, limit)?.ancestors)
}

/// Like [`Self::walk_ancestors`], also saying why the walk stopped.
pub(crate) fn walk_ancestors_outcome(
    shared: &Arc<Shared>,
    id: EventId,
    limit: usize,
) -> Result<AncestorWalk, StoreError> {
    let mut ancestors = Vec::new();
    let mut shredded = Vec::new();
    let mut seen = HashSet::new();
    let (mut current, mut is_shredded) = shared.get_marked(id)?;
    loop {
        let h = current.event.header.clone();
        seen.insert(h.event_id);
        if is_shredded {
            shredded.push(h.event_id);
        }
        let entity = current.coordinate.entity().to_owned();
        ancestors.push(current);
        let walk = |ancestors, boundary| AncestorWalk {
            ancestors,
            boundary,
            shredded: shredded.clone(),
        };
        if h.entity_sequence == 0 && h.prev_hash == chain::GENESIS_HASH {
            return Ok(walk(ancestors, AncestryBoundary::ReachedGenesis));
        }
        if ancestors.len() >= limit {
            return Ok(walk(ancestors, AncestryBoundary::LimitReached));
        }
        let parent = match h.entity_sequence.checked_sub(1) {
            Some(es) => shared.index.read().entity_event_at(&entity, es)?,
            None => None,
        };
        let Some(parent) = parent else {
            // Open checks every kept range is dense, so an entity
            // predecessor is absent only when retention removed it.
            let boundary = if shared.index.read().has_retired() {
                AncestryBoundary::Retired { child: h.event_id }
            } else {
                AncestryBoundary::MissingParent { child: h.event_id }
            };
            return Ok(walk(ancestors, boundary));
        };
        if seen.contains(&parent.event_id) {
            return Ok(walk(
                ancestors,
                AncestryBoundary::Cycle {
                    event_id: parent.event_id,
                },
            ));
        }
        (current, is_shredded) = match shared.get_marked(parent.event_id) {
            Ok(found) => found,
            Err(_) => {
                return Ok(walk(
                    ancestors,
                    AncestryBoundary::ReadFailure {
                        event_id: parent.event_id,
                    },
                ))
            }
        };
        if current.event.header.event_hash != h.prev_hash {
            let ancestors_so_far = ancestors;
            return Ok(walk(
                ancestors_so_far,
                AncestryBoundary::MissingParent { child: h.event_id },
            ));
        }
    }
}

/// Runs the open-time check for `ChainVerification::Recompute`.
pub(crate) fn verify_at_open(shared: &Arc<Shared>) -> Result<(), StoreError> {
    let report = verify_chain(shared)?;
    if report.is_intact() {
        return Ok(());
    }
    let first = report
        .mismatches
        .first()
        .into_iter()
        .chain(report.dangling.first())
        .min_by_key(|id| shared.entry(**id).map(|e| e.global_sequence))
        .copied();
    Err(StoreError::ChainVerificationFailed {
        mismatches: report.mismatches.len(),
        dangling: report.dangling.len(),
        first,
    })
}
