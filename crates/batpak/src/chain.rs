//! The hash chain: what `content_hash` and `event_hash` cover, byte for byte.
//!
//! ```text
//! content_hash = blake3(stored payload bytes)
//! event_hash   = blake3(domain ‖ canonical_header ‖ content_hash)
//! prev_hash    = event_hash of the same entity's previous event, or 32 zero bytes
//! ```
//!
//! Two layouts exist, told apart by [`EventHeader::hash_version`]. Version 2
//! (every event this build writes) has the domain [`EVENT_HASH_DOMAIN_V2`],
//! the 16 ASCII bytes `batpak/event/v2\n`, and covers the batch framing too.
//! Version 1 (events read from version-1 segments) has the domain
//! [`EVENT_HASH_DOMAIN`], `batpak/event/v1\n`, and stops before
//! `batch_remaining`.
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
//! | attestation        | 1 tag (`0` absent, `1` gates passed, `2` bypass, `3` import) + if present 4 (length) + canonical attestation |
//! | batch_remaining    | 4, version 2 only                       |
//!
//! The canonical attestation is a list of strings: 4 (count), then per string
//! 4 (length) + UTF-8 bytes. Passed gates list their names in evaluation
//! order; a bypass lists exactly `[ticket, reason]`; an import its four
//! provenance strings (see `docs/FORMAT.md`). An ordinary append costs
//! one byte (`0`).
//!
//! `batch_remaining` is the number of frames of the same atomic batch after
//! this one. Recovery drops an incomplete batch at the end of the log, so in
//! version 1, where it is not hashed, rewriting it (and the frame CRC) could
//! make recovery drop committed events while the chain still verified.
//!
//! ```
//! use batpak::chain::{canonical_header_bytes, event_hash, event_hash_domain, HASH_VERSION};
//! # use batpak::prelude::*;
//! # let dir = tempfile::tempdir()?;
//! # let store = Store::open(StoreConfig::new(dir.path()))?;
//! # let coord = Coordinate::new("e", "s")?;
//! let r = store.append(&coord, EventKind::custom(0xE, 1), &"hi")?;
//! let raw = store.read_raw(r.event_id)?;
//! let header = &raw.event.header;
//! assert_eq!(header.hash_version, HASH_VERSION);
//! assert_eq!(*blake3::hash(&raw.event.payload).as_bytes(), header.content_hash);
//! let mut input = event_hash_domain(header.hash_version).to_vec();
//! input.extend(canonical_header_bytes(header, &raw.coordinate));
//! input.extend(header.content_hash);
//! assert_eq!(*blake3::hash(&input).as_bytes(), header.event_hash);
//! assert_eq!(event_hash(header, &raw.coordinate), header.event_hash);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::attestation::{GateAttestation, TAG_ABSENT};
use crate::coordinate::Coordinate;
use crate::event::EventHeader;

/// Domain separation tag prefixed to the `event_hash` input of hash layout
/// version 1 (events in version-1 segments).
pub const EVENT_HASH_DOMAIN: &[u8; 16] = b"batpak/event/v1\n";

/// Domain separation tag prefixed to the `event_hash` input of hash layout
/// version 2, which also covers `batch_remaining`.
pub const EVENT_HASH_DOMAIN_V2: &[u8; 16] = b"batpak/event/v2\n";

/// The hash layout of every event this build writes.
pub const HASH_VERSION: u8 = 2;

/// The domain tag of hash layout `hash_version`: [`EVENT_HASH_DOMAIN`] for
/// 1, [`EVENT_HASH_DOMAIN_V2`] for any other value (2 is the only other one
/// the store produces).
///
/// ```
/// use batpak::chain::{event_hash_domain, EVENT_HASH_DOMAIN, EVENT_HASH_DOMAIN_V2};
/// assert_eq!(event_hash_domain(1), EVENT_HASH_DOMAIN);
/// assert_eq!(event_hash_domain(2), EVENT_HASH_DOMAIN_V2);
/// ```
pub fn event_hash_domain(hash_version: u8) -> &'static [u8; 16] {
    if is_v1(hash_version) {
        EVENT_HASH_DOMAIN
    } else {
        EVENT_HASH_DOMAIN_V2
    }
}

/// Version 1 is the only layout without the batch framing; anything else
/// is read as the newest, which covers the most.
fn is_v1(hash_version: u8) -> bool {
    hash_version == 1
}

/// The all-zero `prev_hash` of an entity's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// blake3 of the stored payload bytes.
pub fn content_hash(payload: &[u8]) -> [u8; 32] {
    *blake3::hash(payload).as_bytes()
}

