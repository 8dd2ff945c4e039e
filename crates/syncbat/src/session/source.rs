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
