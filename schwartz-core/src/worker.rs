//! The [`Worker`] trait: what one function name does.

use std::sync::Arc;
use std::time::Duration;

use crate::client::ceil_secs;
use crate::queued::QueuedJob;

/// The error a worker returns; its text becomes the job's failure message.
pub type WorkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What one function name does, with TheSchwartz's hooks and defaults.
///
/// `work` may call an outcome method on the job ([`QueuedJob::completed`],
/// [`QueuedJob::failed`], [`QueuedJob::declined`], [`QueuedJob::replace_with`], ...) or simply
/// return: `Ok(())` completes the job, `Err(e)` fails it with `e`'s text (retried by
/// [`Worker::max_retries`]; an argument that does not decode,
/// [`Error::ArgDecode`](crate::Error::ArgDecode), fails it for good), and a panic fails it
/// with the panic message. Failures are charged to the thread's current job (see
/// [`QueuedJob::set_as_current`]).
pub trait Worker: Send + Sync + 'static {
    /// Does the job.
    ///
    /// # Errors
    /// Any error: the job is failed with its text.
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError>;

    /// Retries allowed after failures (default 0: a failed job is not retried).
    fn max_retries(&self, job: &QueuedJob) -> u32 {
        let _ = job;
        0
    }

    /// Delay before the next attempt, given the number of failures so far including the
    /// current one (default 0: eligible at once). A [`Backoff`](crate::Backoff) computes
    /// exponential delays with a cap and jitter.
    fn retry_delay(&self, failures: u32) -> Duration {
        let _ = failures;
        Duration::ZERO
    }

    /// How long to keep an exit status row (default 0: none is written).
    fn keep_exit_status_for(&self) -> Duration {
        Duration::ZERO
    }

    /// How long a result recorded with [`QueuedJob::set_result`] is kept after the job
    /// completed (default one day); the pool's housekeeping prunes it afterwards.
    fn keep_result_for(&self) -> Duration {
        Duration::from_secs(86_400)
    }

    /// Lease length (default one hour; zero counts as one second).
    fn grab_for(&self) -> Duration {
        Duration::from_secs(3600)
    }
}

/// A closure is a worker with the default hooks.
impl<F> Worker for F
where
    F: Fn(&QueuedJob) -> Result<(), WorkError> + Send + Sync + 'static,
{
    fn work(&self, job: &QueuedJob) -> Result<(), WorkError> {
        self(job)
    }
}

/// Default lease length when no worker is registered for a function.
pub(crate) const DEFAULT_GRAB_FOR: i64 = 3600;

/// The worker of a function's jobs and its lease length in seconds (at least 1), looked
/// up once per function and grab: the `grab_for` hook runs under the panic guard.
#[derive(Clone)]
pub(crate) struct Policy {
    pub(crate) worker: Option<Arc<dyn Worker>>,
    pub(crate) grab_for: i64,
}

impl Policy {
    pub(crate) fn of(worker: Option<Arc<dyn Worker>>) -> Policy {
        let grab_for = grab_for_secs(worker.as_deref());
        Policy { worker, grab_for }
    }
}

/// The lease length of a worker, in seconds (at least 1).
pub(crate) fn grab_for_secs(worker: Option<&dyn Worker>) -> i64 {
    match worker {
        Some(w) => ceil_secs(crate::panic::guarded(
            "grab_for",
            Duration::from_secs(3600),
            || w.grab_for(),
        ))
        .max(1),
        None => DEFAULT_GRAB_FOR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Zero;
    impl Worker for Zero {
        fn work(&self, _: &QueuedJob) -> Result<(), WorkError> {
            Ok(())
        }
        fn grab_for(&self) -> Duration {
            Duration::ZERO
        }
    }
    struct Panics;
    impl Worker for Panics {
        fn work(&self, _: &QueuedJob) -> Result<(), WorkError> {
            Ok(())
        }
        fn grab_for(&self) -> Duration {
            panic!("no lease for you")
        }
    }

    #[test]
    fn lease_lengths() {
        assert_eq!(grab_for_secs(None), 3600);
        assert_eq!(grab_for_secs(Some(&Zero)), 1);
        assert_eq!(grab_for_secs(Some(&Panics)), 3600);
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(5)), 5);
        assert_eq!(ceil_secs(Duration::MAX), i64::MAX);
    }
}
