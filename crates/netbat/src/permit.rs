//! Connection admission: a permit pool over `flume::bounded(n)`, a lifetime
//! budget, or no gate.
//!
//! A permit is taken before a connection is accepted, so an exhausted pool
//! leaves new connections in the kernel's backlog (back-pressure) while the
//! accept loop keeps checking for shutdown. The [`Permit`] guard returns its
//! slot when dropped, which happens on every exit path of a worker: normal
//! return, error, timeout, and unwinding from a panic.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::tcp::ShutdownHandle;

/// Default cap on concurrently served connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How a listener caps the connections it serves.
///
/// ```
/// use netbat::ConnectionLimit;
/// assert_eq!(
///     ConnectionLimit::default(),
///     ConnectionLimit::Concurrent(std::num::NonZeroUsize::new(1024).unwrap())
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionLimit {
    /// At most `n` connections served at once; a closed one frees its slot.
    Concurrent(NonZeroUsize),
    /// At most `n` connections over the listener's life; then it stops.
    Lifetime(NonZeroUsize),
    /// No gate.
    Unlimited,
}

impl Default for ConnectionLimit {
    fn default() -> Self {
        Self::Concurrent(NonZeroUsize::new(DEFAULT_MAX_CONNECTIONS).unwrap_or(NonZeroUsize::MIN))
    }
}

/// A connection's admission; returns its slot to the pool when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    release: Option<flume::Sender<()>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            // The pool has room for every permit in circulation, so this never
            // blocks; a disconnected pool (listener gone) needs nothing back.
            let _ = release.try_send(());
        }
    }
}

/// `n` unit permits in a bounded channel.
#[derive(Clone, Debug)]
pub(crate) struct PermitPool {
    tx: flume::Sender<()>,
    rx: flume::Receiver<()>,
    capacity: usize,
}

impl PermitPool {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        let capacity = capacity.get();
        let (tx, rx) = flume::bounded(capacity);
        for _ in 0..capacity {
            // Exactly `capacity` sends into a channel of that capacity.
            let _ = tx.try_send(());
        }
        Self { tx, rx, capacity }
    }

    /// Waits for a permit, re-checking `shutdown` every `poll`.
    pub(crate) fn acquire(&self, shutdown: &ShutdownHandle, poll: Duration) -> Option<Permit> {
        loop {
            if shutdown.is_shutdown() {
                return None;
            }
            match self.rx.recv_timeout(poll) {
                Ok(()) => {
                    return Some(Permit {
                        release: Some(self.tx.clone()),
                    })
                }
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    pub(crate) fn available(&self) -> usize {
        self.rx.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The admission policy of one listener.
#[derive(Debug)]
pub(crate) enum Gate {
    Pool(PermitPool),
    Lifetime { remaining: usize },
    Unlimited,
}

impl Gate {
    pub(crate) fn new(limit: ConnectionLimit) -> Self {
        match limit {
            ConnectionLimit::Concurrent(n) => Self::Pool(PermitPool::new(n)),
            ConnectionLimit::Lifetime(n) => Self::Lifetime { remaining: n.get() },
            ConnectionLimit::Unlimited => Self::Unlimited,
        }
    }

    /// A permit for the next connection, or `None` when the listener must
    /// stop (shutdown, or the lifetime budget is spent).
    pub(crate) fn admit(&mut self, shutdown: &ShutdownHandle, poll: Duration) -> Option<Permit> {
        match self {
            Self::Pool(pool) => pool.acquire(shutdown, poll),
            Self::Lifetime { remaining } => {
                if *remaining == 0 || shutdown.is_shutdown() {
                    return None;
                }
                *remaining -= 1;
                Some(Permit { release: None })
            }
            Self::Unlimited => (!shutdown.is_shutdown()).then_some(Permit { release: None }),
        }
    }

    /// True when a lifetime budget is used up.
    pub(crate) fn is_spent(&self) -> bool {
        matches!(self, Self::Lifetime { remaining: 0 })
    }

    pub(crate) fn pool(&self) -> Option<&PermitPool> {
        match self {
            Self::Pool(pool) => Some(pool),
            Self::Lifetime { .. } | Self::Unlimited => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn nz(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    const POLL: Duration = Duration::from_millis(1);

    #[test]
    fn the_pool_hands_out_n_permits_and_takes_them_back() {
        let pool = PermitPool::new(nz(3));
        let shutdown = ShutdownHandle::new();
        assert_eq!((pool.available(), pool.capacity()), (3, 3));
        let a = pool.acquire(&shutdown, POLL).unwrap();
        let b = pool.acquire(&shutdown, POLL).unwrap();
        let c = pool.acquire(&shutdown, POLL).unwrap();
        assert_eq!(pool.available(), 0);
        drop(b);
        assert_eq!(pool.available(), 1);
        drop((a, c));
        assert_eq!(pool.available(), 3);
    }

    #[test]
    fn an_empty_pool_stays_responsive_to_shutdown() {
        let pool = PermitPool::new(nz(1));
        let shutdown = ShutdownHandle::new();
        let _held = pool.acquire(&shutdown, POLL).unwrap();
        let waiter = {
            let pool = pool.clone();
            let shutdown = shutdown.clone();
            std::thread::spawn(move || pool.acquire(&shutdown, POLL).is_none())
        };
        std::thread::sleep(Duration::from_millis(20));
        shutdown.shutdown();
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_permit_returns_when_its_holder_panics() {
        let pool = PermitPool::new(nz(1));
        let shutdown = ShutdownHandle::new();
        let permit = pool.acquire(&shutdown, POLL).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _permit = permit;
            panic!("worker failed");
        }));
        assert!(result.is_err());
        assert_eq!(pool.available(), 1);
    }

    #[test]
    fn lifetime_and_unlimited_gates() {
        let shutdown = ShutdownHandle::new();
        let mut lifetime = Gate::new(ConnectionLimit::Lifetime(nz(2)));
        assert!(lifetime.pool().is_none());
        assert!(lifetime.admit(&shutdown, POLL).is_some());
        assert!(!lifetime.is_spent());
        assert!(lifetime.admit(&shutdown, POLL).is_some());
        assert!(lifetime.is_spent());
        assert!(lifetime.admit(&shutdown, POLL).is_none());
        assert!(!Gate::new(ConnectionLimit::Unlimited).is_spent());
        let mut unlimited = Gate::new(ConnectionLimit::Unlimited);
        for _ in 0..100 {
            assert!(unlimited.admit(&shutdown, POLL).is_some());
        }
        let mut pool = Gate::new(ConnectionLimit::Concurrent(nz(1)));
        assert_eq!(pool.pool().unwrap().capacity(), 1);
        let permit = pool.admit(&shutdown, POLL);
        assert!(permit.is_some());
        shutdown.shutdown();
        assert!(unlimited.admit(&shutdown, POLL).is_none());
        assert!(Gate::new(ConnectionLimit::Lifetime(nz(5)))
            .admit(&shutdown, POLL)
            .is_none());
        drop(permit);
        assert!(pool.admit(&shutdown, POLL).is_none());
    }
}
