//! The footer of a sealed segment and the trailer that ends the file.
//!
//! ```text
//! [header][frames ...][footer: msgpack array][footer_len u32][footer_crc u32][FOOTER_MAGIC]
//! ```
//!
//! A sealed segment ends with a trailer; the footer lists every frame so the
//! index can be rebuilt without reading them. Ending in a trailer's bytes is
//! not proof of a seal (a frame can end in them too): recovery checks the
//! last segment's footer against its frames (`recovery/load.rs`).

use super::error::DecodeError;
use super::frame::{decode_frame, FRAME_BODY_START, FRAME_PREFIX_LEN, MIN_FRAME_BODY_LEN};
use super::reader::Reader;
use super::segment_header::SEGMENT_HEADER_LEN;
use super::{check_crc, len_u32, to_u64, write_opt_id};
use crate::id::{CorrelationId, EventId, HlcPoint};
use crate::kind::EventKind;

/// Last eight bytes of a sealed segment.
pub const FOOTER_MAGIC: [u8; 8] = *b"BATPAKFT";
/// Size of the trailer `[footer_len u32 LE][footer_crc u32 LE][FOOTER_MAGIC]`.
pub const TRAILER_LEN: usize = 16;
/// Number of fields in the footer array.
pub(super) const FOOTER_FIELDS: u32 = 8;
/// Number of fields in each footer entry.
const FOOTER_ENTRY_FIELDS: u32 = 10;
/// Version of the footer layout.
const FOOTER_VERSION: u16 = 1;
/// Fields of a footer of version 2 (a segment a retention compaction wrote):
/// version 1's, with `end_global_sequence` after the HLC.
const RETIRED_FOOTER_FIELDS: u32 = 9;
/// Fields of a version-2 footer entry: version 1's, then its global sequence.
const RETIRED_ENTRY_FIELDS: u32 = 11;
/// Version of the footer of a segment whose range has retired events.
const RETIRED_FOOTER_VERSION: u16 = 2;

/// One event as the footer of a sealed segment lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FooterEntry {
    /// Bytes the frame spans (prefix and body).
    pub(crate) frame_len: u32,
    pub(crate) event_id: EventId,
    pub(crate) entity_sequence: u64,
    pub(crate) kind: EventKind,
    pub(crate) entity: u32,
    pub(crate) scope: u32,
    pub(crate) wall_ms: u64,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation_id: Option<EventId>,
    pub(crate) payload_version: u16,
    /// Its global sequence, stored only in a version-2 footer (where
    /// sequences may skip retired events); else `base + position`.
    pub(crate) global_sequence: Option<u64>,
}

/// What a version-2 footer adds: the segment's range has events a
/// retention compaction removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Retired {
    /// One past the last global sequence of the range (retired events
    /// included): the next segment's base.
    pub(crate) end_global_sequence: u64,
    /// Per entity of the footer's table, in order: one past its last entity
    /// sequence in the range (retired events included).
    pub(crate) next_entity_sequences: Vec<u64>,
}

/// The footer of a sealed segment: enough to rebuild the index without reading frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Footer {
    /// Global sequence of the segment's first event.
    pub(crate) base_global_sequence: u64,
    /// Offset where the footer starts (the end of the frames).
    pub(crate) frames_end: u64,
    /// HLC of the segment's last event.
    pub(crate) last_hlc: HlcPoint,
    /// Entity names and the `event_hash` of each one's last event in this segment.
    pub(crate) entities: Vec<(String, [u8; 32])>,
    /// Scope names.
    pub(crate) scopes: Vec<String>,
    /// Events in commit order; the first frame starts at `SEGMENT_HEADER_LEN`.
    pub(crate) entries: Vec<FooterEntry>,
    /// Present (footer version 2) when the range has retired events. The
    /// entity table's tips are then those of each entity's last event in
    /// the range, retired or not, and entities may have no entry.
    pub(crate) retired: Option<Retired>,
}

