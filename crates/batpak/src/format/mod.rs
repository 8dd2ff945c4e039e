//! Every byte layout the store writes, and a read-only reader of segment files.
//!
//! Each on-disk structure has its own file here, with its encoder, its
//! decoder and their tests; `docs/FORMAT.md` describes the same layouts and
//! names the file of each. Decision code (writer, recovery) never touches
//! offsets directly: it calls these encoders and decoders. Every decoder
//! reads through one bounded reader, reports a typed [`DecodeError`] naming
//! the offset of the problem, and refuses bytes left after its structure.
//!
//! The public surface is small: [`SegmentReader`] reads a segment file
//! without opening a store, with the views it returns ([`FrameView`],
//! [`FooterView`], [`FooterEntryView`]); [`DecodeError`] and
//! [`SegmentError`] say why bytes did not read; the format constants and the
//! file names of a data directory (`names`) complete it.
//!
//! ```
//! use batpak::format::{segment_file_name, SegmentReader};
//! use batpak::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(StoreConfig::new(dir.path()))?;
//! let coord = Coordinate::new("order:1", "shop")?;
//! store.append(&coord, EventKind::custom(0xE, 1), &"placed")?;
//! store.close()?; // seals the segment
//!
//! let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
//! assert!(segment.is_sealed());
//! let frames: Vec<_> = segment.frames().collect::<Result<_, _>>()?;
//! assert_eq!(frames.len(), 1);
//! assert_eq!(frames[0].entity(), "order:1");
//! # Ok(()) }
//! ```

mod checkpoint;
mod compaction;
mod error;
mod footer;
mod footer_view;
mod frame;
mod frame_view;
mod heads;
mod idempotency;
mod index_file;
mod keyset;
mod marker;
mod names;
mod projection;
mod reader;
mod sealed;
mod segment_header;
mod segment_reader;
mod sync_failure;
mod tree_level;

pub(crate) use compaction::{decode_compaction_marker, encode_compaction_marker, CompactionMarker};
pub use error::DecodeError;
pub use footer::{FOOTER_MAGIC, TRAILER_LEN};
pub use footer_view::{FooterEntryView, FooterView};
pub use frame::FRAME_PREFIX_LEN;
pub use frame_view::FrameView;
pub(crate) use heads::{
    decode_heads, encode_head_record, encode_heads_header, HeadKind, HeadRecord, HEADS_HEADER_LEN,
};
pub(crate) use index_file::{
    decode_entity_row, decode_index_head, decode_index_pair, decode_index_record, decode_kind_row,
    decode_scope_row, encode_index_file, encode_index_logical, index_page_data, IndexFileHead,
    IndexLayout, ID_FENCE_STRIDE, INDEX_PAGE_DATA, INDEX_RECORD_LEN, INDEX_ROW_LENS,
};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use index_file::{decode_index_file, paginate as paginate_index};
pub use index_file::{INDEX_FILE_MAGIC, INDEX_FORMAT_VERSION, INDEX_PAGE_LEN};
pub(crate) use marker::SNAPSHOT_MARKER_TEXT;
pub use names::{
    index_file_name, parse_segment_file_name, segment_file_name, CHECKPOINT_DIR, CHECKPOINT_SUFFIX,
    HEADS_FILE, IDEMPOTENCY_FILE, INDEX_SUFFIX, KEYSET_FILE, PROJECTION_DIR, PROJECTION_SUFFIX,
    SEGMENT_SUFFIX, SNAPSHOT_INCOMPLETE_FILE, SYNC_FAILURE_FILE, TEMP_SUFFIX, TREE_DIR,
};
pub(crate) use names::{index_path, parse_index_file_name, segment_path, LOCK_FILE};
pub use segment_header::{
    OLDEST_SEGMENT_FORMAT_VERSION, SEGMENT_FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
};
pub use segment_reader::{Frames, SegmentError, SegmentReader};
pub(crate) use tree_level::{
    decode_tree_level_header, encode_tree_level_header, tree_level_file_name,
    TREE_LEVEL_HEADER_LEN, TREE_LEVEL_STRIDE, TREE_RECORD_LEN,
};
pub use {
    checkpoint::{CHECKPOINT_MAGIC, CHECKPOINT_VERSION},
    compaction::{COMPACTING_SUFFIX, COMPACTION_FILE, COMPACTION_MAGIC, COMPACTION_VERSION},
    heads::{HEADS_MAGIC, HEADS_VERSION},
    idempotency::{IDEMPOTENCY_MAGIC, IDEMPOTENCY_VERSION},
    keyset::{KEYSET_MAGIC, KEYSET_VERSION},
    projection::{PROJECTION_MAGIC, PROJECTION_VERSION},
    sync_failure::{SYNC_FAILURE_MAGIC, SYNC_FAILURE_VERSION},
    tree_level::{TREE_LEVEL_MAGIC, TREE_LEVEL_VERSION},
};

