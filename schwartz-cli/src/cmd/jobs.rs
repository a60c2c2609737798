//! `schwartz insert`, `list` and `show`.

use std::path::PathBuf;

use clap::Args;
use schwartz_core::store::{CoalesceFilter, JobQuery, JobRow};
use schwartz_core::{epoch_to_datetime, Client, Epoch, Job, JobHandle};
use serde::Serialize;

use super::funcnames;
use crate::arg::{decode, one_line, Decoded};
use crate::db::{parse_job_ref, Db, DbStatus, Dbs};
use crate::fail::{print_json, Fail};
use crate::table::{left, num, render, text};
use crate::when::{datetime, parse_time, relative, rfc3339};

/// Arguments of `schwartz insert`.
#[derive(Debug, Args)]
pub struct InsertArgs {
    /// The function name.
    funcname: String,
    /// The argument as JSON (checked, stored as its JSON text).
    #[arg(long, group = "argument", value_name = "JSON")]
    arg_json: Option<String>,
    /// The argument as a string, stored as its UTF-8 bytes.
    #[arg(long, group = "argument", value_name = "STRING")]
    arg_raw: Option<String>,
    /// The argument: the bytes of a file.
    #[arg(long, group = "argument", value_name = "PATH")]
    arg_file: Option<PathBuf>,
    /// A unique key: no second pending job of the function with the same key.
    #[arg(long, value_name = "K")]
    uniqkey: Option<String>,
    /// Not before this time: +DURATION, Unix seconds, RFC 3339 or "YYYY-MM-DD HH:MM:SS" UTC.
    #[arg(long, value_name = "TIME")]
    run_after: Option<String>,
    /// Priority (larger is more urgent).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    priority: Option<i32>,
    /// Coalesce value.
    #[arg(long, value_name = "V")]
    coalesce: Option<String>,
}

/// Runs `schwartz insert`.
pub fn insert(dbs: &mut Dbs, a: &InsertArgs) -> Result<(), Fail> {
    let mut job = Job::new(a.funcname.clone());
    if let Some(j) = &a.arg_json {
        let v: serde_json::Value = serde_json::from_str(j)
            .map_err(|e| Fail::usage(format!("--arg-json is not JSON: {e}")))?;
        job = job.raw_arg(v.to_string().into_bytes());
    } else if let Some(r) = &a.arg_raw {
        job = job.raw_arg(r.clone().into_bytes());
    } else if let Some(p) = &a.arg_file {
        let bytes = std::fs::read(p)
            .map_err(|e| Fail::usage(format!("cannot read --arg-file {}: {e}", p.display())))?;
        job = job.raw_arg(bytes);
    }
    if let Some(k) = &a.uniqkey {
        job = job.uniqkey(k.clone());
    }
    if let Some(p) = a.priority {
        job = job.priority(p);
    }
    if let Some(c) = &a.coalesce {
        job = job.coalesce(c.clone());
    }
    if let Some(t) = &a.run_after {
        let now = if t.trim_start().starts_with('+') {
            server_now(dbs)?
        } else {
            0
        };
        job = job.run_after(epoch_to_datetime(parse_time(t, now).map_err(Fail::usage)?));
    }
    job.validate().map_err(|e| Fail::usage(e.to_string()))?;
    let client = Client::builder()
        .stores(dbs.list.iter().map(|d| d.store.clone()))
        .build()
        .map_err(|e| Fail::usage(e.to_string()))?;
    let handle = client.insert(job).map_err(|e| match e {
        schwartz_core::Error::DuplicateUniqkey { .. } | schwartz_core::Error::InvalidInput(_) => {
            Fail::usage(e.to_string())
        }
        e => Fail::down(e.to_string()),
    })?;
    println!("{handle}");
    Ok(())
}

/// The clock of the first database that answers.
fn server_now(dbs: &mut Dbs) -> Result<Epoch, Fail> {
    let times = dbs.each(|d| d.store.server_time());
    times
        .first()
        .map(|(_, t)| *t)
        .ok_or_else(|| Fail::down("no database answered"))
}

