//! A bounded incremental line reader: feed bytes, take lines.
//!
//! It never holds more than one line, and never more than the line limit
//! plus one byte: it stops consuming input at the end of a line (until that
//! line is taken) and at the first byte past the limit. A line too long is
//! reported once; after it the reader consumes nothing, since the rest of
//! that line is not framed and the connection must close.

use crate::error::WireError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Filling,
    Complete,
    Overflowed,
    Poisoned,
    Finished,
}

/// Splits a byte stream into lines of at most `max_line_bytes`, counting the LF.
///
/// ```
/// use netbat::LineReader;
/// let mut reader = LineReader::new(16);
/// let input = b"one\ntw";
/// let used = reader.feed(input);
/// assert_eq!(used, 4);
/// assert_eq!(reader.take_line(), Some(Ok(b"one\n".to_vec())));
/// assert_eq!(reader.feed(&input[used..]), 2);
/// assert_eq!(reader.take_line(), None);
/// reader.finish();
/// assert_eq!(reader.take_line(), Some(Ok(b"tw".to_vec())));
/// assert!(reader.is_finished());
/// ```
#[derive(Debug)]
pub struct LineReader {
    max: usize,
    buf: Vec<u8>,
    state: State,
    bytes_seen: u64,
}

impl LineReader {
    /// A reader for lines of at most `max_line_bytes` (LF included).
    #[must_use]
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            max: max_line_bytes,
            buf: Vec::new(),
            state: State::Filling,
            bytes_seen: 0,
        }
    }

    /// Consumes bytes of `input` up to the end of the next line, or up to the
    /// first byte past the limit, and returns how many it consumed.
    ///
    /// Consumes nothing while a complete line waits in [`LineReader::take_line`],
    /// after a line too long, or after [`LineReader::finish`].
    pub fn feed(&mut self, input: &[u8]) -> usize {
        if self.state != State::Filling {
            return 0;
        }
        let room = (self.max + 1).saturating_sub(self.buf.len());
        let window = &input[..input.len().min(room)];
        let (used, complete) = match window.iter().position(|byte| *byte == b'\n') {
            Some(at) => (at + 1, true),
            None => (window.len(), false),
        };
        self.buf.extend_from_slice(&window[..used]);
        self.bytes_seen += used as u64;
        if self.buf.len() > self.max {
            self.buf = Vec::new();
            self.state = State::Overflowed;
        } else if complete {
            self.state = State::Complete;
        }
        used
    }

    /// Marks the end of the input: a partial line becomes the last line.
    pub fn finish(&mut self) {
        if self.state == State::Filling {
            self.state = if self.buf.is_empty() {
                State::Finished
            } else {
                State::Complete
            };
        }
    }

    /// The next complete line (with its line ending, if it had one), or the
    /// `line_too_long` error, once.
    pub fn take_line(&mut self) -> Option<Result<Vec<u8>, WireError>> {
        match self.state {
            State::Complete => {
                let line = std::mem::take(&mut self.buf);
                self.state = if line.last() == Some(&b'\n') {
                    State::Filling
                } else {
                    State::Finished
                };
                Some(Ok(line))
            }
            State::Overflowed => {
                self.state = State::Poisoned;
                Some(Err(WireError::LineTooLong { max: self.max }))
            }
            State::Filling | State::Poisoned | State::Finished => None,
        }
    }

    /// True when part of a line has been received but not its end.
    #[must_use]
    pub fn is_mid_line(&self) -> bool {
        self.state == State::Filling && !self.buf.is_empty()
    }

    /// True when no further line will come (end of input, or a line too long).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished | State::Poisoned)
    }

    /// How many bytes the reader has consumed in total.
    #[must_use]
    pub fn bytes_seen(&self) -> u64 {
        self.bytes_seen
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines_of(reader: &mut LineReader, mut input: &[u8]) -> Vec<Result<Vec<u8>, WireError>> {
        let mut out = Vec::new();
        loop {
            let used = reader.feed(input);
            input = &input[used..];
            match reader.take_line() {
                Some(line) => out.push(line),
                None if input.is_empty() => break,
                None if used == 0 => break,
                None => {}
            }
        }
        out
    }

    #[test]
    fn the_limit_counts_the_lf() {
        let max = 65_536;
        let mut line = vec![b'a'; max - 1];
        line.push(b'\n');
        let mut reader = LineReader::new(max);
        assert_eq!(reader.feed(&line), max);
        assert_eq!(reader.take_line(), Some(Ok(line.clone())));

        let mut long = vec![b'a'; max];
        long.push(b'\n');
        let mut reader = LineReader::new(max);
        assert_eq!(reader.feed(&long), max + 1);
        assert_eq!(
            reader.take_line(),
            Some(Err(WireError::LineTooLong { max }))
        );
        assert_eq!(reader.take_line(), None);
        assert_eq!(reader.feed(b"more\n"), 0);
        assert!(reader.is_finished());
    }

    #[test]
    fn crlf_lines_keep_their_ending_within_the_limit() {
        let mut reader = LineReader::new(5);
        assert_eq!(
            lines_of(&mut reader, b"abc\r\n"),
            vec![Ok(b"abc\r\n".to_vec())]
        );
        let mut reader = LineReader::new(5);
        assert_eq!(
            lines_of(&mut reader, b"abcd\r\n"),
            vec![Err(WireError::LineTooLong { max: 5 })]
        );
    }

    #[test]
    fn overflow_without_lf_stops_at_the_first_byte_past_the_limit() {
        let mut reader = LineReader::new(4);
        assert_eq!(reader.feed(b"ab"), 2);
        assert!(reader.is_mid_line());
        assert_eq!(reader.feed(b"cdefgh"), 3);
        assert_eq!(
            reader.take_line(),
            Some(Err(WireError::LineTooLong { max: 4 }))
        );
        assert!(!reader.is_mid_line());
        assert_eq!(reader.bytes_seen(), 5);
    }

    #[test]
    fn a_complete_line_blocks_further_input_until_taken() {
        let mut reader = LineReader::new(10);
        assert_eq!(reader.feed(b"a\nb\n"), 2);
        assert_eq!(reader.feed(b"b\n"), 0);
        assert_eq!(reader.take_line(), Some(Ok(b"a\n".to_vec())));
        assert_eq!(reader.feed(b"b\n"), 2);
        assert_eq!(reader.take_line(), Some(Ok(b"b\n".to_vec())));
        assert_eq!(reader.take_line(), None);
    }

    #[test]
    fn end_of_input_ends_a_line_and_empty_input_is_finished() {
        let mut reader = LineReader::new(10);
        reader.finish();
        assert!(reader.is_finished());
        assert_eq!(reader.take_line(), None);
        assert_eq!(reader.feed(b"x"), 0);

        let mut reader = LineReader::new(10);
        reader.feed(b"a\nb");
        assert_eq!(reader.take_line(), Some(Ok(b"a\n".to_vec())));
        reader.feed(b"b");
        reader.finish();
        assert!(!reader.is_finished());
        assert_eq!(reader.take_line(), Some(Ok(b"b".to_vec())));
        assert!(reader.is_finished());
        reader.finish();
        assert_eq!(reader.take_line(), None);
    }

    #[test]
    fn a_limit_of_zero_refuses_every_byte() {
        let mut reader = LineReader::new(0);
        assert_eq!(reader.feed(b"\n"), 1);
        assert_eq!(
            reader.take_line(),
            Some(Err(WireError::LineTooLong { max: 0 }))
        );
    }

    proptest! {
        /// Any split of the input gives the same lines as feeding it whole.
        #[test]
        fn chunking_does_not_matter(
            lines in proptest::collection::vec("[a-z ]{0,12}", 0..8),
            cuts in proptest::collection::vec(0usize..64, 0..8),
        ) {
            let input: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
            let mut whole = LineReader::new(10);
            let expected = lines_of(&mut whole, &input);
            let mut reader = LineReader::new(10);
            let mut got = Vec::new();
            let mut rest = &input[..];
            let mut cuts = cuts.into_iter();
            while !rest.is_empty() {
                let size = cuts.next().unwrap_or(rest.len()).min(rest.len()).max(1);
                let mut chunk = &rest[..size];
                rest = &rest[size..];
                loop {
                    let used = reader.feed(chunk);
                    chunk = &chunk[used..];
                    match reader.take_line() {
                        Some(line) => got.push(line),
                        None => break,
                    }
                    if reader.is_finished() { break; }
                }
                if reader.is_finished() { break; }
                prop_assert!(chunk.is_empty());
            }
            prop_assert_eq!(got, expected);
        }
    }
}
