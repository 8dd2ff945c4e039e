//! The effect row: what an operation declares it may do, over five axes,
//! and the capability tokens it needs.

use std::sync::Arc;

use batpak::EventKind;
use serde::{Deserialize, Serialize};

use crate::descriptor::{DescriptorError, EffectClass};
use crate::name::{check_token, OperationNameError};

/// Longest effect target, schema reference or receipt kind, in bytes.
pub const MAX_DESCRIPTOR_REF_BYTES: usize = 256;

/// One of the five kinds of effect a handler can have, each reached through
/// its own [`crate::Ctx`] handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EffectAxis {
    /// Reading events of a kind (`reads_events`, targets `evt.%04x`).
    EventRead,
    /// Appending events of a kind (`appends_events`, targets `evt.%04x`).
    EventAppend,
    /// Querying a named projection (`queries_projections`).
    ProjectionQuery,
    /// Stamping an emitted receipt payload into the call's receipt (`emits_receipts`).
    ReceiptEmit,
    /// Using a host control (`uses_host_controls`).
    HostControl,
}

impl EffectAxis {
    /// The five axes, in row order.
    pub const ALL: [EffectAxis; 5] = [
        Self::EventRead,
        Self::EventAppend,
        Self::ProjectionQuery,
        Self::ReceiptEmit,
        Self::HostControl,
    ];

    /// Stable dotted name (`event.read`, `event.append`, `projection.query`,
    /// `receipt.emit`, `host.control`).
    ///
    /// ```
    /// assert_eq!(syncbat::EffectAxis::EventAppend.as_str(), "event.append");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EventRead => "event.read",
            Self::EventAppend => "event.append",
            Self::ProjectionQuery => "projection.query",
            Self::ReceiptEmit => "receipt.emit",
            Self::HostControl => "host.control",
        }
    }

    /// The row field that declares this axis.
    ///
    /// ```
    /// use syncbat::{EffectAxis, RowField};
    /// assert_eq!(EffectAxis::EventRead.field(), RowField::ReadsEvents);
    /// ```
    pub const fn field(self) -> RowField {
        match self {
            Self::EventRead => RowField::ReadsEvents,
            Self::EventAppend => RowField::AppendsEvents,
            Self::ProjectionQuery => RowField::QueriesProjections,
            Self::ReceiptEmit => RowField::EmitsReceipts,
            Self::HostControl => RowField::UsesHostControls,
        }
    }

    const fn index(self) -> usize {
        match self {
            Self::EventRead => 0,
            Self::EventAppend => 1,
            Self::ProjectionQuery => 2,
            Self::ReceiptEmit => 3,
            Self::HostControl => 4,
        }
    }

    /// True for the two axes whose targets are event kinds (`evt.%04x`).
    pub const fn targets_event_kinds(self) -> bool {
        matches!(self, Self::EventRead | Self::EventAppend)
    }
}

impl std::fmt::Display for EffectAxis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of an effect row: the five axes and `requires_capabilities`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowField {
    /// `reads_events`.
    ReadsEvents,
    /// `appends_events`.
    AppendsEvents,
    /// `queries_projections`.
    QueriesProjections,
    /// `emits_receipts`.
    EmitsReceipts,
    /// `uses_host_controls`.
    UsesHostControls,
    /// `requires_capabilities`.
    RequiresCapabilities,
}

impl RowField {
    /// The field's name as written in `#[operation(..)]` and in stored rows.
    ///
    /// ```
    /// assert_eq!(syncbat::RowField::UsesHostControls.as_str(), "uses_host_controls");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ReadsEvents => "reads_events",
            Self::AppendsEvents => "appends_events",
            Self::QueriesProjections => "queries_projections",
            Self::EmitsReceipts => "emits_receipts",
            Self::UsesHostControls => "uses_host_controls",
            Self::RequiresCapabilities => "requires_capabilities",
        }
    }
}

