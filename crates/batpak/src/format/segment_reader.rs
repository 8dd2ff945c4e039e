//! A read-only reader of one segment file, independent of any store.

use std::path::{Path, PathBuf};

use super::error::DecodeError;
use super::footer::{decode_footer, ends_with_trailer, locate_footer, trailer_offset, FooterSpan};
use super::footer_view::FooterView;
use super::frame::decode_frame;
use super::frame_view::FrameView;
use super::segment_header::{decode_segment_header, SegmentHeader, SEGMENT_HEADER_LEN};
#[cfg(doc)]
use super::segment_header::{OLDEST_SEGMENT_FORMAT_VERSION, SEGMENT_FORMAT_VERSION};
use super::{to_u64, TRAILER_LEN};

/// Why a segment file could not be read.
///
/// ```
/// use batpak::format::{SegmentError, SegmentReader};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let err = SegmentReader::open(dir.path()).unwrap_err();
/// assert!(matches!(err, SegmentError::NotARegularFile { .. }));
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// The file could not be opened or read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The path names a directory, FIFO, device or socket; it was not opened.
    #[error("{}: not a regular file", .path.display())]
    NotARegularFile {
        /// The path.
        path: PathBuf,
    },
    /// The file does not start with a segment header this build reads, or
    /// its trailer places the footer outside the file.
    #[error("{}: {source}", .path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// Why its bytes did not decode.
        source: DecodeError,
    },
}

/// A segment file read into memory: its header, its frames and, if it is
/// sealed, its footer. It never writes and takes no lock, so it can read the
/// segments of a store that is open elsewhere (the active segment as far as
/// it had been written when read).
///
/// ```
/// use batpak::format::{segment_file_name, SegmentReader};
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let coord = Coordinate::new("order:1", "shop")?;
/// store.append(&coord, EventKind::custom(0xE, 1), &"placed")?;
/// store.append(&coord, EventKind::custom(0xE, 2), &"paid")?;
/// store.close()?;
///
/// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
/// assert_eq!(segment.segment_id(), 1);
/// for frame in segment.frames() {
///     let frame = frame?;
///     assert_eq!(frame.scope(), "shop");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SegmentReader {
    bytes: Vec<u8>,
    header: SegmentHeader,
    footer: Option<FooterSpan>,
}

