//! The client over real TCP: one persistent connection, error answers that
//! keep it, reconnection after the server closes, and the request budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;

use std::num::NonZeroUsize;

use netbat::{Client, ClientConfig, ClientError, ErrorCode, Server, ServerConfig};

#[test]
fn calls_share_one_persistent_connection() {
    let server = Server::calls(listener(), test_dispatch(), ServerConfig::default()).unwrap();
    let mut client = Client::connect(ClientConfig::new(server.local_addr())).unwrap();
    for n in 0..300_u16 {
        assert_eq!(
            client.call("echo", &n.to_le_bytes()).unwrap(),
            n.to_le_bytes()
        );
    }
    // Error answers keep the connection.
    assert_eq!(
        client.call("nope", b"").unwrap_err().code(),
        Some(ErrorCode::UnknownOperation)
    );
    assert_eq!(
        client.call("bad..name", b"").unwrap_err().code(),
        Some(ErrorCode::MalformedRequest)
    );
    assert_eq!(client.call("echo", b"ok").unwrap(), b"ok");
    assert!(format!("{client:?}").contains("connected: true"));
    // A line too long closes the connection; the next call opens another.
    assert_eq!(
        client.call("echo", &vec![0; 40_000]).unwrap_err().code(),
        Some(ErrorCode::LineTooLong)
    );
    assert!(format!("{client:?}").contains("connected: false"));
    assert_eq!(client.call("echo", b"again").unwrap(), b"again");
    drop(client);
    let stats = server.shutdown().unwrap();
    assert_eq!(stats.accepted_connections, 2);
    assert_eq!(stats.served_requests, 302);
}

#[test]
fn a_call_after_the_server_closed_fails_once_then_reconnects() {
    let config =
        ServerConfig::default().with_max_requests_per_connection(NonZeroUsize::new(2).unwrap());
    let server = Server::calls(listener(), test_dispatch(), config).unwrap();
    let mut client = Client::connect(ClientConfig::new(server.local_addr())).unwrap();
    assert_eq!(client.call("echo", b"1").unwrap(), b"1");
    assert_eq!(client.call("echo", b"2").unwrap(), b"2");
    let error = client.call("echo", b"3").unwrap_err();
    assert!(
        matches!(error, ClientError::Closed | ClientError::Io { .. }),
        "{error:?}"
    );
    assert_eq!(client.call("echo", b"4").unwrap(), b"4");
    drop(client);
    assert_eq!(server.shutdown().unwrap().accepted_connections, 2);
}

#[test]
fn a_request_budget_matching_the_server_never_fails() {
    let config =
        ServerConfig::default().with_max_requests_per_connection(NonZeroUsize::new(3).unwrap());
    let server = Server::calls(listener(), test_dispatch(), config).unwrap();
    let config = ClientConfig::new(server.local_addr()).with_requests_per_connection(3);
    let mut client = Client::connect(config).unwrap();
    for n in 0..10_u8 {
        assert_eq!(client.call("echo", &[n]).unwrap(), [n]);
    }
    drop(client);
    assert_eq!(server.shutdown().unwrap().accepted_connections, 4);
}

#[test]
fn connecting_to_nothing_fails_cleanly() {
    let addr = listener().local_addr().unwrap();
    let config =
        ClientConfig::new(addr).with_connect_timeout(std::time::Duration::from_millis(500));
    assert!(matches!(
        Client::connect(config),
        Err(ClientError::Io {
            operation: "connect",
            ..
        })
    ));
}
