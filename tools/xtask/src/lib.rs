//! Workspace checks behind `cargo xtask`.
//!
//! - [`invariants`]: the invariant registry (`traceability/invariants.yaml`),
//!   its witness tests and the generated `03_INVARIANTS.md`.
//! - [`lanes`] and [`mutants`]: mutation lanes (`traceability/lanes.yaml`)
//!   run through cargo-mutants, each held to a kill-rate floor.
//! - [`public_api`]: the public surface of each library crate, compared with
//!   `traceability/public_api/<crate>.txt`.
//! - [`layers`] (on top of [`imports`]): the modules of the core crate import
//!   one way, lowest layer first (`traceability/layers.yaml`), without cycles.
//!
//! Every entry point takes the workspace root (and file paths where a test
//! needs to point elsewhere), so the same code runs on the real workspace and
//! on fixture trees.

pub mod imports;
pub mod invariants;
pub mod lanes;
pub mod layers;
pub mod mutants;
pub mod public_api;
pub mod rustsrc;
pub mod witness;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

/// Path of the invariant registry, relative to the workspace root.
pub const INVARIANTS_FILE: &str = "traceability/invariants.yaml";
/// Path of the lane definitions, relative to the workspace root.
pub const LANES_FILE: &str = "traceability/lanes.yaml";
/// Path of the module layers of the core crate, relative to the workspace root.
pub const LAYERS_FILE: &str = "traceability/layers.yaml";
/// Path of the generated invariants document, relative to the workspace root.
pub const INVARIANTS_DOC: &str = "03_INVARIANTS.md";
/// Directory of the public-API baselines, relative to the workspace root.
pub const PUBLIC_API_DIR: &str = "traceability/public_api";

/// Process exit code: every check passed.
pub const EXIT_OK: i32 = 0;
/// Process exit code: a check found a problem (drift, missing witness, lane
/// under its floor, invalid YAML, ...).
pub const EXIT_CHECK_FAILED: i32 = 1;
/// Process exit code: the command line was not understood.
pub const EXIT_USAGE: i32 = 2;
/// Process exit code: an external tool (cargo, cargo-mutants, git) could not
/// run or failed for a reason that says nothing about the code under check.
pub const EXIT_TOOL_FAILED: i32 = 3;

/// Marks an error as the failure of an external tool rather than a finding.
///
/// Attach it with `anyhow::Error::new(ToolFailed(..))` or `.context(ToolFailed(..))`;
/// the binary maps it to [`EXIT_TOOL_FAILED`].
#[derive(Debug)]
pub struct ToolFailed(pub String);

impl fmt::Display for ToolFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToolFailed {}

/// Exit code for an error returned by one of the commands.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<ToolFailed>()) {
        EXIT_TOOL_FAILED
    } else {
        EXIT_CHECK_FAILED
    }
}

/// The workspace root this binary was built from (`tools/xtask/../..`).
pub fn default_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = here.join("..").join("..");
    root.canonicalize().unwrap_or(root)
}

/// `path` relative to `root`, with `/` separators, for messages and matching.
pub fn rel_display(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
