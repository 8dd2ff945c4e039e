//! The single writer thread: the group-commit loop and publishing.
//!
//! Callers validate and encode payloads on their own threads and send the
//! result here. The writer takes every request waiting at that moment,
//! stages each ([`stage`]: no I/O), places their frames in the active
//! segment, writes them with one `write` per segment touched and syncs once
//! according to the [`SyncMode`] ([`segment`]), and only then publishes the
//! events to readers and acknowledges the callers. After any I/O failure it
//! acknowledges nothing more (fail-stop) until the store is reopened.

mod cut;
mod segment;
mod stage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flume::{Receiver, RecvTimeoutError, Sender};

use crate::config::SyncMode;
use crate::engine::Shared;
use crate::error::StoreError;
use crate::format::{self, KeyRecord, IDEMPOTENCY_FILE};
use crate::head::TreeHead;
use crate::receipt::AppendReceipt;
use crate::recovery::Tail;
use crate::seam::{StagedEvent, WriteHook};

pub(crate) use cut::{Cut, CutFile, CutKind};
use segment::{Room, SegmentWriter};
pub(crate) use stage::PreparedItem;
use stage::{GroupKeys, Staged, Stager, Staging, Tips};

/// How long a waiting thread polls before it parks. Waking a parked thread
/// costs tens of microseconds on a virtual machine, more than an append.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// Polls `rx` for up to `budget` before the caller blocks on it, yielding the
/// processor between polls so that, when cores are oversubscribed, the thread
/// being waited for gets to run.
pub(crate) fn spin_recv<T>(rx: &Receiver<T>, budget: Duration) -> Option<T> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(flume::TryRecvError::Disconnected) => return None,
            Err(flume::TryRecvError::Empty) => {}
        }
        if start.elapsed() >= budget {
            return None;
        }
        std::thread::yield_now();
    }
}

/// Longest a durable group waits for more requests before it commits.
const GATHER_MAX: Duration = Duration::from_micros(100);

/// Work for the writer.
pub(crate) enum Command {
    /// Append these items atomically (one item: a plain append).
    Append {
        items: Vec<PreparedItem>,
        reply: Sender<Result<Vec<AppendReceipt>, StoreError>>,
    },
    /// Make everything written so far durable.
    Sync(Sender<Result<(), StoreError>>),
    /// Sync, seal the active segment and stop.
    Shutdown(Sender<Result<(), StoreError>>),
    /// Make everything written so far durable and record a signed tree head of it.
    Head(Sender<Result<TreeHead, StoreError>>),
    /// Take a consistent cut for a snapshot or fork (see [`cut`]).
    Cut(Sender<Result<Cut, StoreError>>),
    /// List the segments before the active one: they never change again.
    Sealed(Sender<Result<Vec<crate::segment::SealedSegment>, StoreError>>),
}

