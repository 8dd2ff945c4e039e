//! One event as a frame: `[body_len u32 LE][crc32 u32 LE of body][body]`, the
//! body a msgpack array of [`FRAME_FIELDS`] values.

use super::error::DecodeError;
use super::reader::Reader;
use super::{check_crc, len_u32, to_u64, write_opt_id};
use crate::attestation::{GateAttestation, MAX_ATTESTED_GATES};
use crate::coordinate::Coordinate;
use crate::event::EventHeader;
use crate::id::{CorrelationId, EventId, HlcPoint, IdempotencyKey};
use crate::kind::EventKind;

/// Bytes before each frame body: `[len u32 LE][crc32 u32 LE]`.
pub const FRAME_PREFIX_LEN: usize = 8;
/// Smallest body a valid frame can have (an event with one-byte names and an empty payload).
pub(crate) const MIN_FRAME_BODY_LEN: usize = 90;
/// Largest body a frame may declare.
pub(crate) const MAX_FRAME_BODY_LEN: usize = 1 << 30;
/// Number of fields in a frame body array (segment format versions 1 and 2
/// alike). New fields are appended, so a field's position never changes.
pub(super) const FRAME_FIELDS: u32 = 18;
/// First bytes of every frame body: a msgpack array16 marker and the field count.
pub(crate) const FRAME_BODY_START: [u8; 3] = [0xdc, 0x00, FRAME_FIELDS as u8];

/// The fields of one frame body, borrowed from a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FrameFields<'a> {
    pub(crate) event_id: EventId,
    pub(crate) global_sequence: u64,
    pub(crate) entity_sequence: u64,
    pub(crate) kind: EventKind,
    pub(crate) entity: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) wall_ms: u64,
    pub(crate) hlc: HlcPoint,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation_id: Option<EventId>,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
    pub(crate) payload_version: u16,
    /// Frames that follow this one in the same atomic batch (0: last or single).
    pub(crate) batch_remaining: u32,
    pub(crate) prev_hash: [u8; 32],
    pub(crate) event_hash: [u8; 32],
    pub(crate) payload: &'a [u8],
    /// For a tombstone (segment format 3 on), the `content_hash` of the
    /// payload compaction removed; `payload` is then empty. Stored in the
    /// payload's place as a msgpack ext 8 of type [`TOMBSTONE_EXT`].
    pub(crate) tombstone: Option<[u8; 32]>,
    /// How the event passed its gates (field 17, after the payload).
    pub(crate) attestation: Option<GateAttestation>,
}

/// The msgpack ext type a tombstone's payload field carries.
pub(crate) const TOMBSTONE_EXT: i8 = 1;

impl<'a> FrameFields<'a> {
    /// The frame of an event: its header (batch framing included),
    /// coordinate and stored payload.
    pub(crate) fn of_event(
        header: &EventHeader,
        coordinate: &'a Coordinate,
        payload: &'a [u8],
    ) -> Self {
        Self {
            event_id: header.event_id,
            global_sequence: header.global_sequence,
            entity_sequence: header.entity_sequence,
            kind: header.kind,
            entity: coordinate.entity(),
            scope: coordinate.scope(),
            wall_ms: header.wall_ms,
            hlc: header.hlc,
            correlation_id: header.correlation_id,
            causation_id: header.causation_id,
            idempotency_key: header.idempotency_key,
            payload_version: header.payload_version,
            batch_remaining: header.batch_remaining,
            prev_hash: header.prev_hash,
            event_hash: header.event_hash,
            payload,
            tombstone: None,
            attestation: header.attestation.clone(),
        }
    }

