//! Cancelling jobs: by handle ([`Client::cancel`]), by function and coalesce value
//! ([`Client::cancel_jobs`]), and a running job's own check ([`QueuedJob::is_cancelled`]).
//!
//! A cancel removes the job row, pending or running, fenced on the lease value it read, and
//! leaves a record: an `error` row with the message and an exit status
//! [`CANCELLED_EXIT_STATUS`] ([`Store::cancel_jobs`]). For Perl TheSchwartz clients a
//! cancelled job looks like a job that failed for good: the row is gone, `exit_status` is
//! 2 and the failure log holds the message. Removing a running job's row revokes its lease:
//! the worker's next outcome write or lease extension matches no row, and the record turns
//! that into [`Error::Cancelled`] instead of [`Error::LeaseLost`]. For a running job the
//! record is kept at least until the revoked lease would have ended.
//!
//! The `schwartz cancel` command runs the same code over its own databases through
//! [`CancelOptions::cancel_in`] and [`CancelOptions::cancel_function_in`].

use std::collections::HashSet;
use std::time::Duration;

use super::{ceil_secs, Client};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{Epoch, JobId};
use crate::job::check_name;
use crate::queued::QueuedJob;
use crate::store::{CoalesceFilter, JobChange, JobQuery, JobRow, Store, CANCELLED_EXIT_STATUS};

/// Jobs read and cancelled per round when cancelling by function.
const PAGE: usize = 500;

/// How a cancel is recorded: the message of the `error` row and how long the exit status
/// is kept. The default message is `"cancelled"`, kept seven days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOptions {
    message: String,
    keep_for: Duration,
}

impl Default for CancelOptions {
    fn default() -> Self {
        CancelOptions {
            message: String::from("cancelled"),
            keep_for: Duration::from_secs(7 * 86_400),
        }
    }
}

/// A job a cancel removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledJob {
    /// Its handle.
    pub handle: JobHandle,
    /// The row as it was before the cancel.
    pub row: JobRow,
    /// Whether a worker held its lease (the lease was revoked; the worker finds out at its
    /// next write, lease extension or [`QueuedJob::is_cancelled`]).
    pub was_running: bool,
}

impl CancelOptions {
    /// The defaults (message `"cancelled"`, kept seven days).
    pub fn new() -> Self {
        CancelOptions::default()
    }
    /// The message of the `error` row that records the cancel (truncated by the store to
    /// its column).
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    /// How long the exit status is kept (rounded up to whole seconds); a running job's is
    /// kept at least until its revoked lease would have ended.
    pub fn keep_for(mut self, keep_for: Duration) -> Self {
        self.keep_for = keep_for;
        self
    }
    /// The message.
    pub fn message_text(&self) -> &str {
        &self.message
    }
    /// How long the exit status is kept.
    pub fn kept_for(&self) -> Duration {
        self.keep_for
    }

    /// Cancels these jobs of one store at `now` (its clock): [`Store::cancel_jobs`] with
    /// these options. One result per id, in order.
    ///
    /// # Errors
    /// The store's error.
    pub fn cancel_in(
        &self,
        store: &dyn Store,
        jobids: &[JobId],
        now: Epoch,
    ) -> Result<Vec<JobChange>> {
        store.cancel_jobs(jobids, now, &self.message, ceil_secs(self.keep_for))
    }

    /// Cancels every job of `funcname` in one store at `now`, pending or running, only
    /// those whose coalesce value equals `coalesce` when given. Reads and cancels
    /// rounds of 500 jobs until a round finds nothing left to cancel. Returns `None` when
    /// the store has no such function, else the changes ([`JobChange::Changed`] per
    /// cancelled job, [`JobChange::Running`] for a job whose lease kept moving).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid function name or coalesce value; the store's
    /// error.
    pub fn cancel_function_in(
        &self,
        store: &dyn Store,
        funcname: &str,
        coalesce: Option<&str>,
        now: Epoch,
    ) -> Result<Option<Vec<JobChange>>> {
        check_name("funcname", funcname)?;
        let filter = coalesce.map(|c| CoalesceFilter::Equals(c.to_string()));
        crate::validate::coalesce_filter(filter.as_ref())?;
        let Some(f) = store
            .funcmap()?
            .into_iter()
            .find(|f| f.funcname == funcname)
        else {
            return Ok(None);
        };
        let query = JobQuery {
            funcids: vec![f.funcid],
            coalesce: filter,
            limit: PAGE,
            ..JobQuery::default()
        };
        let mut out: Vec<JobChange> = Vec::new();
        // Jobs refused (their lease kept moving): not asked for again.
        let mut refused: HashSet<JobId> = HashSet::new();
        loop {
            let ids: Vec<JobId> = store
                .select_jobs(&query)?
                .into_iter()
                .map(|r| r.jobid)
                .filter(|id| !refused.contains(id))
                .collect();
            if ids.is_empty() {
                return Ok(Some(out));
            }
            let changes = self.cancel_in(store, &ids, now)?;
            let progress = changes.iter().any(|c| matches!(c, JobChange::Changed(_)));
            for c in changes {
                match c {
                    JobChange::NotFound => {}
                    JobChange::Running(ref r) => {
                        refused.insert(r.jobid);
                        out.push(c);
                    }
                    JobChange::Changed(_) => out.push(c),
                }
            }
            if !progress {
                return Ok(Some(out));
            }
        }
    }
}

