//! `batpak compact`: rewrites the sealed segments of a data directory
//! ([`batpak::Store::compact`]): merges small ones into fewer, or, with
//! `--tombstone`, strips the payloads of the events the filters select
//! (their headers and hashes stay, so chains and proofs still verify).
//!
//! Like `snapshot`, it opens the store as its writer, so a directory that
//! another process writes to is refused with [`CliError::Locked`].

use batpak::{CompactionConfig, CompactionReport, CompactionStrategy, EventKind, StoredEvent};
use serde::Serialize;

use crate::datadir::DataDir;
use crate::error::CliError;
use crate::progress::Progress;
use crate::table::human_bytes;

/// Which events a tombstone compaction strips: those matching every filter
/// given (at least one must be).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TombstoneFilter {
    /// Events of one of these kinds.
    pub kinds: Vec<EventKind>,
    /// Events whose entity starts with this.
    pub entity_prefix: Option<String>,
    /// Events written before this wall-clock time (ms since the Unix epoch).
    pub before_ms: Option<u64>,
}

impl TombstoneFilter {
    fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.entity_prefix.is_none() && self.before_ms.is_none()
    }

    /// True for an event to strip.
    fn selects(&self, ev: &StoredEvent<serde_json::Value>) -> bool {
        let h = &ev.event.header;
        (self.kinds.is_empty() || self.kinds.contains(&h.kind))
            && self
                .entity_prefix
                .as_ref()
                .is_none_or(|p| ev.coordinate.entity().starts_with(p.as_str()))
            && self.before_ms.is_none_or(|t| h.wall_ms < t)
    }
}

/// What `compact` did, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CompactOutput {
    /// The data directory as given.
    pub dir: String,
    /// The store's report: strategy, segments replaced and written, event
    /// counts, bytes before and after, duration in microseconds.
    #[serde(flatten)]
    pub report: CompactionReport,
}

/// Opens `dir` as its writer and compacts it: a merge into segments of at
/// most `target_bytes` (the store's segment size when `None`), or, with a
/// tombstone filter, a tombstone pass.
pub fn compact(
    dir: &DataDir,
    target_bytes: Option<u64>,
    tombstone: Option<TombstoneFilter>,
    progress: &dyn Progress,
) -> Result<CompactOutput, CliError> {
    let strategy = match tombstone {
        None => CompactionStrategy::Merge,
        Some(f) if f.is_empty() => {
            return Err(CliError::InvalidArgument {
                name: "--tombstone",
                value: String::new(),
                expected: "given with at least one of --kind, --entity-prefix, --before-ms",
            })
        }
        Some(f) => CompactionStrategy::Tombstone(Box::new(move |ev| !f.selects(ev))),
    };
    let mut config = CompactionConfig::new(strategy);
    if let Some(n) = target_bytes {
        config = config.with_target_segment_bytes(n);
    }
    let store = crate::snapshot::open_writer(&dir.path)?;
    let mut started = false;
    let report = store.compact_with_progress(&config, |done, total| {
        if !started {
            progress.begin("compact", Some(total));
            started = true;
        }
        progress.set(done);
    });
    progress.end();
    let report = report?;
    store.close()?;
    Ok(CompactOutput {
        dir: dir.path.display().to_string(),
        report,
    })
}

/// A few lines for a person.
pub fn render_human(o: &CompactOutput) -> String {
    let r = &o.report;
    if r.source_segments.is_empty() {
        return format!(
            "{}: nothing to compact ({} sealed segments left as they are)\n",
            o.dir, r.segments_left
        );
    }
    let mut out = format!(
        "{}: {} segments replaced by {} in {:.1?}\n",
        o.dir,
        r.source_segments.len(),
        r.output_segments.len(),
        r.duration
    );
    out.push_str(&format!(
        "  {} -> {} ({} reclaimed)\n",
        human_bytes(r.bytes_before),
        human_bytes(r.bytes_after),
        human_bytes(r.bytes_reclaimed)
    ));
    out.push_str(&format!(
        "  events kept {}, tombstoned {}\n",
        r.events_kept, r.events_tombstoned
    ));
    out
}
