//! Connections, the pool manager, the per-backend `Dialect` trait and error mapping.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;
use schwartz_core::store::{JobQuery, JobRow, Lease, NewJobRow};
use schwartz_core::Error;

use crate::watchdog::Socket;
use crate::Backend;

/// The error type inside one store operation.
#[derive(Debug)]
pub(crate) enum OpError {
    /// What diesel reported.
    Db(DieselError),
    /// A finished error of ours (e.g. invalid input).
    Store(Error),
    /// Internal: a fenced write inside a savepoint matched no row.
    LeaseLost,
}

impl From<DieselError> for OpError {
    fn from(e: DieselError) -> Self {
        OpError::Db(e)
    }
}

impl From<Error> for OpError {
    fn from(e: Error) -> Self {
        OpError::Store(e)
    }
}

/// How a database error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// SQLite busy/locked, MySQL deadlock or lock wait timeout, PostgreSQL serialization
    /// failure or deadlock: the operation is retried.
    Retry,
    /// The connection failed (refused, closed, gone away): `Error::Unavailable`, the
    /// connection is discarded and the store may be marked dead. Only this class does that:
    /// data errors (constraints, encoding, values too long) are `Error::Database` or
    /// `Error::InvalidInput` and leave the store alive.
    Unavailable,
    /// A missing table: `Error::SchemaMissing`.
    SchemaMissing,
    /// A unique violation.
    Unique,
    /// Anything else: `Error::Database`.
    Other,
}

/// Classifies a diesel error by kind and driver message.
pub(crate) fn classify(e: &DieselError) -> Class {
    match e {
        DieselError::DatabaseError(kind, info) => {
            let msg = info.message().to_ascii_lowercase();
            match kind {
                DatabaseErrorKind::UniqueViolation => return Class::Unique,
                DatabaseErrorKind::ClosedConnection => return Class::Unavailable,
                DatabaseErrorKind::SerializationFailure => return Class::Retry,
                _ => {}
            }
            classify_message(&msg)
        }
        DieselError::BrokenTransactionManager => Class::Unavailable,
        DieselError::AlreadyInTransaction | DieselError::NotInTransaction => Class::Other,
        _ => Class::Other,
    }
}

/// Whether a failed statement left its connection unusable although the error is about the
/// data (MySQL closes the connection after a packet over `max_allowed_packet`): such a
/// connection never goes back to the pool.
pub(crate) fn poisons_connection(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(_, info) => {
            let msg = info.message().to_ascii_lowercase();
            msg.contains("max_allowed_packet")
                || msg.contains("packet bigger than")
                || msg.contains(STALE_PLAN)
        }
        _ => false,
    }
}

/// PostgreSQL, on a statement prepared before a migration changed a column's type (the
/// 64-bit time columns): the connection's statement cache is stale, so the connection is
/// dropped and the operation retried on another one.
const STALE_PLAN: &str = "cached plan must not change result type";

/// Classifies a driver message (lowercase).
pub(crate) fn classify_message(msg: &str) -> Class {
    if msg.contains(STALE_PLAN) {
        return Class::Retry;
    }
    if msg.contains("no such table")
        || (msg.contains("relation") && msg.contains("does not exist"))
        || (msg.contains("table") && msg.contains("doesn't exist"))
    {
        return Class::SchemaMissing;
    }
    if msg.contains("database is locked")
        || msg.contains("database table is locked")
        || msg.contains("database schema is locked")
        || msg.contains("sqlite_busy")
        || msg.contains("deadlock")
        || msg.contains("lock wait timeout")
        || msg.contains("could not serialize access")
        || msg.contains("try restarting transaction")
    {
        return Class::Retry;
    }
    const GONE: &[&str] = &[
        "server closed the connection",
        "terminating connection",
        "connection to server",
        "no connection to the server",
        "could not connect",
        "connection refused",
        "server has gone away",
        "lost connection",
        "can't connect",
        "broken pipe",
        "connection reset",
        "ssl syscall",
        "the database system is shutting down",
        "the database system is starting up",
        "cannot connect now",
        "server shutdown in progress",
        "connection was killed",
        "unable to open database file",
        "disk i/o error",
    ];
    if GONE.iter().any(|g| msg.contains(g)) {
        return Class::Unavailable;
    }
    Class::Other
}

