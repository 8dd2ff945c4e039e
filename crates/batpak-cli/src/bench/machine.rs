//! What the benchmark ran on, and how fast this disk makes a small write durable.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::CliError;
use crate::progress::Progress;

/// Bytes appended before each `fdatasync` in the probe.
const PROBE_BLOCK: usize = 4096;

/// The machine and disk the benchmark ran on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Machine {
    /// 4 KiB appends each followed by `fdatasync`, per second, in the benchmark's directory.
    pub fsync_per_sec: f64,
    /// 4 KiB overwrites of already written blocks each followed by `fdatasync`,
    /// per second: no file-size change to make durable, as when a log file is
    /// reused (SQLite's WAL after a checkpoint).
    pub fsync_overwrite_per_sec: f64,
    /// Logical cores available to this process.
    pub cores: usize,
    /// Operating system (and distribution, if known).
    pub os: String,
    /// Kernel release, if readable.
    pub kernel: Option<String>,
    /// CPU model name, if readable.
    pub cpu_model: Option<String>,
    /// Physical memory in bytes, if readable.
    pub memory_bytes: Option<u64>,
    /// The directory the benchmark's temporary data directories were created in.
    pub bench_dir: String,
    /// SQLite library version.
    pub sqlite_version: String,
    /// batpak version.
    pub batpak_version: String,
}

/// Blocks the overwrite probe cycles through (16 MiB written before it starts).
const OVERWRITE_BLOCKS: u64 = 4096;

/// How the fsync probe writes each block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProbeMode {
    /// Append: every `fdatasync` also has to make the new file size durable.
    Append,
    /// Overwrite blocks written (and synced) before the clock starts.
    Overwrite,
}

/// Writes 4 KiB blocks to a file in `dir`, each followed by `fdatasync`, for
/// about `duration`; returns blocks per second.
pub(crate) fn fsync_rate(
    dir: &Path,
    mode: ProbeMode,
    duration: Duration,
    progress: &dyn Progress,
) -> Result<f64, CliError> {
    let path = dir.join(match mode {
        ProbeMode::Append => "fsync-probe-append",
        ProbeMode::Overwrite => "fsync-probe-overwrite",
    });
    let io = |op: &'static str| {
        let path = path.clone();
        move |e| CliError::io(op, path, e)
    };
    let mut file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io("create fsync probe"))?;
    let block = [0x5Au8; PROBE_BLOCK];
    if mode == ProbeMode::Overwrite {
        for _ in 0..OVERWRITE_BLOCKS {
            file.write_all(&block).map_err(io("fill fsync probe"))?;
        }
        file.sync_all().map_err(io("fsync fsync probe"))?;
    }
    progress.begin(
        match mode {
            ProbeMode::Append => "fsync rate: 4 KiB append + fdatasync",
            ProbeMode::Overwrite => "fsync rate: 4 KiB overwrite + fdatasync",
        },
        None,
    );
    let started = Instant::now();
    let mut count = 0u64;
    loop {
        match mode {
            ProbeMode::Append => file.write_all(&block),
            ProbeMode::Overwrite => {
                let offset = (count % OVERWRITE_BLOCKS) * PROBE_BLOCK as u64;
                file.write_all_at(&block, offset)
            }
        }
        .map_err(io("write fsync probe"))?;
        file.sync_data().map_err(io("fdatasync fsync probe"))?;
        count += 1;
        progress.set(count);
        if started.elapsed() >= duration {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.end();
    drop(file);
    std::fs::remove_file(&path).map_err(io("remove fsync probe"))?;
    Ok(count as f64 / seconds)
}

/// Describes this machine; the two rates come from [`fsync_rate`].
pub(crate) fn describe(
    fsync_per_sec: f64,
    fsync_overwrite_per_sec: f64,
    bench_dir: &Path,
) -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let os_name = read("/etc/os-release").and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
    });
    let os = match os_name {
        Some(n) => format!("{} ({n})", std::env::consts::OS),
        None => std::env::consts::OS.to_owned(),
    };
    let cpu_model = read("/proc/cpuinfo").and_then(|s| {
        s.lines()
            .find(|l| {
                l.starts_with("model name") || l.starts_with("Model") || l.starts_with("cpu model")
            })
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    });
    let memory_bytes = read("/proc/meminfo").and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    Machine {
        fsync_per_sec,
        fsync_overwrite_per_sec,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        os,
        kernel: read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()),
        cpu_model,
        memory_bytes,
        bench_dir: bench_dir.display().to_string(),
        sqlite_version: rusqlite::version().to_owned(),
        batpak_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}
