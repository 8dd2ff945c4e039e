//! What every workload writes and reads: the same payloads, entities and
//! random choices for both systems.

use batpak::{Coordinate, EventKind};
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// Entities written round robin: event `i` belongs to entity `i % ENTITIES`.
pub(crate) const ENTITIES: usize = 1000;
/// The scope every benchmark event is filed under.
pub(crate) const SCOPE: &str = "bench";
/// The kind of every benchmark event.
pub(crate) const KIND: EventKind = EventKind::custom(0xE, 0x001);
/// Events per batch in W3.
pub(crate) const BATCH: usize = 100;
/// Seed of the point-read order (the same for both systems).
pub(crate) const READ_SEED: u64 = 0x5EED_BA7B_AC00_0001;

/// The benchmark payload: about 100 bytes as MessagePack with field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchPayload {
    /// Account number.
    pub account: u32,
    /// Amount in cents (signed).
    pub amount: i64,
    /// Sequence of the payload in the run.
    pub seq: u64,
    /// Free text.
    pub memo: String,
}

impl BenchPayload {
    /// The payload of event `i`: deterministic, and the same size for every `i` below 10^8.
    pub fn nth(i: usize) -> Self {
        let i64v = i as i64;
        Self {
            account: (i % ENTITIES) as u32 + 100_000,
            amount: (i64v * 7919) % 1_000_003 - 500_000,
            seq: i as u64,
            memo: format!("transfer {i:08} settled between the two ledger accounts today"),
        }
    }
}

/// Inputs prepared before any clock starts, shared by both systems.
pub(crate) struct Fixture {
    pub(crate) entities: Vec<String>,
    pub(crate) coordinates: Vec<Coordinate>,
    /// The payloads of events `first..first + payloads.len()`.
    payloads: Vec<BenchPayload>,
    first: usize,
}

impl Fixture {
    /// Entities and coordinates for [`ENTITIES`] and payloads for `events` events.
    pub(crate) fn new(events: usize) -> Result<Self, CliError> {
        Self::window(0..events)
    }

    /// Entities and coordinates, and payloads for events `range` only (a
    /// large data set is built a window at a time).
    pub(crate) fn window(range: std::ops::Range<usize>) -> Result<Self, CliError> {
        let entities: Vec<String> = (0..ENTITIES).map(|e| format!("account:{e:04}")).collect();
        let coordinates = entities
            .iter()
            .map(|e| Coordinate::new(e, SCOPE))
            .collect::<Result<Vec<_>, _>>()?;
        let first = range.start;
        let payloads = range.map(BenchPayload::nth).collect();
        Ok(Self {
            entities,
            coordinates,
            payloads,
            first,
        })
    }

    /// Events whose payloads it holds.
    pub(crate) fn len(&self) -> usize {
        self.payloads.len()
    }

    /// The payload of event `i` (in the window).
    pub(crate) fn payload(&self, i: usize) -> &BenchPayload {
        &self.payloads[i - self.first]
    }

    /// Encoded size of the first payload (all are the same size).
    pub(crate) fn payload_bytes(&self) -> Result<usize, CliError> {
        let p = BenchPayload::nth(0);
        Ok(encode(&p)?.len())
    }
}

/// MessagePack with field names, as the store encodes payloads.
pub(crate) fn encode(p: &BenchPayload) -> Result<Vec<u8>, CliError> {
    rmp_serde::to_vec_named(p).map_err(|e| CliError::Codec {
        reason: e.to_string(),
    })
}

/// Decodes a payload written by [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<BenchPayload, CliError> {
    rmp_serde::from_slice(bytes).map_err(|e| CliError::Codec {
        reason: e.to_string(),
    })
}

/// splitmix64: a small deterministic generator for the read order.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Milliseconds since the Unix epoch (what both systems stamp on an event).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn payload_is_about_100_bytes_and_fixed_size() {
        let a = encode(&BenchPayload::nth(0)).unwrap().len();
        let b = encode(&BenchPayload::nth(99_999_999)).unwrap().len();
        assert!((90..=110).contains(&a), "payload is {a} bytes");
        assert!(a.abs_diff(b) <= 8, "{a} vs {b}");
        let p = BenchPayload::nth(12_345);
        assert_eq!(decode(&encode(&p).unwrap()).unwrap(), p);
    }

    #[test]
    fn rng_is_deterministic() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        for _ in 0..10 {
            assert_eq!(a.below(1000), b.below(1000));
        }
    }
}
