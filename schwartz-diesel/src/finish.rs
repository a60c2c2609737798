//! `Store::finish`, written once over the SQL primitives: fenced removes grouped by token,
//! reschedules and replacements one by one (a replacement in a savepoint), then the side
//! writes (failure log, exit statuses) of the items whose fence matched, all in one write
//! transaction.
//!
//! Computed times (a retry's or decline's `run_after`, a failure's time, an exit status's
//! expiry) past what the time columns hold are clamped to their largest value, and a
//! failure message the column cannot hold is sanitized: an outcome is never refused for its
//! numbers or its text, so a job never stays stuck under an expired lease.

use std::collections::{BTreeMap, HashMap, HashSet};

use schwartz_core::store::{ExitStatusWrite, FailureRecord, Finish, FinishAction, FinishStatus};
use schwartz_core::JobId;

use crate::conn::{clamp_time, classify, Class, Ctx, OpError};
use crate::models::{InsertError, InsertExit, ID_CHUNK, INSERT_CHUNK};
use crate::ops::duplicate_error;
use crate::sql::Sql;

/// Exit status into the SMALLINT column (clamped).
fn status_col(s: i32) -> i16 {
    s.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// Which items of a batch landed where, while `finish` runs.
struct FinishPlan<'a> {
    statuses: Vec<Option<FinishStatus>>,
    done_ids: HashSet<i64>,
    failures: Vec<(&'a FailureRecord, i64)>,
    exits: HashMap<i64, (i32, ExitStatusWrite)>,
}

impl<'a> FinishPlan<'a> {
    fn new(n: usize) -> Self {
        FinishPlan {
            statuses: (0..n).map(|_| None).collect(),
            done_ids: HashSet::new(),
            failures: Vec::new(),
            exits: HashMap::new(),
        }
    }

    /// Records that item `i` matched its fence, with its status and side writes.
    fn matched(&mut self, i: usize, item: &'a Finish, status: FinishStatus) {
        self.done_ids.insert(item.jobid.0);
        self.statuses[i] = Some(status);
        if let Some(f) = &item.failure {
            self.failures.push((f, item.jobid.0));
        }
        let exit = match &item.action {
            FinishAction::Remove { exit_status } => *exit_status,
            FinishAction::Replace { exit_status, .. } => *exit_status,
            FinishAction::Reschedule { .. } => None,
        };
        if let Some(e) = exit {
            self.exits.insert(item.jobid.0, (item.funcid.0, e));
        }
    }

    fn lost(&mut self, i: usize) {
        self.statuses[i] = Some(FinishStatus::LeaseLost);
    }
}

/// Groups the `Remove` items by token: token -> item indexes.
fn remove_groups(items: &[Finish]) -> BTreeMap<i64, Vec<usize>> {
    let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        if matches!(it.action, FinishAction::Remove { .. }) {
            groups.entry(it.token).or_default().push(i);
        }
    }
    groups
}

/// What the writes need to know of the server (read once per store): the message column's
/// capacity when an item has a failure, and the largest time the columns hold.
fn facts<C: Sql>(c: &mut C, ctx: &Ctx, items: &[Finish]) -> Result<i64, OpError> {
    if items.iter().any(|i| i.failure.is_some()) && ctx.message_cap.get().is_none() {
        let cap = c.message_capacity()?;
        let _ = ctx.message_cap.set(cap);
    }
    crate::ops::max_epoch(c, ctx)
}

/// `Store::finish`.
pub(crate) fn finish<C: Sql>(
    c: &mut C,
    ctx: &Ctx,
    items: &[Finish],
) -> Result<Vec<FinishStatus>, OpError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let max_epoch = facts(c, ctx, items)?;
    if let [it] = items {
        if let Some(status) = finish_one_statement(c, it, max_epoch)? {
            return Ok(vec![status]);
        }
    }
    c.write_txn(|c| finish_all(c, ctx, items, max_epoch))
}

/// `finish` with the caller's connection, inside its transaction (a savepoint there, so a
/// refused item leaves it usable): the same statements as [`finish`].
pub(crate) fn finish_in<C: Sql>(
    c: &mut C,
    ctx: &Ctx,
    items: &[Finish],
) -> Result<Vec<FinishStatus>, OpError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let max_epoch = facts(c, ctx, items)?;
    c.transaction(|c| finish_all(c, ctx, items, max_epoch))
}

/// The fenced removes, reschedules and replacements, then the side writes.
fn finish_all<C: Sql>(
    c: &mut C,
    ctx: &Ctx,
    items: &[Finish],
    max_epoch: i64,
) -> Result<Vec<FinishStatus>, OpError> {
    let mut plan = FinishPlan::new(items.len());
    remove_grouped(c, items, &mut plan)?;
    for (i, it) in items.iter().enumerate() {
        if plan.statuses[i].is_none() {
            finish_singly(c, ctx, i, it, max_epoch, &mut plan)?;
        }
    }
    side_writes(c, ctx, max_epoch, &plan)?;
    Ok(plan
        .statuses
        .into_iter()
        .map(|s| s.unwrap_or(FinishStatus::LeaseLost))
        .collect())
}

