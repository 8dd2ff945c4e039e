//! What an appender expects of an entity's history (optimistic concurrency).

/// What the appender expects the entity's history to look like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExpectedSequence {
    /// No check.
    #[default]
    Any,
    /// The entity has no events yet.
    NoStream,
    /// The entity's last event has exactly this `entity_sequence`.
    Exact(u64),
}
