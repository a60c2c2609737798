//! `schwartz queues`, `stats` and `check`: the numbers of `Store::queue_summary`.

use std::collections::BTreeMap;

use clap::Args;
use schwartz_core::store::QueueSummary;
use schwartz_core::Epoch;
use serde::Serialize;

use crate::db::{Connect, Db, DbStatus, Dbs};
use crate::fail::{print_json, Fail};
use crate::table::{left, num, render, text};
use crate::when::duration;

/// Errors are counted over this window (seconds).
pub(crate) const ERROR_WINDOW: i64 = 3600;

/// Default of `--count-limit`: due and scheduled jobs are counted up to this many per
/// function and database (shown as `N+` beyond), which keeps a huge backlog cheap to read.
pub(crate) const COUNT_LIMIT: u64 = 10_000;

/// One function over every database (one logical queue).
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueOut {
    pub(crate) funcname: String,
    pub(crate) due: u64,
    pub(crate) scheduled: u64,
    pub(crate) running: u64,
    /// Seconds since the oldest due job's run_after (0 when none is due).
    pub(crate) lag_secs: i64,
    /// `run_after` of the oldest due job, Unix seconds.
    pub(crate) oldest_due: Option<Epoch>,
    pub(crate) errors_last_hour: u64,
    /// `due` or `scheduled` reached `--count-limit`: the queue holds at least that many.
    pub(crate) capped: bool,
    pub(crate) alert: bool,
}

/// Summaries of every database that answered: (database, server time, summaries); also
/// behind `schwartz web`.
pub(crate) fn summaries(dbs: &mut Dbs, limit: u64) -> Vec<(Db, (Epoch, Vec<QueueSummary>))> {
    let limit = if limit == 0 { u64::MAX } else { limit };
    dbs.each(|d| {
        let now = d.store.server_time()?;
        Ok((now, d.store.queue_summary(now, now - ERROR_WINDOW, limit)?))
    })
}

/// `N`, or `N+` when the count stopped at the limit.
fn shown(n: u64, capped: bool, limit: u64) -> String {
    if capped && n >= limit {
        format!("{n}+")
    } else {
        n.to_string()
    }
}

/// Merges per-database summaries by function name.
pub(crate) fn merge(per_db: &[(Db, (Epoch, Vec<QueueSummary>))]) -> BTreeMap<String, QueueOut> {
    let mut m: BTreeMap<String, QueueOut> = BTreeMap::new();
    for (_, (now, list)) in per_db {
        for s in list {
            let q = m.entry(s.funcname.clone()).or_insert_with(|| QueueOut {
                funcname: s.funcname.clone(),
                ..QueueOut::default()
            });
            q.due += s.due;
            q.scheduled += s.scheduled;
            q.running += s.running;
            q.errors_last_hour += s.errors;
            q.capped |= s.capped;
            if let Some(o) = s.oldest_due {
                q.lag_secs = q.lag_secs.max(now - o);
                q.oldest_due = Some(q.oldest_due.map_or(o, |x: Epoch| x.min(o)));
            }
        }
    }
    m
}

fn check_funcs(
    m: &BTreeMap<String, QueueOut>,
    funcs: &[String],
    answered: bool,
) -> Result<(), Fail> {
    for f in funcs {
        if answered && !m.contains_key(f) {
            return Err(Fail::usage(format!(
                "unknown function {f:?} in every database"
            )));
        }
    }
    Ok(())
}

/// Arguments of `schwartz queues`.
#[derive(Debug, Args)]
pub struct QueuesArgs {
    /// Only this function (repeatable).
    #[arg(long = "func", value_name = "F")]
    funcs: Vec<String>,
    /// Alert when the oldest due job waited longer than this many seconds.
    #[arg(long, value_name = "SECS")]
    max_age: Option<i64>,
    /// Alert when more than this many jobs are due.
    #[arg(long, value_name = "N")]
    max_count: Option<u64>,
    /// Count due and scheduled jobs up to this many per function and database (0: exact).
    #[arg(long, default_value_t = COUNT_LIMIT, value_name = "N")]
    count_limit: u64,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct QueuesOut {
    databases: Vec<DbStatus>,
    alert: bool,
    queues: Vec<QueueOut>,
}

/// Runs `schwartz queues`.
pub fn queues(dbs: &mut Dbs, a: &QueuesArgs) -> Result<(), Fail> {
    // A threshold must be below the count limit to be seen crossed.
    let limit = a
        .count_limit
        .max(a.max_count.map_or(0, |m| m.saturating_add(1)));
    let per_db = summaries(dbs, if a.count_limit == 0 { 0 } else { limit });
    let m = merge(&per_db);
    check_funcs(&m, &a.funcs, !per_db.is_empty())?;
    let mut list: Vec<QueueOut> = m
        .into_values()
        .filter(|q| a.funcs.is_empty() || a.funcs.contains(&q.funcname))
        .collect();
    for q in &mut list {
        q.alert =
            a.max_age.is_some_and(|x| q.lag_secs > x) || a.max_count.is_some_and(|x| q.due > x);
    }
    let alert = list.iter().any(|q| q.alert);
    if a.json {
        print_json(&QueuesOut {
            databases: dbs.statuses(),
            alert,
            queues: list,
        })?;
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|q| {
                vec![
                    q.funcname.clone(),
                    shown(q.due, q.capped, limit),
                    shown(q.scheduled, q.capped, limit),
                    q.running.to_string(),
                    duration(q.lag_secs),
                    q.errors_last_hour.to_string(),
                    if q.alert { "ALERT" } else { "" }.to_string(),
                ]
            })
            .collect();
        let cols = [
            text("FUNCTION"),
            num("DUE"),
            num("SCHEDULED"),
            num("RUNNING"),
            num("LAG"),
            num("ERRORS/1H"),
            left(""),
        ];
        print!("{}", render(&cols, &rows));
    }
    dbs.finish()?;
    if alert {
        return Err(Fail::quiet(crate::fail::EXIT_ALERT));
    }
    Ok(())
}

