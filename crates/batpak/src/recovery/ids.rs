//! The id table of footer-loaded segments, filled on a helper thread.

use std::sync::mpsc;
use std::thread;

use crate::id::EventId;
use crate::id_table::IdTable;

/// Fills an id table with the ids of footer-loaded segments on a helper
/// thread, so hashing them overlaps with decoding the next footer. Without a
/// helper (none could be started, or it hung up) the ids go in inline.
pub(super) struct IdSink<'scope> {
    tx: Option<mpsc::Sender<(usize, Vec<EventId>)>>,
    helper: Option<thread::ScopedJoinHandle<'scope, IdTable>>,
    inline: IdTable,
}

impl<'scope> IdSink<'scope> {
    pub(super) fn start<'env>(scope: &'scope thread::Scope<'scope, 'env>, inline: IdTable) -> Self {
        let (tx, rx) = mpsc::channel::<(usize, Vec<EventId>)>();
        let mut table = inline.empty_like();
        let spawned = thread::Builder::new()
            .name("batpak-open-ids".into())
            .spawn_scoped(scope, move || {
                for (first, ids) in rx {
                    table.insert_run(first, &ids);
                }
                table
            });
        match spawned {
            Ok(helper) => Self {
                tx: Some(tx),
                helper: Some(helper),
                inline,
            },
            Err(_) => Self {
                tx: None,
                helper: None,
                inline,
            },
        }
    }

    /// Adds `ids[i]` at position `first + i`.
    pub(super) fn send(&mut self, first: usize, ids: Vec<EventId>) {
        let unsent = match &self.tx {
            Some(tx) => tx.send((first, ids)).err().map(|mpsc::SendError(v)| v),
            None => Some((first, ids)),
        };
        if let Some((first, ids)) = unsent {
            self.tx = None;
            self.inline.insert_run(first, &ids);
        }
    }

    /// Waits for the helper and returns every id sent.
    pub(super) fn finish(mut self) -> IdTable {
        self.tx = None;
        let Some(helper) = self.helper else {
            return self.inline;
        };
        match helper.join() {
            Ok(mut table) => {
                table.absorb(self.inline);
                table
            }
            // The helper only inserts into a table; a panic there is a bug
            // that must surface, as it would on this thread.
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }
}
