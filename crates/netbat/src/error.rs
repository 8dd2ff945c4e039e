//! Wire errors: what goes into an `ERR <code> <hex(message)>` line, and the
//! stable code tokens.
//!
//! The Display text of every variant is the message a peer receives (hex of
//! its UTF-8), so it is part of the wire contract and matches the published
//! netbat 0.10 byte for byte.

use std::fmt;
use std::io;

use crate::dispatch::CallFailure;

/// The stable code token of an `ERR` line.
///
/// ```
/// use netbat::ErrorCode;
/// assert_eq!(ErrorCode::LineTooLong.as_str(), "line_too_long");
/// assert_eq!(ErrorCode::from_token("forbidden"), Some(ErrorCode::Forbidden));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `io`: an I/O failure.
    Io,
    /// `empty_stream`: the peer closed before sending a byte.
    EmptyStream,
    /// `line_too_long`: a line exceeded the line limit; the connection closes.
    LineTooLong,
    /// `malformed_request`: a call line broke the grammar.
    MalformedRequest,
    /// `unsupported_protocol_version`: `NETBAT/<other>`.
    UnsupportedProtocolVersion,
    /// `operation_name_too_long`.
    OperationNameTooLong,
    /// `input_too_large`.
    InputTooLarge,
    /// `output_too_large`: checked after dispatch.
    OutputTooLarge,
    /// `malformed_stream_frame`: a NETBAT/2 line broke the grammar.
    MalformedStreamFrame,
    /// `subscription_id_too_long`.
    SubscriptionIdTooLong,
    /// `cursor_too_large`.
    CursorTooLarge,
    /// `stream_payload_too_large`.
    StreamPayloadTooLarge,
    /// `stream_message_too_large`.
    StreamMessageTooLarge,
    /// `unknown_operation`: the runtime knows no such operation.
    UnknownOperation,
    /// `missing_handler`: the operation has no handler.
    MissingHandler,
    /// `handler`: the handler failed.
    Handler,
    /// `receipt_sink`: the receipt sink failed.
    ReceiptSink,
    /// `runtime`: any other runtime failure (denials, store errors, panics).
    Runtime,
    /// `unauthenticated`: missing, unknown or revoked credentials.
    Unauthenticated,
    /// `forbidden`: the credential lacks a capability the call needs.
    Forbidden,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 20] = [
        Self::Io,
        Self::EmptyStream,
        Self::LineTooLong,
        Self::MalformedRequest,
        Self::UnsupportedProtocolVersion,
        Self::OperationNameTooLong,
        Self::InputTooLarge,
        Self::OutputTooLarge,
        Self::MalformedStreamFrame,
        Self::SubscriptionIdTooLong,
        Self::CursorTooLarge,
        Self::StreamPayloadTooLarge,
        Self::StreamMessageTooLarge,
        Self::UnknownOperation,
        Self::MissingHandler,
        Self::Handler,
        Self::ReceiptSink,
        Self::Runtime,
        Self::Unauthenticated,
        Self::Forbidden,
    ];

    /// The token on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Io => "io",
            Self::EmptyStream => "empty_stream",
            Self::LineTooLong => "line_too_long",
            Self::MalformedRequest => "malformed_request",
            Self::UnsupportedProtocolVersion => "unsupported_protocol_version",
            Self::OperationNameTooLong => "operation_name_too_long",
            Self::InputTooLarge => "input_too_large",
            Self::OutputTooLarge => "output_too_large",
            Self::MalformedStreamFrame => "malformed_stream_frame",
            Self::SubscriptionIdTooLong => "subscription_id_too_long",
            Self::CursorTooLarge => "cursor_too_large",
            Self::StreamPayloadTooLarge => "stream_payload_too_large",
            Self::StreamMessageTooLarge => "stream_message_too_large",
            Self::UnknownOperation => "unknown_operation",
            Self::MissingHandler => "missing_handler",
            Self::Handler => "handler",
            Self::ReceiptSink => "receipt_sink",
            Self::Runtime => "runtime",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
        }
    }

    /// The code a token names, if any.
    #[must_use]
    pub fn from_token(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == token)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of a NETBAT/2 frame, named in "missing …" reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamField {
    /// `<sub-id>`.
    SubscriptionId,
    /// `<resume-cursor|->`.
    ResumeCursor,
    /// `<client-window>`.
    ClientWindow,
    /// `<delivery-index>`.
    DeliveryIndex,
    /// `<cursor-before|->`.
    CursorBefore,
    /// `<cursor-after>`.
    CursorAfter,
    /// `<payload-schema-ref>`.
    PayloadSchemaRef,
    /// `<payload-hex>`.
    PayloadHex,
    /// `<reason-code>`.
    ReasonCode,
    /// `<code>` of a `SUB_ERR`.
    ErrorCode,
    /// `<last-delivered|->`.
    LastDelivered,
    /// `<last-acked|->`.
    LastAcked,
    /// `<message-hex>`.
    MessageHex,
}

