use super::*;
use crate::codec::frame::{SchemaRef, SubAck, SubCancel};
use crate::codec::line::encode_auth;

const ID: &str = "orders.open.v1";

fn id() -> SubscriptionId {
    SubscriptionId::new(ID, &Limits::default()).unwrap()
}

fn cursor(n: u8) -> Cursor {
    Cursor::new(vec![0xc0, n])
}

fn event(n: u8) -> FeedPoll {
    FeedPoll::Event(FeedEvent {
        cursor_before: Some(cursor(n.wrapping_sub(1))),
        cursor_after: cursor(n),
        schema: SchemaRef::new("batpak.event-stream-envelope.v1").unwrap(),
        payload: vec![n],
    })
}

fn subscribe_line(window: u32, resume: Option<Cursor>) -> Vec<u8> {
    encode_stream_frame(&StreamFrame::Subscribe(Subscribe {
        id: id(),
        resume,
        window: NonZeroU32::new(window).unwrap(),
    }))
}

fn ack_line(index: u64, cursor: Cursor) -> Vec<u8> {
    encode_stream_frame(&StreamFrame::Ack(SubAck {
        id: id(),
        index: NonZeroU64::new(index).unwrap(),
        cursor_after: cursor,
    }))
}

fn frames(out: &[u8]) -> Vec<StreamFrame> {
    out.split_inclusive(|b| *b == b'\n')
        .map(|line| decode_stream_line(line, &Limits::default()).unwrap())
        .collect()
}

struct Harness {
    session: StreamSession,
    feed: VecDeque<FeedPoll>,
    now: Instant,
    out: Vec<u8>,
}

impl Harness {
    fn new(config: StreamSessionConfig, window: u32) -> Self {
        let mut harness = Self::bare(config, None);
        harness.input(&subscribe_line(window, None));
        match harness.session.poll(harness.now) {
            StreamStep::Open(request) => {
                assert_eq!(request.id, id());
                harness.session.opened(Ok(()));
            }
            other => panic!("{other:?}"),
        }
        harness
    }

    fn bare(config: StreamSessionConfig, auth: Option<Arc<Authenticator>>) -> Self {
        Self {
            session: StreamSession::new(&config, auth),
            feed: VecDeque::new(),
            now: Instant::now(),
            out: Vec::new(),
        }
    }

    fn input(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        loop {
            let used = self.session.feed(rest);
            rest = &rest[used..];
            if rest.is_empty() {
                return;
            }
            // A complete line waits: let the session take it.
            if matches!(self.settle(), StreamStep::Close(_) | StreamStep::Open(_)) {
                return;
            }
        }
    }

    /// Polls until the session needs the outside world; pulls from the
    /// scripted feed while it has items.
    fn settle(&mut self) -> StreamStep {
        loop {
            let step = self.session.poll(self.now);
            self.out.extend(self.session.take_output());
            match step {
                StreamStep::Pull => match self.feed.pop_front() {
                    Some(poll) => self.session.deliver(poll),
                    None => return StreamStep::Pull,
                },
                other => return other,
            }
        }
    }

    fn take_frames(&mut self) -> Vec<StreamFrame> {
        frames(&std::mem::take(&mut self.out))
    }
}

