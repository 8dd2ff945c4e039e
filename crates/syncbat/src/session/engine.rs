//! One subscription session: replay from a cursor, then live delivery,
//! cumulative acknowledgements and credit-based flow control.
//!
//! A session only reads the store (a page query after its position) and
//! waits on a lossy notification feed, which the writer never blocks on: a
//! slow or stalled session cannot slow the writer. A session whose window of
//! unacknowledged deliveries is full pauses; it ends as a slow consumer only
//! once it has been paused for the configured stall time.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use batpak::{EventHeader, IndexEntry, Region, Store};

use super::cursor::{Position, SubscriptionCursor};
use super::source::Source;
use super::{AckError, SessionConfig, SessionError};
use crate::receipt::ReceiptEnvelope;

/// Whether a delivery comes from the history present when the session
/// opened, or was committed after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Committed before the session opened.
    Replay,
    /// Committed after.
    Live,
}

/// One delivered event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// Per-session index, from 1.
    pub delivery_index: u64,
    /// The cursor before this event.
    pub cursor_before: Vec<u8>,
    /// The cursor after it: resuming from it continues with the next event.
    pub cursor_after: Vec<u8>,
    /// The event's index entry.
    pub entry: IndexEntry,
    /// Its header as stored (ids, hashes, clocks).
    pub header: EventHeader,
    /// Its payload as stored (MessagePack).
    pub payload: Vec<u8>,
    /// Replay or live.
    pub phase: Phase,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// Paused on a full window for longer than the stall time.
    SlowConsumer,
    /// The client cancelled.
    ClientCancelled,
    /// An acknowledgement sent through [`SessionControls`] was invalid.
    AckInvalid(AckError),
    /// A receipt event's payload did not decode (receipt streams).
    ReceiptDecodeFailed,
}

impl EndReason {
    /// `slow_consumer`, `client_cancelled`, `malformed_stream_frame`, `receipt_decode_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SlowConsumer => "slow_consumer",
            Self::ClientCancelled => "client_cancelled",
            Self::AckInvalid(_) => "malformed_stream_frame",
            Self::ReceiptDecodeFailed => "receipt_decode_failed",
        }
    }
}

/// How a session ended, with the cursors a client resumes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionEnd {
    /// Why.
    pub reason: EndReason,
    /// The cursor after the last delivery, if any.
    pub last_delivered_cursor: Option<Vec<u8>>,
    /// The cursor of the last acknowledgement, if any.
    pub last_acked_cursor: Option<Vec<u8>>,
}

/// What one poll produced.
// A poll hands one delivery to its caller, who moves it out at once; a box
// would cost an allocation per event for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionPoll {
    /// The next event.
    Delivery(Delivery),
    /// The window is full; acknowledge to resume.
    Paused {
        /// Unacknowledged deliveries.
        in_flight: u64,
        /// How long the session has been paused.
        stalled_for: Duration,
    },
    /// Caught up; nothing new before the timeout.
    Idle,
    /// The session has ended (returned again on every later poll).
    Ended(SessionEnd),
}

enum Control {
    Ack {
        delivery_index: u64,
        cursor: Vec<u8>,
    },
    Cancel,
}

/// A cloneable, `Send` handle that acknowledges or cancels a session from
/// another thread (a transport's reader); the session applies it at its next poll.
#[derive(Clone, Debug)]
pub struct SessionControls {
    tx: flume::Sender<Control>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ack { delivery_index, .. } => write!(f, "Ack({delivery_index})"),
            Self::Cancel => f.write_str("Cancel"),
        }
    }
}

impl SessionControls {
    /// Acknowledges every delivery up to `delivery_index`, whose
    /// `cursor_after` is `cursor`. Returns false if the session is gone.
    pub fn ack(&self, delivery_index: u64, cursor: Vec<u8>) -> bool {
        self.tx
            .send(Control::Ack {
                delivery_index,
                cursor,
            })
            .is_ok()
    }

    /// Cancels the session. Returns false if the session is gone.
    pub fn cancel(&self) -> bool {
        self.tx.send(Control::Cancel).is_ok()
    }
}

