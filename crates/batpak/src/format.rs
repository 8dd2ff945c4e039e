//! Every byte layout the store writes: segment header, frame, footer.
//!
//! Decision code (writer, recovery) never touches offsets directly; it calls
//! these encoders and decoders. `docs/FORMAT.md` describes the same layouts.

use crate::attestation::{GateAttestation, MAX_ATTESTED_GATES};
use crate::coordinate::Coordinate;
use crate::event::EventHeader;
use crate::id::{CorrelationId, EventId, HlcPoint, IdempotencyKey};
use crate::kind::EventKind;

/// Version of the segment format this build writes and reads.
pub const SEGMENT_FORMAT_VERSION: u16 = 1;
/// First eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"BATPAKSG";
/// Size of the fixed segment header.
pub const SEGMENT_HEADER_LEN: usize = 32;
const HDR_VERSION: usize = 8;
const HDR_RESERVED: usize = HDR_VERSION + 2;
const HDR_SEGMENT_ID: usize = HDR_RESERVED + 2;
const HDR_CREATED: usize = HDR_SEGMENT_ID + 8;
const HDR_CRC: usize = HDR_CREATED + 8;

/// Bytes before each frame body: `[len u32 LE][crc32 u32 LE]`.
pub const FRAME_PREFIX_LEN: usize = 8;
/// Smallest body a valid frame can have (an event with one-byte names and an empty payload).
pub(crate) const MIN_FRAME_BODY_LEN: usize = 90;
/// Largest body a frame may declare.
pub(crate) const MAX_FRAME_BODY_LEN: usize = 1 << 30;
/// Number of fields in a version-1 frame body array. New fields are appended,
/// so a field's position never changes.
const FRAME_FIELDS: u32 = 18;
/// First bytes of every frame body: a msgpack array16 marker and the field count.
pub(crate) const FRAME_BODY_START: [u8; 3] = [0xdc, 0x00, FRAME_FIELDS as u8];

/// Last eight bytes of a sealed segment.
pub const FOOTER_MAGIC: [u8; 8] = *b"BATPAKFT";
/// Size of the trailer `[footer_len u32 LE][footer_crc u32 LE][FOOTER_MAGIC]`.
pub const TRAILER_LEN: usize = 16;
const FOOTER_FIELDS: u32 = 8;
const FOOTER_ENTRY_FIELDS: u32 = 10;

/// File name of segment `id`.
pub(crate) fn segment_file_name(id: u64) -> String {
    format!("{id:020}.seg")
}

/// Parses a segment file name back to its id.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A decoded segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    pub(crate) segment_id: u64,
    pub(crate) created_ms: u64,
}

/// Why bytes did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// Fewer bytes than the structure needs.
    Incomplete,
    /// The structure is a different version.
    Version(u16),
    /// Checksum mismatch.
    Crc,
    /// Anything else, with a reason.
    Malformed(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Incomplete => f.write_str("truncated"),
            Self::Version(v) => write!(f, "unsupported version {v}"),
            Self::Crc => f.write_str("CRC mismatch"),
            Self::Malformed(r) => f.write_str(r),
        }
    }
}

fn malformed(reason: impl Into<String>) -> DecodeError {
    DecodeError::Malformed(reason.into())
}

/// Encodes a segment header.
pub(crate) fn encode_segment_header(h: SegmentHeader) -> [u8; SEGMENT_HEADER_LEN] {
    let mut b = [0u8; SEGMENT_HEADER_LEN];
    b[..HDR_VERSION].copy_from_slice(&SEGMENT_MAGIC);
    b[HDR_VERSION..HDR_RESERVED].copy_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    b[HDR_SEGMENT_ID..HDR_CREATED].copy_from_slice(&h.segment_id.to_le_bytes());
    b[HDR_CREATED..HDR_CRC].copy_from_slice(&h.created_ms.to_le_bytes());
    let crc = crc32fast::hash(&b[..HDR_CRC]);
    b[HDR_CRC..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes and checks a segment header.
pub(crate) fn decode_segment_header(b: &[u8]) -> Result<SegmentHeader, DecodeError> {
    if b.len() < SEGMENT_HEADER_LEN {
        return Err(DecodeError::Incomplete);
    }
    if b[..HDR_VERSION] != SEGMENT_MAGIC {
        return Err(malformed("bad segment magic"));
    }
    let crc = u32::from_le_bytes(arr(&b[HDR_CRC..SEGMENT_HEADER_LEN]));
    if crc != crc32fast::hash(&b[..HDR_CRC]) {
        return Err(DecodeError::Crc);
    }
    let version = u16::from_le_bytes(arr(&b[HDR_VERSION..HDR_RESERVED]));
    if version != SEGMENT_FORMAT_VERSION {
        return Err(DecodeError::Version(version));
    }
    Ok(SegmentHeader {
        segment_id: u64::from_le_bytes(arr(&b[HDR_SEGMENT_ID..HDR_CREATED])),
        created_ms: u64::from_le_bytes(arr(&b[HDR_CREATED..HDR_CRC])),
    })
}

/// Copies a slice of known length into an array; callers slice exactly `N` bytes.
fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&s[..N]);
    a
}

/// The fields of one frame body, borrowed from a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FrameFields<'a> {
    pub(crate) event_id: EventId,
    pub(crate) global_sequence: u64,
    pub(crate) entity_sequence: u64,
    pub(crate) kind: EventKind,
    pub(crate) entity: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) wall_ms: u64,
    pub(crate) hlc: HlcPoint,
    pub(crate) correlation_id: Option<CorrelationId>,
    pub(crate) causation_id: Option<EventId>,
    pub(crate) idempotency_key: Option<IdempotencyKey>,
    pub(crate) payload_version: u16,
    /// Frames that follow this one in the same atomic batch (0: last or single).
    pub(crate) batch_remaining: u32,
    pub(crate) prev_hash: [u8; 32],
    pub(crate) event_hash: [u8; 32],
    pub(crate) payload: &'a [u8],
    /// How the event passed its gates (field 17, after the payload).
    pub(crate) attestation: Option<GateAttestation>,
}