impl std::fmt::Display for RowField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one declared target was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetProblem {
    /// It breaks the dotted-token grammar (1 to 256 bytes of `[A-Za-z0-9._-]`).
    #[error("{0}")]
    Grammar(OperationNameError),
    /// An event axis target that is not `evt.` and four lowercase hex digits.
    #[error("is not an event target of the form evt.%04x (lowercase hex of the raw kind)")]
    NotAnEventTarget,
    /// Declared twice in the same field.
    #[error("is declared twice")]
    Duplicate,
}

/// The event-axis target of a kind: `evt.` and the raw kind in four
/// lowercase hex digits. This is what `reads_events` and `appends_events`
/// declare and what the runtime records.
///
/// ```
/// use batpak::EventKind;
/// assert_eq!(syncbat::event_target(EventKind::custom(0xE, 1)), "evt.e001");
/// ```
pub fn event_target(kind: EventKind) -> String {
    format!("evt.{:04x}", kind.as_u16())
}

/// The raw kind an `evt.%04x` target names, if it is one.
pub(crate) fn parse_event_target(target: &str) -> Option<u16> {
    let hex = target.strip_prefix("evt.")?;
    if hex.len() != 4 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u16::from_str_radix(hex, 16).ok()
}

/// A list of targets: borrowed from a `const` declaration or owned.
#[derive(Clone, Debug)]
enum Targets {
    Static(&'static [&'static str]),
    Owned(Vec<Arc<str>>),
}

impl Targets {
    const EMPTY: Targets = Targets::Static(&[]);

    fn len(&self) -> usize {
        match self {
            Self::Static(s) => s.len(),
            Self::Owned(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Self::Static(s) => s.get(i).copied(),
            Self::Owned(v) => v.get(i).map(|a| &**a),
        }
    }

    fn iter(&self) -> TargetIter<'_> {
        TargetIter {
            targets: self,
            next: 0,
        }
    }

    fn contains(&self, target: &str) -> bool {
        self.iter().any(|t| t == target)
    }

    fn push(&mut self, target: &str) {
        if self.contains(target) {
            return;
        }
        let mut owned: Vec<Arc<str>> = self.iter().map(Arc::from).collect();
        owned.push(Arc::from(target));
        owned.sort();
        *self = Self::Owned(owned);
    }

    fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.iter().collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Iterator over the targets of one row field.
#[derive(Clone, Debug)]
pub struct TargetIter<'a> {
    targets: &'a Targets,
    next: usize,
}

impl<'a> Iterator for TargetIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let item = self.targets.get(self.next)?;
        self.next += 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.targets.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for TargetIter<'_> {}

/// An effect row written as `'static` slices, for `const` descriptors (what
/// `#[operation]` emits). Field order and names match [`RowField`].
///
/// ```
/// use syncbat::{OperationEffectRow, StaticEffectRow};
/// const ROW: OperationEffectRow = OperationEffectRow::from_static(StaticEffectRow {
///     appends_events: &["evt.e001"],
///     ..StaticEffectRow::EMPTY
/// });
/// assert_eq!(ROW.appends_events().collect::<Vec<_>>(), ["evt.e001"]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StaticEffectRow {
    /// `reads_events`: `evt.%04x` targets.
    pub reads_events: &'static [&'static str],
    /// `appends_events`: `evt.%04x` targets.
    pub appends_events: &'static [&'static str],
    /// `queries_projections`: projection ids.
    pub queries_projections: &'static [&'static str],
    /// `emits_receipts`: receipt kinds.
    pub emits_receipts: &'static [&'static str],
    /// `uses_host_controls`: host-control ids.
    pub uses_host_controls: &'static [&'static str],
    /// `requires_capabilities`: capability tokens.
    pub requires_capabilities: &'static [&'static str],
}

impl StaticEffectRow {
    /// The row that declares nothing.
    pub const EMPTY: StaticEffectRow = StaticEffectRow {
        reads_events: &[],
        appends_events: &[],
        queries_projections: &[],
        emits_receipts: &[],
        uses_host_controls: &[],
        requires_capabilities: &[],
    };
}

