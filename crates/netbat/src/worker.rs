//! Per-connection workers: they move bytes between a connection and its
//! session, enforce the read, idle and write deadlines, run calls and feeds
//! with panics contained, and report to the listener's counters.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::dispatch::{CallFailure, Dispatch};
use crate::session::{
    CallSession, CallSessionConfig, CallStep, CloseReason, StreamClose, StreamSession,
    StreamSessionConfig, StreamStep,
};
use crate::stats::StatsCell;
use crate::subscription::{FeedPoll, OpenFailure, SubscriptionFeed, SubscriptionSource};
use crate::tcp::{ServerConfig, ShutdownHandle, Timeouts};
use crate::transport::{linger, read_until, Conn, ReadOutcome};

const READ_CHUNK: usize = 16 * 1024;
/// Pipelined answers are written once this many bytes are waiting.
const FLUSH_BYTES: usize = 64 * 1024;
const LINGER_TIME: Duration = Duration::from_millis(250);
const LINGER_BYTES: usize = 1 << 20;
const READER_QUEUE: usize = 4;

/// What ended a connection.
#[derive(Debug)]
pub(crate) enum End {
    Closed,
    Linger,
    TimedOut,
    Io,
}

/// What every worker of one listener shares.
pub(crate) struct WorkerContext {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) stats: Arc<StatsCell>,
    pub(crate) shutdown: ShutdownHandle,
}

impl WorkerContext {
    pub(crate) fn record(&self, end: &End) {
        match end {
            End::TimedOut => StatsCell::bump(&self.stats.timeouts),
            End::Io => StatsCell::bump(&self.stats.connection_io_failures),
            End::Closed | End::Linger => {}
        }
    }
}

/// The read deadline: the first line within `read` of the connection's
/// start, any later line within `read` of its first byte, and the first byte
/// of a later line within `idle` of the previous answer.
struct Deadlines {
    timeouts: Timeouts,
    started: Instant,
    line_started: Option<Instant>,
    answered: Option<Instant>,
    armed: Option<Duration>,
}

impl Deadlines {
    fn new(timeouts: Timeouts, started: Instant) -> Self {
        Self {
            timeouts,
            started,
            line_started: None,
            answered: None,
            armed: None,
        }
    }

    fn answered(&mut self, now: Instant) {
        self.answered = Some(now);
    }

    fn next(&mut self, mid_line: bool, now: Instant) -> Instant {
        if !mid_line {
            self.line_started = None;
            return match self.answered {
                Some(at) => at + self.timeouts.idle,
                None => self.started + self.timeouts.read,
            };
        }
        let started = *self.line_started.get_or_insert(now);
        match self.answered {
            Some(_) => started + self.timeouts.read,
            None => (started + self.timeouts.read).min(self.started + self.timeouts.read),
        }
    }
}

