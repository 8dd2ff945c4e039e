//! The link-time registry of payload types and upcast steps, and its validation.
//!
//! `#[derive(EventPayload)]` and [`crate::register_upcast!`] each submit a
//! static record through `inventory`; every crate linked into the program
//! contributes its records. Validation checks two things:
//!
//! - no two payload types claim the same [`EventKind`];
//! - a payload type at `version = N > 1` has one upcast step for every hop
//!   `1→2`, …, `N-1→N` of its kind, and no hop has two steps.
//!
//! [`crate::Store::open`] and [`crate::ReadOnlyStore::open`] run it under the
//! configured [`EventPayloadValidation`]; [`verify_registry`] runs it without a store.

use std::collections::BTreeMap;

use crate::error::StoreError;
use crate::kind::EventKind;

/// What opening a store does when the payload registry has a problem
/// (a kind claimed twice, an incomplete or ambiguous upcast chain).
///
/// ```
/// use batpak::prelude::*;
/// assert_eq!(EventPayloadValidation::default(), EventPayloadValidation::FailFast);
/// let cfg = StoreConfig::new("/tmp/data").with_payload_validation(EventPayloadValidation::Warn);
/// # let _ = cfg;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EventPayloadValidation {
    /// Refuse to open with the first problem as a typed [`StoreError`].
    #[default]
    FailFast,
    /// Log each problem with `tracing::warn!` and open anyway.
    Warn,
    /// Open without looking. Typed reads still fail on a missing upcast step.
    Silent,
}

/// Signature of a registered upcast step: lifts a payload by one version.
pub(crate) type UpcastFn = fn(rmpv::Value) -> Result<rmpv::Value, crate::BoxError>;

/// The static record `#[derive(EventPayload)]` submits for a payload type.
#[doc(hidden)]
#[derive(Debug)]
pub struct PayloadRegistration {
    kind: EventKind,
    version: u16,
    type_name: fn() -> &'static str,
    crate_name: &'static str,
    crate_version: &'static str,
}

impl PayloadRegistration {
    /// Used by the derive macro only.
    #[doc(hidden)]
    pub const fn new(
        kind: EventKind,
        version: u16,
        type_name: fn() -> &'static str,
        crate_name: &'static str,
        crate_version: &'static str,
    ) -> Self {
        Self {
            kind,
            version,
            type_name,
            crate_name,
            crate_version,
        }
    }
}

/// The static record [`crate::register_upcast!`] submits for an upcast step.
#[doc(hidden)]
#[derive(Debug)]
pub struct UpcastRegistration {
    kind: EventKind,
    from: u16,
    step: UpcastFn,
    type_name: fn() -> &'static str,
    crate_name: &'static str,
}

impl UpcastRegistration {
    /// Used by `register_upcast!` only.
    #[doc(hidden)]
    pub const fn new(
        kind: EventKind,
        from: u16,
        step: UpcastFn,
        type_name: fn() -> &'static str,
        crate_name: &'static str,
    ) -> Self {
        Self {
            kind,
            from,
            step,
            type_name,
            crate_name,
        }
    }
}

inventory::collect!(PayloadRegistration);
inventory::collect!(UpcastRegistration);

/// Items the macros' expansions name; not public API.
#[doc(hidden)]
pub mod private {
    pub use inventory;
    pub use serde;

    pub use super::{PayloadRegistration, UpcastRegistration};

    /// `core::any::type_name::<T>`, as a function pointer usable in a `static`.
    pub fn type_name_of<T: ?Sized>() -> &'static str {
        core::any::type_name::<T>()
    }
}

/// A payload type as the registry knows it.
///
/// ```
/// use batpak::prelude::*;
/// #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
/// #[batpak(category = 0xE, type_id = 0x401)]
/// struct Noted { n: u8 }
///
/// let report = batpak::registry_report();
/// let noted = report.payloads().iter().find(|p| p.kind == Noted::KIND).unwrap();
/// assert_eq!(noted.version, 1);
/// assert!(noted.type_name.ends_with("::Noted"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredPayload {
    /// The kind it claims.
    pub kind: EventKind,
    /// Its current payload version.
    pub version: u16,
    /// Its Rust type name (`core::any::type_name`).
    pub type_name: &'static str,
    /// The package that defines it.
    pub crate_name: &'static str,
    /// That package's version.
    pub crate_version: &'static str,
}

