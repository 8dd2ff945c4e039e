//! The keyset file (`KEYSET`) of payload encryption: one key per key scope.
//!
//! `[magic BPKKEYS1 8][version u16][granularity u8][reserved u8][next key number u64][count u32]`,
//! then `count` records `[key number u64][scope id length u16][scope id][key 32]`,
//! then a CRC-32 of every byte before it; integers little-endian. Key
//! numbers count up from 1 over the store's life and are never reused, so
//! a payload sealed under a destroyed key never meets a later key of the
//! same scope. The coder never copies key bytes: the decoder lends them
//! from the input and the encoder writes into the caller's buffer, so the
//! caller decides how key material is held and wiped.

// Without the feature only the decoders that let a build refuse or report
// an encrypted store are used; the rest is compiled (and tested) all the same.
#![cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]

use super::error::DecodeError;
use super::reader::Reader;
use super::{check_crc, len_u32, split_crc, SIDECAR_CRC_LEN};
use crate::keyscope::KeyScopeGranularity;

/// Magic of the keyset file.
pub const KEYSET_MAGIC: [u8; 8] = *b"BPKKEYS1";
/// Version of the keyset format.
pub const KEYSET_VERSION: u16 = 1;
/// Bytes before the first record.
const KEYSET_HEADER_LEN: usize = 24;
/// Bytes of one key.
pub(crate) const KEY_LEN: usize = 32;
/// The longest keyset file read whole.
pub(crate) const MAX_KEYSET_FILE: u64 = 1 << 30;

/// The keyset's fields other than its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeysetHeader {
    pub(crate) granularity: KeyScopeGranularity,
    /// The number the next key minted gets (every recorded key's is below).
    pub(crate) next_key_number: u64,
}

/// The bytes one record takes.
fn record_len(scope_id: &[u8]) -> usize {
    8 + 2 + scope_id.len() + KEY_LEN
}

