//! The operation-name grammar, checked in one place.

use std::sync::Arc;

/// Longest operation name, in bytes.
pub const MAX_OPERATION_NAME_BYTES: usize = 128;

/// A validated operation name: 1 to [`MAX_OPERATION_NAME_BYTES`] bytes of
/// ASCII `[A-Za-z0-9._-]`, no leading or trailing dot, no empty dot segment.
///
/// ```
/// use syncbat::{OperationName, OperationNameError};
/// assert_eq!(OperationName::new("bank.deposit")?.as_str(), "bank.deposit");
/// assert_eq!(OperationName::new("bank..deposit"), Err(OperationNameError::EmptySegment { at: 5 }));
/// # Ok::<(), OperationNameError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationName(Arc<str>);

/// Why a string is not an operation name. Each case is its own variant.
///
/// ```
/// use syncbat::{OperationName, OperationNameError};
/// assert_eq!(OperationName::new(""), Err(OperationNameError::Empty));
/// assert_eq!(OperationName::new(".a"), Err(OperationNameError::LeadingDot));
/// assert_eq!(OperationName::new("a."), Err(OperationNameError::TrailingDot));
/// assert_eq!(OperationName::new("a b"), Err(OperationNameError::IllegalByte { byte: b' ', at: 1 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum OperationNameError {
    /// The name is empty.
    #[error("operation name is empty")]
    Empty,
    /// The name is longer than [`MAX_OPERATION_NAME_BYTES`].
    #[error("operation name is {len} bytes, over the limit of {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A byte outside `[A-Za-z0-9._-]`.
    #[error("operation name has byte {byte:#04x} at offset {at}; allowed are A-Z a-z 0-9 . _ -")]
    IllegalByte {
        /// The first offending byte.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// The name starts with a dot.
    #[error("operation name starts with '.'")]
    LeadingDot,
    /// The name ends with a dot.
    #[error("operation name ends with '.'")]
    TrailingDot,
    /// Two dots in a row: an empty segment.
    #[error("operation name has an empty segment (\"..\") at offset {at}")]
    EmptySegment {
        /// Offset of the second dot.
        at: usize,
    },
}

impl OperationName {
    /// Longest name, in bytes.
    pub const MAX_BYTES: usize = MAX_OPERATION_NAME_BYTES;

    /// Checks `value` against the grammar.
    pub fn new(value: impl AsRef<str>) -> Result<Self, OperationNameError> {
        let value = value.as_ref();
        check(value)?;
        Ok(Self(Arc::from(value)))
    }

    /// The name.
    ///
    /// ```
    /// # use syncbat::OperationName;
    /// assert_eq!(OperationName::new("ping").unwrap().as_str(), "ping");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for OperationName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OperationName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for OperationName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The grammar itself; `OperationName::new` and descriptor validation share it.
pub(crate) fn check(value: &str) -> Result<(), OperationNameError> {
    check_token(value, MAX_OPERATION_NAME_BYTES)
}

/// The dotted-token grammar with a length limit: names use 128 bytes,
/// schema references and effect targets 256.
pub(crate) fn check_token(value: &str, max: usize) -> Result<(), OperationNameError> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return Err(OperationNameError::Empty);
    }
    if bytes.len() > max {
        return Err(OperationNameError::TooLong {
            len: bytes.len(),
            max,
        });
    }
    let mut prev_dot = false;
    for (at, &byte) in bytes.iter().enumerate() {
        let dot = byte == b'.';
        if !(dot || byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-') {
            return Err(OperationNameError::IllegalByte { byte, at });
        }
        if dot && at == 0 {
            return Err(OperationNameError::LeadingDot);
        }
        if dot && prev_dot {
            return Err(OperationNameError::EmptySegment { at });
        }
        prev_dot = dot;
    }
    if prev_dot {
        return Err(OperationNameError::TrailingDot);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn accepts_the_grammar_and_its_boundaries() {
        for ok in ["a", "0", "-", "_", "bank.deposit", "a-b_c.D9", "x.y.z"] {
            assert_eq!(OperationName::new(ok).unwrap().as_str(), ok);
        }
        let longest = "a".repeat(MAX_OPERATION_NAME_BYTES);
        assert!(OperationName::new(&longest).is_ok());
    }

    #[test]
    fn each_violation_has_its_own_error() {
        use OperationNameError as E;
        let long = "a".repeat(MAX_OPERATION_NAME_BYTES + 1);
        let cases: [(&str, E); 9] = [
            ("", E::Empty),
            (&long, E::TooLong { len: 129, max: 128 }),
            (".", E::LeadingDot),
            (".a", E::LeadingDot),
            ("a.", E::TrailingDot),
            ("a..b", E::EmptySegment { at: 2 }),
            ("a/b", E::IllegalByte { byte: b'/', at: 1 }),
            ("é", E::IllegalByte { byte: 0xC3, at: 0 }),
            ("a b", E::IllegalByte { byte: b' ', at: 1 }),
        ];
        for (input, expected) in cases {
            assert_eq!(OperationName::new(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn limit_is_a_parameter_of_the_token_grammar() {
        let s = "a".repeat(200);
        assert!(check(&s).is_err());
        assert!(check_token(&s, 256).is_ok());
        assert_eq!(
            check_token(&"a".repeat(257), 256),
            Err(OperationNameError::TooLong { len: 257, max: 256 })
        );
    }

    #[test]
    fn display_and_borrow_give_the_name() {
        let n = OperationName::new("a.b").unwrap();
        assert_eq!(n.to_string(), "a.b");
        let s: &str = std::borrow::Borrow::borrow(&n);
        assert_eq!(s, "a.b");
        assert_eq!(n.as_ref(), "a.b");
    }
}
