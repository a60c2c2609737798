//! The [`Client`]: TheSchwartz's client object over one or more stores.
//!
//! SKELETON: public API fixed; bodies to be implemented.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::handle::JobHandle;
use crate::ids::{Epoch, StoreHash};
use crate::job::Job;
use crate::queued::QueuedJob;
use crate::store::{CoalesceFilter, Finish, JobOrder, Store};
use crate::worker::Worker;

/// Whether the client rotates abilities after each job (TheSchwartz's starvation guard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AbilityRotation {
    /// After a job of function X, look at the other functions first; restore all on a miss.
    #[default]
    Rotate,
    /// No rotation (`strict_remove_ability`).
    Strict,
}

/// Whether candidates are shuffled before claiming (`$TheSchwartz::RANDOMIZE_JOBS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CandidateOrder {
    /// Shuffle candidates: fewer lost races between workers.
    #[default]
    Shuffled,
    /// Claim in select order (strict priority / FIFO).
    AsSelected,
}

/// How jobs are claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GrabStrategy {
    /// `FOR UPDATE SKIP LOCKED` where the store supports it (batch grabs), else
    /// compare-and-swap. Single-job finds (`work_once`) always use compare-and-swap.
    #[default]
    Auto,
    /// TheSchwartz's select, shuffle and compare-and-swap everywhere.
    CompareAndSwap,
}

/// Where error and exit-status pruning happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pruning {
    /// As TheSchwartz: after each failure (errors) and on a share of exit-status writes.
    #[default]
    Inline,
    /// Never inline; call [`Client::prune`] from housekeeping (the worker pool does).
    Off,
}

/// Where scoreboard files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoreboardDir {
    /// The first existing of `/var/run`, `/dev/shm` (TheSchwartz's `1`/`on`), plus `theschwartz/`.
    Auto,
    /// This directory, plus `theschwartz/`.
    Path(PathBuf),
}

/// A shift added to every store's clock, so tests move time forward instead of sleeping.
#[derive(Debug, Clone, Default)]
pub struct TimeShift(Arc<AtomicI64>);

impl TimeShift {
    /// No shift.
    pub fn new() -> Self {
        TimeShift::default()
    }
    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    /// The current shift in seconds.
    pub fn seconds(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A test hook.
pub type Hook = Arc<dyn Fn() + Send + Sync>;

/// Test hooks of the grab protocol (`$T_AFTER_GRAB_SELECT_BEFORE_UPDATE`, `$T_LOST_RACE`).
#[derive(Clone, Default)]
pub struct GrabHooks {
    /// Runs between the candidate select and the claim in `find_job_for_workers`.
    pub after_select: Option<Hook>,
    /// Runs when a claim loses its race.
    pub lost_race: Option<Hook>,
}

impl fmt::Debug for GrabHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrabHooks")
            .field("after_select", &self.after_select.is_some())
            .field("lost_race", &self.lost_race.is_some())
            .finish()
    }
}

/// Stops [`Client::work`] (and wakes it from its sleep at once).
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(Mutex<bool>, Condvar)>);

impl StopSignal {
    /// A signal not yet given.
    pub fn new() -> Self {
        StopSignal::default()
    }
    /// Gives the signal.
    pub fn stop(&self) {
        let (flag, cv) = &*self.0;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    /// Whether the signal was given.
    pub fn is_stopped(&self) -> bool {
        *self.0 .0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Sleeps up to `timeout` or until the signal; returns whether it was given.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (flag, cv) = &*self.0;
        let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// Filters of [`Client::list_jobs`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListJobs {
    /// Function names (required, at least one).
    pub funcnames: Vec<String>,
    /// `run_after <= x`.
    pub run_after: Option<DateTime<Utc>>,
    /// `grabbed_until <= x`.
    pub grabbed_until: Option<DateTime<Utc>>,
    /// `jobid = x`.
    pub jobid: Option<crate::ids::JobId>,
    /// Coalesce filter (honoured, unlike TheSchwartz 1.11+).
    pub coalesce: Option<CoalesceFilter>,
    /// Per-store limit (default: the client's batch size).
    pub limit: Option<usize>,
}

impl ListJobs {
    /// Jobs of these functions.
    pub fn new<I, S>(funcnames: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ListJobs {
            funcnames: funcnames.into_iter().map(Into::into).collect(),
            ..ListJobs::default()
        }
    }
}

/// What working one job came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkOutcome {
    /// Completed (exit status 0 if kept).
    Completed,
    /// Failed; `will_retry` when retries are left.
    Failed {
        /// Whether it will be retried.
        will_retry: bool,
    },
    /// Declined (not counted as a failure).
    Declined,
    /// Replaced by other jobs.
    Replaced,
    /// The lease was taken over; nothing was written.
    LeaseLost,
}

/// A plain completion not yet written: collect several and write them with
/// [`Client::complete_deferred`] in one round trip per store.
#[derive(Debug)]
pub struct DeferredCompletion {
    pub(crate) handle: JobHandle,
    pub(crate) finish: Finish,
}

impl DeferredCompletion {
    /// The job.
    pub fn handle(&self) -> &JobHandle {
        &self.handle
    }
}

/// What [`Client::prune`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Error rows deleted.
    pub errors: u64,
    /// Exit statuses deleted.
    pub exit_statuses: u64,
}

