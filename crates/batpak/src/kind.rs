//! Event kinds: a 4-bit category and a 12-bit type id.

use serde::{Deserialize, Serialize};

/// The kind of an event: category (high 4 bits) and type id (low 12 bits).
///
/// Categories `0x0` (system) and `0xD` (effect) are reserved for the store's
/// own markers; user kinds come from [`EventKind::custom`].
///
/// ```
/// use batpak::prelude::*;
/// const NOTED: EventKind = EventKind::custom(0xE, 0x22);
/// assert_eq!(NOTED.category(), 0xE);
/// assert_eq!(NOTED.type_id(), 0x22);
/// assert_eq!(NOTED.as_u16(), 0xE022);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventKind(u16);

impl EventKind {
    /// Category of the store's own system markers.
    pub const SYSTEM_CATEGORY: u8 = 0x0;
    /// Category of effect markers.
    pub const EFFECT_CATEGORY: u8 = 0xD;
    /// Largest type id (12 bits).
    pub const MAX_TYPE_ID: u16 = 0x0FFF;

    /// A user kind. Fails to compile in a `const` context (and panics
    /// elsewhere) on a reserved category or an out-of-range value; use
    /// [`EventKind::try_custom`] for values that arrive at run time.
    #[allow(clippy::panic)] // const-evaluated guard: the panic is a compile error in const contexts
    pub const fn custom(category: u8, type_id: u16) -> Self {
        match Self::check(category, type_id) {
            Ok(kind) => kind,
            Err(reason) => panic!("{}", reason),
        }
    }

    /// Why `(category, type_id)` is not a user kind, if it is not (see
    /// [`EventKind::try_custom`], which turns this into a [`crate::StoreError`]).
    pub(crate) const fn check(category: u8, type_id: u16) -> Result<Self, &'static str> {
        if category > 0xF {
            Err("category must fit in 4 bits")
        } else if type_id > Self::MAX_TYPE_ID {
            Err("type id must fit in 12 bits")
        } else if category == Self::SYSTEM_CATEGORY || category == Self::EFFECT_CATEGORY {
            Err("categories 0x0 and 0xD are reserved")
        } else {
            Ok(Self(((category as u16) << 12) | type_id))
        }
    }

    /// A kind in a reserved category, for the store's own markers.
    #[allow(dead_code)] // used by the store's own marker events
    pub(crate) const fn system(type_id: u16) -> Self {
        Self(type_id & Self::MAX_TYPE_ID)
    }

    /// Reinterprets a raw value read from storage.
    pub const fn from_u16(raw: u16) -> Self {
        Self(raw)
    }

    /// The raw 16-bit value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The 4-bit category.
    pub const fn category(self) -> u8 {
        (self.0 >> 12) as u8
    }

    /// The 12-bit type id.
    pub const fn type_id(self) -> u16 {
        self.0 & Self::MAX_TYPE_ID
    }

    /// True for the reserved system and effect categories.
    pub const fn is_reserved(self) -> bool {
        let c = self.category();
        c == Self::SYSTEM_CATEGORY || c == Self::EFFECT_CATEGORY
    }
}

impl std::fmt::Debug for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EventKind({:#x}:{:#05x})",
            self.category(),
            self.type_id()
        )
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reserved_and_out_of_range_are_refused() {
        assert!(EventKind::try_custom(0x0, 1).is_err());
        assert!(EventKind::try_custom(0xD, 1).is_err());
        assert!(EventKind::try_custom(0x10, 1).is_err());
        assert!(EventKind::try_custom(0xE, 0x1000).is_err());
        let k = EventKind::try_custom(0xF, 0xFFF).unwrap();
        assert_eq!(k.as_u16(), 0xFFFF);
        assert!(!k.is_reserved());
        assert!(EventKind::system(3).is_reserved());
    }
}
