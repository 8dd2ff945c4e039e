//! Running a mutation lane through cargo-mutants and judging it.
//!
//! Kill rate = (caught + timeout) / (caught + missed + timeout) × 100.
//! Unviable mutants (they do not build) and excluded mutants (matching an
//! exclusion in the lane) are left out of both sides. A lane passes when its
//! kill rate is at least its floor; with no viable mutant at all it passes.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::lanes::{self, Exclusion, Lane};
use crate::ToolFailed;

/// The command CI and developers use to install cargo-mutants.
pub const INSTALL_HINT: &str = "cargo install --locked cargo-mutants";

/// One mutant, as cargo-mutants describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutant {
    /// File, relative to the cargo workspace root, `/`-separated.
    pub file: String,
    /// Line where the mutation starts.
    pub line: u32,
    /// Enclosing function (`name` or `Type::name`), when there is one.
    pub function: Option<String>,
    /// The description after the location, e.g. `replace > with >= in is_adult`.
    pub description: String,
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.description)
    }
}

/// What happened to a mutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A test failed: the mutant was killed.
    Caught,
    /// Every test passed: the mutant survived.
    Missed,
    /// The tests ran past the time limit (counted as killed).
    Timeout,
    /// The mutant did not build (not counted).
    Unviable,
}

/// A mutant with its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scored {
    /// The mutant.
    pub mutant: Mutant,
    /// Its outcome.
    pub outcome: Outcome,
}

#[derive(Deserialize)]
struct RawPosition {
    line: u32,
}

#[derive(Deserialize)]
struct RawSpan {
    start: RawPosition,
}

#[derive(Deserialize)]
struct RawFunction {
    function_name: String,
}

#[derive(Deserialize)]
struct RawMutant {
    file: String,
    name: String,
    span: RawSpan,
    #[serde(default)]
    function: Option<RawFunction>,
}

impl From<RawMutant> for Mutant {
    fn from(raw: RawMutant) -> Self {
        // `name` is "<file>:<line>:<col>: <description>".
        let description = raw
            .name
            .strip_prefix(raw.file.as_str())
            .and_then(|rest| rest.split_once(": "))
            .map_or_else(|| raw.name.clone(), |(_, d)| d.to_owned());
        Mutant {
            file: raw.file,
            line: raw.span.start.line,
            function: raw.function.map(|f| f.function_name),
            description,
        }
    }
}

/// Parses the output of `cargo mutants --list --json` (empty output means
/// no mutants).
pub fn parse_list(json: &str) -> Result<Vec<Mutant>> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<RawMutant> =
        serde_json::from_str(json).context("cannot read the mutant list from cargo-mutants")?;
    Ok(raw.into_iter().map(Mutant::from).collect())
}

#[derive(Deserialize)]
struct RawOutcomes {
    outcomes: Vec<RawOutcome>,
}

#[derive(Deserialize)]
struct RawOutcome {
    scenario: serde_json::Value,
    summary: String,
}

/// Parses `mutants.out/outcomes.json`, keeping the mutant scenarios.
pub fn parse_outcomes(json: &str) -> Result<Vec<Scored>> {
    let raw: RawOutcomes =
        serde_json::from_str(json).context("cannot read outcomes.json from cargo-mutants")?;
    let mut scored = Vec::new();
    for entry in raw.outcomes {
        let Some(mutant) = entry.scenario.get("Mutant") else {
            continue; // the baseline
        };
        let mutant: RawMutant = serde_json::from_value(mutant.clone())
            .context("unexpected mutant shape in outcomes.json")?;
        let outcome = match entry.summary.as_str() {
            "CaughtMutant" => Outcome::Caught,
            "MissedMutant" => Outcome::Missed,
            "Timeout" => Outcome::Timeout,
            "Unviable" => Outcome::Unviable,
            other => bail!(
                "unexpected outcome `{other}` for mutant `{}` in outcomes.json",
                mutant.name
            ),
        };
        scored.push(Scored {
            mutant: mutant.into(),
            outcome,
        });
    }
    Ok(scored)
}

