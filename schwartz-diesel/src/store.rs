//! `DieselStore`: the pools and the `Store` implementation (the builder is in `builder.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::r2d2::R2D2Connection;
use schwartz_core::store::{
    Claim, ExitStatus, FailureRecord, Finish, FinishStatus, FuncMap, JobQuery, JobRecords, JobRow,
    Lease, Limits, NewJobRow, Notifier, ResultRow, ResultWrite, ScheduleRow, Store, StoreStats,
    TickInsert,
};
use schwartz_core::{Epoch, Error, FuncId, JobId, Result};

use crate::builder::DieselStoreBuilder;
use crate::conn::{classify, Class, Ctx, Dialect, Manager, OpError};
use crate::ops::Ops;
use crate::url::Target;
use crate::watchdog::Watchdog;
use crate::Backend;

/// One pool per backend type.
pub(crate) enum Pools {
    #[cfg(feature = "sqlite")]
    Sqlite(r2d2::Pool<Manager<diesel::sqlite::SqliteConnection>>),
    #[cfg(feature = "postgres")]
    Pg(r2d2::Pool<Manager<diesel::pg::PgConnection>>),
    #[cfg(feature = "mysql")]
    Mysql(r2d2::Pool<Manager<diesel::mysql::MysqlConnection>>),
    /// No backend compiled in: no store can be built.
    #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
    None(std::convert::Infallible),
}

/// Runs `$body` with `$c` bound to a pooled connection of the store's backend. The body is
/// compiled once per backend.
macro_rules! with_conn {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(pool) => $store.run(pool, |$c| $body),
            #[cfg(feature = "postgres")]
            Pools::Pg(pool) => $store.run(pool, |$c| $body),
            #[cfg(feature = "mysql")]
            Pools::Mysql(pool) => $store.run(pool, |$c| $body),
            #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
            Pools::None(never) => match *never {},
        }
    };
}

/// An `insert_jobs` call of at least this many rows is a bulk load: it counts towards the
/// statistics check (smaller calls, the one-row path above all, never pay for it).
const BULK_INSERT_MIN: usize = 100;

/// Bulk-loaded rows between two checks of the planner statistics of `job` (one catalog
/// query; an ANALYZE only when the statistics are missing or far behind).
const STATS_CHECK_ROWS: u64 = 1_000;

/// Finished jobs between two checks of the dead rows of `job` (PostgreSQL).
const VACUUM_CHECK_ROWS: u64 = 10_000;

/// How often a busy SQLite database or a deadlocked transaction is retried.
const MAX_RETRIES: u32 = 40;

/// A [`Store`] on PostgreSQL, MySQL/MariaDB or SQLite through diesel and an r2d2 pool.
///
/// Build one with [`DieselStore::connect`] or [`DieselStore::builder`]; use it as
/// `Arc<dyn Store>`.
pub struct DieselStore {
    pub(crate) pools: Pools,
    pub(crate) ctx: Ctx,
    pub(crate) target: Target,
    /// Counts connections established (and re-checked); shared with the pool's manager.
    pub(crate) births: Arc<AtomicU64>,
    /// After a connection failed, connections born before this are pinged before reuse
    /// (a restarted server leaves every idle connection dead).
    pub(crate) suspect_below: AtomicU64,
    /// Bounds each call (see `watchdog.rs`).
    pub(crate) watchdog: Watchdog,
}

impl std::fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselStore")
            .field("store", &self.ctx.describe)
            .finish_non_exhaustive()
    }
}

impl DieselStore {
    /// A store for `url` with the default pool settings. Does not connect yet.
    ///
    /// # Errors
    /// See [`DieselStoreBuilder::build`].
    pub fn connect(url: &str) -> Result<DieselStore> {
        Self::builder(url).build()
    }

    /// A builder for `url`.
    pub fn builder(url: &str) -> DieselStoreBuilder {
        DieselStoreBuilder::new(url)
    }

    /// The backend this store talks to.
    pub fn backend(&self) -> Backend {
        self.target.backend
    }

