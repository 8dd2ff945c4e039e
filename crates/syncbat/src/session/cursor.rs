//! Opaque versioned resume cursors, in the published `BPSC` layout.
//!
//! Every cursor starts with the same 8 bytes: magic `BPSC`, version `0x01`,
//! the source kind, the position kind, and one byte that is the event
//! category for an event-category cursor and zero otherwise. Then, big-endian:
//!
//! | source (kind byte) | length | bytes 8..24 | 24..40 | 40..48 | 48..56 |
//! |---|---|---|---|---|---|
//! | event category (`0x01`) | 40 | subscription hash | wall ms (24..32), global sequence (32..40) | | |
//! | operation status (`0x03`) | 56 | subscription hash | operation hash | entity hash (8) | entity sequence |
//! | receipt stream (`0x04`) | 56 | subscription hash | receipt-kind hash | wall ms | global sequence |
//! | entity stream (`0x05`) | 56 | subscription hash | coordinate hash | wall ms | global sequence |
//! | store route (`0x06`) | 56 | subscription hash | route hash | wall ms | global sequence |
//!
//! Kinds `0x01`–`0x05` are the published ones. `0x06` is this crate's own,
//! for the routes the published runtime does not have (every event, every
//! receipt, an entity with its children); a runtime that does not know it
//! refuses the cursor as an unknown source kind.
//!
//! Position kinds: `0x00` from the beginning (every numeric field zero),
//! `0x01` after a global sequence, `0x02` after an entity sequence
//! (operation status only). Hashes are blake3 prefixes over a per-source
//! domain string and the bound value, so a cursor resumes only the
//! subscription and route it was issued for.

use super::source::Source;

/// Cursor magic.
pub const CURSOR_MAGIC: [u8; 4] = *b"BPSC";
/// Cursor format version.
pub const CURSOR_VERSION: u8 = 0x01;
/// Source kind byte: event category.
pub const SOURCE_KIND_EVENT_CATEGORY: u8 = 0x01;
/// Source kind byte: projection (reserved; no projection source yet).
pub const SOURCE_KIND_PROJECTION: u8 = 0x02;
/// Source kind byte: operation status.
pub const SOURCE_KIND_OPERATION_STATUS: u8 = 0x03;
/// Source kind byte: receipt stream.
pub const SOURCE_KIND_RECEIPT_STREAM: u8 = 0x04;
/// Source kind byte: entity stream.
pub const SOURCE_KIND_ENTITY_STREAM: u8 = 0x05;
/// Source kind byte: a store route (every event, every receipt, an entity
/// tree); this crate's own.
pub const SOURCE_KIND_STORE_ROUTE: u8 = 0x06;
/// Length of an event-category cursor.
pub const EVENT_CURSOR_LEN: usize = 40;
/// Length of every other cursor.
pub const ROUTE_CURSOR_LEN: usize = 56;

const HEADER_LEN: usize = 8;

const EVENT_SUB_DOMAIN: &[u8] = b"syncbat.event-stream.cursor.subscription-id.v1\0";
const ENTITY_SUB_DOMAIN: &[u8] = b"syncbat.entity-stream.cursor.subscription-id.v1\0";
const ENTITY_COORD_DOMAIN: &[u8] = b"syncbat.entity-stream.cursor.coordinate.v1\0";
const RECEIPT_SUB_DOMAIN: &[u8] = b"syncbat.receipt-stream.cursor.subscription-id.v1\0";
const RECEIPT_KIND_DOMAIN: &[u8] = b"syncbat.receipt-stream.cursor.receipt-kind.v1\0";
const STORE_SUB_DOMAIN: &[u8] = b"syncbat.store-route.cursor.subscription-id.v1\0";
const STORE_ROUTE_DOMAIN: &[u8] = b"syncbat.store-route.cursor.route.v1\0";
const STATUS_SUB_DOMAIN: &[u8] = b"syncbat.operation-status-stream.cursor.subscription-id.v1\0";
const STATUS_OP_DOMAIN: &[u8] = b"syncbat.operation-status-stream.cursor.operation.v1\0";
const STATUS_ENTITY_DOMAIN: &[u8] = b"syncbat.operation-status-stream.cursor.entity.v1\0";

