//! Serde helpers that store hashes and drawer values as MessagePack `bin`
//! rather than arrays of integers.

use std::collections::BTreeMap;

use serde::de::{Deserializer, Error as _, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};

/// A byte string visitor accepting `bin`, `str` bytes or a sequence of `u8`.
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

struct Bytes(Vec<u8>);

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_byte_buf(BytesVisitor).map(Bytes)
    }
}

/// `Option<[u8; 32]>` as `nil` or a 32-byte `bin`.
pub(crate) mod opt_hash {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_some(&Bin(h)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<[u8; 32]>, D::Error> {
        let v: Option<Bytes> = serde::Deserialize::deserialize(d)?;
        v.map(|b| {
            <[u8; 32]>::try_from(b.0.as_slice())
                .map_err(|_| D::Error::invalid_length(b.0.len(), &"32 bytes"))
        })
        .transpose()
    }
}

/// A map of byte values, each value as `bin`.
pub(crate) mod drawer {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &BTreeMap<String, Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(v.len()))?;
        for (k, val) in v {
            map.serialize_entry(k, &Bin(val))?;
        }
        map.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BTreeMap<String, Vec<u8>>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of byte strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, Bytes(v))) = m.next_entry::<String, Bytes>()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// Serializes a byte slice as `bin`.
struct Bin<'a>(&'a [u8]);

impl serde::Serialize for Bin<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct T {
        #[serde(with = "opt_hash")]
        h: Option<[u8; 32]>,
        #[serde(with = "drawer")]
        d: BTreeMap<String, Vec<u8>>,
    }

    #[test]
    fn hashes_and_drawers_are_bin_and_round_trip() {
        let t = T {
            h: Some([7; 32]),
            d: BTreeMap::from([("k".to_owned(), vec![1, 2, 3])]),
        };
        let bytes = rmp_serde::to_vec_named(&t).unwrap();
        // 0xc4 0x20: bin8 of 32 bytes.
        assert!(bytes.windows(2).any(|w| w == [0xc4, 0x20]));
        assert_eq!(rmp_serde::from_slice::<T>(&bytes).unwrap(), t);
        let none = T {
            h: None,
            d: BTreeMap::new(),
        };
        let bytes = rmp_serde::to_vec_named(&none).unwrap();
        assert_eq!(rmp_serde::from_slice::<T>(&bytes).unwrap(), none);
    }

    #[test]
    fn owned_reads_and_integer_arrays_decode_the_same_bytes() {
        let t = T {
            h: Some(core::array::from_fn(|i| i as u8)),
            d: BTreeMap::from([("k".to_owned(), vec![9, 8, 7])]),
        };
        // A reader (not a slice) hands over owned byte buffers.
        let bin = rmp_serde::to_vec_named(&t).unwrap();
        assert_eq!(rmp_serde::from_read::<_, T>(bin.as_slice()).unwrap(), t);
        // Hashes and drawer values written as arrays of integers decode too.
        #[derive(serde::Serialize)]
        struct AsArrays {
            h: Option<Vec<u8>>,
            d: BTreeMap<String, Vec<u8>>,
        }
        let arrays = rmp_serde::to_vec_named(&AsArrays {
            h: t.h.map(|h| h.to_vec()),
            d: t.d.clone(),
        })
        .unwrap();
        assert!(!arrays.windows(2).any(|w| w == [0xc4, 0x20]));
        assert_eq!(rmp_serde::from_slice::<T>(&arrays).unwrap(), t);
        // A value of another shape is refused with what was expected.
        let wrong = rmp_serde::to_vec_named(&serde_json::json!({"h": true, "d": {}})).unwrap();
        let e = rmp_serde::from_slice::<T>(&wrong).unwrap_err().to_string();
        assert!(e.contains("a byte string"), "{e}");
        let wrong = rmp_serde::to_vec_named(&serde_json::json!({"h": null, "d": 1})).unwrap();
        let e = rmp_serde::from_slice::<T>(&wrong).unwrap_err().to_string();
        assert!(e.contains("a map of byte strings"), "{e}");
    }

    #[test]
    fn a_hash_of_the_wrong_length_is_refused() {
        #[derive(serde::Serialize)]
        struct W<'a> {
            #[serde(with = "serde_bytes_like")]
            h: &'a [u8],
            d: BTreeMap<String, u8>,
        }
        mod serde_bytes_like {
            pub(super) fn serialize<S: serde::Serializer>(
                v: &&[u8],
                s: S,
            ) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        let bytes = rmp_serde::to_vec_named(&W {
            h: &[1, 2],
            d: BTreeMap::new(),
        })
        .unwrap();
        assert!(rmp_serde::from_slice::<T>(&bytes).is_err());
    }
}