/// Bytes read from the peer and not yet fed to the session.
struct Inbox {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Inbox {
    fn new() -> Self {
        Self {
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.start >= self.end
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    fn fill(&mut self, n: usize) {
        self.start = 0;
        self.end = n;
    }

    fn replace(&mut self, bytes: Vec<u8>) {
        self.end = bytes.len();
        self.buf = bytes;
        self.start = 0;
    }
}

fn flush(writer: &mut dyn Write, out: &[u8]) -> Result<(), End> {
    if out.is_empty() {
        return Ok(());
    }
    writer
        .write_all(out)
        .and_then(|()| writer.flush())
        .map_err(|error| {
            tracing::debug!(kind = ?error.kind(), "write failed");
            End::Io
        })
}

/// Runs one call with panics contained.
fn dispatch_call(
    dispatch: &dyn Dispatch,
    call: &crate::session::PendingCall,
    stats: &StatsCell,
) -> Result<Vec<u8>, CallFailure> {
    let span = tracing::debug_span!("netbat.call", operation = %call.operation, input_bytes = call.input.len());
    let _entered = span.enter();
    match catch_unwind(AssertUnwindSafe(|| {
        dispatch.call(&call.operation, &call.input, &call.grants)
    })) {
        Ok(result) => result,
        Err(_) => {
            StatsCell::bump(&stats.worker_panics);
            tracing::warn!(operation = %call.operation, "handler panicked");
            Err(CallFailure::runtime("handler panicked"))
        }
    }
}

/// Serves a NETBAT/1 connection until it closes.
pub(crate) fn serve_calls(
    conn: &mut dyn Conn,
    session: &mut CallSession,
    dispatch: &dyn Dispatch,
    ctx: &WorkerContext,
    started: Instant,
) -> End {
    let mut deadlines = Deadlines::new(ctx.config.timeouts, started);
    let mut inbox = Inbox::new();
    let end = loop {
        if ctx.shutdown.is_shutdown() {
            session.shutdown();
        }
        match session.poll() {
            CallStep::Dispatch(call) => {
                let result = dispatch_call(dispatch, &call, &ctx.stats);
                session.complete(result);
                if session.output_len() >= FLUSH_BYTES {
                    if let Err(end) = flush(conn, &session.take_output()) {
                        break end;
                    }
                    deadlines.answered(Instant::now());
                }
            }
            CallStep::NeedInput => {
                if !inbox.is_empty() {
                    let used = session.feed(inbox.pending());
                    inbox.consume(used);
                    if used > 0 {
                        continue;
                    }
                }
                if session.output_len() > 0 {
                    if let Err(end) = flush(conn, &session.take_output()) {
                        break end;
                    }
                    deadlines.answered(Instant::now());
                }
                let deadline = deadlines.next(session.is_mid_request(), Instant::now());
                match read_until(conn, &mut inbox.buf, deadline, &mut deadlines.armed) {
                    ReadOutcome::Data(n) => inbox.fill(n),
                    ReadOutcome::Eof => session.end_of_input(),
                    ReadOutcome::TimedOut => break End::TimedOut,
                    ReadOutcome::Failed(kind) => {
                        tracing::debug!(?kind, "read failed");
                        break End::Io;
                    }
                }
            }
            CallStep::Close(reason) => {
                if let Err(end) = flush(conn, &session.take_output()) {
                    break end;
                }
                tracing::debug!(?reason, "connection closing");
                break match reason {
                    CloseReason::LineTooLong
                    | CloseReason::Unauthenticated
                    | CloseReason::RequestLimit
                    | CloseReason::Shutdown => End::Linger,
                    _ => End::Closed,
                };
            }
        }
        ctx.stats.add(&session.take_counters());
    };
    ctx.stats.add(&session.take_counters());
    if matches!(end, End::Linger) {
        linger(conn, LINGER_TIME, LINGER_BYTES);
    }
    end
}

pub(crate) fn call_session_config(config: &ServerConfig) -> CallSessionConfig {
    CallSessionConfig::default()
        .with_limits(config.limits)
        .with_max_requests_per_connection(config.max_requests_per_connection)
}

pub(crate) fn stream_session_config(config: &ServerConfig) -> StreamSessionConfig {
    StreamSessionConfig::default()
        .with_limits(config.limits)
        .with_max_window(config.max_window)
        .with_stall_timeout(config.stall_timeout)
}

/// Serves a NETBAT/2 connection until it closes: the handshake on this
/// thread, then a reader thread feeding client frames while this thread
/// pulls the feed and writes deliveries.
pub(crate) fn serve_stream(
    mut conn: Box<dyn Conn>,
    session: &mut StreamSession,
    source: &dyn SubscriptionSource,
    ctx: &WorkerContext,
    started: Instant,
) -> End {
    let mut deadlines = Deadlines::new(ctx.config.timeouts, started);
    let mut inbox = Inbox::new();
    let feed = loop {
        if ctx.shutdown.is_shutdown() {
            session.shutdown();
        }
        match session.poll(Instant::now()) {
            StreamStep::NeedInput => {
                if !inbox.is_empty() {
                    let used = session.feed(inbox.pending());
                    inbox.consume(used);
                    if used > 0 {
                        continue;
                    }
                }
                if session.output_len() > 0 {
                    if let Err(end) = flush(&mut conn, &session.take_output()) {
                        return end;
                    }
                    deadlines.answered(Instant::now());
                }
                let deadline = deadlines.next(session.is_mid_line(), Instant::now());
                match read_until(
                    conn.as_mut(),
                    &mut inbox.buf,
                    deadline,
                    &mut deadlines.armed,
                ) {
                    ReadOutcome::Data(n) => inbox.fill(n),
                    ReadOutcome::Eof => session.end_of_input(),
                    ReadOutcome::TimedOut => return finish_stream(session, ctx, End::TimedOut),
                    ReadOutcome::Failed(_) => return finish_stream(session, ctx, End::Io),
                }
            }
            StreamStep::Open(request) => {
                let span = tracing::debug_span!("netbat.subscribe", id = %request.id);
                let _entered = span.enter();
                match catch_unwind(AssertUnwindSafe(|| source.open(&request))) {
                    Ok(Ok(feed)) => {
                        session.opened(Ok(()));
                        break feed;
                    }
                    Ok(Err(failure)) => session.opened(Err(failure)),
                    Err(_) => {
                        StatsCell::bump(&ctx.stats.worker_panics);
                        session.opened(Err(OpenFailure::internal("subscription source panicked")));
                    }
                }
            }
            StreamStep::Close(reason) => {
                let end = match flush(&mut conn, &session.take_output()) {
                    Ok(()) => close_end(reason),
                    Err(end) => end,
                };
                if matches!(end, End::Linger) {
                    linger(conn.as_mut(), LINGER_TIME, LINGER_BYTES);
                }
                return finish_stream(session, ctx, end);
            }
            StreamStep::Pull | StreamStep::AwaitAcks { .. } => {
                return finish_stream(session, ctx, End::Closed);
            }
        }
    };
    ctx.stats.add(&session.take_counters());
    let leftover = inbox.pending().to_vec();
    let end = stream_active(conn, session, feed, leftover, ctx);
    finish_stream(session, ctx, end)
}

fn finish_stream(session: &mut StreamSession, ctx: &WorkerContext, end: End) -> End {
    ctx.stats.add(&session.take_counters());
    end
}

fn close_end(reason: StreamClose) -> End {
    match reason {
        StreamClose::Unauthenticated | StreamClose::Refused => End::Linger,
        _ => End::Closed,
    }
}

enum Chunk {
    Data(Vec<u8>),
    Eof,
}

fn spawn_reader(
    mut reader: Box<dyn Read + Send>,
    tx: flume::Sender<Chunk>,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name("netbat-sub-reader".to_owned())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut buf = vec![0_u8; READ_CHUNK];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send(Chunk::Data(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(Chunk::Eof);
        })
}

fn stream_active(
    conn: Box<dyn Conn>,
    session: &mut StreamSession,
    mut feed: Box<dyn SubscriptionFeed>,
    leftover: Vec<u8>,
    ctx: &WorkerContext,
) -> End {
    if conn.socket().set_read_timeout(None).is_err() {
        return End::Io;
    }
    let halves = match conn.into_halves() {
        Ok(halves) => halves,
        Err(_) => return End::Io,
    };
    let (tx, rx) = flume::bounded(READER_QUEUE);
    let reader = match spawn_reader(halves.reader, tx) {
        Ok(handle) => handle,
        Err(_) => {
            StatsCell::bump(&ctx.stats.spawn_failures);
            let _ = halves.socket.shutdown(Shutdown::Both);
            return End::Closed;
        }
    };
    let mut writer = halves.writer;
    let mut inbox = Inbox::new();
    inbox.replace(leftover);
    let mut eof = false;
    let poll_interval = ctx.config.feed_poll_interval;
    let end = loop {
        if ctx.shutdown.is_shutdown() {
            session.shutdown();
        }
        // Feed what the client sent, one line at a time.
        if inbox.is_empty() && !eof {
            match rx.try_recv() {
                Ok(Chunk::Data(bytes)) => inbox.replace(bytes),
                Ok(Chunk::Eof) | Err(flume::TryRecvError::Disconnected) => {
                    eof = true;
                    session.end_of_input();
                }
                Err(flume::TryRecvError::Empty) => {}
            }
        }
        if !inbox.is_empty() {
            let used = session.feed(inbox.pending());
            inbox.consume(used);
        }
        if let Some(cursor) = session.take_ack() {
            feed.acknowledged(&cursor);
        }
        let step = session.poll(Instant::now());
        match step {
            StreamStep::Pull => {
                if !inbox.is_empty() {
                    continue;
                }
                let timeout = if session.output_len() > 0 {
                    Duration::ZERO
                } else {
                    poll_interval
                };
                let polled = match catch_unwind(AssertUnwindSafe(|| feed.poll(timeout))) {
                    Ok(polled) => polled,
                    Err(_) => {
                        StatsCell::bump(&ctx.stats.worker_panics);
                        FeedPoll::Failed {
                            code: crate::codec::frame::ReasonCode::known(
                                crate::codec::frame::stream_code::INTERNAL_ERROR,
                            ),
                            message: "subscription feed panicked".to_owned(),
                        }
                    }
                };
                if polled == FeedPoll::Idle && session.output_len() > 0 {
                    if let Err(end) = flush(&mut writer, &session.take_output()) {
                        break end;
                    }
                }
                session.deliver(polled);
                if session.output_len() >= FLUSH_BYTES {
                    if let Err(end) = flush(&mut writer, &session.take_output()) {
                        break end;
                    }
                }
            }
            StreamStep::AwaitAcks { until } => {
                if let Err(end) = flush(&mut writer, &session.take_output()) {
                    break end;
                }
                if !inbox.is_empty() {
                    continue;
                }
                if eof {
                    thread::sleep(
                        poll_interval.min(until.saturating_duration_since(Instant::now())),
                    );
                    continue;
                }
                let wait = until
                    .saturating_duration_since(Instant::now())
                    .min(poll_interval);
                match rx.recv_timeout(wait) {
                    Ok(Chunk::Data(bytes)) => inbox.replace(bytes),
                    Ok(Chunk::Eof) | Err(flume::RecvTimeoutError::Disconnected) => {
                        eof = true;
                        session.end_of_input();
                    }
                    Err(flume::RecvTimeoutError::Timeout) => {}
                }
            }
            StreamStep::NeedInput | StreamStep::Open(_) => {
                if !inbox.is_empty() {
                    continue;
                }
                match rx.recv_timeout(poll_interval) {
                    Ok(Chunk::Data(bytes)) => inbox.replace(bytes),
                    Ok(Chunk::Eof) | Err(flume::RecvTimeoutError::Disconnected) => {
                        eof = true;
                        session.end_of_input();
                    }
                    Err(flume::RecvTimeoutError::Timeout) => {}
                }
            }
            StreamStep::Close(reason) => {
                tracing::debug!(?reason, "subscription closing");
                if let Err(end) = flush(&mut writer, &session.take_output()) {
                    break end;
                }
                break End::Closed;
            }
        }
        ctx.stats.add(&session.take_counters());
    };
    let _ = writer.flush();
    drop(writer);
    let _ = halves.socket.shutdown(Shutdown::Both);
    drop(rx);
    let _ = reader.join();
    end
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn timeouts() -> Timeouts {
        Timeouts::default()
            .with_read(Duration::from_secs(2))
            .with_idle(Duration::from_secs(5))
    }

    #[test]
    fn the_first_line_is_bounded_by_the_read_timeout_from_the_start() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(timeouts(), start);
        assert_eq!(deadlines.next(false, start), start + Duration::from_secs(2));
        let later = start + Duration::from_secs(1);
        assert_eq!(deadlines.next(true, later), start + Duration::from_secs(2));
    }

    #[test]
    fn later_lines_get_idle_then_read_time() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(timeouts(), start);
        let answered = start + Duration::from_secs(1);
        deadlines.answered(answered);
        assert_eq!(
            deadlines.next(false, answered),
            answered + Duration::from_secs(5)
        );
        let first_byte = answered + Duration::from_secs(4);
        assert_eq!(
            deadlines.next(true, first_byte),
            first_byte + Duration::from_secs(2)
        );
        // Trickling more bytes does not move the line's deadline.
        assert_eq!(
            deadlines.next(true, first_byte + Duration::from_secs(1)),
            first_byte + Duration::from_secs(2)
        );
        assert_eq!(
            deadlines.next(false, first_byte + Duration::from_secs(1)),
            answered + Duration::from_secs(5)
        );
    }

    #[test]
    fn inbox_bookkeeping() {
        let mut inbox = Inbox::new();
        assert!(inbox.is_empty());
        inbox.buf[..3].copy_from_slice(b"abc");
        inbox.fill(3);
        assert_eq!(inbox.pending(), b"abc");
        inbox.consume(2);
        assert_eq!(inbox.pending(), b"c");
        inbox.replace(b"xy".to_vec());
        assert_eq!(inbox.pending(), b"xy");
        inbox.consume(2);
        assert!(inbox.is_empty());
    }
}
