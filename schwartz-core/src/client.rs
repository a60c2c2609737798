//! The [`Client`]: TheSchwartz's client object over one or more stores.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use std::collections::HashMap;

use crate::client_impl::{
    ceil_secs, duplicate_error, lock, rendezvous_order, Inner, Settings, StoreEntry,
    DEFAULT_BATCH_SIZE, DEFAULT_CLOCK_REFRESH, DEFAULT_ERROR_MAX_AGE, DEFAULT_EXIT_CLEAN_P,
    DEFAULT_RETRY,
};
use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::{datetime_to_epoch, epoch_to_datetime, Epoch, StoreHash};
use crate::job::{check_name, Job};
use crate::queued::QueuedJob;
use crate::scoreboard::Scoreboard;
use crate::store::{CoalesceFilter, Finish, FinishAction, FinishStatus, JobOrder, JobQuery, Store};
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
/// [`Client::complete_deferred`] in one round trip per store. Cloning keeps a copy to
/// retry with when a store was unavailable.
#[derive(Debug, Clone)]
pub struct DeferredCompletion {
    pub(crate) handle: JobHandle,
    pub(crate) finish: Finish,
    pub(crate) job: QueuedJob,
}

impl DeferredCompletion {
    /// The job.
    pub fn handle(&self) -> &JobHandle {
        &self.handle
    }
    /// The job itself.
    pub fn job(&self) -> &QueuedJob {
        &self.job
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
    pub(crate) server_clock_refresh: Option<Duration>,
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
    /// How often each store's clock is read (default one second). In between, the client
    /// extrapolates the last reading with the local clock, which saves a round trip per
    /// operation; the result lags the store's clock by under a second and is never ahead of
    /// it. `Duration::ZERO` reads the store's clock for every operation (for stores whose
    /// clock jumps, such as a `MemoryStore` with a manual clock; tests should rather move
    /// time with [`TimeShift`]).
    pub fn server_clock_refresh(mut self, every: Duration) -> Self {
        self.server_clock_refresh = Some(every);
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
        if self.floor.is_some() && self.order != JobOrder::PriorityDesc {
            return Err(Error::InvalidInput(String::from(
                "a floor only works with JobOrder::PriorityDesc (set_floor only works if prioritize is set)",
            )));
        }
        if self.batch_size == Some(0) {
            return Err(Error::InvalidInput(String::from(
                "batch_size must be at least 1",
            )));
        }
        let exit_clean_p = self
            .exit_status_clean_probability
            .unwrap_or(DEFAULT_EXIT_CLEAN_P);
        if !(0.0..=1.0).contains(&exit_clean_p) {
            return Err(Error::InvalidInput(format!(
                "exit_status_clean_probability must be within 0..=1, got {exit_clean_p}"
            )));
        }
        let mut stores: Vec<StoreEntry> = Vec::with_capacity(self.stores.len());
        for store in self.stores {
            let hash = StoreHash::of(&store.identity());
            if let Some(other) = stores.iter().find(|e| e.hash == hash) {
                return Err(Error::InvalidInput(format!(
                    "two stores have the same identity (hash {hash}): {} and {}",
                    other.store.describe(),
                    store.describe()
                )));
            }
            stores.push(StoreEntry {
                hash,
                store,
                funcs: Mutex::new(Default::default()),
                dead_until_ms: Mutex::new(None),
                clock: Mutex::new(None),
            });
        }
        let retry = match self.retry_seconds {
            Some(d) if !d.is_zero() => d,
            _ => DEFAULT_RETRY,
        };
        let (scoreboard, scoreboard_base) = match self.scoreboard {
            None => (None, None),
            Some(dir) => {
                let base = match dir {
                    ScoreboardDir::Path(p) => p,
                    ScoreboardDir::Auto => ["/var/run", "/dev/shm"]
                        .iter()
                        .map(PathBuf::from)
                        .find(|p| p.is_dir())
                        .unwrap_or_else(|| PathBuf::from("/dev/shm")),
                };
                let board =
                    Scoreboard::create(&base, &format!("scoreboard.{}", std::process::id()))?;
                (Some(board), Some(base))
            }
        };
        let settings = Settings {
            order: self.order,
            floor: self.floor,
            batch_size: self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
            rotation: self.rotation,
            candidate_order: self.candidate_order,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                stores,
                settings: Mutex::new(settings),
                abilities: Mutex::new(Default::default()),
                retry_ms: i64::try_from(retry.as_millis()).unwrap_or(i64::MAX),
                grab_strategy: self.grab_strategy,
                error_max_age: ceil_secs(self.error_max_age.unwrap_or(DEFAULT_ERROR_MAX_AGE)),
                exit_clean_p,
                pruning: self.pruning,
                time_shift: self.time_shift,
                clock_refresh: self.server_clock_refresh.unwrap_or(DEFAULT_CLOCK_REFRESH),
                hooks: self.hooks,
                scoreboard,
                scoreboard_base,
                current: Mutex::new(HashMap::new()),
                listeners: Mutex::new(Vec::new()),
            }),
        })
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
        let stores: Vec<String> = self
            .inner
            .stores
            .iter()
            .map(|e| format!("{} ({})", e.hash, e.store.describe()))
            .collect();
        f.debug_struct("Client")
            .field("stores", &stores)
            .field("settings", &*lock(&self.inner.settings))
            .field("abilities", &self.abilities())
            .field("scoreboard", &self.scoreboard_path())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    // ---- stores -------------------------------------------------------------------------

    /// The configured stores' hashes, in configuration order.
    pub fn store_hashes(&self) -> Vec<StoreHash> {
        self.inner.stores.iter().map(|e| e.hash.clone()).collect()
    }
    /// The store with this hash.
    pub fn store(&self, hash: &StoreHash) -> Option<Arc<dyn Store>> {
        self.index_of(hash)
            .map(|i| Arc::clone(&self.entry(i).store))
    }
    /// The store's clock plus the time shift (epoch seconds).
    ///
    /// # Errors
    /// [`Error::UnknownStore`] for a hash no configured store has, or the store's error.
    pub fn now(&self, hash: &StoreHash) -> Result<Epoch> {
        let idx = self.index_of(hash).ok_or_else(|| Error::UnknownStore {
            hash: hash.to_string(),
            handle: hash.to_string(),
        })?;
        self.now_of(idx)
    }
    /// The store's clock plus the time shift.
    ///
    /// # Errors
    /// As [`Client::now`].
    pub fn server_time(&self, hash: &StoreHash) -> Result<DateTime<Utc>> {
        self.now(hash).map(epoch_to_datetime)
    }
    /// Marks a store dead for `retry_seconds` (unknown hashes are ignored).
    pub fn mark_dead(&self, hash: &StoreHash, reason: &str) {
        if let Some(idx) = self.index_of(hash) {
            self.mark_dead_idx(idx, reason);
        }
    }
    /// Whether a store is marked dead (revived once its retry time has passed).
    pub fn is_dead(&self, hash: &StoreHash) -> bool {
        self.index_of(hash).is_some_and(|idx| self.is_dead_idx(idx))
    }
    /// Forgets all dead marks.
    pub fn clear_dead(&self) {
        for e in &self.inner.stores {
            *lock(&e.dead_until_ms) = None;
        }
    }
    /// The time shift in use.
    pub fn time_shift(&self) -> TimeShift {
        self.inner.time_shift.clone()
    }
    /// The stores a job with this uniqkey is tried in, home store first (rendezvous
    /// hashing over `md5(store hash \0 funcname \0 uniqkey)`; dead stores included).
    pub fn home_stores(&self, funcname: &str, uniqkey: &str) -> Vec<StoreHash> {
        let hashes = self.store_hashes();
        rendezvous_order(&hashes, funcname, uniqkey)
            .into_iter()
            .map(|i| hashes[i].clone())
            .collect()
    }

    // ---- abilities and settings ---------------------------------------------------------

    /// Registers `worker` for `funcname` and adds it to the abilities (all and current;
    /// a second registration of the same name replaces the worker and adds the name again,
    /// as TheSchwartz does).
    ///
    /// A worker that needs the client should use [`QueuedJob::client`] rather than capture
    /// a clone of it: the client owns its workers, so a captured clone keeps the client (and
    /// its scoreboard file) alive for the rest of the process.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or over-255-byte name.
    pub fn can_do(&self, funcname: &str, worker: impl Worker) -> Result<()> {
        self.can_do_arc(funcname, Arc::new(worker))
    }
    /// Same, with a shared worker.
    ///
    /// # Errors
    /// As [`Client::can_do`].
    pub fn can_do_arc(&self, funcname: &str, worker: Arc<dyn Worker>) -> Result<()> {
        check_name("funcname", funcname)?;
        let mut ab = lock(&self.inner.abilities);
        ab.workers.insert(funcname.to_string(), worker);
        ab.all.push(funcname.to_string());
        ab.current.push(funcname.to_string());
        Ok(())
    }
    /// Empties the abilities (registered workers stay known for jobs already grabbed).
    pub fn reset_abilities(&self) {
        let mut ab = lock(&self.inner.abilities);
        ab.all.clear();
        ab.current.clear();
    }
    /// The current abilities (after rotation).
    pub fn current_abilities(&self) -> Vec<String> {
        lock(&self.inner.abilities).current.clone()
    }
    /// All abilities.
    pub fn abilities(&self) -> Vec<String> {
        lock(&self.inner.abilities).all.clone()
    }
    /// The worker registered for a function.
    pub fn worker_for(&self, funcname: &str) -> Option<Arc<dyn Worker>> {
        lock(&self.inner.abilities).workers.get(funcname).cloned()
    }
    /// Sets the candidate order.
    pub fn set_order(&self, order: JobOrder) {
        lock(&self.inner.settings).order = order;
    }
    /// Sets or clears the floor.
    ///
    /// # Errors
    /// `InvalidInput` unless the order is `PriorityDesc`.
    pub fn set_floor(&self, floor: Option<i32>) -> Result<()> {
        let mut s = lock(&self.inner.settings);
        if floor.is_some() && s.order != JobOrder::PriorityDesc {
            return Err(Error::InvalidInput(String::from(
                "set_floor only works if prioritize is set (JobOrder::PriorityDesc)",
            )));
        }
        s.floor = floor;
        Ok(())
    }
    /// Sets the batch size.
    ///
    /// # Errors
    /// `InvalidInput` for zero.
    pub fn set_batch_size(&self, n: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::InvalidInput(String::from(
                "batch_size must be at least 1",
            )));
        }
        lock(&self.inner.settings).batch_size = n;
        Ok(())
    }
    /// The candidate select LIMIT in use.
    pub fn batch_size(&self) -> usize {
        lock(&self.inner.settings).batch_size
    }
    /// Sets ability rotation.
    pub fn set_ability_rotation(&self, r: AbilityRotation) {
        lock(&self.inner.settings).rotation = r;
    }
    /// Sets candidate shuffling.
    pub fn set_candidate_order(&self, o: CandidateOrder) {
        lock(&self.inner.settings).candidate_order = o;
    }
    /// Calls `f` after every successful insert through this client (local wake-ups),
    /// including the replacements of `replace_with`. `f` must not block.
    pub fn on_insert(&self, f: impl Fn(&StoreHash) + Send + Sync + 'static) {
        lock(&self.inner.listeners).push(Arc::new(f));
    }

    // ---- inserting ----------------------------------------------------------------------

    /// Inserts one job (uniqkey jobs go to their home store, others to a random live one,
    /// failing over to the next store when one is unavailable).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a job [`Job::validate`] refuses;
    /// [`Error::DuplicateUniqkey`] when its store already has a pending job with the same
    /// funcname and uniqkey (other stores are not tried); [`Error::NoStore`] when no store is
    /// configured or all are marked dead; else the last store's error.
    pub fn insert(&self, job: Job) -> Result<JobHandle> {
        let (idx, ids) = self.insert_with_failover(std::slice::from_ref(&job))?;
        let id = ids.into_iter().next().ok_or_else(|| Error::Database {
            store: self.entry(idx).store.describe(),
            message: String::from("insert returned no job id"),
        })?;
        Ok(JobHandle::new(self.entry(idx).hash.clone(), id))
    }
    /// Inserts jobs all-or-nothing into one store, failing over as `insert` does. An empty
    /// list inserts nothing.
    ///
    /// # Errors
    /// As [`Client::insert`]; two jobs of the list with the same funcname and uniqkey are
    /// `DuplicateUniqkey`, and nothing is inserted.
    pub fn insert_jobs(&self, jobs: Vec<Job>) -> Result<Vec<JobHandle>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let (idx, ids) = self.insert_with_failover(&jobs)?;
        let hash = &self.entry(idx).hash;
        Ok(ids
            .into_iter()
            .map(|id| JobHandle::new(hash.clone(), id))
            .collect())
    }

    // ---- inspecting ---------------------------------------------------------------------

    /// Parses a handle string and checks its store is configured.
    ///
    /// # Errors
    /// [`Error::MalformedHandle`], or [`Error::UnknownStore`] ("no configured database has
    /// hash ...").
    pub fn handle_from_string(&self, s: &str) -> Result<JobHandle> {
        let handle: JobHandle = s.parse()?;
        self.index_for_handle(&handle)?;
        Ok(handle)
    }
    /// The pending job behind a handle (no grab; dead marks are not checked).
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error (also when the job's funcid has no
    /// funcmap row even after reloading the funcmap).
    pub fn lookup_job(&self, handle: &JobHandle) -> Result<Option<QueuedJob>> {
        let idx = self.index_for_handle(handle)?;
        let Some(row) = self.entry(idx).store.lookup(handle.jobid())? else {
            return Ok(None);
        };
        let name = self.funcname_of(idx, row.funcid)?;
        Ok(Some(QueuedJob::from_row(self, idx, name, row)))
    }
    /// Pending jobs matching the filters, from every live store (at most `limit` per store,
    /// ordered as candidates are; the client's floor applies). A failing store is marked
    /// dead and skipped.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] without function names or with an invalid one;
    /// [`Error::NoStore`] when no store is live; the store's error when every store failed.
    pub fn list_jobs(&self, filter: &ListJobs) -> Result<Vec<QueuedJob>> {
        if filter.funcnames.is_empty() {
            return Err(Error::InvalidInput(String::from(
                "list_jobs needs at least one funcname",
            )));
        }
        for name in &filter.funcnames {
            check_name("funcname", name)?;
        }
        crate::validate::coalesce_filter(filter.coalesce.as_ref())?;
        let settings = self.settings();
        let limit = filter.limit.unwrap_or(settings.batch_size);
        let live = self.live_shuffled();
        if live.is_empty() {
            return Err(self.all_dead_error());
        }
        let mut out = Vec::new();
        let mut ok = 0usize;
        let mut last_err = None;
        for idx in live {
            let listed = (|| -> Result<Vec<QueuedJob>> {
                let mut funcids = Vec::with_capacity(filter.funcnames.len());
                let mut names = Vec::with_capacity(filter.funcnames.len());
                for name in &filter.funcnames {
                    let id = self.funcid_of(idx, name)?;
                    if !funcids.contains(&id) {
                        funcids.push(id);
                        names.push((id, name.clone()));
                    }
                }
                let query = JobQuery {
                    funcids,
                    run_after_max: filter.run_after.map(datetime_to_epoch),
                    grabbed_until_max: filter.grabbed_until.map(datetime_to_epoch),
                    jobid: filter.jobid,
                    floor: settings.floor,
                    coalesce: filter.coalesce.clone(),
                    order: settings.order,
                    limit,
                };
                let rows = self.entry(idx).store.select_jobs(&query)?;
                rows.into_iter()
                    .map(|row| {
                        let name = match names.iter().find(|(f, _)| *f == row.funcid) {
                            Some((_, n)) => n.clone(),
                            None => self.funcname_of(idx, row.funcid)?,
                        };
                        Ok(QueuedJob::from_row(self, idx, name, row))
                    })
                    .collect()
            })();
            match listed {
                Ok(mut jobs) => {
                    ok += 1;
                    out.append(&mut jobs);
                }
                Err(e) if e.marks_store_dead() => {
                    self.note_store_error(idx, &e);
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        match last_err {
            Some(e) if ok == 0 => Err(e),
            _ => Ok(out),
        }
    }
    /// Whether the job is still pending.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn is_pending(&self, handle: &JobHandle) -> Result<bool> {
        let idx = self.index_for_handle(handle)?;
        Ok(self.entry(idx).store.lookup(handle.jobid())?.is_some())
    }
    /// The job's exit status, if one was kept.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn exit_status(&self, handle: &JobHandle) -> Result<Option<i32>> {
        let idx = self.index_for_handle(handle)?;
        Ok(self
            .entry(idx)
            .store
            .exit_status(handle.jobid())?
            .map(|e| e.status))
    }
    /// How many failures the job has on record.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn failures(&self, handle: &JobHandle) -> Result<u64> {
        let idx = self.index_for_handle(handle)?;
        Ok(self.entry(idx).store.failures(handle.jobid())?.len() as u64)
    }
    /// The job's failure messages.
    ///
    /// # Errors
    /// [`Error::UnknownStore`], or the store's error.
    pub fn failure_log(&self, handle: &JobHandle) -> Result<Vec<String>> {
        let idx = self.index_for_handle(handle)?;
        Ok(self
            .entry(idx)
            .store
            .failures(handle.jobid())?
            .into_iter()
            .map(|f| f.message)
            .collect())
    }

    // ---- finding and grabbing -----------------------------------------------------------

    /// Grabs one job of these functions (default: the current abilities): live stores in
    /// random order, up to `batch_size` eligible candidates each, shuffled (unless
    /// `CandidateOrder::AsSelected`) and claimed one at a time. A failing store is marked
    /// dead and skipped. Unknown names get funcmap rows, as in TheSchwartz.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid name; errors that do not mark a store dead.
    pub fn find_job_for_workers(&self, abilities: Option<&[&str]>) -> Result<Option<QueuedJob>> {
        let names: Vec<String> = match abilities {
            Some(a) => a.iter().map(|s| s.to_string()).collect(),
            None => self.current_abilities(),
        };
        self.find_one(&names, None, true)
    }
    /// Grabs one job of this function (`Worker->grab_job`).
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`].
    pub fn grab_job(&self, funcname: &str) -> Result<Option<QueuedJob>> {
        self.find_job_for_workers(Some(&[funcname]))
    }
    /// Grabs one job of `funcname` whose coalesce value equals `value`.
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`].
    pub fn find_job_with_coalescing_value(
        &self,
        funcname: &str,
        value: &str,
    ) -> Result<Option<QueuedJob>> {
        self.find_one(
            &[funcname.to_string()],
            Some(CoalesceFilter::Equals(value.to_string())),
            false,
        )
    }
    /// Grabs one job of `funcname` whose coalesce value starts with `prefix` (literally).
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`].
    pub fn find_job_with_coalescing_prefix(
        &self,
        funcname: &str,
        prefix: &str,
    ) -> Result<Option<QueuedJob>> {
        self.find_one(
            &[funcname.to_string()],
            Some(CoalesceFilter::Prefix(prefix.to_string())),
            false,
        )
    }
    /// Grabs up to `limit` jobs of all abilities, across stores, in as few round trips as
    /// possible (SKIP LOCKED where available and `GrabStrategy::Auto`; else one select and
    /// one multi-row claim per store). No ability rotation. Failing stores are marked dead
    /// and skipped.
    ///
    /// # Errors
    /// Errors that do not mark a store dead, when no job was grabbed.
    pub fn grab_jobs(&self, limit: usize) -> Result<Vec<QueuedJob>> {
        self.grab_batch(limit)
    }
    /// Makes grabbed-but-unstarted jobs grabbable again at once (fenced; a job whose lease
    /// was lost is logged and skipped). Released jobs count as finished for this process.
    ///
    /// # Errors
    /// The first store error (the other stores' jobs are still released).
    pub fn release(&self, jobs: Vec<QueuedJob>) -> Result<()> {
        let mut groups: HashMap<usize, Vec<QueuedJob>> = HashMap::new();
        for job in jobs {
            if job.did_something() {
                continue;
            }
            groups.entry(job.store_idx()).or_default().push(job);
        }
        let mut first_err = None;
        for (idx, jobs) in groups {
            let finishes: Vec<Finish> = jobs
                .iter()
                .map(|j| Finish {
                    jobid: j.jobid(),
                    funcid: j.funcid(),
                    token: j.token(),
                    failure: None,
                    action: FinishAction::Reschedule { run_after: None },
                })
                .collect();
            match self.entry(idx).store.finish(&finishes) {
                Ok(statuses) => {
                    for (job, status) in jobs.iter().zip(statuses) {
                        match status {
                            FinishStatus::LeaseLost => {
                                log::warn!("{}", job.lease_lost(job.token()));
                                job.mark_done(WorkOutcome::LeaseLost);
                            }
                            FinishStatus::Rejected(e) => {
                                log::warn!("releasing job {}: {e}", job.handle());
                            }
                            _ => job.mark_done(WorkOutcome::Declined),
                        }
                    }
                }
                Err(e) => {
                    log::warn!(
                        "releasing jobs in {}: {e}",
                        self.entry(idx).store.describe()
                    );
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    // ---- working ------------------------------------------------------------------------

    /// Finds and works one job; `Ok(false)` when none was found. With ability rotation the
    /// function just worked is left out of the next search (restored on a miss).
    ///
    /// # Errors
    /// As [`Client::find_job_for_workers`] and [`Client::work_safely`].
    pub fn work_once(&self) -> Result<bool> {
        let rotate = self.settings().rotation == AbilityRotation::Rotate;
        let (current, all_len) = {
            let ab = lock(&self.inner.abilities);
            (ab.current.clone(), ab.all.len())
        };
        let mut job = self.find_one(&current, None, true)?;
        if job.is_none() && rotate && current.len() < all_len {
            self.restore_full_abilities();
            let all = self.current_abilities();
            job = self.find_one(&all, None, true)?;
        }
        match job {
            Some(job) => self.work_once_on(job),
            None => {
                log::debug!("TheSchwartz::work_once found no jobs");
                Ok(false)
            }
        }
    }
    /// Works this job (TheSchwartz `work_once($job)`); always `Ok(true)` unless writing
    /// the outcome failed.
    ///
    /// # Errors
    /// As [`Client::work_safely`].
    pub fn work_once_on(&self, job: QueuedJob) -> Result<bool> {
        match job.priority() {
            Some(p) => log::debug!(
                "TheSchwartz::work_once got job of class '{}', priority {p}",
                job.funcname()
            ),
            None => log::debug!(
                "TheSchwartz::work_once got job of class '{}'",
                job.funcname()
            ),
        }
        if self.settings().rotation == AbilityRotation::Rotate {
            self.temporarily_remove_ability(job.funcname());
        }
        self.work_safely(job)?;
        Ok(true)
    }
    /// Works until no job is found; returns how many were worked.
    ///
    /// # Errors
    /// As [`Client::work_once`] (the jobs worked before the error stay worked).
    pub fn work_until_done(&self) -> Result<usize> {
        let mut n = 0;
        while self.work_once()? {
            n += 1;
        }
        Ok(n)
    }
    /// Works forever, sleeping `delay` (zero means 5 s) after finding nothing, until `stop`.
    /// An error of one cycle (a store going away while writing an outcome) is logged and
    /// treated as finding nothing, so the loop keeps going.
    ///
    /// # Errors
    /// None at present; the `Result` leaves room for fatal errors.
    pub fn work(&self, delay: Duration, stop: &StopSignal) -> Result<()> {
        let delay = if delay.is_zero() {
            Duration::from_secs(5)
        } else {
            delay
        };
        loop {
            if stop.is_stopped() {
                return Ok(());
            }
            let worked = match self.work_once() {
                Ok(w) => w,
                Err(e) => {
                    log::warn!("TheSchwartz::work: {e}");
                    false
                }
            };
            if !worked && stop.wait_timeout(delay) {
                return Ok(());
            }
        }
    }
    /// Works the job behind the handle without grabbing it (no lease, run_after ignored);
    /// `Ok(false)` if it is gone.
    ///
    /// # Errors
    /// As [`Client::lookup_job`] and [`Client::work_safely`].
    pub fn work_on(&self, handle: &JobHandle) -> Result<bool> {
        match self.lookup_job(handle)? {
            Some(job) => self.work_once_on(job),
            None => Ok(false),
        }
    }
    /// Grabs the job behind the handle (ignoring run_after) and works it; `Ok(false)` if it
    /// is gone, leased, or the claim lost.
    ///
    /// # Errors
    /// As [`Client::lookup_job`] and [`Client::work_safely`].
    pub fn grab_and_work_on(&self, handle: &JobHandle) -> Result<bool> {
        let idx = self.index_for_handle(handle)?;
        let store = Arc::clone(&self.entry(idx).store);
        let Some(mut row) = store.lookup(handle.jobid())? else {
            return Ok(false);
        };
        let now = self.now_of(idx)?;
        if now < row.grabbed_until {
            return Ok(false);
        }
        let name = self.funcname_of(idx, row.funcid)?;
        let lease_until = now.saturating_add(self.grab_for_of(&name));
        let claim = crate::store::Claim {
            jobid: row.jobid,
            expected: row.grabbed_until,
            lease_until,
        };
        if !store.claim(&[claim], now)?.contains(&row.jobid) {
            if let Some(h) = &self.inner.hooks.lost_race {
                h();
            }
            return Ok(false);
        }
        row.grabbed_until = lease_until;
        self.work_once_on(QueuedJob::from_row(self, idx, name, row))
    }
    /// Runs the job's worker, catching errors and panics, and writes the outcome:
    /// `Ok(())` without an explicit outcome completes the job, `Err(e)` fails it with `e`'s
    /// text (and its sources, `": "`-separated), a panic fails it with `panic: <message>`,
    /// a function without a registered worker fails with [`Error::NoWorker`]'s text.
    /// Failures go to the thread's current job at the end of `work`
    /// ([`QueuedJob::set_as_current`]). A lost lease is logged and reported as
    /// [`WorkOutcome::LeaseLost`].
    ///
    /// # Errors
    /// The store's error when the outcome cannot be written.
    pub fn work_safely(&self, job: QueuedJob) -> Result<WorkOutcome> {
        self.run_job(job, false).map(|(outcome, _)| outcome)
    }
    /// As `work_safely`, but a plain `Ok` completion is returned for batch writing instead
    /// of being written (its outcome reads `Completed`). The client's scoreboard is not
    /// written: the caller (the worker pool) keeps its own, one per thread.
    ///
    /// # Errors
    /// As [`Client::work_safely`].
    pub fn work_deferred(
        &self,
        job: QueuedJob,
    ) -> Result<(WorkOutcome, Option<DeferredCompletion>)> {
        self.run_job(job, true)
    }
    /// Writes deferred completions, one `Store::finish` call per store; per job
    /// `Ok(())` or `Err(LeaseLost)` (or the store's error when its call failed), in the
    /// order given.
    ///
    /// # Errors
    /// None at present: failures are reported per job.
    pub fn complete_deferred(
        &self,
        items: Vec<DeferredCompletion>,
    ) -> Result<Vec<(JobHandle, Result<()>)>> {
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let idx = item.job.store_idx();
            match groups.iter_mut().find(|(g, _)| *g == idx) {
                Some((_, v)) => v.push(i),
                None => groups.push((idx, vec![i])),
            }
        }
        let mut results: Vec<Option<Result<()>>> = items.iter().map(|_| None).collect();
        for (idx, members) in groups {
            // Fenced on the job's lease as it is now: the lease may have been extended since
            // the completion was deferred.
            let finishes: Vec<Finish> = members
                .iter()
                .map(|&i| Finish {
                    token: items[i].job.token(),
                    ..items[i].finish.clone()
                })
                .collect();
            match self.entry(idx).store.finish(&finishes) {
                Ok(statuses) => {
                    let mut statuses = statuses.into_iter();
                    let mut exit_at = None;
                    for &i in &members {
                        let item = &items[i];
                        let r = match statuses.next() {
                            Some(FinishStatus::Done) | Some(FinishStatus::Replaced(_)) => {
                                item.job.mark_done(WorkOutcome::Completed);
                                if let FinishAction::Remove {
                                    exit_status: Some(es),
                                } = &item.finish.action
                                {
                                    exit_at = Some(es.completion_time);
                                }
                                Ok(())
                            }
                            Some(FinishStatus::LeaseLost) => {
                                item.job.set_last_outcome(WorkOutcome::LeaseLost);
                                Err(item.job.lease_lost(item.job.token()))
                            }
                            Some(FinishStatus::Rejected(e)) => Err(e),
                            None => Err(Error::Database {
                                store: self.entry(idx).store.describe(),
                                message: String::from("finish returned too few statuses"),
                            }),
                        };
                        results[i] = Some(r);
                    }
                    if let Some(now) = exit_at {
                        self.after_exit_status_written(idx, now);
                    }
                }
                Err(e) => {
                    for &i in &members {
                        results[i] = Some(Err(duplicate_error(&e)));
                    }
                }
            }
        }
        Ok(items
            .into_iter()
            .zip(results)
            .map(|(item, r)| (item.handle, r.unwrap_or(Ok(()))))
            .collect())
    }
    /// The calling thread's current job (failures of `work` are charged to it).
    pub fn current_job(&self) -> Option<QueuedJob> {
        lock(&self.inner.current)
            .get(&std::thread::current().id())
            .cloned()
    }
    /// Prunes old errors (older than `error_max_age`) and expired exit statuses in every
    /// live store, at most `limit` rows of each per store. A failing store is marked dead.
    ///
    /// # Errors
    /// The store's error when every live store failed.
    pub fn prune(&self, limit: usize) -> Result<PruneReport> {
        let mut report = PruneReport::default();
        let mut ok = 0usize;
        let mut last_err = None;
        for idx in self.live_shuffled() {
            let r = (|| -> Result<(u64, u64)> {
                let now = self.now_of(idx)?;
                let store = &self.entry(idx).store;
                let errors =
                    store.prune_errors(now.saturating_sub(self.inner.error_max_age), limit)?;
                let exits = store.prune_exit_statuses(now, limit)?;
                Ok((errors, exits))
            })();
            match r {
                Ok((e, x)) => {
                    ok += 1;
                    report.errors += e;
                    report.exit_statuses += x;
                }
                Err(e) => {
                    log::warn!("pruning {}: {e}", self.entry(idx).store.describe());
                    self.note_store_error(idx, &e);
                    last_err = Some(e);
                }
            }
        }
        match last_err {
            Some(e) if ok == 0 => Err(e),
            _ => Ok(report),
        }
    }
    /// The scoreboard file of this client, when scoreboards are on.
    pub fn scoreboard_path(&self) -> Option<PathBuf> {
        self.inner
            .scoreboard
            .as_ref()
            .map(|b| b.path().to_path_buf())
    }
    /// The scoreboard base directory in use (the files are in its `theschwartz/`
    /// subdirectory), when scoreboards are on. Other scoreboards of the process (e.g. one
    /// per worker-pool thread) belong there.
    pub fn scoreboard_base_dir(&self) -> Option<PathBuf> {
        self.inner.scoreboard_base.clone()
    }
}
