//! Staging: turns a request into frames, receipts and index entries without
//! touching a file. Checks the expected sequence, answers idempotent retries,
//! resolves causation, links each entity's chain, hashes and signs, and
//! encodes the frames. Nothing it computes is kept until
//! [`Stager::commit`]: a request that fails later (say, its segment cannot
//! be created) leaves the sequence counters where they were.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::attestation::GateAttestation;
use crate::chain;
use crate::coordinate::Coordinate;
use crate::engine::Shared;
use crate::error::{CausationProblem, StoreError};
use crate::event::EventHeader;
use crate::format::{self, encode_frame, FrameFields, KeyRecord, PayloadDigest};
use crate::id::{self, CorrelationId, EventId, HlcPoint, IdempotencyKey};
use crate::idempotency::KeyIndex;
use crate::index::{IndexEntry, Location};
use crate::kind::EventKind;
use crate::options::CausationRef;
use crate::receipt::AppendReceipt;
use crate::seam::{PayloadAt, PayloadTransform};
use crate::sequence::ExpectedSequence;
use crate::sign::SigningState;

/// One event to append, validated and encoded by the caller.
#[derive(Debug)]
pub(crate) struct PreparedItem {
    pub(crate) coordinate: Coordinate,
    pub(crate) kind: EventKind,
    pub(crate) payload: Vec<u8>,
    pub(crate) payload_version: u16,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation: CausationRef,
    pub(crate) expected: ExpectedSequence,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
    /// Set only by a gated commit ([`crate::Pipeline::commit`]).
    pub(crate) attestation: Option<GateAttestation>,
}

/// Chain tips touched by the requests staged so far: entity → (next entity
/// sequence, last event hash).
pub(crate) type Tips = HashMap<Arc<str>, (u64, [u8; 32]), RandomState>;

/// Idempotency keys used by the requests staged so far in one group, with
/// their receipts and what a retry's payload is compared with.
pub(crate) type GroupKeys = HashMap<IdempotencyKey, (AppendReceipt, PayloadDigest), RandomState>;

/// One event staged for writing.
#[derive(Debug)]
pub(crate) struct Staged {
    /// The event's header, hashes filled.
    pub(crate) header: EventHeader,
    /// Where its frame goes: `offset` is relative to the request's first
    /// frame until the request is placed in a segment.
    pub(crate) entry: IndexEntry,
    /// For an event with an idempotency key: what a retry is compared with.
    pub(crate) digest: Option<PayloadDigest>,
}

/// The outcome of staging one request.
#[derive(Debug)]
pub(crate) enum Staging {
    /// New events: their receipts, index entries and encoded frames.
    Staged(Request),
    /// A retry of earlier appends: their receipts.
    Deduped(Vec<AppendReceipt>),
}

/// A request's new events, staged but not yet placed or committed.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) receipts: Vec<AppendReceipt>,
    pub(crate) staged: Vec<Staged>,
    /// The request's frames, back to back.
    pub(crate) frames: Vec<u8>,
    /// Tips after this request.
    tips: Tips,
    /// HLC of the request's last event.
    hlc: HlcPoint,
}

/// The writer's sequence counters, id generator, signer and idempotency keys.
#[derive(Debug)]
pub(crate) struct Stager {
    shared: Arc<Shared>,
    next_global_sequence: u64,
    hlc: HlcPoint,
    ids: id::IdGenerator,
    signing: SigningState,
    keys: KeyIndex,
    transform: Option<Arc<dyn PayloadTransform>>,
}

