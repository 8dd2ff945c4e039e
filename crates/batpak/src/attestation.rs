//! What an event records about the gates it went through.
//!
//! An event committed through a [`crate::Pipeline`] carries a
//! [`GateAttestation`] in its header: the names of the gates that passed, in
//! evaluation order, or the ticket and reason of an audited bypass. The
//! attestation is a frame field and part of the canonical header, so it is
//! covered by `event_hash` (see [`crate::chain`]) and therefore by a signed
//! receipt. Ordinary appends carry none.

use std::borrow::Cow;

use serde::Serialize;

use crate::error::StoreError;
use crate::id::EventId;

/// Most gates one attestation may name.
pub const MAX_ATTESTED_GATES: usize = 256;
/// Longest gate name, code or bypass ticket, in bytes.
pub const MAX_GATE_NAME_LEN: usize = 128;
/// Longest bypass reason, in bytes.
pub const MAX_BYPASS_REASON_LEN: usize = 4096;

/// How an event got past its gates.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::{Gate, GateAttestation, GateSet, Pipeline, Proposal, Denial};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// struct Always;
/// impl Gate<()> for Always {
///     fn name(&self) -> &'static str { "always" }
///     fn evaluate(&self, _: &()) -> Result<(), Denial> { Ok(()) }
/// }
/// const NOTED: EventKind = EventKind::custom(0xE, 0x22);
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let coord = Coordinate::new("entity:a", "scope:1")?;
/// let pipeline = Pipeline::new(GateSet::new().with(Always));
/// let approved = pipeline.evaluate(&(), Proposal::new(NOTED, &1u8)?)?;
/// let receipt = pipeline.commit(&store, &coord, approved)?;
/// let header = store.get(receipt.event_id)?.event.header;
/// assert_eq!(header.attestation, Some(GateAttestation::passed(["always"])));
/// let plain = store.append(&coord, NOTED, &2u8)?;
/// assert_eq!(store.get(plain.event_id)?.event.header.attestation, None);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum GateAttestation {
    /// Every gate of the pipeline passed; their names in evaluation order.
    Passed {
        /// Gate names, in the order they were evaluated.
        gates: Vec<String>,
    },
    /// The gates were skipped on purpose, for the recorded reason.
    Bypassed {
        /// A reference to the authorising record (incident, change request).
        ticket: String,
        /// Why the gates were skipped.
        reason: String,
    },
    /// The event was copied from another store by
    /// [`crate::Store::import_events`]: where it came from. Its payload bytes
    /// (and so its `content_hash`) are the source event's.
    Imported {
        /// The name the importer gave the source store.
        namespace: String,
        /// The event's id in the source store.
        source_event_id: EventId,
        /// The event's global sequence in the source store.
        source_sequence: u64,
        /// The source event's `content_hash`.
        #[serde(serialize_with = "serialize_hex")]
        source_content_hash: [u8; 32],
    },
}

/// Tag of an absent attestation, in the frame and the canonical header.
pub(crate) const TAG_ABSENT: u8 = 0;
/// Tag of [`GateAttestation::Passed`].
pub(crate) const TAG_PASSED: u8 = 1;
/// Tag of [`GateAttestation::Bypassed`].
pub(crate) const TAG_BYPASSED: u8 = 2;
/// Tag of [`GateAttestation::Imported`] (segment format 3 on).
pub(crate) const TAG_IMPORTED: u8 = 3;
/// Longest import namespace, in bytes.
pub const MAX_IMPORT_NAMESPACE_LEN: usize = 128;

impl GateAttestation {
    /// An attestation that these gates passed, in this order.
    ///
    /// ```
    /// use batpak::GateAttestation;
    /// let a = GateAttestation::passed(["amount_positive", "credit_limit"]);
    /// assert_eq!(a.gates(), ["amount_positive", "credit_limit"]);
    /// assert!(!a.is_bypass());
    /// ```
    pub fn passed<I, S>(gates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::Passed {
            gates: gates.into_iter().map(Into::into).collect(),
        }
    }

    /// True for a bypass.
    ///
    /// ```
    /// use batpak::GateAttestation;
    /// assert!(!GateAttestation::passed(["g"]).is_bypass());
    /// ```
    pub fn is_bypass(&self) -> bool {
        matches!(self, Self::Bypassed { .. })
    }

