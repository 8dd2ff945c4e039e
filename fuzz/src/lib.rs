//! Helpers shared by the fuzz targets: copies of an input with its checksums
//! recomputed, so a target reaches the decoding past each CRC check as well
//! as the check itself (the raw input is always decoded too).

use batpak::format_constants::{FOOTER_MAGIC, FRAME_PREFIX_LEN, SEGMENT_HEADER_LEN, TRAILER_LEN};

/// Where the CRC-32 of bytes `0..28` sits in a segment header and a
/// sync-failure record.
pub const FIXED_CRC_AT: usize = 28;

/// `data` with the four bytes at `at` replaced by the CRC-32 of the bytes
/// before them; `data` unchanged when it is too short.
pub fn with_crc_at(data: &[u8], at: usize) -> Vec<u8> {
    let mut b = data.to_vec();
    put_crc(&mut b, 0, at);
    b
}

/// `data` with its last four bytes replaced by the CRC-32 of everything
/// before them (the idempotency, checkpoint and projection sidecars).
pub fn with_tail_crc(data: &[u8]) -> Vec<u8> {
    with_crc_at(data, data.len().saturating_sub(4))
}

/// A segment file with every checksum recomputed: the header's, each frame's
/// as far as the frame prefixes chain up to the footer, and the trailer's
/// CRC of the footer when the trailer's length points inside the file.
pub fn with_segment_crcs(file: &[u8]) -> Vec<u8> {
    let mut b = with_crc_at(file, FIXED_CRC_AT);
    let mut frames_end = b.len();
    if b.len() >= SEGMENT_HEADER_LEN + TRAILER_LEN {
        let start = b.len() - TRAILER_LEN;
        if b[start + 8..] == FOOTER_MAGIC {
            let len = u32::from_le_bytes([b[start], b[start + 1], b[start + 2], b[start + 3]]);
            if let Some(at) = start.checked_sub(len as usize) {
                if at >= SEGMENT_HEADER_LEN {
                    let crc = crc32fast::hash(&b[at..start]);
                    b[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
                    frames_end = at;
                }
            }
        }
    }
    let mut pos = SEGMENT_HEADER_LEN;
    while pos + FRAME_PREFIX_LEN <= frames_end {
        let len = u32::from_le_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]) as usize;
        let body = pos + FRAME_PREFIX_LEN;
        let Some(end) = body.checked_add(len).filter(|e| *e <= frames_end) else {
            break;
        };
        let crc = crc32fast::hash(&b[body..end]);
        b[pos + 4..body].copy_from_slice(&crc.to_le_bytes());
        pos = end;
    }
    b
}

/// Writes the CRC-32 of `b[from..at]` at `b[at..at + 4]` if it fits.
fn put_crc(b: &mut [u8], from: usize, at: usize) {
    if at.checked_add(4).is_some_and(|end| end <= b.len()) && from <= at {
        let crc = crc32fast::hash(&b[from..at]);
        b[at..at + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use batpak::__fuzz as api;

    /// A decoder entry point: true if the bytes decoded.
    type Decode = fn(&[u8]) -> bool;

    /// Each target's decoder entry point, as the target calls it.
    const TARGETS: [(&str, Decode); 14] = [
        ("frame", api::frame),
        ("frame_body", api::frame_body),
        ("footer", api::footer),
        ("segment", api::segment),
        ("segment_header", api::segment_header),
        ("idempotency", api::idempotency),
        ("sync_failure", api::sync_failure),
        ("checkpoint", api::checkpoint),
        ("projection", api::projection),
        ("index_file", api::index_file),
        ("keyset", api::keyset),
        ("sealed", api::sealed),
        ("compaction_marker", api::compaction_marker),
        ("heads", api::heads),
    ];

    #[test]
    fn every_target_has_seeds_that_decode_and_keep_their_checksums() {
        let seeds = api::seeds();
        for (target, decode) in TARGETS {
            let mine: Vec<&Vec<u8>> = seeds
                .iter()
                .filter(|(t, _)| *t == target)
                .map(|(_, b)| b)
                .collect();
            assert!(mine.len() >= 2, "{target}: {} seeds", mine.len());
            for seed in mine {
                assert!(decode(seed), "{target}: a seed does not decode");
                let fixed = match target {
                    "segment_header" | "sync_failure" => with_crc_at(seed, FIXED_CRC_AT),
                    "idempotency" | "checkpoint" | "projection" => with_tail_crc(seed),
                    "segment" => with_segment_crcs(seed),
                    _ => seed.clone(),
                };
                assert_eq!(
                    &fixed, seed,
                    "{target}: a valid seed's checksums already match"
                );
            }
        }
        for (t, _) in &seeds {
            assert!(TARGETS.iter().any(|(n, _)| n == t), "{t}: seeds, but no target here");
        }
    }

    #[test]
    fn recomputed_checksums_let_damaged_bytes_reach_the_decoders() {
        for (target, seed) in api::seeds() {
            let mut damaged = seed.clone();
            let at = match target {
                "segment_header" | "sync_failure" => FIXED_CRC_AT,
                "idempotency" | "checkpoint" | "projection" => seed.len() - 4,
                _ => continue,
            };
            damaged[at] ^= 0xff;
            let decode = TARGETS.iter().find(|(n, _)| *n == target).map(|(_, d)| *d);
            let Some(decode) = decode else { continue };
            assert!(!decode(&damaged), "{target}: a broken CRC decoded");
            assert!(
                decode(&with_crc_at(&damaged, at)),
                "{target}: fixed CRC refused"
            );
        }
        // A segment whose header, frame and footer checksums are all broken.
        let (_, sealed) = api::seeds()
            .into_iter()
            .filter(|(t, _)| *t == "segment")
            .nth(2)
            .unwrap_or_default();
        let mut damaged = sealed.clone();
        let trailer = damaged.len() - TRAILER_LEN;
        for at in [FIXED_CRC_AT, SEGMENT_HEADER_LEN + 4, trailer + 4] {
            damaged[at] ^= 0xff;
        }
        assert!(!api::segment(&damaged));
        assert_eq!(with_segment_crcs(&damaged), sealed);
    }
}
