//! Entry points for the coverage-guided fuzz targets in `fuzz/` (feature `fuzzing`).
//!
//! Each function takes bytes as they would come from disk and runs one decoder
//! on them. When the bytes decode, the value is checked against its encoder:
//! the re-encoded bytes decode to the same value, encoding that value again
//! gives the same bytes, and where the input was already in the encoder's
//! form (minimal msgpack widths, zero reserved fields) it comes back byte for
//! byte. Malformed input must return quietly; a panic is a finding.
//!
//! Not part of the public API: the module exists only with feature `fuzzing`.

// A panic is how a fuzz target reports a broken property.
#![allow(clippy::panic)]

use crate::attestation::GateAttestation;
use crate::format::{self, FrameFields, FRAME_PREFIX_LEN, SEGMENT_HEADER_LEN, TRAILER_LEN};
use crate::id::{CorrelationId, EventId, HlcPoint, IdempotencyKey};
use crate::kind::EventKind;

/// Every fixed-layout file (segment header and the sidecars) keeps a
/// reserved `u16` here that writers set to zero.
const RESERVED: std::ops::Range<usize> = 10..12;

fn reserved_is_zero(b: &[u8]) -> bool {
    b.get(RESERVED) == Some(&[0, 0][..])
}

/// Decodes the frame at the start of `data` (prefix, CRC, body); true if it decoded.
pub fn frame(data: &[u8]) -> bool {
    let Ok((f, used)) = format::decode_frame(data) else {
        return false;
    };
    check_frame(&f, &data[..used]);
    true
}

/// Decodes `body` as a frame body, both alone and behind a prefix whose
/// length and CRC are computed here, so the body decoder is reached; true if
/// it decoded.
pub fn frame_body(body: &[u8]) -> bool {
    let alone = format::decode_body(body);
    let mut framed = Vec::with_capacity(FRAME_PREFIX_LEN + body.len());
    framed.extend_from_slice(&len_u32(body.len()).to_le_bytes());
    framed.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    framed.extend_from_slice(body);
    match (alone, format::decode_frame(&framed)) {
        (Ok(a), Ok((f, used))) => {
            assert_eq!(a, f, "body and frame decode differently");
            assert_eq!(used, framed.len(), "frame does not span its prefix length");
            check_frame(&f, &framed);
            true
        }
        (Ok(_), Err(e)) => panic!("body decodes alone but not as a frame: {e}"),
        (Err(e), Ok(_)) => panic!("frame decodes but its body alone does not: {e}"),
        (Err(_), Err(_)) => false,
    }
}

/// Re-encodes a decoded frame and checks it against the bytes it came from.
fn check_frame(f: &FrameFields<'_>, original: &[u8]) {
    let mut again = Vec::new();
    format::encode_frame(&mut again, f);
    let (back, used) = match format::decode_frame(&again) {
        Ok(ok) => ok,
        Err(e) => panic!("re-encoded frame does not decode: {e}"),
    };
    assert_eq!(used, again.len(), "re-encoded frame length");
    assert_eq!(&back, f, "frame changed through encode and decode");
    let mut third = Vec::new();
    format::encode_frame(&mut third, &back);
    assert_eq!(third, again, "frame encoding is not stable");
    same_or_shorter(&again, original, "frame");
}

/// The encoder writes every msgpack value in its narrowest form, and a value
/// has one encoding of each width: a re-encoding is never longer than what
/// was decoded, and one of the same length is the same bytes.
fn same_or_shorter(again: &[u8], original: &[u8], what: &str) {
    assert!(
        again.len() <= original.len(),
        "{what} re-encodes longer: {} > {} bytes",
        again.len(),
        original.len()
    );
    if again.len() == original.len() {
        assert_eq!(again, original, "{what} re-encodes to other bytes");
    }
}

/// Decodes `body` as a footer under its own CRC, whole and entry by entry;
/// true if it decoded.
pub fn footer(body: &[u8]) -> bool {
    let crc = crc32fast::hash(body);
    let whole = format::decode_footer(body, crc);
    assert_eq!(
        whole,
        stream_footer(body, crc),
        "whole and streamed footer differ"
    );
    assert!(
        matches!(
            format::decode_footer(body, !crc),
            Err(format::DecodeError::CrcMismatch { stored, computed, .. })
                if stored == !crc && computed == crc
        ),
        "footer under a wrong CRC"
    );
    let Ok(f) = whole else {
        return false;
    };
    check_footer(&f, body);
    true
}

