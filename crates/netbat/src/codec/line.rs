//! NETBAT/1: request and response lines.
//!
//! ```text
//! request  = "NETBAT/1" SP "CALL" SP op-name SP hex-input LF
//! auth     = "NETBAT/1" SP "AUTH" SP hex-token LF          (an extension)
//! success  = "OK" SP hex-output LF
//! error    = "ERR" SP code SP hex(utf-8 message) LF
//! ```
//!
//! A line ends in LF, CR LF or (at end of stream) nothing; a lone trailing CR
//! is also stripped. The checks run in the published order, so the same bad
//! line gets the same `ERR` line from us as from netbat 0.10.

use std::fmt;

use crate::codec::hex::{decode_hex_bounded, encode_hex_into, HexError};
use crate::error::{ErrorCode, Malformation, StreamField, WireError};
use crate::limits::{
    Limits, AUTH_VERB, CALL_PROTOCOL, CALL_VERB, OPERATION_NAME_GRAMMAR_MAX_BYTES, PROTOCOL_PREFIX,
};

/// A decoded `NETBAT/1 CALL` request.
///
/// ```
/// use netbat::{decode_request, encode_request, Limits};
/// let line = encode_request("system.heartbeat", &[0xde, 0xad]);
/// assert_eq!(line, b"NETBAT/1 CALL system.heartbeat dead\n");
/// let request = decode_request(&line, &Limits::default())?;
/// assert_eq!(request.operation(), "system.heartbeat");
/// assert_eq!(request.input(), &[0xde, 0xad]);
/// # Ok::<(), netbat::WireError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallRequest {
    operation: String,
    input: Vec<u8>,
}

impl CallRequest {
    /// A request for `operation` with `input` (not validated: the decoder is
    /// the validation boundary).
    #[must_use]
    pub fn new(operation: impl Into<String>, input: impl Into<Vec<u8>>) -> Self {
        Self {
            operation: operation.into(),
            input: input.into(),
        }
    }

    /// The operation name.
    #[must_use]
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// The decoded input.
    #[must_use]
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// The operation name and input.
    #[must_use]
    pub fn into_parts(self) -> (String, Vec<u8>) {
        (self.operation, self.input)
    }

    /// The encoded line.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        encode_request(&self.operation, &self.input)
    }
}

/// A bearer token as carried by an `AUTH` line. Its Debug output hides it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BearerToken(Vec<u8>);

impl BearerToken {
    /// Wraps token bytes.
    #[must_use]
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The token bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerToken({} bytes)", self.0.len())
    }
}

/// A line a client may send on a NETBAT/1 connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientLine {
    /// `NETBAT/1 CALL <op> <hex-input>`.
    Call(CallRequest),
    /// `NETBAT/1 AUTH <hex-token>`.
    Auth(BearerToken),
}

/// Encodes `NETBAT/1 CALL <operation> <hex(input)>` with its LF.
///
/// The operation is not validated, so that an invalid name reaches the
/// server and is refused there with the same error as a hand-written line.
#[must_use]
pub fn encode_request(operation: &str, input: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(
        CALL_PROTOCOL.len() + CALL_VERB.len() + operation.len() + input.len() * 2 + 4,
    );
    line.extend_from_slice(CALL_PROTOCOL.as_bytes());
    line.push(b' ');
    line.extend_from_slice(CALL_VERB.as_bytes());
    line.push(b' ');
    line.extend_from_slice(operation.as_bytes());
    line.push(b' ');
    encode_hex_into(input, &mut line);
    line.push(b'\n');
    line
}

/// Encodes `NETBAT/1 AUTH <hex(token)>` with its LF.
#[must_use]
pub fn encode_auth(token: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(CALL_PROTOCOL.len() + AUTH_VERB.len() + token.len() * 2 + 3);
    line.extend_from_slice(CALL_PROTOCOL.as_bytes());
    line.push(b' ');
    line.extend_from_slice(AUTH_VERB.as_bytes());
    line.push(b' ');
    encode_hex_into(token, &mut line);
    line.push(b'\n');
    line
}

/// Decodes a `NETBAT/1 CALL` line exactly as the published netbat 0.10 does
/// (an `AUTH` line is an unsupported verb here).
///
/// # Errors
/// The [`WireError`] the server answers with.
pub fn decode_request(line: &[u8], limits: &Limits) -> Result<CallRequest, WireError> {
    match decode(line, limits, false)? {
        ClientLine::Call(request) => Ok(request),
        ClientLine::Auth(_) => Err(WireError::malformed_request(Malformation::UnsupportedVerb)),
    }
}

