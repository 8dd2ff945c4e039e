//! Caller-defined gates: pure predicates that must pass before an event is
//! committed, and the pipeline that turns a passing proposal into an append.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::Serialize;

use crate::append::Appender;
use crate::attestation::GateAttestation;
use crate::coordinate::Coordinate;
use crate::error::StoreError;
use crate::event::encode_payload;
use crate::kind::EventKind;
use crate::options::AppendOptions;
use crate::receipt::AppendReceipt;

/// Code of the denial reported for a gate that panicked.
pub const GATE_PANICKED: &str = "GATE_PANICKED";
/// Code of a denial built without [`Denial::with_code`].
pub const DEFAULT_DENIAL_CODE: &str = "DENIED";

/// A pure predicate over a caller-defined context.
///
/// A gate should only read `ctx` and decide. A gate that panics is caught
/// and reported as a denial with code [`GATE_PANICKED`]; it never unwinds
/// through the caller.
///
/// ```
/// use batpak::{Denial, Gate};
/// struct CreditLimit { max: u64 }
/// impl Gate<u64> for CreditLimit {
///     fn name(&self) -> &'static str { "credit_limit" }
///     fn evaluate(&self, amount: &u64) -> Result<(), Denial> {
///         if *amount <= self.max {
///             Ok(())
///         } else {
///             Err(Denial::new("credit_limit", "over the credit limit")
///                 .with_code("LIMIT")
///                 .with_context("max", self.max.to_string()))
///         }
///     }
/// }
/// assert!(CreditLimit { max: 10 }.evaluate(&11).is_err());
/// ```
pub trait Gate<Ctx: ?Sized>: Send + Sync {
    /// A stable name, recorded in the attestation of every event this gate passes
    /// (1 to [`crate::MAX_GATE_NAME_LEN`] bytes, no control characters).
    fn name(&self) -> &'static str;

    /// Passes (`Ok`) or denies with the reason.
    fn evaluate(&self, ctx: &Ctx) -> Result<(), Denial>;
}

/// Why a gate refused: the gate's name, a short machine-readable code, a
/// message for people, and optional key/value context.
///
/// A denial returned by a [`Pipeline`] also carries the digest of the
/// proposal it refused ([`Denial::proposal`]): its kind and the blake3 hash
/// of its encoded payload, never the payload itself.
///
/// ```
/// use batpak::Denial;
/// let d = Denial::new("credit_limit", "over the limit")
///     .with_code("LIMIT")
///     .with_context("max", "500");
/// assert_eq!((d.gate(), d.code(), d.message()), ("credit_limit", "LIMIT", "over the limit"));
/// assert_eq!(d.context()["max"], "500");
/// assert_eq!(Denial::new("g", "m").code(), batpak::DEFAULT_DENIAL_CODE);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub(crate) gate: Cow<'static, str>,
    pub(crate) code: Cow<'static, str>,
    pub(crate) message: String,
    pub(crate) context: BTreeMap<String, String>,
    pub(crate) proposal: Option<Box<ProposalDigest>>,
}

impl Denial {
    /// A denial by `gate` with a message and the code [`DEFAULT_DENIAL_CODE`].
    pub fn new(gate: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            gate: gate.into(),
            code: Cow::Borrowed(DEFAULT_DENIAL_CODE),
            message: message.into(),
            context: BTreeMap::new(),
            proposal: None,
        }
    }

    /// Sets the machine-readable code.
    ///
    /// ```
    /// assert_eq!(batpak::Denial::new("g", "m").with_code("C").code(), "C");
    /// ```
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = code.into();
        self
    }

    /// Adds one key/value pair of context (a later value for the same key wins).
    ///
    /// ```
    /// let d = batpak::Denial::new("g", "m").with_context("k", "v");
    /// assert_eq!(d.context().get("k").map(String::as_str), Some("v"));
    /// ```
    pub fn with_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }

    /// Records which proposal was refused (a [`Pipeline`] does this itself).
    ///
    /// ```
    /// use batpak::{Denial, Proposal};
    /// # use batpak::prelude::*;
    /// let p = Proposal::new(EventKind::custom(0xE, 1), &"x")?;
    /// let d = Denial::new("g", "m").for_proposal(&p);
    /// assert_eq!(d.proposal().map(|p| p.payload_hash), Some(p.payload_hash()));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn for_proposal(mut self, proposal: &Proposal) -> Self {
        self.proposal = Some(Box::new(proposal.digest()));
        self
    }

    /// The name of the gate that refused.
    pub fn gate(&self) -> &str {
        &self.gate
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Key/value context, sorted by key.
    pub fn context(&self) -> &BTreeMap<String, String> {
        &self.context
    }

    /// The refused proposal's kind and payload hash, when known.
    pub fn proposal(&self) -> Option<&ProposalDigest> {
        self.proposal.as_deref()
    }

    /// True when the gate panicked instead of deciding.
    ///
    /// ```
    /// assert!(!batpak::Denial::new("g", "m").is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        self.code == GATE_PANICKED
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "denied by gate {:?} ({}): {}",
            self.gate, self.code, self.message
        )
    }
}

