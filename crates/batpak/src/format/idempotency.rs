//! The idempotency sidecar (`IDEMPOTENCY`): keys of events before `through`.
//!
//! `[magic 8][version u16][0 u16][through u64][count u32]` then `count`
//! entries, then a CRC-32 of every byte before it; integers little-endian.
//! Version 2 (written now) entries are
//! `[key 16][event id 16][global sequence u64][digest form u8][digest 32]`;
//! version 1 entries (still read) are
//! `[key 16][event id 16][global sequence u64][content hash 32]`, which
//! version 2 reads as form 0.

use super::error::DecodeError;
use super::reader::Reader;
use super::sealed::is_sealed;
use super::{check_crc, len_u32, split_crc, SIDECAR_CRC_LEN};
use crate::id::{EventId, IdempotencyKey};

/// Magic of the idempotency sidecar file.
pub const IDEMPOTENCY_MAGIC: [u8; 8] = *b"BPKIDEM1";
/// Version of the idempotency sidecar format written by this build.
pub const IDEMPOTENCY_VERSION: u16 = 2;
/// The earlier version this build still reads.
const IDEMPOTENCY_VERSION_1: u16 = 1;
/// Bytes before the first entry.
pub(super) const IDEM_HEADER_LEN: usize = 24;
/// Bytes of one version-2 entry.
const IDEM_ENTRY_LEN: usize = 73;
/// Bytes of one version-1 entry.
#[cfg(test)]
const IDEM_ENTRY_LEN_V1: usize = 72;

/// The longest sidecar that can hold `records` key records.
pub(crate) fn idempotency_file_max(records: usize) -> u64 {
    (IDEM_HEADER_LEN + SIDECAR_CRC_LEN) as u64
        + (records as u64).saturating_mul(IDEM_ENTRY_LEN as u64)
}

/// What an idempotent retry's payload is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PayloadDigest {
    /// Form 0: blake3 of the stored payload, which is the caller's own
    /// bytes (stored in the clear).
    Plain([u8; 32]),
    /// Form 1: a digest of the caller's bytes keyed by (a key derived from)
    /// the key that sealed them; it reveals nothing without that key.
    Sealed([u8; 32]),
    /// Form 2: sealed, digest not known (the record was rebuilt from the
    /// log); a retry opens the original to compare.
    SealedUnknown,
}

impl PayloadDigest {
    /// What a record rebuilt from a frame knows about its stored payload.
    pub(crate) fn of_stored(payload: &[u8]) -> Self {
        if is_sealed(payload) {
            Self::SealedUnknown
        } else {
            Self::Plain(crate::chain::content_hash(payload))
        }
    }

    fn form(&self) -> (u8, [u8; 32]) {
        match *self {
            Self::Plain(d) => (0, d),
            Self::Sealed(d) => (1, d),
            Self::SealedUnknown => (2, [0; 32]),
        }
    }
}

/// One remembered idempotency key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    pub(crate) key: IdempotencyKey,
    pub(crate) event_id: EventId,
    pub(crate) global_sequence: u64,
    pub(crate) digest: PayloadDigest,
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
        let (form, digest) = r.digest.form();
        b.push(form);
        b.extend_from_slice(&digest);
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes the idempotency sidecar (version 2, or version 1): `(through, records)`.
pub(crate) fn decode_idempotency(b: &[u8]) -> Result<(u64, Vec<KeyRecord>), DecodeError> {
    let (body, stored) = split_crc(b, IDEM_HEADER_LEN)?;
    let mut r = Reader::new(body);
    r.magic(&IDEMPOTENCY_MAGIC)?;
    check_crc(0, body, stored)?;
    let version = r.le_u16()?;
    if version != IDEMPOTENCY_VERSION && version != IDEMPOTENCY_VERSION_1 {
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
        let key = IdempotencyKey::from_bytes(r.fixed()?);
        let event_id = EventId::from_bytes(r.fixed()?);
        let global_sequence = r.le_u64()?;
        let digest = if version == IDEMPOTENCY_VERSION_1 {
            PayloadDigest::Plain(r.fixed()?)
        } else {
            let at = r.offset();
            let [form] = r.fixed::<1>()?;
            let d = r.fixed()?;
            match form {
                0 => PayloadDigest::Plain(d),
                1 => PayloadDigest::Sealed(d),
                2 if d == [0; 32] => PayloadDigest::SealedUnknown,
                2 => {
                    return Err(DecodeError::Inconsistent {
                        offset: at,
                        problem: "a digest of form 2 is not all zeros",
                    })
                }
                _ => {
                    return Err(DecodeError::OutOfRange {
                        offset: at,
                        field: "idempotency digest form",
                    })
                }
            }
        };
        records.push(KeyRecord {
            key,
            event_id,
            global_sequence,
            digest,
        });
    }
    r.finish()?;
    Ok((through, records))
}

