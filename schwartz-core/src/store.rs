//! The storage contract every backend implements.
//!
//! A [`Store`] is one database. It is blocking, object-safe and `Send + Sync`, used as
//! `Arc<dyn Store>`. Every operation that spans tables is one transaction. Operations that
//! compare against time take that time as an argument (the [`Client`](crate::Client) reads it
//! from [`Store::server_time`] once per cycle), so tests can move time forward instead of
//! sleeping.
//!
//! Leases: a grab writes `grabbed_until = now + grab_for`; that value is the lease token.
//! Every later write for the job ([`Store::finish`], [`Store::extend_lease`]) is fenced on
//! `jobid = ? AND grabbed_until = token`. A fenced write that matches no row changes nothing.

use std::fmt::Debug;
use std::time::Duration;

use crate::error::Result;
use crate::ids::{Epoch, FuncId, JobId};

pub use crate::store_inspect::{JobChange, QueueSummary, CANCELLED_EXIT_STATUS};
pub use crate::store_ours::{ResultRow, ResultWrite, ScheduleRow, TickInsert, MAX_RESULT_BYTES};

/// One row of `job`, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// `job.jobid`.
    pub jobid: JobId,
    /// `job.funcid`.
    pub funcid: FuncId,
    /// `job.arg`: opaque bytes.
    pub arg: Option<Vec<u8>>,
    /// `job.uniqkey`.
    pub uniqkey: Option<String>,
    /// `job.insert_time`.
    pub insert_time: Option<Epoch>,
    /// `job.run_after`: not eligible before.
    pub run_after: Epoch,
    /// `job.grabbed_until`: lease end, 0 when not grabbed; the lease token.
    pub grabbed_until: Epoch,
    /// `job.priority`: larger is more urgent.
    pub priority: Option<i32>,
    /// `job.coalesce`.
    pub coalesce: Option<String>,
}

/// A row to insert into `job`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJobRow {
    /// An explicit job id, or `None` for the next auto-increment value.
    pub jobid: Option<JobId>,
    /// `job.funcid`.
    pub funcid: FuncId,
    /// `job.arg`.
    pub arg: Option<Vec<u8>>,
    /// `job.uniqkey`.
    pub uniqkey: Option<String>,
    /// `job.insert_time`.
    pub insert_time: Epoch,
    /// `job.run_after`.
    pub run_after: Epoch,
    /// `job.grabbed_until` (normally 0).
    pub grabbed_until: Epoch,
    /// `job.priority`.
    pub priority: Option<i32>,
    /// `job.coalesce`.
    pub coalesce: Option<String>,
}

impl NewJobRow {
    /// The row for `job` in a store where its function is `funcid`, inserted at `now`
    /// (epoch seconds, the store's clock): `run_after` defaults to `now`, `grabbed_until`
    /// to 0. The job is not validated here.
    pub fn of(job: &crate::job::Job, funcid: FuncId, now: Epoch) -> NewJobRow {
        use crate::ids::datetime_to_epoch;
        NewJobRow {
            jobid: job.jobid_value(),
            funcid,
            arg: job.raw_arg_bytes().map(<[u8]>::to_vec),
            uniqkey: job.uniqkey_value().map(str::to_string),
            insert_time: now,
            run_after: crate::client::start_epoch(job, now),
            grabbed_until: job
                .grabbed_until_value()
                .map(datetime_to_epoch)
                .unwrap_or(0),
            priority: job.priority_value(),
            coalesce: job.coalesce_value().map(str::to_string),
        }
    }
}

/// One row of `funcmap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncMap {
    /// `funcmap.funcid`.
    pub funcid: FuncId,
    /// `funcmap.funcname`.
    pub funcname: String,
}

/// One row of `error`: a failure of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRecord {
    /// `error.error_time`.
    pub error_time: Epoch,
    /// `error.jobid`.
    pub jobid: JobId,
    /// `error.message` (truncated by the store to its column).
    pub message: String,
    /// `error.funcid`.
    pub funcid: FuncId,
}

/// One row of `exitstatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    /// `exitstatus.jobid`.
    pub jobid: JobId,
    /// `exitstatus.funcid`.
    pub funcid: FuncId,
    /// `exitstatus.status`: 0 success, non-zero failure.
    pub status: i32,
    /// `exitstatus.completion_time`.
    pub completion_time: Epoch,
    /// `exitstatus.delete_after`: pruned once this has passed.
    pub delete_after: Epoch,
}

/// Candidate ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobOrder {
    /// `ORDER BY jobid ASC` (TheSchwartz's default).
    #[default]
    JobId,
    /// `ORDER BY priority DESC, jobid ASC`; NULL priorities sort last on every backend.
    PriorityDesc,
}

