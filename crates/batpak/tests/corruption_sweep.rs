//! A bounded corruption sweep: a few hundred seeded mutations of a small
//! multi-segment store (flipped bits, zeroed ranges, truncations, deleted and
//! duplicated files, garbage appended). Every outcome must be a typed error,
//! a reported recovery, or intact data: never a panic, never a hang (each
//! open and read runs under a timeout), and never an event missing without a
//! report. The three losses recovery alone cannot see (the newest segment
//! deleted, the log cut or zeroed at a frame boundary) are reported through
//! the heads file as lost history, and counted on their own
//! (`BATPAK_SWEEP_TRIALS` changes the count).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use batpak::prelude::*;
use common::{coord, copy_dir, segments, Rng, SMALL_SEGMENT_BYTES};

const K: EventKind = EventKind::custom(0xE, 1);

/// What a mutation did, so the losses only a committed size can catch are
/// counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutation {
    Flip,
    ZeroRange,
    /// Zeros from a frame boundary of the last segment to its end.
    ZeroToEndAtBoundary,
    Truncate,
    /// Cut the last segment at a frame boundary.
    TruncateAtBoundary,
    DeleteNewest,
    DeleteOther,
    Duplicate,
    Garbage,
}

impl Mutation {
    /// Losses only a committed size (the heads of the verifiable log) reveals.
    fn loss_needs_committed_size(self) -> bool {
        matches!(
            self,
            Self::DeleteNewest | Self::TruncateAtBoundary | Self::ZeroToEndAtBoundary
        )
    }
}

/// Each event's global sequence and payload.
type Written = HashMap<EventId, (u64, Vec<u8>)>;

/// A store of several sealed segments and an active one, with the payload of
/// every event; made once and copied per trial.
fn original() -> (tempfile::TempDir, Written, u64) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(dir.path()).with_segment_max_bytes(SMALL_SEGMENT_BYTES);
    let store = Store::open(cfg).unwrap();
    let mut payloads = HashMap::new();
    for i in 0..60u32 {
        let payload = "p".repeat(20 + (i as usize * 37) % 400);
        let r = if i % 9 == 0 {
            let items = (0..3)
                .map(|j| {
                    BatchAppendItem::new(
                        coord(format!("e{}", (i + j) % 4), "s"),
                        K,
                        &payload,
                        AppendOptions::default(),
                        CausationRef::None,
                    )
                    .unwrap()
                })
                .collect();
            store.append_batch(items).unwrap()
        } else {
            vec![store
                .append(&coord(format!("e{}", i % 4), "s"), K, &payload)
                .unwrap()]
        };
        for r in r {
            payloads.insert(
                r.event_id,
                (
                    r.global_sequence,
                    store.read_raw(r.event_id).unwrap().event.payload,
                ),
            );
        }
    }
    // Leave the last segment active: a copy taken now is a crash image,
    // whose newest head (recorded at the last seal) covers `covered` events.
    let covered = store.latest_head().map_or(0, |h| h.size());
    let image = copy_dir(dir.path());
    let _ = std::fs::remove_file(image.path().join(common::LOCK_FILE));
    store.close().unwrap();
    assert!(
        covered > 0 && covered < payloads.len() as u64,
        "some events are past the last head: {covered}"
    );
    (image, payloads, covered)
}

fn mutate(rng: &mut Rng, dir: &Path) -> Mutation {
    let segs = segments(dir);
    let last = segs.last().unwrap().clone();
    let pick = segs[rng.index(segs.len())].clone();
    let mut bytes = std::fs::read(&pick).unwrap();
    let len = bytes.len();
    match rng.below(9) {
        0 => {
            let at = rng.index(len);
            bytes[at] ^= 1 << rng.below(8);
            std::fs::write(&pick, &bytes).unwrap();
            Mutation::Flip
        }
        1 => {
            let at = rng.index(len);
            let n = 1 + rng.index(64).min(len - at - 1);
            bytes[at..at + n].fill(0);
            std::fs::write(&pick, &bytes).unwrap();
            Mutation::ZeroRange
        }
        2 => {
            let mut last_bytes = std::fs::read(&last).unwrap();
            let starts = frame_starts_or_header(&last_bytes);
            let at = starts[rng.index(starts.len())];
            last_bytes[at..].fill(0);
            std::fs::write(&last, &last_bytes).unwrap();
            Mutation::ZeroToEndAtBoundary
        }
        3 => {
            std::fs::write(&pick, &bytes[..rng.index(len)]).unwrap();
            Mutation::Truncate
        }
        4 => {
            let last_bytes = std::fs::read(&last).unwrap();
            let starts = frame_starts_or_header(&last_bytes);
            let at = starts[rng.index(starts.len())];
            std::fs::write(&last, &last_bytes[..at]).unwrap();
            Mutation::TruncateAtBoundary
        }
        5 => {
            std::fs::remove_file(&last).unwrap();
            Mutation::DeleteNewest
        }
        6 if segs.len() > 1 => {
            std::fs::remove_file(&segs[rng.index(segs.len() - 1)]).unwrap();
            Mutation::DeleteOther
        }
        7 => {
            // Another segment's bytes under the next free name.
            let next = batpak::format::parse_segment_file_name(
                last.file_name().unwrap().to_str().unwrap(),
            )
            .unwrap()
                + 1;
            std::fs::copy(&pick, dir.join(batpak::format::segment_file_name(next))).unwrap();
            Mutation::Duplicate
        }
        _ => {
            let mut garbage = vec![0u8; 1 + rng.index(300)];
            for b in &mut garbage {
                *b = rng.below(256) as u8;
            }
            bytes.extend_from_slice(&garbage);
            std::fs::write(&pick, &bytes).unwrap();
            Mutation::Garbage
        }
    }
}