fn stream_footer(body: &[u8], crc: u32) -> Result<format::Footer, format::DecodeError> {
    let mut reader = format::FooterReader::new(body, crc)?;
    let mut entries = Vec::new();
    while let Some(e) = reader.next_entry()? {
        entries.push(e);
    }
    Ok(format::Footer {
        entries,
        ..reader.head
    })
}

fn check_footer(f: &format::Footer, body: &[u8]) {
    let again = format::encode_footer(f);
    let split = again.len() - TRAILER_LEN;
    let Some((len, crc)) = format::decode_trailer(&again[split..]) else {
        panic!("encoded footer has no trailer");
    };
    assert_eq!(len, split as u64, "trailer length");
    assert_eq!(crc, crc32fast::hash(&again[..split]), "trailer CRC");
    match format::decode_footer(&again[..split], crc) {
        Ok(back) => {
            assert_eq!(&back, f, "footer changed through encode and decode");
            assert_eq!(
                format::encode_footer(&back),
                again,
                "footer encoding is not stable"
            );
        }
        Err(e) => panic!("re-encoded footer does not decode: {e}"),
    }
    same_or_shorter(&again[..split], body, "footer");
}

/// Reads a whole segment file the way open does: the header, the trailer and
/// footer of a sealed segment and the frames its entries point at, then the
/// frames one after another up to the footer (or the end of the file).
/// True if all of it decoded: the header, every frame, and the footer when
/// the file has a trailer.
pub fn segment(file: &[u8]) -> bool {
    let mut whole = segment_header(file);
    let mut frames_end = file.len();
    if let Some(start) = file.len().checked_sub(TRAILER_LEN) {
        if let Some((len, crc)) = format::decode_trailer(&file[start..]) {
            let footer_start = (start as u64)
                .checked_sub(len)
                .filter(|s| *s >= SEGMENT_HEADER_LEN as u64);
            match footer_start {
                Some(at) => {
                    let at = at as usize;
                    frames_end = at;
                    whole &= sealed_footer(file, &file[at..start], crc, at);
                }
                None => whole = false,
            }
        }
    }
    let mut pos = SEGMENT_HEADER_LEN;
    while pos < frames_end {
        match format::decode_frame(&file[pos..frames_end]) {
            Ok((f, n)) => {
                check_frame(&f, &file[pos..pos + n]);
                pos += n;
            }
            Err(_) => return false,
        }
    }
    whole
}

/// The footer of a sealed segment and the frames its entries point at; true
/// if the footer decoded, ends the frame region and every entry's frame decoded.
fn sealed_footer(file: &[u8], body: &[u8], crc: u32, at: usize) -> bool {
    let Ok(mut reader) = format::FooterReader::new(body, crc) else {
        return false;
    };
    if reader.head.frames_end != at as u64 {
        return false;
    }
    let mut offset = SEGMENT_HEADER_LEN;
    loop {
        match reader.next_entry() {
            Ok(Some(e)) => {
                let end = offset.saturating_add(e.frame_len as usize);
                let Some(bytes) = file.get(offset..end) else {
                    return false;
                };
                match format::decode_frame(bytes) {
                    Ok((f, used)) => check_frame(&f, &bytes[..used]),
                    Err(_) => return false,
                }
                offset = end;
            }
            Ok(None) => break,
            Err(_) => return false,
        }
    }
    match format::decode_footer(body, crc) {
        Ok(f) => check_footer(&f, body),
        Err(e) => panic!("footer decodes entry by entry but not whole: {e}"),
    }
    true
}

/// Decodes a segment header; true if it decoded.
pub fn segment_header(data: &[u8]) -> bool {
    let Ok(h) = format::decode_segment_header(data) else {
        return false;
    };
    let again = format::encode_segment_header(h);
    assert_eq!(
        format::decode_segment_header(&again),
        Ok(h),
        "segment header"
    );
    if reserved_is_zero(data) {
        assert_eq!(
            &again[..],
            &data[..SEGMENT_HEADER_LEN],
            "segment header bytes"
        );
    }
    true
}

