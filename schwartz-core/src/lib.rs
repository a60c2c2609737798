//! # schwartz-core
//!
//! TheSchwartz's job-queue model for Rust: [`Job`], the [`Store`] contract, the [`Client`],
//! the [`Worker`] trait, [`JobHandle`] and the [`Error`] type. Backends live in other crates
//! (`schwartz-memory`, `schwartz-diesel`); the worker pool in `schwartz-worker`.

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
mod worker;

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
pub use store::{
    Claim, CoalesceFilter, ExitStatus, ExitStatusWrite, FailureRecord, Finish, FinishAction,
    FinishStatus, FuncMap, JobOrder, JobQuery, JobRow, Lease, NewJobRow, Notifier, Store,
    StoreStats,
};
pub use worker::{WorkError, Worker};
