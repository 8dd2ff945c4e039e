//! `batpak inspect`: what a data directory holds, without reading payloads.

use batpak::{ReadOnlyStore, Region};
use serde::Serialize;

use crate::datadir::{DataDir, OtherFile, SegmentFile};
use crate::error::CliError;
use crate::table::{human_bytes, human_number, utc_from_ms, Align, Table};

/// The newest event's position and identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastEvent {
    /// Its global sequence (one less than the next event's).
    pub global_sequence: u64,
    /// Its id (UUID).
    pub event_id: String,
    /// Wall-clock milliseconds at acceptance.
    pub wall_ms: u64,
}

/// An incomplete write found at the end of the active segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TornTailInfo {
    /// The segment file.
    pub segment: String,
    /// Where the last whole frame (or whole batch) ends.
    pub offset: u64,
    /// Bytes after `offset` that a writer would drop (a read-only open ignores them).
    pub dropped_bytes: u64,
    /// Whole frames of an incomplete batch among those bytes.
    pub dropped_batch_frames: u64,
}

/// Everything `inspect` reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InspectReport {
    /// The data directory as given.
    pub dir: String,
    /// Segment files in id order.
    pub segments: Vec<SegmentFile>,
    /// Segments whose index came from their footer at open.
    pub segments_from_footer: usize,
    /// Frames decoded one by one at open (segments without a footer).
    pub frames_scanned: u64,
    /// Committed events.
    pub events: u64,
    /// Distinct entities.
    pub entities: u64,
    /// Bytes in segment files.
    pub segment_bytes: u64,
    /// Bytes in every file of the directory.
    pub total_bytes: u64,
    /// `segment_bytes / events`, when there are events.
    pub segment_bytes_per_event: Option<f64>,
    /// Wall-clock milliseconds of the first event.
    pub first_wall_ms: Option<u64>,
    /// The newest event.
    pub last: Option<LastEvent>,
    /// A torn tail found at open, if any.
    pub torn_tail: Option<TornTailInfo>,
    /// Other files (lock, sidecars).
    pub other_files: Vec<OtherFile>,
    /// What the index holds in memory after this open, and its bound.
    pub index_memory: IndexMemory,
}

/// The index's memory after open (see `batpak::IndexStats`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndexMemory {
    /// Sealed segments read from their index files.
    pub sealed_parts: usize,
    /// Entity rows those parts hold.
    pub entity_rows: usize,
    /// Events held in memory (the active segment's).
    pub memtable_events: usize,
    /// The page cache's bound, in bytes.
    pub page_cache_capacity: usize,
    /// The estimate of `batpak::IndexStats::estimated_bytes`: fixed + per
    /// part + per entity row + per entity + per event in memory + the cache.
    pub estimated_bytes: u64,
}

/// Opens `dir` read-only and gathers the report.
pub fn inspect(dir: &DataDir) -> Result<InspectReport, CliError> {
    let store = dir.open_read_only()?;
    Ok(report(dir, &store))
}

