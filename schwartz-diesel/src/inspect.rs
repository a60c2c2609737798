//! Operator queries (`Store::queue_summary`, `Store::failures_from`), written once for every
//! backend as plain SQL over TheSchwartz's tables.
//!
//! Every value bound into these statements is an integer (times, ids), written into the
//! SQL text; every integer column is read through a cast to a 64-bit integer, so one row
//! type serves all three backends and both our schema and TheSchwartz's (unsigned MySQL
//! columns, PostgreSQL `INTEGER` times).
//!
//! Index use: per function, the due and scheduled counts and the oldest due time come from
//! the `(funcid, run_after)` index that every schema has; error counts and listings from
//! `error (error_time)` and `error (funcid, error_time)`. Leased jobs are found with
//! `grabbed_until > now`, on an index our migrations add: on PostgreSQL and SQLite a
//! partial `job (grabbed_until) WHERE grabbed_until > 0` (`job_grabbed_until`: a range
//! scan over the leased jobs); on MySQL, which has no partial indexes, `job (funcid,
//! grabbed_until)` (`job_funcid_grabbed_until`, in place of `(funcid, jobid)`, which the
//! grab reads instead: see that migration), one short range per function. Without them
//! (and on a database made by TheSchwartz's own schema files) the same numbers come from
//! one pass over `job`.
//!
//! Cost (`schwartz-cli`'s `inspect_bench`: 1,000,000 jobs over 8 functions, 0.5% leased, 2
//! CPUs, servers as Debian installs them): `queue_summary` with the CLI's count limit of
//! 10,000 takes 8 ms on SQLite, 26 ms on PostgreSQL once `job` is vacuumed (92 to 119 ms
//! just after a bulk load, when every count also reads the heap) and 43 to 53 ms on
//! MariaDB; without the index, 40 ms, 144 to 161 ms and 430 to 550 ms (MariaDB: 130 to
//! 240 ms when `job` fits its buffer pool, 128 MiB by default). Exact counts (`u64::MAX`)
//! read the whole `(funcid, run_after)` index: 34, 103 (vacuumed) and 186 to 195 ms.

use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};
use schwartz_core::store::{FailureRecord, QueueSummary, StoreStats};
use schwartz_core::{Epoch, FuncId, JobId};

use crate::conn::{Dialect, OpError};
use crate::Backend;

/// Three nullable integers: every counting query here selects `a`, `b`, `c`.
#[derive(Debug, QueryableByName)]
pub(crate) struct Nums {
    #[diesel(sql_type = Nullable<BigInt>)]
    a: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    b: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    c: Option<i64>,
}

/// A `funcmap` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct Func {
    #[diesel(sql_type = BigInt)]
    funcid: i64,
    #[diesel(sql_type = Text)]
    funcname: String,
}

/// An `error` row.
#[derive(Debug, QueryableByName)]
pub(crate) struct ErrRow {
    #[diesel(sql_type = BigInt)]
    error_time: i64,
    #[diesel(sql_type = BigInt)]
    jobid: i64,
    #[diesel(sql_type = Text)]
    message: String,
    #[diesel(sql_type = BigInt)]
    funcid: i64,
}

/// `CAST(expr AS <64-bit integer>)` in the backend's spelling.
fn big(backend: Backend, expr: &str) -> String {
    let ty = match backend {
        Backend::Postgres => "BIGINT",
        Backend::Mysql => "SIGNED",
        _ => "INTEGER",
    };
    format!("CAST({expr} AS {ty})")
}

fn load<C, R>(c: &mut C, sql: String) -> QueryResult<Vec<R>>
where
    C: Dialect,
    SqlQuery: for<'a> LoadQuery<'a, C, R>,
{
    diesel::sql_query(crate::names::sql(&sql)?).load(c)
}

fn count(n: Option<i64>) -> u64 {
    u64::try_from(n.unwrap_or(0)).unwrap_or(0)
}