/// Idle waits are sliced so that a cancel sent through the controls is seen promptly.
const WAIT_SLICE: Duration = Duration::from_millis(10);

/// A subscription session; see the [module docs](super).
pub struct Session {
    store: Arc<Store>,
    id: String,
    source: Source,
    region: Region,
    wake: batpak::Subscription,
    config: SessionConfig,
    window: u64,
    after: Option<u64>,
    cursor: SubscriptionCursor,
    replay_end: Option<u64>,
    pending: VecDeque<IndexEntry>,
    next_index: u64,
    last_acked: u64,
    sent: VecDeque<(u64, Vec<u8>)>,
    last_delivered_cursor: Option<Vec<u8>>,
    last_acked_cursor: Option<Vec<u8>>,
    paused_since: Option<Instant>,
    control_tx: flume::Sender<Control>,
    control_rx: flume::Receiver<Control>,
    end: Option<SessionEnd>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("source", &self.source)
            .field("after", &self.after)
            .field("in_flight", &self.in_flight())
            .field("window", &self.window)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens a session for `subscription_id` over `source`, from the
    /// beginning or after `resume` (a cursor this subscription issued), with
    /// a window of `client_window` unacknowledged deliveries (clamped to the
    /// configured maximum).
    pub fn open(
        store: Arc<Store>,
        subscription_id: &str,
        source: Source,
        resume: Option<&[u8]>,
        client_window: u32,
        config: SessionConfig,
    ) -> Result<Self, SessionError> {
        config.check()?;
        source
            .check()
            .map_err(|reason| SessionError::InvalidRoute { reason })?;
        if client_window == 0 {
            return Err(SessionError::InvalidWindow);
        }
        let region = source.region();
        // Subscribe before reading the frontier: nothing committed after it is missed.
        let wake = store.subscribe_lossy_with_capacity(&region, 16);
        let (cursor, after) = match resume {
            None => (
                SubscriptionCursor::new(subscription_id, &source, Position::Beginning, 0),
                None,
            ),
            Some(bytes) => {
                let cursor = SubscriptionCursor::decode(bytes)?;
                cursor.check_binding(subscription_id, &source)?;
                let after = resume_after(&store, &source, cursor.position())?;
                (cursor, after)
            }
        };
        let replay_end = store.query(&region).last().map(IndexEntry::global_sequence);
        let (control_tx, control_rx) = flume::unbounded();
        Ok(Self {
            store,
            id: subscription_id.to_owned(),
            source,
            region,
            wake,
            window: u64::from(client_window.min(config.server_max_window)),
            config,
            after,
            cursor,
            replay_end,
            pending: VecDeque::new(),
            next_index: 1,
            last_acked: 0,
            sent: VecDeque::new(),
            last_delivered_cursor: None,
            last_acked_cursor: None,
            paused_since: None,
            control_tx,
            control_rx,
            end: None,
        })
    }

    /// The subscription id.
    pub fn subscription_id(&self) -> &str {
        &self.id
    }