    /// The gates that passed; empty for a bypass.
    ///
    /// ```
    /// use batpak::GateAttestation;
    /// assert_eq!(GateAttestation::passed(["g"]).gates(), ["g"]);
    /// ```
    pub fn gates(&self) -> &[String] {
        match self {
            Self::Passed { gates } => gates,
            Self::Bypassed { .. } | Self::Imported { .. } => &[],
        }
    }

    /// `(ticket, reason)` of a bypass; `None` when the gates passed.
    ///
    /// ```
    /// use batpak::GateAttestation;
    /// assert_eq!(GateAttestation::passed(["g"]).bypass(), None);
    /// ```
    pub fn bypass(&self) -> Option<(&str, &str)> {
        match self {
            Self::Bypassed { ticket, reason } => Some((ticket, reason)),
            Self::Passed { .. } | Self::Imported { .. } => None,
        }
    }

    /// `(namespace, source event id, source sequence, source content hash)`
    /// of an imported event; `None` otherwise.
    ///
    /// ```
    /// use batpak::GateAttestation;
    /// assert_eq!(GateAttestation::passed(["g"]).provenance(), None);
    /// ```
    pub fn provenance(&self) -> Option<(&str, EventId, u64, &[u8; 32])> {
        match self {
            Self::Imported {
                namespace,
                source_event_id,
                source_sequence,
                source_content_hash,
            } => Some((
                namespace,
                *source_event_id,
                *source_sequence,
                source_content_hash,
            )),
            _ => None,
        }
    }

    /// The tag and the strings both encodings (frame and canonical header)
    /// carry. An import's strings are its namespace, the source event id as
    /// 32 lowercase hex digits, the source sequence in decimal and the
    /// source content hash as 64 lowercase hex digits.
    pub(crate) fn parts(&self) -> (u8, Vec<Cow<'_, str>>) {
        match self {
            Self::Passed { gates } => (
                TAG_PASSED,
                gates.iter().map(|g| Cow::Borrowed(g.as_str())).collect(),
            ),
            Self::Bypassed { ticket, reason } => (
                TAG_BYPASSED,
                vec![
                    Cow::Borrowed(ticket.as_str()),
                    Cow::Borrowed(reason.as_str()),
                ],
            ),
            Self::Imported {
                namespace,
                source_event_id,
                source_sequence,
                source_content_hash,
            } => (
                TAG_IMPORTED,
                vec![
                    Cow::Borrowed(namespace.as_str()),
                    Cow::Owned(format!("{:032x}", source_event_id.as_u128())),
                    Cow::Owned(source_sequence.to_string()),
                    Cow::Owned(hex(source_content_hash)),
                ],
            ),
        }
    }

    /// Rebuilds an attestation from a tag and its strings; `None` if the shape is wrong.
    pub(crate) fn from_parts(tag: u8, mut strings: Vec<String>) -> Option<Self> {
        match tag {
            TAG_PASSED => Some(Self::Passed { gates: strings }),
            TAG_BYPASSED if strings.len() == 2 => {
                let reason = strings.pop()?;
                let ticket = strings.pop()?;
                Some(Self::Bypassed { ticket, reason })
            }
            TAG_IMPORTED if strings.len() == 4 => {
                let hash = parse_hex32(&strings[3])?;
                let sequence = parse_decimal(&strings[2])?;
                let id = parse_hex_id(&strings[1])?;
                let namespace = std::mem::take(&mut strings[0]);
                Some(Self::Imported {
                    namespace,
                    source_event_id: id,
                    source_sequence: sequence,
                    source_content_hash: hash,
                })
            }
            _ => None,
        }
    }