/// The queue summary of every function at `now` (see `Store::queue_summary`).
pub(crate) fn queue_summary<C>(
    c: &mut C,
    ctx: &crate::conn::Ctx,
    now: Epoch,
    errors_since: Epoch,
    count_limit: u64,
) -> Result<Vec<QueueSummary>, OpError>
where
    C: Dialect,
    SqlQuery: for<'a> LoadQuery<'a, C, Nums> + for<'a> LoadQuery<'a, C, Func>,
{
    let b = C::BACKEND;
    let since = errors_since;
    let mut funcs: Vec<Func> = load(
        c,
        format!(
            "SELECT {} AS funcid, funcname FROM funcmap",
            big(b, "funcid")
        ),
    )?;
    funcs.sort_by(|x, y| x.funcname.cmp(&y.funcname));
    // Leased jobs of every function (a = funcid, b = run_after), counted here: a range scan
    // on `job_grabbed_until` (our PostgreSQL and SQLite migrations) or, on MySQL, one short
    // range per function of `job_funcid_grabbed_until`; one pass over `job` without them
    // (TheSchwartz's schema). The PostgreSQL and SQLite index is partial (`WHERE
    // grabbed_until > 0`); SQLite uses it only when the query repeats that term (implied
    // when `now >= 0`).
    let per_function = b == Backend::Mysql
        && !funcs.is_empty()
        && funcs.len() <= 10_000
        && crate::ops::lease_index(c, ctx)?;
    let of_functions = if per_function {
        let ids: Vec<String> = funcs.iter().map(|f| f.funcid.to_string()).collect();
        format!("funcid IN ({}) AND ", ids.join(", "))
    } else {
        String::new()
    };
    let leased_rows: Vec<Nums> = load(
        c,
        format!(
            "SELECT {} AS a, {} AS b, {} AS c FROM job WHERE {of_functions}grabbed_until > {now}{}",
            big(b, "funcid"),
            big(b, "run_after"),
            big(b, "0"),
            if now >= 0 {
                " AND grabbed_until > 0"
            } else {
                ""
            },
        ),
    )?;
    // funcid -> (leased, leased with run_after <= now)
    let mut leased: std::collections::HashMap<i64, (u64, u64)> = Default::default();
    for r in &leased_rows {
        let e = leased.entry(r.a.unwrap_or(0)).or_default();
        e.0 += 1;
        if r.b.unwrap_or(0) <= now {
            e.1 += 1;
        }
    }
    let errors: Vec<Nums> = load(
        c,
        format!(
            "SELECT {} AS a, {} AS b, {} AS c FROM error WHERE error_time >= {since} \
             GROUP BY funcid",
            big(b, "funcid"),
            big(b, "COUNT(*)"),
            big(b, "0"),
        ),
    )?;
    let mut out = Vec::with_capacity(funcs.len());
    for f in funcs {
        let id = f.funcid;
        let (running, running_due) = leased.get(&id).copied().unwrap_or((0, 0));
        // Counted up to the limit plus the leased ones (which the ranges include), in
        // index order: the work is bounded by the limit, not by the backlog. `ORDER BY`
        // asks for that order (the index has it; MySQL and SQLite plan the same either
        // way): without it PostgreSQL often picks a bitmap scan, which reads every index
        // entry of the range before the LIMIT applies (1M jobs over 8 functions, limit
        // 10,000: 16 counts in 100 ms instead of 65 ms when `job` is not vacuumed; 13 ms
        // either way when it is). Exact counts read the whole range anyway, where the bitmap
        // scan's heap reads in page order are twice as fast, so they keep the planner's
        // choice; so would a limit above the range's size, which cannot be known here.
        let cap = count_limit.saturating_add(running).min(i64::MAX as u64 - 1);
        let cap1 = cap + 1;
        let order = if count_limit == u64::MAX {
            ""
        } else {
            " ORDER BY run_after"
        };
        let counted = |cond: &str| {
            format!(
                "SELECT {} AS a, {} AS b, {} AS c FROM (SELECT 1 AS one FROM job \
                 WHERE funcid = {id} AND {cond}{order} LIMIT {cap1}) t",
                big(b, "COUNT(*)"),
                big(b, "0"),
                big(b, "0"),
            )
        };
        let due_rows: Vec<Nums> = load(c, counted(&format!("run_after <= {now}")))?;
        let later_rows: Vec<Nums> = load(c, counted(&format!("run_after > {now}")))?;
        let due_all = count(due_rows.first().and_then(|r| r.a));
        let later_all = count(later_rows.first().and_then(|r| r.a));
        let capped = due_all > cap || later_all > cap;
        let mut oldest = None;
        if due_all > running_due {
            // The oldest due job that is not leased, in index order (the scan stops at the
            // first row not leased).
            let rows: Vec<Nums> = load(
                c,
                format!(
                    "SELECT {} AS a, {} AS b, {} AS c FROM (SELECT run_after FROM job \
                     WHERE funcid = {id} AND run_after <= {now} AND grabbed_until <= {now} \
                     ORDER BY run_after LIMIT 1) t",
                    big(b, "run_after"),
                    big(b, "0"),
                    big(b, "0"),
                ),
            )?;
            oldest = rows.first().and_then(|r| r.a);
        }
        let errors = errors
            .iter()
            .find(|n| n.a == Some(id))
            .map_or(0, |n| count(n.b));
        out.push(QueueSummary {
            funcid: FuncId(i32::try_from(id).unwrap_or(i32::MAX)),
            funcname: f.funcname,
            due: due_all.saturating_sub(running_due).min(count_limit),
            scheduled: later_all
                .saturating_sub(running.saturating_sub(running_due))
                .min(count_limit),
            running,
            oldest_due: oldest,
            errors,
            capped,
        });
    }
    Ok(out)
}