/// Whether `exclusion` covers `mutant`: same file, same line and function
/// when given, and the replacement text is a substring of the description.
pub fn exclusion_matches(exclusion: &Exclusion, mutant: &Mutant) -> bool {
    let function_ok = match (&exclusion.function, &mutant.function) {
        (None, _) => true,
        (Some(want), Some(have)) => have == want || have.rsplit("::").next() == Some(want.as_str()),
        (Some(_), None) => false,
    };
    normalize(&exclusion.file) == normalize(&mutant.file)
        && exclusion.line.is_none_or(|line| line == mutant.line)
        && function_ok
        && mutant.description.contains(exclusion.replacement.as_str())
}

fn normalize(path: &str) -> String {
    path.trim_start_matches("./").replace('\\', "/")
}

/// Exclusions of `lane` that match none of `mutants` (or name a file outside
/// the lane): each is a problem, so exclusions cannot outlive their mutant.
pub fn stale_exclusions(lane: &Lane, lane_files: &[String], mutants: &[Mutant]) -> Vec<String> {
    lane.exclusions
        .iter()
        .filter_map(|ex| {
            if !lane_files.contains(&normalize(&ex.file)) {
                Some(format!(
                    "exclusion {ex}: the file is not one of the lane's files"
                ))
            } else if !mutants.iter().any(|m| exclusion_matches(ex, m)) {
                Some(format!(
                    "exclusion {ex}: no such mutant any more; remove or update it"
                ))
            } else {
                None
            }
        })
        .collect()
}

/// Outcome counts after exclusions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Killed by a failing test.
    pub caught: usize,
    /// Survived.
    pub missed: usize,
    /// Ran past the time limit.
    pub timeout: usize,
    /// Did not build.
    pub unviable: usize,
    /// Matched an exclusion.
    pub excluded: usize,
}

/// (caught + timeout) / (caught + missed + timeout) in percent; `None` when
/// no viable, non-excluded mutant was tested.
pub fn kill_rate(counts: &Counts) -> Option<f64> {
    let killed = counts.caught + counts.timeout;
    let total = killed + counts.missed;
    (total > 0).then(|| killed as f64 * 100.0 / total as f64)
}

/// The verdict on one lane run.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneReport {
    /// Lane name.
    pub lane: String,
    /// The lane's floor, percent.
    pub floor: f64,
    /// Counts after exclusions.
    pub counts: Counts,
    /// Kill rate, percent; `None` when nothing viable was tested.
    pub kill_rate: Option<f64>,
    /// Surviving mutants.
    pub missed: Vec<Mutant>,
    /// Mutants that timed out.
    pub timeouts: Vec<Mutant>,
    /// Excluded mutants with the reason of their exclusion.
    pub excluded: Vec<(Mutant, String)>,
    /// Set when `--in-diff` selected nothing: the reason, and the lane passes.
    pub nothing_to_test: Option<String>,
}

impl LaneReport {
    /// Whether the lane meets its floor.
    pub fn passed(&self) -> bool {
        self.kill_rate.is_none_or(|rate| rate + 1e-9 >= self.floor)
    }
}

/// Scores a run of `lane` from its outcomes.
pub fn evaluate(lane: &Lane, results: &[Scored]) -> LaneReport {
    let mut report = LaneReport {
        lane: lane.name.clone(),
        floor: lane.floor,
        counts: Counts::default(),
        kill_rate: None,
        missed: Vec::new(),
        timeouts: Vec::new(),
        excluded: Vec::new(),
        nothing_to_test: None,
    };
    for scored in results {
        if let Some(ex) = lane
            .exclusions
            .iter()
            .find(|ex| exclusion_matches(ex, &scored.mutant))
        {
            report.counts.excluded += 1;
            report
                .excluded
                .push((scored.mutant.clone(), ex.reason.clone()));
            continue;
        }
        match scored.outcome {
            Outcome::Caught => report.counts.caught += 1,
            Outcome::Missed => {
                report.counts.missed += 1;
                report.missed.push(scored.mutant.clone());
            }
            Outcome::Timeout => {
                report.counts.timeout += 1;
                report.timeouts.push(scored.mutant.clone());
            }
            Outcome::Unviable => report.counts.unviable += 1,
        }
    }
    report.kill_rate = kill_rate(&report.counts);
    report
}