/// Which pending jobs `list` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Can be grabbed now.
    Due,
    /// Waiting for its run_after.
    Scheduled,
    /// Leased by a worker.
    Running,
}

fn state(row: &JobRow, now: Epoch) -> State {
    if row.grabbed_until > now {
        State::Running
    } else if row.run_after > now {
        State::Scheduled
    } else {
        State::Due
    }
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Due => "due",
        State::Scheduled => "scheduled",
        State::Running => "running",
    }
}

/// Arguments of `schwartz list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these functions (default: all).
    pub(crate) funcnames: Vec<String>,
    /// Only jobs that can be grabbed now.
    #[arg(long, conflicts_with_all = ["scheduled", "running"])]
    pub(crate) due: bool,
    /// Only jobs waiting for their run_after (examines at most 100,000 jobs per database).
    #[arg(long, conflicts_with = "running")]
    pub(crate) scheduled: bool,
    /// Only jobs leased by a worker (examines at most 100,000 jobs per database).
    #[arg(long)]
    pub(crate) running: bool,
    /// Only jobs with this coalesce value.
    #[arg(long, value_name = "V", conflicts_with = "coalesce_prefix")]
    pub(crate) coalesce: Option<String>,
    /// Only jobs whose coalesce value starts with this.
    #[arg(long, value_name = "P")]
    pub(crate) coalesce_prefix: Option<String>,
    /// At most this many jobs.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub(crate) limit: usize,
    /// One JSON document.
    #[arg(long)]
    pub(crate) json: bool,
}

/// One job in `list --json` and `show --json`.
#[derive(Debug, Serialize)]
pub(crate) struct JobOut {
    pub(crate) handle: String,
    pub(crate) database: String,
    pub(crate) jobid: i64,
    pub(crate) funcname: String,
    pub(crate) state: &'static str,
    pub(crate) run_after: Epoch,
    pub(crate) run_after_utc: String,
    pub(crate) grabbed_until: Epoch,
    pub(crate) insert_time: Option<Epoch>,
    pub(crate) priority: Option<i32>,
    pub(crate) uniqkey: Option<String>,
    pub(crate) coalesce: Option<String>,
    pub(crate) failures: u64,
}

fn job_out(db: &Db, row: &JobRow, funcname: String, now: Epoch, failures: u64) -> JobOut {
    JobOut {
        handle: db.handle(row.jobid),
        database: db.name.clone(),
        jobid: row.jobid.0,
        funcname,
        state: state_name(state(row, now)),
        run_after: row.run_after,
        run_after_utc: rfc3339(row.run_after),
        grabbed_until: row.grabbed_until,
        insert_time: row.insert_time,
        priority: row.priority,
        uniqkey: row.uniqkey.clone(),
        coalesce: row.coalesce.clone(),
        failures,
    }
}

#[derive(Debug, Serialize)]
struct ListOut {
    databases: Vec<DbStatus>,
    jobs: Vec<JobOut>,
}

/// The state `list` filters on, from its flags.
fn wanted(a: &ListArgs) -> Option<State> {
    if a.due {
        Some(State::Due)
    } else if a.scheduled {
        Some(State::Scheduled)
    } else if a.running {
        Some(State::Running)
    } else {
        None
    }
}

