//! Guaranteed cursors: pull events of a region in commit order from a
//! position, never skipping one, and save that position in a checkpoint file.
//!
//! A cursor's position is the global sequence of the last event it returned;
//! each poll returns the next committed (visible) events of its region after
//! it (INV-READ-006). A checkpoint (`cursors/<name>.ckpt` in the data
//! directory, layout in `format.rs` and `docs/FORMAT.md`) stores that position,
//! the last event's id and a fingerprint of the region, and is replaced
//! atomically, so after a crash a resumed cursor continues exactly after the
//! last checkpointed event (INV-READ-007).
//!
//! Delivery is at least once across restarts: events returned after the last
//! saved checkpoint are returned again by a cursor resumed from it.
//!
//! A shredded event (payload encryption) is delivered as such by
//! [`Cursor::poll_with_shredded`] and [`Cursor::poll_batch`] (its entry;
//! reading it gives [`StoreError::PayloadShredded`]); [`Cursor::poll_events`]
//! passes over it, since it has no payload to decode.

use std::sync::Arc;

use crate::engine::Shared;
use crate::error::{Corruption, StoreError};
use crate::event::StoredEvent;
use crate::format::{self, CheckpointRecord, DecodeError};
use crate::id::EventId;
use crate::index::IndexEntry;
use crate::region::Region;

/// One event a cursor delivered with [`Cursor::poll_with_shredded`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PolledEvent {
    /// The event, payload decoded as JSON.
    Readable(StoredEvent<serde_json::Value>),
    /// The event's payload was shredded: its header and coordinate, no payload.
    Shredded(StoredEvent<()>),
    /// The event's payload was removed by a tombstone compaction: its
    /// header and coordinate, no payload.
    Tombstoned(StoredEvent<()>),
}

impl PolledEvent {
    /// The event's id.
    pub fn event_id(&self) -> EventId {
        match self {
            Self::Readable(e) => e.event_id(),
            Self::Shredded(e) | Self::Tombstoned(e) => e.event_id(),
        }
    }

    /// True for a shredded event.
    pub fn is_shredded(&self) -> bool {
        matches!(self, Self::Shredded(_))
    }

    /// True for an event whose payload a tombstone compaction removed.
    pub fn is_tombstoned(&self) -> bool {
        matches!(self, Self::Tombstoned(_))
    }
}

/// A validated checkpoint name.
///
/// The same rules as a coordinate part (1 to [`CheckpointId::MAX_LEN`] bytes,
/// no NUL, control characters or traversal shapes), and no path separator,
/// no leading `.` and no `.tmp` suffix, since the name becomes a file name.
///
/// ```
/// use batpak::prelude::*;
/// assert!(CheckpointId::new("worker-1").is_ok());
/// assert!(CheckpointId::new("a/b").is_err());
/// assert!(CheckpointId::new("").is_err());
/// assert!(CheckpointId::new(".hidden").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckpointId(Arc<str>);

impl CheckpointId {
    /// Longest accepted name, in bytes (a file name must stay under 255 bytes).
    pub const MAX_LEN: usize = 128;

