//! The 32-byte header at the start of every segment file.
//!
//! `[magic 8][version u16][reserved u16][segment id u64][created ms u64][crc32 u32]`,
//! integers little-endian, the CRC over the 28 bytes before it.

use super::check_crc;
use super::error::DecodeError;
use super::reader::Reader;

/// Version of the segment format this build writes, and the newest it reads.
///
/// Version 2 hashes each frame's batch framing (`batch_remaining`) into its
/// `event_hash`; version 1 did not. Version 3 hashes as version 2 and adds
/// two frame contents: a tombstone in the payload's place (left by
/// compaction) and an import's provenance as attestation tag 3. Frames and
/// footers are otherwise laid out alike in all three.
pub const SEGMENT_FORMAT_VERSION: u16 = 3;
/// The oldest segment format version this build reads. Segments of it are
/// read and verified as they are, never rewritten into the new version.
pub const OLDEST_SEGMENT_FORMAT_VERSION: u16 = 1;
/// First eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"BATPAKSG";
/// Size of the fixed segment header.
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Offset of the version field.
pub(super) const HDR_VERSION: usize = 8;
/// Offset of the CRC field: the CRC covers the bytes before it.
pub(super) const HDR_CRC: usize = 28;

/// A decoded segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    /// Between [`OLDEST_SEGMENT_FORMAT_VERSION`] and [`SEGMENT_FORMAT_VERSION`].
    pub(crate) version: u16,
    pub(crate) segment_id: u64,
    pub(crate) created_ms: u64,
}

/// Encodes a segment header.
pub(crate) fn encode_segment_header(h: SegmentHeader) -> [u8; SEGMENT_HEADER_LEN] {
    let mut b = [0u8; SEGMENT_HEADER_LEN];
    b[..HDR_VERSION].copy_from_slice(&SEGMENT_MAGIC);
    b[HDR_VERSION..HDR_VERSION + 2].copy_from_slice(&h.version.to_le_bytes());
    b[12..20].copy_from_slice(&h.segment_id.to_le_bytes());
    b[20..HDR_CRC].copy_from_slice(&h.created_ms.to_le_bytes());
    let crc = crc32fast::hash(&b[..HDR_CRC]);
    b[HDR_CRC..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes and checks the segment header at the start of `b` (bytes after
/// the header are not looked at).
pub(crate) fn decode_segment_header(b: &[u8]) -> Result<SegmentHeader, DecodeError> {
    let b = b.get(..SEGMENT_HEADER_LEN).ok_or(DecodeError::Truncated {
        offset: 0,
        needed: SEGMENT_HEADER_LEN as u64,
    })?;
    let mut r = Reader::new(b);
    r.magic(&SEGMENT_MAGIC)?;
    let version = r.le_u16()?;
    let _reserved = r.le_u16()?;
    let segment_id = r.le_u64()?;
    let created_ms = r.le_u64()?;
    let stored = r.le_u32()?;
    r.finish()?;
    check_crc(0, &b[..HDR_CRC], stored)?;
    if !(OLDEST_SEGMENT_FORMAT_VERSION..=SEGMENT_FORMAT_VERSION).contains(&version) {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: SEGMENT_FORMAT_VERSION,
        });
    }
    Ok(SegmentHeader {
        version,
        segment_id,
        created_ms,
    })
}

/// The `event_hash` layout ([`crate::EventHeader::hash_version`]) of the
/// frames in a segment of format `version`: 1 in version-1 segments, 2 from
/// version 2 on (version 3 included).
pub(crate) fn hash_version_of(version: u16) -> u8 {
    if version <= OLDEST_SEGMENT_FORMAT_VERSION {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn segment_header_roundtrip_and_checks() {
        let h = SegmentHeader {
            version: SEGMENT_FORMAT_VERSION,
            segment_id: 12,
            created_ms: 99,
        };
        let b = encode_segment_header(h);
        assert_eq!(decode_segment_header(&b).unwrap(), h);
        assert_eq!(
            decode_segment_header(&b[..31]),
            Err(DecodeError::Truncated {
                offset: 0,
                needed: 32
            })
        );
        let mut bad = b;
        bad[0] = b'X';
        assert!(matches!(
            decode_segment_header(&bad),
            Err(DecodeError::BadMagic { offset: 0, .. })
        ));
        let mut bad = b;
        bad[13] ^= 1;
        assert!(matches!(
            decode_segment_header(&bad),
            Err(DecodeError::CrcMismatch { offset: 0, .. })
        ));
        let with_version = |v: u16| {
            let mut b = b;
            b[HDR_VERSION..HDR_VERSION + 2].copy_from_slice(&v.to_le_bytes());
            let crc = crc32fast::hash(&b[..HDR_CRC]);
            b[HDR_CRC..].copy_from_slice(&crc.to_le_bytes());
            b
        };
        for v in [0u16, 4, 0x0100] {
            assert_eq!(
                decode_segment_header(&with_version(v)),
                Err(DecodeError::UnsupportedVersion {
                    found: v,
                    supported: 3
                })
            );
        }
        let v1 = decode_segment_header(&with_version(1)).unwrap();
        assert_eq!(v1, SegmentHeader { version: 1, ..h });
        assert_eq!(
            encode_segment_header(v1),
            with_version(1),
            "a version-1 header encodes as it was read"
        );
    }

    #[test]
    fn each_segment_version_has_its_hash_layout() {
        assert_eq!(hash_version_of(1), 1);
        assert_eq!(hash_version_of(2), 2);
        assert_eq!(hash_version_of(3), 2);
        assert_eq!(
            hash_version_of(SEGMENT_FORMAT_VERSION),
            crate::chain::HASH_VERSION
        );
    }

    #[test]
    fn the_header_layout_is_the_documented_one() {
        let b = encode_segment_header(SegmentHeader {
            version: SEGMENT_FORMAT_VERSION,
            segment_id: 0x0102,
            created_ms: 0x0304,
        });
        assert_eq!(&b[..8], b"BATPAKSG");
        assert_eq!(&b[8..12], &[3, 0, 0, 0]);
        assert_eq!(&b[12..14], &[0x02, 0x01]);
        assert_eq!(&b[20..22], &[0x04, 0x03]);
        // Bytes after the header are not part of it.
        let mut longer = b.to_vec();
        longer.push(0xff);
        assert!(decode_segment_header(&longer).is_ok());
    }
}
