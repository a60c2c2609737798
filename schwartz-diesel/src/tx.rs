//! Enqueueing inside the application's own transaction.
//!
//! [`insert_in`] and [`insert_jobs_in`] write jobs with the application's diesel connection
//! (`PgConnection`, `MysqlConnection` or `SqliteConnection`, plain or borrowed from an r2d2
//! or deadpool pool), so a job commits or rolls back with the rows it is about. They run
//! the same statements as [`DieselStore`]'s inserts: the function's `funcmap` row is
//! created when missing (in the same transaction), explicit ids and uniqkeys are checked
//! the same way, and on PostgreSQL the pools listening for new jobs are notified, which
//! the server delivers at commit (never for a rolled-back job).
//!
//! A statement that may fail on a constraint (a new function name racing another
//! transaction, a uniqkey, an explicit id) runs under a savepoint, so on PostgreSQL the
//! error leaves the caller's transaction usable. Outside a transaction each call is its
//! own transaction.
//!
//! ```
//! use diesel::{Connection, RunQueryDsl, SqliteConnection};
//! use schwartz_core::Job;
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("app.db");
//! # let url = path.to_str().unwrap();
//! # schwartz_diesel::DieselStore::connect(url)?.run_migrations()?;
//! let mut conn = SqliteConnection::establish(url)?;
//! diesel::sql_query("CREATE TABLE orders (id INTEGER PRIMARY KEY)").execute(&mut conn)?;
//! conn.transaction(|conn| {
//!     diesel::sql_query("INSERT INTO orders (id) VALUES (42)").execute(conn)?;
//!     schwartz_diesel::insert_in(conn, &Job::new("send_receipt").arg(&42u64)?)?;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use diesel::Connection;
use schwartz_core::store::{Finish, FinishStatus, Limits, NewJobRow};
use schwartz_core::validate::job_against;
use schwartz_core::{Error, FuncId, Job, JobHandle, JobId, QueuedJob, Result};

use crate::conn::{Ctx, OpError};
use crate::ops::{in_batch_duplicate, max_arg, max_epoch, Ops};
use crate::sql::Sql;
use crate::{Backend, DieselStore};

mod sealed {
    /// Implemented for the diesel connections of the compiled-in backends only.
    pub trait Sealed {}
}

/// A diesel connection jobs can be inserted with: `PgConnection`, `MysqlConnection` or
/// `SqliteConnection`, as the crate's features allow.
pub trait TxConnection: sealed::Sealed + Connection {
    #[doc(hidden)]
    fn insert_jobs_tx(&mut self, store: Option<&DieselStore>, jobs: &[Job]) -> Result<Vec<JobId>>;
    #[doc(hidden)]
    fn finish_tx(
        &mut self,
        store: Option<&DieselStore>,
        items: &[Finish],
    ) -> Result<Vec<FinishStatus>>;
}

/// Runs `f` with the context of `store` (its description, what it knows of its server,
/// its table names), or without a store that of a connection the application owns.
fn with_ctx<T>(
    store: Option<&DieselStore>,
    backend: Backend,
    f: impl FnOnce(&Ctx) -> Result<T>,
) -> Result<T> {
    match store {
        Some(s) if s.backend() == backend => f(&s.ctx),
        Some(s) => Err(Error::InvalidInput(format!(
            "{} is a {} store; this is a {} connection",
            s.ctx.describe,
            s.backend(),
            backend
        ))),
        None => f(&connection_ctx(backend)),
    }
}

/// The context of a connection the application owns: nothing cached, no password known.
fn connection_ctx(backend: Backend) -> Ctx {
    Ctx::new(
        format!("the application's {backend} connection"),
        backend,
        None,
    )
}