/// Decodes an idempotency sidecar; true if it decoded.
pub fn idempotency(data: &[u8]) -> bool {
    let Ok((through, records)) = format::decode_idempotency(data) else {
        return false;
    };
    let again = format::encode_idempotency(through, &records);
    assert_eq!(
        format::decode_idempotency(&again),
        Ok((through, records)),
        "idempotency sidecar"
    );
    // Version 1 input is re-encoded as the current version.
    let current = data.get(8..10) == Some(&format::IDEMPOTENCY_VERSION.to_le_bytes()[..]);
    if reserved_is_zero(data) && current {
        assert_eq!(again, data, "idempotency sidecar bytes");
    }
    true
}

/// Decodes a keyset file; true if it decoded.
pub fn keyset(data: &[u8]) -> bool {
    let mut records: Vec<(u64, Vec<u8>, [u8; format::KEY_LEN])> = Vec::new();
    let Ok(header) = format::decode_keyset(data, |n, scope, key| {
        records.push((n, scope.to_vec(), *key));
        Ok(())
    }) else {
        return false;
    };
    let mut again = Vec::new();
    format::encode_keyset(
        &mut again,
        header,
        records.iter().map(|(n, s, k)| (*n, s.as_slice(), k)),
    );
    let mut back = Vec::new();
    let header_back = format::decode_keyset(&again, |n, scope, key| {
        back.push((n, scope.to_vec(), *key));
        Ok(())
    });
    assert_eq!(header_back, Ok(header), "keyset header");
    assert_eq!(back, records, "keyset records");
    // Byte 11 is the reserved byte writers set to zero.
    if data.get(11) == Some(&0) {
        assert_eq!(again, data, "keyset bytes");
    }
    true
}

/// Opens an index part over `data` as an index file's logical bytes (no
/// page CRCs, which the part's page cache checks before this point) and
/// reads everything it points at: records, the id table, postings through
/// every kind of query, the links and the rows. Where the full decoder
/// accepts the same bytes, the part must open and answer exactly what the
/// footer it decodes lists. True if the part opened.
pub fn index_file(data: &[u8]) -> bool {
    use crate::index::{Index, IndexSource};
    use crate::region::Region;
    let index = Index::default();
    let decoded = format::decode_index_file(&format::paginate_index(data));
    let part = match index.open_part(7, IndexSource::Memory(data.into())) {
        Ok(part) => part,
        Err(e) => {
            assert!(
                decoded.is_err(),
                "the decoder accepts what the part refuses: {e}"
            );
            return false;
        }
    };
    let n = part.len().min(1 << 12);
    let entries: Vec<_> = (0..n).map(|i| part.entry(i).ok()).collect();
    for e in entries.iter().flatten().take(64) {
        let _ = part.find(e.event_id);
        let _ = part.lower_bound(e.global_sequence);
        let _ = part.links(false, e.event_id.as_u128());
        let _ = part.links(true, e.event_id.as_u128());
    }
    let _ = part.find(EventId::from_u128(u128::MAX));
    let mut regions = vec![Region::all(), Region::entity_prefix("")];
    if let Some(row) = part.entities().first() {
        regions.push(Region::entity(&*row.name));
        let _ = part.entity_event(row, row.first);
        let _ = part.entity_event(row, row.next.saturating_sub(1));
    }
    if let Some(scope) = part.scope_names().next() {
        regions.push(Region::scope(&**scope));
    }
    if let Some(Some(e)) = entries.first() {
        regions.push(Region::all().with_kinds([e.kind, EventKind::custom(0xF, 0xFFF)]));
    }
    for r in &regions {
        let mut out = Vec::new();
        let _ = part.query_into(r, 0, 1 << 12, &mut out);
    }
    let _ = part.all_links(true);
    let _ = part.all_links(false);
    let _ = part.footer_head();
    if let Ok(file) = decoded {
        let f = &file.footer;
        assert_eq!(part.len(), f.entries.len() as u64, "events");
        for (i, e) in f.entries.iter().enumerate().take(1 << 12) {
            let got = part
                .entry(i as u64)
                .unwrap_or_else(|err| panic!("record {i}: {err}"));
            assert_eq!(got.event_id, e.event_id, "record {i}");
            assert_eq!(got.entity_sequence, e.entity_sequence, "record {i}");
            assert_eq!(
                got.coordinate.entity(),
                f.entities[e.entity as usize].0,
                "record {i}"
            );
            assert_eq!(
                got.coordinate.scope(),
                f.scopes[e.scope as usize],
                "record {i}"
            );
            assert_eq!(
                part.find(e.event_id).ok().flatten(),
                Some(i as u64),
                "id {i}"
            );
        }
    }
    true
}

