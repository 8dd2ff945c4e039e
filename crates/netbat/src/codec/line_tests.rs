use super::*;
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

fn malformed(line: &[u8]) -> Malformation {
    match decode_request(line, &limits()) {
        Err(WireError::MalformedRequest { reason }) => reason,
        other => panic!(
            "{:?}: expected malformed_request, got {other:?}",
            String::from_utf8_lossy(line)
        ),
    }
}

#[test]
fn golden_request_lines() {
    assert_eq!(
        encode_request("system.heartbeat", &[]),
        b"NETBAT/1 CALL system.heartbeat \n"
    );
    assert_eq!(
        encode_request("bank.commit", &[0x00, 0xff, 0x10]),
        b"NETBAT/1 CALL bank.commit 00ff10\n"
    );
    assert_eq!(encode_auth(&[0xab, 0x01]), b"NETBAT/1 AUTH ab01\n");
    assert_eq!(encode_auth(&[]), b"NETBAT/1 AUTH \n");
    let request = CallRequest::new("a", vec![1]);
    assert_eq!(request.encode(), b"NETBAT/1 CALL a 01\n");
    assert_eq!(request.into_parts(), ("a".to_owned(), vec![1]));
}

#[test]
fn golden_response_lines() {
    assert_eq!(encode_ok(&[]), b"OK \n");
    assert_eq!(encode_ok(&[0xca, 0xfe]), b"OK cafe\n");
    assert_eq!(
        encode_response(Err(&WireError::LineTooLong { max: 65_536 })),
        b"ERR line_too_long 72657175657374206c696e65206578636565646564203635353336206279746573\n"
    );
    assert_eq!(
        encode_err(ErrorCode::Forbidden, "no"),
        b"ERR forbidden 6e6f\n".to_vec()
    );
    assert_eq!(
        encode_response(Err(&WireError::malformed_request(Malformation::EmptyLine))),
        format!(
            "ERR malformed_request {}\n",
            crate::encode_hex(b"malformed request: empty line")
        )
        .into_bytes()
    );
}

/// One golden `ERR` line per code token.
#[test]
fn golden_err_line_per_code() {
    for code in ErrorCode::ALL {
        let line = encode_err(code, "m");
        assert_eq!(line, format!("ERR {} 6d\n", code.as_str()).into_bytes());
        let Ok(Response::Err(reply)) = decode_response(&line, &limits()) else {
            panic!("{code}");
        };
        assert_eq!(reply.known_code(), Some(code));
        assert_eq!(reply.message, "m");
    }
}

#[test]
fn decodes_a_call() {
    let request = decode_request(b"NETBAT/1 CALL system.heartbeat dead\n", &limits()).unwrap();
    assert_eq!(request.operation(), "system.heartbeat");
    assert_eq!(request.input(), &[0xde, 0xad]);
    let empty = decode_request(b"NETBAT/1 CALL a \n", &limits()).unwrap();
    assert_eq!(empty.input(), b"");
}

#[test]
fn line_endings_lf_crlf_lone_cr_and_end_of_stream() {
    for line in [
        &b"NETBAT/1 CALL a 0a\n"[..],
        b"NETBAT/1 CALL a 0a\r\n",
        b"NETBAT/1 CALL a 0a\r",
        b"NETBAT/1 CALL a 0a",
    ] {
        let request = decode_request(line, &limits()).unwrap();
        assert_eq!(request.input(), &[0x0a]);
    }
    // Only one CR is stripped; a second is part of the hex field.
    assert_eq!(
        malformed(b"NETBAT/1 CALL a 0a\r\r\n"),
        Malformation::HexOddLength
    );
    assert_eq!(strip_line_ending(b"x\r\n"), b"x");
    assert_eq!(strip_line_ending(b"x\n"), b"x");
    assert_eq!(strip_line_ending(b"x\r"), b"x");
    assert_eq!(strip_line_ending(b"x\n\r"), b"x\n");
    assert_eq!(strip_line_ending(b"x"), b"x");
}

#[test]
fn hex_input_either_case() {
    let upper = decode_request(b"NETBAT/1 CALL a DEADbeef\n", &limits()).unwrap();
    assert_eq!(upper.input(), &[0xde, 0xad, 0xbe, 0xef]);
}

#[test]
fn malformed_empty_line() {
    assert_eq!(malformed(b"\n"), Malformation::EmptyLine);
    assert_eq!(malformed(b"\r\n"), Malformation::EmptyLine);
    assert_eq!(malformed(b""), Malformation::EmptyLine);
}

