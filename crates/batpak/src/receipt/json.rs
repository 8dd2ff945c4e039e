//! The portable JSON form of a receipt (`docs/FORMAT.md`, "Receipt JSON").
//!
//! The serde derive of [`AppendReceipt`] is another form, which wire formats
//! build on: it writes the event id as a 128-bit JSON integer, which a reader
//! that keeps numbers as doubles corrupts. This form is text that survives
//! any JSON reader: every 64-bit integer is a decimal string, every byte
//! string lowercase hex, and each value has exactly one spelling, so
//! `to_json(from_json(s)) == s` for every `s` that `from_json` accepts with
//! its keys in [`FIELDS`] order and no whitespace.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::AppendReceipt;
use crate::id::{EventId, HlcPoint};

/// The keys of the JSON object, in the order [`write_json`] writes them.
const FIELDS: [&str; 11] = [
    "event_id",
    "global_sequence",
    "entity_sequence",
    "content_hash",
    "event_hash",
    "prev_hash",
    "hlc_physical_ms",
    "hlc_logical",
    "durable",
    "key_id",
    "signature",
];

/// Why a text is not a receipt in its portable JSON form
/// ([`AppendReceipt::from_json`]).
///
/// Every variant is a fault of the input. All but [`Self::Syntax`] and
/// [`Self::NotAnObject`] name the field, also returned by [`Self::field`].
///
/// ```
/// use batpak::{AppendReceipt, ReceiptJsonError};
/// let err = AppendReceipt::from_json(r#"{"event_id": 7}"#).unwrap_err();
/// assert_eq!(err, ReceiptJsonError::WrongType { field: "event_id", expected: "a string" });
/// assert_eq!(err.field(), Some("event_id"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptJsonError {
    /// The text is not one well-formed JSON value; where parsing stopped (both from 1).
    #[error("receipt JSON does not parse (line {line}, column {column})")]
    Syntax {
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
    },
    /// The JSON value is not an object.
    #[error("receipt JSON is not an object")]
    NotAnObject,
    /// A key the form requires is absent.
    #[error("receipt JSON has no field `{field}`")]
    MissingField {
        /// The absent key.
        field: &'static str,
    },
    /// A key the form does not have.
    #[error("receipt JSON has an unknown field `{field}`")]
    UnknownField {
        /// The key, as given.
        field: String,
    },
    /// A key given more than once (JSON readers disagree on which value wins).
    #[error("receipt JSON has field `{field}` more than once")]
    DuplicateField {
        /// The repeated key.
        field: &'static str,
    },
    /// A value of the wrong JSON type.
    #[error("receipt JSON field `{field}` must be {expected}")]
    WrongType {
        /// The key whose value has the wrong type.
        field: &'static str,
        /// The JSON type the form has there.
        expected: &'static str,
    },
    /// A hex string of the wrong length, or with a character other than `0-9a-f`.
    #[error("receipt JSON field `{field}` must be {digits} lowercase hex digits")]
    BadHex {
        /// The key.
        field: &'static str,
        /// How many hex digits the field has (two per byte).
        digits: usize,
    },
    /// An event id not written the way [`EventId`]'s `Display` writes it
    /// (36 characters: lowercase hex in groups of 8-4-4-4-12 joined by `-`).
    #[error("receipt JSON field `{field}` is not a lowercase hyphenated UUID")]
    BadEventId {
        /// The key.
        field: &'static str,
    },
    /// A decimal string that is empty, has a character other than `0-9`, a
    /// leading zero, or a value above `u64::MAX`; or a JSON number that is
    /// not an integer from 0 to `u32::MAX`.
    #[error("receipt JSON field `{field}` is not an integer in range, written canonically")]
    BadInteger {
        /// The key.
        field: &'static str,
    },
}

impl ReceiptJsonError {
    /// The key the problem is at, if it is at one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Syntax { .. } | Self::NotAnObject => None,
            Self::UnknownField { field } => Some(field),
            Self::MissingField { field }
            | Self::DuplicateField { field }
            | Self::WrongType { field, .. }
            | Self::BadHex { field, .. }
            | Self::BadEventId { field }
            | Self::BadInteger { field } => Some(field),
        }
    }
}

