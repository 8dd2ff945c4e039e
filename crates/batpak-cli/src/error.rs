//! The command's error type and its exit codes.

use std::path::PathBuf;

use batpak::StoreError;

/// The process exit status of a `batpak` run.
///
/// | code | meaning |
/// |------|---------|
/// | 0 | success |
/// | 1 | verification found problems: hash mismatches or broken links, written events missing, committed history lost (the log is shorter than a recorded tree head); with `--against`, a log that does not extend the head (truncated, rewritten or forked), tree files that disagree with the frames, or a head whose signature does not verify under `--public-key` |
/// | 2 | usage or bad input: unknown option, directory missing, not a directory, unreadable, no segments; a `serve` option or `--config` key that is unknown or has a bad value, or a TLS or key file that cannot be loaded (nothing is bound); nothing to show (`head` before the first tree head, `head --public-key` of an unsigned head); `prove` of a malformed or unknown event id or a size the log cannot answer for; a `--against` head file that cannot be read or is not a checkpoint, a `--public-key` that is not an Ed25519 key in hex |
/// | 3 | I/O error or corruption that stopped the command |
/// | 4 | `call`/`subscribe`: the server could not be reached or the connection failed |
/// | 5 | `snapshot`/`fork`/`compact`: the data directory is locked by its writer (a running `batpak serve`, or another program with the store open) |
/// | 10 | `call`: `ERR unknown_operation` |
/// | 11 | `call`: `ERR missing_handler` |
/// | 12 | `call`: `ERR handler` (the operation failed: bad input, a store error) |
/// | 13 | `call`: `ERR receipt_sink` |
/// | 14 | `call`: `ERR runtime` |
/// | 15 | `call`: `ERR forbidden` |
/// | 16 | `call`: any other `ERR` code (auth, malformed, limits) |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitStatus {
    /// Everything worked (and `verify` found the chain intact).
    Success,
    /// `verify` found a problem: a mismatch, a dangling link, missing
    /// events or lost history, or a log that does not extend a kept head.
    ProblemsFound,
    /// The arguments or the directory named by them are not usable.
    BadInput,
    /// An I/O error or corruption stopped the command.
    Failure,
    /// The server could not be reached or the connection broke.
    Unreachable,
    /// `snapshot`, `fork` or `compact` found the store open for writing elsewhere.
    Locked,
    /// The server answered `ERR`; the code is from [`remote_exit_code`].
    Remote(u8),
}

/// The exit code of an `ERR <code>` answer (see [`ExitStatus`]).
pub fn remote_exit_code(code: &str) -> u8 {
    match code {
        "unknown_operation" => 10,
        "missing_handler" => 11,
        "handler" => 12,
        "receipt_sink" => 13,
        "runtime" => 14,
        "forbidden" => 15,
        _ => 16,
    }
}

impl ExitStatus {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::ProblemsFound => 1,
            Self::BadInput => 2,
            Self::Failure => 3,
            Self::Unreachable => 4,
            Self::Locked => 5,
            Self::Remote(code) => code,
        }
    }
}

/// What is wrong with a directory given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirProblem {
    /// Nothing exists at the path.
    Missing,
    /// The path exists but is not a directory.
    NotADirectory,
    /// The directory (or a file in it) cannot be read.
    Unreadable {
        /// The operating system's message.
        reason: String,
    },
    /// The directory holds no segment file.
    NoSegments,
}

impl std::fmt::Display for DirProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("no such directory"),
            Self::NotADirectory => f.write_str("not a directory"),
            Self::Unreadable { reason } => write!(f, "cannot be read: {reason}"),
            Self::NoSegments => f.write_str(
                "holds no segment files (NNNNNNNNNNNNNNNNNNNN.seg); is this a batpak data directory?",
            ),
        }
    }
}

/// What is wrong with a head file given to `verify --against`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadFileProblem {
    /// The file cannot be read.
    Unreadable {
        /// The operating system's message.
        reason: String,
    },
    /// Longer than the largest note (1 MiB).
    TooLarge,
    /// Not UTF-8 text.
    NotUtf8,
    /// Neither a checkpoint nor a signed note of one.
    NotACheckpoint {
        /// The parser's message.
        reason: String,
    },
}

impl std::fmt::Display for HeadFileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable { reason } => write!(f, "cannot be read: {reason}"),
            Self::TooLarge => f.write_str("is larger than a signed note can be (1 MiB)"),
            Self::NotUtf8 => f.write_str("is not UTF-8 text"),
            Self::NotACheckpoint { reason } => {
                write!(f, "is not a checkpoint or a signed note of one: {reason}")
            }
        }
    }
}

