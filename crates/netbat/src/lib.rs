//! netbat: the network boundary of batpak.
//!
//! NETBAT/1 calls (`NETBAT/1 CALL <op> <hex>` → `OK <hex>` / `ERR <code> <hex>`)
//! and NETBAT/2 subscription streams over TCP and (feature `tls`) TLS,
//! byte-compatible with the published netbat 0.10.
//!
//! The core is sans-IO: [`codec`] and [`session`] are pure code over bytes in
//! and bytes out, tested without sockets; the TCP and TLS adapters only move
//! bytes, enforce timeouts and hold connection permits. The operation runtime
//! plugs in through [`Dispatch`] (calls) and [`SubscriptionSource`]
//! (subscriptions).
//!
//! ```
//! use std::net::TcpListener;
//! use std::sync::Arc;
//! use netbat::{dispatch_fn, Authenticator, CallFailure, Client, ClientConfig, Grants, Server, ServerConfig};
//!
//! let auth = Arc::new(Authenticator::new());
//! auth.add_token(b"s3cret", Grants::of(["event.read"]));
//! let dispatch = dispatch_fn(|op, input, grants| match op {
//!     "echo" if grants.allows("event.read") => Ok(input.to_vec()),
//!     "echo" => Err(CallFailure::forbidden(op, "event.read")),
//!     other => Err(CallFailure::unknown_operation(other)),
//! });
//! let config = ServerConfig::default().with_auth(auth);
//! let server = Server::calls(TcpListener::bind("127.0.0.1:0")?, dispatch, config)?;
//!
//! let mut client = Client::connect(ClientConfig::new(server.local_addr()).with_token(b"s3cret"))?;
//! assert_eq!(client.call("echo", b"hello")?, b"hello");
//! let refused = client.call("nope", b"").unwrap_err();
//! assert_eq!(refused.code(), Some(netbat::ErrorCode::UnknownOperation));
//! drop(client);
//! assert_eq!(server.shutdown()?.served_requests, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod auth;
mod client;
pub mod codec;
mod dispatch;
mod envelope;
mod error;
mod limits;
mod permit;
pub mod session;
#[cfg(feature = "sessions")]
mod sessions;
mod stats;
mod subscription;
mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
mod worker;

pub use auth::{Authenticator, CredentialId, CredentialKind, Grants, Principal};
pub use client::{Client, ClientConfig, ClientError, Delivery, Subscription};
pub use codec::frame::{
    decode_stream_line, encode_stream_frame, stream_code, Cursor, ReasonCode, SchemaRef,
    StreamFrame, SubAck, SubCancel, SubEnd, SubErr, SubEvent, SubWatermark, Subscribe,
    SubscriptionId,
};
pub use codec::hex::{decode_hex, encode_hex};
pub use codec::line::{
    decode_line, decode_request, decode_response, encode_auth, encode_err, encode_ok,
    encode_request, encode_response, BearerToken, CallRequest, ClientLine, ErrorReply, Response,
    ResponseError,
};
pub use codec::reader::LineReader;
pub use dispatch::{dispatch_fn, CallFailure, CallFailureKind, Dispatch, DispatchFn};
pub use envelope::{EnvelopeError, EventStreamEnvelope, EVENT_STREAM_ENVELOPE_SCHEMA};
pub use error::{
    AuthFailure, CodeProblem, ErrorCode, IdProblem, Malformation, SchemaRefProblem, StreamField,
    WireError,
};
pub use limits::*;
pub use permit::{ConnectionLimit, DEFAULT_MAX_CONNECTIONS};
#[cfg(feature = "sessions")]
pub use sessions::SessionSubscriptions;
pub use stats::TcpServeStats;
pub use subscription::{
    FeedEvent, FeedPoll, OpenFailure, OpenRequest, SubscriptionFeed, SubscriptionSource,
};
pub use tcp::{
    serve_calls, serve_subscriptions, ServeError, Server, ServerConfig, ShutdownHandle, Timeouts,
};
