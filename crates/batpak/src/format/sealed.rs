//! A sealed payload (payload encryption): the bytes a frame stores in place
//! of the caller's MessagePack, and the associated data its tag covers.
//!
//! `[marker 0xC1][version u8][key number u64][nonce 24][ciphertext][tag 16]`,
//! integers little-endian. `0xC1` is the one byte MessagePack never uses,
//! so no plaintext payload starts with it: a reader tells sealed from plain
//! payloads by their first byte, whatever the store's configuration.
//!
//! The associated data (never stored) is
//! `"batpak/sealed/v1\n" ‖ marker ‖ version ‖ key number ‖ event id (16, big-endian)
//! ‖ kind u16 ‖ entity length u32 ‖ entity ‖ scope length u32 ‖ scope`: a
//! sealed payload moved onto another event, entity, scope or kind fails
//! to open.

// Without the feature only the decoders that let a build refuse or report
// an encrypted store are used; the rest is compiled (and tested) all the same.
#![cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]

use super::error::DecodeError;
use super::reader::Reader;
use super::{len_u32, to_u64};
use crate::coordinate::Coordinate;
use crate::id::EventId;
use crate::kind::EventKind;

/// First byte of every sealed payload (a byte no MessagePack value starts with).
pub const SEALED_PAYLOAD_MARKER: u8 = 0xC1;
/// Version of the sealed payload layout.
pub const SEALED_PAYLOAD_VERSION: u8 = 1;
/// Bytes of the nonce (XChaCha20-Poly1305: 192 bits).
pub(crate) const NONCE_LEN: usize = 24;
/// Bytes of the authentication tag.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes of marker, version and key number: what the associated data repeats.
const BOUND_LEN: usize = 1 + 1 + 8;
/// Bytes before the ciphertext.
pub(crate) const SEALED_PREFIX_LEN: usize = BOUND_LEN + NONCE_LEN;
/// Bytes a sealed payload adds to its plaintext.
pub const SEALED_OVERHEAD: usize = SEALED_PREFIX_LEN + TAG_LEN;
/// Domain tag at the start of the associated data.
const AAD_DOMAIN: &[u8] = b"batpak/sealed/v1\n";

/// True when a stored payload is sealed (starts with the marker).
pub(crate) fn is_sealed(payload: &[u8]) -> bool {
    payload.first() == Some(&SEALED_PAYLOAD_MARKER)
}

/// The parts of a sealed payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SealedView<'a> {
    /// Which key of its scope sealed it (keys are numbered per keyset).
    pub(crate) key_number: u64,
    pub(crate) nonce: [u8; NONCE_LEN],
    /// Ciphertext, as long as the plaintext.
    pub(crate) ciphertext: &'a [u8],
    pub(crate) tag: [u8; TAG_LEN],
}

/// Writes the prefix of a sealed payload; the ciphertext and tag follow.
pub(crate) fn encode_sealed_prefix(out: &mut Vec<u8>, key_number: u64, nonce: &[u8; NONCE_LEN]) {
    out.push(SEALED_PAYLOAD_MARKER);
    out.push(SEALED_PAYLOAD_VERSION);
    out.extend_from_slice(&key_number.to_le_bytes());
    out.extend_from_slice(nonce);
}

/// Splits a sealed payload into its parts.
pub(crate) fn decode_sealed(b: &[u8]) -> Result<SealedView<'_>, DecodeError> {
    if b.len() < SEALED_OVERHEAD {
        return Err(DecodeError::Truncated {
            offset: 0,
            needed: to_u64(SEALED_OVERHEAD),
        });
    }
    let mut r = Reader::new(b);
    let [marker, version] = r.fixed::<2>()?;
    if marker != SEALED_PAYLOAD_MARKER {
        return Err(DecodeError::BadMagic {
            offset: 0,
            expected: &[SEALED_PAYLOAD_MARKER],
        });
    }
    if version != SEALED_PAYLOAD_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: u16::from(version),
            supported: u16::from(SEALED_PAYLOAD_VERSION),
        });
    }
    let key_number = r.le_u64()?;
    let nonce = r.fixed::<NONCE_LEN>()?;
    let ciphertext = r.take(b.len() - SEALED_OVERHEAD)?;
    let tag = r.fixed::<TAG_LEN>()?;
    r.finish()?;
    Ok(SealedView {
        key_number,
        nonce,
        ciphertext,
        tag,
    })
}

