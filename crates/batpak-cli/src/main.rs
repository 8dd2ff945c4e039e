//! The `batpak` command: inspect, verify and export a data directory, and
//! benchmark batpak against SQLite. See the crate README for the export
//! format and the exit codes.

// The binary is the one place in the workspace that writes to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use batpak_cli::bench::{self, BenchConfig};
use batpak_cli::config::{LogFormat, ServeFlags};
use batpak_cli::head::KeptHead;
use batpak_cli::progress::Progress;
use batpak_cli::{
    call, compact, datadir, export, head, import, inspect, prove, snapshot, verify, CliError,
    ExitStatus,
};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: the chain is intact; with --against, the log extends
     the head)
  1  verify found problems: hash mismatches, dangling prev_hash links,
     written events missing (a damaged last frame), or committed history
     lost (the log is shorter than a recorded tree head); verify --against:
     the log does not extend the head (truncated, rewritten or forked), the
     tree files disagree with the frames, or the head's signature does not
     verify under --public-key
  2  usage or bad input: unknown option, directory missing, not a directory,
     unreadable, or holding no segment files; serve: an option or --config
     key unknown or with a bad value, or a TLS or key file that cannot be
     loaded (the message names the key; nothing is bound); nothing to show
     (head: no tree head yet, or --public-key of an unsigned head); prove: a
     malformed or unknown event id, or a size the log cannot answer for;
     verify --against: a head file that cannot be read or is not a
     checkpoint, or a --public-key that is not an Ed25519 key in hex
  3  I/O error or corruption that stopped the command
  4  call/subscribe: the server could not be reached
  5  snapshot/fork/compact/import: the data directory (import: the
     destination) is locked by its writer (a running batpak serve); stop it
     first
  10-16  call: the server answered ERR unknown_operation (10), missing_handler
     (11), handler (12), receipt_sink (13), runtime (14), forbidden (15),
     any other code (16)

inspect, verify, export, head and prove open the directory read-only: they
take no lock, change no file and work while another process writes to it.
snapshot, fork and compact open it as its writer; a refused destination
(not empty, inside the data directory, a symbolic link) exits 2. import
reads SOURCE read-only and opens DEST as its writer; a bad namespace, DEST
being SOURCE or a store with payload encryption exits 2.";