impl<'a> FrameFields<'a> {
    /// The frame of an event: its header, coordinate and stored payload.
    pub(crate) fn of_event(
        header: &EventHeader,
        coordinate: &'a Coordinate,
        payload: &'a [u8],
        batch_remaining: u32,
    ) -> Self {
        Self {
            event_id: header.event_id,
            global_sequence: header.global_sequence,
            entity_sequence: header.entity_sequence,
            kind: header.kind,
            entity: coordinate.entity(),
            scope: coordinate.scope(),
            wall_ms: header.wall_ms,
            hlc: header.hlc,
            correlation_id: header.correlation_id,
            causation_id: header.causation_id,
            idempotency_key: header.idempotency_key,
            payload_version: header.payload_version,
            batch_remaining,
            prev_hash: header.prev_hash,
            event_hash: header.event_hash,
            payload,
            attestation: header.attestation.clone(),
        }
    }

    /// The event header this frame holds; `content_hash` is recomputed from
    /// the payload (frames do not store it).
    pub(crate) fn header(&self) -> EventHeader {
        EventHeader {
            event_id: self.event_id,
            global_sequence: self.global_sequence,
            entity_sequence: self.entity_sequence,
            kind: self.kind,
            wall_ms: self.wall_ms,
            hlc: self.hlc,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            idempotency_key: self.idempotency_key,
            payload_version: self.payload_version,
            attestation: self.attestation.clone(),
            prev_hash: self.prev_hash,
            content_hash: crate::chain::content_hash(self.payload),
            event_hash: self.event_hash,
        }
    }
}

/// Appends one whole frame (prefix and body) to `out`.
pub(crate) fn encode_frame(out: &mut Vec<u8>, f: &FrameFields<'_>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_PREFIX_LEN]);
    write_body(out, f);
    let body_len = out.len() - start - FRAME_PREFIX_LEN;
    let crc = crc32fast::hash(&out[start + FRAME_PREFIX_LEN..]);
    // Body length is bounded by MAX_FRAME_BODY_LEN through the payload limit.
    let len = u32::try_from(body_len).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn write_body(out: &mut Vec<u8>, f: &FrameFields<'_>) {
    // Writing into a Vec cannot fail, so the encoder results are ignored.
    let w = out;
    let _ = rmp::encode::write_array_len(w, FRAME_FIELDS);
    let _ = rmp::encode::write_bin(w, &f.event_id.to_bytes());
    let _ = rmp::encode::write_uint(w, f.global_sequence);
    let _ = rmp::encode::write_uint(w, f.entity_sequence);
    let _ = rmp::encode::write_uint(w, u64::from(f.kind.as_u16()));
    let _ = rmp::encode::write_str(w, f.entity);
    let _ = rmp::encode::write_str(w, f.scope);
    let _ = rmp::encode::write_uint(w, f.wall_ms);
    // The HLC's physical part is stored as its (usually zero) lead over wall_ms.
    let _ = rmp::encode::write_uint(w, f.hlc.physical_ms.saturating_sub(f.wall_ms));
    let _ = rmp::encode::write_uint(w, u64::from(f.hlc.logical));
    write_opt_id(w, f.correlation_id.map(CorrelationId::as_u128));
    write_opt_id(w, f.causation_id.map(EventId::as_u128));
    write_opt_id(
        w,
        f.idempotency_key
            .map(|k| u128::from_be_bytes(*k.as_bytes())),
    );
    let _ = rmp::encode::write_uint(w, u64::from(f.payload_version));
    let _ = rmp::encode::write_uint(w, u64::from(f.batch_remaining));
    let _ = rmp::encode::write_bin(w, &f.prev_hash);
    let _ = rmp::encode::write_bin(w, &f.event_hash);
    let _ = rmp::encode::write_bin(w, f.payload);
    write_attestation(w, f.attestation.as_ref());
}

/// `nil`, or `[tag, [str, ...]]`: tag 1 lists the gates passed, tag 2 is `[ticket, reason]`.
fn write_attestation(w: &mut Vec<u8>, attestation: Option<&GateAttestation>) {
    let Some(a) = attestation else {
        let _ = rmp::encode::write_nil(w);
        return;
    };
    let (tag, strings) = a.parts();
    let _ = rmp::encode::write_array_len(w, 2);
    let _ = rmp::encode::write_uint(w, u64::from(tag));
    let _ = rmp::encode::write_array_len(w, len_u32(strings.len()));
    for s in strings {
        let _ = rmp::encode::write_str(w, s);
    }
}

fn write_opt_id(w: &mut Vec<u8>, id: Option<u128>) {
    match id {
        None => {
            let _ = rmp::encode::write_nil(w);
        }
        Some(v) => {
            let _ = rmp::encode::write_bin(w, &v.to_be_bytes());
        }
    }
}

/// Reads the frame prefix at the start of `b`: `(body_len, crc)`.
pub(crate) fn read_frame_prefix(b: &[u8]) -> Result<(usize, u32), DecodeError> {
    if b.len() < FRAME_PREFIX_LEN {
        return Err(DecodeError::Incomplete);
    }
    let len = u32::from_le_bytes(arr(&b[..4])) as usize;
    let crc = u32::from_le_bytes(arr(&b[4..8]));
    if !(MIN_FRAME_BODY_LEN..=MAX_FRAME_BODY_LEN).contains(&len) {
        return Err(malformed(format!("frame length {len} out of range")));
    }
    Ok((len, crc))
}

/// Decodes the frame at the start of `b`; returns it and the bytes it spans.
pub(crate) fn decode_frame(b: &[u8]) -> Result<(FrameFields<'_>, usize), DecodeError> {
    let (len, crc) = read_frame_prefix(b)?;
    let end = FRAME_PREFIX_LEN + len;
    if b.len() < end {
        return Err(DecodeError::Incomplete);
    }
    let body = &b[FRAME_PREFIX_LEN..end];
    if crc32fast::hash(body) != crc {
        return Err(DecodeError::Crc);
    }
    Ok((decode_body(body)?, end))
}

/// Decodes a frame body whose CRC has been checked.
pub(crate) fn decode_body(body: &[u8]) -> Result<FrameFields<'_>, DecodeError> {
    let mut r = Reader { buf: body };
    let n = r.array_len()?;
    if n != FRAME_FIELDS {
        return Err(malformed(format!(
            "frame has {n} fields, expected {FRAME_FIELDS}"
        )));
    }
    let event_id = EventId::from_bytes(r.bin_exact::<16>()?);
    let global_sequence = r.uint()?;
    let entity_sequence = r.uint()?;
    let kind = EventKind::from_u16(r.uint_as::<u16>("kind")?);
    let entity = r.str()?;
    let scope = r.str()?;
    let wall_ms = r.uint()?;
    let lead = r.uint()?;
    let logical = r.uint_as::<u32>("hlc logical")?;
    let correlation_id = r.opt_id()?.map(CorrelationId::from_u128);
    let causation_id = r.opt_id()?.map(EventId::from_u128);
    let idempotency_key = r
        .opt_id()?
        .map(|k| IdempotencyKey::from_bytes(k.to_be_bytes()));
    let payload_version = r.uint_as::<u16>("payload version")?;
    let batch_remaining = r.uint_as::<u32>("batch remaining")?;
    let prev_hash = r.bin_exact::<32>()?;
    let event_hash = r.bin_exact::<32>()?;
    let payload = r.bin()?;
    let attestation = r.attestation()?;
    if !r.buf.is_empty() {
        return Err(malformed("trailing bytes after frame body"));
    }
    let physical_ms = wall_ms
        .checked_add(lead)
        .ok_or_else(|| malformed("hlc overflow"))?;
    Ok(FrameFields {
        event_id,
        global_sequence,
        entity_sequence,
        kind,
        entity,
        scope,
        wall_ms,
        hlc: HlcPoint::new(physical_ms, logical),
        correlation_id,
        causation_id,
        idempotency_key,
        payload_version,
        batch_remaining,
        prev_hash,
        event_hash,
        payload,
        attestation,
    })
}

