//! [`QueuedJob`]: a pending job read from a store, with the small context its outcome
//! writes need (its store, the worker's policy, the store's clock), never the client.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::client::{ceil_secs, lock, Context};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{datetime_to_epoch, epoch_to_datetime, Epoch, FuncId, JobId};
use crate::job::Job;
use crate::outcome::{
    decide, write_one, write_one_with, FinishWith, Outcome, Rules, Target, Verdict, WorkOutcome,
};
use crate::panic::guarded;
use crate::store::{JobRow, Store};
use crate::worker::{Policy, Worker};

thread_local! {
    /// The job failures of the running `work` are charged to, per thread.
    static CURRENT: RefCell<Option<QueuedJob>> = const { RefCell::new(None) };
}

/// Replaces the calling thread's current job; returns the previous one.
pub(crate) fn swap_current(job: Option<QueuedJob>) -> Option<QueuedJob> {
    CURRENT.with(|c| c.replace(job))
}

/// The calling thread's current job.
pub(crate) fn current_job() -> Option<QueuedJob> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Mutable per-job state shared by clones.
#[derive(Debug, Default)]
pub(crate) struct JobState {
    /// The lease token (`grabbed_until` as this process holds it).
    pub(crate) token: Epoch,
    pub(crate) did_something: bool,
    pub(crate) was_declined: bool,
    pub(crate) last_outcome: Option<WorkOutcome>,
    /// A result recorded for the completion (JSON bytes, see `client/results.rs`).
    pub(crate) result: Option<Vec<u8>>,
    /// The job was found cancelled (see `client/cancel.rs`).
    pub(crate) cancelled: bool,
}

/// The shared state behind a [`QueuedJob`].
pub(crate) struct QueuedInner {
    pub(crate) ctx: Arc<Context>,
    pub(crate) store_idx: usize,
    pub(crate) handle: JobHandle,
    pub(crate) funcname: String,
    /// The row as read; `grabbed_until` here is the token at read time.
    pub(crate) row: JobRow,
    /// The function's worker (set later when it was registered after the job was read).
    pub(crate) worker: OnceLock<Arc<dyn Worker>>,
    /// The lease length in seconds, looked up once.
    pub(crate) grab_for: i64,
    pub(crate) state: Mutex<JobState>,
    /// Serialises outcome writes of clones.
    pub(crate) write_lock: Mutex<()>,
}