/// An upcast step as the registry knows it: lifts `kind` from `from` to `from + 1`.
///
/// ```
/// use batpak::prelude::*;
/// # #[derive(serde::Serialize, serde::Deserialize, EventPayload)]
/// # #[batpak(category = 0xE, type_id = 0x402, version = 2)]
/// # struct Noted { n: u8 }
/// struct NotedV1ToV2;
/// impl Upcast for NotedV1ToV2 {
///     const KIND: EventKind = Noted::KIND;
///     const FROM: u16 = 1;
///     fn upcast(v: batpak::rmpv::Value) -> Result<batpak::rmpv::Value, batpak::BoxError> { Ok(v) }
/// }
/// batpak::register_upcast!(NotedV1ToV2);
///
/// let report = batpak::registry_report();
/// let step = &report.upcasts()[0];
/// assert_eq!((step.kind, step.from), (Noted::KIND, 1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegisteredUpcast {
    /// The kind whose payloads it lifts.
    pub kind: EventKind,
    /// The version it reads; it produces `from + 1`.
    pub from: u16,
    /// The Rust type name of the step.
    pub type_name: &'static str,
    /// The package that defines it.
    pub crate_name: &'static str,
}

/// One problem found in the registry. Each converts into the [`StoreError`]
/// that [`EventPayloadValidation::FailFast`] refuses an open with.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::RegistryProblem;
///
/// let problem = RegistryProblem::UpcastChainIncomplete {
///     kind: EventKind::custom(0xE, 3),
///     version: 3,
///     type_name: "app::Noted",
///     missing: vec![(2, 3)],
/// };
/// assert_eq!(problem.to_string(), "payload kind 0xe003 at version 3 has no upcast step for 2→3");
/// let err: StoreError = problem.into();
/// assert!(matches!(err, StoreError::UpcastChainIncomplete { version: 3, .. }));
/// // The program's own problems, if any:
/// assert!(batpak::registry_report().problems().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryProblem {
    /// Two payload types claim the same kind.
    KindCollision {
        /// The contested kind.
        kind: EventKind,
        /// One claimant (the first by type name).
        first: &'static str,
        /// Another claimant.
        second: &'static str,
    },
    /// A payload type's version is not reachable from version 1 by registered steps.
    UpcastChainIncomplete {
        /// The payload type's kind.
        kind: EventKind,
        /// Its declared version.
        version: u16,
        /// The payload type.
        type_name: &'static str,
        /// Hops `(from, to)` without a step.
        missing: Vec<(u16, u16)>,
    },
    /// Two upcast steps claim the same hop.
    DuplicateUpcastStep {
        /// The kind.
        kind: EventKind,
        /// The version both steps read.
        from: u16,
        /// One step (the first by type name).
        first: &'static str,
        /// Another step.
        second: &'static str,
    },
}

impl std::fmt::Display for RegistryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let err: StoreError = self.clone().into();
        std::fmt::Display::fmt(&err, f)
    }
}

impl From<RegistryProblem> for StoreError {
    fn from(problem: RegistryProblem) -> Self {
        match problem {
            RegistryProblem::KindCollision {
                kind,
                first,
                second,
            } => StoreError::PayloadKindCollision {
                kind,
                first,
                second,
            },
            RegistryProblem::UpcastChainIncomplete {
                kind,
                version,
                missing,
                ..
            } => StoreError::UpcastChainIncomplete {
                kind,
                version,
                missing,
            },
            RegistryProblem::DuplicateUpcastStep {
                kind,
                from,
                first,
                second,
            } => StoreError::DuplicateUpcastStep {
                kind,
                from,
                first,
                second,
            },
        }
    }
}

/// Everything registered in this program, and what is wrong with it.
///
/// ```
/// let report = batpak::registry_report();
/// assert!(report.is_valid());
/// for p in report.payloads() {
///     println!("{} v{} is {}", p.kind, p.version, p.type_name);
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryReport {
    payloads: Vec<RegisteredPayload>,
    upcasts: Vec<RegisteredUpcast>,
    problems: Vec<RegistryProblem>,
}

impl RegistryReport {
    /// Registered payload types, ordered by kind then type name.
    pub fn payloads(&self) -> &[RegisteredPayload] {
        &self.payloads
    }

    /// Registered upcast steps, ordered by kind, version, then type name.
    pub fn upcasts(&self) -> &[RegisteredUpcast] {
        &self.upcasts
    }