/// A bounded MessagePack reader for the few types our structures use.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(malformed("msgpack value runs past the end"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let Some((head, tail)) = self.buf.split_first_chunk::<N>() else {
            return Err(malformed("msgpack value runs past the end"));
        };
        self.buf = tail;
        Ok(*head)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.fixed::<1>()?[0])
    }

    /// A big-endian unsigned integer of `n` bytes (1, 2, 4 or 8).
    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(match n {
            1 => u64::from(self.byte()?),
            2 => u64::from(u16::from_be_bytes(self.fixed()?)),
            4 => u64::from(u32::from_be_bytes(self.fixed()?)),
            _ => u64::from_be_bytes(self.fixed()?),
        })
    }

    fn array_len(&mut self) -> Result<u32, DecodeError> {
        match self.byte()? {
            m @ 0x90..=0x9f => Ok(u32::from(m & 0x0f)),
            0xdc => Ok(self.be(2)? as u32),
            0xdd => Ok(self.be(4)? as u32),
            m => Err(malformed(format!("expected array, found marker {m:#04x}"))),
        }
    }

    fn uint(&mut self) -> Result<u64, DecodeError> {
        match self.byte()? {
            m @ 0x00..=0x7f => Ok(u64::from(m)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            m => Err(malformed(format!(
                "expected unsigned integer, found marker {m:#04x}"
            ))),
        }
    }

    fn uint_as<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T, DecodeError> {
        let v = self.uint()?;
        T::try_from(v).map_err(|_| malformed(format!("{what} {v} out of range")))
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            m => return Err(malformed(format!("expected string, found marker {m:#04x}"))),
        };
        std::str::from_utf8(self.take(len)?).map_err(|_| malformed("string is not UTF-8"))
    }

    fn bin(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = match self.byte()? {
            0xc4 => self.be(1)? as usize,
            0xc5 => self.be(2)? as usize,
            0xc6 => self.be(4)? as usize,
            m => return Err(malformed(format!("expected bin, found marker {m:#04x}"))),
        };
        self.take(len)
    }

    fn bin_exact<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        // The common shape (a `bin 8` of exactly N bytes) is read in one step.
        if let Some(([0xc4, len], rest)) = self.buf.split_first_chunk::<2>() {
            if usize::from(*len) == N {
                if let Some((bytes, rest)) = rest.split_first_chunk::<N>() {
                    self.buf = rest;
                    return Ok(*bytes);
                }
            }
        }
        let b = self.bin()?;
        if b.len() != N {
            return Err(malformed(format!("expected {N} bytes, found {}", b.len())));
        }
        Ok(arr(b))
    }

    fn attestation(&mut self) -> Result<Option<GateAttestation>, DecodeError> {
        if self.buf.first() == Some(&0xc0) {
            self.buf = &self.buf[1..];
            return Ok(None);
        }
        if self.array_len()? != 2 {
            return Err(malformed("attestation is not a [tag, strings] pair"));
        }
        let tag = self.uint_as::<u8>("attestation tag")?;
        let n = self.array_len()? as usize;
        if n > MAX_ATTESTED_GATES {
            return Err(malformed("attestation names too many gates"));
        }
        let mut strings = Vec::with_capacity(n);
        for _ in 0..n {
            strings.push(self.str()?.to_owned());
        }
        GateAttestation::from_parts(tag, strings)
            .map(Some)
            .ok_or_else(|| malformed(format!("attestation with tag {tag} is malformed")))
    }

    fn opt_id(&mut self) -> Result<Option<u128>, DecodeError> {
        if self.buf.first() == Some(&0xc0) {
            self.buf = &self.buf[1..];
            return Ok(None);
        }
        Ok(Some(u128::from_be_bytes(self.bin_exact::<16>()?)))
    }
}

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
}

