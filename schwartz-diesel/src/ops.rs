//! The store operations, written once over the SQL primitives of [`crate::sql`].
//!
//! [`Ops`] has only provided methods and is implemented for every connection type that has
//! the primitives ([`Sql`]), as `diesel_migrations`' `MigrationHarness` is for every
//! connection that can run its three statements. What differs between the dialects beyond
//! single statements (RETURNING or not, sequences, `BEGIN IMMEDIATE`) goes through the
//! [`Dialect`](crate::conn::Dialect) trait; the finish algorithm is in [`crate::finish`].
//!
//! Why not `#[derive(diesel::MultiConnection)]`: its generated code cannot leave out a
//! variant whose Cargo feature is off, and its backend does not offer the dialect features
//! the hot paths need (RETURNING, `FOR UPDATE SKIP LOCKED`, multi-row INSERT with explicit
//! NULLs), so each backend would need its own arm for those anyway.

use std::collections::HashSet;

use schwartz_core::store::{
    Claim, CoalesceFilter, ExitStatus, FailureRecord, FuncMap, JobQuery, JobRow, NewJobRow,
    StoreStats,
};
use schwartz_core::{Error, FuncId, JobId};

use crate::conn::{clamp_time, classify, col_time, CheckedJob, Class, Ctx, OpError, MAX_EPOCH_64};
use crate::models::{statement_chunks, InsertJobWithId, ID_CHUNK, INSERT_CHUNK};
use crate::sql::{ErrorRow, Sql};
use crate::Backend;

/// `LIKE` pattern for a literal prefix, with `!` as the escape character (a backslash would
/// need different quoting on MySQL).
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `usize` limit as SQL `LIMIT`.
pub(crate) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Finds which (funcid, uniqkey) of `jobs` collides inside the batch itself.
pub(crate) fn in_batch_duplicate(jobs: &[NewJobRow]) -> Option<(FuncId, String)> {
    let mut seen = HashSet::new();
    for j in jobs {
        if let Some(k) = &j.uniqkey {
            if !seen.insert((j.funcid, k.as_str())) {
                return Some((j.funcid, k.clone()));
            }
        }
    }
    None
}

/// Whether a filter can match no row at all (saves a round trip). On PostgreSQL no stored
/// text holds a NUL byte, so a coalesce filter with one matches nothing (and sending it
/// would be an error).
pub(crate) fn matches_nothing(q: &JobQuery, backend: Backend) -> bool {
    let nul = |v: &str| backend == Backend::Postgres && v.contains('\0');
    q.funcids.is_empty()
        || q.limit == 0
        || q.floor.is_some_and(|f| f > i16::MAX as i32)
        || matches!(&q.coalesce, Some(CoalesceFilter::Equals(v) | CoalesceFilter::Prefix(v)) if nul(v))
}

/// The largest argument the store's server takes (read once, see
/// [`Dialect::max_arg_len`](crate::conn::Dialect::max_arg_len)).
pub(crate) fn max_arg<C: crate::conn::Dialect>(c: &mut C, ctx: &Ctx) -> Result<usize, OpError> {
    if let Some(n) = ctx.max_arg.get() {
        return Ok(*n);
    }
    let n = c.max_arg_len()?;
    let _ = ctx.max_arg.set(n);
    Ok(n)
}

/// The largest epoch second the store's time columns hold (read once per schema, see
/// [`Dialect::time_columns_64`](crate::conn::Dialect::time_columns_64)).
pub(crate) fn max_epoch<C: crate::conn::Dialect>(c: &mut C, ctx: &Ctx) -> Result<i64, OpError> {
    use std::sync::atomic::Ordering;
    let known = ctx.max_epoch.load(Ordering::Relaxed);
    if known != 0 {
        return Ok(known);
    }
    let n = if c.time_columns_64()? {
        crate::conn::MAX_EPOCH_64
    } else {
        crate::conn::MAX_EPOCH_32
    };
    ctx.max_epoch.store(n, Ordering::Relaxed);
    Ok(n)
}

/// Whether `job` has the `job_funcid_grabbed_until` index (read once, and again after a
/// migration; see [`Ctx::lease_index`]).
pub(crate) fn lease_index<C: crate::conn::Dialect>(c: &mut C, ctx: &Ctx) -> Result<bool, OpError> {
    use crate::conn::{LEASE_INDEX_ABSENT, LEASE_INDEX_PRESENT};
    use std::sync::atomic::Ordering;
    match ctx.lease_index.load(Ordering::Relaxed) {
        LEASE_INDEX_PRESENT => return Ok(true),
        LEASE_INDEX_ABSENT => return Ok(false),
        _ => {}
    }
    let present = c.has_lease_index()?;
    let v = if present {
        LEASE_INDEX_PRESENT
    } else {
        LEASE_INDEX_ABSENT
    };
    ctx.lease_index.store(v, Ordering::Relaxed);
    Ok(present)
}