impl Client {
    /// Cancels the job behind `handle` with the default [`CancelOptions`]: a pending job is
    /// removed, a running one's lease is revoked (its worker gets [`Error::Cancelled`]);
    /// either way an `error` row and exit status [`CANCELLED_EXIT_STATUS`] record it.
    /// `Ok(None)` when no such job is pending (done, or cancelled already).
    ///
    /// # Errors
    /// As [`Client::cancel_with`].
    pub fn cancel(&self, handle: &JobHandle) -> Result<Option<CancelledJob>> {
        self.cancel_with(handle, &CancelOptions::default())
    }

    /// [`Client::cancel`] with these options.
    ///
    /// # Errors
    /// [`Error::UnknownStore`]; [`Error::Database`] when the job's lease kept moving
    /// (extended again and again during the cancel: try again); the store's error.
    pub fn cancel_with(
        &self,
        handle: &JobHandle,
        options: &CancelOptions,
    ) -> Result<Option<CancelledJob>> {
        let idx = self.ctx().index_for_handle(handle)?;
        let store = &self.entry(idx).store;
        let now = self.ctx().now_of(idx)?;
        let change = options
            .cancel_in(&**store, &[handle.jobid()], now)?
            .pop()
            .unwrap_or(JobChange::NotFound);
        match change {
            JobChange::Changed(row) => Ok(Some(cancelled(handle.clone(), row, now))),
            JobChange::NotFound => Ok(None),
            JobChange::Running(row) => Err(Error::Database {
                store: store.describe(),
                message: format!(
                    "job {}: its lease kept moving (now until {}) while it was being cancelled; not cancelled, try again",
                    row.jobid, row.grabbed_until
                ),
            }),
        }
    }

    /// Cancels every job of `funcname` in every live store, pending or running, only those
    /// whose coalesce value equals `coalesce` when given, with the default
    /// [`CancelOptions`]. Returns the jobs cancelled (a job whose lease kept moving during
    /// the cancel is logged and left).
    ///
    /// # Errors
    /// As [`Client::cancel_jobs_with`].
    pub fn cancel_jobs(&self, funcname: &str, coalesce: Option<&str>) -> Result<Vec<CancelledJob>> {
        self.cancel_jobs_with(funcname, coalesce, &CancelOptions::default())
    }

    /// [`Client::cancel_jobs`] with these options. A failing store is marked dead and
    /// skipped.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid function name or coalesce value;
    /// [`Error::NoStore`] when no store is live; the store's error when every store failed.
    pub fn cancel_jobs_with(
        &self,
        funcname: &str,
        coalesce: Option<&str>,
        options: &CancelOptions,
    ) -> Result<Vec<CancelledJob>> {
        check_name("funcname", funcname)?;
        let live = self.ctx().live_shuffled();
        if live.is_empty() {
            return Err(self.ctx().all_dead_error());
        }
        let (mut out, mut ok, mut last_err) = (Vec::new(), 0usize, None);
        for idx in live {
            let entry = self.entry(idx);
            let done = self.ctx().now_of(idx).and_then(|now| {
                let changes = options.cancel_function_in(&*entry.store, funcname, coalesce, now)?;
                Ok((now, changes.unwrap_or_default()))
            });
            match done {
                Ok((now, changes)) => {
                    ok += 1;
                    for c in changes {
                        match c {
                            JobChange::Changed(row) => out.push(cancelled(
                                JobHandle::new(entry.hash.clone(), row.jobid),
                                row,
                                now,
                            )),
                            JobChange::Running(row) => log::warn!(
                                "job {}-{}: its lease kept moving while it was being cancelled; not cancelled",
                                entry.hash,
                                row.jobid
                            ),
                            JobChange::NotFound => {}
                        }
                    }
                }
                Err(e) if e.marks_store_dead() => {
                    self.ctx().note_store_error(idx, &e);
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        match last_err {
            Some(e) if ok == 0 => Err(e),
            _ => Ok(out),
        }
    }
}

fn cancelled(handle: JobHandle, row: JobRow, now: Epoch) -> CancelledJob {
    let was_running = row.grabbed_until > now;
    CancelledJob {
        handle,
        row,
        was_running,
    }
}

impl QueuedJob {
    /// Whether the job was cancelled ([`Client::cancel`], `schwartz cancel`): a long job can
    /// call it now and then and stop early. Reads the job's exit status (one primary-key
    /// read) until it finds the cancellation record; after that, and after a write or
    /// lease extension returned [`Error::Cancelled`], it answers without a read.
    ///
    /// # Errors
    /// The store's error.
    pub fn is_cancelled(&self) -> Result<bool> {
        if self.state().cancelled {
            return Ok(true);
        }
        let record = self.store().exit_status(self.jobid())?;
        let row = &self.inner.row;
        let cancelled = record.is_some_and(|es| {
            es.status == CANCELLED_EXIT_STATUS && es.completion_time >= row.insert_time.unwrap_or(0)
        });
        if cancelled {
            self.state().cancelled = true;
        }
        Ok(cancelled)
    }

    /// After a fenced write matched no row: whether the cancellation record explains it
    /// (a store error reads as "not cancelled": the caller reports a lost lease).
    pub(crate) fn found_cancelled(&self) -> bool {
        self.is_cancelled().unwrap_or(false)
    }
}
