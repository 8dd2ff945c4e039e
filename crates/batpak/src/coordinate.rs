//! Validated `(entity, scope)` coordinates.

use std::sync::Arc;

use crate::error::{CoordinateProblem, StoreError};

/// Where an event belongs: the entity whose history it extends and the scope it is filed under.
///
/// Cheap to clone (one reference count; the index shares one coordinate
/// among all events of an entity and scope). Each part is 1 to
/// [`Coordinate::MAX_LEN`] bytes of UTF-8 without NUL, control characters or
/// path-traversal shapes.
///
/// ```
/// use batpak::prelude::*;
/// let c = Coordinate::new("order:42", "tenant:7")?;
/// assert_eq!(c.entity(), "order:42");
/// assert!(Coordinate::new("", "tenant:7").is_err());
/// # Ok::<(), StoreError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coordinate(Arc<Parts>);

/// The two names; compared, hashed and ordered entity first.
#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Parts {
    entity: Arc<str>,
    scope: Arc<str>,
}

impl Coordinate {
    /// Longest accepted part, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates both parts and builds a coordinate.
    pub fn new(entity: impl AsRef<str>, scope: impl AsRef<str>) -> Result<Self, StoreError> {
        let entity = entity.as_ref();
        let scope = scope.as_ref();
        validate_part("entity", entity)?;
        validate_part("scope", scope)?;
        Ok(Self::from_validated(Arc::from(entity), Arc::from(scope)))
    }

    /// Builds from already-shared strings (used when the index interns names).
    pub(crate) fn from_shared(entity: Arc<str>, scope: Arc<str>) -> Result<Self, StoreError> {
        validate_part("entity", &entity)?;
        validate_part("scope", &scope)?;
        Ok(Self::from_validated(entity, scope))
    }

    /// Builds from strings that already passed [`validate_part`].
    pub(crate) fn from_validated(entity: Arc<str>, scope: Arc<str>) -> Self {
        Self(Arc::new(Parts { entity, scope }))
    }

    /// The entity name.
    pub fn entity(&self) -> &str {
        &self.0.entity
    }

    /// The scope name.
    pub fn scope(&self) -> &str {
        &self.0.scope
    }

    /// Whether both are the same shared coordinate (not only equal names).
    #[cfg(test)]
    pub(crate) fn shares_with(&self, other: &Coordinate) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn entity_arc(&self) -> &Arc<str> {
        &self.0.entity
    }

    pub(crate) fn scope_arc(&self) -> &Arc<str> {
        &self.0.scope
    }
}

impl std::fmt::Debug for Coordinate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Coordinate({:?} @ {:?})", self.entity(), self.scope())
    }
}

impl std::fmt::Display for Coordinate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.entity(), self.scope())
    }
}

/// Checks one coordinate part.
pub(crate) fn validate_part(part: &'static str, value: &str) -> Result<(), StoreError> {
    match part_problem(value) {
        None => Ok(()),
        Some(problem) => Err(StoreError::InvalidCoordinate {
            part,
            value: value.chars().take(64).collect(),
            problem,
        }),
    }
}

/// What is wrong with a coordinate part, if anything; the single place these rules live.
pub(crate) fn part_problem(value: &str) -> Option<CoordinateProblem> {
    if value.is_empty() {
        Some(CoordinateProblem::Empty)
    } else if value.len() > Coordinate::MAX_LEN {
        Some(CoordinateProblem::TooLong)
    } else if value.contains('\0') {
        Some(CoordinateProblem::NulByte)
    } else if value.chars().any(char::is_control) {
        Some(CoordinateProblem::ControlChar)
    } else if is_traversal(value) {
        Some(CoordinateProblem::PathTraversal)
    } else {
        None
    }
}

fn is_traversal(value: &str) -> bool {
    value.starts_with('/')
        || value.starts_with('\\')
        || value.split(['/', '\\']).any(|seg| seg == "..")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn rejects_every_bad_shape() {
        let long = "x".repeat(Coordinate::MAX_LEN + 1);
        let cases: [(&str, CoordinateProblem); 8] = [
            ("", CoordinateProblem::Empty),
            (&long, CoordinateProblem::TooLong),
            ("a\0b", CoordinateProblem::NulByte),
            ("a\nb", CoordinateProblem::ControlChar),
            ("a\u{7f}", CoordinateProblem::ControlChar),
            ("../etc", CoordinateProblem::PathTraversal),
            ("/abs", CoordinateProblem::PathTraversal),
            ("a\\..\\b", CoordinateProblem::PathTraversal),
        ];
        for (value, expected) in cases {
            match Coordinate::new(value, "s") {
                Err(StoreError::InvalidCoordinate { part, problem, .. }) => {
                    assert_eq!(part, "entity");
                    assert_eq!(problem, expected, "{value:?}");
                }
                other => panic!("{value:?} gave {other:?}"),
            }
            match Coordinate::new("e", value) {
                Err(StoreError::InvalidCoordinate { part, .. }) => assert_eq!(part, "scope"),
                other => panic!("{value:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn debug_and_display_show_both_parts() {
        let c = Coordinate::new("order:1", "tenant:2").unwrap();
        assert_eq!(format!("{c:?}"), r#"Coordinate("order:1" @ "tenant:2")"#);
        assert_eq!(c.to_string(), "order:1@tenant:2");
    }

    #[test]
    fn accepts_ordinary_names_at_the_limit() {
        let max = "y".repeat(Coordinate::MAX_LEN);
        let c = Coordinate::new(&max, "a..b").unwrap();
        assert_eq!(c.entity().len(), Coordinate::MAX_LEN);
        assert_eq!(c.scope(), "a..b");
        assert_eq!(c.to_string(), format!("{max}@a..b"));
    }
}