/// Runs `f(by_lease)`; when the server refuses it for naming the lease index, which is gone
/// (dropped while the store ran, by `schwartz migrate --revert` say), records that and
/// runs `f(false)`: the store grabs as without the index from then on.
pub(crate) fn with_lease_index<T>(
    ctx: &Ctx,
    by_lease: bool,
    mut f: impl FnMut(bool) -> Result<T, OpError>,
) -> Result<T, OpError> {
    match f(by_lease) {
        Err(OpError::Db(diesel::result::Error::DatabaseError(_, info)))
            if by_lease && info.message().contains("job_funcid_grabbed_until") =>
        {
            log::warn!(
                "{}: the index job_funcid_grabbed_until is gone; grabbing without it",
                ctx.describe
            );
            ctx.lease_index.store(
                crate::conn::LEASE_INDEX_ABSENT,
                std::sync::atomic::Ordering::Relaxed,
            );
            f(false)
        }
        r => r,
    }
}

/// Inserts rows that carry explicit job ids (chunked under the bind-parameter limits and
/// `max_bytes` per statement) and returns those ids in order.
pub(crate) fn insert_with_ids<C: Sql>(
    c: &mut C,
    rows: &[NewJobRow],
    checked: &[CheckedJob],
    max_bytes: usize,
) -> diesel::QueryResult<Vec<i64>> {
    let values: Vec<InsertJobWithId<'_>> = rows
        .iter()
        .zip(checked)
        .map(|(row, &ch)| InsertJobWithId::new(row, row.jobid.map_or(0, |j| j.0), ch))
        .collect();
    for chunk in statement_chunks(&values, INSERT_CHUNK, max_bytes, InsertJobWithId::data_len) {
        c.insert_job_values(chunk)?;
    }
    Ok(values.iter().map(|v| v.jobid).collect())
}

/// An explicit job id of `jobs` that is taken: twice in the batch, or by a stored job.
fn taken_job_id<C: Sql>(c: &mut C, jobs: &[NewJobRow]) -> Option<JobId> {
    let mut seen = HashSet::new();
    let explicit: Vec<JobId> = jobs.iter().filter_map(|j| j.jobid).collect();
    if let Some(id) = explicit.iter().find(|id| !seen.insert(id.0)) {
        return Some(*id);
    }
    explicit
        .into_iter()
        .take(1000)
        .find(|id| c.job_exists(id.0).unwrap_or(false))
}

/// After a unique violation: which explicit job id or which (funcname, uniqkey) collided,
/// when it can be told.
pub(crate) fn duplicate_error<C: Sql>(c: &mut C, ctx: &Ctx, jobs: &[NewJobRow]) -> Error {
    if let Some(jobid) = taken_job_id(c, jobs) {
        return Error::DuplicateJobId {
            store: ctx.describe.clone(),
            jobid,
        };
    }
    let mut found = in_batch_duplicate(jobs);
    if found.is_none() {
        let keys: Vec<&str> = jobs
            .iter()
            .filter_map(|j| j.uniqkey.as_deref())
            .take(1000)
            .collect();
        if !keys.is_empty() {
            let existing = c.uniqkey_owners(&keys).unwrap_or_default();
            found = jobs.iter().find_map(|j| {
                let k = j.uniqkey.as_ref()?;
                existing
                    .iter()
                    .any(|(f, u)| *f == j.funcid.0 && u.as_ref() == Some(k))
                    .then(|| (j.funcid, k.clone()))
            });
        }
    }
    let funcname = |c: &mut C, id: FuncId| c.funcname(id.0).ok().flatten();
    match found {
        Some((funcid, key)) => Error::DuplicateUniqkey {
            store: ctx.describe.clone(),
            funcname: funcname(c, funcid),
            uniqkey: Some(key),
        },
        None => {
            let single = jobs.iter().filter(|j| j.uniqkey.is_some()).count() == 1;
            let j = jobs.iter().find(|j| j.uniqkey.is_some()).filter(|_| single);
            Error::DuplicateUniqkey {
                store: ctx.describe.clone(),
                funcname: j.and_then(|j| funcname(c, j.funcid)),
                uniqkey: j.and_then(|j| j.uniqkey.clone()),
            }
        }
    }
}