/// Encodes a footer followed by its trailer.
pub(crate) fn encode_footer(f: &Footer) -> Vec<u8> {
    let mut w = Vec::with_capacity(64 + f.entries.len() * 48);
    let retired = f.retired.as_ref();
    let (fields, version, entry_fields) = match retired {
        None => (FOOTER_FIELDS, FOOTER_VERSION, FOOTER_ENTRY_FIELDS),
        Some(_) => (
            RETIRED_FOOTER_FIELDS,
            RETIRED_FOOTER_VERSION,
            RETIRED_ENTRY_FIELDS,
        ),
    };
    let _ = rmp::encode::write_array_len(&mut w, fields);
    let _ = rmp::encode::write_uint(&mut w, u64::from(version));
    let _ = rmp::encode::write_uint(&mut w, f.base_global_sequence);
    let _ = rmp::encode::write_uint(&mut w, f.frames_end);
    let _ = rmp::encode::write_uint(&mut w, f.last_hlc.physical_ms);
    let _ = rmp::encode::write_uint(&mut w, u64::from(f.last_hlc.logical));
    if let Some(r) = retired {
        let _ = rmp::encode::write_uint(&mut w, r.end_global_sequence);
    }
    let _ = rmp::encode::write_array_len(&mut w, len_u32(f.entities.len()));
    for (i, (name, tip)) in f.entities.iter().enumerate() {
        let next = retired.map(|r| r.next_entity_sequences.get(i).copied().unwrap_or(0));
        let _ = rmp::encode::write_array_len(&mut w, if next.is_some() { 3 } else { 2 });
        let _ = rmp::encode::write_str(&mut w, name);
        let _ = rmp::encode::write_bin(&mut w, tip);
        if let Some(next) = next {
            let _ = rmp::encode::write_uint(&mut w, next);
        }
    }
    let _ = rmp::encode::write_array_len(&mut w, len_u32(f.scopes.len()));
    for name in &f.scopes {
        let _ = rmp::encode::write_str(&mut w, name);
    }
    let _ = rmp::encode::write_array_len(&mut w, len_u32(f.entries.len()));
    for e in &f.entries {
        let _ = rmp::encode::write_array_len(&mut w, entry_fields);
        let _ = rmp::encode::write_uint(&mut w, u64::from(e.frame_len));
        let _ = rmp::encode::write_bin(&mut w, &e.event_id.to_bytes());
        let _ = rmp::encode::write_uint(&mut w, e.entity_sequence);
        let _ = rmp::encode::write_uint(&mut w, u64::from(e.kind.as_u16()));
        let _ = rmp::encode::write_uint(&mut w, u64::from(e.entity));
        let _ = rmp::encode::write_uint(&mut w, u64::from(e.scope));
        let _ = rmp::encode::write_uint(&mut w, e.wall_ms);
        write_opt_id(&mut w, e.correlation_id.map(CorrelationId::as_u128));
        write_opt_id(&mut w, e.causation_id.map(EventId::as_u128));
        let _ = rmp::encode::write_uint(&mut w, u64::from(e.payload_version));
        if retired.is_some() {
            let _ = rmp::encode::write_uint(&mut w, e.global_sequence.unwrap_or(0));
        }
    }
    let trailer = encode_trailer(len_u32(w.len()), crc32fast::hash(&w));
    w.extend_from_slice(&trailer);
    w
}

/// The trailer of a footer of `footer_len` bytes whose CRC-32 is `crc`.
pub(crate) fn encode_trailer(footer_len: u32, crc: u32) -> [u8; TRAILER_LEN] {
    let mut t = [0u8; TRAILER_LEN];
    t[..4].copy_from_slice(&footer_len.to_le_bytes());
    t[4..8].copy_from_slice(&crc.to_le_bytes());
    t[8..].copy_from_slice(&FOOTER_MAGIC);
    t
}