impl StreamField {
    fn missing_text(self) -> &'static str {
        match self {
            Self::SubscriptionId => "missing subscription id",
            Self::ResumeCursor => "missing resume cursor",
            Self::ClientWindow => "missing client window",
            Self::DeliveryIndex => "missing delivery index",
            Self::CursorBefore => "missing cursor_before",
            Self::CursorAfter => "missing cursor_after",
            Self::PayloadSchemaRef => "missing payload schema ref",
            Self::PayloadHex => "missing payload hex",
            Self::ReasonCode => "missing reason code",
            Self::ErrorCode => "missing error code",
            Self::LastDelivered => "missing last delivered cursor",
            Self::LastAcked => "missing last acked cursor",
            Self::MessageHex => "missing message hex",
        }
    }
}

/// Why a subscription id breaks `^[a-z0-9][a-z0-9._-]*\.v[1-9][0-9]*$`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdProblem {
    /// The id is empty.
    Empty,
    /// The id is longer than the grammar's 128 bytes.
    TooLong,
    /// The id starts or ends with `.`.
    LeadingOrTrailingDot,
    /// The id contains `..`.
    DoubledDot,
    /// The id has no `.v` version suffix.
    MissingVersionSuffix,
    /// Nothing precedes the `.v` suffix.
    EmptyName,
    /// The first byte is not in `[a-z0-9]`.
    BadFirstByte,
    /// The name has a byte outside `[a-z0-9._-]`.
    BadNameByte,
    /// No digits follow `.v`.
    MissingVersionDigits,
    /// The version starts with something other than `1`–`9`.
    BadVersionStart,
    /// The version has a non-digit.
    NonDigitVersion,
}

impl IdProblem {
    fn text(self) -> &'static str {
        match self {
            Self::Empty => "empty subscription id",
            Self::TooLong => "subscription id longer than 128 bytes",
            Self::LeadingOrTrailingDot => "subscription id has a leading or trailing '.'",
            Self::DoubledDot => "subscription id has a doubled '.'",
            Self::MissingVersionSuffix => "subscription id must contain a .v version suffix",
            Self::EmptyName => "subscription id name prefix is empty",
            Self::BadFirstByte => "subscription id must start with [a-z0-9]",
            Self::BadNameByte => "subscription id has characters outside [a-z0-9._-]",
            Self::MissingVersionDigits => "subscription id missing version digits after .v",
            Self::BadVersionStart => "subscription id version must start with 1-9",
            Self::NonDigitVersion => "subscription id version must be digits only",
        }
    }
}

/// Why a reason or error code token breaks `[a-z0-9._-]{1,128}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeProblem {
    /// The code is empty.
    Empty,
    /// The code is longer than 128 bytes.
    TooLong,
    /// The code has a byte outside `[a-z0-9._-]`.
    BadByte,
}

/// Why a payload schema reference breaks `[a-z0-9._-]{1,256}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaRefProblem {
    /// The reference is empty.
    Empty,
    /// The reference is longer than 256 bytes.
    TooLong,
    /// The reference contains whitespace.
    Whitespace,
    /// The reference has a byte outside `[a-z0-9._-]`.
    BadByte,
}

