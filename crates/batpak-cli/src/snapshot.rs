//! `batpak snapshot` and `batpak fork`: a consistent copy of a data
//! directory in another one ([`batpak::Store::snapshot`],
//! [`batpak::Store::fork`]).
//!
//! Unlike the other commands on a directory, these open the store as its
//! writer: the copy is cut by the writer thread. A directory that another
//! process writes to (a running `batpak serve`) is locked, and the command
//! stops with [`CliError::Locked`] before touching the destination. Closing
//! the store afterwards seals its active segment, as any writer's close does.

use std::path::Path;

use batpak::{
    CopyStrategy, ForkReport, SnapshotFile, SnapshotReport, Store, StoreConfig, StoreError,
    TreeHead,
};
use serde::Serialize;

use crate::datadir::DataDir;
use crate::error::CliError;
use crate::export::hex;
use crate::progress::Progress;
use crate::table::human_bytes;

/// Which copy to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Every file copied.
    Snapshot,
    /// Sealed segments shared by hard link.
    Fork,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::Fork => "fork",
        }
    }
}

/// The tree head the copy ends with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopiedHead {
    /// Events it covers (every event of the copy).
    pub size: u64,
    /// The tree's root, hex.
    pub root_hash: String,
    /// Whether it carries a signed note.
    pub signed: bool,
}

/// One file written into the destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopiedFile {
    /// Its path inside the destination.
    pub path: String,
    /// Its length.
    pub bytes: u64,
    /// `"copied"` or `"linked"` (a hard link shared with the source).
    pub strategy: &'static str,
}

/// What `snapshot` or `fork` did, as `--json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// `"snapshot"` or `"fork"`.
    pub command: &'static str,
    /// The data directory as given.
    pub source: String,
    /// The destination as given.
    pub dest: String,
    /// Events in the copy: every event visible when the cut was taken.
    pub events: u64,
    /// The copy's latest tree head (null for a store without events).
    pub head: Option<CopiedHead>,
    /// Bytes of every file of the copy.
    pub bytes: u64,
    /// Bytes shared with the source by hard link (0 for a snapshot).
    pub linked_bytes: u64,
    /// Bytes written into new files.
    pub copied_bytes: u64,
    /// A fork's failed hard link, after which it copied every later segment
    /// (null when every link was made, and for a snapshot).
    pub link_fallback: Option<String>,
    /// Every file, in the order written.
    pub files: Vec<CopiedFile>,
}

/// Opens `dir` as its writer and copies it into `dest`.
pub fn copy(
    kind: Kind,
    dir: &DataDir,
    dest: &Path,
    progress: &dyn Progress,
) -> Result<CopyReport, CliError> {
    let store = open_writer(&dir.path)?;
    let mut started = false;
    let mut on_progress = |done: u64, total: u64| {
        if !started {
            progress.begin(kind.name(), Some(total));
            started = true;
        }
        progress.set(done);
    };
    let copied = match kind {
        Kind::Snapshot => store
            .snapshot_with_progress(dest, &mut on_progress)
            .map(|r| from_snapshot(r, dir, dest)),
        Kind::Fork => store
            .fork_with_progress(dest, &mut on_progress)
            .map(|r| from_fork(r, dir, dest)),
    };
    progress.end();
    let report = copied?;
    store.close()?;
    Ok(report)
}

/// The store as its writer. Payload encryption is taken from the keyset
/// the directory holds, if any (a writer must name the granularity).
pub(crate) fn open_writer(dir: &Path) -> Result<Store, CliError> {
    let cfg = StoreConfig::new(dir);
    let locked = |e: StoreError| match e {
        StoreError::StoreLocked { .. } => CliError::Locked {
            dir: dir.to_path_buf(),
        },
        other => CliError::Store(other),
    };
    match Store::open(cfg.clone()) {
        #[cfg(feature = "payload-encryption")]
        Err(StoreError::KeyScopeGranularityMismatch {
            stored,
            configured: None,
        }) => Store::open(cfg.with_payload_encryption(stored)).map_err(locked),
        other => other.map_err(locked),
    }
}

fn head_of(head: Option<&TreeHead>) -> Option<CopiedHead> {
    head.map(|h| CopiedHead {
        size: h.size(),
        root_hash: hex(h.root()),
        signed: h.note().is_some(),
    })
}

fn files_of(files: &[SnapshotFile]) -> Vec<CopiedFile> {
    files
        .iter()
        .map(|f| CopiedFile {
            path: f.path.display().to_string(),
            bytes: f.bytes,
            strategy: match f.strategy {
                CopyStrategy::Linked => "linked",
                _ => "copied",
            },
        })
        .collect()
}

fn from_snapshot(r: SnapshotReport, dir: &DataDir, dest: &Path) -> CopyReport {
    CopyReport {
        command: Kind::Snapshot.name(),
        source: dir.path.display().to_string(),
        dest: dest.display().to_string(),
        events: r.events,
        head: head_of(r.head.as_ref()),
        bytes: r.bytes(),
        linked_bytes: 0,
        copied_bytes: r.bytes(),
        link_fallback: None,
        files: files_of(&r.files),
    }
}

fn from_fork(r: ForkReport, dir: &DataDir, dest: &Path) -> CopyReport {
    CopyReport {
        command: Kind::Fork.name(),
        source: dir.path.display().to_string(),
        dest: dest.display().to_string(),
        events: r.events,
        head: head_of(r.head.as_ref()),
        bytes: r.linked_bytes() + r.copied_bytes(),
        linked_bytes: r.linked_bytes(),
        copied_bytes: r.copied_bytes(),
        link_fallback: r
            .link_fallback
            .as_ref()
            .map(|f| format!("{}: {}", f.path.display(), f.message)),
        files: files_of(&r.files),
    }
}

/// A few lines for a person.
pub fn render_human(r: &CopyReport) -> String {
    let mut out = format!(
        "{} of {} written to {}: {} events, {} files, {}\n",
        r.command,
        r.source,
        r.dest,
        r.events,
        r.files.len(),
        human_bytes(r.bytes)
    );
    if r.command == Kind::Fork.name() {
        let linked = r.files.iter().filter(|f| f.strategy == "linked").count();
        out.push_str(&format!(
            "  {linked} sealed segments linked ({}), {} files copied ({})\n",
            human_bytes(r.linked_bytes),
            r.files.len() - linked,
            human_bytes(r.copied_bytes)
        ));
    }
    if let Some(reason) = &r.link_fallback {
        out.push_str(&format!(
            "  a hard link failed, so later segments were copied: {reason}\n"
        ));
    }
    match &r.head {
        Some(h) => out.push_str(&format!(
            "  tree head: size {}, root {}{}\n",
            h.size,
            h.root_hash,
            if h.signed { " (signed)" } else { "" }
        )),
        None => out.push_str("  no tree head (the store holds no events)\n"),
    }
    out
}