/// Decodes a line of a NETBAT/1 connection: a `CALL`, or an `AUTH`.
///
/// For every line whose verb is not `AUTH` this is [`decode_request`].
///
/// ```
/// use netbat::{decode_line, encode_auth, ClientLine, Limits};
/// let line = decode_line(&encode_auth(b"s3cret"), &Limits::default())?;
/// assert!(matches!(line, ClientLine::Auth(token) if token.as_bytes() == b"s3cret"));
/// # Ok::<(), netbat::WireError>(())
/// ```
///
/// # Errors
/// The [`WireError`] the server answers with.
pub fn decode_line(line: &[u8], limits: &Limits) -> Result<ClientLine, WireError> {
    decode(line, limits, true)
}

fn decode(line: &[u8], limits: &Limits, allow_auth: bool) -> Result<ClientLine, WireError> {
    use Malformation as M;
    if line.len() > limits.max_line_bytes {
        return Err(WireError::LineTooLong {
            max: limits.max_line_bytes,
        });
    }
    let body = strip_line_ending(line);
    if body.is_empty() {
        return Err(WireError::malformed_request(M::EmptyLine));
    }
    let mut fields = body.split(|byte| *byte == b' ');
    let version = fields.next().unwrap_or_default();
    if !version.starts_with(PROTOCOL_PREFIX.as_bytes()) {
        return Err(WireError::malformed_request(M::MissingProtocolPrefix));
    }
    if version != CALL_PROTOCOL.as_bytes() {
        return Err(WireError::UnsupportedProtocolVersion {
            version: String::from_utf8_lossy(version).into_owned(),
        });
    }
    let verb = fields
        .next()
        .ok_or(WireError::malformed_request(M::MissingVerb))?;
    if allow_auth && verb == AUTH_VERB.as_bytes() {
        let token = fields
            .next()
            .ok_or(WireError::malformed_request(M::MissingToken))?;
        if fields.next().is_some() {
            return Err(WireError::malformed_request(M::TooManyFields));
        }
        let token = decode_hex_bounded(token, limits.max_token_bytes)
            .map_err(|error| request_hex_error(error, limits.max_token_bytes))?;
        return Ok(ClientLine::Auth(BearerToken(token)));
    }
    let operation = fields
        .next()
        .ok_or(WireError::malformed_request(M::MissingOperation))?;
    let input = fields
        .next()
        .ok_or(WireError::malformed_request(M::MissingInput))?;
    if fields.next().is_some() {
        return Err(WireError::malformed_request(M::TooManyFields));
    }
    if verb != CALL_VERB.as_bytes() {
        return Err(WireError::malformed_request(M::UnsupportedVerb));
    }
    let operation = validate_operation(operation, limits)?;
    let input = decode_hex_bounded(input, limits.max_input_bytes)
        .map_err(|error| request_hex_error(error, limits.max_input_bytes))?;
    Ok(ClientLine::Call(CallRequest::new(operation, input)))
}

fn request_hex_error(error: HexError, max: usize) -> WireError {
    match error.malformation() {
        Some(reason) => WireError::malformed_request(reason),
        None => WireError::InputTooLarge { max },
    }
}

/// Strips LF, CR LF, or a lone trailing CR.
pub(crate) fn strip_line_ending(line: &[u8]) -> &[u8] {
    match line.strip_suffix(b"\n") {
        Some(rest) => rest.strip_suffix(b"\r").unwrap_or(rest),
        None => line.strip_suffix(b"\r").unwrap_or(line),
    }
}

/// The operation-name grammar: 1 to 128 bytes of `[A-Za-z0-9._-]`, no
/// leading, trailing or doubled `.`; the configured limit is checked first.
fn validate_operation<'a>(operation: &'a [u8], limits: &Limits) -> Result<&'a str, WireError> {
    use Malformation as M;
    if operation.len() > limits.max_operation_name_bytes {
        return Err(WireError::OperationNameTooLong {
            max: limits.max_operation_name_bytes,
        });
    }
    let text = std::str::from_utf8(operation)
        .map_err(|_| WireError::malformed_request(M::OperationInvalidBytes))?;
    if text.is_empty() {
        return Err(WireError::malformed_request(M::EmptyOperation));
    }
    if text.len() > OPERATION_NAME_GRAMMAR_MAX_BYTES {
        return Err(WireError::OperationNameTooLong {
            max: OPERATION_NAME_GRAMMAR_MAX_BYTES,
        });
    }
    if !text
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
    {
        return Err(WireError::malformed_request(M::OperationInvalidBytes));
    }
    if text.starts_with('.') || text.ends_with('.') || text.contains("..") {
        return Err(WireError::malformed_request(M::OperationDotSegments));
    }
    Ok(text)
}

