use super::*;
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

fn id(text: &str) -> SubscriptionId {
    SubscriptionId::new(text, &limits()).unwrap()
}

fn decode(line: &[u8]) -> Result<StreamFrame, WireError> {
    decode_stream_line(line, &limits())
}

fn malformed(line: &[u8]) -> Malformation {
    match decode(line) {
        Err(WireError::MalformedStreamFrame { reason }) => reason,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(line)),
    }
}

fn n64(value: u64) -> NonZeroU64 {
    NonZeroU64::new(value).unwrap()
}

fn golden_frames() -> Vec<(StreamFrame, &'static [u8])> {
    vec![
        (
            StreamFrame::Subscribe(Subscribe {
                id: id("orders.open.v1"),
                resume: None,
                window: NonZeroU32::new(64).unwrap(),
            }),
            b"NETBAT/2 SUBSCRIBE orders.open.v1 - 64\n",
        ),
        (
            StreamFrame::Subscribe(Subscribe {
                id: id("orders.open.v1"),
                resume: Some(Cursor::new(vec![0xab, 0x01])),
                window: NonZeroU32::MIN,
            }),
            b"NETBAT/2 SUBSCRIBE orders.open.v1 ab01 1\n",
        ),
        (
            StreamFrame::Event(SubEvent {
                id: id("orders.open.v1"),
                index: n64(7),
                cursor_before: Some(Cursor::new(vec![0x01])),
                cursor_after: Some(Cursor::new(vec![0x02])),
                schema: SchemaRef::new("batpak.event-stream-envelope.v1").unwrap(),
                payload: vec![0x81, 0xa1, 0x61, 0x01],
            }),
            b"NETBAT/2 SUB_EVENT orders.open.v1 7 01 02 batpak.event-stream-envelope.v1 81a16101\n",
        ),
        (
            StreamFrame::Event(SubEvent {
                id: id("a.v1"),
                index: n64(1),
                cursor_before: None,
                cursor_after: None,
                schema: SchemaRef::new("s").unwrap(),
                payload: vec![],
            }),
            b"NETBAT/2 SUB_EVENT a.v1 1 - - s \n",
        ),
        (
            StreamFrame::Watermark(SubWatermark {
                id: id("a.v1"),
                index: n64(18_446_744_073_709_551_615),
                cursor_after: Cursor::new(vec![0xff]),
            }),
            b"NETBAT/2 SUB_WATERMARK a.v1 18446744073709551615 ff\n",
        ),
        (
            StreamFrame::Ack(SubAck {
                id: id("a.v1"),
                index: n64(3),
                cursor_after: Cursor::new(vec![0x0a, 0x0b]),
            }),
            b"NETBAT/2 SUB_ACK a.v1 3 0a0b\n",
        ),
        (
            StreamFrame::Cancel(SubCancel {
                id: id("a.v1"),
                reason: ReasonCode::new("client_done").unwrap(),
            }),
            b"NETBAT/2 SUB_CANCEL a.v1 client_done\n",
        ),
        (
            StreamFrame::Err(SubErr {
                id: id("a.v1"),
                code: ReasonCode::known(stream_code::SLOW_CONSUMER),
                last_delivered: Some(Cursor::new(vec![0x05])),
                last_acked: None,
                message: b"delivery window full".to_vec(),
            }),
            b"NETBAT/2 SUB_ERR a.v1 slow_consumer 05 - 64656c69766572792077696e646f772066756c6c\n",
        ),
        (
            StreamFrame::End(SubEnd {
                id: id("a.v1"),
                cursor_after: Some(Cursor::new(vec![0x09])),
                reason: ReasonCode::known(stream_code::CLIENT_CANCELLED),
            }),
            b"NETBAT/2 SUB_END a.v1 09 client_cancelled\n",
        ),
        (
            StreamFrame::End(SubEnd {
                id: id("a.v1"),
                cursor_after: None,
                reason: ReasonCode::known(stream_code::SOURCE_EXHAUSTED),
            }),
            b"NETBAT/2 SUB_END a.v1 - source_exhausted\n",
        ),
    ]
}

