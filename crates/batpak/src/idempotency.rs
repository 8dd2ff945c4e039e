//! The writer's memory of idempotency keys, with its retention rule.
//!
//! Keys are durable because each event's frame carries its key (covered by
//! `event_hash`). The sidecar file `IDEMPOTENCY` is a snapshot written when a
//! segment is sealed and at close, so that open does not reread sealed
//! frames; a missing, stale or corrupt sidecar is reported and the keys are
//! rebuilt from the log.

use std::collections::{BTreeMap, HashMap, VecDeque};

use foldhash::fast::RandomState;

use crate::config::StoreConfig;
use crate::error::{Corruption, StoreError};
use crate::format::{self, decode_frame, KeyRecord, IDEMPOTENCY_FILE, SEGMENT_HEADER_LEN};
use crate::id::IdempotencyKey;
use crate::index::Index;
use crate::segment::SegmentFile;

/// Keys of recent appends. Every key whose event lies within `window`
/// global sequences of the newest event is kept; older keys are evicted,
/// oldest first, only while more than `capacity` keys are held.
#[derive(Debug)]
pub(crate) struct KeyIndex {
    map: HashMap<IdempotencyKey, KeyRecord, RandomState>,
    order: VecDeque<(u64, IdempotencyKey)>,
    window: u64,
    capacity: usize,
}

impl KeyIndex {
    pub(crate) fn new(window: u64, capacity: usize) -> Self {
        Self {
            map: HashMap::default(),
            order: VecDeque::new(),
            window,
            capacity,
        }
    }

    pub(crate) fn get(&self, key: &IdempotencyKey) -> Option<&KeyRecord> {
        self.map.get(key)
    }

    /// Remembers a key; `next_global_sequence` is one past the newest event.
    pub(crate) fn insert(&mut self, rec: KeyRecord, next_global_sequence: u64) {
        if self.map.insert(rec.key, rec).is_none() {
            self.order.push_back((rec.global_sequence, rec.key));
        }
        self.evict(next_global_sequence);
    }

    fn evict(&mut self, next_global_sequence: u64) {
        let window_start = next_global_sequence.saturating_sub(self.window);
        while self.map.len() > self.capacity {
            match self.order.front() {
                Some(&(gs, key)) if gs < window_start => {
                    self.order.pop_front();
                    self.map.remove(&key);
                }
                _ => break,
            }
        }
    }

