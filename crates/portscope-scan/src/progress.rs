//! How a scan reports how far it got. The engine calls a [`Progress`] from
//! its worker threads as attempts settle; what to do with that (a progress
//! bar, a log line, nothing) is the caller's business. The library never
//! prints.

use std::sync::atomic::{AtomicU64, Ordering};

/// Told how far a scan got. Called from any of the scan's threads, often
/// (once per settled port): keep [`advance`](Progress::advance) cheap, an
/// atomic add, and draw from another thread.
pub trait Progress: Sync {
    /// The sweep is about to settle `total` (address, port) pairs.
    fn start(&self, total: u64) {
        let _ = total;
    }
    /// `n` more pairs settled (open, closed or given up on).
    fn advance(&self, n: u64);
    /// The sweep is over; identification of `open` open ports follows
    /// (TCP with probing on), or nothing does.
    fn swept(&self, open: u64) {
        let _ = open;
    }
}

/// Reports to nobody.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _: u64) {}
}

/// Counts settled pairs, readable from another thread while the scan runs:
/// the simplest [`Progress`] to poll.
#[derive(Debug, Default)]
pub struct Counter {
    total: AtomicU64,
    done: AtomicU64,
}

impl Counter {
    /// Pairs settled so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
    /// Pairs the sweep will settle (0 before it starts).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

impl Progress for Counter {
    fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}