impl fmt::Display for LaneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reason) = &self.nothing_to_test {
            return writeln!(f, "lane `{}`: {reason}; nothing to test", self.lane);
        }
        let c = &self.counts;
        writeln!(
            f,
            "lane `{}`: {} mutants ({} excluded)",
            self.lane,
            c.caught + c.missed + c.timeout + c.unviable + c.excluded,
            c.excluded
        )?;
        writeln!(
            f,
            "  caught {}, missed {}, timeout {}, unviable {}",
            c.caught, c.missed, c.timeout, c.unviable
        )?;
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        match self.kill_rate {
            Some(rate) => writeln!(
                f,
                "  kill rate {rate:.1}% = (caught + timeout) / (caught + missed + timeout); floor {:.1}%: {verdict}",
                self.floor
            )?,
            None => writeln!(
                f,
                "  kill rate n/a (no viable mutant tested); floor {:.1}%: {verdict}",
                self.floor
            )?,
        }
        if !self.missed.is_empty() {
            writeln!(f, "missed mutants ({}):", self.missed.len())?;
            for m in &self.missed {
                writeln!(f, "  {m}")?;
            }
        }
        if !self.timeouts.is_empty() {
            writeln!(f, "timeouts ({}), counted as caught:", self.timeouts.len())?;
            for m in &self.timeouts {
                writeln!(f, "  {m}")?;
            }
        }
        if !self.excluded.is_empty() {
            writeln!(f, "excluded ({}):", self.excluded.len())?;
            for (m, reason) in &self.excluded {
                writeln!(f, "  {m}  ({reason})")?;
            }
        }
        Ok(())
    }
}

/// How to run one lane.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cargo workspace root (where cargo-mutants runs).
    pub root: PathBuf,
    /// The lanes file.
    pub lanes_file: PathBuf,
    /// Lane to run.
    pub lane: String,
    /// Only mutants in lines changed since this git revision.
    pub in_diff: Option<String>,
    /// Parallel cargo-mutants jobs.
    pub jobs: Option<u32>,
    /// Where `mutants.out` goes; default `<root>/target/xtask-mutants/<lane>`.
    pub output_dir: Option<PathBuf>,
    /// Install cargo-mutants when it is missing (the command line does; tests
    /// must not).
    pub install_if_missing: bool,
    /// Send cargo-mutants' own output to `<output>/cargo-mutants.log`
    /// instead of the terminal.
    pub quiet: bool,
}

