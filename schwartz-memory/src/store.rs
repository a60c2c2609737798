//! [`MemoryStore`]: the [`Store`] contract in memory.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use schwartz_core::store::{
    Claim, ExitStatus, FailureRecord, Finish, FinishStatus, FuncMap, JobQuery, JobRecords, JobRow,
    Lease, NewJobRow, Notifier, ResultRow, ResultWrite, ScheduleRow, Store, StoreStats, TickInsert,
};
use schwartz_core::{Epoch, Error, FuncId, JobId, Result};

use crate::clock::{Clock, SystemClock};
use crate::notify::{MemoryNotifier, Signal};
use crate::tables::Tables;

/// Numbers the anonymous stores of this process.
static NEXT_ANONYMOUS: AtomicU64 = AtomicU64::new(1);

/// One in-memory "database" holding TheSchwartz's tables, implementing the whole [`Store`]
/// contract. It behaves as a SQL database with TheSchwartz's schema would (auto-increment ids
/// that are never reused, `UNIQUE(funcid, uniqkey)`, `ORDER BY ... LIMIT`, transactions),
/// so tests written against it hold on the SQL stores too.
///
/// All state sits behind one mutex and every operation is one atomic transaction: a refused
/// operation writes nothing. Time comes from a [`Clock`] (the system clock unless
/// [`MemoryStore::with_clock`] says otherwise). Failover tests can take the store offline
/// ([`MemoryStore::set_offline`]) or model a database without tables
/// ([`MemoryStore::without_schema`]).
///
/// Column limits follow the schema: `funcname`, `uniqkey` and `coalesce` longer than 255
/// characters are refused with [`Error::Database`] (as PostgreSQL and strict MySQL do), and
/// `error.message` is cut to 65 535 bytes at a character boundary (a `TEXT` column). String
/// comparisons (uniqkeys, coalesce values and prefixes) are case-sensitive, as on PostgreSQL.
///
/// ```
/// use std::sync::Arc;
/// use schwartz_core::store::{JobQuery, Store};
/// use schwartz_memory::{ManualClock, MemoryStore};
///
/// let clock = ManualClock::new(1_000);
/// let store: Arc<dyn Store> =
///     Arc::new(MemoryStore::named("demo").with_clock(Arc::new(clock.clone())));
/// assert_eq!(store.identity(), "memory:demo|");
/// assert_eq!(store.server_time()?, 1_000);
/// let funcid = store.funcid("send_email")?;
/// assert!(store.select_jobs(&JobQuery::eligible(vec![funcid], 1_000, 10))?.is_empty());
/// # Ok::<(), schwartz_core::Error>(())
/// ```
pub struct MemoryStore {
    name: String,
    clock: Arc<dyn Clock>,
    tables: Mutex<Tables>,
    offline: Arc<AtomicBool>,
    schema: AtomicBool,
    signal: Arc<Signal>,
    /// Bumped when results are written ([`Store::result_notifier`]).
    results_signal: Arc<Signal>,
}

impl MemoryStore {
    /// An empty store with a name unique in this process (`#1`, `#2`, ...), so two stores
    /// made with `new` have different identities and hashes.
    pub fn new() -> Self {
        let n = NEXT_ANONYMOUS.fetch_add(1, Ordering::Relaxed);
        MemoryStore::named(format!("#{n}"))
    }

    /// An empty store with identity `"memory:<name>|"`. Two stores with the same name have
    /// the same identity (hence the same [`StoreHash`](schwartz_core::StoreHash)), like two
    /// connections to one database, but they do not share their tables.
    pub fn named(name: impl Into<String>) -> Self {
        MemoryStore {
            name: name.into(),
            clock: Arc::new(SystemClock),
            tables: Mutex::new(Tables::new()),
            offline: Arc::new(AtomicBool::new(false)),
            schema: AtomicBool::new(true),
            signal: Arc::new(Signal::default()),
            results_signal: Arc::new(Signal::default()),
        }
    }

