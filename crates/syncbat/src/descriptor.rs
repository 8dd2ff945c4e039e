//! Operation descriptors: name, effect class, schema references, receipt
//! kind, optional title and the declared effect row.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::name::{self, check_token, OperationNameError};
use crate::row::MAX_DESCRIPTOR_REF_BYTES;
use crate::row::{OperationEffectRow, RowField, StaticEffectRow, TargetProblem};

/// The kind of effect an operation has, which bounds its effect row.
///
/// | class | row |
/// |---|---|
/// | `Inspect` | no appends, no receipt emits, no host controls |
/// | `Compute` | nothing at all |
/// | `Persist` | at least one append; no receipt emits, no host controls |
/// | `Emit` | emits its own receipt kind; no appends, no host controls |
/// | `Control` | at least one host control |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EffectClass {
    /// Reads state without changing it.
    Inspect,
    /// Computes output from input alone.
    Compute,
    /// Changes durable state by appending events.
    Persist,
    /// Produces an externally visible receipt.
    Emit,
    /// Drives the host (stop, restart, reload, ...).
    Control,
}

impl EffectClass {
    /// Every class.
    pub const ALL: [EffectClass; 5] = [
        Self::Inspect,
        Self::Compute,
        Self::Persist,
        Self::Emit,
        Self::Control,
    ];

    /// Lowercase name (`inspect`, `compute`, `persist`, `emit`, `control`).
    ///
    /// ```
    /// assert_eq!(syncbat::EffectClass::Persist.as_str(), "persist");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Inspect => "inspect",
            Self::Compute => "compute",
            Self::Persist => "persist",
            Self::Emit => "emit",
            Self::Control => "control",
        }
    }

    /// The class with this lowercase name.
    ///
    /// ```
    /// use syncbat::EffectClass;
    /// assert_eq!(EffectClass::parse("emit"), Some(EffectClass::Emit));
    /// assert_eq!(EffectClass::parse("Emit"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for EffectClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Descriptor text: borrowed from a `const` declaration or shared.
