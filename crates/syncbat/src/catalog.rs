//! The durable operation catalog: descriptors persisted as events (put,
//! update, delete, supersede) on one entity, rebuilt from the store in
//! sequence order. A transition the current state does not allow is refused
//! before anything is written, and a stored history containing one fails the
//! rebuild.
//!
//! Each event has kind [`CATALOG_EVENT_KIND`] (`custom(0xC, 0x5B8)`) and a
//! [`CatalogRecord`] payload, MessagePack with named fields: `action`
//! (`put`, `update`, `delete`, `supersede`), `name`, `supersedes` (the
//! retired name, for `supersede`), and `descriptor` (absent for `delete`):
//! `title`, `effect`, `input_schema`, `output_schema`, `receipt_kind`,
//! `effect_row` (`reads_events`, `appends_events`, `queries_projections`,
//! `emits_receipts`, `uses_host_controls`, `requires_capabilities`; empty
//! lists omitted).
//!
//! ```
//! use std::sync::Arc;
//! use batpak::prelude::*;
//! use syncbat::catalog::OperationCatalog;
//! use syncbat::{EffectClass, OperationDescriptor};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
//! let at = Coordinate::new("syncbat:catalog", "ops")?;
//! let catalog = OperationCatalog::open(store.clone(), at.clone())?;
//! catalog.put(OperationDescriptor::new("ping", EffectClass::Compute, "ping.in", "ping.out", "receipt.ping.v1"))?;
//! catalog.supersede("ping", OperationDescriptor::new("ping2", EffectClass::Compute, "ping.in", "ping.out", "receipt.ping.v2"))?;
//! assert!(catalog.delete("ping").is_err()); // retired: only a live name can be deleted
//! let rebuilt = OperationCatalog::open(store, at)?;
//! assert_eq!(rebuilt.live_names(), ["ping2"]);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use batpak::{
    AppendOptions, Coordinate, EventKind, ExpectedSequence, Region, Store, StoreError, StoreReader,
};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::descriptor::{DescriptorError, EffectClass, OperationDescriptor};
use crate::row::OperationEffectRow;

/// Kind of the catalog events.
pub const CATALOG_EVENT_KIND: EventKind = EventKind::custom(0xC, 0x5B8);

/// What a catalog event does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CatalogAction {
    /// Adds an operation that is not live.
    Put,
    /// Replaces the descriptor of a live operation (same name).
    Update,
    /// Retires a live operation.
    Delete,
    /// Retires a live operation in favour of a new one with another name.
    Supersede,
}

impl std::fmt::Display for CatalogAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Put => "put",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Supersede => "supersede",
        })
    }
}

/// A descriptor as the catalog stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DescriptorRecord {
    /// Title, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Effect class.
    pub effect: EffectClass,
    /// Input schema reference.
    pub input_schema: String,
    /// Output schema reference.
    pub output_schema: String,
    /// Receipt kind.
    pub receipt_kind: String,
    /// Declared effect row.
    #[serde(default)]
    pub effect_row: OperationEffectRow,
}

/// One catalog event's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CatalogRecord {
    /// What it does.
    pub action: CatalogAction,
    /// The operation it puts, updates, deletes, or (for supersede) introduces.
    pub name: String,
    /// For supersede: the operation retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
    /// The descriptor (absent for delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<DescriptorRecord>,
}

impl CatalogRecord {
    fn with(action: CatalogAction, d: &OperationDescriptor, supersedes: Option<String>) -> Self {
        Self {
            action,
            name: d.name().to_owned(),
            supersedes,
            descriptor: Some(DescriptorRecord {
                title: d.title().map(str::to_owned),
                effect: d.effect(),
                input_schema: d.input_schema().to_owned(),
                output_schema: d.output_schema().to_owned(),
                receipt_kind: d.receipt_kind().to_owned(),
                effect_row: d.effect_row().clone(),
            }),
        }
    }

    fn descriptor(&self) -> Option<OperationDescriptor> {
        self.descriptor.as_ref().map(|r| {
            let d = OperationDescriptor::owned(
                self.name.clone(),
                r.effect,
                r.input_schema.clone(),
                r.output_schema.clone(),
                r.receipt_kind.clone(),
            )
            .with_effect_row(r.effect_row.clone());
            match &r.title {
                Some(t) => d.with_title(t.clone()),
                None => d,
            }
        })
    }
}

