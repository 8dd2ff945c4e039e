//! Hex fields: lowercase out, either case in, bounded before allocation.

use crate::error::Malformation;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Why a hex field was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HexError {
    /// Odd length (`hex input has odd length`).
    OddLength,
    /// More decoded bytes than allowed.
    TooLarge,
    /// A byte outside `[0-9a-fA-F]` (`input is not hex`).
    NotHex,
}

impl HexError {
    /// The malformation of the grammar errors; `TooLarge` maps per field.
    pub(crate) fn malformation(self) -> Option<Malformation> {
        match self {
            Self::OddLength => Some(Malformation::HexOddLength),
            Self::NotHex => Some(Malformation::NotHex),
            Self::TooLarge => None,
        }
    }
}

/// Appends the lowercase hex of `bytes` to `out`.
pub fn encode_hex_into(bytes: &[u8], out: &mut Vec<u8>) {
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0f)]);
    }
}

/// The lowercase hex of `bytes`.
///
/// ```
/// assert_eq!(netbat::encode_hex(&[0xde, 0xad]), "dead");
/// ```
#[must_use]
pub fn encode_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|byte| {
            [
                char::from(DIGITS[usize::from(byte >> 4)]),
                char::from(DIGITS[usize::from(byte & 0x0f)]),
            ]
        })
        .collect()
}

/// Decodes hex of either case, refusing more than `max` decoded bytes.
///
/// The checks run in a fixed order (odd length, size, digits) so that the
/// error a peer sees does not depend on where in the field the fault is.
pub(crate) fn decode_hex_bounded(field: &[u8], max: usize) -> Result<Vec<u8>, HexError> {
    if field.len() % 2 != 0 {
        return Err(HexError::OddLength);
    }
    if field.len() / 2 > max {
        return Err(HexError::TooLarge);
    }
    let mut out = Vec::with_capacity(field.len() / 2);
    for pair in field.chunks_exact(2) {
        let (Some(high), Some(low)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(HexError::NotHex);
        };
        out.push((high << 4) + low);
    }
    Ok(out)
}

/// Decodes hex of either case, without a size bound.
///
/// ```
/// assert_eq!(netbat::decode_hex(b"DEad"), Some(vec![0xde, 0xad]));
/// assert_eq!(netbat::decode_hex(b"abc"), None);
/// ```
#[must_use]
pub fn decode_hex(field: &[u8]) -> Option<Vec<u8>> {
    decode_hex_bounded(field, usize::MAX).ok()
}

fn nibble(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lowercase_out_either_case_in() {
        assert_eq!(encode_hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        let mut out = b"x".to_vec();
        encode_hex_into(&[0xAB], &mut out);
        assert_eq!(out, b"xab");
        assert_eq!(decode_hex_bounded(b"ABcd09", 3), Ok(vec![0xab, 0xcd, 0x09]));
        assert_eq!(decode_hex_bounded(b"", 0), Ok(vec![]));
    }

    #[test]
    fn refusals_in_order() {
        assert_eq!(decode_hex_bounded(b"abc", 10), Err(HexError::OddLength));
        assert_eq!(decode_hex_bounded(b"zzz", 0), Err(HexError::OddLength));
        assert_eq!(decode_hex_bounded(b"zzzz", 1), Err(HexError::TooLarge));
        assert_eq!(decode_hex_bounded(b"abcd", 1), Err(HexError::TooLarge));
        assert_eq!(decode_hex_bounded(b"abcd", 2), Ok(vec![0xab, 0xcd]));
        assert_eq!(decode_hex_bounded(b"0g", 1), Err(HexError::NotHex));
        assert_eq!(decode_hex_bounded(b"g0", 1), Err(HexError::NotHex));
        for byte in [b'/', b':', b'@', b'G', b'`', b'g', b' ', 0x80] {
            assert_eq!(decode_hex_bounded(&[b'0', byte], 1), Err(HexError::NotHex));
        }
        assert_eq!(
            HexError::OddLength.malformation(),
            Some(Malformation::HexOddLength)
        );
        assert_eq!(HexError::NotHex.malformation(), Some(Malformation::NotHex));
        assert_eq!(HexError::TooLarge.malformation(), None);
    }

    proptest! {
        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let text = encode_hex(&bytes);
            let mut into = Vec::new();
            encode_hex_into(&bytes, &mut into);
            prop_assert_eq!(text.as_bytes(), &into[..]);
            prop_assert_eq!(decode_hex_bounded(text.as_bytes(), bytes.len()), Ok(bytes.clone()));
            prop_assert_eq!(decode_hex(text.to_uppercase().as_bytes()), Some(bytes));
        }
    }
}
