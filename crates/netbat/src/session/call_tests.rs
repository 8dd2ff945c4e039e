use super::*;
use crate::auth::Grants;
use crate::codec::line::{decode_response, encode_auth, encode_request, Response};
use crate::error::ErrorCode;

/// Drives a session over `input` (in chunks of `chunk` bytes) with a
/// dispatcher; stops when input runs out (ending it if `eof`) or on close.
fn drive(
    session: &mut CallSession,
    input: &[u8],
    chunk: usize,
    eof: bool,
    dispatch: &dyn Fn(&PendingCall) -> Result<Vec<u8>, CallFailure>,
) -> (Vec<u8>, Option<CloseReason>) {
    let mut out = Vec::new();
    let mut rest = input;
    let mut ended = false;
    loop {
        match session.poll() {
            CallStep::Dispatch(call) => {
                let result = dispatch(&call);
                session.complete(result);
            }
            CallStep::NeedInput => {
                out.extend(session.take_output());
                if rest.is_empty() {
                    if eof && !ended {
                        session.end_of_input();
                        ended = true;
                        continue;
                    }
                    return (out, None);
                }
                let take = rest.len().min(chunk);
                let used = session.feed(&rest[..take]);
                assert!(used > 0, "a session that needs input consumes it");
                rest = &rest[used..];
            }
            CallStep::Close(reason) => {
                out.extend(session.take_output());
                return (out, Some(reason));
            }
        }
    }
}

fn echo(call: &PendingCall) -> Result<Vec<u8>, CallFailure> {
    match call.operation.as_str() {
        "echo" => Ok(call.input.clone()),
        "big" => Ok(vec![0; 40_000]),
        "needs.write" if !call.grants.allows("event.append") => {
            Err(CallFailure::forbidden("needs.write", "event.append"))
        }
        "needs.write" => Ok(b"written".to_vec()),
        "fail" => Err(CallFailure::runtime("store.io: disk full")),
        other => Err(CallFailure::unknown_operation(other)),
    }
}

fn responses(out: &[u8]) -> Vec<Response> {
    out.split_inclusive(|b| *b == b'\n')
        .map(|line| decode_response(line, &Limits::default()).unwrap())
        .collect()
}

fn err_code(response: &Response) -> &str {
    match response {
        Response::Err(reply) => &reply.code,
        Response::Ok(_) => "ok",
    }
}

fn open() -> CallSession {
    CallSession::new(&CallSessionConfig::default(), None)
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let mut input = Vec::new();
    for n in 0..50_u8 {
        input.extend(encode_request("echo", &[n]));
    }
    for chunk in [1, 7, 64, input.len()] {
        let mut session = open();
        let (out, close) = drive(&mut session, &input, chunk, true, &echo);
        assert_eq!(close, Some(CloseReason::PeerClosed));
        let got = responses(&out);
        assert_eq!(got.len(), 50);
        for (n, response) in got.iter().enumerate() {
            assert_eq!(response, &Response::Ok(vec![n as u8]));
        }
        assert_eq!(session.take_counters().served, 50);
    }
}

#[test]
fn one_request_then_close_like_the_published_client() {
    let mut session = open();
    let (out, close) = drive(&mut session, b"NETBAT/1 CALL echo 6869\n", 100, true, &echo);
    assert_eq!(out, b"OK 6869\n");
    assert_eq!(close, Some(CloseReason::PeerClosed));
}

#[test]
fn end_of_stream_ends_a_line_and_an_empty_stream_gets_no_reply() {
    let mut session = open();
    let (out, close) = drive(&mut session, b"NETBAT/1 CALL echo 00", 100, true, &echo);
    assert_eq!(out, b"OK 00\n");
    assert_eq!(close, Some(CloseReason::PeerClosed));
    let mut session = open();
    let (out, close) = drive(&mut session, b"", 100, true, &echo);
    assert!(out.is_empty());
    assert_eq!(close, Some(CloseReason::EmptyStream));
}

#[test]
fn crlf_requests_are_accepted() {
    let mut session = open();
    let (out, _) = drive(&mut session, b"NETBAT/1 CALL echo AB\r\n", 3, false, &echo);
    assert_eq!(out, b"OK ab\n");
}

#[test]
fn configured_limits_reach_the_session() {
    let config =
        CallSessionConfig::default().with_limits(Limits::default().with_max_input_bytes(1));
    assert_eq!(config.limits.max_input_bytes, 1);
    let mut session = CallSession::new(&config, None);
    let (out, _) = drive(
        &mut session,
        &encode_request("echo", b"ab"),
        100,
        false,
        &echo,
    );
    assert_eq!(
        out,
        encode_response(Err(&WireError::InputTooLarge { max: 1 }))
    );
}

#[test]
fn request_limit_closes_after_the_last_answer() {
    let config = CallSessionConfig::default()
        .with_max_requests_per_connection(NonZeroUsize::new(2).unwrap());
    let mut session = CallSession::new(&config, None);
    let mut input = Vec::new();
    for _ in 0..3 {
        input.extend(encode_request("echo", b"x"));
    }
    let (out, close) = drive(&mut session, &input, 1000, false, &echo);
    assert_eq!(responses(&out).len(), 2);
    assert_eq!(close, Some(CloseReason::RequestLimit));
    assert_eq!(session.feed(b"more"), 0);
}