fn indices(frames: &[StreamFrame]) -> Vec<u64> {
    frames
        .iter()
        .map(|frame| match frame {
            StreamFrame::Event(e) => e.index.get(),
            StreamFrame::Watermark(w) => w.index.get(),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn subscribe_opens_with_the_capped_window_and_the_resume_cursor() {
    let config = StreamSessionConfig::default().with_max_window(NonZeroU32::new(16).unwrap());
    let mut h = Harness::bare(config, None);
    h.input(&subscribe_line(1000, Some(cursor(9))));
    let StreamStep::Open(request) = h.session.poll(h.now) else {
        panic!()
    };
    assert_eq!(request.window.get(), 16);
    assert_eq!(request.resume, Some(cursor(9)));
    assert!(request.grants.is_all());
    assert_eq!(h.session.subscription_id(), Some(&id()));
    assert!(!h.session.is_active());
    h.session.opened(Ok(()));
    assert!(h.session.is_active());
    assert_eq!(h.session.take_counters().subscriptions_opened, 1);
}

#[test]
fn deliveries_are_numbered_from_one_counting_watermarks() {
    let mut h = Harness::new(StreamSessionConfig::default(), 10);
    h.feed.extend([
        event(1),
        FeedPoll::Watermark(cursor(2)),
        event(3),
        FeedPoll::Idle,
    ]);
    assert!(matches!(h.settle(), StreamStep::Pull));
    let got = h.take_frames();
    assert_eq!(indices(&got), vec![1, 2, 3]);
    let StreamFrame::Event(first) = &got[0] else {
        panic!()
    };
    assert_eq!(first.cursor_after, Some(cursor(1)));
    assert_eq!(first.cursor_before, Some(cursor(0)));
    assert_eq!(first.payload, vec![1]);
    assert_eq!(h.session.take_counters().deliveries, 3);
}

#[test]
fn a_full_window_pauses_delivery_until_a_cumulative_ack() {
    let mut h = Harness::new(StreamSessionConfig::default(), 2);
    h.feed.extend((1..=5).map(event));
    let StreamStep::AwaitAcks { until } = h.settle() else {
        panic!()
    };
    assert_eq!(until, h.now + DEFAULT_STALL_TIMEOUT);
    assert_eq!(indices(&h.take_frames()), vec![1, 2]);
    // One look-ahead delivery was pulled; the rest stay in the source.
    assert_eq!(h.feed.len(), 2);
    h.input(&ack_line(2, cursor(2)));
    assert!(matches!(h.settle(), StreamStep::AwaitAcks { .. }));
    assert_eq!(h.session.take_ack(), Some(cursor(2)));
    assert_eq!(h.session.take_ack(), None);
    assert_eq!(indices(&h.take_frames()), vec![3, 4]);
    h.input(&ack_line(3, cursor(3)));
    assert!(matches!(h.settle(), StreamStep::Pull));
    assert_eq!(indices(&h.take_frames()), vec![5]);
}

#[test]
fn a_stalled_consumer_is_cut_after_the_stall_timeout() {
    let stall = Duration::from_millis(500);
    let config = StreamSessionConfig::default().with_stall_timeout(stall);
    let mut h = Harness::new(config, 1);
    h.feed.extend([event(1), event(2)]);
    assert!(matches!(h.settle(), StreamStep::AwaitAcks { .. }));
    h.now += stall / 2;
    let StreamStep::AwaitAcks { until } = h.settle() else {
        panic!()
    };
    h.now = until;
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::SlowConsumer)
    ));
    let got = h.take_frames();
    let StreamFrame::Err(err) = got.last().unwrap() else {
        panic!()
    };
    assert_eq!(err.code.as_str(), "slow_consumer");
    assert_eq!(err.last_delivered, Some(cursor(1)));
    assert_eq!(err.last_acked, None);
    assert_eq!(err.message, b"delivery window full");
    assert_eq!(h.session.take_counters().slow_consumers, 1);
}

#[test]
fn an_ack_restarts_the_stall_clock() {
    let stall = Duration::from_secs(1);
    let mut h = Harness::new(StreamSessionConfig::default().with_stall_timeout(stall), 1);
    h.feed.extend([event(1), event(2), event(3)]);
    h.settle();
    h.now += Duration::from_millis(900);
    h.input(&ack_line(1, cursor(1)));
    let StreamStep::AwaitAcks { until } = h.settle() else {
        panic!()
    };
    assert_eq!(until, h.now + stall);
    h.now += Duration::from_millis(900);
    assert!(matches!(h.settle(), StreamStep::AwaitAcks { .. }));
}

#[test]
fn an_idle_source_with_a_full_window_is_not_a_slow_consumer() {
    let mut h = Harness::new(StreamSessionConfig::default(), 1);
    h.feed.extend([event(1)]);
    assert!(matches!(h.settle(), StreamStep::Pull));
    h.now += Duration::from_secs(3600);
    h.feed.push_back(FeedPoll::Idle);
    assert!(matches!(h.settle(), StreamStep::Pull));
}

fn last_err(h: &mut Harness) -> SubErr {
    match h.take_frames().pop() {
        Some(StreamFrame::Err(err)) => err,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_ack_must_carry_the_cursor_sent_at_its_index() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([event(1), event(2)]);
    h.settle();
    h.input(&ack_line(2, cursor(1)));
    assert!(matches!(h.settle(), StreamStep::Close(StreamClose::Ended)));
    let err = last_err(&mut h);
    assert_eq!(err.code.as_str(), "malformed_stream_frame");
    assert_eq!(err.message, b"ack cursor does not match sent cursor");
    assert_eq!(err.last_delivered, Some(cursor(2)));
}

#[test]
fn an_ack_past_the_last_delivery_is_out_of_range() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([event(1)]);
    h.settle();
    h.input(&ack_line(2, cursor(2)));
    h.settle();
    let err = last_err(&mut h);
    assert_eq!(err.code.as_str(), "malformed_stream_frame");
    assert_eq!(err.message, b"ack delivery index out of range");
}

