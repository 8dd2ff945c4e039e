//! Host modules, their sealed manifests, and the host that mounts them.

use std::collections::BTreeMap;
use std::sync::Arc;

use batpak::{Coordinate, Store, StoreError};
use syncbat::{
    AdmissionDecision, AdmissionGuard, BuildError, Core, Ctx, EffectAxis, Handler, HandlerResult,
    InvokeResult, Module, OperationDescriptor, ReceiptSink, RuntimeError, StoreEffectBackend,
    StoreReceiptSink,
};

/// Domain tag of a module manifest digest.
pub const MODULE_MANIFEST_DOMAIN: &[u8] = b"hostbat/module-manifest/v1\n";
/// Domain tag of [`Host::fingerprint`].
pub const HOST_FINGERPRINT_DOMAIN: &[u8] = b"hostbat/host-fingerprint/v1\n";
/// Domain tag of [`Host::interface_fingerprint`].
pub const INTERFACE_FINGERPRINT_DOMAIN: &[u8] = b"hostbat/interface-fingerprint/v1\n";

/// Entity and scope of the receipts a host records by default.
pub const DEFAULT_RECEIPT_COORDINATE: (&str, &str) = ("hostbat:receipts", "host");
/// Entity and scope of appends made through `Ctx` handles by default.
pub const DEFAULT_EFFECT_COORDINATE: (&str, &str) = ("hostbat:effects", "host");

/// Why a module or host could not be built, started or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// A name asked of the reference module is not a reference operation.
    #[error("not a reference operation: {0}")]
    UnknownReference(String),
    /// Two modules have the same id.
    #[error("module {module} is mounted twice")]
    DuplicateModule {
        /// The id.
        module: String,
    },
    /// Two modules declare the same operation.
    #[error("operation {operation} is declared by module {first} and module {second}")]
    OperationConflict {
        /// The operation.
        operation: String,
        /// The module mounted first.
        first: String,
        /// The module being mounted.
        second: String,
    },
    /// Two modules declare the same subscription id.
    #[error("subscription {subscription} is declared by module {first} and module {second}")]
    SubscriptionConflict {
        /// The subscription id.
        subscription: String,
        /// The module mounted first.
        first: String,
        /// The module being mounted.
        second: String,
    },
    /// A subscription source did not parse.
    #[error("invalid subscription source {0:?} (all, category:N, entity:NAME, receipts)")]
    InvalidSource(String),
    /// A subscription route cannot be served.
    #[error("subscription {id:?}: {reason}")]
    InvalidSubscription {
        /// The route id.
        id: String,
        /// Why.
        reason: String,
    },
    /// The runtime refused the operations.
    #[error("runtime build failed: {0}")]
    Build(#[from] BuildError),
    /// A store error while wiring the host.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A lifecycle hook failed.
    #[error("module {module} {phase} hook failed: {message}")]
    Hook {
        /// The module.
        module: String,
        /// `start` or `shutdown`.
        phase: &'static str,
        /// The hook's message.
        message: String,
    },
}

/// What a subscription delivers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubscriptionSource {
    /// Every committed event.
    All,
    /// Events of one 4-bit kind category.
    Category(u8),
    /// Events of one entity.
    Entity(String),
    /// Receipts recorded by the runtime.
    Receipts,
}

impl SubscriptionSource {
    /// Parses `all`, `category:N` (decimal or `0x` hex), `entity:NAME` or `receipts`.
    pub fn parse(text: &str) -> Result<Self, HostError> {
        let bad = || HostError::InvalidSource(text.to_owned());
        match text {
            "all" => Ok(Self::All),
            "receipts" => Ok(Self::Receipts),
            _ => {
                if let Some(n) = text.strip_prefix("category:") {
                    let v = match n.strip_prefix("0x") {
                        Some(h) => u8::from_str_radix(h, 16),
                        None => n.parse(),
                    }
                    .map_err(|_| bad())?;
                    if v > 0xF {
                        return Err(bad());
                    }
                    Ok(Self::Category(v))
                } else if let Some(e) = text.strip_prefix("entity:") {
                    if e.is_empty() {
                        return Err(bad());
                    }
                    Ok(Self::Entity(e.to_owned()))
                } else {
                    Err(bad())
                }
            }
        }
    }