    /// The largest explicit job id an insert takes (2^62): larger ids, `i64::MAX` above all,
    /// would leave the backend's id generator (sequence, AUTO_INCREMENT, rowid) no room, so
    /// every later insert would fail; they are refused with [`Error::InvalidInput`].
    pub const MAX_EXPLICIT_JOB_ID: i64 = crate::conn::MAX_EXPLICIT_JOB_ID;

    /// The largest job argument this store takes, in bytes; larger ones are refused with
    /// [`Error::InvalidInput`] before any SQL. MySQL/MariaDB: the server's
    /// `max_allowed_packet` less 64 KiB for the rest of the statement, at most the
    /// MEDIUMBLOB column's 16 MiB - 1 (read from the server once; while it cannot be reached,
    /// the column's size). PostgreSQL: 1 GiB - 1 MiB (bytea and protocol messages are at
    /// most 1 GiB). SQLite: `SQLITE_MAX_LENGTH` (1,000,000,000) - 1 MiB.
    pub fn max_arg_len(&self) -> usize {
        if let Some(n) = self.ctx.max_arg.get() {
            return *n;
        }
        let ctx = &self.ctx;
        let read: Result<usize> = with_conn!(self, |c| crate::ops::max_arg(c, ctx));
        read.unwrap_or_else(|_| self.default_max_arg())
    }

    fn default_max_arg(&self) -> usize {
        fn of<C: crate::conn::Dialect>(_: &r2d2::Pool<Manager<C>>) -> usize {
            C::MAX_ARG
        }
        match &self.pools {
            #[cfg(feature = "sqlite")]
            Pools::Sqlite(pool) => of(pool),
            #[cfg(feature = "postgres")]
            Pools::Pg(pool) => of(pool),
            #[cfg(feature = "mysql")]
            Pools::Mysql(pool) => of(pool),
            #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
            Pools::None(never) => match *never {},
        }
    }

    /// The latest time (epoch seconds) a job can be scheduled at, read from the schema once
    /// (again after a migration): 9999-12-31T23:59:59Z on `BIGINT` time columns (our
    /// migrations; SQLite), 2038-01-19T03:14:07Z (`i32::MAX`) on the `INTEGER` ones of
    /// TheSchwartz's PostgreSQL and MySQL schema files. Later times are refused with
    /// [`Error::InvalidInput`] naming it; retry and decline times (`finish`, `reschedule`)
    /// are clamped to it. While the database is unreachable, the 64-bit limit.
    pub fn max_epoch(&self) -> i64 {
        let known = self.ctx.max_epoch.load(Ordering::Relaxed);
        if known != 0 {
            return known;
        }
        let ctx = &self.ctx;
        let read: Result<i64> = with_conn!(self, |c| crate::ops::max_epoch(c, ctx));
        read.unwrap_or(crate::conn::MAX_EPOCH_64)
    }

    pub(crate) fn checkout<C: crate::conn::Dialect>(
        &self,
        pool: &r2d2::Pool<Manager<C>>,
    ) -> Result<r2d2::PooledConnection<Manager<C>>> {
        pool.get().map_err(|e| {
            let message = self.ctx.scrub(&e.to_string());
            let lower = message.to_ascii_lowercase();
            let message =
                if lower.contains("timed out waiting for connection") && !lower.contains(':') {
                    format!("{message} (no connection could be made within the connection timeout)")
                } else {
                    message
                };
            Error::Unavailable {
                store: self.ctx.describe.clone(),
                message,
            }
        })
    }