/// Why a line is malformed. The Display text is the wire reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Malformation {
    /// Nothing but a line ending.
    EmptyLine,
    /// The first token lacks the `NETBAT/` prefix (also the legacy bare `CALL`).
    MissingProtocolPrefix,
    /// No verb after the version.
    MissingVerb,
    /// No operation name after the verb.
    MissingOperation,
    /// No input field after the operation name.
    MissingInput,
    /// No token after `AUTH`.
    MissingToken,
    /// More fields than the frame has.
    TooManyFields,
    /// A NETBAT/1 verb other than `CALL` (or `AUTH` where it is accepted).
    UnsupportedVerb,
    /// An empty operation name.
    EmptyOperation,
    /// An operation name byte outside `[A-Za-z0-9._-]`, or not UTF-8.
    OperationInvalidBytes,
    /// An operation name with a leading, trailing or doubled `.`.
    OperationDotSegments,
    /// A hex field of odd length.
    HexOddLength,
    /// A hex field with a byte outside `[0-9a-fA-F]`.
    NotHex,
    /// No verb after `NETBAT/2`.
    MissingStreamVerb,
    /// A NETBAT/2 verb that does not exist.
    UnknownStreamVerb,
    /// A field of a NETBAT/2 frame is missing.
    MissingField(StreamField),
    /// A text token is not UTF-8.
    TokenNotUtf8,
    /// An integer field is not decimal (or out of range).
    NotDecimal,
    /// A delivery index of zero.
    ZeroDeliveryIndex,
    /// A client window of zero.
    ZeroClientWindow,
    /// The subscription id breaks its grammar.
    SubscriptionId(IdProblem),
    /// A reason or error code breaks its grammar.
    ReasonCode(CodeProblem),
    /// A payload schema reference breaks its grammar.
    SchemaRef(SchemaRefProblem),
    /// The first frame of a subscription connection is not `SUBSCRIBE`.
    FirstFrameNotSubscribe,
    /// A response line starts with neither `OK` nor `ERR`.
    UnknownResponseStatus,
    /// An `OK` line without its output field.
    MissingOutput,
}

impl fmt::Display for Malformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EmptyLine => "empty line",
            Self::MissingProtocolPrefix => "missing NETBAT/1 protocol prefix",
            Self::MissingVerb => "missing verb",
            Self::MissingOperation => "missing operation",
            Self::MissingInput => "missing input",
            Self::MissingToken => "missing token",
            Self::TooManyFields => "too many fields",
            Self::UnsupportedVerb => "unsupported verb",
            Self::EmptyOperation => "empty operation",
            Self::OperationInvalidBytes => "operation has invalid bytes",
            Self::OperationDotSegments => "operation dot segments must be non-empty",
            Self::HexOddLength => "hex input has odd length",
            Self::NotHex => "input is not hex",
            Self::MissingStreamVerb => "missing stream verb",
            Self::UnknownStreamVerb => "unknown stream verb",
            Self::MissingField(field) => field.missing_text(),
            Self::TokenNotUtf8 => "token is not utf-8",
            Self::NotDecimal => "integer field is not decimal",
            Self::ZeroDeliveryIndex => "delivery index must be nonzero",
            Self::ZeroClientWindow => "client window must be nonzero",
            Self::SubscriptionId(problem) => problem.text(),
            Self::ReasonCode(CodeProblem::Empty) => "empty reason code",
            Self::ReasonCode(CodeProblem::TooLong) => "reason code longer than 128 bytes",
            Self::ReasonCode(CodeProblem::BadByte) => {
                "reason code has characters outside [a-z0-9._-]"
            }
            Self::SchemaRef(SchemaRefProblem::Empty) => "empty payload schema ref",
            Self::SchemaRef(SchemaRefProblem::TooLong) => {
                "payload schema ref longer than 256 bytes"
            }
            Self::SchemaRef(SchemaRefProblem::Whitespace) => {
                "payload schema ref contains whitespace"
            }
            Self::SchemaRef(SchemaRefProblem::BadByte) => {
                "payload schema ref has characters outside [a-z0-9._-]"
            }
            Self::FirstFrameNotSubscribe => "first stream frame must be SUBSCRIBE",
            Self::UnknownResponseStatus => "unknown response status",
            Self::MissingOutput => "missing output",
        })
    }
}

