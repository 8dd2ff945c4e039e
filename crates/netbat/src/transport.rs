//! What a worker needs from an accepted connection, plain or TLS.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// An accepted connection's byte stream.
pub(crate) trait Conn: Read + Write + Send {
    /// The TCP socket underneath (for timeouts and shutdown).
    fn socket(&self) -> &TcpStream;

    /// Ends our sending side cleanly (TLS: `close_notify` first).
    fn close_write(&mut self) {
        let _ = self.flush();
        let _ = self.socket().shutdown(Shutdown::Write);
    }

    /// The peer's end-entity certificate (DER), when TLS verified one.
    fn peer_certificate(&self) -> Option<Vec<u8>> {
        None
    }

    /// Splits into a reader (for a reader thread) and a writer.
    fn into_halves(self: Box<Self>) -> io::Result<Halves>;
}

/// The two halves of a connection, and a socket to shut down both.
pub(crate) struct Halves {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) writer: Box<dyn Write + Send>,
    pub(crate) socket: TcpStream,
}

impl Conn for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }

    fn into_halves(self: Box<Self>) -> io::Result<Halves> {
        Ok(Halves {
            reader: Box::new(self.try_clone()?),
            socket: self.try_clone()?,
            writer: self,
        })
    }
}

/// Re-arming a socket's read timeout costs a system call; it is re-armed
/// only when the remaining time is this much shorter than the armed one.
const TIMEOUT_SLACK: Duration = Duration::from_millis(100);

/// The outcome of a bounded read.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    Data(usize),
    Eof,
    TimedOut,
    Failed(io::ErrorKind),
}

/// Reads once, giving up at `deadline`.
pub(crate) fn read_until(
    conn: &mut dyn Conn,
    buf: &mut [u8],
    deadline: Instant,
    armed: &mut Option<Duration>,
) -> ReadOutcome {
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return ReadOutcome::TimedOut;
        }
        let rearm = armed
            .is_none_or(|current| current > remaining + TIMEOUT_SLACK || current < remaining / 2);
        if rearm {
            if let Err(error) = conn.socket().set_read_timeout(Some(remaining)) {
                return ReadOutcome::Failed(error.kind());
            }
            *armed = Some(remaining);
        }
        match conn.read(buf) {
            Ok(0) => return ReadOutcome::Eof,
            Ok(n) => return ReadOutcome::Data(n),
            Err(error) => match error.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => {}
                io::ErrorKind::UnexpectedEof => return ReadOutcome::Eof,
                kind => return ReadOutcome::Failed(kind),
            },
        }
    }
}

/// After an answer that closes the connection (`line_too_long`,
/// `unauthenticated`, the request limit), ends our side and reads what the
/// peer still sends for a moment, so that closing does not reset the
/// connection before the peer has read the answer.
pub(crate) fn linger(conn: &mut dyn Conn, budget: Duration, max_bytes: usize) {
    conn.close_write();
    let deadline = Instant::now() + budget;
    let mut scratch = [0_u8; 4096];
    let mut drained = 0;
    let mut armed = None;
    while drained < max_bytes {
        match read_until(conn, &mut scratch, deadline, &mut armed) {
            ReadOutcome::Data(n) => drained += n,
            ReadOutcome::Eof | ReadOutcome::TimedOut | ReadOutcome::Failed(_) => break,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn reads_data_then_eof() {
        let (mut client, mut server) = pair();
        client.write_all(b"abc").unwrap();
        let mut buf = [0_u8; 8];
        let mut armed = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        let ReadOutcome::Data(n) = read_until(&mut server, &mut buf, deadline, &mut armed) else {
            panic!()
        };
        assert_eq!(&buf[..n], b"abc");
        assert!(armed.is_some());
        drop(client);
        assert!(matches!(
            read_until(&mut server, &mut buf, deadline, &mut armed),
            ReadOutcome::Eof
        ));
    }

    #[test]
    fn a_silent_peer_times_out_at_the_deadline() {
        let (_client, mut server) = pair();
        let mut buf = [0_u8; 8];
        let mut armed = None;
        let start = Instant::now();
        let outcome = read_until(
            &mut server,
            &mut buf,
            start + Duration::from_millis(150),
            &mut armed,
        );
        assert!(matches!(outcome, ReadOutcome::TimedOut));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(150), "{took:?}");
        assert!(matches!(
            read_until(&mut server, &mut buf, Instant::now(), &mut armed),
            ReadOutcome::TimedOut
        ));
    }

    #[test]
    fn halves_share_the_socket_and_linger_ends_the_write_side() {
        let (mut client, server) = pair();
        let conn: Box<dyn Conn> = Box::new(server);
        assert!(conn.peer_certificate().is_none());
        let mut halves = conn.into_halves().unwrap();
        halves.writer.write_all(b"x").unwrap();
        let mut one = [0_u8; 1];
        client.read_exact(&mut one).unwrap();
        client.write_all(b"y").unwrap();
        halves.reader.read_exact(&mut one).unwrap();
        assert_eq!(&one, b"y");
        let mut again = halves.socket.try_clone().unwrap();
        client.write_all(b"unread").unwrap();
        linger(&mut again, Duration::from_millis(200), 1 << 16);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
}
