//! NETBAT/1: the request and response line decoders, the bounded line
//! reader, and a call session fed the input as a client's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netbat::session::{CallSession, CallSessionConfig, CallStep};
use netbat::{decode_line, decode_request, decode_response, ClientLine, Limits, LineReader};

fn limits_for(data: &[u8]) -> Limits {
    // The first byte picks small limits now and then, to reach every bound.
    match data.first() {
        Some(b) if *b < 32 => Limits::default()
            .with_max_line_bytes(usize::from(*b) * 4)
            .with_max_operation_name_bytes(usize::from(*b % 8))
            .with_max_input_bytes(usize::from(*b % 5))
            .with_max_output_bytes(usize::from(*b % 3))
            .with_max_token_bytes(usize::from(*b % 4)),
        _ => Limits::default(),
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = limits_for(data);

    // A decoded request re-encodes to a line that decodes to the same request.
    match decode_line(data, &limits) {
        Ok(ClientLine::Call(request)) => {
            let again = decode_request(&request.encode(), &Limits::default().with_max_line_bytes(1 << 20));
            assert_eq!(again.as_ref(), Ok(&request));
        }
        Ok(ClientLine::Auth(token)) => {
            let line = netbat::encode_auth(token.as_bytes());
            assert_eq!(decode_line(&line, &limits).ok(), Some(ClientLine::Auth(token)));
        }
        Ok(_) | Err(_) => {}
    }
    if let Ok(request) = decode_request(data, &limits) {
        assert!(request.input().len() <= limits.max_input_bytes);
        assert!(request.operation().len() <= limits.max_operation_name_bytes);
    }
    let _ = decode_response(data, &limits);

    // The reader never holds more than the limit, whatever the input.
    let mut reader = LineReader::new(limits.max_line_bytes);
    let mut rest = data;
    loop {
        let used = reader.feed(rest);
        rest = &rest[used..];
        match reader.take_line() {
            Some(Ok(line)) => assert!(line.len() <= limits.max_line_bytes),
            Some(Err(_)) => break,
            None if rest.is_empty() => {
                reader.finish();
                if let Some(Ok(line)) = reader.take_line() {
                    assert!(line.len() <= limits.max_line_bytes);
                }
                break;
            }
            None => {}
        }
    }

    // A session fed the input as client bytes never panics and ends.
    let mut session = CallSession::new(&CallSessionConfig::default().with_limits(limits), None);
    let mut rest = data;
    for _ in 0..data.len() + 2 {
        match session.poll() {
            CallStep::Dispatch(call) => session.complete(Ok(call.input)),
            CallStep::NeedInput if rest.is_empty() => session.end_of_input(),
            CallStep::NeedInput => {
                let used = session.feed(rest);
                rest = &rest[used..];
            }
            CallStep::Close(_) | _ => break,
        }
        let _ = session.take_output();
    }
});