/// Why a connection was refused as unauthenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthFailure {
    /// A call or subscription arrived before any credential.
    MissingCredentials,
    /// The token or client certificate is not known.
    UnknownCredentials,
    /// The credential was revoked while the connection was open.
    RevokedCredentials,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingCredentials => "no credentials presented",
            Self::UnknownCredentials => "credentials not recognised",
            Self::RevokedCredentials => "credentials revoked",
        })
    }
}

/// An error that a peer receives as `ERR <code> <hex(Display)>`, or that a
/// decoder reports.
///
/// ```
/// use netbat::{ErrorCode, WireError};
/// let error = WireError::LineTooLong { max: 65_536 };
/// assert_eq!(error.code(), ErrorCode::LineTooLong);
/// assert_eq!(error.to_string(), "request line exceeded 65536 bytes");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// An I/O failure.
    #[error("io error: {kind:?}")]
    Io {
        /// The kind of the I/O error.
        kind: io::ErrorKind,
    },
    /// The peer closed before sending a byte.
    #[error("empty stream")]
    EmptyStream,
    /// A line exceeded the line limit (counting its LF).
    #[error("request line exceeded {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A call line broke the grammar.
    #[error("malformed request: {reason}")]
    MalformedRequest {
        /// Why.
        reason: Malformation,
    },
    /// The version token names another protocol version.
    #[error("unsupported protocol version: {version}")]
    UnsupportedProtocolVersion {
        /// The version token as received (lossy UTF-8, or `0x…` hex on streams).
        version: String,
    },
    /// The operation name exceeded its limit.
    #[error("operation name exceeded {max} bytes")]
    OperationNameTooLong {
        /// The limit.
        max: usize,
    },
    /// The decoded input exceeded its limit.
    #[error("input exceeded {max} bytes")]
    InputTooLarge {
        /// The limit.
        max: usize,
    },
    /// The dispatcher's output exceeded its limit.
    #[error("output exceeded {max} bytes")]
    OutputTooLarge {
        /// The limit.
        max: usize,
    },
    /// A NETBAT/2 line broke the grammar.
    #[error("malformed stream frame: {reason}")]
    MalformedStreamFrame {
        /// Why.
        reason: Malformation,
    },
    /// The subscription id exceeded its limit.
    #[error("subscription id exceeded {max} bytes")]
    SubscriptionIdTooLong {
        /// The limit.
        max: usize,
    },
    /// A decoded cursor exceeded its limit.
    #[error("cursor exceeded {max} bytes")]
    CursorTooLarge {
        /// The limit.
        max: usize,
    },
    /// A decoded stream payload exceeded its limit.
    #[error("stream payload exceeded {max} bytes")]
    StreamPayloadTooLarge {
        /// The limit.
        max: usize,
    },
    /// A decoded `SUB_ERR` message exceeded its limit.
    #[error("stream error message exceeded {max} bytes")]
    StreamMessageTooLarge {
        /// The limit.
        max: usize,
    },
    /// The dispatcher refused or failed the call.
    #[error(transparent)]
    Call(CallFailure),
    /// Missing, unknown or revoked credentials.
    #[error("unauthenticated: {reason}")]
    Unauthenticated {
        /// Why.
        reason: AuthFailure,
    },
}

