//! NETBAT/2: subscription stream frames, one line each.
//!
//! ```text
//! NETBAT/2 SUBSCRIBE     <sub-id> <resume-cursor|-> <client-window>
//! NETBAT/2 SUB_EVENT     <sub-id> <delivery-index> <cursor-before|-> <cursor-after|-> <payload-schema-ref> <payload-hex>
//! NETBAT/2 SUB_WATERMARK <sub-id> <delivery-index> <cursor-after>
//! NETBAT/2 SUB_ACK       <sub-id> <delivery-index> <cursor-after>
//! NETBAT/2 SUB_CANCEL    <sub-id> <reason-code>
//! NETBAT/2 SUB_ERR       <sub-id> <code> <last-delivered|-> <last-acked|-> <message-hex>
//! NETBAT/2 SUB_END       <sub-id> <cursor-after|-> <reason-code>
//! ```
//!
//! Cursors and payloads are hex; `-` is an absent cursor. Fields are pulled
//! left to right (optional cursors decoded as they are pulled), then checked
//! left to right, then trailing fields refused: the published order, so that
//! a bad frame gets the same error here as from netbat 0.10.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use crate::codec::hex::{decode_hex_bounded, encode_hex_into, HexError};
use crate::codec::line::strip_line_ending;
use crate::error::{
    CodeProblem, IdProblem, Malformation, SchemaRefProblem, StreamField, WireError,
};
use crate::limits::{
    Limits, MAX_REASON_CODE_BYTES, MAX_SCHEMA_REF_BYTES, STREAM_PROTOCOL, SUBSCRIBE_VERB,
    SUBSCRIPTION_ID_GRAMMAR_MAX_BYTES, SUB_ACK_VERB, SUB_CANCEL_VERB, SUB_END_VERB, SUB_ERR_VERB,
    SUB_EVENT_VERB, SUB_WATERMARK_VERB,
};

/// Stable reason and error codes of stream frames.
pub mod stream_code {
    /// `SUB_ERR`: the subscription id is not served here.
    pub const UNKNOWN_SUBSCRIPTION: &str = "unknown_subscription";
    /// `SUB_ERR`: the resume or ack cursor is not valid.
    pub const CURSOR_INVALID: &str = "cursor_invalid";
    /// `SUB_ERR`: the cursor belongs to another subscription.
    pub const CURSOR_MISMATCH: &str = "cursor_mismatch";
    /// `SUB_ERR`: the client's window stayed full past the stall limit.
    pub const SLOW_CONSUMER: &str = "slow_consumer";
    /// `SUB_ERR`: a control frame after `SUBSCRIBE` was malformed.
    pub const MALFORMED_STREAM_FRAME: &str = "malformed_stream_frame";
    /// `SUB_ERR`: the server failed.
    pub const INTERNAL_ERROR: &str = "internal_error";
    /// `SUB_ERR`: missing, unknown or revoked credentials.
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    /// `SUB_ERR`: the credential may not read this subscription.
    pub const FORBIDDEN: &str = "forbidden";
    /// `SUB_END`: the client sent `SUB_CANCEL`.
    pub const CLIENT_CANCELLED: &str = "client_cancelled";
    /// `SUB_END`: the source has nothing more to deliver.
    pub const SOURCE_EXHAUSTED: &str = "source_exhausted";
    /// `SUB_END`: the server is shutting down.
    pub const SERVER_SHUTDOWN: &str = "server_shutdown";
    /// `SUB_CANCEL`: the client is done.
    pub const CLIENT_DONE: &str = "client_done";
}

