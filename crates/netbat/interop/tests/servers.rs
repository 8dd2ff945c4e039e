//! Server-level interop: the same request lines sent to a published netbat
//! 0.10 server (over a syncbat 0.10 `Core`) and to ours (over an equivalent
//! dispatcher) get byte-identical answers; our `Client` works against the
//! published server; lines built with the published encoder work on ours.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use netbat010 as up;
use netbat_interop::{join_line, TOKENS};
use syncbat010 as sb;

const ECHO: sb::OperationDescriptor = sb::OperationDescriptor::new(
    "echo",
    sb::EffectClass::Compute,
    "schema.echo.input.v1",
    "schema.echo.output.v1",
    "receipt.echo.v1",
);
const FAIL: sb::OperationDescriptor = sb::OperationDescriptor::new(
    "fail",
    sb::EffectClass::Compute,
    "schema.fail.input.v1",
    "schema.fail.output.v1",
    "receipt.fail.v1",
);

struct Echo;
impl sb::Handler for Echo {
    fn handle(&mut self, input: &[u8], _cx: &mut sb::Ctx<'_>) -> sb::HandlerResult {
        Ok(input.to_vec())
    }
}

struct Fail;
impl sb::Handler for Fail {
    fn handle(&mut self, _input: &[u8], _cx: &mut sb::Ctx<'_>) -> sb::HandlerResult {
        Err(sb::HandlerError::failed("closed on sundays"))
    }
}

fn core() -> sb::Core {
    let mut builder = sb::Core::builder();
    builder.register(ECHO, Echo).expect("register echo");
    builder.register(FAIL, Fail).expect("register fail");
    builder.without_receipts();
    builder.build().expect("build core")
}

struct Upstream {
    addr: SocketAddr,
    shutdown: up::ShutdownHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl Upstream {
    fn start(max_requests: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = up::ShutdownHandle::new();
        let handle = shutdown.clone();
        let config = up::TcpServerConfig::default()
            .with_connection_limit(up::ConnectionLimit::Unlimited)
            .with_max_requests_per_connection(max_requests);
        let thread = thread::spawn(move || {
            let _ = up::serve_tcp_listener(listener, core, &config, &handle);
        });
        Self {
            addr,
            shutdown,
            thread: Some(thread),
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn ours() -> netbat::Server {
    let dispatch = netbat::dispatch_fn(
        |op: &str, input: &[u8], _grants: &netbat::Grants| match op {
            "echo" => Ok(input.to_vec()),
            "fail" => Err(netbat::CallFailure::handler(
                "fail",
                "failed",
                "closed on sundays",
            )),
            other => Err(netbat::CallFailure::unknown_operation(other)),
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    netbat::Server::calls(listener, dispatch, netbat::ServerConfig::default()).expect("serve")
}

/// Sends `bytes`, ends the sending side, and reads everything until close.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(bytes).expect("write");
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn suite() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = vec![
        up::encode_request("echo", b""),
        up::encode_request("echo", b"hello"),
        up::encode_request("echo", &[0, 255, 10, 13, 32]),
        up::encode_request("fail", b"x"),
        up::encode_request("nope.missing", b""),
        up::encode_request("a..b", b""),
        up::encode_request(&"o".repeat(129), b""),
        up::encode_request("echo", &vec![1; 32 * 1024 + 1]),
        b"NETBAT/1 CALL echo DEADbeef\r\n".to_vec(),
        b"NETBAT/1 CALL echo 00".to_vec(),
        b"CALL echo 00\n".to_vec(),
        b"NETBAT/2 SUBSCRIBE a.v1 - 1\n".to_vec(),
        b"\n".to_vec(),
        b"NETBAT/1 CALL echo 0\n".to_vec(),
        b"NETBAT/1 CALL echo zz\n".to_vec(),
        b"NETBAT/1 CALL echo 00 00\n".to_vec(),
        up::encode_request("ec", &vec![1; 32_759]),
    ];
    let mut long = up::encode_request("ech", &vec![1; 32_759]);
    assert_eq!(long.len(), 65_537);
    lines.push(std::mem::take(&mut long));
    for first in [&b"NETBAT/1"[..], b"NETBAT/2", b"CALL"] {
        for verb in [&b"CALL"[..], b"PING"] {
            for a in TOKENS.iter().step_by(3) {
                for b in TOKENS.iter().step_by(7) {
                    lines.push(join_line(&[first, verb, a, b], None, b"\n"));
                }
            }
        }
    }
    lines
}

#[test]
fn both_servers_answer_every_request_identically() {
    let upstream = Upstream::start(1);
    let server = ours();
    let lines = suite();
    for line in &lines {
        let theirs = exchange(upstream.addr, line);
        let mine = exchange(server.local_addr(), line);
        assert_eq!(
            String::from_utf8_lossy(&theirs),
            String::from_utf8_lossy(&mine),
            "request {:?}",
            String::from_utf8_lossy(&line[..line.len().min(80)])
        );
    }
    // The one intended difference: `NETBAT/1 AUTH` is our extension. The
    // published server has no such verb; ours, without credentials
    // configured, accepts it and changes nothing.
    let auth = b"NETBAT/1 AUTH 00\n";
    assert!(exchange(upstream.addr, auth).starts_with(b"ERR malformed_request "));
    assert_eq!(exchange(server.local_addr(), auth), b"OK \n");
    // Connect and close: neither answers.
    assert!(exchange(upstream.addr, b"").is_empty());
    assert!(exchange(server.local_addr(), b"").is_empty());
    let stats = server.shutdown().expect("shutdown");
    assert_eq!(stats.accepted_connections, lines.len() as u64 + 2);
}

#[test]
fn pipelined_requests_on_ours_equal_one_connection_each_on_the_published_server() {
    let upstream = Upstream::start(1);
    let server = ours();
    let lines: Vec<Vec<u8>> = suite()
        .into_iter()
        .filter(|line| line.ends_with(b"\n") && line.len() < 1000)
        .collect();
    let expected: Vec<u8> = lines
        .iter()
        .flat_map(|l| exchange(upstream.addr, l))
        .collect();
    let burst: Vec<u8> = lines.concat();
    assert_eq!(
        String::from_utf8_lossy(&exchange(server.local_addr(), &burst)),
        String::from_utf8_lossy(&expected)
    );
    drop(server);
}

#[test]
fn our_client_works_against_the_published_server() {
    let upstream = Upstream::start(1000);
    let config = netbat::ClientConfig::new(upstream.addr).with_requests_per_connection(1000);
    let mut client = netbat::Client::connect(config).expect("connect");
    for n in 0..100_u8 {
        assert_eq!(client.call("echo", &[n]).expect("call"), vec![n]);
    }
    let error = client.call("fail", b"").expect_err("handler error");
    assert_eq!(error.code(), Some(netbat::ErrorCode::Handler));
    let netbat::ClientError::Server(reply) = error else {
        panic!()
    };
    assert_eq!(
        reply.message,
        "runtime error: handler for operation `fail` failed with failed: closed on sundays"
    );
    // The published default (one request per connection) also works, a
    // connection per call.
    let one = Upstream::start(1);
    let config = netbat::ClientConfig::new(one.addr).with_requests_per_connection(1);
    let mut client = netbat::Client::connect(config).expect("connect");
    for n in 0..10_u8 {
        assert_eq!(client.call("echo", &[n]).expect("call"), vec![n]);
    }
}
