//! Event identifiers and hybrid logical clock points.

use serde::{Deserialize, Serialize};

/// A 128-bit event id (UUIDv7: time-ordered).
///
/// ```
/// use batpak::prelude::*;
/// let id = EventId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
/// assert_eq!(id.as_u128(), 0x0190_0000_0000_7000_8000_0000_0000_0001);
/// assert_eq!(id.to_string().len(), 36);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(u128);

impl EventId {
    /// Wraps a raw value.
    pub const fn from_u128(raw: u128) -> Self {
        Self(raw)
    }

    /// The raw value.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// Big-endian bytes (the UUID byte order).
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// From big-endian bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
    }

    /// A UUIDv7 with the given millisecond timestamp and 74 random bits.
    pub(crate) fn v7_from_parts(unix_ms: u64, random: u128) -> Self {
        let ms = u128::from(unix_ms & 0xFFFF_FFFF_FFFF) << 80;
        let version = 0x7u128 << 76;
        let rand_a = ((random >> 64) & 0xFFF) << 64;
        let variant = 0b10u128 << 62;
        let rand_b = random & 0x3FFF_FFFF_FFFF_FFFF;
        Self(ms | version | rand_a | variant | rand_b)
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&uuid::Uuid::from_u128(self.0).hyphenated(), f)
    }
}

impl std::fmt::Debug for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl std::str::FromStr for EventId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(uuid::Uuid::parse_str(s)?.as_u128()))
    }
}

/// A hybrid logical clock point: wall-clock milliseconds and a counter that
/// orders events within one millisecond (and across a clock step back).
///
/// ```
/// use batpak::prelude::*;
/// let a = HlcPoint::new(10, 0);
/// assert!(a < HlcPoint::new(10, 1) && HlcPoint::new(10, 1) < HlcPoint::new(11, 0));
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct HlcPoint {
    /// Milliseconds since the Unix epoch, never behind the previous point.
    pub physical_ms: u64,
    /// Tie-breaking counter within `physical_ms`.
    pub logical: u32,
}

impl HlcPoint {
    /// Builds a point.
    pub const fn new(physical_ms: u64, logical: u32) -> Self {
        Self {
            physical_ms,
            logical,
        }
    }

    /// The next point after `self` given the wall clock `now_ms`.
    pub(crate) fn tick(self, now_ms: u64) -> Self {
        if now_ms > self.physical_ms {
            Self::new(now_ms, 0)
        } else if self.logical == u32::MAX {
            Self::new(self.physical_ms + 1, 0)
        } else {
            Self::new(self.physical_ms, self.logical + 1)
        }
    }
}

/// Milliseconds since the Unix epoch from the system clock (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Random bits for event ids without a system call per id: the output
/// stream of blake3 keyed with 32 bytes of the operating system's
/// randomness, read 1 KiB (64 ids) at a time. Unlike a plain counter-based
/// generator, one observed id says nothing about the next.
pub(crate) struct IdGenerator {
    stream: blake3::OutputReader,
    buf: [u8; 1024],
    at: usize,
}

impl std::fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdGenerator")
    }
}

impl IdGenerator {
    pub(crate) fn new() -> Self {
        let mut key = [0u8; 32];
        if let Err(e) = getrandom::getrandom(&mut key) {
            // Still distinct per process and instant, no longer secret.
            tracing::warn!(error = %e, "no OS randomness for event ids; falling back to a weaker seed");
            use std::hash::{BuildHasher, Hasher};
            for (i, chunk) in key.chunks_mut(8).enumerate() {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u64(now_ms());
                h.write_u32(std::process::id());
                h.write_usize(i);
                chunk.copy_from_slice(&h.finish().to_le_bytes());
            }
        }
        let mut hasher = blake3::Hasher::new_keyed(&key);
        hasher.update(b"batpak/event-id/v1");
        let buf = [0u8; 1024];
        Self {
            stream: hasher.finalize_xof(),
            at: buf.len(),
            buf,
        }
    }

