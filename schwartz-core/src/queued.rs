//! [`QueuedJob`]: a pending job read from a store, bound to its client.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::client::{Client, WorkOutcome};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{datetime_to_epoch, epoch_to_datetime, FuncId, JobId};
use crate::job::{decode_arg, Job};
use crate::queued_impl::exit_write;
use crate::store::{Finish, FinishAction, FinishStatus};

/// A pending job read from a store (grabbed, looked up or listed), bound to its client.
///
/// Outcome methods write to the job's store, fenced on the lease token the job was read
/// with ([`QueuedJob::grabbed_until`]): if another worker took the job over they return
/// [`Error::LeaseLost`](crate::Error::LeaseLost) and change nothing. Once an outcome was
/// written, further outcome calls return [`Error::AlreadyFinished`](crate::Error::AlreadyFinished).
/// Cheap to clone; clones share state.
#[derive(Clone)]
pub struct QueuedJob {
    pub(crate) inner: Arc<crate::queued_impl::QueuedInner>,
}

impl fmt::Debug for QueuedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("QueuedJob")
            .field("handle", &self.inner.handle.to_string())
            .field("funcname", &self.inner.funcname)
            .field("token", &st.token)
            .field("did_something", &st.did_something)
            .field("was_declined", &st.was_declined)
            .finish_non_exhaustive()
    }
}

impl QueuedJob {
    /// The job's handle.
    pub fn handle(&self) -> &JobHandle {
        &self.inner.handle
    }
    /// The job's id in its store.
    pub fn jobid(&self) -> JobId {
        self.inner.row.jobid
    }
    /// The job's function id in its store.
    pub fn funcid(&self) -> FuncId {
        self.inner.row.funcid
    }
    /// The job's function name.
    pub fn funcname(&self) -> &str {
        &self.inner.funcname
    }
    /// The client.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }
    /// The argument decoded as `T` (serde + bincode 2).
    ///
    /// # Errors
    /// [`Error::ArgDecode`](crate::Error::ArgDecode) naming the job and `T`, also when the job
    /// has no argument.
    pub fn arg<T: DeserializeOwned>(&self) -> Result<T> {
        match self.inner.row.arg.as_deref() {
            Some(bytes) => decode_arg(self.jobid(), bytes),
            None => Err(Error::ArgDecode {
                jobid: self.jobid(),
                expected: std::any::type_name::<T>(),
                message: String::from("the job has no argument"),
            }),
        }
    }
    /// The argument's raw bytes.
    pub fn raw_arg(&self) -> Option<&[u8]> {
        self.inner.row.arg.as_deref()
    }
    /// The unique key.
    pub fn uniqkey(&self) -> Option<&str> {
        self.inner.row.uniqkey.as_deref()
    }
    /// The coalesce value.
    pub fn coalesce(&self) -> Option<&str> {
        self.inner.row.coalesce.as_deref()
    }
    /// The priority.
    pub fn priority(&self) -> Option<i32> {
        self.inner.row.priority
    }
    /// When it was inserted.
    pub fn insert_time(&self) -> Option<DateTime<Utc>> {
        self.inner.row.insert_time.map(epoch_to_datetime)
    }
    /// When it becomes eligible.
    pub fn run_after(&self) -> DateTime<Utc> {
        epoch_to_datetime(self.inner.row.run_after)
    }
    /// The lease end (the lease token); the epoch when not grabbed.
    pub fn grabbed_until(&self) -> DateTime<Utc> {
        epoch_to_datetime(self.token())
    }
    /// The raw row as read (with the current lease token).
    pub fn row(&self) -> crate::store::JobRow {
        let mut row = self.inner.row.clone();
        row.grabbed_until = self.token();
        row
    }
    /// Whether an outcome was written by this process.
    pub fn did_something(&self) -> bool {
        self.state().did_something
    }
    /// Whether the job was declined by this process.
    pub fn was_declined(&self) -> bool {
        self.state().was_declined
    }
    /// The last outcome this process recorded for the job (`None` before any).
    pub fn last_outcome(&self) -> Option<WorkOutcome> {
        self.state().last_outcome
    }

