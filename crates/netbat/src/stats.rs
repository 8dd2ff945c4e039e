//! Listener counters: live atomics, read as a [`TcpServeStats`] snapshot.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::session::Counters;

/// What a listener has done so far (both the call and the subscription
/// listener fill the fields that apply to them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpServeStats {
    /// Connections accepted.
    pub accepted_connections: u64,
    /// Connections whose worker has finished.
    pub closed_connections: u64,
    /// Requests answered `OK`.
    pub served_requests: u64,
    /// Requests answered `ERR`.
    pub failed_requests: u64,
    /// Failures from bad grammar or an unsupported version.
    pub malformed_requests: u64,
    /// Failures from a byte limit.
    pub limit_failures: u64,
    /// Failures reported by the dispatcher or the source.
    pub runtime_failures: u64,
    /// Connections ended by an I/O error (reset, broken pipe, write timeout).
    pub connection_io_failures: u64,
    /// Connections cut by the read or idle timeout.
    pub timeouts: u64,
    /// Panics caught in a handler, a source or a worker.
    pub worker_panics: u64,
    /// TLS handshakes that failed (cleartext peers included).
    pub tls_handshake_failures: u64,
    /// Unauthenticated or forbidden requests and subscriptions.
    pub auth_failures: u64,
    /// Failed `accept` calls (e.g. out of file descriptors); the listener goes on.
    pub accept_errors: u64,
    /// Workers that could not be started (the connection was dropped).
    pub spawn_failures: u64,
    /// Subscriptions opened.
    pub subscriptions_opened: u64,
    /// Subscriptions refused at open.
    pub subscriptions_refused: u64,
    /// Subscriptions cut with `slow_consumer`.
    pub slow_consumers: u64,
    /// Events and watermarks delivered.
    pub deliveries: u64,
    /// True once shutdown was requested.
    pub shutdown_requested: bool,
}

macro_rules! cells {
    ($($field:ident),* $(,)?) => {
        #[derive(Debug, Default)]
        pub(crate) struct StatsCell {
            $(pub(crate) $field: AtomicU64,)*
            pub(crate) shutdown_requested: AtomicBool,
        }

        impl StatsCell {
            pub(crate) fn snapshot(&self) -> TcpServeStats {
                TcpServeStats {
                    $($field: self.$field.load(Ordering::Relaxed),)*
                    shutdown_requested: self.shutdown_requested.load(Ordering::Relaxed),
                }
            }
        }
    };
}

cells!(
    accepted_connections,
    closed_connections,
    served_requests,
    failed_requests,
    malformed_requests,
    limit_failures,
    runtime_failures,
    connection_io_failures,
    timeouts,
    worker_panics,
    tls_handshake_failures,
    auth_failures,
    accept_errors,
    spawn_failures,
    subscriptions_opened,
    subscriptions_refused,
    slow_consumers,
    deliveries,
);

impl StatsCell {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds a session's counters.
    pub(crate) fn add(&self, counters: &Counters) {
        let pairs = [
            (&self.served_requests, counters.served),
            (&self.failed_requests, counters.failed),
            (&self.malformed_requests, counters.malformed),
            (&self.limit_failures, counters.limit_failures),
            (&self.runtime_failures, counters.runtime_failures),
            (&self.auth_failures, counters.auth_failures),
            (&self.subscriptions_opened, counters.subscriptions_opened),
            (&self.subscriptions_refused, counters.subscriptions_refused),
            (&self.slow_consumers, counters.slow_consumers),
            (&self.deliveries, counters.deliveries),
        ];
        for (cell, value) in pairs {
            if value != 0 {
                cell.fetch_add(value, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn session_counters_land_in_their_fields() {
        let cell = StatsCell::default();
        let counters = Counters {
            served: 1,
            failed: 2,
            malformed: 3,
            limit_failures: 4,
            runtime_failures: 5,
            auth_failures: 6,
            subscriptions_opened: 7,
            subscriptions_refused: 8,
            slow_consumers: 9,
            deliveries: 10,
        };
        cell.add(&counters);
        cell.add(&counters);
        StatsCell::bump(&cell.worker_panics);
        cell.shutdown_requested.store(true, Ordering::Relaxed);
        let stats = cell.snapshot();
        assert_eq!(
            [
                stats.served_requests,
                stats.failed_requests,
                stats.malformed_requests,
                stats.limit_failures,
                stats.runtime_failures,
                stats.auth_failures,
                stats.subscriptions_opened,
                stats.subscriptions_refused,
                stats.slow_consumers,
                stats.deliveries,
                stats.worker_panics,
            ],
            [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 1]
        );
        assert!(stats.shutdown_requested);
        assert_eq!(stats.accepted_connections, 0);
    }
}