    /// A fresh UUIDv7 for an event accepted at `unix_ms`.
    pub(crate) fn next_id(&mut self, unix_ms: u64) -> EventId {
        if self.at + 16 > self.buf.len() {
            self.stream.fill(&mut self.buf);
            self.at = 0;
        }
        let mut r = [0u8; 16];
        r.copy_from_slice(&self.buf[self.at..self.at + 16]);
        self.at += 16;
        EventId::v7_from_parts(unix_ms, u128::from_le_bytes(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_random_bit_of_generated_ids_varies_and_generators_differ() {
        let mut a = IdGenerator::new();
        let mut b = IdGenerator::new();
        let mask: u128 = (0xFFF << 64) | 0x3FFF_FFFF_FFFF_FFFF;
        let ids: Vec<u128> = (0..2000).map(|_| a.next_id(1).as_u128() & mask).collect();
        for bit in (0..128).filter(|i| mask >> i & 1 == 1) {
            let set = ids.iter().filter(|v| *v >> bit & 1 == 1).count();
            assert!(
                (700..1300).contains(&set),
                "bit {bit} set in {set} of 2000 ids"
            );
        }
        // Past the 64 ids of one buffer refill too.
        let other: Vec<u128> = (0..2000).map(|_| b.next_id(1).as_u128() & mask).collect();
        assert!(ids.iter().zip(&other).all(|(x, y)| x != y));
    }

    #[test]
    fn generated_ids_are_valid_distinct_uuid_v7() {
        let mut g = IdGenerator::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..1000u64 {
            let id = g.next_id(1_700_000_000_000 + i / 10);
            let u = uuid::Uuid::from_u128(id.as_u128());
            assert_eq!(u.get_version_num(), 7);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = u.get_timestamp().map(|t| t.to_unix()).unwrap_or((0, 0));
            assert_eq!(
                secs * 1000 + u64::from(nanos) / 1_000_000,
                1_700_000_000_000 + i / 10
            );
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn hlc_never_goes_back() {
        let p = HlcPoint::new(100, 5);
        assert_eq!(p.tick(50), HlcPoint::new(100, 6));
        assert_eq!(p.tick(100), HlcPoint::new(100, 6));
        assert_eq!(p.tick(101), HlcPoint::new(101, 0));
        assert_eq!(HlcPoint::new(7, u32::MAX).tick(0), HlcPoint::new(8, 0));
    }

    #[test]
    fn id_bytes_roundtrip() {
        let id = IdGenerator::new().next_id(1_700_000_000_000);
        assert_eq!(EventId::from_bytes(id.to_bytes()), id);
        let parsed: EventId = id.to_string().parse().unwrap_or(EventId::from_u128(0));
        assert_eq!(parsed, id);
    }
}

/// A caller-chosen key that makes an append idempotent: a retry with the
/// same key returns the first append's receipt instead of writing again.
///
/// ```
/// use batpak::IdempotencyKey;
/// let k = IdempotencyKey::from_bytes(*b"order-42-attempt");
/// assert_eq!(k.as_bytes(), b"order-42-attempt");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdempotencyKey([u8; 16]);

impl IdempotencyKey {
    /// Wraps 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdempotencyKey(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// An id shared by every event of one logical operation or conversation.
///
/// ```
/// use batpak::prelude::*;
/// let c = CorrelationId::from_u128(9);
/// assert_eq!(c.as_u128(), 9);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CorrelationId(u128);

impl CorrelationId {
    /// Wraps a raw value.
    pub const fn from_u128(raw: u128) -> Self {
        Self(raw)
    }

    /// The raw value.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// A fresh random-ish, time-ordered id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().as_u128())
    }
}

impl std::fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&uuid::Uuid::from_u128(self.0).hyphenated(), f)
    }
}

impl std::fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CorrelationId({self})")
    }
}
