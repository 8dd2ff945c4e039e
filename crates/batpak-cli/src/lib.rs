//! The library behind the `batpak` command.
//!
//! Each subcommand's work lives in a module that returns data and never
//! prints: [`inspect`], [`verify`], [`export`], [`head`], [`prove`],
//! [`snapshot`] (also `fork`), [`compact`], [`import`] and [`bench`](mod@bench); [`serve`] runs
//! the server on options merged and checked by [`config`], and [`call`] is
//! the client of `call` and `subscribe`. The binary
//! (`src/main.rs`) parses arguments, draws progress bars, renders the data
//! as a table or JSON and maps errors to the exit codes in [`ExitStatus`].
//!
//! Subcommands that read a data directory open it with
//! [`batpak::Store::open_read_only`]: they take no lock, change no file and
//! work beside a live writer, seeing the prefix committed when they opened.
//! `snapshot`, `fork` and `compact` open it as its writer (the writer thread
//! cuts the copy; compaction switches segments under the writer), so they
//! refuse a directory another process writes to; `import` reads its source
//! read-only and opens its destination as the writer.

pub mod bench;
pub mod call;
pub mod compact;
pub mod config;
pub mod datadir;
mod error;
pub mod export;
pub mod head;
pub mod import;
pub mod inspect;
pub mod progress;
pub mod prove;
pub mod serve;
pub mod snapshot;
pub mod table;
pub mod verify;

pub use error::{remote_exit_code, CliError, DirProblem, ExitStatus, HeadFileProblem};