    /// Every remembered key, oldest first.
    pub(crate) fn records(&self) -> Vec<KeyRecord> {
        self.order
            .iter()
            .filter_map(|(_, k)| self.map.get(k).copied())
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// What rebuilding the writer's idempotency keys at open found.
#[derive(Debug, Default)]
pub(crate) struct RebuiltKeys {
    /// The keys, oldest first.
    pub(crate) keys: Vec<KeyRecord>,
    /// How many came from the sidecar snapshot.
    pub(crate) from_sidecar: u64,
    /// How many were read from frames.
    pub(crate) from_log: u64,
    /// Why the sidecar was not used, if it was not.
    pub(crate) sidecar_problem: Option<String>,
}

/// A segment whose frames may hold keys: `(id, first global sequence, end
/// global sequence, frames already scanned at open)`.
pub(crate) type SegmentRange = (u64, u64, u64, bool);

/// Seeds the writer's idempotency keys: the sidecar snapshot if it checks
/// out against the index, then every keyed frame after it (`scanned` holds
/// the keys of frames open already read).
pub(crate) fn rebuild_keys(
    cfg: &StoreConfig,
    index: &Index,
    files: &BTreeMap<u64, SegmentFile>,
    ranges: &[SegmentRange],
    scanned: Vec<KeyRecord>,
) -> Result<RebuiltKeys, StoreError> {
    let mut out = RebuiltKeys::default();
    let next = index.next_global_sequence();
    let window_start = next.saturating_sub(cfg.idempotency_window);
    let path = cfg.dir.join(IDEMPOTENCY_FILE);
    let exists = cfg
        .fs
        .exists(&path)
        .map_err(|e| StoreError::io("stat idempotency sidecar", &path, e))?;
    let loaded = if exists {
        let checked = crate::fs::read_all(
            cfg.fs.as_ref(),
            &path,
            format::idempotency_file_max(
                cfg.idempotency_capacity
                    .max(usize::try_from(cfg.idempotency_window).unwrap_or(usize::MAX)),
            ),
        )
        .map_err(|e| e.to_string())
        .and_then(|b| format::decode_idempotency(&b).map_err(|e| e.to_string()))
        .and_then(|(through, recs)| check_sidecar(index, next, through, recs));
        match checked {
            Ok(ok) => Some(ok),
            Err(problem) => {
                tracing::warn!(%problem, path = %path.display(), "idempotency sidecar rejected; rebuilding keys from the log");
                out.sidecar_problem = Some(problem);
                None
            }
        }
    } else {
        if ranges.iter().any(|r| !r.3) {
            out.sidecar_problem = Some("sidecar file is missing".into());
        }
        None
    };
    let (mut keys, from) = match loaded {
        Some((through, recs)) => (recs, through.max(window_start)),
        None => (Vec::new(), window_start),
    };
    out.from_sidecar = keys.len() as u64;
    for &(id, base, end, scanned) in ranges {
        if scanned || end <= from {
            continue;
        }
        let path = format::segment_path(&cfg.dir, id);
        let Some(file) = files.get(&id) else {
            continue;
        };
        let bytes = crate::segment::read_whole(file.file.as_ref(), &path)?;
        let mut pos = SEGMENT_HEADER_LEN;
        let mut gs = base;
        while gs < end {
            let (f, n) = decode_frame(&bytes[pos.min(bytes.len())..]).map_err(|source| {
                StoreError::corrupt_segment(
                    &path,
                    pos as u64,
                    Corruption::Decode {
                        structure: "frame",
                        source,
                    },
                )
            })?;
            if let Some(key) = f.idempotency_key.filter(|_| gs >= from) {
                keys.push(KeyRecord {
                    key,
                    event_id: f.event_id,
                    global_sequence: gs,
                    digest: format::PayloadDigest::of_stored(f.payload),
                });
                out.from_log += 1;
            }
            pos += n;
            gs += 1;
        }
    }
    for k in scanned.into_iter().filter(|k| k.global_sequence >= from) {
        out.from_log += 1;
        keys.push(k);
    }
    out.keys = keys;
    Ok(out)
}

/// A sidecar is trusted only if every record names the event the index has at that sequence.
fn check_sidecar(
    index: &Index,
    next: u64,
    through: u64,
    recs: Vec<KeyRecord>,
) -> Result<(u64, Vec<KeyRecord>), String> {
    if through > next {
        return Err(format!(
            "sidecar covers {through} events but the log has {next}"
        ));
    }
    for r in &recs {
        // The key of an event a retention compaction removed is kept: a
        // retry of it is still answered, never written again.
        let retired = index
            .is_retired(r.global_sequence)
            .map_err(|e| e.to_string())?;
        let ok = r.global_sequence < through
            && (retired
                || index
                    .entry_at(r.global_sequence)
                    .map_err(|e| e.to_string())?
                    .is_some_and(|e| e.event_id == r.event_id));
        if !ok {
            return Err(format!(
                "sidecar record for sequence {} does not match the log",
                r.global_sequence
            ));
        }
    }
    Ok((through, recs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::EventId;

    fn rec(i: u64) -> KeyRecord {
        KeyRecord {
            key: IdempotencyKey::from_bytes((u128::from(i)).to_be_bytes()),
            event_id: EventId::from_u128(u128::from(i)),
            global_sequence: i,
            digest: format::PayloadDigest::Plain([0; 32]),
        }
    }

    #[test]
    fn cap_only_evicts_keys_outside_the_window() {
        let mut k = KeyIndex::new(10, 3);
        for i in 0..20 {
            k.insert(rec(i), i + 1);
        }
        // Window covers sequences 10..20: all ten are kept although the cap is 3.
        assert_eq!(k.len(), 10);
        assert!(k.get(&rec(10).key).is_some());
        assert!(k.get(&rec(9).key).is_none());
        let mut k = KeyIndex::new(2, 100);
        for i in 0..50 {
            k.insert(rec(i), i + 1);
        }
        assert_eq!(k.len(), 50, "under the cap nothing is evicted");
        assert_eq!(k.records().first().map(|r| r.global_sequence), Some(0));
    }
}