/// One item with no side write (a plain completion or a release) is one fenced statement:
/// no transaction needed. `None` when the item needs the full path.
fn finish_one_statement<C: Sql>(
    c: &mut C,
    it: &Finish,
    max_epoch: i64,
) -> Result<Option<FinishStatus>, OpError> {
    if it.failure.is_some() {
        return Ok(None);
    }
    let token = it.token;
    let clamp = |t| clamp_time(t, max_epoch);
    let n = match &it.action {
        FinishAction::Remove { exit_status: None } => c.delete_fenced_one(it.jobid.0, token)?,
        FinishAction::Reschedule { run_after } => {
            c.release_fenced(it.jobid.0, token, run_after.map(clamp))?
        }
        _ => return Ok(None),
    };
    Ok(Some(if n > 0 {
        FinishStatus::Done
    } else {
        FinishStatus::LeaseLost
    }))
}

/// Removes, grouped by token: one fenced DELETE per token (and id chunk).
fn remove_grouped<'a, C: Sql>(
    c: &mut C,
    items: &'a [Finish],
    plan: &mut FinishPlan<'a>,
) -> Result<(), OpError> {
    for (token, idxs) in remove_groups(items) {
        let mut ids: Vec<i64> = idxs.iter().map(|&i| items[i].jobid.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut deleted: HashSet<i64> = HashSet::new();
        for chunk in ids.chunks(ID_CHUNK) {
            deleted.extend(c.delete_fenced(token, chunk)?);
        }
        for i in idxs {
            let id = items[i].jobid.0;
            if deleted.contains(&id) && !plan.done_ids.contains(&id) {
                plan.matched(i, &items[i], FinishStatus::Done);
            } else {
                plan.lost(i);
            }
        }
    }
    Ok(())
}

/// A reschedule or a replacement (in a savepoint: a failed replacement leaves this job as it
/// was while the rest of the batch commits).
fn finish_singly<'a, C: Sql>(
    c: &mut C,
    ctx: &Ctx,
    i: usize,
    it: &'a Finish,
    max_epoch: i64,
    plan: &mut FinishPlan<'a>,
) -> Result<(), OpError> {
    let id = it.jobid.0;
    if plan.done_ids.contains(&id) {
        plan.lost(i);
        return Ok(());
    }
    let token = it.token;
    let clamp = |t| clamp_time(t, max_epoch);
    let jobs = match &it.action {
        FinishAction::Remove { .. } => {
            plan.lost(i);
            return Ok(());
        }
        FinishAction::Reschedule { run_after } => {
            if c.release_fenced(id, token, run_after.map(clamp))? > 0 {
                plan.matched(i, it, FinishStatus::Done);
            } else {
                plan.lost(i);
            }
            return Ok(());
        }
        FinishAction::Replace { jobs, .. } => jobs,
    };
    let r = c.transaction(|c| {
        if c.delete_fenced_one(id, token)? == 0 {
            return Err(OpError::LeaseLost);
        }
        let ids = c.insert_rows(ctx, jobs)?;
        if !jobs.is_empty() {
            c.notify_new_jobs(ctx)?;
        }
        Ok(ids)
    });
    match r {
        Ok(ids) => {
            let ids = ids.into_iter().map(JobId).collect();
            plan.matched(i, it, FinishStatus::Replaced(ids));
        }
        Err(OpError::LeaseLost) => plan.lost(i),
        Err(OpError::Store(e)) => plan.statuses[i] = Some(FinishStatus::Rejected(e)),
        Err(OpError::Db(e)) => match classify(&e) {
            Class::Unique => {
                let err = duplicate_error(c, ctx, jobs);
                plan.statuses[i] = Some(FinishStatus::Rejected(err));
            }
            // The connection or the transaction is gone: the whole batch fails (and may be
            // retried).
            Class::Unavailable | Class::Retry => return Err(OpError::Db(e)),
            _ => plan.statuses[i] = Some(FinishStatus::Rejected(ctx.map_db(&e))),
        },
    }
    Ok(())
}

/// The failure log and exit statuses of the matched items.
fn side_writes<C: Sql>(
    c: &mut C,
    ctx: &Ctx,
    max_epoch: i64,
    plan: &FinishPlan<'_>,
) -> Result<(), OpError> {
    if !plan.failures.is_empty() {
        let messages: Vec<_> = plan
            .failures
            .iter()
            .map(|(f, _)| ctx.sanitize_message(&f.message))
            .collect();
        let rows: Vec<InsertError<'_>> = plan
            .failures
            .iter()
            .zip(&messages)
            .map(|((f, jobid), message)| InsertError {
                error_time: clamp_time(f.error_time, max_epoch),
                jobid: *jobid,
                message,
                funcid: f.funcid.0,
            })
            .collect();
        for chunk in rows.chunks(INSERT_CHUNK) {
            c.insert_errors(chunk)?;
        }
    }
    if !plan.exits.is_empty() {
        // Upsert as delete + insert inside this transaction (portable; the job's fence makes
        // concurrent writers for one jobid impossible).
        let mut ids: Vec<i64> = plan.exits.keys().copied().collect();
        ids.sort_unstable();
        for chunk in ids.chunks(ID_CHUNK) {
            c.delete_exits(chunk)?;
        }
        let rows: Vec<InsertExit> = ids
            .iter()
            .map(|id| {
                let (funcid, e) = plan.exits[id];
                InsertExit {
                    jobid: *id,
                    funcid,
                    status: Some(status_col(e.status)),
                    completion_time: Some(clamp_time(e.completion_time, max_epoch)),
                    delete_after: Some(clamp_time(e.delete_after, max_epoch)),
                }
            })
            .collect();
        for chunk in rows.chunks(INSERT_CHUNK) {
            c.insert_exits(chunk)?;
        }
    }
    Ok(())
}