/// Arguments of `schwartz stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Count due and scheduled jobs up to this many per function and database, and the
    /// rows of `job`, `error` and `exitstatus` up to this many per database (0: exact).
    #[arg(long, default_value_t = COUNT_LIMIT, value_name = "N")]
    count_limit: u64,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

/// One database in `stats`.
#[derive(Debug, Default, Serialize)]
struct DbStats {
    database: String,
    hash: String,
    ok: bool,
    error: Option<String>,
    server_time: Option<Epoch>,
    functions: u64,
    due: u64,
    scheduled: u64,
    running: u64,
    jobs: u64,
    errors_last_hour: u64,
    errors: u64,
    exit_statuses: u64,
    max_lag_secs: i64,
    /// A count (due, scheduled, or rows of a table) reached `--count-limit`.
    capped: bool,
}

#[derive(Debug, Serialize)]
struct StatsOut {
    databases: Vec<DbStats>,
    total: DbStats,
}

/// Runs `schwartz stats`.
pub fn stats(dbs: &mut Dbs, a: &StatsArgs) -> Result<(), Fail> {
    let limit = if a.count_limit == 0 {
        u64::MAX
    } else {
        a.count_limit
    };
    let got = dbs.each(|d| {
        let now = d.store.server_time()?;
        let s = d.store.queue_summary(now, now - ERROR_WINDOW, limit)?;
        Ok((now, s, d.store.stats_up_to(limit)?))
    });
    let mut out = Vec::new();
    let mut total = DbStats {
        database: "total".into(),
        ok: dbs.down.is_empty(),
        ..DbStats::default()
    };
    for db in dbs.list.clone() {
        let mut s = DbStats {
            database: db.name.clone(),
            hash: db.hash.to_string(),
            ..DbStats::default()
        };
        match got.iter().find(|(d, _)| d.hash == db.hash) {
            Some((_, (now, list, st))) => {
                s.ok = true;
                s.server_time = Some(*now);
                s.functions = list.len() as u64;
                for q in list {
                    s.due += q.due;
                    s.scheduled += q.scheduled;
                    s.running += q.running;
                    s.errors_last_hour += q.errors;
                    s.capped |= q.capped;
                    if let Some(o) = q.oldest_due {
                        s.max_lag_secs = s.max_lag_secs.max(now - o);
                    }
                }
                // Row counts are read up to the count limit too (a million-row COUNT(*)
                // takes 136 ms on MariaDB).
                s.capped |= [st.jobs, st.errors, st.exit_statuses]
                    .iter()
                    .any(|&n| n > limit);
                s.jobs = st.jobs.min(limit);
                s.errors = st.errors.min(limit);
                s.exit_statuses = st.exit_statuses.min(limit);
            }
            None => {
                s.error = dbs
                    .down
                    .iter()
                    .find(|x| x.hash == db.hash.as_str())
                    .map(|x| x.error.clone());
            }
        }
        total.functions = total.functions.max(s.functions);
        total.due += s.due;
        total.scheduled += s.scheduled;
        total.running += s.running;
        total.jobs += s.jobs;
        total.errors_last_hour += s.errors_last_hour;
        total.errors += s.errors;
        total.exit_statuses += s.exit_statuses;
        total.max_lag_secs = total.max_lag_secs.max(s.max_lag_secs);
        total.capped |= s.capped;
        out.push(s);
    }
    if a.json {
        print_json(&StatsOut {
            databases: out,
            total,
        })?;
    } else {
        let row = |s: &DbStats| {
            if !s.ok && s.database != "total" {
                return vec![s.database.clone(), "DOWN".into()];
            }
            vec![
                s.database.clone(),
                shown(s.due, s.capped, limit),
                shown(s.scheduled, s.capped, limit),
                s.running.to_string(),
                shown(s.jobs, s.capped, limit),
                duration(s.max_lag_secs),
                s.errors_last_hour.to_string(),
                shown(s.errors, s.capped, limit),
                shown(s.exit_statuses, s.capped, limit),
            ]
        };
        let mut rows: Vec<Vec<String>> = out.iter().map(row).collect();
        if out.len() > 1 {
            rows.push(row(&total));
        }
        let cols = [
            text("DATABASE"),
            num("DUE"),
            num("SCHED"),
            num("RUNNING"),
            num("JOBS"),
            num("LAG"),
            num("ERR/1H"),
            num("ERRORS"),
            num("EXITST"),
        ];
        print!("{}", render(&cols, &rows));
    }
    dbs.finish()
}