/// A subscription id: `^[a-z0-9][a-z0-9._-]*\.v[1-9][0-9]*$`, at most 128
/// bytes (and the configured limit), no `..`.
///
/// ```
/// use netbat::{Limits, SubscriptionId};
/// let id = SubscriptionId::new("orders.open.v1", &Limits::default())?;
/// assert_eq!(id.as_str(), "orders.open.v1");
/// assert!(SubscriptionId::new("orders..v1", &Limits::default()).is_err());
/// # Ok::<(), netbat::WireError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    /// Validates `id` against the limit and the grammar.
    ///
    /// # Errors
    /// `subscription_id_too_long` or `malformed_stream_frame`.
    pub fn new(id: &str, limits: &Limits) -> Result<Self, WireError> {
        if id.len() > limits.max_subscription_id_bytes {
            return Err(WireError::SubscriptionIdTooLong {
                max: limits.max_subscription_id_bytes,
            });
        }
        check_subscription_id(id).map_err(|problem| {
            WireError::malformed_stream(Malformation::SubscriptionId(problem))
        })?;
        Ok(Self(id.to_owned()))
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_subscription_id(id: &str) -> Result<(), IdProblem> {
    if id.is_empty() {
        return Err(IdProblem::Empty);
    }
    if id.len() > SUBSCRIPTION_ID_GRAMMAR_MAX_BYTES {
        return Err(IdProblem::TooLong);
    }
    if id.starts_with('.') || id.ends_with('.') {
        return Err(IdProblem::LeadingOrTrailingDot);
    }
    if id.contains("..") {
        return Err(IdProblem::DoubledDot);
    }
    let Some(split) = id.rfind(".v") else {
        return Err(IdProblem::MissingVersionSuffix);
    };
    let (name, version) = (&id[..split], &id[split + 2..]);
    let lower_or_digit = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    match name.bytes().next() {
        None => return Err(IdProblem::EmptyName),
        Some(first) if !lower_or_digit(first) => return Err(IdProblem::BadFirstByte),
        Some(_) => {}
    }
    if !name
        .bytes()
        .all(|byte| lower_or_digit(byte) || matches!(byte, b'.' | b'_' | b'-'))
    {
        return Err(IdProblem::BadNameByte);
    }
    match version.bytes().next() {
        None => return Err(IdProblem::MissingVersionDigits),
        Some(b'1'..=b'9') => {}
        Some(_) => return Err(IdProblem::BadVersionStart),
    }
    if !version.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(IdProblem::NonDigitVersion);
    }
    Ok(())
}

/// Opaque cursor bytes (hex on the wire). Only their producer interprets them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Cursor(Vec<u8>);

impl Cursor {
    /// Wraps cursor bytes.
    #[must_use]
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, owned.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", crate::encode_hex(&self.0))
    }
}

/// A reason or error code token: `[a-z0-9._-]`, 1 to 128 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReasonCode(String);

impl ReasonCode {
    /// Validates a code.
    ///
    /// # Errors
    /// `malformed_stream_frame` when the grammar is broken.
    pub fn new(code: &str) -> Result<Self, WireError> {
        check_code(code)
            .map_err(|problem| WireError::malformed_stream(Malformation::ReasonCode(problem)))?;
        Ok(Self(code.to_owned()))
    }

    /// One of the [`stream_code`] constants (which satisfy the grammar).
    pub(crate) fn known(code: &'static str) -> Self {
        Self(code.to_owned())
    }

    /// The code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn code_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'.' | b'_' | b'-')
}

fn check_code(code: &str) -> Result<(), CodeProblem> {
    if code.is_empty() {
        return Err(CodeProblem::Empty);
    }
    if code.len() > MAX_REASON_CODE_BYTES {
        return Err(CodeProblem::TooLong);
    }
    if !code.bytes().all(code_byte) {
        return Err(CodeProblem::BadByte);
    }
    Ok(())
}

/// A payload schema reference: `[a-z0-9._-]`, 1 to 256 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SchemaRef(String);

impl SchemaRef {
    /// Validates a schema reference.
    ///
    /// # Errors
    /// `malformed_stream_frame` when the grammar is broken.
    pub fn new(reference: &str) -> Result<Self, WireError> {
        check_schema_ref(reference)
            .map_err(|problem| WireError::malformed_stream(Malformation::SchemaRef(problem)))?;
        Ok(Self(reference.to_owned()))
    }

    /// A reference this crate defines (which satisfies the grammar).
    #[cfg(feature = "sessions")]
    pub(crate) fn known(reference: &'static str) -> Self {
        Self(reference.to_owned())
    }

