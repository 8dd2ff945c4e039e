//! TLS on both listeners with a PKI generated at test time (rcgen; no key
//! is ever written to the repository): handshakes and calls, subscriptions,
//! a cleartext peer on the TLS port, mTLS certificates mapped to grants,
//! and `openssl s_client` when the command exists.
#![cfg(feature = "tls")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;
use common::*;

use std::io::Write;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netbat::tls::{ClientCertificates, TlsClientConfig, TlsServerConfig};
use netbat::{
    Authenticator, Client, ClientConfig, ClientError, ErrorCode, Grants, Server, ServerConfig,
    Subscription, Timeouts,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

struct Issued {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

struct Pki {
    ca_pem: String,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca_cert = params.self_signed(&ca_key).unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            ca_cert,
            ca_key,
        }
    }

    fn issue(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn server(&self) -> Issued {
        self.issue("localhost", ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn client(&self, name: &str) -> Issued {
        self.issue(name, ExtendedKeyUsagePurpose::ClientAuth)
    }
}

fn tls_server(pki: &Pki) -> TlsServerConfig {
    let server = pki.server();
    TlsServerConfig::from_pem(server.cert_pem.as_bytes(), server.key_pem.as_bytes()).unwrap()
}

fn client_tls(pki: &Pki) -> TlsClientConfig {
    TlsClientConfig::new(pki.ca_pem.as_bytes(), "localhost").unwrap()
}

fn quick() -> ServerConfig {
    ServerConfig::default().with_timeouts(
        Timeouts::default()
            .with_read(Duration::from_secs(3))
            .with_idle(Duration::from_secs(3)),
    )
}

#[test]
fn a_tls_client_completes_a_handshake_and_calls() {
    let pki = Pki::new("netbat test ca");
    let server = Server::calls(
        listener(),
        test_dispatch(),
        quick().with_tls(tls_server(&pki)),
    )
    .unwrap();
    let config = ClientConfig::new(server.local_addr()).with_tls(client_tls(&pki));
    let mut client = Client::connect(config).unwrap();
    for n in 0..50_u8 {
        assert_eq!(client.call("echo", &[n]).unwrap(), vec![n]);
    }
    let error = client.call("nope", b"").unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::UnknownOperation));
    assert_eq!(client.call("echo", b"after").unwrap(), b"after");
    drop(client);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.served_requests, 51);
    assert_eq!(stats.tls_handshake_failures, 0);
}

#[test]
fn a_client_that_does_not_trust_the_server_fails_its_handshake() {
    let pki = Pki::new("netbat test ca");
    let other = Pki::new("another ca");
    let server = Server::calls(
        listener(),
        test_dispatch(),
        quick().with_tls(tls_server(&pki)),
    )
    .unwrap();
    let config = ClientConfig::new(server.local_addr()).with_tls(client_tls(&other));
    assert!(matches!(
        Client::connect(config),
        Err(ClientError::Tls { .. })
    ));
    let wrong_name = TlsClientConfig::new(pki.ca_pem.as_bytes(), "elsewhere.example").unwrap();
    let config = ClientConfig::new(server.local_addr()).with_tls(wrong_name);
    assert!(matches!(
        Client::connect(config),
        Err(ClientError::Tls { .. })
    ));
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .tls_handshake_failures
        == 2));
    drop(server);
}

#[test]
fn a_cleartext_client_on_the_tls_port_is_rejected_and_counted() {
    let pki = Pki::new("netbat test ca");
    let server = Server::calls(
        listener(),
        test_dispatch(),
        quick().with_tls(tls_server(&pki)),
    )
    .unwrap();
    let mut stream = connect(server.local_addr());
    stream.write_all(b"NETBAT/1 CALL echo 6869\n").unwrap();
    let answer = read_to_close(&mut stream);
    assert!(!answer.starts_with(b"OK"), "{answer:?}");
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .tls_handshake_failures
        == 1));
    // The listener still serves TLS.
    let config = ClientConfig::new(server.local_addr()).with_tls(client_tls(&pki));
    assert_eq!(
        Client::connect(config).unwrap().call("echo", b"x").unwrap(),
        b"x"
    );
    let capacity = server.permit_capacity().unwrap();
    assert!(wait_until(Duration::from_secs(5), || server
        .available_permits()
        == Some(capacity)));
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.tls_handshake_failures, 1);
    assert_eq!(stats.served_requests, 1);
}

