//! Bearer tokens over real TCP: accepted, missing, wrong and revoked
//! credentials; capabilities enforced; the safe default for remote binds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::net::TcpListener;
use std::sync::Arc;

use netbat::{
    encode_auth, encode_request, Authenticator, Client, ClientConfig, ErrorCode, Grants,
    ServeError, Server, ServerConfig,
};

fn setup() -> (Server, Arc<Authenticator>, netbat::CredentialId) {
    let auth = Arc::new(Authenticator::new());
    let writer = auth.add_token(b"writer-secret", Grants::of(["event.append"]));
    auth.add_token_digest(
        Authenticator::token_digest(b"reader-secret"),
        Grants::of(["event.read"]),
    );
    let config = ServerConfig::default().with_auth(Arc::clone(&auth));
    (
        Server::calls(listener(), test_dispatch(), config).unwrap(),
        auth,
        writer,
    )
}

#[test]
fn a_token_is_accepted_and_its_capabilities_enforced() {
    let (server, _auth, _) = setup();
    let addr = server.local_addr();
    let mut writer = Client::connect(ClientConfig::new(addr).with_token(b"writer-secret")).unwrap();
    assert_eq!(writer.call("needs.write", b"").unwrap(), b"written");
    let mut reader = Client::connect(ClientConfig::new(addr).with_token(b"reader-secret")).unwrap();
    let error = reader.call("needs.write", b"").unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::Forbidden));
    assert_eq!(reader.call("echo", b"still").unwrap(), b"still");
    drop((writer, reader));
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.auth_failures, 1);
}

#[test]
fn missing_and_wrong_tokens_are_refused() {
    let (server, _auth, _) = setup();
    let addr = server.local_addr();
    let mut bare = Client::connect(ClientConfig::new(addr)).unwrap();
    assert_eq!(
        bare.call("echo", b"").unwrap_err().code(),
        Some(ErrorCode::Unauthenticated)
    );
    let wrong = Client::connect(ClientConfig::new(addr).with_token(b"guess")).unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::Unauthenticated));
    // On the wire: the refusal, then the close.
    let mut stream = connect(addr);
    let mut lines = encode_auth(b"guess");
    lines.extend(encode_request("echo", b""));
    std::io::Write::write_all(&mut stream, &lines).unwrap();
    let rest = read_to_close(&mut stream);
    assert!(rest.starts_with(b"ERR unauthenticated "));
    assert_eq!(rest.iter().filter(|b| **b == b'\n').count(), 1);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.auth_failures, 3);
}

#[test]
fn a_revoked_token_is_refused_on_open_and_new_connections() {
    let (server, auth, writer_id) = setup();
    let addr = server.local_addr();
    let mut writer = Client::connect(ClientConfig::new(addr).with_token(b"writer-secret")).unwrap();
    assert_eq!(writer.call("echo", b"1").unwrap(), b"1");
    assert!(auth.revoke(writer_id));
    assert_eq!(
        writer.call("echo", b"2").unwrap_err().code(),
        Some(ErrorCode::Unauthenticated)
    );
    let again = Client::connect(ClientConfig::new(addr).with_token(b"writer-secret")).unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::Unauthenticated));
    drop(server);
}

#[test]
fn a_remote_bind_without_auth_refuses_to_start() {
    let Ok(listener) = TcpListener::bind("0.0.0.0:0") else {
        return;
    };
    match Server::calls(listener, test_dispatch(), ServerConfig::default()) {
        Err(ServeError::UnauthenticatedRemoteBind { addr }) => assert!(addr.ip().is_unspecified()),
        other => panic!("{other:?}"),
    }
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let refused = Server::subscriptions(listener, MemoryLog::default(), ServerConfig::default());
    assert!(matches!(
        refused,
        Err(ServeError::UnauthenticatedRemoteBind { .. })
    ));
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let shutdown = netbat::ShutdownHandle::new();
    let refused = netbat::serve_calls(
        listener,
        Arc::new(test_dispatch()),
        &ServerConfig::default(),
        &shutdown,
    );
    assert!(matches!(
        refused,
        Err(ServeError::UnauthenticatedRemoteBind { .. })
    ));
}