/// What an operation may do: targets on each of the five [`EffectAxis`]
/// axes, plus the capability tokens a [`crate::Core`] must be granted to run it.
///
/// Equality ignores order and repetition.
///
/// ```
/// use batpak::EventKind;
/// use syncbat::{EffectAxis, OperationEffectRow};
/// let row = OperationEffectRow::new()
///     .appends_event(EventKind::custom(0xE, 1))
///     .requires_capability("bank.write");
/// assert!(row.declares(EffectAxis::EventAppend, "evt.e001"));
/// assert!(!row.declares(EffectAxis::EventRead, "evt.e001"));
/// assert_eq!(row.requires_capabilities().collect::<Vec<_>>(), ["bank.write"]);
/// ```
#[derive(Clone, Debug)]
pub struct OperationEffectRow {
    axes: [Targets; 5],
    capabilities: Targets,
}

impl Default for OperationEffectRow {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for OperationEffectRow {
    fn eq(&self, other: &Self) -> bool {
        self.axes
            .iter()
            .zip(other.axes.iter())
            .all(|(a, b)| a.sorted() == b.sorted())
            && self.capabilities.sorted() == other.capabilities.sorted()
    }
}

impl Eq for OperationEffectRow {}

impl OperationEffectRow {
    /// The row that declares nothing.
    pub const fn new() -> Self {
        Self {
            axes: [
                Targets::EMPTY,
                Targets::EMPTY,
                Targets::EMPTY,
                Targets::EMPTY,
                Targets::EMPTY,
            ],
            capabilities: Targets::EMPTY,
        }
    }

    /// A row from `'static` slices, usable in `const` items.
    pub const fn from_static(row: StaticEffectRow) -> Self {
        Self {
            axes: [
                Targets::Static(row.reads_events),
                Targets::Static(row.appends_events),
                Targets::Static(row.queries_projections),
                Targets::Static(row.emits_receipts),
                Targets::Static(row.uses_host_controls),
            ],
            capabilities: Targets::Static(row.requires_capabilities),
        }
    }

    /// Declares reading events of `kind`.
    pub fn reads_event(self, kind: EventKind) -> Self {
        self.with_target(EffectAxis::EventRead, &event_target(kind))
    }

    /// Declares appending events of `kind`.
    pub fn appends_event(self, kind: EventKind) -> Self {
        self.with_target(EffectAxis::EventAppend, &event_target(kind))
    }

    /// Declares querying projection `projection`.
    pub fn queries_projection(self, projection: &str) -> Self {
        self.with_target(EffectAxis::ProjectionQuery, projection)
    }

    /// Declares emitting receipts of `receipt_kind`.
    pub fn emits_receipt(self, receipt_kind: &str) -> Self {
        self.with_target(EffectAxis::ReceiptEmit, receipt_kind)
    }

    /// Declares using host control `control`.
    pub fn uses_host_control(self, control: &str) -> Self {
        self.with_target(EffectAxis::HostControl, control)
    }

    /// Requires the capability token `capability`.
    pub fn requires_capability(mut self, capability: &str) -> Self {
        self.capabilities.push(capability);
        self
    }

    /// Declares `target` on `axis` as written (checked at registration).
    ///
    /// ```
    /// use syncbat::{EffectAxis, OperationEffectRow};
    /// let row = OperationEffectRow::new().with_target(EffectAxis::HostControl, "host.restart");
    /// assert!(row.declares(EffectAxis::HostControl, "host.restart"));
    /// ```
    pub fn with_target(mut self, axis: EffectAxis, target: &str) -> Self {
        self.axes[axis.index()].push(target);
        self
    }

    /// The targets declared on `axis`.
    pub fn targets(&self, axis: EffectAxis) -> TargetIter<'_> {
        self.axes[axis.index()].iter()
    }