/// Builds a [`Client`].
#[derive(Debug, Default)]
pub struct ClientBuilder {
    pub(crate) stores: Vec<Arc<dyn Store>>,
    pub(crate) order: JobOrder,
    pub(crate) floor: Option<i32>,
    pub(crate) batch_size: Option<usize>,
    pub(crate) retry_seconds: Option<Duration>,
    pub(crate) scoreboard: Option<ScoreboardDir>,
    pub(crate) rotation: AbilityRotation,
    pub(crate) candidate_order: CandidateOrder,
    pub(crate) grab_strategy: GrabStrategy,
    pub(crate) error_max_age: Option<Duration>,
    pub(crate) exit_status_clean_probability: Option<f64>,
    pub(crate) pruning: Pruning,
    pub(crate) time_shift: TimeShift,
    pub(crate) hooks: GrabHooks,
}

impl ClientBuilder {
    /// Adds a store.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.stores.push(store);
        self
    }
    /// Adds stores.
    pub fn stores(mut self, stores: impl IntoIterator<Item = Arc<dyn Store>>) -> Self {
        self.stores.extend(stores);
        self
    }
    /// Candidate order (`JobOrder::PriorityDesc` = TheSchwartz's `prioritize`).
    pub fn order(mut self, order: JobOrder) -> Self {
        self.order = order;
        self
    }
    /// Minimum priority; requires `JobOrder::PriorityDesc`.
    pub fn floor(mut self, floor: i32) -> Self {
        self.floor = Some(floor);
        self
    }
    /// Candidate select LIMIT and default `list_jobs` limit (default 50).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }
    /// How long a failing store stays marked dead (default 30 s; zero means 30 s).
    pub fn retry_seconds(mut self, d: Duration) -> Self {
        self.retry_seconds = Some(d);
        self
    }
    /// Writes scoreboard files there.
    pub fn scoreboard(mut self, dir: ScoreboardDir) -> Self {
        self.scoreboard = Some(dir);
        self
    }
    /// Ability rotation (default `Rotate`).
    pub fn ability_rotation(mut self, r: AbilityRotation) -> Self {
        self.rotation = r;
        self
    }
    /// Candidate shuffling (default `Shuffled`).
    pub fn candidate_order(mut self, o: CandidateOrder) -> Self {
        self.candidate_order = o;
        self
    }
    /// Grab strategy (default `Auto`).
    pub fn grab_strategy(mut self, s: GrabStrategy) -> Self {
        self.grab_strategy = s;
        self
    }
    /// Errors older than this are pruned (default 7 days; `$T_ERRORS_MAX_AGE`).
    pub fn error_max_age(mut self, d: Duration) -> Self {
        self.error_max_age = Some(d);
        self
    }
    /// Probability of pruning expired exit statuses after writing one (default 0.10;
    /// `$T_EXITSTATUS_CLEAN_THRES`).
    pub fn exit_status_clean_probability(mut self, p: f64) -> Self {
        self.exit_status_clean_probability = Some(p);
        self
    }
    /// Inline pruning or none (default `Inline`).
    pub fn pruning(mut self, p: Pruning) -> Self {
        self.pruning = p;
        self
    }
    /// A clock shift shared with the test.
    pub fn time_shift(mut self, shift: TimeShift) -> Self {
        self.time_shift = shift;
        self
    }
    /// Grab-protocol test hooks.
    pub fn hooks(mut self, hooks: GrabHooks) -> Self {
        self.hooks = hooks;
        self
    }
    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a floor without
    /// `PriorityDesc`, a zero batch size, a probability outside 0..=1, two stores with the
    /// same identity; [`Error::Scoreboard`](crate::Error::Scoreboard) when the scoreboard
    /// directory cannot be created.
    pub fn build(self) -> Result<Client> {
        todo!()
    }
}

