//! The call seam: what a server hands each decoded `CALL` to.
//!
//! The operation runtime implements [`Dispatch`]; netbat never interprets
//! operations itself. A refusal or failure comes back as a [`CallFailure`],
//! whose kind chooses the wire code and whose message (carrying the runtime's
//! own stable code, such as `capability.denied`) becomes the `ERR` message.

use std::fmt;
use std::sync::Arc;

use crate::auth::Grants;
use crate::error::ErrorCode;

/// Which wire code a failed call is reported under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallFailureKind {
    /// `unknown_operation`.
    UnknownOperation,
    /// `missing_handler`.
    MissingHandler,
    /// `handler`: the handler returned an error.
    Handler,
    /// `receipt_sink`: the receipt could not be recorded.
    ReceiptSink,
    /// `runtime`: denials, store errors, panics and anything else.
    Runtime,
    /// `forbidden`: the connection's grants lack a needed capability.
    Forbidden,
}

impl CallFailureKind {
    /// The wire code of this kind.
    #[must_use]
    pub const fn code(self) -> ErrorCode {
        match self {
            Self::UnknownOperation => ErrorCode::UnknownOperation,
            Self::MissingHandler => ErrorCode::MissingHandler,
            Self::Handler => ErrorCode::Handler,
            Self::ReceiptSink => ErrorCode::ReceiptSink,
            Self::Runtime => ErrorCode::Runtime,
            Self::Forbidden => ErrorCode::Forbidden,
        }
    }
}

/// A refused or failed call.
///
/// The Display text is what the peer receives: `runtime error: <message>`
/// (the published framing of runtime errors), or `forbidden: <message>`.
///
/// ```
/// use netbat::{CallFailure, ErrorCode};
/// let failure = CallFailure::unknown_operation("bank.open");
/// assert_eq!(failure.code(), ErrorCode::UnknownOperation);
/// assert_eq!(failure.to_string(), "runtime error: unknown operation `bank.open`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallFailure {
    kind: CallFailureKind,
    message: String,
}

impl CallFailure {
    /// A failure of `kind` with the runtime's message.
    #[must_use]
    pub fn new(kind: CallFailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// `unknown_operation`, worded as the runtime words it.
    #[must_use]
    pub fn unknown_operation(operation: &str) -> Self {
        Self::new(
            CallFailureKind::UnknownOperation,
            format!("unknown operation `{operation}`"),
        )
    }

    /// `missing_handler`, worded as the runtime words it.
    #[must_use]
    pub fn missing_handler(operation: &str) -> Self {
        Self::new(
            CallFailureKind::MissingHandler,
            format!("operation `{operation}` has no registered handler"),
        )
    }

    /// `handler`: the handler failed with its own class `code`.
    #[must_use]
    pub fn handler(operation: &str, code: &str, message: &str) -> Self {
        Self::new(
            CallFailureKind::Handler,
            format!("handler for operation `{operation}` failed with {code}: {message}"),
        )
    }

    /// `runtime` with a free message (which should carry a stable code).
    #[must_use]
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::new(CallFailureKind::Runtime, message)
    }

    /// `forbidden`: `capability` is not among the connection's grants.
    #[must_use]
    pub fn forbidden(operation: &str, capability: &str) -> Self {
        Self::new(
            CallFailureKind::Forbidden,
            format!("operation `{operation}` needs capability `{capability}`"),
        )
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> CallFailureKind {
        self.kind
    }

    /// The wire code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.kind.code()
    }

    /// The runtime's message, without the wire framing.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            CallFailureKind::Forbidden => write!(f, "forbidden: {}", self.message),
            _ => write!(f, "runtime error: {}", self.message),
        }
    }
}

impl std::error::Error for CallFailure {}