    /// Validates `name`; fails with [`StoreError::InvalidName`].
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// let id = CheckpointId::new("billing:projector")?;
    /// assert_eq!(id.as_str(), "billing:projector");
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn new(name: impl AsRef<str>) -> Result<Self, StoreError> {
        let name = name.as_ref();
        let bad = |reason: &'static str| StoreError::InvalidName {
            value: name.chars().take(64).collect(),
            reason,
        };
        crate::coordinate::validate_part("checkpoint", name).map_err(|e| match e {
            StoreError::InvalidCoordinate { problem, .. } => bad(match problem {
                crate::error::CoordinateProblem::Empty => "is empty",
                crate::error::CoordinateProblem::TooLong => "is too long",
                crate::error::CoordinateProblem::NulByte => "contains a NUL byte",
                crate::error::CoordinateProblem::ControlChar => "contains a control character",
                _ => "looks like a path traversal",
            }),
            other => other,
        })?;
        if name.len() > Self::MAX_LEN {
            return Err(bad("is longer than 128 bytes"));
        }
        if name.contains(['/', '\\']) {
            return Err(bad("contains a path separator"));
        }
        if name.starts_with('.') {
            return Err(bad("starts with a dot"));
        }
        if name.ends_with(format::TEMP_SUFFIX) {
            return Err(bad("ends with .tmp, the suffix of files being replaced"));
        }
        Ok(Self(Arc::from(name)))
    }

    /// The name.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// assert_eq!(CheckpointId::new("w")?.as_str(), "w");
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CheckpointId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pull cursor over one region that never skips or repeats a committed
/// event; see [`Store::cursor_guaranteed`](crate::Store::cursor_guaranteed).
///
/// It holds the store's shared state (not a borrow), so it can move to
/// another thread and outlive the `Store` value for reading.
#[derive(Debug, Clone)]
pub struct Cursor {
    shared: Arc<Shared>,
    region: Region,
    fingerprint: [u8; 32],
    /// Global sequence and id of the last event returned.
    last: Option<(u64, EventId)>,
}

impl Cursor {
    fn new(shared: Arc<Shared>, region: &Region) -> Self {
        Self {
            shared,
            fingerprint: format::region_fingerprint(region),
            region: region.clone(),
            last: None,
        }
    }