#[derive(Clone, Debug)]
enum Text {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Text {
    fn as_str(&self) -> &str {
        match self {
            Self::Static(s) => s,
            Self::Shared(s) => s,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

/// The fields of a descriptor as `'static` text, for `const` items (what
/// `#[operation]` emits).
///
/// ```
/// use syncbat::{EffectClass, OperationDescriptor, StaticDescriptor, StaticEffectRow};
/// const PING: OperationDescriptor = OperationDescriptor::from_static(StaticDescriptor {
///     name: "ping",
///     effect: EffectClass::Compute,
///     input_schema: "ping.request",
///     output_schema: "ping.reply",
///     receipt_kind: "receipt.ping.v1",
///     title: Some("Ping"),
///     row: StaticEffectRow::EMPTY,
/// });
/// assert_eq!(PING.title(), Some("Ping"));
/// assert!(PING.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct StaticDescriptor {
    /// Operation name.
    pub name: &'static str,
    /// Effect class.
    pub effect: EffectClass,
    /// Input schema reference.
    pub input_schema: &'static str,
    /// Output schema reference.
    pub output_schema: &'static str,
    /// Receipt kind of the operation's receipts.
    pub receipt_kind: &'static str,
    /// Optional human title.
    pub title: Option<&'static str>,
    /// Declared effect row.
    pub row: StaticEffectRow,
}

/// What an operation is: its name, effect class, input and output schema
/// references, receipt kind, optional title and declared effect row.
///
/// Construction never fails; [`OperationDescriptor::validate`] (run by every
/// registration) checks the grammar of each field and the row against the class.
///
/// ```
/// use batpak::EventKind;
/// use syncbat::{EffectClass, OperationDescriptor, OperationEffectRow};
/// let d = OperationDescriptor::new("bank.deposit", EffectClass::Persist,
///         "bank.deposit.request", "bank.deposit.ack", "receipt.bank.deposit.v1")
///     .with_effect_row(OperationEffectRow::new().appends_event(EventKind::custom(0xE, 1)));
/// assert!(d.validate().is_ok());
/// let bare = OperationDescriptor::new("bank.deposit", EffectClass::Persist, "a", "b", "c");
/// assert!(bare.validate().is_err()); // a Persist row must declare an append
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationDescriptor {
    name: Text,
    effect: EffectClass,
    input_schema: Text,
    output_schema: Text,
    receipt_kind: Text,
    title: Option<Text>,
    row: OperationEffectRow,
}

impl OperationDescriptor {
    /// A descriptor with an empty effect row and no title.
    pub const fn new(
        name: &'static str,
        effect: EffectClass,
        input_schema: &'static str,
        output_schema: &'static str,
        receipt_kind: &'static str,
    ) -> Self {
        Self {
            name: Text::Static(name),
            effect,
            input_schema: Text::Static(input_schema),
            output_schema: Text::Static(output_schema),
            receipt_kind: Text::Static(receipt_kind),
            title: None,
            row: OperationEffectRow::new(),
        }
    }

    /// A descriptor from `'static` parts, usable in `const` items.
    pub const fn from_static(d: StaticDescriptor) -> Self {
        Self {
            name: Text::Static(d.name),
            effect: d.effect,
            input_schema: Text::Static(d.input_schema),
            output_schema: Text::Static(d.output_schema),
            receipt_kind: Text::Static(d.receipt_kind),
            title: match d.title {
                Some(t) => Some(Text::Static(t)),
                None => None,
            },
            row: OperationEffectRow::from_static(d.row),
        }
    }

    /// A descriptor from owned text (for example rebuilt from a stored catalog).
    ///
    /// ```
    /// use syncbat::{EffectClass, OperationDescriptor};
    /// let d = OperationDescriptor::owned(String::from("ping"), EffectClass::Compute, "a", "b", "c");
    /// assert_eq!(d.name(), "ping");
    /// ```
    pub fn owned(
        name: impl Into<String>,
        effect: EffectClass,
        input_schema: impl Into<String>,
        output_schema: impl Into<String>,
        receipt_kind: impl Into<String>,
    ) -> Self {
        let shared = |s: String| Text::Shared(Arc::from(s));
        Self {
            name: shared(name.into()),
            effect,
            input_schema: shared(input_schema.into()),
            output_schema: shared(output_schema.into()),
            receipt_kind: shared(receipt_kind.into()),
            title: None,
            row: OperationEffectRow::new(),
        }
    }

    /// The same descriptor with a title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(Text::Shared(Arc::from(title.into())));
        self
    }

    /// The same descriptor with this effect row.
    pub fn with_effect_row(mut self, row: OperationEffectRow) -> Self {
        self.row = row;
        self
    }

    /// The operation name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The effect class.
    pub fn effect(&self) -> EffectClass {
        self.effect
    }

    /// The input schema reference.
    pub fn input_schema(&self) -> &str {
        self.input_schema.as_str()
    }

    /// The output schema reference.
    pub fn output_schema(&self) -> &str {
        self.output_schema.as_str()
    }

    /// The receipt kind every receipt of this operation carries.
    pub fn receipt_kind(&self) -> &str {
        self.receipt_kind.as_str()
    }

    /// The title, if any.
    pub fn title(&self) -> Option<&str> {
        self.title.as_ref().map(Text::as_str)
    }

    /// The declared effect row.
    pub fn effect_row(&self) -> &OperationEffectRow {
        &self.row
    }

    /// Checks the name grammar, the schema references and receipt kind
    /// (dotted tokens of at most 256 bytes), the title, every row target,
    /// and the row against the effect class.
    pub fn validate(&self) -> Result<(), DescriptorError> {
        let op = self.name();
        name::check(op).map_err(|problem| DescriptorError::Name {
            name: op.to_owned(),
            problem,
        })?;
        for (field, value) in [
            (DescriptorField::InputSchema, self.input_schema()),
            (DescriptorField::OutputSchema, self.output_schema()),
            (DescriptorField::ReceiptKind, self.receipt_kind()),
        ] {
            check_token(value, MAX_DESCRIPTOR_REF_BYTES).map_err(|problem| {
                DescriptorError::Reference {
                    operation: op.to_owned(),
                    field,
                    value: value.to_owned(),
                    problem,
                }
            })?;
        }
        if let Some(title) = self.title() {
            check_title(title).map_err(|problem| DescriptorError::Title {
                operation: op.to_owned(),
                problem,
            })?;
        }
        self.row.validate(op, self.effect, self.receipt_kind())
    }
}

/// A descriptor text field with a grammar of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DescriptorField {
    /// `input_schema`.
    InputSchema,
    /// `output_schema`.
    OutputSchema,
    /// `receipt_kind`.
    ReceiptKind,
}

impl std::fmt::Display for DescriptorField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::InputSchema => "input_schema",
            Self::OutputSchema => "output_schema",
            Self::ReceiptKind => "receipt_kind",
        })
    }
}