    /// The text [`Self::parse`] reads.
    pub fn as_text(&self) -> String {
        match self {
            Self::All => "all".to_owned(),
            Self::Category(c) => format!("category:{c}"),
            Self::Entity(e) => format!("entity:{e}"),
            Self::Receipts => "receipts".to_owned(),
        }
    }
}

/// A subscription a module offers: an id and its source.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionDecl {
    /// The id clients subscribe to.
    pub id: String,
    /// What it delivers.
    pub source: SubscriptionSource,
}

/// A lifecycle hook: runs with the host's store; an `Err` message fails the phase.
pub type Hook = Arc<dyn Fn(&Store) -> Result<(), String> + Send + Sync>;

/// A module's sealed description: what the digest covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleManifest {
    /// Module id (operation-name grammar).
    pub id: String,
    /// Module version.
    pub version: String,
    /// Descriptors, sorted by name.
    pub operations: Vec<OperationDescriptor>,
    /// Capabilities the module needs granted, sorted.
    pub capabilities: Vec<String>,
    /// Subscriptions, sorted by id.
    pub subscriptions: Vec<SubscriptionDecl>,
    /// blake3 of [`ModuleManifest::canonical_bytes`].
    pub digest: [u8; 32],
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u64).to_le_bytes());
    out.extend_from_slice(field);
}

fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

const AXES: [EffectAxis; 5] = [
    EffectAxis::EventRead,
    EffectAxis::EventAppend,
    EffectAxis::ProjectionQuery,
    EffectAxis::ReceiptEmit,
    EffectAxis::HostControl,
];

/// Appends a descriptor's canonical encoding: name, effect, input schema,
/// output schema, receipt kind, then for each of the five axes (read,
/// append, projection, receipt, host control) the sorted targets, then the
/// sorted capabilities; every text is a u64-LE length and its bytes, every
/// list a u64-LE count.
fn put_descriptor(out: &mut Vec<u8>, d: &OperationDescriptor) {
    put(out, d.name().as_bytes());
    put(out, d.effect().as_str().as_bytes());
    put(out, d.input_schema().as_bytes());
    put(out, d.output_schema().as_bytes());
    put(out, d.receipt_kind().as_bytes());
    let row = d.effect_row();
    for axis in AXES {
        let mut targets: Vec<&str> = row.targets(axis).collect();
        targets.sort_unstable();
        put_count(out, targets.len());
        for t in targets {
            put(out, t.as_bytes());
        }
    }
    let mut caps: Vec<&str> = row.requires_capabilities().collect();
    caps.sort_unstable();
    put_count(out, caps.len());
    for c in caps {
        put(out, c.as_bytes());
    }
}

impl ModuleManifest {
    /// The canonical encoding the digest covers: [`MODULE_MANIFEST_DOMAIN`],
    /// id, version, the operation count and each descriptor (sorted by name),
    /// the capability count and each capability, the subscription count and
    /// each id with its source text. Texts are a u64-LE length and the bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = MODULE_MANIFEST_DOMAIN.to_vec();
        put(&mut out, self.id.as_bytes());
        put(&mut out, self.version.as_bytes());
        put_count(&mut out, self.operations.len());
        for d in &self.operations {
            put_descriptor(&mut out, d);
        }
        put_count(&mut out, self.capabilities.len());
        for c in &self.capabilities {
            put(&mut out, c.as_bytes());
        }
        put_count(&mut out, self.subscriptions.len());
        for s in &self.subscriptions {
            put(&mut out, s.id.as_bytes());
            put(&mut out, s.source.as_text().as_bytes());
        }
        out
    }
}

struct Shared(Arc<dyn Handler>);