/// Why a transition is not allowed in the current state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionProblem {
    /// Put or supersede onto a name that is live.
    #[error("the operation is already live")]
    AlreadyLive,
    /// Update, delete or supersede of a name that is not live.
    #[error("the operation is not live")]
    NotLive,
    /// Put or supersede onto a name that was superseded (its successor stands).
    #[error("the operation was superseded by {by:?}")]
    Superseded {
        /// The successor.
        by: String,
    },
    /// Supersede of a name by itself.
    #[error("an operation cannot supersede itself")]
    SameName,
    /// A stored put, update or supersede without a descriptor, or a supersede
    /// without the name it retires.
    #[error("the record is incomplete")]
    Incomplete,
}

/// Why a catalog call or rebuild failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The store refused or failed (a concurrent catalog writer shows as
    /// [`StoreError::SequenceMismatch`]).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The descriptor failed validation.
    #[error("invalid descriptor: {0}")]
    Descriptor(#[from] DescriptorError),
    /// The transition is not allowed now.
    #[error("cannot {action} {name:?}: {problem}")]
    Transition {
        /// The action.
        action: CatalogAction,
        /// The operation.
        name: String,
        /// Why not.
        problem: TransitionProblem,
    },
    /// The stored history holds an event that does not apply.
    #[error("catalog event at global sequence {global_sequence} does not apply: {source}")]
    Rebuild {
        /// Where it is.
        global_sequence: u64,
        /// Why it does not apply.
        source: Box<CatalogError>,
    },
}

/// How an operation left the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retirement {
    /// Deleted (the name may be put again).
    Deleted,
    /// Superseded by this operation.
    SupersededBy(String),
}

/// The catalog's state: live descriptors and retired names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogState {
    live: BTreeMap<String, OperationDescriptor>,
    retired: BTreeMap<String, Retirement>,
    last_entity_sequence: Option<u64>,
}

impl CatalogState {
    /// Replays the catalog events of `coordinate`'s entity, in sequence order.
    pub fn rebuild(reader: &StoreReader, coordinate: &Coordinate) -> Result<Self, CatalogError> {
        let mut state = Self::default();
        let region = Region::entity(coordinate.entity()).with_kind(CATALOG_EVENT_KIND);
        for entry in reader.query(&region) {
            let record = reader
                .get_as::<CatalogRecord>(entry.event_id())?
                .event
                .payload;
            state.apply(&record).map_err(|e| CatalogError::Rebuild {
                global_sequence: entry.global_sequence(),
                source: Box::new(e),
            })?;
        }
        // The expected sequence of the next write covers every event of the
        // entity, whatever its kind.
        state.last_entity_sequence = reader
            .by_entity(coordinate.entity())
            .last()
            .map(|e| e.entity_sequence());
        Ok(state)
    }

    /// The live descriptor of `name`.
    pub fn get(&self, name: &str) -> Option<&OperationDescriptor> {
        self.live.get(name)
    }

    /// Live operation names, sorted.
    pub fn live_names(&self) -> Vec<&str> {
        self.live.keys().map(String::as_str).collect()
    }

    /// Every live descriptor, by name.
    pub fn live(&self) -> impl Iterator<Item = &OperationDescriptor> {
        self.live.values()
    }

    /// How `name` left the catalog, if it did.
    pub fn retirement(&self, name: &str) -> Option<&Retirement> {
        self.retired.get(name)
    }

    fn refuse(action: CatalogAction, name: &str, problem: TransitionProblem) -> CatalogError {
        CatalogError::Transition {
            action,
            name: name.to_owned(),
            problem,
        }
    }

    fn check_free(&self, action: CatalogAction, name: &str) -> Result<(), CatalogError> {
        if self.live.contains_key(name) {
            return Err(Self::refuse(action, name, TransitionProblem::AlreadyLive));
        }
        if let Some(Retirement::SupersededBy(by)) = self.retired.get(name) {
            return Err(Self::refuse(
                action,
                name,
                TransitionProblem::Superseded { by: by.clone() },
            ));
        }
        Ok(())
    }

    fn check_live(&self, action: CatalogAction, name: &str) -> Result<(), CatalogError> {
        if self.live.contains_key(name) {
            Ok(())
        } else {
            Err(Self::refuse(action, name, TransitionProblem::NotLive))
        }
    }