#[test]
fn a_silent_peer_on_the_tls_port_is_cut_by_the_read_timeout() {
    let pki = Pki::new("netbat test ca");
    let read = Duration::from_millis(500);
    let config = ServerConfig::default()
        .with_timeouts(Timeouts::default().with_read(read))
        .with_tls(tls_server(&pki));
    let server = Server::calls(listener(), test_dispatch(), config).unwrap();
    let mut stream = connect(server.local_addr());
    stream.write_all(&[0x16, 0x03]).unwrap();
    let started = Instant::now();
    read_to_close(&mut stream);
    assert!(started.elapsed() < read + Duration::from_secs(2));
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .tls_handshake_failures
        == 1));
    drop(server);
}

#[test]
fn subscriptions_over_tls_deliver_ack_and_cancel() {
    let pki = Pki::new("netbat test ca");
    let log = MemoryLog::with_events(30);
    let config = quick()
        .with_tls(tls_server(&pki))
        .with_feed_poll_interval(Duration::from_millis(20));
    let server = Server::subscriptions(listener(), log.clone(), config).unwrap();
    let client = ClientConfig::new(server.local_addr()).with_tls(client_tls(&pki));
    let mut subscription =
        Subscription::open(&client, "log.events.v1", None, NonZeroU32::new(4).unwrap()).unwrap();
    let got: Vec<_> = subscription.by_ref().take(30).map(Result::unwrap).collect();
    assert_eq!(got.len(), 30);
    assert_eq!(got[29].index().get(), 30);
    log.append(b"live".to_vec());
    assert!(subscription.next().unwrap().is_ok());
    assert_eq!(subscription.cancel().unwrap(), Some(log_cursor(31)));
    assert!(wait_until(Duration::from_secs(5), || log.acks().len() == 31));
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.deliveries, 31);
    assert_eq!(stats.tls_handshake_failures, 0);
}

#[test]
fn a_cleartext_subscriber_on_the_tls_port_is_rejected() {
    let pki = Pki::new("netbat test ca");
    let config = quick().with_tls(tls_server(&pki));
    let server = Server::subscriptions(listener(), MemoryLog::default(), config).unwrap();
    let mut stream = connect(server.local_addr());
    stream
        .write_all(b"NETBAT/2 SUBSCRIBE log.events.v1 - 4\n")
        .unwrap();
    read_to_close(&mut stream);
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .tls_handshake_failures
        == 1));
    drop(server);
}

fn mtls_setup() -> (Pki, Arc<Authenticator>, Issued, Issued, Issued) {
    let pki = Pki::new("netbat client ca");
    let writer = pki.client("writer");
    let reader = pki.client("reader");
    let stranger = pki.client("stranger");
    let auth = Arc::new(Authenticator::new());
    auth.add_certificate(&writer.der, Grants::of(["event.append", "event.read"]));
    auth.add_certificate(&reader.der, Grants::of(["event.read"]));
    (pki, auth, writer, reader, stranger)
}

fn mtls_server(pki: &Pki, mode: ClientCertificates) -> TlsServerConfig {
    let server = pki.server();
    TlsServerConfig::with_client_ca(
        server.cert_pem.as_bytes(),
        server.key_pem.as_bytes(),
        pki.ca_pem.as_bytes(),
        mode,
    )
    .unwrap()
}

fn with_cert(pki: &Pki, addr: std::net::SocketAddr, cert: &Issued) -> ClientConfig {
    let tls = TlsClientConfig::with_client_certificate(
        pki.ca_pem.as_bytes(),
        "localhost",
        cert.cert_pem.as_bytes(),
        cert.key_pem.as_bytes(),
    )
    .unwrap();
    ClientConfig::new(addr).with_tls(tls)
}

#[test]
fn client_certificates_map_to_their_grants() {
    let (pki, auth, writer, reader, stranger) = mtls_setup();
    let config = quick()
        .with_tls(mtls_server(&pki, ClientCertificates::Required))
        .with_auth(Arc::clone(&auth));
    let server = Server::calls(listener(), test_dispatch(), config).unwrap();
    let addr = server.local_addr();

    let mut as_writer = Client::connect(with_cert(&pki, addr, &writer)).unwrap();
    assert_eq!(as_writer.call("needs.write", b"").unwrap(), b"written");

    let mut as_reader = Client::connect(with_cert(&pki, addr, &reader)).unwrap();
    let error = as_reader.call("needs.write", b"").unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Forbidden));
    assert_eq!(as_reader.call("echo", b"r").unwrap(), b"r");

    // Signed by the CA but not registered: the handshake succeeds, calls do not.
    let mut as_stranger = Client::connect(with_cert(&pki, addr, &stranger)).unwrap();
    let error = as_stranger.call("echo", b"").unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Unauthenticated));

    // Required mode: no certificate, no handshake.
    let config = ClientConfig::new(addr).with_tls(client_tls(&pki));
    let refused = Client::connect(config).and_then(|mut client| client.call("echo", b""));
    assert!(refused.is_err());

    // A certificate from another CA does not verify.
    let other = Pki::new("other ca");
    let foreign = other.client("writer");
    let tls = TlsClientConfig::with_client_certificate(
        pki.ca_pem.as_bytes(),
        "localhost",
        foreign.cert_pem.as_bytes(),
        foreign.key_pem.as_bytes(),
    )
    .unwrap();
    let refused = Client::connect(ClientConfig::new(addr).with_tls(tls))
        .and_then(|mut client| client.call("echo", b""));
    assert!(refused.is_err());

    // Revoking the writer's certificate refuses its next call.
    let writer_id = auth
        .authenticate_certificate(&writer.der)
        .unwrap()
        .credential()
        .unwrap();
    auth.revoke(writer_id);
    let error = as_writer.call("echo", b"").unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Unauthenticated));
    drop((as_writer, as_reader, as_stranger));
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.auth_failures, 3);
    assert!(stats.tls_handshake_failures >= 2);
}

