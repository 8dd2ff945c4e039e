//! Helpers for comparing netbat with the published netbat 0.10: frame
//! conversions and generators of lines that reach every decoder branch.
//!
//! This crate is outside the workspace because batpak 0.10 (a dependency
//! of the published netbat) pins `tempfile` 3.24 while the workspace uses
//! 3.27. Run it with
//! `cargo test --manifest-path crates/netbat/interop/Cargo.toml`.

use netbat010 as up;

/// The published limits equal to ours.
pub fn upstream_limits(limits: &netbat::Limits) -> up::Limits {
    up::Limits::default()
        .with_max_line_bytes(limits.max_line_bytes)
        .with_max_operation_name_bytes(limits.max_operation_name_bytes)
        .with_max_input_bytes(limits.max_input_bytes)
        .with_max_output_bytes(limits.max_output_bytes)
        .with_max_subscription_id_bytes(limits.max_subscription_id_bytes)
        .with_max_cursor_bytes(limits.max_cursor_bytes)
        .with_max_stream_payload_bytes(limits.max_stream_payload_bytes)
        .with_max_stream_error_message_bytes(limits.max_stream_error_message_bytes)
}

fn cursor(value: &Option<netbat::Cursor>) -> up::MaybeCursor {
    match value {
        Some(cursor) => up::MaybeCursor::Present(up::CursorBytes::new(cursor.as_bytes())),
        None => up::MaybeCursor::Absent,
    }
}

/// Our frame as a published frame (built through the published validating
/// constructors, so it also checks that both accept the same values).
pub fn to_upstream(frame: &netbat::StreamFrame) -> up::StreamFrame {
    let limits = up::Limits::default().with_max_subscription_id_bytes(usize::MAX);
    let id = |id: &netbat::SubscriptionId| {
        up::SubscriptionToken::new(id.as_str(), &limits).expect("upstream accepts our id")
    };
    let code = |code: &netbat::ReasonCode| {
        up::StreamReasonCode::new(code.as_str()).expect("upstream accepts our code")
    };
    let index = |index: std::num::NonZeroU64| up::DeliveryIndex::new(index.get()).expect("nonzero");
    match frame {
        netbat::StreamFrame::Subscribe(f) => up::StreamFrame::Subscribe(up::SubscribeFrame {
            subscription_id: id(&f.id),
            resume_cursor: cursor(&f.resume),
            client_window: up::ClientWindow::new(f.window.get()).expect("nonzero"),
        }),
        netbat::StreamFrame::Event(f) => up::StreamFrame::SubEvent(up::SubEventFrame {
            subscription_id: id(&f.id),
            delivery_index: index(f.index),
            cursor_before: cursor(&f.cursor_before),
            cursor_after: cursor(&f.cursor_after),
            payload_schema_ref: up::PayloadSchemaRef::new(f.schema.as_str())
                .expect("upstream accepts our schema ref"),
            payload: f.payload.clone(),
        }),
        netbat::StreamFrame::Watermark(f) => up::StreamFrame::SubWatermark(up::SubWatermarkFrame {
            subscription_id: id(&f.id),
            delivery_index: index(f.index),
            cursor_after: up::CursorBytes::new(f.cursor_after.as_bytes()),
        }),
        netbat::StreamFrame::Ack(f) => up::StreamFrame::SubAck(up::SubAckFrame {
            subscription_id: id(&f.id),
            delivery_index: index(f.index),
            cursor_after: up::CursorBytes::new(f.cursor_after.as_bytes()),
        }),
        netbat::StreamFrame::Cancel(f) => up::StreamFrame::SubCancel(up::SubCancelFrame {
            subscription_id: id(&f.id),
            reason_code: code(&f.reason),
        }),
        netbat::StreamFrame::Err(f) => up::StreamFrame::SubErr(up::SubErrFrame {
            subscription_id: id(&f.id),
            code: code(&f.code),
            last_delivered_cursor: cursor(&f.last_delivered),
            last_acked_cursor: cursor(&f.last_acked),
            message: f.message.clone(),
        }),
        netbat::StreamFrame::End(f) => up::StreamFrame::SubEnd(up::SubEndFrame {
            subscription_id: id(&f.id),
            cursor_after: cursor(&f.cursor_after),
            reason_code: code(&f.reason),
        }),
        _ => unreachable!("every frame kind is listed"),
    }
}

/// The `ERR` line the published encoder writes for an error.
pub fn upstream_err_line(error: &up::NetbatError) -> Vec<u8> {
    up::encode_response(Err(error))
}

/// The `ERR` line we write for an error.
pub fn our_err_line(error: &netbat::WireError) -> Vec<u8> {
    netbat::encode_response(Err(error))
}

/// Fields that reach the decoders' branches, good and bad.
pub const TOKENS: &[&[u8]] = &[
    b"NETBAT/1",
    b"NETBAT/2",
    b"NETBAT/",
    b"NETBAT/10",
    b"netbat/1",
    b"CALL",
    b"AUTH",
    b"PING",
    b"call",
    b"SUBSCRIBE",
    b"SUB_EVENT",
    b"SUB_WATERMARK",
    b"SUB_ACK",
    b"SUB_CANCEL",
    b"SUB_ERR",
    b"SUB_END",
    b"system.heartbeat",
    b"a",
    b".a",
    b"a.",
    b"a..b",
    b"a/b",
    b"A-b_C.9",
    b"orders.open.v1",
    b"a.v1",
    b"a.v0",
    b"a.v",
    b"a.v1x",
    b"A.v1",
    b"_a.v1",
    b"aB.v1",
    b"orders",
    b"batpak.event-stream-envelope.v1",
    b"slow_consumer",
    b"client_cancelled",
    b"Bad",
    b"-",
    b"",
    b"0",
    b"1",
    b"7",
    b"+5",
    b"-1",
    b"4294967295",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"00",
    b"dead",
    b"DEAD",
    b"dEaD",
    b"abc",
    b"zz",
    b"0g",
    b"\xff\xfe",
    b"caf\xc3\xa9",
    b"a\tb",
    b"a\xc2\xa0b",
    b"\r",
];

/// Line endings, including the odd ones.
pub const ENDINGS: &[&[u8]] = &[b"\n", b"\r\n", b"\r", b"", b"\r\r\n", b"\n\r"];

/// Joins fields with single spaces (or a double space where `double` says)
/// and appends an ending.
pub fn join_line(fields: &[&[u8]], double_at: Option<usize>, ending: &[u8]) -> Vec<u8> {
    let mut line = Vec::new();
    for (at, field) in fields.iter().enumerate() {
        if at > 0 {
            line.push(b' ');
            if double_at == Some(at) {
                line.push(b' ');
            }
        }
        line.extend_from_slice(field);
    }
    line.extend_from_slice(ending);
    line
}
