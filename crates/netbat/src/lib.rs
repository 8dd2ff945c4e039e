//! netbat: the network boundary of batpak.
//!
//! NETBAT/1 calls (`NETBAT/1 CALL <op> <hex>` → `OK <hex>` / `ERR <code> <hex>`)
//! and NETBAT/2 subscription streams over TCP and (feature `tls`) TLS,
//! byte-compatible with the published netbat 0.10.
//!
//! The core is sans-IO: [`codec`] and [`session`] are pure code over bytes in
//! and bytes out, tested without sockets; the TCP and TLS adapters only move
//! bytes, enforce timeouts and hold connection permits.
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
pub use stats::TcpServeStats;
pub use subscription::{
    FeedEvent, FeedPoll, OpenFailure, OpenRequest, SubscriptionFeed, SubscriptionSource,
};
pub use tcp::{
    serve_calls, serve_subscriptions, ServeError, Server, ServerConfig, ShutdownHandle, Timeouts,
};