/// Splits a sealed payload into its parts; true if it parsed.
pub fn sealed(data: &[u8]) -> bool {
    let Ok(v) = format::decode_sealed(data) else {
        return false;
    };
    let mut again = Vec::new();
    format::encode_sealed_prefix(&mut again, v.key_number, &v.nonce);
    again.extend_from_slice(v.ciphertext);
    again.extend_from_slice(&v.tag);
    assert_eq!(again, data, "sealed payload bytes");
    assert_eq!(
        again.len(),
        format::SEALED_PREFIX_LEN + v.ciphertext.len() + v.tag.len()
    );
    true
}

/// Decodes a sync-failure record; true if it decoded.
pub fn sync_failure(data: &[u8]) -> bool {
    let Ok(p) = format::decode_sync_failure(data) else {
        return false;
    };
    let again = format::encode_sync_failure(p);
    assert_eq!(
        format::decode_sync_failure(&again),
        Ok(p),
        "sync-failure record"
    );
    if reserved_is_zero(data) {
        assert_eq!(&again[..], data, "sync-failure record bytes");
    }
    true
}

/// Decodes a compaction marker; true if it decoded. A decoded marker
/// re-encodes to exactly its bytes (the layout has one spelling).
pub fn compaction_marker(data: &[u8]) -> bool {
    let Ok(m) = format::decode_compaction_marker(data) else {
        return false;
    };
    let again = format::encode_compaction_marker(&m);
    assert_eq!(
        format::decode_compaction_marker(&again).as_ref(),
        Ok(&m),
        "compaction marker"
    );
    if reserved_is_zero(data) {
        assert_eq!(again, data, "compaction marker bytes");
    }
    true
}

/// A compaction marker with its CRC recomputed, so the fuzzer reaches the
/// checks after it.
pub fn compaction_marker_with_crc(data: &[u8]) -> Vec<u8> {
    let mut b = data.to_vec();
    if b.len() >= 4 {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
    }
    b
}

/// Decodes a cursor checkpoint; true if it decoded.
pub fn checkpoint(data: &[u8]) -> bool {
    let Ok(c) = format::decode_checkpoint(data) else {
        return false;
    };
    let again = format::encode_checkpoint(&c);
    assert_eq!(format::decode_checkpoint(&again), Ok(c), "checkpoint");
    if reserved_is_zero(data) {
        assert_eq!(again, data, "checkpoint bytes");
    }
    true
}

/// Decodes a cached projection state; true if it decoded.
pub fn projection(data: &[u8]) -> bool {
    let Ok(p) = format::decode_projection(data) else {
        return false;
    };
    let again = format::encode_projection(&p);
    assert_eq!(format::decode_projection(&again), Ok(p), "projection state");
    if reserved_is_zero(data) {
        assert_eq!(again, data, "projection state bytes");
    }
    true
}

/// Decodes a heads file; true if it decoded. Re-encoding its whole records
/// gives back exactly the bytes they were read from.
pub fn heads(data: &[u8]) -> bool {
    let Ok(scan) = format::decode_heads(data) else {
        return false;
    };
    assert_eq!(
        scan.valid_len + scan.torn_bytes,
        data.len() as u64,
        "heads: every byte is a record or torn"
    );
    if scan.valid_len >= format::HEADS_HEADER_LEN as u64 {
        let mut again = data[..format::HEADS_HEADER_LEN].to_vec();
        for (offset, r) in &scan.records {
            assert_eq!(*offset, again.len() as u64, "heads record offset");
            let bytes = format::encode_head_record(r);
            assert!(bytes.is_some(), "a decoded heads record re-encodes");
            again.extend(bytes.unwrap_or_default());
        }
        assert_eq!(again.len() as u64, scan.valid_len, "heads length");
        assert_eq!(&again[..], &data[..again.len()], "heads bytes");
        assert_eq!(
            format::decode_heads(&again).map(|back| back.records),
            Ok(scan.records),
            "heads records"
        );
    }
    true
}