/// Where a cursor resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Position {
    /// Before the first event.
    Beginning,
    /// After the event with this global sequence.
    AfterGlobalSequence(u64),
    /// After the event with this entity sequence (operation-status streams).
    AfterEntitySequence(u64),
}

/// What a cursor is bound to, besides the subscription: the source's route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RouteBinding {
    /// An event category.
    EventCategory(u8),
    /// The hash of an entity stream's coordinate.
    EntityStream([u8; 16]),
    /// The hash of a receipt kind.
    ReceiptStream([u8; 16]),
    /// The hash of a store route (every event, every receipt, an entity tree).
    StoreRoute([u8; 16]),
    /// The hashes of an operation name and of its status entity.
    OperationStatus {
        /// Operation hash.
        operation: [u8; 16],
        /// Status entity hash.
        entity: [u8; 8],
    },
}

/// A decoded cursor.
///
/// ```
/// use syncbat::session::{Position, Source, SubscriptionCursor};
/// let source = Source::EventCategory(0xE);
/// let c = SubscriptionCursor::new("orders.v1", &source, Position::AfterGlobalSequence(41), 1_700);
/// let bytes = c.encode();
/// assert_eq!(&bytes[..4], b"BPSC");
/// let back = SubscriptionCursor::decode(&bytes)?;
/// assert_eq!(back, c);
/// back.check_binding("orders.v1", &source)?;
/// assert!(back.check_binding("orders.v2", &source).is_err());
/// # Ok::<(), syncbat::session::CursorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionCursor {
    subscription: [u8; 16],
    route: RouteBinding,
    wall_ms: u64,
    position: Position,
}

/// Why cursor bytes were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CursorError {
    /// Too short to hold the 8-byte header.
    #[error("cursor is {len} bytes, shorter than its 8-byte header")]
    Truncated {
        /// Bytes given.
        len: usize,
    },
    /// The magic is not `BPSC`.
    #[error("cursor magic is not BPSC")]
    Magic,
    /// A version this build does not read.
    #[error("cursor version {found:#04x} is not supported (this build reads 0x01)")]
    Version {
        /// Version byte found.
        found: u8,
    },
    /// An unknown (or unsupported) source kind.
    #[error("cursor source kind {found:#04x} is unknown")]
    SourceKind {
        /// Kind byte found.
        found: u8,
    },
    /// The length does not match the source kind.
    #[error("cursor of this source is {expected} bytes, not {found}")]
    Length {
        /// The source's length.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
    /// A position kind that this source does not use.
    #[error("cursor position kind {found:#04x} is invalid for its source")]
    PositionKind {
        /// Kind byte found.
        found: u8,
    },
    /// Byte 7 must be zero for this source.
    #[error("cursor reserved byte is {found:#04x}, not zero")]
    Reserved {
        /// Byte found.
        found: u8,
    },
    /// A beginning cursor with a non-zero numeric field.
    #[error("beginning cursor has non-zero numeric fields")]
    BeginningNotZero,
    /// Issued for another subscription id.
    #[error("cursor belongs to another subscription")]
    SubscriptionMismatch,
    /// Issued for another source or route of this subscription.
    #[error("cursor belongs to another source or route")]
    RouteMismatch,
}

impl CursorError {
    /// `cursor_mismatch` for the binding errors, `cursor_invalid` for the rest.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SubscriptionMismatch | Self::RouteMismatch => "cursor_mismatch",
            _ => "cursor_invalid",
        }
    }
}

