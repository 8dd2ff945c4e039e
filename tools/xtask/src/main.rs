//! `cargo xtask …`: workspace checks. See `tools/xtask/README.md`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use xtask::{invariants, layers, mutants, public_api};

/// Workspace checks: invariant registry, mutation lanes, public-API baselines,
/// module layers.
///
/// Exit codes: 0 all checks passed; 1 a check failed (or a traceability file
/// is invalid); 2 the command line was not understood; 3 an external tool
/// (cargo, cargo-mutants, git) could not run or failed on its own.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version)]
struct Cli {
    /// Workspace root (default: the workspace this tool was built in).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Top,
}

#[derive(Subcommand)]
enum Top {
    /// The invariant registry: traceability/invariants.yaml and 03_INVARIANTS.md.
    Invariants {
        #[command(subcommand)]
        action: InvariantsAction,
    },
    /// Run a mutation lane (cargo-mutants) and hold it to its kill-rate floor.
    ///
    /// Kill rate = (caught + timeout) / (caught + missed + timeout) × 100,
    /// leaving out unviable mutants and mutants matched by a lane exclusion.
    /// A lane fails (exit 1) when its kill rate is below its floor; a lane
    /// with no viable mutant passes.
    Mutants(MutantsArgs),
    /// The public surface of each library crate against traceability/public_api/.
    #[command(name = "public-api")]
    PublicApi {
        #[command(subcommand)]
        action: PublicApiAction,
    },
    /// The modules of the core crate import one way, lowest layer first, and
    /// no modules import each other in a cycle (traceability/layers.yaml).
    Layers(LayersArgs),
}

#[derive(Subcommand)]
enum InvariantsAction {
    /// Every id is well formed and unique, every lane exists, every witness
    /// test exists, and 03_INVARIANTS.md is current.
    Check,
    /// Regenerate the marked block of 03_INVARIANTS.md from the registry.
    Render,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["list_lanes", "lane"]))]
struct MutantsArgs {
    /// List the lanes, their files, floors and exclusions.
    #[arg(long)]
    list_lanes: bool,
    /// Run this lane.
    #[arg(long, value_name = "NAME")]
    lane: Option<String>,
    /// Only mutants on lines changed since this git revision (`git diff REV`
    /// is passed to `cargo mutants --in-diff`).
    #[arg(long, value_name = "REV", requires = "lane")]
    in_diff: Option<String>,
    /// Parallel cargo-mutants jobs (passed to `cargo mutants --jobs`).
    #[arg(long, short = 'j', value_name = "N", requires = "lane")]
    jobs: Option<u32>,
    /// Lanes file (default: traceability/lanes.yaml under the root).
    #[arg(long, value_name = "FILE")]
    lanes_file: Option<PathBuf>,
}

#[derive(Args)]
struct LayersArgs {
    /// Print the findings but exit 0 (to measure the tree, e.g. before a
    /// refactor).
    #[arg(long)]
    report: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Layers file (default: traceability/layers.yaml under the root).
    #[arg(long, value_name = "FILE")]
    layers_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum PublicApiAction {
    /// Fail when a crate's public surface differs from its baseline.
    Check(PublicApiArgs),
    /// Rewrite the baselines from the current sources.
    Bless(PublicApiArgs),
}

#[derive(Args)]
struct PublicApiArgs {
    /// Only these packages (default: every library crate of the workspace).
    #[arg(long = "package", short = 'p', value_name = "NAME")]
    packages: Vec<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                xtask::EXIT_USAGE as u8
            } else {
                xtask::EXIT_OK as u8
            });
        }
    };
    let root = cli.root.clone().unwrap_or_else(xtask::default_root);
    match run(cli.command, &root) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(xtask::exit_code_for(&err) as u8)
        }
    }
}

fn run(command: Top, root: &std::path::Path) -> Result<i32> {
    match command {
        Top::Invariants { action } => {
            let paths = invariants::Paths::standard(root);
            match action {
                InvariantsAction::Check => {
                    let problems = invariants::check(&paths)?;
                    if problems.is_empty() {
                        let (list, _) = invariants::load(&paths)?;
                        println!(
                            "invariants: {} registered, witnesses found, {} current",
                            list.len(),
                            xtask::INVARIANTS_DOC
                        );
                        return Ok(xtask::EXIT_OK);
                    }
                    for problem in &problems {
                        eprintln!("{problem}");
                    }
                    eprintln!("invariants check failed: {} problem(s)", problems.len());
                    Ok(xtask::EXIT_CHECK_FAILED)
                }
                InvariantsAction::Render => {
                    let changed = invariants::render(&paths)?;
                    println!(
                        "{} {}",
                        xtask::INVARIANTS_DOC,
                        if changed {
                            "rewritten"
                        } else {
                            "already current"
                        }
                    );
                    Ok(xtask::EXIT_OK)
                }
            }
        }
        Top::Mutants(args) => run_mutants(args, root),
        Top::PublicApi { action } => run_public_api(action, root),
        Top::Layers(args) => run_layers(args, root),
    }
}

