//! Operator queries over a [`Store`](crate::store::Store): queue summaries, error listings
//! and operator changes: cancel (pending or running jobs) and reschedule (jobs that are not
//! leased).
//!
//! The types here are re-exported from [`crate::store`]. The trait methods that use them
//! ([`Store::queue_summary`](crate::store::Store::queue_summary),
//! [`Store::failures_from`](crate::store::Store::failures_from),
//! [`Store::cancel_jobs`](crate::store::Store::cancel_jobs),
//! [`Store::reschedule_jobs`](crate::store::Store::reschedule_jobs)) have default
//! implementations over the rest of the contract; SQL stores override the read queries with
//! indexed ones.

use crate::error::Result;
use crate::ids::{Epoch, FuncId, JobId};
use crate::store::{
    ExitStatusWrite, FailureRecord, Finish, FinishAction, FinishStatus, JobQuery, JobRow, Store,
};

/// The exit status written for a job cancelled by [`Store::cancel_jobs`] (0 is success, 1 a
/// worker's failure). Together with the job's `error` row it is the cancellation record
/// that `schwartz show` displays and that tells a worker its job was cancelled
/// ([`Error::Cancelled`](crate::Error::Cancelled)); workers should not write it themselves.
pub const CANCELLED_EXIT_STATUS: i32 = 2;

/// The state of one function's queue at a given time (`now`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSummary {
    /// `funcmap.funcid`.
    pub funcid: FuncId,
    /// `funcmap.funcname`.
    pub funcname: String,
    /// Jobs that could be grabbed now: `run_after <= now AND grabbed_until <= now`.
    pub due: u64,
    /// Jobs waiting for their time: `run_after > now AND grabbed_until <= now`.
    pub scheduled: u64,
    /// Jobs leased by a worker: `grabbed_until > now`.
    pub running: u64,
    /// The smallest `run_after` of the due jobs (`now - oldest_due` is the queue's lag).
    pub oldest_due: Option<Epoch>,
    /// `error` rows of the function with `error_time >= errors_since`.
    pub errors: u64,
    /// Whether `due` or `scheduled` stopped at the count limit (the queue has at least
    /// that many).
    pub capped: bool,
}

/// What an operator change ([`Store::cancel_jobs`], [`Store::reschedule_jobs`]) did to one
/// job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobChange {
    /// Changed; the row as it was before the change.
    Changed(JobRow),
    /// Refused: a worker holds the job's lease (the row as read). For a cancel, which
    /// revokes leases: the lease moved (was extended) at every attempt.
    Running(JobRow),
    /// No such job.
    NotFound,
}

/// The default [`Store::queue_summary`]: every job of every function through
/// [`Store::select_jobs`], errors through [`Store::recent_failures`]. Linear in the jobs;
/// SQL stores override it.
pub(crate) fn queue_summary<S: Store + ?Sized>(
    store: &S,
    now: Epoch,
    errors_since: Epoch,
    count_limit: u64,
) -> Result<Vec<QueueSummary>> {
    let mut funcs = store.funcmap()?;
    funcs.sort_by(|a, b| a.funcname.cmp(&b.funcname));
    let mut out = Vec::with_capacity(funcs.len());
    for f in funcs {
        let rows = store.select_jobs(&JobQuery {
            funcids: vec![f.funcid],
            limit: usize::MAX,
            ..JobQuery::default()
        })?;
        let mut s = QueueSummary {
            funcid: f.funcid,
            funcname: f.funcname,
            due: 0,
            scheduled: 0,
            running: 0,
            oldest_due: None,
            errors: 0,
            capped: false,
        };
        for r in rows {
            if r.grabbed_until > now {
                s.running += 1;
            } else if r.run_after > now {
                s.scheduled += 1;
            } else {
                s.due += 1;
                s.oldest_due = Some(s.oldest_due.map_or(r.run_after, |o| o.min(r.run_after)));
            }
        }
        if s.due > count_limit || s.scheduled > count_limit {
            s.capped = true;
            s.due = s.due.min(count_limit);
            s.scheduled = s.scheduled.min(count_limit);
        }
        s.errors = store
            .recent_failures(Some(errors_since), Some(f.funcid), usize::MAX)?
            .len() as u64;
        out.push(s);
    }
    Ok(out)
}

/// The default [`Store::failures_from`]: [`Store::recent_failures`] in the other order.
pub(crate) fn failures_from<S: Store + ?Sized>(
    store: &S,
    since: Epoch,
    funcid: Option<FuncId>,
    limit: usize,
) -> Result<Vec<FailureRecord>> {
    let mut rows = store.recent_failures(Some(since), funcid, usize::MAX)?;
    rows.reverse();
    rows.sort_by_key(|r| (r.error_time, r.jobid));
    rows.truncate(limit);
    Ok(rows)
}

