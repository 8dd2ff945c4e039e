//! Helpers shared by the loopback tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use netbat::{dispatch_fn, CallFailure, Dispatch, Grants};

/// A loopback listener on a free port.
pub(crate) fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// `echo` returns its input, `boom` panics, `needs.write` needs
/// `event.append`, `sleep` sleeps for its input's first byte in milliseconds.
pub(crate) fn test_dispatch() -> impl Dispatch {
    dispatch_fn(|op: &str, input: &[u8], grants: &Grants| match op {
        "echo" => Ok(input.to_vec()),
        "boom" => panic!("handler panicked on purpose"),
        "needs.write" if grants.allows("event.append") => Ok(b"written".to_vec()),
        "needs.write" => Err(CallFailure::forbidden("needs.write", "event.append")),
        "sleep" => {
            std::thread::sleep(Duration::from_millis(u64::from(
                input.first().copied().unwrap_or(0),
            )));
            Ok(Vec::new())
        }
        other => Err(CallFailure::unknown_operation(other)),
    })
}

/// Connects with a read timeout so that no test can hang on a read.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads one line (up to LF) byte by byte.
pub(crate) fn read_line(stream: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0_u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return line,
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return line;
                }
            }
            Err(error) => panic!(
                "read failed after {:?}: {error}",
                String::from_utf8_lossy(&line)
            ),
        }
    }
}

/// Reads until the server closes (or resets) the connection.
pub(crate) fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends bytes and reads one response line.
pub(crate) fn roundtrip(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    stream.write_all(request).unwrap();
    read_line(stream)
}

/// The soft limit on open files, raised towards `wanted` with `prlimit`
/// when it is lower (no unsafe code needed); returns the limit in force.
pub(crate) fn ensure_fd_limit(wanted: u64) -> u64 {
    let read = || -> Option<(u64, u64)> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let mut fields = line.split_whitespace().skip(3);
        let soft = fields.next()?.parse().ok()?;
        let hard = fields.next().and_then(|f| f.parse().ok()).unwrap_or(soft);
        Some((soft, hard))
    };
    let Some((soft, hard)) = read() else {
        return wanted;
    };
    if soft >= wanted {
        return soft;
    }
    let target = wanted.min(hard);
    let _ = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={target}:{hard}"))
        .status();
    read().map_or(soft, |(soft, _)| soft)
}

/// Resident memory of this process in KiB (Linux), if known.
pub(crate) fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `condition` every 5 ms for at most `limit`.
pub(crate) fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// An in-memory event log served as subscription `log.events.v1`: the cursor
/// after event `n` (from 1) is `n` as 8 big-endian bytes; `boom.v1` panics
/// on open; everything else is unknown.
#[derive(Clone, Default)]
pub(crate) struct MemoryLog {
    events: std::sync::Arc<(std::sync::Mutex<Vec<Vec<u8>>>, std::sync::Condvar)>,
    acks: std::sync::Arc<std::sync::Mutex<Vec<netbat::Cursor>>>,
}

impl MemoryLog {
    pub(crate) fn with_events(count: u64) -> Self {
        let log = Self::default();
        for n in 1..=count {
            log.append(format!("event {n}").into_bytes());
        }
        log
    }

    pub(crate) fn append(&self, payload: Vec<u8>) {
        let (events, changed) = &*self.events;
        events.lock().unwrap().push(payload);
        changed.notify_all();
    }

    pub(crate) fn acks(&self) -> Vec<netbat::Cursor> {
        self.acks.lock().unwrap().clone()
    }
}

pub(crate) fn log_cursor(n: u64) -> netbat::Cursor {
    netbat::Cursor::new(n.to_be_bytes().to_vec())
}

struct LogFeed {
    log: MemoryLog,
    next: u64,
}

impl netbat::SubscriptionFeed for LogFeed {
    fn poll(&mut self, timeout: Duration) -> netbat::FeedPoll {
        let (events, changed) = &*self.log.events;
        let guard = events.lock().unwrap();
        let (guard, _) = changed
            .wait_timeout_while(guard, timeout, |events| events.len() as u64 <= self.next)
            .unwrap();
        let Some(payload) = guard.get(self.next as usize) else {
            return netbat::FeedPoll::Idle;
        };
        let before = (self.next > 0).then(|| log_cursor(self.next));
        self.next += 1;
        netbat::FeedPoll::Event(netbat::FeedEvent {
            cursor_before: before,
            cursor_after: log_cursor(self.next),
            schema: netbat::SchemaRef::new("test.log.v1").unwrap(),
            payload: payload.clone(),
        })
    }

    fn acknowledged(&mut self, cursor: &netbat::Cursor) {
        self.log.acks.lock().unwrap().push(cursor.clone());
    }
}

impl netbat::SubscriptionSource for MemoryLog {
    fn open(
        &self,
        request: &netbat::OpenRequest,
    ) -> Result<Box<dyn netbat::SubscriptionFeed>, netbat::OpenFailure> {
        match request.id.as_str() {
            "log.events.v1" => {
                let next = match &request.resume {
                    None => 0,
                    Some(cursor) => {
                        let bytes: [u8; 8] = cursor.as_bytes().try_into().map_err(|_| {
                            netbat::OpenFailure::cursor_invalid("cursor is not 8 bytes")
                        })?;
                        u64::from_be_bytes(bytes)
                    }
                };
                Ok(Box::new(LogFeed {
                    log: self.clone(),
                    next,
                }))
            }
            "secret.events.v1" if !request.grants.allows("event.read") => {
                Err(netbat::OpenFailure::forbidden("needs event.read"))
            }
            "secret.events.v1" => Ok(Box::new(LogFeed {
                log: self.clone(),
                next: 0,
            })),
            "boom.v1" => panic!("source panicked on purpose"),
            _ => Err(netbat::OpenFailure::unknown_subscription(&request.id)),
        }
    }
}