    /// Problems found: collisions first, then ambiguous steps, then incomplete chains.
    pub fn problems(&self) -> &[RegistryProblem] {
        &self.problems
    }

    /// True when there is no problem.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// Checks a set of registrations (pure; the program's own come from [`registry_report`]).
    pub(crate) fn analyze(
        mut payloads: Vec<RegisteredPayload>,
        mut upcasts: Vec<RegisteredUpcast>,
    ) -> Self {
        payloads.sort_by(|a, b| (a.kind, a.type_name).cmp(&(b.kind, b.type_name)));
        upcasts.sort_by(|a, b| (a.kind, a.from, a.type_name).cmp(&(b.kind, b.from, b.type_name)));
        let mut problems = Vec::new();

        let mut by_kind: BTreeMap<EventKind, Vec<&RegisteredPayload>> = BTreeMap::new();
        for p in &payloads {
            by_kind.entry(p.kind).or_default().push(p);
        }
        for (kind, claimants) in &by_kind {
            if let Some((first, rest)) = claimants.split_first() {
                for other in rest {
                    problems.push(RegistryProblem::KindCollision {
                        kind: *kind,
                        first: first.type_name,
                        second: other.type_name,
                    });
                }
            }
        }

        let mut steps: BTreeMap<(EventKind, u16), Vec<&RegisteredUpcast>> = BTreeMap::new();
        for u in &upcasts {
            steps.entry((u.kind, u.from)).or_default().push(u);
        }
        for ((kind, from), claimants) in &steps {
            if let Some((first, rest)) = claimants.split_first() {
                for other in rest {
                    problems.push(RegistryProblem::DuplicateUpcastStep {
                        kind: *kind,
                        from: *from,
                        first: first.type_name,
                        second: other.type_name,
                    });
                }
            }
        }

        for p in &payloads {
            let missing: Vec<(u16, u16)> = (1..p.version)
                .filter(|from| !steps.contains_key(&(p.kind, *from)))
                .map(|from| (from, from + 1))
                .collect();
            if !missing.is_empty() {
                problems.push(RegistryProblem::UpcastChainIncomplete {
                    kind: p.kind,
                    version: p.version,
                    type_name: p.type_name,
                    missing,
                });
            }
        }

        Self {
            payloads,
            upcasts,
            problems,
        }
    }
}

/// Reads the program's registrations and checks them. Never fails; see
/// [`RegistryReport::problems`].
///
/// ```
/// let report = batpak::registry_report();
/// assert!(report.problems().is_empty());
/// ```
pub fn registry_report() -> RegistryReport {
    let payloads = inventory::iter::<PayloadRegistration>
        .into_iter()
        .map(|r| RegisteredPayload {
            kind: r.kind,
            version: r.version,
            type_name: (r.type_name)(),
            crate_name: r.crate_name,
            crate_version: r.crate_version,
        })
        .collect();
    let upcasts = inventory::iter::<UpcastRegistration>
        .into_iter()
        .map(|r| RegisteredUpcast {
            kind: r.kind,
            from: r.from,
            type_name: (r.type_name)(),
            crate_name: r.crate_name,
        })
        .collect();
    RegistryReport::analyze(payloads, upcasts)
}

/// Checks the payload registry as [`EventPayloadValidation::FailFast`] would at
/// open, without a store: for programs that register payload types but never
/// open one (a tool that only encodes events, for instance).
///
/// Returns the report when there is no problem, and the first problem as a
/// [`StoreError`] otherwise.
///
/// With the cargo feature `startup-registry-check`, batpak runs this check
/// before `main`; on a problem it prints it to stderr and exits with status
/// 78 (`EX_CONFIG`), so a misregistered program stops before doing any work.
///
/// ```
/// # fn main() -> Result<(), batpak::StoreError> {
/// let report = batpak::verify_registry()?;
/// assert!(report.is_valid());
/// # Ok(()) }
/// ```
pub fn verify_registry() -> Result<RegistryReport, StoreError> {
    let report = registry_report();
    match report.problems.first() {
        Some(problem) => Err(problem.clone().into()),
        None => Ok(report),
    }
}

