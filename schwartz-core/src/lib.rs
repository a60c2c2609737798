//! # schwartz-core
//!
//! TheSchwartz's job-queue model for Rust: [`Job`], the [`Store`] contract, the [`Client`],
//! the [`Worker`] trait, [`JobHandle`] and the [`Error`] type. Backends live in other crates
//! (`schwartz-memory`, `schwartz-diesel`); the worker pool in `schwartz-worker`.
//!
//! Applications insert jobs through a [`Client`]; workers grab them atomically (a lease on
//! the job row, fenced on every later write), run them and record the outcome. The data
//! model and the semantics are those of Perl's TheSchwartz 1.18, with its known sharp edges
//! fixed (lease-fenced outcome writes, server time everywhere, atomic `replace_with`,
//! `list_jobs` honouring coalesce, a home store for jobs with a uniqkey, ...).
//!
//! ```
//! use std::sync::Arc;
//! use schwartz_core::{Client, Job, QueuedJob, WorkError};
//! use schwartz_memory::MemoryStore;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Email {
//!     to: String,
//! }
//!
//! let client = Client::builder()
//!     .store(Arc::new(MemoryStore::new()))
//!     .build()?;
//!
//! // A worker: returning Ok completes the job, Err fails it (retried per max_retries).
//! client.can_do("send_email", |job: &QueuedJob| -> Result<(), WorkError> {
//!     let email: Email = job.arg()?;
//!     println!("sending to {}", email.to);
//!     Ok(())
//! })?;
//!
//! let handle = client.insert(Job::new("send_email").arg(&Email { to: "a@example.com".into() })?)?;
//! assert!(client.is_pending(&handle)?);
//!
//! assert!(client.work_once()?); // grabs the job and works it
//! assert!(!client.is_pending(&handle)?);
//! assert_eq!(client.failures(&handle)?, 0);
//! assert!(!client.work_once()?); // nothing left
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Outcomes
//!
//! Inside [`Worker::work`] a job may be finished explicitly with
//! [`QueuedJob::completed`], [`QueuedJob::failed`], [`QueuedJob::permanent_failure`],
//! [`QueuedJob::declined`] / [`QueuedJob::declined_until`] or [`QueuedJob::replace_with`].
//! Without one, `Ok(())` completes the job, `Err(e)` fails it with `e`'s text and a panic
//! fails it with `panic: <message>` ([`Client::work_safely`]). Every write is fenced on the
//! job's lease: a worker whose lease was taken over gets [`Error::LeaseLost`] and changes
//! nothing.
//!
//! ## Logging
//!
//! The client logs through the `log` crate with TheSchwartz's verbose messages at `debug`
//! level (`TheSchwartz::work_once found no jobs`, `Disabling DB <hash> because <error>`,
//! `job failed.  considering retry.  ...`); lost leases and housekeeping failures at `warn`.

mod client;
mod client_impl;
mod error;
mod handle;
mod ids;
mod job;
mod queued;
mod queued_impl;
pub mod scoreboard;
pub mod store;
mod store_inspect;
mod worker;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod test_store;

pub use client::{
    AbilityRotation, CandidateOrder, Client, ClientBuilder, DeferredCompletion, GrabHooks,
    GrabStrategy, Hook, ListJobs, PruneReport, Pruning, ScoreboardDir, StopSignal, TimeShift,
    WorkOutcome,
};
pub use error::{Error, Result};
pub use handle::JobHandle;
pub use ids::{datetime_to_epoch, epoch_to_datetime, Epoch, FuncId, JobId, StoreHash};
pub use job::{check_name, decode_arg, encode_arg, Job, MAX_NAME_LEN};
pub use queued::QueuedJob;
pub use scoreboard::Scoreboard;
pub use store::{
    Claim, CoalesceFilter, ExitStatus, ExitStatusWrite, FailureRecord, Finish, FinishAction,
    FinishStatus, FuncMap, JobOrder, JobQuery, JobRow, Lease, NewJobRow, Notifier, Store,
    StoreStats,
};
pub use worker::{WorkError, Worker};