/// A pending job read from a store (grabbed, looked up or listed).
///
/// Outcome methods write to the job's store, fenced on the lease token the job was read
/// with ([`QueuedJob::grabbed_until`]): if another worker took the job over they return
/// [`Error::LeaseLost`] and change nothing; if the job was cancelled they return
/// [`Error::Cancelled`] (see [`QueuedJob::is_cancelled`]). Once an outcome was
/// written, further outcome calls return [`Error::AlreadyFinished`].
/// Cheap to clone; clones share state. A job holds its store and its worker's policy, not
/// the client: keeping jobs keeps no client alive.
#[derive(Clone)]
pub struct QueuedJob {
    pub(crate) inner: Arc<QueuedInner>,
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
    /// The argument decoded as `T`, whichever encoding the row holds: JSON, Perl
    /// Storable (what Perl clients insert for a hash or array reference) or bincode (see
    /// [`crate::arg`] for how they are told apart).
    ///
    /// # Errors
    /// [`Error::ArgDecode`] naming the job, `T` and the encoding, also when the job
    /// has no argument. A worker returning it fails the job for good: retrying cannot fix
    /// an argument.
    pub fn arg<T: DeserializeOwned>(&self) -> Result<T> {
        crate::arg::decode_row(self.jobid(), self.inner.row.arg.as_deref())
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
    /// The lease's fencing token: the `grabbed_until` this process holds, as a number
    /// (epoch seconds; 0 when the job is not grabbed). Every outcome write is fenced on it.
    ///
    /// Hand it to side effects outside the database (a conditional put, an idempotency key,
    /// a versioned update) so they can refuse a stale worker: a job's token only grows. A
    /// grab happens only once the previous lease has run out, so the new token (now plus
    /// `grab_for`, at least one second) is greater than any earlier holder's; extending a
    /// lease raises it. The one exception is a holder that gave the job back (declined or
    /// released it): the next holder's token may equal its own, but such a holder can
    /// write nothing more for the job.
    pub fn fencing_token(&self) -> i64 {
        self.token()
    }
    /// The lease length of the job's function (its worker's `grab_for`, at least one
    /// second; one hour without a worker), looked up once when the job was read.
    pub fn grab_for(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.inner.grab_for).unwrap_or(1))
    }
    /// The raw row as read (with the current lease token).
    pub fn row(&self) -> JobRow {
        let mut row = self.inner.row.clone();
        row.grabbed_until = self.token();
        row
    }
    /// The clock of the job's store (plus the client's test time shift), as the client
    /// estimates it.
    ///
    /// # Errors
    /// The store's error.
    pub fn server_time(&self) -> Result<DateTime<Utc>> {
        self.now().map(epoch_to_datetime)
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
        log::debug!("job completed");
        self.finish_now("completed", Verdict::Complete).map(|_| ())
    }
    /// Completes the job with `write` instead of the job's store: the fenced store write
    /// (one [`Finish`](crate::store::Finish)) goes where `write` puts it, typically the
    /// application's own transaction so the outcome commits with the work's own writes
    /// (`schwartz_diesel::complete_in` does this with a diesel connection). The job counts
    /// as finished here once `write` reports the fence matched; if the caller's
    /// transaction then rolls back, the job stays leased until its lease runs out and then
    /// runs again, as after a crash.
    ///
    /// # Errors
    /// As [`QueuedJob::completed`], with `write`'s error.
    pub fn completed_with(&self, write: FinishWith<'_>) -> Result<()> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished("completed")?;
        write_one_with(self.decide(Verdict::Complete)?, write)
    }
    /// Fails the job with `write` instead of the job's store (see
    /// [`QueuedJob::completed_with`]); retried while `max_retries` allows, as
    /// [`QueuedJob::failed`].
    ///
    /// # Errors
    /// As [`QueuedJob::completed`], with `write`'s error.
    pub fn failed_with(&self, message: &str, write: FinishWith<'_>) -> Result<()> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished("failed")?;
        let verdict = Verdict::Fail {
            message: message.to_string(),
            exit_status: None,
            permanent: false,
        };
        write_one_with(self.decide(verdict)?, write)
    }
    /// Fails the job with a message; retried while `max_retries` allows.
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn failed(&self, message: &str) -> Result<()> {
        self.fail("failed", message, None, false)
    }
    /// As `failed`, with the exit status to keep if no retry is left (0 counts as 1).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn failed_with_status(&self, message: &str, exit_status: i32) -> Result<()> {
        self.fail("failed", message, Some(exit_status), false)
    }
    /// Fails the job for good (exit status 1 if kept).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn permanent_failure(&self, message: &str) -> Result<()> {
        self.fail("permanent_failure", message, None, true)
    }
    /// Fails the job for good with this exit status (0 counts as 1).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn permanent_failure_with_status(&self, message: &str, exit_status: i32) -> Result<()> {
        self.fail("permanent_failure", message, Some(exit_status), true)
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
        let t = datetime_to_epoch(run_after);
        log::debug!("job declined.  retry will be considered after lease is up at {t}");
        self.finish_now("declined", Verdict::DeclineUntil(t))
            .map(|_| ())
    }
    /// Replaces the job with these jobs in the same store, atomically: either all are
    /// inserted and this job is completed, or nothing changes and the error is returned.
    /// `replace_with(vec![])` is a completion.
    ///
    /// # Errors
    /// `DuplicateUniqkey` for a colliding replacement, `InvalidInput`, `LeaseLost`,
    /// `AlreadyFinished`, or the store's error.
    pub fn replace_with(&self, jobs: Vec<Job>) -> Result<Vec<JobHandle>> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished("replace_with")?;
        for job in &jobs {
            job.validate()?;
        }
        let rows = self
            .inner
            .ctx
            .new_rows(self.inner.store_idx, &jobs, self.now()?)?;
        let ids = write_one(self.decide(Verdict::Replace(rows))?)?;
        if jobs.len() != ids.len() {
            log::warn!(
                "replace_with: the store reported {} ids for {} replacement jobs",
                ids.len(),
                jobs.len()
            );
        }
        let hash = &self.inner.handle;
        Ok(ids
            .into_iter()
            .map(|id| JobHandle::new(hash.store().clone(), id))
            .collect())
    }
    /// Extends the lease to at least now + `by` (rounded up to the next whole second); the
    /// new lease end becomes the token. The token always advances, by a second at least:
    /// an extension that wrote the same token again would count as done while extending
    /// nothing (with short leases, within the second of the grab).
    ///
    /// # Errors
    /// `LeaseLost`, or the store's error.
    pub fn extend_lease(&self, by: Duration) -> Result<()> {
        let _w = lock(&self.inner.write_lock);
        let now_ms = self.inner.ctx.now_ms_of(self.inner.store_idx)?;
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX).max(1000);
        let token = self.token();
        let new_until = now_ms
            .saturating_add(by_ms)
            .saturating_add(999)
            .div_euclid(1000)
            .max(token.saturating_add(1));
        if self.store().extend_lease(self.jobid(), token, new_until)? {
            self.state().token = new_until;
            Ok(())
        } else {
            Err(self.lease_lost(token))
        }
    }
    /// How much of the lease is left, by the client's estimate of the store's clock (zero
    /// when it has run out or the clock cannot be read). A lease ends when the store's
    /// clock reaches the token (whole seconds), so right after a grab it may be up to a
    /// second shorter than `grab_for`.
    pub fn lease_remaining(&self) -> Duration {
        match self.inner.ctx.now_ms_of(self.inner.store_idx) {
            Ok(now_ms) => {
                let left = self.token().saturating_mul(1000).saturating_sub(now_ms);
                Duration::from_millis(u64::try_from(left).unwrap_or(0))
            }
            Err(_) => Duration::ZERO,
        }
    }
    /// Makes this job the current job of the calling thread: failures of the running
    /// `work` are charged to it.
    pub fn set_as_current(&self) {
        drop(swap_current(Some(self.clone())));
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

// ---- internals ------------------------------------------------------------------------

impl QueuedJob {
    pub(crate) fn new(
        ctx: &Arc<Context>,
        store_idx: usize,
        funcname: String,
        row: JobRow,
        policy: Policy,
    ) -> QueuedJob {
        let handle = JobHandle::new(ctx.entry(store_idx).hash.clone(), row.jobid);
        let state = JobState {
            token: row.grabbed_until,
            ..JobState::default()
        };
        let worker = OnceLock::new();
        if let Some(w) = policy.worker {
            let _ = worker.set(w);
        }
        QueuedJob {
            inner: Arc::new(QueuedInner {
                ctx: Arc::clone(ctx),
                store_idx,
                handle,
                funcname,
                row,
                worker,
                grab_for: policy.grab_for,
                state: Mutex::new(state),
                write_lock: Mutex::new(()),
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, JobState> {
        lock(&self.inner.state)
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.ctx.entry(self.inner.store_idx).store
    }

    pub(crate) fn store_idx(&self) -> usize {
        self.inner.store_idx
    }

    pub(crate) fn ctx(&self) -> &Arc<Context> {
        &self.inner.ctx
    }

    pub(crate) fn token(&self) -> Epoch {
        self.state().token
    }

    pub(crate) fn grab_for_secs(&self) -> i64 {
        self.inner.grab_for
    }

    pub(crate) fn set_last_outcome(&self, outcome: WorkOutcome) {
        self.state().last_outcome = Some(outcome);
    }

    pub(crate) fn mark_done(&self, outcome: WorkOutcome) {
        let mut st = self.state();
        st.did_something = true;
        st.last_outcome = Some(outcome);
    }

    /// After a decline until a time was written: the row is released (token 0).
    pub(crate) fn note_declined_until(&self) {
        let mut st = self.state();
        st.was_declined = true;
        st.token = 0;
        st.last_outcome = Some(WorkOutcome::Declined);
    }

    pub(crate) fn worker(&self) -> Option<&Arc<dyn Worker>> {
        self.inner.worker.get()
    }

    pub(crate) fn set_worker(&self, worker: Arc<dyn Worker>) {
        let _ = self.inner.worker.set(worker);
    }

    pub(crate) fn now(&self) -> Result<Epoch> {
        self.inner.ctx.now_of(self.inner.store_idx)
    }

    /// The error of a fenced write that matched no row: [`Error::Cancelled`] when the
    /// job's cancellation record says so, else [`Error::LeaseLost`].
    pub(crate) fn lease_lost(&self, token: Epoch) -> Error {
        if self.found_cancelled() {
            return Error::Cancelled {
                store: self.store().describe(),
                jobid: self.inner.row.jobid,
            };
        }
        Error::LeaseLost {
            store: self.store().describe(),
            jobid: self.inner.row.jobid,
            token,
        }
    }

    pub(crate) fn check_not_finished(&self, method: &'static str) -> Result<()> {
        if self.state().did_something {
            log::debug!("can't call '{method}' on already finished job");
            return Err(Error::AlreadyFinished {
                store: self.store().describe(),
                jobid: self.inner.row.jobid,
                method,
            });
        }
        Ok(())
    }

    /// Decides an outcome for this job: reads the failures on record and the store's
    /// clock only when the verdict needs them, and calls the worker's hooks under the
    /// panic guard.
    pub(crate) fn decide(&self, verdict: Verdict) -> Result<Outcome> {
        let worker = self.worker().map(|w| &**w);
        let keep = worker.map_or(0, |w| {
            ceil_secs(guarded("keep_exit_status_for", Duration::ZERO, || {
                w.keep_exit_status_for()
            }))
        });
        let failures = if verdict.needs_failures() {
            let n = self.store().failures(self.inner.row.jobid)?.len() as u64;
            // The job's span (see `executor`), when this runs inside it.
            tracing::Span::current().record("attempt", n.saturating_add(1));
            n
        } else {
            0
        };
        let now = if verdict.needs_clock(keep) {
            self.now()?
        } else {
            0
        };
        let max_retries =
            || worker.map_or(0, |w| guarded("max_retries", 0, || w.max_retries(self)));
        let retry_delay = |n: u32| {
            worker.map_or(0, |w| {
                ceil_secs(guarded("retry_delay", Duration::ZERO, || w.retry_delay(n)))
            })
        };
        let rules = Rules {
            keep_exit_status_for: keep,
            max_retries: &max_retries,
            retry_delay: &retry_delay,
        };
        let settles = !matches!(verdict, Verdict::DeclineUntil(_));
        let verdict_is_complete = verdict == Verdict::Complete;
        let target = Target {
            jobid: self.inner.row.jobid,
            funcid: self.inner.row.funcid,
            token: self.token(),
        };
        let (finish, kind) = decide(target, verdict, &rules, failures, now);
        let result = match verdict_is_complete {
            true => self.state().result.take(),
            false => None,
        };
        Ok(Outcome {
            job: self.clone(),
            finish,
            kind,
            settles,
            result,
        })
    }

    /// An explicit outcome method: decided and written at once, under the write lock.
    fn finish_now(&self, method: &'static str, verdict: Verdict) -> Result<Vec<JobId>> {
        let _w = lock(&self.inner.write_lock);
        self.check_not_finished(method)?;
        write_one(self.decide(verdict)?)
    }

    fn fail(
        &self,
        method: &'static str,
        message: &str,
        exit_status: Option<i32>,
        permanent: bool,
    ) -> Result<()> {
        let verdict = Verdict::Fail {
            message: message.to_string(),
            exit_status,
            permanent,
        };
        self.finish_now(method, verdict).map(|_| ())
    }
}