#[test]
fn a_regressing_ack_is_refused_and_a_repeated_one_is_fine() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([event(1), event(2), event(3)]);
    h.settle();
    h.input(&ack_line(2, cursor(2)));
    h.input(&ack_line(2, cursor(2)));
    assert!(matches!(h.settle(), StreamStep::Pull));
    h.input(&ack_line(2, cursor(9)));
    h.settle();
    assert_eq!(
        last_err(&mut h).message,
        b"ack cursor does not match sent cursor"
    );

    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([event(1), event(2), event(3)]);
    h.settle();
    h.input(&ack_line(3, cursor(3)));
    h.input(&ack_line(1, cursor(1)));
    h.settle();
    let err = last_err(&mut h);
    assert_eq!(err.code.as_str(), "cursor_invalid");
    assert_eq!(err.message, b"ack delivery index regressed");
    assert_eq!(err.last_acked, Some(cursor(3)));
}

#[test]
fn cancel_ends_with_client_cancelled_at_the_last_delivered_cursor() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([event(1), event(2)]);
    h.settle();
    h.take_frames();
    let cancel = encode_stream_frame(&StreamFrame::Cancel(SubCancel {
        id: id(),
        reason: ReasonCode::new("client_done").unwrap(),
    }));
    h.input(&cancel);
    assert!(matches!(h.settle(), StreamStep::Close(StreamClose::Ended)));
    assert_eq!(
        h.take_frames(),
        vec![StreamFrame::End(SubEnd {
            id: id(),
            cursor_after: Some(cursor(2)),
            reason: ReasonCode::new("client_cancelled").unwrap(),
        })]
    );
}

#[test]
fn bad_control_frames_end_with_malformed_stream_frame() {
    let other_id = b"NETBAT/2 SUB_ACK other.v1 1 c001\n".to_vec();
    let cases: Vec<Vec<u8>> = vec![
        b"garbage\n".to_vec(),
        other_id,
        subscribe_line(1, None),
        b"NETBAT/1 AUTH 00\n".to_vec(),
        vec![b'x'; 70_000],
    ];
    for line in cases {
        let mut h = Harness::new(StreamSessionConfig::default(), 8);
        h.feed.extend([event(1)]);
        h.settle();
        h.take_frames();
        h.input(&line);
        assert!(matches!(h.settle(), StreamStep::Close(StreamClose::Ended)));
        let err = last_err(&mut h);
        assert_eq!(err.code.as_str(), "malformed_stream_frame");
        assert_eq!(err.message, b"malformed stream control frame");
        assert_eq!(err.last_delivered, Some(cursor(1)));
    }
}

#[test]
fn the_first_frame_must_be_subscribe() {
    for first in [
        &b"NETBAT/2 SUB_ACK orders.open.v1 1 00\n"[..],
        b"NETBAT/2 SUBSCRIBE Bad.v1 - 1\n",
        b"NETBAT/1 CALL a 00\n",
        b"hello\n",
    ] {
        let mut h = Harness::bare(StreamSessionConfig::default(), None);
        h.input(first);
        assert!(matches!(
            h.settle(),
            StreamStep::Close(StreamClose::Malformed)
        ));
        assert!(h.out.is_empty(), "a malformed first frame gets no reply");
        assert_eq!(h.session.take_counters().malformed, 1);
    }
    let mut h = Harness::bare(StreamSessionConfig::default(), None);
    h.input(&vec![b'x'; 70_000]);
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::Malformed)
    ));
    assert_eq!(h.session.take_counters().limit_failures, 1);
}

#[test]
fn an_unknown_id_gets_unknown_subscription() {
    let mut h = Harness::bare(StreamSessionConfig::default(), None);
    h.input(&subscribe_line(4, None));
    assert!(matches!(h.session.poll(h.now), StreamStep::Open(_)));
    h.session
        .opened(Err(OpenFailure::unknown_subscription(&id())));
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::Refused)
    ));
    assert_eq!(
        h.out,
        format!(
            "NETBAT/2 SUB_ERR {ID} unknown_subscription - - {}\n",
            crate::encode_hex(ID.as_bytes())
        )
        .into_bytes()
    );
    assert_eq!(h.session.take_counters().subscriptions_refused, 1);
}

