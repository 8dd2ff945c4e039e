//! Why bytes did not decode.

/// Why bytes did not decode as the structure they should hold.
///
/// Every variant that points at bytes names the `offset` where the problem
/// was found, counted from the start of the structure being decoded (a
/// [`SegmentReader`](super::SegmentReader) counts from the start of the
/// segment file instead).
///
/// ```
/// use batpak::format::{DecodeError, SegmentReader};
///
/// let err = SegmentReader::from_bytes(b"BATPAK".to_vec()).unwrap_err();
/// assert!(matches!(err, DecodeError::Truncated { offset: 0, needed: 32 }));
/// assert_eq!(err.to_string(), "truncated: 32 bytes needed at byte 0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a value that starts at `offset` and needs `needed` bytes.
    #[error("truncated: {needed} bytes needed at byte {offset}")]
    Truncated {
        /// Where the value that runs short starts.
        offset: u64,
        /// Bytes the value needs from `offset`.
        needed: u64,
    },
    /// The structure does not start with its magic bytes.
    #[error(
        "bad magic at byte {offset}: expected {}",
        String::from_utf8_lossy(expected)
    )]
    BadMagic {
        /// Where the magic should be.
        offset: u64,
        /// The magic the structure starts with.
        expected: &'static [u8],
    },
    /// The structure is of a version this build does not read.
    #[error("unsupported version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version the bytes declare.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The bytes do not match their stored CRC-32.
    #[error("CRC mismatch at byte {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// The first byte the checksum covers.
        offset: u64,
        /// The checksum stored beside the bytes.
        stored: u32,
        /// The checksum of the bytes as read.
        computed: u32,
    },
    /// A value of another type or shape than the layout has at this position.
    #[error("at byte {offset}: expected {expected}")]
    Unexpected {
        /// Where the value starts.
        offset: u64,
        /// What the layout has at this position.
        expected: &'static str,
    },
    /// A number outside the range of its field.
    #[error("at byte {offset}: {field} out of range")]
    OutOfRange {
        /// Where the value starts.
        offset: u64,
        /// The field it was read for.
        field: &'static str,
    },
    /// Fields that each decode but contradict each other.
    #[error("at byte {offset}: {problem}")]
    Inconsistent {
        /// Where the check was made.
        offset: u64,
        /// What does not agree.
        problem: &'static str,
    },
    /// Bytes left over after the end of the structure.
    #[error("{extra} trailing bytes at byte {offset}")]
    TrailingBytes {
        /// Where the structure ended.
        offset: u64,
        /// How many bytes follow it.
        extra: u64,
    },
}

impl DecodeError {
    /// Where the problem is (`None` for a version, which has no offset).
    pub(crate) fn offset(&self) -> Option<u64> {
        match self {
            Self::Truncated { offset, .. }
            | Self::BadMagic { offset, .. }
            | Self::CrcMismatch { offset, .. }
            | Self::Unexpected { offset, .. }
            | Self::OutOfRange { offset, .. }
            | Self::Inconsistent { offset, .. }
            | Self::TrailingBytes { offset, .. } => Some(*offset),
            Self::UnsupportedVersion { .. } => None,
        }
    }

    /// The same error with its offset moved `by` bytes further (for a
    /// structure decoded from inside a larger buffer).
    pub(crate) fn shifted(self, by: u64) -> Self {
        let at = |offset: u64| offset.saturating_add(by);
        match self {
            Self::Truncated { offset, needed } => Self::Truncated {
                offset: at(offset),
                needed,
            },
            Self::BadMagic { offset, expected } => Self::BadMagic {
                offset: at(offset),
                expected,
            },
            Self::CrcMismatch {
                offset,
                stored,
                computed,
            } => Self::CrcMismatch {
                offset: at(offset),
                stored,
                computed,
            },
            Self::Unexpected { offset, expected } => Self::Unexpected {
                offset: at(offset),
                expected,
            },
            Self::OutOfRange { offset, field } => Self::OutOfRange {
                offset: at(offset),
                field,
            },
            Self::Inconsistent { offset, problem } => Self::Inconsistent {
                offset: at(offset),
                problem,
            },
            Self::TrailingBytes { offset, extra } => Self::TrailingBytes {
                offset: at(offset),
                extra,
            },
            e @ Self::UnsupportedVersion { .. } => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_offsets_and_expectations() {
        let crc = DecodeError::CrcMismatch {
            offset: 8,
            stored: 1,
            computed: 0xabcd,
        };
        assert_eq!(
            crc.to_string(),
            "CRC mismatch at byte 8: stored 0x00000001, computed 0x0000abcd"
        );
        let magic = DecodeError::BadMagic {
            offset: 0,
            expected: b"BATPAKSG",
        };
        assert_eq!(magic.to_string(), "bad magic at byte 0: expected BATPAKSG");
        assert_eq!(
            DecodeError::TrailingBytes {
                offset: 32,
                extra: 1
            }
            .to_string(),
            "1 trailing bytes at byte 32"
        );
    }

    #[test]
    fn shifting_moves_every_offset_but_not_versions() {
        let v = DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1,
        };
        assert_eq!(v.clone().shifted(10), v);
        assert_eq!(
            DecodeError::Truncated {
                offset: 1,
                needed: 4
            }
            .shifted(10),
            DecodeError::Truncated {
                offset: 11,
                needed: 4
            }
        );
        assert_eq!(
            DecodeError::OutOfRange {
                offset: u64::MAX,
                field: "x"
            }
            .shifted(1),
            DecodeError::OutOfRange {
                offset: u64::MAX,
                field: "x"
            }
        );
    }
}
