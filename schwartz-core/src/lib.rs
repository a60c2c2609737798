//! # schwartz-core
//!
//! TheSchwartz's job-queue model for Rust: [`Job`], the [`Store`](store::Store) contract, the [`Client`],
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
//! Without one, `Ok(())` completes the job, `Err(e)` fails it with `e`'s text (for good when
//! the argument does not decode, [`Error::ArgDecode`]) and a panic fails it with
//! `panic: <message>` ([`Client::work_safely`]). Every write is fenced on the job's lease: a
//! worker whose lease was taken over gets [`Error::LeaseLost`] and changes nothing.
//!
//! Every outcome is a value first: [`outcome`] decides it (pure code over the worker's
//! policy, the failure count and the time) and an [`outcome::OutcomeWriter`] writes it, at
//! once ([`outcome::InlineWriter`]) or in batches ([`outcome::apply`], as the worker pool's
//! completer does). [`executor::execute`] runs a job with either.
//!
//! ## Modules for backend authors and tests
//!
//! - [`store`]: the [`Store`](store::Store) contract and its row, query and finish types;
//! - [`panic`](mod@panic): catching panics and calling user hooks under a guard;
//! - `testing` (feature `testing`): a clock shift and the grab protocol's test hooks.
//!
//! ## Logging
//!
//! The client logs through the `log` crate with TheSchwartz's verbose messages at `debug`
//! level (`TheSchwartz::work_once found no jobs`, `Disabling DB <hash> because <error>`,
//! `job failed.  considering retry.  ...`); lost leases and housekeeping failures at `warn`.

pub mod arg;
mod arg_cap;
#[cfg(feature = "tokio")]
mod asynchronous;
mod backoff;
mod client;
mod error;
pub mod executor;
mod handle;
mod hooks;
mod ids;
mod job;
pub mod outcome;
pub mod panic;
mod queued;
mod records;
mod schedule;
pub mod scoreboard;
pub mod store;
mod store_inspect;
mod store_ours;
mod typed;
pub mod validate;
mod worker;

/// Test hooks for the conformance suite and a backend's own tests: a clock shift
/// ([`TimeShift`](testing::TimeShift), given to
/// [`ClientBuilder::time_shift`]) and the grab protocol's hooks
/// ([`GrabHooks`](testing::GrabHooks), given to [`ClientBuilder::hooks`]). Only with the
/// `testing` feature.
#[cfg(feature = "testing")]
pub mod testing {
    pub use crate::hooks::{GrabHooks, Hook, TimeShift};
}

pub use arg::{ArgEncoding, ArgFormat};
#[cfg(feature = "tokio")]
pub use asynchronous::AsyncClient;
pub use backoff::Backoff;
pub use client::{
    AbilityRotation, CancelOptions, CancelledJob, CandidateOrder, Client, ClientBuilder,
    GrabStrategy, JobResult, ListJobs, PruneReport, Pruning, Rescheduled, ScheduleInfo,
    ScoreboardDir, StopSignal, WeakClient, When, EXTERNAL_KEEP_EXIT_STATUS_FOR, NEVER_EPOCH,
};
pub use error::{Error, Result};
pub use handle::JobHandle;
pub use ids::{datetime_to_epoch, epoch_to_datetime, Epoch, FuncId, JobId, StoreHash};
pub use job::{check_name, decode_arg, encode_arg, Job, MAX_NAME_LEN};
pub use outcome::WorkOutcome;
pub use queued::QueuedJob;
pub use schedule::{CronSpec, Missed, Schedule};
pub use scoreboard::Scoreboard;
/// Store types an application names too (client settings and list filters).
pub use store::{CoalesceFilter, JobOrder};
pub use typed::{IntoJob, TypedJob};
pub use worker::{WorkError, Worker};