    /// Up to `max` next events of the region in commit order, as index
    /// entries; the position moves past them. Empty when caught up.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("entity:a", "scope:1")?;
    /// for n in 0..3u8 { store.append(&coord, EventKind::custom(0xE, 1), &n)?; }
    /// let mut cursor = store.cursor_guaranteed(&Region::all());
    /// assert_eq!(cursor.poll_batch(2)?.len(), 2);
    /// assert_eq!(cursor.poll_batch(2)?.len(), 1);
    /// assert!(cursor.poll_batch(2)?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn poll_batch(&mut self, max: usize) -> Result<Vec<IndexEntry>, StoreError> {
        let after = self.last.map(|(gs, _)| gs);
        let batch = self.shared.index.read().query(&self.region, after, max)?;
        if let Some(e) = batch.last() {
            self.last = Some((e.global_sequence(), e.event_id()));
        }
        Ok(batch)
    }

    /// Like [`Cursor::poll_batch`], with each event read and its payload
    /// decoded as JSON. If a read fails, the position stays after the last
    /// event returned successfully by an earlier call. A shredded event is
    /// passed over (the position moves past it); [`Cursor::poll_with_shredded`]
    /// delivers it.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("entity:a", "scope:1")?;
    /// store.append(&coord, EventKind::custom(0xE, 1), &serde_json::json!({"n": 7}))?;
    /// let mut cursor = store.cursor_guaranteed(&Region::entity("entity:a"));
    /// let events = cursor.poll_events(10)?;
    /// assert_eq!(events[0].event.payload["n"], 7);
    /// # Ok(()) }
    /// ```
    pub fn poll_events(
        &mut self,
        max: usize,
    ) -> Result<Vec<StoredEvent<serde_json::Value>>, StoreError> {
        let after = self.last.map(|(gs, _)| gs);
        let batch = self.shared.index.read().query(&self.region, after, max)?;
        let mut out = Vec::with_capacity(batch.len());
        for entry in &batch {
            match self.shared.read_json(entry) {
                Ok(event) => out.push(event),
                Err(StoreError::PayloadShredded { .. } | StoreError::PayloadTombstoned { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = batch.last() {
            self.last = Some((e.global_sequence(), e.event_id()));
        }
        Ok(out)
    }

    /// Like [`Cursor::poll_events`], delivering a shredded event as
    /// [`PolledEvent::Shredded`] instead of passing over it.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// use batpak::PolledEvent;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("entity:a", "scope:1")?;
    /// store.append(&coord, EventKind::custom(0xE, 1), &7u8)?;
    /// let mut cursor = store.cursor_guaranteed(&Region::all());
    /// let polled = cursor.poll_with_shredded(10)?;
    /// assert!(matches!(&polled[0], PolledEvent::Readable(e) if e.event.payload == 7));
    /// # Ok(()) }
    /// ```
    pub fn poll_with_shredded(&mut self, max: usize) -> Result<Vec<PolledEvent>, StoreError> {
        let after = self.last.map(|(gs, _)| gs);
        let batch = self.shared.index.read().query(&self.region, after, max)?;
        let mut out = Vec::with_capacity(batch.len());
        for entry in &batch {
            let stored = self.shared.read_entry(entry)?;
            let header = stored.event.header.clone();
            match self.shared.open_stored(stored) {
                Ok(raw) => out.push(PolledEvent::Readable(crate::event::decode_json_payload(
                    raw,
                )?)),
                Err(
                    e @ (StoreError::PayloadShredded { .. } | StoreError::PayloadTombstoned { .. }),
                ) => {
                    let bare = StoredEvent {
                        event: crate::event::Event {
                            header,
                            payload: (),
                        },
                        coordinate: entry.coordinate.clone(),
                    };
                    out.push(match e {
                        StoreError::PayloadShredded { .. } => PolledEvent::Shredded(bare),
                        _ => PolledEvent::Tombstoned(bare),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = batch.last() {
            self.last = Some((e.global_sequence(), e.event_id()));
        }
        Ok(out)
    }

    /// Moves past every event visible now: the next poll returns only events
    /// committed after this call.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// # let c = Coordinate::new("e", "s").unwrap();
    /// store.append(&c, EventKind::custom(0xE, 1), &1u8).unwrap();
    /// let mut cursor = store.cursor_guaranteed(&Region::all()).at_end();
    /// assert!(cursor.poll_batch(10).unwrap().is_empty());
    /// ```
    pub fn at_end(mut self) -> Self {
        let last = self.shared.index.read().last_entry();
        if let Some(e) = self.shared.or_reported(last, None) {
            self.last = Some((e.global_sequence(), e.event_id()));
        }
        self
    }

    /// Global sequence of the last event this cursor returned (`None`: none yet).
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// assert_eq!(store.cursor_guaranteed(&Region::all()).position(), None);
    /// ```
    pub fn position(&self) -> Option<u64> {
        self.last.map(|(gs, _)| gs)
    }

    /// The region this cursor reads.
    ///
    /// ```
    /// # use batpak::prelude::*;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    /// assert_eq!(store.cursor_guaranteed(&Region::all()).region(), &Region::all());
    /// ```
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// Saves the position as checkpoint `id`, replacing the file atomically
    /// (temporary file, fsync, rename, directory fsync).
    ///
    /// A cursor of a [`crate::ReadOnlyStore`] cannot save (the read-only open
    /// changes no file): [`StoreError::ReadOnly`]. It can still resume from a
    /// checkpoint saved through the writer, and [`Cursor::position`] tells
    /// where it is.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let coord = Coordinate::new("entity:a", "scope:1")?;
    /// for n in 0..4u8 { store.append(&coord, EventKind::custom(0xE, 1), &n)?; }
    /// let id = CheckpointId::new("worker-1")?;
    /// let mut cursor = store.cursor_guaranteed(&Region::all());
    /// cursor.poll_batch(3)?;
    /// cursor.save_checkpoint(&id)?;
    /// let mut again = store.cursor_from_checkpoint(&Region::all(), &id)?;
    /// assert_eq!(again.poll_batch(10)?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn save_checkpoint(&self, id: &CheckpointId) -> Result<(), StoreError> {
        self.save_checkpoint_at(id, self.last)
    }

    /// Saves checkpoint `id` at `last` (an event this cursor has returned).
    pub(crate) fn save_checkpoint_at(
        &self,
        id: &CheckpointId,
        last: Option<(u64, EventId)>,
    ) -> Result<(), StoreError> {
        if !self.shared.writable {
            return Err(StoreError::ReadOnly {
                operation: "save a cursor checkpoint",
            });
        }
        let record = CheckpointRecord {
            name: id.as_str().to_owned(),
            region: self.fingerprint,
            next_global_sequence: last.map_or(0, |(gs, _)| gs + 1),
            last_event_id: last.map(|(_, e)| e),
        };
        let dir = self.shared.ensure_dir(format::CHECKPOINT_DIR)?;
        let path = dir.join(format::checkpoint_file_name(id.as_str()));
        crate::fs::write_atomic(
            self.shared.cfg.fs.as_ref(),
            &path,
            &format::encode_checkpoint(&record),
        )
        .map_err(|e| StoreError::io("write cursor checkpoint", &path, e))
    }

    /// Moves to checkpoint `id` if it exists; keeps the current position if it
    /// does not. So `store.cursor_guaranteed(&r).resume(&id)?` means "resume,
    /// or start from the beginning", and `.at_end().resume(&id)?` means "resume,
    /// or start with new events".
    ///
    /// Errors as [`Store::cursor_from_checkpoint`](crate::Store::cursor_from_checkpoint), except for a missing file.
    ///
    /// ```
    /// use batpak::prelude::*;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let store = Store::open(StoreConfig::new(dir.path()))?;
    /// let id = CheckpointId::new("fresh")?;
    /// let cursor = store.cursor_guaranteed(&Region::all()).resume(&id)?;
    /// assert_eq!(cursor.position(), None);
    /// # Ok(()) }
    /// ```
    pub fn resume(mut self, id: &CheckpointId) -> Result<Self, StoreError> {
        if let Some(last) = load(&self.shared, &self.fingerprint, id)? {
            self.last = last;
        }
        Ok(self)
    }
}

/// Reads checkpoint `id` for a cursor over the region with `fingerprint`:
/// `Ok(None)` if there is no such file, else the position it records.
fn load(
    shared: &Shared,
    fingerprint: &[u8; 32],
    id: &CheckpointId,
) -> Result<Option<Option<(u64, EventId)>>, StoreError> {
    let path = shared
        .cfg
        .dir
        .join(format::CHECKPOINT_DIR)
        .join(format::checkpoint_file_name(id.as_str()));
    let fs = shared.cfg.fs.as_ref();
    let exists = fs
        .exists(&path)
        .map_err(|e| StoreError::io("stat cursor checkpoint", &path, e))?;
    if !exists {
        return Ok(None);
    }
    let bytes = crate::fs::read_all(fs, &path, format::MAX_SMALL_FILE)
        .map_err(|e| StoreError::io("read cursor checkpoint", &path, e))?;
    let corrupt = |reason: Corruption| StoreError::CursorCheckpointCorrupt {
        path: path.clone(),
        reason,
    };
    let record = match format::decode_checkpoint(&bytes) {
        Ok(r) => r,
        Err(DecodeError::UnsupportedVersion { found, .. }) => {
            return Err(StoreError::UnsupportedVersion {
                path,
                found,
                supported: format::CHECKPOINT_VERSION,
            })
        }
        Err(source) => {
            return Err(corrupt(Corruption::Decode {
                structure: "cursor checkpoint",
                source,
            }))
        }
    };
    if record.name != id.as_str() {
        return Err(corrupt(Corruption::WrongCheckpoint { found: record.name }));
    }
    if record.region != *fingerprint {
        return Err(StoreError::CursorCheckpointRegionMismatch {
            checkpoint: id.as_str().to_owned(),
        });
    }
    let Some(last_event) = record.last_event_id else {
        return Ok(Some(None));
    };
    let last_gs = record.next_global_sequence - 1;
    // The checkpoint must name an event this store holds at that position;
    // otherwise the log lost its tail after the checkpoint was saved (or a
    // read-only store opened before that event), and resuming could skip the
    // events that take those positions next.
    // An event a retention compaction removed since is held too: the
    // cursor resumes after its position.
    let held = {
        let index = shared.index.read();
        index
            .get(last_event)?
            .is_some_and(|e| e.global_sequence() == last_gs)
            || index.is_retired(last_gs)?
    };
    if !held {
        return Err(StoreError::CursorCheckpointAhead {
            checkpoint: id.as_str().to_owned(),
            global_sequence: last_gs,
        });
    }
    Ok(Some(Some((last_gs, last_event))))
}

/// A guaranteed cursor over `region`, from its first event.
pub(crate) fn cursor_guaranteed(shared: &Arc<Shared>, region: &Region) -> Cursor {
    Cursor::new(shared.clone(), region)
}

/// A guaranteed cursor over `region`, after the last event checkpoint `id` recorded.
pub(crate) fn cursor_from_checkpoint(
    shared: &Arc<Shared>,
    region: &Region,
    id: &CheckpointId,
) -> Result<Cursor, StoreError> {
    let mut cursor = Cursor::new(shared.clone(), region);
    match load(shared, &cursor.fingerprint, id)? {
        Some(last) => {
            cursor.last = last;
            Ok(cursor)
        }
        None => Err(StoreError::CursorCheckpointNotFound {
            checkpoint: id.as_str().to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(next: u64) -> CheckpointRecord {
        CheckpointRecord {
            name: "worker-1".into(),
            region: [7; 32],
            next_global_sequence: next,
            last_event_id: (next > 0).then(|| EventId::from_u128(99)),
        }
    }

    #[test]
    fn checkpoint_roundtrip_truncation_and_flips() {
        for next in [0, 1, 1 << 40] {
            let b = format::encode_checkpoint(&record(next));
            assert_eq!(format::decode_checkpoint(&b).unwrap(), record(next));
            for cut in 0..b.len() {
                assert!(
                    format::decode_checkpoint(&b[..cut]).is_err(),
                    "prefix {cut}"
                );
            }
            for i in 0..b.len() {
                let mut bad = b.clone();
                bad[i] ^= 0x10;
                assert!(format::decode_checkpoint(&bad).is_err(), "flip {i}");
            }
            let mut long = b.clone();
            long.push(0);
            assert!(format::decode_checkpoint(&long).is_err());
        }
    }

    #[test]
    fn region_fingerprints_tell_regions_apart() {
        use crate::kind::EventKind;
        let a = EventKind::custom(0xE, 1);
        let b = EventKind::custom(0xE, 2);
        let regions = [
            Region::all(),
            Region::entity("x"),
            Region::entity_prefix("x"),
            Region::scope("x"),
            Region::entity("x").with_scope("x"),
            Region::all().with_kind(a),
            Region::all().with_kinds([a, b]),
            Region::all().with_category(0xE),
            Region::entity("xy"),
        ];
        let prints: Vec<_> = regions.iter().map(format::region_fingerprint).collect();
        for i in 0..prints.len() {
            for j in 0..i {
                assert_ne!(prints[i], prints[j], "{:?} vs {:?}", regions[i], regions[j]);
            }
        }
        assert_eq!(
            format::region_fingerprint(&Region::all().with_kinds([b, a, b])),
            format::region_fingerprint(&Region::all().with_kinds([a, b])),
        );
    }

    #[test]
    fn checkpoint_names_are_validated() {
        for bad in [
            "",
            "a/b",
            "a\\b",
            "..",
            ".x",
            "x.tmp",
            "a\0b",
            "a\nb",
            &"n".repeat(129),
        ] {
            assert!(
                matches!(CheckpointId::new(bad), Err(StoreError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        for good in [
            "w",
            "worker-1",
            "billing:projector",
            "a..b",
            &"n".repeat(128),
        ] {
            assert!(CheckpointId::new(good).is_ok(), "{good:?}");
        }
    }
}