    /// The event header this frame holds; `content_hash` is recomputed from
    /// the payload (frames do not store it). `hash_version` is not stored
    /// either: it follows from the format version of the frame's segment
    /// (`segment_header::hash_version_of`).
    pub(crate) fn header(&self, hash_version: u8) -> EventHeader {
        EventHeader {
            event_id: self.event_id,
            global_sequence: self.global_sequence,
            entity_sequence: self.entity_sequence,
            kind: self.kind,
            wall_ms: self.wall_ms,
            hlc: self.hlc,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            idempotency_key: self.idempotency_key,
            payload_version: self.payload_version,
            attestation: self.attestation.clone(),
            batch_remaining: self.batch_remaining,
            hash_version,
            prev_hash: self.prev_hash,
            content_hash: self
                .tombstone
                .unwrap_or_else(|| crate::chain::content_hash(self.payload)),
            event_hash: self.event_hash,
        }
    }
}

/// Appends one whole frame (prefix and body) to `out`.
pub(crate) fn encode_frame(out: &mut Vec<u8>, f: &FrameFields<'_>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_PREFIX_LEN]);
    write_body(out, f);
    let body_len = out.len() - start - FRAME_PREFIX_LEN;
    let crc = crc32fast::hash(&out[start + FRAME_PREFIX_LEN..]);
    // Body length is bounded by MAX_FRAME_BODY_LEN through the payload limit.
    let len = len_u32(body_len);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn write_body(out: &mut Vec<u8>, f: &FrameFields<'_>) {
    // Writing into a Vec cannot fail, so the encoder results are ignored.
    let w = out;
    let _ = rmp::encode::write_array_len(w, FRAME_FIELDS);
    let _ = rmp::encode::write_bin(w, &f.event_id.to_bytes());
    let _ = rmp::encode::write_uint(w, f.global_sequence);
    let _ = rmp::encode::write_uint(w, f.entity_sequence);
    let _ = rmp::encode::write_uint(w, u64::from(f.kind.as_u16()));
    let _ = rmp::encode::write_str(w, f.entity);
    let _ = rmp::encode::write_str(w, f.scope);
    let _ = rmp::encode::write_uint(w, f.wall_ms);
    // The HLC's physical part is stored as its (usually zero) lead over wall_ms.
    let _ = rmp::encode::write_uint(w, f.hlc.physical_ms.saturating_sub(f.wall_ms));
    let _ = rmp::encode::write_uint(w, u64::from(f.hlc.logical));
    write_opt_id(w, f.correlation_id.map(CorrelationId::as_u128));
    write_opt_id(w, f.causation_id.map(EventId::as_u128));
    write_opt_id(
        w,
        f.idempotency_key
            .map(|k| u128::from_be_bytes(*k.as_bytes())),
    );
    let _ = rmp::encode::write_uint(w, u64::from(f.payload_version));
    let _ = rmp::encode::write_uint(w, u64::from(f.batch_remaining));
    let _ = rmp::encode::write_bin(w, &f.prev_hash);
    let _ = rmp::encode::write_bin(w, &f.event_hash);
    match f.tombstone {
        Some(hash) => {
            let _ = rmp::encode::write_ext_meta(w, 32, TOMBSTONE_EXT);
            w.extend_from_slice(&hash);
        }
        None => {
            let _ = rmp::encode::write_bin(w, f.payload);
        }
    }
    write_attestation(w, f.attestation.as_ref());
}

/// `nil`, or `[tag, [str, ...]]`: tag 1 lists the gates passed, tag 2 is
/// `[ticket, reason]`, tag 3 an import's provenance (see `GateAttestation::parts`).
fn write_attestation(w: &mut Vec<u8>, attestation: Option<&GateAttestation>) {
    let Some(a) = attestation else {
        let _ = rmp::encode::write_nil(w);
        return;
    };
    let (tag, strings) = a.parts();
    let _ = rmp::encode::write_array_len(w, 2);
    let _ = rmp::encode::write_uint(w, u64::from(tag));
    let _ = rmp::encode::write_array_len(w, len_u32(strings.len()));
    for s in &strings {
        let _ = rmp::encode::write_str(w, s);
    }
}

/// Reads the frame prefix at the start of `r`: `(body_len, crc)`.
fn read_prefix(r: &mut Reader<'_>) -> Result<(usize, u32), DecodeError> {
    let offset = r.offset();
    let len = r.le_u32()?;
    let crc = r.le_u32()?;
    match usize::try_from(len) {
        Ok(len) if (MIN_FRAME_BODY_LEN..=MAX_FRAME_BODY_LEN).contains(&len) => Ok((len, crc)),
        _ => Err(DecodeError::OutOfRange {
            offset,
            field: "frame body length",
        }),
    }
}

/// Decodes the frame at the start of `b`; returns it and the bytes it spans.
/// Bytes after the frame (the next frame) are not looked at.
pub(crate) fn decode_frame(b: &[u8]) -> Result<(FrameFields<'_>, usize), DecodeError> {
    let mut r = Reader::new(b);
    let (len, crc) = read_prefix(&mut r)?;
    let body = r.take(len)?;
    check_crc(to_u64(FRAME_PREFIX_LEN), body, crc)?;
    let fields = decode_body_at(body, to_u64(FRAME_PREFIX_LEN))?;
    let used = FRAME_PREFIX_LEN
        .checked_add(len)
        .ok_or(DecodeError::OutOfRange {
            offset: 0,
            field: "frame body length",
        })?;
    Ok((fields, used))
}

/// Decodes a frame body whose CRC has been checked, on its own (offsets
/// in errors count from the body's first byte).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn decode_body(body: &[u8]) -> Result<FrameFields<'_>, DecodeError> {
    decode_body_at(body, 0)
}

