//! `batpak verify`: recompute every hash from the bytes on disk and check
//! every link; with `--against`, also hold the log to a tree head kept
//! earlier (see [`crate::head`]).

use std::time::Instant;

use batpak::{EventId, ReadOnlyStore};
use serde::Serialize;

use crate::datadir::DataDir;
use crate::error::CliError;
use crate::head::{self, HeadCheck, KeptHead};
use crate::progress::Progress;
use crate::table::{human_number, Align, Table};

/// One event verification complained about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProblemEvent {
    /// The event id (UUID).
    pub event_id: String,
    /// Its global sequence, if the index knows the event.
    pub global_sequence: Option<u64>,
    /// Its entity.
    pub entity: Option<String>,
    /// Its position in the entity's history.
    pub entity_sequence: Option<u64>,
}

/// What opening the directory found and repaired or left out, as `verify`
/// reports it: anything here means the log is not exactly what was written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OpenFindings {
    /// An incomplete write (or a damaged last frame) after the last whole frame.
    pub torn_tail: Option<TornTailFinding>,
    /// Why the idempotency sidecar was not used (its keys were rebuilt from the log).
    pub idempotency_sidecar_problem: Option<String>,
    /// Sealed segments whose damaged footer was rebuilt from their frames.
    pub rebuilt_footers: Vec<String>,
    /// A recorded tree head covers more events than the log holds:
    /// committed events are gone.
    pub history_lost: Option<HistoryLossFinding>,
}

/// Lost history, as `verify` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryLossFinding {
    /// Events the largest such head covered.
    pub head_size: u64,
    /// Events the log held when the loss was found.
    pub log_size: u64,
    /// Found by this open (false: found earlier and recorded by a writer).
    pub found_now: bool,
}

/// A torn tail, as `verify` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TornTailFinding {
    /// The segment file.
    pub segment: String,
    /// Where the whole frames end.
    pub offset: u64,
    /// Bytes after them, left out.
    pub dropped_bytes: u64,
    /// Whole frames left out because their batch is incomplete.
    pub dropped_batch_frames: u64,
    /// A whole frame failed its checksum: written events are missing.
    pub damaged: bool,
}

impl OpenFindings {
    fn of(report: &batpak::OpenReport) -> Self {
        Self {
            torn_tail: report.torn_tail.as_ref().map(|t| TornTailFinding {
                segment: t.segment.display().to_string(),
                offset: t.offset,
                dropped_bytes: t.dropped_bytes,
                dropped_batch_frames: t.dropped_batch_frames,
                damaged: t.damaged,
            }),
            idempotency_sidecar_problem: report.idempotency_sidecar_problem.clone(),
            rebuilt_footers: report
                .rebuilt_footers
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            history_lost: report.history_lost.map(|l| HistoryLossFinding {
                head_size: l.head_size,
                log_size: l.log_size,
                found_now: l.found_now,
            }),
        }
    }

    /// True when written events are missing from what the store can read:
    /// a damaged last frame, or a log shorter than a recorded head.
    pub fn events_missing(&self) -> bool {
        self.torn_tail.as_ref().is_some_and(|t| t.damaged) || self.history_lost.is_some()
    }
}

/// The outcome of `verify`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The data directory as given.
    pub dir: String,
    /// Events read and rehashed.
    pub events_checked: u64,
    /// True when nothing was found wrong: the chain recomputes, no written
    /// or committed event is missing, and (with `--against`) the log
    /// extends the head.
    pub intact: bool,
    /// What opening found: torn tail, rebuilt footers, a rejected sidecar.
    pub open: OpenFindings,
    /// Events whose bytes no longer hash to their stored hashes (or could not be read).
    pub mismatches: Vec<ProblemEvent>,
    /// Events whose `prev_hash` does not name their entity predecessor.
    pub dangling: Vec<ProblemEvent>,
    /// With `--against`: what the log says about the kept head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadCheck>,
    /// Seconds the verification took.
    pub seconds: f64,
}

