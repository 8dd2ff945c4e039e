//! Reactors: a thread that reads new events of a region through a guaranteed
//! cursor, runs a handler on each, and appends the reactions it returns with
//! their causation set to the triggering event (INV-READ-009).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::append::Appender;
use crate::coordinate::Coordinate;
use crate::cursor::{CheckpointId, Cursor};
use crate::engine::Shared;
use crate::error::StoreError;
use crate::event::StoredEvent;
use crate::id::EventId;
use crate::kind::EventKind;
use crate::options::{AppendOptions, BatchAppendItem, CausationRef};

/// An event a reactor handler asks to append in response to another.
///
/// ```
/// use batpak::prelude::*;
/// let r = Reaction::new(Coordinate::new("mail:1", "mail")?, EventKind::custom(0xE, 5), &"welcome")?;
/// # let _ = r;
/// # Ok::<(), StoreError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Reaction {
    coordinate: Coordinate,
    kind: EventKind,
    payload: Vec<u8>,
    options: AppendOptions,
}

impl Reaction {
    /// Encodes `payload` (MessagePack, as `append` does) into a reaction.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// let r = Reaction::new(Coordinate::new("e", "s")?, EventKind::custom(0xE, 5), &serde_json::json!({"ok": true}))?;
    /// # let _ = r;
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn new<P: Serialize + ?Sized>(
        coordinate: Coordinate,
        kind: EventKind,
        payload: &P,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            coordinate,
            kind,
            payload: crate::event::encode_payload(payload)?,
            options: AppendOptions::default(),
        })
    }

    /// Append options (expected sequence, idempotency key, correlation id);
    /// the causation is always replaced by the triggering event.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// let r = Reaction::new(Coordinate::new("e", "s")?, EventKind::custom(0xE, 5), &1u8)?
    ///     .with_options(AppendOptions::default().with_correlation_id(CorrelationId::from_u128(3)));
    /// # let _ = r;
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn with_options(mut self, options: AppendOptions) -> Self {
        self.options = options;
        self
    }

    fn into_item(self, cause: EventId) -> BatchAppendItem {
        BatchAppendItem {
            coordinate: self.coordinate,
            kind: self.kind,
            payload: self.payload,
            options: self.options.with_causation(CausationRef::Event(cause)),
        }
    }
}

/// Where a reactor starts and whether it checkpoints.
///
/// ```
/// use batpak::prelude::*;
/// let opts = ReactorOptions::default()
///     .with_checkpoint(CheckpointId::new("mailer")?)
///     .with_batch_size(32);
/// # let _ = opts;
/// # Ok::<(), StoreError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReactorOptions {
    checkpoint: Option<CheckpointId>,
    batch: usize,
}

impl Default for ReactorOptions {
    fn default() -> Self {
        Self {
            checkpoint: None,
            batch: 64,
        }
    }
}

impl ReactorOptions {
    /// Resume from this checkpoint if it exists (else start with new events),
    /// and save it after each handled batch and when stopping. Delivery is at
    /// least once: events handled after the last save are handled again after a crash.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// let opts = ReactorOptions::default().with_checkpoint(CheckpointId::new("r")?);
    /// # let _ = opts;
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn with_checkpoint(mut self, id: CheckpointId) -> Self {
        self.checkpoint = Some(id);
        self
    }

    /// Events read per poll (at least 1; default 64).
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// let opts = ReactorOptions::default().with_batch_size(1);
    /// # let _ = opts;
    /// ```
    pub fn with_batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }
}

/// What a reactor has done so far.
///
/// ```
/// let s = batpak::ReactorStats::default();
/// assert_eq!((s.events_handled, s.reactions_appended), (0, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReactorStats {
    /// Events the handler has run on.
    pub events_handled: u64,
    /// Reactions appended.
    pub reactions_appended: u64,
}

#[derive(Debug, Default)]
struct Progress {
    stop: AtomicBool,
    handled: AtomicU64,
    appended: AtomicU64,
}

impl Progress {
    fn stats(&self) -> ReactorStats {
        ReactorStats {
            events_handled: self.handled.load(Ordering::Acquire),
            reactions_appended: self.appended.load(Ordering::Acquire),
        }
    }
}

/// A running reactor; [`ReactorHandle::stop`] (or dropping it) stops and joins its thread.
#[derive(Debug)]
pub struct ReactorHandle {
    progress: Arc<Progress>,
    shared: Arc<Shared>,
    /// Keeps the store that started the reactor open while it runs.
    _owner: Owner,
    thread: Option<JoinHandle<Result<(), StoreError>>>,
}

impl ReactorHandle {
    /// Counters so far.
    ///
    /// See [`Store::react_loop`](crate::Store::react_loop) for an example.
    pub fn stats(&self) -> ReactorStats {
        self.progress.stats()
    }