/// Golden line for every frame kind, both ways.
#[test]
fn golden_lines_for_every_frame_kind() {
    for (frame, line) in golden_frames() {
        assert_eq!(encode_stream_frame(&frame), line);
        assert_eq!(frame.encode(), line);
        assert_eq!(decode(line).unwrap(), frame);
        let mut crlf = line[..line.len() - 1].to_vec();
        crlf.extend_from_slice(b"\r\n");
        assert_eq!(decode(&crlf).unwrap(), frame);
        assert_eq!(decode(&line[..line.len() - 1]).unwrap(), frame);
        assert!(!frame.id().as_str().is_empty());
    }
}

#[test]
fn known_codes_satisfy_the_grammar() {
    for code in [
        stream_code::UNKNOWN_SUBSCRIPTION,
        stream_code::CURSOR_INVALID,
        stream_code::CURSOR_MISMATCH,
        stream_code::SLOW_CONSUMER,
        stream_code::MALFORMED_STREAM_FRAME,
        stream_code::INTERNAL_ERROR,
        stream_code::UNAUTHENTICATED,
        stream_code::FORBIDDEN,
        stream_code::CLIENT_CANCELLED,
        stream_code::SOURCE_EXHAUSTED,
        stream_code::SERVER_SHUTDOWN,
        stream_code::CLIENT_DONE,
    ] {
        assert_eq!(ReasonCode::new(code).unwrap(), ReasonCode::known(code));
    }
}

#[test]
fn cursors_show_as_hex_and_give_back_their_bytes() {
    let cursor = Cursor::new(vec![0xc0, 0x01]);
    assert_eq!(format!("{cursor:?}"), "Cursor(c001)");
    assert_eq!(cursor.as_bytes(), &[0xc0, 0x01]);
    assert_eq!(cursor.into_bytes(), vec![0xc0, 0x01]);
    assert_eq!(Cursor::default().into_bytes(), Vec::<u8>::new());
}

#[test]
fn a_frame_of_exactly_the_line_limit_is_accepted() {
    let line = b"NETBAT/2 SUB_ACK a.v1 1 00\n";
    let exact = limits().with_max_line_bytes(line.len());
    assert!(decode_stream_line(line, &exact).is_ok());
    let short = limits().with_max_line_bytes(line.len() - 1);
    assert_eq!(
        decode_stream_line(line, &short),
        Err(WireError::LineTooLong {
            max: line.len() - 1
        })
    );
}

#[test]
fn hex_fields_either_case_in_lowercase_out() {
    let frame = decode(b"NETBAT/2 SUB_ACK a.v1 3 0A0b\n").unwrap();
    assert_eq!(frame.encode(), b"NETBAT/2 SUB_ACK a.v1 3 0a0b\n");
}

