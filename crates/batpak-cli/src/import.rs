//! `batpak import`: the events of one data directory appended to another
//! with their provenance ([`batpak::Store::import_events`]).
//!
//! The source is opened read-only, so it may have a live writer; the import
//! takes the events below its frontier when it opened. The destination is
//! opened as its writer (created if absent): a directory another process
//! writes to is locked and the command stops with [`CliError::Locked`]
//! before reading anything.

use std::path::Path;

use batpak::{ImportOptions, ImportReport, ImportSelector};
use serde::Serialize;

use crate::datadir::DataDir;
use crate::error::CliError;
use crate::progress::Progress;

/// What `import` did, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Always `"import"`.
    pub command: &'static str,
    /// The source data directory as given.
    pub source: String,
    /// The destination data directory as given.
    pub dest: String,
    /// The namespace recorded in every imported event.
    pub namespace: String,
    /// Events appended to the destination.
    pub imported: u64,
    /// Events an earlier import under the same namespace had appended.
    pub deduplicated: u64,
    /// Events of the source's reserved kinds (denials, markers): never imported.
    pub skipped_reserved: u64,
    /// Events whose payload compaction had removed.
    pub skipped_tombstoned: u64,
    /// Events that are copies of the destination's own events.
    pub skipped_own_copies: u64,
    /// One past the last source global sequence the import considered.
    pub source_frontier: u64,
}

impl ImportSummary {
    fn new(r: &ImportReport, source: &DataDir, dest: &Path, namespace: &str) -> Self {
        Self {
            command: "import",
            source: source.path.display().to_string(),
            dest: dest.display().to_string(),
            namespace: namespace.to_owned(),
            imported: r.imported,
            deduplicated: r.deduplicated,
            skipped_reserved: r.skipped_reserved,
            skipped_tombstoned: r.skipped_tombstoned,
            skipped_own_copies: r.skipped_own_copies,
            source_frontier: r.source_frontier,
        }
    }
}

/// Imports every event of `source` into the store in `dest` under `namespace`.
pub fn import(
    source: &DataDir,
    dest: &Path,
    namespace: &str,
    progress: &dyn Progress,
) -> Result<ImportSummary, CliError> {
    let target = crate::snapshot::open_writer(dest)?;
    let from = source.open_read_only()?;
    let options = ImportOptions::new(namespace);
    let mut started = false;
    let on_progress = |done: u64, total: u64| {
        if !started {
            progress.begin("import", Some(total));
            started = true;
        }
        progress.set(done);
    };
    let outcome =
        target.import_events_with_progress(&from, &ImportSelector::all(), &options, on_progress);
    progress.end();
    let report = outcome?;
    target.close()?;
    Ok(ImportSummary::new(&report, source, dest, namespace))
}

/// A few lines for a person.
pub fn render_human(s: &ImportSummary) -> String {
    let mut out = format!(
        "import of {} into {} as {:?}: {} events imported, {} already there\n",
        s.source, s.dest, s.namespace, s.imported, s.deduplicated
    );
    let skipped = [
        (
            s.skipped_reserved,
            "of reserved kinds (the source's own records)",
        ),
        (s.skipped_tombstoned, "without a payload (compacted away)"),
        (s.skipped_own_copies, "copied from the destination itself"),
    ];
    for (n, why) in skipped.iter().filter(|(n, _)| *n > 0) {
        out.push_str(&format!("  {n} skipped {why}\n"));
    }
    out.push_str(&format!(
        "  source frontier: {} (a later import takes up from here)\n",
        s.source_frontier
    ));
    out
}
