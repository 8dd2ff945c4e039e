//! `CoreBuilder`: operations, modules, capabilities, backend and sinks.

use std::collections::{HashMap, HashSet};

use crate::admission::AdmissionGuard;
use crate::backend::EffectBackend;
use crate::core::{Core, Registered};
use crate::descriptor::{DescriptorError, OperationDescriptor};
use crate::handler::Handler;
use crate::module::Module;
use crate::name::OperationNameError;
use crate::receipt::{ReceiptHashPolicy, ReceiptSink};
use crate::status::OperationStatusSink;

/// Where a registration came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// [`CoreBuilder::register`].
    Direct,
    /// A mounted [`Module`] of this name.
    Module(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Direct => f.write_str("a direct registration"),
            Self::Module(m) => write!(f, "module {m:?}"),
        }
    }
}

/// Why a core could not be assembled. Conflicts name both sides.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A descriptor failed validation.
    #[error("invalid descriptor: {0}")]
    InvalidDescriptor(#[from] DescriptorError),
    /// A module name breaks the operation-name grammar.
    #[error("module name {module:?}: {problem}")]
    InvalidModuleName {
        /// The refused name.
        module: String,
        /// What is wrong with it.
        problem: OperationNameError,
    },
    /// Two registrations of one operation name.
    #[error("operation {operation:?} is registered by {first} and again by {second}")]
    DuplicateOperation {
        /// The operation.
        operation: String,
        /// The registration already there.
        first: Origin,
        /// The one refused.
        second: Origin,
    },
    /// Two modules of one name.
    #[error("module {module:?} is mounted twice")]
    DuplicateModule {
        /// The module.
        module: String,
    },
    /// Two operations claim one receipt kind (receipt streams would mix them).
    #[error("receipt kind {receipt_kind:?} is claimed by operation {first:?} and by {second:?}")]
    ReceiptKindConflict {
        /// The receipt kind.
        receipt_kind: String,
        /// The operation already registered with it.
        first: String,
        /// The one refused.
        second: String,
    },
    /// `build()` without a receipt sink, and `without_receipts()` was not stated.
    #[error("no receipt sink: set one with receipt_sink(), or state without_receipts()")]
    MissingReceiptSink,
}

/// Assembles a [`Core`].
///
/// ```
/// use syncbat::{BuildError, Core};
/// assert_eq!(Core::builder().build().err(), Some(BuildError::MissingReceiptSink));
/// let mut b = Core::builder();
/// b.without_receipts();
/// assert!(b.build().is_ok());
/// ```
#[derive(Default)]
pub struct CoreBuilder {
    ops: HashMap<String, (Registered, Origin)>,
    receipt_kinds: HashMap<String, String>,
    modules: HashSet<String>,
    granted: HashSet<String>,
    backend: Option<Box<dyn EffectBackend>>,
    receipts: Option<Box<dyn ReceiptSink>>,
    statuses: Option<Box<dyn OperationStatusSink>>,
    guard: Option<Box<dyn AdmissionGuard>>,
    hash_policy: ReceiptHashPolicy,
    without_receipts: bool,
}

impl std::fmt::Debug for CoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreBuilder")
            .field("operations", &self.ops.keys().collect::<Vec<_>>())
            .field("granted", &self.granted)
            .field("backend", &self.backend.is_some())
            .field("receipt_sink", &self.receipts.is_some())
            .finish_non_exhaustive()
    }
}