    /// The source.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The effective window.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Deliveries sent and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        (self.next_index - 1).saturating_sub(self.last_acked)
    }

    /// The cursor after the last delivery.
    pub fn last_delivered_cursor(&self) -> Option<&[u8]> {
        self.last_delivered_cursor.as_deref()
    }

    /// The cursor of the last acknowledgement.
    pub fn last_acked_cursor(&self) -> Option<&[u8]> {
        self.last_acked_cursor.as_deref()
    }

    /// A handle to acknowledge or cancel from another thread.
    pub fn controls(&self) -> SessionControls {
        SessionControls {
            tx: self.control_tx.clone(),
        }
    }

    /// Acknowledges every delivery up to `delivery_index` (cumulative);
    /// `cursor` must be that delivery's `cursor_after`. Frees window credit.
    pub fn ack(&mut self, delivery_index: u64, cursor: &[u8]) -> Result<(), SessionError> {
        if self.end.is_some() {
            return Err(SessionError::Ack(AckError::Ended));
        }
        self.apply_ack(delivery_index, cursor)
            .map_err(SessionError::Ack)
    }

    /// Ends the session as cancelled by the client.
    pub fn cancel(&mut self) -> SessionEnd {
        self.finish(EndReason::ClientCancelled)
    }

    fn apply_ack(&mut self, index: u64, cursor: &[u8]) -> Result<(), AckError> {
        let last_sent = self.next_index - 1;
        if index == 0 || index > last_sent {
            return Err(AckError::OutOfRange { index, last_sent });
        }
        if index < self.last_acked {
            return Err(AckError::Regressed {
                index,
                last_acked: self.last_acked,
            });
        }
        if index == self.last_acked {
            return match self.last_acked_cursor.as_deref() == Some(cursor) {
                true => Ok(()),
                false => Err(AckError::CursorMismatch { index }),
            };
        }
        let sent = self
            .sent
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, c)| c.as_slice());
        if sent != Some(cursor) {
            return Err(AckError::CursorMismatch { index });
        }
        while self.sent.front().is_some_and(|(i, _)| *i <= index) {
            self.sent.pop_front();
        }
        self.last_acked = index;
        self.last_acked_cursor = Some(cursor.to_vec());
        self.paused_since = None;
        Ok(())
    }

    fn finish(&mut self, reason: EndReason) -> SessionEnd {
        let end = self.end.get_or_insert_with(|| SessionEnd {
            reason,
            last_delivered_cursor: self.last_delivered_cursor.clone(),
            last_acked_cursor: self.last_acked_cursor.clone(),
        });
        end.clone()
    }

    fn apply_control(&mut self, control: Control) {
        match control {
            Control::Cancel => {
                self.finish(EndReason::ClientCancelled);
            }
            Control::Ack {
                delivery_index,
                cursor,
            } => {
                if let Err(e) = self.apply_ack(delivery_index, &cursor) {
                    self.finish(EndReason::AckInvalid(e));
                }
            }
        }
    }

    fn drain_controls(&mut self) {
        while self.end.is_none() {
            match self.control_rx.try_recv() {
                Ok(c) => self.apply_control(c),
                Err(_) => break,
            }
        }
    }

    /// Produces the next delivery, or says why there is none, waiting at
    /// most `timeout` for an event (while caught up) or for credit (while paused).
    pub fn poll(&mut self, timeout: Duration) -> Result<SessionPoll, SessionError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain_controls();
            if let Some(end) = &self.end {
                return Ok(SessionPoll::Ended(end.clone()));
            }
            if self.in_flight() >= self.window {
                let since = *self.paused_since.get_or_insert_with(Instant::now);
                let stalled_for = since.elapsed();
                if stalled_for >= self.config.stall_timeout {
                    return Ok(SessionPoll::Ended(self.finish(EndReason::SlowConsumer)));
                }
                let now = Instant::now();
                let until = deadline.min(since + self.config.stall_timeout);
                if now >= deadline {
                    return Ok(SessionPoll::Paused {
                        in_flight: self.in_flight(),
                        stalled_for,
                    });
                }
                if let Ok(c) = self
                    .control_rx
                    .recv_timeout(until.saturating_duration_since(now))
                {
                    self.apply_control(c);
                }
                continue;
            }
            self.paused_since = None;
            if let Some(d) = self.next_delivery()? {
                return Ok(SessionPoll::Delivery(d));
            }
            if let Some(end) = &self.end {
                return Ok(SessionPoll::Ended(end.clone()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(SessionPoll::Idle);
            }
            let slice = WAIT_SLICE.min(deadline - now);
            if self.wake.recv_timeout(slice).is_none() {
                // A closed store answers at once: do not spin.
                let waited = now.elapsed();
                if waited < slice {
                    std::thread::sleep(slice - waited);
                }
            }
            while self.wake.try_recv().is_some() {}
        }
    }

    fn next_delivery(&mut self) -> Result<Option<Delivery>, SessionError> {
        loop {
            if self.pending.is_empty() {
                let page =
                    self.store
                        .query_entries_after(&self.region, self.after, self.config.page_size);
                if page.is_empty() {
                    return Ok(None);
                }
                self.pending.extend(page);
            }
            let Some(entry) = self.pending.pop_front() else {
                return Ok(None);
            };
            self.after = Some(entry.global_sequence());
            let position = if self.source.uses_entity_positions() {
                Position::AfterEntitySequence(entry.entity_sequence())
            } else {
                Position::AfterGlobalSequence(entry.global_sequence())
            };
            let after = SubscriptionCursor::new(&self.id, &self.source, position, entry.wall_ms());
            if !self.source.admits(&entry) {
                self.cursor = after;
                continue;
            }
            let stored = self.store.read_raw(entry.event_id())?;
            let header = stored.event.header;
            let payload = stored.event.payload;
            if let Source::ReceiptStream { receipt_kind } = &self.source {
                match rmp_serde::from_slice::<ReceiptEnvelope>(&payload) {
                    Ok(e) if &e.receipt_kind == receipt_kind => {}
                    Ok(_) => {
                        self.cursor = after;
                        continue;
                    }
                    Err(_) => {
                        self.finish(EndReason::ReceiptDecodeFailed);
                        return Ok(None);
                    }
                }
            }
            let delivery_index = self.next_index;
            self.next_index += 1;
            let cursor_after = after.encode();
            let cursor_before = std::mem::replace(&mut self.cursor, after).encode();
            self.sent.push_back((delivery_index, cursor_after.clone()));
            self.last_delivered_cursor = Some(cursor_after.clone());
            let phase = match self.replay_end {
                Some(end) if entry.global_sequence() <= end => Phase::Replay,
                _ => Phase::Live,
            };
            return Ok(Some(Delivery {
                delivery_index,
                cursor_before,
                cursor_after,
                entry,
                header,
                payload,
                phase,
            }));
        }
    }
}