/// What [`change_jobs`] does with a job a worker holds (leased at `now`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leased {
    /// Refuse it ([`JobChange::Running`]).
    Refuse,
    /// Change it all the same, fenced on the lease read (revoking the lease).
    Revoke,
}

/// Attempts of a revoking change on a job whose lease moved (extended) between the read
/// and the fenced write.
const REVOKE_ATTEMPTS: usize = 3;

/// Reads each job and applies `finish` to it, fenced on the `grabbed_until` read. A job
/// leased at `now` is refused as [`JobChange::Running`] with [`Leased::Refuse`]; with
/// [`Leased::Revoke`] it is changed too (a lease extension in between is retried a few
/// times, then reported as running). With `Refuse`, a worker that grabs the job in between
/// wins and the change is refused.
fn change_jobs<S: Store + ?Sized>(
    store: &S,
    jobids: &[JobId],
    now: Epoch,
    leased: Leased,
    finish: impl Fn(&JobRow) -> Finish,
) -> Result<Vec<JobChange>> {
    let mut out = Vec::with_capacity(jobids.len());
    let mut items = Vec::new();
    let mut slots = Vec::new();
    for &id in jobids {
        match store.lookup(id)? {
            None => out.push(JobChange::NotFound),
            Some(row) if row.grabbed_until > now && leased == Leased::Refuse => {
                out.push(JobChange::Running(row))
            }
            Some(row) => {
                items.push(finish(&row));
                slots.push((out.len(), row));
                out.push(JobChange::NotFound);
            }
        }
    }
    if items.is_empty() {
        return Ok(out);
    }
    let statuses = store.finish(&items)?;
    for ((slot, row), status) in slots.into_iter().zip(statuses) {
        out[slot] = match status {
            FinishStatus::Done | FinishStatus::Replaced(_) => JobChange::Changed(row),
            FinishStatus::LeaseLost => retry_one(store, row.jobid, now, leased, &finish)?,
            FinishStatus::Rejected(e) => return Err(e),
        };
    }
    Ok(out)
}

/// A job whose fenced change lost a race: read it again; refused (`Refuse`) or tried again
/// a few times (`Revoke`).
fn retry_one<S: Store + ?Sized>(
    store: &S,
    jobid: JobId,
    now: Epoch,
    leased: Leased,
    finish: &impl Fn(&JobRow) -> Finish,
) -> Result<JobChange> {
    let mut attempts = if leased == Leased::Revoke {
        REVOKE_ATTEMPTS
    } else {
        0
    };
    loop {
        let Some(row) = store.lookup(jobid)? else {
            return Ok(JobChange::NotFound);
        };
        if attempts == 0 || (row.grabbed_until > now && leased == Leased::Refuse) {
            return Ok(JobChange::Running(row));
        }
        attempts -= 1;
        let status = store.finish(std::slice::from_ref(&finish(&row)))?.pop();
        match status {
            Some(FinishStatus::Done | FinishStatus::Replaced(_)) => {
                return Ok(JobChange::Changed(row))
            }
            Some(FinishStatus::Rejected(e)) => return Err(e),
            Some(FinishStatus::LeaseLost) | None => {}
        }
    }
}

/// The default [`Store::cancel_jobs`]: the cancellation record is an `error` row with
/// `message` and an exit status [`CANCELLED_EXIT_STATUS`]; for a job that was leased the
/// exit status is kept at least until the revoked lease would have ended, so its worker
/// can learn that it was cancelled.
pub(crate) fn cancel_jobs<S: Store + ?Sized>(
    store: &S,
    jobids: &[JobId],
    now: Epoch,
    message: &str,
    keep_for: i64,
) -> Result<Vec<JobChange>> {
    change_jobs(store, jobids, now, Leased::Revoke, |row| Finish {
        jobid: row.jobid,
        funcid: row.funcid,
        token: row.grabbed_until,
        failure: Some(FailureRecord {
            error_time: now,
            jobid: row.jobid,
            message: message.to_string(),
            funcid: row.funcid,
        }),
        action: FinishAction::Remove {
            exit_status: Some(ExitStatusWrite {
                status: CANCELLED_EXIT_STATUS,
                completion_time: now,
                delete_after: now.saturating_add(keep_for.max(0)).max(row.grabbed_until),
            }),
        },
    })
}

/// The default [`Store::reschedule_jobs`].
pub(crate) fn reschedule_jobs<S: Store + ?Sized>(
    store: &S,
    jobids: &[JobId],
    run_after: Epoch,
    now: Epoch,
) -> Result<Vec<JobChange>> {
    change_jobs(store, jobids, now, Leased::Refuse, |row| Finish {
        jobid: row.jobid,
        funcid: row.funcid,
        token: row.grabbed_until,
        failure: None,
        action: FinishAction::Reschedule {
            run_after: Some(run_after),
        },
    })
}
