//! [`WorkerPool`] and its handles.

use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;

use schwartz_core::Client;

use crate::config::{Config, WorkerPoolBuilder};
use crate::error::{Error, Result};
use crate::lifecycle::run_pool;
use crate::shared::{Mode, Shared};
use crate::summary::PoolSummary;

/// A pool of worker threads fed by one dispatcher.
///
/// The dispatcher grabs as many jobs as there are idle workers in one store round trip
/// ([`Client::grab_jobs`]) and hands them to ready workers over a zero-capacity channel, so
/// a job is only leased while a worker is about to run it (when jobs finish within
/// milliseconds it grabs ahead, see [`WorkerPoolBuilder::batch_size`]). Workers run jobs with
/// [`schwartz_core::executor::execute`] and hold no database connection while a job runs:
/// every outcome a worker decides (completion, failure, retry) goes to a completer thread
/// that writes them in batches ([`schwartz_core::outcome::apply`]).
///
/// An idle pool wakes on its poll interval, at once on an insert through its client
/// ([`Client::on_insert`]), and on store notifications (PostgreSQL LISTEN/NOTIFY). A
/// housekeeper thread extends the leases of long jobs and prunes old errors and exit
/// statuses. A job that panics is recorded as a failure and its thread keeps serving.
///
/// Run it with [`WorkerPool::run`] (a service: until [`ShutdownHandle::shutdown`]),
/// [`WorkerPool::run_until_done`] (a batch: until no job is left) or [`WorkerPool::spawn`]
/// (in the background). Nothing blocks in `Drop`.
pub struct WorkerPool {
    client: Client,
    config: Config,
    shared: Arc<Shared>,
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("threads", &self.config.threads)
            .field("batch_size", &self.config.batch_size)
            .field("poll_interval", &self.config.poll_interval)
            .field("shutdown_grace", &self.config.shutdown_grace)
            .finish_non_exhaustive()
    }
}

impl WorkerPool {
    /// A builder for a pool working `client`'s abilities.
    pub fn builder(client: Client) -> WorkerPoolBuilder {
        WorkerPoolBuilder::new(client)
    }

    fn new(client: Client, config: Config) -> Self {
        let shared = Arc::new(Shared::new(config.threads));
        WorkerPool {
            client,
            config,
            shared,
        }
    }

    /// The number of worker threads.
    pub fn threads(&self) -> usize {
        self.config.threads
    }

    /// The client the pool works with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A handle that shuts the pool down from any thread (or a signal handler thread).
    /// A shutdown requested before the pool runs makes it return at once.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Runs the pool on the calling thread (which becomes the dispatcher) until
    /// [`ShutdownHandle::shutdown`]; then stops grabbing, releases grabbed but unstarted
    /// jobs, waits up to the grace period for running jobs, writes pending completions
    /// and joins its threads.
    ///
    /// # Errors
    /// A thread could not be started, or a pool thread panicked. Store errors while running
    /// are logged and retried, not returned.
    pub fn run(self) -> Result<PoolSummary> {
        run_pool(self.client, self.config, self.shared, Mode::Service)
    }

    /// Runs the pool until no job is left (a grab finds nothing while no job is running),
    /// or until shutdown; then shuts down as [`WorkerPool::run`] does. Jobs whose
    /// `run_after` lies in the future do not count as left, as with
    /// [`Client::work_until_done`].
    ///
    /// A store that is unavailable may still hold due jobs, so it never ends with `Ok`
    /// while one is: it keeps probing the store (see
    /// [`WorkerPoolBuilder::unavailable_deadline`](crate::WorkerPoolBuilder::unavailable_deadline)).
    ///
    /// # Errors
    /// As [`WorkerPool::run`]; a store error when grabbing failed three times in a row
    /// while no job was running; [`schwartz_core::Error::Unavailable`] naming the store
    /// when a store stayed unavailable past the deadline while no job was found elsewhere.
    pub fn run_until_done(self) -> Result<PoolSummary> {
        run_pool(self.client, self.config, self.shared, Mode::UntilDone)
    }

    /// Runs [`WorkerPool::run`] on a new thread (`<prefix>-dispatcher`).
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn(self) -> Result<RunningPool> {
        let handle = self.shutdown_handle();
        let name = format!("{}-dispatcher", self.config.thread_name);
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || self.run())
            .map_err(|e| Error::spawn(format!("thread {name}"), e))?;
        Ok(RunningPool { handle, thread })
    }
}

/// Shuts a [`WorkerPool`] down. Cheap to clone, `Send + Sync`; calling it more than once is
/// harmless.
#[derive(Clone)]
pub struct ShutdownHandle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("requested", &self.is_requested())
            .finish()
    }
}

impl ShutdownHandle {
    /// Asks the pool to shut down and returns at once: the pool stops grabbing, releases
    /// grabbed but unstarted jobs, lets running jobs finish within its grace period,
    /// writes pending completions and joins its threads.
    pub fn shutdown(&self) {
        self.shared.request_stop();
    }

    /// Whether a shutdown was requested (or the pool has finished).
    pub fn is_requested(&self) -> bool {
        self.shared.stopping()
    }
}

/// A pool running in the background ([`WorkerPool::spawn`]).
///
/// Dropping it does not stop the pool (nothing blocks in `Drop`): call
/// [`RunningPool::shutdown`], or [`ShutdownHandle::shutdown`] and then
/// [`RunningPool::join`].
#[derive(Debug)]
pub struct RunningPool {
    handle: ShutdownHandle,
    thread: JoinHandle<Result<PoolSummary>>,
}

impl RunningPool {
    /// A shutdown handle for this pool.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Shuts the pool down and waits for it (at most about the grace period, plus the
    /// time pending completions take to write).
    ///
    /// # Errors
    /// As [`WorkerPool::run`].
    pub fn shutdown(self) -> Result<PoolSummary> {
        self.handle.shutdown();
        self.join()
    }

    /// Waits until the pool has stopped (after a shutdown from elsewhere).
    ///
    /// # Errors
    /// As [`WorkerPool::run`].
    pub fn join(self) -> Result<PoolSummary> {
        match self.thread.join() {
            Ok(r) => r,
            Err(panic) => Err(Error::panicked(schwartz_core::panic::message(&*panic))),
        }
    }

    /// Whether the pool has stopped.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }
}

impl WorkerPoolBuilder {
    /// Checks the settings and builds the pool. No thread is started before
    /// [`WorkerPool::run`], [`WorkerPool::run_until_done`] or [`WorkerPool::spawn`].
    ///
    /// # Errors
    /// A configuration error for zero threads (also from `SCHWARTZ_THREADS`), a zero batch
    /// size, a zero poll interval, a zero completion batch, an empty thread name, or a client
    /// without any registered worker.
    pub fn build(self) -> Result<WorkerPool> {
        let (client, config) = self.resolve()?;
        Ok(WorkerPool::new(client, config))
    }
}
