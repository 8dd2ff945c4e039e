//! `batpak serve` options: the flags, an optional TOML file (`--config`), and
//! their merge into [`ServeOptions`].
//!
//! Every option is a flag and a key of the file. A flag given on the command
//! line wins over the file; a repeatable flag given at least once replaces
//! the file's whole list. Keys are the flag names with `_` for `-`; the TLS
//! files sit in `[tls]` without the `tls_` prefix, the byte and connection
//! bounds in `[limits]`, the timeouts in `[timeouts]` without the
//! `_timeout` suffix:
//!
//! | flag | key |
//! |---|---|
//! | `--data DIR` | `data` |
//! | `--listen ADDR` | `listen` |
//! | `--stream-listen ADDR` | `stream_listen` |
//! | `--token T` (repeatable) | `tokens = ["…"]` |
//! | `--subscription ID=SOURCE` (repeatable) | `subscriptions = ["…"]` |
//! | `--signing-key FILE` | `signing_key` |
//! | `--trusted-key HEX` (repeatable) | `trusted_keys = ["…"]` |
//! | `--log-format text\|json` | `log_format` |
//! | `--tls-cert PEM`, `--tls-key PEM` | `tls.cert`, `tls.key` |
//! | `--client-ca PEM` | `tls.client_ca` |
//! | `--max-connections N` | `limits.max_connections` |
//! | `--max-line-bytes N` | `limits.max_line_bytes` |
//! | `--max-input-bytes N` | `limits.max_input_bytes` |
//! | `--max-output-bytes N` | `limits.max_output_bytes` |
//! | `--max-window N` | `limits.max_window` |
//! | `--read-timeout D` | `timeouts.read` |
//! | `--idle-timeout D` | `timeouts.idle` |
//! | `--write-timeout D` | `timeouts.write` |
//! | `--stall-timeout D` | `timeouts.stall` |
//!
//! Durations are a whole number and a unit: `500ms`, `30s`, `5m`, `1h`
//! (above zero, at most 24h). Relative paths in the file are resolved against
//! the file's directory.
//!
//! Everything is checked before the store opens or a port is bound: the file
//! is parsed, unknown keys are refused, PEM files, keys and routes are
//! loaded. A problem is a [`CliError::Config`] naming the key (or the flag),
//! and the process exits 2.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use netbat::tls::{ClientCertificates, TlsServerConfig};
use netbat::{ConnectionLimit, Limits, ServerConfig};

use crate::error::CliError;
use crate::serve::{parse_route, ServeOptions, DEFAULT_LISTEN};

/// Longest timeout accepted: deadlines are computed by adding it to now.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Log format on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The flags of `batpak serve`; every one is also a key of the `--config` file.
#[derive(Clone, Debug, Default, clap::Args)]
#[non_exhaustive]
pub struct ServeFlags {
    /// Read options from this TOML file; flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// NETBAT/1 address [default: 127.0.0.1:7401] (port 0: a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// NETBAT/2 address (default: the next port after --listen).
    #[arg(long, value_name = "ADDR")]
    pub stream_listen: Option<SocketAddr>,
    /// Accept this bearer token (repeatable); without one, no token is asked.
    #[arg(long, value_name = "TOKEN")]
    pub token: Vec<String>,
    /// A subscription route ID=SOURCE (all, category:N, entity:NAME,
    /// receipts); repeatable. `events.all.v1=all` is always offered.
    #[arg(long = "subscription", value_name = "ID=SOURCE")]
    pub subscriptions: Vec<String>,
    /// Sign every receipt with the ed25519 key in this file (its 32-byte
    /// seed as 64 hex digits, e.g. from `openssl rand -hex 32`).
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// receipt.verify also trusts receipts signed by this ed25519 public key
    /// (64 hex digits); repeatable. The store's own key is always trusted.
    #[arg(long = "trusted-key", value_name = "HEX")]
    pub trusted_keys: Vec<String>,
    /// Serve TLS on both listeners with this certificate chain (needs --tls-key).
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert.
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Require a client certificate signed by one of these CAs (mTLS; needs --tls-cert).
    #[arg(long, value_name = "PEM")]
    pub client_ca: Option<PathBuf>,
    /// Connections served at once per listener [default: 1024].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_connections: Option<NonZeroUsize>,
    /// Longest request or response line, LF included [default: 65536].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_line_bytes: Option<NonZeroUsize>,
    /// Largest decoded call input [default: 32768].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_input_bytes: Option<NonZeroUsize>,
    /// Largest call output; event.query pages are cut to fit [default: 32768].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_output_bytes: Option<NonZeroUsize>,
    /// Largest subscription window honoured [default: 256].
    #[arg(long, value_name = "N", value_parser = parse_window)]
    pub max_window: Option<NonZeroU32>,
    /// A whole request line must arrive within this [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub read_timeout: Option<Duration>,
    /// How long a connection may wait between requests [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// How long one write may block on a peer that does not read [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub write_timeout: Option<Duration>,
    /// How long a delivery may wait on a full window before slow_consumer [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub stall_timeout: Option<Duration>,
    /// Log format on stderr (level from RUST_LOG, default info) [default: text].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// Options checked and loaded, ready for [`crate::serve::start`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Resolved {
    /// What to serve.
    pub options: ServeOptions,
    /// The log format.
    pub log_format: LogFormat,
    /// Things worth a warning in the log once it is set up.
    pub warnings: Vec<String>,
}

