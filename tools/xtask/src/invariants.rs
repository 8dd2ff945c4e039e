//! The invariant registry (`traceability/invariants.yaml`) and the generated
//! document (`03_INVARIANTS.md`).
//!
//! ```yaml
//! invariants:
//!   - id: INV-CHAIN-001                 # INV-, then A-Z/0-9 groups joined by '-'
//!     statement: >
//!       event_hash covers every header field and the content hash.
//!     witness: crates/batpak/tests/chain.rs::event_hash_covers_header
//!     lanes: [chain]                    # names from traceability/lanes.yaml
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::lanes;
use crate::witness;
use crate::yaml::{self, at_line};

/// First line of the generated block in the document.
pub const BEGIN_MARKER: &str = "<!-- BEGIN GENERATED INVARIANTS -->";
/// Last line of the generated block in the document.
pub const END_MARKER: &str = "<!-- END GENERATED INVARIANTS -->";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvariantsFile {
    invariants: Vec<Invariant>,
}

/// One registered invariant.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Invariant {
    /// `INV-…` identifier, unique.
    pub id: String,
    /// What always holds, in prose.
    pub statement: String,
    /// The test that demonstrates it (see [`crate::witness`]).
    pub witness: String,
    /// Mutation lanes whose kill rate says the witness bites.
    pub lanes: Vec<String>,
}

/// Where the registry, the lanes file and the document live.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Workspace root; witnesses are relative to it.
    pub root: PathBuf,
    /// The invariant registry.
    pub invariants: PathBuf,
    /// The lane definitions.
    pub lanes: PathBuf,
    /// The generated document.
    pub doc: PathBuf,
}

impl Paths {
    /// The standard layout under `root`.
    pub fn standard(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            invariants: root.join(crate::INVARIANTS_FILE),
            lanes: root.join(crate::LANES_FILE),
            doc: root.join(crate::INVARIANTS_DOC),
        }
    }

    fn show(&self, path: &Path) -> String {
        crate::rel_display(&self.root, path)
    }
}

/// Loads the registry; errors name the field and line.
pub fn load(paths: &Paths) -> Result<(Vec<Invariant>, String)> {
    let display = paths.show(&paths.invariants);
    let loaded = yaml::load::<InvariantsFile>(&paths.invariants, &display)?;
    Ok((loaded.value.invariants, loaded.text))
}

/// Whether `id` is `INV-` followed by groups of `A-Z0-9` joined by `-`.
pub fn valid_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("INV-") else {
        return false;
    };
    rest.split('-').all(|group| {
        !group.is_empty()
            && group
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    })
}

/// Runs every check and returns the problems found (empty when all is well).
/// Errors are reserved for files that cannot be read or parsed.
pub fn check(paths: &Paths) -> Result<Vec<String>> {
    let (invariants, text) = load(paths)?;
    let lanes_display = paths.show(&paths.lanes);
    let lane_names: BTreeSet<String> = lanes::load(&paths.lanes, &lanes_display)?
        .into_iter()
        .map(|lane| lane.name)
        .collect();
    let registry = paths.show(&paths.invariants);
    let mut problems: Vec<String> = validate(&paths.root, &invariants, &text, &lane_names)
        .into_iter()
        .map(|p| format!("{registry}: {p}"))
        .collect();
    if let Some(doc_problem) = doc_problem(paths, &invariants)? {
        problems.push(doc_problem);
    }
    Ok(problems)
}