/// Row counts of `job`, `error` and `exitstatus`, each read up to `limit + 1` rows (see
/// `Store::stats_up_to`; `limit < i64::MAX - 1`): `COUNT(*)` reads a whole table (136 ms
/// for a million jobs on MariaDB), a count of a limited subquery stops at the limit.
pub(crate) fn stats_up_to<C>(c: &mut C, limit: u64) -> Result<StoreStats, OpError>
where
    C: Dialect,
    SqlQuery: for<'a> LoadQuery<'a, C, Nums>,
{
    let b = C::BACKEND;
    let n = limit.saturating_add(1);
    let counted = |table: &str, alias: &str| {
        format!(
            "(SELECT {} FROM (SELECT 1 AS one FROM {table} LIMIT {n}) {alias})",
            big(b, "COUNT(*)")
        )
    };
    let rows: Vec<Nums> = load(
        c,
        format!(
            "SELECT {} AS a, {} AS b, {} AS c",
            counted("job", "t1"),
            counted("error", "t2"),
            counted("exitstatus", "t3"),
        ),
    )?;
    let r = rows.first();
    Ok(StoreStats {
        jobs: count(r.and_then(|r| r.a)),
        errors: count(r.and_then(|r| r.b)),
        exit_statuses: count(r.and_then(|r| r.c)),
    })
}

/// `error` rows from `since`, oldest first (see `Store::failures_from`).
pub(crate) fn failures_from<C>(
    c: &mut C,
    since: Epoch,
    funcid: Option<FuncId>,
    limit: usize,
) -> Result<Vec<FailureRecord>, OpError>
where
    C: Dialect,
    SqlQuery: for<'a> LoadQuery<'a, C, ErrRow>,
{
    if limit == 0 {
        return Ok(Vec::new());
    }
    let b = C::BACKEND;
    let func = funcid.map_or(String::new(), |f| format!(" AND funcid = {}", f.0));
    let rows: Vec<ErrRow> = load(
        c,
        format!(
            "SELECT {} AS error_time, {} AS jobid, message, {} AS funcid FROM error \
             WHERE error_time >= {since}{func} ORDER BY error_time, jobid LIMIT {}",
            big(b, "error_time"),
            big(b, "jobid"),
            big(b, "funcid"),
            crate::ops::sql_limit(limit),
        ),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| FailureRecord {
            error_time: r.error_time,
            jobid: JobId(r.jobid),
            message: r.message,
            funcid: FuncId(i32::try_from(r.funcid).unwrap_or(i32::MAX)),
        })
        .collect())
}