#[test]
fn subscription_id_grammar() {
    let ok = ["orders.open.v1", "a.v1", "0.v10", "a-b_c.d.v99", "x.vv.v2"];
    for text in ok {
        assert!(SubscriptionId::new(text, &limits()).is_ok(), "{text}");
    }
    let bad = [
        ("", IdProblem::Empty),
        (".a.v1", IdProblem::LeadingOrTrailingDot),
        ("a.v1.", IdProblem::LeadingOrTrailingDot),
        ("a..b.v1", IdProblem::DoubledDot),
        ("orders", IdProblem::MissingVersionSuffix),
        ("Orders.v1", IdProblem::BadFirstByte),
        ("_a.v1", IdProblem::BadFirstByte),
        ("aB.v1", IdProblem::BadNameByte),
        ("a/b.v1", IdProblem::BadNameByte),
        ("a.v", IdProblem::MissingVersionDigits),
        ("a.v0", IdProblem::BadVersionStart),
        ("a.vx", IdProblem::BadVersionStart),
        ("a.v1x", IdProblem::NonDigitVersion),
        ("a.v1-2", IdProblem::NonDigitVersion),
    ];
    for (text, problem) in bad {
        assert_eq!(
            SubscriptionId::new(text, &limits()),
            Err(WireError::malformed_stream(Malformation::SubscriptionId(
                problem
            ))),
            "{text}"
        );
    }
    assert_eq!(
        check_subscription_id(".v1"),
        Err(IdProblem::LeadingOrTrailingDot)
    );
    assert_eq!(
        check_subscription_id(&format!("{}.v1", "a".repeat(126))),
        Err(IdProblem::TooLong)
    );
    let long = format!("{}.v1", "a".repeat(125));
    assert_eq!(long.len(), 128);
    assert!(SubscriptionId::new(&long, &limits()).is_ok());
    let longer = format!("{}.v1", "a".repeat(126));
    assert_eq!(
        SubscriptionId::new(&longer, &limits()),
        Err(WireError::SubscriptionIdTooLong { max: 128 })
    );
    let roomy = limits().with_max_subscription_id_bytes(1000);
    assert_eq!(
        SubscriptionId::new(&longer, &roomy),
        Err(WireError::malformed_stream(Malformation::SubscriptionId(
            IdProblem::TooLong
        )))
    );
    assert_eq!(
        SubscriptionId::new("ab.v1", &limits().with_max_subscription_id_bytes(4)),
        Err(WireError::SubscriptionIdTooLong { max: 4 })
    );
    assert_eq!(id("a.v1").to_string(), "a.v1");
}

#[test]
fn reason_code_and_schema_grammar() {
    let code = |text: &str| match ReasonCode::new(text) {
        Err(WireError::MalformedStreamFrame {
            reason: Malformation::ReasonCode(problem),
        }) => problem,
        other => panic!("{other:?}"),
    };
    assert_eq!(code(""), CodeProblem::Empty);
    assert_eq!(code(&"a".repeat(129)), CodeProblem::TooLong);
    assert_eq!(code("Bad"), CodeProblem::BadByte);
    assert!(ReasonCode::new(&"a".repeat(128)).is_ok());
    assert_eq!(ReasonCode::new("x.y-z_1").unwrap().to_string(), "x.y-z_1");
    let schema = |text: &str| match SchemaRef::new(text) {
        Err(WireError::MalformedStreamFrame {
            reason: Malformation::SchemaRef(problem),
        }) => problem,
        other => panic!("{other:?}"),
    };
    assert_eq!(schema(""), SchemaRefProblem::Empty);
    assert_eq!(schema(&"a".repeat(257)), SchemaRefProblem::TooLong);
    assert_eq!(schema("a\tb"), SchemaRefProblem::Whitespace);
    assert_eq!(schema("a\u{a0}b"), SchemaRefProblem::Whitespace);
    assert_eq!(schema("A"), SchemaRefProblem::BadByte);
    assert!(SchemaRef::new(&"a".repeat(256)).is_ok());
}

