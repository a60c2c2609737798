//! Scheduling by the store's clock and changing jobs by handle: [`When`], the start of a
//! job inserted with [`Job::run_in`], [`Client::reschedule`], [`Client::retry_now`], and
//! the external outcomes [`Client::complete`] / [`Client::fail`] (what Garivini's
//! controller did for jobs it did not grab).
//!
//! Every change here is refused for a job a worker is running (its lease has not ended,
//! [`Error::JobRunning`]) and for a job that is not pending ([`Error::JobNotFound`]), and
//! is fenced on the lease value read: a worker that grabs the job at the same moment wins
//! and the change is refused, never both.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{ceil_secs, Client};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{datetime_to_epoch, epoch_to_datetime, Epoch};
use crate::job::Job;
use crate::outcome::WorkOutcome;
use crate::queued::QueuedJob;
use crate::store::{JobChange, Limits};
use crate::worker::{WorkError, Worker};

/// The `run_after` of [`When::Never`]: the largest value TheSchwartz's 32-bit time columns
/// hold (2038-01-19 03:14:07 UTC), as Garivini's `reschedule_job($job, 'never')` wrote.
pub const NEVER_EPOCH: Epoch = i32::MAX as Epoch;

/// How long an external outcome ([`Client::complete`], [`Client::fail`]) keeps the job's
/// exit status when this client has no worker registered for the job's function: 7 days.
pub const EXTERNAL_KEEP_EXIT_STATUS_FOR: Duration = Duration::from_secs(7 * 86_400);

/// When a rescheduled job becomes eligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// At this time.
    At(DateTime<Utc>),
    /// This long from now by the store's clock (rounded up to whole seconds).
    In(Duration),
    /// Parked: [`NEVER_EPOCH`], kept for inspection and never grabbed before 2038.
    Never,
}

impl When {
    /// The `run_after` this means when the store's clock says `now`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a time before 1970 or past what the store holds.
    pub(crate) fn resolve(&self, now: Epoch, limits: &Limits) -> Result<Epoch> {
        let t = match *self {
            When::At(t) => datetime_to_epoch(t),
            When::In(d) => now.saturating_add(ceil_secs(d)),
            When::Never => return Ok(NEVER_EPOCH.min(limits.max_epoch)),
        };
        check_time(self, t, limits)?;
        Ok(t)
    }
}

fn check_time(what: &dyn std::fmt::Debug, t: Epoch, limits: &Limits) -> Result<()> {
    if (0..=limits.max_epoch).contains(&t) {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "{what:?} gives the time {t} (epoch seconds), outside what the store holds \
         (0 to {} = {})",
        limits.max_epoch,
        epoch_to_datetime(limits.max_epoch)
    )))
}

/// The `run_after` of a new job when the store's clock says `now`: its
/// [`Job::run_after`], `now` plus its [`Job::run_in`], or `now`.
///
/// # Errors
/// [`Error::InvalidInput`] when `now + run_in` is past what the store holds.
pub(crate) fn start_of(job: &Job, now: Epoch, limits: &Limits) -> Result<Epoch> {
    let t = start_epoch(job, now);
    match job.run_in_value() {
        Some(d) if job.run_after_value().is_none() => {
            check_time(
                &format_args!("run_in({d:?}) of job {:?}", job.funcname()),
                t,
                limits,
            )?;
            Ok(t)
        }
        _ => Ok(t),
    }
}

/// The `run_after` of a new job at `now`, unchecked (saturating): what
/// [`NewJobRow::of`](crate::store::NewJobRow::of) writes.
pub(crate) fn start_epoch(job: &Job, now: Epoch) -> Epoch {
    match (job.run_after_value(), job.run_in_value()) {
        (Some(t), _) => datetime_to_epoch(t),
        (None, Some(d)) => now.saturating_add(ceil_secs(d)),
        (None, None) => now,
    }
}

/// What [`Client::reschedule`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rescheduled {
    /// The job.
    pub handle: JobHandle,
    /// Its function.
    pub funcname: String,
    /// Its `run_after` before the change.
    pub previous: DateTime<Utc>,
    /// Its new `run_after`.
    pub run_after: DateTime<Utc>,
}

/// The policy of an external outcome for a function this client has no worker for:
/// no retry, the exit status kept [`EXTERNAL_KEEP_EXIT_STATUS_FOR`].
struct ExternalDefaults;