/// Version-1 bytes, as builds before version 2 wrote them (for the tests
/// that prove those files still open).
#[cfg(test)]
fn encode_idempotency_v1(through: u64, records: &[(KeyRecord, [u8; 32])]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&IDEMPOTENCY_MAGIC);
    b.extend_from_slice(&IDEMPOTENCY_VERSION_1.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&through.to_le_bytes());
    b.extend_from_slice(&len_u32(records.len()).to_le_bytes());
    for (r, content_hash) in records {
        b.extend_from_slice(r.key.as_bytes());
        b.extend_from_slice(&r.event_id.to_bytes());
        b.extend_from_slice(&r.global_sequence.to_le_bytes());
        b.extend_from_slice(content_hash);
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rec(digest: PayloadDigest) -> KeyRecord {
        KeyRecord {
            key: IdempotencyKey::from_bytes([1; 16]),
            event_id: EventId::from_u128(9),
            global_sequence: 4,
            digest,
        }
    }

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
        let recs = vec![
            rec(PayloadDigest::Plain([2; 32])),
            rec(PayloadDigest::Sealed([3; 32])),
            rec(PayloadDigest::SealedUnknown),
        ];
        let b = encode_idempotency(10, &recs);
        assert_eq!(&b[8..10], &[2, 0], "written as version 2");
        assert_eq!(b.len(), IDEM_HEADER_LEN + 3 * IDEM_ENTRY_LEN + 4);
        assert_eq!(b[IDEM_HEADER_LEN + 40], 0, "form of the first entry");
        assert_eq!(b[IDEM_HEADER_LEN + IDEM_ENTRY_LEN + 40], 1);
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
        let mut form = b;
        form[IDEM_HEADER_LEN + 40] = 3;
        let n = form.len() - SIDECAR_CRC_LEN;
        let crc = crc32fast::hash(&form[..n]);
        form[n..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode_idempotency(&form),
            Err(DecodeError::OutOfRange {
                field: "idempotency digest form",
                ..
            })
        ));
        // Form 2 carries no digest: only zeros are its canonical bytes.
        let mut unknown = encode_idempotency(10, &[rec(PayloadDigest::SealedUnknown)]);
        unknown[IDEM_HEADER_LEN + 41] = 1;
        let n = unknown.len() - SIDECAR_CRC_LEN;
        let crc = crc32fast::hash(&unknown[..n]);
        unknown[n..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode_idempotency(&unknown),
            Err(DecodeError::Inconsistent { .. })
        ));
    }

    #[test]
    fn a_version_1_sidecar_reads_as_plain_digests() {
        let r = rec(PayloadDigest::Plain([5; 32]));
        let b = encode_idempotency_v1(10, &[(r, [5; 32])]);
        assert_eq!(b.len(), IDEM_HEADER_LEN + IDEM_ENTRY_LEN_V1 + 4);
        assert_eq!(decode_idempotency(&b).unwrap(), (10, vec![r]));
        let mut v3 = b;
        v3[8] = 3;
        let n = v3.len() - SIDECAR_CRC_LEN;
        let crc = crc32fast::hash(&v3[..n]);
        v3[n..].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode_idempotency(&v3),
            Err(DecodeError::UnsupportedVersion {
                found: 3,
                supported: 2
            })
        ));
    }

    #[test]
    fn a_count_that_disagrees_with_the_length_is_refused() {
        let r = rec(PayloadDigest::Plain([2; 32]));
        let good = encode_idempotency(10, &[r, r]);
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
                    matches!(err, DecodeError::TrailingBytes { extra: 73, .. }),
                    "{err}"
                );
            }
        }
    }
}
