//! A cached projection state (`projections/<hex>.proj`).
//!
//! `[magic 8][version u16][reserved u16][key 32][last global sequence u64][last event id 16]`
//! `[entity_len u16][entity][state_len u32][state][crc32 u32]`, integers
//! little-endian, the CRC over every byte before it.

use super::error::DecodeError;
use super::reader::Reader;
use super::{check_crc, len_u32, split_crc, SIDECAR_CRC_LEN};
use crate::id::EventId;

/// Magic of a cached projection state file.
pub const PROJECTION_MAGIC: [u8; 8] = *b"BPKPROJ1";
/// Version of the cached projection state format.
pub const PROJECTION_VERSION: u16 = 1;
/// Fixed part of a projection state file, before the entity name.
const PROJ_HEADER_LEN: usize = 8 + 2 + 2 + 32 + 8 + 16 + 2;
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

/// Encodes a cached projection state.
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
    let (body, stored) = split_crc(b, PROJ_HEADER_LEN + PROJ_STATE_LEN)?;
    let mut r = Reader::new(body);
    r.magic(&PROJECTION_MAGIC)?;
    check_crc(0, body, stored)?;
    let version = r.le_u16()?;
    if version != PROJECTION_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: PROJECTION_VERSION,
        });
    }
    let _reserved = r.le_u16()?;
    let key = r.fixed::<32>()?;
    let last_global_sequence = r.le_u64()?;
    let last_event_id = EventId::from_bytes(r.fixed()?);
    let entity_len = usize::from(r.le_u16()?);
    let entity_at = r.offset();
    let entity = r.take(entity_len)?;
    let state_at = r.offset();
    let state_len = usize::try_from(r.le_u32()?).map_err(|_| DecodeError::OutOfRange {
        offset: state_at,
        field: "projection state length",
    })?;
    let state = r.take(state_len)?;
    r.finish()?;
    let entity = std::str::from_utf8(entity).map_err(|_| DecodeError::Unexpected {
        offset: entity_at,
        expected: "a UTF-8 entity name",
    })?;
    Ok(ProjectionRecord {
        key,
        entity: entity.to_owned(),
        last_global_sequence,
        last_event_id,
        state: state.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Offset of the entity length field.
    const PROJ_ENTITY_LEN: usize = PROJ_HEADER_LEN - 2;

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
            assert!(
                matches!(
                    decode_projection(&b[..n]),
                    Err(DecodeError::Truncated { .. })
                ),
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
}
