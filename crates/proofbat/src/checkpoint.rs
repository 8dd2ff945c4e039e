//! The C2SP `tlog-checkpoint` note text: a log's tree head as three lines.
//!
//! ```text
//! <origin>\n
//! <size, ASCII decimal, no leading zeros>\n
//! <root, standard base64 with padding>\n
//! [<extension line>\n]...
//! ```
//!
//! Extension lines are kept, not refused: they are part of the signed text,
//! so a checkpoint from another log that carries them still parses, and they
//! re-encode byte for byte. Each must be non-empty. batpak writes none.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::hash::Hash;

/// The largest checkpoint text accepted, the same bound as a whole note.
pub const MAX_CHECKPOINT_BYTES: usize = crate::note::MAX_NOTE_BYTES;

/// Why a checkpoint text or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The text is longer than [`MAX_CHECKPOINT_BYTES`].
    #[error("checkpoint of {len} bytes is larger than the maximum of {max}")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The text does not end in a newline.
    #[error("checkpoint text does not end in a newline")]
    NoFinalNewline,
    /// One of the three mandatory lines is missing.
    #[error("checkpoint has no {name} line")]
    MissingLine {
        /// `origin`, `size` or `root`.
        name: &'static str,
    },
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// A line holds a newline or another ASCII control character (below
    /// U+0020), which no note may contain except as a line end.
    #[error("checkpoint line {line} contains a control character")]
    ControlCharacter {
        /// 1-based line number (1 is the origin).
        line: usize,
    },
    /// The size line is not a canonical decimal: empty, a non-digit, or a
    /// leading zero in a number other than 0.
    #[error("checkpoint size is not a canonical decimal")]
    NonCanonicalSize,
    /// The size does not fit in a `u64`.
    #[error("checkpoint size does not fit in 64 bits")]
    SizeOverflow,
    /// The root line is not canonical standard base64 (with padding).
    #[error("checkpoint root is not canonical base64")]
    RootNotBase64,
    /// The root decodes to another length than 32 bytes.
    #[error("checkpoint root is {len} bytes, not 32")]
    RootLength {
        /// Decoded bytes.
        len: usize,
    },
    /// An extension line is empty.
    #[error("checkpoint extension line {line} is empty")]
    EmptyExtension {
        /// 1-based line number.
        line: usize,
    },
}