/// True if the bytes a trailer names as a footer (`body` under `crc`, the
/// trailer after them) begin with a whole frame that decodes. A footer the
/// writer encoded would pass only if its bytes happened to hold the start of
/// a frame body and that body's CRC-32 in front of it.
pub(crate) fn footer_is_a_frame(body: &[u8], crc: u32) -> bool {
    // Every frame the writer encodes has this right after its prefix.
    let body_start = FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + FRAME_BODY_START.len();
    if body.get(body_start) != Some(&FRAME_BODY_START[..]) {
        return false;
    }
    let Some(declared) = body.first_chunk::<4>().map(|b| u32::from_le_bytes(*b)) else {
        return false;
    };
    let whole = usize::try_from(declared)
        .ok()
        .and_then(|n| n.checked_add(FRAME_PREFIX_LEN))
        .filter(|&n| n <= body.len().saturating_add(TRAILER_LEN));
    let Some(whole) = whole else {
        return false;
    };
    let mut bytes = body
        .get(..whole.min(body.len()))
        .unwrap_or_default()
        .to_vec();
    let trailer = encode_trailer(len_u32(body.len()), crc);
    bytes.extend_from_slice(trailer.get(..whole - bytes.len()).unwrap_or_default());
    decode_frame(&bytes).is_ok()
}

/// Length of a sealed segment whose frames end at `frames_end` and whose
/// encoded footer and trailer take `encoded_len` bytes: the trailer ends the
/// file, so nothing may follow it. `None` on overflow.
pub(crate) fn sealed_len(frames_end: u64, encoded_len: usize) -> Option<u64> {
    frames_end.checked_add(u64::try_from(encoded_len).ok()?)
}

/// Where the trailer of a file of `file_len` bytes starts, if the file is
/// long enough to hold a header and a trailer.
pub(crate) fn trailer_offset(file_len: u64) -> Option<u64> {
    let min = to_u64(SEGMENT_HEADER_LEN + TRAILER_LEN);
    if file_len < min {
        return None;
    }
    file_len.checked_sub(to_u64(TRAILER_LEN))
}

/// Reads a trailer (the last [`TRAILER_LEN`] bytes of a file): `(footer_len, footer_crc)`,
/// or `None` if the magic is absent.
pub(crate) fn decode_trailer(b: &[u8]) -> Option<(u64, u32)> {
    let b: &[u8; TRAILER_LEN] = b.try_into().ok()?;
    let (len, rest) = b.split_first_chunk::<4>()?;
    let (crc, magic) = rest.split_first_chunk::<4>()?;
    if *magic != FOOTER_MAGIC {
        return None;
    }
    Some((
        u64::from(u32::from_le_bytes(*len)),
        u32::from_le_bytes(*crc),
    ))
}

/// True if a file of `file_len` bytes whose last [`TRAILER_LEN`] bytes are
/// `trailer` ends with a trailer (looks sealed).
pub(crate) fn ends_with_trailer(file_len: u64, trailer: &[u8]) -> bool {
    trailer_offset(file_len).is_some() && decode_trailer(trailer).is_some()
}

/// Where a sealed segment's footer lies, as its trailer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FooterSpan {
    /// Offset of the footer's first byte (the end of the frames).
    pub(crate) start: u64,
    /// Bytes of the footer, up to the trailer.
    pub(crate) len: usize,
    /// CRC-32 of those bytes, as the trailer stores it.
    pub(crate) crc: u32,
}

/// The footer of a file of `file_len` bytes whose last [`TRAILER_LEN`] bytes
/// are `trailer`: `Ok(None)` if the file does not end with a trailer, an
/// error if the trailer places the footer outside the bytes after the header.
pub(crate) fn locate_footer(
    file_len: u64,
    trailer: &[u8],
) -> Result<Option<FooterSpan>, DecodeError> {
    let Some(trailer_at) = trailer_offset(file_len) else {
        return Ok(None);
    };
    let Some((len, crc)) = decode_trailer(trailer) else {
        return Ok(None);
    };
    let out_of_range = DecodeError::OutOfRange {
        offset: trailer_at,
        field: "footer length",
    };
    let start = trailer_at
        .checked_sub(len)
        .filter(|s| *s >= to_u64(SEGMENT_HEADER_LEN))
        .ok_or(out_of_range.clone())?;
    let len = usize::try_from(len).map_err(|_| out_of_range)?;
    Ok(Some(FooterSpan { start, len, crc }))
}