    /// Runs one operation on a pooled connection: retries busy/deadlocked attempts, flags
    /// connections that failed, maps errors.
    fn run<C, T>(
        &self,
        pool: &r2d2::Pool<Manager<C>>,
        mut f: impl FnMut(&mut C) -> std::result::Result<T, OpError>,
    ) -> Result<T>
    where
        C: Ops + R2D2Connection,
    {
        let mut attempt = 0u32;
        let mut stale = 0u32;
        loop {
            let mut conn = self.checkout(pool)?;
            let watch = self.watchdog.watch(conn.socket.as_ref());
            if conn.born < self.suspect_below.load(Ordering::Relaxed) {
                if conn.inner.ping().is_err() && stale <= pool.max_size() {
                    conn.broken = true;
                    stale += 1;
                    continue;
                }
                conn.born = self.births.fetch_add(1, Ordering::Relaxed) + 1;
            }
            let result = crate::names::scoped(&self.ctx.names, false, || f(&mut conn.inner));
            drop(watch);
            if result.is_err() && conn.inner.is_broken() {
                conn.broken = true;
            }
            if let Err(OpError::Db(e)) = &result {
                // A connection the server closed after a data error never goes back.
                if crate::conn::poisons_connection(e) {
                    conn.broken = true;
                }
            }
            match result {
                Ok(v) => return Ok(v),
                Err(OpError::Db(e)) => match classify(&e) {
                    Class::Retry if attempt < MAX_RETRIES => {
                        attempt += 1;
                        drop(conn);
                        let backoff = Duration::from_millis(5u64 << attempt.min(6));
                        log::debug!(
                            "{}: retrying after a transient error (attempt {attempt}): {e}",
                            self.ctx.describe
                        );
                        std::thread::sleep(backoff);
                    }
                    Class::Unavailable => {
                        conn.broken = true;
                        self.suspect_below
                            .store(self.births.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                        return Err(self.ctx.map_db(&e));
                    }
                    _ => return Err(self.ctx.map_db(&e)),
                },
                Err(e) => return Err(self.ctx.map(e)),
            }
        }
    }
}

impl DieselStore {
    /// Keeps the optimizer's statistics of `job` usable after bulk loads (see
    /// [`Dialect::refresh_job_statistics`](crate::conn::Dialect::refresh_job_statistics)):
    /// every [`STATS_CHECK_ROWS`] bulk-inserted rows, one catalog query, and an ANALYZE
    /// only when needed. Runs after the insert committed; a failure here does not fail the
    /// insert (the server's own background statistics will catch up later).
    fn after_bulk_insert(&self, rows: usize) {
        let total = self.ctx.bulk_rows.fetch_add(rows as u64, Ordering::Relaxed) + rows as u64;
        if total < STATS_CHECK_ROWS {
            return;
        }
        // One caller per threshold crossing does the check.
        if self
            .ctx
            .bulk_rows
            .compare_exchange(total, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let refreshed: Result<bool> = with_conn!(self, |c| Ok(c.refresh_job_statistics()?));
        match refreshed {
            Ok(true) => log::debug!("{}: refreshed the statistics of job", self.ctx.describe),
            Ok(false) => {}
            Err(e) => log::debug!(
                "{}: could not refresh the statistics of job: {e}",
                self.ctx.describe
            ),
        }
    }
}

impl DieselStore {
    /// PostgreSQL: every completed job leaves dead row versions (its grab's and its delete's)
    /// and dead index entries at the low end of the primary key, exactly where the claim
    /// query's `ORDER BY jobid` scan starts; until they are vacuumed, each grab walks all of
    /// them (a 1,000,000-job drain slowed to a third). Autovacuum may be off, and even when on
    /// it looks at a table once per `autovacuum_naptime` (a minute), too rarely for a queue
    /// draining tens of thousands of jobs a second. So every [`VACUUM_CHECK_ROWS`] finished
    /// jobs the store checks the table's dead rows and, when they are many, vacuums it on a
    /// background thread (one at a time per store; VACUUM does not block the queue's reads
    /// and writes, only other vacuums, which it skips).
    fn after_finish(&self, items: usize) {
        if self.target.backend != Backend::Postgres || items == 0 {
            return;
        }
        let total = self
            .ctx
            .finished_rows
            .fetch_add(items as u64, Ordering::Relaxed)
            + items as u64;
        if total < VACUUM_CHECK_ROWS
            || self
                .ctx
                .finished_rows
                .compare_exchange(total, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            || self.ctx.vacuuming.swap(true, Ordering::AcqRel)
        {
            return;
        }
        match &self.pools {
            #[cfg(feature = "postgres")]
            Pools::Pg(pool) => spawn_vacuum(pool, &self.ctx),
            #[allow(unreachable_patterns)]
            _ => self.ctx.vacuuming.store(false, Ordering::Release),
        }
    }
}

/// Runs [`Dialect::vacuum_job_if_needed`](crate::conn::Dialect::vacuum_job_if_needed) on a
/// pooled connection on a new thread, then clears `ctx.vacuuming`.
#[cfg(feature = "postgres")]
fn spawn_vacuum<C: crate::conn::Dialect>(pool: &r2d2::Pool<Manager<C>>, ctx: &Ctx) {
    let pool = pool.clone();
    let busy = Arc::clone(&ctx.vacuuming);
    let busy_again = Arc::clone(&busy);
    let describe = ctx.describe.clone();
    let names = Arc::clone(&ctx.names);
    let spawned = std::thread::Builder::new()
        .name("schwartz-vacuum".into())
        .spawn(move || {
            match pool.get() {
                Ok(mut conn) => {
                    match crate::names::scoped(&names, false, || conn.inner.vacuum_job_if_needed())
                    {
                        Ok(true) => log::debug!("{describe}: vacuumed job"),
                        Ok(false) => {}
                        Err(e) => {
                            if classify(&e) == Class::Unavailable {
                                conn.broken = true;
                            }
                            log::debug!("{describe}: could not vacuum job: {e}");
                        }
                    }
                }
                Err(e) => log::debug!("{describe}: no connection to vacuum job: {e}"),
            }
            busy.store(false, Ordering::Release);
        });
    if spawned.is_err() {
        busy_again.store(false, Ordering::Release);
    }
}

impl Store for DieselStore {
    fn limits(&self) -> Limits {
        Limits::new(
            self.max_arg_len(),
            self.max_epoch(),
            Self::MAX_EXPLICIT_JOB_ID,
        )
    }