impl CoreBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an operation with its handler. The descriptor is validated
    /// now; a name or receipt kind already taken is a conflict.
    pub fn register(
        &mut self,
        descriptor: OperationDescriptor,
        handler: impl Handler + 'static,
    ) -> Result<&mut Self, BuildError> {
        descriptor.validate()?;
        self.insert(descriptor, Box::new(handler), Origin::Direct)?;
        Ok(self)
    }

    /// Mounts every operation of `module`; nothing is mounted if one conflicts.
    pub fn mount(&mut self, module: Module) -> Result<&mut Self, BuildError> {
        let name = module.name().to_owned();
        if self.modules.contains(&name) {
            return Err(BuildError::DuplicateModule { module: name });
        }
        let origin = Origin::Module(name.clone());
        for (d, _) in &module.operations {
            self.check_free(d, &origin)?;
        }
        self.modules.insert(name);
        for (d, h) in module.operations {
            self.insert(d, h, origin.clone())?;
        }
        Ok(self)
    }

    fn check_free(&self, d: &OperationDescriptor, origin: &Origin) -> Result<(), BuildError> {
        if let Some((_, first)) = self.ops.get(d.name()) {
            return Err(BuildError::DuplicateOperation {
                operation: d.name().to_owned(),
                first: first.clone(),
                second: origin.clone(),
            });
        }
        if let Some(first) = self.receipt_kinds.get(d.receipt_kind()) {
            return Err(BuildError::ReceiptKindConflict {
                receipt_kind: d.receipt_kind().to_owned(),
                first: first.clone(),
                second: d.name().to_owned(),
            });
        }
        Ok(())
    }

    fn insert(
        &mut self,
        descriptor: OperationDescriptor,
        handler: Box<dyn Handler>,
        origin: Origin,
    ) -> Result<(), BuildError> {
        self.check_free(&descriptor, &origin)?;
        self.receipt_kinds.insert(
            descriptor.receipt_kind().to_owned(),
            descriptor.name().to_owned(),
        );
        self.ops.insert(
            descriptor.name().to_owned(),
            (Registered::new(descriptor, handler), origin),
        );
        Ok(())
    }

    /// Grants a capability token: operations requiring it may run.
    pub fn grant_capability(&mut self, capability: impl Into<String>) -> &mut Self {
        self.granted.insert(capability.into());
        self
    }

    /// Grants several capability tokens.
    pub fn grant_capabilities<I, S>(&mut self, capabilities: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.granted
            .extend(capabilities.into_iter().map(Into::into));
        self
    }

    /// Sets the backend that performs effects (without one, every effect fails closed).
    pub fn effect_backend(&mut self, backend: impl EffectBackend + 'static) -> &mut Self {
        self.backend = Some(Box::new(backend));
        self
    }

    /// Sets the receipt sink.
    pub fn receipt_sink(&mut self, sink: impl ReceiptSink + 'static) -> &mut Self {
        self.receipts = Some(Box::new(sink));
        self
    }

    /// Sets the operation-status sink (optional).
    pub fn status_sink(&mut self, sink: impl OperationStatusSink + 'static) -> &mut Self {
        self.statuses = Some(Box::new(sink));
        self
    }

    /// Sets the admission guard (optional).
    pub fn admission_guard(&mut self, guard: impl AdmissionGuard + 'static) -> &mut Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// Sets how receipts hash input and output (default blake3).
    pub fn receipt_hash_policy(&mut self, policy: ReceiptHashPolicy) -> &mut Self {
        self.hash_policy = policy;
        self
    }

    /// States that this core records no receipts (without it, `build()`
    /// refuses a core with no receipt sink).
    pub fn without_receipts(&mut self) -> &mut Self {
        self.without_receipts = true;
        self
    }

    /// Builds the core.
    pub fn build(self) -> Result<Core, BuildError> {
        if self.receipts.is_none() && !self.without_receipts {
            return Err(BuildError::MissingReceiptSink);
        }
        Ok(Core {
            ops: self
                .ops
                .into_iter()
                .map(|(name, (reg, _))| (name.into_boxed_str(), reg))
                .collect(),
            granted: self.granted.into_iter().collect(),
            backend: self.backend,
            receipts: self.receipts,
            statuses: self.statuses,
            guard: self.guard,
            hash_policy: self.hash_policy,
        })
    }
}
