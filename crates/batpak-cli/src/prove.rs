//! `batpak prove`: an inclusion proof of one event, or a consistency proof
//! between two tree sizes, from a data directory opened read-only.
//!
//! Every size is checked here before the store is asked, so a request the
//! log cannot answer is a typed error of the caller's, never a store
//! failure. The proofs come from the store already checked against its tree
//! (`batpak::StoreReader::prove_inclusion`); their JSON is the store's own
//! `to_json()` form, documented in docs/FORMAT.md.

use batpak::{ConsistencyProof, EventId, InclusionProof, ReadOnlyStore};

use crate::datadir::DataDir;
use crate::error::CliError;
use crate::export::hex;

/// Parses an event id as `batpak export` prints it (a hyphenated UUID).
pub fn parse_event_id(text: &str) -> Result<EventId, CliError> {
    text.parse().map_err(|_| CliError::InvalidArgument {
        name: "EVENT_ID",
        value: text.to_owned(),
        expected: "an event id (a UUID such as 01900000-0000-7000-8000-000000000001)",
    })
}

/// The tree size `prove EVENT_ID` uses without `--size`: the latest
/// recorded head's, when that head covers the event (so the proof checks
/// against a head a client may already hold), else the whole log.
pub fn default_size(store: &ReadOnlyStore, leaf_index: u64) -> u64 {
    match store.latest_head() {
        Some(head) if head.size() > leaf_index => head.size(),
        _ => store.tree_size(),
    }
}

/// Proof that `event_id` is in the tree of `size` events (default:
/// [`default_size`]).
pub fn inclusion(
    dir: &DataDir,
    event_id: EventId,
    size: Option<u64>,
) -> Result<InclusionProof, CliError> {
    let store = dir.open_read_only()?;
    let entry = store
        .entry(event_id)
        .ok_or(CliError::UnknownEvent { event_id })?;
    let leaf_index = entry.global_sequence();
    let tree_size = size.unwrap_or_else(|| default_size(&store, leaf_index));
    check_size(&store, tree_size)?;
    if leaf_index >= tree_size {
        return Err(CliError::EventOutsideTree {
            event_id,
            leaf_index,
            tree_size,
        });
    }
    Ok(store.prove_inclusion(event_id, tree_size)?)
}

/// Proof that the tree of `old_size` events is a prefix of the tree of
/// `new_size` events.
pub fn consistency(
    dir: &DataDir,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, CliError> {
    if old_size > new_size {
        return Err(CliError::ConsistencyOrder { old_size, new_size });
    }
    let store = dir.open_read_only()?;
    check_size(&store, new_size)?;
    Ok(store.prove_consistency(old_size, new_size)?)
}

fn check_size(store: &ReadOnlyStore, requested: u64) -> Result<(), CliError> {
    let log_size = store.tree_size();
    if requested > log_size {
        return Err(CliError::SizeBeyondLog {
            requested,
            log_size,
        });
    }
    Ok(())
}

fn push_hashes(out: &mut String, hashes: &[[u8; 32]]) {
    for h in hashes {
        out.push_str("  ");
        out.push_str(&hex(h));
        out.push('\n');
    }
}

/// An inclusion proof as short text for a terminal.
pub fn render_inclusion(event_id: EventId, p: &InclusionProof) -> String {
    let mut out = format!(
        "event {event_id} is leaf {} of the tree of {} events\nroot       {}\nleaf hash  {}\naudit path ({} hashes, deepest first):\n",
        p.leaf_index,
        p.tree_size,
        hex(&p.root_hash),
        hex(&p.leaf_hash),
        p.audit_path.len()
    );
    push_hashes(&mut out, &p.audit_path);
    out
}

/// A consistency proof as short text for a terminal.
pub fn render_consistency(p: &ConsistencyProof) -> String {
    let mut out = format!(
        "the tree of {} events is a prefix of the tree of {} events\nold root  {}\nnew root  {}\nproof ({} hashes):\n",
        p.old_size,
        p.new_size,
        hex(&p.old_root),
        hex(&p.new_root),
        p.proof.len()
    );
    push_hashes(&mut out, &p.proof);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse_as_export_prints_them() {
        let id = EventId::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        assert!(matches!(parse_event_id(&id.to_string()), Ok(p) if p == id));
        for bad in ["", "42", "01900000-0000-7000-8000-00000000000g"] {
            assert!(matches!(
                parse_event_id(bad),
                Err(CliError::InvalidArgument {
                    name: "EVENT_ID",
                    ..
                })
            ));
        }
    }
}
