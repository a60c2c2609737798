//! The database's own ceilings, measured by the bench with the same driver (diesel) on the
//! same `job` table and no queue logic: what each Schwartz figure is read against.
//!
//! - 1-row INSERT: one committed single-row INSERT per job (what `Client::insert` does).
//! - 100-row INSERT: one committed 100-row INSERT per 100 jobs (`insert_jobs`).
//! - claim 1 + delete 1: per job, a claim (PostgreSQL: one `UPDATE ... WHERE jobid =
//!   (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`; MariaDB and SQLite: a SELECT of a
//!   candidate and a fenced UPDATE) and a DELETE, each committed: TheSchwartz's two commits
//!   per job (`work_until_done`, one at a time).
//! - claim 100 + delete 100: the same for 100 jobs at a time (a pool's drain).

use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl};

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

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    Pg,
    My,
    Lite,
}

/// One job row's values.
const ROW: &str = "(1, NULL, 0, 0, 0)";

/// SQL text of `n` rows for one INSERT.
fn insert_sql(n: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO job (funcid, arg, insert_time, run_after, grabbed_until) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(ROW);
    }
    sql
}

fn bigint(d: Dialect, col: &str) -> String {
    match d {
        Dialect::My => format!("CAST({col} AS SIGNED)"),
        _ => format!("CAST({col} AS BIGINT)"),
    }
}

/// Claims up to `n` unclaimed jobs; returns their ids.
fn claim<C>(c: &mut C, d: Dialect, n: usize) -> Result<Vec<i64>, BoxError>
where
    C: Connection + diesel::connection::LoadConnection,
    diesel::query_builder::SqlQuery:
        diesel::query_dsl::methods::ExecuteDsl<C> + for<'a> diesel::query_dsl::LoadQuery<'a, C, Id>,
{
    if d == Dialect::Pg {
        let sql = format!(
            "UPDATE job SET grabbed_until = 1 WHERE jobid IN (SELECT jobid FROM job \
             WHERE funcid = 1 AND grabbed_until = 0 ORDER BY jobid LIMIT {n} \
             FOR UPDATE SKIP LOCKED) RETURNING {} AS id",
            bigint(d, "jobid")
        );
        return Ok(diesel::sql_query(sql)
            .load::<Id>(c)?
            .into_iter()
            .map(|r| r.id)
            .collect());
    }
    let ids: Vec<i64> = diesel::sql_query(format!(
        "SELECT {} AS id FROM job WHERE funcid = 1 AND grabbed_until = 0 ORDER BY jobid LIMIT {n}",
        bigint(d, "jobid")
    ))
    .load::<Id>(c)?
    .into_iter()
    .map(|r| r.id)
    .collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    diesel::sql_query(format!(
        "UPDATE job SET grabbed_until = 1 WHERE grabbed_until = 0 AND jobid IN ({})",
        list(&ids)
    ))
    .execute(c)?;
    Ok(ids)
}

fn list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Refreshes the planner's statistics of `job` after a bulk insert, as the store does
/// itself (`DieselStore` analyzes `job` when a bulk insert made its statistics stale):
/// with the empty table's statistics the planner sorts every eligible row for each claim.
fn analyze<C>(c: &mut C, d: Dialect) -> Result<(), BoxError>
where
    C: Connection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    let sql = match d {
        Dialect::Pg => "ANALYZE job",
        Dialect::My => "ANALYZE TABLE job",
        Dialect::Lite => "ANALYZE job",
    };
    diesel::sql_query(sql).execute(c)?;
    Ok(())
}

/// Jobs per second of each ceiling, on an empty `job` table that is left empty.
fn run<C>(c: &mut C, d: Dialect, jobs: u64) -> Result<Ceilings, BoxError>
where
    C: Connection + diesel::connection::LoadConnection,
    diesel::query_builder::SqlQuery:
        diesel::query_dsl::methods::ExecuteDsl<C> + for<'a> diesel::query_dsl::LoadQuery<'a, C, Id>,
{
    let rate = |n: u64, t: Duration| n as f64 / t.as_secs_f64().max(1e-9);
    let one_n = (jobs / 20).clamp(200, 2000);
    let batch_n = jobs.max(1000) / 100 * 100;
    // Each phase starts from an empty table with no dead rows left by the one before (a
    // DELETE would leave them in PostgreSQL's heap and indexes and InnoDB's purge queue,
    // and every later claim would scan them: the figures would measure that, not the
    // statements). Every Schwartz scenario runs on a fresh database likewise.
    let clear = |c: &mut C| {
        let sql = if d == Dialect::Lite {
            "DELETE FROM job"
        } else {
            "TRUNCATE TABLE job"
        };
        diesel::sql_query(sql).execute(c)
    };

    clear(c)?;
    let single = insert_sql(1);
    let t0 = Instant::now();
    for _ in 0..one_n {
        diesel::sql_query(&single).execute(c)?;
    }
    let insert1 = rate(one_n, t0.elapsed());

    let hundred = insert_sql(100);
    clear(c)?;
    let t0 = Instant::now();
    for _ in 0..batch_n / 100 {
        diesel::sql_query(&hundred).execute(c)?;
    }
    let insert100 = rate(batch_n, t0.elapsed());
    analyze(c, d)?;

    // The batch rows are the queue for the claims.
    let t0 = Instant::now();
    let mut done = 0;
    while done < batch_n {
        let ids = claim(c, d, 100)?;
        if ids.is_empty() {
            break;
        }
        diesel::sql_query(format!("DELETE FROM job WHERE jobid IN ({})", list(&ids))).execute(c)?;
        done += ids.len() as u64;
    }
    let claim100 = rate(done, t0.elapsed());

    clear(c)?;
    for _ in 0..one_n.div_ceil(100) {
        diesel::sql_query(&hundred).execute(c)?;
    }
    analyze(c, d)?;
    let t0 = Instant::now();
    let mut done = 0;
    while done < one_n {
        let ids = claim(c, d, 1)?;
        let Some(id) = ids.first() else { break };
        diesel::sql_query(format!("DELETE FROM job WHERE jobid = {id}")).execute(c)?;
        done += 1;
    }
    let claim1 = rate(done, t0.elapsed());
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
    if url.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(url)?;
        run(&mut c, Dialect::Pg, jobs)
    } else if url.starts_with("mysql") {
        let mut c = diesel::MysqlConnection::establish(url)?;
        run(&mut c, Dialect::My, jobs)
    } else {
        let path = url.trim_start_matches("sqlite://");
        let mut c = diesel::SqliteConnection::establish(path)?;
        diesel::sql_query("PRAGMA journal_mode = WAL").execute(&mut c)?;
        diesel::sql_query("PRAGMA synchronous = NORMAL").execute(&mut c)?;
        run(&mut c, Dialect::Lite, jobs)
    }
}
