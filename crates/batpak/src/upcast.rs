//! Schema evolution: lifting a stored payload to the version a reader expects.
//!
//! Stored bytes are never rewritten. A typed read of an event stored at
//! version `v` by a reader at version `n > v` decodes the bytes into a neutral
//! MessagePack value ([`rmpv::Value`]), applies the registered steps
//! `v→v+1`, …, `n-1→n` in memory, and only then decodes the result into the
//! reader's type.

use crate::error::StoreError;
use crate::id::EventId;
use crate::kind::EventKind;
use crate::registry::upcast_step;

/// One step of a payload's schema evolution: turns the payload of `KIND` at
/// version `FROM` into the payload at version `FROM + 1`.
///
/// A step works on the neutral value the stored bytes decode to (structs are
/// maps keyed by field name), so it needs no copy of the old Rust type.
/// Register it with [`crate::register_upcast!`].
///
/// ```
/// use batpak::prelude::*;
/// use batpak::rmpv::Value;
///
/// #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
/// #[batpak(category = 0xE, type_id = 0x301, version = 2)]
/// struct Renamed { id: u64, title: String }
///
/// /// Version 1 called the field `name`.
/// struct RenamedV1ToV2;
/// impl Upcast for RenamedV1ToV2 {
///     const KIND: EventKind = Renamed::KIND;
///     const FROM: u16 = 1;
///     fn upcast(value: Value) -> Result<Value, batpak::BoxError> {
///         let Value::Map(fields) = value else { return Err("expected a map".into()) };
///         let fields = fields
///             .into_iter()
///             .map(|(k, v)| if k.as_str() == Some("name") { (Value::from("title"), v) } else { (k, v) })
///             .collect();
///         Ok(Value::Map(fields))
///     }
/// }
/// batpak::register_upcast!(RenamedV1ToV2);
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// batpak::verify_registry()?; // the chain 1→2 is complete
/// # Ok(()) }
/// ```
pub trait Upcast {
    /// The kind whose payloads this step lifts.
    const KIND: EventKind;
    /// The version this step reads (at least 1); it produces `FROM + 1`.
    const FROM: u16;
    /// Lifts one payload; an `Err` becomes [`StoreError::UpcastFailed`] on the read.
    fn upcast(value: rmpv::Value) -> Result<rmpv::Value, crate::BoxError>;
}

/// Registers [`Upcast`] steps so typed reads apply them and store opens count
/// them when checking upcast chains. Accepts one or more step types.
///
/// A step with `FROM = 0` or `FROM = u16::MAX` is a compile error.
///
/// ```
/// use batpak::prelude::*;
/// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
/// # #[batpak(category = 0xE, type_id = 0x302, version = 3)]
/// # struct Thing { n: u64 }
/// struct V1ToV2;
/// impl Upcast for V1ToV2 {
///     const KIND: EventKind = Thing::KIND;
///     const FROM: u16 = 1;
///     fn upcast(v: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> { Ok(v) }
/// }
/// struct V2ToV3;
/// impl Upcast for V2ToV3 {
///     const KIND: EventKind = Thing::KIND;
///     const FROM: u16 = 2;
///     fn upcast(v: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> { Ok(v) }
/// }
/// batpak::register_upcast!(V1ToV2, V2ToV3);
/// # fn main() { assert!(batpak::verify_registry().is_ok()); }
/// ```
#[macro_export]
macro_rules! register_upcast {
    ($($step:ty),+ $(,)?) => {
        $(
            const _: () = {
                ::core::assert!(
                    <$step as $crate::Upcast>::FROM >= 1
                        && <$step as $crate::Upcast>::FROM < u16::MAX,
                    "an upcast step's FROM must be between 1 and 65534"
                );
                $crate::__private::inventory::submit! {
                    $crate::__private::UpcastRegistration::new(
                        <$step as $crate::Upcast>::KIND,
                        <$step as $crate::Upcast>::FROM,
                        <$step as $crate::Upcast>::upcast,
                        $crate::__private::type_name_of::<$step>,
                        ::core::env!("CARGO_PKG_NAME"),
                    )
                }
            };
        )+
    };
}

/// Decodes a payload stored at `stored` into the bytes of version `target`,
/// applying registered steps. Returns `None` when no lifting is needed.
pub(crate) fn lift(
    event_id: EventId,
    kind: EventKind,
    stored: u16,
    target: u16,
    bytes: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    if stored == target {
        return Ok(None);
    }
    if stored > target {
        return Err(StoreError::FutureVersion {
            event_id,
            kind,
            stored,
            supported: target,
        });
    }
    // Resolve the whole chain before touching the payload, so a gap is
    // reported with every missing hop rather than the first one.
    let mut steps = Vec::with_capacity(usize::from(target - stored));
    let mut missing = Vec::new();
    for from in stored..target {
        match upcast_step(kind, from) {
            Some(step) => steps.push((from, step)),
            None => missing.push((from, from + 1)),
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::UpcastChainIncomplete {
            kind,
            version: target,
            missing,
        });
    }
    let mut reader = bytes;
    let mut value =
        rmpv::decode::read_value(&mut reader).map_err(|e| StoreError::Deserialization {
            event_id,
            source: Box::new(e),
        })?;
    if !reader.is_empty() {
        return Err(StoreError::Deserialization {
            event_id,
            source: format!("{} trailing bytes after the payload", reader.len()).into(),
        });
    }
    for (from, step) in steps {
        value = step(value).map_err(|source| StoreError::UpcastFailed {
            event_id,
            kind,
            from,
            source,
        })?;
    }
    let mut out = Vec::with_capacity(bytes.len());
    rmpv::encode::write_value(&mut out, &value).map_err(|e| StoreError::Serialization {
        source: Box::new(e),
    })?;
    Ok(Some(out))
}