    fn identity(&self) -> String {
        self.target.identity.clone()
    }

    fn describe(&self) -> String {
        self.ctx.describe.clone()
    }

    fn server_time(&self) -> Result<Epoch> {
        with_conn!(self, |c| Ok(c.server_time()?))
    }

    fn server_time_ms(&self) -> Result<i64> {
        with_conn!(self, |c| Ok(c.server_time_ms()?))
    }

    fn funcmap(&self) -> Result<Vec<FuncMap>> {
        with_conn!(self, |c| c.op_funcmap())
    }

    fn funcid(&self, funcname: &str) -> Result<FuncId> {
        with_conn!(self, |c| c.op_funcid(funcname))
    }

    fn insert_jobs(&self, jobs: &[NewJobRow]) -> Result<Vec<JobId>> {
        let ctx = &self.ctx;
        let ids = with_conn!(self, |c| c.op_insert_jobs(ctx, jobs))?;
        if jobs.len() >= BULK_INSERT_MIN {
            self.after_bulk_insert(jobs.len());
        }
        Ok(ids)
    }

    fn lookup(&self, jobid: JobId) -> Result<Option<JobRow>> {
        with_conn!(self, |c| c.op_lookup(jobid))
    }

    fn select_jobs(&self, query: &JobQuery) -> Result<Vec<JobRow>> {
        let ctx = &self.ctx;
        with_conn!(self, |c| c.op_select_jobs(ctx, query))
    }

    fn claim(&self, claims: &[Claim], now: Epoch) -> Result<Vec<JobId>> {
        with_conn!(self, |c| c.op_claim(claims, now))
    }

    fn supports_skip_locked(&self) -> bool {
        if let Some(v) = self.ctx.skip_locked.get() {
            return *v;
        }
        if self.target.backend == Backend::Sqlite {
            return false;
        }
        let probed: Result<bool> = with_conn!(self, |c| Ok(c.probe_skip_locked()?));
        match probed {
            Ok(v) => {
                let _ = self.ctx.skip_locked.set(v);
                v
            }
            // Unknown while the server is down: not cached.
            Err(_) => false,
        }
    }

    fn grab_skip_locked(
        &self,
        query: &JobQuery,
        leases: &[Lease],
        now: Epoch,
    ) -> Result<Option<Vec<JobRow>>> {
        if !self.supports_skip_locked() {
            return Ok(None);
        }
        let ctx = &self.ctx;
        with_conn!(self, |c| c.grab_skip_locked(ctx, query, leases, now))
    }