/// TheSchwartz's client: stores, abilities, and the insert / find / work protocol.
/// Cheap to clone (shared state); `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<crate::client_impl::Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

#[allow(unused_variables, missing_docs)]
impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    // ---- stores -------------------------------------------------------------------------

    /// The configured stores' hashes, in configuration order.
    pub fn store_hashes(&self) -> Vec<StoreHash> { todo!() }
    /// The store with this hash.
    pub fn store(&self, hash: &StoreHash) -> Option<Arc<dyn Store>> { todo!() }
    /// The store's clock plus the time shift (epoch seconds).
    pub fn now(&self, hash: &StoreHash) -> Result<Epoch> { todo!() }
    /// The store's clock plus the time shift.
    pub fn server_time(&self, hash: &StoreHash) -> Result<DateTime<Utc>> { todo!() }
    /// Marks a store dead for `retry_seconds`.
    pub fn mark_dead(&self, hash: &StoreHash, reason: &str) { todo!() }
    /// Whether a store is marked dead (revived once its retry time has passed).
    pub fn is_dead(&self, hash: &StoreHash) -> bool { todo!() }
    /// Forgets all dead marks.
    pub fn clear_dead(&self) { todo!() }
    /// The time shift in use.
    pub fn time_shift(&self) -> TimeShift { todo!() }

    // ---- abilities and settings ---------------------------------------------------------

    /// Registers `worker` for `funcname` and adds it to the abilities.
    pub fn can_do(&self, funcname: &str, worker: impl Worker) -> Result<()> { todo!() }
    /// Same, with a shared worker.
    pub fn can_do_arc(&self, funcname: &str, worker: Arc<dyn Worker>) -> Result<()> { todo!() }
    /// Empties the abilities.
    pub fn reset_abilities(&self) { todo!() }
    /// The current abilities (after rotation).
    pub fn current_abilities(&self) -> Vec<String> { todo!() }
    /// All abilities.
    pub fn abilities(&self) -> Vec<String> { todo!() }
    /// The worker registered for a function.
    pub fn worker_for(&self, funcname: &str) -> Option<Arc<dyn Worker>> { todo!() }
    /// Sets the candidate order.
    pub fn set_order(&self, order: JobOrder) { todo!() }
    /// Sets or clears the floor.
    ///
    /// # Errors
    /// `InvalidInput` unless the order is `PriorityDesc`.
    pub fn set_floor(&self, floor: Option<i32>) -> Result<()> { todo!() }
    /// Sets the batch size.
    ///
    /// # Errors
    /// `InvalidInput` for zero.
    pub fn set_batch_size(&self, n: usize) -> Result<()> { todo!() }
    /// Sets ability rotation.
    pub fn set_ability_rotation(&self, r: AbilityRotation) { todo!() }
    /// Sets candidate shuffling.
    pub fn set_candidate_order(&self, o: CandidateOrder) { todo!() }
    /// Calls `f` after every successful insert through this client (local wake-ups).
    pub fn on_insert(&self, f: impl Fn(&StoreHash) + Send + Sync + 'static) { todo!() }

    // ---- inserting ----------------------------------------------------------------------

    /// Inserts one job (uniqkey jobs go to their home store, others to a random live one,
    /// failing over to the next store when one is unavailable).
    pub fn insert(&self, job: Job) -> Result<JobHandle> { todo!() }
    /// Inserts jobs all-or-nothing into one store, failing over as `insert` does.
    pub fn insert_jobs(&self, jobs: Vec<Job>) -> Result<Vec<JobHandle>> { todo!() }

    // ---- inspecting ---------------------------------------------------------------------

    /// Parses a handle string and checks its store is configured.
    pub fn handle_from_string(&self, s: &str) -> Result<JobHandle> { todo!() }
    /// The pending job behind a handle (no grab).
    pub fn lookup_job(&self, handle: &JobHandle) -> Result<Option<QueuedJob>> { todo!() }
    /// Pending jobs matching the filters, from every live store.
    pub fn list_jobs(&self, filter: &ListJobs) -> Result<Vec<QueuedJob>> { todo!() }
    /// Whether the job is still pending.
    pub fn is_pending(&self, handle: &JobHandle) -> Result<bool> { todo!() }
    /// The job's exit status, if one was kept.
    pub fn exit_status(&self, handle: &JobHandle) -> Result<Option<i32>> { todo!() }
    /// How many failures the job has on record.
    pub fn failures(&self, handle: &JobHandle) -> Result<u64> { todo!() }
    /// The job's failure messages.
    pub fn failure_log(&self, handle: &JobHandle) -> Result<Vec<String>> { todo!() }

    // ---- finding and grabbing -----------------------------------------------------------

    /// Grabs one job of these functions (default: the current abilities).
    pub fn find_job_for_workers(&self, abilities: Option<&[&str]>) -> Result<Option<QueuedJob>> { todo!() }
    /// Grabs one job of this function (`Worker->grab_job`).
    pub fn grab_job(&self, funcname: &str) -> Result<Option<QueuedJob>> { todo!() }
    /// Grabs one job of `funcname` whose coalesce value equals `value`.
    pub fn find_job_with_coalescing_value(&self, funcname: &str, value: &str) -> Result<Option<QueuedJob>> { todo!() }
    /// Grabs one job of `funcname` whose coalesce value starts with `prefix` (literally).
    pub fn find_job_with_coalescing_prefix(&self, funcname: &str, prefix: &str) -> Result<Option<QueuedJob>> { todo!() }
    /// Grabs up to `limit` jobs of all abilities, across stores, in as few round trips as
    /// possible (SKIP LOCKED where available).
    pub fn grab_jobs(&self, limit: usize) -> Result<Vec<QueuedJob>> { todo!() }
    /// Makes grabbed-but-unstarted jobs grabbable again at once (fenced).
    pub fn release(&self, jobs: Vec<QueuedJob>) -> Result<()> { todo!() }

    // ---- working ------------------------------------------------------------------------

    /// Finds and works one job; `Ok(false)` when none was found.
    pub fn work_once(&self) -> Result<bool> { todo!() }
    /// Works this job (TheSchwartz `work_once($job)`).
    pub fn work_once_on(&self, job: QueuedJob) -> Result<bool> { todo!() }
    /// Works until no job is found; returns how many were worked.
    pub fn work_until_done(&self) -> Result<usize> { todo!() }
    /// Works forever, sleeping `delay` (zero means 5 s) after finding nothing, until `stop`.
    pub fn work(&self, delay: Duration, stop: &StopSignal) -> Result<()> { todo!() }
    /// Works the job behind the handle without grabbing it; `Ok(false)` if it is gone.
    pub fn work_on(&self, handle: &JobHandle) -> Result<bool> { todo!() }
    /// Grabs the job behind the handle (ignoring run_after) and works it; `Ok(false)` if it
    /// is gone, leased, or the claim lost.
    pub fn grab_and_work_on(&self, handle: &JobHandle) -> Result<bool> { todo!() }
    /// Runs the job's worker, catching errors and panics, and writes the outcome.
    pub fn work_safely(&self, job: QueuedJob) -> Result<WorkOutcome> { todo!() }
    /// As `work_safely`, but a plain `Ok` completion is returned for batch writing instead
    /// of being written.
    pub fn work_deferred(&self, job: QueuedJob) -> Result<(WorkOutcome, Option<DeferredCompletion>)> { todo!() }
    /// Writes deferred completions, one `Store::finish` call per store; per job
    /// `Ok(())` or `Err(LeaseLost)`.
    pub fn complete_deferred(&self, items: Vec<DeferredCompletion>) -> Result<Vec<(JobHandle, Result<()>)>> { todo!() }
    /// The calling thread's current job (failures of `work` are charged to it).
    pub fn current_job(&self) -> Option<QueuedJob> { todo!() }
    /// Prunes old errors and expired exit statuses in every live store, at most `limit` rows
    /// of each per store.
    pub fn prune(&self, limit: usize) -> Result<PruneReport> { todo!() }
    /// The scoreboard file of this client, when scoreboards are on.
    pub fn scoreboard_path(&self) -> Option<PathBuf> { todo!() }
}