/// Everything that can stop a `batpak` subcommand.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A directory named on the command line is not usable.
    #[error("{}: {problem}", path.display())]
    Directory {
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        problem: DirProblem,
    },
    /// The store refused to open or failed while reading.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A file-system call of the command itself failed.
    #[error("I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the command's output failed.
    #[error("writing output failed: {0}")]
    Output(#[source] std::io::Error),
    /// A value given on the command line does not parse.
    #[error("{name}: {value:?} is not {expected}")]
    InvalidArgument {
        /// The argument (`EVENT_ID`, `--public-key`).
        name: &'static str,
        /// What was given.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// `snapshot` or `fork` needs to be the store's writer, and another
    /// process is.
    #[error("{}: the store is open for writing by another process (a running `batpak serve`?); snapshot, fork, compact and import (of its destination) must be its writer: stop that process and run the command again", dir.display())]
    Locked {
        /// The data directory.
        dir: PathBuf,
    },
    /// The data directory has no tree head yet.
    #[error("{}: no tree head recorded yet (a writer records one when a segment is sealed, at close, and on Store::signed_head)", dir.display())]
    NoHead {
        /// The data directory.
        dir: PathBuf,
    },
    /// The latest tree head carries no signature, so it has no public key.
    #[error("{}: the latest tree head is unsigned (the store has no signing key), so there is no public key to show", dir.display())]
    UnsignedHead {
        /// The data directory.
        dir: PathBuf,
    },
    /// `prove` named an event the log does not hold.
    #[error("no event with id {event_id} in the log")]
    UnknownEvent {
        /// The id given.
        event_id: batpak::EventId,
    },
    /// `prove` asked for a tree larger than the log.
    #[error("tree size {requested} is beyond the log, which holds {log_size} events")]
    SizeBeyondLog {
        /// The size given.
        requested: u64,
        /// Events in the log.
        log_size: u64,
    },
    /// `prove --size` names a tree that does not contain the event yet.
    #[error(
        "event {event_id} is leaf {leaf_index}, not in the tree of the first {tree_size} events"
    )]
    EventOutsideTree {
        /// The event.
        event_id: batpak::EventId,
        /// Its global sequence.
        leaf_index: u64,
        /// The tree size given.
        tree_size: u64,
    },
    /// `prove --consistency OLD NEW` with `OLD` larger than `NEW`.
    #[error(
        "--consistency {old_size} {new_size}: the old size must not be larger than the new one"
    )]
    ConsistencyOrder {
        /// `OLD`.
        old_size: u64,
        /// `NEW`.
        new_size: u64,
    },
    /// The head file given to `verify --against` cannot be used.
    #[error("head file {}: {problem}", path.display())]
    HeadFile {
        /// The file as given.
        path: PathBuf,
        /// What is wrong with it.
        problem: HeadFileProblem,
    },
    /// The head's signed note does not verify under the `--public-key` given.
    #[error("head file {}: the signature does not verify under the given public key: {source}", path.display())]
    HeadSignature {
        /// The file as given.
        path: PathBuf,
        /// Why the note was refused.
        #[source]
        source: batpak::proofbat::NoteError,
    },
    /// An event could not be read back while exporting it.
    #[error("event {event_id} could not be read: {source}")]
    UnreadableEvent {
        /// The event.
        event_id: batpak::EventId,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// SQLite failed during the benchmark.
    #[error("SQLite failed during {op}: {source}")]
    Sqlite {
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// A benchmark payload could not be encoded or decoded.
    #[error("benchmark payload codec failed: {reason}")]
    Codec {
        /// The codec's message.
        reason: String,
    },
    /// A benchmark sanity check failed (a count or setting was not what the run needs).
    #[error("benchmark check failed: {what}")]
    BenchCheck {
        /// What was found.
        what: String,
    },
    /// The host could not be built.
    #[error("host: {0}")]
    Host(#[from] hostbat::HostError),
    /// A listener could not be bound or served.
    #[error("serve: {0}")]
    Serve(String),
    /// An option (a flag, or a key of a `--config` file) is unknown, has a
    /// bad value, or names a file that cannot be used.
    #[error("{}", config_message(.file.as_deref(), .key.as_deref(), .problem))]
    Config {
        /// The config file, when the option came from one.
        file: Option<PathBuf>,
        /// The key (`limits.max_line_bytes`) or flag (`--max-line-bytes`);
        /// `None` for a problem of the whole file (unreadable, not TOML).
        key: Option<String>,
        /// What is wrong.
        problem: String,
    },
    /// A request given on the command line is not valid for the operation.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A call or subscription failed on the network.
    #[error("{message}")]
    Remote {
        /// The wire error code, when the server answered `ERR`.
        code: Option<String>,
        /// The message.
        message: String,
    },
    /// An operation runtime for the benchmark could not be built.
    #[error("operation runtime setup: {0}")]
    RuntimeBuild(#[source] Box<syncbat::BuildError>),
    /// A benchmark call through the operation runtime failed.
    #[error("operation runtime: {0}")]
    Runtime(#[source] Box<syncbat::RuntimeError>),
    /// A benchmark worker thread panicked.
    #[error("benchmark worker thread panicked during {workload}")]
    WorkerPanicked {
        /// The workload it was running.
        workload: &'static str,
    },
}

fn config_message(file: Option<&std::path::Path>, key: Option<&str>, problem: &str) -> String {
    match (file, key) {
        (Some(file), Some(key)) => format!("config {}: {key}: {problem}", file.display()),
        (Some(file), None) => format!("config {}: {problem}", file.display()),
        (None, Some(key)) => format!("{key}: {problem}"),
        (None, None) => problem.to_owned(),
    }
}

// Boxed: unboxed, they push `CliError` past clippy's `result_large_err`
// bound, and every function of the command returns it.
impl From<syncbat::BuildError> for CliError {
    fn from(e: syncbat::BuildError) -> Self {
        Self::RuntimeBuild(Box::new(e))
    }
}

impl From<syncbat::RuntimeError> for CliError {
    fn from(e: syncbat::RuntimeError) -> Self {
        Self::Runtime(Box::new(e))
    }
}

impl CliError {
    /// The exit status this error ends the process with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Directory { .. } => ExitStatus::BadInput,
            Self::Store(StoreError::Configuration { .. }) => ExitStatus::BadInput,
            Self::Store(
                StoreError::DestinationNotEmpty { .. }
                | StoreError::DestinationInsideSource { .. }
                | StoreError::DestinationIsSymlink { .. }
                | StoreError::InvalidGateRecord { .. }
                | StoreError::ImportFromItself { .. }
                | StoreError::ImportWithEncryption { .. },
            ) => ExitStatus::BadInput,
            Self::Locked { .. } => ExitStatus::Locked,
            Self::BadRequest(_) => ExitStatus::BadInput,
            Self::Config { .. } => ExitStatus::BadInput,
            Self::InvalidArgument { .. }
            | Self::NoHead { .. }
            | Self::UnsignedHead { .. }
            | Self::UnknownEvent { .. }
            | Self::SizeBeyondLog { .. }
            | Self::EventOutsideTree { .. }
            | Self::ConsistencyOrder { .. }
            | Self::HeadFile { .. } => ExitStatus::BadInput,
            // A head that does not verify is a finding about the evidence.
            Self::HeadSignature { .. } => ExitStatus::ProblemsFound,
            Self::Remote {
                code: Some(code), ..
            } => ExitStatus::Remote(remote_exit_code(code)),
            Self::Remote { code: None, .. } => ExitStatus::Unreachable,
            _ => ExitStatus::Failure,
        }
    }

    /// True when the reader of our output went away (`batpak export | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sqlite(op: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sqlite { op, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(ExitStatus::Success.code(), 0);
        assert_eq!(ExitStatus::ProblemsFound.code(), 1);
        assert_eq!(ExitStatus::BadInput.code(), 2);
        assert_eq!(ExitStatus::Failure.code(), 3);
        let missing = CliError::Directory {
            path: "x".into(),
            problem: DirProblem::Missing,
        };
        assert_eq!(missing.exit_status(), ExitStatus::BadInput);
        let io = CliError::io("read", "x", std::io::ErrorKind::Other.into());
        assert_eq!(io.exit_status(), ExitStatus::Failure);
        let none = CliError::NoHead { dir: "x".into() };
        assert_eq!(none.exit_status(), ExitStatus::BadInput);
        let beyond = CliError::SizeBeyondLog {
            requested: 9,
            log_size: 3,
        };
        assert_eq!(beyond.exit_status(), ExitStatus::BadInput);
        let locked = CliError::Locked { dir: "x".into() };
        assert_eq!(locked.exit_status().code(), 5);
        let taken = CliError::Store(StoreError::DestinationNotEmpty { path: "x".into() });
        assert_eq!(taken.exit_status(), ExitStatus::BadInput);
        let forged = CliError::HeadSignature {
            path: "x".into(),
            source: batpak::proofbat::NoteError::NotSignedByKey,
        };
        assert_eq!(forged.exit_status(), ExitStatus::ProblemsFound);
    }
}
