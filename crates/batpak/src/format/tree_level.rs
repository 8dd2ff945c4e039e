//! A level file of the Merkle tree (`tree/level-NN`).
//!
//! ```text
//! [magic "BPKTREEL" 8][version u16][level u8][0 u8][0 u32]   16-byte header
//! [hash 32] ...                                              one per record
//! ```
//!
//! Record `i` of the file of level `L` is the root of the perfect subtree
//! over leaves `[i * 2^L, (i + 1) * 2^L)`; level 0 holds the leaf hashes.
//! Levels are stored every [`TREE_LEVEL_STRIDE`] levels (0, 4, 8, …), so any
//! perfect subtree is at most `2^(STRIDE-1)` records of one file folded. The
//! records carry no checksum of their own: each is a hash of the records
//! below it, every stored head's root is checked against them at open, and
//! every proof is checked against the root before it is returned.

use super::error::DecodeError;
use super::reader::Reader;

/// Magic at the start of a tree level file.
pub const TREE_LEVEL_MAGIC: [u8; 8] = *b"BPKTREEL";
/// Version of the tree level file layout.
pub const TREE_LEVEL_VERSION: u16 = 1;
/// Size of a tree level file header.
pub(crate) const TREE_LEVEL_HEADER_LEN: usize = 16;
/// Size of one record.
pub(crate) const TREE_RECORD_LEN: usize = 32;
/// Stored levels are the multiples of this.
pub(crate) const TREE_LEVEL_STRIDE: u32 = 4;

/// The header of the file of `level`.
pub(crate) fn encode_tree_level_header(level: u32) -> [u8; TREE_LEVEL_HEADER_LEN] {
    let mut b = [0u8; TREE_LEVEL_HEADER_LEN];
    b[..8].copy_from_slice(&TREE_LEVEL_MAGIC);
    b[8..10].copy_from_slice(&TREE_LEVEL_VERSION.to_le_bytes());
    b[10] = u8::try_from(level).unwrap_or(u8::MAX);
    b
}

/// Checks the header of a level file that should hold `level`.
pub(crate) fn decode_tree_level_header(b: &[u8], level: u32) -> Result<(), DecodeError> {
    if b.len() < TREE_LEVEL_HEADER_LEN {
        return Err(DecodeError::Truncated {
            offset: 0,
            needed: TREE_LEVEL_HEADER_LEN as u64,
        });
    }
    let mut r = Reader::new(&b[..TREE_LEVEL_HEADER_LEN]);
    r.magic(&TREE_LEVEL_MAGIC)?;
    let version = r.le_u16()?;
    if version != TREE_LEVEL_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: TREE_LEVEL_VERSION,
        });
    }
    if u32::from(r.fixed::<1>()?[0]) != level {
        return Err(DecodeError::Inconsistent {
            offset: 10,
            problem: "the level in the header is not the level of the file name",
        });
    }
    Ok(())
}

/// The file name of a level's file inside the tree directory.
pub(crate) fn tree_level_file_name(level: u32) -> String {
    format!("level-{level:02}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn header_roundtrip_and_damage() {
        let h = encode_tree_level_header(8);
        assert_eq!(&h[..8], b"BPKTREEL");
        assert_eq!(h[10], 8);
        decode_tree_level_header(&h, 8).unwrap();
        assert!(matches!(
            decode_tree_level_header(&h, 4),
            Err(DecodeError::Inconsistent { .. })
        ));
        assert!(matches!(
            decode_tree_level_header(&h[..15], 8),
            Err(DecodeError::Truncated { .. })
        ));
        let mut v = h;
        v[8] = 9;
        assert!(matches!(
            decode_tree_level_header(&v, 8),
            Err(DecodeError::UnsupportedVersion { found: 9, .. })
        ));
        assert_eq!(tree_level_file_name(4), "level-04");
    }
}