fn run_layers(args: LayersArgs, root: &std::path::Path) -> Result<i32> {
    let layers_file = args
        .layers_file
        .unwrap_or_else(|| root.join(xtask::LAYERS_FILE));
    let report = layers::check(root, &layers_file)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    if report.passed() || args.report {
        return Ok(xtask::EXIT_OK);
    }
    eprintln!(
        "layers check failed: {} violation(s)",
        report.violations.len()
    );
    Ok(xtask::EXIT_CHECK_FAILED)
}

fn run_mutants(args: MutantsArgs, root: &std::path::Path) -> Result<i32> {
    let lanes_file = args
        .lanes_file
        .unwrap_or_else(|| root.join(xtask::LANES_FILE));
    if args.list_lanes {
        print!("{}", mutants::describe_lanes(root, &lanes_file)?);
        return Ok(xtask::EXIT_OK);
    }
    let Some(lane) = args.lane else {
        bail!("give --lane NAME or --list-lanes");
    };
    let opts = mutants::RunOptions {
        lanes_file,
        in_diff: args.in_diff,
        jobs: args.jobs,
        install_if_missing: true,
        ..mutants::RunOptions::new(root, &lane)
    };
    let mut stdout = std::io::stdout();
    let report = mutants::run_lane(&opts, &mut stdout)?;
    print!("{report}");
    stdout.flush()?;
    Ok(if report.passed() {
        xtask::EXIT_OK
    } else {
        eprintln!(
            "lane `{}` is below its floor of {:.1}%",
            report.lane, report.floor
        );
        xtask::EXIT_CHECK_FAILED
    })
}

fn run_public_api(action: PublicApiAction, root: &std::path::Path) -> Result<i32> {
    let (args, blessing) = match action {
        PublicApiAction::Check(args) => (args, false),
        PublicApiAction::Bless(args) => (args, true),
    };
    let all = public_api::workspace_crates(root)?;
    let crates = if args.packages.is_empty() {
        all.clone()
    } else {
        let mut chosen = Vec::new();
        for name in &args.packages {
            match all.iter().find(|k| &k.package == name) {
                Some(k) => chosen.push(k.clone()),
                None => {
                    let known: Vec<&str> = all.iter().map(|k| k.package.as_str()).collect();
                    bail!(
                        "`{name}` is not a library crate of the workspace; known: {}",
                        known.join(", ")
                    );
                }
            }
        }
        chosen
    };
    let baseline_dir = root.join(xtask::PUBLIC_API_DIR);
    let orphans = if args.packages.is_empty() {
        public_api::orphan_baselines(&all, &baseline_dir)?
    } else {
        Vec::new()
    };
    // Each crate is handled on its own so one unreadable crate does not hide
    // the others' results.
    let mut failed = false;
    for krate in &crates {
        let one = std::slice::from_ref(krate);
        let shown = xtask::rel_display(
            root,
            &public_api::baseline_path(&baseline_dir, &krate.package),
        );
        if blessing {
            match public_api::bless(one, &baseline_dir) {
                Ok(changed) if changed.is_empty() => println!("{shown} unchanged"),
                Ok(_) => println!("{shown} written"),
                Err(err) => {
                    failed = true;
                    eprintln!("error: {err:#}");
                }
            }
            continue;
        }
        let drift = match public_api::check(one, &baseline_dir) {
            Ok(mut drifts) if !drifts.is_empty() => drifts.remove(0),
            Ok(_) => continue,
            Err(err) => {
                failed = true;
                eprintln!("error: {err:#}");
                continue;
            }
        };
        if drift.missing_baseline {
            failed = true;
            eprintln!(
                "{}: no baseline {shown}; run `cargo xtask public-api bless` to create it",
                drift.package
            );
        } else if !drift.is_clean() {
            failed = true;
            println!("--- {shown} (baseline)");
            println!("+++ {} (current source)", drift.package);
            for line in &drift.removed {
                println!("-{line}");
            }
            for line in &drift.added {
                println!("+{line}");
            }
            eprintln!(
                "{}: public API differs from {shown} ({} removed, {} added); run `cargo xtask public-api bless` if intended",
                drift.package,
                drift.removed.len(),
                drift.added.len()
            );
        } else {
            println!("{}: public API matches {shown}", drift.package);
        }
    }
    if blessing {
        for orphan in &orphans {
            std::fs::remove_file(orphan)?;
            println!(
                "{} removed (no such crate)",
                xtask::rel_display(root, orphan)
            );
        }
        return Ok(if failed {
            xtask::EXIT_CHECK_FAILED
        } else {
            xtask::EXIT_OK
        });
    }
    for orphan in &orphans {
        failed = true;
        eprintln!(
            "{}: baseline of a crate that no longer exists; run `cargo xtask public-api bless` to remove it",
            xtask::rel_display(root, orphan)
        );
    }
    Ok(if failed {
        xtask::EXIT_CHECK_FAILED
    } else {
        xtask::EXIT_OK
    })
}
