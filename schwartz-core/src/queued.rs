//! [`QueuedJob`]: a pending job read from a store, bound to its client.
//!
//! SKELETON: public API fixed; bodies to be implemented.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Result;
use crate::handle::JobHandle;
use crate::ids::{FuncId, JobId};
use crate::job::Job;

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
        f.debug_struct("QueuedJob").finish_non_exhaustive()
    }
}

#[allow(unused_variables)]
impl QueuedJob {
    /// The job's handle.
    pub fn handle(&self) -> &JobHandle { todo!() }
    /// The job's id in its store.
    pub fn jobid(&self) -> JobId { todo!() }
    /// The job's function id in its store.
    pub fn funcid(&self) -> FuncId { todo!() }
    /// The job's function name.
    pub fn funcname(&self) -> &str { todo!() }
    /// The client.
    pub fn client(&self) -> &Client { todo!() }
    /// The argument decoded as `T` (serde + bincode 2).
    ///
    /// # Errors
    /// [`Error::ArgDecode`](crate::Error::ArgDecode) naming the job and `T`, also when the job
    /// has no argument.
    pub fn arg<T: DeserializeOwned>(&self) -> Result<T> { todo!() }
    /// The argument's raw bytes.
    pub fn raw_arg(&self) -> Option<&[u8]> { todo!() }
    /// The unique key.
    pub fn uniqkey(&self) -> Option<&str> { todo!() }
    /// The coalesce value.
    pub fn coalesce(&self) -> Option<&str> { todo!() }
    /// The priority.
    pub fn priority(&self) -> Option<i32> { todo!() }
    /// When it was inserted.
    pub fn insert_time(&self) -> Option<DateTime<Utc>> { todo!() }
    /// When it becomes eligible.
    pub fn run_after(&self) -> DateTime<Utc> { todo!() }
    /// The lease end (the lease token); the epoch when not grabbed.
    pub fn grabbed_until(&self) -> DateTime<Utc> { todo!() }
    /// The raw row as read (with the current lease token).
    pub fn row(&self) -> crate::store::JobRow { todo!() }
    /// Whether an outcome was written by this process.
    pub fn did_something(&self) -> bool { todo!() }
    /// Whether the job was declined by this process.
    pub fn was_declined(&self) -> bool { todo!() }

    /// Completes the job (exit status 0 if kept; the row is deleted).
    ///
    /// # Errors
    /// `LeaseLost`, `AlreadyFinished`, or the store's error.
    pub fn completed(&self) -> Result<()> { todo!() }
    /// Fails the job with a message; retried while `max_retries` allows.
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn failed(&self, message: &str) -> Result<()> { todo!() }
    /// As `failed`, with the exit status to keep if no retry is left (0 counts as 1).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn failed_with_status(&self, message: &str, exit_status: i32) -> Result<()> { todo!() }
    /// Fails the job for good (exit status 1 if kept).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn permanent_failure(&self, message: &str) -> Result<()> { todo!() }
    /// Fails the job for good with this exit status (0 counts as 1).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn permanent_failure_with_status(&self, message: &str, exit_status: i32) -> Result<()> { todo!() }
    /// Declines the job: no write; it stays leased until its lease runs out.
    ///
    /// # Errors
    /// `AlreadyFinished`.
    pub fn declined(&self) -> Result<()> { todo!() }
    /// Declines the job until `run_after` (released at once, eligible then).
    ///
    /// # Errors
    /// As [`QueuedJob::completed`].
    pub fn declined_until(&self, run_after: DateTime<Utc>) -> Result<()> { todo!() }
    /// Replaces the job with these jobs in the same store, atomically: either all are
    /// inserted and this job is completed, or nothing changes and the error is returned.
    ///
    /// # Errors
    /// `DuplicateUniqkey` for a colliding replacement, `InvalidInput`, `LeaseLost`,
    /// `AlreadyFinished`, or the store's error.
    pub fn replace_with(&self, jobs: Vec<Job>) -> Result<Vec<JobHandle>> { todo!() }
    /// Extends the lease to now + `by`; the new lease end becomes the token.
    ///
    /// # Errors
    /// `LeaseLost`, or the store's error.
    pub fn extend_lease(&self, by: Duration) -> Result<()> { todo!() }
    /// Makes this job the current job of the calling thread: failures of the running
    /// `work` are charged to it.
    pub fn set_as_current(&self) { todo!() }
    /// The job's exit status, if kept.
    ///
    /// # Errors
    /// The store's error.
    pub fn exit_status(&self) -> Result<Option<i32>> { todo!() }
    /// How many failures the job has on record.
    ///
    /// # Errors
    /// The store's error.
    pub fn failures(&self) -> Result<u64> { todo!() }
    /// The job's failure messages.
    ///
    /// # Errors
    /// The store's error.
    pub fn failure_log(&self) -> Result<Vec<String>> { todo!() }
}