impl Worker for ExternalDefaults {
    fn work(&self, job: &QueuedJob) -> std::result::Result<(), WorkError> {
        Err(format!("no worker for {:?} in this process", job.funcname()).into())
    }
    fn keep_exit_status_for(&self) -> Duration {
        EXTERNAL_KEEP_EXIT_STATUS_FOR
    }
}

impl Client {
    /// Moves a pending job that no worker is running: it becomes eligible at `when` (by
    /// the store's clock for [`When::In`]); a lease that has run out is cleared.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use std::time::Duration;
    /// use schwartz_core::{Client, Job, When};
    ///
    /// let client = Client::builder()
    ///     .store(Arc::new(schwartz_memory::MemoryStore::new()))
    ///     .build()?;
    /// let h = client.insert(Job::new("report"))?;
    /// let moved = client.reschedule(&h, When::In(Duration::from_secs(3600)))?;
    /// assert!(moved.run_after > moved.previous);
    /// client.reschedule(&h, When::Never)?; // parked until 2038
    /// client.retry_now(&h)?; // eligible again
    /// # Ok::<(), schwartz_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::JobRunning`] for a job a worker holds (also when a worker grabs it at the
    /// same moment); [`Error::JobNotFound`] for a job that is not pending;
    /// [`Error::InvalidInput`] for a time the store cannot hold; [`Error::UnknownStore`],
    /// or the store's error.
    pub fn reschedule(&self, handle: &JobHandle, when: When) -> Result<Rescheduled> {
        let idx = self.ctx().index_for_handle(handle)?;
        let store = &self.entry(idx).store;
        let now = self.ctx().now_of(idx)?;
        let run_after = when.resolve(now, &store.limits())?;
        let change = store
            .reschedule_jobs(&[handle.jobid()], run_after, now)?
            .pop();
        match change {
            Some(JobChange::Changed(row)) => Ok(Rescheduled {
                handle: handle.clone(),
                funcname: self.ctx().funcname_of(idx, row.funcid)?,
                previous: epoch_to_datetime(row.run_after),
                run_after: epoch_to_datetime(run_after),
            }),
            Some(JobChange::Running(row)) => {
                Err(self.running(idx, handle, row.funcid, row.grabbed_until))
            }
            Some(JobChange::NotFound) | None => Err(not_found(handle)),
        }
    }

    /// Makes a pending job that no worker is running eligible now (by the store's clock):
    /// an operator's "retry now" for a job waiting for its retry delay.
    ///
    /// # Errors
    /// As [`Client::reschedule`].
    pub fn retry_now(&self, handle: &JobHandle) -> Result<Rescheduled> {
        self.reschedule(handle, When::In(Duration::ZERO))
    }

    /// Completes a job this process did not grab (an external controller's completion, as
    /// Garivini's `complete_job`), through the same outcome code as a worker's
    /// [`QueuedJob::completed`]: the row is deleted and exit status 0 is kept as the
    /// registered worker's `keep_exit_status_for` says (without one,
    /// [`EXTERNAL_KEEP_EXIT_STATUS_FOR`]). The write is fenced on the lease value read.
    ///
    /// # Errors
    /// [`Error::JobRunning`] for a job a worker holds (also when a worker grabs it at the
    /// same moment); [`Error::JobNotFound`] for a job that is not pending;
    /// [`Error::UnknownStore`], or the store's error.
    pub fn complete(&self, handle: &JobHandle) -> Result<()> {
        let (idx, job) = self.external_job(handle)?;
        let r = job.completed();
        self.external_result(idx, handle, r)
    }

    /// Fails a job this process did not grab, with TheSchwartz's semantics of
    /// [`QueuedJob::failed`]: `message` is added to the job's failure log, then the job is
    /// retried (after the worker's `retry_delay`) while the worker's `max_retries` allows,
    /// else removed with exit status 1 (kept as the worker says). The worker is the one
    /// this client has registered for the job's function; without one, the job is not
    /// retried and its exit status is kept [`EXTERNAL_KEEP_EXIT_STATUS_FOR`]. Returns
    /// [`WorkOutcome::Failed`] telling whether it will be retried.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use schwartz_core::{Client, Job, WorkOutcome};
    ///
    /// let client = Client::builder()
    ///     .store(Arc::new(schwartz_memory::MemoryStore::new()))
    ///     .build()?;
    /// let h = client.insert(Job::new("resize"))?;
    /// // An external runner reports the failure; no worker here: no retry.
    /// let outcome = client.fail(&h, "image is corrupt")?;
    /// assert_eq!(outcome, WorkOutcome::Failed { will_retry: false });
    /// assert_eq!(client.failure_log(&h)?, vec!["image is corrupt".to_string()]);
    /// assert_eq!(client.exit_status(&h)?, Some(1));
    /// # Ok::<(), schwartz_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Client::complete`].
    pub fn fail(&self, handle: &JobHandle, message: &str) -> Result<WorkOutcome> {
        let (idx, job) = self.external_job(handle)?;
        let r = job.failed(message);
        self.external_result(idx, handle, r)?;
        Ok(job
            .last_outcome()
            .unwrap_or(WorkOutcome::Failed { will_retry: false }))
    }

