//! The [`Worker`] trait: what one function name does.

use std::time::Duration;

use crate::queued::QueuedJob;

/// The error a worker returns; its text becomes the job's failure message.
pub type WorkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What one function name does, with TheSchwartz's hooks and defaults.
///
/// `work` may call an outcome method on the job ([`QueuedJob::completed`],
/// [`QueuedJob::failed`], [`QueuedJob::declined`], [`QueuedJob::replace_with`], ...) or simply
/// return: `Ok(())` completes the job, `Err(e)` fails it with `e`'s text (retried by
/// [`Worker::max_retries`]), and a panic fails it with the panic message. Failures are charged
/// to the client's current job (see [`QueuedJob::set_as_current`]).
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
    /// current one (default 0: eligible at once).
    fn retry_delay(&self, failures: u32) -> Duration {
        let _ = failures;
        Duration::ZERO
    }

    /// How long to keep an exit status row (default 0: none is written).
    fn keep_exit_status_for(&self) -> Duration {
        Duration::ZERO
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