/// A coalesce filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoalesceFilter {
    /// `coalesce = value`.
    Equals(String),
    /// `coalesce` starts with the value. `%` and `_` in it are matched literally
    /// (stores escape them for LIKE).
    Prefix(String),
}

/// A filter over `job` rows, for candidate selects and `list_jobs`.
/// An empty `funcids` list matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobQuery {
    /// `funcid IN (...)`.
    pub funcids: Vec<FuncId>,
    /// `run_after <= x`.
    pub run_after_max: Option<Epoch>,
    /// `grabbed_until <= x`.
    pub grabbed_until_max: Option<Epoch>,
    /// `jobid = x`.
    pub jobid: Option<JobId>,
    /// `priority >= x` (NULL priorities do not pass).
    pub floor: Option<i32>,
    /// The coalesce filter.
    pub coalesce: Option<CoalesceFilter>,
    /// Ordering.
    pub order: JobOrder,
    /// `LIMIT`.
    pub limit: usize,
}

impl JobQuery {
    /// Eligible jobs of these functions at `now`: `run_after <= now AND grabbed_until <= now`.
    pub fn eligible(funcids: Vec<FuncId>, now: Epoch, limit: usize) -> Self {
        JobQuery {
            funcids,
            run_after_max: Some(now),
            grabbed_until_max: Some(now),
            limit,
            ..JobQuery::default()
        }
    }
}

/// A compare-and-swap claim of one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The candidate.
    pub jobid: JobId,
    /// The `grabbed_until` the candidate had when selected.
    pub expected: Epoch,
    /// The new `grabbed_until` (now + grab_for): the lease token.
    pub lease_until: Epoch,
}

/// The lease length for each function in a batch grab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The function.
    pub funcid: FuncId,
    /// Its `grab_for`, in seconds (at least 1).
    pub grab_for: i64,
}

/// An exit status to write (upsert: a second status for a job replaces the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatusWrite {
    /// The status: 0 success.
    pub status: i32,
    /// Completion time.
    pub completion_time: Epoch,
    /// Prune after this time.
    pub delete_after: Epoch,
}

/// What to do with a job row in [`Store::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishAction {
    /// Delete the row (completed, or failed for good); write the exit status if given.
    Remove {
        /// Exit status to upsert.
        exit_status: Option<ExitStatusWrite>,
    },
    /// Keep the job pending: `grabbed_until = 0`, and `run_after = x` when given
    /// (failed with a retry left, declined with a time, released unstarted).
    Reschedule {
        /// New `run_after`, or keep the old one.
        run_after: Option<Epoch>,
    },
    /// Insert the replacement jobs into this store, then remove the row; all or nothing.
    Replace {
        /// The replacements.
        jobs: Vec<NewJobRow>,
        /// Exit status to upsert for the replaced job.
        exit_status: Option<ExitStatusWrite>,
    },
}

/// One outcome write for a grabbed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// The job.
    pub jobid: JobId,
    /// Its function (for the error and exit-status rows).
    pub funcid: FuncId,
    /// The lease token the writer holds (`grabbed_until` as grabbed).
    pub token: Epoch,
    /// An error row to append (a failure), written only if the fenced write succeeds.
    pub failure: Option<FailureRecord>,
    /// The row change.
    pub action: FinishAction,
}

/// Side rows of a job written without changing its `job` row ([`Store::record`]): what
/// [`QueuedJob::add_failure`](crate::QueuedJob::add_failure) and
/// [`QueuedJob::set_exit_status`](crate::QueuedJob::set_exit_status) write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecords {
    /// The job.
    pub jobid: JobId,
    /// Its function (for the exit-status row).
    pub funcid: FuncId,
    /// The lease token the writer holds (`grabbed_until` as read or grabbed).
    pub token: Epoch,
    /// An `error` row to append.
    pub failure: Option<FailureRecord>,
    /// An exit status to upsert.
    pub exit_status: Option<ExitStatusWrite>,
}

/// The result of one [`Finish`] item.
#[derive(Debug)]
pub enum FinishStatus {
    /// Written.
    Done,
    /// Written; the replacement jobs got these ids (for `Replace`).
    Replaced(Vec<JobId>),
    /// The row is gone or its `grabbed_until` differs from the token: nothing was written.
    LeaseLost,
    /// The item was refused and nothing of it was written (e.g. a replacement collided
    /// on its uniqkey: [`Error::DuplicateUniqkey`](crate::Error::DuplicateUniqkey)).
    Rejected(crate::Error),
}