#[test]
fn malformed_missing_prefix_including_legacy_call() {
    assert_eq!(
        malformed(b"CALL a 00\n"),
        Malformation::MissingProtocolPrefix
    );
    assert_eq!(
        malformed(b"netbat/1 CALL a 00\n"),
        Malformation::MissingProtocolPrefix
    );
    assert_eq!(
        malformed(b" NETBAT/1 CALL a 00\n"),
        Malformation::MissingProtocolPrefix
    );
    assert_eq!(
        WireError::malformed_request(Malformation::MissingProtocolPrefix).to_string(),
        "malformed request: missing NETBAT/1 protocol prefix"
    );
}

#[test]
fn unsupported_protocol_version() {
    for (line, version) in [
        (&b"NETBAT/2 CALL a 00\n"[..], "NETBAT/2"),
        (b"NETBAT/ CALL a 00\n", "NETBAT/"),
        (b"NETBAT/10 CALL a 00\n", "NETBAT/10"),
        (b"NETBAT/1\xff CALL a 00\n", "NETBAT/1\u{fffd}"),
    ] {
        assert_eq!(
            decode_request(line, &limits()),
            Err(WireError::UnsupportedProtocolVersion {
                version: version.to_owned()
            })
        );
    }
}

#[test]
fn malformed_missing_verb() {
    assert_eq!(malformed(b"NETBAT/1\n"), Malformation::MissingVerb);
}

#[test]
fn malformed_missing_operation_and_input() {
    assert_eq!(
        malformed(b"NETBAT/1 CALL\n"),
        Malformation::MissingOperation
    );
    assert_eq!(malformed(b"NETBAT/1 CALL a\n"), Malformation::MissingInput);
    // The field count is checked before the verb.
    assert_eq!(
        malformed(b"NETBAT/1 PING\n"),
        Malformation::MissingOperation
    );
}

#[test]
fn malformed_too_many_fields() {
    assert_eq!(
        malformed(b"NETBAT/1 CALL a 00 00\n"),
        Malformation::TooManyFields
    );
    assert_eq!(
        malformed(b"NETBAT/1 CALL a 00 \n"),
        Malformation::TooManyFields
    );
    assert_eq!(
        malformed(b"NETBAT/1  CALL a 00\n"),
        Malformation::TooManyFields
    );
}

#[test]
fn malformed_unsupported_verb() {
    assert_eq!(
        malformed(b"NETBAT/1 call a 00\n"),
        Malformation::UnsupportedVerb
    );
    assert_eq!(
        malformed(b"NETBAT/1 PING a 00\n"),
        Malformation::UnsupportedVerb
    );
    // AUTH is an unsupported verb to the published decoder.
    assert_eq!(
        malformed(b"NETBAT/1 AUTH a 00\n"),
        Malformation::UnsupportedVerb
    );
    assert_eq!(malformed(b"NETBAT/1 AUTH 00\n"), Malformation::MissingInput);
}

#[test]
fn malformed_operation_invalid_bytes_and_not_utf8() {
    assert_eq!(
        malformed(b"NETBAT/1 CALL a/b 00\n"),
        Malformation::OperationInvalidBytes
    );
    assert_eq!(
        malformed(b"NETBAT/1 CALL a\tb 00\n"),
        Malformation::OperationInvalidBytes
    );
    assert_eq!(
        malformed(b"NETBAT/1 CALL \xff\xfe 00\n"),
        Malformation::OperationInvalidBytes
    );
    assert_eq!(
        malformed("NETBAT/1 CALL caf\u{e9} 00\n".as_bytes()),
        Malformation::OperationInvalidBytes
    );
}

#[test]
fn malformed_empty_operation() {
    assert_eq!(
        malformed(b"NETBAT/1 CALL  00\n"),
        Malformation::EmptyOperation
    );
}

#[test]
fn malformed_empty_dot_segment() {
    for op in [".a", "a.", "a..b", "."] {
        let line = encode_request(op, &[]);
        assert_eq!(malformed(&line), Malformation::OperationDotSegments, "{op}");
    }
    assert!(decode_request(&encode_request("a.b-c_D.9", &[]), &limits()).is_ok());
}

#[test]
fn malformed_odd_length_hex() {
    assert_eq!(
        malformed(b"NETBAT/1 CALL a abc\n"),
        Malformation::HexOddLength
    );
    assert_eq!(
        WireError::malformed_request(Malformation::HexOddLength).to_string(),
        "malformed request: hex input has odd length"
    );
}

#[test]
fn malformed_input_not_hex() {
    assert_eq!(malformed(b"NETBAT/1 CALL a zz\n"), Malformation::NotHex);
    assert_eq!(malformed(b"NETBAT/1 CALL a 0x\n"), Malformation::NotHex);
    assert_eq!(
        WireError::malformed_request(Malformation::NotHex).to_string(),
        "malformed request: input is not hex"
    );
}