/// Decodes a frame body that starts at offset `base`.
fn decode_body_at(body: &[u8], base: u64) -> Result<FrameFields<'_>, DecodeError> {
    let mut r = Reader::at(body, base);
    if r.array_len()? != FRAME_FIELDS {
        return Err(DecodeError::Unexpected {
            offset: base,
            expected: "a frame body of 18 fields",
        });
    }
    let event_id = EventId::from_bytes(r.bin_exact::<16>()?);
    let global_sequence = r.uint()?;
    let entity_sequence = r.uint()?;
    let kind = EventKind::from_u16(r.uint_as::<u16>("kind")?);
    let entity = r.str()?;
    let scope = r.str()?;
    let wall_at = r.offset();
    let wall_ms = r.uint()?;
    let lead = r.uint()?;
    let logical = r.uint_as::<u32>("hlc logical")?;
    let correlation_id = r.opt_id()?.map(CorrelationId::from_u128);
    let causation_id = r.opt_id()?.map(EventId::from_u128);
    let idempotency_key = r
        .opt_id()?
        .map(|k| IdempotencyKey::from_bytes(k.to_be_bytes()));
    let payload_version = r.uint_as::<u16>("payload version")?;
    let batch_remaining = r.uint_as::<u32>("batch remaining")?;
    let prev_hash = r.bin_exact::<32>()?;
    let event_hash = r.bin_exact::<32>()?;
    let tombstone = r.tombstone(TOMBSTONE_EXT)?;
    let payload = match tombstone {
        Some(_) => &[][..],
        None => r.bin()?,
    };
    let attestation = read_attestation(&mut r)?;
    r.finish()?;
    let physical_ms = wall_ms.checked_add(lead).ok_or(DecodeError::OutOfRange {
        offset: wall_at,
        field: "hlc lead over wall_ms",
    })?;
    Ok(FrameFields {
        event_id,
        global_sequence,
        entity_sequence,
        kind,
        entity,
        scope,
        wall_ms,
        hlc: HlcPoint::new(physical_ms, logical),
        correlation_id,
        causation_id,
        idempotency_key,
        payload_version,
        batch_remaining,
        prev_hash,
        event_hash,
        payload,
        tombstone,
        attestation,
    })
}