/// Opens `dir` read-only and verifies the whole chain, and the log against
/// `against` when given.
pub fn verify(
    dir: &DataDir,
    against: Option<&KeptHead>,
    progress: &dyn Progress,
) -> Result<VerifyReport, CliError> {
    let store = dir.open_read_only()?;
    let started = Instant::now();
    progress.begin("verifying", Some(store.len()));
    let result = store.verify_chain_with_progress(|p| progress.set(p.checked));
    progress.end();
    let chain = result?;
    let head = against
        .map(|kept| head::check(&store, kept, progress))
        .transpose()?;
    let open = OpenFindings::of(&store.open_report());
    let describe = |ids: &[EventId]| -> Vec<ProblemEvent> {
        ids.iter().map(|id| problem(&store, *id)).collect()
    };
    Ok(VerifyReport {
        dir: dir.path.display().to_string(),
        events_checked: chain.events_checked,
        intact: chain.is_intact()
            && !open.events_missing()
            && head.as_ref().is_none_or(HeadCheck::passed),
        open,
        mismatches: describe(&chain.mismatches),
        dangling: describe(&chain.dangling),
        head,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn problem(store: &ReadOnlyStore, id: EventId) -> ProblemEvent {
    let entry = store.entry(id);
    ProblemEvent {
        event_id: id.to_string(),
        global_sequence: entry.as_ref().map(|e| e.global_sequence()),
        entity: entry.as_ref().map(|e| e.coordinate().entity().to_owned()),
        entity_sequence: entry.as_ref().map(|e| e.entity_sequence()),
    }
}

/// Problems listed per kind in human output; `--json` lists all.
const HUMAN_LIMIT: usize = 20;

/// What opening found, one line each.
fn render_findings(f: &OpenFindings, out: &mut String) {
    if let Some(l) = &f.history_lost {
        out.push_str(&format!(
            "HISTORY LOST: a recorded tree head covers {} events but the log holds {}: committed events are gone ({})\n",
            l.head_size,
            l.log_size,
            if l.found_now {
                "found by this open"
            } else {
                "found by an earlier open and recorded in the heads file"
            }
        ));
    }
    if let Some(t) = &f.torn_tail {
        if t.damaged {
            out.push_str(&format!(
                "EVENTS MISSING: a whole frame at byte {} of {} fails its checksum; it and {} frames of its batch are left out ({} bytes)\n",
                t.offset, t.segment, t.dropped_batch_frames, t.dropped_bytes
            ));
        } else {
            out.push_str(&format!(
                "torn tail: {} bytes after byte {} of {} are an incomplete write ({} frames of an incomplete batch), left out\n",
                t.dropped_bytes, t.offset, t.segment, t.dropped_batch_frames
            ));
        }
    }
    for segment in &f.rebuilt_footers {
        out.push_str(&format!(
            "rebuilt footer: the footer of {segment} is damaged; it was rebuilt from the segment's frames\n"
        ));
    }
    if let Some(problem) = &f.idempotency_sidecar_problem {
        out.push_str(&format!(
            "idempotency sidecar not used ({problem}); keys rebuilt from the log\n"
        ));
    }
}

/// The report as text for a terminal.
pub fn render_human(r: &VerifyReport) -> String {
    let mut out = format!(
        "{}: {} events checked in {:.2} s: ",
        r.dir,
        human_number(r.events_checked as f64, 0),
        r.seconds
    );
    let chain_problems =
        !r.mismatches.is_empty() || !r.dangling.is_empty() || r.open.events_missing();
    if chain_problems {
        render_findings(&r.open, &mut out);
        let torn = r.open.torn_tail.as_ref().is_some_and(|t| t.damaged);
        out.push_str(&format!(
            "PROBLEMS FOUND: {} hash mismatches, {} dangling links{}{}\n",
            r.mismatches.len(),
            r.dangling.len(),
            if torn { ", written events missing" } else { "" },
            if r.open.history_lost.is_some() {
                ", committed history lost"
            } else {
                ""
            }
        ));
    } else {
        out.push_str(
            "chain intact (every content_hash, event_hash and prev_hash link recomputed)\n",
        );
        render_findings(&r.open, &mut out);
    }
    if let Some(check) = &r.head {
        head::render_check(check, &mut out);
    }
    for (title, list) in [
        (
            "hash mismatch (bytes on disk do not hash to the stored hashes)",
            &r.mismatches,
        ),
        (
            "dangling link (prev_hash does not name the entity's previous event)",
            &r.dangling,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(title);
        out.push('\n');
        let mut t = Table::new(&[
            ("global seq", Align::Right),
            ("event id", Align::Left),
            ("entity", Align::Left),
            ("entity seq", Align::Right),
        ]);
        let opt = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
        for p in list.iter().take(HUMAN_LIMIT) {
            t.row(vec![
                opt(p.global_sequence),
                p.event_id.clone(),
                p.entity.clone().unwrap_or_else(|| "?".into()),
                opt(p.entity_sequence),
            ]);
        }
        out.push_str(&t.render());
        if list.len() > HUMAN_LIMIT {
            out.push_str(&format!(
                "... and {} more (use --json for all)\n",
                list.len() - HUMAN_LIMIT
            ));
        }
    }
    out
}