    /// The reference.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_schema_ref(reference: &str) -> Result<(), SchemaRefProblem> {
    if reference.is_empty() {
        return Err(SchemaRefProblem::Empty);
    }
    if reference.len() > MAX_SCHEMA_REF_BYTES {
        return Err(SchemaRefProblem::TooLong);
    }
    if reference.contains(char::is_whitespace) {
        return Err(SchemaRefProblem::Whitespace);
    }
    if !reference.bytes().all(code_byte) {
        return Err(SchemaRefProblem::BadByte);
    }
    Ok(())
}

/// `SUBSCRIBE`: open, or resume after `resume`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    /// Which subscription.
    pub id: SubscriptionId,
    /// Resume after this cursor; `None` starts at the beginning.
    pub resume: Option<Cursor>,
    /// How many deliveries the client accepts before it acks.
    pub window: NonZeroU32,
}

/// `SUB_EVENT`: one delivered event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubEvent {
    /// Which subscription.
    pub id: SubscriptionId,
    /// Delivery index, from 1, counting events and watermarks.
    pub index: NonZeroU64,
    /// The cursor before this delivery.
    pub cursor_before: Option<Cursor>,
    /// The cursor after this delivery (what an ack carries).
    pub cursor_after: Option<Cursor>,
    /// The schema of `payload`.
    pub schema: SchemaRef,
    /// The payload (an event-stream envelope for store events).
    pub payload: Vec<u8>,
}

/// `SUB_WATERMARK`: the source's frontier moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubWatermark {
    /// Which subscription.
    pub id: SubscriptionId,
    /// Delivery index.
    pub index: NonZeroU64,
    /// The cursor after the watermark.
    pub cursor_after: Cursor,
}

/// `SUB_ACK`: the client has everything up to `index` (cumulative).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// Which subscription.
    pub id: SubscriptionId,
    /// The highest delivery index acknowledged.
    pub index: NonZeroU64,
    /// The cursor the server sent at `index`.
    pub cursor_after: Cursor,
}

/// `SUB_CANCEL`: the client ends the subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubCancel {
    /// Which subscription.
    pub id: SubscriptionId,
    /// Why.
    pub reason: ReasonCode,
}

/// `SUB_ERR`: the subscription ended in an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubErr {
    /// Which subscription.
    pub id: SubscriptionId,
    /// The stable code ([`stream_code`]).
    pub code: ReasonCode,
    /// The last cursor delivered.
    pub last_delivered: Option<Cursor>,
    /// The last cursor acknowledged.
    pub last_acked: Option<Cursor>,
    /// A UTF-8 message.
    pub message: Vec<u8>,
}

/// `SUB_END`: the subscription ended normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubEnd {
    /// Which subscription.
    pub id: SubscriptionId,
    /// The final cursor.
    pub cursor_after: Option<Cursor>,
    /// Why ([`stream_code`]).
    pub reason: ReasonCode,
}

/// One NETBAT/2 frame.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamFrame {
    /// `SUBSCRIBE`.
    Subscribe(Subscribe),
    /// `SUB_EVENT`.
    Event(SubEvent),
    /// `SUB_WATERMARK`.
    Watermark(SubWatermark),
    /// `SUB_ACK`.
    Ack(SubAck),
    /// `SUB_CANCEL`.
    Cancel(SubCancel),
    /// `SUB_ERR`.
    Err(SubErr),
    /// `SUB_END`.
    End(SubEnd),
}

impl StreamFrame {
    /// The subscription the frame belongs to.
    #[must_use]
    pub fn id(&self) -> &SubscriptionId {
        match self {
            Self::Subscribe(frame) => &frame.id,
            Self::Event(frame) => &frame.id,
            Self::Watermark(frame) => &frame.id,
            Self::Ack(frame) => &frame.id,
            Self::Cancel(frame) => &frame.id,
            Self::Err(frame) => &frame.id,
            Self::End(frame) => &frame.id,
        }
    }

    /// The encoded line.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        encode_stream_frame(self)
    }
}