#[test]
fn optional_client_certificates_leave_room_for_tokens() {
    let (pki, auth, _writer, reader, _stranger) = mtls_setup();
    auth.add_token(b"token-writer", Grants::of(["event.append"]));
    let config = quick()
        .with_tls(mtls_server(&pki, ClientCertificates::Optional))
        .with_auth(Arc::clone(&auth));
    let server =
        Server::subscriptions(listener(), MemoryLog::with_events(2), config.clone()).unwrap();
    let calls = Server::calls(listener(), test_dispatch(), config).unwrap();

    let tokened = ClientConfig::new(calls.local_addr())
        .with_tls(client_tls(&pki))
        .with_token(b"token-writer");
    assert_eq!(
        Client::connect(tokened)
            .unwrap()
            .call("needs.write", b"")
            .unwrap(),
        b"written"
    );
    let bare = ClientConfig::new(calls.local_addr()).with_tls(client_tls(&pki));
    let error = Client::connect(bare)
        .unwrap()
        .call("echo", b"")
        .unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Unauthenticated));

    // The reader certificate subscribes to what needs event.read.
    let as_reader = with_cert(&pki, server.local_addr(), &reader);
    let mut subscription = Subscription::open(
        &as_reader,
        "secret.events.v1",
        None,
        NonZeroU32::new(2).unwrap(),
    )
    .unwrap();
    assert!(subscription.next().unwrap().is_ok());
    // A token without event.read is refused with forbidden.
    let tokened = ClientConfig::new(server.local_addr())
        .with_tls(client_tls(&pki))
        .with_token(b"token-writer");
    let mut refused = Subscription::open(
        &tokened,
        "secret.events.v1",
        None,
        NonZeroU32::new(2).unwrap(),
    )
    .unwrap();
    match refused.next() {
        Some(Err(ClientError::Stream { code, .. })) => assert_eq!(code, "forbidden"),
        other => panic!("{other:?}"),
    }
    drop(subscription);
    drop(server);
    drop(calls);
}

#[test]
fn openssl_s_client_completes_a_call() {
    let available = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if !available {
        eprintln!("note: the openssl command is not installed; skipping the s_client test");
        return;
    }
    let pki = Pki::new("netbat test ca");
    let config = ServerConfig::default()
        .with_timeouts(Timeouts::default().with_idle(Duration::from_millis(800)))
        .with_tls(tls_server(&pki));
    let server = Server::calls(listener(), test_dispatch(), config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let mut child = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-ign_eof",
            "-verify_return_error",
            "-servername",
            "localhost",
        ])
        .arg("-CAfile")
        .arg(&ca)
        .arg("-connect")
        .arg(server.local_addr().to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"NETBAT/1 CALL echo 6869\n")
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("s_client finished in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|line| line == "OK 6869"),
        "stdout {stdout:?}, stderr {:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.served_requests, 1);
}

#[test]
fn required_client_certificates_count_as_credentials_for_a_remote_bind() {
    let pki = Pki::new("netbat client ca");
    let Ok(remote) = std::net::TcpListener::bind("0.0.0.0:0") else {
        return;
    };
    let required = quick().with_tls(mtls_server(&pki, ClientCertificates::Required));
    assert!(required.authenticates());
    Server::calls(remote, test_dispatch(), required)
        .unwrap()
        .shutdown()
        .unwrap();
    // Optional certificates let a client in without one: not a credential.
    let optional = quick().with_tls(mtls_server(&pki, ClientCertificates::Optional));
    assert!(!optional.authenticates());
    let remote = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    assert!(matches!(
        Server::calls(remote, test_dispatch(), optional),
        Err(netbat::ServeError::UnauthenticatedRemoteBind { .. })
    ));
    let plain = quick().with_tls(tls_server(&pki));
    assert!(!plain.authenticates());
}