impl Handler for Shared {
    fn handle(&self, input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
        self.0.handle(input, cx)
    }
}

/// A module ready to mount: sealed manifest, handlers and hooks.
pub struct HostModule {
    manifest: ModuleManifest,
    handlers: Vec<(OperationDescriptor, Arc<dyn Handler>)>,
    on_start: Vec<Hook>,
    on_shutdown: Vec<Hook>,
}

impl std::fmt::Debug for HostModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostModule")
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

impl HostModule {
    /// A builder for module `id` at `version`.
    pub fn builder(id: impl Into<String>, version: impl Into<String>) -> HostModuleBuilder {
        HostModuleBuilder {
            id: id.into(),
            version: version.into(),
            handlers: Vec::new(),
            capabilities: Vec::new(),
            subscriptions: Vec::new(),
            on_start: Vec::new(),
            on_shutdown: Vec::new(),
        }
    }

    /// The sealed manifest.
    pub fn manifest(&self) -> &ModuleManifest {
        &self.manifest
    }
}

/// Collects a module's parts; [`HostModuleBuilder::build`] seals them.
pub struct HostModuleBuilder {
    id: String,
    version: String,
    handlers: Vec<(OperationDescriptor, Arc<dyn Handler>)>,
    capabilities: Vec<String>,
    subscriptions: Vec<SubscriptionDecl>,
    on_start: Vec<Hook>,
    on_shutdown: Vec<Hook>,
}

impl std::fmt::Debug for HostModuleBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostModuleBuilder")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl HostModuleBuilder {
    /// Adds an operation; its descriptor is validated when the host is built.
    pub fn operation(
        &mut self,
        descriptor: OperationDescriptor,
        handler: impl Handler + 'static,
    ) -> &mut Self {
        self.handlers.push((descriptor, Arc::new(handler)));
        self
    }

    /// Declares a capability the module needs granted.
    pub fn capability(&mut self, capability: impl Into<String>) -> &mut Self {
        self.capabilities.push(capability.into());
        self
    }

    /// Declares a subscription.
    pub fn subscription(&mut self, id: impl Into<String>, source: SubscriptionSource) -> &mut Self {
        self.subscriptions.push(SubscriptionDecl {
            id: id.into(),
            source,
        });
        self
    }

    /// Adds a hook run by [`Host::start`].
    pub fn on_start(
        &mut self,
        hook: impl Fn(&Store) -> Result<(), String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_start.push(Arc::new(hook));
        self
    }

    /// Adds a hook run by [`Host::shutdown`].
    pub fn on_shutdown(
        &mut self,
        hook: impl Fn(&Store) -> Result<(), String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_shutdown.push(Arc::new(hook));
        self
    }

    /// Seals the manifest. Two operations or subscriptions of one name are refused.
    pub fn build(&mut self) -> Result<HostModule, HostError> {
        let mut handlers = std::mem::take(&mut self.handlers);
        handlers.sort_by(|a, b| a.0.name().cmp(b.0.name()));
        if let Some(w) = handlers.windows(2).find(|w| w[0].0.name() == w[1].0.name()) {
            return Err(HostError::OperationConflict {
                operation: w[0].0.name().to_owned(),
                first: self.id.clone(),
                second: self.id.clone(),
            });
        }
        let mut subscriptions = std::mem::take(&mut self.subscriptions);
        subscriptions.sort();
        if let Some(w) = subscriptions.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(HostError::SubscriptionConflict {
                subscription: w[0].id.clone(),
                first: self.id.clone(),
                second: self.id.clone(),
            });
        }
        let mut capabilities = std::mem::take(&mut self.capabilities);
        capabilities.sort();
        capabilities.dedup();
        let mut manifest = ModuleManifest {
            id: self.id.clone(),
            version: self.version.clone(),
            operations: handlers.iter().map(|(d, _)| d.clone()).collect(),
            capabilities,
            subscriptions,
            digest: [0; 32],
        };
        manifest.digest = *blake3::hash(&manifest.canonical_bytes()).as_bytes();
        Ok(HostModule {
            manifest,
            handlers,
            on_start: std::mem::take(&mut self.on_start),
            on_shutdown: std::mem::take(&mut self.on_shutdown),
        })
    }
}

