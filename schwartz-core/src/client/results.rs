//! Job results: a worker records a value when it completes a job
//! ([`QueuedJob::set_result`], [`QueuedJob::completed_with_result`]); it is written by the outcome
//! writer with the completion, in one transaction and fenced on the job's lease, into the
//! store's `schwartz_result` table. The sender reads it by handle ([`Client::job_result`])
//! or waits for it ([`Client::wait_result`]); the pool's housekeeping prunes expired ones
//! ([`Client::prune_results`]).
//!
//! Results are JSON text (serde), at most [`MAX_RESULT_BYTES`] bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{ceil_secs, Client, Context};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::epoch_to_datetime;
use crate::outcome::Outcome;
use crate::panic::guarded;
use crate::queued::QueuedJob;
use crate::store::{FinishAction, ResultRow, ResultWrite, MAX_RESULT_BYTES};

/// The longest pause between two reads while waiting for a result without notifications.
const MAX_POLL: Duration = Duration::from_millis(250);

/// A recorded result ([`Client::job_result`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// The job.
    pub handle: JobHandle,
    /// The result's JSON text.
    pub json: Vec<u8>,
    /// When the job completed.
    pub completed_at: DateTime<Utc>,
    /// When the result will be pruned.
    pub delete_after: DateTime<Utc>,
}

impl JobResult {
    fn of(handle: JobHandle, row: ResultRow) -> JobResult {
        JobResult {
            handle,
            json: row.value,
            completed_at: epoch_to_datetime(row.completion_time),
            delete_after: epoch_to_datetime(row.delete_after),
        }
    }

    /// The result decoded as `T`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when it is not a `T`.
    pub fn value<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.json).map_err(|e| {
            Error::InvalidInput(format!(
                "the result of job {} is not a {}: {e}",
                self.handle,
                std::any::type_name::<T>()
            ))
        })
    }
}

impl QueuedJob {
    /// Records `value` as the job's result, written when the job completes (by returning
    /// `Ok` from the worker, or [`QueuedJob::completed`]) in the same transaction as the
    /// completion, and only if this process still holds the job's lease. A second call
    /// replaces the first; a failure or a decline writes no result.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the value does not serialize to JSON or its JSON text is
    /// longer than [`MAX_RESULT_BYTES`]; `AlreadyFinished`.
    pub fn set_result<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.check_not_finished("set_result")?;
        let json = serde_json::to_vec(value).map_err(|e| {
            Error::InvalidInput(format!(
                "the result of job {} does not encode: {e}",
                self.handle()
            ))
        })?;
        if json.len() > MAX_RESULT_BYTES {
            return Err(Error::InvalidInput(format!(
                "the result of job {} is {} bytes of JSON, more than the {MAX_RESULT_BYTES} \
                 a result may have",
                self.handle(),
                json.len()
            )));
        }
        self.state().result = Some(json);
        Ok(())
    }

    /// Records `value` as the result and completes the job, in one transaction.
    ///
    /// # Errors
    /// As [`QueuedJob::set_result`] and [`QueuedJob::completed`].
    pub fn completed_with_result<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.set_result(value)?;
        self.completed()
    }
}

/// The result rows to write with a batch of finishes of one store: one per outcome that
/// carries a result and removes its job.
pub(crate) fn result_writes(
    ctx: &Arc<Context>,
    idx: usize,
    outcomes: &[Outcome],
) -> Vec<ResultWrite> {
    let mut out = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        let Some(value) = &o.result else { continue };
        if !matches!(o.finish.action, FinishAction::Remove { .. }) {
            continue;
        }
        let now = ctx.now_of(idx).unwrap_or_else(|_| ctx.wall_secs());
        let keep = o.job.worker().map_or(Duration::from_secs(86_400), |w| {
            guarded("keep_result_for", Duration::from_secs(86_400), || {
                w.keep_result_for()
            })
        });
        out.push(ResultWrite {
            item: i,
            value: value.clone(),
            completion_time: now,
            delete_after: now.saturating_add(ceil_secs(keep)),
        });
    }
    out
}

impl Client {
    /// The recorded result of a job, if any (not yet pruned).
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn job_result(&self, handle: &JobHandle) -> Result<Option<JobResult>> {
        let idx = self.ctx().index_for_handle(handle)?;
        let row = self.entry(idx).store.job_result(handle.jobid())?;
        Ok(row.map(|r| JobResult::of(handle.clone(), r)))
    }

    /// Waits up to `timeout` for a job's result. Returns it once recorded; `None` when the
    /// timeout passed, or when the job is no longer pending and left no result (it
    /// completed without one, or failed for good). Woken by the store's result
    /// notifications where it has them (PostgreSQL LISTEN/NOTIFY), else reads the store
    /// at growing intervals (up to 250 ms).
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn wait_result(&self, handle: &JobHandle, timeout: Duration) -> Result<Option<JobResult>> {
        let idx = self.ctx().index_for_handle(handle)?;
        let store = &self.entry(idx).store;
        let deadline = Instant::now() + timeout;
        let mut notifier = store.result_notifier()?;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(r) = self.job_result(handle)? {
                return Ok(Some(r));
            }
            if store.lookup(handle.jobid())?.is_none() {
                // Finished between the two reads, or finished without a result.
                return self.job_result(handle);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match notifier.as_mut() {
                Some(n) => {
                    n.wait(left.min(Duration::from_secs(1)))?;
                }
                None => {
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(MAX_POLL);
                }
            }
        }
    }

    /// Deletes expired results (`delete_after` passed) in every live store, at most `limit`
    /// per store; returns how many. The pool's housekeeping calls it.
    ///
    /// # Errors
    /// The store's error when every live store failed.
    pub fn prune_results(&self, limit: usize) -> Result<u64> {
        let mut total = 0;
        let mut ok = 0usize;
        let mut last_err = None;
        for idx in self.ctx().live_shuffled() {
            let r = self
                .ctx()
                .now_of(idx)
                .and_then(|now| self.entry(idx).store.prune_results(now, limit));
            match r {
                Ok(n) => {
                    ok += 1;
                    total += n;
                }
                Err(e) => {
                    self.ctx().note_store_error(idx, &e);
                    last_err = Some(e);
                }
            }
        }
        match last_err {
            Some(e) if ok == 0 => Err(e),
            _ => Ok(total),
        }
    }
}