/// Every record CRC of a heads file recomputed, as far as the record
/// lengths chain, so the fuzzer reaches the body decoder.
pub fn heads_with_crcs(data: &[u8]) -> Vec<u8> {
    let mut b = data.to_vec();
    let mut at = format::HEADS_HEADER_LEN;
    while at + 8 <= b.len() {
        let len = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e <= b.len()) else {
            break;
        };
        let crc = crc32fast::hash(&b[at + 8..end]);
        b[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
    b
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Valid encodings, made with the store's own encoders, to seed the corpus:
/// `(target name, bytes)`, a few per target.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let frames = sample_frames();
    for f in &frames {
        let mut b = Vec::new();
        format::encode_frame(&mut b, f);
        out.push(("frame_body", b[FRAME_PREFIX_LEN..].to_vec()));
        out.push(("frame", b));
    }
    for n in [0, 1, frames.len()] {
        let (file, footer) = sample_segment(&frames[..n], n as u64);
        let split = footer.len() - TRAILER_LEN;
        out.push(("footer", footer[..split].to_vec()));
        out.push(("segment", file));
    }
    // An active segment: frames but no footer yet.
    let mut active = format::encode_segment_header(sample_header(9)).to_vec();
    for f in &frames {
        format::encode_frame(&mut active, f);
    }
    out.push(("segment", active));
    for n in [1, frames.len()] {
        let (_, footer) = sample_segment(&frames[..n], n as u64);
        let body = &footer[..footer.len() - TRAILER_LEN];
        if let Ok(f) = format::decode_footer(body, crc32fast::hash(body)) {
            let head = format::IndexFileHead {
                segment_id: 7,
                segment_len: 1 << 20,
                footer_crc: 1,
            };
            out.push(("index_file", format::encode_index_logical(head, &f)));
        }
    }
    for id in [1, u64::MAX] {
        out.push((
            "segment_header",
            format::encode_segment_header(sample_header(id)).to_vec(),
        ));
    }
    let record = |n: u8| format::KeyRecord {
        key: IdempotencyKey::from_bytes([n; 16]),
        event_id: EventId::from_u128(u128::from(n) << 64 | 7),
        global_sequence: u64::from(n) * 3,
        digest: match n % 3 {
            0 => format::PayloadDigest::Plain([n ^ 0x5a; 32]),
            1 => format::PayloadDigest::Sealed([n ^ 0xa5; 32]),
            _ => format::PayloadDigest::SealedUnknown,
        },
    };
    out.push(("idempotency", format::encode_idempotency(0, &[])));
    let keys = [[1u8; format::KEY_LEN], [2u8; format::KEY_LEN]];
    for records in [
        Vec::new(),
        vec![
            (1u64, &b"\x01account:1"[..], &keys[0]),
            (4, &b"\x02\x0e"[..], &keys[1]),
        ],
    ] {
        let mut b = Vec::new();
        format::encode_keyset(
            &mut b,
            format::KeysetHeader {
                granularity: crate::keyscope::KeyScopeGranularity::PerEntity,
                next_key_number: 5,
            },
            records.into_iter(),
        );
        out.push(("keyset", b));
    }
    for body in [&b""[..], b"\x81\xa1n\x07"] {
        let mut b = Vec::new();
        format::encode_sealed_prefix(&mut b, 3, &[9; format::NONCE_LEN]);
        b.extend_from_slice(body);
        b.extend_from_slice(&[7; 16]);
        out.push(("sealed", b));
    }
    out.push(("idempotency", format::encode_idempotency(2, &[record(1)])));
    out.push((
        "idempotency",
        format::encode_idempotency(90, &[record(1), record(2), record(3)]),
    ));
    for (segment, durable_len) in [(0, 0), (7, 123_456), (u64::MAX, u64::MAX)] {
        let p = format::DurablePoint {
            segment,
            durable_len,
        };
        out.push(("sync_failure", format::encode_sync_failure(p).to_vec()));
    }
    let checkpoint = |name: &str, next: u64, last: Option<u128>| format::CheckpointRecord {
        name: name.to_owned(),
        region: [0x11; 32],
        next_global_sequence: next,
        last_event_id: last.map(EventId::from_u128),
    };
    for c in [checkpoint("", 0, None), checkpoint("orders", 5, Some(9))] {
        out.push(("checkpoint", format::encode_checkpoint(&c)));
    }
    let projection = |entity: &str, state: &[u8]| format::ProjectionRecord {
        key: [0x22; 32],
        entity: entity.to_owned(),
        last_global_sequence: 41,
        last_event_id: EventId::from_u128(42),
        state: state.to_vec(),
    };
    for p in [
        projection("", b""),
        projection("order/1", b"\x81\xa5total\xcd\x01\x2c"),
    ] {
        out.push(("projection", format::encode_projection(&p)));
    }
    let head = |kind, size: u64, note: &str| format::HeadRecord {
        kind,
        size,
        root: [size as u8; 32],
        recorded_ms: 1_700_000_000_000,
        lost_from: if kind == format::HeadKind::Loss {
            size + 5
        } else {
            0
        },
        key: [if note.is_empty() { 0 } else { 7 }; 32],
        note: note.to_owned(),
    };
    let mut heads = format::encode_heads_header().to_vec();
    out.push(("heads", heads.clone()));
    for r in [
        head(
            format::HeadKind::Head,
            3,
            "batpak/unsigned\n3\nAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=\n",
        ),
        head(format::HeadKind::Loss, 2, ""),
        head(
            format::HeadKind::Head,
            9,
            "o\n9\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\n\u{2014} o AAAA\n",
        ),
    ] {
        heads.extend(format::encode_head_record(&r).unwrap_or_default());
        out.push(("heads", heads.clone()));
    }
    for m in [
        format::CompactionMarker {
            strategy: 0,
            sources: vec![1, 2, 3],
            outputs: vec![(1, 1 << 20)],
        },
        format::CompactionMarker {
            strategy: 1,
            sources: vec![4, 9],
            outputs: vec![(4, 4096), (9, 0)],
        },
    ] {
        out.push(("compaction_marker", format::encode_compaction_marker(&m)));
    }
    // A version-2 footer (retention): sequences that skip, an entity with no entry.
    let (_, v1) = sample_segment(&frames, 3);
    let body = &v1[..v1.len() - TRAILER_LEN];
    if let Ok(mut retired) = format::decode_footer(body, crc32fast::hash(body)) {
        let base = retired.base_global_sequence;
        for (i, e) in retired.entries.iter_mut().enumerate() {
            e.global_sequence = Some(base + 2 * i as u64);
        }
        retired.entities.push(("gone".to_owned(), [9; 32]));
        retired.retired = Some(format::Retired {
            end_global_sequence: base + 2 * retired.entries.len() as u64 + 1,
            next_entity_sequences: vec![7; retired.entities.len()],
        });
        let encoded = format::encode_footer(&retired);
        out.push(("footer", encoded[..encoded.len() - TRAILER_LEN].to_vec()));
    }
    out
}

fn sample_header(segment_id: u64) -> format::SegmentHeader {
    format::SegmentHeader {
        version: format::SEGMENT_FORMAT_VERSION,
        segment_id,
        created_ms: 1_700_000_000_000,
    }
}

/// Frames of one entity chain: a bare one, one with every optional field
/// and passed gates, and a bypassed batch member with wide integers.
fn sample_frames() -> Vec<FrameFields<'static>> {
    let bare = FrameFields {
        event_id: EventId::from_u128(1),
        global_sequence: 0,
        entity_sequence: 0,
        kind: EventKind::custom(0xE, 1),
        entity: "e",
        scope: "s",
        wall_ms: 1_700_000_000_000,
        hlc: HlcPoint::new(1_700_000_000_000, 0),
        correlation_id: None,
        causation_id: None,
        idempotency_key: None,
        payload_version: 1,
        batch_remaining: 0,
        prev_hash: [0; 32],
        event_hash: [1; 32],
        payload: b"\xc0",
        tombstone: None,
        attestation: None,
    };
    let full = FrameFields {
        event_id: EventId::from_u128(2),
        global_sequence: 1,
        entity_sequence: 1,
        kind: EventKind::custom(0x3, 0x22),
        entity: "order:1",
        scope: "tenant:a",
        wall_ms: 1_700_000_000_005,
        hlc: HlcPoint::new(1_700_000_000_007, 3),
        correlation_id: Some(CorrelationId::from_u128(77)),
        causation_id: Some(EventId::from_u128(1)),
        idempotency_key: Some(IdempotencyKey::from_bytes(*b"order-42-attempt")),
        payload_version: 2,
        batch_remaining: 0,
        prev_hash: [1; 32],
        event_hash: [2; 32],
        payload: b"\x82\xa2id\x2a\xa5items\x92\xa1a\xa1b",
        tombstone: None,
        attestation: Some(GateAttestation::passed(["amount_positive", "credit_limit"])),
    };
    let bypassed = FrameFields {
        event_id: EventId::from_u128(u128::MAX - 1),
        global_sequence: u64::from(u32::MAX) + 1,
        entity_sequence: 2,
        kind: EventKind::from_u16(u16::MAX),
        wall_ms: u64::MAX - 10,
        hlc: HlcPoint::new(u64::MAX, u32::MAX),
        payload_version: u16::MAX,
        batch_remaining: 300,
        prev_hash: [2; 32],
        event_hash: [3; 32],
        payload: &[0xab; 70],
        attestation: Some(GateAttestation::Bypassed {
            ticket: "INC-1".to_owned(),
            reason: "restore from backup".to_owned(),
        }),
        ..full.clone()
    };
    let imported_tombstone = FrameFields {
        event_id: EventId::from_u128(3),
        global_sequence: 2,
        entity_sequence: 2,
        prev_hash: [2; 32],
        event_hash: [4; 32],
        payload: b"",
        tombstone: Some([5; 32]),
        attestation: Some(GateAttestation::Imported {
            namespace: "site-a".to_owned(),
            source_event_id: EventId::from_u128(9),
            source_sequence: 41,
            source_content_hash: [5; 32],
        }),
        ..full.clone()
    };
    vec![bare, full, bypassed, imported_tombstone]
}

