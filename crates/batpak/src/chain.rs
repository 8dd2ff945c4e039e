//! The hash chain: what `content_hash` and `event_hash` cover, byte for byte.
//!
//! ```text
//! content_hash = blake3(stored payload bytes)
//! event_hash   = blake3(EVENT_HASH_DOMAIN ‖ canonical_header ‖ content_hash)
//! prev_hash    = event_hash of the same entity's previous event, or 32 zero bytes
//! ```
//!
//! `canonical_header` is the concatenation of (integers little-endian):
//!
//! | field              | bytes                                   |
//! |--------------------|-----------------------------------------|
//! | event_id           | 16, big-endian (UUID byte order)        |
//! | global_sequence    | 8                                       |
//! | entity_sequence    | 8                                       |
//! | kind               | 2                                       |
//! | wall_ms            | 8                                       |
//! | hlc.physical_ms    | 8                                       |
//! | hlc.logical        | 4                                       |
//! | correlation_id     | 1 (`0` absent, `1` present) + 16 if present, big-endian |
//! | causation_id       | 1 (`0` absent, `1` present) + 16 if present, big-endian |
//! | idempotency_key    | 1 (`0` absent, `1` present) + 16 if present |
//! | payload_version    | 2                                       |
//! | entity             | 4 (length) + UTF-8 bytes                |
//! | scope              | 4 (length) + UTF-8 bytes                |
//! | prev_hash          | 32                                      |
//! | attestation        | 1 tag (`0` absent, `1` gates passed, `2` bypass) + if present 4 (length) + canonical attestation |
//!
//! The canonical attestation is a list of strings: 4 (count), then per string
//! 4 (length) + UTF-8 bytes. Passed gates list their names in evaluation
//! order; a bypass lists exactly `[ticket, reason]`. An ordinary append costs
//! one byte (`0`).
//!
//! `EVENT_HASH_DOMAIN` is the 16 ASCII bytes `batpak/event/v1\n`.
//!
//! ```
//! use batpak::chain::{canonical_header_bytes, event_hash, EVENT_HASH_DOMAIN};
//! # use batpak::prelude::*;
//! # let dir = tempfile::tempdir()?;
//! # let store = Store::open(StoreConfig::new(dir.path()))?;
//! # let coord = Coordinate::new("e", "s")?;
//! let r = store.append(&coord, EventKind::custom(0xE, 1), &"hi")?;
//! let raw = store.read_raw(r.event_id)?;
//! let header = &raw.event.header;
//! assert_eq!(*blake3::hash(&raw.event.payload).as_bytes(), header.content_hash);
//! let mut input = EVENT_HASH_DOMAIN.to_vec();
//! input.extend(canonical_header_bytes(header, &raw.coordinate));
//! input.extend(header.content_hash);
//! assert_eq!(*blake3::hash(&input).as_bytes(), header.event_hash);
//! assert_eq!(event_hash(header, &raw.coordinate), header.event_hash);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::attestation::{GateAttestation, TAG_ABSENT};
use crate::coordinate::Coordinate;
use crate::event::EventHeader;

/// Domain separation tag prefixed to every `event_hash` input.
pub const EVENT_HASH_DOMAIN: &[u8; 16] = b"batpak/event/v1\n";

/// The all-zero `prev_hash` of an entity's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// blake3 of the stored payload bytes.
pub fn content_hash(payload: &[u8]) -> [u8; 32] {
    *blake3::hash(payload).as_bytes()
}

/// The canonical header bytes hashed into `event_hash` (see the module docs).
/// `header.content_hash` and `header.event_hash` are not part of them.
pub fn canonical_header_bytes(header: &EventHeader, coordinate: &Coordinate) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + 8 * 4 + 4 + 3 * 17 + 2 + 8 + coordinate.entity().len() + coordinate.scope().len() + 32,
    );
    write_canonical(&mut out, header, coordinate);
    out
}