/// Inspect, verify, export, copy and benchmark batpak data directories.
#[derive(Debug, Parser)]
#[command(name = "batpak", version, after_help = EXIT_CODES)]
struct Cli {
    /// Hide progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Segments, events, entities, sizes, last sequence and any torn tail.
    Inspect {
        /// The data directory.
        dir: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Recompute every content_hash and event_hash from the bytes on disk and
    /// check every prev_hash link; exit 1 on any problem, and when the log is
    /// shorter than a tree head it recorded (committed history lost).
    Verify {
        /// The data directory.
        dir: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also check the log against a tree head kept earlier (a signed
        /// note as `batpak head` prints it, or a bare checkpoint): exit 1
        /// unless the log extends it (not truncated, rewritten or forked).
        #[arg(long, value_name = "HEAD_FILE")]
        against: Option<PathBuf>,
        /// Check the head's signature with this Ed25519 public key (64 hex
        /// digits); without it the signature is not checked.
        #[arg(long, value_name = "HEX", requires = "against")]
        public_key: Option<String>,
    },
    /// Print the latest tree head exactly as the store recorded it: the
    /// signed note, or the checkpoint text when the store does not sign.
    Head {
        /// The data directory.
        dir: PathBuf,
        /// Print the hex public key that signed the head instead.
        #[arg(long)]
        public_key: bool,
    },
    /// Prove that an event is in the log's Merkle tree (inclusion), or with
    /// --consistency that a smaller tree is a prefix of a larger one.
    Prove {
        /// The data directory.
        dir: PathBuf,
        /// The event, by the id `batpak export` prints (a hyphenated UUID).
        #[arg(
            required_unless_present = "consistency",
            conflicts_with = "consistency"
        )]
        event_id: Option<String>,
        /// The tree size to prove inclusion in [default: the latest head's
        /// size if that head covers the event, else every event].
        #[arg(long, value_name = "N")]
        size: Option<u64>,
        /// Prove that the tree of OLD events is a prefix of the tree of NEW events.
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with = "size")]
        consistency: Option<Vec<u64>>,
        /// Print the proof as one line of JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every event, one JSON object per line: header fields, hex hashes,
    /// canonical header bytes, payload as stored (base64) and decoded; then
    /// one line with the latest tree head (`"record": "tree_head"`).
    Export {
        /// The data directory.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Copy the store, as of now, into DEST (absent or an empty directory):
    /// every event, its tree head, keyset, idempotency keys and cursor
    /// checkpoints, every file synced. Opens DIR as its writer.
    Snapshot {
        /// The data directory.
        dir: PathBuf,
        /// Where the copy goes (created if absent).
        dest: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Like snapshot, but share the sealed segments with DIR by hard link
    /// (copying them if DEST is on another file system); the fork is a store
    /// of its own from then on.
    Fork {
        /// The data directory.
        dir: PathBuf,
        /// Where the fork goes (created if absent).
        dest: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite the sealed segments: merge small ones into fewer (default),
    /// or with --tombstone strip the payloads of the events the filters
    /// select (all given filters must match; headers and hashes stay, so
    /// chains and proofs still verify). Opens DIR as its writer.
    Compact {
        /// The data directory.
        dir: PathBuf,
        /// Largest merged segment, in bytes (default: the store's segment size).
        #[arg(long, value_parser = clap::value_parser!(u64).range(4096..))]
        target_bytes: Option<u64>,
        /// Strip payloads instead of merging.
        #[arg(long)]
        tombstone: bool,
        /// With --tombstone: events of this kind (decimal, or hex as 0xE001); repeatable.
        #[arg(long, value_parser = parse_kind, requires = "tombstone")]
        kind: Vec<batpak::EventKind>,
        /// With --tombstone: events whose entity starts with this.
        #[arg(long, requires = "tombstone")]
        entity_prefix: Option<String>,
        /// With --tombstone: events written before this time (ms since the Unix epoch).
        #[arg(long, requires = "tombstone")]
        before_ms: Option<u64>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Append every event of SOURCE to the store in DEST (created if absent)
    /// with its payload bytes and its provenance under NAMESPACE; a rerun
    /// imports only what is not there yet. Reads SOURCE read-only, opens
    /// DEST as its writer.
    Import {
        /// The source data directory.
        source: PathBuf,
        /// The destination data directory.
        #[arg(long = "into", value_name = "DEST")]
        into: PathBuf,
        /// The name recorded for the source in every imported event; use
        /// the same one every time the same source is imported.
        #[arg(long, value_name = "NS")]
        namespace: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// batpak and SQLite side by side (the same payloads, the same machine, one
    /// run), the operation runtime's per-call cost, and bank.commit through a
    /// served host next to the embedded store.
    Bench {
        /// Run only these sections, comma-separated (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<BenchSection>,
        /// Events per workload; the durable single-append workloads (W2, W2c) use a twentieth.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(100..))]
        events: u64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Create the temporary data directories here (default: the system temp directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Writer threads (SQLite connections) in W2c.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
        threads: u16,
        /// How long each fsync probe (append, overwrite) runs, in milliseconds.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
        fsync_probe_ms: u64,
        /// Calls of each runtime case (R1, R2, R3).
        #[arg(long, default_value_t = bench::DEFAULT_RUNTIME_CALLS, value_parser = clap::value_parser!(u64).range(1..))]
        calls: u64,
        /// bank.commit calls of each served row (S1, S8, S64) [default: --events / 20, as W2].
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        serve_calls: Option<u64>,
        /// Instead of the other sections: batpak and SQLite on data sets of
        /// these sizes, comma-separated (open time and memory in a fresh
        /// process, point reads, one entity). The data sets are built once
        /// under --dir (required) and reused by later runs.
        #[arg(long, value_delimiter = ',', requires = "dir", value_parser = clap::value_parser!(u64).range(1000..))]
        scale: Vec<u64>,
        /// Instead of the comparison with SQLite, run W1, W3 and W5 on batpak
        /// with payload encryption off and on.
        #[cfg(feature = "payload-encryption")]
        #[arg(long)]
        encryption: bool,
    },
    /// Opens a scale data set in this process and prints what it cost (run
    /// by `bench --scale`).
    #[command(hide = true)]
    ScaleProbe {
        system: String,
        dir: PathBuf,
        events: u64,
    },
    /// Serve the reference operations on a data directory over NETBAT/1
    /// (calls) and NETBAT/2 (subscriptions). Prints `calls ADDR` and
    /// `streams ADDR` first; stops cleanly on SIGINT or SIGTERM. Every
    /// option is also a key of the --config file (see the README).
    Serve {
        #[command(flatten)]
        flags: ServeFlags,
    },
    /// Call one operation and print its ack as JSON.
    Call {
        /// The operation.
        op: String,
        /// The request as JSON.
        #[arg(long, conflicts_with = "hex")]
        json: Option<String>,
        /// The request as hex MessagePack.
        #[arg(long)]
        hex: Option<String>,
        /// NETBAT/1 address.
        #[arg(long, default_value = batpak_cli::serve::DEFAULT_LISTEN)]
        addr: SocketAddr,
        /// Bearer token.
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        tls: call::TlsFlags,
    },
    /// Follow a subscription: one JSON line per delivery, acknowledged as it goes.
    Subscribe {
        /// The subscription id.
        sub_id: String,
        /// Resume after this cursor (hex).
        #[arg(long)]
        from_cursor: Option<String>,
        /// NETBAT/2 address (default: the port after 127.0.0.1:7401).
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Stop after this many deliveries.
        #[arg(long)]
        max: Option<u64>,
        /// Bearer token.
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        tls: call::TlsFlags,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BenchSection {
    /// W1-W6 and disk: batpak next to SQLite.
    Store,
    /// R1-R3: syncbat's per-call overhead.
    Runtime,
    /// S1, S8, S64: bank.commit through a served host next to the embedded store.
    Serve,
    /// Store::compact throughput, and durable appends beside a compaction (not run by default).
    Compaction,
}

impl From<BenchSection> for bench::Section {
    fn from(s: BenchSection) -> Self {
        match s {
            BenchSection::Store => Self::Store,
            BenchSection::Runtime => Self::Runtime,
            BenchSection::Serve => Self::Serve,
            BenchSection::Compaction => Self::Compaction,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// JSON Lines: one object per event.
    Jsonl,
}

/// Draws one indicatif bar per stage on stderr, or nothing.
struct Bars {
    enabled: bool,
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            current: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        // A panic while holding this lock only affects drawing.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for Bars {
    fn begin(&self, label: &str, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let bar = match total {
            Some(total) => {
                let style = ProgressStyle::with_template(
                    "{msg} [{wide_bar}] {human_pos}/{human_len} {rate} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", s.per_sec());
                })
                .progress_chars("=> ");
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                    .with_style(style)
            }
            None => {
                let style = ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(style);
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            }
        };
        bar.set_message(label.to_owned());
        if let Some(old) = self.slot().replace(bar) {
            old.finish_and_clear();
        }
    }

    fn set(&self, done: u64) {
        if let Some(bar) = self.slot().as_ref() {
            bar.set_position(done);
        }
    }

    fn end(&self) {
        if let Some(bar) = self.slot().take() {
            bar.finish_and_clear();
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| CliError::Output(e.into()))?;
    out.write_all(b"\n").map_err(CliError::Output)?;
    out.flush().map_err(CliError::Output)
}

fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(CliError::Output)?;
    out.flush().map_err(CliError::Output)
}

fn run(cli: Cli) -> Result<ExitStatus, CliError> {
    let bars = Bars::new(cli.quiet);
    match cli.command {
        Command::Inspect { dir, json } => {
            let report = inspect::inspect(&datadir::check(&dir)?)?;
            if json {
                print_json(&report)?;
            } else {
                print_text(&inspect::render_human(&report))?;
            }
            Ok(ExitStatus::Success)
        }
        Command::Verify {
            dir,
            json,
            against,
            public_key,
        } => {
            let data = datadir::check(&dir)?;
            let key = public_key
                .as_deref()
                .map(head::parse_public_key)
                .transpose()?;
            let kept = against
                .map(|path| KeptHead::read(&path, key.as_ref()))
                .transpose()?;
            if let Some(k) = &kept {
                match k.signature {
                    head::Signature::NotChecked => eprintln!(
                        "batpak: warning: the signature of {} was not checked (give --public-key HEX to check it)",
                        k.path.display()
                    ),
                    head::Signature::Unsigned => eprintln!(
                        "batpak: warning: {} is a bare checkpoint: no signature vouches for it",
                        k.path.display()
                    ),
                    _ => {}
                }
            }
            let report = verify::verify(&data, kept.as_ref(), &bars)?;
            if json {
                print_json(&report)?;
            } else {
                print_text(&verify::render_human(&report))?;
            }
            Ok(if report.intact {
                ExitStatus::Success
            } else {
                ExitStatus::ProblemsFound
            })
        }
        Command::Head { dir, public_key } => {
            let data = datadir::check(&dir)?;
            let tree_head = head::latest(&data)?;
            if public_key {
                print_text(&format!("{}\n", head::public_key_hex(&data, &tree_head)?))?;
            } else {
                print_text(&tree_head.text())?;
            }
            Ok(ExitStatus::Success)
        }
        Command::Prove {
            dir,
            event_id,
            size,
            consistency,
            json,
        } => {
            let data = datadir::check(&dir)?;
            let text = match (consistency.as_deref(), event_id) {
                (Some(&[old, new]), _) => {
                    let p = prove::consistency(&data, old, new)?;
                    if json {
                        format!("{}\n", p.to_json())
                    } else {
                        prove::render_consistency(&p)
                    }
                }
                (None, Some(id)) => {
                    let id = prove::parse_event_id(&id)?;
                    let p = prove::inclusion(&data, id, size)?;
                    if json {
                        format!("{}\n", p.to_json())
                    } else {
                        prove::render_inclusion(id, &p)
                    }
                }
                // clap demands an event id or exactly two --consistency values.
                _ => {
                    return Err(CliError::BadRequest(
                        "give an EVENT_ID or --consistency OLD NEW".to_owned(),
                    ))
                }
            };
            print_text(&text)?;
            Ok(ExitStatus::Success)
        }
        Command::Export {
            dir,
            format,
            output,
        } => {
            let Format::Jsonl = format;
            let data = datadir::check(&dir)?;
            match output {
                Some(path) => {
                    let file = File::create(&path).map_err(|e| CliError::Io {
                        op: "create output file",
                        path: path.clone(),
                        source: e,
                    })?;
                    let mut w = BufWriter::with_capacity(1 << 20, file);
                    export::export_dir(&data, &mut w, &bars)?;
                }
                None => {
                    let mut w = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
                    export::export_dir(&data, &mut w, &bars)?;
                }
            }
            Ok(ExitStatus::Success)
        }
        Command::Snapshot { dir, dest, json } => {
            copy(snapshot::Kind::Snapshot, &dir, &dest, json, &bars)
        }
        Command::Fork { dir, dest, json } => copy(snapshot::Kind::Fork, &dir, &dest, json, &bars),
        Command::Compact {
            dir,
            target_bytes,
            tombstone,
            kind,
            entity_prefix,
            before_ms,
            json,
        } => {
            let filter = tombstone.then_some(compact::TombstoneFilter {
                kinds: kind,
                entity_prefix,
                before_ms,
            });
            let out = compact::compact(&datadir::check(&dir)?, target_bytes, filter, &bars)?;
            if json {
                print_json(&out)?;
            } else {
                print_text(&compact::render_human(&out))?;
            }
            Ok(ExitStatus::Success)
        }
        Command::Import {
            source,
            into,
            namespace,
            json,
        } => {
            let summary = import::import(&datadir::check(&source)?, &into, &namespace, &bars)?;
            if json {
                print_json(&summary)?;
            } else {
                print_text(&import::render_human(&summary))?;
            }
            Ok(ExitStatus::Success)
        }
        Command::Bench {
            only,
            events,
            json,
            dir,
            threads,
            fsync_probe_ms,
            calls,
            serve_calls,
            scale,
            #[cfg(feature = "payload-encryption")]
            encryption,
        } => {
            if let (false, Some(dir)) = (scale.is_empty(), dir.as_ref()) {
                let cfg = bench::scale::ScaleConfig {
                    sizes: scale,
                    dir: dir.clone(),
                };
                let report = bench::scale::run(&cfg, &bars)?;
                if json {
                    print_json(&report)?;
                } else {
                    print_text(&bench::scale::render_human(&report))?;
                }
                return Ok(ExitStatus::Success);
            }
            let mut cfg = BenchConfig::new(events);
            if !only.is_empty() {
                cfg.sections = only.into_iter().map(Into::into).collect();
            }
            cfg.dir = dir;
            cfg.threads = usize::from(threads);
            cfg.fsync_probe = Duration::from_millis(fsync_probe_ms);
            cfg.runtime_calls = calls;
            cfg.serve_calls = serve_calls;
            #[cfg(feature = "payload-encryption")]
            if encryption {
                let report = bench::encryption::run(&cfg, &bars)?;
                if json {
                    print_json(&report)?;
                } else {
                    print_text(&bench::encryption::render_human(&report))?;
                }
                return Ok(ExitStatus::Success);
            }
            let report = bench::run(&cfg, &bars)?;
            if json {
                print_json(&report)?;
            } else {
                print_text(&bench::render_human(&report))?;
            }
            Ok(ExitStatus::Success)
        }
        Command::ScaleProbe {
            system,
            dir,
            events,
        } => {
            print_json(&bench::scale::probe(&system, &dir, events)?)?;
            Ok(ExitStatus::Success)
        }
        Command::Serve { flags } => serve(flags),
        Command::Call {
            op,
            json,
            hex,
            addr,
            token,
            tls,
        } => {
            let mut target = call::Target::new(addr, batpak_cli::serve::default_stream_addr(addr));
            target.token = token;
            target.tls = tls.load(addr)?;
            call(&op, json, hex, &target)
        }
        Command::Subscribe {
            sub_id,
            from_cursor,
            addr,
            max,
            token,
            tls,
        } => {
            let stream_addr = addr.unwrap_or_else(|| {
                batpak_cli::serve::default_stream_addr(batpak_cli::config::default_listen())
            });
            let mut target = call::Target::new(stream_addr, stream_addr);
            target.token = token;
            target.tls = tls.load(stream_addr)?;
            subscribe(&sub_id, from_cursor.as_deref(), max, &target)
        }
    }
}

fn copy(
    kind: snapshot::Kind,
    dir: &std::path::Path,
    dest: &std::path::Path,
    json: bool,
    bars: &Bars,
) -> Result<ExitStatus, CliError> {
    let report = snapshot::copy(kind, &datadir::check(dir)?, dest, bars)?;
    if json {
        print_json(&report)?;
    } else {
        print_text(&snapshot::render_human(&report))?;
    }
    Ok(ExitStatus::Success)
}

/// An event kind as a number: decimal, or hex with `0x`.
fn parse_kind(s: &str) -> Result<batpak::EventKind, String> {
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => s.parse::<u16>(),
    }
    .map_err(|_| format!("{s:?} is not a kind (0 to 65535, or 0x0000 to 0xFFFF)"))?;
    Ok(batpak::EventKind::from_u16(n))
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        _ => builder.try_init(),
    };
}

fn serve(flags: ServeFlags) -> Result<ExitStatus, CliError> {
    // Every option is checked and every file loaded before the store opens
    // or a port is bound.
    let resolved = batpak_cli::config::resolve(flags)?;
    init_logging(resolved.log_format);
    for warning in &resolved.warnings {
        tracing::warn!("{warning}");
    }
    let running = batpak_cli::serve::start(&resolved.options)?;
    print_text(&format!(
        "calls {}\nstreams {}\n",
        running.calls_addr(),
        running.streams_addr()
    ))?;
    let handles = running.shutdown_handles();
    ctrlc::set_handler(move || {
        tracing::info!("signal received: shutting down");
        for h in &handles {
            h.shutdown();
        }
    })
    .map_err(|e| CliError::Serve(format!("signal handler: {e}")))?;
    running.wait_and_close()?;
    Ok(ExitStatus::Success)
}

fn call(
    op: &str,
    json: Option<String>,
    hex: Option<String>,
    target: &call::Target,
) -> Result<ExitStatus, CliError> {
    let input = match (json, hex) {
        (_, Some(h)) => hostbat::hex::decode(&h)
            .ok_or_else(|| CliError::BadRequest("--hex is not hex".to_owned()))?,
        (Some(j), None) => call::json_to_input(op, &j)?,
        (None, None) => call::json_to_input(op, "{}")?,
    };
    let out = call::call(target, op, &input)?;
    print_json(&call::output_to_json(&out)?)?;
    Ok(ExitStatus::Success)
}

fn subscribe(
    id: &str,
    from: Option<&str>,
    max: Option<u64>,
    target: &call::Target,
) -> Result<ExitStatus, CliError> {
    let mut failed = None;
    call::subscribe(target, id, from, max, |index, cursor, payload| {
        let payload = call::output_to_json(payload).unwrap_or(serde_json::Value::Null);
        let line = serde_json::json!({"index": index, "cursor_hex": cursor, "payload": payload});
        match print_text(&format!("{line}\n")) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    failed.map_or(Ok(ExitStatus::Success), Err)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        // The reader went away (`batpak export ... | head`): not an error of ours.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batpak: error: {e}");
            ExitCode::from(e.exit_status().code())
        }
    }
}