/// Why a title was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum TitleProblem {
    /// The title is empty.
    #[error("is empty")]
    Empty,
    /// Longer than 256 bytes.
    #[error("is {len} bytes, over the limit of 256")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Contains a control character.
    #[error("contains a control character")]
    ControlChar,
}

fn check_title(title: &str) -> Result<(), TitleProblem> {
    if title.is_empty() {
        Err(TitleProblem::Empty)
    } else if title.len() > MAX_DESCRIPTOR_REF_BYTES {
        Err(TitleProblem::TooLong { len: title.len() })
    } else if title.chars().any(char::is_control) {
        Err(TitleProblem::ControlChar)
    } else {
        Ok(())
    }
}

/// Why a descriptor was refused at registration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DescriptorError {
    /// The name breaks the grammar.
    #[error("operation name {name:?}: {problem}")]
    Name {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        problem: OperationNameError,
    },
    /// A schema reference or the receipt kind breaks the token grammar.
    #[error("operation {operation}: {field} {value:?}: {problem}")]
    Reference {
        /// The operation.
        operation: String,
        /// Which field.
        field: DescriptorField,
        /// The refused value.
        value: String,
        /// What is wrong with it.
        problem: OperationNameError,
    },
    /// The title is empty, too long or has a control character.
    #[error("operation {operation}: title {problem}")]
    Title {
        /// The operation.
        operation: String,
        /// What is wrong with it.
        problem: TitleProblem,
    },
    /// A row target is malformed or repeated.
    #[error("operation {operation}: {field} target {target:?} {problem}")]
    Target {
        /// The operation.
        operation: String,
        /// The row field.
        field: RowField,
        /// The refused target.
        target: String,
        /// What is wrong with it.
        problem: TargetProblem,
    },
    /// The class forbids a field the row declares.
    #[error("operation {operation}: a {class} operation cannot declare {field}")]
    ClassForbids {
        /// The operation.
        operation: String,
        /// Its class.
        class: EffectClass,
        /// The forbidden field.
        field: RowField,
    },
    /// The class requires a field the row leaves empty.
    #[error("operation {operation}: a {class} operation must declare at least one of {field}")]
    ClassRequires {
        /// The operation.
        operation: String,
        /// Its class.
        class: EffectClass,
        /// The required field.
        field: RowField,
    },
    /// An `Emit` operation does not list its own receipt kind in `emits_receipts`.
    #[error("operation {operation}: an emit operation must list its receipt kind {receipt_kind:?} in emits_receipts")]
    EmitWithoutOwnReceiptKind {
        /// The operation.
        operation: String,
        /// Its receipt kind.
        receipt_kind: String,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn d(name: &'static str) -> OperationDescriptor {
        OperationDescriptor::new(
            name,
            EffectClass::Compute,
            "in.v1",
            "out.v1",
            "receipt.x.v1",
        )
    }

    #[test]
    fn descriptors_compare_by_their_text_whether_static_or_owned() {
        let owned = OperationDescriptor::owned(
            "ok.name",
            EffectClass::Compute,
            "in.v1",
            "out.v1",
            "receipt.x.v1",
        );
        assert_eq!(d("ok.name"), owned);
        let other = OperationDescriptor::owned(
            "ok.name",
            EffectClass::Compute,
            "in.v2",
            "out.v1",
            "receipt.x.v1",
        );
        assert_ne!(d("ok.name"), other);
        assert_ne!(d("ok.name"), d("ok.other"));
    }

    #[test]
    fn descriptor_fields_display_as_their_keys() {
        let names: Vec<String> = [
            DescriptorField::InputSchema,
            DescriptorField::OutputSchema,
            DescriptorField::ReceiptKind,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["input_schema", "output_schema", "receipt_kind"]);
    }

    #[test]
    fn every_field_is_checked() {
        assert!(d("ok.name").validate().is_ok());
        assert!(matches!(
            d("bad..name").validate(),
            Err(DescriptorError::Name {
                problem: OperationNameError::EmptySegment { at: 4 },
                ..
            })
        ));
        let long: &'static str = Box::leak("a".repeat(257).into_boxed_str());
        for (desc, field) in [
            (
                OperationDescriptor::new("x", EffectClass::Compute, "", "o", "r"),
                DescriptorField::InputSchema,
            ),
            (
                OperationDescriptor::new("x", EffectClass::Compute, "i", long, "r"),
                DescriptorField::OutputSchema,
            ),
            (
                OperationDescriptor::new("x", EffectClass::Compute, "i", "o", "r k"),
                DescriptorField::ReceiptKind,
            ),
        ] {
            match desc.validate() {
                Err(DescriptorError::Reference { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let ok256: &'static str = Box::leak("a".repeat(256).into_boxed_str());
        assert!(
            OperationDescriptor::new("x", EffectClass::Compute, ok256, "o", "r")
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn titles_are_checked() {
        assert!(d("x").with_title("Deposit money").validate().is_ok());
        for (t, p) in [
            (String::new(), TitleProblem::Empty),
            ("a".repeat(257), TitleProblem::TooLong { len: 257 }),
            ("a\nb".to_owned(), TitleProblem::ControlChar),
        ] {
            assert_eq!(
                d("x").with_title(t).validate(),
                Err(DescriptorError::Title {
                    operation: "x".into(),
                    problem: p
                })
            );
        }
        assert!(d("x").with_title("a".repeat(256)).validate().is_ok());
    }

    #[test]
    fn class_names_round_trip() {
        for c in EffectClass::ALL {
            assert_eq!(EffectClass::parse(c.as_str()), Some(c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(EffectClass::parse("nope"), None);
    }

    #[test]
    fn static_and_owned_descriptors_are_equal_when_their_text_is() {
        const S: OperationDescriptor = OperationDescriptor::from_static(StaticDescriptor {
            name: "x",
            effect: EffectClass::Compute,
            input_schema: "in.v1",
            output_schema: "out.v1",
            receipt_kind: "receipt.x.v1",
            title: None,
            row: StaticEffectRow::EMPTY,
        });
        let o = OperationDescriptor::owned(
            "x",
            EffectClass::Compute,
            "in.v1",
            "out.v1",
            "receipt.x.v1",
        );
        assert_eq!(S, o);
        assert_ne!(S, o.clone().with_title("T"));
        assert_eq!(S.input_schema(), "in.v1");
        assert_eq!(S.output_schema(), "out.v1");
        assert_eq!(S.effect(), EffectClass::Compute);
    }
}