impl AppendReceipt {
    /// The receipt as portable JSON: one compact object that any JSON reader
    /// reads without loss, also one whose numbers are doubles. (The serde
    /// `Serialize` of this type is another form: it writes the event id as a
    /// 128-bit integer and the hashes as arrays of numbers.)
    ///
    /// The keys, in this order, without whitespace:
    ///
    /// | key | JSON value |
    /// |-----|------------|
    /// | `event_id` | string: the id as [`EventId`]'s `Display` writes it (lowercase hyphenated UUID, as `batpak export` prints it) |
    /// | `global_sequence` | string: the u64 in decimal |
    /// | `entity_sequence` | string: the u64 in decimal |
    /// | `content_hash` | string: 64 lowercase hex digits |
    /// | `event_hash` | string: 64 lowercase hex digits |
    /// | `prev_hash` | string: 64 lowercase hex digits |
    /// | `hlc_physical_ms` | string: the u64 in decimal |
    /// | `hlc_logical` | number: the u32 |
    /// | `durable` | `true` or `false` |
    /// | `key_id` | string of 64 lowercase hex digits, or `null` when unsigned |
    /// | `signature` | string of 128 lowercase hex digits, or `null` when unsigned |
    ///
    /// Every u64 is a decimal string because JSON readers that keep numbers as
    /// doubles (JavaScript's among them) round integers above 2^53, and
    /// sequences and clocks may pass it; the u32 is a plain number. Decimals
    /// have no sign and no leading zero, so each receipt has exactly one
    /// text. It is returned as a `String`, not a `serde_json::Value`, because
    /// those exact bytes are the form; a `Value`'s key order depends on
    /// serde_json's features. `docs/FORMAT.md` ("Receipt JSON") describes
    /// the same form.
    ///
    /// A signature covers `event_id`, both sequences, the three hashes and
    /// `key_id` (the cover of [`crate::receipt_cover`]); it does not cover
    /// `durable`, `hlc_physical_ms` or `hlc_logical`, so a receipt read from
    /// JSON may have those changed and still verify.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    /// let trusted = key.verifying_key();
    /// let store = Store::open(StoreConfig::new(dir.path()).with_signing_key(key))?;
    /// let r = store.append(&Coordinate::new("order:1", "shop")?, EventKind::custom(0xE, 1), &"placed")?;
    ///
    /// let json = r.to_json();
    /// let v: serde_json::Value = serde_json::from_str(&json)?;
    /// assert_eq!(v["event_id"], r.event_id.to_string());
    /// assert_eq!(v["global_sequence"], "0");
    /// assert_eq!(v["signature"].as_str().map(str::len), Some(128));
    ///
    /// let back = AppendReceipt::from_json(&json)?;
    /// assert_eq!(back, r);
    /// back.verify_signature(&trusted)?;
    /// assert!(store.verify_append_receipt(&back).is_signed());
    /// # Ok(()) }
    /// ```
    pub fn to_json(&self) -> String {
        write_json(self)
    }

    /// Reads the form [`Self::to_json`] writes. Keys may come in any order
    /// with any JSON whitespace between tokens, but each must be present
    /// exactly once, no other key may be, and every value must be spelled
    /// as `to_json` spells it (lowercase hex of the exact length, the id as
    /// `Display` writes it, decimals without sign or leading zero): anything
    /// else is a [`ReceiptJsonError`] naming the field. Never panics.
    ///
    /// Reading a receipt checks its shape only: verify it with
    /// [`Self::verify_signature`] or
    /// [`Store::verify_append_receipt`](crate::Store::verify_append_receipt).
    ///
    /// ```
    /// use batpak::{AppendReceipt, ReceiptJsonError};
    /// let text = r#"{"event_id":"01901234-5678-7abc-8def-0123456789ab",
    ///   "global_sequence":"0","entity_sequence":"0",
    ///   "content_hash":"00","event_hash":"00","prev_hash":"00",
    ///   "hlc_physical_ms":"0","hlc_logical":0,"durable":false,"key_id":null,"signature":null}"#;
    /// assert_eq!(
    ///     AppendReceipt::from_json(text),
    ///     Err(ReceiptJsonError::BadHex { field: "content_hash", digits: 64 })
    /// );
    /// ```
    pub fn from_json(text: &str) -> Result<Self, ReceiptJsonError> {
        read_json(text)
    }
}

