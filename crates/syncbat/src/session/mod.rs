//! Subscription sessions.