/// The canonical header bytes hashed into `event_hash` (see the module docs),
/// in the layout `header.hash_version` names: version 2 ends in
/// `batch_remaining`, version 1 does not. `header.content_hash` and
/// `header.event_hash` are not part of them.
pub fn canonical_header_bytes(header: &EventHeader, coordinate: &Coordinate) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        16 + 8 * 4 + 4 + 3 * 17 + 2 + 8 + coordinate.entity().len() + coordinate.scope().len() + 36,
    );
    write_canonical(&mut out, header, coordinate.entity(), coordinate.scope());
    out
}

fn write_canonical(out: &mut Vec<u8>, h: &EventHeader, entity: &str, scope: &str) {
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
    write_str(out, entity);
    write_str(out, scope);
    out.extend_from_slice(&h.prev_hash);
    write_attestation(out, h.attestation.as_ref());
    if !is_v1(h.hash_version) {
        out.extend_from_slice(&h.batch_remaining.to_le_bytes());
    }
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
    for s in &strings {
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

/// Recomputes `event_hash` from a header (its `content_hash` included) and
/// coordinate, in the layout `header.hash_version` names.
pub fn event_hash(header: &EventHeader, coordinate: &Coordinate) -> [u8; 32] {
    event_hash_of(header, coordinate.entity(), coordinate.scope())
}

/// [`event_hash`] of an event whose coordinate parts have not been validated
/// into a [`Coordinate`] (a frame recovery is judging).
pub(crate) fn event_hash_of(header: &EventHeader, entity: &str, scope: &str) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(event_hash_domain(header.hash_version));
    let mut buf = Vec::with_capacity(160);
    write_canonical(&mut buf, header, entity, scope);
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
            batch_remaining: 0,
            hash_version: HASH_VERSION,
            prev_hash: [9; 32],
            content_hash: content_hash(b"payload"),
            event_hash: [0; 32],
        }
    }

    /// [`header`] as an event of a version-1 segment.
    fn header_v1() -> EventHeader {
        EventHeader {
            hash_version: 1,
            ..header()
        }
    }

    #[test]
    fn canonical_layout_is_exact() {
        let c = Coordinate::new("ent", "sc").unwrap();
        let b = canonical_header_bytes(&header_v1(), &c);
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
        // Version 2 is the same bytes followed by batch_remaining.
        let mut h = header();
        h.batch_remaining = 0x0102_0304;
        let v2 = canonical_header_bytes(&h, &c);
        assert_eq!(&v2[..121], &b[..]);
        assert_eq!(&v2[121..], &[4, 3, 2, 1]);
        assert_eq!(v2.len(), 125);
    }

    #[test]
    fn version_2_hashes_its_own_domain_and_the_batch_framing() {
        let c = Coordinate::new("ent", "sc").unwrap();
        let h = header();
        assert_eq!(h.hash_version, 2);
        let mut input = b"batpak/event/v2\n".to_vec();
        input.extend(canonical_header_bytes(&h, &c));
        input.extend(h.content_hash);
        assert_eq!(event_hash(&h, &c), *blake3::hash(&input).as_bytes());
        // The same header under the version-1 layout hashes differently, so a
        // segment header rewritten to version 1 does not keep its events valid.
        assert_ne!(event_hash(&h, &c), event_hash(&header_v1(), &c));
        // Version 1 does not cover batch_remaining; version 2 does.
        let mut torn = header();
        torn.batch_remaining = 1;
        assert_ne!(event_hash(&torn, &c), event_hash(&h, &c));
        let torn_v1 = EventHeader {
            hash_version: 1,
            ..torn
        };
        assert_eq!(event_hash(&torn_v1, &c), event_hash(&header_v1(), &c));
        assert_eq!(event_hash_of(&h, "ent", "sc"), event_hash(&h, &c));
    }

    #[test]
    fn attestation_layout_is_exact() {
        let c = Coordinate::new("ent", "sc").unwrap();
        let mut h = header_v1();
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
        let mut h = header();
        h.batch_remaining = 1;
        variants.push(h);
        let mut h = header();
        h.batch_remaining = u32::MAX;
        variants.push(h);
        variants.push(header_v1());
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
        let h = header_v1();
        let mut input = EVENT_HASH_DOMAIN.to_vec();
        input.extend(canonical_header_bytes(&h, &c));
        input.extend(h.content_hash);
        assert_eq!(event_hash(&h, &c), *blake3::hash(&input).as_bytes());
        assert_eq!(content_hash(b""), *blake3::hash(b"").as_bytes());
    }
}
