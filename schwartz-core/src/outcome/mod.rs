//! Outcomes are values: every outcome of a job (completed, failed with or without a
//! retry, failed for good, declined until a time, replaced, released unstarted) is
//! decided by pure code into an [`Outcome`] and written by an [`OutcomeWriter`].
//!
//! Two writers exist: [`InlineWriter`] writes each outcome at once (the outcome methods of
//! [`QueuedJob`] and [`Client::work_once`](crate::Client::work_once) use it), and the worker
//! pool's completer collects outcomes and writes them in batches with [`apply`], one
//! [`Store::finish`](crate::store::Store::finish) call per store. Either way every write is
//! fenced on the lease token the job holds when it is written.

mod decide;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::handle::JobHandle;
use crate::ids::JobId;
use crate::queued::QueuedJob;
use crate::store::{Finish, FinishAction, FinishStatus};

pub(crate) use decide::{decide, Rules, Target, Verdict};

/// What working one job came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkOutcome {
    /// Completed (exit status 0 if kept).
    Completed,
    /// Failed; `will_retry` when retries are left.
    Failed {
        /// Whether it will be retried.
        will_retry: bool,
    },
    /// Declined (not counted as a failure), or released unstarted.
    Declined,
    /// Replaced by other jobs.
    Replaced,
    /// The lease was taken over; nothing was written.
    LeaseLost,
    /// The job was cancelled while it ran (its lease revoked); nothing was written.
    Cancelled,
}

impl WorkOutcome {
    /// A short lower-case name (`completed`, `failed`, `retried`, `declined`, `replaced`,
    /// `lease_lost`, `cancelled`), as used in metric labels and tracing fields.
    pub fn label(self) -> &'static str {
        match self {
            WorkOutcome::Completed => "completed",
            WorkOutcome::Failed { will_retry: false } => "failed",
            WorkOutcome::Failed { will_retry: true } => "retried",
            WorkOutcome::Declined => "declined",
            WorkOutcome::Replaced => "replaced",
            WorkOutcome::LeaseLost => "lease_lost",
            WorkOutcome::Cancelled => "cancelled",
        }
    }
}

/// A decided outcome of a job, not yet written.
///
/// A clone writes the same outcome: a writer may keep one to write again after a
/// connection error (each write is fenced on the job's lease token, so a write that did
/// reach the store makes the second one a lease loss, never a double write).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub(crate) job: QueuedJob,
    pub(crate) finish: Finish,
    pub(crate) kind: WorkOutcome,
    /// Whether writing it finishes the job for this process (all but a decline until a
    /// time, after which the job may still be completed or failed).
    pub(crate) settles: bool,
    /// A result to record with a completion (JSON bytes), in the same transaction.
    pub(crate) result: Option<Vec<u8>>,
}

impl Outcome {
    /// The job.
    pub fn job(&self) -> &QueuedJob {
        &self.job
    }
    /// What the outcome is, once written.
    pub fn kind(&self) -> WorkOutcome {
        self.kind
    }
}

/// Writes decided outcomes.
pub trait OutcomeWriter {
    /// Writes `outcome`, or takes it to be written later.
    ///
    /// # Errors
    /// For a writer that writes at once: [`Error::LeaseLost`] when the job's lease was
    /// taken over, the store's refusal ([`FinishStatus::Rejected`]), or its error.
    fn write(&self, outcome: Outcome) -> Result<()>;
}

/// Writes each outcome at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineWriter;

impl OutcomeWriter for InlineWriter {
    fn write(&self, outcome: Outcome) -> Result<()> {
        write_one(outcome).map(|_| ())
    }
}

/// One written (or failed) outcome, from [`apply`].
#[derive(Debug)]
pub struct Applied {
    /// The job.
    pub handle: JobHandle,
    /// What the outcome was to be.
    pub kind: WorkOutcome,
    /// `Ok` when written; [`Error::LeaseLost`] when the lease was lost, [`Error::Cancelled`]
    /// when the job was cancelled (nothing written either way);
    /// else the store's refusal or error.
    pub result: Result<()>,
}