/// Decodes a footer body whose CRC matched and checks its internal references.
pub(crate) fn decode_footer(body: &[u8], crc: u32) -> Result<Footer, DecodeError> {
    let mut reader = FooterReader::new(body, crc)?;
    let mut entries = Vec::with_capacity(reader.remaining());
    while let Some(e) = reader.next_entry()? {
        entries.push(e);
    }
    Ok(Footer {
        entries,
        ..reader.head
    })
}

/// A footer decoded entry by entry, so a large segment's entries can go
/// straight into the index without a list of them in between.
pub(crate) struct FooterReader<'a> {
    /// Everything but the entries (`head.entries` is empty).
    pub(crate) head: Footer,
    r: Reader<'a>,
    remaining: usize,
    spanned: u64,
    /// The last entry's global sequence (version 2: they must increase).
    last_global_sequence: Option<u64>,
}

/// The fewest bytes a footer entry can take: an array header, nine one-byte
/// fields and a 16-byte event id (18 bytes with its header).
const MIN_ENTRY_LEN: usize = 28;
/// The fewest bytes a footer entity can take: an array header, an empty
/// string and a 32-byte chain tip (34 bytes with its header).
const MIN_ENTITY_LEN: usize = 36;
/// Scopes reserved up front at most; more grow the list as they decode.
const SCOPE_RESERVE: usize = 4096;

impl<'a> FooterReader<'a> {
    /// Checks the CRC and decodes everything in front of the entries.
    pub(crate) fn new(body: &'a [u8], crc: u32) -> Result<Self, DecodeError> {
        check_crc(0, body, crc)?;
        let mut r = Reader::new(body);
        let fields = r.array_len()?;
        if fields != FOOTER_FIELDS && fields != RETIRED_FOOTER_FIELDS {
            return Err(DecodeError::Unexpected {
                offset: 0,
                expected: "a footer of 8 fields (version 1) or 9 (version 2)",
            });
        }
        let version_at = r.offset();
        let version = r.uint_as::<u16>("footer version")?;
        let expected = if fields == FOOTER_FIELDS {
            FOOTER_VERSION
        } else {
            RETIRED_FOOTER_VERSION
        };
        if version != expected {
            return Err(if version > RETIRED_FOOTER_VERSION {
                DecodeError::UnsupportedVersion {
                    found: version,
                    supported: RETIRED_FOOTER_VERSION,
                }
            } else {
                DecodeError::Unexpected {
                    offset: version_at,
                    expected: "footer version 1 with 8 fields, or 2 with 9",
                }
            });
        }
        let base_global_sequence = r.uint()?;
        let frames_end = r.uint()?;
        let last_hlc = HlcPoint::new(r.uint()?, r.uint_as::<u32>("hlc logical")?);
        let mut retired = (fields == RETIRED_FOOTER_FIELDS)
            .then(|| {
                let at = r.offset();
                let end = r.uint()?;
                if end < base_global_sequence {
                    return Err(DecodeError::OutOfRange {
                        offset: at,
                        field: "footer end global sequence",
                    });
                }
                Ok(Retired {
                    end_global_sequence: end,
                    next_entity_sequences: Vec::new(),
                })
            })
            .transpose()?;
        let pair = if retired.is_some() { 3 } else { 2 };
        let n_entities = r.bounded_count("footer entity count", MIN_ENTITY_LEN)?;
        let mut entities = Vec::with_capacity(n_entities);
        for _ in 0..n_entities {
            let at = r.offset();
            if r.array_len()? != pair {
                return Err(DecodeError::Unexpected {
                    offset: at,
                    expected: if pair == 2 {
                        "a footer entity [name, tip] pair"
                    } else {
                        "a footer entity [name, tip, next entity sequence]"
                    },
                });
            }
            entities.push((r.str()?.to_owned(), r.bin_exact::<32>()?));
            if let Some(ret) = retired.as_mut() {
                ret.next_entity_sequences.push(r.uint()?);
            }
        }
        let n_scopes = r.bounded_count("footer scope count", 1)?;
        // A scope may take one byte on disk and 24 in memory: grow as they decode.
        let mut scopes = Vec::with_capacity(n_scopes.min(SCOPE_RESERVE));
        for _ in 0..n_scopes {
            scopes.push(r.str()?.to_owned());
        }
        // The count sizes the entry and index allocations: it must fit the body.
        let remaining = r.bounded_count("footer entry count", MIN_ENTRY_LEN)?;
        Ok(Self {
            head: Footer {
                base_global_sequence,
                frames_end,
                last_hlc,
                entities,
                scopes,
                entries: Vec::new(),
                retired,
            },
            r,
            remaining,
            spanned: 0,
            last_global_sequence: None,
        })
    }

