//! The bytes of a data directory as a third party sees them: segment files,
//! their frames and footer, and crash images. Lengths and file names come from
//! `batpak::format`; the frame body fields follow docs/FORMAT.md, since the
//! crate keeps its decoded frame private.

use std::ops::Range;
use std::path::{Path, PathBuf};

use batpak::format::{
    parse_segment_file_name, FOOTER_MAGIC, FRAME_PREFIX_LEN, IDEMPOTENCY_FILE, KEYSET_FILE,
    SEGMENT_HEADER_LEN, TRAILER_LEN,
};

/// The writer's lock file, named here on purpose: the name is not part of the
/// API, and these checks read the directory as a third party would.
pub const LOCK_FILE: &str = "LOCK";

// Positions in a frame body (a msgpack array), as docs/FORMAT.md lists them.
/// Frame body field: global sequence.
pub const GLOBAL_SEQUENCE_FIELD: usize = 1;
/// Frame body field: entity sequence.
pub const ENTITY_SEQUENCE_FIELD: usize = 2;
/// Frame body field: event kind.
pub const KIND_FIELD: usize = 3;
/// Frame body field: entity name.
pub const ENTITY_FIELD: usize = 4;
/// Frame body field: scope name.
pub const SCOPE_FIELD: usize = 5;
/// Frame body field: wall-clock milliseconds.
pub const WALL_MS_FIELD: usize = 6;
/// Frame body field: causation id.
pub const CAUSATION_FIELD: usize = 10;
/// Frame body field: frames of the same batch after this one.
pub const BATCH_REMAINING_FIELD: usize = 13;
/// Frame body field: hash of the entity's previous event.
pub const PREV_HASH_FIELD: usize = 14;
/// Frame body field: the event's own hash.
pub const EVENT_HASH_FIELD: usize = 15;
/// Frame body field: the stored payload bytes.
pub const PAYLOAD_FIELD: usize = 16;
/// Frame body field: gate attestation.
pub const ATTESTATION_FIELD: usize = 17;

/// Whether `path` names a segment file.
pub fn is_segment_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| parse_segment_file_name(n).is_some())
}

/// Segment files of a directory, in order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_segment_file(p))
        .collect();
    v.sort();
    v
}

/// The one segment file of a directory.
pub fn only_segment(dir: &Path) -> PathBuf {
    let mut v = segments(dir);
    assert_eq!(v.len(), 1);
    v.pop().unwrap()
}

/// The declared body length of the frame at `p`.
fn body_len(bytes: &[u8], p: usize) -> usize {
    u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize
}

/// Cuts the zeros the writer writes ahead of its frames, so a test can reason
/// about the frames alone.
pub fn strip_preallocation(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let mut p = SEGMENT_HEADER_LEN;
    while p + FRAME_PREFIX_LEN <= bytes.len() {
        let len = body_len(&bytes, p);
        if len == 0 || p + FRAME_PREFIX_LEN + len > bytes.len() {
            break;
        }
        p += FRAME_PREFIX_LEN + len;
    }
    if bytes[p..].iter().all(|&b| b == 0) {
        std::fs::write(path, &bytes[..p]).unwrap();
    }
}

/// Copies the segment files (and the idempotency sidecar and keyset) of a live store as
/// they are, zeros written ahead included.
pub fn live_copy(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if is_segment_file(&e.path())
            || e.file_name() == IDEMPOTENCY_FILE
            || e.file_name() == KEYSET_FILE
        {
            std::fs::copy(e.path(), dst.path().join(e.file_name())).unwrap();
        }
    }
    dst
}

/// What a crash at this instant leaves on disk of a live store: its
/// [`live_copy`], less the zeros written ahead.
pub fn crash_image(src: &Path) -> tempfile::TempDir {
    let dst = live_copy(src);
    for seg in segments(dst.path()) {
        strip_preallocation(&seg);
    }
    dst
}

/// Frame start offsets of an unsealed segment without zeros written ahead.
pub fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut p = SEGMENT_HEADER_LEN;
    while p + FRAME_PREFIX_LEN <= bytes.len() {
        starts.push(p);
        p += FRAME_PREFIX_LEN + body_len(bytes, p);
    }
    assert_eq!(p, bytes.len());
    starts
}

/// Splits an unsealed segment into its header and decoded frame bodies
/// (stopping at zeros written ahead).
pub fn frames(bytes: &[u8]) -> (Vec<u8>, Vec<rmpv::Value>) {
    let mut p = SEGMENT_HEADER_LEN;
    let mut out = Vec::new();
    while p < bytes.len() {
        let len = body_len(bytes, p);
        if len == 0 {
            assert!(bytes[p..].iter().all(|&b| b == 0));
            break;
        }
        let start = p + FRAME_PREFIX_LEN;
        let mut body = &bytes[start..start + len];
        out.push(rmpv::decode::read_value(&mut body).unwrap());
        assert!(body.is_empty());
        p = start + len;
    }
    (bytes[..SEGMENT_HEADER_LEN].to_vec(), out)
}

/// Where the footer of a sealed segment lies; the trailer follows it.
pub fn footer_span(bytes: &[u8]) -> Range<usize> {
    let end = bytes.len() - TRAILER_LEN;
    end - body_len(bytes, end)..end
}

/// A footer body followed by its trailer `[len u32 LE][crc32 u32 LE][FOOTER_MAGIC]`.
pub fn footer_with_trailer(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    out.extend_from_slice(&FOOTER_MAGIC);
    out
}

/// Splits a sealed segment into header, decoded frames, and footer + trailer.
pub fn sealed_parts(bytes: &[u8]) -> (Vec<u8>, Vec<rmpv::Value>, Vec<u8>) {
    let frames_end = footer_span(bytes).start;
    let (hdr, fs) = frames(&bytes[..frames_end]);
    (hdr, fs, bytes[frames_end..].to_vec())
}

/// Re-encodes frames as `[len u32 LE][crc32 u32 LE][body]`: what an attacker
/// who knows the format writes.
pub fn reassemble(header: &[u8], frames: &[rmpv::Value]) -> Vec<u8> {
    let mut out = header.to_vec();
    for f in frames {
        let mut body = Vec::new();
        rmpv::encode::write_value(&mut body, f).unwrap();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// Rewrites the frames of the one unsealed segment in `dir` with `edit`,
/// fixing up every CRC.
pub fn rewrite_frames(dir: &Path, edit: impl FnOnce(&mut Vec<rmpv::Value>)) {
    let seg = only_segment(dir);
    let (hdr, mut fs) = frames(&std::fs::read(&seg).unwrap());
    edit(&mut fs);
    std::fs::write(&seg, reassemble(&hdr, &fs)).unwrap();
}

/// Field `i` of a decoded frame body.
pub fn field(frame: &mut rmpv::Value, i: usize) -> &mut rmpv::Value {
    match frame {
        rmpv::Value::Array(a) => &mut a[i],
        _ => panic!("a frame body is an array"),
    }
}
