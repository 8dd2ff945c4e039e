//! The admission guard: a check the core runs after capabilities and
//! before the handler, which may deny the call.

use crate::descriptor::OperationDescriptor;

/// What an [`AdmissionGuard`] decides.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdmissionDecision {
    /// Let the call run.
    Admit,
    /// Refuse it: the call ends `Denied` with this code and message, and the
    /// handler never runs.
    Deny {
        /// Denial code recorded in the receipt.
        code: String,
        /// Detail.
        message: String,
    },
}

impl AdmissionDecision {
    /// A denial.
    ///
    /// ```
    /// use syncbat::AdmissionDecision;
    /// assert!(!AdmissionDecision::deny("quota.exceeded", "100 calls a minute").is_admit());
    /// assert!(AdmissionDecision::Admit.is_admit());
    /// ```
    pub fn deny(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Deny {
            code: code.into(),
            message: message.into(),
        }
    }

    /// True for [`AdmissionDecision::Admit`].
    pub fn is_admit(&self) -> bool {
        matches!(self, Self::Admit)
    }
}

/// Decides, per call, whether it may run. Shared by every thread.
///
/// ```
/// use syncbat::{AdmissionDecision, AdmissionGuard, OperationDescriptor};
/// let small_only = |_d: &OperationDescriptor, input: &[u8]| {
///     if input.len() <= 1024 { AdmissionDecision::Admit }
///     else { AdmissionDecision::deny("input.too_large", format!("{} bytes", input.len())) }
/// };
/// fn takes(_: impl AdmissionGuard) {}
/// takes(small_only);
/// ```
pub trait AdmissionGuard: Send + Sync {
    /// Admits or denies a call of `descriptor` with `input`.
    fn admit(&self, descriptor: &OperationDescriptor, input: &[u8]) -> AdmissionDecision;
}

impl<F> AdmissionGuard for F
where
    F: Fn(&OperationDescriptor, &[u8]) -> AdmissionDecision + Send + Sync,
{
    fn admit(&self, descriptor: &OperationDescriptor, input: &[u8]) -> AdmissionDecision {
        self(descriptor, input)
    }
}