/// Parses a duration: a whole number and `ms`, `s`, `m` or `h`, above zero
/// and at most [`MAX_DURATION`].
///
/// ```
/// use std::time::Duration;
/// use batpak_cli::config::parse_duration;
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
/// assert!(parse_duration("30").is_err());
/// assert!(parse_duration("0s").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = || format!("expected a duration such as 500ms, 30s, 5m or 1h, found {text:?}");
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let per_unit: u64 = match unit.trim_start() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(expected()),
    };
    let n: u64 = digits.parse().map_err(|_| expected())?;
    let millis = n.checked_mul(per_unit).ok_or_else(expected)?;
    let duration = Duration::from_millis(millis);
    if duration.is_zero() {
        return Err(format!("expected a duration above zero, found {text:?}"));
    }
    if duration > MAX_DURATION {
        return Err(format!(
            "expected a duration of at most 24h, found {text:?}"
        ));
    }
    Ok(duration)
}

fn positive(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive integer, found {text:?}")),
    }
}

fn parse_count(text: &str) -> Result<NonZeroUsize, String> {
    positive(text).and_then(count)
}

fn parse_window(text: &str) -> Result<NonZeroU32, String> {
    positive(text).and_then(window)
}

fn count(n: u64) -> Result<NonZeroUsize, String> {
    usize::try_from(n)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| format!("expected a positive integer, found {n}"))
}

fn window(n: u64) -> Result<NonZeroU32, String> {
    u32::try_from(n)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| format!("expected a positive integer up to {}, found {n}", u32::MAX))
}

/// One option's two names.
#[derive(Clone, Copy, Debug)]
struct Opt {
    flag: &'static str,
    key: &'static str,
}

const fn opt(flag: &'static str, key: &'static str) -> Opt {
    Opt { flag, key }
}

const DATA: Opt = opt("--data", "data");
const LISTEN: Opt = opt("--listen", "listen");
const STREAM_LISTEN: Opt = opt("--stream-listen", "stream_listen");
const TOKENS: Opt = opt("--token", "tokens");
const SUBSCRIPTIONS: Opt = opt("--subscription", "subscriptions");
const SIGNING_KEY: Opt = opt("--signing-key", "signing_key");
const TRUSTED_KEYS: Opt = opt("--trusted-key", "trusted_keys");
const LOG_FORMAT: Opt = opt("--log-format", "log_format");
const TLS_CERT: Opt = opt("--tls-cert", "tls.cert");
const TLS_KEY: Opt = opt("--tls-key", "tls.key");
const CLIENT_CA: Opt = opt("--client-ca", "tls.client_ca");
const MAX_CONNECTIONS: Opt = opt("--max-connections", "limits.max_connections");
const MAX_LINE_BYTES: Opt = opt("--max-line-bytes", "limits.max_line_bytes");
const MAX_INPUT_BYTES: Opt = opt("--max-input-bytes", "limits.max_input_bytes");
const MAX_OUTPUT_BYTES: Opt = opt("--max-output-bytes", "limits.max_output_bytes");
const MAX_WINDOW: Opt = opt("--max-window", "limits.max_window");
const READ_TIMEOUT: Opt = opt("--read-timeout", "timeouts.read");
const IDLE_TIMEOUT: Opt = opt("--idle-timeout", "timeouts.idle");
const WRITE_TIMEOUT: Opt = opt("--write-timeout", "timeouts.write");
const STALL_TIMEOUT: Opt = opt("--stall-timeout", "timeouts.stall");

const TOP_KEYS: &[&str] = &[
    "data",
    "listen",
    "stream_listen",
    "tokens",
    "subscriptions",
    "signing_key",
    "trusted_keys",
    "log_format",
    "tls",
    "limits",
    "timeouts",
];
const TLS_KEYS: &[&str] = &["cert", "key", "client_ca"];
const LIMIT_KEYS: &[&str] = &[
    "max_connections",
    "max_line_bytes",
    "max_input_bytes",
    "max_output_bytes",
    "max_window",
];
const TIMEOUT_KEYS: &[&str] = &["read", "idle", "write", "stall"];

/// Where a value came from, for an error that names it.
#[derive(Clone, Debug)]
struct Source {
    file: Option<PathBuf>,
    key: String,
}

