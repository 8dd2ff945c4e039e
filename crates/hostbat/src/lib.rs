//! The host: one [`batpak::Store`], the [`syncbat`] runtime, the reference
//! operations and any other [`HostModule`]s, mounted by a [`HostBuilder`].
//!
//! ```
//! use std::sync::Arc;
//! use batpak::prelude::*;
//! use hostbat::{reference_module, wire, Host};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Arc::new(Store::open(StoreConfig::new(dir.path()))?);
//! let mut builder = Host::builder(store.clone());
//! builder.mount(reference_module(store)?)?;
//! let host = builder.build()?;
//! let input = rmp_serde::to_vec_named(&wire::HeartbeatRequest { nonce: "n".into() })?;
//! let ack: wire::HeartbeatAck = rmp_serde::from_slice(host.invoke("system.heartbeat", input)?.output())?;
//! assert_eq!(ack.nonce, "n");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod hex;
mod host;
pub mod net;
pub mod reference;
pub mod wire;

pub use crate::host::{
    Hook, Host, HostBuilder, HostError, HostModule, HostModuleBuilder, ModuleManifest,
    SubscriptionDecl, SubscriptionSource, DEFAULT_EFFECT_COORDINATE, DEFAULT_RECEIPT_COORDINATE,
    HOST_FINGERPRINT_DOMAIN, INTERFACE_FINGERPRINT_DOMAIN, MODULE_MANIFEST_DOMAIN,
};
pub use crate::net::{call_failure, HostDispatch, HostSubscriptions, DEFAULT_SUBSCRIPTION};
pub use crate::reference::{
    reference_module, reference_module_with, reference_module_with_limit, ReferenceConfig,
    REFERENCE_OPERATIONS,
};