/// Lowercase hex of some bytes, as a `Display` value (`to_string()` for a
/// `String`): the store's one hex encoder.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// `null`, or the bytes as a quoted lowercase hex string.
struct OptHex<'a>(Option<&'a [u8]>);

impl fmt::Display for OptHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("null"),
            Some(b) => write!(f, "\"{}\"", Hex(b)),
        }
    }
}

/// The receipt as one compact JSON object, keys in [`FIELDS`] order. Every
/// value is digits, hex, a UUID, `true`, `false` or `null`: nothing needs
/// escaping, so the text is written directly.
fn write_json(r: &AppendReceipt) -> String {
    format!(
        concat!(
            "{{\"event_id\":\"{}\",\"global_sequence\":\"{}\",\"entity_sequence\":\"{}\",",
            "\"content_hash\":\"{}\",\"event_hash\":\"{}\",\"prev_hash\":\"{}\",",
            "\"hlc_physical_ms\":\"{}\",\"hlc_logical\":{},\"durable\":{},",
            "\"key_id\":{},\"signature\":{}}}"
        ),
        r.event_id,
        r.global_sequence,
        r.entity_sequence,
        Hex(&r.content_hash),
        Hex(&r.event_hash),
        Hex(&r.prev_hash),
        r.hlc.physical_ms,
        r.hlc.logical,
        r.durable,
        OptHex(r.key_id.as_ref().map(|k| &k[..])),
        OptHex(r.signature.as_ref().map(|s| &s[..])),
    )
}

/// Parses the portable form; see [`AppendReceipt::from_json`].
fn read_json(text: &str) -> Result<AppendReceipt, ReceiptJsonError> {
    let document: Document = serde_json::from_str(text).map_err(|e| ReceiptJsonError::Syntax {
        line: e.line(),
        column: e.column(),
    })?;
    let Document::Object(members) = document else {
        return Err(ReceiptJsonError::NotAnObject);
    };
    let mut fields = Fields::sort(members)?;
    Ok(AppendReceipt {
        event_id: event_id(fields.take("event_id")?)?,
        global_sequence: decimal_u64(fields.take("global_sequence")?)?,
        entity_sequence: decimal_u64(fields.take("entity_sequence")?)?,
        content_hash: hex(fields.take("content_hash")?)?,
        event_hash: hex(fields.take("event_hash")?)?,
        prev_hash: hex(fields.take("prev_hash")?)?,
        hlc: HlcPoint::new(
            decimal_u64(fields.take("hlc_physical_ms")?)?,
            number_u32(fields.take("hlc_logical")?)?,
        ),
        durable: boolean(fields.take("durable")?)?,
        key_id: optional_hex(fields.take("key_id")?)?,
        signature: optional_hex(fields.take("signature")?)?,
    })
}

/// A top-level JSON value: an object's members in document order (repeats
/// kept, so they can be refused), or anything else.
enum Document {
    Object(Vec<(String, Value)>),
    Other,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry::<String, Value>()? {
            members.push(member);
        }
        Ok(Document::Object(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
        // The elements must still be read for the parser to check the rest.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Document::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Document, E> {
        Ok(Document::Other)
    }

    fn visit_unit<E>(self) -> Result<Document, E> {
        Ok(Document::Other)
    }
}

/// The object's values by key, each taken once.
struct Fields([Option<Value>; FIELDS.len()]);

impl Fields {
    /// Files each member under its key; an unknown or repeated key is an error.
    fn sort(members: Vec<(String, Value)>) -> Result<Self, ReceiptJsonError> {
        let mut slots: [Option<Value>; FIELDS.len()] = Default::default();
        for (key, value) in members {
            let Some(i) = FIELDS.iter().position(|f| *f == key) else {
                return Err(ReceiptJsonError::UnknownField { field: key });
            };
            if slots[i].replace(value).is_some() {
                return Err(ReceiptJsonError::DuplicateField { field: FIELDS[i] });
            }
        }
        Ok(Self(slots))
    }