#[test]
fn line_too_long_is_answered_then_closes() {
    let mut session = open();
    let mut input = vec![b'a'; 65_537];
    input.extend(encode_request("echo", b"after"));
    let (out, close) = drive(&mut session, &input, 4096, false, &echo);
    assert_eq!(
        out,
        encode_response(Err(&WireError::LineTooLong { max: 65_536 }))
    );
    assert_eq!(close, Some(CloseReason::LineTooLong));
    let counters = session.take_counters();
    assert_eq!((counters.failed, counters.limit_failures), (1, 1));
}

#[test]
fn a_line_of_exactly_the_limit_is_served() {
    let mut session = open();
    let line = encode_request("echo", &vec![1; 32_757]);
    let mut padded = line[..line.len() - 1].to_vec();
    padded.extend(b"\r\n");
    let line = encode_request("ec", &vec![1; 32_759]);
    assert_eq!(line.len(), 65_536);
    let (out, close) = drive(&mut session, &line, 65_536, false, &|c| {
        Ok(c.input[..1].to_vec())
    });
    assert_eq!(out, b"OK 01\n");
    assert_eq!(close, None);
    let (out, _) = drive(&mut session, &padded, 500, false, &echo);
    assert_eq!(responses(&out).len(), 1);
}

#[test]
fn malformed_requests_are_answered_and_the_connection_continues() {
    let mut session = open();
    let mut input = b"CALL echo 00\nNETBAT/2 CALL echo 00\nNETBAT/1 CALL echo 0\n".to_vec();
    input.extend(encode_request("echo", b"ok"));
    let (out, close) = drive(&mut session, &input, 9, false, &echo);
    assert_eq!(close, None);
    let got = responses(&out);
    let codes: Vec<&str> = got.iter().map(err_code).collect();
    assert_eq!(
        codes,
        vec![
            "malformed_request",
            "unsupported_protocol_version",
            "malformed_request",
            "ok"
        ]
    );
    let counters = session.take_counters();
    assert_eq!((counters.malformed, counters.served), (3, 1));
}

#[test]
fn output_of_exactly_the_limit_is_sent_and_visible_before_writing() {
    let config =
        CallSessionConfig::default().with_limits(Limits::default().with_max_output_bytes(3));
    let mut session = CallSession::new(&config, None);
    session.feed(&encode_request("echo", b"abc"));
    let CallStep::Dispatch(call) = session.poll() else {
        panic!()
    };
    assert_eq!(session.output_len(), 0);
    session.complete(Ok(call.input));
    assert_eq!(session.output_len(), b"OK 616263\n".len());
    assert_eq!(session.take_output(), b"OK 616263\n");
    let (out, _) = drive(
        &mut session,
        &encode_request("echo", b"abcd"),
        100,
        false,
        &echo,
    );
    assert_eq!(
        out,
        encode_response(Err(&WireError::OutputTooLarge { max: 3 }))
    );
}

#[test]
fn output_is_checked_after_dispatch() {
    let mut session = open();
    let (out, _) = drive(&mut session, &encode_request("big", b""), 100, false, &echo);
    assert_eq!(
        out,
        encode_response(Err(&WireError::OutputTooLarge { max: 32_768 }))
    );
    assert_eq!(session.take_counters().limit_failures, 1);
}

#[test]
fn runtime_failures_carry_their_code_and_message() {
    let mut session = open();
    let mut input = encode_request("fail", b"");
    input.extend(encode_request("nope", b""));
    let (out, _) = drive(&mut session, &input, 100, false, &echo);
    let got = responses(&out);
    let Response::Err(reply) = &got[0] else {
        panic!()
    };
    assert_eq!(reply.known_code(), Some(ErrorCode::Runtime));
    assert_eq!(reply.message, "runtime error: store.io: disk full");
    let Response::Err(reply) = &got[1] else {
        panic!()
    };
    assert_eq!(reply.code, "unknown_operation");
    assert_eq!(reply.message, "runtime error: unknown operation `nope`");
    assert_eq!(session.take_counters().runtime_failures, 2);
}

#[test]
fn an_uncompleted_call_is_answered_as_a_runtime_failure() {
    let mut session = open();
    session.feed(&encode_request("echo", b""));
    assert!(matches!(session.poll(), CallStep::Dispatch(_)));
    assert!(matches!(session.poll(), CallStep::NeedInput));
    let got = responses(&session.take_output());
    assert_eq!(err_code(&got[0]), "runtime");
    // Completing twice, or without a call, does nothing.
    session.complete(Ok(vec![]));
    assert!(session.take_output().is_empty());
}

fn authenticator() -> (Arc<Authenticator>, crate::auth::CredentialId) {
    let auth = Arc::new(Authenticator::new());
    let writer = auth.add_token(b"writer-token", Grants::of(["event.append"]));
    auth.add_token(b"reader-token", Grants::of(["event.read"]));
    (auth, writer)
}