/// Per-store context shared by the operations: names and cached facts about the database.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// `Store::describe`.
    pub describe: String,
    /// The backend.
    pub backend: Backend,
    /// The largest `job.arg` this server takes, in bytes (read once; see
    /// [`Dialect::max_arg_len`]).
    pub max_arg: OnceLock<usize>,
    /// The largest epoch second the time columns hold, 0 while unknown (read once, and
    /// again after a migration; see [`Dialect::time_columns_64`]).
    pub max_epoch: std::sync::atomic::AtomicI64,
    /// The password, to scrub from driver messages (never printed).
    pub secret: Option<String>,
    /// `error.message` capacity: (characters, bytes); `None` when unlimited.
    pub message_cap: OnceLock<Option<(usize, usize)>>,
    /// MySQL: (`innodb_autoinc_lock_mode`, `auto_increment_increment`).
    #[cfg(feature = "mysql")]
    pub autoinc: OnceLock<(i64, i64)>,
    /// Whether `FOR UPDATE SKIP LOCKED` works on this server.
    pub skip_locked: OnceLock<bool>,
    /// PostgreSQL: whether the `schwartz_job_notify` trigger announces inserts
    /// (`NOTIFY_UNKNOWN` until checked; reset when migrations change the schema).
    pub notify_trigger: AtomicU8,
    /// MySQL: whether `job` has our `job_funcid_grabbed_until` index, which the grab of one
    /// function's jobs then names ([`LEASE_INDEX_UNKNOWN`] until checked; reset when
    /// migrations change the schema).
    pub lease_index: AtomicU8,
    /// Rows inserted by bulk `insert_jobs` calls since the planner statistics of `job` were
    /// last checked (see [`Dialect::refresh_job_statistics`]).
    pub bulk_rows: AtomicU64,
    /// Jobs finished since the dead rows of `job` were last checked (PostgreSQL, see
    /// [`Dialect::vacuum_job_if_needed`]).
    pub finished_rows: AtomicU64,
    /// Whether a background vacuum of `job` is running.
    pub vacuuming: Arc<AtomicBool>,
    /// The names of the tables (prefix, schema); see `names.rs`.
    pub names: Arc<crate::names::Names>,
}

/// [`Ctx::lease_index`]: not checked yet.
pub(crate) const LEASE_INDEX_UNKNOWN: u8 = 0;
/// [`Ctx::lease_index`]: checked, absent.
pub(crate) const LEASE_INDEX_ABSENT: u8 = 1;
/// [`Ctx::lease_index`]: checked, present.
pub(crate) const LEASE_INDEX_PRESENT: u8 = 2;

/// [`Ctx::notify_trigger`]: not checked yet.
pub(crate) const NOTIFY_UNKNOWN: u8 = 0;
/// [`Ctx::notify_trigger`]: no trigger, send NOTIFY explicitly.
#[cfg(feature = "postgres")]
pub(crate) const NOTIFY_EXPLICIT: u8 = 1;
/// [`Ctx::notify_trigger`]: the trigger notifies.
#[cfg(feature = "postgres")]
pub(crate) const NOTIFY_BY_TRIGGER: u8 = 2;

impl Ctx {
    /// A context with nothing cached yet.
    pub fn new(describe: String, backend: Backend, secret: Option<String>) -> Self {
        Ctx {
            describe,
            backend,
            max_arg: OnceLock::new(),
            max_epoch: std::sync::atomic::AtomicI64::new(0),
            secret,
            message_cap: OnceLock::new(),
            #[cfg(feature = "mysql")]
            autoinc: OnceLock::new(),
            skip_locked: OnceLock::new(),
            notify_trigger: AtomicU8::new(NOTIFY_UNKNOWN),
            lease_index: AtomicU8::new(LEASE_INDEX_UNKNOWN),
            bulk_rows: AtomicU64::new(0),
            finished_rows: AtomicU64::new(0),
            vacuuming: Arc::new(AtomicBool::new(false)),
            names: Arc::default(),
        }
    }

    /// The same context with other table names.
    pub fn with_names(mut self, names: crate::names::Names) -> Self {
        self.names = Arc::new(names);
        self
    }

    /// Removes the password from a driver message.
    pub fn scrub(&self, msg: &str) -> String {
        match &self.secret {
            Some(s) if !s.is_empty() => msg.replace(s.as_str(), "***"),
            _ => msg.to_string(),
        }
    }