    /// Completes the job (exit status 0 if kept; the row is deleted).
    ///
    /// # Errors
    /// `LeaseLost`, `AlreadyFinished`, or the store's error.
    pub fn completed(&self) -> Result<()> {
        self.do_completed()
    }
    /// Fails the job with a message; retried while `max_retries` allows.
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn failed(&self, message: &str) -> Result<()> {
        self.do_failed("failed", message, None, false)
    }
    /// As `failed`, with the exit status to keep if no retry is left (0 counts as 1).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn failed_with_status(&self, message: &str, exit_status: i32) -> Result<()> {
        self.do_failed("failed", message, Some(exit_status), false)
    }
    /// Fails the job for good (exit status 1 if kept).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn permanent_failure(&self, message: &str) -> Result<()> {
        self.do_failed("permanent_failure", message, None, true)
    }
    /// Fails the job for good with this exit status (0 counts as 1).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn permanent_failure_with_status(&self, message: &str, exit_status: i32) -> Result<()> {
        self.do_failed("permanent_failure", message, Some(exit_status), true)
    }
    /// Declines the job: no write; it stays leased until its lease runs out.
    ///
    /// # Errors
    /// `AlreadyFinished`.
    pub fn declined(&self) -> Result<()> {
        self.check_not_finished("declined")?;
        let mut st = self.state();
        log::debug!(
            "job declined.  retry will be considered after lease is up at {}",
            st.token
        );
        st.was_declined = true;
        st.last_outcome = Some(WorkOutcome::Declined);
        Ok(())
    }
    /// Declines the job until `run_after` (released at once, eligible then).
    ///
    /// The job is not marked finished: it may still be completed or failed by this process
    /// afterwards (its lease token becomes 0, which the released row then has).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn declined_until(&self, run_after: DateTime<Utc>) -> Result<()> {
        let _w = crate::client_impl::lock(&self.inner.write_lock);
        self.check_not_finished("declined")?;
        let t = datetime_to_epoch(run_after);
        log::debug!("job declined.  retry will be considered after lease is up at {t}");
        self.write_finish(Finish {
            jobid: self.jobid(),
            funcid: self.funcid(),
            token: self.token(),
            failure: None,
            action: FinishAction::Reschedule { run_after: Some(t) },
        })?;
        let mut st = self.state();
        st.was_declined = true;
        st.token = 0;
        st.last_outcome = Some(WorkOutcome::Declined);
        Ok(())
    }
    /// Replaces the job with these jobs in the same store, atomically: either all are
    /// inserted and this job is completed, or nothing changes and the error is returned.
    /// `replace_with(vec![])` is a completion.
    ///
    /// # Errors
    /// `DuplicateUniqkey` for a colliding replacement, `InvalidInput`, `LeaseLost`,
    /// `AlreadyFinished`, or the store's error.
    pub fn replace_with(&self, jobs: Vec<Job>) -> Result<Vec<JobHandle>> {
        let _w = crate::client_impl::lock(&self.inner.write_lock);
        self.check_not_finished("replace_with")?;
        for job in &jobs {
            job.validate()?;
        }
        let client = self.client();
        let idx = self.store_idx();
        let now = self.now()?;
        let rows = client.new_rows(idx, &jobs, now)?;
        let exit_status = exit_write(self.worker().as_deref(), now, 0);
        let status = self.write_finish(Finish {
            jobid: self.jobid(),
            funcid: self.funcid(),
            token: self.token(),
            failure: None,
            action: FinishAction::Replace {
                jobs: rows,
                exit_status,
            },
        })?;
        let ids = match status {
            FinishStatus::Replaced(ids) => ids,
            _ => Vec::new(),
        };
        if jobs.len() != ids.len() {
            log::warn!(
                "replace_with: the store reported {} ids for {} replacement jobs",
                ids.len(),
                jobs.len()
            );
        }
        self.mark_done(if jobs.is_empty() {
            WorkOutcome::Completed
        } else {
            WorkOutcome::Replaced
        });
        let hash = client.entry(idx).hash.clone();
        if !ids.is_empty() {
            client.notify_insert(&hash);
        }
        if exit_status.is_some() {
            client.after_exit_status_written(idx, now);
        }
        Ok(ids
            .into_iter()
            .map(|id| JobHandle::new(hash.clone(), id))
            .collect())
    }
    /// Extends the lease to now + `by`; the new lease end becomes the token.
    ///
    /// # Errors
    /// `LeaseLost`, or the store's error.
    pub fn extend_lease(&self, by: Duration) -> Result<()> {
        let _w = crate::client_impl::lock(&self.inner.write_lock);
        let now = self.now()?;
        let new_until = now.saturating_add(crate::client_impl::ceil_secs(by));
        let token = self.token();
        if self.store().extend_lease(self.jobid(), token, new_until)? {
            self.state().token = new_until;
            Ok(())
        } else {
            Err(self.lease_lost(token))
        }
    }
    /// Makes this job the current job of the calling thread: failures of the running
    /// `work` are charged to it.
    pub fn set_as_current(&self) {
        drop(self.client().swap_current(Some(self.clone())));
    }
    /// The job's exit status, if kept.
    ///
    /// # Errors
    /// The store's error.
    pub fn exit_status(&self) -> Result<Option<i32>> {
        Ok(self.store().exit_status(self.jobid())?.map(|e| e.status))
    }
    /// How many failures the job has on record.
    ///
    /// # Errors
    /// The store's error.
    pub fn failures(&self) -> Result<u64> {
        Ok(self.store().failures(self.jobid())?.len() as u64)
    }
    /// The job's failure messages.
    ///
    /// # Errors
    /// The store's error.
    pub fn failure_log(&self) -> Result<Vec<String>> {
        Ok(self
            .store()
            .failures(self.jobid())?
            .into_iter()
            .map(|f| f.message)
            .collect())
    }
}