/// Row counts, for inspection and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Rows in `job`.
    pub jobs: u64,
    /// Rows in `error`.
    pub errors: u64,
    /// Rows in `exitstatus`.
    pub exit_statuses: u64,
}

/// What a store can hold: the client checks every job against these before any SQL
/// ([`Store::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The longest `job.arg`, in bytes.
    pub max_arg_bytes: usize,
    /// The latest time the time columns (`run_after`, `grabbed_until`, ...) hold, in epoch
    /// seconds.
    pub max_epoch: Epoch,
    /// The largest explicit job id accepted.
    pub max_job_id: i64,
}

impl Limits {
    /// TheSchwartz's portable limits: a MEDIUMBLOB argument (16 MiB - 1 bytes), 32-bit time
    /// columns (up to 2038-01-19), any positive 64-bit job id.
    pub const PORTABLE: Limits = Limits {
        max_arg_bytes: (1 << 24) - 1,
        max_epoch: i32::MAX as Epoch,
        max_job_id: i64::MAX,
    };

    /// Limits with these values (the struct is `#[non_exhaustive]`; change the fields of
    /// [`Limits::PORTABLE`] or build one here).
    pub fn new(max_arg_bytes: usize, max_epoch: Epoch, max_job_id: i64) -> Self {
        Limits {
            max_arg_bytes,
            max_epoch,
            max_job_id,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::PORTABLE
    }
}

/// Waits for "new jobs" notifications from a store (PostgreSQL LISTEN/NOTIFY, or a cheap
/// change counter polled on a connection of its own).
pub trait Notifier: Send + Debug {
    /// Blocks up to `timeout`; `Ok(true)` when a notification arrived (all pending ones are
    /// consumed), `Ok(false)` on timeout.
    ///
    /// # Errors
    /// The store's error when the listening connection fails.
    fn wait(&mut self, timeout: Duration) -> Result<bool>;
}

/// One database holding TheSchwartz's tables.
///
/// Errors: connection failures are [`Error::Unavailable`](crate::Error::Unavailable), missing
/// tables [`Error::SchemaMissing`](crate::Error::SchemaMissing), unique violations on `job`
/// [`Error::DuplicateUniqkey`](crate::Error::DuplicateUniqkey); every message names the store
/// as [`Store::describe`] does.
pub trait Store: Send + Sync + Debug {
    /// The identity string hashed into job handles: the connection string without the
    /// password, as `"<dsn>|<user>"`. Stable across restarts.
    fn identity(&self) -> String;

    /// A human description for messages: backend, host and database; never a password.
    fn describe(&self) -> String;

    /// The database server's clock, in epoch seconds.
    fn server_time(&self) -> Result<Epoch>;

    /// The database server's clock in epoch milliseconds, as precisely as the backend tells
    /// (default: [`Store::server_time`] in whole seconds). The client extrapolates its last
    /// reading between readings; a precise reading keeps the estimates of different clients
    /// within milliseconds of each other.
    fn server_time_ms(&self) -> Result<i64> {
        Ok(self.server_time()?.saturating_mul(1000))
    }

    /// All `funcmap` rows.
    fn funcmap(&self) -> Result<Vec<FuncMap>>;

    /// The funcid of `funcname`, creating the row if missing (a concurrent creator is fine:
    /// re-select on a unique violation).
    fn funcid(&self, funcname: &str) -> Result<FuncId>;

    /// Inserts all rows in one transaction, all or nothing; returns their ids in order.
    /// A `(funcid, uniqkey)` collision with a pending job, or inside `jobs`, is
    /// `Error::DuplicateUniqkey` and nothing is written.
    fn insert_jobs(&self, jobs: &[NewJobRow]) -> Result<Vec<JobId>>;

    /// The row with this id, if pending.
    fn lookup(&self, jobid: JobId) -> Result<Option<JobRow>>;

    /// Rows matching `query`, ordered and limited as it says.
    fn select_jobs(&self, query: &JobQuery) -> Result<Vec<JobRow>>;

    /// TheSchwartz's optimistic claim, for several candidates in one transaction: each row is
    /// updated to `lease_until` only if its `grabbed_until` still equals `expected` and is
    /// `<= now`. Returns the ids claimed, in the order given.
    fn claim(&self, claims: &[Claim], now: Epoch) -> Result<Vec<JobId>>;

    /// Whether [`Store::grab_skip_locked`] is available.
    fn supports_skip_locked(&self) -> bool {
        false
    }