/// Encodes the keyset into `out` (cleared first): the header, then each
/// `(key number, scope id, key)` record.
pub(crate) fn encode_keyset<'a>(
    out: &mut Vec<u8>,
    header: KeysetHeader,
    records: impl ExactSizeIterator<Item = (u64, &'a [u8], &'a [u8; KEY_LEN])> + Clone,
) {
    out.clear();
    let body: usize = records.clone().map(|(_, s, _)| record_len(s)).sum();
    out.reserve_exact(KEYSET_HEADER_LEN + body + SIDECAR_CRC_LEN);
    out.extend_from_slice(&KEYSET_MAGIC);
    out.extend_from_slice(&KEYSET_VERSION.to_le_bytes());
    out.push(header.granularity.code());
    out.push(0);
    out.extend_from_slice(&header.next_key_number.to_le_bytes());
    out.extend_from_slice(&len_u32(records.len()).to_le_bytes());
    for (number, scope, key) in records {
        out.extend_from_slice(&number.to_le_bytes());
        let n = u16::try_from(scope.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&scope[..usize::from(n)]);
        out.extend_from_slice(key);
    }
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Decodes a keyset: its header, and each record lent to `each` as
/// `(key number, scope id, key)`. Checks magic, CRC, version, granularity,
/// that every scope id is non-empty and every key number is between 1 and
/// the next key number.
pub(crate) fn decode_keyset<'a>(
    b: &'a [u8],
    mut each: impl FnMut(u64, &'a [u8], &'a [u8; KEY_LEN]) -> Result<(), DecodeError>,
) -> Result<KeysetHeader, DecodeError> {
    let (body, stored) = split_crc(b, KEYSET_HEADER_LEN)?;
    let mut r = Reader::new(body);
    r.magic(&KEYSET_MAGIC)?;
    check_crc(0, body, stored)?;
    let version = r.le_u16()?;
    if version != KEYSET_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: KEYSET_VERSION,
        });
    }
    let at = r.offset();
    let [code, _reserved] = r.fixed::<2>()?;
    let granularity = KeyScopeGranularity::from_code(code).ok_or(DecodeError::OutOfRange {
        offset: at,
        field: "key scope granularity",
    })?;
    let next_key_number = r.le_u64()?;
    let count = r.le_u32()?;
    for _ in 0..count {
        let at = r.offset();
        let number = r.le_u64()?;
        if number == 0 || number >= next_key_number {
            return Err(DecodeError::OutOfRange {
                offset: at,
                field: "key number",
            });
        }
        let at = r.offset();
        let len = usize::from(r.le_u16()?);
        if len == 0 {
            return Err(DecodeError::OutOfRange {
                offset: at,
                field: "scope id length",
            });
        }
        let scope = r.take(len)?;
        let key = r.take(KEY_LEN)?;
        let key: &[u8; KEY_LEN] = key.try_into().map_err(|_| DecodeError::Truncated {
            offset: r.offset(),
            needed: KEY_LEN as u64,
        })?;
        each(number, scope, key)?;
    }
    r.finish()?;
    Ok(KeysetHeader {
        granularity,
        next_key_number,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Vec<u8> {
        let keys = [[1u8; KEY_LEN], [2u8; KEY_LEN]];
        let recs: Vec<(u64, &[u8], &[u8; KEY_LEN])> =
            vec![(1, b"\x01alice", &keys[0]), (3, b"\x01bob", &keys[1])];
        let mut out = vec![0xAA; 3];
        encode_keyset(
            &mut out,
            KeysetHeader {
                granularity: KeyScopeGranularity::PerEntity,
                next_key_number: 4,
            },
            recs.into_iter(),
        );
        out
    }

    #[test]
    fn the_layout_is_exact_and_round_trips() {
        let b = sample();
        assert_eq!(&b[..8], b"BPKKEYS1");
        assert_eq!(&b[8..10], &[1, 0]);
        assert_eq!(&b[10..12], &[1, 0], "granularity PerEntity, reserved");
        assert_eq!(&b[12..20], &4u64.to_le_bytes());
        assert_eq!(&b[20..24], &2u32.to_le_bytes());
        assert_eq!(&b[24..32], &1u64.to_le_bytes());
        assert_eq!(&b[32..34], &6u16.to_le_bytes());
        assert_eq!(&b[34..40], b"\x01alice");
        assert_eq!(&b[40..72], &[1; 32]);
        assert_eq!(b.len(), 24 + (8 + 2 + 6 + 32) + (8 + 2 + 4 + 32) + 4);
        let mut seen = Vec::new();
        let h = decode_keyset(&b, |n, s, k| {
            seen.push((n, s.to_vec(), *k));
            Ok(())
        })
        .unwrap();
        assert_eq!(h.granularity, KeyScopeGranularity::PerEntity);
        assert_eq!(h.next_key_number, 4);
        assert_eq!(
            seen,
            vec![
                (1, b"\x01alice".to_vec(), [1; 32]),
                (3, b"\x01bob".to_vec(), [2; 32])
            ]
        );
    }

    #[test]
    fn every_prefix_and_every_flipped_byte_is_refused() {
        let b = sample();
        for cut in 0..b.len() {
            assert!(decode_keyset(&b[..cut], |_, _, _| Ok(())).is_err(), "{cut}");
        }
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x10;
            assert!(decode_keyset(&bad, |_, _, _| Ok(())).is_err(), "flip {i}");
        }
    }

    /// Rewrites the CRC after an edit, so the checks behind it are reached.
    fn recrc(mut b: Vec<u8>) -> Vec<u8> {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn fields_out_of_range_are_refused_behind_a_valid_crc() {
        let b = sample();
        let mut g = b.clone();
        g[10] = 9;
        assert!(matches!(
            decode_keyset(&recrc(g), |_, _, _| Ok(())),
            Err(DecodeError::OutOfRange {
                field: "key scope granularity",
                ..
            })
        ));
        let mut n = b.clone();
        n[24..32].copy_from_slice(&4u64.to_le_bytes());
        assert!(matches!(
            decode_keyset(&recrc(n), |_, _, _| Ok(())),
            Err(DecodeError::OutOfRange {
                field: "key number",
                ..
            })
        ));
        let mut z = b.clone();
        z[24..32].copy_from_slice(&0u64.to_le_bytes());
        assert!(decode_keyset(&recrc(z), |_, _, _| Ok(())).is_err());
        let mut v = b.clone();
        v[8] = 2;
        assert!(matches!(
            decode_keyset(&recrc(v), |_, _, _| Ok(())),
            Err(DecodeError::UnsupportedVersion { found: 2, .. })
        ));
        let mut c = b;
        c[20..24].copy_from_slice(&3u32.to_le_bytes());
        assert!(matches!(
            decode_keyset(&recrc(c), |_, _, _| Ok(())),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
