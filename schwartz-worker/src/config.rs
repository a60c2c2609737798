//! The pool's settings: [`WorkerPoolBuilder`] and the [`Config`] it resolves to.

use std::collections::HashMap;
use std::time::Duration;

use schwartz_core::Client;

use crate::error::{Error, Result};

/// The environment variable read for the thread count when
/// [`WorkerPoolBuilder::threads`] was not called.
pub const THREADS_ENV: &str = "SCHWARTZ_THREADS";

/// The default prefetch bound per worker thread (see [`WorkerPoolBuilder::prefetch`]).
pub const DEFAULT_PREFETCH_PER_THREAD: usize = 8;

/// The smallest default prefetch bound, whatever the thread count (see
/// [`WorkerPoolBuilder::prefetch`]).
pub const DEFAULT_PREFETCH_MIN: usize = 64;

/// The default prefetch bound of a pool of `threads`: [`DEFAULT_PREFETCH_PER_THREAD`] per
/// thread, at least [`DEFAULT_PREFETCH_MIN`].
pub const fn default_prefetch(threads: usize) -> usize {
    let per_thread = threads.saturating_mul(DEFAULT_PREFETCH_PER_THREAD);
    if per_thread > DEFAULT_PREFETCH_MIN {
        per_thread
    } else {
        DEFAULT_PREFETCH_MIN
    }
}

/// Whether the pool extends the leases of long-running jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeaseExtension {
    /// A job still running after half its `grab_for` gets its lease moved forward by
    /// `grab_for` again, as often as needed (the default).
    #[default]
    Auto,
    /// Leases are never extended: a job running past its `grab_for` can be taken over by
    /// another worker, as in TheSchwartz.
    Off,
}

/// Whether the pool listens for "new jobs" notifications from its stores
/// ([`Store::notifier`](schwartz_core::store::Store::notifier): PostgreSQL LISTEN/NOTIFY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notifications {
    /// One listener thread per store that offers a notifier (the default).
    #[default]
    Listen,
    /// No listener: the pool wakes on its poll interval and on inserts through its client.
    Ignore,
}

/// Housekeeping: pruning old errors and expired exit statuses with
/// [`Client::prune`](schwartz_core::Client::prune).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Housekeeping {
    /// Prune at most `limit` rows of each kind per store, every `interval`.
    Prune {
        /// Time between two passes.
        interval: Duration,
        /// Rows per kind and store per pass.
        limit: usize,
    },
    /// No pruning by the pool.
    Off,
}

impl Default for Housekeeping {
    /// Every 60 seconds, 1,000 rows.
    fn default() -> Self {
        Housekeeping::Prune {
            interval: Duration::from_secs(60),
            limit: 1000,
        }
    }
}

/// The settings a pool runs with (resolved by [`WorkerPoolBuilder::build`]).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub threads: usize,
    pub batch_size: usize,
    pub poll_interval: Duration,
    pub shutdown_grace: Duration,
    pub thread_name: String,
    pub lease_extension: LeaseExtension,
    pub notifications: Notifications,
    pub housekeeping: Housekeeping,
    pub completion_batch: usize,
    pub completion_delay: Duration,
    pub unavailable_deadline: Duration,
    pub prefetch: usize,
    pub schedules: Vec<schwartz_core::Schedule>,
    /// Per-function limits of jobs held at once.
    pub limits: HashMap<String, usize>,
}

/// Builds a [`WorkerPool`](crate::WorkerPool); a consuming builder ending in
/// [`WorkerPoolBuilder::build`].
///
/// ```
/// use std::time::Duration;
/// # use std::sync::Arc;
/// # let client = schwartz_core::Client::builder()
/// #     .store(Arc::new(schwartz_memory::MemoryStore::new()))
/// #     .build()?;
/// # client.can_do("noop", |_: &schwartz_core::QueuedJob| Ok(()))?;
/// let pool = schwartz_worker::WorkerPool::builder(client)
///     .threads(4)
///     .poll_interval(Duration::from_secs(2))
///     .shutdown_grace(Duration::from_secs(10))
///     .build()?;
/// # drop(pool);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until build() is called"]
pub struct WorkerPoolBuilder {
    client: Client,
    threads: Option<usize>,
    batch_size: usize,
    poll_interval: Duration,
    shutdown_grace: Duration,
    thread_name: String,
    lease_extension: LeaseExtension,
    notifications: Notifications,
    housekeeping: Housekeeping,
    completion_batch: usize,
    completion_delay: Duration,
    unavailable_deadline: Duration,
    prefetch: Option<usize>,
    schedules: Vec<schwartz_core::Schedule>,
    limits: HashMap<String, usize>,
}