    /// `reads_events` targets.
    pub fn reads_events(&self) -> TargetIter<'_> {
        self.targets(EffectAxis::EventRead)
    }

    /// `appends_events` targets.
    pub fn appends_events(&self) -> TargetIter<'_> {
        self.targets(EffectAxis::EventAppend)
    }

    /// `queries_projections` targets.
    pub fn queries_projections(&self) -> TargetIter<'_> {
        self.targets(EffectAxis::ProjectionQuery)
    }

    /// `emits_receipts` targets.
    pub fn emits_receipts(&self) -> TargetIter<'_> {
        self.targets(EffectAxis::ReceiptEmit)
    }

    /// `uses_host_controls` targets.
    pub fn uses_host_controls(&self) -> TargetIter<'_> {
        self.targets(EffectAxis::HostControl)
    }

    /// Capability tokens the operation needs.
    pub fn requires_capabilities(&self) -> TargetIter<'_> {
        self.capabilities.iter()
    }

    /// True if `target` is declared on `axis`.
    pub fn declares(&self, axis: EffectAxis, target: &str) -> bool {
        self.axes[axis.index()].contains(target)
    }

    /// True if events of `kind` are declared on an event axis.
    pub(crate) fn declares_kind(&self, axis: EffectAxis, kind: EventKind) -> bool {
        self.targets(axis)
            .any(|t| parse_event_target(t) == Some(kind.as_u16()))
    }

    /// True if no axis and no capability is declared.
    pub fn is_empty(&self) -> bool {
        self.axes.iter().all(|t| t.len() == 0) && self.capabilities.len() == 0
    }

    fn field(&self, field: RowField) -> &Targets {
        match field {
            RowField::ReadsEvents => &self.axes[0],
            RowField::AppendsEvents => &self.axes[1],
            RowField::QueriesProjections => &self.axes[2],
            RowField::EmitsReceipts => &self.axes[3],
            RowField::UsesHostControls => &self.axes[4],
            RowField::RequiresCapabilities => &self.capabilities,
        }
    }

    /// Checks every target's grammar, then the row against `class`.
    pub(crate) fn validate(
        &self,
        operation: &str,
        class: EffectClass,
        receipt_kind: &str,
    ) -> Result<(), DescriptorError> {
        const FIELDS: [RowField; 6] = [
            RowField::ReadsEvents,
            RowField::AppendsEvents,
            RowField::QueriesProjections,
            RowField::EmitsReceipts,
            RowField::UsesHostControls,
            RowField::RequiresCapabilities,
        ];
        for field in FIELDS {
            let targets = self.field(field);
            for (i, target) in targets.iter().enumerate() {
                let problem = if let Err(e) = check_token(target, MAX_DESCRIPTOR_REF_BYTES) {
                    Some(TargetProblem::Grammar(e))
                } else if matches!(field, RowField::ReadsEvents | RowField::AppendsEvents)
                    && parse_event_target(target).is_none()
                {
                    Some(TargetProblem::NotAnEventTarget)
                } else if targets.iter().take(i).any(|t| t == target) {
                    Some(TargetProblem::Duplicate)
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(DescriptorError::Target {
                        operation: operation.to_owned(),
                        field,
                        target: target.to_owned(),
                        problem,
                    });
                }
            }
        }
        check_class(self, operation, class, receipt_kind)
    }
}