/// A request whose frames are in the group buffer, waiting for the write and sync.
struct Pending {
    reply: Sender<Result<Vec<AppendReceipt>, StoreError>>,
    receipts: Vec<AppendReceipt>,
    staged: Vec<Staged>,
    /// A retry answered with earlier receipts.
    deduped: bool,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    rx: Receiver<Command>,
    stager: Stager,
    segments: SegmentWriter,
    /// Written but not yet synced (for the non-durable sync modes).
    dirty_since: Option<Instant>,
    failed: Option<Arc<StoreError>>,
    hook: Option<Arc<dyn WriteHook>>,
    /// For the last two groups, the requests answered plus those that
    /// queued while the group synced: how many callers are appending now.
    recent_callers: [usize; 2],
    /// Events covered by the last head this writer recorded (or found), and when.
    head_size: u64,
    head_at: Instant,
    /// A segment was sealed in this group: record a head once it is published.
    head_wanted: bool,
    /// A new segment was created in this group: once its events are
    /// published, the sealed segments the memtable holds become parts.
    parts_wanted: bool,
    /// Frames were written since the last successful sync.
    unsynced: bool,
    /// Events published to readers.
    published: u64,
    /// Wakes the tree thread.
    tree_feed: Option<Sender<()>>,
    tree_thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Prepares the writer from what recovery found. Opens the tail segment for writing.
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: Receiver<Command>,
        tail: Option<Tail>,
        keys: Vec<KeyRecord>,
    ) -> Result<Self, StoreError> {
        let cfg = &shared.cfg;
        let published = shared.index.read().next_global_sequence();
        let head_size = shared
            .evidence
            .heads
            .lock()
            .latest(&shared.evidence.origin)
            .map_or(0, |h| h.size())
            .min(published);
        let (tree_feed, tree_thread) = crate::notary::spawn_tree_thread(shared.clone())?;
        let mut segments = SegmentWriter::new(&cfg.dir, cfg.fs.clone(), cfg.segment_max_bytes);
        if let Some(t) = tail {
            let file = segments.resume(t.id, t.version, t.footer, t.sealed)?;
            shared.files.write().insert(t.id, file);
        }
        Ok(Self {
            hook: cfg.write_hook.clone(),
            stager: Stager::new(shared.clone(), keys),
            shared,
            rx,
            segments,
            dirty_since: None,
            failed: None,
            recent_callers: [1, 1],
            head_size,
            head_at: Instant::now(),
            head_wanted: false,
            parts_wanted: false,
            // What recovery kept may have been read from the OS cache only.
            unsynced: true,
            published,
            tree_feed: Some(tree_feed),
            tree_thread: Some(tree_thread),
        })
    }

    /// Runs until shutdown or until every sender is gone.
    pub(crate) fn run(mut self) {
        self.serve();
        // The tree thread drains what it was sent and stops; its files are
        // then left alone for the next open.
        self.tree_feed = None;
        if let Some(t) = self.tree_thread.take() {
            let _ = t.join();
        }
    }

    fn serve(&mut self) {
        // Events recovered since the last head (after a crash, or a store
        // older than its heads file) get a head now: a floor for the next open.
        if self.published() > self.head_size {
            let _ = self.record_head(false);
        }
        loop {
            let first = match self.next_command() {
                Some(c) => c,
                None => {
                    let _ = self.finish();
                    return;
                }
            };
            let mut group = vec![first];
            while group.len() < self.shared.cfg.max_group {
                match self.rx.try_recv() {
                    Ok(c) => group.push(c),
                    Err(_) => break,
                }
            }
            self.gather(&mut group);
            if self.process(group) {
                return;
            }
        }
    }

    /// Before a durable group commits, waits briefly for the callers the
    /// last groups saw (answered, or queued while they synced): callers
    /// acknowledged by the previous sync are about to send their next
    /// request, and one sync can then cover them all instead of every other
    /// one. One caller never waits; the wait is at most half the last sync
    /// and [`GATHER_MAX`], so a caller that went quiet costs its group little.
    fn gather(&self, group: &mut Vec<Command>) {
        if self.shared.cfg.sync_mode != SyncMode::EveryGroup {
            return;
        }
        let want = self.recent_callers[0]
            .max(self.recent_callers[1])
            .min(self.shared.cfg.max_group);
        if group.len() >= want {
            return;
        }
        let deadline = Instant::now() + (self.shared.last_sync_time() / 2).min(GATHER_MAX);
        while group.len() < want {
            match self.rx.try_recv() {
                Ok(c) => {
                    group.push(c);
                    continue;
                }
                Err(flume::TryRecvError::Disconnected) => return,
                Err(flume::TryRecvError::Empty) => {}
            }
            if Instant::now() >= deadline {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// Waits for the next command; in `IntervalMs` mode syncs when the interval passes.
    fn next_command(&mut self) -> Option<Command> {
        if let Some(c) = spin_recv(&self.rx, SPIN) {
            return Some(c);
        }
        loop {
            let sync_due = match (self.shared.cfg.sync_mode, self.dirty_since) {
                (SyncMode::IntervalMs(ms), Some(t)) => {
                    Some(t + Duration::from_millis(u64::from(ms)))
                }
                _ => None,
            };
            let head_due = match self.shared.cfg.head_interval {
                Some(every) if self.failed.is_none() && self.published() > self.head_size => {
                    Some(self.head_at + every)
                }
                _ => None,
            };
            let deadline = match (sync_due, head_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(deadline) = deadline else {
                return self.rx.recv().ok();
            };
            match self.rx.recv_deadline(deadline) {
                Ok(c) => return Some(c),
                Err(RecvTimeoutError::Timeout) => {
                    if head_due.is_some_and(|t| Instant::now() >= t) {
                        let _ = self.record_head(false);
                    } else {
                        let _ = self.sync_active();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Handles one group; returns true when the writer should stop.
    fn process(&mut self, group: Vec<Command>) -> bool {
        let group_len = group.len();
        let mut buf: Vec<u8> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut tips = Tips::default();
        let mut stop = false;
        let mut syncs: Vec<Sender<Result<(), StoreError>>> = Vec::new();
        let mut shutdown: Option<Sender<Result<(), StoreError>>> = None;
        let mut heads: Vec<Sender<Result<TreeHead, StoreError>>> = Vec::new();
        let mut cuts: Vec<Sender<Result<Cut, StoreError>>> = Vec::new();
        let mut sealed: Vec<Sender<Result<Vec<crate::segment::SealedSegment>, StoreError>>> =
            Vec::new();
        let mut group_keys = GroupKeys::default();
        for cmd in group {
            match cmd {
                Command::Append { items, reply } => {
                    if let Err(e) = self.check_failed() {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                    match self.stage(items, &mut buf, &mut tips, &group_keys) {
                        Ok((receipts, staged, deduped)) => {
                            if !deduped {
                                for (r, s) in receipts.iter().zip(&staged) {
                                    if let (Some(k), Some(d)) = (s.header.idempotency_key, s.digest)
                                    {
                                        group_keys.insert(k, (r.clone(), d));
                                    }
                                }
                            }
                            pending.push(Pending {
                                reply,
                                receipts,
                                staged,
                                deduped,
                            });
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
                Command::Sync(reply) => syncs.push(reply),
                Command::Head(reply) => heads.push(reply),
                Command::Cut(reply) => cuts.push(reply),
                Command::Sealed(reply) => sealed.push(reply),
                Command::Shutdown(reply) => {
                    shutdown = Some(reply);
                    stop = true;
                }
            }
        }
        let durable_mode = self.shared.cfg.sync_mode == SyncMode::EveryGroup;
        let mut result = self.flush(&mut buf);
        if result.is_ok() && !pending.is_empty() {
            if durable_mode || !syncs.is_empty() {
                result = self.sync_active();
            } else if self.dirty_since.is_none() {
                self.dirty_since = Some(Instant::now());
            }
        }
        let synced_now = result.is_ok() && (durable_mode || !syncs.is_empty());
        // Callers answered now plus callers that queued during the sync: how
        // many are appending (see `gather`).
        self.recent_callers = [self.recent_callers[1], group_len + self.rx.len()];
        match result {
            Ok(()) => self.publish(pending, synced_now),
            Err(e) => {
                self.fail(&e);
                let cause = self
                    .failed
                    .clone()
                    .unwrap_or_else(|| Arc::new(e.copy_as_cause()));
                for p in pending {
                    let _ = p.reply.send(Err(StoreError::WriterFailed {
                        cause: cause.clone(),
                    }));
                }
            }
        }
        for s in syncs {
            let r = self.check_failed().and_then(|()| self.sync_active());
            let _ = s.send(r);
        }
        if std::mem::take(&mut self.head_wanted) && self.failed.is_none() {
            let _ = self.record_head(false);
        }
        if std::mem::take(&mut self.parts_wanted) && self.failed.is_none() {
            self.move_sealed_to_parts();
        }
        for h in heads {
            let _ = h.send(self.record_head(true));
        }
        // After the group is published and before any later request is
        // staged: the cut falls between two groups.
        for c in cuts {
            let _ = c.send(self.cut());
        }
        for s in sealed {
            let _ = s.send(self.sealed_segments());
        }
        if let Some(reply) = shutdown {
            let _ = reply.send(self.finish());
        }
        stop
    }

    /// Stages one request and places its frames after the group's earlier
    /// ones (rotating first if they would overflow a non-empty segment, so a
    /// batch never straddles two segments). Returns its receipts, its staged
    /// events and whether it was a retry answered from earlier appends.
    fn stage(
        &mut self,
        items: Vec<PreparedItem>,
        buf: &mut Vec<u8>,
        tips: &mut Tips,
        group_keys: &GroupKeys,
    ) -> Result<(Vec<AppendReceipt>, Vec<Staged>, bool), StoreError> {
        let mut request = match self.stager.stage(items, tips, group_keys)? {
            Staging::Deduped(receipts) => return Ok((receipts, Vec::new(), true)),
            Staging::Staged(r) => r,
        };
        if let Some(hook) = &self.hook {
            let events: Vec<StagedEvent<'_>> = request
                .staged
                .iter()
                .map(|s| StagedEvent {
                    header: &s.header,
                    coordinate: &s.entry.coordinate,
                })
                .collect();
            // Nothing of this request was written: a refusal fails it alone,
            // and the writer goes on (the hook's contract, in `seam`).
            hook.before_write(&events)?;
        }
        self.make_room(buf, request.frames.len() as u64)?;
        self.segments.place(&mut request.staged)?;
        buf.extend_from_slice(&request.frames);
        self.stager.commit(&mut request, tips);
        self.shared
            .mark_accepted(self.stager.next_global_sequence(), self.stager.hlc());
        Ok((request.receipts, request.staged, false))
    }

    /// The segments before the active one, in id order. Refused after a
    /// write-path failure: the files may not be what was acknowledged.
    fn sealed_segments(&self) -> Result<Vec<crate::segment::SealedSegment>, StoreError> {
        self.check_failed()?;
        let active = self.segments.cut_point().map(|(id, _)| id);
        Ok(self
            .shared
            .files
            .read()
            .iter()
            .filter(|(id, _)| Some(**id) != active)
            .map(|(&id, file)| crate::segment::SealedSegment {
                id,
                file: file.clone(),
            })
            .collect())
    }

    /// The first failure, as later requests are told it.
    fn check_failed(&self) -> Result<(), StoreError> {
        match &self.failed {
            Some(cause) => Err(StoreError::WriterFailed {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Fail-stops the writer; the first failure is what later requests are told.
    fn fail(&mut self, error: &StoreError) {
        tracing::error!(%error, "writer fail-stopped");
        if self.failed.is_none() {
            let cause = Arc::new(error.copy_as_cause());
            self.shared.mark_failed(&cause);
            self.failed = Some(cause);
        }
    }

    /// Ensures an active segment with room for `need` more bytes (a full,
    /// non-empty segment is flushed, sealed and replaced first).
    fn make_room(&mut self, buf: &mut Vec<u8>, need: u64) -> Result<(), StoreError> {
        let room = self.segments.room(buf.len(), need);
        if room == Room::Fits {
            // Reading changes nothing on disk: a failure here is this
            // request's error, not a reason to stop the writer.
            self.segments.load_footer_entries()?;
            // The segment it continues leaves its part for the memtable
            // (before its index file goes).
            match self.segments.cut_point() {
                Some((id, _)) if self.segments.is_sealed() => {
                    self.shared.index.write().unseal(id)?;
                }
                _ => {}
            }
        }
        let result = match room {
            Room::Fits => self.segments.unseal(),
            Room::Full => self
                .flush(buf)
                .and_then(|()| self.seal())
                .and_then(|()| self.create_segment()),
            Room::NoSegment => self.create_segment(),
        };
        // A failed unseal, seal or segment creation leaves the disk state
        // unknown, like any other write-path failure: stop.
        if let Err(e) = &result {
            self.fail(e);
        }
        result
    }

    /// Writes the buffered frames at the end of the active segment.
    fn flush(&mut self, buf: &mut Vec<u8>) -> Result<(), StoreError> {
        if buf.is_empty() {
            return Ok(());
        }
        self.unsynced = true;
        self.segments.write(buf)?;
        buf.clear();
        // Every staged frame before `next_global_sequence` is now in the OS.
        self.shared
            .mark_written(self.stager.next_global_sequence(), self.stager.hlc());
        Ok(())
    }

    fn sync_active(&mut self) -> Result<(), StoreError> {
        self.check_failed()?;
        let (took, result) = self.segments.sync();
        self.shared.note_sync_time(took);
        if let Err(e) = result {
            self.fail(&e);
            return Err(e);
        }
        self.shared
            .mark_durable(self.stager.next_global_sequence(), self.stager.hlc());
        self.dirty_since = None;
        self.unsynced = false;
        Ok(())
    }

    /// Writes the footer of the active segment and makes it durable.
    fn seal(&mut self) -> Result<(), StoreError> {
        if self.segments.seal()? {
            self.shared
                .mark_durable(self.stager.next_global_sequence(), self.stager.hlc());
            self.write_sidecar();
            self.head_wanted = true;
        }
        Ok(())
    }

    /// Creates the next segment file and opens it to readers.
    fn create_segment(&mut self) -> Result<(), StoreError> {
        let (id, file) = self.segments.create(self.stager.next_global_sequence())?;
        self.shared.files.write().insert(id, file);
        self.parts_wanted = true;
        Ok(())
    }

    /// Turns the sealed segments whose events the memtable holds (all but
    /// the active one) into parts read from their index files, so memory
    /// holds only the active segment's events. A segment whose part cannot
    /// be opened leaves them all where they are (memory, not answers, is
    /// what that costs), and is logged.
    fn move_sealed_to_parts(&mut self) {
        let active = self.segments.cut_point().map(|(id, _)| id);
        let sealed: Vec<u64> = self
            .shared
            .index
            .read()
            .mem_segments()
            .into_iter()
            .filter(|&id| Some(id) != active)
            .collect();
        if sealed.is_empty() {
            return;
        }
        let cfg = &self.shared.cfg;
        let opened = (|| {
            let index = self.shared.index.read();
            let mut parts = Vec::with_capacity(sealed.len());
            for &id in &sealed {
                let path = format::segment_path(&cfg.dir, id);
                let file = self
                    .shared
                    .files
                    .read()
                    .get(&id)
                    .map(|f| f.file.clone())
                    .ok_or(StoreError::WriterCrashed)?;
                let s = crate::index::SealedSegment::at(&cfg.fs, &cfg.dir, id, &path, &file)?
                    .ok_or_else(|| StoreError::CorruptSegment {
                        segment: path.clone(),
                        offset: 0,
                        reason: crate::error::Corruption::FooterMissing,
                    })?;
                parts.push(index.open_sealed(&s, None, true)?.0);
            }
            Ok::<_, StoreError>(parts)
        })();
        match opened {
            Ok(parts) => self.shared.index.write().seal(parts),
            Err(error) => {
                tracing::warn!(%error, "sealed segments stay in memory: their parts could not be opened");
            }
        }
    }

    /// Snapshots the idempotency keys of published events. A failure only costs
    /// a rebuild from the log at the next open, so it is logged, not fatal.
    fn write_sidecar(&self) {
        let through = self.shared.index.read().next_global_sequence();
        let records: Vec<KeyRecord> = self
            .stager
            .keys()
            .records()
            .into_iter()
            .filter(|r| r.global_sequence < through)
            .collect();
        let bytes = format::encode_idempotency(through, &records);
        let path = self.shared.cfg.dir.join(IDEMPOTENCY_FILE);
        if let Err(e) = crate::fs::write_atomic(self.shared.cfg.fs.as_ref(), &path, &bytes) {
            tracing::warn!(error = %e, path = %path.display(), "could not write idempotency sidecar; it will be rebuilt from the log");
        }
    }

    /// Makes staged events visible and acknowledges their callers.
    fn publish(&mut self, pending: Vec<Pending>, durable: bool) {
        if pending.is_empty() {
            return;
        }
        let (next, hlc) = (self.stager.next_global_sequence(), self.stager.hlc());
        {
            let mut idx = self.shared.index.write();
            // In order, before `visible` moves: a reader proving a visible
            // size finds them in the tree or hashes them in itself.
            let (added, waiting) = self.shared.evidence.add_pending(
                pending
                    .iter()
                    .flat_map(|p| p.staged.iter().map(|s| s.header.event_hash)),
            );
            self.published += added;
            if waiting >= crate::notary::WAKE_TREE_AT {
                if let Some(feed) = &self.tree_feed {
                    // A wake already queued covers these too.
                    let _ = feed.try_send(());
                }
            }
            for p in &pending {
                for s in &p.staged {
                    idx.push(
                        s.entry.clone(),
                        Some(s.header.event_hash),
                        s.header.correlation_id,
                        s.header.causation_id,
                    );
                }
            }
            idx.last_hlc = hlc;
            // Under the index lock: a reader that saw these entries then finds
            // them covered by `visible`, and one that sees `visible` finds them.
            self.shared.mark_visible(next, hlc);
        }
        // Offered before the callers are answered: once a receipt is out, every
        // subscriber has either queued its notification or counted it missed.
        self.shared.subscribers.publish(
            pending
                .iter()
                .flat_map(|p| p.staged.iter().map(|s| &s.entry)),
        );
        self.stager
            .remember_keys(pending.iter().flat_map(|p| p.staged.iter()));
        // A segment sealed in this group gets its head before the callers
        // hear back, so the rotating append's work is all done when it returns.
        if std::mem::take(&mut self.head_wanted) && durable {
            let _ = self.record_head(false);
        }
        for p in pending {
            let mut receipts = p.receipts;
            for r in &mut receipts {
                // A retry of an older append keeps its own durability unless this group synced.
                r.durable = durable || (p.deduped && r.durable);
            }
            let _ = p.reply.send(Ok(receipts));
        }
    }

    /// Final sync and seal; used at shutdown.
    fn finish(&mut self) -> Result<(), StoreError> {
        self.check_failed()?;
        self.sync_active()?;
        if self.segments.has_frames() {
            self.seal()?;
        } else if self.stager.keys().len() > 0 {
            self.write_sidecar();
        }
        self.head_wanted = false;
        if self.published() > self.head_size {
            self.record_head(false)?;
        }
        Ok(())
    }

    /// Events published to readers.
    fn published(&self) -> u64 {
        self.published
    }

    /// Syncs, then records a head of everything published. A failure to
    /// record is the caller's error (and logged), never a reason to stop
    /// the writer: no event depends on it.
    fn record_head(&mut self, require_signature: bool) -> Result<TreeHead, StoreError> {
        self.check_failed()?;
        if self.unsynced {
            self.sync_active()?;
        }
        self.head_at = Instant::now();
        self.shared.evidence.caught_up(self.published)?;
        match crate::notary::record_head(&self.shared, require_signature) {
            Ok(head) => {
                self.head_size = head.size();
                Ok(head)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not record a tree head");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::config::StoreConfig;
    use crate::coordinate::Coordinate;
    use crate::kind::EventKind;
    use crate::store::Store;

    const K: EventKind = EventKind::custom(0xE, 1);

    /// Records what it is shown and refuses the request numbered `fail_at`.
    #[derive(Debug, Default)]
    struct Fence {
        calls: AtomicUsize,
        fail_at: usize,
        seen: Mutex<Vec<(u64, String)>>,
    }
    impl WriteHook for Fence {
        fn before_write(&self, events: &[StagedEvent<'_>]) -> Result<(), StoreError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let mut seen = self.seen.lock().unwrap();
            for e in events {
                seen.push((e.header.global_sequence, e.coordinate.entity().to_owned()));
            }
            if n == self.fail_at {
                return Err(StoreError::io(
                    "fence",
                    "keyset",
                    std::io::ErrorKind::Other.into(),
                ));
            }
            Ok(())
        }
    }

    #[test]
    fn the_write_hook_sees_each_request_and_a_refusal_fails_only_that_request() {
        let dir = tempfile::tempdir().unwrap();
        let fence = Arc::new(Fence {
            fail_at: 2,
            ..Fence::default()
        });
        let cfg = StoreConfig {
            write_hook: Some(fence.clone()),
            ..StoreConfig::new(dir.path())
        };
        let store = Store::open(cfg).unwrap();
        let c = Coordinate::new("a", "s").unwrap();
        store.append(&c, K, &1u8).unwrap();
        store.append(&c, K, &2u8).unwrap();
        let err = store.append(&c, K, &3u8).unwrap_err();
        assert_eq!(
            err.code(),
            "io",
            "the refusing request gets the hook's error: {err:?}"
        );
        assert_eq!(store.len(), 2, "nothing of the refused request is visible");
        // The writer goes on: the next request takes the sequence the refused one did not.
        let next = store.append(&c, K, &4u8).unwrap();
        assert_eq!((next.global_sequence, next.entity_sequence), (2, 2));
        assert_eq!(
            *fence.seen.lock().unwrap(),
            vec![
                (0, "a".to_owned()),
                (1, "a".to_owned()),
                (2, "a".to_owned()),
                (2, "a".to_owned())
            ]
        );
        drop(store);
        let reopened = Store::open(StoreConfig::new(dir.path())).unwrap();
        assert_eq!(reopened.len(), 3, "the refused request reached no file");
        let payloads: Vec<serde_json::Value> = reopened
            .query(&crate::region::Region::all())
            .iter()
            .map(|e| reopened.get(e.event_id()).unwrap().event.payload)
            .collect();
        assert_eq!(payloads, [1, 2, 4]);
    }
}