    /// Maps an operation error to the crate error, naming the store.
    pub fn map(&self, e: OpError) -> Error {
        match e {
            OpError::Store(e) => e,
            OpError::LeaseLost => Error::Database {
                store: self.describe.clone(),
                message: "internal: unexpected lease-lost sentinel".into(),
            },
            OpError::Db(e) => self.map_db(&e),
        }
    }

    /// Maps a diesel error.
    pub fn map_db(&self, e: &DieselError) -> Error {
        let message = self.scrub(&e.to_string());
        let store = self.describe.clone();
        match classify(e) {
            Class::Unavailable | Class::Retry => Error::Unavailable { store, message },
            Class::SchemaMissing => Error::SchemaMissing { store, message },
            Class::Unique => Error::DuplicateUniqkey {
                store,
                funcname: None,
                uniqkey: None,
            },
            Class::Other => Error::Database { store, message },
        }
    }

    /// A failure message as the `error.message` column can hold it: NUL (which PostgreSQL
    /// text cannot store) written as `\0`, then truncated to the column's capacity. A
    /// failure is never dropped because of its message.
    pub fn sanitize_message<'a>(&self, msg: &'a str) -> std::borrow::Cow<'a, str> {
        let msg: std::borrow::Cow<'a, str> =
            if self.backend == Backend::Postgres && msg.contains('\0') {
                msg.replace('\0', "\\0").into()
            } else {
                msg.into()
            };
        match msg {
            std::borrow::Cow::Borrowed(m) => self.truncate_message(m).into(),
            std::borrow::Cow::Owned(m) => self.truncate_message(&m).to_string().into(),
        }
    }

    /// Truncates a failure message to the `error.message` column.
    fn truncate_message<'a>(&self, msg: &'a str) -> &'a str {
        match self.message_cap.get().copied().flatten() {
            None => msg,
            Some((chars, bytes)) => {
                let mut end = 0;
                for (n, (i, c)) in msg.char_indices().enumerate() {
                    if n >= chars || i + c.len_utf8() > bytes {
                        break;
                    }
                    end = i + c.len_utf8();
                }
                &msg[..end]
            }
        }
    }
}

/// A pooled connection and whether it must be discarded.
pub(crate) struct Conn<C> {
    /// The diesel connection.
    pub inner: C,
    /// Set after a connection-class error: r2d2 drops it instead of reusing it.
    pub broken: bool,
    /// When it was established or last checked, on the store's birth counter.
    pub born: u64,
    /// Its TCP socket, for the call watchdog (see `watchdog.rs`); `None` when not found.
    pub socket: Option<Socket>,
}

/// The r2d2 manager: establishes connections and tunes them per backend.
pub(crate) struct Manager<C> {
    url: String,
    secret: Option<String>,
    births: Arc<AtomicU64>,
    /// SQLite's busy timeout (the store's call timeout).
    busy_timeout: Option<std::time::Duration>,
    _conn: PhantomData<fn() -> C>,
}

impl<C> std::fmt::Debug for Manager<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl<C> Manager<C> {
    pub fn new(url: String, secret: Option<String>, births: Arc<AtomicU64>) -> Self {
        Manager {
            url,
            secret,
            births,
            busy_timeout: None,
            _conn: PhantomData,
        }
    }

    /// SQLite: how long a statement waits for another connection's lock.
    pub fn busy_timeout(mut self, d: std::time::Duration) -> Self {
        self.busy_timeout = Some(d);
        self
    }
}