/// Encodes a footer followed by its trailer.
pub(crate) fn encode_footer(f: &Footer) -> Vec<u8> {
    let mut w = Vec::with_capacity(64 + f.entries.len() * 48);
    let _ = rmp::encode::write_array_len(&mut w, FOOTER_FIELDS);
    let _ = rmp::encode::write_uint(&mut w, 1);
    let _ = rmp::encode::write_uint(&mut w, f.base_global_sequence);
    let _ = rmp::encode::write_uint(&mut w, f.frames_end);
    let _ = rmp::encode::write_uint(&mut w, f.last_hlc.physical_ms);
    let _ = rmp::encode::write_uint(&mut w, u64::from(f.last_hlc.logical));
    let _ = rmp::encode::write_array_len(&mut w, len_u32(f.entities.len()));
    for (name, tip) in &f.entities {
        let _ = rmp::encode::write_array_len(&mut w, 2);
        let _ = rmp::encode::write_str(&mut w, name);
        let _ = rmp::encode::write_bin(&mut w, tip);
    }
    let _ = rmp::encode::write_array_len(&mut w, len_u32(f.scopes.len()));
    for name in &f.scopes {
        let _ = rmp::encode::write_str(&mut w, name);
    }
    let _ = rmp::encode::write_array_len(&mut w, len_u32(f.entries.len()));
    for e in &f.entries {
        let _ = rmp::encode::write_array_len(&mut w, FOOTER_ENTRY_FIELDS);
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
    }
    let crc = crc32fast::hash(&w);
    let len = len_u32(w.len());
    w.extend_from_slice(&len.to_le_bytes());
    w.extend_from_slice(&crc.to_le_bytes());
    w.extend_from_slice(&FOOTER_MAGIC);
    w
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Reads a trailer (the last [`TRAILER_LEN`] bytes of a file): `(footer_len, footer_crc)`,
/// or `None` if the magic is absent.
pub(crate) fn decode_trailer(b: &[u8]) -> Option<(u64, u32)> {
    if b.len() != TRAILER_LEN || b[8..] != FOOTER_MAGIC {
        return None;
    }
    Some((
        u64::from(u32::from_le_bytes(arr(&b[..4]))),
        u32::from_le_bytes(arr(&b[4..8])),
    ))
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
}

impl<'a> FooterReader<'a> {
    /// Checks the CRC and decodes everything in front of the entries.
    pub(crate) fn new(body: &'a [u8], crc: u32) -> Result<Self, DecodeError> {
        if crc32fast::hash(body) != crc {
            return Err(DecodeError::Crc);
        }
        let mut r = Reader { buf: body };
        if r.array_len()? != FOOTER_FIELDS {
            return Err(malformed("footer field count"));
        }
        let version = r.uint_as::<u16>("footer version")?;
        if version != 1 {
            return Err(DecodeError::Version(version));
        }
        let base_global_sequence = r.uint()?;
        let frames_end = r.uint()?;
        let last_hlc = HlcPoint::new(r.uint()?, r.uint_as::<u32>("hlc logical")?);
        let n_entities = r.array_len()? as usize;
        let mut entities = Vec::with_capacity(n_entities.min(body.len()));
        for _ in 0..n_entities {
            if r.array_len()? != 2 {
                return Err(malformed("footer entity is not a [name, tip] pair"));
            }
            entities.push((r.str()?.to_owned(), r.bin_exact::<32>()?));
        }
        let n_scopes = r.array_len()? as usize;
        let mut scopes = Vec::with_capacity(n_scopes.min(body.len()));
        for _ in 0..n_scopes {
            scopes.push(r.str()?.to_owned());
        }
        // Every entry takes more than one byte, so the count is bounded by the body.
        let remaining = (r.array_len()? as usize).min(body.len());
        Ok(Self {
            head: Footer {
                base_global_sequence,
                frames_end,
                last_hlc,
                entities,
                scopes,
                entries: Vec::new(),
            },
            r,
            remaining,
            spanned: 0,
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
            if !r.buf.is_empty() {
                return Err(malformed("trailing bytes after footer"));
            }
            if SEGMENT_HEADER_LEN as u64 + self.spanned != self.head.frames_end {
                return Err(malformed("footer entries do not span the frame region"));
            }
            return Ok(None);
        }
        self.remaining -= 1;
        if r.array_len()? != FOOTER_ENTRY_FIELDS {
            return Err(malformed("footer entry field count"));
        }
        let e = FooterEntry {
            frame_len: r.uint_as::<u32>("frame length")?,
            event_id: EventId::from_bytes(r.bin_exact::<16>()?),
            entity_sequence: r.uint()?,
            kind: EventKind::from_u16(r.uint_as::<u16>("kind")?),
            entity: r.uint_as::<u32>("entity index")?,
            scope: r.uint_as::<u32>("scope index")?,
            wall_ms: r.uint()?,
            correlation_id: r.opt_id()?.map(CorrelationId::from_u128),
            causation_id: r.opt_id()?.map(EventId::from_u128),
            payload_version: r.uint_as::<u16>("payload version")?,
        };
        if e.entity as usize >= self.head.entities.len()
            || e.scope as usize >= self.head.scopes.len()
        {
            return Err(malformed("footer entry names an unknown entity or scope"));
        }
        if (e.frame_len as usize) < FRAME_PREFIX_LEN + MIN_FRAME_BODY_LEN {
            return Err(malformed("footer entry frame length too small"));
        }
        self.spanned += u64::from(e.frame_len);
        Ok(Some(e))
    }
}

/// Magic of the sync-failure record.
pub const SYNC_FAILURE_MAGIC: [u8; 8] = *b"BPKSYNCF";
/// Version of the sync-failure record format.
pub const SYNC_FAILURE_VERSION: u16 = 1;
/// Size of the sync-failure record.
pub(crate) const SYNC_FAILURE_LEN: usize = 32;

/// What a writer has made durable: segment `segment` up to `durable_len`
/// bytes, and no later segment (`segment` 0: nothing). The content of the
/// sync-failure record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DurablePoint {
    pub(crate) segment: u64,
    pub(crate) durable_len: u64,
}

/// Encodes a sync-failure record: `[magic][version u16][0 u16][segment u64]
/// [durable_len u64][crc32 of the 28 bytes before]`, integers little-endian.
pub(crate) fn encode_sync_failure(r: DurablePoint) -> [u8; SYNC_FAILURE_LEN] {
    let mut b = [0u8; SYNC_FAILURE_LEN];
    b[..8].copy_from_slice(&SYNC_FAILURE_MAGIC);
    b[8..10].copy_from_slice(&SYNC_FAILURE_VERSION.to_le_bytes());
    b[12..20].copy_from_slice(&r.segment.to_le_bytes());
    b[20..28].copy_from_slice(&r.durable_len.to_le_bytes());
    let crc = crc32fast::hash(&b[..28]);
    b[28..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a sync-failure record.
pub(crate) fn decode_sync_failure(b: &[u8]) -> Result<DurablePoint, DecodeError> {
    if b.len() < SYNC_FAILURE_LEN {
        return Err(DecodeError::Incomplete);
    }
    if b.len() > SYNC_FAILURE_LEN {
        return Err(malformed("sync-failure record is longer than 32 bytes"));
    }
    if b[..8] != SYNC_FAILURE_MAGIC {
        return Err(malformed("bad sync-failure record magic"));
    }
    if crc32fast::hash(&b[..28]) != u32::from_le_bytes(arr(&b[28..])) {
        return Err(DecodeError::Crc);
    }
    let version = u16::from_le_bytes(arr(&b[8..10]));
    if version != SYNC_FAILURE_VERSION {
        return Err(DecodeError::Version(version));
    }
    Ok(DurablePoint {
        segment: u64::from_le_bytes(arr(&b[12..20])),
        durable_len: u64::from_le_bytes(arr(&b[20..28])),
    })
}

/// Magic of the idempotency sidecar file.
pub const IDEMPOTENCY_MAGIC: [u8; 8] = *b"BPKIDEM1";
/// Version of the idempotency sidecar format.
pub const IDEMPOTENCY_VERSION: u16 = 1;
const IDEM_HEADER_LEN: usize = 24;
const IDEM_ENTRY_LEN: usize = 72;

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
    let mut b = Vec::with_capacity(IDEM_HEADER_LEN + records.len() * IDEM_ENTRY_LEN + 4);
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
    if b.len() < IDEM_HEADER_LEN + 4 {
        return Err(DecodeError::Incomplete);
    }
    if b[..8] != IDEMPOTENCY_MAGIC {
        return Err(malformed("bad idempotency sidecar magic"));
    }
    let (body, crc) = b.split_at(b.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes(arr(crc)) {
        return Err(DecodeError::Crc);
    }
    let version = u16::from_le_bytes(arr(&b[8..10]));
    if version != IDEMPOTENCY_VERSION {
        return Err(DecodeError::Version(version));
    }
    let through = u64::from_le_bytes(arr(&b[12..20]));
    let count = u32::from_le_bytes(arr(&b[20..24])) as usize;
    let entries = &body[IDEM_HEADER_LEN..];
    if entries.len() != count.saturating_mul(IDEM_ENTRY_LEN) {
        return Err(malformed(
            "idempotency sidecar length does not match its count",
        ));
    }
    let records = entries
        .chunks_exact(IDEM_ENTRY_LEN)
        .map(|e| KeyRecord {
            key: IdempotencyKey::from_bytes(arr(&e[..16])),
            event_id: EventId::from_bytes(arr(&e[16..32])),
            global_sequence: u64::from_le_bytes(arr(&e[32..40])),
            content_hash: arr(&e[40..72]),
        })
        .collect();
    Ok((through, records))
}

// ---- Read models: region fingerprints, cursor checkpoints, projection states ----

/// Domain tag hashed ahead of a region's canonical bytes.
const REGION_DOMAIN: &[u8] = b"batpak/region/v1";

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

/// Directory (inside the data directory) holding cursor checkpoints.
pub(crate) const CHECKPOINT_DIR: &str = "cursors";
/// Suffix of a checkpoint file: `cursors/<name>.ckpt`.
pub(crate) const CHECKPOINT_SUFFIX: &str = ".ckpt";
/// Magic of a cursor checkpoint file.
pub const CHECKPOINT_MAGIC: [u8; 8] = *b"BPKCKPT1";
/// Version of the cursor checkpoint format.
pub const CHECKPOINT_VERSION: u16 = 1;
const CKPT_VERSION: usize = 8;
const CKPT_RESERVED: usize = CKPT_VERSION + 2;
const CKPT_REGION: usize = CKPT_RESERVED + 2;
const CKPT_NEXT: usize = CKPT_REGION + 32;
const CKPT_LAST_EVENT: usize = CKPT_NEXT + 8;
const CKPT_NAME_LEN: usize = CKPT_LAST_EVENT + 16;
/// Fixed part of a checkpoint, before the name.
const CKPT_HEADER_LEN: usize = CKPT_NAME_LEN + 2;
/// Every checksummed sidecar here ends in a CRC32 of everything before it.
const SIDECAR_CRC_LEN: usize = 4;

/// File name of checkpoint `name` inside [`CHECKPOINT_DIR`].
pub(crate) fn checkpoint_file_name(name: &str) -> String {
    format!("{name}{CHECKPOINT_SUFFIX}")
}

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

/// Encodes a cursor checkpoint:
/// `[magic 8][version u16][reserved u16][region 32][next u64][last event id 16]`
/// `[name_len u16][name][crc32 u32]`, integers little-endian, the CRC over every byte before it.
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
    if b.len() < CKPT_HEADER_LEN + SIDECAR_CRC_LEN {
        return Err(DecodeError::Incomplete);
    }
    if b[..CKPT_VERSION] != CHECKPOINT_MAGIC {
        return Err(malformed("bad checkpoint magic"));
    }
    let (body, crc) = b.split_at(b.len() - SIDECAR_CRC_LEN);
    if crc32fast::hash(body) != u32::from_le_bytes(arr(crc)) {
        return Err(DecodeError::Crc);
    }
    let version = u16::from_le_bytes(arr(&b[CKPT_VERSION..CKPT_RESERVED]));
    if version != CHECKPOINT_VERSION {
        return Err(DecodeError::Version(version));
    }
    let name_len = usize::from(u16::from_le_bytes(arr(&b[CKPT_NAME_LEN..CKPT_HEADER_LEN])));
    if body.len() != CKPT_HEADER_LEN + name_len {
        return Err(malformed(
            "checkpoint length does not match its name length",
        ));
    }
    let name = std::str::from_utf8(&body[CKPT_HEADER_LEN..])
        .map_err(|_| malformed("checkpoint name is not UTF-8"))?;
    let next_global_sequence = u64::from_le_bytes(arr(&b[CKPT_NEXT..CKPT_LAST_EVENT]));
    let last = EventId::from_bytes(arr(&b[CKPT_LAST_EVENT..CKPT_NAME_LEN]));
    let last_event_id = match (next_global_sequence, last.as_u128()) {
        (0, 0) => None,
        (0, _) => return Err(malformed("checkpoint names a last event but no position")),
        (_, 0) => return Err(malformed("checkpoint has a position but no last event")),
        _ => Some(last),
    };
    Ok(CheckpointRecord {
        name: name.to_owned(),
        region: arr(&b[CKPT_REGION..CKPT_NEXT]),
        next_global_sequence,
        last_event_id,
    })
}

/// Directory (inside the data directory) holding file-cached projection states.
pub(crate) const PROJECTION_DIR: &str = "projections";
/// Magic of a cached projection state file.
pub const PROJECTION_MAGIC: [u8; 8] = *b"BPKPROJ1";
/// Version of the cached projection state format.
pub const PROJECTION_VERSION: u16 = 1;
const PROJ_VERSION: usize = 8;
const PROJ_RESERVED: usize = PROJ_VERSION + 2;
const PROJ_KEY: usize = PROJ_RESERVED + 2;
const PROJ_LAST_GS: usize = PROJ_KEY + 32;
const PROJ_LAST_EVENT: usize = PROJ_LAST_GS + 8;
const PROJ_ENTITY_LEN: usize = PROJ_LAST_EVENT + 16;
/// Fixed part of a projection state file, before the entity name.
const PROJ_HEADER_LEN: usize = PROJ_ENTITY_LEN + 2;
/// Bytes of the state length that follows the entity name.
const PROJ_STATE_LEN: usize = 4;

/// A folded projection state as the file cache stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProjectionRecord {
    /// Fingerprint of the projection type (name, cache version, relevant kinds).
    pub(crate) key: [u8; 32],
    /// The entity the state folds.
    pub(crate) entity: String,
    /// Global sequence of the last event folded into the state.
    pub(crate) last_global_sequence: u64,
    /// Id of that event, checked against the log before the state is trusted.
    pub(crate) last_event_id: EventId,
    /// The state, MessagePack with named fields.
    pub(crate) state: Vec<u8>,
}

/// File name of a cached projection state inside [`PROJECTION_DIR`]:
/// the hex blake3 of the type key and the entity name (entity names may hold
/// characters a file name cannot).
pub(crate) fn projection_file_name(key: &[u8; 32], entity: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(key);
    h.update(entity.as_bytes());
    format!("{}.proj", h.finalize().to_hex())
}

/// Encodes a cached projection state:
/// `[magic 8][version u16][reserved u16][key 32][last global sequence u64][last event id 16]`
/// `[entity_len u16][entity][state_len u32][state][crc32 u32]`, little-endian, CRC over every byte before it.
pub(crate) fn encode_projection(p: &ProjectionRecord) -> Vec<u8> {
    let entity = p.entity.as_bytes();
    let mut b = Vec::with_capacity(
        PROJ_HEADER_LEN + entity.len() + PROJ_STATE_LEN + p.state.len() + SIDECAR_CRC_LEN,
    );
    b.extend_from_slice(&PROJECTION_MAGIC);
    b.extend_from_slice(&PROJECTION_VERSION.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&p.key);
    b.extend_from_slice(&p.last_global_sequence.to_le_bytes());
    b.extend_from_slice(&p.last_event_id.to_bytes());
    // Entity names are at most `Coordinate::MAX_LEN` bytes.
    b.extend_from_slice(
        &u16::try_from(entity.len())
            .unwrap_or(u16::MAX)
            .to_le_bytes(),
    );
    b.extend_from_slice(entity);
    b.extend_from_slice(&len_u32(p.state.len()).to_le_bytes());
    b.extend_from_slice(&p.state);
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes and checks a cached projection state.
pub(crate) fn decode_projection(b: &[u8]) -> Result<ProjectionRecord, DecodeError> {
    if b.len() < PROJ_HEADER_LEN + PROJ_STATE_LEN + SIDECAR_CRC_LEN {
        return Err(DecodeError::Incomplete);
    }
    if b[..PROJ_VERSION] != PROJECTION_MAGIC {
        return Err(malformed("bad projection state magic"));
    }
    let (body, crc) = b.split_at(b.len() - SIDECAR_CRC_LEN);
    if crc32fast::hash(body) != u32::from_le_bytes(arr(crc)) {
        return Err(DecodeError::Crc);
    }
    let version = u16::from_le_bytes(arr(&b[PROJ_VERSION..PROJ_RESERVED]));
    if version != PROJECTION_VERSION {
        return Err(DecodeError::Version(version));
    }
    let entity_len = usize::from(u16::from_le_bytes(
        arr(&b[PROJ_ENTITY_LEN..PROJ_HEADER_LEN]),
    ));
    let state_at = PROJ_HEADER_LEN + entity_len;
    if body.len() < state_at + PROJ_STATE_LEN {
        return Err(malformed("projection state shorter than its entity name"));
    }
    let state_len = u32::from_le_bytes(arr(&body[state_at..state_at + PROJ_STATE_LEN])) as usize;
    if body.len() - state_at - PROJ_STATE_LEN != state_len {
        return Err(malformed("projection state length does not match"));
    }
    let entity = std::str::from_utf8(&body[PROJ_HEADER_LEN..state_at])
        .map_err(|_| malformed("projection entity is not UTF-8"))?;
    Ok(ProjectionRecord {
        key: arr(&b[PROJ_KEY..PROJ_LAST_GS]),
        entity: entity.to_owned(),
        last_global_sequence: u64::from_le_bytes(arr(&b[PROJ_LAST_GS..PROJ_LAST_EVENT])),
        last_event_id: EventId::from_bytes(arr(&b[PROJ_LAST_EVENT..PROJ_ENTITY_LEN])),
        state: body[state_at + PROJ_STATE_LEN..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn sample<'a>(entity: &'a str, scope: &'a str, payload: &'a [u8]) -> FrameFields<'a> {
        FrameFields {
            event_id: EventId::from_u128(42),
            global_sequence: 1 << 40,
            entity_sequence: 3,
            kind: EventKind::custom(0xE, 7),
            entity,
            scope,
            wall_ms: 1_700_000_000_000,
            hlc: HlcPoint::new(1_700_000_000_002, 9),
            correlation_id: Some(CorrelationId::from_u128(7)),
            causation_id: None,
            idempotency_key: Some(IdempotencyKey::from_bytes([8; 16])),
            payload_version: 1,
            batch_remaining: 0,
            prev_hash: [1; 32],
            event_hash: [2; 32],
            payload,
            attestation: None,
        }
    }

    #[test]
    fn frame_roundtrip_and_payload_is_bin() {
        let mut out = Vec::new();
        let f = sample("e", "s", b"\x81\xa1n\x01");
        encode_frame(&mut out, &f);
        let (back, used) = decode_frame(&out).unwrap();
        assert_eq!(back, f);
        assert_eq!(used, out.len());
        // The payload is stored as msgpack bin8 (marker 0xc4, length, bytes),
        // followed by the absent attestation (nil, one byte).
        let tail = &out[out.len() - 7..];
        assert_eq!(tail, &[0xc4, 4, 0x81, 0xa1, b'n', 1, 0xc0]);
        assert_eq!(
            &out[FRAME_PREFIX_LEN..FRAME_PREFIX_LEN + 3],
            &FRAME_BODY_START
        );
    }

    #[test]
    fn attestations_roundtrip_and_malformed_ones_are_refused() {
        let passed = GateAttestation::passed(["amount_positive", "credit_limit"]);
        let bypass = GateAttestation::Bypassed {
            ticket: "INC-42".into(),
            reason: "approved by on-call".into(),
        };
        for a in [
            passed,
            bypass,
            GateAttestation::passed(Vec::<String>::new()),
        ] {
            let mut f = sample("e", "s", b"\x01");
            f.attestation = Some(a.clone());
            let mut out = Vec::new();
            encode_frame(&mut out, &f);
            let (back, _) = decode_frame(&out).unwrap();
            assert_eq!(back.attestation, Some(a));
        }
        // A bypass must hold exactly [ticket, reason]; unknown tags are refused.
        for (tag, n) in [(2u8, 1u32), (2, 3), (0, 0), (3, 0)] {
            let mut body = Vec::new();
            write_body(&mut body, &sample("e", "s", b""));
            body.pop();
            rmp::encode::write_array_len(&mut body, 2).unwrap();
            rmp::encode::write_uint(&mut body, u64::from(tag)).unwrap();
            rmp::encode::write_array_len(&mut body, n).unwrap();
            for _ in 0..n {
                rmp::encode::write_str(&mut body, "x").unwrap();
            }
            assert!(
                decode_body(&body).is_err(),
                "tag {tag} with {n} strings decoded"
            );
        }
    }

    #[test]
    fn smallest_frame_meets_minimum() {
        let mut out = Vec::new();
        let mut f = sample("e", "s", b"");
        f.correlation_id = None;
        f.idempotency_key = None;
        f.global_sequence = 0;
        f.entity_sequence = 0;
        f.wall_ms = 0;
        f.hlc = HlcPoint::new(0, 0);
        f.kind = EventKind::from_u16(1);
        encode_frame(&mut out, &f);
        assert!(out.len() - FRAME_PREFIX_LEN >= MIN_FRAME_BODY_LEN);
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let mut out = Vec::new();
        encode_frame(&mut out, &sample("entity", "scope", b"payload bytes"));
        for cut in 0..out.len() {
            assert!(decode_frame(&out[..cut]).is_err(), "prefix {cut} decoded");
        }
    }

    #[test]
    fn every_body_byte_flip_is_caught_by_crc() {
        let mut out = Vec::new();
        encode_frame(&mut out, &sample("entity", "scope", b"payload"));
        for i in FRAME_PREFIX_LEN..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                decode_frame(&bad).unwrap_err(),
                DecodeError::Crc,
                "byte {i}"
            );
        }
    }

    #[test]
    fn segment_header_roundtrip_and_checks() {
        let h = SegmentHeader {
            segment_id: 12,
            created_ms: 99,
        };
        let b = encode_segment_header(h);
        assert_eq!(decode_segment_header(&b).unwrap(), h);
        assert_eq!(
            decode_segment_header(&b[..31]),
            Err(DecodeError::Incomplete)
        );
        let mut bad = b;
        bad[0] = b'X';
        assert!(matches!(
            decode_segment_header(&bad),
            Err(DecodeError::Malformed(_))
        ));
        let mut bad = b;
        bad[13] ^= 1;
        assert_eq!(decode_segment_header(&bad), Err(DecodeError::Crc));
        let mut v2 = b;
        v2[HDR_VERSION] = 2;
        let crc = crc32fast::hash(&v2[..HDR_CRC]);
        v2[HDR_CRC..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode_segment_header(&v2), Err(DecodeError::Version(2)));
    }

    #[test]
    fn segment_names_roundtrip() {
        assert_eq!(segment_file_name(7), "00000000000000000007.seg");
        assert_eq!(parse_segment_file_name(&segment_file_name(7)), Some(7));
        assert_eq!(parse_segment_file_name("7.seg"), None);
        assert_eq!(parse_segment_file_name("0000000000000000000x.seg"), None);
    }

    fn footer() -> Footer {
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
        }];
        Footer {
            base_global_sequence: 100,
            frames_end: SEGMENT_HEADER_LEN as u64 + 120,
            last_hlc: HlcPoint::new(10, 0),
            entities: vec![("e".into(), [3; 32])],
            scopes: vec!["s".into()],
            entries,
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
    fn idempotency_sidecar_lengths_at_the_edges() {
        let empty = encode_idempotency(0, &[]);
        assert_eq!(empty.len(), IDEM_HEADER_LEN + 4);
        assert_eq!(decode_idempotency(&empty), Ok((0, Vec::new())));
        for n in 0..empty.len() {
            assert_eq!(
                decode_idempotency(&empty[..n]),
                Err(DecodeError::Incomplete),
                "{n} bytes"
            );
        }
    }

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
            assert_eq!(
                decode_checkpoint(&b[..n]),
                Err(DecodeError::Incomplete),
                "{n}"
            );
        }
    }

    #[test]
    fn projection_state_shortest_length() {
        let shortest = ProjectionRecord {
            key: [2; 32],
            entity: String::new(),
            last_global_sequence: 3,
            last_event_id: EventId::from_u128(4),
            state: Vec::new(),
        };
        let b = encode_projection(&shortest);
        assert_eq!(decode_projection(&b), Ok(shortest));
        for n in 0..b.len() {
            assert_eq!(
                decode_projection(&b[..n]),
                Err(DecodeError::Incomplete),
                "{n}"
            );
        }
    }

    #[test]
    fn projection_state_with_a_lying_entity_length_is_refused() {
        let rec = ProjectionRecord {
            key: [2; 32],
            entity: "abc".into(),
            last_global_sequence: 3,
            last_event_id: EventId::from_u128(4),
            state: vec![0x90],
        };
        let good = encode_projection(&rec);
        for claimed in [4u16, 5, 200] {
            let mut b = good.clone();
            b[PROJ_ENTITY_LEN..PROJ_HEADER_LEN].copy_from_slice(&claimed.to_le_bytes());
            let n = b.len() - SIDECAR_CRC_LEN;
            let crc = crc32fast::hash(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
            assert!(decode_projection(&b).is_err(), "claimed {claimed}");
        }
    }

    #[test]
    fn projection_files_are_named_by_a_hash_of_type_and_entity() {
        let a = projection_file_name(&[1; 32], "order/1");
        assert_eq!(a.len(), 64 + ".proj".len());
        assert!(a.ends_with(".proj"));
        assert!(a[..64].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, projection_file_name(&[1; 32], "order/2"));
        assert_ne!(a, projection_file_name(&[2; 32], "order/1"));
        assert_eq!(a, projection_file_name(&[1; 32], "order/1"));
    }

    #[test]
    fn checkpoint_files_are_named_after_the_cursor() {
        assert_eq!(checkpoint_file_name("orders"), "orders.ckpt");
    }

    #[test]
    fn fixed_size_bins_take_any_bin_width_and_only_their_length() {
        let bytes = [7u8; 16];
        // bin 8, bin 16 and bin 32 of exactly 16 bytes, each followed by a byte.
        for marker in [vec![0xc4, 16], vec![0xc5, 0, 16], vec![0xc6, 0, 0, 0, 16]] {
            let mut b = marker.clone();
            b.extend_from_slice(&bytes);
            b.push(0x01);
            let mut r = Reader { buf: &b };
            assert_eq!(r.bin_exact::<16>(), Ok(bytes), "{marker:02x?}");
            assert_eq!(r.buf, &[0x01]);
        }
        // A bin of 15 bytes followed by enough bytes for 16 is still refused.
        let mut b = vec![0xc4, 15];
        b.extend_from_slice(&[7u8; 20]);
        assert!(Reader { buf: &b }.bin_exact::<16>().is_err());
        let mut b = vec![0xc4, 17];
        b.extend_from_slice(&[7u8; 17]);
        assert!(Reader { buf: &b }.bin_exact::<16>().is_err());
    }

    #[test]
    fn an_attestation_may_name_up_to_the_gate_limit() {
        let encode = |n: usize| {
            let mut b = Vec::new();
            rmp::encode::write_array_len(&mut b, 2).unwrap();
            rmp::encode::write_uint(&mut b, 1).unwrap();
            rmp::encode::write_array_len(&mut b, n as u32).unwrap();
            for _ in 0..n {
                rmp::encode::write_str(&mut b, "g").unwrap();
            }
            b
        };
        let at_limit = encode(MAX_ATTESTED_GATES);
        let got = Reader { buf: &at_limit }.attestation().unwrap().unwrap();
        assert_eq!(got.gates().len(), MAX_ATTESTED_GATES);
        let over = encode(MAX_ATTESTED_GATES + 1);
        assert!(Reader { buf: &over }.attestation().is_err());
    }

    #[test]
    fn a_frame_prefix_alone_is_judged_by_its_length() {
        // Exactly a prefix: an impossible length is malformed, a possible one
        // is a frame whose body has not arrived.
        let mut b = [0u8; FRAME_PREFIX_LEN];
        assert!(matches!(decode_frame(&b), Err(DecodeError::Malformed(_))));
        b[..4].copy_from_slice(&(MIN_FRAME_BODY_LEN as u32).to_le_bytes());
        assert_eq!(decode_frame(&b).map(|_| ()), Err(DecodeError::Incomplete));
        assert_eq!(
            decode_frame(&b[..FRAME_PREFIX_LEN - 1]).map(|_| ()),
            Err(DecodeError::Incomplete)
        );
    }

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
        assert_eq!(decode_sync_failure(&b[..31]), Err(DecodeError::Incomplete));
        let mut long = b.to_vec();
        long.push(0);
        assert!(decode_sync_failure(&long).is_err());
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
        assert_eq!(
            decode_footer(&bad[..len as usize], crc),
            Err(DecodeError::Crc)
        );
    }

    #[test]
    fn frame_and_footer_are_single_well_formed_msgpack_values() {
        // A generic decoder must see exactly one array spanning the whole body.
        let mut frame = Vec::new();
        encode_frame(&mut frame, &sample("e", "s", b"xyz"));
        let mut body = &frame[FRAME_PREFIX_LEN..];
        let v = rmpv::decode::read_value(&mut body).unwrap();
        assert!(body.is_empty());
        assert_eq!(v.as_array().map(Vec::len), Some(FRAME_FIELDS as usize));
        let f = encode_footer(&footer());
        let mut body = &f[..f.len() - TRAILER_LEN];
        let v = rmpv::decode::read_value(&mut body).unwrap();
        assert!(body.is_empty());
        assert_eq!(v.as_array().map(Vec::len), Some(FOOTER_FIELDS as usize));
    }

    #[test]
    fn footer_with_inconsistent_span_is_refused() {
        let mut f = footer();
        f.frames_end += 1;
        let bytes = encode_footer(&f);
        let (len, crc) = decode_trailer(&bytes[bytes.len() - TRAILER_LEN..]).unwrap();
        assert!(matches!(
            decode_footer(&bytes[..len as usize], crc),
            Err(DecodeError::Malformed(_))
        ));
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
        assert_eq!(decode_idempotency(&bad), Err(DecodeError::Crc));
    }

    proptest! {
        #[test]
        fn frame_encode_decode_roundtrip(
            id in any::<u128>(), gs in any::<u64>(), es in any::<u64>(), kind in any::<u16>(),
            entity in "[a-z:0-9]{1,40}", scope in "[a-z:0-9]{1,40}",
            wall in 0u64..(1 << 50), lead in 0u64..1000, logical in any::<u32>(),
            corr in proptest::option::of(any::<u128>()), caus in proptest::option::of(any::<u128>()),
            pv in any::<u16>(), batch in any::<u32>(),
            prev in any::<[u8; 32]>(), hash in any::<[u8; 32]>(),
            payload in proptest::collection::vec(any::<u8>(), 0..600),
            gates in proptest::option::of(proptest::collection::vec("[a-z_]{1,20}", 0..5)),
        ) {
            let f = FrameFields {
                event_id: EventId::from_u128(id), global_sequence: gs, entity_sequence: es,
                kind: EventKind::from_u16(kind), entity: &entity, scope: &scope, wall_ms: wall,
                hlc: HlcPoint::new(wall + lead, logical),
                correlation_id: corr.map(CorrelationId::from_u128), causation_id: caus.map(EventId::from_u128),
                idempotency_key: caus.map(|c| IdempotencyKey::from_bytes(c.to_le_bytes())),
                payload_version: pv, batch_remaining: batch, prev_hash: prev, event_hash: hash, payload: &payload,
                attestation: gates.map(GateAttestation::passed),
            };
            let mut out = Vec::new();
            encode_frame(&mut out, &f);
            let (back, used) = decode_frame(&out).unwrap();
            prop_assert_eq!(used, out.len());
            prop_assert_eq!(back, f);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_frame(&bytes);
            let _ = decode_body(&bytes);
            let _ = decode_footer(&bytes, crc32fast::hash(&bytes));
            let _ = decode_segment_header(&bytes);
        }
    }
}

/// Names of the files in a data directory.
pub(crate) mod names {
    /// The writer's lock file.
    pub(crate) const LOCK_FILE: &str = "LOCK";
}