/// The check `Store::open` and `ReadOnlyStore::open` run.
pub(crate) fn check_at_open(mode: EventPayloadValidation) -> Result<(), StoreError> {
    match mode {
        EventPayloadValidation::Silent => Ok(()),
        EventPayloadValidation::FailFast => verify_registry().map(drop),
        EventPayloadValidation::Warn => {
            for problem in registry_report().problems() {
                tracing::warn!(%problem, "payload registry problem; opening anyway (EventPayloadValidation::Warn)");
            }
            Ok(())
        }
    }
}

/// The registered step lifting `kind` from `from`; with several (only possible
/// when validation was relaxed), the first by type name, so the choice is stable.
pub(crate) fn upcast_step(kind: EventKind, from: u16) -> Option<UpcastFn> {
    inventory::iter::<UpcastRegistration>
        .into_iter()
        .filter(|r| r.kind == kind && r.from == from)
        .min_by_key(|r| (r.type_name)())
        .map(|r| r.step)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: EventKind = EventKind::custom(0xE, 1);
    const B: EventKind = EventKind::custom(0xE, 2);

    fn payload(kind: EventKind, version: u16, name: &'static str) -> RegisteredPayload {
        RegisteredPayload {
            kind,
            version,
            type_name: name,
            crate_name: "c",
            crate_version: "0.0.0",
        }
    }

    fn step(kind: EventKind, from: u16, name: &'static str) -> RegisteredUpcast {
        RegisteredUpcast {
            kind,
            from,
            type_name: name,
            crate_name: "c",
        }
    }

    #[test]
    fn distinct_kinds_at_version_one_are_valid() {
        let r = RegistryReport::analyze(vec![payload(A, 1, "x::A"), payload(B, 1, "x::B")], vec![]);
        assert!(r.is_valid());
        assert_eq!(r.payloads().len(), 2);
    }

    #[test]
    fn collision_names_both_types_in_stable_order() {
        let r = RegistryReport::analyze(
            vec![payload(A, 1, "z::Two"), payload(A, 1, "a::One")],
            vec![],
        );
        assert_eq!(
            r.problems(),
            &[RegistryProblem::KindCollision {
                kind: A,
                first: "a::One",
                second: "z::Two"
            }]
        );
        let text = r.problems()[0].to_string();
        assert!(
            text.contains("a::One") && text.contains("z::Two") && text.contains("0xe001"),
            "{text}"
        );
    }

    #[test]
    fn chain_reports_every_missing_hop() {
        let r = RegistryReport::analyze(vec![payload(A, 4, "x::A")], vec![step(A, 2, "x::S2")]);
        assert_eq!(
            r.problems(),
            &[RegistryProblem::UpcastChainIncomplete {
                kind: A,
                version: 4,
                type_name: "x::A",
                missing: vec![(1, 2), (3, 4)]
            }]
        );
    }

    #[test]
    fn complete_chain_is_valid_and_steps_of_other_kinds_do_not_count() {
        let ok = RegistryReport::analyze(
            vec![payload(A, 3, "x::A")],
            vec![step(A, 1, "x::S1"), step(A, 2, "x::S2")],
        );
        assert!(ok.is_valid());
        let wrong_kind =
            RegistryReport::analyze(vec![payload(A, 2, "x::A")], vec![step(B, 1, "x::S1")]);
        assert!(!wrong_kind.is_valid());
    }

    #[test]
    fn two_steps_for_one_hop_are_ambiguous() {
        let r = RegistryReport::analyze(
            vec![payload(A, 2, "x::A")],
            vec![step(A, 1, "x::S1b"), step(A, 1, "x::S1a")],
        );
        assert_eq!(
            r.problems(),
            &[RegistryProblem::DuplicateUpcastStep {
                kind: A,
                from: 1,
                first: "x::S1a",
                second: "x::S1b"
            }]
        );
    }

    #[test]
    fn problems_become_typed_store_errors() {
        let err: StoreError = RegistryProblem::UpcastChainIncomplete {
            kind: A,
            version: 3,
            type_name: "x::A",
            missing: vec![(2, 3)],
        }
        .into();
        assert!(matches!(
            &err,
            StoreError::UpcastChainIncomplete { kind, version: 3, missing } if *kind == A && missing == &vec![(2, 3)]
        ));
        assert!(err.to_string().contains("2→3"), "{err}");
    }

    #[test]
    fn this_test_binary_has_a_valid_registry() {
        assert!(verify_registry().is_ok());
        assert!(check_at_open(EventPayloadValidation::FailFast).is_ok());
    }
}