#[test]
fn the_feed_ends_or_fails_the_subscription() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([
        event(1),
        FeedPoll::End {
            reason: ReasonCode::new("source_exhausted").unwrap(),
            cursor_after: None,
        },
    ]);
    assert!(matches!(h.settle(), StreamStep::Close(StreamClose::Ended)));
    let StreamFrame::End(end) = h.take_frames().pop().unwrap() else {
        panic!()
    };
    assert_eq!(end.cursor_after, Some(cursor(1)));

    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([FeedPoll::Failed {
        code: ReasonCode::new("internal_error").unwrap(),
        message: "store.io: read failed".into(),
    }]);
    h.settle();
    let err = last_err(&mut h);
    assert_eq!(err.code.as_str(), "internal_error");
    assert_eq!(err.message, b"store.io: read failed");
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([FeedPoll::Failed {
        code: ReasonCode::new("slow_consumer").unwrap(),
        message: "cut by the source".into(),
    }]);
    h.settle();
    assert_eq!(h.session.take_counters().slow_consumers, 1);
}

#[test]
fn oversized_deliveries_end_the_subscription_instead_of_breaking_the_peer() {
    let limits = Limits::default()
        .with_max_stream_payload_bytes(1)
        .with_max_cursor_bytes(2);
    let config = StreamSessionConfig::default().with_limits(limits);
    let mut h = Harness::new(config, 8);
    h.feed.extend([FeedPoll::Event(FeedEvent {
        cursor_before: None,
        cursor_after: cursor(1),
        schema: SchemaRef::new("s").unwrap(),
        payload: vec![1, 2],
    })]);
    h.settle();
    assert_eq!(last_err(&mut h).code.as_str(), "stream_payload_too_large");
    let mut h = Harness::new(config, 8);
    h.feed
        .extend([FeedPoll::Watermark(Cursor::new(vec![1, 2, 3]))]);
    h.settle();
    assert_eq!(last_err(&mut h).code.as_str(), "cursor_too_large");
}

#[test]
fn end_of_input_closes_quietly() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.session.end_of_input();
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::PeerClosed)
    ));
    assert!(h.out.is_empty());
    let mut h = Harness::bare(StreamSessionConfig::default(), None);
    h.session.end_of_input();
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::EmptyStream)
    ));
}

#[test]
fn shutdown_ends_an_active_subscription() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.feed.extend([event(4)]);
    h.settle();
    h.take_frames();
    h.session.shutdown();
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::Shutdown)
    ));
    let StreamFrame::End(end) = h.take_frames().pop().unwrap() else {
        panic!()
    };
    assert_eq!(end.reason.as_str(), "server_shutdown");
    assert_eq!(end.cursor_after, Some(cursor(4)));
}

fn auth() -> Arc<Authenticator> {
    let auth = Arc::new(Authenticator::new());
    auth.add_token(b"sub-token", Grants::of(["event.read"]));
    auth
}

#[test]
fn subscribing_without_credentials_is_refused() {
    let mut h = Harness::bare(StreamSessionConfig::default(), Some(auth()));
    h.input(&subscribe_line(1, None));
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::Unauthenticated)
    ));
    let err = last_err(&mut h);
    assert_eq!(err.code.as_str(), "unauthenticated");
    assert_eq!(err.message, b"unauthenticated: no credentials presented");
    let counters = h.session.take_counters();
    assert_eq!(
        (counters.auth_failures, counters.subscriptions_refused),
        (1, 1)
    );
}

#[test]
fn a_token_line_before_subscribe_authenticates() {
    let mut h = Harness::bare(StreamSessionConfig::default(), Some(auth()));
    h.input(&encode_auth(b"sub-token"));
    assert!(matches!(h.settle(), StreamStep::NeedInput));
    assert_eq!(std::mem::take(&mut h.out), b"OK \n");
    h.input(&subscribe_line(1, None));
    let StreamStep::Open(request) = h.settle() else {
        panic!()
    };
    assert!(request.grants.allows("event.read"));
    assert!(!request.grants.allows("event.append"));
    h.session
        .opened(Err(OpenFailure::forbidden("needs event.append")));
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::Refused)
    ));
    assert_eq!(last_err(&mut h).code.as_str(), "forbidden");
    assert_eq!(h.session.take_counters().auth_failures, 1);
}

#[test]
fn a_wrong_token_before_subscribe_is_refused() {
    let mut h = Harness::bare(StreamSessionConfig::default(), Some(auth()));
    h.input(&encode_auth(b"nope"));
    assert!(matches!(
        h.settle(),
        StreamStep::Close(StreamClose::Unauthenticated)
    ));
    assert!(h.out.starts_with(b"ERR unauthenticated "));
}

