//! Progress reporting without printing: the binary supplies a sink that draws
//! a bar; the library only says what it is doing and how far it got.

/// Receives progress of long work. Calls are cheap and may be frequent.
pub trait Progress: Sync {
    /// A new stage starts; `total` units if known.
    fn begin(&self, label: &str, total: Option<u64>);
    /// `done` units of the current stage are finished.
    fn set(&self, done: u64);
    /// The current stage is over.
    fn end(&self);
}

/// A sink that ignores everything (tests, `--quiet`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _label: &str, _total: Option<u64>) {}
    fn set(&self, _done: u64) {}
    fn end(&self) {}
}
