//! [`AsyncClient`]: the calls a request handler makes (insert, look up, list), for async
//! applications (axum, actix-web, ...), with the `tokio` feature.
//!
//! Each call runs the blocking [`Client`] call on tokio's blocking thread pool
//! (`spawn_blocking`), so the runtime's worker threads never wait on the database. Run a
//! [`WorkerPool`](https://docs.rs/schwartz-worker) beside it on threads of its own; it needs
//! no async.
//!
//! ```
//! use std::sync::Arc;
//! use schwartz_core::{AsyncClient, Client, Job};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder()
//!     .store(Arc::new(schwartz_memory::MemoryStore::new()))
//!     .build()?;
//! let queue = AsyncClient::new(client);
//! let handle = queue.insert(Job::new("send_receipt").arg(&42u64)?).await?;
//! let job = queue.lookup_job(handle).await?.expect("pending");
//! assert_eq!(job.arg::<u64>()?, 42);
//! # Ok(())
//! # }
//! ```

use crate::client::{Client, ListJobs};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::job::Job;
use crate::queued::QueuedJob;
use crate::typed::IntoJob;

/// A [`Client`] for async callers: each method runs the client's blocking call on tokio's
/// blocking pool. Cheap to clone; needs a tokio runtime.
#[derive(Debug, Clone)]
pub struct AsyncClient {
    client: Client,
}

impl AsyncClient {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        AsyncClient { client }
    }

    /// The blocking client (for what this facade does not offer).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Client) -> Result<T> + Send + 'static,
    {
        let client = self.client.clone();
        match tokio::task::spawn_blocking(move || f(&client)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => Err(Error::Runtime(format!(
                "{what} panicked on tokio's blocking pool: {}",
                crate::panic::message(&*e.into_panic())
            ))),
            Err(e) => Err(Error::Runtime(format!(
                "{what} was cancelled: the tokio runtime is shutting down ({e})"
            ))),
        }
    }

    /// [`Client::insert`].
    ///
    /// # Errors
    /// As [`Client::insert`].
    pub async fn insert(&self, job: impl IntoJob + Send + 'static) -> Result<JobHandle> {
        self.run("insert", move |c| c.insert(job)).await
    }

    /// [`Client::insert_jobs`].
    ///
    /// # Errors
    /// As [`Client::insert_jobs`].
    pub async fn insert_jobs(&self, jobs: Vec<Job>) -> Result<Vec<JobHandle>> {
        self.run("insert_jobs", move |c| c.insert_jobs(jobs)).await
    }

    /// [`Client::lookup_job`].
    ///
    /// # Errors
    /// As [`Client::lookup_job`].
    pub async fn lookup_job(&self, handle: JobHandle) -> Result<Option<QueuedJob>> {
        self.run("lookup_job", move |c| c.lookup_job(&handle)).await
    }

    /// [`Client::list_jobs`].
    ///
    /// # Errors
    /// As [`Client::list_jobs`].
    pub async fn list_jobs(&self, filter: ListJobs) -> Result<Vec<QueuedJob>> {
        self.run("list_jobs", move |c| c.list_jobs(&filter)).await
    }

    /// [`Client::exit_status`]: `Some` once a finished job's status was kept.
    ///
    /// # Errors
    /// As [`Client::exit_status`].
    pub async fn exit_status(&self, handle: JobHandle) -> Result<Option<i32>> {
        self.run("exit_status", move |c| c.exit_status(&handle))
            .await
    }

    /// [`Client::failure_log`].
    ///
    /// # Errors
    /// As [`Client::failure_log`].
    pub async fn failure_log(&self, handle: JobHandle) -> Result<Vec<String>> {
        self.run("failure_log", move |c| c.failure_log(&handle))
            .await
    }
}