#[test]
fn operation_name_limits() {
    let op = "a".repeat(128);
    assert!(decode_request(&encode_request(&op, &[]), &limits()).is_ok());
    let op = "a".repeat(129);
    assert_eq!(
        decode_request(&encode_request(&op, &[]), &limits()),
        Err(WireError::OperationNameTooLong { max: 128 })
    );
    let small = limits().with_max_operation_name_bytes(3);
    assert_eq!(
        decode_request(&encode_request("abcd", &[]), &small),
        Err(WireError::OperationNameTooLong { max: 3 })
    );
    // The limit is checked before the grammar.
    assert_eq!(
        decode_request(&encode_request("a/cd", &[]), &small),
        Err(WireError::OperationNameTooLong { max: 3 })
    );
    // A configured limit above the grammar's ceiling reports the ceiling.
    let big = limits().with_max_operation_name_bytes(1000);
    assert_eq!(
        decode_request(&encode_request(&"b".repeat(200), &[]), &big),
        Err(WireError::OperationNameTooLong { max: 128 })
    );
}

#[test]
fn input_limit() {
    let small = limits().with_max_input_bytes(2);
    assert!(decode_request(&encode_request("a", &[1, 2]), &small).is_ok());
    assert_eq!(
        decode_request(&encode_request("a", &[1, 2, 3]), &small),
        Err(WireError::InputTooLarge { max: 2 })
    );
    // Odd length is reported before size; size before digits.
    assert_eq!(
        decode_request(b"NETBAT/1 CALL a 0102030\n", &small),
        Err(WireError::malformed_request(Malformation::HexOddLength))
    );
    assert_eq!(
        decode_request(b"NETBAT/1 CALL a zzzzzz\n", &small),
        Err(WireError::InputTooLarge { max: 2 })
    );
    let full = vec![7_u8; 32 * 1024];
    let mut big = limits();
    big.max_line_bytes = 1 << 20;
    assert!(decode_request(&encode_request("a", &full), &big).is_ok());
    let over = vec![7_u8; 32 * 1024 + 1];
    assert_eq!(
        decode_request(&encode_request("a", &over), &big),
        Err(WireError::InputTooLarge { max: 32 * 1024 })
    );
}

#[test]
fn line_limit_counts_the_lf() {
    // 17 bytes of "NETBAT/1 CALL xy " + 65,518 hex + LF = 65,536.
    let line = encode_request("xy", &vec![0x5a; 32_759]);
    assert_eq!(line.len(), 65_536);
    assert!(decode_request(&line, &limits()).is_ok());
    let line = encode_request("xyz", &vec![0x5a; 32_759]);
    assert_eq!(line.len(), 65_537);
    assert_eq!(
        decode_request(&line, &limits()),
        Err(WireError::LineTooLong { max: 65_536 })
    );
}

#[test]
fn auth_lines() {
    let Ok(ClientLine::Auth(token)) = decode_line(b"NETBAT/1 AUTH 00FF\r\n", &limits()) else {
        panic!()
    };
    assert_eq!(token.as_bytes(), &[0x00, 0xff]);
    assert_eq!(format!("{token:?}"), "BearerToken(2 bytes)");
    assert_eq!(
        decode_line(b"NETBAT/1 AUTH\n", &limits()),
        Err(WireError::malformed_request(Malformation::MissingToken))
    );
    assert_eq!(
        decode_line(b"NETBAT/1 AUTH 00 00\n", &limits()),
        Err(WireError::malformed_request(Malformation::TooManyFields))
    );
    assert_eq!(
        decode_line(b"NETBAT/1 AUTH 0\n", &limits()),
        Err(WireError::malformed_request(Malformation::HexOddLength))
    );
    assert_eq!(
        decode_line(b"NETBAT/1 AUTH zz\n", &limits()),
        Err(WireError::malformed_request(Malformation::NotHex))
    );
    let small = limits().with_max_token_bytes(1);
    assert_eq!(
        decode_line(b"NETBAT/1 AUTH 0000\n", &small),
        Err(WireError::InputTooLarge { max: 1 })
    );
    assert!(matches!(
        decode_line(b"NETBAT/1 CALL a 00\n", &limits()),
        Ok(ClientLine::Call(_))
    ));
    assert_eq!(
        decode_request(b"NETBAT/1 AUTH 00\n", &limits()),
        Err(WireError::malformed_request(Malformation::MissingInput))
    );
}

#[test]
fn a_response_of_exactly_the_line_limit_is_accepted() {
    let line = b"OK 0102\n";
    let exact = limits().with_max_line_bytes(line.len());
    assert_eq!(decode_response(line, &exact), Ok(Response::Ok(vec![1, 2])));
    let short = limits().with_max_line_bytes(line.len() - 1);
    assert_eq!(
        decode_response(line, &short),
        Err(ResponseError::LineTooLong {
            max: line.len() - 1
        })
    );
    let request = encode_request("a", b"");
    assert!(decode_request(&request, &limits().with_max_line_bytes(request.len())).is_ok());
}