    /// True until the thread has ended (stopped, or failed: `stop` returns why).
    ///
    /// See [`Store::react_loop`](crate::Store::react_loop) for an example.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the reactor after the event it is handling, saves its checkpoint
    /// (if it has one), joins the thread and returns the counters, or the
    /// error that ended the loop.
    ///
    /// See [`Store::react_loop`](crate::Store::react_loop) for an example.
    pub fn stop(mut self) -> Result<ReactorStats, StoreError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<ReactorStats, StoreError> {
        self.progress.stop.store(true, Ordering::Release);
        self.shared.marks.wake_all();
        if let Some(t) = self.thread.take() {
            t.join().map_err(|_| StoreError::ReactorPanicked)??;
        }
        Ok(self.progress.stats())
    }
}

impl Drop for ReactorHandle {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "reactor ended with an error");
        }
    }
}

/// How long an idle reactor waits before looking again even without a wake-up.
const IDLE_RECHECK: Duration = Duration::from_secs(1);

/// What keeps a reactor's store open: the `Arc` it was started from.
pub(crate) type Owner = Arc<dyn std::any::Any + Send + Sync>;

struct Loop<F> {
    appender: Appender,
    _owner: Owner,
    cursor: Cursor,
    checkpoint: Option<CheckpointId>,
    batch: usize,
    progress: Arc<Progress>,
    handler: F,
}

impl<F> Loop<F>
where
    F: FnMut(&StoredEvent<serde_json::Value>) -> Vec<Reaction>,
{
    fn run(mut self) -> Result<(), StoreError> {
        let shared = self.appender.shared().clone();
        let mut handled_since_save = false;
        let mut last: Option<(u64, EventId)> = None;
        let result = loop {
            if self.progress.stop.load(Ordering::Acquire) {
                break Ok(());
            }
            // Read the frontier before polling: an event published after the
            // poll moves `visible` past this value and ends the wait below.
            let seen = shared.marks.frontier().visible.next_global_sequence;
            let events = match self.cursor.poll_events(self.batch) {
                Ok(e) => e,
                Err(e) => break Err(e),
            };
            if events.is_empty() {
                if handled_since_save {
                    self.save(last)?;
                    handled_since_save = false;
                }
                let stop = &self.progress.stop;
                match shared.marks.wait_until(
                    "new events",
                    IDLE_RECHECK,
                    |f| f.visible.next_global_sequence > seen,
                    || stop.load(Ordering::Acquire),
                ) {
                    Ok(_) | Err(StoreError::WaitTimeout { .. }) => continue,
                    Err(e) => break Err(e),
                }
            }
            let mut failed = None;
            for ev in &events {
                if self.progress.stop.load(Ordering::Acquire) {
                    break;
                }
                let id = ev.event_id();
                let items: Vec<BatchAppendItem> = (self.handler)(ev)
                    .into_iter()
                    .map(|r| r.into_item(id))
                    .collect();
                let n = items.len() as u64;
                if n > 0 {
                    if let Err(e) = self
                        .appender
                        .submit_batch(items)
                        .and_then(|t| t.wait_batch())
                    {
                        failed = Some(e);
                        break;
                    }
                }
                last = Some((ev.header().global_sequence, id));
                handled_since_save = true;
                self.progress.handled.fetch_add(1, Ordering::AcqRel);
                self.progress.appended.fetch_add(n, Ordering::AcqRel);
            }
            if let Some(e) = failed {
                break Err(e);
            }
            if handled_since_save {
                self.save(last)?;
                handled_since_save = false;
            }
        };
        if handled_since_save {
            self.save(last)?;
        }
        result
    }

    fn save(&self, last: Option<(u64, EventId)>) -> Result<(), StoreError> {
        match (&self.checkpoint, last) {
            (Some(id), Some(at)) => self.cursor.save_checkpoint_at(id, Some(at)),
            _ => Ok(()),
        }
    }
}

/// Starts a reactor thread reading `cursor` and appending through `appender`.
pub(crate) fn start<F>(
    owner: Owner,
    appender: Appender,
    cursor: Cursor,
    options: ReactorOptions,
    handler: F,
) -> Result<ReactorHandle, StoreError>
where
    F: FnMut(&StoredEvent<serde_json::Value>) -> Vec<Reaction> + Send + 'static,
{
    let mut cursor = cursor.at_end();
    if let Some(id) = &options.checkpoint {
        cursor = cursor.resume(id)?;
    }
    let shared = appender.shared().clone();
    let progress = Arc::new(Progress::default());
    let work = Loop {
        appender,
        _owner: owner.clone(),
        cursor,
        checkpoint: options.checkpoint,
        batch: options.batch,
        progress: progress.clone(),
        handler,
    };
    let thread = std::thread::Builder::new()
        .name("batpak-reactor".into())
        .spawn(move || work.run())
        .map_err(|e| StoreError::io("spawn reactor thread", &shared.cfg.dir, e))?;
    Ok(ReactorHandle {
        progress,
        shared,
        _owner: owner,
        thread: Some(thread),
    })
}
