//! Watermarks: how far the writer has accepted, written, synced and published.
//!
//! The writer advances each mark right after the step it names (INV-READ-005):
//! `accepted` when it assigns global sequences, `written` when the frames are
//! handed to the OS, `durable` when an fsync returned, `visible` when the
//! index shows the events to readers. So, at every moment,
//! `accepted ≥ written ≥ durable` and `written ≥ visible`. Under
//! [`crate::SyncMode::EveryGroup`] the writer syncs before it publishes, so
//! `visible ≤ durable` there as well; under the other modes `visible` runs ahead
//! of `durable` until the next sync.
//!
//! Waiting uses a condition variable the writer notifies after each advance:
//! no polling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::StoreError;
use crate::id::HlcPoint;

/// One watermark: a prefix of the log in commit order.
///
/// Every event whose global sequence is below `next_global_sequence` is
/// covered; `hlc` is the HLC point of the last covered event. HLC points
/// increase strictly in commit order, so a mark covers an event exactly when
/// its `hlc` is at or after the event's point.
///
/// ```
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let coord = Coordinate::new("entity:a", "scope:1")?;
/// let r = store.append(&coord, EventKind::custom(0xE, 1), &1u8)?;
/// let durable = store.frontier().durable;
/// assert!(durable.covers_sequence(r.global_sequence));
/// assert!(durable.covers_hlc(r.hlc_point()));
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Watermark {
    /// One past the last covered global sequence (0: nothing covered).
    pub next_global_sequence: u64,
    /// HLC point of the last covered event (`HlcPoint::default()` when nothing is covered).
    pub hlc: HlcPoint,
}

impl Watermark {
    /// True if the event at `global_sequence` is covered.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// assert!(!store.frontier().visible.covers_sequence(0), "an empty store covers nothing");
    /// ```
    pub fn covers_sequence(&self, global_sequence: u64) -> bool {
        global_sequence < self.next_global_sequence
    }

    /// True if every event up to and including HLC `point` is covered.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// assert!(!store.frontier().durable.covers_hlc(HlcPoint::new(1, 0)));
    /// ```
    pub fn covers_hlc(&self, point: HlcPoint) -> bool {
        self.next_global_sequence > 0 && point <= self.hlc
    }

    fn advance(&mut self, next: u64, hlc: HlcPoint) {
        if next > self.next_global_sequence {
            self.next_global_sequence = next;
            self.hlc = self.hlc.max(hlc);
        }
    }
}

/// A consistent snapshot of the four watermarks.
///
/// Always `accepted ≥ written ≥ durable` and `written ≥ visible`:
/// - `accepted`: global sequences the writer has assigned (an accepted event is
///   lost only if its write fails, which fail-stops the writer);
/// - `written`: frames handed to the operating system (survive a process crash);
/// - `durable`: frames an fsync has made durable (survive power loss);
/// - `visible`: events published to readers (queries, projections, cursors).
///
/// ```
/// use batpak::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Store::open(StoreConfig::new(dir.path()))?;
/// let coord = Coordinate::new("entity:a", "scope:1")?;
/// store.append(&coord, EventKind::custom(0xE, 1), &1u8)?;
/// let f = store.frontier();
/// assert!(f.accepted.next_global_sequence >= f.written.next_global_sequence);
/// assert!(f.written.next_global_sequence >= f.durable.next_global_sequence);
/// assert!(f.written.next_global_sequence >= f.visible.next_global_sequence);
/// assert_eq!(f.visible.next_global_sequence, 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Frontier {
    /// Assigned by the writer.
    pub accepted: Watermark,
    /// Written to the operating system.
    pub written: Watermark,
    /// Made durable by an fsync.
    pub durable: Watermark,
    /// Published to readers.
    pub visible: Watermark,
}

impl Frontier {
    /// True if the four marks are in their required order.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// assert!(store.frontier().is_ordered());
    /// ```
    pub fn is_ordered(&self) -> bool {
        let (a, w, d, v) = (self.accepted, self.written, self.durable, self.visible);
        a.next_global_sequence >= w.next_global_sequence
            && w.next_global_sequence >= d.next_global_sequence
            && w.next_global_sequence >= v.next_global_sequence
            && a.hlc >= w.hlc
            && w.hlc >= d.hlc
            && w.hlc >= v.hlc
    }
}

/// Which watermark an advance or a wait is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Accepted,
    Written,
    Durable,
    Visible,
}

#[derive(Debug, Default)]
struct State {
    frontier: Frontier,
    /// The writer's first failure: waits end with `WriterFailed` instead of timing out.
    failed: Option<Arc<StoreError>>,
    /// Bumped by [`Watermarks::wake_all`] so waiters re-check outside conditions.
    wakes: u64,
}

/// The watermarks of one open store, shared by the writer and every reader.
#[derive(Debug, Default)]
pub(crate) struct Watermarks {
    state: Mutex<State>,
    changed: Condvar,
}