/// The frame boundaries of a segment by its length prefixes (the header's
/// end first), up to the zeros written ahead or a footer.
fn frame_starts_or_header(bytes: &[u8]) -> Vec<usize> {
    use batpak::format::{FRAME_PREFIX_LEN, SEGMENT_HEADER_LEN};
    let mut starts = vec![SEGMENT_HEADER_LEN.min(bytes.len())];
    let mut p = SEGMENT_HEADER_LEN;
    while let Some(prefix) = bytes.get(p..p + 4) {
        let len = u32::from_le_bytes(prefix.try_into().unwrap()) as usize;
        let next = p + FRAME_PREFIX_LEN + len;
        if len == 0 || next > bytes.len() {
            break;
        }
        p = next;
        starts.push(p);
    }
    starts
}

#[derive(Debug, Default)]
struct Tally {
    typed_error: u32,
    intact: u32,
    reported_recovery: u32,
    read_error: u32,
    /// Losses the heads revealed (`history_lost`).
    lost_history_reported: u32,
    /// Losses of events no head covered yet (the active segment's tail
    /// past the last seal): nothing records that they were committed.
    loss_past_the_last_head: u32,
}

/// Opens `dir` (writer or read-only) and reads every event, on a thread
/// under a timeout. Ok: (events visible with their payloads, something was
/// reported, a read failed with a typed error).
type Opened = Result<(HashMap<EventId, Vec<u8>>, Reported, bool), StoreError>;

/// What the open report says of a loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reported {
    Nothing,
    /// A torn tail, a rebuilt footer or a cut after a failed sync.
    Recovery,
    /// The log is shorter than a recorded head.
    LostHistory,
}

fn open_and_read(dir: PathBuf, read_only: bool) -> Opened {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let run = || -> Opened {
            let cfg = StoreConfig::new(&dir).with_segment_max_bytes(SMALL_SEGMENT_BYTES);
            let (report, entries, reads): (OpenReport, Vec<IndexEntry>, Vec<_>) = if read_only {
                let s = Store::open_read_only(cfg)?;
                let e = s.query(&Region::all());
                let r = e.iter().map(|e| s.read_raw(e.event_id())).collect();
                (s.open_report(), e, r)
            } else {
                let s = Store::open(cfg)?;
                let e = s.query(&Region::all());
                let r = e.iter().map(|e| s.read_raw(e.event_id())).collect();
                (s.open_report(), e, r)
            };
            let reported = if report.history_lost.is_some() {
                Reported::LostHistory
            } else if report.torn_tail.is_some()
                || !report.rebuilt_footers.is_empty()
                || report.cut_after_failed_sync > 0
            {
                Reported::Recovery
            } else {
                Reported::Nothing
            };
            let mut seen = HashMap::new();
            let mut read_failed = false;
            for (e, r) in entries.iter().zip(reads) {
                match r {
                    Ok(ev) => {
                        seen.insert(e.event_id(), ev.event.payload);
                    }
                    Err(err) => {
                        assert!(
                            matches!(err, StoreError::CorruptFrame { .. } | StoreError::Io { .. }),
                            "a read failed with an unexpected error: {err:?}"
                        );
                        read_failed = true;
                    }
                }
            }
            Ok((seen, reported, read_failed))
        };
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => panic!("opening or reading a mutated store panicked"),
        Err(_) => panic!("opening or reading a mutated store hung"),
    }
}

#[test]
fn every_mutation_ends_in_a_typed_error_a_report_or_intact_data() {
    let trials: u64 = std::env::var("BATPAK_SWEEP_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (image, payloads, covered) = original();
    let mut tally = Tally::default();
    for seed in 0..trials {
        let mut rng = Rng::new(0xC0FFEE ^ seed.wrapping_mul(0x9E37_79B9));
        let trial = copy_dir(image.path());
        let mutation = mutate(&mut rng, trial.path());
        let read_only = seed % 3 == 0;
        match open_and_read(trial.path().to_path_buf(), read_only) {
            Err(e) => {
                // Typed, with a stable code; never a writer crash.
                assert_ne!(e.code(), "writer_crashed", "seed {seed}: {e:?}");
                tally.typed_error += 1;
            }
            Ok((seen, reported, read_failed)) => {
                for (id, payload) in &seen {
                    let original = payloads.get(id).map(|(_, p)| p);
                    assert!(
                        original == Some(payload) || mutation == Mutation::Duplicate,
                        "seed {seed} ({mutation:?}): event {id} reads back different bytes"
                    );
                }
                let missing: Vec<u64> = payloads
                    .iter()
                    .filter(|(id, _)| !seen.contains_key(*id))
                    .map(|(_, (gs, _))| *gs)
                    .collect();
                let first_missing = missing.iter().min().copied();
                let missing = missing.len();
                if missing == 0 {
                    tally.intact += 1;
                } else if reported == Reported::LostHistory {
                    tally.lost_history_reported += 1;
                } else if reported == Reported::Recovery {
                    tally.reported_recovery += 1;
                } else if read_failed {
                    tally.read_error += 1;
                } else {
                    // Only events no head covered yet may go unnoticed.
                    assert!(
                        mutation.loss_needs_committed_size()
                            && first_missing.is_some_and(|gs| gs >= covered),
                        "seed {seed} ({mutation:?}, read_only {read_only}): {missing} events missing without a report, from global sequence {first_missing:?}; the last head covers {covered}"
                    );
                    tally.loss_past_the_last_head += 1;
                }
            }
        }
    }
    println!("corruption sweep, {trials} trials: {tally:?}");
}