    /// Entries not yet decoded.
    pub(crate) fn remaining(&self) -> usize {
        self.remaining
    }

    /// The next entry; `None` after the last one, once the footer's end and
    /// the span of its entries have been checked.
    pub(crate) fn next_entry(&mut self) -> Result<Option<FooterEntry>, DecodeError> {
        let r = &mut self.r;
        if self.remaining == 0 {
            r.finish()?;
            let spans = to_u64(SEGMENT_HEADER_LEN)
                .checked_add(self.spanned)
                .is_some_and(|end| end == self.head.frames_end);
            if !spans {
                return Err(DecodeError::Inconsistent {
                    offset: r.offset(),
                    problem: "footer entries do not span the frame region",
                });
            }
            return Ok(None);
        }
        self.remaining -= 1;
        let at = r.offset();
        let retired = self.head.retired.as_ref();
        let fields = if retired.is_some() {
            RETIRED_ENTRY_FIELDS
        } else {
            FOOTER_ENTRY_FIELDS
        };
        if r.array_len()? != fields {
            return Err(DecodeError::Unexpected {
                offset: at,
                expected: if retired.is_some() {
                    "a footer entry of 11 fields"
                } else {
                    "a footer entry of 10 fields"
                },
            });
        }
        let len_at = r.offset();
        let frame_len = r.uint_as::<u32>("frame length")?;
        let event_id = EventId::from_bytes(r.bin_exact::<16>()?);
        let entity_sequence = r.uint()?;
        let kind = EventKind::from_u16(r.uint_as::<u16>("kind")?);
        let entity_at = r.offset();
        let entity = r.uint_as::<u32>("entity index")?;
        let scope_at = r.offset();
        let scope = r.uint_as::<u32>("scope index")?;
        let e = FooterEntry {
            frame_len,
            event_id,
            entity_sequence,
            kind,
            entity,
            scope,
            wall_ms: r.uint()?,
            correlation_id: r.opt_id()?.map(CorrelationId::from_u128),
            causation_id: r.opt_id()?.map(EventId::from_u128),
            payload_version: r.uint_as::<u16>("payload version")?,
            global_sequence: None,
        };
        let mut e = e;
        if let Some(ret) = retired {
            let gs_at = r.offset();
            let gs = r.uint()?;
            let floor = self
                .last_global_sequence
                .map_or(Some(self.head.base_global_sequence), |p| p.checked_add(1));
            if floor.is_none_or(|f| gs < f) || gs >= ret.end_global_sequence {
                return Err(DecodeError::OutOfRange {
                    offset: gs_at,
                    field: "footer entry global sequence",
                });
            }
            self.last_global_sequence = Some(gs);
            e.global_sequence = Some(gs);
        }
        let known = |i: u32, n: usize| usize::try_from(i).is_ok_and(|i| i < n);
        if !known(e.entity, self.head.entities.len()) {
            return Err(DecodeError::OutOfRange {
                offset: entity_at,
                field: "footer entry entity index",
            });
        }
        if !known(e.scope, self.head.scopes.len()) {
            return Err(DecodeError::OutOfRange {
                offset: scope_at,
                field: "footer entry scope index",
            });
        }
        let too_small = DecodeError::OutOfRange {
            offset: len_at,
            field: "footer entry frame length",
        };
        if usize::try_from(e.frame_len).map_or(true, |n| n < FRAME_PREFIX_LEN + MIN_FRAME_BODY_LEN)
        {
            return Err(too_small);
        }
        self.spanned = self
            .spanned
            .checked_add(u64::from(e.frame_len))
            .ok_or(too_small)?;
        Ok(Some(e))
    }
}