#[test]
fn malformed_stream_reasons() {
    use StreamField as F;
    let cases: Vec<(&[u8], Malformation)> = vec![
        (b"\n", Malformation::EmptyLine),
        (b"NETBAT/2\n", Malformation::MissingStreamVerb),
        (b"NETBAT/2 HELLO a.v1\n", Malformation::UnknownStreamVerb),
        (
            b"NETBAT/2 SUBSCRIBE\n",
            Malformation::MissingField(F::SubscriptionId),
        ),
        (
            b"NETBAT/2 SUBSCRIBE a.v1\n",
            Malformation::MissingField(F::ResumeCursor),
        ),
        (
            b"NETBAT/2 SUBSCRIBE a.v1 -\n",
            Malformation::MissingField(F::ClientWindow),
        ),
        (b"NETBAT/2 SUBSCRIBE a.v1 - x\n", Malformation::NotDecimal),
        (b"NETBAT/2 SUBSCRIBE a.v1 - -1\n", Malformation::NotDecimal),
        (
            b"NETBAT/2 SUBSCRIBE a.v1 - 4294967296\n",
            Malformation::NotDecimal,
        ),
        (
            b"NETBAT/2 SUBSCRIBE a.v1 - 0\n",
            Malformation::ZeroClientWindow,
        ),
        (
            b"NETBAT/2 SUBSCRIBE a.v1 - 1 x\n",
            Malformation::TooManyFields,
        ),
        (
            b"NETBAT/2 SUBSCRIBE \xff.v1 - 1\n",
            Malformation::TokenNotUtf8,
        ),
        (
            b"NETBAT/2 SUBSCRIBE a.v1 - \xff\n",
            Malformation::TokenNotUtf8,
        ),
        (
            b"NETBAT/2 SUBSCRIBE a.v1 abc 1\n",
            Malformation::HexOddLength,
        ),
        (b"NETBAT/2 SUBSCRIBE a.v1 zz 1\n", Malformation::NotHex),
        (
            b"NETBAT/2 SUB_EVENT a.v1\n",
            Malformation::MissingField(F::DeliveryIndex),
        ),
        (
            b"NETBAT/2 SUB_EVENT a.v1 1\n",
            Malformation::MissingField(F::CursorBefore),
        ),
        (
            b"NETBAT/2 SUB_EVENT a.v1 1 -\n",
            Malformation::MissingField(F::CursorAfter),
        ),
        (
            b"NETBAT/2 SUB_EVENT a.v1 1 - -\n",
            Malformation::MissingField(F::PayloadSchemaRef),
        ),
        (
            b"NETBAT/2 SUB_EVENT a.v1 1 - - s\n",
            Malformation::MissingField(F::PayloadHex),
        ),
        (
            b"NETBAT/2 SUB_EVENT a.v1 0 - - s 00\n",
            Malformation::ZeroDeliveryIndex,
        ),
        (
            b"NETBAT/2 SUB_EVENT a.v1 1 - - S 00\n",
            Malformation::SchemaRef(SchemaRefProblem::BadByte),
        ),
        (
            b"NETBAT/2 SUB_EVENT a.v1 1 - - s 0\n",
            Malformation::HexOddLength,
        ),
        (
            b"NETBAT/2 SUB_WATERMARK a.v1 1\n",
            Malformation::MissingField(F::CursorAfter),
        ),
        (
            b"NETBAT/2 SUB_WATERMARK a.v1 1 -\n",
            Malformation::HexOddLength,
        ),
        (b"NETBAT/2 SUB_ACK a.v1 1 -\n", Malformation::HexOddLength),
        (b"NETBAT/2 SUB_ACK a.v1 x 00\n", Malformation::NotDecimal),
        (
            b"NETBAT/2 SUB_ACK a.v1 1 00 00\n",
            Malformation::TooManyFields,
        ),
        (
            b"NETBAT/2 SUB_CANCEL a.v1\n",
            Malformation::MissingField(F::ReasonCode),
        ),
        (
            b"NETBAT/2 SUB_CANCEL a.v1 Bye\n",
            Malformation::ReasonCode(CodeProblem::BadByte),
        ),
        (
            b"NETBAT/2 SUB_ERR a.v1\n",
            Malformation::MissingField(F::ErrorCode),
        ),
        (
            b"NETBAT/2 SUB_ERR a.v1 x\n",
            Malformation::MissingField(F::LastDelivered),
        ),
        (
            b"NETBAT/2 SUB_ERR a.v1 x -\n",
            Malformation::MissingField(F::LastAcked),
        ),
        (
            b"NETBAT/2 SUB_ERR a.v1 x - -\n",
            Malformation::MissingField(F::MessageHex),
        ),
        (b"NETBAT/2 SUB_ERR a.v1 x - - zz\n", Malformation::NotHex),
        (
            b"NETBAT/2 SUB_END a.v1\n",
            Malformation::MissingField(F::CursorAfter),
        ),
        (
            b"NETBAT/2 SUB_END a.v1 -\n",
            Malformation::MissingField(F::ReasonCode),
        ),
        (
            b"NETBAT/2 SUB_END a.v1 - \n",
            Malformation::ReasonCode(CodeProblem::Empty),
        ),
        (
            b"NETBAT/2 SUB_END bad - x\n",
            Malformation::SubscriptionId(IdProblem::MissingVersionSuffix),
        ),
    ];
    for (line, reason) in cases {
        assert_eq!(
            malformed(line),
            reason,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn published_check_order() {
    // An optional cursor is decoded as it is pulled, before the id is checked.
    assert_eq!(
        malformed(b"NETBAT/2 SUBSCRIBE BAD zz 1\n"),
        Malformation::NotHex
    );
    // A required cursor is decoded after the id and index.
    assert_eq!(
        malformed(b"NETBAT/2 SUB_ACK BAD.v1 1 zz\n"),
        Malformation::SubscriptionId(IdProblem::BadFirstByte)
    );
    // Field checks come before the trailing-field check.
    assert_eq!(
        malformed(b"NETBAT/2 SUB_CANCEL a.v1 X extra\n"),
        Malformation::ReasonCode(CodeProblem::BadByte)
    );
    // A missing field is reported before any field is checked.
    assert_eq!(
        malformed(b"NETBAT/2 SUB_ACK BAD x\n"),
        Malformation::MissingField(StreamField::CursorAfter)
    );
    // A leading '+' is decimal, as `u64::from_str` reads it.
    let frame = decode(b"NETBAT/2 SUB_ACK a.v1 +5 00\n").unwrap();
    assert_eq!(frame.encode(), b"NETBAT/2 SUB_ACK a.v1 5 00\n");
}

#[test]
fn unsupported_versions_on_streams() {
    let version = |line: &[u8]| match decode(line) {
        Err(WireError::UnsupportedProtocolVersion { version }) => version,
        other => panic!("{other:?}"),
    };
    assert_eq!(version(b"NETBAT/1 CALL a 00\n"), "NETBAT/1");
    assert_eq!(version(b"CALL a 00\n"), "CALL");
    assert_eq!(version(b"\xff\x00 x\n"), "0xff00");
    assert_eq!(version(b" NETBAT/2 SUB_ACK\n"), "");
}

#[test]
fn stream_limits() {
    let l = limits()
        .with_max_cursor_bytes(1)
        .with_max_stream_payload_bytes(2)
        .with_max_stream_error_message_bytes(3);
    let check = |line: &[u8], expected: WireError| {
        assert_eq!(decode_stream_line(line, &l), Err(expected));
    };
    assert!(decode_stream_line(b"NETBAT/2 SUB_ACK a.v1 1 00\n", &l).is_ok());
    check(
        b"NETBAT/2 SUB_ACK a.v1 1 0000\n",
        WireError::CursorTooLarge { max: 1 },
    );
    check(
        b"NETBAT/2 SUBSCRIBE a.v1 0000 1\n",
        WireError::CursorTooLarge { max: 1 },
    );
    assert!(decode_stream_line(b"NETBAT/2 SUB_EVENT a.v1 1 - - s 0000\n", &l).is_ok());
    check(
        b"NETBAT/2 SUB_EVENT a.v1 1 - - s 000000\n",
        WireError::StreamPayloadTooLarge { max: 2 },
    );
    assert!(decode_stream_line(b"NETBAT/2 SUB_ERR a.v1 x - - 000000\n", &l).is_ok());
    check(
        b"NETBAT/2 SUB_ERR a.v1 x - - 00000000\n",
        WireError::StreamMessageTooLarge { max: 3 },
    );
    let short = limits().with_max_line_bytes(10);
    assert_eq!(
        decode_stream_line(b"NETBAT/2 SUB_ACK a.v1 1 00\n", &short),
        Err(WireError::LineTooLong { max: 10 })
    );
    let defaults = limits();
    let big_payload = vec![1_u8; 32 * 1024];
    let mut roomy = defaults;
    roomy.max_line_bytes = 1 << 20;
    let event = StreamFrame::Event(SubEvent {
        id: id("a.v1"),
        index: n64(1),
        cursor_before: None,
        cursor_after: Some(Cursor::new(vec![0; 4096])),
        schema: SchemaRef::new("s").unwrap(),
        payload: big_payload,
    });
    assert!(decode_stream_line(&event.encode(), &roomy).is_ok());
}

/// Every strict prefix of a valid frame without its last field fails; a
/// prefix that does decode says exactly what the prefix says.
#[test]
fn every_prefix_of_a_valid_frame_fails_cleanly() {
    for (frame, line) in golden_frames() {
        for end in 0..line.len() {
            let prefix = &line[..end];
            if let Ok(decoded) = decode(prefix) {
                let mut again = decoded.encode();
                again.pop();
                assert_eq!(again, prefix, "{frame:?}");
            }
        }
    }
}

fn sub_id() -> impl Strategy<Value = SubscriptionId> {
    "[a-z0-9][a-z0-9_-]{0,10}(\\.[a-z0-9_-]{1,8}){0,3}\\.v[1-9][0-9]{0,3}"
        .prop_map(|text| SubscriptionId::new(&text, &Limits::default()).unwrap())
}

fn cursor() -> impl Strategy<Value = Cursor> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Cursor::new)
}

fn code() -> impl Strategy<Value = ReasonCode> {
    "[a-z0-9._-]{1,30}".prop_map(|text| ReasonCode::new(&text).unwrap())
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..100)
}

