//! The bounded reader every decoder reads through: fixed-width little-endian
//! fields, the few MessagePack types the layouts use, and one check that
//! nothing follows the end of a structure.

use super::error::DecodeError;
use super::to_u64;

/// Reads values from the front of a byte slice, never past its end.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    /// The bytes not yet read.
    buf: &'a [u8],
    /// Length of the whole input.
    len: usize,
    /// Offset of the input's first byte in the offsets errors report.
    base: u64,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` whose errors count offsets from its first byte.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self::at(buf, 0)
    }

    /// A reader over `buf` whose first byte is at offset `base`.
    pub(crate) fn at(buf: &'a [u8], base: u64) -> Self {
        Self {
            buf,
            len: buf.len(),
            base,
        }
    }

    /// Offset of the next byte to be read.
    pub(crate) fn offset(&self) -> u64 {
        self.base
            .saturating_add(to_u64(self.len.saturating_sub(self.buf.len())))
    }

    /// The structure ends here: any byte left is an error. Every decoder
    /// calls this once it has read its last field.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                offset: self.offset(),
                extra: to_u64(self.buf.len()),
            })
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                offset: self.offset(),
                needed: to_u64(n),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let Some((head, tail)) = self.buf.split_first_chunk::<N>() else {
            return Err(DecodeError::Truncated {
                offset: self.offset(),
                needed: to_u64(N),
            });
        };
        self.buf = tail;
        Ok(*head)
    }

    /// The next bytes, which must equal `expected`.
    pub(crate) fn magic(&mut self, expected: &'static [u8]) -> Result<(), DecodeError> {
        let offset = self.offset();
        if self.take(expected.len())? != expected {
            return Err(DecodeError::BadMagic { offset, expected });
        }
        Ok(())
    }

    /// A little-endian `u16`.
    pub(crate) fn le_u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.fixed()?))
    }

    /// A little-endian `u32`.
    pub(crate) fn le_u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.fixed()?))
    }

    /// A little-endian `u64`.
    pub(crate) fn le_u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.fixed()?))
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.fixed::<1>()?[0])
    }

    /// A big-endian length of a msgpack value, as `usize`.
    fn be_len<const N: usize>(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let offset = self.offset();
        let bytes = self.fixed::<N>()?;
        let mut v = 0u64;
        for b in bytes {
            v = (v << 8) | u64::from(b);
        }
        usize::try_from(v).map_err(|_| DecodeError::OutOfRange { offset, field })
    }

    /// A msgpack array header: the number of elements.
    pub(crate) fn array_len(&mut self) -> Result<u32, DecodeError> {
        let offset = self.offset();
        match self.byte()? {
            m @ 0x90..=0x9f => Ok(u32::from(m & 0x0f)),
            0xdc => Ok(u32::from(u16::from_be_bytes(self.fixed()?))),
            0xdd => Ok(u32::from_be_bytes(self.fixed()?)),
            _ => Err(DecodeError::Unexpected {
                offset,
                expected: "a msgpack array",
            }),
        }
    }

    /// A msgpack array header, as a count of elements in memory.
    pub(crate) fn array_count(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let offset = self.offset();
        let n = self.array_len()?;
        usize::try_from(n).map_err(|_| DecodeError::OutOfRange { offset, field })
    }

    /// A msgpack array header counting elements that each take at least
    /// `min_len` bytes: a count the rest of the input cannot hold is refused
    /// before anything is sized by it.
    pub(crate) fn bounded_count(
        &mut self,
        field: &'static str,
        min_len: usize,
    ) -> Result<usize, DecodeError> {
        let offset = self.offset();
        let n = self.array_count(field)?;
        let needed = n.saturating_mul(min_len.max(1));
        if needed > self.buf.len() {
            return Err(DecodeError::Truncated {
                offset,
                needed: to_u64(needed),
            });
        }
        Ok(n)
    }

    /// A msgpack unsigned integer.
    pub(crate) fn uint(&mut self) -> Result<u64, DecodeError> {
        let offset = self.offset();
        match self.byte()? {
            m @ 0x00..=0x7f => Ok(u64::from(m)),
            0xcc => Ok(u64::from(self.byte()?)),
            0xcd => Ok(u64::from(u16::from_be_bytes(self.fixed()?))),
            0xce => Ok(u64::from(u32::from_be_bytes(self.fixed()?))),
            0xcf => Ok(u64::from_be_bytes(self.fixed()?)),
            _ => Err(DecodeError::Unexpected {
                offset,
                expected: "a msgpack unsigned integer",
            }),
        }
    }

    /// A msgpack unsigned integer that must fit `T`.
    pub(crate) fn uint_as<T: TryFrom<u64>>(
        &mut self,
        field: &'static str,
    ) -> Result<T, DecodeError> {
        let offset = self.offset();
        let v = self.uint()?;
        T::try_from(v).map_err(|_| DecodeError::OutOfRange { offset, field })
    }

    /// A msgpack string.
    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let offset = self.offset();
        let len = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::from(self.byte()?),
            0xda => self.be_len::<2>("string length")?,
            0xdb => self.be_len::<4>("string length")?,
            _ => {
                return Err(DecodeError::Unexpected {
                    offset,
                    expected: "a msgpack string",
                })
            }
        };
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::Unexpected {
            offset,
            expected: "a UTF-8 string",
        })
    }

    /// A msgpack bin.
    pub(crate) fn bin(&mut self) -> Result<&'a [u8], DecodeError> {
        let offset = self.offset();
        let len = match self.byte()? {
            0xc4 => usize::from(self.byte()?),
            0xc5 => self.be_len::<2>("bin length")?,
            0xc6 => self.be_len::<4>("bin length")?,
            _ => {
                return Err(DecodeError::Unexpected {
                    offset,
                    expected: "a msgpack bin",
                })
            }
        };
        self.take(len)
    }

    /// A msgpack ext 8 of type `ext` holding 32 bytes, if one comes next.
    pub(crate) fn tombstone(&mut self, ext: i8) -> Result<Option<[u8; 32]>, DecodeError> {
        let offset = self.offset();
        if self.buf.first() != Some(&0xc7) {
            return Ok(None);
        }
        let head = self.fixed::<3>()?;
        if head[1] != 32 || i8::from_le_bytes([head[2]]) != ext {
            return Err(DecodeError::Unexpected {
                offset,
                expected: "a tombstone (ext 8 of 32 bytes)",
            });
        }
        self.fixed::<32>().map(Some)
    }

    /// A msgpack bin of exactly `N` bytes.
    pub(crate) fn bin_exact<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        // The common shape (a `bin 8` of exactly N bytes) is read in one step.
        if let Some(([0xc4, len], rest)) = self.buf.split_first_chunk::<2>() {
            if usize::from(*len) == N {
                if let Some((bytes, rest)) = rest.split_first_chunk::<N>() {
                    self.buf = rest;
                    return Ok(*bytes);
                }
            }
        }
        let offset = self.offset();
        let b = self.bin()?;
        <[u8; N]>::try_from(b).map_err(|_| DecodeError::Unexpected {
            offset,
            expected: match N {
                16 => "a bin of 16 bytes",
                32 => "a bin of 32 bytes",
                _ => "a bin of fixed length",
            },
        })
    }

    /// `true` (and the nil consumed) if the next value is msgpack nil.
    pub(crate) fn nil(&mut self) -> bool {
        match self.buf.split_first() {
            Some((0xc0, rest)) => {
                self.buf = rest;
                true
            }
            _ => false,
        }
    }

    /// nil, or a bin of 16 bytes read as a big-endian id.
    pub(crate) fn opt_id(&mut self) -> Result<Option<u128>, DecodeError> {
        if self.nil() {
            return Ok(None);
        }
        Ok(Some(u128::from_be_bytes(self.bin_exact::<16>()?)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fixed_size_bins_take_any_bin_width_and_only_their_length() {
        let bytes = [7u8; 16];
        // bin 8, bin 16 and bin 32 of exactly 16 bytes, each followed by a byte.
        for marker in [vec![0xc4, 16], vec![0xc5, 0, 16], vec![0xc6, 0, 0, 0, 16]] {
            let mut b = marker.clone();
            b.extend_from_slice(&bytes);
            b.push(0x01);
            let mut r = Reader::new(&b);
            assert_eq!(r.bin_exact::<16>(), Ok(bytes), "{marker:02x?}");
            assert_eq!(r.uint(), Ok(1));
            assert_eq!(r.finish(), Ok(()));
        }
        // A bin of 15 bytes followed by enough bytes for 16 is still refused.
        let mut b = vec![0xc4, 15];
        b.extend_from_slice(&[7u8; 20]);
        assert!(Reader::new(&b).bin_exact::<16>().is_err());
        let mut b = vec![0xc4, 17];
        b.extend_from_slice(&[7u8; 17]);
        assert!(Reader::new(&b).bin_exact::<16>().is_err());
    }

    #[test]
    fn errors_name_the_offset_of_the_value() {
        let b = [0x01, 0xa3, b'a'];
        let mut r = Reader::at(&b, 100);
        assert_eq!(r.uint(), Ok(1));
        assert_eq!(
            r.clone().str(),
            Err(DecodeError::Truncated {
                offset: 102,
                needed: 3
            })
        );
        assert_eq!(
            r.uint(),
            Err(DecodeError::Unexpected {
                offset: 101,
                expected: "a msgpack unsigned integer"
            })
        );
        let r = Reader::at(&b, 100);
        assert_eq!(
            r.finish(),
            Err(DecodeError::TrailingBytes {
                offset: 100,
                extra: 3
            })
        );
    }

    #[test]
    fn integers_out_of_their_field_range_are_refused() {
        let b = [0xcd, 0x01, 0x00];
        assert_eq!(
            Reader::new(&b).uint_as::<u8>("tag"),
            Err(DecodeError::OutOfRange {
                offset: 0,
                field: "tag"
            })
        );
        assert_eq!(Reader::new(&b).uint_as::<u16>("tag"), Ok(256));
    }

    #[test]
    fn magic_and_little_endian_fields() {
        let b = [b'M', b'G', 1, 0, 2, 0, 0, 0];
        let mut r = Reader::new(&b);
        assert_eq!(
            r.clone().magic(b"MX"),
            Err(DecodeError::BadMagic {
                offset: 0,
                expected: b"MX"
            })
        );
        r.magic(b"MG").unwrap();
        assert_eq!(r.le_u16(), Ok(1));
        assert_eq!(r.le_u32(), Ok(2));
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(
            r.le_u64(),
            Err(DecodeError::Truncated {
                offset: 8,
                needed: 8
            })
        );
    }
}