fn write_canonical(out: &mut Vec<u8>, h: &EventHeader, c: &Coordinate) {
    out.extend_from_slice(&h.event_id.to_bytes());
    out.extend_from_slice(&h.global_sequence.to_le_bytes());
    out.extend_from_slice(&h.entity_sequence.to_le_bytes());
    out.extend_from_slice(&h.kind.as_u16().to_le_bytes());
    out.extend_from_slice(&h.wall_ms.to_le_bytes());
    out.extend_from_slice(&h.hlc.physical_ms.to_le_bytes());
    out.extend_from_slice(&h.hlc.logical.to_le_bytes());
    write_optional_id(out, h.correlation_id.map(|c| c.as_u128()));
    write_optional_id(out, h.causation_id.map(|c| c.as_u128()));
    write_optional_id(
        out,
        h.idempotency_key
            .map(|k| u128::from_be_bytes(*k.as_bytes())),
    );
    out.extend_from_slice(&h.payload_version.to_le_bytes());
    write_str(out, c.entity());
    write_str(out, c.scope());
    out.extend_from_slice(&h.prev_hash);
    write_attestation(out, h.attestation.as_ref());
}

fn write_attestation(out: &mut Vec<u8>, attestation: Option<&GateAttestation>) {
    let Some(a) = attestation else {
        out.push(TAG_ABSENT);
        return;
    };
    let (tag, strings) = a.parts();
    out.push(tag);
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    write_len(out, strings.len());
    for s in strings {
        write_str(out, s);
    }
    let body_len = out.len() - len_at - 4;
    out[len_at..len_at + 4].copy_from_slice(&len_u32(body_len).to_le_bytes());
}

fn write_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&len_u32(n).to_le_bytes());
}