impl std::error::Error for Denial {}

/// What a denial remembers of the proposal it refused.
///
/// ```
/// use batpak::prelude::*;
/// let p = batpak::Proposal::new(EventKind::custom(0xE, 1), &"x")?;
/// let d = p.digest();
/// assert_eq!(d.kind, p.kind());
/// assert_eq!(d.payload_hash, *blake3::hash(p.payload_bytes()).as_bytes());
/// # Ok::<(), StoreError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct ProposalDigest {
    /// The kind the proposal would have been appended as.
    pub kind: EventKind,
    /// blake3 of the encoded payload: the `content_hash` the event would have had.
    pub payload_hash: [u8; 32],
}

/// Gates evaluated in the order they were added.
///
/// ```
/// use batpak::{Denial, Gate, GateSet};
/// struct Even;
/// impl Gate<u32> for Even {
///     fn name(&self) -> &'static str { "even" }
///     fn evaluate(&self, n: &u32) -> Result<(), Denial> {
///         if n % 2 == 0 { Ok(()) } else { Err(Denial::new("even", "odd")) }
///     }
/// }
/// struct Small;
/// impl Gate<u32> for Small {
///     fn name(&self) -> &'static str { "small" }
///     fn evaluate(&self, n: &u32) -> Result<(), Denial> {
///         if *n < 10 { Ok(()) } else { Err(Denial::new("small", "too big")) }
///     }
/// }
/// let set = GateSet::new().with(Even).with(Small);
/// assert_eq!(set.evaluate(&4).unwrap(), ["even", "small"]);
/// assert_eq!(set.evaluate(&13).unwrap_err().gate(), "even");
/// let report = set.evaluate_all(&13);
/// assert_eq!(report.denials.len(), 2);
/// ```
pub struct GateSet<Ctx: ?Sized> {
    gates: Vec<Box<dyn Gate<Ctx>>>,
}

impl<Ctx: ?Sized> Default for GateSet<Ctx> {
    fn default() -> Self {
        Self { gates: Vec::new() }
    }
}

impl<Ctx: ?Sized> fmt::Debug for GateSet<Ctx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateSet")
            .field("gates", &self.names())
            .finish()
    }
}

/// Every gate's verdict, from [`GateSet::evaluate_all`].
///
/// ```
/// use batpak::GateSet;
/// let report = GateSet::<()>::new().evaluate_all(&());
/// assert!(report.is_approved());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GateReport {
    /// Names of the gates that passed, in evaluation order.
    pub passed: Vec<&'static str>,
    /// Denials of the gates that refused (or panicked), in evaluation order.
    pub denials: Vec<Denial>,
}

impl GateReport {
    /// True when no gate refused.
    pub fn is_approved(&self) -> bool {
        self.denials.is_empty()
    }
}

impl<Ctx: ?Sized> GateSet<Ctx> {
    /// An empty set (it approves everything, and says so: no gate is attested).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a gate after the ones already in the set.
    ///
    /// ```
    /// # use batpak::{Denial, Gate, GateSet};
    /// struct G;
    /// impl Gate<()> for G {
    ///     fn name(&self) -> &'static str { "g" }
    ///     fn evaluate(&self, _: &()) -> Result<(), Denial> { Ok(()) }
    /// }
    /// assert_eq!(GateSet::new().with(G).names(), ["g"]);
    /// ```
    #[must_use]
    pub fn with<G: Gate<Ctx> + 'static>(mut self, gate: G) -> Self {
        self.gates.push(Box::new(gate));
        self
    }

    /// Gate names in evaluation order.
    pub fn names(&self) -> Vec<&'static str> {
        self.gates.iter().map(|g| g.name()).collect()
    }

    /// Number of gates.
    pub fn len(&self) -> usize {
        self.gates.len()
    }

    /// True for a set without gates.
    pub fn is_empty(&self) -> bool {
        self.gates.is_empty()
    }

    /// Runs the gates in order and stops at the first denial. `Ok` holds the
    /// names of every gate, which all passed.
    pub fn evaluate(&self, ctx: &Ctx) -> Result<Vec<&'static str>, Denial> {
        let mut passed = Vec::with_capacity(self.gates.len());
        for gate in &self.gates {
            run_gate(gate.as_ref(), ctx)?;
            passed.push(gate.name());
        }
        Ok(passed)
    }

    /// Runs every gate, whatever the earlier ones said, and reports each verdict.
    pub fn evaluate_all(&self, ctx: &Ctx) -> GateReport {
        let mut report = GateReport::default();
        for gate in &self.gates {
            match run_gate(gate.as_ref(), ctx) {
                Ok(()) => report.passed.push(gate.name()),
                Err(d) => report.denials.push(d),
            }
        }
        report
    }
}