/// The jobs `list` shows, with each database's clock, sorted by run_after (also behind
/// `schwartz web`).
///
/// # Errors
/// A usage error for a function unknown in every database that answered.
pub(crate) fn select(dbs: &mut Dbs, a: &ListArgs) -> Result<Vec<(Epoch, JobOut)>, Fail> {
    let want = wanted(a);
    let per_db = dbs.each(|d| {
        let now = d.store.server_time()?;
        let names = funcnames(&*d.store)?;
        let funcids: Vec<_> = names
            .iter()
            .filter(|(_, n)| a.funcnames.is_empty() || a.funcnames.contains(n))
            .map(|(id, _)| *id)
            .collect();
        let filtered = matches!(want, Some(State::Scheduled | State::Running));
        let q = JobQuery {
            funcids,
            run_after_max: (want == Some(State::Due)).then_some(now),
            grabbed_until_max: (want == Some(State::Due)).then_some(now),
            coalesce: a
                .coalesce
                .clone()
                .map(CoalesceFilter::Equals)
                .or(a.coalesce_prefix.clone().map(CoalesceFilter::Prefix)),
            limit: if filtered { 100_000 } else { a.limit },
            ..JobQuery::default()
        };
        let mut rows = d.store.select_jobs(&q)?;
        rows.retain(|r| want.is_none_or(|w| state(r, now) == w));
        rows.truncate(a.limit);
        let mut out = Vec::new();
        for r in rows {
            let failures = d.store.failures(r.jobid)?.len() as u64;
            let name = names.get(&r.funcid).cloned().unwrap_or_default();
            out.push((r, name, failures));
        }
        Ok((now, names, out))
    });
    for f in &a.funcnames {
        if !per_db.is_empty()
            && per_db
                .iter()
                .all(|(_, (_, n, _))| !n.values().any(|x| x == f))
        {
            return Err(Fail::usage(format!(
                "unknown function {f:?} in every database"
            )));
        }
    }
    let mut all: Vec<(Epoch, JobOut)> = Vec::new();
    for (db, (now, _, rows)) in &per_db {
        for (r, name, failures) in rows {
            all.push((*now, job_out(db, r, name.clone(), *now, *failures)));
        }
    }
    all.sort_by(|x, y| (x.1.run_after, &x.1.handle).cmp(&(y.1.run_after, &y.1.handle)));
    all.truncate(a.limit);
    Ok(all)
}

