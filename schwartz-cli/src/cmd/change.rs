//! `schwartz reschedule`, `retry` and `cancel`: operator changes to pending jobs.
//!
//! Reschedule and retry read each job and change it only if no worker holds its lease; the
//! change is fenced on the lease value read, so a worker that grabs the job in between wins
//! and the change is refused; they call [`Client::reschedule`] (the library's path for
//! both). Cancel removes running jobs too (revoking the lease: the worker gets
//! `Error::Cancelled`), through the library's [`CancelOptions`]. Every job named is
//! reported: changed, running (refused) or not found.

use clap::Args;
use schwartz_core::store::{JobChange, JobRow};
use std::collections::HashMap;
use std::time::Duration;

use schwartz_core::{
    datetime_to_epoch, epoch_to_datetime, CancelOptions, Client, Epoch, Error, FuncId, JobHandle,
    JobId, When,
};

use super::funcnames;
use crate::db::{parse_job_ref, Db, Dbs};
use crate::fail::Fail;
use crate::when::{datetime, parse_duration, parse_time};

/// `run_after` of `--never`: the largest value TheSchwartz's INTEGER columns hold.
pub const NEVER: Epoch = i32::MAX as Epoch;

/// Arguments of `schwartz reschedule`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("when").required(true).args(["at", "in_", "never"])))]
pub struct RescheduleArgs {
    /// Job handles (`<hash>-<jobid>`; a bare job id with one database).
    #[arg(required = true, value_name = "HANDLE")]
    jobs: Vec<String>,
    /// The new time: Unix seconds, RFC 3339, "YYYY-MM-DD HH:MM:SS" (UTC) or +DURATION.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// From now (the database's clock): 90s, 15m, 2h, 1d.
    #[arg(long = "in", value_name = "DURATION")]
    in_: Option<String>,
    /// Park the jobs: run_after = 2038-01-19 (the largest time the columns hold).
    #[arg(long)]
    never: bool,
}

/// Arguments of `schwartz retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Job handles (`<hash>-<jobid>`; a bare job id with one database).
    #[arg(required = true, value_name = "HANDLE")]
    jobs: Vec<String>,
}

/// Arguments of `schwartz cancel`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["jobs", "func"])))]
pub struct CancelArgs {
    /// Job handles (`<hash>-<jobid>`; a bare job id with one database).
    #[arg(value_name = "HANDLE")]
    jobs: Vec<String>,
    /// Cancel every job of this function, pending or running.
    #[arg(long = "func", value_name = "F", conflicts_with = "jobs")]
    func: Option<String>,
    /// With --func: only jobs with this coalesce value.
    #[arg(long, value_name = "V", requires = "func")]
    coalesce: Option<String>,
    /// Keep the cancelled jobs' exit status (2) this many seconds.
    #[arg(long, default_value = "7d", value_name = "DURATION")]
    keep_for: String,
}

/// What an operator change does to each job.
pub(crate) enum Action<'a> {
    /// Reschedule: the new run_after from the database's clock.
    Move(&'a dyn Fn(Epoch) -> Epoch),
    /// Cancel with these options (pending and running jobs).
    Cancel(CancelOptions),
}

/// The message of a cancel from the command line.
pub(crate) const CANCEL_MESSAGE: &str = "cancelled by operator (schwartz cancel)";

/// Applies `action` to jobs of one database (the calls behind `reschedule`, `retry`,
/// `cancel` and `schwartz web`'s actions): the database's clock, its function names and
/// one change per id, in order.
///
/// # Errors
/// The database's error.
pub(crate) fn change(
    db: &Db,
    ids: &[JobId],
    action: &Action<'_>,
) -> schwartz_core::Result<(Epoch, HashMap<FuncId, String>, Vec<JobChange>)> {
    let now = db.store.server_time()?;
    let names = funcnames(&*db.store)?;
    let changes = match action {
        Action::Move(at) => db.store.reschedule_jobs(ids, at(now), now)?,
        Action::Cancel(options) => options.cancel_in(&*db.store, ids, now)?,
    };
    Ok((now, names, changes))
}

