//! Key scope granularity of payload encryption: which events share a key.
//!
//! With payload encryption on (feature `payload-encryption`), every user
//! event's payload is sealed under the key of its scope, and
//! [`Store::shred_scope`](crate::Store) destroys one scope's key (see
//! `shred` for the selector). The granularity decides what a scope is; it
//! is chosen once per store and recorded in the keyset file. A plain value,
//! compiled in every build and importing nothing, so that the error type
//! can name it (a build without the feature reports a store's granularity).

// Without the feature only the decoders that let a build refuse or report
// an encrypted store are used; the rest is compiled (and tested) all the same.
#![cfg_attr(not(feature = "payload-encryption"), allow(dead_code))]

/// Which events share an encryption key, so which events one shred makes
/// unreadable.
///
/// ```
/// use batpak::KeyScopeGranularity;
/// assert_eq!(KeyScopeGranularity::default(), KeyScopeGranularity::PerEntity);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyScopeGranularity {
    /// One key per entity: shredding an entity forgets every payload of it.
    #[default]
    PerEntity,
    /// One key per kind category (the upper four bits of the kind).
    PerCategory,
    /// One key per kind (category and type id).
    PerTypeId,
    /// One key per event: each event can be shredded on its own.
    PerEvent,
}

impl KeyScopeGranularity {
    /// The byte that records the granularity in the keyset file.
    pub(crate) const fn code(self) -> u8 {
        match self {
            Self::PerEntity => 1,
            Self::PerCategory => 2,
            Self::PerTypeId => 3,
            Self::PerEvent => 4,
        }
    }

    /// The granularity recorded as `code`, if it is one.
    pub(crate) const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::PerEntity),
            2 => Some(Self::PerCategory),
            3 => Some(Self::PerTypeId),
            4 => Some(Self::PerEvent),
            _ => None,
        }
    }

    /// What a [`ShredScope`] selector must name under this granularity.
    pub(crate) const fn selector(self) -> &'static str {
        match self {
            Self::PerEntity => "ShredScope::Entity",
            Self::PerCategory | Self::PerTypeId => "ShredScope::Kind",
            Self::PerEvent => "ShredScope::Event",
        }
    }
}

impl std::fmt::Display for KeyScopeGranularity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PerEntity => "PerEntity",
            Self::PerCategory => "PerCategory",
            Self::PerTypeId => "PerTypeId",
            Self::PerEvent => "PerEvent",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granularity_codes_round_trip_and_unknown_codes_are_refused() {
        for g in [
            KeyScopeGranularity::PerEntity,
            KeyScopeGranularity::PerCategory,
            KeyScopeGranularity::PerTypeId,
            KeyScopeGranularity::PerEvent,
        ] {
            assert_eq!(KeyScopeGranularity::from_code(g.code()), Some(g));
        }
        for code in [0u8, 5, 0xFF] {
            assert_eq!(KeyScopeGranularity::from_code(code), None);
        }
        assert_eq!(
            KeyScopeGranularity::PerCategory.selector(),
            "ShredScope::Kind"
        );
    }
}
