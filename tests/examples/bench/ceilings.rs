//! The database's own ceilings, measured by the bench with the same driver (diesel) on the
//! same `job` table and no queue logic: what each Schwartz figure is read against.
//!
//! - 1-row INSERT: one committed single-row INSERT per job (what `Client::insert` does).
//! - 100-row INSERT: one committed 100-row INSERT per 100 jobs (`insert_jobs`).
//! - claim 1 + delete 1: per job, a claim (PostgreSQL: one `UPDATE ... WHERE jobid IN
//!   (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`; MariaDB and SQLite: a SELECT of a
//!   candidate and a fenced UPDATE) and a DELETE, each committed: TheSchwartz's two commits
//!   per job (`work_until_done`, one at a time).
//! - claim 100 + delete 100: the same for 100 jobs at a time (a pool's drain).
//!
//! Every statement is prepared once per connection, as the
//! store's own are. Each phase starts from an emptied table and analyzes it after its bulk
//! insert, as the store does.
//!
//! The bench measures them twice per backend, before and after the scenarios, and reads
//! each ratio against the mean: on a shared machine the disk's commit latency drifts during
//! a run, and a ceiling from one moment made ratios from 55% to 230% for the same code.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use schwartz_diesel::prepared::{prepared, Bind, StatementText};

use crate::BoxError;

/// The four ceilings, jobs per second (`None`: not measured).
#[derive(Debug, Default, Clone, Copy)]
pub struct Ceilings {
    pub insert1: Option<f64>,
    pub insert100: Option<f64>,
    pub claim1: Option<f64>,
    pub claim100: Option<f64>,
}

/// What the rows of the table are named.
pub const INSERT1: &str = "ceiling: 1-row INSERT, committed each";
pub const INSERT100: &str = "ceiling: 100-row INSERT, committed each";
pub const CLAIM1: &str = "ceiling: claim 1 + delete 1, 2 commits";
pub const CLAIM100: &str = "ceiling: claim 100 + delete 100, 2 commits";