impl RunOptions {
    /// Options for `lane` with the standard lanes file under `root`.
    pub fn new(root: &Path, lane: &str) -> Self {
        Self {
            root: root.to_path_buf(),
            lanes_file: root.join(crate::LANES_FILE),
            lane: lane.to_owned(),
            in_diff: None,
            jobs: None,
            output_dir: None,
            install_if_missing: false,
            quiet: false,
        }
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The installed cargo-mutants version line, or `None` when it cannot run.
pub fn cargo_mutants_version() -> Option<String> {
    let output = Command::new(cargo())
        .args(["mutants", "--version"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Makes sure cargo-mutants can run, installing it when allowed.
pub fn ensure_cargo_mutants(install_if_missing: bool, log: &mut dyn Write) -> Result<String> {
    if let Some(version) = cargo_mutants_version() {
        return Ok(version);
    }
    if !install_if_missing {
        return Err(anyhow!(ToolFailed(format!(
            "cargo-mutants is not installed (`cargo mutants --version` failed); install it with `{INSTALL_HINT}`"
        ))));
    }
    writeln!(
        log,
        "cargo-mutants is not installed; installing it with `{INSTALL_HINT}` (this takes a few minutes)"
    )?;
    let status = Command::new(cargo())
        .args(["install", "--locked", "cargo-mutants"])
        .stdin(Stdio::null())
        .status()
        .map_err(|err| anyhow!(ToolFailed(format!("cannot run `{INSTALL_HINT}`: {err}"))))?;
    if !status.success() {
        bail!(ToolFailed(format!("`{INSTALL_HINT}` failed ({status})")));
    }
    cargo_mutants_version().ok_or_else(|| {
        anyhow!(ToolFailed(
            "cargo-mutants was installed but `cargo mutants --version` still fails; is ~/.cargo/bin on PATH?".to_owned()
        ))
    })
}

/// `cargo mutants` with the lane's scope, run in `root`.
fn mutants_command(root: &Path, lane: &Lane, files: &[String]) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root).arg("mutants").stdin(Stdio::null());
    for file in files {
        cmd.arg("--file").arg(file);
    }
    for package in &lane.packages {
        cmd.arg("--package").arg(package);
    }
    if !lane.features.is_empty() {
        cmd.arg("--features").arg(lane.features.join(","));
    }
    // Mutant builds happen in cargo-mutants' scratch copies, each with its
    // own target directory; an inherited one would make them share a lock.
    cmd.env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("NEXTEST_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn describe_command(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs `cargo mutants --list --json` for the lane (optionally limited to a
/// diff file).
pub fn list_mutants(
    root: &Path,
    lane: &Lane,
    files: &[String],
    diff_file: Option<&Path>,
) -> Result<Vec<Mutant>> {
    let mut cmd = mutants_command(root, lane, files);
    cmd.args(["--list", "--json"]);
    if let Some(diff) = diff_file {
        cmd.arg("--in-diff").arg(diff);
    }
    let shown = describe_command(&cmd);
    let output = cmd
        .output()
        .map_err(|err| anyhow!(ToolFailed(format!("cannot run `{shown}`: {err}"))))?;
    if !output.status.success() {
        bail!(ToolFailed(format!(
            "`{shown}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    parse_list(&String::from_utf8_lossy(&output.stdout))
}

fn write_diff(root: &Path, rev: &str, path: &Path) -> Result<bool> {
    let output = Command::new("git")
        .current_dir(root)
        .args(["diff", "--no-color", "--no-ext-diff", rev, "--"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| anyhow!(ToolFailed(format!("cannot run git: {err}"))))?;
    if !output.status.success() {
        bail!(ToolFailed(format!(
            "`git diff {rev}` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    std::fs::write(path, &output.stdout)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(!output.stdout.is_empty())
}

fn has_nextest_profile(root: &Path, profile: &str) -> bool {
    std::fs::read_to_string(root.join(".config").join("nextest.toml"))
        .map(|text| {
            text.lines()
                .any(|line| line.trim() == format!("[profile.{profile}]"))
        })
        .unwrap_or(false)
}

/// Runs one lane end to end: checks exclusions against the lane's mutant
/// list, runs cargo-mutants (nextest, profile `mutants`), reads
/// `outcomes.json` and scores the run. Progress notes go to `log`.
pub fn run_lane(opts: &RunOptions, log: &mut dyn Write) -> Result<LaneReport> {
    let lanes_display = crate::rel_display(&opts.root, &opts.lanes_file);
    let all_lanes = lanes::load(&opts.lanes_file, &lanes_display)?;
    let lane = lanes::find(&all_lanes, &opts.lane)?;
    let files = lanes::resolved_files(&opts.root, lane)?;
    let version = ensure_cargo_mutants(opts.install_if_missing, log)?;
    writeln!(
        log,
        "lane `{}` with {version}: {}",
        lane.name,
        files.join(", ")
    )?;

    let out_dir = opts.output_dir.clone().unwrap_or_else(|| {
        opts.root
            .join("target")
            .join("xtask-mutants")
            .join(&lane.name)
    });
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;

    let full_list = list_mutants(&opts.root, lane, &files, None)?;
    let stale = stale_exclusions(lane, &files, &full_list);
    if !stale.is_empty() {
        bail!(
            "lane `{}`: {}",
            lane.name,
            stale.join(&format!("\nlane `{}`: ", lane.name))
        );
    }

    let mut diff_file = None;
    if let Some(rev) = &opts.in_diff {
        let path = out_dir.join("in-diff.patch");
        let nothing = |reason: String| LaneReport {
            nothing_to_test: Some(reason),
            ..evaluate(lane, &[])
        };
        if !write_diff(&opts.root, rev, &path)? {
            return Ok(nothing(format!("no changes against `{rev}`")));
        }
        if list_mutants(&opts.root, lane, &files, Some(&path))?.is_empty() {
            return Ok(nothing(format!(
                "no mutants in the lines changed against `{rev}`"
            )));
        }
        diff_file = Some(path);
    }

    for stale_dir in ["mutants.out", "mutants.out.old"] {
        let dir = out_dir.join(stale_dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
    }

    let mut cmd = mutants_command(&opts.root, lane, &files);
    for package in &lane.packages {
        cmd.arg("--test-package").arg(package);
    }
    for arg in &lane.test_args {
        cmd.arg(format!("--cargo-test-arg={arg}"));
    }
    cmd.args(["--test-tool", "nextest", "--cap-lints", "true"])
        .arg("--timeout")
        .arg(lane.timeout_secs.to_string())
        .arg("--output")
        .arg(&out_dir);
    if let Some(jobs) = opts.jobs {
        cmd.arg("--jobs").arg(jobs.to_string());
    }
    if let Some(diff) = &diff_file {
        cmd.arg("--in-diff").arg(diff);
    }
    if has_nextest_profile(&opts.root, "mutants") {
        cmd.env("NEXTEST_PROFILE", "mutants");
    } else {
        writeln!(
            log,
            "note: no [profile.mutants] in .config/nextest.toml; using nextest's default profile"
        )?;
    }
    let log_path = out_dir.join("cargo-mutants.log");
    if opts.quiet {
        let file = File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let err_file = file.try_clone()?;
        cmd.stdout(file).stderr(err_file);
    }
    writeln!(log, "running: {}", describe_command(&cmd))?;
    writeln!(log, "results: {}", out_dir.join("mutants.out").display())?;
    let shown = describe_command(&cmd);
    let status = cmd
        .status()
        .map_err(|err| anyhow!(ToolFailed(format!("cannot run `{shown}`: {err}"))))?;
    let mutants_out = out_dir.join("mutants.out");
    let where_logs = if opts.quiet {
        format!(
            "{} and {}",
            log_path.display(),
            mutants_out.join("log").display()
        )
    } else {
        mutants_out.join("log").display().to_string()
    };
    // 0: all caught; 2: some missed; 3: some timed out. The floor decides.
    match status.code() {
        Some(0 | 2 | 3) => {}
        Some(4) => bail!(ToolFailed(format!(
            "the tests fail on the unmutated tree, so no mutant can be judged; see {where_logs}"
        ))),
        _ => bail!(ToolFailed(format!(
            "`{shown}` failed ({status}); see {where_logs}"
        ))),
    }
    let outcomes_path = mutants_out.join("outcomes.json");
    let json = std::fs::read_to_string(&outcomes_path).map_err(|err| {
        anyhow!(ToolFailed(format!(
            "cannot read {}: {err}",
            outcomes_path.display()
        )))
    })?;
    Ok(evaluate(lane, &parse_outcomes(&json)?))
}

/// The `--list-lanes` text: each lane, its files (flagging patterns that
/// match nothing), its floor and exclusions.
pub fn describe_lanes(root: &Path, lanes_file: &Path) -> Result<String> {
    let display = crate::rel_display(root, lanes_file);
    let all = lanes::load(lanes_file, &display)?;
    let mut out = String::new();
    for lane in &all {
        out.push_str(&format!(
            "{}: floor {:.1}%, timeout {}s per mutant, packages {}{}\n",
            lane.name,
            lane.floor,
            lane.timeout_secs,
            lane.packages.join(", "),
            if lane.features.is_empty() {
                String::new()
            } else {
                format!(", features {}", lane.features.join(","))
            }
        ));
        out.push_str(&format!("  {}\n", lane.description.trim()));
        for matched in lanes::expand_files(root, lane)? {
            if matched.files.is_empty() {
                out.push_str(&format!(
                    "  file {}  (matches nothing yet)\n",
                    matched.pattern
                ));
            } else if matched.files.len() == 1 && matched.files[0] == matched.pattern {
                out.push_str(&format!("  file {}\n", matched.pattern));
            } else {
                out.push_str(&format!(
                    "  file {}  ({})\n",
                    matched.pattern,
                    matched.files.join(", ")
                ));
            }
        }
        for ex in &lane.exclusions {
            out.push_str(&format!("  excludes {ex}: {}\n", ex.reason.trim()));
        }
    }
    if all.is_empty() {
        out.push_str("no lanes defined\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn mutant(line: u32, description: &str) -> Mutant {
        Mutant {
            file: "src/lib.rs".to_owned(),
            line,
            function: Some("is_adult".to_owned()),
            description: description.to_owned(),
        }
    }

    fn lane(floor: f64, exclusions: Vec<Exclusion>) -> Lane {
        Lane {
            name: "l".to_owned(),
            description: String::new(),
            files: vec!["src/lib.rs".to_owned()],
            packages: vec!["p".to_owned()],
            features: Vec::new(),
            test_args: Vec::new(),
            timeout_secs: 10,
            floor,
            exclusions,
        }
    }

    fn exclusion(line: Option<u32>, function: Option<&str>, replacement: &str) -> Exclusion {
        Exclusion {
            file: "src/lib.rs".to_owned(),
            line,
            function: function.map(str::to_owned),
            replacement: replacement.to_owned(),
            reason: "because".to_owned(),
        }
    }

    #[test]
    fn kill_rate_counts_timeouts_as_killed_and_ignores_unviable() {
        let counts = Counts {
            caught: 6,
            missed: 2,
            timeout: 2,
            unviable: 5,
            excluded: 3,
        };
        assert_eq!(kill_rate(&counts), Some(80.0));
        assert_eq!(kill_rate(&Counts::default()), None);
    }

    #[test]
    fn floors_are_inclusive_and_exclusions_do_not_count() {
        let results = vec![
            Scored {
                mutant: mutant(1, "replace a with b"),
                outcome: Outcome::Caught,
            },
            Scored {
                mutant: mutant(2, "replace > with >= in is_adult"),
                outcome: Outcome::Missed,
            },
            Scored {
                mutant: mutant(3, "replace c with d"),
                outcome: Outcome::Unviable,
            },
        ];
        let report = evaluate(&lane(50.0, vec![]), &results);
        assert_eq!(report.kill_rate, Some(50.0));
        assert!(report.passed());
        assert!(!evaluate(&lane(50.1, vec![]), &results).passed());

        let excluded = evaluate(
            &lane(100.0, vec![exclusion(Some(2), Some("is_adult"), "with >=")]),
            &results,
        );
        assert_eq!(excluded.counts.excluded, 1);
        assert_eq!(excluded.kill_rate, Some(100.0));
        assert!(excluded.passed());
        assert!(excluded.to_string().contains("(because)"));
    }

    #[test]
    fn exclusions_match_on_file_line_function_and_text() {
        let m = mutant(11, "replace > with >= in is_adult");
        assert!(exclusion_matches(&exclusion(None, None, "with >="), &m));
        assert!(exclusion_matches(
            &exclusion(Some(11), Some("is_adult"), ">="),
            &m
        ));
        assert!(!exclusion_matches(&exclusion(Some(12), None, ">="), &m));
        assert!(!exclusion_matches(&exclusion(None, Some("add"), ">="), &m));
        assert!(!exclusion_matches(&exclusion(None, None, "with <"), &m));
        let method = Mutant {
            function: Some("Store::is_adult".to_owned()),
            ..m
        };
        assert!(exclusion_matches(
            &exclusion(None, Some("is_adult"), ">="),
            &method
        ));
    }

    #[test]
    fn stale_exclusions_are_named() {
        let l = lane(
            0.0,
            vec![
                exclusion(None, None, "with >="),
                exclusion(None, None, "gone"),
            ],
        );
        let files = vec!["src/lib.rs".to_owned()];
        let stale = stale_exclusions(&l, &files, &[mutant(11, "replace > with >= in is_adult")]);
        assert_eq!(stale.len(), 1);
        assert!(stale[0].contains("\"gone\""), "{stale:?}");
        assert!(stale[0].contains("no such mutant"), "{stale:?}");
    }

    #[test]
    fn outcomes_json_is_read() {
        let json = r#"{"outcomes":[
            {"scenario":"Baseline","summary":"Success"},
            {"scenario":{"Mutant":{"package":"p","file":"src/lib.rs",
              "function":{"function_name":"is_adult","return_type":"-> bool","span":{"start":{"line":8,"column":1},"end":{"line":12,"column":2}}},
              "span":{"start":{"line":11,"column":9},"end":{"line":11,"column":10}},
              "replacement":">=","genre":"BinaryOperator",
              "name":"src/lib.rs:11:9: replace > with >= in is_adult"}},
             "summary":"MissedMutant"}],
            "total_mutants":1}"#;
        let scored = parse_outcomes(json).unwrap();
        assert_eq!(
            scored,
            vec![Scored {
                mutant: mutant(11, "replace > with >= in is_adult"),
                outcome: Outcome::Missed
            }]
        );
        assert!(parse_outcomes(&json.replace("MissedMutant", "Weird")).is_err());
        assert!(parse_list("").unwrap().is_empty());
    }
}
