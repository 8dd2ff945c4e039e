//! Helpers shared by the behaviour tests: crash images of live stores, and
//! frame-level surgery that follows the documented layout (docs/FORMAT.md).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::{Path, PathBuf};

/// Offset of the first frame: the segment header's length.
pub const HEADER_LEN: usize = 32;

/// Cuts the zeros the writer writes ahead of its frames, so a test can reason
/// about the frames alone.
pub fn strip_preallocation(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let mut p = HEADER_LEN;
    while p + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        if len == 0 || p + 8 + len > bytes.len() {
            break;
        }
        p += 8 + len;
    }
    if bytes[p..].iter().all(|&b| b == 0) {
        std::fs::write(path, &bytes[..p]).unwrap();
    }
}

/// Copies the segment files (and the idempotency sidecar) of a live store:
/// what a crash at this instant leaves on disk, less the zeros written ahead.
pub fn crash_image(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(".seg") || name == "IDEMPOTENCY" {
            let to = dst.path().join(&name);
            std::fs::copy(e.path(), &to).unwrap();
            if name.ends_with(".seg") {
                strip_preallocation(&to);
            }
        }
    }
    dst
}

/// Segment files of a directory, in order.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
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

/// Frame start offsets of an unsealed segment without zeros written ahead.
pub fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut p = HEADER_LEN;
    while p + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        starts.push(p);
        p += 8 + len;
    }
    assert_eq!(p, bytes.len());
    starts
}

/// Splits an unsealed segment into its header and decoded frame bodies
/// (stopping at zeros written ahead).
pub fn frames(bytes: &[u8]) -> (Vec<u8>, Vec<rmpv::Value>) {
    let mut p = HEADER_LEN;
    let mut out = Vec::new();
    while p < bytes.len() {
        let len = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        if len == 0 {
            assert!(bytes[p..].iter().all(|&b| b == 0));
            break;
        }
        let mut body = &bytes[p + 8..p + 8 + len];
        out.push(rmpv::decode::read_value(&mut body).unwrap());
        assert!(body.is_empty());
        p += 8 + len;
    }
    (bytes[..HEADER_LEN].to_vec(), out)
}

/// Splits a sealed segment into header, decoded frames, and footer + trailer.
pub fn sealed_parts(bytes: &[u8]) -> (Vec<u8>, Vec<rmpv::Value>, Vec<u8>) {
    let n = bytes.len();
    let footer_len = u32::from_le_bytes(bytes[n - 16..n - 12].try_into().unwrap()) as usize;
    let frames_end = n - 16 - footer_len;
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

/// Field `i` of a decoded frame body.
pub fn field(frame: &mut rmpv::Value, i: usize) -> &mut rmpv::Value {
    match frame {
        rmpv::Value::Array(a) => &mut a[i],
        _ => panic!("a frame body is an array"),
    }
}