#[test]
fn a_pull_while_one_is_pending_is_an_internal_error() {
    let mut h = Harness::new(StreamSessionConfig::default(), 1);
    h.feed.extend([event(1), event(2)]);
    h.settle();
    h.session.deliver(event(3));
    assert!(matches!(h.settle(), StreamStep::Close(StreamClose::Ended)));
    assert_eq!(last_err(&mut h).code.as_str(), "internal_error");
    assert!(format!("{:?}", h.session).contains("StreamSession"));
}

#[test]
fn deliveries_at_exactly_the_limits_pass_and_one_more_byte_ends_the_subscription() {
    let limits = Limits::default()
        .with_max_stream_payload_bytes(2)
        .with_max_cursor_bytes(2);
    let config = StreamSessionConfig::default().with_limits(limits);
    let at_limit = |before: Option<Cursor>, after: Cursor, payload: Vec<u8>| {
        FeedPoll::Event(FeedEvent {
            cursor_before: before,
            cursor_after: after,
            schema: SchemaRef::new("s").unwrap(),
            payload,
        })
    };
    let mut h = Harness::new(config, 8);
    h.feed.extend([
        at_limit(
            Some(Cursor::new(vec![1, 2])),
            Cursor::new(vec![3, 4]),
            vec![5, 6],
        ),
        FeedPoll::Watermark(Cursor::new(vec![7, 8])),
    ]);
    assert!(matches!(h.settle(), StreamStep::Pull));
    assert_eq!(indices(&h.take_frames()), vec![1, 2]);

    let cases = [
        (
            at_limit(None, Cursor::new(vec![1, 2, 3]), vec![]),
            "cursor_too_large",
        ),
        (
            at_limit(
                Some(Cursor::new(vec![1, 2, 3])),
                Cursor::new(vec![1]),
                vec![],
            ),
            "cursor_too_large",
        ),
        (
            at_limit(None, Cursor::new(vec![1]), vec![1, 2, 3]),
            "stream_payload_too_large",
        ),
        (
            FeedPoll::Watermark(Cursor::new(vec![1, 2, 3])),
            "cursor_too_large",
        ),
    ];
    for (poll, code) in cases {
        let mut h = Harness::new(config, 8);
        h.feed.push_back(poll);
        assert!(matches!(h.settle(), StreamStep::Close(StreamClose::Ended)));
        assert_eq!(last_err(&mut h).code.as_str(), code);
    }
}

#[test]
fn a_cancel_for_another_subscription_is_malformed() {
    let mut h = Harness::new(StreamSessionConfig::default(), 8);
    h.input(b"NETBAT/2 SUB_CANCEL other.v1 client_done\n");
    assert!(matches!(h.settle(), StreamStep::Close(StreamClose::Ended)));
    assert_eq!(last_err(&mut h).code.as_str(), "malformed_stream_frame");
}

#[test]
fn a_transport_principal_subscribes_without_an_auth_line() {
    let auth = auth();
    auth.add_certificate(b"client-der", Grants::of(["event.read"]));
    let principal = auth.authenticate_certificate(b"client-der").unwrap();
    let mut h = Harness::bare(StreamSessionConfig::default(), Some(auth));
    h.session.set_principal(principal);
    h.input(&subscribe_line(1, None));
    let StreamStep::Open(request) = h.settle() else {
        panic!()
    };
    assert!(request.grants.allows("event.read"));
}

#[test]
fn output_and_partial_lines_are_visible_to_the_adapter() {
    let mut h = Harness::bare(StreamSessionConfig::default(), None);
    h.session.feed(b"NETBAT/2 SUBSC");
    assert!(h.session.is_mid_line());
    assert!(matches!(h.session.poll(h.now), StreamStep::NeedInput));
    h.session.feed(b"RIBE orders.open.v1 - 4\n");
    assert!(!h.session.is_mid_line());
    assert!(matches!(h.session.poll(h.now), StreamStep::Open(_)));
    h.session.opened(Ok(()));
    assert_eq!(h.session.output_len(), 0);
    h.session.deliver(event(1));
    assert!(matches!(h.session.poll(h.now), StreamStep::Pull));
    let len = h.session.output_len();
    assert!(len > 1);
    assert_eq!(h.session.take_output().len(), len);
    assert_eq!(h.session.output_len(), 0);
}