impl Stager {
    /// A stager that continues after the index's last event.
    pub(crate) fn new(shared: Arc<Shared>, keys: Vec<KeyRecord>) -> Self {
        let (next_global_sequence, hlc) = {
            let idx = shared.index.read();
            (idx.next_global_sequence(), idx.last_hlc)
        };
        let signing = SigningState {
            signer: shared.cfg.signer.clone(),
            downgrade_allowed: shared.cfg.signing_downgrade_allowed,
        };
        let mut index = KeyIndex::new(
            shared.cfg.idempotency_window,
            shared.cfg.idempotency_capacity,
        );
        for rec in keys {
            index.insert(rec, next_global_sequence);
        }
        Self {
            transform: shared.cfg.payload_transform.clone(),
            shared,
            next_global_sequence,
            hlc,
            ids: id::IdGenerator::new(),
            signing,
            keys: index,
        }
    }

    /// Global sequence of the next event to stage.
    pub(crate) fn next_global_sequence(&self) -> u64 {
        self.next_global_sequence
    }

    /// HLC of the last staged event.
    pub(crate) fn hlc(&self) -> HlcPoint {
        self.hlc
    }

    /// Idempotency keys of committed events (for the sidecar).
    pub(crate) fn keys(&self) -> &KeyIndex {
        &self.keys
    }

