//! What an event records about the gates it went through.
//!
//! An event committed through a [`crate::Pipeline`] carries a
//! [`GateAttestation`] in its header: the names of the gates that passed, in
//! evaluation order, or the ticket and reason of an audited bypass. The
//! attestation is a frame field and part of the canonical header, so it is
//! covered by `event_hash` (see [`crate::chain`]) and therefore by a signed
//! receipt. Ordinary appends carry none.

use serde::Serialize;

use crate::error::StoreError;

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
}

/// Tag of an absent attestation, in the frame and the canonical header.
pub(crate) const TAG_ABSENT: u8 = 0;
/// Tag of [`GateAttestation::Passed`].
pub(crate) const TAG_PASSED: u8 = 1;
/// Tag of [`GateAttestation::Bypassed`].
pub(crate) const TAG_BYPASSED: u8 = 2;

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
            Self::Bypassed { .. } => &[],
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
            Self::Passed { .. } => None,
        }
    }

    /// The tag and the strings both encodings (frame and canonical header) carry.
    pub(crate) fn parts(&self) -> (u8, Vec<&str>) {
        match self {
            Self::Passed { gates } => (TAG_PASSED, gates.iter().map(String::as_str).collect()),
            Self::Bypassed { ticket, reason } => {
                (TAG_BYPASSED, vec![ticket.as_str(), reason.as_str()])
            }
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
        }
    }
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
        ] {
            let (tag, strings) = a.parts();
            let owned = strings.into_iter().map(str::to_owned).collect();
            assert_eq!(GateAttestation::from_parts(tag, owned).unwrap(), a);
        }
        assert!(GateAttestation::from_parts(TAG_BYPASSED, vec!["only".into()]).is_none());
        assert!(GateAttestation::from_parts(TAG_ABSENT, vec![]).is_none());
        assert!(GateAttestation::from_parts(9, vec![]).is_none());
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