    /// The pending job behind `handle` if no worker holds it, with the worker its outcome
    /// is decided by.
    fn external_job(&self, handle: &JobHandle) -> Result<(usize, QueuedJob)> {
        let idx = self.ctx().index_for_handle(handle)?;
        let job = self.lookup_job(handle)?.ok_or_else(|| not_found(handle))?;
        let now = self.ctx().now_of(idx)?;
        let token = job.row().grabbed_until;
        if token > now {
            return Err(self.running(idx, handle, job.funcid(), token));
        }
        if job.worker().is_none() {
            job.set_worker(Arc::new(ExternalDefaults));
        }
        Ok((idx, job))
    }

    /// A lost fence means a worker grabbed the job (or it finished) in between.
    fn external_result(&self, idx: usize, handle: &JobHandle, r: Result<()>) -> Result<()> {
        match r {
            Err(Error::LeaseLost { .. }) => match self.entry(idx).store.lookup(handle.jobid())? {
                Some(row) => Err(self.running(idx, handle, row.funcid, row.grabbed_until)),
                None => Err(not_found(handle)),
            },
            other => other,
        }
    }

    fn running(
        &self,
        idx: usize,
        handle: &JobHandle,
        funcid: crate::ids::FuncId,
        leased_until: Epoch,
    ) -> Error {
        let funcname = self
            .ctx()
            .funcname_of(idx, funcid)
            .unwrap_or_else(|_| format!("funcid {funcid}"));
        Error::JobRunning {
            handle: handle.to_string(),
            funcname,
            leased_until,
        }
    }
}

fn not_found(handle: &JobHandle) -> Error {
    Error::JobNotFound {
        handle: handle.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits::PORTABLE;

    #[test]
    fn when_resolves_against_the_store_clock_and_limits() {
        let at = epoch_to_datetime(5000);
        assert_eq!(When::At(at).resolve(100, &L).unwrap(), 5000);
        assert_eq!(
            When::In(Duration::from_secs(60)).resolve(100, &L).unwrap(),
            160
        );
        assert_eq!(
            When::In(Duration::from_millis(1)).resolve(100, &L).unwrap(),
            101
        );
        assert_eq!(When::In(Duration::ZERO).resolve(100, &L).unwrap(), 100);
        assert_eq!(When::Never.resolve(100, &L).unwrap(), NEVER_EPOCH);
        let small = Limits::new(1, 1000, 1);
        assert_eq!(When::Never.resolve(0, &small).unwrap(), 1000);
        for bad in [
            When::In(Duration::MAX),
            When::In(Duration::from_secs(u64::MAX)),
            When::At(epoch_to_datetime(-1)),
            When::At(epoch_to_datetime(NEVER_EPOCH + 1)),
        ] {
            let e = bad.resolve(i64::MAX - 5, &L).unwrap_err().to_string();
            assert!(e.contains("outside what the store holds"), "{e}");
        }
    }

    #[test]
    fn start_of_a_new_job() {
        assert_eq!(start_of(&Job::new("f"), 100, &L).unwrap(), 100);
        let j = Job::new("f").run_in(Duration::from_secs(30));
        assert_eq!(start_of(&j, 100, &L).unwrap(), 130);
        let j = Job::new("f").run_after(epoch_to_datetime(7));
        assert_eq!(start_of(&j, 100, &L).unwrap(), 7);
        let j = Job::new("f").run_in(Duration::MAX);
        let e = start_of(&j, 100, &L).unwrap_err().to_string();
        assert!(e.contains("run_in") && e.contains("\"f\""), "{e}");
    }
}