    /// Checks `record` against the state without changing it.
    fn check(&self, record: &CatalogRecord) -> Result<Option<OperationDescriptor>, CatalogError> {
        let action = record.action;
        let name = record.name.as_str();
        let descriptor = record.descriptor();
        if let Some(d) = &descriptor {
            d.validate()?;
        }
        let incomplete = || Self::refuse(action, name, TransitionProblem::Incomplete);
        match action {
            CatalogAction::Put => {
                descriptor.as_ref().ok_or_else(incomplete)?;
                self.check_free(action, name)?;
            }
            CatalogAction::Update => {
                descriptor.as_ref().ok_or_else(incomplete)?;
                self.check_live(action, name)?;
            }
            CatalogAction::Delete => self.check_live(action, name)?,
            CatalogAction::Supersede => {
                descriptor.as_ref().ok_or_else(incomplete)?;
                let old = record.supersedes.as_deref().ok_or_else(incomplete)?;
                if old == name {
                    return Err(Self::refuse(action, name, TransitionProblem::SameName));
                }
                self.check_live(action, old)?;
                self.check_free(action, name)?;
            }
        }
        Ok(descriptor)
    }

    fn apply(&mut self, record: &CatalogRecord) -> Result<(), CatalogError> {
        let descriptor = self.check(record)?;
        let name = record.name.clone();
        match (record.action, descriptor) {
            (CatalogAction::Delete, _) => {
                self.live.remove(&name);
                self.retired.insert(name, Retirement::Deleted);
            }
            (CatalogAction::Supersede, Some(d)) => {
                if let Some(old) = &record.supersedes {
                    self.live.remove(old);
                    self.retired
                        .insert(old.clone(), Retirement::SupersededBy(name.clone()));
                }
                self.retired.remove(&name);
                self.live.insert(name, d);
            }
            (_, Some(d)) => {
                self.retired.remove(&name);
                self.live.insert(name, d);
            }
            (_, None) => {}
        }
        Ok(())
    }
}

/// The catalog over one entity of a store: checks each transition against
/// the rebuilt state, then appends it with an expected entity sequence (so
/// two writers cannot interleave unseen).
#[derive(Debug)]
pub struct OperationCatalog {
    store: Arc<Store>,
    coordinate: Coordinate,
    state: Mutex<CatalogState>,
}

impl OperationCatalog {
    /// Opens the catalog on `coordinate`, rebuilding its state from the store.
    pub fn open(store: Arc<Store>, coordinate: Coordinate) -> Result<Self, CatalogError> {
        let state = CatalogState::rebuild(store.reader(), &coordinate)?;
        Ok(Self {
            store,
            coordinate,
            state: Mutex::new(state),
        })
    }

    /// A copy of the current state.
    pub fn state(&self) -> CatalogState {
        self.state.lock().clone()
    }

    /// Live operation names, sorted.
    pub fn live_names(&self) -> Vec<String> {
        self.state
            .lock()
            .live_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// The live descriptor of `name`.
    pub fn get(&self, name: &str) -> Option<OperationDescriptor> {
        self.state.lock().get(name).cloned()
    }

    /// Adds `descriptor`, whose name must not be live (nor superseded).
    pub fn put(
        &self,
        descriptor: OperationDescriptor,
    ) -> Result<batpak::AppendReceipt, CatalogError> {
        self.write(CatalogRecord::with(CatalogAction::Put, &descriptor, None))
    }

    /// Replaces the descriptor of a live operation.
    pub fn update(
        &self,
        descriptor: OperationDescriptor,
    ) -> Result<batpak::AppendReceipt, CatalogError> {
        self.write(CatalogRecord::with(
            CatalogAction::Update,
            &descriptor,
            None,
        ))
    }

    /// Retires a live operation.
    pub fn delete(&self, name: &str) -> Result<batpak::AppendReceipt, CatalogError> {
        self.write(CatalogRecord {
            action: CatalogAction::Delete,
            name: name.to_owned(),
            supersedes: None,
            descriptor: None,
        })
    }

    /// Retires live operation `old` in favour of `descriptor` (another name).
    pub fn supersede(
        &self,
        old: &str,
        descriptor: OperationDescriptor,
    ) -> Result<batpak::AppendReceipt, CatalogError> {
        self.write(CatalogRecord::with(
            CatalogAction::Supersede,
            &descriptor,
            Some(old.to_owned()),
        ))
    }

    fn write(&self, record: CatalogRecord) -> Result<batpak::AppendReceipt, CatalogError> {
        let mut state = self.state.lock();
        state.check(&record)?;
        let expected = match state.last_entity_sequence {
            Some(s) => ExpectedSequence::Exact(s),
            None => ExpectedSequence::NoStream,
        };
        let opts = AppendOptions::default().with_expected_sequence(expected);
        let receipt =
            self.store
                .append_with_options(&self.coordinate, CATALOG_EVENT_KIND, &record, opts)?;
        state.apply(&record)?;
        state.last_entity_sequence = Some(receipt.entity_sequence);
        Ok(receipt)
    }
}