impl Watermarks {
    /// Every mark at `next` / `hlc` (what open found, all of it durable).
    pub(crate) fn new(next: u64, hlc: HlcPoint) -> Self {
        let mark = Watermark {
            next_global_sequence: next,
            hlc,
        };
        Self {
            state: Mutex::new(State {
                frontier: Frontier {
                    accepted: mark,
                    written: mark,
                    durable: mark,
                    visible: mark,
                },
                failed: None,
                wakes: 0,
            }),
            changed: Condvar::new(),
        }
    }

    /// Raises one mark to cover every event before `next` (the last one at `hlc`).
    pub(crate) fn advance(&self, mark: Mark, next: u64, hlc: HlcPoint) {
        {
            let mut s = self.state.lock();
            let f = &mut s.frontier;
            match mark {
                Mark::Accepted => f.accepted.advance(next, hlc),
                Mark::Written => f.written.advance(next, hlc),
                Mark::Durable => f.durable.advance(next, hlc),
                Mark::Visible => f.visible.advance(next, hlc),
            }
        }
        self.changed.notify_all();
    }

    /// Records the writer's failure and wakes every waiter.
    pub(crate) fn fail(&self, cause: &Arc<StoreError>) {
        {
            let mut s = self.state.lock();
            if s.failed.is_none() {
                s.failed = Some(cause.clone());
            }
        }
        self.changed.notify_all();
    }

    /// Waits until `mark` covers every event up to HLC `point`, or `timeout`.
    pub(crate) fn wait_for(
        &self,
        mark: Mark,
        point: HlcPoint,
        timeout: Duration,
    ) -> Result<Frontier, StoreError> {
        let (what, pick): (&'static str, fn(&Frontier) -> Watermark) = match mark {
            Mark::Durable => ("durable watermark", |f| f.durable),
            Mark::Visible => ("visible watermark", |f| f.visible),
            Mark::Written => ("written watermark", |f| f.written),
            Mark::Accepted => ("accepted watermark", |f| f.accepted),
        };
        let found = self.wait_until(what, timeout, |f| pick(f).covers_hlc(point), || false)?;
        found.ok_or(StoreError::WaitTimeout { what, waited_ms: 0 })
    }

    /// Wakes every waiter so it re-checks its own stop condition.
    pub(crate) fn wake_all(&self) {
        self.state.lock().wakes += 1;
        self.changed.notify_all();
    }

    pub(crate) fn frontier(&self) -> Frontier {
        self.state.lock().frontier
    }

    /// Waits until `done(frontier)` holds, `stop()` holds, the writer fails, or
    /// `timeout` passes. Returns the frontier that satisfied `done`, or `None`
    /// when stopped.
    pub(crate) fn wait_until(
        &self,
        what: &'static str,
        timeout: Duration,
        mut done: impl FnMut(&Frontier) -> bool,
        stop: impl Fn() -> bool,
    ) -> Result<Option<Frontier>, StoreError> {
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        let mut s = self.state.lock();
        loop {
            if done(&s.frontier) {
                return Ok(Some(s.frontier));
            }
            if let Some(cause) = &s.failed {
                return Err(StoreError::WriterFailed {
                    cause: cause.clone(),
                });
            }
            if stop() {
                return Ok(None);
            }
            let timed_out = match deadline {
                Some(d) => self.changed.wait_until(&mut s, d).timed_out(),
                None => {
                    self.changed.wait(&mut s);
                    false
                }
            };
            if timed_out && !done(&s.frontier) {
                return Err(StoreError::WaitTimeout {
                    what,
                    waited_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn marks_only_move_forward() {
        let m = Watermarks::new(3, HlcPoint::new(5, 0));
        m.advance(Mark::Visible, 2, HlcPoint::new(4, 0));
        assert_eq!(m.frontier().visible.next_global_sequence, 3);
        m.advance(Mark::Accepted, 9, HlcPoint::new(9, 1));
        assert_eq!(m.frontier().accepted.hlc, HlcPoint::new(9, 1));
        assert!(m.frontier().is_ordered());
        m.advance(Mark::Visible, 9, HlcPoint::new(9, 1));
        assert!(
            !m.frontier().is_ordered(),
            "visible ahead of written is out of order"
        );
    }

    #[test]
    fn a_wait_ends_at_failure_and_at_timeout() {
        let m = Watermarks::new(0, HlcPoint::default());
        let r = m.wait_until(
            "x",
            Duration::from_millis(5),
            |f| f.durable.next_global_sequence > 0,
            || false,
        );
        assert!(matches!(r, Err(StoreError::WaitTimeout { what: "x", .. })));
        m.fail(&Arc::new(StoreError::WriterCrashed));
        let r = m.wait_until(
            "x",
            Duration::from_secs(5),
            |f| f.durable.next_global_sequence > 0,
            || false,
        );
        assert!(matches!(r, Err(StoreError::WriterFailed { .. })));
    }
}
