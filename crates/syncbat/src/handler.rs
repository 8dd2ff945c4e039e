//! Handlers: what runs an operation.

use crate::backend::EffectError;
use crate::ctx::Ctx;

/// What a handler returns: output bytes, or why it failed.
pub type HandlerResult = Result<Vec<u8>, HandlerError>;

/// A plain function handler, as `#[operation]` requires:
/// `fn(&[u8], &mut Ctx<'_>) -> HandlerResult`.
pub type HandlerFn = fn(&[u8], &mut Ctx<'_>) -> HandlerResult;

/// Why a handler failed. The call ends `Failed` with [`HandlerError::code`]
/// (unless an effect was refused: then it ends `Denied`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// The input could not be decoded or is invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The operation failed.
    #[error("failed: {0}")]
    Failed(String),
    /// The operation failed with a code of its own (a dotted token such as
    /// `bank.insufficient_funds`).
    #[error("{code}: {message}")]
    Coded {
        /// The failure code recorded in the receipt.
        code: String,
        /// Detail.
        message: String,
    },
    /// An effect failed; `?` on an [`EffectError`] lands here.
    #[error("effect failed: {0}")]
    Effect(#[from] EffectError),
}

impl HandlerError {
    /// An invalid-input error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }

    /// A failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// A failure with a code of its own.
    ///
    /// ```
    /// let e = syncbat::HandlerError::coded("bank.overdrawn", "balance is 3");
    /// assert_eq!(e.code(), "bank.overdrawn");
    /// assert_eq!(e.message(), "balance is 3");
    /// ```
    pub fn coded(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Coded {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The code recorded in a `Failed` receipt: `handler.invalid_input`,
    /// `handler.failed`, the handler's own code, or the effect's code.
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidInput(_) => "handler.invalid_input",
            Self::Failed(_) => "handler.failed",
            Self::Coded { code, .. } => code,
            Self::Effect(e) => e.code(),
        }
    }

    /// The detail recorded in a `Failed` receipt.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidInput(m) | Self::Failed(m) => m.clone(),
            Self::Coded { message, .. } => message.clone(),
            Self::Effect(e) => e.to_string(),
        }
    }
}

/// Runs one operation. One handler serves every call on every thread, so it
/// takes `&self` and is `Send + Sync`; a handler that keeps state guards it
/// itself (a `Mutex`, an atomic).
///
/// Plain functions and closures of the right shape are handlers:
///
/// ```
/// use syncbat::{Ctx, Handler, HandlerResult};
/// fn echo(input: &[u8], _cx: &mut Ctx<'_>) -> HandlerResult { Ok(input.to_vec()) }
/// fn takes(_: impl Handler) {}
/// takes(echo);
/// takes(|input: &[u8], _cx: &mut Ctx<'_>| -> HandlerResult { Ok(input.to_vec()) });
/// ```
pub trait Handler: Send + Sync {
    /// Handles `input`, performing effects only through `cx`.
    fn handle(&self, input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult;
}

impl<F> Handler for F
where
    F: Fn(&[u8], &mut Ctx<'_>) -> HandlerResult + Send + Sync,
{
    fn handle(&self, input: &[u8], cx: &mut Ctx<'_>) -> HandlerResult {
        self(input, cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::row::EffectAxis;

    #[test]
    fn codes_and_messages() {
        assert_eq!(
            HandlerError::invalid_input("x").code(),
            "handler.invalid_input"
        );
        assert_eq!(HandlerError::failed("y").code(), "handler.failed");
        assert_eq!(HandlerError::failed("y").message(), "y");
        assert_eq!(HandlerError::invalid_input("x").message(), "x");
        let e: HandlerError = EffectError::NoBackend {
            axis: EffectAxis::EventAppend,
        }
        .into();
        assert_eq!(e.code(), "effect.no_backend");
        assert!(e.message().contains("event.append"));
        assert_eq!(HandlerError::failed("y").to_string(), "failed: y");
    }
}