impl WireError {
    /// The stable code token sent in the `ERR` line.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Io { .. } => ErrorCode::Io,
            Self::EmptyStream => ErrorCode::EmptyStream,
            Self::LineTooLong { .. } => ErrorCode::LineTooLong,
            Self::MalformedRequest { .. } => ErrorCode::MalformedRequest,
            Self::UnsupportedProtocolVersion { .. } => ErrorCode::UnsupportedProtocolVersion,
            Self::OperationNameTooLong { .. } => ErrorCode::OperationNameTooLong,
            Self::InputTooLarge { .. } => ErrorCode::InputTooLarge,
            Self::OutputTooLarge { .. } => ErrorCode::OutputTooLarge,
            Self::MalformedStreamFrame { .. } => ErrorCode::MalformedStreamFrame,
            Self::SubscriptionIdTooLong { .. } => ErrorCode::SubscriptionIdTooLong,
            Self::CursorTooLarge { .. } => ErrorCode::CursorTooLarge,
            Self::StreamPayloadTooLarge { .. } => ErrorCode::StreamPayloadTooLarge,
            Self::StreamMessageTooLarge { .. } => ErrorCode::StreamMessageTooLarge,
            Self::Call(failure) => failure.code(),
            Self::Unauthenticated { .. } => ErrorCode::Unauthenticated,
        }
    }

    /// True when the peer sent something the protocol does not allow
    /// (grammar or a bound), as opposed to a refusal or a server-side failure.
    #[must_use]
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            Self::EmptyStream
                | Self::LineTooLong { .. }
                | Self::MalformedRequest { .. }
                | Self::UnsupportedProtocolVersion { .. }
                | Self::OperationNameTooLong { .. }
                | Self::InputTooLarge { .. }
                | Self::MalformedStreamFrame { .. }
                | Self::SubscriptionIdTooLong { .. }
                | Self::CursorTooLarge { .. }
                | Self::StreamPayloadTooLarge { .. }
                | Self::StreamMessageTooLarge { .. }
        )
    }

    pub(crate) fn malformed_request(reason: Malformation) -> Self {
        Self::MalformedRequest { reason }
    }

    pub(crate) fn malformed_stream(reason: Malformation) -> Self {
        Self::MalformedStreamFrame { reason }
    }
}

impl From<io::Error> for WireError {
    fn from(error: io::Error) -> Self {
        Self::Io { kind: error.kind() }
    }
}