pub(crate) fn any_frame() -> impl Strategy<Value = StreamFrame> {
    let index = (1..=u64::MAX).prop_map(n64);
    prop_oneof![
        (sub_id(), proptest::option::of(cursor()), 1..=u32::MAX).prop_map(|(id, resume, w)| {
            StreamFrame::Subscribe(Subscribe {
                id,
                resume,
                window: NonZeroU32::new(w).unwrap(),
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
                    StreamFrame::Event(SubEvent {
                        id,
                        index,
                        cursor_before,
                        cursor_after,
                        schema: SchemaRef::new(&schema).unwrap(),
                        payload,
                    })
                }
            ),
        (sub_id(), index.clone(), cursor()).prop_map(|(id, index, cursor_after)| {
            StreamFrame::Watermark(SubWatermark {
                id,
                index,
                cursor_after,
            })
        }),
        (sub_id(), index, cursor()).prop_map(|(id, index, cursor_after)| {
            StreamFrame::Ack(SubAck {
                id,
                index,
                cursor_after,
            })
        }),
        (sub_id(), code()).prop_map(|(id, reason)| StreamFrame::Cancel(SubCancel { id, reason })),
        (
            sub_id(),
            code(),
            proptest::option::of(cursor()),
            proptest::option::of(cursor()),
            bytes()
        )
            .prop_map(|(id, code, last_delivered, last_acked, message)| {
                StreamFrame::Err(SubErr {
                    id,
                    code,
                    last_delivered,
                    last_acked,
                    message,
                })
            }),
        (sub_id(), proptest::option::of(cursor()), code()).prop_map(
            |(id, cursor_after, reason)| StreamFrame::End(SubEnd {
                id,
                cursor_after,
                reason
            })
        ),
    ]
}

proptest! {
    #[test]
    fn frames_round_trip(frame in any_frame()) {
        let line = encode_stream_frame(&frame);
        prop_assert_eq!(line.last(), Some(&b'\n'));
        prop_assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
        prop_assert_eq!(decode(&line).unwrap(), frame);
    }

    #[test]
    fn arbitrary_lines_never_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&line);
    }

    #[test]
    fn mutated_frames_never_panic(frame in any_frame(), at in any::<usize>(), byte in any::<u8>()) {
        let mut line = encode_stream_frame(&frame);
        let at = at % line.len();
        line[at] = byte;
        let _ = decode(&line);
    }
}