/// Applies `action` to the jobs, grouped by database; prints one line per job.
/// Returns how many were refused or not found.
fn apply(dbs: &mut Dbs, jobs: Vec<(Db, Vec<JobId>)>, action: &Action<'_>) -> Result<usize, Fail> {
    let mut bad = 0;
    for (db, ids) in jobs {
        let result = change(&db, &ids, action);
        let (now, names, changes) = match result {
            Ok(v) => v,
            Err(e) => {
                dbs.mark_down(&db, &e.to_string());
                continue;
            }
        };
        let name = |r: &JobRow| names.get(&r.funcid).cloned().unwrap_or_default();
        for (id, change) in ids.iter().zip(changes) {
            let h = db.handle(*id);
            match change {
                JobChange::Changed(r) => match action {
                    Action::Move(at) => println!(
                        "rescheduled {h} ({}): run_after {} -> {} UTC",
                        name(&r),
                        datetime(r.run_after),
                        datetime(at(now))
                    ),
                    Action::Cancel(_) => println!("{}", cancelled_line(&h, &name(&r), &r, now)),
                },
                JobChange::Running(r) => {
                    bad += 1;
                    println!(
                        "refused {h} ({}): running, leased until {} UTC; not changed",
                        name(&r),
                        datetime(r.grabbed_until)
                    );
                }
                JobChange::NotFound => {
                    bad += 1;
                    println!(
                        "not found {h}: no pending job with this handle in {}",
                        db.name
                    );
                }
            }
        }
    }
    Ok(bad)
}

/// Resolves handles to databases, in the order given.
pub(crate) fn group(dbs: &Dbs, jobs: &[String]) -> Result<Vec<(Db, Vec<JobId>)>, Fail> {
    let mut out: Vec<(Db, Vec<JobId>)> = Vec::new();
    for j in jobs {
        let h: JobHandle = parse_job_ref(dbs, j)?;
        let db = dbs.for_handle(&h)?;
        match out.iter_mut().find(|(d, _)| d.hash == db.hash) {
            Some((_, ids)) => ids.push(h.jobid()),
            None => out.push((db.clone(), vec![h.jobid()])),
        }
    }
    Ok(out)
}

fn finish(dbs: &Dbs, bad: usize) -> Result<(), Fail> {
    dbs.finish()?;
    if bad > 0 {
        return Err(Fail::not_found(format!(
            "{bad} job(s) not changed (running or not found)"
        )));
    }
    Ok(())
}

/// The new run_after of `reschedule --never`, `--in DURATION` or `--at TIME` (checked
/// before anything is touched), as a function of the database's clock.
///
/// # Errors
/// Usage errors for a bad duration or time, or a time outside the columns' range.
pub(crate) fn new_time(
    never: bool,
    in_: Option<&str>,
    at: Option<&str>,
) -> Result<Box<dyn Fn(Epoch) -> Epoch + Send + Sync>, Fail> {
    Ok(if never {
        Box::new(|_| NEVER)
    } else if let Some(d) = in_ {
        let d = parse_duration(d).map_err(Fail::usage)?;
        Box::new(move |now| now.saturating_add(d).min(NEVER))
    } else {
        let spec = at.unwrap_or_default().to_string();
        // Check the syntax and range before touching anything.
        let fixed = parse_time(&spec, 0).map_err(Fail::usage)?;
        if !(0..=NEVER).contains(&fixed) && !spec.trim_start().starts_with('+') {
            return Err(Fail::usage(format!(
                "time {spec:?} is outside the columns' range (1970 to 2038-01-19)"
            )));
        }
        Box::new(move |now| parse_time(&spec, now).unwrap_or(now).min(NEVER))
    })
}

/// `reschedule` and `retry`: one [`Client::reschedule`] per job, the library's own path
/// (refused for a running job, fenced on the lease read). Prints one line per job.
fn move_jobs(dbs: &mut Dbs, jobs: &[String], when: When) -> Result<(), Fail> {
    let mut handles = Vec::with_capacity(jobs.len());
    for j in jobs {
        let h: JobHandle = parse_job_ref(dbs, j)?;
        dbs.for_handle(&h)?;
        handles.push(h);
    }
    let client = Client::builder()
        .stores(dbs.list.iter().map(|d| d.store.clone()))
        .build()
        .map_err(|e| Fail::usage(e.to_string()))?;
    let mut bad = 0;
    for h in handles {
        let db = dbs.for_handle(&h)?.clone();
        if dbs.down.iter().any(|d| d.hash == db.hash.to_string()) {
            continue;
        }
        match client.reschedule(&h, when) {
            Ok(r) => println!(
                "rescheduled {h} ({}): run_after {} -> {} UTC",
                r.funcname,
                datetime(datetime_to_epoch(r.previous)),
                datetime(datetime_to_epoch(r.run_after))
            ),
            Err(Error::JobRunning {
                funcname,
                leased_until,
                ..
            }) => {
                bad += 1;
                println!(
                    "refused {h} ({funcname}): running, leased until {} UTC; not changed",
                    datetime(leased_until)
                );
            }
            Err(Error::JobNotFound { .. }) => {
                bad += 1;
                println!(
                    "not found {h}: no pending job with this handle in {}",
                    db.name
                );
            }
            Err(e @ Error::InvalidInput(_)) => return Err(Fail::usage(e.to_string())),
            Err(e) => dbs.mark_down(&db, &e.to_string()),
        }
    }
    finish(dbs, bad)
}