#[test]
fn responses_decode_and_refuse() {
    let l = limits();
    assert_eq!(decode_response(b"OK \n", &l), Ok(Response::Ok(vec![])));
    assert_eq!(decode_response(b"OK AB", &l), Ok(Response::Ok(vec![0xab])));
    let bad = |line: &[u8]| match decode_response(line, &l) {
        Err(ResponseError::Malformed { reason }) => reason,
        other => panic!("{other:?}"),
    };
    assert_eq!(bad(b"\n"), Malformation::EmptyLine);
    assert_eq!(bad(b"OK\n"), Malformation::MissingOutput);
    assert_eq!(bad(b"OK a\n"), Malformation::HexOddLength);
    assert_eq!(bad(b"OK zz\n"), Malformation::NotHex);
    assert_eq!(bad(b"OK 00 00\n"), Malformation::TooManyFields);
    assert_eq!(bad(b"YES 00\n"), Malformation::UnknownResponseStatus);
    assert_eq!(
        bad(b"ERR\n"),
        Malformation::MissingField(StreamField::ErrorCode)
    );
    assert_eq!(
        bad(b"ERR io\n"),
        Malformation::MissingField(StreamField::MessageHex)
    );
    assert_eq!(bad(b"ERR \xff 00\n"), Malformation::TokenNotUtf8);
    assert_eq!(bad(b"ERR io 0\n"), Malformation::HexOddLength);
    assert_eq!(bad(b"ERR io 00 00\n"), Malformation::TooManyFields);
    assert_eq!(
        decode_response(b"OK 0000\n", &l.with_max_output_bytes(1)),
        Err(ResponseError::OutputTooLarge { max: 1 })
    );
    assert_eq!(
        decode_response(b"OK 00\n", &l.with_max_line_bytes(5)),
        Err(ResponseError::LineTooLong { max: 5 })
    );
    let Ok(Response::Err(reply)) = decode_response(b"ERR custom_thing ff\n", &l) else {
        panic!()
    };
    assert_eq!(reply.known_code(), None);
    assert_eq!(reply.message, "\u{fffd}");
    assert_eq!(reply.to_string(), "custom_thing: \u{fffd}");
}

/// Every prefix of a valid line decodes cleanly: an error, or exactly what
/// the prefix itself says (a shorter hex field, or the line without its LF).
#[test]
fn every_prefix_of_a_valid_line_fails_cleanly() {
    let line = encode_request("bank.commit", &[0xde, 0xad, 0xbe, 0xef]);
    let input_starts = b"NETBAT/1 CALL bank.commit ".len();
    for end in 0..line.len() {
        let prefix = &line[..end];
        match decode_request(prefix, &limits()) {
            Err(_) => {}
            Ok(request) => {
                assert!(end >= input_starts, "{end}");
                let mut again = request.encode();
                again.pop();
                assert_eq!(again, prefix);
            }
        }
    }
    let auth = encode_auth(b"token");
    for end in 0..auth.len() {
        let _ = decode_line(&auth[..end], &limits());
    }
    let ok = encode_ok(b"output");
    for end in 0..ok.len() {
        if let Ok(Response::Ok(out)) = decode_response(&ok[..end], &limits()) {
            assert!(b"output".starts_with(&out));
        }
    }
}

fn operation_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,20}(\\.[A-Za-z0-9_-]{1,20}){0,4}"
}

proptest! {
    #[test]
    fn request_round_trips(op in operation_name(), input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let line = encode_request(&op, &input);
        let request = decode_request(&line, &limits()).unwrap();
        prop_assert_eq!(request.operation(), op.as_str());
        prop_assert_eq!(request.input(), &input[..]);
        let via_line = decode_line(&line, &limits()).unwrap();
        prop_assert_eq!(via_line, ClientLine::Call(request));
    }

    #[test]
    fn auth_round_trips(token in proptest::collection::vec(any::<u8>(), 0..256)) {
        let line = encode_auth(&token);
        prop_assert_eq!(decode_line(&line, &limits()).unwrap(), ClientLine::Auth(BearerToken::new(token)));
    }

    #[test]
    fn response_round_trips(output in proptest::collection::vec(any::<u8>(), 0..512), message in ".{0,64}") {
        prop_assert_eq!(decode_response(&encode_ok(&output), &limits()).unwrap(), Response::Ok(output));
        let line = encode_err(ErrorCode::Handler, &message);
        let Response::Err(reply) = decode_response(&line, &limits()).unwrap() else {
            panic!("not an error");
        };
        prop_assert_eq!(reply.code, "handler");
        prop_assert_eq!(reply.message, message);
    }

    #[test]
    fn arbitrary_bytes_never_panic(line in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_line(&line, &limits());
        let _ = decode_request(&line, &limits());
        let _ = decode_response(&line, &limits());
    }
}