macro_rules! tx_connection {
    ($conn:ty, $backend:expr) => {
        impl sealed::Sealed for $conn {}
        impl TxConnection for $conn {
            fn insert_jobs_tx(
                &mut self,
                store: Option<&DieselStore>,
                jobs: &[Job],
            ) -> Result<Vec<JobId>> {
                // The application's connection may serve stores with other table names:
                // see `names.rs` on prepared statements.
                with_ctx(store, $backend, |ctx| {
                    crate::names::scoped(&ctx.names, true, || insert_jobs(self, ctx, jobs))
                        .map_err(|e| ctx.map(e))
                })
            }

            fn finish_tx(
                &mut self,
                store: Option<&DieselStore>,
                items: &[Finish],
            ) -> Result<Vec<FinishStatus>> {
                with_ctx(store, $backend, |ctx| {
                    crate::names::scoped(&ctx.names, true, || {
                        crate::finish::finish_in(self, ctx, items)
                    })
                    .map_err(|e| ctx.map(e))
                })
            }
        }
    };
}

#[cfg(feature = "sqlite")]
tx_connection!(diesel::sqlite::SqliteConnection, Backend::Sqlite);
#[cfg(feature = "postgres")]
tx_connection!(diesel::pg::PgConnection, Backend::Postgres);
#[cfg(feature = "mysql")]
tx_connection!(diesel::mysql::MysqlConnection, Backend::Mysql);

/// Inserts `job` with the application's connection, inside its transaction if one is open
/// (see the [module docs](self)); returns the job's id. Uses TheSchwartz's plain table
/// names; for a store with a table prefix use [`DieselStore::insert_in`].
///
/// # Errors
/// As [`Client::insert`](schwartz_core::Client::insert): [`Error::InvalidInput`] for a job
/// the database cannot hold, [`Error::DuplicateUniqkey`] when a pending job of the same
/// function has its uniqkey (the caller's transaction stays usable), else the database's
/// error.
pub fn insert_in<C: TxConnection>(conn: &mut C, job: &Job) -> Result<JobId> {
    let ids = conn.insert_jobs_tx(None, std::slice::from_ref(job))?;
    ids.into_iter()
        .next()
        .ok_or_else(|| Error::InvalidInput(String::from("insert returned no job id")))
}

/// Inserts `jobs` with the application's connection, all or nothing (see [`insert_in`]);
/// returns their ids in order. An empty list inserts nothing.
///
/// # Errors
/// As [`insert_in`]; two jobs of the list with the same function and uniqkey are
/// [`Error::DuplicateUniqkey`] and nothing is inserted.
pub fn insert_jobs_in<C: TxConnection>(conn: &mut C, jobs: &[Job]) -> Result<Vec<JobId>> {
    conn.insert_jobs_tx(None, jobs)
}

/// Completes a grabbed job with the application's connection, inside its transaction: the
/// job's removal (and exit status, if kept) commits with the work's own writes, fenced on
/// the job's lease like every outcome. If the transaction rolls back, the job stays leased
/// until its lease runs out and then runs again (see
/// [`QueuedJob::completed_with`]). Within a pool's worker, the pool writes nothing more for
/// the job.
///
/// # Errors
/// [`Error::LeaseLost`] when another worker holds the job now (nothing written; roll the
/// transaction back if the work must not stand), [`Error::AlreadyFinished`], or the
/// database's error.
pub fn complete_in<C: TxConnection>(conn: &mut C, job: &QueuedJob) -> Result<()> {
    job.completed_with(&mut |items| conn.finish_tx(None, items))
}

/// Fails a grabbed job with the application's connection, inside its transaction (see
/// [`complete_in`]): the error row and the retry (or removal) commit with the transaction;
/// retried while the worker's `max_retries` allows.
///
/// # Errors
/// As [`complete_in`].
pub fn fail_in<C: TxConnection>(conn: &mut C, job: &QueuedJob, message: &str) -> Result<()> {
    job.failed_with(message, &mut |items| conn.finish_tx(None, items))
}

