//! A job's failure log and exit status written by hand, without finishing the job:
//! TheSchwartz's `TheSchwartz::Job::add_failure` and `set_exit_status`.

use std::time::Duration;

use crate::client::{ceil_secs, lock};
use crate::error::Result;
use crate::ids::Epoch;
use crate::panic::guarded;
use crate::queued::QueuedJob;
use crate::store::{ExitStatusWrite, FailureRecord, JobRecords};

impl QueuedJob {
    /// Adds `message` to the job's failure log (an `error` row at the store's time) without
    /// finishing the job, as TheSchwartz's `add_failure`. Failures are counted from these
    /// rows, so each one counts towards [`Worker::max_retries`](crate::Worker::max_retries)
    /// when the job later fails. The write is fenced on the job's lease.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use schwartz_core::{Client, Job};
    ///
    /// let client = Client::builder()
    ///     .store(Arc::new(schwartz_memory::MemoryStore::new()))
    ///     .build()?;
    /// let h = client.insert(Job::new("sync"))?;
    /// let job = client.grab_job("sync")?.expect("a job");
    /// job.add_failure("mirror 2 timed out; used mirror 3")?;
    /// job.completed()?;
    /// assert_eq!(client.failure_log(&h)?, vec!["mirror 2 timed out; used mirror 3".to_string()]);
    /// # Ok::<(), schwartz_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// `LeaseLost` when the job was taken over or is gone, `AlreadyFinished` after an
    /// outcome, or the store's error.
    pub fn add_failure(&self, message: &str) -> Result<()> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished("add_failure")?;
        let now = self.now()?;
        let failure = FailureRecord {
            error_time: now,
            jobid: self.jobid(),
            message: message.to_string(),
            funcid: self.funcid(),
        };
        self.record(Some(failure), None)?;
        self.ctx().after_failure_written(self.store_idx(), now);
        Ok(())
    }

    /// Records the job's exit status without finishing it, as TheSchwartz's
    /// `set_exit_status`: only when the worker keeps exit statuses
    /// ([`Worker::keep_exit_status_for`](crate::Worker::keep_exit_status_for) above 0),
    /// kept that long from now (the store's clock). A later outcome's own status replaces
    /// it (exit statuses are upserts). Returns whether a row was written. The write is
    /// fenced on the job's lease.
    ///
    /// # Errors
    /// `LeaseLost` when the job was taken over or is gone, `AlreadyFinished` after an
    /// outcome, or the store's error.
    pub fn set_exit_status(&self, status: i32) -> Result<bool> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished("set_exit_status")?;
        let keep = self.worker().map_or(0, |w| {
            ceil_secs(guarded("keep_exit_status_for", Duration::ZERO, || {
                w.keep_exit_status_for()
            }))
        });
        if keep <= 0 {
            return Ok(false);
        }
        let now = self.now()?;
        let exit = ExitStatusWrite {
            status,
            completion_time: now,
            delete_after: now.saturating_add(keep),
        };
        self.record(None, Some(exit))?;
        self.ctx().after_exit_status_written(self.store_idx(), now);
        Ok(true)
    }

    /// Writes side rows fenced on the current token.
    fn record(
        &self,
        failure: Option<FailureRecord>,
        exit_status: Option<ExitStatusWrite>,
    ) -> Result<()> {
        let token: Epoch = self.token();
        let records = JobRecords {
            jobid: self.jobid(),
            funcid: self.funcid(),
            token,
            failure,
            exit_status,
        };
        if self.store().record(&records)? {
            Ok(())
        } else {
            Err(self.lease_lost(token))
        }
    }
}
