//! The compaction marker (`COMPACTION`): the one atomic switch of a
//! compaction, naming the segments it replaces and the segments that
//! replace them.
//!
//! `[magic 8][version u16][strategy u8][0 u8][source count u32][output count u32]`,
//! then each source id (u64), then each output `[id u64][length u64]`, then a
//! crc32 of every byte before it; integers little-endian.
//!
//! While the marker exists the outputs are durable under their temporary
//! names (`<segment name>`[`COMPACTING_SUFFIX`]); the next open with write
//! access completes the switch (removes the sources, renames the outputs)
//! and removes the marker. Without a marker, temporary outputs are the
//! leftovers of a compaction that never switched, and are removed.

use super::check_crc;
use super::error::DecodeError;
use super::reader::Reader;

/// Magic of the compaction marker.
pub const COMPACTION_MAGIC: [u8; 8] = *b"BPKCMPCT";
/// Version of the compaction marker format.
pub const COMPACTION_VERSION: u16 = 1;
/// Name of the compaction marker in a data directory.
pub const COMPACTION_FILE: &str = "COMPACTION";
/// Suffix of an output segment before the switch: `<segment name>.compacting`.
pub const COMPACTING_SUFFIX: &str = ".compacting";
/// Most segments one marker may name on either side.
pub(crate) const MAX_MARKER_SEGMENTS: usize = 1 << 20;
const FIXED_LEN: usize = 20;

/// What a compaction marker records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CompactionMarker {
    /// 0 merge, 1 retention, 2 tombstone: for the report of a finish at open.
    pub(crate) strategy: u8,
    /// Segments the compaction replaces, in id order.
    pub(crate) sources: Vec<u64>,
    /// `(id, length)` of each output, in id order. Each output takes the id
    /// of the first source it replaces, so segment order is kept.
    pub(crate) outputs: Vec<(u64, u64)>,
}

/// Encodes a compaction marker.
pub(crate) fn encode_compaction_marker(m: &CompactionMarker) -> Vec<u8> {
    let mut b = Vec::with_capacity(FIXED_LEN + m.sources.len() * 8 + m.outputs.len() * 16 + 4);
    b.extend_from_slice(&COMPACTION_MAGIC);
    b.extend_from_slice(&COMPACTION_VERSION.to_le_bytes());
    b.push(m.strategy);
    b.push(0);
    b.extend_from_slice(&super::len_u32(m.sources.len()).to_le_bytes());
    b.extend_from_slice(&super::len_u32(m.outputs.len()).to_le_bytes());
    for id in &m.sources {
        b.extend_from_slice(&id.to_le_bytes());
    }
    for (id, len) in &m.outputs {
        b.extend_from_slice(&id.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a compaction marker.
pub(crate) fn decode_compaction_marker(b: &[u8]) -> Result<CompactionMarker, DecodeError> {
    let mut r = Reader::new(b);
    r.magic(&COMPACTION_MAGIC)?;
    let version = r.le_u16()?;
    if version != COMPACTION_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: COMPACTION_VERSION,
        });
    }
    let strategy_at = r.offset();
    let strategy = r.fixed::<1>()?[0];
    let _reserved = r.fixed::<1>()?;
    let count_at = r.offset();
    let sources_n = r.le_u32()? as usize;
    let outputs_n = r.le_u32()? as usize;
    if sources_n > MAX_MARKER_SEGMENTS || outputs_n > sources_n {
        return Err(DecodeError::OutOfRange {
            offset: count_at,
            field: "compaction segment count",
        });
    }
    if strategy > 2 {
        return Err(DecodeError::OutOfRange {
            offset: strategy_at,
            field: "compaction strategy",
        });
    }
    let body_len = FIXED_LEN + sources_n * 8 + outputs_n * 16;
    if b.len() < body_len + 4 {
        return Err(DecodeError::Truncated {
            offset: super::to_u64(b.len()),
            needed: super::to_u64(body_len + 4),
        });
    }
    let sources = (0..sources_n)
        .map(|_| r.le_u64())
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = (0..outputs_n)
        .map(|_| Ok((r.le_u64()?, r.le_u64()?)))
        .collect::<Result<Vec<_>, DecodeError>>()?;
    let stored = r.le_u32()?;
    r.finish()?;
    check_crc(0, &b[..body_len], stored)?;
    let sorted = |ids: &mut dyn Iterator<Item = u64>| {
        let v: Vec<u64> = ids.collect();
        v.windows(2).all(|w| w[0] < w[1])
    };
    let outputs_are_sources = outputs.iter().all(|(id, _)| sources.contains(id));
    if !sorted(&mut sources.iter().copied())
        || !sorted(&mut outputs.iter().map(|o| o.0))
        || !outputs_are_sources
    {
        return Err(DecodeError::Unexpected {
            offset: super::to_u64(FIXED_LEN),
            expected: "ascending source ids, and outputs named after sources",
        });
    }
    Ok(CompactionMarker {
        strategy,
        sources,
        outputs,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> CompactionMarker {
        CompactionMarker {
            strategy: 2,
            sources: vec![1, 2, 3, 7],
            outputs: vec![(1, 4096), (7, 100)],
        }
    }

    #[test]
    fn marker_roundtrip_and_every_damage_is_refused() {
        let m = sample();
        let b = encode_compaction_marker(&m);
        assert_eq!(&b[..8], b"BPKCMPCT");
        assert_eq!(b.len(), FIXED_LEN + 4 * 8 + 2 * 16 + 4);
        assert_eq!(decode_compaction_marker(&b).unwrap(), m);
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x40;
            assert!(decode_compaction_marker(&bad).is_err(), "flip at {i}");
        }
        for n in 0..b.len() {
            assert!(decode_compaction_marker(&b[..n]).is_err(), "cut at {n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode_compaction_marker(&longer).is_err());
    }

    #[test]
    fn outputs_must_be_named_after_sources_in_order() {
        for m in [
            CompactionMarker {
                outputs: vec![(5, 1)],
                ..sample()
            },
            CompactionMarker {
                sources: vec![2, 1],
                outputs: vec![],
                ..sample()
            },
            CompactionMarker {
                outputs: vec![(7, 1), (1, 1)],
                ..sample()
            },
        ] {
            let b = encode_compaction_marker(&m);
            assert!(matches!(
                decode_compaction_marker(&b),
                Err(DecodeError::Unexpected { .. })
            ));
        }
    }
}
