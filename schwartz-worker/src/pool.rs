//! [`WorkerPool`], its handles and its summary.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use schwartz_core::{Client, QueuedJob, StopSignal};

use crate::builder::{Config, WorkerPoolBuilder};
use crate::error::{Error, Result};

/// A pool of worker threads fed by one dispatcher.
///
/// The dispatcher grabs as many jobs as there are idle workers in one store round trip
/// ([`Client::grab_jobs`]) and hands them to ready workers over a zero-capacity channel, so
/// a job is only leased while a worker is about to run it (when jobs finish within
/// milliseconds it grabs ahead, see [`WorkerPoolBuilder::batch_size`]). Workers run jobs with
/// [`Client::work_deferred`] and hold no database connection while a job runs; a completer
/// thread writes plain completions in batches ([`Client::complete_deferred`]).
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

/// When the dispatcher stops on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Only on shutdown.
    Service,
    /// When a grab finds nothing while no job runs.
    UntilDone,
}

impl WorkerPool {
    /// A builder for a pool working `client`'s abilities.
    pub fn builder(client: Client) -> WorkerPoolBuilder {
        WorkerPoolBuilder::new(client)
    }

    pub(crate) fn new(client: Client, config: Config) -> Self {
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
        crate::run::run(self.client, self.config, self.shared, Mode::Service)
    }

    /// Runs the pool until no job is left (a grab finds nothing while no job is running),
    /// or until shutdown; then shuts down as [`WorkerPool::run`] does. Jobs whose
    /// `run_after` lies in the future do not count as left, as with
    /// [`Client::work_until_done`].
    ///
    /// # Errors
    /// As [`WorkerPool::run`], and a store error when grabbing failed three times in a row
    /// while no job was running.
    pub fn run_until_done(self) -> Result<PoolSummary> {
        crate::run::run(self.client, self.config, self.shared, Mode::UntilDone)
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

/// What a pool did, returned when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolSummary {
    /// Jobs completed (written).
    pub completed: u64,
    /// Jobs failed for good (no retry left, or a permanent failure).
    pub failed: u64,
    /// Jobs failed with a retry left (they run again).
    pub retried: u64,
    /// Jobs declined.
    pub declined: u64,
    /// Jobs replaced by other jobs.
    pub replaced: u64,
    /// Jobs whose lease was taken over by another worker before their outcome was
    /// written; nothing of theirs was written.
    pub lease_lost: u64,
    /// Outcomes that could not be written because of a store error (those jobs run again
    /// once their lease has expired).
    pub errors: u64,
    /// Grabbed jobs given back unstarted (at shutdown, or because they waited too long).
    pub released: u64,
    /// Worker threads still running a job when the grace period ended (left behind).
    pub abandoned_threads: u64,
    /// How long the pool ran.
    pub elapsed: Duration,
}

impl PoolSummary {
    /// Jobs worked: completed + failed + retried + declined + replaced + lease lost.
    pub fn worked(&self) -> u64 {
        self.completed
            + self.failed
            + self.retried
            + self.declined
            + self.replaced
            + self.lease_lost
    }

    /// Jobs worked per second over the pool's run time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.worked() as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for PoolSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} completed, {} failed, {} retried, {} declined, {} replaced, {} lease lost, {} write errors, {} released in {:.2?} ({:.0} jobs/s)",
            self.completed,
            self.failed,
            self.retried,
            self.declined,
            self.replaced,
            self.lease_lost,
            self.errors,
            self.released,
            self.elapsed,
            self.throughput()
        )
    }
}

/// Counters shared by the pool's threads.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub declined: AtomicU64,
    pub replaced: AtomicU64,
    pub lease_lost: AtomicU64,
    pub errors: AtomicU64,
    pub released: AtomicU64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn summary(&self, abandoned: u64, elapsed: Duration) -> PoolSummary {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PoolSummary {
            completed: get(&self.completed),
            failed: get(&self.failed),
            retried: get(&self.retried),
            declined: get(&self.declined),
            replaced: get(&self.replaced),
            lease_lost: get(&self.lease_lost),
            errors: get(&self.errors),
            released: get(&self.released),
            abandoned_threads: abandoned,
            elapsed,
        }
    }
}

/// A job a worker is running, for lease extension.
#[derive(Debug)]
pub(crate) struct Running {
    pub job: QueuedJob,
    /// When the current lease started (local clock).
    pub lease_from: Instant,
    pub grab_for: Duration,
}

/// State shared by the pool's threads and its handles.
#[derive(Debug)]
pub(crate) struct Shared {
    stop: AtomicBool,
    /// Wakes sleeping helper threads on shutdown.
    pub stop_signal: StopSignal,
    /// Wakes the dispatcher (coalesced: capacity 1).
    pub wake_tx: Sender<()>,
    pub wake_rx: Receiver<()>,
    pub stats: Stats,
    /// One slot per worker thread: the job it runs.
    pub slots: Vec<Mutex<Option<Running>>>,
}

impl Shared {
    fn new(threads: usize) -> Self {
        let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
        Shared {
            stop: AtomicBool::new(false),
            stop_signal: StopSignal::new(),
            wake_tx,
            wake_rx,
            stats: Stats::default(),
            slots: (0..threads).map(|_| Mutex::new(None)).collect(),
        }
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.stop_signal.stop();
        self.wake();
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn wake(&self) {
        let _ = self.wake_tx.try_send(());
    }
}