/// The class rules: which fields a class forbids and which it requires.
fn check_class(
    row: &OperationEffectRow,
    operation: &str,
    class: EffectClass,
    receipt_kind: &str,
) -> Result<(), DescriptorError> {
    let has = |field: RowField| row.field(field).len() > 0;
    let forbidden: &[RowField] = match class {
        EffectClass::Inspect => &[
            RowField::AppendsEvents,
            RowField::EmitsReceipts,
            RowField::UsesHostControls,
        ],
        EffectClass::Compute => &[
            RowField::ReadsEvents,
            RowField::AppendsEvents,
            RowField::QueriesProjections,
            RowField::EmitsReceipts,
            RowField::UsesHostControls,
            RowField::RequiresCapabilities,
        ],
        EffectClass::Persist => &[RowField::EmitsReceipts, RowField::UsesHostControls],
        EffectClass::Emit => &[RowField::AppendsEvents, RowField::UsesHostControls],
        EffectClass::Control => &[],
    };
    if let Some(&field) = forbidden.iter().find(|f| has(**f)) {
        return Err(DescriptorError::ClassForbids {
            operation: operation.to_owned(),
            class,
            field,
        });
    }
    let required = match class {
        EffectClass::Persist => Some(RowField::AppendsEvents),
        EffectClass::Control => Some(RowField::UsesHostControls),
        _ => None,
    };
    if let Some(field) = required.filter(|f| !has(*f)) {
        return Err(DescriptorError::ClassRequires {
            operation: operation.to_owned(),
            class,
            field,
        });
    }
    if class == EffectClass::Emit && !row.declares(EffectAxis::ReceiptEmit, receipt_kind) {
        return Err(DescriptorError::EmitWithoutOwnReceiptKind {
            operation: operation.to_owned(),
            receipt_kind: receipt_kind.to_owned(),
        });
    }
    Ok(())
}

/// The row as stored (catalog rows): named fields, lists sorted, empty
/// lists omitted.
#[derive(Serialize, Deserialize, Default)]
struct RowRecord {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reads_events: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    appends_events: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    queries_projections: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    emits_receipts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    uses_host_controls: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    requires_capabilities: Vec<String>,
}

impl Serialize for OperationEffectRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let list = |t: &Targets| t.sorted().into_iter().map(str::to_owned).collect();
        RowRecord {
            reads_events: list(&self.axes[0]),
            appends_events: list(&self.axes[1]),
            queries_projections: list(&self.axes[2]),
            emits_receipts: list(&self.axes[3]),
            uses_host_controls: list(&self.axes[4]),
            requires_capabilities: list(&self.capabilities),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for OperationEffectRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RowRecord::deserialize(d)?;
        let owned = |v: Vec<String>| Targets::Owned(v.into_iter().map(Arc::from).collect());
        Ok(Self {
            axes: [
                owned(r.reads_events),
                owned(r.appends_events),
                owned(r.queries_projections),
                owned(r.emits_receipts),
                owned(r.uses_host_controls),
            ],
            capabilities: owned(r.requires_capabilities),
        })
    }
}

/// One effect a handler performed through a [`crate::Ctx`] handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PerformedEffect {
    /// The axis.
    pub axis: EffectAxis,
    /// The target as the row declares it (`evt.e001`, a projection id, ...).
    pub target: String,
    /// The appended event, for an append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<batpak::EventId>,
}

impl PerformedEffect {
    pub(crate) fn new(axis: EffectAxis, target: String) -> Self {
        Self {
            axis,
            target,
            event_id: None,
        }
    }
}