// The columns the ceilings touch. Every statement that the store prepares once per
// connection is prepared once here too (raw `sql_query` text is prepared anew on every run:
// a ceiling made of it would count round trips the store does not make): built with
// diesel's DSL where diesel caches it, else with `schwartz_diesel::prepared`. The multi-row
// INSERTs and IN lists diesel prepares anew each time, for the store and the ceiling alike.
diesel::table! {
    job (jobid) {
        jobid -> BigInt,
        funcid -> Integer,
        arg -> Nullable<Binary>,
        insert_time -> Nullable<BigInt>,
        run_after -> BigInt,
        grabbed_until -> BigInt,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Pg,
    My,
    Lite,
}

/// One new job row.
type Row = (
    diesel::dsl::Eq<job::funcid, i32>,
    diesel::dsl::Eq<job::arg, Option<Vec<u8>>>,
    diesel::dsl::Eq<job::insert_time, Option<i64>>,
    diesel::dsl::Eq<job::run_after, i64>,
    diesel::dsl::Eq<job::grabbed_until, i64>,
);

fn row() -> Row {
    (
        job::funcid.eq(1),
        job::arg.eq(None),
        job::insert_time.eq(Some(0)),
        job::run_after.eq(0),
        job::grabbed_until.eq(0),
    )
}

/// The statements of the ceilings on one kind of connection.
trait Statements: Connection {
    const DIALECT: Dialect;
    /// Inserts `rows` new jobs with one statement.
    fn insert(&mut self, rows: &[Row]) -> QueryResult<usize>;
    /// Claims up to `n` unclaimed jobs; returns their ids.
    fn claim(&mut self, n: i64) -> QueryResult<Vec<i64>>;
    /// Deletes the jobs `ids`.
    fn delete(&mut self, ids: &[i64]) -> QueryResult<usize>;
    /// Runs a statement that is not measured (TRUNCATE, ANALYZE).
    fn run_sql(&mut self, sql: &str) -> QueryResult<()>;
}

/// The unclaimed jobs, oldest first.
macro_rules! candidates {
    ($n:expr) => {
        job::table
            .select(job::jobid)
            .filter(job::funcid.eq(1))
            .filter(job::grabbed_until.eq(0))
            .order(job::jobid)
            .limit($n)
    };
}

// Statements diesel would prepare anew on every run (it never caches an UPDATE, nor an IN
// list on MySQL and SQLite), prepared once as the store's own are.
struct ClaimOneById;
impl StatementText for ClaimOneById {
    const SQL: &'static str =
        "UPDATE job SET grabbed_until = 1 WHERE jobid = ? AND grabbed_until = 0";
}
struct DeleteOne;
impl StatementText for DeleteOne {
    const SQL: &'static str = "DELETE FROM job WHERE jobid = ?";
}
struct ClaimSkipLocked;
impl StatementText for ClaimSkipLocked {
    const SQL: &'static str =
        "UPDATE job SET grabbed_until = 1 WHERE jobid IN (SELECT jobid FROM job \
         WHERE funcid = 1 AND grabbed_until = 0 ORDER BY jobid LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING jobid";
}

// diesel never caches an INSERT of a slice of rows, one row included; the store's
// single-row inserts are prepared once per connection, and so is this ceiling's.
struct InsertOneRow;
impl StatementText for InsertOneRow {
    const SQL: &'static str =
        "INSERT INTO job (funcid, arg, insert_time, run_after, grabbed_until) VALUES (?, ?, ?, ?, ?)";
}

/// [`row()`] inserted by the prepared [`InsertOneRow`].
macro_rules! insert_one_row {
    ($c:expr) => {{
        use diesel::sql_types::{Binary, Integer, Nullable};
        prepared::<InsertOneRow>()
            .bind::<Integer, _>(1)
            .bind::<Nullable<Binary>, _>(None::<Vec<u8>>)
            .bind::<Nullable<BigInt>, _>(Some(0_i64))
            .bind::<BigInt, _>(0_i64)
            .bind::<BigInt, _>(0_i64)
            .execute($c)
    }};
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    jobid: i64,
}

/// MySQL and SQLite: a SELECT of candidates and a fenced UPDATE of them, in autocommit.
macro_rules! two_step_statements {
    ($conn:ty, $dialect:expr) => {
        impl Statements for $conn {
            const DIALECT: Dialect = $dialect;
            fn insert(&mut self, rows: &[Row]) -> QueryResult<usize> {
                match rows {
                    [_] => insert_one_row!(self),
                    _ => diesel::insert_into(job::table).values(rows).execute(self),
                }
            }
            fn claim(&mut self, n: i64) -> QueryResult<Vec<i64>> {
                let ids: Vec<i64> = candidates!(n).load(self)?;
                match ids[..] {
                    [] => {}
                    [id] => {
                        prepared::<ClaimOneById>()
                            .bind::<BigInt, _>(id)
                            .execute(self)?;
                    }
                    _ => {
                        diesel::update(job::table)
                            .filter(job::grabbed_until.eq(0))
                            .filter(job::jobid.eq_any(&ids))
                            .set(job::grabbed_until.eq(1))
                            .execute(self)?;
                    }
                }
                Ok(ids)
            }
            fn delete(&mut self, ids: &[i64]) -> QueryResult<usize> {
                match ids {
                    [id] => prepared::<DeleteOne>().bind::<BigInt, _>(*id).execute(self),
                    _ => diesel::delete(job::table.filter(job::jobid.eq_any(ids))).execute(self),
                }
            }
            fn run_sql(&mut self, sql: &str) -> QueryResult<()> {
                diesel::sql_query(sql).execute(self).map(drop)
            }
        }
    };
}

two_step_statements!(diesel::MysqlConnection, Dialect::My);
two_step_statements!(diesel::SqliteConnection, Dialect::Lite);

/// PostgreSQL: one `UPDATE ... WHERE jobid IN (SELECT ... FOR UPDATE SKIP LOCKED)
/// RETURNING` per claim.
impl Statements for diesel::PgConnection {
    const DIALECT: Dialect = Dialect::Pg;
    fn insert(&mut self, rows: &[Row]) -> QueryResult<usize> {
        match rows {
            [_] => insert_one_row!(self),
            _ => diesel::insert_into(job::table).values(rows).execute(self),
        }
    }
    fn claim(&mut self, n: i64) -> QueryResult<Vec<i64>> {
        let rows: Vec<Id> = prepared::<ClaimSkipLocked>()
            .bind::<BigInt, _>(n)
            .load(self)?;
        Ok(rows.into_iter().map(|r| r.jobid).collect())
    }
    fn delete(&mut self, ids: &[i64]) -> QueryResult<usize> {
        diesel::delete(job::table.filter(job::jobid.eq_any(ids))).execute(self)
    }
    fn run_sql(&mut self, sql: &str) -> QueryResult<()> {
        diesel::sql_query(sql).execute(self).map(drop)
    }
}

/// Refreshes the planner's statistics of `job` after a bulk insert, as the store does
/// itself (`DieselStore` analyzes `job` when a bulk insert made its statistics stale):
/// with the empty table's statistics the planner sorts every eligible row for each claim.
fn analyze<C: Statements>(c: &mut C) -> QueryResult<()> {
    c.run_sql(match C::DIALECT {
        Dialect::My => "ANALYZE TABLE job",
        Dialect::Pg | Dialect::Lite => "ANALYZE job",
    })
}

/// Each phase starts from an empty table with no dead rows left by the one before (a
/// DELETE would leave them in PostgreSQL's heap and indexes and InnoDB's purge queue, and
/// every later claim would scan them: the figures would measure that, not the statements).
/// Every Schwartz scenario runs on a fresh database likewise.
fn clear<C: Statements>(c: &mut C) -> QueryResult<()> {
    c.run_sql(match C::DIALECT {
        Dialect::Lite => "DELETE FROM job",
        Dialect::Pg | Dialect::My => "TRUNCATE TABLE job",
    })
}

/// Jobs per second of each ceiling, on an empty `job` table that is left empty.
fn run<C: Statements>(c: &mut C, jobs: u64) -> Result<Ceilings, BoxError> {
    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
    let one_n = (jobs / 20).clamp(200, 2000);
    let batch_n = jobs.max(1000) / 100 * 100;
    let one = [row()];
    let hundred: Vec<Row> = (0..100).map(|_| row()).collect();

    clear(c)?;
    let t0 = Instant::now();
    for _ in 0..one_n {
        c.insert(&one)?;
    }
    let insert1 = rate(one_n, t0.elapsed());

    clear(c)?;
    let t0 = Instant::now();
    for _ in 0..batch_n / 100 {
        c.insert(&hundred)?;
    }
    let insert100 = rate(batch_n, t0.elapsed());
    analyze(c)?;

    // The batch rows are the queue for the claims.
    let claims = |c: &mut C, n: i64, total: u64| -> Result<f64, BoxError> {
        let t0 = Instant::now();
        let mut done = 0;
        while done < total {
            let ids = c.claim(n)?;
            if ids.is_empty() {
                break;
            }
            c.delete(&ids)?;
            done += ids.len() as u64;
        }
        Ok(rate(done, t0.elapsed()))
    };
    let claim100 = claims(c, 100, batch_n)?;

    clear(c)?;
    for _ in 0..one_n.div_ceil(100) {
        c.insert(&hundred)?;
    }
    analyze(c)?;
    let claim1 = claims(c, 1, one_n)?;
    clear(c)?;
    Ok(Ceilings {
        insert1: Some(insert1),
        insert100: Some(insert100),
        claim1: Some(claim1),
        claim100: Some(claim100),
    })
}

/// Measures the ceilings on the database at `url` (a fresh one made by our migrations).
pub fn measure(url: &str, jobs: u64) -> Result<Ceilings, BoxError> {
    schwartz_diesel::prepared::with_plain_names(|| measure_in_scope(url, jobs))
}

fn measure_in_scope(url: &str, jobs: u64) -> Result<Ceilings, BoxError> {
    if url.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(url)?;
        run(&mut c, jobs)
    } else if url.starts_with("mysql") {
        let mut c = diesel::MysqlConnection::establish(url)?;
        run(&mut c, jobs)
    } else {
        let path = url.trim_start_matches("sqlite://");
        let mut c = diesel::SqliteConnection::establish(path)?;
        diesel::sql_query("PRAGMA journal_mode = WAL").execute(&mut c)?;
        diesel::sql_query("PRAGMA synchronous = NORMAL").execute(&mut c)?;
        run(&mut c, jobs)
    }
}