/// A connection failure (message already free of the password).
#[derive(Debug)]
pub(crate) struct ConnectError(pub String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

impl<C: Dialect> r2d2::ManageConnection for Manager<C> {
    type Connection = Conn<C>;
    type Error = ConnectError;

    fn connect(&self) -> Result<Conn<C>, ConnectError> {
        let scrub = |m: String| match &self.secret {
            Some(s) if !s.is_empty() => m.replace(s.as_str(), "***"),
            _ => m,
        };
        let mut inner = C::establish(&self.url).map_err(|e| ConnectError(scrub(e.to_string())))?;
        inner
            .setup()
            .map_err(|e| ConnectError(scrub(e.to_string())))?;
        if let (crate::Backend::Sqlite, Some(d)) = (C::BACKEND, self.busy_timeout) {
            inner
                .batch_execute(&format!("PRAGMA busy_timeout = {}", d.as_millis().max(1)))
                .map_err(|e| ConnectError(scrub(e.to_string())))?;
        }
        let socket = match inner.client_port() {
            Ok(Some(port)) => Socket::find(port, None),
            Ok(None) => None,
            Err(e) => {
                log::debug!(
                    "no client port for the call watchdog: {}",
                    scrub(e.to_string())
                );
                None
            }
        };
        if socket.is_none() && C::BACKEND != crate::Backend::Sqlite {
            log::debug!(
                "new {} connection: not watched (no TCP socket found)",
                C::BACKEND
            );
        }
        Ok(Conn {
            inner,
            broken: false,
            born: self.births.fetch_add(1, Ordering::Relaxed) + 1,
            socket,
        })
    }

    fn is_valid(&self, conn: &mut Conn<C>) -> Result<(), ConnectError> {
        conn.inner
            .batch_execute("SELECT 1")
            .map_err(|e| ConnectError(e.to_string()))
    }

    fn has_broken(&self, conn: &mut Conn<C>) -> bool {
        conn.broken
    }
}

/// What differs between the backends. Implemented for each diesel connection type.
pub(crate) trait Dialect: Connection + Sized + Send + 'static {
    /// The backend.
    const BACKEND: Backend;
    /// The largest `job.arg` the backend takes, in bytes, when the server does not say
    /// otherwise.
    const MAX_ARG: usize;

    /// The largest `job.arg` this server takes (MySQL: `max_allowed_packet` minus room for
    /// the rest of the statement, at most the column's size).
    fn max_arg_len(&mut self) -> diesel::QueryResult<usize> {
        Ok(Self::MAX_ARG)
    }

    /// The rows of a grab's candidate query for one function in jobid order, from prepared
    /// statements (MySQL, where the DSL's form is prepared anew on every run; `by_lease`:
    /// through the lease index); `None`: not such a query, or not this backend.
    fn eligible_rows(
        &mut self,
        _q: &schwartz_core::store::JobQuery,
        _by_lease: bool,
    ) -> diesel::QueryResult<Option<Vec<crate::models::DbJob>>> {
        Ok(None)
    }

    /// Whether `job` has the index `job_funcid_grabbed_until` on `(funcid, grabbed_until)`
    /// (our MySQL migrations; see [`Ctx::lease_index`]). Only MySQL's grab names it.
    fn has_lease_index(&mut self) -> diesel::QueryResult<bool> {
        Ok(false)
    }

    /// Whether the time columns are 64-bit (`BIGINT`, our migrations) rather than
    /// TheSchwartz's `INTEGER`. SQLite's `INTEGER` is 64-bit.
    fn time_columns_64(&mut self) -> diesel::QueryResult<bool> {
        Ok(true)
    }

    /// The column names of table `table` (in `schema`, PostgreSQL; else the current one),
    /// empty when it does not exist. `table` and `schema` are checked identifiers.
    fn column_names(
        &mut self,
        table: &str,
        schema: Option<&str>,
    ) -> diesel::QueryResult<Vec<String>>;

    /// Per-connection settings, run once after connecting.
    fn setup(&mut self) -> diesel::QueryResult<()>;

    /// The local TCP port of this connection as the server sees it (`None` over a Unix
    /// socket or for SQLite): finds the socket the call watchdog shuts down.
    fn client_port(&mut self) -> diesel::QueryResult<Option<u16>> {
        Ok(None)
    }

    /// The server's clock, epoch seconds.
    fn server_time(&mut self) -> diesel::QueryResult<i64>;

    /// The server's clock, epoch milliseconds.
    fn server_time_ms(&mut self) -> diesel::QueryResult<i64>;

    /// Runs `f` in a write transaction (SQLite: `BEGIN IMMEDIATE`).
    fn write_txn<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, OpError>,
    ) -> Result<T, OpError>;

    /// Inserts job rows (already inside a transaction); returns their ids in order.
    fn insert_rows(&mut self, ctx: &Ctx, rows: &[NewJobRow]) -> Result<Vec<i64>, OpError>;

    /// Inserts one job with a generated id as one statement that also tells listeners,
    /// where the backend has one beyond [`Dialect::insert_rows`] (PostgreSQL without the
    /// notify trigger: a data-modifying WITH that calls `pg_notify`). `None`: use
    /// `insert_rows`. Runs outside any transaction: the statement commits by itself.
    /// (MariaDB's `INSERT ... RETURNING` would save its `SELECT LAST_INSERT_ID()`, but
    /// diesel's MySQL connection refuses a prepared statement whose result set has no
    /// metadata at prepare time: "No metadata exists".)
    fn insert_one(&mut self, ctx: &Ctx, row: &NewJobRow) -> Result<Option<i64>, OpError> {
        let _ = (ctx, row);
        Ok(None)
    }

    /// Whether an insert must be followed by an explicit NOTIFY (PostgreSQL without the
    /// notify trigger of our migrations). When false, a one-row insert is one statement.
    fn needs_explicit_notify(&mut self, ctx: &Ctx) -> diesel::QueryResult<bool> {
        let _ = ctx;
        Ok(false)
    }

    /// Tells listeners that jobs were inserted (PostgreSQL NOTIFY, inside the transaction),
    /// unless the database's trigger does.
    fn notify_new_jobs(&mut self, ctx: &Ctx) -> diesel::QueryResult<()> {
        let _ = ctx;
        Ok(())
    }

    /// `DELETE FROM job WHERE grabbed_until = token AND jobid IN (ids)` inside a write
    /// transaction; returns the ids deleted.
    fn delete_fenced(&mut self, token: i64, ids: &[i64]) -> diesel::QueryResult<Vec<i64>>;

    /// Deletes up to `limit` error rows older than `older_than`.
    fn prune_errors(&mut self, older_than: i64, limit: i64) -> diesel::QueryResult<usize>;

    /// `error.message` capacity (characters, bytes), `None` when unlimited.
    fn message_capacity(&mut self) -> diesel::QueryResult<Option<(usize, usize)>>;

    /// After bulk inserts: refreshes the optimizer's statistics of `job` when they are
    /// missing or stale (a queue table goes from empty to 100,000s of rows in a second, long
    /// before the server's own background statistics catch up, and a claim query planned
    /// without statistics sorts the whole eligible queue on every grab). Returns whether it
    /// refreshed them. Never called for small inserts.
    fn refresh_job_statistics(&mut self) -> diesel::QueryResult<bool> {
        Ok(false)
    }

    /// Removes the dead rows of `job` (PostgreSQL VACUUM) when enough have piled up; returns
    /// whether it vacuumed. Runs on a background thread, never inside a transaction.
    #[cfg(feature = "postgres")]
    fn vacuum_job_if_needed(&mut self) -> diesel::QueryResult<bool> {
        Ok(false)
    }

    /// Whether `FOR UPDATE SKIP LOCKED` is available.
    fn probe_skip_locked(&mut self) -> diesel::QueryResult<bool> {
        Ok(false)
    }

    /// The batch grab with `FOR UPDATE SKIP LOCKED`; `None` when unsupported.
    fn grab_skip_locked(
        &mut self,
        _ctx: &Ctx,
        _query: &JobQuery,
        _leases: &[Lease],
        _now: i64,
    ) -> Result<Option<Vec<JobRow>>, OpError> {
        Ok(None)
    }
}