/// Encodes a frame as one line with its LF.
///
/// ```
/// use netbat::{encode_stream_frame, Cursor, Limits, StreamFrame, SubAck, SubscriptionId};
/// use std::num::NonZeroU64;
/// let frame = StreamFrame::Ack(SubAck {
///     id: SubscriptionId::new("orders.open.v1", &Limits::default())?,
///     index: NonZeroU64::MIN,
///     cursor_after: Cursor::new(vec![0x0a]),
/// });
/// assert_eq!(encode_stream_frame(&frame), b"NETBAT/2 SUB_ACK orders.open.v1 1 0a\n");
/// # Ok::<(), netbat::WireError>(())
/// ```
#[must_use]
pub fn encode_stream_frame(frame: &StreamFrame) -> Vec<u8> {
    let mut line = Vec::with_capacity(64);
    let field = |line: &mut Vec<u8>, text: &str| {
        line.push(b' ');
        line.extend_from_slice(text.as_bytes());
    };
    line.extend_from_slice(STREAM_PROTOCOL.as_bytes());
    match frame {
        StreamFrame::Subscribe(f) => {
            field(&mut line, SUBSCRIBE_VERB);
            field(&mut line, f.id.as_str());
            push_maybe_cursor(&mut line, f.resume.as_ref());
            field(&mut line, &f.window.to_string());
        }
        StreamFrame::Event(f) => {
            field(&mut line, SUB_EVENT_VERB);
            field(&mut line, f.id.as_str());
            field(&mut line, &f.index.to_string());
            push_maybe_cursor(&mut line, f.cursor_before.as_ref());
            push_maybe_cursor(&mut line, f.cursor_after.as_ref());
            field(&mut line, f.schema.as_str());
            push_hex(&mut line, &f.payload);
        }
        StreamFrame::Watermark(f) => {
            field(&mut line, SUB_WATERMARK_VERB);
            field(&mut line, f.id.as_str());
            field(&mut line, &f.index.to_string());
            push_hex(&mut line, f.cursor_after.as_bytes());
        }
        StreamFrame::Ack(f) => {
            field(&mut line, SUB_ACK_VERB);
            field(&mut line, f.id.as_str());
            field(&mut line, &f.index.to_string());
            push_hex(&mut line, f.cursor_after.as_bytes());
        }
        StreamFrame::Cancel(f) => {
            field(&mut line, SUB_CANCEL_VERB);
            field(&mut line, f.id.as_str());
            field(&mut line, f.reason.as_str());
        }
        StreamFrame::Err(f) => {
            field(&mut line, SUB_ERR_VERB);
            field(&mut line, f.id.as_str());
            field(&mut line, f.code.as_str());
            push_maybe_cursor(&mut line, f.last_delivered.as_ref());
            push_maybe_cursor(&mut line, f.last_acked.as_ref());
            push_hex(&mut line, &f.message);
        }
        StreamFrame::End(f) => {
            field(&mut line, SUB_END_VERB);
            field(&mut line, f.id.as_str());
            push_maybe_cursor(&mut line, f.cursor_after.as_ref());
            field(&mut line, f.reason.as_str());
        }
    }
    line.push(b'\n');
    line
}

fn push_hex(line: &mut Vec<u8>, bytes: &[u8]) {
    line.push(b' ');
    encode_hex_into(bytes, line);
}

fn push_maybe_cursor(line: &mut Vec<u8>, cursor: Option<&Cursor>) {
    match cursor {
        Some(cursor) => push_hex(line, cursor.as_bytes()),
        None => line.extend_from_slice(b" -"),
    }
}

