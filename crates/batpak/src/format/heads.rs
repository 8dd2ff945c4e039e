//! The heads file (`HEADS`): the tree heads a writer recorded, append-only.
//!
//! ```text
//! [magic "BPKHEADS" 8][version u16][0 u16][0 u32]          16-byte header
//! [body_len u32][crc32(body) u32][body]                     one per record
//! body: [kind u8][size u64][root 32][recorded_ms u64][lost_from u64]
//!       [key 32][note_len u32][note: UTF-8 note_len bytes]
//! ```
//!
//! Integers are little-endian. `kind` 1 is a head: the tree of the first
//! `size` events had root `root`, and `note` is its signed note by the
//! ed25519 public key `key` (when the store has no signing key: the
//! checkpoint text, and a zero key). `kind` 2 marks accepted loss: an open found
//! the log shorter than a recorded head of `lost_from` events and continued
//! from `size`; heads before the marker no longer bind the log after it.

use super::error::DecodeError;
use super::reader::Reader;
use super::{check_crc, len_u32, to_u64};

/// Magic at the start of the heads file.
pub const HEADS_MAGIC: [u8; 8] = *b"BPKHEADS";
/// Version of the heads file layout.
pub const HEADS_VERSION: u16 = 1;
/// Size of the heads file header.
pub(crate) const HEADS_HEADER_LEN: usize = 16;
/// Bytes before a record's body: its length and CRC.
const RECORD_PREFIX_LEN: usize = 8;
/// Fixed part of a record body, before the note.
const BODY_FIXED_LEN: usize = 1 + 8 + 32 + 8 + 8 + 32 + 4;
/// The longest record body accepted: a checkpoint note is a few hundred bytes.
pub(crate) const MAX_HEAD_BODY: usize = 16 << 10;

/// What a heads record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadKind {
    /// A tree head.
    Head,
    /// An open accepted that the log lost events a head had covered.
    Loss,
}

/// One record of the heads file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeadRecord {
    pub(crate) kind: HeadKind,
    /// Tree size: events covered.
    pub(crate) size: u64,
    /// Tree root at `size`.
    pub(crate) root: [u8; 32],
    /// Wall-clock milliseconds when it was recorded.
    pub(crate) recorded_ms: u64,
    /// For a loss marker: the size of the head the log fell below.
    pub(crate) lost_from: u64,
    /// The public key of the note's signature; zeros when unsigned.
    pub(crate) key: [u8; 32],
    /// The signed note of the checkpoint; empty when unsigned.
    pub(crate) note: String,
}

/// What a scan of the heads file found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeadsScan {
    /// Whole records and the offset each starts at.
    pub(crate) records: Vec<(u64, HeadRecord)>,
    /// Where the last whole record ends.
    pub(crate) valid_len: u64,
    /// Bytes after `valid_len`: a record whose append did not complete.
    pub(crate) torn_bytes: u64,
}

/// The file header of an empty heads file.
pub(crate) fn encode_heads_header() -> [u8; HEADS_HEADER_LEN] {
    let mut b = [0u8; HEADS_HEADER_LEN];
    b[..8].copy_from_slice(&HEADS_MAGIC);
    b[8..10].copy_from_slice(&HEADS_VERSION.to_le_bytes());
    b
}

