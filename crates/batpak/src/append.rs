//! The write side of the engine: requests checked without the writer's
//! state, sent to the writer thread, and the tickets callers wait on.

use std::sync::Arc;
use std::time::Duration;

use crate::coordinate::Coordinate;
use crate::engine::Shared;
use crate::error::StoreError;
use crate::kind::EventKind;
use crate::options::{AppendOptions, BatchAppendItem};
use crate::receipt::AppendReceipt;
use crate::writer::{spin_recv, Command, PreparedItem, SPIN};

/// Sends append, sync and shutdown requests to the writer thread.
#[derive(Clone, Debug)]
pub(crate) struct Appender {
    shared: Arc<Shared>,
    tx: flume::Sender<Command>,
}

impl Appender {
    /// Longest a caller's own wait for a sync is worth polling for.
    const MAX_REPLY_SPIN: Duration = Duration::from_millis(1);

    pub(crate) fn new(shared: Arc<Shared>, tx: flume::Sender<Command>) -> Self {
        Self { shared, tx }
    }

    /// The engine state this appender writes to.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Checks what can be checked without the writer's state.
    pub(crate) fn prepare(
        &self,
        coordinate: Coordinate,
        kind: EventKind,
        payload: Vec<u8>,
        options: AppendOptions,
    ) -> Result<PreparedItem, StoreError> {
        if kind.is_reserved() {
            return Err(StoreError::InvalidKind {
                kind: kind.as_u16(),
                reason: "categories 0x0 and 0xD are reserved for the store",
            });
        }
        self.prepare_any_kind(coordinate, kind, payload, options)
    }

    /// [`Self::prepare`] without the reserved-kind check: only for the
    /// store's own events (denial records).
    pub(crate) fn prepare_any_kind(
        &self,
        coordinate: Coordinate,
        kind: EventKind,
        payload: Vec<u8>,
        options: AppendOptions,
    ) -> Result<PreparedItem, StoreError> {
        let limit = self.shared.cfg.max_payload_bytes;
        if payload.len() > limit {
            return Err(StoreError::PayloadTooLarge {
                size: payload.len(),
                limit,
            });
        }
        Ok(PreparedItem {
            coordinate,
            kind,
            payload,
            payload_version: options.payload_version.unwrap_or(1),
            correlation_id: options.correlation_id,
            causation: options.causation,
            expected: options.expected,
            idempotency_key: options.idempotency_key,
            attestation: None,
        })
    }