impl SegmentReader {
    /// Reads the segment file at `path`. Anything but a regular file is
    /// refused without being opened, so a FIFO or device never blocks.
    ///
    /// ```
    /// use batpak::format::{segment_file_name, SegmentReader};
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// assert_eq!(segment.frames().count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SegmentError> {
        let path = path.as_ref();
        let io = |source| SegmentError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = crate::fs::open_regular_file(path)
            .map_err(io)?
            .ok_or_else(|| SegmentError::NotARegularFile {
                path: path.to_path_buf(),
            })?;
        let len = file.len().map_err(io)?;
        let len = usize::try_from(len)
            .map_err(|_| io(std::io::Error::other("file larger than memory")))?;
        let mut bytes = vec![0u8; len];
        file.read_exact_at(&mut bytes, 0).map_err(io)?;
        Self::from_bytes(bytes).map_err(|source| SegmentError::Decode {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a segment held in memory (a copy of a file, fuzzer input).
    ///
    /// ```
    /// use batpak::format::{DecodeError, SegmentReader};
    /// let err = SegmentReader::from_bytes(vec![0; 64]).unwrap_err();
    /// assert!(matches!(err, DecodeError::BadMagic { offset: 0, .. }));
    /// ```
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, DecodeError> {
        let header = decode_segment_header(&bytes)?;
        let trailer = bytes
            .len()
            .checked_sub(TRAILER_LEN)
            .and_then(|at| bytes.get(at..))
            .unwrap_or_default();
        let footer = locate_footer(to_u64(bytes.len()), trailer)?;
        Ok(Self {
            bytes,
            header,
            footer,
        })
    }

    /// True if the file at `path` ends with a footer trailer (a sealed
    /// segment), reading only its last bytes. Anything but a regular file is
    /// refused without being opened.
    ///
    /// ```
    /// use batpak::format::{segment_file_name, SegmentReader};
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join(segment_file_name(1));
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// assert!(!SegmentReader::is_sealed_file(&path)?);
    /// store.close()?;
    /// assert!(SegmentReader::is_sealed_file(&path)?);
    /// # Ok(()) }
    /// ```
    pub fn is_sealed_file(path: impl AsRef<Path>) -> Result<bool, SegmentError> {
        let path = path.as_ref();
        let io = |source| SegmentError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = crate::fs::open_regular_file(path)
            .map_err(io)?
            .ok_or_else(|| SegmentError::NotARegularFile {
                path: path.to_path_buf(),
            })?;
        let len = file.len().map_err(io)?;
        let Some(at) = trailer_offset(len) else {
            return Ok(false);
        };
        let mut trailer = [0u8; TRAILER_LEN];
        file.read_exact_at(&mut trailer, at).map_err(io)?;
        Ok(ends_with_trailer(len, &trailer))
    }

    /// The segment id the header records (the number in the file name).
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// assert_eq!(segment.segment_id(), 1);
    /// # Ok(()) }
    /// ```
    pub fn segment_id(&self) -> u64 {
        self.header.segment_id
    }

    /// The segment format version of the header: from
    /// [`OLDEST_SEGMENT_FORMAT_VERSION`] to [`SEGMENT_FORMAT_VERSION`] (others
    /// fail to open). Events of a version-1 segment have `event_hash` layout
    /// 1, later ones layout 2 (see [`crate::chain`]).
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader, SEGMENT_FORMAT_VERSION};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// assert_eq!(segment.version(), SEGMENT_FORMAT_VERSION);
    /// # Ok(()) }
    /// ```
    pub fn version(&self) -> u16 {
        self.header.version
    }

    /// When the segment was created, Unix milliseconds.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// assert!(segment.created_ms() > 0);
    /// # Ok(()) }
    /// ```
    pub fn created_ms(&self) -> u64 {
        self.header.created_ms
    }

    /// Bytes in the segment.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader, SEGMENT_HEADER_LEN};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// assert!(segment.file_len() > SEGMENT_HEADER_LEN as u64);
    /// # Ok(()) }
    /// ```
    pub fn file_len(&self) -> u64 {
        to_u64(self.bytes.len())
    }

    /// True if the segment ends with a footer trailer (it was sealed).
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// assert!(segment.is_sealed());
    /// # Ok(()) }
    /// ```
    pub fn is_sealed(&self) -> bool {
        self.footer.is_some()
    }

    /// Where the frame region ends: the footer's offset if sealed, else the
    /// file's end (which may hold zeros written ahead of the frames).
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// assert!(segment.frames_end() < segment.file_len());
    /// # Ok(()) }
    /// ```
    pub fn frames_end(&self) -> u64 {
        self.footer.map_or(self.file_len(), |f| f.start)
    }

    /// The frames in file order. Iteration stops at the end of the frame
    /// region or at zeros written ahead of the frames; a frame that does not
    /// decode (torn or damaged) is yielded as an error naming its offset, and
    /// nothing follows it.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader, SEGMENT_HEADER_LEN};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let path = dir.path().join(segment_file_name(1));
    /// let mut bytes = std::fs::read(&path)?;
    /// bytes.truncate(SEGMENT_HEADER_LEN + 20); // a torn first frame
    /// let segment = SegmentReader::from_bytes(bytes)?;
    /// let first = segment.frames().next().unwrap();
    /// assert!(first.unwrap_err().to_string().contains("at byte 40"));
    /// # Ok(()) }
    /// ```
    pub fn frames(&self) -> Frames<'_> {
        let end = usize::try_from(self.frames_end())
            .map_or(self.bytes.len(), |e| e.min(self.bytes.len()));
        Frames {
            bytes: self.bytes.get(..end).unwrap_or_default(),
            pos: SEGMENT_HEADER_LEN,
            done: false,
        }
    }