    fn finish(&self, items: &[Finish]) -> Result<Vec<FinishStatus>> {
        let ctx = &self.ctx;
        let statuses = with_conn!(self, |c| c.op_finish(ctx, items))?;
        self.after_finish(items.len());
        Ok(statuses)
    }

    fn extend_lease(&self, jobid: JobId, token: Epoch, new_until: Epoch) -> Result<bool> {
        with_conn!(self, |c| c.op_extend_lease(jobid, token, new_until))
    }

    fn record(&self, records: &JobRecords) -> Result<bool> {
        let ctx = &self.ctx;
        with_conn!(self, |c| crate::records::record(c, ctx, records))
    }

    fn reschedule(&self, jobid: JobId, run_after: Epoch) -> Result<bool> {
        with_conn!(self, |c| c.op_reschedule(&self.ctx, jobid, run_after))
    }

    fn failures(&self, jobid: JobId) -> Result<Vec<FailureRecord>> {
        with_conn!(self, |c| c.op_failures(jobid))
    }

    fn recent_failures(
        &self,
        since: Option<Epoch>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>> {
        with_conn!(self, |c| c.op_recent_failures(since, funcid, limit))
    }

    fn exit_status(&self, jobid: JobId) -> Result<Option<ExitStatus>> {
        with_conn!(self, |c| c.op_exit_status(jobid))
    }

    fn prune_errors(&self, older_than: Epoch, limit: usize) -> Result<u64> {
        with_conn!(self, |c| c.op_prune_errors(older_than, limit))
    }

    fn prune_exit_statuses(&self, now: Epoch, limit: usize) -> Result<u64> {
        with_conn!(self, |c| c.op_prune_exit_statuses(now, limit))
    }

    fn stats(&self) -> Result<StoreStats> {
        with_conn!(self, |c| c.op_stats())
    }

    fn stats_up_to(&self, limit: u64) -> Result<StoreStats> {
        if limit >= i64::MAX as u64 - 1 {
            return self.stats();
        }
        with_conn!(self, |c| crate::inspect::stats_up_to(c, limit))
    }

    fn notifier(&self) -> Result<Option<Box<dyn Notifier>>> {
        crate::notify::notifier(&self.target, &self.ctx)
    }

    fn register_schedule(&self, row: &ScheduleRow) -> Result<ScheduleRow> {
        with_conn!(self, |c| crate::ours::register_schedule(c, row))
    }

    fn schedules(&self) -> Result<Vec<ScheduleRow>> {
        with_conn!(self, |c| crate::ours::schedules(c))
    }

    fn insert_tick(&self, name: &str, tick: Epoch, job: Option<&NewJobRow>) -> Result<TickInsert> {
        let ctx = &self.ctx;
        with_conn!(self, |c| crate::ours::insert_tick(c, ctx, name, tick, job))
    }

    fn finish_with_results(
        &self,
        items: &[Finish],
        results: &[ResultWrite],
    ) -> Result<Vec<FinishStatus>> {
        let ctx = &self.ctx;
        let statuses = with_conn!(self, |c| crate::finish::finish_with_results(
            c, ctx, items, results
        ))?;
        self.after_finish(items.len());
        Ok(statuses)
    }

    fn job_result(&self, jobid: JobId) -> Result<Option<ResultRow>> {
        with_conn!(self, |c| crate::ours::job_result(c, jobid))
    }

    fn prune_results(&self, now: Epoch, limit: usize) -> Result<u64> {
        with_conn!(self, |c| crate::ours::prune_results(c, now, limit))
    }

    fn result_notifier(&self) -> Result<Option<Box<dyn Notifier>>> {
        crate::ours::result_notifier(&self.target, &self.ctx)
    }

    fn queue_summary(
        &self,
        now: Epoch,
        since: Epoch,
        limit: u64,
    ) -> Result<Vec<schwartz_core::store::QueueSummary>> {
        let ctx = &self.ctx;
        with_conn!(self, |c| crate::inspect::queue_summary(
            c, ctx, now, since, limit
        ))
    }

    fn failures_from(
        &self,
        since: Epoch,
        f: Option<FuncId>,
        n: usize,
    ) -> Result<Vec<FailureRecord>> {
        with_conn!(self, |c| crate::inspect::failures_from(c, since, f, n))
    }
}