/// Mounts modules over one store and builds a [`Host`].
pub struct HostBuilder {
    store: Arc<Store>,
    modules: BTreeMap<String, HostModule>,
    grants: Vec<String>,
    receipt_sink: Option<Box<dyn ReceiptSink>>,
    guard: Option<Box<dyn AdmissionGuard>>,
}

struct BoxedGuard(Box<dyn AdmissionGuard>);

impl AdmissionGuard for BoxedGuard {
    fn admit(&self, descriptor: &OperationDescriptor, input: &[u8]) -> AdmissionDecision {
        self.0.admit(descriptor, input)
    }
}

impl std::fmt::Debug for HostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostBuilder")
            .field("modules", &self.modules.keys().collect::<Vec<_>>())
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

struct BoxedSink(Box<dyn ReceiptSink>);

impl ReceiptSink for BoxedSink {
    fn record_receipt(
        &self,
        envelope: &syncbat::ReceiptEnvelope,
    ) -> Result<syncbat::RecordedReceipt, syncbat::SinkError> {
        self.0.record_receipt(envelope)
    }
}

impl HostBuilder {
    /// A builder over `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            modules: BTreeMap::new(),
            grants: Vec::new(),
            receipt_sink: None,
            guard: None,
        }
    }

    /// Mounts a module. A module id, operation or subscription already
    /// mounted is a conflict naming both modules; nothing is mounted then.
    pub fn mount(&mut self, module: HostModule) -> Result<&mut Self, HostError> {
        let id = module.manifest.id.clone();
        if self.modules.contains_key(&id) {
            return Err(HostError::DuplicateModule { module: id });
        }
        for other in self.modules.values() {
            for d in &module.manifest.operations {
                if other
                    .manifest
                    .operations
                    .iter()
                    .any(|o| o.name() == d.name())
                {
                    return Err(HostError::OperationConflict {
                        operation: d.name().to_owned(),
                        first: other.manifest.id.clone(),
                        second: id,
                    });
                }
            }
            for s in &module.manifest.subscriptions {
                if other.manifest.subscriptions.iter().any(|o| o.id == s.id) {
                    return Err(HostError::SubscriptionConflict {
                        subscription: s.id.clone(),
                        first: other.manifest.id.clone(),
                        second: id,
                    });
                }
            }
        }
        self.modules.insert(id, module);
        Ok(self)
    }

    /// Grants a capability.
    pub fn grant(&mut self, capability: impl Into<String>) -> &mut Self {
        self.grants.push(capability.into());
        self
    }

    /// Records receipts through `sink` instead of the store.
    pub fn receipt_sink(&mut self, sink: impl ReceiptSink + 'static) -> &mut Self {
        self.receipt_sink = Some(Box::new(sink));
        self
    }

    /// Asks `guard` before every call, after the capability check.
    pub fn admission_guard(&mut self, guard: impl AdmissionGuard + 'static) -> &mut Self {
        self.guard = Some(Box::new(guard));
        self
    }

    /// Builds the host: every module's operations on one runtime.
    pub fn build(mut self) -> Result<Host, HostError> {
        let mut core = Core::builder();
        for module in self.modules.values() {
            let mut m = Module::new(&module.manifest.id)?;
            for (d, h) in &module.handlers {
                m.register(d.clone(), Shared(h.clone()))?;
            }
            core.mount(m)?;
        }
        self.grants.sort();
        self.grants.dedup();
        core.grant_capabilities(self.grants.iter().cloned());
        let (e, s) = DEFAULT_EFFECT_COORDINATE;
        core.effect_backend(StoreEffectBackend::new(
            self.store.clone(),
            Coordinate::new(e, s)?,
        ));
        match self.receipt_sink.take() {
            Some(sink) => {
                core.receipt_sink(BoxedSink(sink));
            }
            None => {
                let (e, s) = DEFAULT_RECEIPT_COORDINATE;
                core.receipt_sink(StoreReceiptSink::new(
                    self.store.clone(),
                    Coordinate::new(e, s)?,
                ));
            }
        }
        if let Some(guard) = self.guard.take() {
            core.admission_guard(BoxedGuard(guard));
        }
        let core = core.build()?;
        Ok(Host {
            store: self.store,
            core,
            modules: self.modules.into_values().collect(),
            grants: self.grants,
        })
    }
}