/// The largest explicit job id an insert takes: 2^62, so that at least as many generated ids
/// remain after it on every backend (an id of `i64::MAX` would leave the sequence, the
/// AUTO_INCREMENT counter or SQLite's rowid nowhere to go, and every later insert would fail).
pub(crate) const MAX_EXPLICIT_JOB_ID: i64 = 1 << 62;

/// The largest epoch second TheSchwartz's schema files hold: their time columns are
/// `INTEGER` (2038-01-19T03:14:07Z; MySQL's `INTEGER UNSIGNED` could go to 2106, but
/// PostgreSQL's cannot and Perl TheSchwartz is only tested within it, so one limit for all).
pub(crate) const MAX_EPOCH_32: i64 = i32::MAX as i64;

/// The largest epoch second used with our migrations' `BIGINT` time columns:
/// 9999-12-31T23:59:59Z, so that every conversion to a calendar date stays in range.
pub(crate) const MAX_EPOCH_64: i64 = 253_402_300_799;

/// `SELECT` of the number of time columns that are not `BIGINT` in the schema `{schema}`
/// (information_schema, on PostgreSQL and MySQL; `{schema}` is the SQL of the current one).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn narrow_time_columns_sql(schema: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = {schema} \
         AND table_name IN ('job', 'error', 'exitstatus') \
         AND column_name IN ('insert_time', 'run_after', 'grabbed_until', 'error_time', \
         'completion_time', 'delete_after') AND LOWER(data_type) <> 'bigint')"
    )
}

