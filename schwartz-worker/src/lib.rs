//! # schwartz-worker
//!
//! [`WorkerPool`]: a blocking worker pool for Schwartz. One dispatcher thread grabs jobs in
//! batches (one store round trip for as many jobs as there are idle workers, `FOR UPDATE
//! SKIP LOCKED` where the store has it) and hands them to N worker threads over a
//! zero-capacity channel, so no lease ticks away in a queue. Workers hold no database
//! connection while a job runs; a completer thread writes their outcomes (completions,
//! failures, retries) in batches. An idle
//! pool wakes on its poll interval, on inserts through its client and on other processes'
//! inserts (the store's notifier: PostgreSQL LISTEN/NOTIFY, SQLite's `data_version`,
//! MySQL/MariaDB's largest job id). Long jobs get their leases extended; panicking jobs are recorded as
//! failures; shutdown is graceful and explicit ([`ShutdownHandle`], never in `Drop`).
//!
//! Fairness: grabs go round-robin over the client's functions (each grab asks first for
//! one function's jobs, then for the oldest jobs of all), so one function with a large
//! backlog cannot starve the others; [`WorkerPoolBuilder::max_running`] limits how many
//! jobs of a function the pool holds at once.
//!
//! ```
//! use std::sync::Arc;
//! use schwartz_core::{Client, Job, Pruning, QueuedJob, WorkError};
//! use schwartz_memory::MemoryStore;
//! use schwartz_worker::WorkerPool;
//!
//! let client = Client::builder()
//!     .store(Arc::new(MemoryStore::new()))
//!     .pruning(Pruning::Off) // the pool prunes off the hot path
//!     .build()?;
//! client.can_do("greet", |job: &QueuedJob| -> Result<(), WorkError> {
//!     let name: String = job.arg()?;
//!     assert!(!name.is_empty());
//!     Ok(())
//! })?;
//! let jobs = (0..100)
//!     .map(|i| Job::new("greet").arg(&format!("user {i}")))
//!     .collect::<Result<Vec<_>, _>>()?;
//! client.insert_jobs(jobs)?;
//!
//! let summary = WorkerPool::builder(client.clone()).threads(4).build()?.run_until_done()?;
//! assert_eq!(summary.completed, 100);
//! assert_eq!(client.store(&client.store_hashes()[0]).unwrap().stats()?.jobs, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Metrics and tracing
//!
//! A pool reports what it does through the [`metrics`](https://docs.rs/metrics) facade
//! (jobs by function and outcome, panics, job and grab durations, lease extensions, store
//! errors: the table is in [`metrics`](mod@metrics)), so any exporter sees it once its
//! recorder is installed before the pool is built; `examples/prometheus.rs` wires the
//! Prometheus exporter. Each job runs in a [`tracing`](https://docs.rs/tracing) span
//! `schwartz.job` (`funcname`, `jobid`, `store`, `attempt`, `outcome`), grabs in
//! `schwartz.grab` and outcome batches in `schwartz.complete` (debug level); the `log`
//! messages stay for `log` users.
//!
//! For a service, run the pool until a signal:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # let client = schwartz_core::Client::builder()
//! #     .store(Arc::new(schwartz_memory::MemoryStore::new()))
//! #     .build()?;
//! # client.can_do("noop", |_: &schwartz_core::QueuedJob| Ok(()))?;
//! let pool = schwartz_worker::WorkerPool::builder(client).build()?;
//! schwartz_worker::shutdown_on_signals(&pool.shutdown_handle())?;
//! pool.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod completer;
mod config;
mod dispatcher;
mod error;
mod fair;
mod housekeeper;
mod lifecycle;
mod listener;
pub mod metrics;
mod pool;
mod schedule;
mod shared;
mod signals;
mod summary;
mod worker;

pub use config::{
    default_prefetch, Housekeeping, LeaseExtension, Notifications, WorkerPoolBuilder,
    DEFAULT_PREFETCH_MIN, DEFAULT_PREFETCH_PER_THREAD, THREADS_ENV,
};
pub use error::{Error, Result};
pub use pool::{RunningPool, ShutdownHandle, WorkerPool};
pub use signals::shutdown_on_signals;
pub use summary::PoolSummary;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