    /// The decoded footer of a sealed segment; `Ok(None)` if not sealed.
    ///
    /// ```
    /// # use batpak::format::{segment_file_name, SegmentReader};
    /// # use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let store = Store::open(StoreConfig::new(dir.path()))?;
    /// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
    /// # store.close()?;
    /// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
    /// let footer = segment.footer()?.expect("sealed at close");
    /// assert_eq!(footer.entries().count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn footer(&self) -> Result<Option<FooterView>, DecodeError> {
        let Some(span) = self.footer else {
            return Ok(None);
        };
        let out_of_range = DecodeError::OutOfRange {
            offset: span.start,
            field: "footer length",
        };
        let start = usize::try_from(span.start).map_err(|_| out_of_range.clone())?;
        let body = start
            .checked_add(span.len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(out_of_range)?;
        let footer = decode_footer(body, span.crc).map_err(|e| e.shifted(span.start))?;
        FooterView::new(footer, span.start).map(Some)
    }
}

/// The frames of a [`SegmentReader`], from [`SegmentReader::frames`].
///
/// ```
/// # use batpak::format::{segment_file_name, SegmentReader};
/// # use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let store = Store::open(StoreConfig::new(dir.path()))?;
/// # store.append(&Coordinate::new("e", "s")?, EventKind::custom(0xE, 1), &1)?;
/// # store.close()?;
/// let segment = SegmentReader::open(dir.path().join(segment_file_name(1)))?;
/// let frames: batpak::format::Frames<'_> = segment.frames();
/// assert_eq!(frames.filter(Result::is_ok).count(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    /// The file up to the end of the frame region.
    bytes: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<FrameView<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let offset = to_u64(self.pos);
        match decode_frame(rest) {
            Ok((fields, used)) => match self.pos.checked_add(used) {
                Some(next) => {
                    self.pos = next;
                    Some(Ok(FrameView::new(fields, offset, used)))
                }
                None => {
                    self.done = true;
                    Some(Err(DecodeError::OutOfRange {
                        offset,
                        field: "frame length",
                    }))
                }
            },
            Err(e) => {
                self.done = true;
                // Zeros after the last frame are space written ahead, not a frame.
                if rest.iter().all(|&b| b == 0) {
                    None
                } else {
                    Some(Err(e.shifted(offset)))
                }
            }
        }
    }
}