impl DieselStore {
    /// [`insert_in`], for a connection to this store's database: returns the job's handle
    /// (usable with a [`Client`](schwartz_core::Client) that has this store), and reuses
    /// what the store knows of its server. The connection must be to the same database;
    /// that is not checked beyond the backend.
    ///
    /// # Errors
    /// As [`insert_in`]; [`Error::InvalidInput`] when the connection is of another backend.
    pub fn insert_in<C: TxConnection>(&self, conn: &mut C, job: &Job) -> Result<JobHandle> {
        let mut handles = self.insert_jobs_in(conn, std::slice::from_ref(job))?;
        handles
            .pop()
            .ok_or_else(|| Error::InvalidInput(String::from("insert returned no job id")))
    }

    /// [`complete_in`], for a connection to this store's database: needed when the store
    /// has a table prefix or schema (the free function knows only the plain names).
    ///
    /// # Errors
    /// As [`complete_in`]; [`Error::InvalidInput`] when the connection is of another backend.
    pub fn complete_in<C: TxConnection>(&self, conn: &mut C, job: &QueuedJob) -> Result<()> {
        job.completed_with(&mut |items| conn.finish_tx(Some(self), items))
    }

    /// [`fail_in`], for a connection to this store's database (see
    /// [`DieselStore::complete_in`]).
    ///
    /// # Errors
    /// As [`fail_in`].
    pub fn fail_in<C: TxConnection>(
        &self,
        conn: &mut C,
        job: &QueuedJob,
        message: &str,
    ) -> Result<()> {
        job.failed_with(message, &mut |items| conn.finish_tx(Some(self), items))
    }

    /// [`insert_jobs_in`], for a connection to this store's database (see
    /// [`DieselStore::insert_in`]).
    ///
    /// # Errors
    /// As [`insert_jobs_in`].
    pub fn insert_jobs_in<C: TxConnection>(
        &self,
        conn: &mut C,
        jobs: &[Job],
    ) -> Result<Vec<JobHandle>> {
        use schwartz_core::store::Store;
        let hash = schwartz_core::StoreHash::of(&self.identity());
        Ok(conn
            .insert_jobs_tx(Some(self), jobs)?
            .into_iter()
            .map(|id| JobHandle::new(hash.clone(), id))
            .collect())
    }
}

fn insert_jobs<C: Sql>(c: &mut C, ctx: &Ctx, jobs: &[Job]) -> Result<Vec<JobId>, OpError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let limits = Limits::new(
        max_arg(c, ctx)?,
        max_epoch(c, ctx)?,
        DieselStore::MAX_EXPLICIT_JOB_ID,
    );
    for job in jobs {
        job.validate()?;
        job_against(job, &limits)?;
    }
    let now = c.server_time()?;
    let mut rows = Vec::with_capacity(jobs.len());
    let mut funcids: Vec<(&str, FuncId)> = Vec::new();
    for job in jobs {
        let name = job.funcname();
        let id = match funcids.iter().find(|(n, _)| *n == name) {
            Some((_, id)) => *id,
            None => {
                let id = c.op_funcid(name)?;
                funcids.push((name, id));
                id
            }
        };
        rows.push(NewJobRow::of(job, id, now));
    }
    if let Some((funcid, key)) = in_batch_duplicate(&rows) {
        let funcname = funcids
            .iter()
            .find(|(_, id)| *id == funcid)
            .map(|(n, _)| n.to_string());
        return Err(OpError::Store(Error::DuplicateUniqkey {
            store: ctx.describe.clone(),
            funcname,
            uniqkey: Some(key),
        }));
    }
    // Several rows, explicit ids and uniqkeys can fail half-way or on a constraint: under a
    // savepoint (all or nothing, and the caller's transaction survives the error).
    let guarded = rows.len() > 1
        || rows
            .iter()
            .any(|r| r.uniqkey.is_some() || r.jobid.is_some());
    let inserted = if guarded {
        c.transaction(|c| c.insert_rows(ctx, &rows))
    } else {
        c.insert_rows(ctx, &rows)
    };
    let ids = match inserted {
        Ok(ids) => ids,
        Err(e) => return Err(crate::ops::on_unique(c, ctx, &rows, e)),
    };
    if c.needs_explicit_notify(ctx)? {
        c.notify_new_jobs(ctx)?;
    }
    Ok(ids.into_iter().map(JobId).collect())
}
