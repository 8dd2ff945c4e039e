//! Byte bounds of the wire protocol and the protocol's fixed tokens.
//!
//! Every bound is checked before the bytes it guards are allocated; every
//! default matches the published netbat 0.10 so that existing peers keep
//! working.

/// Longest line accepted, counting its LF (and a CR before it).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;
/// Longest operation name accepted.
pub const DEFAULT_MAX_OPERATION_NAME_BYTES: usize = 128;
/// Largest decoded call input accepted.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 32 * 1024;
/// Largest call output sent; checked after dispatch.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 32 * 1024;
/// Longest subscription id accepted.
pub const DEFAULT_MAX_SUBSCRIPTION_ID_BYTES: usize = 128;
/// Largest decoded cursor accepted.
pub const DEFAULT_MAX_CURSOR_BYTES: usize = 4 * 1024;
/// Largest decoded stream payload accepted.
pub const DEFAULT_MAX_STREAM_PAYLOAD_BYTES: usize = 32 * 1024;
/// Largest decoded `SUB_ERR` message accepted.
pub const DEFAULT_MAX_STREAM_ERROR_MESSAGE_BYTES: usize = 4 * 1024;
/// Largest decoded bearer token accepted in an `AUTH` line.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 1024;

/// Hard ceiling of the operation-name grammar, whatever the limits say.
pub const OPERATION_NAME_GRAMMAR_MAX_BYTES: usize = 128;
/// Hard ceiling of the subscription-id grammar, whatever the limits say.
pub const SUBSCRIPTION_ID_GRAMMAR_MAX_BYTES: usize = 128;
/// Longest payload schema reference accepted in a `SUB_EVENT`.
pub const MAX_SCHEMA_REF_BYTES: usize = 256;
/// Longest reason or error code accepted in a stream frame.
pub const MAX_REASON_CODE_BYTES: usize = 128;

/// Prefix shared by every protocol version token.
pub const PROTOCOL_PREFIX: &str = "NETBAT/";
/// Version token of the call protocol.
pub const CALL_PROTOCOL: &str = "NETBAT/1";
/// Version token of the subscription stream protocol.
pub const STREAM_PROTOCOL: &str = "NETBAT/2";
/// Verb of a call request.
pub const CALL_VERB: &str = "CALL";
/// Verb of a bearer-token authentication line (an extension of NETBAT/1).
pub const AUTH_VERB: &str = "AUTH";
/// Verb that opens or resumes a subscription.
pub const SUBSCRIBE_VERB: &str = "SUBSCRIBE";
/// Verb of one delivered event.
pub const SUB_EVENT_VERB: &str = "SUB_EVENT";
/// Verb of a delivered watermark.
pub const SUB_WATERMARK_VERB: &str = "SUB_WATERMARK";
/// Verb of a cumulative acknowledgement.
pub const SUB_ACK_VERB: &str = "SUB_ACK";
/// Verb of a client cancellation.
pub const SUB_CANCEL_VERB: &str = "SUB_CANCEL";
/// Verb of a terminal stream error.
pub const SUB_ERR_VERB: &str = "SUB_ERR";
/// Verb of a terminal stream end.
pub const SUB_END_VERB: &str = "SUB_END";