/// Runs one gate; a panic becomes a [`GATE_PANICKED`] denial. The denial
/// always names the gate that produced it.
fn run_gate<Ctx: ?Sized>(gate: &dyn Gate<Ctx>, ctx: &Ctx) -> Result<(), Denial> {
    let name = gate.name();
    match catch_unwind(AssertUnwindSafe(|| gate.evaluate(ctx))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(mut denial)) => {
            denial.gate = Cow::Borrowed(name);
            Err(denial)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            tracing::error!(gate = name, panic = %what, "gate panicked; reported as a denial");
            Err(Denial::new(name, format!("gate panicked: {what}")).with_code(GATE_PANICKED))
        }
    }
}

/// An event waiting for approval: its kind, its payload (encoded once, here,
/// so the bytes judged are the bytes stored) and its append options.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::Proposal;
/// let p = Proposal::new(EventKind::custom(0xE, 1), &serde_json::json!({"amount": 5}))?
///     .with_options(AppendOptions::default().with_correlation_id(CorrelationId::from_u128(9)));
/// assert_eq!(p.kind(), EventKind::custom(0xE, 1));
/// assert!(Proposal::new(EventKind::from_u16(0x0001), &1u8).is_err(), "reserved kinds are refused");
/// # Ok::<(), StoreError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    kind: EventKind,
    payload: Vec<u8>,
    options: AppendOptions,
}

impl Proposal {
    /// Encodes `payload` as MessagePack, exactly as [`Store::append`](crate::Store::append) would.
    /// Fails on a reserved kind or a payload that does not encode.
    pub fn new<P: Serialize + ?Sized>(kind: EventKind, payload: &P) -> Result<Self, StoreError> {
        if kind.is_reserved() {
            return Err(StoreError::InvalidKind {
                kind: kind.as_u16(),
                reason: "categories 0x0 and 0xD are reserved for the store",
            });
        }
        Ok(Self {
            kind,
            payload: encode_payload(payload)?,
            options: AppendOptions::default(),
        })
    }

    /// Sets the append options (expected sequence, idempotency key,
    /// correlation, causation, payload version) the commit will use.
    #[must_use]
    pub fn with_options(mut self, options: AppendOptions) -> Self {
        self.options = options;
        self
    }

    /// The event kind.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The encoded payload.
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// blake3 of the encoded payload (the event's `content_hash` once committed).
    pub fn payload_hash(&self) -> [u8; 32] {
        crate::chain::content_hash(&self.payload)
    }

    /// The append options.
    pub fn options(&self) -> &AppendOptions {
        &self.options
    }

    /// Kind and payload hash, as a denial records them.
    pub fn digest(&self) -> ProposalDigest {
        ProposalDigest {
            kind: self.kind,
            payload_hash: self.payload_hash(),
        }
    }
}

/// Why an approval skips the gates: a ticket (incident, change request) and
/// a reason. Both are required and recorded in the committed event.
///
/// ```
/// let r = batpak::BypassReason::new("incident-42", "approved by on-call");
/// assert_eq!((r.ticket(), r.reason()), ("incident-42", "approved by on-call"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BypassReason {
    ticket: String,
    reason: String,
}