    /// Selects up to `query.limit` rows matching `query` (eligible: the caller sets
    /// `run_after_max` and `grabbed_until_max` to now) and leases them in one transaction,
    /// skipping rows other transactions hold locked (`FOR UPDATE SKIP LOCKED`): no lost
    /// races. Each row's `grabbed_until` becomes `now + grab_for` of its function in
    /// `leases`. Returns the rows as leased, or `Ok(None)` when the backend has no such
    /// statement.
    fn grab_skip_locked(
        &self,
        query: &JobQuery,
        leases: &[Lease],
        now: Epoch,
    ) -> Result<Option<Vec<JobRow>>> {
        let _ = (query, leases, now);
        Ok(None)
    }

    /// Writes outcomes. Items are independent: each is fenced on its token; an item whose
    /// lease was lost changes nothing and reports [`FinishStatus::LeaseLost`]. The fenced
    /// row change comes first; the error row, exit status and replacements are written only
    /// when it matched. A `Replace` whose inserts fail is [`FinishStatus::Rejected`] and
    /// leaves that job untouched. Returns one status per item, in order.
    ///
    /// Exit statuses are upserts. Error messages are truncated (at a character boundary)
    /// to fit the store's `error.message` column.
    fn finish(&self, items: &[Finish]) -> Result<Vec<FinishStatus>>;

    /// Moves a lease forward: `grabbed_until = new_until WHERE jobid AND grabbed_until =
    /// token`. `Ok(false)` when the lease was lost.
    fn extend_lease(&self, jobid: JobId, token: Epoch, new_until: Epoch) -> Result<bool>;

    /// Writes a job's side rows without changing its `job` row, fenced on the lease: in one
    /// transaction, and only when the job exists with `grabbed_until = records.token`.
    /// `Ok(false)` when it does not (nothing written). The exit status is an upsert; the
    /// message is truncated and times clamped as [`Store::finish`] does.
    fn record(&self, records: &JobRecords) -> Result<bool>;

    /// Operator reschedule, not fenced: `run_after = t, grabbed_until = 0`. `Ok(false)` when
    /// the job does not exist.
    fn reschedule(&self, jobid: JobId, run_after: Epoch) -> Result<bool>;

    /// The `error` rows of one job (in insertion order where the backend keeps one).
    fn failures(&self, jobid: JobId) -> Result<Vec<FailureRecord>>;