/// Turns a unique violation into `DuplicateUniqkey` with what is known.
pub(crate) fn on_unique<C: Sql>(c: &mut C, ctx: &Ctx, jobs: &[NewJobRow], e: OpError) -> OpError {
    match &e {
        OpError::Db(d) if classify(d) == Class::Unique => {
            OpError::Store(duplicate_error(c, ctx, jobs))
        }
        _ => e,
    }
}

fn record(r: ErrorRow) -> FailureRecord {
    FailureRecord {
        error_time: r.0.into(),
        jobid: JobId(r.1),
        message: r.2,
        funcid: FuncId(r.3),
    }
}

/// The store operations, provided once for every connection type with the primitives.
pub(crate) trait Ops: Sql {
    /// `Store::funcmap`.
    fn op_funcmap(&mut self) -> Result<Vec<FuncMap>, OpError> {
        let rows = self.funcmap_rows()?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| FuncMap {
                funcid: FuncId(id),
                funcname: name,
            })
            .collect())
    }

    /// `Store::funcid`: finds or creates the function's row. The INSERT runs in a
    /// transaction of its own (a savepoint inside the caller's, see `tx.rs`), so losing the
    /// race to another creator is not an error and, on PostgreSQL, does not abort an
    /// enclosing transaction. Two extra round trips, only for a name not in `funcmap` yet.
    fn op_funcid(&mut self, name: &str) -> Result<FuncId, OpError> {
        if name.is_empty() || name.chars().count() > 255 {
            return Err(OpError::Store(Error::InvalidInput(format!(
                "function name {name:?} must be 1 to 255 characters"
            ))));
        }
        if Self::BACKEND == Backend::Postgres && name.contains('\0') {
            return Err(OpError::Store(Error::InvalidInput(format!(
                "function name {name:?} contains a NUL byte, which PostgreSQL text cannot store"
            ))));
        }
        if let Some(id) = self.find_funcid(name)? {
            return Ok(FuncId(id));
        }
        match self.transaction(|c| c.insert_funcname(name)) {
            Ok(_) => {}
            // A concurrent creator won: re-select below.
            Err(e) if classify(&e) == Class::Unique => {}
            Err(e) => return Err(e.into()),
        }
        match self.find_funcid(name)? {
            Some(id) => Ok(FuncId(id)),
            None => Err(OpError::Store(Error::InvalidInput(format!(
                "function name {name:?}: inserted into funcmap but not found again (does the database collation change it?)"
            )))),
        }
    }

    /// `Store::insert_jobs`.
    fn op_insert_jobs(&mut self, ctx: &Ctx, jobs: &[NewJobRow]) -> Result<Vec<JobId>, OpError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // One row with a generated id is one statement: the backend's own one-statement
        // insert (which also notifies, see `Dialect::insert_one`), or a plain INSERT when no
        // explicit NOTIFY must go with it. Everything else is one transaction.
        let single = jobs.len() == 1 && jobs[0].jobid.is_none();
        let one = if single {
            self.insert_one(ctx, &jobs[0])
        } else {
            Ok(None)
        };
        let result = match one {
            Ok(Some(id)) => Ok(vec![id]),
            Err(e) => Err(e),
            Ok(None) if single && !self.needs_explicit_notify(ctx)? => self.insert_rows(ctx, jobs),
            Ok(None) => self.write_txn(|c| {
                let ids = c.insert_rows(ctx, jobs)?;
                c.notify_new_jobs(ctx)?;
                Ok(ids)
            }),
        };
        match result {
            Ok(ids) => Ok(ids.into_iter().map(JobId).collect()),
            Err(e) => Err(on_unique(self, ctx, jobs, e)),
        }
    }

    /// `Store::lookup`.
    fn op_lookup(&mut self, jobid: JobId) -> Result<Option<JobRow>, OpError> {
        Ok(self.job_row(jobid.0)?.map(JobRow::from))
    }

    /// `Store::select_jobs`.
    fn op_select_jobs(&mut self, ctx: &Ctx, q: &JobQuery) -> Result<Vec<JobRow>, OpError> {
        let by_lease =
            crate::sql::eligible_of_one(q, Self::BACKEND).is_some() && lease_index(self, ctx)?;
        let rows = with_lease_index(ctx, by_lease, |by_lease| Ok(self.job_rows(q, by_lease)?))?;
        Ok(rows.into_iter().map(JobRow::from).collect())
    }

    /// `Store::claim`: one fenced UPDATE per claim, in one write transaction.
    fn op_claim(&mut self, claims: &[Claim], now: i64) -> Result<Vec<JobId>, OpError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut checked = Vec::with_capacity(claims.len());
        for cl in claims {
            let until = col_time(cl.lease_until, MAX_EPOCH_64, "lease_until")?;
            checked.push((cl.jobid, cl.expected, until));
        }
        // One claim is one statement: no transaction needed.
        if let [(jobid, expected, until)] = checked[..] {
            let n = self.claim_one(jobid.0, expected, until, now)?;
            return Ok(if n > 0 { vec![jobid] } else { Vec::new() });
        }
        self.write_txn(|c| {
            let mut won = Vec::with_capacity(checked.len());
            for &(jobid, expected, until) in &checked {
                if c.claim_one(jobid.0, expected, until, now)? > 0 {
                    won.push(jobid);
                }
            }
            Ok(won)
        })
    }

    /// `Store::extend_lease`.
    fn op_extend_lease(&mut self, jobid: JobId, token: i64, until: i64) -> Result<bool, OpError> {
        let until = col_time(until, MAX_EPOCH_64, "new lease end")?;
        Ok(self.set_lease(jobid.0, token, until)? > 0)
    }

    /// `Store::reschedule`. A time past what the columns hold is clamped to their largest
    /// (a computed retry far in the future must not leave the job stuck).
    fn op_reschedule(&mut self, ctx: &Ctx, jobid: JobId, run_after: i64) -> Result<bool, OpError> {
        let run_after = clamp_time(run_after, max_epoch(self, ctx)?);
        if self.set_run_after(jobid.0, run_after)? > 0 {
            return Ok(true);
        }
        // MySQL reports rows changed, not matched, when the values were already set; check
        // existence to tell "not found" apart.
        Ok(self.job_exists(jobid.0)?)
    }

    /// `Store::failures`.
    fn op_failures(&mut self, jobid: JobId) -> Result<Vec<FailureRecord>, OpError> {
        // No ORDER BY: the jobid index (or SQLite's rowid) returns rows in insertion order;
        // a stable sort by time keeps that order among equal times.
        let mut out: Vec<FailureRecord> =
            self.error_rows(jobid.0)?.into_iter().map(record).collect();
        out.sort_by_key(|r| r.error_time);
        Ok(out)
    }

    /// `Store::recent_failures`.
    fn op_recent_failures(
        &mut self,
        since: Option<i64>,
        funcid: Option<FuncId>,
        limit: usize,
    ) -> Result<Vec<FailureRecord>, OpError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self.recent_error_rows(since, funcid.map(|f| f.0), sql_limit(limit))?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// `Store::exit_status`.
    fn op_exit_status(&mut self, jobid: JobId) -> Result<Option<ExitStatus>, OpError> {
        Ok(self.exit_row(jobid.0)?.map(|r| ExitStatus {
            jobid: JobId(r.0),
            funcid: FuncId(r.1),
            status: r.2.map(i32::from).unwrap_or(0),
            completion_time: r.3.map(i64::from).unwrap_or(0),
            delete_after: r.4.map(i64::from).unwrap_or(0),
        }))
    }

    /// `Store::prune_errors`.
    fn op_prune_errors(&mut self, older_than: i64, limit: usize) -> Result<u64, OpError> {
        if limit == 0 {
            return Ok(0);
        }
        let n = self.write_txn(|c| Ok(c.prune_errors(older_than, sql_limit(limit))?))?;
        Ok(n as u64)
    }

    /// `Store::prune_exit_statuses`: selects up to `limit` expired ids, deletes them in
    /// chunks (the expiry is checked again by the delete).
    fn op_prune_exit_statuses(&mut self, now: i64, limit: usize) -> Result<u64, OpError> {
        if limit == 0 {
            return Ok(0);
        }
        self.write_txn(|c| {
            let ids = c.expired_exit_ids(now, sql_limit(limit))?;
            let mut n = 0usize;
            for chunk in ids.chunks(ID_CHUNK) {
                n += c.delete_expired_exits(chunk, now)?;
            }
            Ok(n as u64)
        })
    }

    /// `Store::finish`: see [`crate::finish`].
    fn op_finish(
        &mut self,
        ctx: &Ctx,
        items: &[schwartz_core::store::Finish],
    ) -> Result<Vec<schwartz_core::store::FinishStatus>, OpError> {
        crate::finish::finish(self, ctx, items)
    }

    /// `Store::stats`.
    fn op_stats(&mut self) -> Result<StoreStats, OpError> {
        let (jobs, errors, exits) = self.table_counts()?;
        Ok(StoreStats {
            jobs: jobs as u64,
            errors: errors as u64,
            exit_statuses: exits as u64,
        })
    }
}

impl<C: Sql> Ops for C {}
