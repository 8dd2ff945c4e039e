//! A cursor checkpoint (`cursors/<name>.ckpt`) and the canonical bytes of the
//! region whose fingerprint it records.
//!
//! `[magic 8][version u16][reserved u16][region 32][next u64][last event id 16]`
//! `[name_len u16][name][crc32 u32]`, integers little-endian, the CRC over
//! every byte before it.

use super::error::DecodeError;
use super::reader::Reader;
use super::{check_crc, len_u32, split_crc, SIDECAR_CRC_LEN};
use crate::id::EventId;

/// Magic of a cursor checkpoint file.
pub const CHECKPOINT_MAGIC: [u8; 8] = *b"BPKCKPT1";
/// Version of the cursor checkpoint format.
pub const CHECKPOINT_VERSION: u16 = 1;
/// Fixed part of a checkpoint, before the name.
const CKPT_HEADER_LEN: usize = 8 + 2 + 2 + 32 + 8 + 16 + 2;
/// Domain tag hashed ahead of a region's canonical bytes.
const REGION_DOMAIN: &[u8] = b"batpak/region/v1";

/// What a cursor checkpoint records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CheckpointRecord {
    /// The checkpoint's name, repeated inside the file.
    pub(crate) name: String,
    /// [`region_fingerprint`] of the cursor's region.
    pub(crate) region: [u8; 32],
    /// One past the global sequence of the last consumed event (0: none consumed).
    pub(crate) next_global_sequence: u64,
    /// The last consumed event; `None` exactly when `next_global_sequence` is 0.
    pub(crate) last_event_id: Option<EventId>,
}

/// Encodes a cursor checkpoint.
pub(crate) fn encode_checkpoint(c: &CheckpointRecord) -> Vec<u8> {
    let name = c.name.as_bytes();
    let mut b = Vec::with_capacity(CKPT_HEADER_LEN + name.len() + SIDECAR_CRC_LEN);
    b.extend_from_slice(&CHECKPOINT_MAGIC);
    b.extend_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&c.region);
    b.extend_from_slice(&c.next_global_sequence.to_le_bytes());
    b.extend_from_slice(&c.last_event_id.map_or([0; 16], EventId::to_bytes));
    // Names are validated to at most `CheckpointId::MAX_LEN` bytes.
    b.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
    b.extend_from_slice(name);
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes and checks a cursor checkpoint.
pub(crate) fn decode_checkpoint(b: &[u8]) -> Result<CheckpointRecord, DecodeError> {
    let (body, stored) = split_crc(b, CKPT_HEADER_LEN)?;
    let mut r = Reader::new(body);
    r.magic(&CHECKPOINT_MAGIC)?;
    check_crc(0, body, stored)?;
    let version = r.le_u16()?;
    if version != CHECKPOINT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: CHECKPOINT_VERSION,
        });
    }
    let _reserved = r.le_u16()?;
    let region = r.fixed::<32>()?;
    let next_at = r.offset();
    let next_global_sequence = r.le_u64()?;
    let last = EventId::from_bytes(r.fixed()?);
    let name_len = usize::from(r.le_u16()?);
    let name_at = r.offset();
    let name = r.take(name_len)?;
    r.finish()?;
    let name = std::str::from_utf8(name).map_err(|_| DecodeError::Unexpected {
        offset: name_at,
        expected: "a UTF-8 checkpoint name",
    })?;
    let inconsistent = |problem| DecodeError::Inconsistent {
        offset: next_at,
        problem,
    };
    let last_event_id = match (next_global_sequence, last.as_u128()) {
        (0, 0) => None,
        (0, _) => {
            return Err(inconsistent(
                "checkpoint names a last event but no position",
            ))
        }
        (_, 0) => return Err(inconsistent("checkpoint has a position but no last event")),
        _ => Some(last),
    };
    Ok(CheckpointRecord {
        name: name.to_owned(),
        region,
        next_global_sequence,
        last_event_id,
    })
}

