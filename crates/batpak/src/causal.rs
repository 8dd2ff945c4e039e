//! The causal graph: walking causation links upward.
//!
//! Every event may name the event that caused it (its `causation_id`, which
//! must be committed when the event is appended) and a correlation id shared
//! by one thread of work. Downward and sideways queries come from the index
//! ([`Store::caused_by`](crate::Store::caused_by), [`Store::correlated`](crate::Store::correlated)); the upward walk
//! reads each event's header from its frame, like
//! [`Store::walk_ancestors_outcome`](crate::Store::walk_ancestors_outcome) does for the entity chain.

use std::collections::HashSet;

use crate::error::StoreError;
use crate::event::StoredEvent;
use crate::id::EventId;
use std::sync::Arc;

use crate::engine::Shared;

/// Why a causal walk stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CausalBoundary {
    /// The last event collected has no causation: it is a root cause.
    ReachedRoot,
    /// The walk collected `limit` events and the last one still has a cause.
    LimitReached,
    /// The cause of `child` is not in the store.
    MissingParent {
        /// The last event collected.
        child: EventId,
    },
    /// Reading `event_id` (or decoding its payload) failed.
    ReadFailure {
        /// The event that could not be read.
        event_id: EventId,
    },
    /// The walk came back to `event_id` (impossible in an intact store, where a
    /// cause is always committed before its effects).
    Cycle {
        /// The event seen twice.
        event_id: EventId,
    },
}

/// A causal walk: the starting event and its causes, newest first, and why it stopped.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CausalWalk {
    /// The starting event, its cause, that event's cause, and so on.
    pub events: Vec<StoredEvent<serde_json::Value>>,
    /// Why the walk stopped.
    pub boundary: CausalBoundary,
    /// Events of the walk whose payload was shredded (payload encryption),
    /// newest first: each is in `events` with a `null` payload, and the
    /// walk went on through it (causation is in the header).
    pub shredded: Vec<EventId>,
}

impl CausalWalk {
    /// True if the walk reached an event without a cause.
    pub fn reached_root(&self) -> bool {
        self.boundary == CausalBoundary::ReachedRoot
    }

    /// Ids of the events collected, newest first.
    pub fn ids(&self) -> Vec<EventId> {
        self.events.iter().map(StoredEvent::event_id).collect()
    }

    /// The root cause, when the walk reached it.
    pub fn root(&self) -> Option<&StoredEvent<serde_json::Value>> {
        if self.reached_root() {
            self.events.last()
        } else {
            None
        }
    }
}

/// Follows causation links up from `id`: the event, its cause, that
pub(crate) fn causal_ancestors(
    shared: &Arc<Shared>,
    id: EventId,
    limit: usize,
) -> Result<CausalWalk, StoreError> {
    let mut events = Vec::new();
    let mut shredded = Vec::new();
    let mut seen = HashSet::new();
    let (mut current, mut is_shredded) = shared.get_marked(id)?;
    loop {
        let this = current.event_id();
        let cause = current.event.header.causation_id;
        seen.insert(this);
        if is_shredded {
            shredded.push(this);
        }
        events.push(current);
        let done = |events, boundary| CausalWalk {
            events,
            boundary,
            shredded: shredded.clone(),
        };
        let Some(cause) = cause else {
            return Ok(done(events, CausalBoundary::ReachedRoot));
        };
        if events.len() >= limit {
            return Ok(done(events, CausalBoundary::LimitReached));
        }
        if seen.contains(&cause) {
            return Ok(done(events, CausalBoundary::Cycle { event_id: cause }));
        }
        if shared.entry(cause).is_none() {
            return Ok(done(events, CausalBoundary::MissingParent { child: this }));
        }
        (current, is_shredded) = match shared.get_marked(cause) {
            Ok(found) => found,
            Err(_) => {
                return Ok(done(
                    events,
                    CausalBoundary::ReadFailure { event_id: cause },
                ))
            }
        };
    }
}