/// Encodes `OK <hex(output)>` or `ERR <code> <hex(message)>` with its LF.
///
/// ```
/// use netbat::{encode_response, WireError};
/// assert_eq!(encode_response(Ok(b"hi")), b"OK 6869\n");
/// let line = encode_response(Err(&WireError::EmptyStream));
/// assert_eq!(line, b"ERR empty_stream 656d7074792073747265616d\n");
/// ```
#[must_use]
pub fn encode_response(result: Result<&[u8], &WireError>) -> Vec<u8> {
    match result {
        Ok(output) => encode_ok(output),
        Err(error) => encode_err(error.code(), &error.to_string()),
    }
}

/// Encodes `OK <hex(output)>` with its LF.
#[must_use]
pub fn encode_ok(output: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(output.len() * 2 + 4);
    line.extend_from_slice(b"OK ");
    encode_hex_into(output, &mut line);
    line.push(b'\n');
    line
}

/// Encodes `ERR <code> <hex(message)>` with its LF.
#[must_use]
pub fn encode_err(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(code.as_str().len() + message.len() * 2 + 6);
    line.extend_from_slice(b"ERR ");
    line.extend_from_slice(code.as_str().as_bytes());
    line.push(b' ');
    encode_hex_into(message.as_bytes(), &mut line);
    line.push(b'\n');
    line
}

/// A decoded response line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// `OK <hex-output>`.
    Ok(Vec<u8>),
    /// `ERR <code> <hex-message>`.
    Err(ErrorReply),
}

/// The parts of an `ERR` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    /// The code token as received.
    pub code: String,
    /// The message (lossy UTF-8).
    pub message: String,
}

impl ErrorReply {
    /// The code, if it is one this crate knows.
    #[must_use]
    pub fn known_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_token(&self.code)
    }
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Why a response line could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The line exceeded the line limit.
    #[error("response line exceeded {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// The decoded output exceeded the output limit.
    #[error("response output exceeded {max} bytes")]
    OutputTooLarge {
        /// The limit.
        max: usize,
    },
    /// The line broke the response grammar.
    #[error("malformed response: {reason}")]
    Malformed {
        /// Why.
        reason: Malformation,
    },
}

/// Decodes a response line (what a client reads).
///
/// ```
/// use netbat::{decode_response, Limits, Response};
/// let limits = Limits::default();
/// assert_eq!(decode_response(b"OK 6869\n", &limits)?, Response::Ok(b"hi".to_vec()));
/// let Response::Err(reply) = decode_response(b"ERR runtime 6e6f\r\n", &limits)? else {
///     unreachable!()
/// };
/// assert_eq!((reply.code.as_str(), reply.message.as_str()), ("runtime", "no"));
/// # Ok::<(), netbat::ResponseError>(())
/// ```
///
/// # Errors
/// A [`ResponseError`] when the line is not a response.
pub fn decode_response(line: &[u8], limits: &Limits) -> Result<Response, ResponseError> {
    use Malformation as M;
    let malformed = |reason| ResponseError::Malformed { reason };
    if line.len() > limits.max_line_bytes {
        return Err(ResponseError::LineTooLong {
            max: limits.max_line_bytes,
        });
    }
    let body = strip_line_ending(line);
    if body.is_empty() {
        return Err(malformed(M::EmptyLine));
    }
    let mut fields = body.split(|byte| *byte == b' ');
    let status = fields.next().unwrap_or_default();
    let response = match status {
        b"OK" => {
            let output = fields.next().ok_or(malformed(M::MissingOutput))?;
            let output =
                decode_hex_bounded(output, limits.max_output_bytes).map_err(|error| match error
                    .malformation()
                {
                    Some(reason) => malformed(reason),
                    None => ResponseError::OutputTooLarge {
                        max: limits.max_output_bytes,
                    },
                })?;
            Response::Ok(output)
        }
        b"ERR" => {
            let code = fields
                .next()
                .ok_or(malformed(M::MissingField(StreamField::ErrorCode)))?;
            let message = fields
                .next()
                .ok_or(malformed(M::MissingField(StreamField::MessageHex)))?;
            let code = std::str::from_utf8(code).map_err(|_| malformed(M::TokenNotUtf8))?;
            let message = decode_hex_bounded(message, usize::MAX)
                .map_err(|error| malformed(error.malformation().unwrap_or(M::NotHex)))?;
            Response::Err(ErrorReply {
                code: code.to_owned(),
                message: String::from_utf8_lossy(&message).into_owned(),
            })
        }
        _ => return Err(malformed(M::UnknownResponseStatus)),
    };
    if fields.next().is_some() {
        return Err(malformed(M::TooManyFields));
    }
    Ok(response)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "line_tests.rs"]
mod tests;
