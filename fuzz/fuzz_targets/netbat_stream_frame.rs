//! NETBAT/2: the stream-frame decoder, and a subscription session fed the
//! input as a client's bytes with a feed that always has an event.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use netbat::session::{StreamSession, StreamSessionConfig, StreamStep};
use netbat::{decode_stream_line, Cursor, FeedEvent, FeedPoll, Limits, SchemaRef};

fuzz_target!(|data: &[u8]| {
    let limits = match data.first() {
        Some(b) if *b < 16 => Limits::default()
            .with_max_line_bytes(usize::from(*b) * 8)
            .with_max_subscription_id_bytes(usize::from(*b))
            .with_max_cursor_bytes(usize::from(*b % 4))
            .with_max_stream_payload_bytes(usize::from(*b % 3))
            .with_max_stream_error_message_bytes(usize::from(*b % 5)),
        _ => Limits::default(),
    };

    // A decoded frame re-encodes to a line that decodes to the same frame.
    if let Ok(frame) = decode_stream_line(data, &limits) {
        let line = frame.encode();
        let roomy = Limits::default().with_max_line_bytes(1 << 20);
        assert_eq!(decode_stream_line(&line, &roomy).as_ref(), Ok(&frame));
    }

    // A session fed the input as client bytes never panics and ends.
    let config = StreamSessionConfig::default()
        .with_limits(limits)
        .with_stall_timeout(Duration::from_millis(5));
    let mut session = StreamSession::new(&config, None);
    let mut now = Instant::now();
    let mut rest = data;
    let mut n = 0_u8;
    for _ in 0..2 * data.len() + 8 {
        let step = session.poll(now);
        let _ = session.take_output();
        let _ = session.take_ack();
        match step {
            StreamStep::NeedInput | StreamStep::AwaitAcks { .. } if rest.is_empty() => {
                session.end_of_input();
                now += Duration::from_millis(3);
            }
            StreamStep::NeedInput | StreamStep::AwaitAcks { .. } => {
                let used = session.feed(rest);
                rest = &rest[used..];
                now += Duration::from_millis(1);
            }
            StreamStep::Open(_) => session.opened(Ok(())),
            StreamStep::Pull => {
                n = n.wrapping_add(1);
                session.deliver(FeedPoll::Event(FeedEvent {
                    cursor_before: None,
                    cursor_after: Cursor::new(vec![n]),
                    schema: SchemaRef::new("fuzz.v1").expect("valid schema"),
                    payload: vec![n],
                }));
                let used = session.feed(rest);
                rest = &rest[used..];
            }
            StreamStep::Close(_) | _ => break,
        }
    }
});