impl std::iter::FusedIterator for Frames<'_> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::format::footer::encode_footer;
    use crate::format::footer::tests::footer;
    use crate::format::frame::encode_frame;
    use crate::format::frame::tests::sample;
    use crate::format::segment_header::encode_segment_header;

    fn segment(frames: usize, sealed: bool) -> Vec<u8> {
        let mut b = encode_segment_header(SegmentHeader {
            version: 1,
            segment_id: 3,
            created_ms: 5,
        })
        .to_vec();
        let mut f = footer();
        f.entries.clear();
        for i in 0..frames {
            let at = b.len();
            let mut fr = sample("e", "s", b"payload");
            fr.global_sequence = 100 + i as u64;
            encode_frame(&mut b, &fr);
            let mut e = footer().entries[0].clone();
            e.frame_len = (b.len() - at) as u32;
            f.entries.push(e);
        }
        f.frames_end = b.len() as u64;
        if sealed {
            b.extend_from_slice(&encode_footer(&f));
        }
        b
    }

    #[test]
    fn frames_and_footer_of_a_sealed_segment() {
        let s = SegmentReader::from_bytes(segment(2, true)).unwrap();
        assert_eq!((s.segment_id(), s.created_ms(), s.version()), (3, 5, 1));
        assert!(s.is_sealed());
        let frames: Vec<_> = s.frames().collect::<Result<_, _>>().unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].offset(), SEGMENT_HEADER_LEN as u64);
        assert_eq!(
            frames[1].offset(),
            frames[0].offset() + frames[0].frame_len() as u64
        );
        assert_eq!(frames[1].global_sequence(), 101);
        assert_eq!(frames[0].payload(), b"payload");
        let footer = s.footer().unwrap().unwrap();
        assert_eq!(footer.frames_end(), s.frames_end());
        let entries: Vec<_> = footer.entries().collect();
        assert_eq!(entries[1].offset(), frames[1].offset());
        assert_eq!(entries[1].global_sequence(), 101);
        assert_eq!(entries[1].entity(), "e");
    }

    #[test]
    fn zeros_written_ahead_end_the_frames_and_damage_is_an_error() {
        let mut b = segment(1, false);
        let end = b.len();
        b.extend_from_slice(&[0; 300]);
        let s = SegmentReader::from_bytes(b.clone()).unwrap();
        assert!(!s.is_sealed());
        assert_eq!(s.file_len(), end as u64 + 300);
        assert_eq!(s.frames_end(), s.file_len());
        assert_eq!(s.footer(), Ok(None));
        assert_eq!(s.frames().filter(Result::is_ok).count(), 1);
        assert_eq!(s.frames().count(), 1);
        b[end + 7] = 1;
        let s = SegmentReader::from_bytes(b).unwrap();
        let items: Vec<_> = s.frames().collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(
            items[1],
            Err(DecodeError::OutOfRange { offset, .. }) if offset == end as u64
        ));
    }

    #[test]
    fn a_torn_frame_names_its_offset() {
        let mut b = segment(2, false);
        b.pop();
        let s = SegmentReader::from_bytes(b).unwrap();
        let items: Vec<_> = s.frames().collect();
        assert_eq!(items.len(), 2);
        let second =
            items[0].as_ref().unwrap().offset() + items[0].as_ref().unwrap().frame_len() as u64;
        assert!(matches!(
            items[1],
            Err(DecodeError::Truncated { offset, .. }) if offset == second + 8
        ));
    }

    #[test]
    fn a_damaged_footer_names_the_file_offset() {
        let mut b = segment(1, true);
        let frames_end = SegmentReader::from_bytes(b.clone()).unwrap().frames_end();
        b[frames_end as usize + 1] ^= 1;
        let s = SegmentReader::from_bytes(b).unwrap();
        assert!(matches!(
            s.footer(),
            Err(DecodeError::CrcMismatch { offset, .. }) if offset == frames_end
        ));
    }

    #[test]
    fn files_that_are_not_regular_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            SegmentReader::open(dir.path()),
            Err(SegmentError::NotARegularFile { .. })
        ));
        assert!(matches!(
            SegmentReader::is_sealed_file(dir.path()),
            Err(SegmentError::NotARegularFile { .. })
        ));
        assert!(matches!(
            SegmentReader::open(dir.path().join("absent")),
            Err(SegmentError::Io { .. })
        ));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert!(matches!(
                SegmentReader::open(&fifo),
                Err(SegmentError::NotARegularFile { .. })
            ));
        }
        let path = dir.path().join("x.seg");
        std::fs::write(&path, segment(1, true)).unwrap();
        assert!(SegmentReader::is_sealed_file(&path).unwrap());
        assert_eq!(SegmentReader::open(&path).unwrap().frames().count(), 1);
        std::fs::write(&path, segment(1, false)).unwrap();
        assert!(!SegmentReader::is_sealed_file(&path).unwrap());
        std::fs::write(&path, b"short").unwrap();
        assert!(!SegmentReader::is_sealed_file(&path).unwrap());
        assert!(matches!(
            SegmentReader::open(&path),
            Err(SegmentError::Decode {
                source: DecodeError::Truncated { .. },
                ..
            })
        ));
    }
}
