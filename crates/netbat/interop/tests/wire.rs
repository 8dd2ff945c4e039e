//! Byte-for-byte wire comparison with the published netbat 0.10: its
//! `encode_request` / `decode_line` / `encode_response` / `encode_stream_frame`
//! / `decode_stream_line` against ours, over exhaustive token combinations
//! and generated inputs. On every input both accept the same value or both
//! refuse with the same `ERR` line.

use std::num::{NonZeroU32, NonZeroU64};

use netbat010 as up;
use netbat_interop::*;
use proptest::prelude::*;

fn compare_call(line: &[u8], limits: &netbat::Limits) {
    let theirs = up::decode_line(line, &upstream_limits(limits));
    let ours = netbat::decode_request(line, limits);
    match (&theirs, &ours) {
        (Ok(t), Ok(o)) => {
            assert_eq!(t.operation(), o.operation(), "{line:?}");
            assert_eq!(t.input(), o.input(), "{line:?}");
            assert_eq!(
                up::encode_request(t.operation(), t.input()),
                o.encode(),
                "{line:?}"
            );
        }
        (Err(t), Err(o)) => {
            assert_eq!(
                t.code(),
                o.code().as_str(),
                "{:?}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(
                upstream_err_line(t),
                our_err_line(o),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        _ => panic!(
            "{:?}: upstream {theirs:?}, ours {ours:?}",
            String::from_utf8_lossy(line)
        ),
    }
    // The connection decoder differs only by accepting AUTH.
    match netbat::decode_line(line, limits) {
        Ok(netbat::ClientLine::Auth(_)) => assert!(theirs.is_err()),
        Ok(netbat::ClientLine::Call(request)) => assert_eq!(Ok(&request), ours.as_ref()),
        Ok(_) => unreachable!(),
        Err(error) => {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            let mut fields = body.split(|b| *b == b' ');
            let auth_line = fields.next() == Some(b"NETBAT/1") && fields.next() == Some(b"AUTH");
            if !auth_line {
                assert_eq!(Err(&error), ours.as_ref());
            }
        }
    }
}

fn compare_stream(line: &[u8], limits: &netbat::Limits) {
    let theirs = up::decode_stream_line(line, &upstream_limits(limits));
    let ours = netbat::decode_stream_line(line, limits);
    match (&theirs, &ours) {
        (Ok(t), Ok(o)) => {
            assert_eq!(
                up::encode_stream_frame(t),
                netbat::encode_stream_frame(o),
                "{:?}",
                String::from_utf8_lossy(line)
            );
            assert_eq!(up::encode_stream_frame(&to_upstream(o)), o.encode());
        }
        (Err(t), Err(o)) => {
            assert_eq!(
                upstream_err_line(t),
                our_err_line(o),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        _ => panic!(
            "{:?}: upstream {theirs:?}, ours {ours:?}",
            String::from_utf8_lossy(line)
        ),
    }
}

const FIRST: &[&[u8]] = &[b"NETBAT/1", b"NETBAT/2", b"CALL", b"NETBAT/", b""];
const VERBS: &[&[u8]] = &[
    b"CALL",
    b"AUTH",
    b"SUBSCRIBE",
    b"SUB_EVENT",
    b"SUB_WATERMARK",
    b"SUB_ACK",
    b"SUB_CANCEL",
    b"SUB_ERR",
    b"SUB_END",
    b"PING",
];

/// Every version × verb × two fields from the vocabulary, with two endings:
/// about 350,000 lines through both decoders of both crates.
#[test]
fn exhaustive_short_lines_agree() {
    let limits = netbat::Limits::default();
    let mut count = 0_u64;
    for first in FIRST {
        for verb in VERBS {
            for a in TOKENS {
                for b in TOKENS {
                    for ending in [&b"\n"[..], b"\r\n"] {
                        let line = join_line(&[first, verb, a, b], None, ending);
                        compare_call(&line, &limits);
                        compare_stream(&line, &limits);
                        count += 1;
                    }
                }
            }
        }
    }
    assert!(count > 300_000, "{count}");
}

/// Every version × verb × field with each odd ending, short and long lines.
#[test]
fn endings_and_field_counts_agree() {
    let limits = netbat::Limits::default();
    for first in FIRST {
        for verb in VERBS {
            for a in TOKENS {
                for ending in ENDINGS {
                    for tail in [0_usize, 1, 2, 3, 4, 5] {
                        let mut fields: Vec<&[u8]> = vec![first, verb, b"a.v1", a];
                        fields.extend(std::iter::repeat_n(&b"00"[..], tail));
                        for double in [None, Some(1), Some(3)] {
                            let line = join_line(&fields, double, ending);
                            compare_call(&line, &limits);
                            compare_stream(&line, &limits);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn boundaries_agree() {
    let limits = netbat::Limits::default();
    for extra in [0_usize, 1, 2] {
        let input = vec![0x5a; 32_759 + extra];
        let mut line = up::encode_request("xy", &input);
        compare_call(&line, &limits);
        line.pop();
        compare_call(&line, &limits);
    }
    for size in [32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1] {
        let roomy = limits.with_max_line_bytes(1 << 20);
        compare_call(&up::encode_request("a", &vec![1; size]), &roomy);
        let event = format!(
            "NETBAT/2 SUB_EVENT a.v1 1 - - s {}\n",
            netbat::encode_hex(&vec![1; size])
        );
        compare_stream(event.as_bytes(), &roomy);
    }
    for size in [4095_usize, 4096, 4097] {
        let cursor = netbat::encode_hex(&vec![2; size]);
        compare_stream(
            format!("NETBAT/2 SUB_ACK a.v1 1 {cursor}\n").as_bytes(),
            &limits,
        );
        compare_stream(
            format!("NETBAT/2 SUBSCRIBE a.v1 {cursor} 1\n").as_bytes(),
            &limits,
        );
        let message = netbat::encode_hex(&vec![b'm'; size]);
        compare_stream(
            format!("NETBAT/2 SUB_ERR a.v1 x - - {message}\n").as_bytes(),
            &limits,
        );
    }
    for len in [127_usize, 128, 129] {
        let op = "o".repeat(len);
        compare_call(&up::encode_request(&op, b""), &limits);
        let id = format!("{}.v1", "s".repeat(len - 3));
        compare_stream(format!("NETBAT/2 SUB_CANCEL {id} x\n").as_bytes(), &limits);
        let code = "c".repeat(len);
        compare_stream(
            format!("NETBAT/2 SUB_CANCEL a.v1 {code}\n").as_bytes(),
            &limits,
        );
    }
    for len in [255_usize, 256, 257] {
        let schema = "s".repeat(len);
        compare_stream(
            format!("NETBAT/2 SUB_EVENT a.v1 1 - - {schema} 00\n").as_bytes(),
            &limits,
        );
    }
}

#[test]
fn responses_and_requests_encode_identically() {
    for output in [&b""[..], b"\x00", b"hello", &[0xff; 300]] {
        assert_eq!(
            up::encode_response(Ok(output)),
            netbat::encode_response(Ok(output))
        );
    }
    let errors = [
        up::NetbatError::EmptyStream,
        up::NetbatError::LineTooLong { max: 65_536 },
        up::NetbatError::OutputTooLarge { max: 32_768 },
        up::NetbatError::Io {
            kind: std::io::ErrorKind::TimedOut,
        },
    ];
    let ours = [
        netbat::WireError::EmptyStream,
        netbat::WireError::LineTooLong { max: 65_536 },
        netbat::WireError::OutputTooLarge { max: 32_768 },
        netbat::WireError::Io {
            kind: std::io::ErrorKind::TimedOut,
        },
    ];
    for (theirs, ours) in errors.iter().zip(&ours) {
        assert_eq!(upstream_err_line(theirs), our_err_line(ours));
    }
}

/// Runtime failures: our `CallFailure` constructors word the message as
/// syncbat 0.10's `RuntimeError` does, so the `ERR` lines are identical.
#[test]
fn runtime_errors_encode_identically() {
    use syncbat010::RuntimeError;
    let pairs = [
        (
            RuntimeError::unknown_operation("bank.open"),
            netbat::CallFailure::unknown_operation("bank.open"),
        ),
        (
            RuntimeError::missing_handler("bank.open"),
            netbat::CallFailure::missing_handler("bank.open"),
        ),
        (
            RuntimeError::handler("bank.open", "bank.closed", "closed on sundays"),
            netbat::CallFailure::handler("bank.open", "bank.closed", "closed on sundays"),
        ),
    ];
    for (theirs, ours) in pairs {
        let message = theirs.to_string();
        assert_eq!(
            upstream_err_line(&up::NetbatError::Runtime(theirs)),
            our_err_line(&netbat::WireError::Call(ours.clone()))
        );
        assert_eq!(ours.message(), message);
    }
    let denied = RuntimeError::denied("bank.open", "capability.denied", "event.append");
    let ours = netbat::CallFailure::runtime(denied.to_string());
    assert_eq!(
        upstream_err_line(&up::NetbatError::Runtime(denied)),
        our_err_line(&netbat::WireError::Call(ours))
    );
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 0..6),
        1 => "[0-9a-fA-F]{0,9}".prop_map(String::into_bytes),
        1 => "[a-z0-9._-]{0,10}\\.v[0-9]{0,2}".prop_map(String::into_bytes),
    ]
}

fn token_line() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(FIRST),
        proptest::sample::select(VERBS),
        proptest::collection::vec(token(), 0..8),
        proptest::option::of(0_usize..8),
        proptest::sample::select(ENDINGS),
    )
        .prop_map(|(first, verb, rest, double, ending)| {
            let mut fields: Vec<&[u8]> = vec![first, verb];
            fields.extend(rest.iter().map(Vec::as_slice));
            join_line(&fields, double, ending)
        })
}

fn limits() -> impl Strategy<Value = netbat::Limits> {
    (
        prop_oneof![Just(65_536_usize), 0_usize..80],
        prop_oneof![Just(128_usize), 0_usize..200],
        prop_oneof![Just(32_768_usize), 0_usize..8],
        prop_oneof![Just(128_usize), 0_usize..140],
        prop_oneof![Just(4_096_usize), 0_usize..8],
        prop_oneof![Just(32_768_usize), 0_usize..8],
        prop_oneof![Just(4_096_usize), 0_usize..8],
    )
        .prop_map(|(line, op, input, id, cursor, payload, message)| {
            netbat::Limits::default()
                .with_max_line_bytes(line)
                .with_max_operation_name_bytes(op)
                .with_max_input_bytes(input)
                .with_max_subscription_id_bytes(id)
                .with_max_cursor_bytes(cursor)
                .with_max_stream_payload_bytes(payload)
                .with_max_stream_error_message_bytes(message)
        })
}

fn sub_id() -> impl Strategy<Value = netbat::SubscriptionId> {
    "[a-z0-9][a-z0-9_-]{0,10}(\\.[a-z0-9_-]{1,8}){0,3}\\.v[1-9][0-9]{0,3}".prop_map(|text| {
        netbat::SubscriptionId::new(&text, &netbat::Limits::default()).expect("valid id")
    })
}

fn cursor() -> impl Strategy<Value = netbat::Cursor> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(netbat::Cursor::new)
}

fn code() -> impl Strategy<Value = netbat::ReasonCode> {
    "[a-z0-9._-]{1,30}".prop_map(|text| netbat::ReasonCode::new(&text).expect("valid code"))
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..100)
}

fn any_frame() -> impl Strategy<Value = netbat::StreamFrame> {
    use netbat::StreamFrame as F;
    let index = (1..=u64::MAX).prop_map(|v| NonZeroU64::new(v).expect("nonzero"));
    prop_oneof![
        (sub_id(), proptest::option::of(cursor()), 1..=u32::MAX).prop_map(|(id, resume, w)| {
            F::Subscribe(netbat::Subscribe {
                id,
                resume,
                window: NonZeroU32::new(w).expect("nonzero"),
            })
        }),
        (
            sub_id(),
            index.clone(),
            proptest::option::of(cursor()),
            proptest::option::of(cursor()),
            "[a-z0-9._-]{1,40}",
            bytes()
        )
            .prop_map(
                |(id, index, cursor_before, cursor_after, schema, payload)| {
                    F::Event(netbat::SubEvent {
                        id,
                        index,
                        cursor_before,
                        cursor_after,
                        schema: netbat::SchemaRef::new(&schema).expect("valid schema"),
                        payload,
                    })
                }
            ),
        (sub_id(), index.clone(), cursor()).prop_map(|(id, index, cursor_after)| {
            F::Watermark(netbat::SubWatermark {
                id,
                index,
                cursor_after,
            })
        }),
        (sub_id(), index, cursor()).prop_map(|(id, index, cursor_after)| {
            F::Ack(netbat::SubAck {
                id,
                index,
                cursor_after,
            })
        }),
        (sub_id(), code()).prop_map(|(id, reason)| F::Cancel(netbat::SubCancel { id, reason })),
        (
            sub_id(),
            code(),
            proptest::option::of(cursor()),
            proptest::option::of(cursor()),
            bytes()
        )
            .prop_map(|(id, code, last_delivered, last_acked, message)| {
                F::Err(netbat::SubErr {
                    id,
                    code,
                    last_delivered,
                    last_acked,
                    message,
                })
            }),
        (sub_id(), proptest::option::of(cursor()), code()).prop_map(
            |(id, cursor_after, reason)| F::End(netbat::SubEnd {
                id,
                cursor_after,
                reason
            })
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn requests_encode_identically(op in ".{0,40}", input in bytes()) {
        prop_assert_eq!(up::encode_request(&op, &input), netbat::encode_request(&op, &input));
    }

    #[test]
    fn generated_lines_decode_identically(line in token_line(), limits in limits()) {
        compare_call(&line, &limits);
        compare_stream(&line, &limits);
    }

    #[test]
    fn random_bytes_decode_identically(line in proptest::collection::vec(any::<u8>(), 0..120)) {
        let limits = netbat::Limits::default();
        compare_call(&line, &limits);
        compare_stream(&line, &limits);
    }

    #[test]
    fn frames_encode_identically(frame in any_frame()) {
        let ours = netbat::encode_stream_frame(&frame);
        prop_assert_eq!(up::encode_stream_frame(&to_upstream(&frame)), ours.clone());
        compare_stream(&ours, &netbat::Limits::default());
    }

    #[test]
    fn mutated_frames_decode_identically(frame in any_frame(), at in any::<usize>(), byte in proptest::sample::select(&b" -0aAzZ.\r\n\xff+"[..]), limits in limits()) {
        let mut line = netbat::encode_stream_frame(&frame);
        let at = at % line.len();
        line[at] = byte;
        compare_stream(&line, &limits);
        compare_stream(&line[..at], &limits);
    }

    #[test]
    fn mutated_requests_decode_identically(op in "[A-Za-z0-9._-]{0,20}", input in bytes(), at in any::<usize>(), byte in proptest::sample::select(&b" .0aAzZ\r\n\xff/"[..]), limits in limits()) {
        let mut line = netbat::encode_request(&op, &input);
        let at = at % line.len();
        line[at] = byte;
        compare_call(&line, &limits);
        compare_call(&line[..at], &limits);
    }
}

/// Our event-stream envelope encodes exactly as syncbat 0.10's.
#[test]
fn event_stream_envelopes_encode_identically() {
    for (causation, chain, inner) in [
        (None, None, None),
        (
            Some(5_u128),
            Some(([1_u8; 32], [2_u8; 32])),
            Some("orders.placed.v1"),
        ),
    ] {
        let theirs = syncbat010::EventStreamEnvelopeV1 {
            schema_version: 1,
            subscription_id: "orders.open.v1".into(),
            event_id: u128::MAX - 7,
            correlation_id: 99,
            causation_id: causation,
            entity: "order:1".into(),
            scope: "shop".into(),
            event_kind_raw: 0xE003,
            event_category: 0xE,
            payload_version: 2,
            timestamp_us: -5,
            hlc_wall_ms: 1_700_000_000_000,
            global_sequence: 42,
            content_hash: [9; 32],
            prev_hash: chain.map(|c| c.0),
            event_hash: chain.map(|c| c.1),
            inner_event_payload_schema_ref: inner.map(str::to_owned),
            payload: vec![0x81, 0xa1, 0x6e, 0x01],
        };
        let mut ours = netbat::EventStreamEnvelope::new(
            "orders.open.v1",
            u128::MAX - 7,
            42,
            vec![0x81, 0xa1, 0x6e, 0x01],
        );
        ours.correlation_id = 99;
        ours.causation_id = causation;
        ours.entity = "order:1".into();
        ours.scope = "shop".into();
        ours.event_kind_raw = 0xE003;
        ours.event_category = 0xE;
        ours.payload_version = 2;
        ours.timestamp_us = -5;
        ours.hlc_wall_ms = 1_700_000_000_000;
        ours.content_hash = [9; 32];
        ours.prev_hash = chain.map(|c| c.0);
        ours.event_hash = chain.map(|c| c.1);
        ours.inner_event_payload_schema_ref = inner.map(str::to_owned);
        let their_bytes = rmp_serde::to_vec_named(&theirs).expect("encode");
        assert_eq!(ours.encode().expect("encode"), their_bytes);
        assert_eq!(
            netbat::EventStreamEnvelope::decode(&their_bytes).expect("decode"),
            ours
        );
    }
}