/// Arguments of `schwartz check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// WARNING when at least this many jobs are due.
    #[arg(long, default_value_t = 30, value_name = "N")]
    warn: u64,
    /// CRITICAL when at least this many jobs are due.
    #[arg(long, default_value_t = 100, value_name = "N")]
    crit: u64,
    /// CRITICAL when the oldest due job waited longer than this many seconds.
    #[arg(long, value_name = "SECS")]
    max_age: Option<i64>,
    /// Check only this function (repeatable); default: the whole queue.
    #[arg(long = "func", value_name = "F")]
    funcs: Vec<String>,
    /// Count due and scheduled jobs up to this many per function and database (0: exact).
    #[arg(long, default_value_t = COUNT_LIMIT, value_name = "N")]
    count_limit: u64,
    /// One JSON document instead of the plugin line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct CheckOut {
    state: &'static str,
    code: u8,
    message: String,
    perfdata: String,
    due: u64,
    running: u64,
    lag_secs: i64,
    errors_last_hour: u64,
    databases: Vec<DbStatus>,
}

/// Runs `schwartz check`: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
pub fn check(c: &Connect, a: &CheckArgs) -> Result<(), Fail> {
    let unknown = |m: String| {
        println!("SCHWARTZ UNKNOWN - {}", crate::fail::one_line(&m));
        Err(Fail::quiet(3))
    };
    if a.warn > a.crit {
        return unknown(format!("--warn {} is above --crit {}", a.warn, a.crit));
    }
    let mut dbs = match Dbs::open(c) {
        Ok(d) => d,
        Err(f) => return unknown(f.message),
    };
    let limit = a.count_limit.max(a.crit.saturating_add(1));
    let per_db = summaries(&mut dbs, if a.count_limit == 0 { 0 } else { limit });
    let m = merge(&per_db);
    if let Err(f) = check_funcs(&m, &a.funcs, !per_db.is_empty()) {
        return unknown(f.message);
    }
    let list: Vec<&QueueOut> = m
        .values()
        .filter(|q| a.funcs.is_empty() || a.funcs.contains(&q.funcname))
        .collect();
    let due: u64 = list.iter().map(|q| q.due).sum();
    let running: u64 = list.iter().map(|q| q.running).sum();
    let errors: u64 = list.iter().map(|q| q.errors_last_hour).sum();
    let lag = list.iter().map(|q| q.lag_secs).max().unwrap_or(0);
    let mut problems = Vec::new();
    let mut code = 0u8;
    if due >= a.crit {
        code = 2;
        problems.push(format!("{due} jobs due (critical at {})", a.crit));
    } else if due >= a.warn {
        code = 1;
        problems.push(format!("{due} jobs due (warning at {})", a.warn));
    }
    if let Some(max) = a.max_age.filter(|&m| lag > m) {
        code = 2;
        problems.push(format!(
            "oldest due job waited {} (max {max}s)",
            duration(lag)
        ));
    }
    for d in &dbs.down {
        code = 2;
        problems.push(format!(
            "database {} did not answer: {}",
            d.database, d.error
        ));
    }
    let state = ["OK", "WARNING", "CRITICAL"][usize::from(code)];
    let mut worst: Vec<&&QueueOut> = list.iter().filter(|q| q.due > 0).collect();
    worst.sort_by(|x, y| y.due.cmp(&x.due).then(x.funcname.cmp(&y.funcname)));
    let top: Vec<String> = worst
        .iter()
        .take(3)
        .map(|q| format!("{} {}", q.funcname, q.due))
        .collect();
    let mut message = if problems.is_empty() {
        format!("{due} jobs due, {running} running, lag {}", duration(lag))
    } else {
        problems.join("; ")
    };
    if !top.is_empty() {
        message.push_str(&format!(" (due: {})", top.join(", ")));
    }
    let age = a.max_age.map_or(String::new(), |x| x.to_string());
    let mut perf = format!(
        "due={due};{};{};0 running={running};;;0 lag={lag}s;;{age};0 errors_1h={errors};;;0",
        a.warn, a.crit
    );
    if a.funcs.len() > 1 || a.funcs.is_empty() {
        for q in &list {
            perf.push_str(&format!(
                " 'due_{}'={};;;0",
                q.funcname.replace('\'', "\""),
                q.due
            ));
        }
    }
    if a.json {
        print_json(&CheckOut {
            state,
            code,
            message,
            perfdata: perf,
            due,
            running,
            lag_secs: lag,
            errors_last_hour: errors,
            databases: dbs.statuses(),
        })?;
    } else {
        println!("SCHWARTZ {state} - {message} | {perf}");
    }
    if code == 0 {
        Ok(())
    } else {
        Err(Fail::quiet(code))
    }
}