/// Canonical bytes of a region: the same set of conditions always encodes to
/// the same bytes (kinds sorted and deduplicated), so its blake3 digest can
/// tell two regions apart in a checkpoint.
///
/// `[entity][scope][kinds]`, each a one-byte tag: entity `0` none, `1` exact,
/// `2` prefix, the last two followed by `[len u32 LE][UTF-8]`; scope `0` none,
/// `1` followed by `[len u32 LE][UTF-8]`; kinds `0` none, `1` followed by
/// `[count u32 LE]` and each kind as `u16 LE`, `2` followed by the category byte.
pub(crate) fn encode_region(r: &crate::region::Region) -> Vec<u8> {
    use crate::region::{EntityMatch, KindFilter};
    fn put_str(b: &mut Vec<u8>, s: &str) {
        b.extend_from_slice(&len_u32(s.len()).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    let mut b = Vec::with_capacity(64);
    match r.entity_match() {
        None => b.push(0),
        Some(EntityMatch::Exact(e)) => {
            b.push(1);
            put_str(&mut b, e);
        }
        Some(EntityMatch::Prefix(p)) => {
            b.push(2);
            put_str(&mut b, p);
        }
    }
    match r.scope_name() {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            put_str(&mut b, s);
        }
    }
    match r.kind_filter() {
        None => b.push(0),
        Some(KindFilter::Kinds(ks)) => {
            let mut ks: Vec<u16> = ks.iter().map(|k| k.as_u16()).collect();
            ks.sort_unstable();
            ks.dedup();
            b.push(1);
            b.extend_from_slice(&len_u32(ks.len()).to_le_bytes());
            for k in ks {
                b.extend_from_slice(&k.to_le_bytes());
            }
        }
        Some(KindFilter::Category(c)) => {
            b.push(2);
            b.push(*c);
        }
    }
    b
}

/// blake3 of the domain tag and [`encode_region`].
pub(crate) fn region_fingerprint(r: &crate::region::Region) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(REGION_DOMAIN);
    h.update(&encode_region(r));
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn checkpoint_position_and_last_event_go_together() {
        let rec = |next: u64, last: Option<u128>| CheckpointRecord {
            name: "c".into(),
            region: [1; 32],
            next_global_sequence: next,
            last_event_id: last.map(EventId::from_u128),
        };
        for good in [rec(0, None), rec(5, Some(9))] {
            assert_eq!(decode_checkpoint(&encode_checkpoint(&good)), Ok(good));
        }
        // Self-consistent bytes (the CRC matches) that pair a position with
        // no event, or an event with no position, are refused.
        assert!(decode_checkpoint(&encode_checkpoint(&rec(0, Some(9)))).is_err());
        assert!(decode_checkpoint(&encode_checkpoint(&rec(5, None))).is_err());
        // An empty name: the shortest checkpoint; anything shorter is truncated.
        let mut shortest = rec(0, None);
        shortest.name.clear();
        let b = encode_checkpoint(&shortest);
        assert_eq!(decode_checkpoint(&b), Ok(shortest));
        for n in 0..b.len() {
            assert!(
                matches!(
                    decode_checkpoint(&b[..n]),
                    Err(DecodeError::Truncated { .. })
                ),
                "{n}"
            );
        }
    }

    #[test]
    fn a_name_length_that_disagrees_with_the_file_is_refused() {
        let rec = CheckpointRecord {
            name: "abc".into(),
            region: [1; 32],
            next_global_sequence: 0,
            last_event_id: None,
        };
        let good = encode_checkpoint(&rec);
        for claimed in [2u16, 4, 300] {
            let mut b = good.clone();
            b[CKPT_HEADER_LEN - 2..CKPT_HEADER_LEN].copy_from_slice(&claimed.to_le_bytes());
            let n = b.len() - SIDECAR_CRC_LEN;
            let crc = crc32fast::hash(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
            assert!(decode_checkpoint(&b).is_err(), "claimed {claimed}");
        }
    }
}
