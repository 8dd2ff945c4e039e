//! `Region`: the one predicate used by queries, subscriptions and cursors.

use std::sync::Arc;

use crate::entry::IndexEntry;
use crate::kind::EventKind;

/// Which entity names a region matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntityMatch {
    /// Exactly this name.
    Exact(Arc<str>),
    /// Every name that starts with this prefix.
    Prefix(Arc<str>),
}

/// Which kinds a region matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KindFilter {
    /// Any of these kinds.
    Kinds(Vec<EventKind>),
    /// Every kind in this 4-bit category.
    Category(u8),
}

/// A set of events: by entity (exact or prefix), scope, kind, all combined with AND.
///
/// `Region::entity("ent-1")` never matches `ent-10`; prefix matching is
/// [`Region::entity_prefix`].
///
/// ```
/// use batpak::prelude::*;
/// const PAID: EventKind = EventKind::custom(0xE, 2);
/// let r = Region::entity("order:1").with_kind(PAID);
/// let all_orders = Region::entity_prefix("order:").with_scope("tenant:7");
/// # let _ = (r, all_orders, Region::all(), Region::scope("tenant:7"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Region {
    entity: Option<EntityMatch>,
    scope: Option<Arc<str>>,
    kinds: Option<KindFilter>,
}

impl Region {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events of exactly this entity.
    pub fn entity(entity: impl AsRef<str>) -> Self {
        Self {
            entity: Some(EntityMatch::Exact(Arc::from(entity.as_ref()))),
            ..Self::default()
        }
    }

    /// Events of every entity whose name starts with `prefix`.
    pub fn entity_prefix(prefix: impl AsRef<str>) -> Self {
        Self {
            entity: Some(EntityMatch::Prefix(Arc::from(prefix.as_ref()))),
            ..Self::default()
        }
    }

    /// Events filed under exactly this scope.
    pub fn scope(scope: impl AsRef<str>) -> Self {
        Self::default().with_scope(scope)
    }

    /// Narrows to exactly this scope.
    pub fn with_scope(mut self, scope: impl AsRef<str>) -> Self {
        self.scope = Some(Arc::from(scope.as_ref()));
        self
    }

    /// Narrows to one kind.
    pub fn with_kind(self, kind: EventKind) -> Self {
        self.with_kinds([kind])
    }

    /// Narrows to any of these kinds.
    pub fn with_kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        let mut v: Vec<EventKind> = kinds.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        self.kinds = Some(KindFilter::Kinds(v));
        self
    }

    /// Narrows to one 4-bit kind category.
    pub fn with_category(mut self, category: u8) -> Self {
        self.kinds = Some(KindFilter::Category(category));
        self
    }

    /// The entity condition, if any.
    pub fn entity_match(&self) -> Option<&EntityMatch> {
        self.entity.as_ref()
    }

    /// The scope condition, if any.
    pub fn scope_name(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The kind condition, if any.
    pub fn kind_filter(&self) -> Option<&KindFilter> {
        self.kinds.as_ref()
    }

    /// True if the event described by `entry` is in this region.
    pub fn matches(&self, entry: &IndexEntry) -> bool {
        self.matches_parts(
            entry.coordinate().entity(),
            entry.coordinate().scope(),
            entry.kind(),
        )
    }

    pub(crate) fn matches_parts(&self, entity: &str, scope: &str, kind: EventKind) -> bool {
        let entity_ok = match &self.entity {
            None => true,
            Some(EntityMatch::Exact(e)) => &**e == entity,
            Some(EntityMatch::Prefix(p)) => entity.starts_with(&**p),
        };
        let scope_ok = self.scope.as_deref().is_none_or(|s| s == scope);
        let kind_ok = match &self.kinds {
            None => true,
            Some(KindFilter::Kinds(ks)) => ks.binary_search(&kind).is_ok(),
            Some(KindFilter::Category(c)) => kind.category() == *c,
        };
        entity_ok && scope_ok && kind_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_entity_never_matches_a_longer_name() {
        let k = EventKind::custom(0xE, 1);
        let r = Region::entity("ent-1");
        assert!(r.matches_parts("ent-1", "s", k));
        assert!(!r.matches_parts("ent-10", "s", k));
        assert!(!r.matches_parts("ent-", "s", k));
        let p = Region::entity_prefix("ent-1");
        assert!(p.matches_parts("ent-10", "s", k));
        assert!(!p.matches_parts("ent-2", "s", k));
    }

    #[test]
    fn conditions_combine_with_and() {
        let a = EventKind::custom(0xE, 1);
        let b = EventKind::custom(0xA, 1);
        let r = Region::entity("e").with_scope("s").with_kind(a);
        assert!(r.matches_parts("e", "s", a));
        assert!(!r.matches_parts("e", "t", a));
        assert!(!r.matches_parts("e", "s", b));
        let c = Region::all().with_category(0xA);
        assert!(c.matches_parts("x", "y", b));
        assert!(!c.matches_parts("x", "y", a));
        assert!(Region::all().matches_parts("x", "y", a));
    }
}
