//! Lossy push subscriptions: the writer offers each new event to every
//! matching subscriber over a bounded channel and never waits for one.
//!
//! A subscriber that falls behind loses notifications; it is told how many
//! (INV-READ-003), never slows the writer (INV-READ-004), and needs a
//! [`crate::Cursor`] when it must see everything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::coordinate::Coordinate;
use crate::id::EventId;
use crate::index::IndexEntry;
use crate::kind::EventKind;
use crate::region::Region;

/// One new event, as a lossy subscription delivers it.
///
/// ```
/// use batpak::prelude::*;
/// use std::time::Duration;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let sub = store.subscribe_lossy(&Region::all());
/// let coord = Coordinate::new("entity:a", "scope:1")?;
/// let r = store.append(&coord, EventKind::custom(0xE, 1), &1u8)?;
/// let note = sub.recv_timeout(Duration::from_secs(1)).ok_or("no notification")?;
/// assert_eq!(note.event_id(), r.event_id);
/// assert_eq!(note.global_sequence(), r.global_sequence);
/// assert_eq!(note.coordinate().entity(), "entity:a");
/// assert_eq!(note.missed, 0);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// The event's index entry (ids, sequences, kind, coordinate; no payload).
    pub entry: IndexEntry,
    /// Notifications this subscription lost since the one it received before this.
    pub missed: u64,
}

impl Notification {
    /// The event id.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # fn f(n: &batpak::Notification) -> EventId { n.event_id() }
    /// ```
    pub fn event_id(&self) -> EventId {
        self.entry.event_id()
    }

    /// The event's position in commit order.
    ///
    /// ```
    /// # fn f(n: &batpak::Notification) -> u64 { n.global_sequence() }
    /// ```
    pub fn global_sequence(&self) -> u64 {
        self.entry.global_sequence()
    }

    /// The event kind.
    ///
    /// ```
    /// # fn f(n: &batpak::Notification) -> batpak::EventKind { n.kind() }
    /// ```
    pub fn kind(&self) -> EventKind {
        self.entry.kind()
    }

    /// The event's entity and scope.
    ///
    /// ```
    /// # fn f(n: &batpak::Notification) -> &batpak::Coordinate { n.coordinate() }
    /// ```
    pub fn coordinate(&self) -> &Coordinate {
        self.entry.coordinate()
    }
}

/// What the subscriber and the writer both see of one subscription.
#[derive(Debug, Default)]
struct Counters {
    /// Notifications dropped because the channel was full, in total.
    missed: AtomicU64,
    /// Notifications placed in the channel, in total.
    offered: AtomicU64,
}

/// The writer's side of one subscription.
#[derive(Debug)]
struct Subscriber {
    region: Region,
    tx: flume::Sender<Notification>,
    counters: Arc<Counters>,
    /// Lost since the last notification that got through; carried by the next one.
    pending_missed: u64,
}

/// Every live subscription of a store. The writer offers new events here
/// after it has published them to the index.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    list: Mutex<Vec<Subscriber>>,
}

impl Subscribers {
    pub(crate) fn add(&self, region: Region, capacity: usize) -> Subscription {
        // A zero-capacity flume channel is a rendezvous: `try_send` would fail
        // unless the subscriber happened to be blocked in `recv`.
        let (tx, rx) = flume::bounded(capacity.max(1));
        let counters = Arc::new(Counters::default());
        self.list.lock().push(Subscriber {
            region: region.clone(),
            tx,
            counters: counters.clone(),
            pending_missed: 0,
        });
        Subscription {
            rx,
            counters,
            region,
        }
    }

    /// Offers each entry to every subscriber whose region matches it, without
    /// blocking, and drops subscriptions whose receiver is gone.
    pub(crate) fn publish<'a>(&self, entries: impl IntoIterator<Item = &'a IndexEntry>) {
        let mut list = self.list.lock();
        list.retain(|s| !s.tx.is_disconnected());
        if list.is_empty() {
            return;
        }
        for entry in entries {
            for s in list.iter_mut() {
                if !s.region.matches(entry) {
                    continue;
                }
                let note = Notification {
                    entry: entry.clone(),
                    missed: s.pending_missed,
                };
                match s.tx.try_send(note) {
                    Ok(()) => {
                        s.pending_missed = 0;
                        s.counters.offered.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(flume::TrySendError::Full(_)) => {
                        s.pending_missed += 1;
                        s.counters.missed.fetch_add(1, Ordering::Relaxed);
                    }
                    // Pruned at the next publish.
                    Err(flume::TrySendError::Disconnected(_)) => {}
                }
            }
        }
    }

    /// Ends every subscription (their receivers then drain and see the end).
    pub(crate) fn close(&self) {
        self.list.lock().clear();
    }

    pub(crate) fn len(&self) -> usize {
        let mut list = self.list.lock();
        list.retain(|s| !s.tx.is_disconnected());
        list.len()
    }
}

/// A lossy push subscription to new events in a region; see [`Store::subscribe_lossy`](crate::Store::subscribe_lossy).
///
/// Dropping it ends the subscription (the writer prunes it at its next publish).
/// It ends by itself when the store closes: `recv` then returns `None` once
/// the queued notifications are drained.
#[derive(Debug)]
pub struct Subscription {
    rx: flume::Receiver<Notification>,
    counters: Arc<Counters>,
    region: Region,
}

impl Subscription {
    /// Capacity of the channel [`Store::subscribe_lossy`](crate::Store::subscribe_lossy) creates.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// The next notification, waiting at most `timeout`; `None` on timeout or
    /// once the store has closed and the queue is drained.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy(&Region::all());
    /// assert!(sub.recv_timeout(std::time::Duration::from_millis(1)).is_none());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Notification> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next notification, waiting as long as it takes; `None` once the
    /// store has closed and the queue is drained.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy(&Region::all());
    /// store.close().unwrap();
    /// assert!(sub.recv().is_none());
    /// ```
    pub fn recv(&self) -> Option<Notification> {
        self.rx.recv().ok()
    }

    /// A notification if one is queued, without waiting.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy(&Region::all());
    /// assert!(sub.try_recv().is_none());
    /// ```
    pub fn try_recv(&self) -> Option<Notification> {
        self.rx.try_recv().ok()
    }

    /// Notifications lost so far because the queue was full (in total; each
    /// delivered [`Notification::missed`] counts those since the previous one).
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy_with_capacity(&Region::all(), 1);
    /// let c = Coordinate::new("e", "s").unwrap();
    /// store.append(&c, EventKind::custom(0xE, 1), &1u8).unwrap();
    /// store.append(&c, EventKind::custom(0xE, 1), &2u8).unwrap();
    /// assert_eq!(sub.missed(), 1);
    /// assert_eq!(sub.delivered(), 1);
    /// ```
    pub fn missed(&self) -> u64 {
        self.counters.missed.load(Ordering::Relaxed)
    }

    /// Notifications placed in this subscription's queue so far.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy(&Region::all());
    /// assert_eq!(sub.delivered(), 0);
    /// ```
    pub fn delivered(&self) -> u64 {
        self.counters.offered.load(Ordering::Relaxed)
    }

    /// The region this subscription watches.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// let sub = store.subscribe_lossy(&Region::scope("s"));
    /// assert_eq!(sub.region(), &Region::scope("s"));
    /// ```
    pub fn region(&self) -> &Region {
        &self.region
    }
}