/// nil, or `[tag, [str, ...]]` naming at most [`MAX_ATTESTED_GATES`] strings.
fn read_attestation(r: &mut Reader<'_>) -> Result<Option<GateAttestation>, DecodeError> {
    if r.nil() {
        return Ok(None);
    }
    let offset = r.offset();
    if r.array_len()? != 2 {
        return Err(DecodeError::Unexpected {
            offset,
            expected: "an attestation [tag, strings] pair",
        });
    }
    let tag = r.uint_as::<u8>("attestation tag")?;
    let n_at = r.offset();
    let n = r.array_count("attestation strings")?;
    if n > MAX_ATTESTED_GATES {
        return Err(DecodeError::OutOfRange {
            offset: n_at,
            field: "attestation gate count",
        });
    }
    let mut strings = Vec::with_capacity(n);
    for _ in 0..n {
        strings.push(r.str()?.to_owned());
    }
    GateAttestation::from_parts(tag, strings)
        .map(Some)
        .ok_or(DecodeError::Unexpected {
            offset,
            expected: "a gates-passed list (tag 1) or a [ticket, reason] bypass (tag 2)",
        })
}

/// The first offset after `bad` where a whole, CRC-valid frame starts, if
/// any. Finding one means damage at `bad` is not a torn tail but corruption
/// in the middle of the log.
pub(crate) fn next_frame_after(bytes: &[u8], bad: usize) -> Option<usize> {
    let first = bad.checked_add(1)?;
    let bodies = bytes.get(first.checked_add(FRAME_PREFIX_LEN)?..)?;
    // A body (of either segment format version) always starts with the
    // array16 marker and its field count; only there can a frame start, its
    // prefix in front of it.
    bodies
        .windows(FRAME_BODY_START.len())
        .enumerate()
        .filter(|(_, w)| *w == FRAME_BODY_START)
        .filter_map(|(i, _)| first.checked_add(i))
        .find(|&p| bytes.get(p..).is_some_and(|b| decode_frame(b).is_ok()))
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::format::footer::tests::footer;
    use crate::format::footer::{decode_footer, encode_footer, FOOTER_FIELDS, TRAILER_LEN};
    use crate::format::segment_header::decode_segment_header;
    use proptest::prelude::*;

    pub(crate) fn sample<'a>(
        entity: &'a str,
        scope: &'a str,
        payload: &'a [u8],
    ) -> FrameFields<'a> {
        FrameFields {
            event_id: EventId::from_u128(42),
            global_sequence: 1 << 40,
            entity_sequence: 3,
            kind: EventKind::custom(0xE, 7),
            entity,
            scope,
            wall_ms: 1_700_000_000_000,
            hlc: HlcPoint::new(1_700_000_000_002, 9),
            correlation_id: Some(CorrelationId::from_u128(7)),
            causation_id: None,
            idempotency_key: Some(IdempotencyKey::from_bytes([8; 16])),
            payload_version: 1,
            batch_remaining: 0,
            prev_hash: [1; 32],
            event_hash: [2; 32],
            payload,
            tombstone: None,
            attestation: None,
        }
    }

    #[test]
    fn frame_roundtrip_and_payload_is_bin() {
        let mut out = Vec::new();
        let f = sample("e", "s", b"\x81\xa1n\x01");
        encode_frame(&mut out, &f);
        let (back, used) = decode_frame(&out).unwrap();
        assert_eq!(back, f);
        assert_eq!(used, out.len());
        // The payload is stored as msgpack bin8 (marker 0xc4, length, bytes),
        // followed by the absent attestation (nil, one byte).
        let tail = &out[out.len() - 7..];
        assert_eq!(tail, &[0xc4, 4, 0x81, 0xa1, b'n', 1, 0xc0]);
        assert_eq!(
            &out[FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + 3],
            &FRAME_BODY_START
        );
    }

    #[test]
    fn attestations_roundtrip_and_malformed_ones_are_refused() {
        let passed = GateAttestation::passed(["amount_positive", "credit_limit"]);
        let bypass = GateAttestation::Bypassed {
            ticket: "INC-42".into(),
            reason: "approved by on-call".into(),
        };
        for a in [
            passed,
            bypass,
            GateAttestation::passed(Vec::<String>::new()),
        ] {
            let mut f = sample("e", "s", b"\x01");
            f.attestation = Some(a.clone());
            let mut out = Vec::new();
            encode_frame(&mut out, &f);
            let (back, _) = decode_frame(&out).unwrap();
            assert_eq!(back.attestation, Some(a));
        }
        // A bypass must hold exactly [ticket, reason]; unknown tags are refused.
        for (tag, n) in [(2u8, 1u32), (2, 3), (0, 0), (3, 0)] {
            let mut body = Vec::new();
            write_body(&mut body, &sample("e", "s", b""));
            body.pop();
            rmp::encode::write_array_len(&mut body, 2).unwrap();
            rmp::encode::write_uint(&mut body, u64::from(tag)).unwrap();
            rmp::encode::write_array_len(&mut body, n).unwrap();
            for _ in 0..n {
                rmp::encode::write_str(&mut body, "x").unwrap();
            }
            assert!(
                decode_body(&body).is_err(),
                "tag {tag} with {n} strings decoded"
            );
        }
    }

    #[test]
    fn smallest_frame_meets_minimum() {
        let mut out = Vec::new();
        let mut f = sample("e", "s", b"");
        f.correlation_id = None;
        f.idempotency_key = None;
        f.global_sequence = 0;
        f.entity_sequence = 0;
        f.wall_ms = 0;
        f.hlc = HlcPoint::new(0, 0);
        f.kind = EventKind::from_u16(1);
        encode_frame(&mut out, &f);
        assert!(out.len() - FRAME_PREFIX_LEN >= MIN_FRAME_BODY_LEN);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let mut out = Vec::new();
        encode_frame(&mut out, &sample("entity", "scope", b"payload bytes"));
        for cut in 0..out.len() {
            assert!(decode_frame(&out[..cut]).is_err(), "prefix {cut} decoded");
        }
    }

    #[test]
    fn every_body_byte_flip_is_caught_by_crc() {
        let mut out = Vec::new();
        encode_frame(&mut out, &sample("entity", "scope", b"payload"));
        for i in FRAME_PREFIX_LEN..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x40;
            assert!(
                matches!(
                    decode_frame(&bad).unwrap_err(),
                    DecodeError::CrcMismatch { offset: 8, .. }
                ),
                "byte {i}"
            );
        }
    }

    #[test]
    fn an_attestation_may_name_up_to_the_gate_limit() {
        let encode = |n: usize| {
            let mut b = Vec::new();
            rmp::encode::write_array_len(&mut b, 2).unwrap();
            rmp::encode::write_uint(&mut b, 1).unwrap();
            rmp::encode::write_array_len(&mut b, n as u32).unwrap();
            for _ in 0..n {
                rmp::encode::write_str(&mut b, "g").unwrap();
            }
            b
        };
        let at_limit = encode(MAX_ATTESTED_GATES);
        let got = read_attestation(&mut Reader::new(&at_limit))
            .unwrap()
            .unwrap();
        assert_eq!(got.gates().len(), MAX_ATTESTED_GATES);
        let over = encode(MAX_ATTESTED_GATES + 1);
        assert!(read_attestation(&mut Reader::new(&over)).is_err());
    }

    #[test]
    fn a_frame_prefix_alone_is_judged_by_its_length() {
        // Exactly a prefix: an impossible length is out of range, a possible one
        // is a frame whose body has not arrived.
        let mut b = [0u8; FRAME_PREFIX_LEN];
        assert!(matches!(
            decode_frame(&b),
            Err(DecodeError::OutOfRange { offset: 0, .. })
        ));
        b[..4].copy_from_slice(&(MIN_FRAME_BODY_LEN as u32).to_le_bytes());
        assert_eq!(
            decode_frame(&b).map(|_| ()),
            Err(DecodeError::Truncated {
                offset: 8,
                needed: MIN_FRAME_BODY_LEN as u64
            })
        );
        assert!(matches!(
            decode_frame(&b[..FRAME_PREFIX_LEN - 1]).map(|_| ()),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn frame_and_footer_are_single_well_formed_msgpack_values() {
        // A generic decoder must see exactly one array spanning the whole body.
        let mut frame = Vec::new();
        encode_frame(&mut frame, &sample("e", "s", b"xyz"));
        let mut body = &frame[FRAME_PREFIX_LEN..];
        let v = rmpv::decode::read_value(&mut body).unwrap();
        assert!(body.is_empty());
        assert_eq!(v.as_array().map(Vec::len), Some(FRAME_FIELDS as usize));
        let f = encode_footer(&footer());
        let mut body = &f[..f.len() - TRAILER_LEN];
        let v = rmpv::decode::read_value(&mut body).unwrap();
        assert!(body.is_empty());
        assert_eq!(v.as_array().map(Vec::len), Some(FOOTER_FIELDS as usize));
    }

    #[test]
    fn a_whole_frame_after_damage_is_found_and_only_a_whole_one() {
        let mut log = vec![0xffu8; 5];
        let first = log.len();
        encode_frame(&mut log, &sample("e", "s", b"one"));
        assert_eq!(next_frame_after(&log, 0), Some(first));
        assert_eq!(next_frame_after(&log, first), None);
        // A frame cut short is not found.
        let cut = &log[..log.len() - 1];
        assert_eq!(next_frame_after(cut, 0), None);
        assert_eq!(next_frame_after(&log, usize::MAX), None);
    }

    #[test]
    fn trailing_bytes_inside_a_body_are_refused() {
        let mut body = Vec::new();
        write_body(&mut body, &sample("e", "s", b"p"));
        let n = body.len();
        body.push(0xc0);
        assert_eq!(
            decode_body(&body),
            Err(DecodeError::TrailingBytes {
                offset: n as u64,
                extra: 1
            })
        );
    }

    proptest! {
        #[test]
        fn frame_encode_decode_roundtrip(
            id in any::<u128>(), gs in any::<u64>(), es in any::<u64>(), kind in any::<u16>(),
            entity in "[a-z:0-9]{1,40}", scope in "[a-z:0-9]{1,40}",
            wall in 0u64..(1 << 50), lead in 0u64..1000, logical in any::<u32>(),
            corr in proptest::option::of(any::<u128>()), caus in proptest::option::of(any::<u128>()),
            pv in any::<u16>(), batch in any::<u32>(),
            prev in any::<[u8; 32]>(), hash in any::<[u8; 32]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..600),
            gates in proptest::option::of(proptest::collection::vec("[a-z_]{1,20}", 0..5)),
            tombstone in proptest::option::of(any::<[u8; 32]>()),
        ) {
            let payload = if tombstone.is_some() { Vec::new() } else { payload };
            let f = FrameFields {
                event_id: EventId::from_u128(id), global_sequence: gs, entity_sequence: es,
                kind: EventKind::from_u16(kind), entity: &entity, scope: &scope, wall_ms: wall,
                hlc: HlcPoint::new(wall + lead, logical),
                correlation_id: corr.map(CorrelationId::from_u128), causation_id: caus.map(EventId::from_u128),
                idempotency_key: caus.map(|c| IdempotencyKey::from_bytes(c.to_le_bytes())),
                payload_version: pv, batch_remaining: batch, prev_hash: prev, event_hash: hash, payload: &payload,
                tombstone,
                attestation: gates.map(GateAttestation::passed),
            };
            let mut out = Vec::new();
            encode_frame(&mut out, &f);
            let (back, used) = decode_frame(&out).unwrap();
            prop_assert_eq!(used, out.len());
            prop_assert_eq!(back, f);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_frame(&bytes);
            let _ = decode_body(&bytes);
            let _ = decode_footer(&bytes, crc32fast::hash(&bytes));
            let _ = decode_segment_header(&bytes);
            let _ = next_frame_after(&bytes, 0);
            let _ = crate::format::SegmentReader::from_bytes(bytes.clone()).map(|s| s.frames().count());
        }
    }
}