/// Writes outcomes, one [`Store::finish`](crate::store::Store::finish) call per store, and
/// reports each in the order given. Each job is fenced on the lease token it holds now
/// (its lease may have been extended since the outcome was decided). Written jobs are
/// marked finished; inline pruning and insert listeners run as for a single write.
pub fn apply(outcomes: Vec<Outcome>) -> Vec<Applied> {
    let mut results: Vec<Option<Applied>> = Vec::with_capacity(outcomes.len());
    results.resize_with(outcomes.len(), || None);
    let mut rest: Vec<(usize, Outcome)> = outcomes.into_iter().enumerate().collect();
    while let Some((_, first)) = rest.first() {
        let (ctx, idx) = (Arc::clone(&first.job.inner.ctx), first.job.store_idx());
        let (group, others): (Vec<_>, Vec<_>) = rest
            .into_iter()
            .partition(|(_, o)| Arc::ptr_eq(&o.job.inner.ctx, &ctx) && o.job.store_idx() == idx);
        rest = others;
        let (positions, group): (Vec<usize>, Vec<Outcome>) = group.into_iter().unzip();
        for (pos, applied) in positions.into_iter().zip(apply_group(group)) {
            results[pos] = Some(applied.0);
        }
    }
    results.into_iter().flatten().collect()
}

/// Writes one outcome; returns the replacement ids of a `Replace`.
pub(crate) fn write_one(outcome: Outcome) -> Result<Vec<JobId>> {
    let (applied, ids) = apply_group(vec![outcome])
        .pop()
        .unwrap_or_else(|| unreachable!("one outcome gives one result"));
    applied.result.map(|()| ids)
}

/// Writes one outcome with `write` instead of the job's store (the caller's own
/// transaction), with everything else as for a store write; returns the write's result.
///
/// A job result ([`QueuedJob::set_result`]) is written only with the job's store: here it
/// is refused ([`Error::InvalidInput`]) and nothing is written.
pub(crate) fn write_one_with(outcome: Outcome, write: FinishWith<'_>) -> Result<()> {
    if outcome.result.is_some() {
        return Err(Error::InvalidInput(format!(
            "job {} has a result to record: a result is written with the completion by the \
             job's store (complete it there), not in another transaction",
            outcome.job.handle()
        )));
    }
    let (applied, _) = apply_group_with(vec![outcome], write)
        .pop()
        .unwrap_or_else(|| unreachable!("one outcome gives one result"));
    applied.result
}

/// A write of fenced `Finish` items other than the store's own: one status per item.
pub type FinishWith<'a> = &'a mut dyn FnMut(&[Finish]) -> Result<Vec<FinishStatus>>;

/// Writes the outcomes of jobs of one store in one `finish` call.
fn apply_group(outcomes: Vec<Outcome>) -> Vec<(Applied, Vec<JobId>)> {
    let Some(first) = outcomes.first() else {
        return Vec::new();
    };
    let (ctx, idx) = (&first.job.inner.ctx, first.job.store_idx());
    let store = Arc::clone(&ctx.entry(idx).store);
    // Results go with their completions, in the same store call.
    let results = crate::client::result_writes(ctx, idx, &outcomes);
    apply_group_with(outcomes, &mut |items| {
        store.finish_with_results(items, &results)
    })
}

