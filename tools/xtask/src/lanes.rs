//! Mutation lanes: `traceability/lanes.yaml`.
//!
//! A lane is a named set of source files whose mutants must be caught by the
//! tests of some packages, at or above a kill-rate floor.
//!
//! ```yaml
//! lanes:
//!   - name: chain                      # [a-z0-9-]+, unique
//!     description: hashing and verification
//!     files:                           # paths or globs, relative to the root
//!       - crates/batpak/src/chain.rs
//!     packages: [batpak]               # packages mutated and whose tests run
//!     features: []                     # optional cargo features
//!     timeout_secs: 120                # per mutant test run
//!     floor: 80.0                      # minimum kill rate, percent
//!     exclusions:                      # optional
//!       - file: crates/batpak/src/chain.rs
//!         line: 42                     # optional
//!         function: link_ok            # optional
//!         replacement: "replace == with != in link_ok"
//!         reason: equivalent mutant: both branches return the same value
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::yaml::{self, at_line};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanesFile {
    lanes: Vec<Lane>,
}

/// One mutation lane.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    /// Lane name, `[a-z0-9-]+`, unique in the file.
    pub name: String,
    /// What the lane guards, one line.
    pub description: String,
    /// Source files or globs, relative to the workspace root.
    pub files: Vec<String>,
    /// Packages whose code is mutated and whose tests judge the mutants.
    pub packages: Vec<String>,
    /// Cargo features enabled for the builds.
    #[serde(default)]
    pub features: Vec<String>,
    /// Extra arguments for the test run of each mutant (e.g. `--lib`,
    /// `--test`, `verification`) to keep a lane to the tests that judge it.
    #[serde(default)]
    pub test_args: Vec<String>,
    /// Time limit, in seconds, for the tests of one mutant.
    pub timeout_secs: u64,
    /// Minimum kill rate, in percent (0–100).
    pub floor: f64,
    /// Mutants that do not count, each with its reason.
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
}

/// A mutant that is deliberately left out of the kill rate.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// File of the mutant, relative to the workspace root.
    pub file: String,
    /// Line of the mutant, if the exclusion should be pinned to one line.
    #[serde(default)]
    pub line: Option<u32>,
    /// Name of the enclosing function (`name` or `Type::name`).
    #[serde(default)]
    pub function: Option<String>,
    /// Substring of the mutant's description as `cargo mutants --list`
    /// prints it after the location, e.g. `replace > with >= in is_adult`.
    pub replacement: String,
    /// Why this mutant cannot or need not be caught.
    pub reason: String,
}

impl std::fmt::Display for Exclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(function) = &self.function {
            write!(f, " in {function}")?;
        }
        write!(f, ": \"{}\"", self.replacement)
    }
}

/// Loads and validates the lanes file. `display` names it in errors.
pub fn load(path: &Path, display: &str) -> Result<Vec<Lane>> {
    let loaded = yaml::load::<LanesFile>(path, display)?;
    let problems = validate(&loaded.value.lanes, &loaded.text);
    if !problems.is_empty() {
        bail!("{display}: {}", problems.join(&format!("\n{display}: ")));
    }
    Ok(loaded.value.lanes)
}

fn validate(lanes: &[Lane], text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (index, lane) in lanes.iter().enumerate() {
        let line = yaml::line_of_entry(text, "name", &lane.name);
        let here = format!("lanes[{index}] `{}`{}", lane.name, at_line(line));
        if !valid_lane_name(&lane.name) {
            problems.push(format!("{here}: the name must match [a-z0-9-]+"));
        }
        if !seen.insert(lane.name.as_str()) {
            problems.push(format!("{here}: the lane name is used twice"));
        }
        if lane.files.is_empty() {
            problems.push(format!("{here}: `files` is empty"));
        }
        if lane.packages.is_empty() {
            problems.push(format!("{here}: `packages` is empty"));
        }
        if lane.timeout_secs == 0 {
            problems.push(format!("{here}: `timeout_secs` must be at least 1"));
        }
        if !(0.0..=100.0).contains(&lane.floor) {
            problems.push(format!(
                "{here}: `floor` is {} but must be a percentage between 0 and 100",
                lane.floor
            ));
        }
        for (ex_index, ex) in lane.exclusions.iter().enumerate() {
            let ex_here = format!(
                "{here}: exclusions[{ex_index}]{}",
                at_line(yaml::line_containing(text, &ex.replacement))
            );
            if ex.replacement.trim().is_empty() {
                problems.push(format!("{ex_here}: `replacement` is empty"));
            }
            if ex.reason.trim().is_empty() {
                problems.push(format!("{ex_here}: `reason` is empty; say why"));
            }
        }
    }
    problems
}