fn prefix16(domain: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(&[0]);
        }
        h.update(p);
    }
    let mut out = [0; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

fn prefix8(domain: &[u8], value: &[u8]) -> [u8; 8] {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    h.update(value);
    let mut out = [0; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    out
}

/// The subscription hash and route binding of `(subscription_id, source)`.
fn binding(subscription_id: &str, source: &Source) -> ([u8; 16], RouteBinding) {
    let id = subscription_id.as_bytes();
    match source {
        Source::EventCategory(c) => (
            prefix16(EVENT_SUB_DOMAIN, &[id]),
            RouteBinding::EventCategory(*c),
        ),
        Source::EntityStream(coord) => (
            prefix16(ENTITY_SUB_DOMAIN, &[id]),
            RouteBinding::EntityStream(prefix16(
                ENTITY_COORD_DOMAIN,
                &[coord.entity().as_bytes(), coord.scope().as_bytes()],
            )),
        ),
        Source::ReceiptStream { receipt_kind } => (
            prefix16(RECEIPT_SUB_DOMAIN, &[id]),
            RouteBinding::ReceiptStream(prefix16(RECEIPT_KIND_DOMAIN, &[receipt_kind.as_bytes()])),
        ),
        Source::AllEvents | Source::AllReceipts | Source::EntityTree(_) => (
            prefix16(STORE_SUB_DOMAIN, &[id]),
            RouteBinding::StoreRoute(prefix16(STORE_ROUTE_DOMAIN, &[&source.route_text()])),
        ),
        Source::OperationStatus { operation } => {
            let entity = source.status_entity();
            (
                prefix16(STATUS_SUB_DOMAIN, &[id]),
                RouteBinding::OperationStatus {
                    operation: prefix16(STATUS_OP_DOMAIN, &[operation.as_bytes()]),
                    entity: prefix8(STATUS_ENTITY_DOMAIN, entity.as_bytes()),
                },
            )
        }
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(b)
}

fn arr16(bytes: &[u8], at: usize) -> [u8; 16] {
    let mut b = [0; 16];
    b.copy_from_slice(&bytes[at..at + 16]);
    b
}

impl SubscriptionCursor {
    /// A cursor for `subscription_id` over `source` at `position`
    /// (`wall_ms` is metadata: the wall clock of the event it follows).
    ///
    /// An operation-status source takes entity positions and the others
    /// global ones; a cursor of the other kind is encoded as given and
    /// refused when decoded.
    pub fn new(subscription_id: &str, source: &Source, position: Position, wall_ms: u64) -> Self {
        let (subscription, route) = binding(subscription_id, source);
        // A beginning cursor carries no numbers, and the operation-status
        // layout has no room for the wall clock.
        let wall_ms = match (position, route) {
            (Position::Beginning, _) | (_, RouteBinding::OperationStatus { .. }) => 0,
            _ => wall_ms,
        };
        Self {
            subscription,
            route,
            wall_ms,
            position,
        }
    }

    /// Where it resumes.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The wall-clock milliseconds recorded with it.
    pub fn wall_ms(&self) -> u64 {
        self.wall_ms
    }

    /// Its route binding.
    pub fn route(&self) -> RouteBinding {
        self.route
    }

    fn numeric(&self) -> u64 {
        match self.position {
            Position::Beginning => 0,
            Position::AfterGlobalSequence(s) | Position::AfterEntitySequence(s) => s,
        }
    }

    fn position_byte(&self) -> u8 {
        match self.position {
            Position::Beginning => 0x00,
            Position::AfterGlobalSequence(_) => 0x01,
            Position::AfterEntitySequence(_) => 0x02,
        }
    }

    /// The cursor's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, len, byte7) = match self.route {
            RouteBinding::EventCategory(c) => (SOURCE_KIND_EVENT_CATEGORY, EVENT_CURSOR_LEN, c),
            RouteBinding::EntityStream(_) => (SOURCE_KIND_ENTITY_STREAM, ROUTE_CURSOR_LEN, 0),
            RouteBinding::ReceiptStream(_) => (SOURCE_KIND_RECEIPT_STREAM, ROUTE_CURSOR_LEN, 0),
            RouteBinding::StoreRoute(_) => (SOURCE_KIND_STORE_ROUTE, ROUTE_CURSOR_LEN, 0),
            RouteBinding::OperationStatus { .. } => {
                (SOURCE_KIND_OPERATION_STATUS, ROUTE_CURSOR_LEN, 0)
            }
        };
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&CURSOR_MAGIC);
        out.extend_from_slice(&[CURSOR_VERSION, kind, self.position_byte(), byte7]);
        out.extend_from_slice(&self.subscription);
        match self.route {
            RouteBinding::EventCategory(_) => {}
            RouteBinding::EntityStream(h)
            | RouteBinding::ReceiptStream(h)
            | RouteBinding::StoreRoute(h) => out.extend_from_slice(&h),
            RouteBinding::OperationStatus { operation, entity } => {
                out.extend_from_slice(&operation);
                out.extend_from_slice(&entity);
            }
        }
        if !matches!(self.route, RouteBinding::OperationStatus { .. }) {
            out.extend_from_slice(&self.wall_ms.to_be_bytes());
        }
        out.extend_from_slice(&self.numeric().to_be_bytes());
        out
    }

    /// Decodes cursor bytes; every malformed input is a typed error.
    pub fn decode(bytes: &[u8]) -> Result<Self, CursorError> {
        if bytes.len() < HEADER_LEN {
            return Err(CursorError::Truncated { len: bytes.len() });
        }
        if bytes[..4] != CURSOR_MAGIC {
            return Err(CursorError::Magic);
        }
        if bytes[4] != CURSOR_VERSION {
            return Err(CursorError::Version { found: bytes[4] });
        }
        let kind = bytes[5];
        let expected = match kind {
            SOURCE_KIND_EVENT_CATEGORY => EVENT_CURSOR_LEN,
            SOURCE_KIND_OPERATION_STATUS
            | SOURCE_KIND_RECEIPT_STREAM
            | SOURCE_KIND_ENTITY_STREAM
            | SOURCE_KIND_STORE_ROUTE => ROUTE_CURSOR_LEN,
            found => return Err(CursorError::SourceKind { found }),
        };
        if bytes.len() != expected {
            return Err(CursorError::Length {
                expected,
                found: bytes.len(),
            });
        }
        if kind != SOURCE_KIND_EVENT_CATEGORY && bytes[7] != 0 {
            return Err(CursorError::Reserved { found: bytes[7] });
        }
        let subscription = arr16(bytes, 8);
        let (route, wall_ms, numeric) = match kind {
            SOURCE_KIND_EVENT_CATEGORY => (
                RouteBinding::EventCategory(bytes[7]),
                u64_at(bytes, 24),
                u64_at(bytes, 32),
            ),
            SOURCE_KIND_ENTITY_STREAM => (
                RouteBinding::EntityStream(arr16(bytes, 24)),
                u64_at(bytes, 40),
                u64_at(bytes, 48),
            ),
            SOURCE_KIND_RECEIPT_STREAM => (
                RouteBinding::ReceiptStream(arr16(bytes, 24)),
                u64_at(bytes, 40),
                u64_at(bytes, 48),
            ),
            SOURCE_KIND_STORE_ROUTE => (
                RouteBinding::StoreRoute(arr16(bytes, 24)),
                u64_at(bytes, 40),
                u64_at(bytes, 48),
            ),
            _ => {
                let mut entity = [0; 8];
                entity.copy_from_slice(&bytes[40..48]);
                (
                    RouteBinding::OperationStatus {
                        operation: arr16(bytes, 24),
                        entity,
                    },
                    0,
                    u64_at(bytes, 48),
                )
            }
        };
        let status = kind == SOURCE_KIND_OPERATION_STATUS;
        let position = match bytes[6] {
            0x00 if wall_ms != 0 || numeric != 0 => return Err(CursorError::BeginningNotZero),
            0x00 => Position::Beginning,
            0x01 if !status => Position::AfterGlobalSequence(numeric),
            0x02 if status => Position::AfterEntitySequence(numeric),
            found => return Err(CursorError::PositionKind { found }),
        };
        Ok(Self {
            subscription,
            route,
            wall_ms,
            position,
        })
    }

    /// Checks that the cursor was issued for `subscription_id` over `source`.
    pub fn check_binding(&self, subscription_id: &str, source: &Source) -> Result<(), CursorError> {
        let (subscription, route) = binding(subscription_id, source);
        if std::mem::discriminant(&route) != std::mem::discriminant(&self.route) {
            return Err(CursorError::RouteMismatch);
        }
        if subscription != self.subscription {
            return Err(CursorError::SubscriptionMismatch);
        }
        if route != self.route {
            return Err(CursorError::RouteMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use batpak::Coordinate;

    fn sources() -> Vec<Source> {
        vec![
            Source::EventCategory(0xE),
            Source::EntityStream(Coordinate::new("acct:1", "bank").unwrap()),
            Source::ReceiptStream {
                receipt_kind: "receipt.bank.deposit.v1".into(),
            },
            Source::OperationStatus {
                operation: "bank.deposit".into(),
            },
            Source::AllEvents,
            Source::AllReceipts,
            Source::EntityTree("acct:1".into()),
        ]
    }

    fn positions(s: &Source) -> [Position; 2] {
        match s {
            Source::OperationStatus { .. } => {
                [Position::Beginning, Position::AfterEntitySequence(9)]
            }
            _ => [Position::Beginning, Position::AfterGlobalSequence(9)],
        }
    }

    fn blake3_prefix(parts: &[&[u8]]) -> Vec<u8> {
        let mut h = blake3::Hasher::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().as_bytes().to_vec()
    }

    #[test]
    fn route_hashes_are_domain_then_parts_joined_by_nul() {
        let c = SubscriptionCursor::new(
            "sub.1",
            &Source::EntityStream(Coordinate::new("acct:1", "bank").unwrap()),
            Position::AfterGlobalSequence(5),
            77,
        );
        assert_eq!(c.wall_ms(), 77);
        let b = c.encode();
        assert_eq!(
            &b[8..24],
            &blake3_prefix(&[ENTITY_SUB_DOMAIN, b"sub.1"])[..16]
        );
        assert_eq!(
            &b[24..40],
            &blake3_prefix(&[ENTITY_COORD_DOMAIN, b"acct:1", b"\0", b"bank"])[..16]
        );
        let status = SubscriptionCursor::new(
            "sub.1",
            &Source::OperationStatus {
                operation: "bank.deposit".into(),
            },
            Position::AfterEntitySequence(3),
            77,
        );
        assert_eq!(status.wall_ms(), 0, "the status layout has no wall clock");
        let b = status.encode();
        let entity = Source::OperationStatus {
            operation: "bank.deposit".into(),
        }
        .status_entity();
        assert_eq!(
            &b[40..48],
            &blake3_prefix(&[STATUS_ENTITY_DOMAIN, entity.as_bytes()])[..8]
        );
        assert_eq!(
            SubscriptionCursor::new("s", &Source::AllEvents, Position::Beginning, 9).wall_ms(),
            0
        );
    }

    #[test]
    fn every_source_round_trips_with_the_published_lengths_and_header() {
        for s in sources() {
            for p in positions(&s) {
                let c = SubscriptionCursor::new("sub.1", &s, p, 77);
                let bytes = c.encode();
                let len = if matches!(s, Source::EventCategory(_)) {
                    40
                } else {
                    56
                };
                assert_eq!(bytes.len(), len, "{s:?}");
                assert_eq!(&bytes[..5], b"BPSC\x01");
                assert_eq!(SubscriptionCursor::decode(&bytes).unwrap(), c);
                c.check_binding("sub.1", &s).unwrap();
                assert_eq!(
                    c.check_binding("sub.2", &s),
                    Err(CursorError::SubscriptionMismatch)
                );
            }
        }
    }

    #[test]
    fn event_cursor_layout_is_byte_exact() {
        let c = SubscriptionCursor::new(
            "s",
            &Source::EventCategory(0xE),
            Position::AfterGlobalSequence(0x0102),
            0x0A0B,
        );
        let b = c.encode();
        assert_eq!(b[5], SOURCE_KIND_EVENT_CATEGORY);
        assert_eq!(b[6], 0x01);
        assert_eq!(b[7], 0x0E);
        assert_eq!(&b[8..24], &prefix16(EVENT_SUB_DOMAIN, &[b"s"]));
        assert_eq!(u64_at(&b, 24), 0x0A0B);
        assert_eq!(u64_at(&b, 32), 0x0102);
    }

    #[test]
    fn every_truncation_of_every_cursor_fails_cleanly() {
        for s in sources() {
            for p in positions(&s) {
                let bytes = SubscriptionCursor::new("sub.1", &s, p, 5).encode();
                for n in 0..bytes.len() {
                    let err = SubscriptionCursor::decode(&bytes[..n]).unwrap_err();
                    if n < HEADER_LEN {
                        assert_eq!(err, CursorError::Truncated { len: n });
                    } else {
                        assert_eq!(
                            err,
                            CursorError::Length {
                                expected: bytes.len(),
                                found: n
                            }
                        );
                    }
                }
                let mut longer = bytes.clone();
                longer.push(0);
                assert!(matches!(
                    SubscriptionCursor::decode(&longer),
                    Err(CursorError::Length { .. })
                ));
            }
        }
    }

    #[test]
    fn each_malformation_has_its_error() {
        let status = Source::OperationStatus {
            operation: "op".into(),
        };
        let good =
            SubscriptionCursor::new("s", &status, Position::AfterEntitySequence(3), 0).encode();
        let with = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            SubscriptionCursor::decode(&b).unwrap_err()
        };
        assert_eq!(with(0, b'X'), CursorError::Magic);
        assert_eq!(with(4, 2), CursorError::Version { found: 2 });
        assert_eq!(with(5, 0x02), CursorError::SourceKind { found: 0x02 });
        assert_eq!(with(5, 0x09), CursorError::SourceKind { found: 0x09 });
        assert_eq!(with(6, 0x01), CursorError::PositionKind { found: 0x01 });
        assert_eq!(with(6, 0x07), CursorError::PositionKind { found: 0x07 });
        assert_eq!(with(7, 1), CursorError::Reserved { found: 1 });
        assert_eq!(with(6, 0x00), CursorError::BeginningNotZero);
        let event = SubscriptionCursor::new(
            "s",
            &Source::EventCategory(1),
            Position::AfterGlobalSequence(1),
            0,
        )
        .encode();
        let mut b = event.clone();
        b[6] = 0x02;
        assert_eq!(
            SubscriptionCursor::decode(&b),
            Err(CursorError::PositionKind { found: 0x02 })
        );
        let mut b = SubscriptionCursor::new("s", &Source::EventCategory(1), Position::Beginning, 0)
            .encode();
        b[30] = 1; // wall ms of a beginning cursor
        assert_eq!(
            SubscriptionCursor::decode(&b),
            Err(CursorError::BeginningNotZero)
        );
        assert_eq!(CursorError::Magic.code(), "cursor_invalid");
        assert_eq!(CursorError::RouteMismatch.code(), "cursor_mismatch");
    }

    #[test]
    fn a_cursor_resumes_only_its_route() {
        let a = SubscriptionCursor::new("s", &Source::EventCategory(1), Position::Beginning, 0);
        assert_eq!(
            a.check_binding("s", &Source::EventCategory(2)),
            Err(CursorError::RouteMismatch)
        );
        let e1 = Source::EntityStream(Coordinate::new("a", "x").unwrap());
        let e2 = Source::EntityStream(Coordinate::new("a", "y").unwrap());
        let c = SubscriptionCursor::new("s", &e1, Position::Beginning, 0);
        assert_eq!(c.check_binding("s", &e2), Err(CursorError::RouteMismatch));
        assert_eq!(
            c.check_binding("s", &Source::EventCategory(1)),
            Err(CursorError::RouteMismatch)
        );
        let r1 = Source::ReceiptStream {
            receipt_kind: "a".into(),
        };
        let r2 = Source::ReceiptStream {
            receipt_kind: "b".into(),
        };
        assert_eq!(
            SubscriptionCursor::new("s", &r1, Position::Beginning, 0).check_binding("s", &r2),
            Err(CursorError::RouteMismatch)
        );
        let s1 = Source::OperationStatus {
            operation: "a".into(),
        };
        let s2 = Source::OperationStatus {
            operation: "b".into(),
        };
        assert_eq!(
            SubscriptionCursor::new("s", &s1, Position::Beginning, 0).check_binding("s", &s2),
            Err(CursorError::RouteMismatch)
        );
    }
}