/// The global sequence a resume position continues after.
fn resume_after(
    store: &Store,
    source: &Source,
    position: Position,
) -> Result<Option<u64>, SessionError> {
    match position {
        Position::Beginning => Ok(None),
        Position::AfterGlobalSequence(s) => Ok(Some(s)),
        Position::AfterEntitySequence(n) => store
            .by_entity(&source.status_entity())
            .iter()
            .find(|e| e.entity_sequence() == n)
            .map(|e| Some(e.global_sequence()))
            .ok_or(SessionError::CursorAhead { entity_sequence: n }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used, clippy::panic)]
    fn a_cumulative_ack_forgets_every_cursor_up_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(
                batpak::StoreConfig::new(dir.path()).with_sync_mode(batpak::SyncMode::OsBuffered),
            )
            .unwrap(),
        );
        let c = batpak::Coordinate::new("e", "s").unwrap();
        for i in 0..3u8 {
            store
                .append(&c, batpak::EventKind::custom(0xE, 1), &i)
                .unwrap();
        }
        let mut s = Session::open(
            store,
            "sub.t",
            Source::AllEvents,
            None,
            8,
            SessionConfig::default(),
        )
        .unwrap();
        let mut cursors = Vec::new();
        for _ in 0..3 {
            let SessionPoll::Delivery(d) = s.poll(Duration::from_millis(200)).unwrap() else {
                panic!("three events are stored")
            };
            assert_eq!(s.last_delivered_cursor(), Some(&d.cursor_after[..]));
            cursors.push(d.cursor_after);
        }
        assert_eq!(s.sent.len(), 3);
        s.ack(2, &cursors[1]).unwrap();
        assert_eq!(s.sent.len(), 1, "deliveries 1 and 2 are forgotten");
        assert_eq!(s.in_flight(), 1);
        assert_eq!(s.last_acked_cursor(), Some(&cursors[1][..]));
    }

    #[test]
    fn controls_debug_without_their_cursor_bytes() {
        let ack = Control::Ack {
            delivery_index: 3,
            cursor: vec![0xAB; 56],
        };
        assert_eq!(format!("{ack:?}"), "Ack(3)");
        assert_eq!(format!("{:?}", Control::Cancel), "Cancel");
    }
}