fn valid_lane_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Finds a lane by name; the error lists the known lanes.
pub fn find<'a>(lanes: &'a [Lane], name: &str) -> Result<&'a Lane> {
    lanes
        .iter()
        .find(|lane| lane.name == name)
        .with_context(|| {
            let known: Vec<&str> = lanes.iter().map(|lane| lane.name.as_str()).collect();
            format!(
                "unknown lane `{name}`; known lanes: {}",
                if known.is_empty() {
                    "(none)".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
}

/// One `files` entry with the files it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMatch {
    /// The pattern as written.
    pub pattern: String,
    /// Matching files, relative to the root, `/`-separated, sorted.
    pub files: Vec<String>,
}

/// Expands each `files` pattern against `root`.
pub fn expand_files(root: &Path, lane: &Lane) -> Result<Vec<FileMatch>> {
    lane.files
        .iter()
        .map(|pattern| {
            let full = root.join(pattern);
            let full = full.to_string_lossy();
            let mut files = Vec::new();
            for entry in glob::glob(&full)
                .with_context(|| format!("lane `{}`: bad glob `{pattern}`", lane.name))?
            {
                let path = entry.with_context(|| format!("lane `{}`: `{pattern}`", lane.name))?;
                if path.is_file() {
                    files.push(crate::rel_display(root, &path));
                }
            }
            files.sort();
            files.dedup();
            Ok(FileMatch {
                pattern: pattern.clone(),
                files,
            })
        })
        .collect()
}

/// The lane's files; fails when a pattern matches nothing (a lane must not
/// silently shrink when a file moves).
pub fn resolved_files(root: &Path, lane: &Lane) -> Result<Vec<String>> {
    let mut all = BTreeSet::new();
    for matched in expand_files(root, lane)? {
        if matched.files.is_empty() {
            bail!(
                "lane `{}`: `{}` matches no file under {}",
                lane.name,
                matched.pattern,
                root.display()
            );
        }
        all.extend(matched.files);
    }
    Ok(all.into_iter().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const GOOD: &str = "\
lanes:
  - name: chain
    description: hashing
    files: [src/*.rs]
    packages: [p]
    timeout_secs: 30
    floor: 80.0
    exclusions:
      - file: src/a.rs
        replacement: replace + with -
        reason: equivalent
";

    fn load_text(text: &str) -> Result<Vec<Lane>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lanes.yaml");
        std::fs::write(&path, text).unwrap();
        load(&path, "lanes.yaml")
    }

    #[test]
    fn a_valid_file_loads_with_defaults() {
        let lanes = load_text(GOOD).unwrap();
        assert_eq!(lanes.len(), 1);
        assert!(lanes[0].features.is_empty());
        assert_eq!(lanes[0].exclusions[0].line, None);
    }

    #[test]
    fn missing_and_ill_typed_fields_name_field_and_line() {
        let err = load_text(&GOOD.replace("    timeout_secs: 30\n", ""))
            .unwrap_err()
            .to_string();
        // The parser points at the start of the lane that lacks the field.
        assert!(
            err.contains("lanes[0]: missing field `timeout_secs`"),
            "{err}"
        );
        assert!(err.contains("line 2"), "{err}");

        let err = load_text(&GOOD.replace("floor: 80.0", "floor: high"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lanes[0].floor"), "{err}");
        assert!(err.contains("line 7"), "{err}");
    }

    #[test]
    fn semantic_problems_are_reported() {
        let doubled = format!("{GOOD}{}", &GOOD["lanes:\n".len()..]);
        let err = load_text(&doubled).unwrap_err().to_string();
        assert!(err.contains("used twice"), "{err}");

        let err = load_text(&GOOD.replace("floor: 80.0", "floor: 180.0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("between 0 and 100"), "{err}");

        let err = load_text(&GOOD.replace("reason: equivalent", "reason: ''"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`reason` is empty"), "{err}");

        let err = load_text(&GOOD.replace("name: chain", "name: Chain"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[a-z0-9-]+"), "{err}");
    }

    #[test]
    fn unknown_lane_lists_the_known_ones() {
        let lanes = load_text(GOOD).unwrap();
        let err = find(&lanes, "nope").unwrap_err().to_string();
        assert_eq!(err, "unknown lane `nope`; known lanes: chain");
    }

    #[test]
    fn globs_expand_and_empty_patterns_fail() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.rs"), "").unwrap();
        std::fs::write(dir.path().join("src/b.rs"), "").unwrap();
        let mut lane = load_text(GOOD).unwrap().remove(0);
        assert_eq!(
            resolved_files(dir.path(), &lane).unwrap(),
            vec!["src/a.rs".to_owned(), "src/b.rs".to_owned()]
        );
        lane.files.push("src/gone.rs".to_owned());
        let err = resolved_files(dir.path(), &lane).unwrap_err().to_string();
        assert!(err.contains("`src/gone.rs` matches no file"), "{err}");
    }
}