#[test]
fn calls_without_credentials_are_unauthenticated_and_close() {
    let (auth, _) = authenticator();
    let mut session = CallSession::new(&CallSessionConfig::default(), Some(auth));
    let mut input = encode_request("echo", b"");
    input.extend(encode_request("echo", b""));
    let (out, close) = drive(&mut session, &input, 100, false, &echo);
    assert_eq!(close, Some(CloseReason::Unauthenticated));
    assert_eq!(
        out,
        encode_response(Err(&WireError::Unauthenticated {
            reason: AuthFailure::MissingCredentials
        }))
    );
    assert_eq!(session.take_counters().auth_failures, 1);
}

#[test]
fn a_wrong_token_is_refused_and_closes() {
    let (auth, _) = authenticator();
    let mut session = CallSession::new(&CallSessionConfig::default(), Some(auth));
    let mut input = encode_auth(b"guess");
    input.extend(encode_request("echo", b""));
    let (out, close) = drive(&mut session, &input, 100, false, &echo);
    assert_eq!(close, Some(CloseReason::Unauthenticated));
    assert_eq!(responses(&out).len(), 1);
    assert_eq!(err_code(&responses(&out)[0]), "unauthenticated");
}

#[test]
fn a_token_grants_its_capabilities() {
    let (auth, _) = authenticator();
    for (token, expect) in [(&b"writer-token"[..], "ok"), (b"reader-token", "forbidden")] {
        let mut session = CallSession::new(&CallSessionConfig::default(), Some(Arc::clone(&auth)));
        let mut input = encode_auth(token);
        input.extend(encode_request("needs.write", b""));
        input.extend(encode_request("echo", b"still open"));
        let (out, close) = drive(&mut session, &input, 5, false, &echo);
        assert_eq!(close, None);
        let got = responses(&out);
        assert_eq!(got[0], Response::Ok(vec![]));
        assert_eq!(err_code(&got[1]), expect);
        assert_eq!(got[2], Response::Ok(b"still open".to_vec()));
        if expect == "forbidden" {
            let Response::Err(reply) = &got[1] else {
                panic!()
            };
            assert_eq!(
                reply.message,
                "forbidden: operation `needs.write` needs capability `event.append`"
            );
            assert_eq!(session.take_counters().auth_failures, 1);
        }
    }
}

#[test]
fn revocation_refuses_the_next_request_on_an_open_connection() {
    let (auth, writer) = authenticator();
    let mut session = CallSession::new(&CallSessionConfig::default(), Some(Arc::clone(&auth)));
    let mut input = encode_auth(b"writer-token");
    input.extend(encode_request("echo", b"1"));
    let (out, _) = drive(&mut session, &input, 100, false, &echo);
    assert_eq!(responses(&out).len(), 2);
    auth.revoke(writer);
    let (out, close) = drive(
        &mut session,
        &encode_request("echo", b"2"),
        100,
        false,
        &echo,
    );
    assert_eq!(close, Some(CloseReason::Unauthenticated));
    assert_eq!(
        out,
        encode_response(Err(&WireError::Unauthenticated {
            reason: AuthFailure::RevokedCredentials
        }))
    );
}

#[test]
fn a_transport_principal_needs_no_auth_line() {
    let (auth, _) = authenticator();
    auth.add_certificate(b"client-cert-der", Grants::of(["event.append"]));
    let principal = auth.authenticate_certificate(b"client-cert-der").unwrap();
    let mut session = CallSession::new(&CallSessionConfig::default(), Some(auth));
    session.set_principal(principal);
    let (out, _) = drive(
        &mut session,
        &encode_request("needs.write", b""),
        100,
        false,
        &echo,
    );
    assert_eq!(out, b"OK 7772697474656e\n");
}

#[test]
fn auth_on_an_open_server_is_accepted_and_changes_nothing() {
    let mut session = open();
    let mut input = encode_auth(b"anything");
    input.extend(encode_request("needs.write", b""));
    let (out, _) = drive(&mut session, &input, 100, false, &echo);
    assert_eq!(out, b"OK \nOK 7772697474656e\n");
}

#[test]
fn shutdown_closes_after_the_current_request() {
    let mut session = open();
    session.feed(&encode_request("echo", b""));
    let CallStep::Dispatch(_) = session.poll() else {
        panic!()
    };
    session.shutdown();
    session.complete(Ok(vec![]));
    assert!(matches!(
        session.poll(),
        CallStep::Close(CloseReason::Shutdown)
    ));
    assert_eq!(session.take_output(), b"OK \n");
    assert!(!session.is_mid_request());
    assert_eq!(session.output_len(), 0);
    assert!(format!("{session:?}").contains("CallSession"));
}

#[test]
fn mid_request_is_visible_for_the_read_timeout() {
    let mut session = open();
    session.feed(b"NETBAT/1 CA");
    assert!(matches!(session.poll(), CallStep::NeedInput));
    assert!(session.is_mid_request());
}