/// Decodes one NETBAT/2 line.
///
/// ```
/// use netbat::{decode_stream_line, Limits, StreamFrame};
/// let frame = decode_stream_line(b"NETBAT/2 SUBSCRIBE orders.open.v1 - 32\r\n", &Limits::default())?;
/// let StreamFrame::Subscribe(subscribe) = frame else { unreachable!() };
/// assert_eq!((subscribe.id.as_str(), subscribe.resume, subscribe.window.get()), ("orders.open.v1", None, 32));
/// # Ok::<(), netbat::WireError>(())
/// ```
///
/// # Errors
/// The [`WireError`] describing the first problem, in the published order.
pub fn decode_stream_line(line: &[u8], limits: &Limits) -> Result<StreamFrame, WireError> {
    if line.len() > limits.max_line_bytes {
        return Err(WireError::LineTooLong {
            max: limits.max_line_bytes,
        });
    }
    let body = strip_line_ending(line);
    if body.is_empty() {
        return Err(WireError::malformed_stream(Malformation::EmptyLine));
    }
    let mut fields = Fields {
        inner: body.split(|byte| *byte == b' '),
        limits,
    };
    let version = fields.inner.next().unwrap_or_default();
    if version != STREAM_PROTOCOL.as_bytes() {
        let version = match std::str::from_utf8(version) {
            Ok(text) => text.to_owned(),
            Err(_) => format!("0x{}", crate::encode_hex(version)),
        };
        return Err(WireError::UnsupportedProtocolVersion { version });
    }
    let verb = fields
        .inner
        .next()
        .ok_or(WireError::malformed_stream(Malformation::MissingStreamVerb))?;
    let frame = match verb {
        b"SUBSCRIBE" => decode_subscribe(&mut fields)?,
        b"SUB_EVENT" => decode_event(&mut fields)?,
        b"SUB_WATERMARK" => {
            let (id, index, cursor) = decode_indexed(&mut fields)?;
            StreamFrame::Watermark(SubWatermark {
                id,
                index,
                cursor_after: cursor,
            })
        }
        b"SUB_ACK" => {
            let (id, index, cursor) = decode_indexed(&mut fields)?;
            StreamFrame::Ack(SubAck {
                id,
                index,
                cursor_after: cursor,
            })
        }
        b"SUB_CANCEL" => {
            let id = fields.token(StreamField::SubscriptionId)?;
            let reason = fields.token(StreamField::ReasonCode)?;
            StreamFrame::Cancel(SubCancel {
                id: fields.subscription_id(id)?,
                reason: reason_code(reason)?,
            })
        }
        b"SUB_ERR" => decode_err(&mut fields)?,
        b"SUB_END" => {
            let id = fields.token(StreamField::SubscriptionId)?;
            let cursor_after = fields.maybe_cursor(StreamField::CursorAfter)?;
            let reason = fields.token(StreamField::ReasonCode)?;
            StreamFrame::End(SubEnd {
                id: fields.subscription_id(id)?,
                cursor_after,
                reason: reason_code(reason)?,
            })
        }
        _ => return Err(WireError::malformed_stream(Malformation::UnknownStreamVerb)),
    };
    if fields.inner.next().is_some() {
        return Err(WireError::malformed_stream(Malformation::TooManyFields));
    }
    Ok(frame)
}

struct Fields<'a, I> {
    inner: I,
    limits: &'a Limits,
}

impl<'a, I: Iterator<Item = &'a [u8]>> Fields<'a, I> {
    fn token(&mut self, field: StreamField) -> Result<&'a [u8], WireError> {
        self.inner
            .next()
            .ok_or(WireError::malformed_stream(Malformation::MissingField(
                field,
            )))
    }

    fn maybe_cursor(&mut self, field: StreamField) -> Result<Option<Cursor>, WireError> {
        let token = self.token(field)?;
        if token == b"-" {
            return Ok(None);
        }
        self.cursor(token).map(Some)
    }

    fn cursor(&self, token: &[u8]) -> Result<Cursor, WireError> {
        let max = self.limits.max_cursor_bytes;
        stream_hex(token, max, WireError::CursorTooLarge { max }).map(Cursor)
    }

    fn subscription_id(&self, token: &[u8]) -> Result<SubscriptionId, WireError> {
        SubscriptionId::new(utf8(token)?, self.limits)
    }
}