    /// Checks an atomic batch against the configured limits, prepares every
    /// item and queues them as one request.
    pub(crate) fn submit_batch(
        &self,
        items: Vec<BatchAppendItem>,
    ) -> Result<AppendTicket, StoreError> {
        let cfg = &self.shared.cfg;
        if items.is_empty() {
            return Err(StoreError::EmptyBatch);
        }
        if items.len() > cfg.max_batch_items {
            return Err(StoreError::BatchTooLarge {
                items: items.len(),
                limit: cfg.max_batch_items,
            });
        }
        let mut total = 0usize;
        let mut prepared = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            total += item.payload.len();
            if total > cfg.max_batch_bytes {
                return Err(StoreError::BatchItemTooLarge {
                    index,
                    bytes: total,
                    limit: cfg.max_batch_bytes,
                });
            }
            prepared.push(self.prepare(item.coordinate, item.kind, item.payload, item.options)?);
        }
        self.send(prepared, true)
    }

    /// Appends one prepared item and waits for its receipt.
    pub(crate) fn append_one(&self, item: PreparedItem) -> Result<AppendReceipt, StoreError> {
        let mut receipts = self.send(vec![item], true)?.wait_batch()?;
        receipts.pop().ok_or(StoreError::WriterCrashed)
    }

    /// Queues prepared items as one atomic request. `block`: wait while the
    /// writer's queue is full, else fail with [`StoreError::Backpressure`].
    pub(crate) fn send(
        &self,
        items: Vec<PreparedItem>,
        block: bool,
    ) -> Result<AppendTicket, StoreError> {
        // After a failure the writer still answers, naming the first failure.
        let (reply, rx) = flume::bounded(1);
        let cmd = Command::Append { items, reply };
        if block {
            self.tx.send(cmd).map_err(|_| StoreError::Closed)?;
        } else {
            self.tx.try_send(cmd).map_err(|e| match e {
                flume::TrySendError::Full(_) => StoreError::Backpressure,
                flume::TrySendError::Disconnected(_) => StoreError::Closed,
            })?;
        }
        Ok(AppendTicket {
            rx,
            spin: self.reply_spin(),
        })
    }

    /// Makes every acknowledged append durable.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let (reply, rx) = flume::bounded(1);
        self.tx
            .send(Command::Sync(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::WriterCrashed)?
    }

    /// Asks the writer to sync and record a tree head.
    pub(crate) fn signed_head(&self) -> Result<crate::head::TreeHead, StoreError> {
        let (reply, rx) = flume::bounded(1);
        self.tx
            .send(Command::Head(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::WriterCrashed)?
    }

    /// Asks the writer for a consistent cut of the data directory (a
    /// snapshot or fork copies it).
    pub(crate) fn cut(&self) -> Result<crate::writer::Cut, StoreError> {
        let (reply, rx) = flume::bounded(1);
        self.tx
            .send(Command::Cut(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::WriterCrashed)?
    }

    /// The segments the writer will never write again, from the writer.
    pub(crate) fn sealed_segments(&self) -> Result<Vec<crate::segment::SealedSegment>, StoreError> {
        let (reply, rx) = flume::bounded(1);
        self.tx
            .send(Command::Sealed(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::WriterCrashed)?
    }

    /// Asks the writer to sync, seal and stop; `Err` if it could not be asked
    /// or did not answer.
    pub(crate) fn shutdown(&self) -> Result<(), StoreError> {
        let (reply, rx) = flume::bounded(1);
        if self.tx.send(Command::Shutdown(reply)).is_err() {
            return Err(StoreError::WriterCrashed);
        }
        rx.recv().unwrap_or(Err(StoreError::WriterCrashed))
    }

    /// How long a caller polls for its reply before parking: the writer's
    /// usual poll plus one sync, when syncs are short. Parking and being woken
    /// costs tens of microseconds on a virtual machine, a large share of a
    /// durable append; polling (and yielding) through a short sync avoids it.
    fn reply_spin(&self) -> Duration {
        let sync = self.shared.last_sync_time();
        SPIN + if sync <= Self::MAX_REPLY_SPIN {
            sync
        } else {
            Duration::ZERO
        }
    }
}

/// A submitted append or batch, to wait on later.
#[derive(Debug)]
#[must_use = "a ticket does nothing unless waited on; the append happens either way"]
pub struct AppendTicket {
    pub(crate) rx: flume::Receiver<Result<Vec<AppendReceipt>, StoreError>>,
    /// How long waiting polls before it parks: about one commit.
    pub(crate) spin: std::time::Duration,
}

impl AppendTicket {
    /// Waits for the receipt of a single append (the first receipt of a batch).
    pub fn wait(self) -> Result<AppendReceipt, StoreError> {
        self.wait_batch()?
            .into_iter()
            .next()
            .ok_or(StoreError::WriterCrashed)
    }

    /// Waits for every receipt of a batch.
    pub fn wait_batch(self) -> Result<Vec<AppendReceipt>, StoreError> {
        if let Some(r) = spin_recv(&self.rx, self.spin) {
            return r;
        }
        self.rx.recv().map_err(|_| StoreError::WriterCrashed)?
    }

    /// Waits at most `timeout`; `Ok(None)` if the writer has not answered yet.
    pub fn wait_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<Vec<AppendReceipt>>, StoreError> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => r.map(Some),
            Err(flume::RecvTimeoutError::Timeout) => Ok(None),
            Err(flume::RecvTimeoutError::Disconnected) => Err(StoreError::WriterCrashed),
        }
    }
}