impl BypassReason {
    /// A ticket and a reason; checked when the bypass is made.
    pub fn new(ticket: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            ticket: ticket.into(),
            reason: reason.into(),
        }
    }

    /// The ticket.
    pub fn ticket(&self) -> &str {
        &self.ticket
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A proposal that passed a pipeline's gates, or was bypassed with a
/// recorded reason. Only a [`Pipeline`] makes one and only
/// [`Pipeline::commit`] consumes it; it cannot be built, cloned or
/// deserialized by other code.
///
/// ```compile_fail
/// use batpak::{Approved, GateAttestation, Proposal};
/// # use batpak::prelude::*;
/// let proposal = Proposal::new(EventKind::custom(0xE, 1), &1u8).unwrap();
/// let forged = Approved { proposal, attestation: GateAttestation::passed(["trust me"]) };
/// ```
#[derive(Debug)]
#[must_use = "an approval does nothing until it is committed"]
pub struct Approved {
    proposal: Proposal,
    attestation: GateAttestation,
}

impl Approved {
    /// The approved proposal.
    pub fn proposal(&self) -> &Proposal {
        &self.proposal
    }

    /// What the committed event will record: gates passed, or the bypass.
    pub fn attestation(&self) -> &GateAttestation {
        &self.attestation
    }

    /// True when the gates were bypassed.
    pub fn is_bypass(&self) -> bool {
        self.attestation.is_bypass()
    }
}

/// A gate set bound to the append path: evaluate, then commit.
///
/// A [`Gate`] looks at a context value of the caller's type and either passes
/// or returns a [`Denial`]. A [`GateSet`] runs gates in order. A [`Pipeline`]
/// evaluates a [`Proposal`] (event kind, encoded payload, append options)
/// against its set and, if every gate passes, hands back an [`Approved`]: the
/// only value [`Pipeline::commit`] accepts, and one that code outside this
/// crate cannot build. The committed event records the gates it passed
/// ([`GateAttestation::Passed`]) in its hashed header. An audited
/// [`Pipeline::bypass`] records its ticket and reason instead
/// ([`GateAttestation::Bypassed`]); [`crate::Store::bypasses`] lists them.
/// A denial is evidence too: [`crate::Store::append_denial`] records it.
///
/// ```
/// use batpak::prelude::*;
/// use batpak::{BypassReason, Denial, Gate, GateSet, Pipeline, Proposal};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// struct Order { amount: i64 }
/// struct AmountPositive;
/// impl Gate<Order> for AmountPositive {
///     fn name(&self) -> &'static str { "amount_positive" }
///     fn evaluate(&self, ctx: &Order) -> Result<(), Denial> {
///         if ctx.amount > 0 {
///             Ok(())
///         } else {
///             Err(Denial::new("amount_positive", "amount must be positive").with_code("AMOUNT"))
///         }
///     }
/// }
/// const PLACED: EventKind = EventKind::custom(0xE, 0x30);
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let coord = Coordinate::new("order:1", "shop")?;
/// let pipeline = Pipeline::new(GateSet::new().with(AmountPositive));
///
/// let approved = pipeline.evaluate(&Order { amount: 5 }, Proposal::new(PLACED, &5i64)?)?;
/// let receipt = pipeline.commit(&store, &coord, approved)?;
/// assert!(store.get(receipt.event_id)?.event.header.attestation.is_some());
///
/// let denial = pipeline
///     .evaluate(&Order { amount: -1 }, Proposal::new(PLACED, &-1i64)?)
///     .unwrap_err();
/// assert_eq!(denial.code(), "AMOUNT");
/// let recorded = store.append_denial(&coord, &denial)?;
/// assert!(store.verify_denial_receipt(&recorded).is_valid());
///
/// let bypassed = pipeline.bypass(
///     Proposal::new(PLACED, &-1i64)?,
///     BypassReason::new("incident-42", "approved by on-call"),
/// )?;
/// pipeline.commit(&store, &coord, bypassed)?;
/// assert_eq!(store.bypasses()?.len(), 1);
/// # Ok(()) }
/// ```
///
/// A smaller example:
///
/// ```
/// use batpak::prelude::*;
/// use batpak::{GateSet, Pipeline, Proposal};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let pipeline: Pipeline<()> = Pipeline::new(GateSet::new());
/// let approved = pipeline.evaluate(&(), Proposal::new(EventKind::custom(0xE, 1), &1u8)?)?;
/// let receipt = pipeline.commit(&store, &Coordinate::new("e", "s")?, approved)?;
/// assert!(receipt.durable);
/// # Ok(()) }
/// ```
pub struct Pipeline<Ctx: ?Sized> {
    gates: GateSet<Ctx>,
}

impl<Ctx: ?Sized> fmt::Debug for Pipeline<Ctx> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("gates", &self.gates)
            .finish()
    }
}