/// Writes the outcomes of jobs of one store with one `write` call.
fn apply_group_with(
    mut outcomes: Vec<Outcome>,
    write: FinishWith<'_>,
) -> Vec<(Applied, Vec<JobId>)> {
    let Some(first) = outcomes.first() else {
        return Vec::new();
    };
    let ctx = Arc::clone(&first.job.inner.ctx);
    let idx = first.job.store_idx();
    let entry = ctx.entry(idx);
    let mut failure_at = None;
    let mut exit_at = None;
    let finishes: Vec<Finish> = outcomes
        .iter_mut()
        .map(|o| {
            let placeholder = Finish {
                jobid: o.finish.jobid,
                funcid: o.finish.funcid,
                token: 0,
                failure: None,
                action: FinishAction::Reschedule { run_after: None },
            };
            let mut finish = std::mem::replace(&mut o.finish, placeholder);
            finish.token = o.job.token();
            finish
        })
        .collect();
    let statuses = write(&finishes);
    let mut statuses = match statuses {
        Ok(s) => s.into_iter(),
        Err(e) => {
            return outcomes
                .into_iter()
                .map(|o| applied(&o, Err(duplicate_error(&e))))
                .collect();
        }
    };
    let mut inserted = false;
    let mut out = Vec::with_capacity(outcomes.len());
    for (o, finish) in outcomes.into_iter().zip(finishes) {
        let result = match statuses.next() {
            Some(FinishStatus::Done) if !o.settles => {
                o.job.note_declined_until();
                Ok(Vec::new())
            }
            Some(status @ (FinishStatus::Done | FinishStatus::Replaced(_))) => {
                o.job.mark_done(o.kind);
                if finish.failure.is_some() {
                    failure_at = finish.failure.as_ref().map(|f| f.error_time);
                }
                match &finish.action {
                    FinishAction::Remove {
                        exit_status: Some(es),
                    }
                    | FinishAction::Replace {
                        exit_status: Some(es),
                        ..
                    } => exit_at = Some(es.completion_time),
                    _ => {}
                }
                match status {
                    FinishStatus::Replaced(ids) => {
                        inserted |= !ids.is_empty();
                        Ok(ids)
                    }
                    _ => Ok(Vec::new()),
                }
            }
            Some(FinishStatus::LeaseLost) => {
                let e = o.job.lease_lost(finish.token);
                o.job.set_last_outcome(match e {
                    Error::Cancelled { .. } => WorkOutcome::Cancelled,
                    _ => WorkOutcome::LeaseLost,
                });
                Err(e)
            }
            Some(FinishStatus::Rejected(e)) => Err(e),
            None => Err(Error::Database {
                store: entry.store.describe(),
                message: String::from("finish returned too few statuses"),
            }),
        };
        out.push(match result {
            Ok(ids) => applied_ids(&o, ids),
            Err(e) => applied(&o, Err(e)),
        });
    }
    if inserted {
        ctx.notify_insert(&entry.hash);
    }
    if let Some(now) = failure_at {
        ctx.after_failure_written(idx, now);
    }
    if let Some(now) = exit_at {
        ctx.after_exit_status_written(idx, now);
    }
    out
}

fn applied(o: &Outcome, result: Result<()>) -> (Applied, Vec<JobId>) {
    (
        Applied {
            handle: o.job.handle().clone(),
            kind: o.kind,
            result,
        },
        Vec::new(),
    )
}

fn applied_ids(o: &Outcome, ids: Vec<JobId>) -> (Applied, Vec<JobId>) {
    (
        Applied {
            handle: o.job.handle().clone(),
            kind: o.kind,
            result: Ok(()),
        },
        ids,
    )
}

/// A copy of an error for reporting it for several jobs (errors are not `Clone`).
pub(crate) fn duplicate_error(e: &Error) -> Error {
    match e {
        Error::Unavailable { store, message } => Error::Unavailable {
            store: store.clone(),
            message: message.clone(),
        },
        Error::SchemaMissing { store, message } => Error::SchemaMissing {
            store: store.clone(),
            message: message.clone(),
        },
        Error::Database { store, message } => Error::Database {
            store: store.clone(),
            message: message.clone(),
        },
        Error::DuplicateUniqkey {
            store,
            funcname,
            uniqkey,
        } => Error::DuplicateUniqkey {
            store: store.clone(),
            funcname: funcname.clone(),
            uniqkey: uniqkey.clone(),
        },
        Error::LeaseLost {
            store,
            jobid,
            token,
        } => Error::LeaseLost {
            store: store.clone(),
            jobid: *jobid,
            token: *token,
        },
        Error::Cancelled { store, jobid } => Error::Cancelled {
            store: store.clone(),
            jobid: *jobid,
        },
        Error::DuplicateJobId { store, jobid } => Error::DuplicateJobId {
            store: store.clone(),
            jobid: *jobid,
        },
        Error::InvalidInput(m) => Error::InvalidInput(m.clone()),
        Error::NoStore(m) => Error::NoStore(m.clone()),
        other => Error::Database {
            store: String::from("(several jobs)"),
            message: other.to_string(),
        },
    }
}