    /// Checks the limits before anything is written.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        match self {
            Self::Passed { gates } => {
                if gates.len() > MAX_ATTESTED_GATES {
                    return Err(invalid("gates", "more than MAX_ATTESTED_GATES gates"));
                }
                gates.iter().try_for_each(|g| check_name("gate name", g))
            }
            Self::Bypassed { ticket, reason } => {
                check_name("bypass ticket", ticket)?;
                check_text("bypass reason", reason, MAX_BYPASS_REASON_LEN)
            }
            Self::Imported { namespace, .. } => {
                check_text("import namespace", namespace, MAX_IMPORT_NAMESPACE_LEN)?;
                if namespace.chars().any(char::is_control) {
                    return Err(invalid("import namespace", "contains a control character"));
                }
                Ok(())
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn serialize_hex<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// Lowercase hex digits only, exactly `N * 2` of them (the one spelling the
/// encoder writes, so a frame has one reading).
fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    parse_hex::<32>(s)
}

fn parse_hex_id(s: &str) -> Option<EventId> {
    parse_hex::<16>(s).map(|b| EventId::from_u128(u128::from_be_bytes(b)))
}

/// Decimal digits without a leading zero (but "0"), as `to_string` writes.
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

fn invalid(field: &'static str, problem: &'static str) -> StoreError {
    StoreError::InvalidGateRecord { field, problem }
}

/// A gate name, denial code or ticket: 1 to [`MAX_GATE_NAME_LEN`] bytes, no control characters.
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<(), StoreError> {
    check_text(field, value, MAX_GATE_NAME_LEN)?;
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "contains a control character"));
    }
    Ok(())
}

/// Free text: 1 to `max` bytes.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if value.len() > max {
        return Err(invalid(field, "is too long"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parts_roundtrip() {
        for a in [
            GateAttestation::passed(Vec::<String>::new()),
            GateAttestation::passed(["a", "b"]),
            GateAttestation::Bypassed {
                ticket: "t".into(),
                reason: "r".into(),
            },
            GateAttestation::Imported {
                namespace: "site-a".into(),
                source_event_id: EventId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677),
                source_sequence: 1 << 40,
                source_content_hash: [0xa5; 32],
            },
        ] {
            let (tag, strings) = a.parts();
            let owned = strings.into_iter().map(Cow::into_owned).collect();
            assert_eq!(GateAttestation::from_parts(tag, owned).unwrap(), a);
        }
        assert!(GateAttestation::from_parts(TAG_BYPASSED, vec!["only".into()]).is_none());
        assert!(GateAttestation::from_parts(TAG_ABSENT, vec![]).is_none());
        assert!(GateAttestation::from_parts(9, vec![]).is_none());
        // An import's strings have one spelling each: anything else is refused.
        let good = |i: usize, v: &str| {
            let mut s: Vec<String> = vec!["ns".into(), "0".repeat(32), "7".into(), "ab".repeat(32)];
            s[i] = v.into();
            GateAttestation::from_parts(TAG_IMPORTED, s)
        };
        assert!(good(0, "ns").is_some());
        for (i, v) in [
            (1, "0".repeat(31)),
            (1, "A".repeat(32)),
            (2, "07".into()),
            (2, "-1".into()),
            (2, "18446744073709551616".into()),
            (3, "AB".repeat(32)),
            (3, "g".repeat(64)),
        ] {
            assert!(good(i, &v).is_none(), "{i} {v}");
        }
        assert!(GateAttestation::from_parts(TAG_IMPORTED, vec!["ns".into()]).is_none());
    }

    #[test]
    fn limits_are_enforced() {
        assert!(GateAttestation::passed(["ok"]).validate().is_ok());
        assert!(GateAttestation::passed([""]).validate().is_err());
        assert!(GateAttestation::passed(["a\nb"]).validate().is_err());
        assert!(GateAttestation::passed(["x".repeat(MAX_GATE_NAME_LEN + 1)])
            .validate()
            .is_err());
        assert!(GateAttestation::passed(vec!["g"; MAX_ATTESTED_GATES + 1])
            .validate()
            .is_err());
        let bypass = |t: &str, r: &str| GateAttestation::Bypassed {
            ticket: t.into(),
            reason: r.into(),
        };
        assert!(bypass("INC-1", "on-call approved").validate().is_ok());
        assert!(bypass("", "r").validate().is_err());
        assert!(bypass("t", "  ").validate().is_err());
        assert!(bypass("t", &"r".repeat(MAX_BYPASS_REASON_LEN + 1))
            .validate()
            .is_err());
    }
}