impl From<CallFailure> for WireError {
    fn from(failure: CallFailure) -> Self {
        Self::Call(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::CallFailureKind;

    /// Golden table: every stable token, pinned.
    #[test]
    fn every_code_token_is_pinned() {
        let golden: [(ErrorCode, &str); 20] = [
            (ErrorCode::Io, "io"),
            (ErrorCode::EmptyStream, "empty_stream"),
            (ErrorCode::LineTooLong, "line_too_long"),
            (ErrorCode::MalformedRequest, "malformed_request"),
            (
                ErrorCode::UnsupportedProtocolVersion,
                "unsupported_protocol_version",
            ),
            (ErrorCode::OperationNameTooLong, "operation_name_too_long"),
            (ErrorCode::InputTooLarge, "input_too_large"),
            (ErrorCode::OutputTooLarge, "output_too_large"),
            (ErrorCode::MalformedStreamFrame, "malformed_stream_frame"),
            (ErrorCode::SubscriptionIdTooLong, "subscription_id_too_long"),
            (ErrorCode::CursorTooLarge, "cursor_too_large"),
            (ErrorCode::StreamPayloadTooLarge, "stream_payload_too_large"),
            (ErrorCode::StreamMessageTooLarge, "stream_message_too_large"),
            (ErrorCode::UnknownOperation, "unknown_operation"),
            (ErrorCode::MissingHandler, "missing_handler"),
            (ErrorCode::Handler, "handler"),
            (ErrorCode::ReceiptSink, "receipt_sink"),
            (ErrorCode::Runtime, "runtime"),
            (ErrorCode::Unauthenticated, "unauthenticated"),
            (ErrorCode::Forbidden, "forbidden"),
        ];
        assert_eq!(golden.len(), ErrorCode::ALL.len());
        for ((code, token), listed) in golden.iter().zip(ErrorCode::ALL) {
            assert_eq!(*code, listed, "ALL is in declaration order");
            assert_eq!(code.as_str(), *token);
            assert_eq!(code.to_string(), *token);
            assert_eq!(ErrorCode::from_token(token), Some(*code));
        }
        assert_eq!(ErrorCode::from_token("LINE_TOO_LONG"), None);
        assert_eq!(ErrorCode::from_token(""), None);
    }

    /// Each variant maps to its token, and its Display is the published message.
    #[test]
    fn every_variant_has_its_code_and_message() {
        let cases: Vec<(WireError, &str, &str)> = vec![
            (
                WireError::Io {
                    kind: io::ErrorKind::BrokenPipe,
                },
                "io",
                "io error: BrokenPipe",
            ),
            (WireError::EmptyStream, "empty_stream", "empty stream"),
            (
                WireError::LineTooLong { max: 65_536 },
                "line_too_long",
                "request line exceeded 65536 bytes",
            ),
            (
                WireError::MalformedRequest {
                    reason: Malformation::EmptyLine,
                },
                "malformed_request",
                "malformed request: empty line",
            ),
            (
                WireError::UnsupportedProtocolVersion {
                    version: "NETBAT/9".into(),
                },
                "unsupported_protocol_version",
                "unsupported protocol version: NETBAT/9",
            ),
            (
                WireError::OperationNameTooLong { max: 128 },
                "operation_name_too_long",
                "operation name exceeded 128 bytes",
            ),
            (
                WireError::InputTooLarge { max: 1 },
                "input_too_large",
                "input exceeded 1 bytes",
            ),
            (
                WireError::OutputTooLarge { max: 2 },
                "output_too_large",
                "output exceeded 2 bytes",
            ),
            (
                WireError::MalformedStreamFrame {
                    reason: Malformation::UnknownStreamVerb,
                },
                "malformed_stream_frame",
                "malformed stream frame: unknown stream verb",
            ),
            (
                WireError::SubscriptionIdTooLong { max: 3 },
                "subscription_id_too_long",
                "subscription id exceeded 3 bytes",
            ),
            (
                WireError::CursorTooLarge { max: 4 },
                "cursor_too_large",
                "cursor exceeded 4 bytes",
            ),
            (
                WireError::StreamPayloadTooLarge { max: 5 },
                "stream_payload_too_large",
                "stream payload exceeded 5 bytes",
            ),
            (
                WireError::StreamMessageTooLarge { max: 6 },
                "stream_message_too_large",
                "stream error message exceeded 6 bytes",
            ),
            (
                WireError::Unauthenticated {
                    reason: AuthFailure::MissingCredentials,
                },
                "unauthenticated",
                "unauthenticated: no credentials presented",
            ),
        ];
        for (error, code, message) in cases {
            assert_eq!(error.code().as_str(), code, "{error:?}");
            assert_eq!(error.to_string(), message);
        }
        let kinds = [
            (CallFailureKind::UnknownOperation, "unknown_operation"),
            (CallFailureKind::MissingHandler, "missing_handler"),
            (CallFailureKind::Handler, "handler"),
            (CallFailureKind::ReceiptSink, "receipt_sink"),
            (CallFailureKind::Runtime, "runtime"),
            (CallFailureKind::Forbidden, "forbidden"),
        ];
        for (kind, code) in kinds {
            let error = WireError::from(CallFailure::new(kind, "m"));
            assert_eq!(error.code().as_str(), code);
        }
    }

    #[test]
    fn peer_faults_are_grammar_and_bounds_only() {
        assert!(WireError::LineTooLong { max: 1 }.is_peer_fault());
        assert!(WireError::malformed_request(Malformation::EmptyLine).is_peer_fault());
        assert!(WireError::malformed_stream(Malformation::EmptyLine).is_peer_fault());
        assert!(!WireError::OutputTooLarge { max: 1 }.is_peer_fault());
        assert!(!WireError::Unauthenticated {
            reason: AuthFailure::UnknownCredentials
        }
        .is_peer_fault());
        assert!(!WireError::Call(CallFailure::runtime("x")).is_peer_fault());
        assert!(!WireError::Io {
            kind: io::ErrorKind::Other
        }
        .is_peer_fault());
    }

    #[test]
    fn auth_failure_texts() {
        assert_eq!(
            AuthFailure::UnknownCredentials.to_string(),
            "credentials not recognised"
        );
        assert_eq!(
            AuthFailure::RevokedCredentials.to_string(),
            "credentials revoked"
        );
    }
}