/// Runs one call for a connection with the given grants.
///
/// Called from connection worker threads, hence `Send + Sync`. A panic in
/// `call` is caught by the server and answered `ERR runtime`; it never takes
/// the listener down.
///
/// ```
/// use netbat::{CallFailure, Dispatch, Grants};
/// struct Echo;
/// impl Dispatch for Echo {
///     fn call(&self, op: &str, input: &[u8], _grants: &Grants) -> Result<Vec<u8>, CallFailure> {
///         match op {
///             "echo" => Ok(input.to_vec()),
///             other => Err(CallFailure::unknown_operation(other)),
///         }
///     }
/// }
/// assert_eq!(Echo.call("echo", b"hi", &Grants::all()), Ok(b"hi".to_vec()));
/// ```
pub trait Dispatch: Send + Sync {
    /// Runs operation `op` on `input` and returns its output bytes.
    ///
    /// # Errors
    /// A [`CallFailure`] whose kind picks the wire code.
    fn call(&self, op: &str, input: &[u8], grants: &Grants) -> Result<Vec<u8>, CallFailure>;
}

impl<T: Dispatch + ?Sized> Dispatch for Arc<T> {
    fn call(&self, op: &str, input: &[u8], grants: &Grants) -> Result<Vec<u8>, CallFailure> {
        (**self).call(op, input, grants)
    }
}

impl<T: Dispatch + ?Sized> Dispatch for Box<T> {
    fn call(&self, op: &str, input: &[u8], grants: &Grants) -> Result<Vec<u8>, CallFailure> {
        (**self).call(op, input, grants)
    }
}

/// A [`Dispatch`] made from a closure.
///
/// ```
/// use netbat::{dispatch_fn, Dispatch, Grants};
/// let echo = dispatch_fn(|_op, input, _grants| Ok(input.to_vec()));
/// assert_eq!(echo.call("any", b"x", &Grants::all()), Ok(b"x".to_vec()));
/// ```
pub fn dispatch_fn<F>(f: F) -> DispatchFn<F>
where
    F: Fn(&str, &[u8], &Grants) -> Result<Vec<u8>, CallFailure> + Send + Sync,
{
    DispatchFn(f)
}

/// The [`Dispatch`] returned by [`dispatch_fn`].
#[derive(Clone, Copy, Debug)]
pub struct DispatchFn<F>(F);

impl<F> Dispatch for DispatchFn<F>
where
    F: Fn(&str, &[u8], &Grants) -> Result<Vec<u8>, CallFailure> + Send + Sync,
{
    fn call(&self, op: &str, input: &[u8], grants: &Grants) -> Result<Vec<u8>, CallFailure> {
        (self.0)(op, input, grants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_the_runtime_wording() {
        assert_eq!(
            CallFailure::missing_handler("a.b").to_string(),
            "runtime error: operation `a.b` has no registered handler"
        );
        assert_eq!(
            CallFailure::handler("a.b", "bank.insufficient", "short by 3").to_string(),
            "runtime error: handler for operation `a.b` failed with bank.insufficient: short by 3"
        );
        assert_eq!(
            CallFailure::runtime("capability.denied: event.append").to_string(),
            "runtime error: capability.denied: event.append"
        );
        let forbidden = CallFailure::forbidden("a.b", "event.append");
        assert_eq!(forbidden.kind(), CallFailureKind::Forbidden);
        assert_eq!(
            forbidden.to_string(),
            "forbidden: operation `a.b` needs capability `event.append`"
        );
        assert_eq!(
            forbidden.message(),
            "operation `a.b` needs capability `event.append`"
        );
    }

    #[test]
    fn wrappers_forward() {
        let inner = dispatch_fn(|op, _, _| Ok(op.as_bytes().to_vec()));
        let arc: Arc<dyn Dispatch> = Arc::new(inner);
        assert_eq!(arc.call("x", b"", &Grants::none()), Ok(b"x".to_vec()));
        let boxed: Box<dyn Dispatch> =
            Box::new(dispatch_fn(|_, _, _| Err(CallFailure::runtime("no"))));
        assert_eq!(
            boxed.call("x", b"", &Grants::none()),
            Err(CallFailure::runtime("no"))
        );
    }
}