    /// Remembers the idempotency keys of published events.
    pub(crate) fn remember_keys<'a>(&mut self, published: impl Iterator<Item = &'a Staged>) {
        for s in published {
            if let Some(key) = s.header.idempotency_key {
                let rec = KeyRecord {
                    key,
                    event_id: s.header.event_id,
                    global_sequence: s.header.global_sequence,
                    digest: s
                        .digest
                        .unwrap_or(PayloadDigest::Plain(s.header.content_hash)),
                };
                self.keys.insert(rec, self.next_global_sequence);
            }
        }
    }

    /// Validates a request against the current state (and what `tips` and
    /// `group_keys` say earlier requests of the group staged), assigns
    /// sequences and hashes, and encodes its frames. Changes nothing but the
    /// id generator; [`Stager::commit`] makes the result count.
    pub(crate) fn stage(
        &mut self,
        items: Vec<PreparedItem>,
        tips: &Tips,
        group_keys: &GroupKeys,
    ) -> Result<Staging, StoreError> {
        if let Some(receipts) = self.dedupe(&items, group_keys)? {
            return Ok(Staging::Deduped(receipts));
        }
        let mut frames = Vec::new();
        let mut receipts: Vec<AppendReceipt> = Vec::with_capacity(items.len());
        let mut staged = Vec::with_capacity(items.len());
        let mut local = Tips::default();
        let mut hlc = self.hlc;
        let n = items.len();
        let wall = id::now_ms();
        for (i, mut item) in items.into_iter().enumerate() {
            // One index lookup per item: the shared names and, unless this group
            // already touched the entity, its chain tip.
            let (coordinate, tip) = {
                let index = self.shared.index.read();
                let c = index.interned_coordinate(&item.coordinate);
                let earlier = local.get(c.entity()).or_else(|| tips.get(c.entity()));
                let tip = earlier
                    .copied()
                    .unwrap_or_else(|| index.entity_tip(c.entity()));
                (c, tip)
            };
            let (es, prev) = tip;
            check_expected(coordinate.entity(), item.expected, es)?;
            let causation_id = self.resolve_causation(&item, i, &receipts)?;
            hlc = hlc.tick(wall);
            let event_id = self.ids.next_id(hlc.physical_ms);
            let plaintext = std::mem::take(&mut item.payload);
            let (payload, digest) =
                self.transform_payload(&coordinate, &item, plaintext, event_id)?;
            let mut header = EventHeader {
                event_id,
                global_sequence: self.next_global_sequence + i as u64,
                entity_sequence: es,
                kind: item.kind,
                wall_ms: wall,
                hlc,
                correlation_id: item.correlation_id,
                causation_id,
                idempotency_key: item.idempotency_key,
                payload_version: item.payload_version,
                attestation: item.attestation,
                // Hashed (layout 2), so recovery can tell a batch cut short
                // by a crash from a rewritten count.
                batch_remaining: u32::try_from(n - 1 - i).unwrap_or(u32::MAX),
                hash_version: chain::HASH_VERSION,
                prev_hash: prev,
                content_hash: chain::content_hash(&payload),
                event_hash: [0; 32],
            };
            let digest = digest.or_else(|| {
                item.idempotency_key
                    .map(|_| PayloadDigest::Plain(header.content_hash))
            });
            header.event_hash = chain::event_hash(&header, &coordinate);
            let start = frames.len();
            encode_frame(
                &mut frames,
                &FrameFields::of_event(&header, &coordinate, &payload),
            );
            let len = frames.len() - start;
            local.insert(coordinate.entity_arc().clone(), (es + 1, header.event_hash));
            let mut receipt = AppendReceipt::of_header(&header);
            self.signing
                .sign(&mut receipt)
                .map_err(|source| StoreError::SigningFailed { source })?;
            receipts.push(receipt);
            let location = Location {
                segment: 0,
                offset: start as u64,
                len: u32::try_from(len).unwrap_or(u32::MAX),
            };
            staged.push(Staged {
                entry: IndexEntry::of_header(&header, coordinate, location),
                header,
                digest,
            });
        }
        Ok(Staging::Staged(Request {
            receipts,
            staged,
            frames,
            tips: local,
            hlc,
        }))
    }

    /// Makes a placed request count: advances the sequence counters and
    /// records its chain tips in `tips` for the rest of the group.
    pub(crate) fn commit(&mut self, request: &mut Request, tips: &mut Tips) {
        self.next_global_sequence += request.staged.len() as u64;
        self.hlc = request.hlc;
        tips.extend(request.tips.drain());
    }

    /// Finds earlier appends with the same idempotency keys. `Ok(Some)` holds
    /// the original receipts of a full retry.
    fn dedupe(
        &self,
        items: &[PreparedItem],
        group_keys: &GroupKeys,
    ) -> Result<Option<Vec<AppendReceipt>>, StoreError> {
        // One key names one event: a batch that repeats one is refused whole
        // (deduplicating it would leave its retry ambiguous).
        let mut keyed: HashMap<IdempotencyKey, usize, RandomState> = HashMap::default();
        for (i, item) in items.iter().enumerate() {
            if let Some(key) = item.idempotency_key {
                if let Some(&first) = keyed.get(&key) {
                    return Err(StoreError::DuplicateIdempotencyKey {
                        key,
                        first,
                        second: i,
                    });
                }
                keyed.insert(key, i);
            }
        }
        let mut found = Vec::new();
        for item in items {
            let Some(key) = item.idempotency_key else {
                found.push(None);
                continue;
            };
            if let Some((r, digest)) = group_keys.get(&key) {
                self.check_same_payload(key, *digest, item, r.event_id)?;
                found.push(Some(r.clone()));
                continue;
            }
            match self.keys.get(&key) {
                None => found.push(None),
                Some(rec) => {
                    self.check_same_payload(key, rec.digest, item, rec.event_id)?;
                    found.push(Some(self.original_receipt(rec, item)?));
                }
            }
        }
        let hits = found.iter().filter(|f| f.is_some()).count();
        if hits == 0 {
            Ok(None)
        } else if hits < found.len() {
            Err(StoreError::IdempotencyPartialBatch)
        } else {
            Ok(Some(found.into_iter().flatten().collect()))
        }
    }

    /// The bytes to store for `item` (sealed, when a transform is
    /// installed) and, for an item with an idempotency key whose payload
    /// the transform changed, the digest a retry is compared with.
    fn transform_payload(
        &self,
        coordinate: &Coordinate,
        item: &PreparedItem,
        payload: Vec<u8>,
        event_id: EventId,
    ) -> Result<(Vec<u8>, Option<PayloadDigest>), StoreError> {
        let Some(t) = &self.transform else {
            return Ok((payload, None));
        };
        let at = PayloadAt {
            coordinate,
            kind: item.kind,
            event_id,
        };
        // Only a keyed append needs its plaintext after the seal (for its digest).
        let kept = item.idempotency_key.map(|_| payload.clone());
        let stored = t.apply(at, payload)?;
        let Some(plaintext) = kept.filter(|_| format::is_sealed(&stored)) else {
            return Ok((stored, None));
        };
        let digest = match t.digest(at, &plaintext)? {
            Some(d) => PayloadDigest::Sealed(d),
            None => PayloadDigest::SealedUnknown,
        };
        Ok((stored, Some(digest)))
    }

    /// Refuses a retry whose payload is not the original's. A sealed
    /// original is compared through its keyed digest, or by opening it
    /// when the digest is not known; a shredded one cannot be compared and
    /// is refused.
    fn check_same_payload(
        &self,
        key: IdempotencyKey,
        digest: PayloadDigest,
        item: &PreparedItem,
        original: EventId,
    ) -> Result<(), StoreError> {
        let conflict = |reason| StoreError::IdempotencyConflict { key, reason };
        let same = match digest {
            PayloadDigest::Plain(h) => chain::content_hash(&item.payload) == h,
            PayloadDigest::Sealed(d) => {
                let t = self
                    .transform
                    .as_ref()
                    .ok_or(conflict("the original payload is sealed"))?;
                let at = PayloadAt {
                    coordinate: &item.coordinate,
                    kind: item.kind,
                    event_id: original,
                };
                match t.digest(at, &item.payload)? {
                    Some(x) => x == d,
                    None => return Err(conflict("the original payload was shredded")),
                }
            }
            PayloadDigest::SealedUnknown => {
                let entry = self
                    .shared
                    .entry(original)
                    .ok_or(conflict("the original payload cannot be compared"))?;
                let raw = self.shared.read_entry(&entry)?;
                match self.shared.open_stored(raw) {
                    Ok(opened) => opened.event.payload == item.payload,
                    Err(StoreError::PayloadShredded { .. }) => {
                        return Err(conflict("the original payload was shredded"))
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if same {
            Ok(())
        } else {
            Err(conflict("payload differs"))
        }
    }

    /// Rebuilds (and re-signs) the receipt of a committed event from its frame.
    fn original_receipt(
        &self,
        rec: &KeyRecord,
        item: &PreparedItem,
    ) -> Result<AppendReceipt, StoreError> {
        let entry = self
            .shared
            .entry(rec.event_id)
            .ok_or(StoreError::NotFound {
                event_id: rec.event_id,
            })?;
        if entry.coordinate != item.coordinate || entry.kind != item.kind {
            return Err(StoreError::IdempotencyConflict {
                key: rec.key,
                reason: "coordinate or kind differs",
            });
        }
        let header = self.shared.read_entry(&entry)?.event.header;
        let mut r = AppendReceipt::of_header(&header);
        r.durable = self.shared.is_durable(header.global_sequence);
        self.signing
            .sign(&mut r)
            .map_err(|source| StoreError::SigningFailed { source })?;
        Ok(r)
    }

    fn resolve_causation(
        &self,
        item: &PreparedItem,
        index: usize,
        earlier: &[AppendReceipt],
    ) -> Result<Option<EventId>, StoreError> {
        match item.causation {
            CausationRef::None => Ok(None),
            CausationRef::Event(id) => {
                if self.shared.index.read().get(id)?.is_some() {
                    Ok(Some(id))
                } else {
                    Err(StoreError::InvalidCausation {
                        problem: CausationProblem::NotCommitted { event_id: id },
                    })
                }
            }
            CausationRef::PriorItem(p) if p < index => Ok(earlier.get(p).map(|r| r.event_id)),
            CausationRef::PriorItem(p) => Err(StoreError::InvalidCausation {
                problem: CausationProblem::NotEarlier {
                    item: index,
                    refers_to: p,
                },
            }),
        }
    }
}

fn check_expected(
    entity: &str,
    expected: ExpectedSequence,
    next_es: u64,
) -> Result<(), StoreError> {
    let actual = next_es.checked_sub(1);
    let ok = match expected {
        ExpectedSequence::Any => true,
        ExpectedSequence::NoStream => actual.is_none(),
        ExpectedSequence::Exact(n) => actual == Some(n),
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::SequenceMismatch {
            entity: entity.to_owned(),
            expected,
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::config::StoreConfig;
    use crate::coordinate::Coordinate;
    use crate::format::decode_frame;
    use crate::kind::EventKind;
    use crate::recovery::{recover, Access};

    const K: EventKind = EventKind::custom(0xE, 1);

    /// A stager over an empty store: the directory is read once to build the
    /// engine state; staging itself never touches it.
    fn stager(cfg: StoreConfig) -> (tempfile::TempDir, Stager) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = StoreConfig {
            dir: dir.path().to_path_buf(),
            ..cfg
        };
        let mut rec = recover(&cfg, Access::ReadOnly).unwrap();
        let shared = Shared::new(cfg, &mut rec, false);
        (dir, Stager::new(shared, Vec::new()))
    }

    fn item(entity: &str, payload: &[u8]) -> PreparedItem {
        PreparedItem {
            coordinate: Coordinate::new(entity, "s").unwrap(),
            kind: K,
            payload: payload.to_vec(),
            payload_version: 1,
            correlation_id: None,
            causation: CausationRef::None,
            expected: ExpectedSequence::Any,
            idempotency_key: None,
            attestation: None,
        }
    }

    fn staged(s: &mut Stager, items: Vec<PreparedItem>, tips: &Tips) -> Request {
        match s.stage(items, tips, &GroupKeys::default()).unwrap() {
            Staging::Staged(r) => r,
            Staging::Deduped(_) => panic!("not a retry"),
        }
    }

    #[test]
    fn one_header_becomes_the_frame_the_receipt_and_the_index_entry() {
        let (_dir, mut s) = stager(StoreConfig::new("unused"));
        let r = staged(
            &mut s,
            vec![item("a", b"\x01"), item("a", b"\x02")],
            &Tips::default(),
        );
        let mut at = 0;
        let layout: Vec<_> = r
            .staged
            .iter()
            .map(|st| (st.header.hash_version, st.header.batch_remaining))
            .collect();
        assert_eq!(layout, [(2, 1), (2, 0)], "hashed with the batch framing");
        for (st, receipt) in r.staged.iter().zip(&r.receipts) {
            let h = &st.header;
            let (f, used) = decode_frame(&r.frames[at..]).unwrap();
            assert_eq!(
                f.header(chain::HASH_VERSION),
                *h,
                "the frame holds the header"
            );
            assert_eq!(used as u32, st.entry.location.len);
            assert_eq!(st.entry.location.offset, at as u64);
            at += used;
            assert_eq!(h.event_hash, chain::event_hash(h, &st.entry.coordinate));
            assert_eq!(
                (receipt.event_id, receipt.event_hash),
                (h.event_id, h.event_hash)
            );
            assert_eq!(st.entry.global_sequence(), h.global_sequence);
        }
        assert_eq!(at, r.frames.len());
        // Within a request, each event links to the one before it.
        assert_eq!(r.staged[0].header.prev_hash, chain::GENESIS_HASH);
        assert_eq!(r.staged[1].header.prev_hash, r.staged[0].header.event_hash);
        assert_eq!(r.staged[1].header.entity_sequence, 1);
    }

    #[test]
    fn nothing_counts_until_commit_and_commit_links_the_next_request() {
        let (_dir, mut s) = stager(StoreConfig::new("unused"));
        let mut tips = Tips::default();
        let first = staged(&mut s, vec![item("a", b"\x01")], &tips);
        assert_eq!(s.next_global_sequence(), 0, "staging alone assigns nothing");
        let again = staged(&mut s, vec![item("a", b"\x01")], &tips);
        assert_eq!(again.staged[0].header.global_sequence, 0);
        let mut first = first;
        s.commit(&mut first, &mut tips);
        assert_eq!(s.next_global_sequence(), 1);
        let second = staged(&mut s, vec![item("a", b"\x02")], &tips);
        let h = &second.staged[0].header;
        assert_eq!((h.global_sequence, h.entity_sequence), (1, 1));
        assert_eq!(h.prev_hash, first.staged[0].header.event_hash);
    }

    #[test]
    fn a_refused_request_changes_nothing() {
        let (_dir, mut s) = stager(StoreConfig::new("unused"));
        let mut bad = item("a", b"\x01");
        bad.expected = ExpectedSequence::Exact(0);
        let err = s
            .stage(vec![bad], &Tips::default(), &GroupKeys::default())
            .unwrap_err();
        assert!(
            matches!(err, StoreError::SequenceMismatch { actual: None, .. }),
            "{err:?}"
        );
        let mut later = item("b", b"\x01");
        later.causation = CausationRef::PriorItem(1);
        let err = s
            .stage(
                vec![item("b", b"\x00"), later],
                &Tips::default(),
                &GroupKeys::default(),
            )
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::InvalidCausation {
                problem: CausationProblem::NotEarlier {
                    item: 1,
                    refers_to: 1
                }
            }
        ));
        assert_eq!(s.next_global_sequence(), 0);
    }

    #[test]
    fn a_retry_within_the_group_is_answered_from_the_group() {
        let (_dir, mut s) = stager(StoreConfig::new("unused"));
        let key = IdempotencyKey::from_bytes([7; 16]);
        let keyed = |payload: &[u8]| {
            let mut i = item("a", payload);
            i.idempotency_key = Some(key);
            i
        };
        let first = staged(&mut s, vec![keyed(b"\x01")], &Tips::default());
        let mut group = GroupKeys::default();
        group.insert(
            key,
            (first.receipts[0].clone(), first.staged[0].digest.unwrap()),
        );
        match s
            .stage(vec![keyed(b"\x01")], &Tips::default(), &group)
            .unwrap()
        {
            Staging::Deduped(r) => assert_eq!(r, first.receipts),
            Staging::Staged(_) => panic!("a retry must not stage new frames"),
        }
        let err = s
            .stage(vec![keyed(b"\x02")], &Tips::default(), &group)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::IdempotencyConflict { .. }),
            "{err:?}"
        );
    }

    /// Reverses the payload's bytes: stands for an encryption seal.
    #[derive(Debug)]
    struct Reverse;
    impl PayloadTransform for Reverse {
        fn apply(&self, _: PayloadAt<'_>, mut payload: Vec<u8>) -> Result<Vec<u8>, StoreError> {
            payload.reverse();
            Ok(payload)
        }
        fn digest(&self, _: PayloadAt<'_>, _: &[u8]) -> Result<Option<[u8; 32]>, StoreError> {
            Ok(None)
        }
        fn open(&self, _: PayloadAt<'_>, stored: &[u8]) -> Result<crate::seam::Opened, StoreError> {
            Ok(crate::seam::Opened::Plain(
                stored.iter().rev().copied().collect(),
            ))
        }
    }

    #[test]
    fn the_payload_transform_runs_before_hashing_and_framing() {
        let cfg = StoreConfig {
            payload_transform: Some(Arc::new(Reverse)),
            ..StoreConfig::new("unused")
        };
        let (_dir, mut s) = stager(cfg);
        let r = staged(&mut s, vec![item("a", b"\x01\x02\x03")], &Tips::default());
        let (f, _) = decode_frame(&r.frames).unwrap();
        assert_eq!(f.payload, b"\x03\x02\x01");
        let h = &r.staged[0].header;
        assert_eq!(h.content_hash, chain::content_hash(b"\x03\x02\x01"));
        assert_eq!(r.receipts[0].content_hash, h.content_hash);
    }
}