impl Source {
    fn flag(opt: Opt) -> Self {
        Self {
            file: None,
            key: opt.flag.to_owned(),
        }
    }

    fn file(path: &Path, key: impl Into<String>) -> Self {
        Self {
            file: Some(path.to_path_buf()),
            key: key.into(),
        }
    }

    fn error(&self, problem: impl Into<String>) -> CliError {
        CliError::Config {
            file: self.file.clone(),
            key: Some(self.key.clone()),
            problem: problem.into(),
        }
    }
}

/// The values a config file sets, each with the key it came from.
#[derive(Debug, Default)]
struct FileValues {
    data: Option<PathBuf>,
    listen: Option<SocketAddr>,
    stream_listen: Option<SocketAddr>,
    tokens: Option<Vec<String>>,
    subscriptions: Option<Vec<String>>,
    signing_key: Option<PathBuf>,
    trusted_keys: Option<Vec<String>>,
    log_format: Option<LogFormat>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    max_connections: Option<NonZeroUsize>,
    max_line_bytes: Option<NonZeroUsize>,
    max_input_bytes: Option<NonZeroUsize>,
    max_output_bytes: Option<NonZeroUsize>,
    max_window: Option<NonZeroU32>,
    read_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    stall_timeout: Option<Duration>,
}

fn found(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer {i}"),
        other => other.type_str().to_owned(),
    }
}

fn string(value: &toml::Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, found {}", found(value)))
}

fn path(value: &toml::Value, base: &Path) -> Result<PathBuf, String> {
    let p = Path::new(string(value)?);
    Ok(if p.is_relative() {
        base.join(p)
    } else {
        p.to_path_buf()
    })
}

fn address(value: &toml::Value) -> Result<SocketAddr, String> {
    let text = string(value)?;
    text.parse()
        .map_err(|_| format!("expected an address such as \"127.0.0.1:7401\", found {text:?}"))
}

fn strings(value: &toml::Value) -> Result<Vec<String>, String> {
    let expected = || format!("expected an array of strings, found {}", found(value));
    value
        .as_array()
        .ok_or_else(expected)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(expected))
        .collect()
}

fn integer(value: &toml::Value) -> Result<u64, String> {
    match value.as_integer().map(u64::try_from) {
        Some(Ok(n)) if n > 0 => Ok(n),
        _ => Err(format!(
            "expected a positive integer, found {}",
            found(value)
        )),
    }
}

fn duration(value: &toml::Value) -> Result<Duration, String> {
    parse_duration(string(value)?)
}

fn log_format(value: &toml::Value) -> Result<LogFormat, String> {
    match string(value)? {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("expected \"text\" or \"json\", found {other:?}")),
    }
}

fn unknown(known: &[&str]) -> String {
    format!("unknown key (known here: {})", known.join(", "))
}

/// Reads and checks a config file: syntax, every key known, every value of
/// its type.
fn read_file(file: &Path) -> Result<FileValues, CliError> {
    let whole = |problem: String| CliError::Config {
        file: Some(file.to_path_buf()),
        key: None,
        problem,
    };
    let text = std::fs::read_to_string(file).map_err(|e| whole(format!("cannot be read: {e}")))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| whole(e.to_string().trim_end().to_owned()))?;
    let base = file.parent().unwrap_or_else(|| Path::new("."));
    let mut v = FileValues::default();
    let at = |key: &str| {
        let key = key.to_owned();
        move |problem: String| Source::file(file, key).error(problem)
    };
    for (key, value) in &table {
        let err = at(key);
        match key.as_str() {
            "data" => v.data = Some(path(value, base).map_err(err)?),
            "listen" => v.listen = Some(address(value).map_err(err)?),
            "stream_listen" => v.stream_listen = Some(address(value).map_err(err)?),
            "tokens" => v.tokens = Some(strings(value).map_err(err)?),
            "subscriptions" => v.subscriptions = Some(strings(value).map_err(err)?),
            "signing_key" => v.signing_key = Some(path(value, base).map_err(err)?),
            "trusted_keys" => v.trusted_keys = Some(strings(value).map_err(err)?),
            "log_format" => v.log_format = Some(log_format(value).map_err(err)?),
            "tls" | "limits" | "timeouts" => {
                let section = value
                    .as_table()
                    .ok_or_else(|| err(format!("expected a table, found {}", found(value))))?;
                for (name, value) in section {
                    let err = at(&format!("{key}.{name}"));
                    match (key.as_str(), name.as_str()) {
                        ("tls", "cert") => v.tls_cert = Some(path(value, base).map_err(err)?),
                        ("tls", "key") => v.tls_key = Some(path(value, base).map_err(err)?),
                        ("tls", "client_ca") => {
                            v.client_ca = Some(path(value, base).map_err(err)?);
                        }
                        ("limits", "max_connections") => {
                            v.max_connections = Some(integer(value).and_then(count).map_err(err)?);
                        }
                        ("limits", "max_line_bytes") => {
                            v.max_line_bytes = Some(integer(value).and_then(count).map_err(err)?);
                        }
                        ("limits", "max_input_bytes") => {
                            v.max_input_bytes = Some(integer(value).and_then(count).map_err(err)?);
                        }
                        ("limits", "max_output_bytes") => {
                            v.max_output_bytes = Some(integer(value).and_then(count).map_err(err)?);
                        }
                        ("limits", "max_window") => {
                            v.max_window = Some(integer(value).and_then(window).map_err(err)?);
                        }
                        ("timeouts", "read") => {
                            v.read_timeout = Some(duration(value).map_err(err)?)
                        }
                        ("timeouts", "idle") => {
                            v.idle_timeout = Some(duration(value).map_err(err)?)
                        }
                        ("timeouts", "write") => {
                            v.write_timeout = Some(duration(value).map_err(err)?);
                        }
                        ("timeouts", "stall") => {
                            v.stall_timeout = Some(duration(value).map_err(err)?);
                        }
                        ("tls", _) => return Err(err(unknown(TLS_KEYS))),
                        ("limits", _) => return Err(err(unknown(LIMIT_KEYS))),
                        _ => return Err(err(unknown(TIMEOUT_KEYS))),
                    }
                }
            }
            _ => return Err(err(unknown(TOP_KEYS))),
        }
    }
    Ok(v)
}