    /// The newest `error` rows: `error_time >= since` when given, of `funcid` when given,
    /// newest first, at most `limit`.
    fn recent_failures(
        &self,
        since: Option<Epoch>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>>;

    /// The `exitstatus` row of a job.
    fn exit_status(&self, jobid: JobId) -> Result<Option<ExitStatus>>;

    /// Deletes up to `limit` error rows with `error_time < older_than`; returns how many.
    fn prune_errors(&self, older_than: Epoch, limit: usize) -> Result<u64>;

    /// Deletes up to `limit` exit statuses with `delete_after < now`; returns how many.
    fn prune_exit_statuses(&self, now: Epoch, limit: usize) -> Result<u64>;

    /// Row counts.
    fn stats(&self) -> Result<StoreStats>;

    /// Row counts as [`Store::stats`], each read up to `limit` rows (`u64::MAX`: exact): a
    /// count above `limit` may read as anything from `limit + 1` up, and the work is
    /// bounded by the limit, not by the tables (`schwartz stats` on a table of millions).
    /// The default counts exactly.
    fn stats_up_to(&self, limit: u64) -> Result<StoreStats> {
        let _ = limit;
        self.stats()
    }

    /// A listener for "new jobs" notifications, when the backend has them.
    fn notifier(&self) -> Result<Option<Box<dyn Notifier>>> {
        Ok(None)
    }

    /// What this store can hold; the client validates every job against it before any SQL
    /// (default: [`Limits::PORTABLE`]). A store whose columns or server allow more (64-bit
    /// time columns, a larger `max_allowed_packet`) says so here.
    fn limits(&self) -> Limits {
        Limits::PORTABLE
    }

    /// One [`QueueSummary`] per `funcmap` row, ordered by function name: due, scheduled and
    /// running (leased) jobs at `now`, the oldest due `run_after`, and the `error` rows with
    /// `error_time >= errors_since`. Due and scheduled counts stop at `count_limit` (and say
    /// so in [`QueueSummary::capped`]), which bounds the work on a large backlog; pass
    /// `u64::MAX` for exact counts. The default reads every job; SQL stores answer from
    /// their indexes.
    fn queue_summary(
        &self,
        now: Epoch,
        errors_since: Epoch,
        count_limit: u64,
    ) -> Result<Vec<QueueSummary>> {
        crate::store_inspect::queue_summary(self, now, errors_since, count_limit)
    }

    /// `error` rows with `error_time >= since` (of `funcid` when given), oldest first
    /// (`error_time`, then `jobid`), at most `limit`: the listing behind
    /// `schwartz errors --follow`.
    fn failures_from(
        &self,
        since: Epoch,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>> {
        crate::store_inspect::failures_from(self, since, funcid, limit)
    }

    /// Operator cancel: removes each job, pending or leased, fenced on the `grabbed_until`
    /// it read (a lease extension in between is retried a few times), and records the
    /// removal as an `error` row with `message` and an exit status [`CANCELLED_EXIT_STATUS`]
    /// kept `keep_for` seconds, and for a leased job at least until its lease would have
    /// ended. Removing a leased job revokes the lease: its worker's next fenced write fails,
    /// and the exit status tells it why. A job whose lease kept moving is reported as
    /// [`JobChange::Running`]; [`JobChange::Changed`] carries the row as read (leased when
    /// its `grabbed_until > now`). One result per id, in order.
    fn cancel_jobs(
        &self,
        jobids: &[JobId],
        now: Epoch,
        message: &str,
        keep_for: i64,
    ) -> Result<Vec<JobChange>> {
        crate::store_inspect::cancel_jobs(self, jobids, now, message, keep_for)
    }

    /// Operator reschedule: `run_after = run_after, grabbed_until = 0` for each job that is
    /// not leased at `now`, fenced as [`Store::cancel_jobs`] is; a leased job is refused.
    /// One result per id, in order.
    fn reschedule_jobs(
        &self,
        jobids: &[JobId],
        run_after: Epoch,
        now: Epoch,
    ) -> Result<Vec<JobChange>> {
        crate::store_inspect::reschedule_jobs(self, jobids, run_after, now)
    }

    /// Registers a periodic schedule (`schwartz_schedule`): inserts `row` when no schedule
    /// has its name, else updates its `funcname` and `spec` and keeps its `last_tick`.
    /// Returns the stored row. A concurrent registration of the same name is fine.
    ///
    /// Default: [`Error::InvalidInput`](crate::Error::InvalidInput) (the store keeps no
    /// schedules).
    fn register_schedule(&self, row: &ScheduleRow) -> Result<ScheduleRow> {
        Err(unsupported(self, "periodic schedules", &row.name))
    }

    /// The schedules registered in this database, by name.
    fn schedules(&self) -> Result<Vec<ScheduleRow>> {
        Ok(Vec::new())
    }

    /// Records tick `tick` of schedule `name` and inserts `job` (when given), in one
    /// transaction: a compare-and-set `last_tick = tick WHERE name AND last_tick < tick`
    /// first; when it matches no row nothing is written and the result is
    /// [`TickInsert::Taken`]. So each tick is inserted once, however many pools race on it.
    /// A job the insert refuses (e.g. `DuplicateUniqkey`) is the error, and the tick is not
    /// recorded either.
    fn insert_tick(&self, name: &str, tick: Epoch, job: Option<&NewJobRow>) -> Result<TickInsert> {
        let _ = (tick, job);
        Err(unsupported(self, "periodic schedules", name))
    }

    /// Writes outcomes as [`Store::finish`] does, and with them the results in `results`
    /// (into `schwartz_result`, replacing an older row of the job), each only when its item's
    /// fenced write matched and removed the job, in the same transaction. Default: `finish`
    /// when `results` is empty, else [`Error::InvalidInput`](crate::Error::InvalidInput).
    fn finish_with_results(
        &self,
        items: &[Finish],
        results: &[ResultWrite],
    ) -> Result<Vec<FinishStatus>> {
        if results.is_empty() {
            return self.finish(items);
        }
        Err(unsupported(self, "job results", "finish"))
    }

    /// The recorded result of a job, if any (and not yet pruned).
    fn job_result(&self, jobid: JobId) -> Result<Option<ResultRow>> {
        let _ = jobid;
        Ok(None)
    }

    /// Deletes up to `limit` results with `delete_after < now`; returns how many.
    fn prune_results(&self, now: Epoch, limit: usize) -> Result<u64> {
        let _ = (now, limit);
        Ok(0)
    }

    /// A listener woken when results are written (PostgreSQL: LISTEN/NOTIFY), when the
    /// backend has one; waiters poll otherwise.
    fn result_notifier(&self) -> Result<Option<Box<dyn Notifier>>> {
        Ok(None)
    }
}

/// The error of a store that does not keep our extra tables.
fn unsupported<S: Store + ?Sized>(store: &S, what: &str, name: &str) -> crate::Error {
    crate::Error::InvalidInput(format!(
        "{} does not keep {what} ({name})",
        store.describe()
    ))
}
