//! The record a writer leaves when an fsync fails (`SYNC_FAILURE`):
//! `[magic 8][version u16][0 u16][segment u64][durable_len u64][crc32 u32]`,
//! integers little-endian, the CRC over the 28 bytes before it.

use super::check_crc;
use super::error::DecodeError;
use super::reader::Reader;

/// Magic of the sync-failure record.
pub const SYNC_FAILURE_MAGIC: [u8; 8] = *b"BPKSYNCF";
/// Version of the sync-failure record format.
pub const SYNC_FAILURE_VERSION: u16 = 1;
/// Size of the sync-failure record.
pub(crate) const SYNC_FAILURE_LEN: usize = 32;
/// Bytes the CRC covers.
const COVERED: usize = 28;

/// What a writer has made durable: segment `segment` up to `durable_len`
/// bytes, and no later segment (`segment` 0: nothing). The content of the
/// sync-failure record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DurablePoint {
    pub(crate) segment: u64,
    pub(crate) durable_len: u64,
}

/// Encodes a sync-failure record.
pub(crate) fn encode_sync_failure(r: DurablePoint) -> [u8; SYNC_FAILURE_LEN] {
    let mut b = [0u8; SYNC_FAILURE_LEN];
    b[..8].copy_from_slice(&SYNC_FAILURE_MAGIC);
    b[8..10].copy_from_slice(&SYNC_FAILURE_VERSION.to_le_bytes());
    b[12..20].copy_from_slice(&r.segment.to_le_bytes());
    b[20..28].copy_from_slice(&r.durable_len.to_le_bytes());
    let crc = crc32fast::hash(&b[..COVERED]);
    b[COVERED..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a sync-failure record.
pub(crate) fn decode_sync_failure(b: &[u8]) -> Result<DurablePoint, DecodeError> {
    if b.len() < SYNC_FAILURE_LEN {
        return Err(DecodeError::Truncated {
            offset: 0,
            needed: SYNC_FAILURE_LEN as u64,
        });
    }
    let mut r = Reader::new(b);
    r.magic(&SYNC_FAILURE_MAGIC)?;
    let version = r.le_u16()?;
    let _reserved = r.le_u16()?;
    let segment = r.le_u64()?;
    let durable_len = r.le_u64()?;
    let stored = r.le_u32()?;
    r.finish()?;
    check_crc(0, &b[..COVERED], stored)?;
    if version != SYNC_FAILURE_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: SYNC_FAILURE_VERSION,
        });
    }
    Ok(DurablePoint {
        segment,
        durable_len,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sync_failure_record_roundtrip_and_damage() {
        let r = DurablePoint {
            segment: 7,
            durable_len: 123_456,
        };
        let b = encode_sync_failure(r);
        assert_eq!(&b[..8], b"BPKSYNCF");
        assert_eq!(decode_sync_failure(&b), Ok(r));
        for i in 0..b.len() {
            let mut bad = b;
            bad[i] ^= 0x10;
            assert!(decode_sync_failure(&bad).is_err(), "byte {i}");
        }
        assert!(matches!(
            decode_sync_failure(&b[..31]),
            Err(DecodeError::Truncated { .. })
        ));
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(
            decode_sync_failure(&long),
            Err(DecodeError::TrailingBytes {
                offset: 32,
                extra: 1
            })
        );
    }
}