/// The associated data that binds a sealed payload to its event.
pub(crate) fn sealed_aad(
    key_number: u64,
    coordinate: &Coordinate,
    kind: EventKind,
    event_id: EventId,
) -> Vec<u8> {
    let (entity, scope) = (coordinate.entity(), coordinate.scope());
    let mut b =
        Vec::with_capacity(AAD_DOMAIN.len() + BOUND_LEN + 16 + 2 + 8 + entity.len() + scope.len());
    b.extend_from_slice(AAD_DOMAIN);
    b.push(SEALED_PAYLOAD_MARKER);
    b.push(SEALED_PAYLOAD_VERSION);
    b.extend_from_slice(&key_number.to_le_bytes());
    b.extend_from_slice(&event_id.to_bytes());
    b.extend_from_slice(&kind.as_u16().to_le_bytes());
    b.extend_from_slice(&len_u32(entity.len()).to_le_bytes());
    b.extend_from_slice(entity.as_bytes());
    b.extend_from_slice(&len_u32(scope.len()).to_le_bytes());
    b.extend_from_slice(scope.as_bytes());
    b
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample(body: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        encode_sealed_prefix(&mut b, 0x0102_0304_0506_0708, &[9; NONCE_LEN]);
        b.extend_from_slice(body);
        b.extend_from_slice(&[7; TAG_LEN]);
        b
    }

    #[test]
    fn the_layout_is_exact() {
        let b = sample(b"abc");
        assert_eq!(b.len(), SEALED_OVERHEAD + 3);
        assert_eq!(&b[..2], &[0xC1, 1]);
        assert_eq!(&b[2..10], &0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(&b[10..34], &[9; 24]);
        assert_eq!(&b[34..37], b"abc");
        assert_eq!(&b[37..], &[7; 16]);
        let v = decode_sealed(&b).unwrap();
        assert_eq!(v.key_number, 0x0102_0304_0506_0708);
        assert_eq!(
            (v.ciphertext, v.nonce, v.tag),
            (&b"abc"[..], [9; 24], [7; 16])
        );
        assert_eq!(decode_sealed(&sample(b"")).unwrap().ciphertext, b"");
    }

    #[test]
    fn every_prefix_and_a_wrong_marker_or_version_is_refused() {
        let b = sample(b"xy");
        for cut in 0..SEALED_OVERHEAD {
            assert!(
                matches!(decode_sealed(&b[..cut]), Err(DecodeError::Truncated { .. })),
                "{cut}"
            );
        }
        let mut bad = b.clone();
        bad[0] = 0x92;
        assert!(matches!(
            decode_sealed(&bad),
            Err(DecodeError::BadMagic { .. })
        ));
        let mut bad = b;
        bad[1] = 2;
        assert!(matches!(
            decode_sealed(&bad),
            Err(DecodeError::UnsupportedVersion { found: 2, .. })
        ));
    }

    #[test]
    fn no_messagepack_value_looks_sealed() {
        for v in [
            serde_json::json!(null),
            serde_json::json!({"a": 1}),
            serde_json::json!([1, 2]),
            serde_json::json!("s"),
            serde_json::json!(-1),
            serde_json::json!(1.5),
        ] {
            assert!(!is_sealed(&rmp_serde::to_vec_named(&v).unwrap()), "{v}");
        }
        assert!(!is_sealed(&[]));
        assert!(is_sealed(&sample(b"")));
    }

    #[test]
    fn the_associated_data_names_every_binding() {
        let c = Coordinate::new("e", "sc").unwrap();
        let k = EventKind::custom(0xE, 2);
        let id = EventId::from_u128(5);
        let aad = sealed_aad(3, &c, k, id);
        let mut want = b"batpak/sealed/v1\n".to_vec();
        want.extend_from_slice(&[0xC1, 1]);
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(&id.to_bytes());
        want.extend_from_slice(&k.as_u16().to_le_bytes());
        want.extend_from_slice(&[1, 0, 0, 0, b'e', 2, 0, 0, 0, b's', b'c']);
        assert_eq!(aad, want);
        let other = Coordinate::new("e", "sd").unwrap();
        assert_ne!(aad, sealed_aad(3, &other, k, id));
        assert_ne!(aad, sealed_aad(4, &c, k, id));
        assert_ne!(aad, sealed_aad(3, &c, EventKind::custom(0xE, 3), id));
        assert_ne!(aad, sealed_aad(3, &c, k, EventId::from_u128(6)));
    }
}
