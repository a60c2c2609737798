//! [`PoolSummary`]: what a pool did.

use std::fmt;
use std::time::Duration;

/// What a pool did, returned when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolSummary {
    /// Jobs completed (written).
    pub completed: u64,
    /// Jobs failed for good (no retry left, or a permanent failure).
    pub failed: u64,
    /// Jobs failed with a retry left (they run again).
    pub retried: u64,
    /// Jobs declined.
    pub declined: u64,
    /// Jobs replaced by other jobs.
    pub replaced: u64,
    /// Jobs whose lease was taken over by another worker before their outcome was
    /// written; nothing of theirs was written.
    pub lease_lost: u64,
    /// Jobs cancelled while they ran (their lease revoked); nothing of theirs was written.
    pub cancelled: u64,
    /// Outcomes that could not be written because of a store error (those jobs run again
    /// once their lease has expired).
    pub errors: u64,
    /// Grabbed jobs given back unstarted (at shutdown, or because they waited too long).
    pub released: u64,
    /// Worker threads still running a job when the grace period ended (left behind).
    pub abandoned_threads: u64,
    /// How long the pool ran.
    pub elapsed: Duration,
}

impl PoolSummary {
    /// Jobs worked: completed + failed + retried + declined + replaced + lease lost +
    /// cancelled.
    pub fn worked(&self) -> u64 {
        self.completed
            + self.failed
            + self.retried
            + self.declined
            + self.replaced
            + self.lease_lost
            + self.cancelled
    }

    /// Jobs worked per second over the pool's run time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.worked() as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for PoolSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} completed, {} failed, {} retried, {} declined, {} replaced, {} lease lost, {} cancelled, {} write errors, {} released in {:.2?} ({:.0} jobs/s)",
            self.completed,
            self.failed,
            self.retried,
            self.declined,
            self.replaced,
            self.lease_lost,
            self.cancelled,
            self.errors,
            self.released,
            self.elapsed,
            self.throughput()
        )
    }
}
