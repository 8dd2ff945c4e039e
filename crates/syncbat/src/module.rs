//! Modules: named bundles of operations with their handlers.

use crate::builder::{BuildError, Origin};
use crate::descriptor::OperationDescriptor;
use crate::handler::Handler;
use crate::name::OperationName;

/// A named bundle of operations and handlers, mounted on a
/// [`crate::CoreBuilder`] in one step.
///
/// ```
/// use syncbat::{Core, Ctx, EffectClass, HandlerResult, Module, OperationDescriptor};
/// const PING: OperationDescriptor =
///     OperationDescriptor::new("diag.ping", EffectClass::Compute, "diag.ping.request", "diag.ping.reply", "receipt.diag.ping.v1");
/// fn ping(_: &[u8], _: &mut Ctx<'_>) -> HandlerResult { Ok(b"pong".to_vec()) }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut diag = Module::new("diag")?;
/// diag.register(PING, ping)?;
/// let mut builder = Core::builder();
/// builder.mount(diag)?.without_receipts();
/// let core = builder.build()?;
/// assert_eq!(core.invoke("diag.ping", vec![])?.output(), b"pong");
/// # Ok(()) }
/// ```
pub struct Module {
    name: OperationName,
    pub(crate) operations: Vec<(OperationDescriptor, Box<dyn Handler>)>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field(
                "operations",
                &self
                    .operations
                    .iter()
                    .map(|(d, _)| d.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Module {
    /// An empty module; its name follows the operation-name grammar.
    pub fn new(name: impl AsRef<str>) -> Result<Self, BuildError> {
        let name = name.as_ref();
        let name = OperationName::new(name).map_err(|problem| BuildError::InvalidModuleName {
            module: name.to_owned(),
            problem,
        })?;
        Ok(Self {
            name,
            operations: Vec::new(),
        })
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Adds an operation; its descriptor is validated now, and a second
    /// operation of the same name is refused.
    pub fn register(
        &mut self,
        descriptor: OperationDescriptor,
        handler: impl Handler + 'static,
    ) -> Result<&mut Self, BuildError> {
        descriptor.validate()?;
        if self
            .operations
            .iter()
            .any(|(d, _)| d.name() == descriptor.name())
        {
            let origin = Origin::Module(self.name().to_owned());
            return Err(BuildError::DuplicateOperation {
                operation: descriptor.name().to_owned(),
                first: origin.clone(),
                second: origin,
            });
        }
        self.operations.push((descriptor, Box::new(handler)));
        Ok(self)
    }

    /// Names of the module's operations, in registration order.
    pub fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.iter().map(|(d, _)| d.name())
    }
}