/// A sealed segment holding `frames`, and its footer with trailer.
fn sample_segment(frames: &[FrameFields<'_>], id: u64) -> (Vec<u8>, Vec<u8>) {
    let mut file = format::encode_segment_header(sample_header(id)).to_vec();
    let mut footer = format::Footer {
        base_global_sequence: frames.first().map_or(0, |f| f.global_sequence),
        last_hlc: frames.last().map_or(HlcPoint::new(0, 0), |f| f.hlc),
        ..format::Footer::default()
    };
    for f in frames {
        let start = file.len();
        format::encode_frame(&mut file, f);
        let entity = footer.entities.iter().position(|(n, _)| n == f.entity);
        let entity = entity.unwrap_or_else(|| {
            footer.entities.push((f.entity.to_owned(), f.event_hash));
            footer.entities.len() - 1
        });
        footer.entities[entity].1 = f.event_hash;
        let scope = footer.scopes.iter().position(|s| s == f.scope);
        let scope = scope.unwrap_or_else(|| {
            footer.scopes.push(f.scope.to_owned());
            footer.scopes.len() - 1
        });
        footer.entries.push(format::FooterEntry {
            frame_len: len_u32(file.len() - start),
            event_id: f.event_id,
            entity_sequence: f.entity_sequence,
            kind: f.kind,
            entity: len_u32(entity),
            scope: len_u32(scope),
            wall_ms: f.wall_ms,
            correlation_id: f.correlation_id,
            causation_id: f.causation_id,
            payload_version: f.payload_version,
            global_sequence: None,
        });
    }
    footer.frames_end = file.len() as u64;
    let encoded = format::encode_footer(&footer);
    file.extend_from_slice(&encoded);
    (file, encoded)
}