fn decode_subscribe<'a>(
    fields: &mut Fields<'a, impl Iterator<Item = &'a [u8]>>,
) -> Result<StreamFrame, WireError> {
    let id = fields.token(StreamField::SubscriptionId)?;
    let resume = fields.maybe_cursor(StreamField::ResumeCursor)?;
    let window = fields.token(StreamField::ClientWindow)?;
    let id = fields.subscription_id(id)?;
    let window = utf8(window)?
        .parse::<u32>()
        .map_err(|_| WireError::malformed_stream(Malformation::NotDecimal))?;
    let window = NonZeroU32::new(window)
        .ok_or(WireError::malformed_stream(Malformation::ZeroClientWindow))?;
    Ok(StreamFrame::Subscribe(Subscribe { id, resume, window }))
}

fn decode_event<'a>(
    fields: &mut Fields<'a, impl Iterator<Item = &'a [u8]>>,
) -> Result<StreamFrame, WireError> {
    let id = fields.token(StreamField::SubscriptionId)?;
    let index = fields.token(StreamField::DeliveryIndex)?;
    let cursor_before = fields.maybe_cursor(StreamField::CursorBefore)?;
    let cursor_after = fields.maybe_cursor(StreamField::CursorAfter)?;
    let schema = fields.token(StreamField::PayloadSchemaRef)?;
    let payload = fields.token(StreamField::PayloadHex)?;
    let id = fields.subscription_id(id)?;
    let index = delivery_index(index)?;
    let schema = SchemaRef::new(utf8(schema)?)?;
    let max = fields.limits.max_stream_payload_bytes;
    let payload = stream_hex(payload, max, WireError::StreamPayloadTooLarge { max })?;
    Ok(StreamFrame::Event(SubEvent {
        id,
        index,
        cursor_before,
        cursor_after,
        schema,
        payload,
    }))
}

fn decode_indexed<'a>(
    fields: &mut Fields<'a, impl Iterator<Item = &'a [u8]>>,
) -> Result<(SubscriptionId, NonZeroU64, Cursor), WireError> {
    let id = fields.token(StreamField::SubscriptionId)?;
    let index = fields.token(StreamField::DeliveryIndex)?;
    let cursor = fields.token(StreamField::CursorAfter)?;
    let id = fields.subscription_id(id)?;
    let index = delivery_index(index)?;
    let cursor = fields.cursor(cursor)?;
    Ok((id, index, cursor))
}

fn decode_err<'a>(
    fields: &mut Fields<'a, impl Iterator<Item = &'a [u8]>>,
) -> Result<StreamFrame, WireError> {
    let id = fields.token(StreamField::SubscriptionId)?;
    let code = fields.token(StreamField::ErrorCode)?;
    let last_delivered = fields.maybe_cursor(StreamField::LastDelivered)?;
    let last_acked = fields.maybe_cursor(StreamField::LastAcked)?;
    let message = fields.token(StreamField::MessageHex)?;
    let id = fields.subscription_id(id)?;
    let code = reason_code(code)?;
    let max = fields.limits.max_stream_error_message_bytes;
    let message = stream_hex(message, max, WireError::StreamMessageTooLarge { max })?;
    Ok(StreamFrame::Err(SubErr {
        id,
        code,
        last_delivered,
        last_acked,
        message,
    }))
}

fn utf8(token: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(token).map_err(|_| WireError::malformed_stream(Malformation::TokenNotUtf8))
}

fn reason_code(token: &[u8]) -> Result<ReasonCode, WireError> {
    ReasonCode::new(utf8(token)?)
}

/// Decimal as `u64::from_str` reads it (a leading `+` is accepted, as upstream).
fn delivery_index(token: &[u8]) -> Result<NonZeroU64, WireError> {
    let value = utf8(token)?
        .parse::<u64>()
        .map_err(|_| WireError::malformed_stream(Malformation::NotDecimal))?;
    NonZeroU64::new(value).ok_or(WireError::malformed_stream(Malformation::ZeroDeliveryIndex))
}

fn stream_hex(token: &[u8], max: usize, too_large: WireError) -> Result<Vec<u8>, WireError> {
    decode_hex_bounded(token, max).map_err(|error| match error {
        HexError::TooLarge => too_large,
        HexError::OddLength => WireError::malformed_stream(Malformation::HexOddLength),
        HexError::NotHex => WireError::malformed_stream(Malformation::NotHex),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "frame_tests.rs"]
mod tests;