/// The first performed effect the row does not declare, if any: the
/// after-the-handler check that observed ⊆ declared on every axis.
pub(crate) fn first_undeclared<'a>(
    row: &OperationEffectRow,
    performed: &'a [PerformedEffect],
) -> Option<&'a PerformedEffect> {
    performed.iter().find(|e| !row.declares(e.axis, &e.target))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const K: EventKind = EventKind::custom(0xE, 1);

    fn check(row: &OperationEffectRow, class: EffectClass) -> Result<(), DescriptorError> {
        row.validate("op", class, "receipt.op.v1")
    }

    fn forbids(row: OperationEffectRow, class: EffectClass, field: RowField) {
        match check(&row, class) {
            Err(DescriptorError::ClassForbids {
                class: c, field: f, ..
            }) => assert_eq!((c, f), (class, field)),
            other => panic!("{class:?} with {field:?}: {other:?}"),
        }
    }

    #[test]
    fn target_iterators_know_how_many_are_left() {
        let row = OperationEffectRow::default()
            .appends_event(K)
            .appends_event(EventKind::custom(0xE, 2));
        let mut it = row.appends_events();
        assert_eq!(it.len(), 2);
        assert_eq!(it.size_hint(), (2, Some(2)));
        it.next();
        assert_eq!(it.size_hint(), (1, Some(1)));
        it.next();
        assert_eq!(it.size_hint(), (0, Some(0)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn event_targets_are_lowercase_hex_of_the_raw_kind() {
        assert_eq!(event_target(K), "evt.e001");
        assert_eq!(parse_event_target("evt.e001"), Some(0xE001));
        for bad in [
            "evt.E001",
            "evt.e01",
            "evt.e0011",
            "ev.e001",
            "evt.g001",
            "e001",
        ] {
            assert_eq!(parse_event_target(bad), None, "{bad}");
        }
    }

    #[test]
    fn inspect_forbids_appends_emits_and_controls() {
        let base = OperationEffectRow::new()
            .reads_event(K)
            .queries_projection("p");
        assert!(check(&base, EffectClass::Inspect).is_ok());
        forbids(
            base.clone().appends_event(K),
            EffectClass::Inspect,
            RowField::AppendsEvents,
        );
        forbids(
            base.clone().emits_receipt("r"),
            EffectClass::Inspect,
            RowField::EmitsReceipts,
        );
        forbids(
            base.uses_host_control("h"),
            EffectClass::Inspect,
            RowField::UsesHostControls,
        );
    }

    #[test]
    fn compute_declares_nothing() {
        assert!(check(&OperationEffectRow::new(), EffectClass::Compute).is_ok());
        let c = EffectClass::Compute;
        forbids(
            OperationEffectRow::new().reads_event(K),
            c,
            RowField::ReadsEvents,
        );
        forbids(
            OperationEffectRow::new().appends_event(K),
            c,
            RowField::AppendsEvents,
        );
        forbids(
            OperationEffectRow::new().queries_projection("p"),
            c,
            RowField::QueriesProjections,
        );
        forbids(
            OperationEffectRow::new().emits_receipt("r"),
            c,
            RowField::EmitsReceipts,
        );
        forbids(
            OperationEffectRow::new().uses_host_control("h"),
            c,
            RowField::UsesHostControls,
        );
        forbids(
            OperationEffectRow::new().requires_capability("x"),
            c,
            RowField::RequiresCapabilities,
        );
    }

    #[test]
    fn persist_needs_an_append_and_no_emit_or_control() {
        let p = EffectClass::Persist;
        assert!(matches!(
            check(&OperationEffectRow::new(), p),
            Err(DescriptorError::ClassRequires {
                field: RowField::AppendsEvents,
                ..
            })
        ));
        let ok = OperationEffectRow::new().appends_event(K).reads_event(K);
        assert!(check(&ok, p).is_ok());
        forbids(ok.clone().emits_receipt("r"), p, RowField::EmitsReceipts);
        forbids(ok.uses_host_control("h"), p, RowField::UsesHostControls);
    }

    #[test]
    fn emit_declares_its_own_receipt_kind_and_no_append_or_control() {
        let e = EffectClass::Emit;
        assert!(matches!(
            check(&OperationEffectRow::new().emits_receipt("other"), e),
            Err(DescriptorError::EmitWithoutOwnReceiptKind { .. })
        ));
        let ok = OperationEffectRow::new().emits_receipt("receipt.op.v1");
        assert!(check(&ok, e).is_ok());
        forbids(ok.clone().appends_event(K), e, RowField::AppendsEvents);
        forbids(ok.uses_host_control("h"), e, RowField::UsesHostControls);
    }

    #[test]
    fn control_needs_a_host_control() {
        assert!(matches!(
            check(&OperationEffectRow::new(), EffectClass::Control),
            Err(DescriptorError::ClassRequires {
                field: RowField::UsesHostControls,
                ..
            })
        ));
        let ok = OperationEffectRow::new()
            .uses_host_control("host.stop")
            .appends_event(K)
            .emits_receipt("x");
        assert!(check(&ok, EffectClass::Control).is_ok());
    }

    #[test]
    fn targets_are_checked_for_grammar_form_and_duplicates() {
        let bad = OperationEffectRow::new().with_target(EffectAxis::EventAppend, "bank.ops");
        assert!(matches!(
            check(&bad, EffectClass::Persist),
            Err(DescriptorError::Target {
                problem: TargetProblem::NotAnEventTarget,
                ..
            })
        ));
        let bad = OperationEffectRow::new().queries_projection("a b");
        assert!(matches!(
            check(&bad, EffectClass::Inspect),
            Err(DescriptorError::Target {
                problem: TargetProblem::Grammar(_),
                field: RowField::QueriesProjections,
                ..
            })
        ));
        const DUP: OperationEffectRow = OperationEffectRow::from_static(StaticEffectRow {
            requires_capabilities: &["a", "a"],
            ..StaticEffectRow::EMPTY
        });
        assert!(matches!(
            check(&DUP, EffectClass::Inspect),
            Err(DescriptorError::Target {
                problem: TargetProblem::Duplicate,
                ..
            })
        ));
    }

    #[test]
    fn equality_ignores_order_and_static_versus_owned() {
        const S: OperationEffectRow = OperationEffectRow::from_static(StaticEffectRow {
            queries_projections: &["b", "a"],
            ..StaticEffectRow::EMPTY
        });
        let o = OperationEffectRow::new()
            .queries_projection("a")
            .queries_projection("b");
        assert_eq!(S, o);
        assert_ne!(S, OperationEffectRow::new().queries_projection("a"));
        assert!(!S.is_empty());
        assert!(OperationEffectRow::new().is_empty());
        assert!(!OperationEffectRow::new()
            .requires_capability("c")
            .is_empty());
    }

    #[test]
    fn rows_round_trip_through_msgpack() {
        let row = OperationEffectRow::new()
            .reads_event(K)
            .appends_event(K)
            .queries_projection("p")
            .emits_receipt("r")
            .uses_host_control("h")
            .requires_capability("c");
        let bytes = rmp_serde::to_vec_named(&row).unwrap();
        let back: OperationEffectRow = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, row);
        for axis in EffectAxis::ALL {
            assert_eq!(back.targets(axis).count(), 1, "{axis}");
        }
    }

    #[test]
    fn undeclared_effects_are_found_on_every_axis() {
        let row = OperationEffectRow::new().appends_event(K);
        let ok = [PerformedEffect::new(
            EffectAxis::EventAppend,
            "evt.e001".into(),
        )];
        assert!(first_undeclared(&row, &ok).is_none());
        for axis in EffectAxis::ALL {
            let target = if axis == EffectAxis::EventAppend {
                "evt.e002"
            } else {
                "evt.e001"
            };
            let bad = [PerformedEffect::new(axis, target.into())];
            assert_eq!(first_undeclared(&row, &bad).map(|e| e.axis), Some(axis));
        }
        assert!(row.declares_kind(EffectAxis::EventAppend, K));
        assert!(!row.declares_kind(EffectAxis::EventRead, K));
    }

    #[test]
    fn axis_and_field_names_are_stable() {
        let names: Vec<_> = EffectAxis::ALL
            .iter()
            .map(|a| (a.as_str(), a.field().as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("event.read", "reads_events"),
                ("event.append", "appends_events"),
                ("projection.query", "queries_projections"),
                ("receipt.emit", "emits_receipts"),
                ("host.control", "uses_host_controls"),
            ]
        );
        assert_eq!(
            RowField::RequiresCapabilities.to_string(),
            "requires_capabilities"
        );
        assert!(EffectAxis::EventRead.targets_event_kinds());
        assert!(!EffectAxis::HostControl.targets_event_kinds());
    }
}