/// Byte bounds applied by the codecs and sessions.
///
/// ```
/// use netbat::Limits;
/// let limits = Limits::default().with_max_input_bytes(1024);
/// assert_eq!(limits.max_line_bytes, 65_536);
/// assert_eq!(limits.max_input_bytes, 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Longest line, counting the LF.
    pub max_line_bytes: usize,
    /// Longest operation name.
    pub max_operation_name_bytes: usize,
    /// Largest decoded call input.
    pub max_input_bytes: usize,
    /// Largest call output (checked after dispatch).
    pub max_output_bytes: usize,
    /// Longest subscription id.
    pub max_subscription_id_bytes: usize,
    /// Largest decoded cursor.
    pub max_cursor_bytes: usize,
    /// Largest decoded stream payload.
    pub max_stream_payload_bytes: usize,
    /// Largest decoded `SUB_ERR` message.
    pub max_stream_error_message_bytes: usize,
    /// Largest decoded bearer token.
    pub max_token_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_operation_name_bytes: DEFAULT_MAX_OPERATION_NAME_BYTES,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_subscription_id_bytes: DEFAULT_MAX_SUBSCRIPTION_ID_BYTES,
            max_cursor_bytes: DEFAULT_MAX_CURSOR_BYTES,
            max_stream_payload_bytes: DEFAULT_MAX_STREAM_PAYLOAD_BYTES,
            max_stream_error_message_bytes: DEFAULT_MAX_STREAM_ERROR_MESSAGE_BYTES,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_line_bytes`].
    #[must_use]
    pub const fn with_max_line_bytes(mut self, value: usize) -> Self {
        self.max_line_bytes = value;
        self
    }

    /// Sets [`Limits::max_operation_name_bytes`].
    #[must_use]
    pub const fn with_max_operation_name_bytes(mut self, value: usize) -> Self {
        self.max_operation_name_bytes = value;
        self
    }

    /// Sets [`Limits::max_input_bytes`].
    #[must_use]
    pub const fn with_max_input_bytes(mut self, value: usize) -> Self {
        self.max_input_bytes = value;
        self
    }

    /// Sets [`Limits::max_output_bytes`].
    #[must_use]
    pub const fn with_max_output_bytes(mut self, value: usize) -> Self {
        self.max_output_bytes = value;
        self
    }

    /// Sets [`Limits::max_subscription_id_bytes`].
    #[must_use]
    pub const fn with_max_subscription_id_bytes(mut self, value: usize) -> Self {
        self.max_subscription_id_bytes = value;
        self
    }

    /// Sets [`Limits::max_cursor_bytes`].
    #[must_use]
    pub const fn with_max_cursor_bytes(mut self, value: usize) -> Self {
        self.max_cursor_bytes = value;
        self
    }

    /// Sets [`Limits::max_stream_payload_bytes`].
    #[must_use]
    pub const fn with_max_stream_payload_bytes(mut self, value: usize) -> Self {
        self.max_stream_payload_bytes = value;
        self
    }

    /// Sets [`Limits::max_stream_error_message_bytes`].
    #[must_use]
    pub const fn with_max_stream_error_message_bytes(mut self, value: usize) -> Self {
        self.max_stream_error_message_bytes = value;
        self
    }

    /// Sets [`Limits::max_token_bytes`].
    #[must_use]
    pub const fn with_max_token_bytes(mut self, value: usize) -> Self {
        self.max_token_bytes = value;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_published_bounds() {
        let limits = Limits::default();
        assert_eq!(limits.max_line_bytes, 65_536);
        assert_eq!(limits.max_operation_name_bytes, 128);
        assert_eq!(limits.max_input_bytes, 32_768);
        assert_eq!(limits.max_output_bytes, 32_768);
        assert_eq!(limits.max_subscription_id_bytes, 128);
        assert_eq!(limits.max_cursor_bytes, 4_096);
        assert_eq!(limits.max_stream_payload_bytes, 32_768);
        assert_eq!(limits.max_stream_error_message_bytes, 4_096);
        assert_eq!(limits.max_token_bytes, 1_024);
    }

    #[test]
    fn every_setter_sets_its_field_only() {
        let base = Limits::default();
        type Field = fn(&Limits) -> usize;
        let cases: [(Limits, Field); 9] = [
            (base.with_max_line_bytes(1), |l| l.max_line_bytes),
            (base.with_max_operation_name_bytes(1), |l| {
                l.max_operation_name_bytes
            }),
            (base.with_max_input_bytes(1), |l| l.max_input_bytes),
            (base.with_max_output_bytes(1), |l| l.max_output_bytes),
            (base.with_max_subscription_id_bytes(1), |l| {
                l.max_subscription_id_bytes
            }),
            (base.with_max_cursor_bytes(1), |l| l.max_cursor_bytes),
            (base.with_max_stream_payload_bytes(1), |l| {
                l.max_stream_payload_bytes
            }),
            (base.with_max_stream_error_message_bytes(1), |l| {
                l.max_stream_error_message_bytes
            }),
            (base.with_max_token_bytes(1), |l| l.max_token_bytes),
        ];
        for (changed, field) in cases {
            assert_eq!(field(&changed), 1);
            assert_ne!(changed, base);
        }
    }
}