impl<Ctx: ?Sized> Pipeline<Ctx> {
    /// A pipeline over these gates.
    pub fn new(gates: GateSet<Ctx>) -> Self {
        Self { gates }
    }

    /// The gates, in evaluation order.
    pub fn gates(&self) -> &GateSet<Ctx> {
        &self.gates
    }

    /// Evaluates the gates in order against `ctx`; the first denial stops the
    /// evaluation and is returned with the proposal's digest attached.
    pub fn evaluate(&self, ctx: &Ctx, proposal: Proposal) -> Result<Approved, Denial> {
        match self.gates.evaluate(ctx) {
            Ok(passed) => Ok(Approved {
                attestation: GateAttestation::passed(passed),
                proposal,
            }),
            Err(denial) => Err(denial.for_proposal(&proposal)),
        }
    }

    /// Evaluates every gate; on refusal returns every denial, each with the
    /// proposal's digest attached.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::{Denial, Gate, GateSet, Pipeline, Proposal};
    /// struct No(&'static str);
    /// impl Gate<()> for No {
    ///     fn name(&self) -> &'static str { self.0 }
    ///     fn evaluate(&self, _: &()) -> Result<(), Denial> { Err(Denial::new(self.0, "no")) }
    /// }
    /// let pipeline = Pipeline::new(GateSet::new().with(No("a")).with(No("b")));
    /// let denials = pipeline
    ///     .evaluate_all(&(), Proposal::new(EventKind::custom(0xE, 1), &1u8)?)
    ///     .unwrap_err();
    /// assert_eq!(denials.iter().map(Denial::gate).collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn evaluate_all(&self, ctx: &Ctx, proposal: Proposal) -> Result<Approved, Vec<Denial>> {
        let report = self.gates.evaluate_all(ctx);
        if report.is_approved() {
            return Ok(Approved {
                attestation: GateAttestation::passed(report.passed),
                proposal,
            });
        }
        Err(report
            .denials
            .into_iter()
            .map(|d| d.for_proposal(&proposal))
            .collect())
    }

    /// Approves `proposal` without evaluating the gates. The ticket and reason
    /// are required (non-empty, bounded) and are recorded in the committed
    /// event, where [`crate::Store::bypasses`] finds them.
    pub fn bypass(&self, proposal: Proposal, reason: BypassReason) -> Result<Approved, StoreError> {
        let attestation = GateAttestation::Bypassed {
            ticket: reason.ticket,
            reason: reason.reason,
        };
        attestation.validate()?;
        if let Some((ticket, why)) = attestation.bypass() {
            tracing::warn!(ticket, reason = why, kind = %proposal.kind, "gates bypassed");
        }
        Ok(Approved {
            proposal,
            attestation,
        })
    }
}

/// Appends an approved proposal, its attestation recorded in the event header.
pub(crate) fn commit(
    appender: &Appender,
    coordinate: &Coordinate,
    approved: Approved,
) -> Result<AppendReceipt, StoreError> {
    approved.attestation.validate()?;
    let Approved {
        proposal,
        attestation,
    } = approved;
    let mut item = appender.prepare(
        coordinate.clone(),
        proposal.kind,
        proposal.payload,
        proposal.options,
    )?;
    item.attestation = Some(attestation);
    appender.append_one(item)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    struct Named(&'static str, bool);
    impl Gate<()> for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn evaluate(&self, _: &()) -> Result<(), Denial> {
            if self.1 {
                Ok(())
            } else {
                // A gate that names another gate is corrected to its own name.
                Err(Denial::new("someone else", "no"))
            }
        }
    }

    #[test]
    fn denial_is_stamped_with_the_denying_gate() {
        let set = GateSet::new()
            .with(Named("a", true))
            .with(Named("b", false));
        assert_eq!(set.evaluate(&()).unwrap_err().gate(), "b");
    }

    #[test]
    fn non_string_panic_payload_is_reported() {
        struct Odd;
        impl Gate<()> for Odd {
            fn name(&self) -> &'static str {
                "odd"
            }
            fn evaluate(&self, _: &()) -> Result<(), Denial> {
                std::panic::panic_any(7u32)
            }
        }
        let d = GateSet::new().with(Odd).evaluate(&()).unwrap_err();
        assert!(d.is_panic());
        assert!(d.message().contains("non-string"));
    }

    #[test]
    fn denial_stays_small() {
        // Keeps `Result<Approved, Denial>` cheap to move.
        assert!(std::mem::size_of::<Denial>() <= 104);
    }
}