/// Encodes one record with its prefix; `None` if the note is too long.
pub(crate) fn encode_head_record(r: &HeadRecord) -> Option<Vec<u8>> {
    let body_len = BODY_FIXED_LEN + r.note.len();
    if body_len > MAX_HEAD_BODY {
        return None;
    }
    let mut body = Vec::with_capacity(body_len);
    body.push(match r.kind {
        HeadKind::Head => 1,
        HeadKind::Loss => 2,
    });
    body.extend_from_slice(&r.size.to_le_bytes());
    body.extend_from_slice(&r.root);
    body.extend_from_slice(&r.recorded_ms.to_le_bytes());
    body.extend_from_slice(&r.lost_from.to_le_bytes());
    body.extend_from_slice(&r.key);
    body.extend_from_slice(&len_u32(r.note.len()).to_le_bytes());
    body.extend_from_slice(r.note.as_bytes());
    let mut out = Vec::with_capacity(RECORD_PREFIX_LEN + body.len());
    out.extend_from_slice(&len_u32(body.len()).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

/// Decodes a heads file. A record cut short by the end of the file, or the
/// last record failing its CRC with nothing after it, is a torn append
/// (reported in `torn_bytes`); damage anywhere else is an error naming its
/// offset.
pub(crate) fn decode_heads(b: &[u8]) -> Result<HeadsScan, DecodeError> {
    if b.len() < HEADS_HEADER_LEN {
        // A crash while the file was being created: no record was ever in it.
        return Ok(HeadsScan {
            torn_bytes: to_u64(b.len()),
            ..HeadsScan::default()
        });
    }
    let mut r = Reader::new(&b[..HEADS_HEADER_LEN]);
    r.magic(&HEADS_MAGIC)?;
    let version = r.le_u16()?;
    if version != HEADS_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: HEADS_VERSION,
        });
    }
    let mut scan = HeadsScan {
        valid_len: to_u64(HEADS_HEADER_LEN),
        ..HeadsScan::default()
    };
    let mut at = HEADS_HEADER_LEN;
    while at < b.len() {
        let rest = &b[at..];
        let offset = to_u64(at);
        if rest.len() < RECORD_PREFIX_LEN {
            scan.torn_bytes = to_u64(rest.len());
            break;
        }
        // An append that did not complete leaves at most one record's
        // bytes, of any content: what does not read as a whole record in
        // that much tail is torn; the same damage with more after it is not.
        let may_be_torn = rest.len() <= RECORD_PREFIX_LEN + MAX_HEAD_BODY;
        let mut p = Reader::at(&rest[..RECORD_PREFIX_LEN], offset);
        let body_len = p.le_u32()? as usize;
        let stored = p.le_u32()?;
        let end = RECORD_PREFIX_LEN + body_len;
        if !(BODY_FIXED_LEN..=MAX_HEAD_BODY).contains(&body_len) || rest.len() < end {
            if may_be_torn {
                scan.torn_bytes = to_u64(rest.len());
                break;
            }
            return Err(DecodeError::OutOfRange {
                offset,
                field: "head record length",
            });
        }
        let body = &rest[RECORD_PREFIX_LEN..end];
        let body_at = offset + to_u64(RECORD_PREFIX_LEN);
        if let Err(e) = check_crc(body_at, body, stored) {
            if may_be_torn {
                scan.torn_bytes = to_u64(rest.len());
                break;
            }
            return Err(e);
        }
        scan.records.push((offset, decode_body(body, body_at)?));
        at += end;
        scan.valid_len = to_u64(at);
    }
    Ok(scan)
}