    /// The value of `field` (one of [`FIELDS`]) with its name.
    fn take(&mut self, field: &'static str) -> Result<(&'static str, Value), ReceiptJsonError> {
        let missing = ReceiptJsonError::MissingField { field };
        let i = FIELDS
            .iter()
            .position(|f| *f == field)
            .ok_or(missing.clone())?;
        let value = self.0[i].take().ok_or(missing)?;
        Ok((field, value))
    }
}

fn string<'v>(field: &'static str, v: &'v Value) -> Result<&'v str, ReceiptJsonError> {
    v.as_str().ok_or(ReceiptJsonError::WrongType {
        field,
        expected: "a string",
    })
}

fn event_id((field, v): (&'static str, Value)) -> Result<EventId, ReceiptJsonError> {
    let s = string(field, &v)?;
    let bad = ReceiptJsonError::BadEventId { field };
    let id: EventId = s.parse().map_err(|_| bad.clone())?;
    // The parser also takes other spellings (upper case, no hyphens, braces,
    // `urn:uuid:`); only the one `Display` writes is this form.
    if id.to_string() == s {
        Ok(id)
    } else {
        Err(bad)
    }
}

fn decimal_u64((field, v): (&'static str, Value)) -> Result<u64, ReceiptJsonError> {
    let s = string(field, &v)?;
    let bad = ReceiptJsonError::BadInteger { field };
    // `u64::from_str` also accepts a leading `+`; leading zeros would give one
    // value several spellings.
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return Err(bad);
    }
    s.parse().map_err(|_| bad)
}

fn number_u32((field, v): (&'static str, Value)) -> Result<u32, ReceiptJsonError> {
    let Value::Number(n) = &v else {
        return Err(ReceiptJsonError::WrongType {
            field,
            expected: "a number",
        });
    };
    n.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(ReceiptJsonError::BadInteger { field })
}

fn boolean((field, v): (&'static str, Value)) -> Result<bool, ReceiptJsonError> {
    v.as_bool().ok_or(ReceiptJsonError::WrongType {
        field,
        expected: "true or false",
    })
}

fn hex<const N: usize>((field, v): (&'static str, Value)) -> Result<[u8; N], ReceiptJsonError> {
    decode_hex(field, string(field, &v)?)
}

fn optional_hex<const N: usize>(
    (field, v): (&'static str, Value),
) -> Result<Option<[u8; N]>, ReceiptJsonError> {
    match &v {
        Value::Null => Ok(None),
        Value::String(s) => decode_hex(field, s).map(Some),
        _ => Err(ReceiptJsonError::WrongType {
            field,
            expected: "a string or null",
        }),
    }
}

fn decode_hex<const N: usize>(field: &'static str, s: &str) -> Result<[u8; N], ReceiptJsonError> {
    let bad = ReceiptJsonError::BadHex {
        field,
        digits: 2 * N,
    };
    if s.len() != 2 * N {
        return Err(bad);
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(bad);
        };
        *byte = hi << 4 | lo;
    }
    Ok(out)
}

/// The value of one lowercase hex digit.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn receipt() -> AppendReceipt {
        AppendReceipt {
            event_id: EventId::from_u128(0x0190_1234_5678_7abc_8def_0123_4567_89ab),
            global_sequence: u64::MAX,
            entity_sequence: (1 << 53) + 1,
            content_hash: [0xab; 32],
            event_hash: [0x01; 32],
            prev_hash: [0; 32],
            hlc: HlcPoint::new(1_700_000_000_123, u32::MAX),
            durable: true,
            key_id: Some([0x7f; 32]),
            signature: Some([0xfe; 64]),
        }
    }

    /// The JSON of [`receipt`] with `key` set to the JSON text `value`
    /// (`None`: removed).
    fn with(key: &str, value: Option<&str>) -> String {
        let mut v: serde_json::Map<String, Value> =
            serde_json::from_str(&write_json(&receipt())).unwrap();
        match value {
            Some(text) => v.insert(key.into(), serde_json::from_str(text).unwrap()),
            None => v.remove(key),
        };
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn the_form_is_exact() {
        let r = receipt();
        let json = write_json(&r);
        let want = format!(
            concat!(
                "{{\"event_id\":\"01901234-5678-7abc-8def-0123456789ab\",",
                "\"global_sequence\":\"18446744073709551615\",",
                "\"entity_sequence\":\"9007199254740993\",",
                "\"content_hash\":\"{}\",\"event_hash\":\"{}\",\"prev_hash\":\"{}\",",
                "\"hlc_physical_ms\":\"1700000000123\",\"hlc_logical\":4294967295,",
                "\"durable\":true,\"key_id\":\"{}\",\"signature\":\"{}\"}}"
            ),
            "ab".repeat(32),
            "01".repeat(32),
            "00".repeat(32),
            "7f".repeat(32),
            "fe".repeat(64),
        );
        assert_eq!(json, want);
        assert_eq!(read_json(&json), Ok(r));
        // Keys in FIELDS order, each once.
        let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(&json)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut sorted: Vec<&str> = FIELDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "every field and nothing else");
        let order: Vec<usize> = FIELDS
            .iter()
            .map(|f| json.find(&format!("\"{f}\":")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }

    #[test]
    fn absent_key_and_signature_are_null() {
        let mut r = receipt();
        r.key_id = None;
        r.signature = None;
        r.durable = false;
        let json = write_json(&r);
        assert!(json.ends_with(",\"durable\":false,\"key_id\":null,\"signature\":null}"));
        assert_eq!(read_json(&json), Ok(r));
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let spaced = "{ \"signature\" : null , \"key_id\" : null, \"durable\": false,\n\
            \"hlc_logical\": 0, \"hlc_physical_ms\": \"0\",\n\
            \"prev_hash\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n\
            \"event_hash\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n\
            \"content_hash\": \"0000000000000000000000000000000000000000000000000000000000000000\",\n\
            \"entity_sequence\": \"0\", \"global_sequence\": \"0\",\n\
            \"event_id\": \"00000000-0000-0000-0000-000000000000\" }";
        let r = read_json(spaced).unwrap();
        assert_eq!(r.event_id, EventId::from_u128(0));
        assert_eq!(r.hlc, HlcPoint::new(0, 0));
        assert_eq!(read_json(&write_json(&r)), Ok(r));
    }

    #[test]
    fn every_malformed_field_is_a_typed_error_naming_it() {
        use ReceiptJsonError as E;
        let ty = |field, expected| E::WrongType { field, expected };
        let int = |field| E::BadInteger { field };
        let id = |field| E::BadEventId { field };
        let hex = |field, digits| E::BadHex { field, digits };
        let h = |s: &str, n: usize| format!("\"{}\"", s.repeat(n));
        let cases: Vec<(String, E)> = vec![
            // Missing, unknown and repeated keys.
            (
                with("prev_hash", None),
                E::MissingField { field: "prev_hash" },
            ),
            (
                with("signature", None),
                E::MissingField { field: "signature" },
            ),
            (
                with("hlc", Some("[1, 2]")),
                E::UnknownField {
                    field: "hlc".into(),
                },
            ),
            (
                write_json(&receipt()).replacen('{', "{\"durable\":true,", 1),
                E::DuplicateField { field: "durable" },
            ),
            // Event ids: only the lowercase hyphenated spelling, as a string.
            (
                with(
                    "event_id",
                    Some(&h("01901234-5678-7ABC-8DEF-0123456789AB", 1)),
                ),
                id("event_id"),
            ),
            (
                with("event_id", Some(&h("0190123456787abc8def0123456789ab", 1))),
                id("event_id"),
            ),
            (with("event_id", Some("\"not an id\"")), id("event_id")),
            (
                with("event_id", Some("2076430287409452160470196566519416235")),
                ty("event_id", "a string"),
            ),
            // Decimal strings.
            (
                with("global_sequence", Some("7")),
                ty("global_sequence", "a string"),
            ),
            (
                with("global_sequence", Some("\"18446744073709551616\"")),
                int("global_sequence"),
            ),
            (
                with("entity_sequence", Some("\"+1\"")),
                int("entity_sequence"),
            ),
            (
                with("entity_sequence", Some("\"01\"")),
                int("entity_sequence"),
            ),
            (
                with("hlc_physical_ms", Some("\"\"")),
                int("hlc_physical_ms"),
            ),
            (
                with("hlc_physical_ms", Some("\" 1\"")),
                int("hlc_physical_ms"),
            ),
            // The u32 number.
            (with("hlc_logical", Some("4294967296")), int("hlc_logical")),
            (with("hlc_logical", Some("-1")), int("hlc_logical")),
            (with("hlc_logical", Some("1.0")), int("hlc_logical")),
            (
                with("hlc_logical", Some("\"1\"")),
                ty("hlc_logical", "a number"),
            ),
            // Hex: exact length, lowercase digits only.
            (
                with("content_hash", Some(&h("ab", 31))),
                hex("content_hash", 64),
            ),
            (
                with("event_hash", Some(&h("ab", 32).replacen('"', "\"0", 1))),
                hex("event_hash", 64),
            ),
            (with("prev_hash", Some(&h("AB", 32))), hex("prev_hash", 64)),
            (with("prev_hash", Some(&h("g0", 32))), hex("prev_hash", 64)),
            (
                with("prev_hash", Some(&h("a", 62).replacen('"', "\"\\u00e9", 1))),
                hex("prev_hash", 64),
            ),
            (with("prev_hash", Some("null")), ty("prev_hash", "a string")),
            (with("key_id", Some(&h("ab", 64))), hex("key_id", 64)),
            (with("signature", Some(&h("ab", 32))), hex("signature", 128)),
            (
                with("signature", Some("[]")),
                ty("signature", "a string or null"),
            ),
            // Booleans.
            (with("durable", Some("1")), ty("durable", "true or false")),
            (
                with("durable", Some("null")),
                ty("durable", "true or false"),
            ),
        ];
        for (json, want) in cases {
            let got = read_json(&json);
            assert_eq!(got.as_ref(), Err(&want), "{json}");
            let field = want.field().unwrap();
            assert!(got.unwrap_err().to_string().contains(field));
        }
    }

    #[test]
    fn text_that_is_not_one_object_is_refused() {
        for text in ["", "[]", "[1, {}]", "null", "true", "1", "-1.5", "\"x\""] {
            let err = read_json(text).unwrap_err();
            assert!(
                matches!(
                    err,
                    ReceiptJsonError::NotAnObject | ReceiptJsonError::Syntax { .. }
                ),
                "{text:?}: {err:?}"
            );
            assert_eq!(err.field(), None);
        }
        assert_eq!(read_json("[]"), Err(ReceiptJsonError::NotAnObject));
        let json = write_json(&receipt());
        assert!(matches!(
            read_json(&format!("{json} {{}}")),
            Err(ReceiptJsonError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let json = write_json(&receipt());
        for cut in 0..json.len() {
            assert!(read_json(&json[..cut]).is_err(), "prefix {cut} parsed");
        }
    }

    fn any_receipt() -> impl Strategy<Value = AppendReceipt> {
        (
            (any::<u128>(), any::<u64>(), any::<u64>()),
            (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<[u8; 32]>()),
            (any::<u64>(), any::<u32>(), any::<bool>()),
            (
                proptest::option::of(any::<[u8; 32]>()),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 64)),
            ),
        )
            .prop_map(
                |((id, gs, es), (ch, eh, ph), (ms, lg, d), (k, s))| AppendReceipt {
                    event_id: EventId::from_u128(id),
                    global_sequence: gs,
                    entity_sequence: es,
                    content_hash: ch,
                    event_hash: eh,
                    prev_hash: ph,
                    hlc: HlcPoint::new(ms, lg),
                    durable: d,
                    key_id: k,
                    signature: s.map(|s| <[u8; 64]>::try_from(s).unwrap()),
                },
            )
    }

    proptest! {
        #[test]
        fn every_receipt_roundtrips_exactly(r in any_receipt()) {
            let json = write_json(&r);
            let back = read_json(&json).unwrap();
            prop_assert_eq!(&back, &r);
            prop_assert_eq!(write_json(&back), json);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = read_json(&text);
        }

        #[test]
        fn a_changed_character_never_reads_as_another_receipt(
            r in any_receipt(), at in any::<prop::sample::Index>(), c in "[!-~]",
        ) {
            // Every receipt has one spelling: a character replaced by another
            // (not whitespace) either fails to read or reads as the receipt
            // that prints as the edited text.
            let json = write_json(&r);
            let i = at.index(json.len());
            let mut edited = json.clone();
            edited.replace_range(i..=i, &c);
            if let Ok(other) = read_json(&edited) {
                prop_assert_eq!(write_json(&other), edited);
            }
        }
    }
}