/// Checks ids, lanes and witnesses; each problem names the invariant.
pub fn validate(
    root: &Path,
    invariants: &[Invariant],
    text: &str,
    lane_names: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut finder = witness::Finder::new();
    for (index, inv) in invariants.iter().enumerate() {
        let id_line = yaml::line_of_entry(text, "id", &inv.id);
        let here = format!("invariants[{index}] {}{}", inv.id, at_line(id_line));
        // Problems with a field point at that field's line when it can be found.
        let at_field = |needle: &str| {
            let line = yaml::line_containing_after(text, id_line.unwrap_or(0), needle).or(id_line);
            format!("invariants[{index}] {}{}", inv.id, at_line(line))
        };
        if !valid_id(&inv.id) {
            problems.push(format!(
                "{here}: malformed id `{}` (expected INV- followed by A-Z/0-9 groups joined by '-', e.g. INV-CHAIN-001)",
                inv.id
            ));
        }
        if !seen.insert(inv.id.as_str()) {
            problems.push(format!("{here}: duplicate id `{}`", inv.id));
        }
        if inv.statement.trim().is_empty() {
            problems.push(format!("{here}: `statement` is empty"));
        }
        for lane in &inv.lanes {
            if !lane_names.contains(lane) {
                let known: Vec<&str> = lane_names.iter().map(String::as_str).collect();
                problems.push(format!(
                    "{}: unknown lane `{lane}` (known lanes: {})",
                    at_field(lane),
                    if known.is_empty() {
                        "(none)".to_owned()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        match witness::parse(&inv.witness) {
            Err(err) => problems.push(format!(
                "{}: malformed witness {err}",
                at_field(&inv.witness)
            )),
            Ok(w) => {
                if let Err(err) = finder.check(root, &w) {
                    problems.push(format!(
                        "{}: witness missing: {err}",
                        at_field(&inv.witness)
                    ));
                }
            }
        }
    }
    problems
}

fn doc_problem(paths: &Paths, invariants: &[Invariant]) -> Result<Option<String>> {
    let doc = paths.show(&paths.doc);
    if !paths.doc.is_file() {
        return Ok(Some(format!(
            "{doc} does not exist; run `cargo xtask invariants render`"
        )));
    }
    let current =
        std::fs::read_to_string(&paths.doc).with_context(|| format!("cannot read {doc}"))?;
    let Some((_, block, _)) = split_doc(&current) else {
        return Ok(Some(format!(
            "{doc} has no generated block ({BEGIN_MARKER} … {END_MARKER}); run `cargo xtask invariants render`"
        )));
    };
    if block != render_block(invariants) {
        return Ok(Some(format!(
            "{doc} is stale: its generated block differs from {}; run `cargo xtask invariants render`",
            paths.show(&paths.invariants)
        )));
    }
    Ok(None)
}

/// Splits a document into (before, block, after), the block including both
/// marker lines. `None` when the markers are missing or out of order.
fn split_doc(doc: &str) -> Option<(&str, &str, &str)> {
    let begin = doc.find(BEGIN_MARKER)?;
    let end_rel = doc[begin..].find(END_MARKER)?;
    let end = begin + end_rel + END_MARKER.len();
    Some((&doc[..begin], &doc[begin..end], &doc[end..]))
}

/// The generated block, markers included, without a trailing newline.
pub fn render_block(invariants: &[Invariant]) -> String {
    let mut out = String::new();
    out.push_str(BEGIN_MARKER);
    out.push('\n');
    out.push_str(&format!(
        "<!-- Generated from {} by `cargo xtask invariants render`; edit the YAML, not this block. -->\n\n",
        crate::INVARIANTS_FILE
    ));
    if invariants.is_empty() {
        out.push_str("_No invariants are registered yet._\n\n");
    } else {
        let count = invariants.len();
        out.push_str(&format!(
            "{count} invariant{} registered.\n\n",
            if count == 1 { " is" } else { "s are" }
        ));
        for inv in invariants {
            out.push_str(&format!("### {}\n\n", inv.id));
            let statement: Vec<&str> = inv.statement.trim().lines().map(str::trim_end).collect();
            out.push_str(&statement.join("\n"));
            out.push_str("\n\n");
            out.push_str(&format!("- Witness: `{}`\n", inv.witness));
            let lanes: Vec<String> = inv.lanes.iter().map(|l| format!("`{l}`")).collect();
            out.push_str(&format!(
                "- Lanes: {}\n\n",
                if lanes.is_empty() {
                    "none".to_owned()
                } else {
                    lanes.join(", ")
                }
            ));
        }
    }
    out.push_str(END_MARKER);
    out
}

const INTRO: &str = "# Invariants

The properties the workspace promises. Each one names the test that
demonstrates it and the mutation lanes that show the test would fail if the
guarded code broke. The list between the markers below is generated from
`traceability/invariants.yaml` by `cargo xtask invariants render`: edit the
YAML, not the list. Text outside the markers is kept as written.

";

/// The whole document after rendering: `existing` with its block replaced,
/// or a new document with a short introduction.
pub fn render_doc(existing: Option<&str>, invariants: &[Invariant]) -> Result<String> {
    let block = render_block(invariants);
    match existing {
        None => Ok(format!("{INTRO}{block}\n")),
        Some(doc) => match split_doc(doc) {
            Some((before, _, after)) => Ok(format!("{before}{block}{after}")),
            None if doc.contains(BEGIN_MARKER) || doc.contains(END_MARKER) => {
                bail!("the document has only one of the markers, or they are out of order; fix it by hand")
            }
            None => {
                let sep = if doc.ends_with("\n\n") {
                    ""
                } else if doc.ends_with('\n') {
                    "\n"
                } else {
                    "\n\n"
                };
                Ok(format!("{doc}{sep}{block}\n"))
            }
        },
    }
}

/// Rewrites the generated block of the document (creating the document when
/// missing). Returns whether the file changed. The registry must parse;
/// witnesses are not checked here (that is `check`'s job).
pub fn render(paths: &Paths) -> Result<bool> {
    let (invariants, _) = load(paths)?;
    let existing = match std::fs::read_to_string(&paths.doc) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", paths.show(&paths.doc)))
        }
    };
    let rendered =
        render_doc(existing.as_deref(), &invariants).with_context(|| paths.show(&paths.doc))?;
    if existing.as_deref() == Some(rendered.as_str()) {
        return Ok(false);
    }
    std::fs::write(&paths.doc, rendered)
        .with_context(|| format!("cannot write {}", paths.show(&paths.doc)))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn ids_follow_the_grammar() {
        for good in ["INV-1", "INV-CHAIN-001", "INV-A1-B2"] {
            assert!(valid_id(good), "{good}");
        }
        for bad in [
            "",
            "INV-",
            "INV-chain",
            "inv-1",
            "INV--1",
            "INV-1-",
            "XINV-1",
            "INV-A B",
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    fn inv(id: &str) -> Invariant {
        Invariant {
            id: id.to_owned(),
            statement: "Line one.\nLine two.  \n".to_owned(),
            witness: "a.rs::t".to_owned(),
            lanes: vec!["chain".to_owned()],
        }
    }

    #[test]
    fn rendering_replaces_only_the_block() {
        let doc = format!("# Title\n\nBefore.\n\n{BEGIN_MARKER}\nold\n{END_MARKER}\n\nAfter.\n");
        let out = render_doc(Some(&doc), &[inv("INV-1")]).unwrap();
        assert!(out.starts_with("# Title\n\nBefore.\n\n"));
        assert!(out.ends_with(&format!("{END_MARKER}\n\nAfter.\n")));
        assert!(out.contains(
            "### INV-1\n\nLine one.\nLine two.\n\n- Witness: `a.rs::t`\n- Lanes: `chain`\n"
        ));
        assert!(!out.contains("old"));
        // Rendering is idempotent.
        assert_eq!(render_doc(Some(&out), &[inv("INV-1")]).unwrap(), out);
    }

    #[test]
    fn a_missing_document_gets_an_intro_and_a_block_without_markers_is_appended() {
        let fresh = render_doc(None, &[]).unwrap();
        assert!(fresh.starts_with("# Invariants\n"));
        assert!(fresh.contains("_No invariants are registered yet._"));
        let appended = render_doc(Some("# Mine\n"), &[]).unwrap();
        assert!(appended.starts_with("# Mine\n\n"));
        assert!(appended.contains(BEGIN_MARKER));
        assert!(render_doc(Some(&format!("x\n{END_MARKER}\n{BEGIN_MARKER}\n")), &[]).is_err());
    }
}