// Attestations are bounded far below 4 GiB by the frame size limit.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn write_optional_id(out: &mut Vec<u8>, id: Option<u128>) {
    match id {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Coordinates are at most 256 bytes, so the length always fits.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Recomputes `event_hash` from a header (its `content_hash` included) and coordinate.
pub fn event_hash(header: &EventHeader, coordinate: &Coordinate) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(EVENT_HASH_DOMAIN);
    let mut buf = Vec::with_capacity(160);
    write_canonical(&mut buf, header, coordinate);
    hasher.update(&buf);
    hasher.update(&header.content_hash);
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::id::{CorrelationId, EventId, HlcPoint};
    use crate::kind::EventKind;

    fn header() -> EventHeader {
        EventHeader {
            event_id: EventId::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
            global_sequence: 7,
            entity_sequence: 3,
            kind: EventKind::custom(0xE, 0x22),
            wall_ms: 1_700_000_000_000,
            hlc: HlcPoint::new(1_700_000_000_001, 2),
            correlation_id: Some(CorrelationId::from_u128(5)),
            causation_id: None,
            idempotency_key: None,
            payload_version: 1,
            attestation: None,
            prev_hash: [9; 32],
            content_hash: content_hash(b"payload"),
            event_hash: [0; 32],
        }
    }

    #[test]
    fn canonical_layout_is_exact() {
        let c = Coordinate::new("ent", "sc").unwrap();
        let b = canonical_header_bytes(&header(), &c);
        assert_eq!(&b[..16], &header().event_id.to_bytes());
        assert_eq!(&b[16..24], &7u64.to_le_bytes());
        assert_eq!(&b[24..32], &3u64.to_le_bytes());
        assert_eq!(&b[32..34], &0xE022u16.to_le_bytes());
        assert_eq!(b[54], 1, "correlation present");
        assert_eq!(&b[55..71], &5u128.to_be_bytes());
        assert_eq!(b[71], 0, "causation absent");
        assert_eq!(b[72], 0, "idempotency key absent");
        assert_eq!(&b[73..75], &1u16.to_le_bytes());
        assert_eq!(&b[75..79], &3u32.to_le_bytes());
        assert_eq!(&b[79..82], b"ent");
        assert_eq!(&b[82..86], &2u32.to_le_bytes());
        assert_eq!(&b[86..88], b"sc");
        assert_eq!(&b[88..120], &[9u8; 32]);
        assert_eq!(b[120], 0, "attestation absent");
        assert_eq!(b.len(), 121);
    }

    #[test]
    fn attestation_layout_is_exact() {
        let c = Coordinate::new("ent", "sc").unwrap();
        let mut h = header();
        h.attestation = Some(GateAttestation::passed(["ab", "c"]));
        let b = canonical_header_bytes(&h, &c);
        let tail = &b[120..];
        let mut want = vec![1u8];
        want.extend(15u32.to_le_bytes()); // 4 (count) + (4 + 2) + (4 + 1)
        want.extend(2u32.to_le_bytes());
        want.extend(2u32.to_le_bytes());
        want.extend(b"ab");
        want.extend(1u32.to_le_bytes());
        want.extend(b"c");
        assert_eq!(tail, &want[..]);
        h.attestation = Some(GateAttestation::Bypassed {
            ticket: "T".into(),
            reason: "rs".into(),
        });
        let b = canonical_header_bytes(&h, &c);
        let mut want = vec![2u8];
        want.extend(15u32.to_le_bytes());
        want.extend(2u32.to_le_bytes());
        want.extend(1u32.to_le_bytes());
        want.extend(b"T");
        want.extend(2u32.to_le_bytes());
        want.extend(b"rs");
        assert_eq!(&b[120..], &want[..]);
        h.attestation = Some(GateAttestation::passed(Vec::<String>::new()));
        let b = canonical_header_bytes(&h, &c);
        assert_eq!(&b[120..], &[1, 4, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn event_hash_covers_every_header_field() {
        let c = Coordinate::new("ent", "sc").unwrap();
        let base = event_hash(&header(), &c);
        let mut variants: Vec<EventHeader> = Vec::new();
        let mut h = header();
        h.event_id = EventId::from_u128(1);
        variants.push(h);
        let mut h = header();
        h.global_sequence += 1;
        variants.push(h);
        let mut h = header();
        h.entity_sequence += 1;
        variants.push(h);
        let mut h = header();
        h.kind = EventKind::custom(0xE, 0x23);
        variants.push(h);
        let mut h = header();
        h.wall_ms += 1;
        variants.push(h);
        let mut h = header();
        h.hlc.physical_ms += 1;
        variants.push(h);
        let mut h = header();
        h.hlc.logical += 1;
        variants.push(h);
        let mut h = header();
        h.correlation_id = None;
        variants.push(h);
        let mut h = header();
        h.causation_id = Some(EventId::from_u128(3));
        variants.push(h);
        let mut h = header();
        h.idempotency_key = Some(crate::id::IdempotencyKey::from_bytes([4; 16]));
        variants.push(h);
        let mut h = header();
        h.payload_version = 2;
        variants.push(h);
        let mut h = header();
        h.prev_hash[31] ^= 1;
        variants.push(h);
        let mut h = header();
        h.attestation = Some(GateAttestation::passed(Vec::<String>::new()));
        variants.push(h);
        let mut h = header();
        h.attestation = Some(GateAttestation::passed(["gate"]));
        variants.push(h);
        let mut h = header();
        h.attestation = Some(GateAttestation::passed(["gatf"]));
        variants.push(h);
        let mut h = header();
        h.attestation = Some(GateAttestation::passed(["ga", "te"]));
        variants.push(h);
        let mut h = header();
        h.attestation = Some(GateAttestation::Bypassed {
            ticket: "gate".into(),
            reason: "x".into(),
        });
        variants.push(h);
        let mut h = header();
        h.content_hash[0] ^= 1;
        variants.push(h);
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(event_hash(v, &c), base, "variant {i} not covered");
            for (j, w) in variants.iter().enumerate().skip(i + 1) {
                assert_ne!(
                    event_hash(v, &c),
                    event_hash(w, &c),
                    "variants {i} and {j} collide"
                );
            }
        }
        assert_ne!(
            event_hash(&header(), &Coordinate::new("enu", "sc").unwrap()),
            base
        );
        assert_ne!(
            event_hash(&header(), &Coordinate::new("ent", "sd").unwrap()),
            base
        );
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        assert_ne!(
            event_hash(&header(), &Coordinate::new("ab", "c").unwrap()),
            event_hash(&header(), &Coordinate::new("a", "bc").unwrap())
        );
        // The stored event_hash field itself is not an input.
        let mut h = header();
        h.event_hash = [1; 32];
        assert_eq!(event_hash(&h, &c), base);
    }

    #[test]
    fn event_hash_matches_manual_blake3() {
        let c = Coordinate::new("ent", "sc").unwrap();
        let h = header();
        let mut input = EVENT_HASH_DOMAIN.to_vec();
        input.extend(canonical_header_bytes(&h, &c));
        input.extend(h.content_hash);
        assert_eq!(event_hash(&h, &c), *blake3::hash(&input).as_bytes());
        assert_eq!(content_hash(b""), *blake3::hash(b"").as_bytes());
    }
}