/// Epoch seconds into a time column whose largest value is `max`, refusing values that do
/// not fit.
pub(crate) fn col_time(t: i64, max: i64, what: &str) -> Result<i64, OpError> {
    if (-max - 1..=max).contains(&t) {
        return Ok(t);
    }
    let kind = if max == MAX_EPOCH_32 {
        "INTEGER time columns of TheSchwartz's schema (up to 2038-01-19T03:14:07Z; apply this crate's migrations for 64-bit times)"
    } else {
        "time columns (up to 9999-12-31T23:59:59Z)"
    };
    Err(OpError::Store(Error::InvalidInput(format!(
        "{what} {t} does not fit the {kind}: epoch seconds {} to {max}",
        -max - 1
    ))))
}

/// Epoch seconds for a computed time (a retry, a decline, a log entry): clamped into the
/// columns' range, so that a far-future time never leaves a job stuck.
pub(crate) fn clamp_time(t: i64, max: i64) -> i64 {
    t.clamp(-max - 1, max)
}

/// Checks a job row before it is sent, and converts its numbers to the column types.
pub(crate) fn check_new_job<C: Dialect>(
    row: &NewJobRow,
    max_arg: usize,
    max_epoch: i64,
) -> Result<CheckedJob, OpError> {
    let bad = |m: String| OpError::Store(Error::InvalidInput(m));
    if let Some(arg) = &row.arg {
        if arg.len() > max_arg {
            return Err(bad(format!(
                "job argument of {} bytes exceeds this {} server's limit of {max_arg} bytes for job.arg",
                arg.len(),
                C::BACKEND,
            )));
        }
    }
    for (what, value) in [("uniqkey", &row.uniqkey), ("coalesce", &row.coalesce)] {
        if let Some(v) = value {
            if C::BACKEND == Backend::Postgres && v.contains('\0') {
                return Err(bad(format!(
                    "{what} {v:?} contains a NUL byte, which PostgreSQL text cannot store"
                )));
            }
            if v.chars().count() > 255 {
                return Err(bad(format!(
                    "{what} of {} characters exceeds the column's 255",
                    v.chars().count()
                )));
            }
        }
    }
    let priority = match row.priority {
        None => None,
        Some(p) => Some(i16::try_from(p).map_err(|_| {
            bad(format!(
                "priority {p} does not fit the SMALLINT column ({}..={})",
                i16::MIN,
                i16::MAX
            ))
        })?),
    };
    let times = [
        ("insert_time", row.insert_time),
        ("run_after", row.run_after),
        ("grabbed_until", row.grabbed_until),
    ];
    let mut out = [0i64; 3];
    for (i, (what, t)) in times.into_iter().enumerate() {
        if C::BACKEND == Backend::Mysql && t < 0 {
            return Err(bad(format!(
                "{what} {t} is negative (the MySQL column is UNSIGNED)"
            )));
        }
        out[i] = col_time(t, max_epoch, what)?;
    }
    if let Some(id) = row.jobid {
        if id.0 <= 0 || id.0 > MAX_EXPLICIT_JOB_ID {
            return Err(bad(format!(
                "explicit job id {} must be between 1 and {MAX_EXPLICIT_JOB_ID} (the store must be able to number the jobs after it)",
                id.0
            )));
        }
    }
    Ok(CheckedJob {
        insert_time: out[0],
        run_after: out[1],
        grabbed_until: out[2],
        priority,
    })
}

/// The converted numbers of a [`NewJobRow`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckedJob {
    pub insert_time: i64,
    pub run_after: i64,
    pub grabbed_until: i64,
    pub priority: Option<i16>,
}

/// A column name (see `Dialect::column_names`).
#[derive(diesel::QueryableByName)]
pub(crate) struct ColumnName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub name: String,
}