impl WorkerPoolBuilder {
    pub(crate) fn new(client: Client) -> Self {
        WorkerPoolBuilder {
            client,
            threads: None,
            batch_size: 500,
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(30),
            thread_name: "schwartz-worker".to_string(),
            lease_extension: LeaseExtension::Auto,
            notifications: Notifications::Listen,
            housekeeping: Housekeeping::default(),
            completion_batch: 1000,
            completion_delay: Duration::from_millis(20),
            unavailable_deadline: Duration::from_secs(60),
            prefetch: None,
            schedules: Vec::new(),
            limits: HashMap::new(),
        }
    }

    /// Number of worker threads (jobs run at once). Default: the environment variable
    /// `SCHWARTZ_THREADS`, else [`std::thread::available_parallelism`].
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// The most jobs grabbed in one store round trip (default 500).
    ///
    /// The pool grabs as many jobs as it has idle workers. When jobs finish so fast that
    /// workers wait for the next grab, it grabs ahead, up to this many, and backs off again
    /// as soon as grabbed jobs wait; long jobs therefore never sit leased in a queue.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// How often an idle pool looks for jobs (default 1 s). Inserts through the pool's
    /// client and store notifications wake it at once.
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// How long a shutdown waits for running jobs (default 30 s). Threads whose job runs
    /// longer are left behind (not joined); their job's lease runs out and the job is run
    /// again elsewhere.
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.shutdown_grace = d;
        self
    }

    /// Prefix of the threads' names (default `schwartz-worker`): workers are
    /// `<prefix>-<n>`, the others `<prefix>-completer`, `<prefix>-housekeeper`,
    /// `<prefix>-listener-<n>`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// Automatic lease extension for long jobs (default [`LeaseExtension::Auto`]).
    pub fn lease_extension(mut self, mode: LeaseExtension) -> Self {
        self.lease_extension = mode;
        self
    }

    /// Store notifications (default [`Notifications::Listen`]).
    pub fn notifications(mut self, mode: Notifications) -> Self {
        self.notifications = mode;
        self
    }

    /// Pruning of old errors and expired exit statuses (default: 1,000 rows every 60 s).
    /// Build the client with [`Pruning::Off`](schwartz_core::Pruning::Off) so jobs never
    /// prune inline.
    pub fn housekeeping(mut self, mode: Housekeeping) -> Self {
        self.housekeeping = mode;
        self
    }

    /// Completions are written in batches: as soon as `max` are waiting, or when the oldest
    /// has waited `delay` (defaults 1,000 and 20 ms). `max` 1 writes each completion at once.
    pub fn completion_batch(mut self, max: usize, delay: Duration) -> Self {
        self.completion_batch = max;
        self.completion_delay = delay;
        self
    }

    /// The most jobs grabbed ahead of idle workers (default: [`default_prefetch`], 8 per
    /// thread and at least 64; the pool grows its prefetch up to this bound, and the
    /// client's batch size, while grabs come fast, and shrinks it when grabbed jobs wait).
    ///
    /// Grabbing ahead saves store round trips when jobs are short, but every job grabbed
    /// ahead is leased to this process: if it is killed, those jobs wait for their lease
    /// (`grab_for`, an hour by default) before another worker may run them. A killed process
    /// strands at most twice the bound, running jobs included (the dispatcher's buffer, and
    /// each thread's chunk of `bound / threads`): 128 jobs with the default for pools of up
    /// to 8 threads. A pool can have at most about `bound` jobs per store round trip in
    /// flight, so jobs far shorter than a round trip drain faster with a higher bound (the
    /// README gives figures); jobs of a few milliseconds or more do not need one. `0` grabs
    /// only for idle workers; `usize::MAX` bounds it by the batch size alone.
    pub fn prefetch(mut self, n: usize) -> Self {
        self.prefetch = Some(n);
        self
    }

    /// Runs at most `max` jobs of `funcname` at once in this pool (default: no limit; the
    /// pool's threads bound every function). Jobs of a limited function are grabbed only
    /// for its free slots, so they never wait leased in the pool's buffer beyond the limit;
    /// a worker's chunk counts until it is done. Every function, limited or not, gets its
    /// turn: grabs go round-robin over functions (see the crate docs on fairness).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let client = schwartz_core::Client::builder()
    /// #     .store(Arc::new(schwartz_memory::MemoryStore::new()))
    /// #     .build()?;
    /// # client.can_do("resize", |_: &schwartz_core::QueuedJob| Ok(()))?;
    /// let pool = schwartz_worker::WorkerPool::builder(client)
    ///     .threads(8)
    ///     .max_running("resize", 2) // at most 2 resize jobs at once
    ///     .build()?;
    /// # drop(pool);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_running(mut self, funcname: impl Into<String>, max: usize) -> Self {
        self.limits.insert(funcname.into(), max);
        self
    }

    /// How long [`WorkerPool::run_until_done`](crate::WorkerPool::run_until_done) keeps
    /// trying while a store is unavailable (default 60 s). A store that cannot be reached
    /// may still hold due jobs, so finding no job then does not mean done: the pool keeps
    /// probing it, and returns an error naming the store once it has been unavailable this
    /// long.
    pub fn unavailable_deadline(mut self, d: Duration) -> Self {
        self.unavailable_deadline = d;
        self
    }

    /// Runs a periodic job: the pool's housekeeper inserts each due tick of `schedule`
    /// (within half a second); any number of pools, on any hosts, may run the same schedule
    /// and each tick is still inserted once (see
    /// [`Client::run_schedule`](schwartz_core::Client::run_schedule)). The job's function
    /// needs a worker somewhere, not necessarily in this pool.
    pub fn schedule(mut self, schedule: schwartz_core::Schedule) -> Self {
        self.schedules.push(schedule);
        self
    }

    /// Checks the settings (see [`WorkerPoolBuilder::build`]).
    pub(crate) fn resolve(self) -> Result<(Client, Config)> {
        let threads = match self.threads {
            Some(n) => n,
            None => threads_from_env()?,
        };
        if threads == 0 {
            return Err(Error::config("the thread count must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Error::config("the batch size must be at least 1"));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::config("the poll interval must not be zero"));
        }
        if self.completion_batch == 0 {
            return Err(Error::config("the completion batch must be at least 1"));
        }
        if self.thread_name.is_empty() {
            return Err(Error::config("the thread name prefix must not be empty"));
        }
        if let Housekeeping::Prune { interval, limit } = self.housekeeping {
            if interval.is_zero() || limit == 0 {
                return Err(Error::config(
                    "housekeeping needs a non-zero interval and limit (or Housekeeping::Off)",
                ));
            }
        }
        crate::schedule::check_names(&self.schedules)?;
        if self.client.abilities().is_empty() {
            return Err(Error::config(
                "the client has no workers: register them with Client::can_do before building the pool",
            ));
        }
        let abilities = self.client.abilities();
        for (name, max) in &self.limits {
            if *max == 0 {
                return Err(Error::config(format!(
                    "max_running({name:?}, 0): the limit must be at least 1"
                )));
            }
            if !abilities.contains(name) {
                return Err(Error::config(format!(
                    "max_running({name:?}, {max}): the client has no worker for {name:?}"
                )));
            }
        }
        let config = Config {
            threads,
            batch_size: self.batch_size,
            poll_interval: self.poll_interval,
            shutdown_grace: self.shutdown_grace,
            thread_name: self.thread_name,
            lease_extension: self.lease_extension,
            notifications: self.notifications,
            housekeeping: self.housekeeping,
            completion_batch: self.completion_batch,
            completion_delay: self.completion_delay,
            unavailable_deadline: self.unavailable_deadline,
            prefetch: self.prefetch.unwrap_or_else(|| default_prefetch(threads)),
            schedules: self.schedules,
            limits: self.limits,
        };
        Ok((self.client, config))
    }
}

fn threads_from_env() -> Result<usize> {
    match std::env::var(THREADS_ENV) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<usize>().map_err(|_| {
            Error::config(format!(
                "{THREADS_ENV}={v:?} is not a thread count (a positive integer)"
            ))
        }),
        _ => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}
