//! The idempotency sidecar (`IDEMPOTENCY`): keys of events before `through`.
//!
//! `[magic 8][version u16][0 u16][through u64][count u32]` then `count`
//! entries of `[key 16][event id 16][global sequence u64][content hash 32]`,
//! then a CRC-32 of every byte before it; integers little-endian.

use super::error::DecodeError;
use super::reader::Reader;
use super::{check_crc, len_u32, split_crc, SIDECAR_CRC_LEN};
use crate::id::{EventId, IdempotencyKey};

/// Magic of the idempotency sidecar file.
pub const IDEMPOTENCY_MAGIC: [u8; 8] = *b"BPKIDEM1";
/// Version of the idempotency sidecar format.
pub const IDEMPOTENCY_VERSION: u16 = 1;
/// Bytes before the first entry.
pub(super) const IDEM_HEADER_LEN: usize = 24;
/// Bytes of one entry.
const IDEM_ENTRY_LEN: usize = 72;

/// The longest sidecar that can hold `records` key records.
pub(crate) fn idempotency_file_max(records: usize) -> u64 {
    (IDEM_HEADER_LEN + SIDECAR_CRC_LEN) as u64
        + (records as u64).saturating_mul(IDEM_ENTRY_LEN as u64)
}

/// One remembered idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    pub(crate) key: IdempotencyKey,
    pub(crate) event_id: EventId,
    pub(crate) global_sequence: u64,
    pub(crate) content_hash: [u8; 32],
}

/// Encodes the idempotency sidecar: keys of events before `through`.
pub(crate) fn encode_idempotency(through: u64, records: &[KeyRecord]) -> Vec<u8> {
    let mut b =
        Vec::with_capacity(IDEM_HEADER_LEN + records.len() * IDEM_ENTRY_LEN + SIDECAR_CRC_LEN);
    b.extend_from_slice(&IDEMPOTENCY_MAGIC);
    b.extend_from_slice(&IDEMPOTENCY_VERSION.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&through.to_le_bytes());
    b.extend_from_slice(&len_u32(records.len()).to_le_bytes());
    for r in records {
        b.extend_from_slice(r.key.as_bytes());
        b.extend_from_slice(&r.event_id.to_bytes());
        b.extend_from_slice(&r.global_sequence.to_le_bytes());
        b.extend_from_slice(&r.content_hash);
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes the idempotency sidecar: `(through, records)`.
pub(crate) fn decode_idempotency(b: &[u8]) -> Result<(u64, Vec<KeyRecord>), DecodeError> {
    let (body, stored) = split_crc(b, IDEM_HEADER_LEN)?;
    let mut r = Reader::new(body);
    r.magic(&IDEMPOTENCY_MAGIC)?;
    check_crc(0, body, stored)?;
    let version = r.le_u16()?;
    if version != IDEMPOTENCY_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: IDEMPOTENCY_VERSION,
        });
    }
    let _reserved = r.le_u16()?;
    let through = r.le_u64()?;
    let count_at = r.offset();
    let count = usize::try_from(r.le_u32()?).map_err(|_| DecodeError::OutOfRange {
        offset: count_at,
        field: "idempotency record count",
    })?;
    // No reservation from `count`: it is read from the file.
    let mut records = Vec::new();
    for _ in 0..count {
        records.push(KeyRecord {
            key: IdempotencyKey::from_bytes(r.fixed()?),
            event_id: EventId::from_bytes(r.fixed()?),
            global_sequence: r.le_u64()?,
            content_hash: r.fixed()?,
        });
    }
    r.finish()?;
    Ok((through, records))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn idempotency_sidecar_lengths_at_the_edges() {
        let empty = encode_idempotency(0, &[]);
        assert_eq!(empty.len(), IDEM_HEADER_LEN + 4);
        assert_eq!(decode_idempotency(&empty), Ok((0, Vec::new())));
        for n in 0..empty.len() {
            assert_eq!(
                decode_idempotency(&empty[..n]),
                Err(DecodeError::Truncated {
                    offset: 0,
                    needed: (IDEM_HEADER_LEN + 4) as u64
                }),
                "{n} bytes"
            );
        }
    }

    #[test]
    fn idempotency_sidecar_roundtrip_and_checks() {
        let recs = vec![KeyRecord {
            key: IdempotencyKey::from_bytes([1; 16]),
            event_id: EventId::from_u128(9),
            global_sequence: 4,
            content_hash: [2; 32],
        }];
        let b = encode_idempotency(10, &recs);
        assert_eq!(decode_idempotency(&b).unwrap(), (10, recs));
        for cut in 0..b.len() {
            assert!(decode_idempotency(&b[..cut]).is_err());
        }
        let mut bad = b.clone();
        bad[30] ^= 1;
        assert!(matches!(
            decode_idempotency(&bad),
            Err(DecodeError::CrcMismatch { offset: 0, .. })
        ));
    }

    #[test]
    fn a_count_that_disagrees_with_the_length_is_refused() {
        let rec = KeyRecord {
            key: IdempotencyKey::from_bytes([1; 16]),
            event_id: EventId::from_u128(9),
            global_sequence: 4,
            content_hash: [2; 32],
        };
        let good = encode_idempotency(10, &[rec, rec]);
        for (count, short) in [(3u32, true), (1, false), (u32::MAX, true)] {
            let mut b = good.clone();
            b[20..24].copy_from_slice(&count.to_le_bytes());
            let n = b.len() - SIDECAR_CRC_LEN;
            let crc = crc32fast::hash(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
            let err = decode_idempotency(&b).unwrap_err();
            if short {
                assert!(
                    matches!(err, DecodeError::Truncated { .. }),
                    "{count}: {err}"
                );
            } else {
                assert!(
                    matches!(err, DecodeError::TrailingBytes { extra: 72, .. }),
                    "{err}"
                );
            }
        }
    }
}