/// Picks the flag's value over the file's, remembering which it was.
fn pick<T>(flag: Option<T>, file: Option<T>, opt: Opt, path: Option<&Path>) -> Option<(T, Source)> {
    match (flag, file, path) {
        (Some(v), _, _) => Some((v, Source::flag(opt))),
        (None, Some(v), Some(path)) => Some((v, Source::file(path, opt.key))),
        _ => None,
    }
}

/// The flag's list when given at least once, else the file's, each item
/// with its source (`key[i]` for the file).
fn pick_list(
    flag: Vec<String>,
    file: Option<Vec<String>>,
    opt: Opt,
    path: Option<&Path>,
) -> Vec<(String, Source)> {
    match (flag.is_empty(), file, path) {
        (false, _, _) => flag.into_iter().map(|v| (v, Source::flag(opt))).collect(),
        (true, Some(items), Some(path)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v, Source::file(path, format!("{}[{i}]", opt.key))))
            .collect(),
        _ => Vec::new(),
    }
}

fn read_bytes(path: &Path, source: &Source) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| source.error(format!("reading {}: {e}", path.display())))
}

fn signing_key(
    path: &Path,
    source: &Source,
    warnings: &mut Vec<String>,
) -> Result<ed25519_dalek::SigningKey, CliError> {
    let bytes = read_bytes(path, source)?;
    let seed = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| hostbat::hex::decode_array::<32>(text.trim()))
        .ok_or_else(|| {
            source.error(format!(
                "{}: expected 64 hex digits (an ed25519 seed)",
                path.display()
            ))
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                warnings.push(format!(
                    "signing key {} is readable by other users (chmod 600 it)",
                    path.display()
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = warnings;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

fn trusted_key(text: &str, source: &Source) -> Result<[u8; 32], CliError> {
    let key = hostbat::hex::decode_array::<32>(text.trim()).ok_or_else(|| {
        source.error(format!(
            "expected 64 hex digits (an ed25519 public key), found {text:?}"
        ))
    })?;
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| source.error(format!("{text:?} is not an ed25519 public key")))?;
    Ok(key)
}

struct TlsFiles {
    cert: (PathBuf, Source),
    key: (PathBuf, Source),
    client_ca: Option<(PathBuf, Source)>,
}

fn tls(files: &TlsFiles) -> Result<TlsServerConfig, CliError> {
    let (cert_path, cert_source) = &files.cert;
    let (key_path, key_source) = &files.key;
    let cert = read_bytes(cert_path, cert_source)?;
    let key = read_bytes(key_path, key_source)?;
    // Blame the certificate when it holds none, the key otherwise (a missing,
    // unparsable or mismatched private key).
    let blame = |e: netbat::tls::TlsError| match e {
        netbat::tls::TlsError::NoCertificate => cert_source.error(e.to_string()),
        other => key_source.error(other.to_string()),
    };
    let plain = TlsServerConfig::from_pem(&cert, &key).map_err(blame)?;
    let Some((ca_path, ca_source)) = &files.client_ca else {
        return Ok(plain);
    };
    let ca = read_bytes(ca_path, ca_source)?;
    TlsServerConfig::with_client_ca(&cert, &key, &ca, ClientCertificates::Required)
        .map_err(|e| ca_source.error(e.to_string()))
}

/// Merges `flags` over the file they name (if any), checks every value and
/// loads every file they name. Nothing is opened for writing and nothing is
/// bound.
pub fn resolve(flags: ServeFlags) -> Result<Resolved, CliError> {
    let file = match &flags.config {
        Some(path) => read_file(path)?,
        None => FileValues::default(),
    };
    let from = flags.config.as_deref();
    let mut warnings = Vec::new();

    let data = pick(flags.data, file.data, DATA, from).ok_or_else(|| CliError::Config {
        file: None,
        key: Some(DATA.flag.to_owned()),
        problem: "required (or `data` in the --config file)".to_owned(),
    })?;
    let listen = pick(flags.listen, file.listen, LISTEN, from);
    let stream_listen = pick(flags.stream_listen, file.stream_listen, STREAM_LISTEN, from);
    let log_format = pick(flags.log_format, file.log_format, LOG_FORMAT, from)
        .map_or(LogFormat::Text, |(f, _)| f);

    let mut options = ServeOptions::new(data.0);
    if let Some((addr, _)) = listen.clone() {
        options.listen = addr;
    }
    options.stream_listen = stream_listen.clone().map(|(a, _)| a);

    let mut server = ServerConfig::default();
    type SetLimit = fn(Limits, usize) -> Limits;
    let limits_in: [(_, _, _, SetLimit); 3] = [
        (
            flags.max_line_bytes,
            file.max_line_bytes,
            MAX_LINE_BYTES,
            Limits::with_max_line_bytes,
        ),
        (
            flags.max_input_bytes,
            file.max_input_bytes,
            MAX_INPUT_BYTES,
            Limits::with_max_input_bytes,
        ),
        (
            flags.max_output_bytes,
            file.max_output_bytes,
            MAX_OUTPUT_BYTES,
            Limits::with_max_output_bytes,
        ),
    ];
    for (flag, in_file, opt, set) in limits_in {
        if let Some((n, _)) = pick(flag, in_file, opt, from) {
            server.limits = set(server.limits, n.get());
        }
    }
    if let Some((n, _)) = pick(
        flags.max_connections,
        file.max_connections,
        MAX_CONNECTIONS,
        from,
    ) {
        server = server.with_connection_limit(ConnectionLimit::Concurrent(n));
    }
    if let Some((n, _)) = pick(flags.max_window, file.max_window, MAX_WINDOW, from) {
        server = server.with_max_window(n);
    }
    let mut timeouts = server.timeouts;
    if let Some((d, _)) = pick(flags.read_timeout, file.read_timeout, READ_TIMEOUT, from) {
        timeouts = timeouts.with_read(d);
    }
    if let Some((d, _)) = pick(flags.idle_timeout, file.idle_timeout, IDLE_TIMEOUT, from) {
        timeouts = timeouts.with_idle(d);
    }
    if let Some((d, _)) = pick(flags.write_timeout, file.write_timeout, WRITE_TIMEOUT, from) {
        timeouts = timeouts.with_write(d);
    }
    server = server.with_timeouts(timeouts);
    if let Some((d, _)) = pick(flags.stall_timeout, file.stall_timeout, STALL_TIMEOUT, from) {
        server = server.with_stall_timeout(d);
    }
    let limits = server.limits;
    // A body travels as hex on one line, beside the verb and operation name.
    let widest = limits.max_input_bytes.max(limits.max_output_bytes);
    if limits.max_line_bytes < widest.saturating_mul(2) {
        warnings.push(format!(
            "max_line_bytes {} cannot carry a {widest}-byte body, which needs more than {} \
             bytes as hex; such bodies fail with a line-length error",
            limits.max_line_bytes,
            widest.saturating_mul(2)
        ));
    }

    for (token, source) in pick_list(flags.token, file.tokens, TOKENS, from) {
        if token.is_empty() {
            return Err(source.error("a token must not be empty"));
        }
        if token.len() > limits.max_token_bytes {
            return Err(source.error(format!(
                "a token is at most {} bytes",
                limits.max_token_bytes
            )));
        }
        options.tokens.push(token);
    }
    for (route, source) in pick_list(flags.subscriptions, file.subscriptions, SUBSCRIPTIONS, from) {
        let parsed = parse_route(&route).map_err(|e| source.error(e.to_string()))?;
        options.routes.push(parsed);
    }
    for (text, source) in pick_list(flags.trusted_keys, file.trusted_keys, TRUSTED_KEYS, from) {
        options.trusted_keys.push(trusted_key(&text, &source)?);
    }
    if let Some((path, source)) = pick(flags.signing_key, file.signing_key, SIGNING_KEY, from) {
        options.signing_key = Some(signing_key(&path, &source, &mut warnings)?);
    }

    let cert = pick(flags.tls_cert, file.tls_cert, TLS_CERT, from);
    let key = pick(flags.tls_key, file.tls_key, TLS_KEY, from);
    let client_ca = pick(flags.client_ca, file.client_ca, CLIENT_CA, from);
    let mutual = client_ca.is_some();
    match (cert, key) {
        (Some(cert), Some(key)) => {
            server = server.with_tls(tls(&TlsFiles {
                cert,
                key,
                client_ca,
            })?);
        }
        (Some((_, source)), None) => {
            return Err(source.error(format!("needs {} too", opposite(&source, TLS_KEY))));
        }
        (None, Some((_, source))) => {
            return Err(source.error(format!("needs {} too", opposite(&source, TLS_CERT))));
        }
        (None, None) => {
            if let Some((_, source)) = client_ca {
                return Err(source.error(format!(
                    "needs {} and {}",
                    opposite(&source, TLS_CERT),
                    opposite(&source, TLS_KEY)
                )));
            }
        }
    }

    let calls_addr = options.listen;
    let streams_addr = options
        .stream_listen
        .unwrap_or_else(|| crate::serve::default_stream_addr(calls_addr));
    let remote = [
        (calls_addr, listen.map(|(_, s)| s)),
        (streams_addr, stream_listen.map(|(_, s)| s)),
    ];
    for (addr, source) in remote {
        if addr.ip().is_loopback() {
            continue;
        }
        if options.tokens.is_empty() && !mutual {
            let source = source.unwrap_or_else(|| Source::flag(LISTEN));
            return Err(source.error(format!(
                "refusing to serve {addr} without credentials: give tokens, or a client CA \
                 (mTLS), or bind to loopback"
            )));
        }
        if server.tls.is_none() {
            warnings.push(format!(
                "{addr} is not loopback and serves without TLS: tokens and data travel in cleartext"
            ));
        }
    }
    options.server = server;
    Ok(Resolved {
        options,
        log_format,
        warnings,
    })
}

/// The name of `other` as the user would write it where `source` was written.
fn opposite(source: &Source, other: Opt) -> &'static str {
    if source.file.is_some() {
        other.key
    } else {
        other.flag
    }
}

impl ServeFlags {
    /// Flags for a data directory, everything else unset.
    pub fn for_data(data: impl Into<PathBuf>) -> Self {
        Self {
            data: Some(data.into()),
            ..Self::default()
        }
    }
}

/// The address `serve` uses when neither flag nor file gives one.
pub fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 7401)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn from_file(text: &str) -> Result<Resolved, CliError> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "batpak.toml", text);
        resolve(ServeFlags {
            config: Some(path),
            ..ServeFlags::default()
        })
    }

    fn problem(text: &str) -> String {
        match from_file(text) {
            Err(e @ CliError::Config { .. }) => {
                assert_eq!(e.exit_status(), crate::ExitStatus::BadInput);
                e.to_string()
            }
            Err(other) => panic!("not a config error: {other}"),
            Ok(r) => panic!("accepted: {r:?}"),
        }
    }

    /// The defaults the flags' help states are netbat's.
    #[test]
    fn defaults_in_the_help_are_netbats() {
        let d = ServerConfig::default();
        assert_eq!(
            d.connection_limit,
            ConnectionLimit::Concurrent(NonZeroUsize::new(1024).unwrap())
        );
        assert_eq!(d.limits.max_line_bytes, 65_536);
        assert_eq!(d.limits.max_input_bytes, 32_768);
        assert_eq!(d.limits.max_output_bytes, 32_768);
        assert_eq!(d.max_window.get(), 256);
        assert_eq!(d.timeouts.read, Duration::from_secs(10));
        assert_eq!(d.timeouts.idle, Duration::from_secs(30));
        assert_eq!(d.timeouts.write, Duration::from_secs(10));
        assert_eq!(d.stall_timeout, Duration::from_secs(10));
        assert_eq!(default_listen().to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 30 s "), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(MAX_DURATION));
        for bad in [
            "", "s", "30", "30x", "1.5s", "-1s", "0ms", "25h", "1m30s", "ms5",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("0s").unwrap_err().contains("above zero"));
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("7").unwrap().get(), 7);
        assert!(parse_count("0").is_err());
        assert!(parse_count("-3").is_err());
        assert!(parse_count("x").is_err());
        assert_eq!(parse_window("4294967295").unwrap().get(), u32::MAX);
        assert!(parse_window("4294967296").is_err());
    }

    #[test]
    fn a_full_file_sets_every_option() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "seed.hex", &format!("{}\n", "07".repeat(32)));
        let public = ed25519_dalek::SigningKey::from_bytes(&[9; 32])
            .verifying_key()
            .to_bytes();
        let text = format!(
            r#"
data = "data"
listen = "127.0.0.1:9100"
stream_listen = "127.0.0.1:9200"
tokens = ["alpha", "beta"]
subscriptions = ["nine.v1=entity:acct:9"]
signing_key = "seed.hex"
trusted_keys = ["{}"]
log_format = "json"

[limits]
max_connections = 8
max_line_bytes = 200000
max_input_bytes = 1000
max_output_bytes = 90000
max_window = 16

[timeouts]
read = "2s"
idle = "1m"
write = "500ms"
stall = "3s"
"#,
            hostbat::hex::encode(&public)
        );
        let path = write(dir.path(), "batpak.toml", &text);
        let r = resolve(ServeFlags {
            config: Some(path),
            ..ServeFlags::default()
        })
        .unwrap();
        let o = &r.options;
        assert_eq!(o.data, dir.path().join("data"));
        assert_eq!(o.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(o.stream_listen, Some("127.0.0.1:9200".parse().unwrap()));
        assert_eq!(o.tokens, ["alpha", "beta"]);
        assert_eq!(o.routes.len(), 1);
        assert_eq!(o.trusted_keys, [public]);
        assert_eq!(o.signing_key.as_ref().map(|k| k.to_bytes()), Some([7; 32]));
        assert_eq!(r.log_format, LogFormat::Json);
        let s = &o.server;
        assert_eq!(
            s.connection_limit,
            ConnectionLimit::Concurrent(NonZeroUsize::new(8).unwrap())
        );
        assert_eq!(s.limits.max_line_bytes, 200_000);
        assert_eq!(s.limits.max_input_bytes, 1000);
        assert_eq!(s.limits.max_output_bytes, 90_000);
        assert_eq!(s.max_window.get(), 16);
        assert_eq!(s.timeouts.read, Duration::from_secs(2));
        assert_eq!(s.timeouts.idle, Duration::from_secs(60));
        assert_eq!(s.timeouts.write, Duration::from_millis(500));
        assert_eq!(s.stall_timeout, Duration::from_secs(3));
        assert!(s.tls.is_none());
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "batpak.toml",
            "data = \"d\"\nlisten = \"127.0.0.1:9100\"\ntokens = [\"file\"]\n[limits]\nmax_window = 4\n",
        );
        let r = resolve(ServeFlags {
            config: Some(path),
            listen: Some("127.0.0.1:9300".parse().unwrap()),
            token: vec!["flag".into()],
            ..ServeFlags::default()
        })
        .unwrap();
        assert_eq!(r.options.listen.port(), 9300);
        assert_eq!(r.options.tokens, ["flag"]);
        assert_eq!(r.options.server.max_window.get(), 4);
        assert_eq!(r.log_format, LogFormat::Text);
        assert!(r.options.signing_key.is_none());
    }

    #[test]
    fn defaults_without_a_file() {
        let r = resolve(ServeFlags::for_data("d")).unwrap();
        assert_eq!(r.options.listen, default_listen());
        assert_eq!(r.options.stream_listen, None);
        let d = ServerConfig::default();
        assert_eq!(r.options.server.limits, d.limits);
        assert_eq!(r.options.server.timeouts, d.timeouts);
        assert!(!r.options.server.dangerously_allow_unauthenticated_remote);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let missing = resolve(ServeFlags::default()).unwrap_err();
        assert!(missing.to_string().contains("--data"), "{missing}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let cases = [
            (
                "data = \"d\"\nlisten_addr = \"x\"\n",
                "listen_addr: unknown key",
            ),
            (
                "data = \"d\"\n[limits]\nmax_lines = 3\n",
                "limits.max_lines: unknown key",
            ),
            (
                "data = \"d\"\n[tls]\ncertificate = \"c\"\n",
                "tls.certificate: unknown key",
            ),
            (
                "data = \"d\"\n[timeouts]\nconnect = \"1s\"\n",
                "timeouts.connect: unknown key",
            ),
            (
                "data = \"d\"\n[limits]\nmax_line_bytes = \"big\"\n",
                "limits.max_line_bytes: expected a positive integer, found string \"big\"",
            ),
            (
                "data = \"d\"\n[limits]\nmax_line_bytes = 0\n",
                "limits.max_line_bytes: expected a positive integer, found integer 0",
            ),
            (
                "data = \"d\"\n[limits]\nmax_window = 5000000000\n",
                "limits.max_window: expected a positive integer up to 4294967295",
            ),
            (
                "data = \"d\"\n[timeouts]\nread = 30\n",
                "timeouts.read: expected a string",
            ),
            (
                "data = \"d\"\n[timeouts]\nidle = \"30\"\n",
                "timeouts.idle: expected a duration",
            ),
            ("data = 3\n", "data: expected a string, found integer 3"),
            (
                "data = \"d\"\nlisten = \"nowhere\"\n",
                "listen: expected an address",
            ),
            (
                "data = \"d\"\ntokens = \"one\"\n",
                "tokens: expected an array of strings",
            ),
            (
                "data = \"d\"\ntokens = [1]\n",
                "tokens: expected an array of strings",
            ),
            (
                "data = \"d\"\ntokens = [\"\"]\n",
                "tokens[0]: a token must not be empty",
            ),
            (
                "data = \"d\"\nlog_format = \"xml\"\n",
                "log_format: expected \"text\" or \"json\"",
            ),
            ("data = \"d\"\nlimits = 3\n", "limits: expected a table"),
            (
                "data = \"d\"\nsubscriptions = [\"a.v1=all\", \"b\"]\n",
                "subscriptions[1]: ",
            ),
            (
                "data = \"d\"\ntrusted_keys = [\"abcd\"]\n",
                "trusted_keys[0]: expected 64 hex digits",
            ),
            (
                "data = \"d\"\nsigning_key = \"nope.hex\"\n",
                "signing_key: reading ",
            ),
            (
                "data = \"d\"\n[tls]\ncert = \"c.pem\"\n",
                "tls.cert: needs tls.key too",
            ),
            (
                "data = \"d\"\n[tls]\nkey = \"k.pem\"\n",
                "tls.key: needs tls.cert too",
            ),
            (
                "data = \"d\"\n[tls]\nclient_ca = \"ca.pem\"\n",
                "tls.client_ca: needs tls.cert and tls.key",
            ),
            (
                "data = \"d\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
                "tls.cert: reading ",
            ),
            (
                "data = \"d\"\nlisten = \"0.0.0.0:7401\"\n",
                "listen: refusing to serve 0.0.0.0:7401",
            ),
            ("data = \"d\"\ndata = \"e\"\n", "TOML parse error"),
            ("data = \n", "TOML parse error"),
        ];
        for (text, expected) in cases {
            let message = problem(text);
            assert!(message.starts_with("config "), "{message}");
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn a_trusted_key_must_be_a_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.toml", "data = \"d\"\n");
        let mut bad = [0u8; 32];
        bad[0] = 2; // y = 2 is not on the curve.
        let found_bad = (0u8..=255).find_map(|b| {
            bad[31] = b;
            ed25519_dalek::VerifyingKey::from_bytes(&bad)
                .is_err()
                .then(|| hostbat::hex::encode(&bad))
        });
        let bad = found_bad.unwrap();
        let e = resolve(ServeFlags {
            config: Some(path),
            trusted_keys: vec![bad],
            ..ServeFlags::default()
        })
        .unwrap_err();
        assert!(
            e.to_string().starts_with("--trusted-key: ")
                && e.to_string().contains("not an ed25519 public key"),
            "{e}"
        );
    }

    #[test]
    fn flag_errors_name_the_flag() {
        let mut flags = ServeFlags::for_data("d");
        flags.tls_cert = Some("c.pem".into());
        let e = resolve(flags).unwrap_err();
        assert_eq!(e.to_string(), "--tls-cert: needs --tls-key too");
        let mut flags = ServeFlags::for_data("d");
        flags.listen = Some("0.0.0.0:0".parse().unwrap());
        assert!(resolve(flags.clone())
            .unwrap_err()
            .to_string()
            .starts_with("--listen: refusing"));
        flags.token = vec!["t".into()];
        let r = resolve(flags).unwrap();
        assert!(
            r.warnings.iter().any(|w| w.contains("cleartext")),
            "{:?}",
            r.warnings
        );
        let mut flags = ServeFlags::for_data("d");
        flags.token = vec!["x".repeat(2000)];
        assert!(resolve(flags)
            .unwrap_err()
            .to_string()
            .contains("at most 1024 bytes"));
    }

    #[test]
    fn a_narrow_line_is_a_warning() {
        let mut flags = ServeFlags::for_data("d");
        flags.max_line_bytes = NonZeroUsize::new(1000);
        let r = resolve(flags).unwrap();
        assert!(r.warnings.iter().any(|w| w.contains("max_line_bytes 1000")));
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let e = resolve(ServeFlags {
            config: Some("/nonexistent/batpak.toml".into()),
            ..ServeFlags::default()
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config /nonexistent/batpak.toml: cannot be read"),
            "{e}"
        );
        assert_eq!(e.exit_status(), crate::ExitStatus::BadInput);
    }

    #[cfg(unix)]
    #[test]
    fn a_signing_key_others_can_read_is_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let seed = write(dir.path(), "seed", &"01".repeat(32));
        std::fs::set_permissions(&seed, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut flags = ServeFlags::for_data("d");
        flags.signing_key = Some(seed.clone());
        let r = resolve(flags.clone()).unwrap();
        assert!(r.warnings.iter().any(|w| w.contains("chmod 600")));
        std::fs::set_permissions(&seed, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(resolve(flags.clone()).unwrap().warnings.is_empty());
        std::fs::write(&seed, "not hex").unwrap();
        let e = resolve(flags).unwrap_err();
        assert!(e.to_string().starts_with("--signing-key: "), "{e}");
        assert!(e.to_string().contains("64 hex digits"), "{e}");
    }
}