/// One store, one runtime, the mounted modules.
pub struct Host {
    store: Arc<Store>,
    core: Core,
    modules: Vec<HostModule>,
    grants: Vec<String>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field(
                "modules",
                &self
                    .modules
                    .iter()
                    .map(|m| &m.manifest.id)
                    .collect::<Vec<_>>(),
            )
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A builder over `store`.
    pub fn builder(store: Arc<Store>) -> HostBuilder {
        HostBuilder::new(store)
    }

    /// Runs operation `name` on `input`.
    pub fn invoke(&self, name: &str, input: Vec<u8>) -> Result<InvokeResult, RuntimeError> {
        self.core.invoke(name, input)
    }

    /// The runtime.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Manifests of the mounted modules, sorted by id.
    pub fn manifests(&self) -> impl Iterator<Item = &ModuleManifest> {
        self.modules.iter().map(|m| &m.manifest)
    }

    /// Every declared subscription, sorted by module id then subscription id.
    pub fn subscriptions(&self) -> impl Iterator<Item = &SubscriptionDecl> {
        self.modules
            .iter()
            .flat_map(|m| m.manifest.subscriptions.iter())
    }

    /// Runs every start hook: modules by id ascending, each module's hooks in
    /// the order added. Stops at the first failure.
    pub fn start(&self) -> Result<(), HostError> {
        for m in &self.modules {
            for hook in &m.on_start {
                hook(&self.store).map_err(|message| HostError::Hook {
                    module: m.manifest.id.clone(),
                    phase: "start",
                    message,
                })?;
            }
        }
        Ok(())
    }

    /// Runs every shutdown hook: modules by id descending, each module's hooks
    /// in reverse order. Every hook runs; the first failure is returned.
    pub fn shutdown(&self) -> Result<(), HostError> {
        let mut first = None;
        for m in self.modules.iter().rev() {
            for hook in m.on_shutdown.iter().rev() {
                if let Err(message) = hook(&self.store) {
                    first.get_or_insert(HostError::Hook {
                        module: m.manifest.id.clone(),
                        phase: "shutdown",
                        message,
                    });
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// blake3 over [`HOST_FINGERPRINT_DOMAIN`], the module digests (sorted by
    /// module id) and the sorted grants; independent of mount order.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut out = HOST_FINGERPRINT_DOMAIN.to_vec();
        put_count(&mut out, self.modules.len());
        for m in &self.modules {
            put(&mut out, m.manifest.id.as_bytes());
            out.extend_from_slice(&m.manifest.digest);
        }
        put_count(&mut out, self.grants.len());
        for g in &self.grants {
            put(&mut out, g.as_bytes());
        }
        *blake3::hash(&out).as_bytes()
    }

    /// blake3 over [`INTERFACE_FINGERPRINT_DOMAIN`] and every operation
    /// descriptor sorted by name: what a client can call, whichever modules
    /// provide it.
    pub fn interface_fingerprint(&self) -> [u8; 32] {
        let mut ds: Vec<&OperationDescriptor> = self
            .modules
            .iter()
            .flat_map(|m| m.manifest.operations.iter())
            .collect();
        ds.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = INTERFACE_FINGERPRINT_DOMAIN.to_vec();
        put_count(&mut out, ds.len());
        for d in ds {
            put_descriptor(&mut out, d);
        }
        *blake3::hash(&out).as_bytes()
    }
}