pub(crate) use checkpoint::{
    decode_checkpoint, encode_checkpoint, region_fingerprint, CheckpointRecord,
};
#[cfg(feature = "fuzzing")]
pub(crate) use footer::decode_trailer;
pub(crate) use footer::{
    decode_footer, encode_footer, footer_is_a_frame, locate_footer, sealed_len, trailer_offset,
    Footer, FooterEntry, FooterReader, Retired,
};
#[cfg(feature = "fuzzing")]
pub(crate) use frame::decode_body;
pub(crate) use frame::{
    decode_frame, encode_frame, next_frame_after, FrameFields, MAX_FRAME_BODY_LEN,
    MIN_FRAME_BODY_LEN,
};
pub(crate) use idempotency::{
    decode_idempotency, encode_idempotency, idempotency_file_max, KeyRecord, PayloadDigest,
};
pub(crate) use keyset::{decode_keyset, MAX_KEYSET_FILE};
#[cfg(any(feature = "payload-encryption", feature = "fuzzing"))]
pub(crate) use keyset::{encode_keyset, KeysetHeader, KEY_LEN};
pub(crate) use sealed::is_sealed;
#[cfg(feature = "payload-encryption")]
pub(crate) use sealed::sealed_aad;
#[cfg(any(feature = "payload-encryption", feature = "fuzzing"))]
pub(crate) use sealed::{decode_sealed, encode_sealed_prefix, NONCE_LEN, SEALED_PREFIX_LEN};
pub use sealed::{SEALED_OVERHEAD, SEALED_PAYLOAD_MARKER, SEALED_PAYLOAD_VERSION};

/// The longest small sidecar read whole (sync-failure record, cursor
/// checkpoint): far above their real sizes, so a damaged length is still
/// refused by the decoder, and a huge file never sizes an allocation.
pub(crate) const MAX_SMALL_FILE: u64 = 64 << 10;

/// The longest projection state file read whole.
pub(crate) const MAX_PROJECTION_FILE: u64 = 1 << 30;
pub(crate) use names::{checkpoint_file_name, projection_file_name};
pub(crate) use projection::{decode_projection, encode_projection, ProjectionRecord};
pub(crate) use segment_header::{
    decode_segment_header, encode_segment_header, hash_version_of, SegmentHeader,
};
pub(crate) use sync_failure::{decode_sync_failure, encode_sync_failure, DurablePoint};

/// Every checksummed sidecar ends in a CRC32 of everything before it.
const SIDECAR_CRC_LEN: usize = 4;

/// A length or offset in memory as a file offset.
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A length the encoders write as `u32`; every caller bounds it well below.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Appends `nil`, or the id as a msgpack bin of its 16 big-endian bytes.
fn write_opt_id(w: &mut Vec<u8>, id: Option<u128>) {
    // Writing into a Vec cannot fail, so the encoder results are ignored.
    match id {
        None => {
            let _ = rmp::encode::write_nil(w);
        }
        Some(v) => {
            let _ = rmp::encode::write_bin(w, &v.to_be_bytes());
        }
    }
}

/// Checks `stored` against the CRC-32 of `covered`, which starts at `offset`.
fn check_crc(offset: u64, covered: &[u8], stored: u32) -> Result<(), DecodeError> {
    let computed = crc32fast::hash(covered);
    if computed == stored {
        Ok(())
    } else {
        Err(DecodeError::CrcMismatch {
            offset,
            stored,
            computed,
        })
    }
}

/// Splits a sidecar into the bytes its trailing CRC covers and that CRC;
/// the covered part must hold at least `min_covered` bytes.
fn split_crc(b: &[u8], min_covered: usize) -> Result<(&[u8], u32), DecodeError> {
    let needed = min_covered.saturating_add(SIDECAR_CRC_LEN);
    let truncated = DecodeError::Truncated {
        offset: 0,
        needed: to_u64(needed),
    };
    if b.len() < needed {
        return Err(truncated);
    }
    let (body, crc) = b.split_at(b.len() - SIDECAR_CRC_LEN);
    let crc = <[u8; SIDECAR_CRC_LEN]>::try_from(crc).map_err(|_| truncated)?;
    Ok((body, u32::from_le_bytes(crc)))
}