fn report(dir: &DataDir, store: &ReadOnlyStore) -> InspectReport {
    let open = store.open_report();
    let stats = store.index_stats();
    let events = store.len();
    let all = Region::all();
    let first_wall_ms = store
        .query_entries_after(&all, None, 1)
        .first()
        .map(|e| e.wall_ms());
    // Global sequences are dense from 0, so the newest event follows `events - 2`;
    // the scan stays correct (only longer) if that ever changes.
    let after = events.checked_sub(2);
    let last = store
        .query_entries_after(&all, after, usize::MAX)
        .last()
        .map(|e| LastEvent {
            global_sequence: e.global_sequence(),
            event_id: e.event_id().to_string(),
            wall_ms: e.wall_ms(),
        });
    let segment_bytes = dir.segment_bytes();
    InspectReport {
        dir: dir.path.display().to_string(),
        segments: dir.segments.clone(),
        segments_from_footer: open.segments_from_footer,
        frames_scanned: open.frames_scanned,
        events,
        entities: store.entities().len() as u64,
        segment_bytes,
        total_bytes: dir.total_bytes(),
        segment_bytes_per_event: (events > 0).then(|| segment_bytes as f64 / events as f64),
        first_wall_ms,
        last,
        torn_tail: open.torn_tail.map(|t| TornTailInfo {
            segment: t.segment.file_name().map_or_else(
                || t.segment.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            offset: t.offset,
            dropped_bytes: t.dropped_bytes,
            dropped_batch_frames: t.dropped_batch_frames,
        }),
        other_files: dir.other_files.clone(),
        index_memory: IndexMemory {
            sealed_parts: stats.sealed_parts,
            entity_rows: stats.entity_rows,
            memtable_events: stats.memtable_events,
            page_cache_capacity: stats.page_cache_capacity,
            estimated_bytes: stats.estimated_bytes(),
        },
    }
}

/// The report as text for a terminal.
pub fn render_human(r: &InspectReport) -> String {
    let mut out = String::new();
    let sealed = r.segments.iter().filter(|s| s.sealed).count();
    let kv = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k:<16}{v}\n"));
    kv(&mut out, "data directory", r.dir.clone());
    kv(
        &mut out,
        "segments",
        format!(
            "{} ({} sealed; {} indexed from footers, {} frames scanned)",
            r.segments.len(),
            sealed,
            r.segments_from_footer,
            human_number(r.frames_scanned as f64, 0)
        ),
    );
    kv(&mut out, "events", human_number(r.events as f64, 0));
    let m = &r.index_memory;
    kv(
        &mut out,
        "index memory",
        format!(
            "about {} ({} sealed parts, {} entity rows, {} events in memory, page cache up to {})",
            human_bytes(m.estimated_bytes),
            m.sealed_parts,
            human_number(m.entity_rows as f64, 0),
            human_number(m.memtable_events as f64, 0),
            human_bytes(m.page_cache_capacity as u64)
        ),
    );
    kv(&mut out, "entities", human_number(r.entities as f64, 0));
    let per_event = r
        .segment_bytes_per_event
        .map_or_else(String::new, |b| format!(", {b:.1} bytes/event"));
    kv(
        &mut out,
        "size",
        format!(
            "{} in segments, {} in all files{per_event}",
            human_bytes(r.segment_bytes),
            human_bytes(r.total_bytes)
        ),
    );
    if let Some(ms) = r.first_wall_ms {
        kv(&mut out, "first event at", utc_from_ms(ms));
    }
    match &r.last {
        Some(l) => kv(
            &mut out,
            "last sequence",
            format!(
                "{} (event {}, {})",
                l.global_sequence,
                l.event_id,
                utc_from_ms(l.wall_ms)
            ),
        ),
        None => kv(&mut out, "last sequence", "none (no events)".into()),
    }
    match &r.torn_tail {
        None => kv(&mut out, "torn tail", "none".into()),
        Some(t) => kv(
            &mut out,
            "torn tail",
            format!(
                "{} at byte {}: {} bytes after the last whole frame{} (ignored read-only; the next writer open truncates them)",
                t.segment,
                t.offset,
                t.dropped_bytes,
                if t.dropped_batch_frames > 0 {
                    format!(", including {} frames of an incomplete batch", t.dropped_batch_frames)
                } else {
                    String::new()
                }
            ),
        ),
    }
    out.push('\n');
    let mut table = Table::new(&[
        ("file", Align::Left),
        ("bytes", Align::Right),
        ("sealed", Align::Left),
    ]);
    for s in &r.segments {
        table.row(vec![
            s.name.clone(),
            human_number(s.bytes as f64, 0),
            if s.sealed { "yes" } else { "no (active)" }.into(),
        ]);
    }
    for f in &r.other_files {
        table.row(vec![
            f.name.clone(),
            human_number(f.bytes as f64, 0),
            String::new(),
        ]);
    }
    out.push_str(&table.render());
    out
}