/// A log's tree head: who (origin), how many leaves (size), which tree (root).
///
/// ```
/// use proofbat::Checkpoint;
/// let checkpoint = Checkpoint::new("example.com/log", 3, [7; 32])?;
/// assert_eq!(
///     checkpoint.body(),
///     "example.com/log\n3\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
/// );
/// assert_eq!(Checkpoint::parse(&checkpoint.body())?, checkpoint);
/// # Ok::<(), proofbat::CheckpointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines. The origin must be non-empty and
    /// free of control characters (a newline would split it into two lines).
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        let origin = origin.into();
        check_origin(&origin)?;
        Ok(Self {
            origin,
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Appends an extension line (non-empty, no control characters).
    ///
    /// ```
    /// use proofbat::{Checkpoint, CheckpointError};
    /// let checkpoint = Checkpoint::new("log", 0, [0; 32])?.with_extension("note")?;
    /// assert_eq!(checkpoint.extensions(), ["note"]);
    /// assert!(checkpoint.body().ends_with("=\nnote\n"));
    /// assert_eq!(
    ///     Checkpoint::new("log", 0, [0; 32])?.with_extension(""),
    ///     Err(CheckpointError::EmptyExtension { line: 4 })
    /// );
    /// # Ok::<(), CheckpointError>(())
    /// ```
    pub fn with_extension(mut self, line: impl Into<String>) -> Result<Self, CheckpointError> {
        let line = line.into();
        let number = FIRST_EXTENSION_LINE + self.extensions.len();
        check_extension(&line, number)?;
        self.extensions.push(line);
        Ok(self)
    }

    /// The log's identity (first line).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree root at that size.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, in order, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The checkpoint's note text, every line ending in a newline.
    pub fn body(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Parses a checkpoint's note text: exactly what [`body`](Self::body)
    /// produces, nothing looser (canonical decimal and base64, a final
    /// newline, no empty line).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > MAX_CHECKPOINT_BYTES {
            return Err(CheckpointError::TooLarge {
                len: text.len(),
                max: MAX_CHECKPOINT_BYTES,
            });
        }
        let Some(text) = text.strip_suffix('\n') else {
            return Err(CheckpointError::NoFinalNewline);
        };
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_origin(origin)?;
        let size = parse_size(
            lines
                .next()
                .ok_or(CheckpointError::MissingLine { name: "size" })?,
        )?;
        let root = parse_root(
            lines
                .next()
                .ok_or(CheckpointError::MissingLine { name: "root" })?,
        )?;
        let mut extensions = Vec::new();
        for (i, line) in lines.enumerate() {
            check_extension(line, FIRST_EXTENSION_LINE + i)?;
            extensions.push(line.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// Extension lines start after origin, size and root.
const FIRST_EXTENSION_LINE: usize = 4;

fn has_control(line: &str) -> bool {
    line.bytes().any(|b| b < 0x20)
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() {
        return Err(CheckpointError::EmptyOrigin);
    }
    if has_control(origin) {
        return Err(CheckpointError::ControlCharacter { line: 1 });
    }
    Ok(())
}

fn check_extension(line: &str, number: usize) -> Result<(), CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::EmptyExtension { line: number });
    }
    if has_control(line) {
        return Err(CheckpointError::ControlCharacter { line: number });
    }
    Ok(())
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let canonical = match line.as_bytes() {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        digits => digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return Err(CheckpointError::NonCanonicalSize);
    }
    line.parse().map_err(|_| CheckpointError::SizeOverflow)
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::MissingLine { name: "root" });
    }
    // The standard engine requires canonical padding and refuses non-zero
    // trailing bits, so exactly one text spells each root.
    let bytes = STANDARD
        .decode(line)
        .map_err(|_| CheckpointError::RootNotBase64)?;
    Hash::try_from(bytes.as_slice()).map_err(|_| CheckpointError::RootLength { len: bytes.len() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const ROOT_B64: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    fn sample() -> Checkpoint {
        Checkpoint::new("example.com/log", 1234, [1; 32]).unwrap()
    }

    #[test]
    fn the_body_is_the_documented_bytes() {
        assert_eq!(
            sample().body(),
            format!("example.com/log\n1234\n{ROOT_B64}\n")
        );
        let empty = Checkpoint::new("o", 0, [0; 32]).unwrap();
        assert_eq!(
            empty.body(),
            "o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        );
        assert_eq!(Checkpoint::parse(&empty.body()), Ok(empty));
    }

    #[test]
    fn accessors_return_the_parts() {
        let c = sample().with_extension("x y").unwrap();
        assert_eq!(c.origin(), "example.com/log");
        assert_eq!(c.size(), 1234);
        assert_eq!(c.root(), &[1; 32]);
        assert_eq!(c.extensions(), ["x y".to_owned()]);
    }

    #[test]
    fn extension_lines_round_trip_in_order() {
        let c = sample()
            .with_extension("first")
            .unwrap()
            .with_extension("— second")
            .unwrap();
        let body = c.body();
        assert_eq!(
            body,
            format!("example.com/log\n1234\n{ROOT_B64}\nfirst\n— second\n")
        );
        assert_eq!(Checkpoint::parse(&body), Ok(c.clone()));
        assert_eq!(
            c.with_extension("bad\tline"),
            Err(CheckpointError::ControlCharacter { line: 6 })
        );
    }

    #[test]
    fn origins_with_a_newline_or_empty_are_refused() {
        assert_eq!(
            Checkpoint::new("a\nb", 1, [0; 32]),
            Err(CheckpointError::ControlCharacter { line: 1 })
        );
        assert_eq!(
            Checkpoint::new("a\rb", 1, [0; 32]),
            Err(CheckpointError::ControlCharacter { line: 1 })
        );
        assert_eq!(
            Checkpoint::new("", 1, [0; 32]),
            Err(CheckpointError::EmptyOrigin)
        );
        assert!(Checkpoint::new("ünïcode/log with space", 1, [0; 32]).is_ok());
        assert!(Checkpoint::new("\u{7f}", 1, [0; 32]).is_ok());
    }

    #[test]
    fn malformed_texts_get_their_error() {
        let cases: &[(String, CheckpointError)] = &[
            (String::new(), CheckpointError::NoFinalNewline),
            (format!("o\n1\n{ROOT_B64}"), CheckpointError::NoFinalNewline),
            ("\n".to_owned(), CheckpointError::EmptyOrigin),
            (
                "o\n".to_owned(),
                CheckpointError::MissingLine { name: "size" },
            ),
            (
                "o\n1\n".to_owned(),
                CheckpointError::MissingLine { name: "root" },
            ),
            (
                "o\n1\n\n".to_owned(),
                CheckpointError::MissingLine { name: "root" },
            ),
            (
                format!("o\n\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n01\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n00\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n+1\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n-1\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n 1\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n1a\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n١\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n1\t\n{ROOT_B64}\n"),
                CheckpointError::NonCanonicalSize,
            ),
            (
                format!("o\n18446744073709551616\n{ROOT_B64}\n"),
                CheckpointError::SizeOverflow,
            ),
            (
                "o\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\n".to_owned(),
                CheckpointError::RootNotBase64,
            ),
            (
                "o\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=\n".to_owned(),
                CheckpointError::RootNotBase64,
            ),
            (
                "o\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=x\n".to_owned(),
                CheckpointError::RootNotBase64,
            ),
            (
                "o\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE_\n".to_owned(),
                CheckpointError::RootNotBase64,
            ),
            (
                "o\n1\nAQID\n".to_owned(),
                CheckpointError::RootLength { len: 3 },
            ),
            (
                "o\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n".to_owned(),
                CheckpointError::RootLength { len: 33 },
            ),
            (
                format!("o\n1\n{ROOT_B64}\n\n"),
                CheckpointError::EmptyExtension { line: 4 },
            ),
            (
                format!("o\n1\n{ROOT_B64}\next\n\n"),
                CheckpointError::EmptyExtension { line: 5 },
            ),
            (
                format!("o\n1\n{ROOT_B64}\nex\x01t\n"),
                CheckpointError::ControlCharacter { line: 4 },
            ),
            (
                format!("o\u{1b}\n1\n{ROOT_B64}\n"),
                CheckpointError::ControlCharacter { line: 1 },
            ),
        ];
        for (text, error) in cases {
            assert_eq!(Checkpoint::parse(text).as_ref(), Err(error), "{text:?}");
        }
    }

    #[test]
    fn the_largest_size_parses_and_the_text_limit_holds() {
        let text = format!("o\n18446744073709551615\n{ROOT_B64}\n");
        assert_eq!(Checkpoint::parse(&text).unwrap().size(), u64::MAX);

        let filler = "x".repeat(MAX_CHECKPOINT_BYTES);
        let base = format!("o\n1\n{ROOT_B64}\n");
        let at_limit = format!(
            "{base}{}\n",
            &filler[..MAX_CHECKPOINT_BYTES - base.len() - 1]
        );
        assert_eq!(at_limit.len(), MAX_CHECKPOINT_BYTES);
        assert!(Checkpoint::parse(&at_limit).is_ok());
        let over = format!("{base}{}\n", &filler[..MAX_CHECKPOINT_BYTES - base.len()]);
        assert_eq!(
            Checkpoint::parse(&over),
            Err(CheckpointError::TooLarge {
                len: MAX_CHECKPOINT_BYTES + 1,
                max: MAX_CHECKPOINT_BYTES
            })
        );
    }

    #[test]
    fn every_prefix_of_a_checkpoint_fails_cleanly() {
        let body = sample().with_extension("ext").unwrap().body();
        for cut in 0..body.len() {
            if !body.is_char_boundary(cut) {
                continue;
            }
            let prefix = &body[..cut];
            // A prefix that happens to end at a line end may be a valid
            // checkpoint with fewer extension lines; any other prefix fails.
            if let Ok(parsed) = Checkpoint::parse(prefix) {
                assert_eq!(parsed, sample(), "prefix {prefix:?}");
            }
        }
    }

    #[test]
    fn error_messages_name_their_context() {
        let cases = [
            (
                CheckpointError::TooLarge { len: 9, max: 8 },
                "checkpoint of 9 bytes is larger than the maximum of 8",
            ),
            (
                CheckpointError::NoFinalNewline,
                "checkpoint text does not end in a newline",
            ),
            (
                CheckpointError::MissingLine { name: "size" },
                "checkpoint has no size line",
            ),
            (CheckpointError::EmptyOrigin, "checkpoint origin is empty"),
            (
                CheckpointError::ControlCharacter { line: 2 },
                "checkpoint line 2 contains a control character",
            ),
            (
                CheckpointError::NonCanonicalSize,
                "checkpoint size is not a canonical decimal",
            ),
            (
                CheckpointError::SizeOverflow,
                "checkpoint size does not fit in 64 bits",
            ),
            (
                CheckpointError::RootNotBase64,
                "checkpoint root is not canonical base64",
            ),
            (
                CheckpointError::RootLength { len: 3 },
                "checkpoint root is 3 bytes, not 32",
            ),
            (
                CheckpointError::EmptyExtension { line: 5 },
                "checkpoint extension line 5 is empty",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