fn decode_body(body: &[u8], base: u64) -> Result<HeadRecord, DecodeError> {
    let mut r = Reader::at(body, base);
    let kind_at = r.offset();
    let kind = match r.fixed::<1>()?[0] {
        1 => HeadKind::Head,
        2 => HeadKind::Loss,
        _ => {
            return Err(DecodeError::OutOfRange {
                offset: kind_at,
                field: "head record kind",
            })
        }
    };
    let size = r.le_u64()?;
    let root = r.fixed::<32>()?;
    let recorded_ms = r.le_u64()?;
    let lost_from = r.le_u64()?;
    let key = r.fixed::<32>()?;
    let note_len = r.le_u32()? as usize;
    let note_at = r.offset();
    let note = std::str::from_utf8(r.take(note_len)?)
        .map_err(|_| DecodeError::Unexpected {
            offset: note_at,
            expected: "a UTF-8 note",
        })?
        .to_owned();
    r.finish()?;
    if kind == HeadKind::Loss && lost_from <= size {
        return Err(DecodeError::Inconsistent {
            offset: base,
            problem: "a loss marker must lose events",
        });
    }
    Ok(HeadRecord {
        kind,
        size,
        root,
        recorded_ms,
        lost_from,
        key,
        note,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head(size: u64) -> HeadRecord {
        HeadRecord {
            kind: HeadKind::Head,
            size,
            root: [size as u8; 32],
            recorded_ms: 1_700_000_000_000 + size,
            lost_from: 0,
            key: [9; 32],
            note: format!("note {size}\n"),
        }
    }

    fn file(records: &[HeadRecord]) -> Vec<u8> {
        let mut b = encode_heads_header().to_vec();
        for r in records {
            b.extend(encode_head_record(r).unwrap());
        }
        b
    }

    #[test]
    fn records_roundtrip_with_their_offsets() {
        let loss = HeadRecord {
            kind: HeadKind::Loss,
            lost_from: 9,
            note: String::new(),
            ..head(4)
        };
        let recs = [head(3), head(9), loss.clone()];
        let b = file(&recs);
        let scan = decode_heads(&b).unwrap();
        assert_eq!(scan.torn_bytes, 0);
        assert_eq!(scan.valid_len, b.len() as u64);
        let got: Vec<_> = scan.records.iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(got, recs);
        assert_eq!(scan.records[0].0, HEADS_HEADER_LEN as u64);
        let first_len = encode_head_record(&head(3)).unwrap().len() as u64;
        assert_eq!(scan.records[1].0, HEADS_HEADER_LEN as u64 + first_len);
        assert_eq!(&b[..8], b"BPKHEADS");
        assert_eq!(&b[8..10], &1u16.to_le_bytes());
    }

    #[test]
    fn a_cut_or_unchecked_last_record_is_torn_and_damage_before_it_is_an_error() {
        let b = file(&[head(1), head(2)]);
        let second = HEADS_HEADER_LEN + encode_head_record(&head(1)).unwrap().len();
        for cut in [second + 3, second + 20, b.len() - 1] {
            let scan = decode_heads(&b[..cut]).unwrap();
            assert_eq!(scan.records.len(), 1, "cut at {cut}");
            assert_eq!(scan.valid_len, second as u64);
            assert_eq!(scan.torn_bytes, (cut - second) as u64);
        }
        // The last record's note damaged: an append that did not complete.
        let mut last = b.clone();
        *last.last_mut().unwrap() ^= 1;
        let scan = decode_heads(&last).unwrap();
        assert_eq!((scan.records.len(), scan.valid_len), (1, second as u64));
        // Garbage of at most one record's length after the last whole one: torn.
        let mut zeros = b.clone();
        zeros[second..second + 4].copy_from_slice(&[0; 4]);
        let scan = decode_heads(&zeros).unwrap();
        assert_eq!(
            (scan.records.len(), scan.torn_bytes),
            (1, (b.len() - second) as u64)
        );
        // The first record damaged with more than a record's bytes after it: fail closed.
        let big = HeadRecord {
            note: "n".repeat(MAX_HEAD_BODY - 200),
            ..head(3)
        };
        let long = file(&[head(1), big.clone(), big]);
        let mut first = long.clone();
        first[HEADS_HEADER_LEN + 9] ^= 1;
        assert!(matches!(
            decode_heads(&first),
            Err(DecodeError::CrcMismatch { offset, .. }) if offset == HEADS_HEADER_LEN as u64 + 8
        ));
        let mut len = long.clone();
        len[HEADS_HEADER_LEN..HEADS_HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_heads(&len),
            Err(DecodeError::OutOfRange { .. })
        ));
    }

    #[test]
    fn header_is_checked() {
        assert_eq!(decode_heads(&[]).unwrap(), HeadsScan::default());
        assert_eq!(decode_heads(b"BPKH").unwrap().torn_bytes, 4);
        let mut b = file(&[]);
        b[0] = b'X';
        assert!(matches!(
            decode_heads(&b),
            Err(DecodeError::BadMagic { .. })
        ));
        let mut b = file(&[]);
        b[8] = 2;
        assert!(matches!(
            decode_heads(&b),
            Err(DecodeError::UnsupportedVersion { found: 2, .. })
        ));
    }

    #[test]
    fn bad_kind_empty_loss_and_long_notes_are_refused() {
        let mut r = encode_head_record(&head(1)).unwrap();
        r[8] = 7;
        let crc = crc32fast::hash(&r[8..]);
        r[4..8].copy_from_slice(&crc.to_le_bytes());
        let mut b = file(&[]);
        b.extend(&r);
        b.extend(
            encode_head_record(&HeadRecord {
                note: "n".repeat(MAX_HEAD_BODY - 100),
                ..head(2)
            })
            .unwrap(),
        );
        assert!(matches!(
            decode_heads(&b),
            Err(DecodeError::OutOfRange {
                field: "head record kind",
                ..
            })
        ));
        let bad_loss = HeadRecord {
            kind: HeadKind::Loss,
            lost_from: 1,
            ..head(1)
        };
        assert!(matches!(
            decode_heads(&file(&[bad_loss])),
            Err(DecodeError::Inconsistent { .. })
        ));
        let long = HeadRecord {
            note: "x".repeat(MAX_HEAD_BODY),
            ..head(1)
        };
        assert!(encode_head_record(&long).is_none());
    }
}