/// Runs `schwartz list`.
pub fn list(dbs: &mut Dbs, a: &ListArgs) -> Result<(), Fail> {
    let all = select(dbs, a)?;
    if a.json {
        print_json(&ListOut {
            databases: dbs.statuses(),
            jobs: all.into_iter().map(|(_, j)| j).collect(),
        })?;
    } else {
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|(now, j)| {
                vec![
                    j.handle.clone(),
                    j.funcname.clone(),
                    relative(j.run_after, *now),
                    if j.grabbed_until > *now {
                        relative(j.grabbed_until, *now)
                    } else {
                        "-".into()
                    },
                    j.priority.map_or("-".into(), |p| p.to_string()),
                    j.failures.to_string(),
                    j.coalesce.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let cols = [
            left("HANDLE"),
            text("FUNCTION"),
            left("RUN_AFTER"),
            left("LEASED"),
            num("PRI"),
            num("FAIL"),
            text("COALESCE"),
        ];
        print!("{}", render(&cols, &rows));
    }
    dbs.finish()
}

/// Arguments of `schwartz show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A job handle (`<hash>-<jobid>`), or a job id when there is one database.
    job: String,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct FailureOut {
    pub(crate) time: Epoch,
    pub(crate) time_utc: String,
    pub(crate) message: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExitOut {
    pub(crate) status: i32,
    pub(crate) completion_time: Epoch,
    pub(crate) delete_after: Epoch,
}

#[derive(Debug, Serialize)]
pub(crate) struct ShowOut {
    pub(crate) handle: String,
    pub(crate) database: String,
    pub(crate) pending: bool,
    pub(crate) job: Option<JobOut>,
    pub(crate) arg: Option<Decoded>,
    pub(crate) failures: Vec<FailureOut>,
    pub(crate) exit_status: Option<ExitOut>,
    /// The job is gone and its exit status is the cancellation record.
    pub(crate) cancelled: bool,
}

/// One job as `show` sees it, with its database's clock; `None` when its database did not
/// answer (it is in `dbs.down`). Also behind `schwartz web`.
///
/// # Errors
/// Usage errors for a malformed reference; not found when no database has the hash, or the
/// job is neither pending nor has a failure log or an exit status.
pub(crate) fn load(dbs: &mut Dbs, job: &str) -> Result<Option<(Epoch, ShowOut)>, Fail> {
    let handle: JobHandle = parse_job_ref(dbs, job)?;
    let db = dbs.for_handle(&handle)?.clone();
    let id = handle.jobid();
    let got = dbs.each(|d| {
        if d.hash != db.hash {
            return Ok(None);
        }
        let now = d.store.server_time()?;
        let row = d.store.lookup(id)?;
        let names = funcnames(&*d.store)?;
        let fails = d.store.failures(id)?;
        let exit = d.store.exit_status(id)?;
        Ok(Some((now, row, names, fails, exit)))
    });
    let Some((_, Some((now, row, names, fails, exit)))) = got.into_iter().find(|x| x.1.is_some())
    else {
        return Ok(None);
    };
    if row.is_none() && fails.is_empty() && exit.is_none() {
        return Err(Fail::not_found(format!(
            "job {handle} not found in {} (not pending, no failure log, no exit status)",
            db.name
        )));
    }
    let cancelled = row.is_none()
        && exit
            .as_ref()
            .is_some_and(|e| e.status == schwartz_core::store::CANCELLED_EXIT_STATUS);
    let out = ShowOut {
        cancelled,
        handle: handle.to_string(),
        database: db.name.clone(),
        pending: row.is_some(),
        job: row.as_ref().map(|r| {
            let name = names.get(&r.funcid).cloned().unwrap_or_default();
            job_out(&db, r, name, now, fails.len() as u64)
        }),
        arg: row.as_ref().map(|r| decode(r.arg.as_deref())),
        failures: fails
            .iter()
            .map(|f| FailureOut {
                time: f.error_time,
                time_utc: rfc3339(f.error_time),
                message: f.message.clone(),
            })
            .collect(),
        exit_status: exit.map(|e| ExitOut {
            status: e.status,
            completion_time: e.completion_time,
            delete_after: e.delete_after,
        }),
    };
    Ok(Some((now, out)))
}

/// Runs `schwartz show`.
pub fn show(dbs: &mut Dbs, a: &ShowArgs) -> Result<(), Fail> {
    let Some((now, out)) = load(dbs, &a.job)? else {
        return dbs.finish();
    };
    if a.json {
        return print_json(&out);
    }
    println!("handle:        {}", out.handle);
    println!("database:      {}", out.database);
    match (&out.job, &out.arg) {
        (Some(j), Some(d)) => {
            println!("function:      {}", j.funcname);
            println!("state:         {}", j.state);
            println!(
                "run_after:     {} UTC ({})",
                datetime(j.run_after),
                relative(j.run_after, now)
            );
            if j.grabbed_until > 0 {
                println!(
                    "grabbed_until: {} UTC ({})",
                    datetime(j.grabbed_until),
                    relative(j.grabbed_until, now)
                );
            }
            if let Some(t) = j.insert_time {
                println!("inserted:      {} UTC", datetime(t));
            }
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            println!(
                "priority:      {}",
                j.priority.map_or("-".into(), |p| p.to_string())
            );
            println!("uniqkey:       {}", opt(&j.uniqkey));
            println!("coalesce:      {}", opt(&j.coalesce));
            println!(
                "arg:           [{}, {} bytes] {}",
                d.encoding,
                d.bytes,
                one_line(d)
            );
        }
        _ if out.cancelled => {
            println!("state:         cancelled (exit status 2; the reason is the last failure)")
        }
        _ => println!("state:         done (not pending)"),
    }
    println!("failures:      {}", out.failures.len());
    for f in &out.failures {
        println!("  {} UTC  {}", datetime(f.time), f.message);
    }
    match &out.exit_status {
        Some(e) => println!(
            "exit_status:   {} (completed {} UTC, kept until {} UTC)",
            e.status,
            datetime(e.completion_time),
            datetime(e.delete_after)
        ),
        None => println!("exit_status:   -"),
    }
    dbs.finish()
}
