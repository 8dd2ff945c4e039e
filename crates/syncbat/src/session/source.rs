//! What a subscription follows.

use batpak::{Coordinate, Region};

use crate::store::{RECEIPT_EVENT_KIND, STATUS_ENTITY_PREFIX, STATUS_EVENT_KIND, STATUS_SCOPE};

/// The source of a subscription.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// Every event whose kind is in this 4-bit category.
    EventCategory(u8),
    /// Every event of one entity (entity and scope).
    EntityStream(Coordinate),
    /// The receipts ([`crate::RECEIPT_EVENT_KIND`] events) of one receipt kind.
    ReceiptStream {
        /// The receipt kind.
        receipt_kind: String,
    },
    /// The status facts of one operation (its [`crate::status_coordinate`] stream).
    OperationStatus {
        /// The operation.
        operation: String,
    },
    /// Every event in the store, in commit order.
    AllEvents,
    /// Every receipt ([`crate::RECEIPT_EVENT_KIND`] event), whatever its kind.
    AllReceipts,
    /// Every event of this entity and of its children (`entity:…`), in any scope.
    EntityTree(String),
}

impl Source {
    /// The store region the source reads.
    pub(crate) fn region(&self) -> Region {
        match self {
            Self::EventCategory(c) => Region::all().with_category(*c),
            Self::EntityStream(c) => Region::entity(c.entity()).with_scope(c.scope()),
            Self::ReceiptStream { .. } => Region::all().with_kind(RECEIPT_EVENT_KIND),
            Self::OperationStatus { .. } => Region::entity(self.status_entity())
                .with_scope(STATUS_SCOPE)
                .with_kind(STATUS_EVENT_KIND),
            Self::AllEvents => Region::all(),
            Self::AllReceipts => Region::all().with_kind(RECEIPT_EVENT_KIND),
            Self::EntityTree(e) => Region::entity_prefix(e),
        }
    }

    /// Whether an entry the region yields belongs to the source: a region
    /// over an entity prefix also yields `acct:10` for `acct:1`.
    pub(crate) fn admits(&self, entry: &batpak::IndexEntry) -> bool {
        match self {
            Self::EntityTree(name) => {
                let entity = entry.coordinate().entity();
                entity
                    .strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
            }
            _ => true,
        }
    }

    /// The text a store-route cursor binds: `all`, `receipts` or `entity` NUL NAME.
    pub(crate) fn route_text(&self) -> Vec<u8> {
        match self {
            Self::AllEvents => b"all".to_vec(),
            Self::AllReceipts => b"receipts".to_vec(),
            Self::EntityTree(e) => [b"entity\0".as_slice(), e.as_bytes()].concat(),
            _ => Vec::new(),
        }
    }

    /// The status entity of an operation-status source (empty otherwise).
    pub(crate) fn status_entity(&self) -> String {
        match self {
            Self::OperationStatus { operation } => format!("{STATUS_ENTITY_PREFIX}{operation}"),
            _ => String::new(),
        }
    }

    /// True if positions count the entity's events rather than the store's.
    pub(crate) fn uses_entity_positions(&self) -> bool {
        matches!(self, Self::OperationStatus { .. })
    }

    /// Checks the route: a 4-bit category, a non-empty receipt kind or operation.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        match self {
            Self::EventCategory(c) if *c > 0xF => Err("event category does not fit in 4 bits"),
            Self::ReceiptStream { receipt_kind } if receipt_kind.is_empty() => {
                Err("receipt kind is empty")
            }
            Self::OperationStatus { operation } if crate::name::check(operation).is_err() => {
                Err("operation name breaks the grammar")
            }
            Self::EntityTree(e) if e.is_empty() => Err("entity is empty"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::session::{CursorError, Position, SubscriptionCursor};

    #[test]
    fn routes_are_checked() {
        assert!(Source::EventCategory(0xF).check().is_ok());
        assert!(Source::EventCategory(0x10).check().is_err());
        let empty_kind = Source::ReceiptStream {
            receipt_kind: String::new(),
        };
        assert!(empty_kind.check().is_err());
        let kind = Source::ReceiptStream {
            receipt_kind: "receipt.x.v1".into(),
        };
        assert!(kind.check().is_ok());
        let bad_op = Source::OperationStatus {
            operation: "bad..op".into(),
        };
        assert!(bad_op.check().is_err());
        let op = Source::OperationStatus {
            operation: "bank.deposit".into(),
        };
        assert!(op.check().is_ok());
        assert!(Source::EntityTree(String::new()).check().is_err());
        assert!(Source::EntityTree("acct:1".into()).check().is_ok());
    }

    #[test]
    fn each_store_route_binds_its_own_cursor() {
        let routes = [
            Source::AllEvents,
            Source::AllReceipts,
            Source::EntityTree("acct:1".into()),
            Source::EntityTree("acct:2".into()),
        ];
        let texts: Vec<Vec<u8>> = routes.iter().map(Source::route_text).collect();
        assert_eq!(texts[0], b"all");
        assert_eq!(texts[1], b"receipts");
        assert_eq!(texts[2], b"entity\0acct:1");
        for (i, a) in routes.iter().enumerate() {
            let c = SubscriptionCursor::new("same.v1", a, Position::AfterGlobalSequence(1), 0);
            for (j, b) in routes.iter().enumerate() {
                let bound = c.check_binding("same.v1", b);
                if i == j {
                    bound.unwrap();
                } else {
                    assert_eq!(bound, Err(CursorError::RouteMismatch), "{a:?} vs {b:?}");
                }
            }
        }
    }
}