    /// An anonymous store (as [`MemoryStore::new`]) whose tables were never created: every
    /// operation that touches a table fails with [`Error::SchemaMissing`], as a database on
    /// which the migrations were never run. [`Store::server_time`] and [`Store::notifier`]
    /// still work, as they do on a SQL database without tables.
    /// [`MemoryStore::create_schema`] "runs the migrations".
    pub fn without_schema() -> Self {
        let store = MemoryStore::new();
        store.schema.store(false, Ordering::SeqCst);
        store
    }

    /// Creates the tables of a store made by [`MemoryStore::without_schema`] (empty); a
    /// no-op on a store that has them.
    pub fn create_schema(&self) {
        self.schema.store(true, Ordering::SeqCst);
    }

    /// Uses `clock` as the server clock ([`Store::server_time`]) instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Takes the store offline (`true`) or back online (`false`). While offline every
    /// operation fails with [`Error::Unavailable`], as an unreachable database server; the
    /// data is kept and is there again once online.
    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::SeqCst);
    }

    /// Whether the store is offline (see [`MemoryStore::set_offline`]).
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::SeqCst)
    }

    /// The store's name, as in its identity `"memory:<name>|"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Fails as an unreachable server would.
    fn connect(&self) -> Result<()> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(Error::Unavailable {
                store: self.describe(),
                message: "the store is offline (fault injected with set_offline)".to_owned(),
            });
        }
        Ok(())
    }

    /// Connects and locks the tables.
    fn tables(&self) -> Result<MutexGuard<'_, Tables>> {
        self.connect()?;
        if !self.schema.load(Ordering::SeqCst) {
            return Err(Error::SchemaMissing {
                store: self.describe(),
                message: "no such table: the schwartz tables were never created \
                          (MemoryStore::without_schema)"
                    .to_owned(),
            });
        }
        Ok(self.tables.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("name", &self.name)
            .field("clock", &self.clock)
            .field("offline", &self.offline.load(Ordering::Relaxed))
            .field("schema", &self.schema.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The latest time a memory store takes: 9999-12-31T23:59:59Z, as the 64-bit time columns
/// of schwartz-diesel's migrations (every conversion to a calendar date stays in range).
pub(crate) const MAX_EPOCH: Epoch = 253_402_300_799;

impl Store for MemoryStore {
    fn limits(&self) -> schwartz_core::store::Limits {
        let mut limits = schwartz_core::store::Limits::PORTABLE;
        limits.max_epoch = MAX_EPOCH;
        limits
    }

    fn identity(&self) -> String {
        format!("memory:{}|", self.name)
    }

    fn describe(&self) -> String {
        format!("memory store {}", self.name)
    }

    fn server_time(&self) -> Result<Epoch> {
        self.connect()?;
        Ok(self.clock.now())
    }

    fn server_time_ms(&self) -> Result<i64> {
        self.connect()?;
        Ok(self.clock.now_ms())
    }

    fn funcmap(&self) -> Result<Vec<FuncMap>> {
        Ok(self.tables()?.funcmap())
    }

    fn funcid(&self, funcname: &str) -> Result<FuncId> {
        let store = self.describe();
        self.tables()?.funcid(&store, funcname)
    }

    fn insert_jobs(&self, jobs: &[NewJobRow]) -> Result<Vec<JobId>> {
        let store = self.describe();
        let clock = self.clock.now();
        let ids = self.tables()?.insert_jobs(&store, jobs, clock)?;
        if !ids.is_empty() {
            self.signal.notify();
        }
        Ok(ids)
    }

    fn lookup(&self, jobid: JobId) -> Result<Option<JobRow>> {
        Ok(self.tables()?.lookup(jobid))
    }

    fn select_jobs(&self, query: &JobQuery) -> Result<Vec<JobRow>> {
        let clock = self.clock.now();
        Ok(self.tables()?.select_jobs(query, clock))
    }

    fn claim(&self, claims: &[Claim], now: Epoch) -> Result<Vec<JobId>> {
        Ok(self.tables()?.claim(claims, now))
    }

    fn supports_skip_locked(&self) -> bool {
        true
    }

    /// Selects as [`Store::select_jobs`] and leases the rows, under the store's lock (no
    /// lost races). A `grab_for` below 1 counts as 1 (TheSchwartz's `grab_for || 1`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when a selected row's function has no entry in `leases`
    /// (nothing is leased then).
    fn grab_skip_locked(
        &self,
        query: &JobQuery,
        leases: &[Lease],
        now: Epoch,
    ) -> Result<Option<Vec<JobRow>>> {
        let clock = self.clock.now();
        self.tables()?.grab(query, leases, now, clock).map(Some)
    }

    fn finish(&self, items: &[Finish]) -> Result<Vec<FinishStatus>> {
        let store = self.describe();
        let clock = self.clock.now();
        let (statuses, inserted) = self.tables()?.finish(&store, items, clock);
        if inserted {
            self.signal.notify();
        }
        Ok(statuses)
    }

    fn extend_lease(&self, jobid: JobId, token: Epoch, new_until: Epoch) -> Result<bool> {
        Ok(self.tables()?.extend_lease(jobid, token, new_until))
    }

    fn record(&self, records: &JobRecords) -> Result<bool> {
        Ok(self.tables()?.record(records))
    }

    fn reschedule(&self, jobid: JobId, run_after: Epoch) -> Result<bool> {
        Ok(self.tables()?.reschedule(jobid, run_after))
    }

    fn failures(&self, jobid: JobId) -> Result<Vec<FailureRecord>> {
        Ok(self.tables()?.failures(jobid))
    }

    fn recent_failures(
        &self,
        since: Option<Epoch>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>> {
        Ok(self.tables()?.recent_failures(since, funcid, limit))
    }

    fn exit_status(&self, jobid: JobId) -> Result<Option<ExitStatus>> {
        Ok(self.tables()?.exit_status(jobid))
    }

    fn prune_errors(&self, older_than: Epoch, limit: usize) -> Result<u64> {
        Ok(self.tables()?.prune_errors(older_than, limit))
    }

    fn prune_exit_statuses(&self, now: Epoch, limit: usize) -> Result<u64> {
        Ok(self.tables()?.prune_exit_statuses(now, limit))
    }

    fn stats(&self) -> Result<StoreStats> {
        Ok(self.tables()?.stats())
    }

    fn register_schedule(&self, row: &ScheduleRow) -> Result<ScheduleRow> {
        self.tables()?.register_schedule(row)
    }

    fn schedules(&self) -> Result<Vec<ScheduleRow>> {
        Ok(self.tables()?.schedules())
    }

    fn insert_tick(&self, name: &str, tick: Epoch, job: Option<&NewJobRow>) -> Result<TickInsert> {
        let store = self.describe();
        let clock = self.clock.now();
        let r = self.tables()?.insert_tick(&store, name, tick, job, clock)?;
        if matches!(r, TickInsert::Recorded(Some(_))) {
            self.signal.notify();
        }
        Ok(r)
    }

    fn finish_with_results(
        &self,
        items: &[Finish],
        results: &[ResultWrite],
    ) -> Result<Vec<FinishStatus>> {
        let store = self.describe();
        let clock = self.clock.now();
        let mut tables = self.tables()?;
        let (statuses, inserted) = tables.finish(&store, items, clock);
        tables.write_results(items, &statuses, results);
        drop(tables);
        if inserted {
            self.signal.notify();
        }
        if !results.is_empty() {
            self.results_signal.notify();
        }
        Ok(statuses)
    }

    fn job_result(&self, jobid: JobId) -> Result<Option<ResultRow>> {
        Ok(self.tables()?.job_result(jobid))
    }

    fn prune_results(&self, now: Epoch, limit: usize) -> Result<u64> {
        Ok(self.tables()?.prune_results(now, limit))
    }

    /// A [`MemoryNotifier`] woken when results are written.
    fn result_notifier(&self) -> Result<Option<Box<dyn Notifier>>> {
        self.connect()?;
        Ok(Some(Box::new(MemoryNotifier::new(
            Arc::clone(&self.results_signal),
            Arc::clone(&self.offline),
            self.describe(),
        ))))
    }

    /// A [`MemoryNotifier`]: wakes on inserts into this store.
    fn notifier(&self) -> Result<Option<Box<dyn Notifier>>> {
        self.connect()?;
        Ok(Some(Box::new(MemoryNotifier::new(
            Arc::clone(&self.signal),
            Arc::clone(&self.offline),
            self.describe(),
        ))))
    }
}