/// Runs `schwartz reschedule`.
pub fn reschedule(dbs: &mut Dbs, a: &RescheduleArgs) -> Result<(), Fail> {
    let secs = |d: i64| Duration::from_secs(u64::try_from(d).unwrap_or(0));
    let when = if a.never {
        When::Never
    } else if let Some(d) = &a.in_ {
        When::In(secs(parse_duration(d).map_err(Fail::usage)?))
    } else {
        let spec = a.at.clone().unwrap_or_default();
        match spec.trim_start().strip_prefix('+') {
            Some(d) => When::In(secs(parse_duration(d).map_err(Fail::usage)?)),
            None => When::At(epoch_to_datetime(
                parse_time(&spec, 0).map_err(Fail::usage)?,
            )),
        }
    };
    move_jobs(dbs, &a.jobs, when)
}

/// Runs `schwartz retry`: [`Client::retry_now`]'s time (now, by the database's clock).
pub fn retry(dbs: &mut Dbs, a: &RetryArgs) -> Result<(), Fail> {
    move_jobs(dbs, &a.jobs, When::In(Duration::ZERO))
}

/// The line for a cancelled job.
fn cancelled_line(handle: &str, funcname: &str, row: &JobRow, now: Epoch) -> String {
    if row.grabbed_until > now {
        format!(
            "cancelled {handle} ({funcname}): was running (leased until {} UTC), lease revoked",
            datetime(row.grabbed_until)
        )
    } else {
        format!("cancelled {handle} ({funcname})")
    }
}

/// Runs `schwartz cancel`.
pub fn cancel(dbs: &mut Dbs, a: &CancelArgs) -> Result<(), Fail> {
    let keep_for = parse_duration(&a.keep_for).map_err(Fail::usage)?;
    let options = CancelOptions::new()
        .message(CANCEL_MESSAGE)
        .keep_for(Duration::from_secs(u64::try_from(keep_for).unwrap_or(0)));
    let Some(func) = &a.func else {
        let jobs = group(dbs, &a.jobs)?;
        let bad = apply(dbs, jobs, &Action::Cancel(options))?;
        return finish(dbs, bad);
    };
    // Bad input is a usage error, before any database is asked.
    schwartz_core::check_name("function", func).map_err(|e| Fail::usage(e.to_string()))?;
    let coalesce = a
        .coalesce
        .clone()
        .map(schwartz_core::CoalesceFilter::Equals);
    schwartz_core::validate::coalesce_filter(coalesce.as_ref())
        .map_err(|e| Fail::usage(e.to_string()))?;
    // Every job of the function, pending or running.
    let found = dbs.each(|d| {
        let now = d.store.server_time()?;
        let changes = options.cancel_function_in(&*d.store, func, a.coalesce.as_deref(), now)?;
        Ok((now, changes))
    });
    if !found.is_empty() && found.iter().all(|(_, (_, c))| c.is_none()) {
        return Err(Fail::usage(format!(
            "unknown function {func:?} in every database"
        )));
    }
    let (mut cancelled, mut refused) = (0usize, 0usize);
    for (db, (now, changes)) in found {
        for change in changes.unwrap_or_default() {
            match change {
                JobChange::Changed(r) => {
                    cancelled += 1;
                    println!("{}", cancelled_line(&db.handle(r.jobid), func, &r, now));
                }
                JobChange::Running(r) => {
                    refused += 1;
                    println!(
                        "refused {} ({func}): its lease kept moving, leased until {} UTC; not changed",
                        db.handle(r.jobid),
                        datetime(r.grabbed_until)
                    );
                }
                JobChange::NotFound => {}
            }
        }
    }
    if cancelled == 0 && refused == 0 {
        println!("no pending job of {func:?} to cancel");
    }
    finish(dbs, refused)
}