#[cfg(test)]
pub(crate) mod tests {

    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Regression (found by the `footer` fuzz target's reading): a footer
    /// under a valid CRC declaring four billion entries sized an allocation
    /// by that count (2.3 GB for a 20 MiB footer) before the first entry
    /// failed to decode. A count the body cannot hold is refused first.
    #[test]
    fn a_count_the_footer_body_cannot_hold_is_refused_before_it_sizes_anything() {
        let mut body = vec![
            0x98, 0x01, 0x00, 0x00, 0x00, 0x00, 0x90, 0x90, 0xdd, 0xff, 0xff, 0xff, 0xff,
        ];
        body.resize(1 << 20, 0);
        let crc = crc32fast::hash(&body);
        let err = decode_footer(&body, crc).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated { offset: 8, .. }),
            "{err:?}"
        );
        let mut entities = vec![
            0x98, 0x01, 0x00, 0x00, 0x00, 0x00, 0xdd, 0x00, 0x01, 0x00, 0x00,
        ];
        entities.resize(1 << 16, 0);
        let crc = crc32fast::hash(&entities);
        let err = decode_footer(&entities, crc).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated { offset: 6, .. }),
            "{err:?}"
        );
    }

    pub(crate) fn footer() -> Footer {
        let entries = vec![FooterEntry {
            frame_len: 120,
            event_id: EventId::from_u128(5),
            entity_sequence: 0,
            kind: EventKind::custom(0xE, 1),
            entity: 0,
            scope: 0,
            wall_ms: 10,
            correlation_id: None,
            causation_id: Some(EventId::from_u128(4)),
            payload_version: 1,
            global_sequence: None,
        }];
        Footer {
            base_global_sequence: 100,
            frames_end: SEGMENT_HEADER_LEN as u64 + 120,
            last_hlc: HlcPoint::new(10, 0),
            entities: vec![("e".into(), [3; 32])],
            scopes: vec!["s".into()],
            entries,
            retired: None,
        }
    }

    /// The footer of a range with retired events: two entries at 103 and
    /// 107 of a range ending at 110, and an entity with no entry left.
    pub(crate) fn retired_footer() -> Footer {
        let mut f = footer();
        let mut second = f.entries[0].clone();
        second.event_id = EventId::from_u128(9);
        second.entity_sequence = 4;
        f.entries[0].global_sequence = Some(103);
        second.global_sequence = Some(107);
        f.entries.push(second);
        f.frames_end += 120;
        f.entities.push(("gone".into(), [7; 32]));
        f.retired = Some(Retired {
            end_global_sequence: 110,
            next_entity_sequences: vec![5, 12],
        });
        f
    }

    #[test]
    fn a_version_2_footer_roundtrips_and_its_sequences_are_checked() {
        let f = retired_footer();
        let bytes = encode_footer(&f);
        let (body, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
        let (len, crc) = decode_trailer(trailer).unwrap();
        assert_eq!(len as usize, body.len());
        assert_eq!(decode_footer(body, crc).unwrap(), f);
        // A version-1 footer is byte for byte what it was.
        let v1 = encode_footer(&footer());
        assert_eq!(v1[..2], [0x98, 0x01], "8 fields, version 1");
        assert_eq!(bytes[..2], [0x99, 0x02], "9 fields, version 2");
        let bad = |edit: &dyn Fn(&mut Footer)| {
            let mut g = retired_footer();
            edit(&mut g);
            let bytes = encode_footer(&g);
            let (body, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
            let (_, crc) = decode_trailer(trailer).unwrap();
            decode_footer(body, crc)
        };
        // Sequences must rise, start at the base and stay below the end.
        for e in [
            &|g: &mut Footer| g.entries[1].global_sequence = Some(103u64),
            &|g: &mut Footer| g.entries[0].global_sequence = Some(99),
            &|g: &mut Footer| g.entries[1].global_sequence = Some(110),
            &|g: &mut Footer| {
                if let Some(r) = g.retired.as_mut() {
                    r.end_global_sequence = 99;
                }
            },
        ] as [&dyn Fn(&mut Footer); 4]
        {
            assert!(
                matches!(bad(e), Err(DecodeError::OutOfRange { .. })),
                "{:?}",
                bad(e)
            );
        }
    }

    /// A footer whose single entry is changed by `edit`, spanning its frame region.
    fn footer_with(edit: impl FnOnce(&mut FooterEntry)) -> Result<Footer, DecodeError> {
        let mut f = footer();
        f.scopes.push("t".into());
        edit(&mut f.entries[0]);
        f.frames_end = SEGMENT_HEADER_LEN as u64 + u64::from(f.entries[0].frame_len);
        let bytes = encode_footer(&f);
        let (len, crc) = decode_trailer(&bytes[bytes.len() - TRAILER_LEN..]).unwrap();
        decode_footer(&bytes[..len as usize], crc)
    }

    #[test]
    fn footer_entries_must_name_known_names_and_span_whole_frames() {
        assert!(footer_with(|_| {}).is_ok());
        // Either index out of range is refused on its own.
        assert!(footer_with(|e| e.entity = 1).is_err());
        assert!(footer_with(|e| e.scope = 2).is_err());
        assert!(footer_with(|e| e.scope = 1).is_ok());
        // The smallest frame is accepted, one byte less is not.
        let min = (FRAME_PREFIX_LEN + MIN_FRAME_BODY_LEN) as u32;
        assert!(footer_with(|e| e.frame_len = min).is_ok());
        assert!(footer_with(|e| e.frame_len = min - 1).is_err());
    }

    #[test]
    fn footer_roundtrip_and_trailer() {
        let f = footer();
        let bytes = encode_footer(&f);
        let (len, crc) = decode_trailer(&bytes[bytes.len() - TRAILER_LEN..]).unwrap();
        assert_eq!(len as usize, bytes.len() - TRAILER_LEN);
        let back = decode_footer(&bytes[..len as usize], crc).unwrap();
        assert_eq!(back, f);
        let mut bad = bytes.clone();
        bad[3] ^= 1;
        assert!(matches!(
            decode_footer(&bad[..len as usize], crc),
            Err(DecodeError::CrcMismatch { offset: 0, .. })
        ));
    }

    /// A frame whose last attestation string ends in `tail`, `pad` bytes
    /// of reason in front of it; `None` if that is not UTF-8.
    fn frame_ending_in(pad: usize, tail: &[u8]) -> Option<Vec<u8>> {
        let mut reason = "r".repeat(pad).into_bytes();
        reason.extend_from_slice(tail);
        let mut f = crate::format::frame::tests::sample("e", "s", b"\x01");
        f.attestation = Some(crate::attestation::GateAttestation::Bypassed {
            ticket: "t".into(),
            reason: String::from_utf8(reason).ok()?,
        });
        let mut out = Vec::new();
        crate::format::encode_frame(&mut out, &f);
        Some(out)
    }

    #[test]
    fn footer_bytes_that_begin_with_a_whole_frame_are_told_apart() {
        let enc = encode_footer(&footer());
        let (len, crc) = decode_trailer(&enc[enc.len() - TRAILER_LEN..]).unwrap();
        assert_eq!(
            encode_trailer(len as u32, crc)[..],
            enc[enc.len() - TRAILER_LEN..]
        );
        assert!(!footer_is_a_frame(&enc[..len as usize], crc));

        // A whole frame where a footer was expected, trailer bytes after it.
        let frame = frame_ending_in(1, b"").unwrap();
        assert!(footer_is_a_frame(&frame, 0));
        let mut bad = frame.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(!footer_is_a_frame(&bad, 0));
        assert!(!footer_is_a_frame(&frame[..20], 0));
        assert!(!footer_is_a_frame(&[], 0));

        // A frame that ends in what reads as its own trailer: the body the
        // trailer names is the frame less 16 bytes, and the trailer is
        // rebuilt from that length and the CRC it holds.
        let crc = u32::from_le_bytes(*b"crc!");
        let frame = (0..512)
            .find_map(|pad| {
                let probe = frame_ending_in(pad, &[b'x'; TRAILER_LEN])?;
                let body_len = (probe.len() - TRAILER_LEN) as u32;
                frame_ending_in(pad, &encode_trailer(body_len, crc))
                    .filter(|f| f.len() == probe.len())
            })
            .unwrap();
        let (body, trailer) = frame.split_at(frame.len() - TRAILER_LEN);
        assert_eq!(trailer, encode_trailer(body.len() as u32, crc));
        assert!(footer_is_a_frame(body, crc));
        assert!(!footer_is_a_frame(body, crc ^ 1));
    }

    #[test]
    fn footer_with_inconsistent_span_is_refused() {
        let mut f = footer();
        f.frames_end += 1;
        let bytes = encode_footer(&f);
        let (len, crc) = decode_trailer(&bytes[bytes.len() - TRAILER_LEN..]).unwrap();
        assert!(matches!(
            decode_footer(&bytes[..len as usize], crc),
            Err(DecodeError::Inconsistent { .. })
        ));
    }

    #[test]
    fn the_trailer_locates_the_footer_inside_the_file() {
        let mut file = vec![0u8; SEGMENT_HEADER_LEN + 120];
        let enc = encode_footer(&footer());
        file.extend_from_slice(&enc);
        let len = file.len() as u64;
        let trailer = &file[file.len() - TRAILER_LEN..];
        assert!(ends_with_trailer(len, trailer));
        assert_eq!(
            sealed_len(SEGMENT_HEADER_LEN as u64 + 120, enc.len()),
            Some(len)
        );
        assert_eq!(sealed_len(u64::MAX, 1), None);
        let span = locate_footer(len, trailer).unwrap().unwrap();
        assert_eq!(span.start, SEGMENT_HEADER_LEN as u64 + 120);
        assert_eq!(span.len, enc.len() - TRAILER_LEN);
        // A footer length reaching into the header is out of range.
        let mut lying = trailer.to_vec();
        lying[..4].copy_from_slice(&(len as u32).to_le_bytes());
        assert!(matches!(
            locate_footer(len, &lying),
            Err(DecodeError::OutOfRange { .. })
        ));
        // A footer that starts right after the header is in range.
        let mut edge = trailer.to_vec();
        let longest = (len - (SEGMENT_HEADER_LEN + TRAILER_LEN) as u64) as u32;
        edge[..4].copy_from_slice(&longest.to_le_bytes());
        assert_eq!(
            locate_footer(len, &edge).unwrap().map(|s| s.start),
            Some(SEGMENT_HEADER_LEN as u64)
        );
        // No magic, or too short a file: not sealed.
        let mut open = trailer.to_vec();
        open[15] ^= 1;
        assert_eq!(locate_footer(len, &open), Ok(None));
        assert!(!ends_with_trailer(len, &open));
        let short = (SEGMENT_HEADER_LEN + TRAILER_LEN - 1) as u64;
        assert!(!ends_with_trailer(short, trailer));
        assert_eq!(trailer_offset(short), None);
        assert_eq!(trailer_offset(short + 1), Some(SEGMENT_HEADER_LEN as u64));
        assert_eq!(decode_trailer(&trailer[1..]), None);
    }
}
